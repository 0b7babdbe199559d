"""The command line exits 0 on valid data and 2 with readable messages on invalid data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True,
                          timeout=120)


def test_validate_exit_codes(tmp_path: Path, survey_factory) -> None:
    good = tmp_path / "good.csv"
    survey_factory(3).to_csv(good, index=False)
    ok = run("validate", "--survey", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    df = survey_factory(3)
    df.loc[1, "role"] = "CEO"
    df["trust_1"] = df["trust_1"].astype(object)
    df.loc[4, "trust_1"] = "sehr gut"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    res = run("validate", "--survey", str(bad))
    assert res.returncode == 2
    out = res.stdout + res.stderr
    assert "bad.csv" in out and "unknown-role" in out and "not-numeric" in out
    assert "trust_1" in out and "Traceback" not in out


def test_validate_with_mapping(tmp_path: Path, survey_factory) -> None:
    df = survey_factory(2).rename(columns={"imp_1": "Q10_1", "role": "Q3"})
    df["Q3"] = df["Q3"].map({"CMO": "Marketingleiter", "CIO": "Chief Information Officer"})
    df["Q10_1"] = df["Q10_1"].map({1: "Strongly disagree", 2: "Disagree", 3: "Neutral",
                                   4: "Agree", 5: "Strongly agree"})
    src = tmp_path / "export.csv"
    df.to_csv(src, index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({
        "columns": {"Q10_1": "imp_1", "Q3": "role"},
        "recode": {"imp_1": {"Strongly disagree": 1, "Disagree": 2, "Neutral": 3, "Agree": 4,
                             "Strongly agree": 5}},
    }))
    res = run("validate", "--survey", str(src), "--mapping", str(mapping))
    assert res.returncode == 0, res.stdout + res.stderr
    assert run("validate", "--survey", str(src)).returncode == 2  # without the mapping it fails


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    res = run("validate", "--survey", str(tmp_path / "nope.sav"))
    assert res.returncode == 2
    assert "nope.sav" in res.stderr and "file-not-found" in res.stderr
    assert "Traceback" not in res.stderr
