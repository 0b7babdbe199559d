"""Data-quality summaries count exactly what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import privacy, quality
from helpers.codebook import load_codebook
from helpers.errors import DataError


@pytest.fixture
def survey() -> pd.DataFrame:
    # firm A: full dyad in wave 1; firm B: CMO only; firm C: CIO only in wave 1, full dyad in wave 2
    rows = [("A", "CMO", 1, "DE"), ("A", "CIO", 1, "DE"), ("B", "CMO", 1, "NL"),
            ("C", "CIO", 1, "DK"), ("C", "CMO", 2, "DK"), ("C", "CIO", 2, "DK")]
    df = pd.DataFrame(rows, columns=["firm_id", "role", "wave", "country"])
    df["respondent_id"] = [f"R{i}" for i in range(len(df))]
    df["req_2"] = [np.nan, 4, np.nan, np.nan, np.nan, np.nan]  # CIO-only item: 1 of 3 CIOs answered
    df["imp_1"] = [5, 4, np.nan, 3, 2, 1]                       # asked of all: 1 of 6 missing
    return df


def test_responses_by(survey: pd.DataFrame) -> None:
    t = quality.responses_by(survey, "country")
    assert t.loc["DE"].tolist() == [1, 1, 2]
    assert t.loc["DK"].tolist() == [1, 2, 3]
    assert t["Total"].sum() == len(survey)


def test_dyad_completeness(survey: pd.DataFrame) -> None:
    d = quality.dyad_completeness(survey).set_index("wave")
    assert d.loc[1, ["firms", "complete_dyads", "cmo_only", "cio_only"]].tolist() == [3, 1, 1, 1]
    assert d.loc[1, "pct_complete"] == pytest.approx(100 / 3)
    assert d.loc[2, "complete_dyads"] == 1


def test_item_missingness_counts_only_roles_asked(survey: pd.DataFrame) -> None:
    m = quality.item_missingness(survey, load_codebook()).set_index("item")
    assert m.loc["req_2", "n_asked"] == 3 and m.loc["req_2", "n_answered"] == 1
    assert m.loc["req_2", "pct_missing"] == pytest.approx(200 / 3)
    assert m.loc["imp_1", "pct_missing"] == pytest.approx(100 / 6)


def test_small_cells_are_suppressed_and_counted() -> None:
    t = pd.DataFrame({"CMO": [12, 3, 0], "CIO": [4, 7, 5]}, index=["DE", "NL", "DK"])
    out, n = privacy.suppress_counts(t, min_cell=5)
    assert n == 2
    assert out.loc["NL", "CMO"] == "<5" and out.loc["DE", "CIO"] == "<5"
    assert out.loc["DK", "CMO"] == 0 and out.loc["DK", "CIO"] == 5
    assert "2 cells" in privacy.suppression_note(n, 5)
    assert privacy.suppression_note(0) == ""


# --------------------------------------------------------------------------- exclude_flagged
@pytest.fixture
def flagged(survey: pd.DataFrame) -> pd.DataFrame:
    df = survey.copy()
    df["flag_speeder"] = [True, False, False, True, False, False]
    df["flag_straight_lining"] = [True, False, True, False, False, False]
    return df


def test_exclude_nothing_keeps_every_row(flagged: pd.DataFrame) -> None:
    out = quality.exclude_flagged(flagged, [])
    assert len(out) == len(flagged) and out.attrs["n_excluded"] == 0
    assert out.attrs["excluded"] == {}


@pytest.mark.parametrize("exclude, kept, counts", [
    (["speeder"], ["R1", "R2", "R4", "R5"], {"speeder": 2}),
    (["straight_lining"], ["R1", "R3", "R4", "R5"], {"straight_lining": 2}),
    (["speeder", "straight_lining"], ["R1", "R4", "R5"], {"speeder": 2, "straight_lining": 2}),
    ("speeder", ["R1", "R2", "R4", "R5"], {"speeder": 2}),
])
def test_exclude_flagged_drops_and_counts_by_reason(flagged: pd.DataFrame, exclude, kept,
                                                   counts) -> None:
    out = quality.exclude_flagged(flagged, exclude)
    assert out["respondent_id"].tolist() == kept
    assert out.attrs["excluded"] == counts
    assert out.attrs["n_excluded"] == len(flagged) - len(kept)
    assert len(flagged) == 6  # input untouched


def test_exclude_flagged_treats_missing_flags_as_not_flagged(flagged: pd.DataFrame) -> None:
    flagged["flag_speeder"] = pd.array([True, None, False, None, False, False], dtype="boolean")
    out = quality.exclude_flagged(flagged, ["speeder"])
    assert out.attrs["excluded"] == {"speeder": 1} and len(out) == 5


def test_exclude_flagged_unknown_name_lists_allowed(flagged: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'speeders'.*'speeder', 'straight_lining'"):
        quality.exclude_flagged(flagged, ["speeders"])


def test_exclude_flagged_without_flag_columns(survey: pd.DataFrame) -> None:
    assert len(quality.exclude_flagged(survey, [])) == len(survey)  # nothing asked: fine
    with pytest.raises(DataError, match="carries no speeder/straight-lining flags") as err:
        quality.exclude_flagged(survey, ["straight_lining"])
    assert "make data" in str(err.value)


# --------------------------------------------------------------------------- row selection
EXCLUSIONS = pd.DataFrame({
    "step": ["qualtrics", "qualtrics", "qualtrics", "mapping", "mapping"],
    "reason": ["Qualtrics survey preview", "spam", "unfinished response", "neither CMO nor CIO",
               "duplicate response id"],
    "rule": ["Status == 1", "Status == 8", "Finished == 0", "role not in [CMO, CIO]",
             "response_id in [R_1]"],
    "n_rows": [3, 1, 7, 2, 0],
})


def _rows(table: pd.DataFrame) -> dict:
    return dict(zip(table["reason"], table["rows"], strict=True))


def test_row_selection_counts_and_suppression() -> None:
    sel = {"unfinished": "exclude", "rows_read": 113, "rows_kept": 100}
    t = quality.row_selection(EXCLUSIONS, sel, min_cell=5)
    rows = _rows(t)
    # previews and spam are not respondents: shown as counted, even when small
    assert rows["Qualtrics survey preview"] == 3 and rows["spam"] == 1
    assert rows["unfinished response"] == 7 and rows["duplicate response id"] == 0
    assert rows["neither CMO nor CIO"] == "<5"  # could point at a person
    assert rows[quality.KEPT] == 100
    assert rows[quality.READ] == "not shown"  # 113 - 100 - 3 - 1 - 7 would give the 2 back
    assert "1 count of excluded respondents below 5" in t.attrs["note"]
    text = quality.row_selection_reading(t, sel)
    # 5 reasons are listed, but the duplicate-id rule matched nothing: rows were excluded for 4
    assert "kept 100 rows" in text and "excluded for 4 reasons" in text
    assert ("Unfinished responses were excluded: the setting `unfinished: exclude` is the default"
            in text)


def test_row_selection_shows_rows_read_when_nothing_small() -> None:
    ex = EXCLUSIONS.assign(n_rows=[3, 1, 7, 6, 0])
    sel = {"unfinished": "keep", "rows_read": 117, "rows_kept": 100}
    t = quality.row_selection(ex, sel, min_cell=5)
    assert _rows(t)[quality.READ] == 117 and t.attrs["note"] == ""
    text = quality.row_selection_reading(t, sel)
    assert "read 117 rows from the export and kept 100" in text
    assert "Unfinished responses were kept (setting `unfinished: keep`" in text


def test_row_selection_nothing_recorded() -> None:
    t = quality.row_selection(None, None)
    assert t.empty
    assert quality.row_selection_reading(t, None).startswith("Nothing was recorded")
    # a manifest with row_selection but no exclusions file: no reason, setting unknown
    t = quality.row_selection(None, {"rows_read": 10, "rows_kept": 10})
    text = quality.row_selection_reading(t, {"rows_read": 10, "rows_kept": 10})
    assert "No row was excluded" in text and "No setting for unfinished responses" in text


# --------------------------------------------------------------------------- skipped vs don't know
def test_item_missingness_separates_dont_know(survey: pd.DataFrame) -> None:
    # imp_1 is missing for R2; R2 said "don't know". req_2 is missing for CIOs R3 and R5 (and
    # for every CMO, who is not asked): R3 said "don't know", R5 skipped; a "don't know" row
    # for a CMO on a CIO-only item is not counted.
    dk = pd.DataFrame({"respondent_id": ["R2", "R3", "R0"], "item": ["imp_1", "req_2", "req_2"]})
    m = quality.item_missingness(survey, load_codebook(), dont_know=dk).set_index("item")
    assert m.loc["imp_1", ["n_asked", "n_answered", "n_skipped", "n_dont_know"]].tolist() == \
        [6, 5, 0, 1]
    assert m.loc["req_2", ["n_asked", "n_answered", "n_skipped", "n_dont_know"]].tolist() == \
        [3, 1, 1, 1]
    assert m.loc["req_2", "pct_dont_know"] == pytest.approx(100 / 3)
    assert m.loc["req_2", "pct_missing"] == pytest.approx(200 / 3)
    assert m.attrs["dont_know_recorded"] is True


def test_item_missingness_without_dont_know_record(survey: pd.DataFrame) -> None:
    m = quality.item_missingness(survey, load_codebook()).set_index("item")
    assert m.loc["req_2", "n_skipped"] == 2 and pd.isna(m.loc["req_2", "n_dont_know"])
    shown = quality.missingness_table(survey, load_codebook(), min_cell=2)
    assert "n_dont_know" not in shown.columns and "not recorded" in shown.attrs["note"]


def test_missingness_reading_replaces_an_empty_chart(survey: pd.DataFrame) -> None:
    cb = load_codebook()
    both = quality.item_missingness(survey, cb)
    assert quality.missingness_reading(both) == (
        "2 items checked; each has missing answers (table below).")
    assert len(quality.items_with_missing(both)) == 2
    one = quality.item_missingness(survey.assign(imp_1=1.0), cb)
    assert quality.missingness_reading(one) == (
        "Of the 2 items checked, 1 has missing answers (table below); every respondent asked "
        "the others answered them.")
    assert quality.items_with_missing(one)["wording"].tolist() == [cb.label("req_2")]
    assert "item" not in quality.items_with_missing(one)  # never the variable name
    full = survey.assign(imp_1=1.0, req_2=[np.nan, 4, np.nan, 3, np.nan, 2])
    text = quality.missingness_reading(quality.item_missingness(full, cb))
    assert text.startswith("Nothing is missing: every respondent answered every one of the 2 "
                           "items")
    assert quality.items_with_missing(quality.item_missingness(full, cb)).empty
    assert "None of the codebook's items" in quality.missingness_reading(
        quality.item_missingness(survey.drop(columns=["imp_1", "req_2"]), cb))


# --------------------------------------------------------------------------- sensitivity
@pytest.fixture
def dyads(survey_factory) -> pd.DataFrame:
    """40 firms, each with a CMO and a CIO who answered every item they were asked."""
    return survey_factory(n_firms=40)


def test_sensitivity_known_answer_and_counts(dyads: pd.DataFrame, cb) -> None:
    from helpers import indicators

    df = dyads.copy()
    roles = df["role"].astype(str)
    df["flag_speeder"] = False
    df["flag_straight_lining"] = False
    df.loc[df.index[roles == "CMO"][:5], "flag_speeder"] = True
    df.loc[df.index[roles == "CIO"][:5], "flag_speeder"] = True
    df.loc[df.index[roles == "CMO"][10:16], "flag_straight_lining"] = True
    df.loc[df.index[roles == "CIO"][10:16], "flag_straight_lining"] = True
    t = quality.sensitivity(df, cb, min_cell=5).set_index("analysis")
    assert t["excluded"].tolist() == [0, 10, 12, 22]
    assert t["respondents"].tolist() == [80, 70, 68, 58]
    assert t.loc["without speeders", ["cmos", "cios"]].tolist() == [35, 35]
    frame = indicators.respondent_frame(df, cb)
    for label, keep in [("all respondents", slice(None)),
                        ("without speeders", ~df["flag_speeder"])]:
        expected = indicators.compare_roles(frame.loc[keep], ["disconnect_index"])
        expected = expected[expected["method"] == "paired"].iloc[0]
        assert t.loc[label, "difference"] == pytest.approx(expected["difference"])
        assert t.loc[label, "pairs"] == expected["n_pairs"]
    assert t.attrs["note"] == "" and t.attrs["index_available"]
    assert "without speeders:" in quality.sensitivity_reading(t.reset_index())


def test_sensitivity_blanks_rows_that_describe_few_people(dyads: pd.DataFrame, cb) -> None:
    df = dyads.copy()
    roles = df["role"].astype(str)
    df["flag_speeder"] = False
    df["flag_straight_lining"] = False
    df.loc[df.index[roles == "CMO"][:2], "flag_speeder"] = True      # 2 speeders: too few
    df.loc[df.index[roles == "CMO"][10:16], "flag_straight_lining"] = True
    df.loc[df.index[roles == "CIO"][10:16], "flag_straight_lining"] = True
    t = quality.sensitivity(df, cb, min_cell=5).set_index("analysis")
    assert t.loc["without speeders", "excluded"] == "<5"
    assert t.loc["without speeders", ["respondents", "difference"]].isna().all()
    assert t.loc["without straight-liners", "excluded"] == 12
    # "without both" differs from "without straight-liners" by the 2 speeders only
    assert t.loc["without speeders and straight-liners", ["excluded", "difference"]].isna().all()
    assert "2 rows left blank" in t.attrs["note"]


def test_sensitivity_without_disconnect_index(dyads: pd.DataFrame, cb) -> None:
    indicators = cb.constructs_of_kind("indicator")  # none asked: no index
    items = [i for c in indicators for i in cb.constructs[c].items if i in dyads.columns]
    df = dyads.drop(columns=items).assign(flag_speeder=False, flag_straight_lining=False)
    t = quality.sensitivity(df, cb, min_cell=5)
    assert not t.attrs["index_available"] and t["difference"].isna().all()
    assert t.loc[0, "respondents"] == 80 and "not available" in t.attrs["note"]


def test_row_selection_kept_unfinished_count_in_words() -> None:
    sel = {"unfinished": "keep", "rows_read": 104, "rows_kept": 100, "unfinished_rows": 9}
    t = quality.row_selection(EXCLUSIONS.iloc[:2], sel, min_cell=5)
    assert "(9 of them)" in quality.row_selection_reading(t, sel, min_cell=5)
    sel["unfinished_rows"] = 2
    assert "(fewer than 5 of them)" in quality.row_selection_reading(t, sel, min_cell=5)


def test_sensitivity_reading_when_nobody_is_flagged(dyads: pd.DataFrame, cb) -> None:
    df = dyads.assign(flag_speeder=False, flag_straight_lining=False)
    t = quality.sensitivity(df, cb, min_cell=5)
    assert t["excluded"].tolist() == [0, 0, 0, 0]
    assert quality.sensitivity_reading(t).startswith("No respondent here is flagged")
