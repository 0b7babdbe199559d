"""The data-quality report (00) end to end on differently shaped processed data.

Each test renders the notebook in a fresh kernel on a small synthetic sample reshaped the way a
stranger's survey comes out of ``make data`` (see ``report_variants``), and checks the numbers
and sentences a reader relies on: the row selection, skipped versus "don't know", the sensitivity
line, and that nothing crashes when parts are absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import report_variants as rv

from helpers import indicators
from helpers.codebook import load_codebook

NOTEBOOK = "00_data_quality"
pytestmark = pytest.mark.slow

EXCLUSIONS = pd.DataFrame({
    "step": ["qualtrics", "qualtrics", "qualtrics", "mapping", "mapping"],
    "reason": ["Qualtrics survey preview", "Qualtrics test response", "unfinished response",
               "neither CMO nor CIO", "forwarded-link duplicate"],
    "rule": ["Status is Survey Preview (1)", "Status is Survey Test (2)",
             "Finished is false (0) or Progress < 100", "role not in [CMO, CIO]",
             "response_id in [R_9x]"],
    "n_rows": [3, 2, 7, 1, 6],
})
# whole pairs (rv.flagged): 6 and 11 pairs, so each sensitivity row differs from every other by
# at least 6 CMOs, 6 CIOs and 6 pairs and none is withheld, on any machine's simulated sample
SPEEDERS, STRAIGHT_LINERS = 12, 22
DONT_KNOW = {"imp_1": 4, "trust_2": 6}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rv.base_processed(tmp_path_factory.mktemp("quality_base"))


@pytest.fixture(scope="module")
def full(base: Path) -> Path:
    """Every part of the processed-data contract, with known counts."""
    n = len(pd.read_parquet(base / "survey.parquet"))
    return rv.variant(base, base.parent / "full", wave_years={1: 2024, 2: 2025},
                      flags={"speeder": SPEEDERS, "straight_lining": STRAIGHT_LINERS},
                      exclusions=EXCLUSIONS, dont_know=DONT_KNOW,
                      row_selection={"unfinished": "exclude", "rows_read": n + 19,
                                     "rows_kept": n, "unfinished_rows": 7})


@pytest.fixture(scope="module")
def full_run(full: Path, tmp_path_factory: pytest.TempPathFactory) -> rv.Run:
    return rv.run(NOTEBOOK, full, tmp_path_factory.mktemp("quality_full"))


def test_row_selection_is_shown_with_its_counts(full_run: rv.Run, full: Path) -> None:
    assert full_run.status == "ok"
    n = len(pd.read_parquet(full / "survey.parquet"))
    rows = rv.table(full_run.results, "row_selection").set_index("reason")["rows"].to_dict()
    assert rows["Qualtrics survey preview"] == 3 and rows["Qualtrics test response"] == 2
    assert rows["unfinished response"] == 7 and rows["forwarded-link duplicate"] == 6
    assert rows["neither CMO nor CIO"] == "<5"  # one person: suppressed
    assert rows["rows kept for analysis"] == n
    assert rows["rows read from the export"] == "not shown"  # would give the 1 back
    text = full_run.text
    assert ("Unfinished responses were excluded: the setting unfinished: exclude is the default, "
            "and unfinished: keep in the mapping keeps them." in text)
    assert f"kept {n} rows of the export for analysis" in text
    assert "Rows were excluded for 5 reasons" in text
    assert "neither CMO nor CIO role not in [CMO, CIO] <5" in text


def test_dont_know_is_counted_apart_from_skipped(full_run: rv.Run, full: Path) -> None:
    survey = pd.read_parquet(full / "survey.parquet")
    missing = rv.table(full_run.results, "item_missingness").set_index("item")
    cb = load_codebook()
    for item, n in DONT_KNOW.items():
        asked = survey["role"].astype(str).isin(cb.items[item].roles)
        if n < 5:  # a count below the minimum cell size, and its percentage, are withheld
            assert missing.loc[item, "n_dont_know"] == "·"
            assert pd.isna(missing.loc[item, "pct_dont_know"])
            continue
        assert missing.loc[item, "n_dont_know"] == n
        assert missing.loc[item, "n_skipped"] == int(survey.loc[asked, item].isna().sum()) - n
        assert missing.loc[item, "pct_dont_know"] == pytest.approx(100 * n / asked.sum(), abs=0.05)
    assert (missing.drop(index=list(DONT_KNOW))["n_dont_know"] == 0).all()
    assert "skipped and \"don't know\"" in full_run.text


def test_sensitivity_line_matches_the_headline(full_run: rv.Run, full: Path) -> None:
    sens = rv.table(full_run.results, "sensitivity").set_index("analysis")
    assert sens["excluded"].tolist() == [0, SPEEDERS, STRAIGHT_LINERS, SPEEDERS + STRAIGHT_LINERS]
    survey = pd.read_parquet(full / "survey.parquet")
    assert sens["respondents"].tolist() == [len(survey) - k for k in sens["excluded"]]
    frame = indicators.respondent_frame(survey, load_codebook())
    kept = ~(survey["flag_speeder"] | survey["flag_straight_lining"])
    for label, rows in [("all respondents", slice(None)),
                        ("without speeders and straight-liners", kept)]:
        expected = indicators.compare_roles(frame.loc[rows], ["disconnect_index"])
        expected = expected[expected["method"] == "paired"].iloc[0]
        assert sens.loc[label, "difference"] == pytest.approx(expected["difference"], abs=5e-4)
        assert sens.loc[label, "pairs"] == expected["n_pairs"]
    assert "Within-firm CMO − CIO difference on the disconnect index, all respondents:" in \
        full_run.text


def test_exclude_parameter_leaves_flagged_respondents_out(full: Path, tmp_path: Path) -> None:
    run = rv.run(NOTEBOOK, full, tmp_path, exclude=["speeder"])
    survey = pd.read_parquet(full / "survey.parquet")
    assert run.status == "ok" and run.n == len(survey) - SPEEDERS
    assert (f"leaves out respondents flagged by validation (parameter exclude ): {SPEEDERS} "
            "flagged as speeders" in run.text)
    # the sensitivity line still starts from the whole segment
    sens = rv.table(run.results, "sensitivity").set_index("analysis")
    assert sens.loc["all respondents", "respondents"] == len(survey)


def test_wave_segment_with_exclusion(full: Path, tmp_path: Path) -> None:
    run = rv.run(NOTEBOOK, full, tmp_path, segment={"wave": 2},
                 exclude=["speeder", "straight_lining"])
    survey = pd.read_parquet(full / "survey.parquet")
    seg = survey[survey["wave"] == 2]
    flagged = int((seg["flag_speeder"] | seg["flag_straight_lining"]).sum())
    assert run.status == "ok" and run.n == len(seg) - flagged
    sens = rv.table(run.results, "sensitivity").set_index("analysis")
    assert sens.loc["all respondents", "respondents"] == len(seg)
    # the row selection is about the whole export, with the same suppression
    rows = rv.table(run.results, "row_selection").set_index("reason")["rows"]
    assert rows["neither CMO nor CIO"] == "<5"


def test_older_processed_data_says_nothing_was_recorded(base: Path, tmp_path: Path) -> None:
    old = rv.variant(base, tmp_path / "old", flags=None, exclusions=None, dont_know=None,
                     row_selection=None, wave_years=None)
    run = rv.run(NOTEBOOK, old, tmp_path / "work")
    assert run.status == "ok"
    assert "Nothing was recorded about which rows of the export were kept" in run.text
    assert ("Not applicable: The sensitivity line needs the speeder and straight-lining flags"
            in run.text)
    assert "\"Don't know\" answers were not recorded apart from skipped items" in run.text
    assert "sensitivity" not in run.results
    assert rv.table(run.results, "row_selection").empty


def test_exclude_on_data_without_flags_is_a_clear_error(base: Path, tmp_path: Path) -> None:
    old = rv.variant(base, tmp_path / "old", flags=None)
    name, message = rv.run_expecting_error(NOTEBOOK, old, tmp_path, exclude=["speeder"])
    assert name == "DataError" and "carries no speeder/straight-lining flags" in message
    assert "make data" in message


def test_no_missing_answers_is_a_sentence_not_an_empty_chart(base: Path, tmp_path: Path) -> None:
    complete = rv.variant(base, tmp_path / "complete", fill_missing=True, dont_know={})
    run = rv.run(NOTEBOOK, complete, tmp_path / "work")
    assert run.status == "ok"
    assert "Nothing is missing: every respondent answered every one of the" in run.text
    assert "Items with missing answers" not in run.html  # no table of zeros, no chart


def test_survey_asking_few_constructs_and_fields(base: Path, tmp_path: Path) -> None:
    """Half the fields and no indicator construct asked: the report still renders."""
    cb = load_codebook()
    indicator_items = [i for c in cb.constructs_of_kind("indicator")
                       for i in cb.constructs[c].items]
    driver_items = [i for c in ("sales_involvement", "data_readiness", "joint_agile_teams")
                    for i in cb.constructs[c].items]
    shaped = rv.variant(base, tmp_path / "few", wave_years={1: 2024, 2: 2025},
                        flags={"speeder": SPEEDERS}, exclusions=EXCLUSIONS.iloc[:0],
                        dont_know={}, row_selection={"unfinished": "keep", "rows_read": 0,
                                                     "rows_kept": 0},
                        drop_columns=("industry", "size_band", "language", "duration_seconds",
                                      *indicator_items, *driver_items))
    run = rv.run(NOTEBOOK, shaped, tmp_path / "work")
    assert run.status == "ok", run.text[-2000:]
    assert "Responses by role: Country" in run.text
    assert "Responses by role: Industry" not in run.text
    assert "The disconnect index is not available" in run.text
    items = set(rv.table(run.results, "item_missingness")["item"])
    assert items and not items & set(indicator_items + driver_items)
    assert "No row was excluded." in run.text


def test_on_processed_data_as_make_data_writes_it(base: Path, tmp_path: Path) -> None:
    """No reshaping: the row selection ``make data`` recorded reaches the report."""
    manifest = (base / "manifest.json").read_text(encoding="utf-8")
    assert '"row_selection"' in manifest, "make data records its row selection (COMMON contract)"
    run = rv.run(NOTEBOOK, base, tmp_path)
    n = len(pd.read_parquet(base / "survey.parquet"))
    assert run.status == "ok" and run.n == n
    rows = rv.table(run.results, "row_selection").set_index("reason")["rows"]
    assert rows["rows kept for analysis"] == n
    assert ("Unfinished responses were excluded: the setting unfinished: exclude is the default, "
            "and unfinished: keep in the mapping keeps them." in run.text)
