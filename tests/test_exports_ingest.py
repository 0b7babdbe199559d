"""The ingest side of the strangers' exports, fast: ``build_processed`` in-process, no reports.

``tests/test_own_data_e2e.py`` takes the exports of ``tests/exports/build.py`` (a German
two-wave Qualtrics export, an SPSS file with numeric codes and user-missing "don't know", a
LimeSurvey CSV that asked half the constructs, a one-wave English Qualtrics export without a
wave column) through ``make data`` and ``make reports`` in a project copy (slow). This file checks
what the mapping, the row selection and the processing step make of them in a few seconds, so
that an ingest regression shows up in every test run: the processed survey equals the export
value for value, every exclusion reason and every "don't know" is counted, the years are the
mapping's, and budgets join the survey's firms.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from exports import build, harness

from helpers import privacy
from helpers.processing import build_processed


@pytest.fixture(params=list(build.BUILDERS))
def built(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[build.Export, Path]:
    export = build.build(request.param, tmp_path)
    inputs = {name.lower(): path for name, path in export.files.items() if name != "SURVEY"}
    out = tmp_path / "processed"
    build_processed(export.files["SURVEY"], out_dir=out, **inputs)
    return export, out


def pseudonyms(values: pd.Series, prefix: str) -> pd.Series:
    return privacy.pseudonymise(values.astype("string"), prefix)


def test_processed_survey_equals_the_export(built: tuple[build.Export, Path]) -> None:
    export, out = built
    truth = export.truth
    survey = pd.read_parquet(out / "survey.parquet")
    expected = truth.expected.assign(respondent_id=lambda d: pseudonyms(d["respondent_id"], "R"),
                                     firm_id=lambda d: pseudonyms(d["firm_id"], "F"))
    assert len(survey) == truth.n_valid
    columns = [c for c in expected.columns if c != "respondent_id"]
    problems = harness.compare_frames(survey, expected, "respondent_id", columns)
    assert not problems, "\n".join(problems)
    for item in truth.absent_items:
        assert item not in survey.columns or survey[item].isna().all(), item


def test_exclusions_dont_know_and_years(built: tuple[build.Export, Path]) -> None:
    export, out = built
    truth = export.truth
    table = pd.read_parquet(out / "exclusions.parquet")
    found = {e.key: int(table.loc[table["reason"].str.contains(e.pattern, case=False),
                                  "n_rows"].sum()) for e in truth.exclusions}
    assert found == {e.key: e.count for e in truth.exclusions}, table.to_string()
    assert int(table["n_rows"].sum()) == truth.rows_read - truth.n_valid
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    selection = manifest["row_selection"]
    assert (selection["rows_read"], selection["rows_kept"]) == (truth.rows_read, truth.n_valid)
    if truth.unfinished:
        assert selection["unfinished"] == truth.unfinished
    got = pd.read_parquet(out / "dont_know.parquet")
    want = truth.dont_know.assign(respondent_id=lambda d: pseudonyms(d["respondent_id"], "R"))
    assert sorted(zip(got["respondent_id"], got["item"], strict=True)) == sorted(
        zip(want["respondent_id"], want["item"], strict=True))
    if truth.wave_years:
        by_wave = {int(w): years for w, years in manifest["years"]["by_wave"].items()}
        assert by_wave == {w: [y] for w, y in truth.wave_years.items() if w in truth.waves}


def test_budgets_equal_the_sheet_and_join_the_survey(built: tuple[build.Export, Path]) -> None:
    export, out = built
    truth = export.truth
    if truth.budgets is None:
        assert not (out / "budgets.parquet").exists()
        return
    got = pd.read_parquet(out / "budgets.parquet")
    want = truth.budgets.assign(firm_id=lambda d: pseudonyms(d["firm_id"], "F"))
    key = lambda d: d.assign(key=d["firm_id"].astype(str) + "/" + d["year"].astype(str))  # noqa: E731
    problems = harness.compare_frames(key(got), key(want), "key",
                                      ["currency", "revenue", "it_budget", "marketing_budget",
                                       "martech_budget"])
    assert not problems, "\n".join(problems)
    survey = pd.read_parquet(out / "survey.parquet")
    assert set(survey["firm_id"]) <= set(got["firm_id"])
