"""Shared fixtures: the codebook and a factory for small, valid survey frames."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import paths, processing, simulate
from helpers.codebook import Codebook, load_codebook


@pytest.fixture(scope="session")
def cb() -> Codebook:
    return load_codebook()


def build_valid_survey(cb: Codebook, n_firms: int = 3, wave: int = 1) -> pd.DataFrame:
    """``n_firms`` firms, each with a CMO and a CIO, every item answered where the role is asked."""
    records = []
    for firm in range(n_firms):
        for r, role in enumerate(cb.roles):
            row = {
                "respondent_id": f"R{firm}{role}{wave}", "firm_id": f"F{firm}", "role": role,
                "country": "DE", "industry": "Retail", "size_band": "250-999", "wave": wave,
                "language": "EN", "duration_seconds": 600.0 + 10 * firm + r,
            }
            for k, item in enumerate(cb.items.values()):
                width = item.scale.max - item.scale.min + 1
                value = item.scale.min + (k + firm + r) % width
                row[item.id] = float(value) if role in item.roles else np.nan
            records.append(row)
    return pd.DataFrame(records)


@pytest.fixture
def survey_factory(cb: Codebook) -> Callable[..., pd.DataFrame]:
    """Call with ``n_firms=`` and ``wave=`` to get a valid survey frame."""
    return lambda n_firms=3, wave=1: build_valid_survey(cb, n_firms, wave)


@pytest.fixture(scope="session")
def sample_processed(tmp_path_factory) -> Path:
    """A small synthetic sample (80 firms) built into processed data, as `make data` does."""
    root = tmp_path_factory.mktemp("sample")
    raw = root / "raw"
    simulate.write_sample(raw, firms=80, ledger_rows=20_000, seed=7)
    processing.build_processed(raw / "survey.parquet", budgets=raw / "budgets.parquet",
                               ledger=raw / "ledger.parquet", fx=raw / "fx_rates.parquet",
                               vendors=raw / "vendors.csv", out_dir=root / "processed")
    return root


@pytest.fixture(scope="session")
def rendered_batch(sample_processed: Path) -> Path:
    """The project's default batch (reports.yaml) rendered on the small sample, with its index.

    Returns the reports folder. Segments too small for the minimum cell size render as
    "too few responses" pages, which is part of what the tests check.
    """
    spec = yaml.safe_load((paths.ROOT / "reports.yaml").read_text(encoding="utf-8"))
    return render_batch(spec, sample_processed, sample_processed / "processed")


def render_batch(spec: dict, folder: Path, data_dir: Path) -> Path:
    """Render a batch ``spec`` (reports.yaml's shape) on ``data_dir`` into ``folder``/reports and
    return that folder (``make reports`` as a subprocess: the real command line)."""
    spec = dict(spec)
    spec["defaults"] = {**spec.get("defaults", {}), "data_dir": str(data_dir)}
    for entry in spec.get("jobs", []):
        nb = Path(entry["notebook"])
        entry["notebook"] = str(nb if nb.is_absolute() else paths.ROOT / nb)
    folder.mkdir(parents=True, exist_ok=True)
    batch_file = folder / "reports.yaml"
    batch_file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    reports = folder / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "reports", "--batch", str(batch_file),
         "--reports-dir", str(reports), "--executed-dir", str(folder / "executed")],
        capture_output=True, text=True, timeout=1800, cwd=paths.ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return reports


@pytest.fixture(scope="session")
def rendered_languages(sample_processed: Path) -> Path:
    """Every notebook's whole-sample report in German, and one segment report in German, Dutch
    and Danish each, on the small sample (reports/<notebook>/all__language-DE.html, …)."""
    spec = {"defaults": {"min_cell": 5},
            "jobs": [{"notebook": "notebooks/[0-9][0-9]_*.ipynb",
                      "grid": {"segment": ["all"], "language": ["DE"]}},
                     {"notebook": "notebooks/02_disconnect_profile.ipynb",
                      "grid": {"segment": ["all"], "language": ["DE"]}},
                     {"notebook": "notebooks/02_disconnect_profile.ipynb",
                      "grid": {"segment": [{"wave": 2}], "language": ["NL", "DA"]}}]}
    return render_batch(spec, sample_processed / "languages", sample_processed / "processed")
