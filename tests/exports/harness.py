"""Run the README's commands on a copy of the project, and read back what they produced.

:func:`project_copy` makes a throw-away project folder in which ``make data SURVEY=… MAPPING=…``
and plain ``make reports`` run exactly as a user types them, while the real checkout stays
untouched: the files ``make`` and the reports read are copied with their modification times
(``cp -p``: the Makefile's setup stamp depends on them), ``.venv`` is a symlink to the project's
environment (whose editable install runs the checkout's ``src/``), and ``DISCONNECT_LAB_ROOT``
points the helpers at the copy (``helpers.paths``), so processed data, reports, the executed
notebooks and the pseudonym key all land in the copy.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from helpers import paths, privacy

COPIED = ("Makefile", "pyproject.toml", "reports.yaml", "requirements", "notebooks",
          "data/codebook.yaml", "data/reference")
SETUP_INPUTS = ("pyproject.toml", "requirements/constraints.txt")  # what the setup stamp follows
IMAGES = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\\n]+")


def project_copy(dest: Path, segments: Sequence[str] | None = ("all", "wave"),
                 source: Path = paths.ROOT) -> Path:
    """A runnable copy of the project in ``dest`` (see the module docstring); returns ``dest``.

    ``segments`` replaces the batch's segment grid (default: the whole sample and each wave,
    to keep the end-to-end tests to minutes on two cores); None keeps ``reports.yaml`` as is.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-pR", str(source / name), str(target)], check=True)
    venv = source / ".venv"
    (dest / ".venv").symlink_to(venv, target_is_directory=True)
    stamp = venv / ".installed"
    if stamp.exists():
        # The shared environment must never be re-installed from a test. Its stamp can be
        # older than pyproject.toml/constraints when those were edited and the environment
        # updated by hand; the copies then get the stamp's time, so `make` sees it as current.
        limit = stamp.stat().st_mtime - 1
        for name in SETUP_INPUTS:
            path = dest / name
            if path.stat().st_mtime > limit:
                os.utime(path, (limit, limit))
    if segments is not None:
        _smaller_batch(dest / "reports.yaml", list(segments))
    for folder in ("data/raw", "data/processed", "reports"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    return dest


def _smaller_batch(batch_file: Path, segments: list[str]) -> None:
    """Keep the project's batch (every notebook) but only the given segments, saying so."""
    spec = yaml.safe_load(batch_file.read_text(encoding="utf-8"))
    for entry in spec.get("jobs", []):
        grid = entry.get("grid") or {}
        if "segment" in grid:
            grid["segment"] = segments
    header = (f"# Test copy of reports.yaml: every notebook, but only the segments {segments}\n"
              "# (not every country, industry and size band) to keep the end-to-end tests short.\n")
    batch_file.write_text(header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True),
                          encoding="utf-8")


STALE = "00_data_quality/country-DK"  # a sample country none of the test exports has


def leave_stale_sample_report(root: Path) -> list[Path]:
    """Put into ``reports/`` what an earlier ``make reports`` on the synthetic sample leaves:
    a report (HTML with the synthetic banner, and its results file) for a segment the user's
    data does not have. Returns the two files."""
    stem, name = STALE.split("/")
    folder = root / "reports" / stem
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"notebook": f"{stem}.ipynb", "name": name, "status": "ok", "synthetic": True,
           "parameters": {"segment": {"country": "DK"}}, "n": 24, "results": {},
           "provenance": {"commit": "unknown"}}
    html_file, json_file = folder / f"{name}.html", folder / f"{name}.json"
    html_file.write_text('<!DOCTYPE html><html><body><div class="dl-banner" role="note">'
                         "SYNTHETIC DATA — this report was built from the simulated sample"
                         "</div><h1>Data quality — country DK</h1></body></html>\n",
                         encoding="utf-8")
    json_file.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return [html_file, json_file]


@dataclass
class Ran:
    """One command's outcome."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self, tail: int = 4000) -> str:
        return (f"$ {' '.join(self.command)}  (exit {self.returncode}, {self.seconds:.0f} s)\n"
                f"--- stdout (tail)\n{self.stdout[-tail:]}\n--- stderr (tail)\n"
                f"{self.stderr[-tail:]}")


def make(root: Path, target: str, variables: dict[str, str] | None = None,
         timeout: float = 900) -> Ran:
    """``make <target> [VAR=value …]`` in the copy, as a user runs it from the project folder."""
    command = ["make", target, *(f"{k}={v}" for k, v in (variables or {}).items())]
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", privacy.KEY_ENV)}
    env["DISCONNECT_LAB_ROOT"] = str(root)
    start = time.monotonic()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return Ran(command, done.returncode, done.stdout, done.stderr, time.monotonic() - start)


# --------------------------------------------------------------------------- reading outputs
def results_files(root: Path) -> dict[str, dict]:
    """``<notebook>/<name>`` -> the results document of every rendered report."""
    out = {}
    for path in sorted((root / "reports").glob("*/*.json")):
        out[f"{path.parent.name}/{path.stem}"] = json.loads(path.read_text(encoding="utf-8"))
    return out


def html_pages(root: Path) -> dict[str, str]:
    """Relative path -> text of every HTML file under reports/."""
    return {str(p.relative_to(root / "reports")): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted((root / "reports").rglob("*.html"))}


def table_rows(page: str) -> list[list[str]]:
    """The cells of every table row of an HTML page (tags removed, entities decoded)."""
    rows = re.findall(r"<tr[\s>].*?</tr>", page, flags=re.S | re.I)
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[dh][\s>].*?</t[dh]>", row, flags=re.S | re.I)]
            for row in rows]


def has_banner(page: str) -> bool:
    """Whether a page shows the synthetic-data banner (the class in use, not just its CSS)."""
    return bool(re.search(r'class="[^"]*\b(dl-banner|synthetic-banner)\b', page)) or \
        "SYNTHETIC DATA" in visible_text(page)


def visible_text(page: str) -> str:
    """A page's text without scripts, styles, images and tags (for searching the reading)."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S | re.I)
    page = IMAGES.sub(" ", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def output_texts(root: Path) -> Iterator[tuple[str, str]]:
    """(relative path, text) of every output a personal value must not reach: reports/,
    build/ and data/processed/ (Parquet files as their column names and cell values),
    plus data/inputs.json."""
    folders = [root / "reports", root / "build", root / "data" / "processed"]
    files = [f for folder in folders if folder.exists() for f in sorted(folder.rglob("*"))
             if f.is_file()]
    files += [f for f in [root / "data" / "inputs.json"] if f.exists()]
    for path in files:
        rel = str(path.relative_to(root))
        if path.suffix == ".parquet":
            yield rel, parquet_text(path)
        else:
            yield rel, IMAGES.sub(" ", path.read_text(encoding="utf-8", errors="replace"))


def parquet_text(path: Path) -> str:
    """Every column name and every cell of a Parquet file as text, one per line."""
    frame = pd.read_parquet(path)
    parts = [str(c) for c in frame.columns]
    for column in frame.columns:
        parts.extend(str(v) for v in frame[column].dropna().unique())
    parts.extend(f"{k}={v}" for k, v in frame.attrs.items())
    return "\n".join(parts)


def forms(value: str) -> set[str]:
    """A value as it could appear in HTML or JSON text: raw, HTML-escaped, JSON-escaped."""
    return {value, html.escape(value), html.escape(value, quote=False),
            json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def find_values(root: Path, values: Sequence[str]) -> list[str]:
    """``path: value`` for every value found in any output (see :func:`output_texts`)."""
    wanted = {v: forms(v) for v in values if len(v) >= 4}
    hits = []
    for rel, text in output_texts(root):
        for value, shapes in wanted.items():
            if any(shape in text for shape in shapes):
                hits.append(f"{rel}: {value!r}")
    return hits


# --------------------------------------------------------------------------- pseudonyms
@contextlib.contextmanager
def key_of(root: Path) -> Iterator[None]:
    """Use the copy's pseudonym key (``.secrets/pseudonym.key``) inside the block."""
    before = os.environ.get(privacy.KEY_ENV)
    os.environ[privacy.KEY_ENV] = str(root / ".secrets" / "pseudonym.key")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(privacy.KEY_ENV, None)
        else:
            os.environ[privacy.KEY_ENV] = before


def pseudonyms(root: Path, values: pd.Series, prefix: str) -> pd.Series:
    """The pseudonyms ``make data`` in the copy gives these raw ids (same function, same key)."""
    key = root / ".secrets" / "pseudonym.key"
    if not key.exists():
        raise AssertionError(f"no pseudonym key in the copy ({key}): did make data run?")
    with key_of(root):
        return privacy.pseudonymise(values.astype("string"), prefix)


# --------------------------------------------------------------------------- comparing values
def compare_frames(actual: pd.DataFrame, expected: pd.DataFrame, key: str,
                   columns: Sequence[str], limit: int = 12) -> list[str]:
    """Differences between two frames matched on ``key``: missing or extra keys, and cells that
    differ (numbers with a 1e-9 tolerance, text exactly, both-missing equal)."""
    problems: list[str] = []
    a = actual.set_index(key)
    e = expected.set_index(key)
    missing, extra = sorted(set(e.index) - set(a.index)), sorted(set(a.index) - set(e.index))
    if missing:
        problems.append(f"{len(missing)} expected row(s) not in the processed data, "
                        f"e.g. {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} processed row(s) not expected, e.g. {extra[:3]}")
    if a.index.duplicated().any():
        problems.append(f"duplicate keys in the processed data: "
                        f"{sorted(set(a.index[a.index.duplicated()]))[:3]}")
        a = a[~a.index.duplicated()]
    common = e.index.intersection(a.index)
    for column in columns:
        if column not in a.columns:
            problems.append(f"column {column!r} is missing from the processed data")
            continue
        got, want = a.loc[common, column], e.loc[common, column]
        if pd.api.types.is_numeric_dtype(want) and not pd.api.types.is_bool_dtype(want):
            g = pd.to_numeric(got.astype("object"), errors="coerce").astype(float)
            w = want.astype(float)
            same = (g.isna() & w.isna()) | np.isclose(g.fillna(-1e300), w.fillna(-1e300),
                                                      rtol=0, atol=1e-9)
        else:
            g, w = got.astype("object"), want.astype("object")
            same = (g.isna() & w.isna()) | (g.astype(str) == w.astype(str))
        bad = same[~same.to_numpy(dtype=bool)].index
        if len(bad):
            shown = ", ".join(f"{k}: {got[k]!r} != {want[k]!r}" for k in list(bad)[:3])
            problems.append(f"{column}: {len(bad)} cell(s) differ ({shown})")
        if len(problems) >= limit:
            break
    return problems
