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
