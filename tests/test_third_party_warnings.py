"""No third-party warning reaches the terminal: ``validate`` and ``build-data`` run as a user runs
them (a fresh interpreter, default warning filters) print only what concerns the data.

pandera imports ``pyspark.pandas`` when pyspark is installed, and pyspark warns (FutureWarning)
that it does not support pandas 3 -- three times per run, before ``helpers.validate`` silenced
exactly that warning where pandera is imported. The validation's own warnings (speeders, ...)
still reach the user, on stdout as part of the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import paths


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DISCONNECT_LAB_KEY_FILE": str(tmp_path / "key" / "pseudonym.key")}
    env.pop("PYTHONWARNINGS", None)  # as a user's shell has it
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True,
                          text=True, timeout=300, cwd=paths.ROOT, env=env, check=False)


@pytest.fixture
def survey_csv(tmp_path: Path, survey_factory) -> Path:
    """A small valid survey with one speeder (a warning about the data)."""
    df = survey_factory(3)
    df.loc[1, "duration_seconds"] = 60.0
    path = tmp_path / "survey.csv"
    df.to_csv(path, index=False)
    return path


def test_validate_prints_no_library_warning(survey_csv: Path, tmp_path: Path) -> None:
    done = run("validate", "--survey", str(survey_csv), tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert "pyspark" not in done.stdout + done.stderr
    assert "WARNING [speeder]" in done.stdout and "line 3 (response R0CIO1)" in done.stdout


def test_build_data_prints_no_library_warning(survey_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    done = run("build-data", "--survey", str(survey_csv), "--out", str(out), tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert "WARNING [speeder]" in done.stdout
    validation = pd.read_parquet(out / "survey_validation.parquet")
    stored = " ".join(map(str, validation.to_numpy().ravel()))
    assert "R0CIO1" not in stored and "Warning" not in stored  # no ids, no library warnings
