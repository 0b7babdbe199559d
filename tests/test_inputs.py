"""`make data` remembers the user's inputs: plain rebuilds and `make reports` never use the sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import paths


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A bare project folder (codebook only) that the CLI treats as its root."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    shutil.copy(paths.CODEBOOK, root / "data" / "codebook.yaml")
    shutil.copytree(paths.REFERENCE, root / "data" / "reference")  # the sample is calibrated to it
    return root


def build(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISCONNECT_LAB_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "helpers", "build-data", *args,
                           "--sample-firms", "40", "--sample-ledger-rows", "2000"],
                          capture_output=True, text=True, timeout=300, cwd=root, env=env)


def manifest(root: Path) -> dict:
    return json.loads((root / "data" / "processed" / "manifest.json").read_text())


def test_own_data_is_remembered_and_the_sample_never_built(project: Path, survey_factory) -> None:
    export = project / "data" / "raw" / "export.csv"
    export.parent.mkdir()
    survey_factory(6).to_csv(export, index=False)

    first = build(project, "--survey", "data/raw/export.csv")
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = json.loads((project / "data" / "inputs.json").read_text())
    assert recorded == {"sample": False, "inputs": {"survey": "data/raw/export.csv"}}
    assert manifest(project)["synthetic"] is False

    again = build(project)  # plain `make data`, as `make reports` runs it
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up to date" in again.stdout and "your data" in again.stdout
    assert not (project / "data" / "raw" / "sample").exists()

    # a changed raw file is rebuilt from the remembered path
    survey_factory(8).to_csv(export, index=False)
    changed = build(project)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert manifest(project)["outputs"]["survey.parquet"]["rows"] == 16
    assert not (project / "data" / "raw" / "sample").exists()


def test_inputs_given_without_a_survey_extend_the_recorded_ones(project: Path,
                                                                 survey_factory) -> None:
    raw = project / "data" / "raw"
    raw.mkdir()
    survey_factory(6).to_csv(raw / "export.csv", index=False)
    assert build(project, "--survey", str(raw / "export.csv")).returncode == 0
    pd.DataFrame({"firm_id": ["F0"], "year": [2024], "currency": ["EUR"], "revenue": [1e8],
                  "it_budget": [3e6], "marketing_budget": [5e6], "martech_budget": [1e6]}
                 ).to_csv(raw / "budgets.csv", index=False)
    res = build(project, "--budgets", str(raw / "budgets.csv"))
    assert res.returncode == 0, res.stdout + res.stderr
    recorded = json.loads((project / "data" / "inputs.json").read_text())["inputs"]
    assert recorded == {"survey": "data/raw/export.csv", "budgets": "data/raw/budgets.csv"}
    assert "budgets.parquet" in manifest(project)["outputs"]


def test_nothing_recorded_uses_the_sample_and_a_failed_build_records_nothing(
        project: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("respondent_id,role\nR1,CEO\n")
    failed = build(project, "--survey", str(bad))
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert not (project / "data" / "inputs.json").exists()

    res = build(project)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "synthetic sample" in res.stdout
    assert (project / "data" / "raw" / "sample" / "survey.parquet").exists()
    assert manifest(project)["synthetic"] is True
    assert json.loads((project / "data" / "inputs.json").read_text())["sample"] is True


def test_budgets_without_a_survey_or_record_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    res = build(project, "--budgets", str(tmp_path / "b.csv"))
    assert res.returncode == 2
    assert "inputs-no-survey" in res.stderr and "SURVEY=" in res.stderr
