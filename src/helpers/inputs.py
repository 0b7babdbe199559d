"""Which raw files ``make data`` builds from, remembered between runs.

``make data SURVEY=… MAPPING=… BUDGETS=…`` records its inputs in ``data/inputs.json``; plain
``make data`` and ``make reports`` afterwards reuse them, so the reports always describe the data
the user last built (a plain ``make reports`` never falls back to the synthetic sample once the
user has built their own). The synthetic sample is used only when nothing was recorded yet, or
when asked for (``make sample``).

Rules (:func:`choose`):

* ``survey`` given: exactly the inputs given are used (an input not given is not used: a later
  ``make data SURVEY=x`` without ``BUDGETS=`` builds no budgets) and recorded.
* ``survey`` not given, other inputs given: they replace the recorded ones of the same name.
* nothing given: the recorded inputs; with none recorded, the synthetic sample (generated into
  ``data/raw/sample/`` when missing).

Paths are stored relative to the project root when they lie inside it, so the project folder can
be moved. The file holds only paths, never data; it is not committed (it is the user's choice).
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import atomic, paths
from helpers.errors import DataError

INPUTS_FILE = "inputs.json"
NAMES = ("survey", "mapping", "budgets", "ledger", "fx", "vendors")
SAMPLE_FILES = {"survey": "survey.parquet", "budgets": "budgets.parquet",
                "ledger": "ledger.parquet", "fx": "fx_rates.parquet", "vendors": "vendors.csv"}


def inputs_file() -> Path:
    """``data/inputs.json`` under the project root."""
    return paths.DATA / INPUTS_FILE


def _stored(path: Path) -> str:
    """A path as recorded: relative to the project root when inside it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(paths.ROOT.resolve()))
    except ValueError:
        return str(absolute)


def _loaded(text: str) -> Path:
    """A recorded path back as an absolute path."""
    p = Path(text)
    return p if p.is_absolute() else paths.ROOT / p


def recorded() -> tuple[dict[str, Path], bool] | None:
    """The inputs of the last successful ``make data`` and whether they were the synthetic
    sample (None when nothing was recorded)."""
    file = inputs_file()
    if not file.exists():
        return None
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        chosen = raw["inputs"]
        return ({name: _loaded(chosen[name]) for name in NAMES if chosen.get(name)},
                bool(raw.get("sample")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"the record of the last build's inputs is damaged: {exc}",
                        file=str(file), rule="inputs-record",
                        hint="delete the file and run `make data SURVEY=… [MAPPING=…]` again") from exc


def record(chosen: dict[str, Path], sample: bool) -> None:
    """Remember the inputs of a successful build (atomically)."""
    doc = {"sample": sample,
           "inputs": {name: _stored(chosen[name]) for name in NAMES if chosen.get(name)}}
    atomic.write_text(inputs_file(), json.dumps(doc, indent=2) + "\n")


def sample_inputs(folder: Path | None = None) -> dict[str, Path]:
    """The synthetic sample's files (survey, budgets, ledger, FX rates, vendor map)."""
    folder = folder or paths.SAMPLE
    return {name: folder / file for name, file in SAMPLE_FILES.items()}


def choose(given: dict[str, Path | None], use_sample: bool = False) -> tuple[dict[str, Path], bool]:
    """The inputs to build from and whether they are the synthetic sample (see the module rules)."""
    given = {name: p for name, p in given.items() if p is not None}
    if use_sample:
        return sample_inputs(), True
    if given.get("survey") is not None:
        return given, False
    previous = recorded()
    if previous is None:
        if given:
            raise DataError(f"{', '.join(sorted(given))} given without a survey, and no earlier "
                            "build to add them to", rule="inputs-no-survey",
                            hint="pass SURVEY=path (and MAPPING=path) as well")
        return sample_inputs(), True
    chosen, sample = previous
    return {**chosen, **given}, sample and not given


def describe(chosen: dict[str, Path], sample: bool) -> str:
    """One line naming what is being built from."""
    what = "the synthetic sample" if sample else "your data"
    return f"building from {what}: " + ", ".join(
        f"{name}={_stored(chosen[name])}" for name in NAMES if chosen.get(name))
