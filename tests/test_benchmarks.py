"""Tests for helpers.benchmarks: the real reference file, its codebook links, comparisons, series."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import paths
from helpers.benchmarks import (
    REFERENCE_COLUMNS,
    compare_to_benchmarks,
    load_reference,
    series,
)
from helpers.errors import DataError
from helpers.indicators import wilson_interval


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return load_reference()


def survey(roles: list[str], **items: list[float]) -> pd.DataFrame:
    """A processed-survey-shaped frame: one firm per respondent, wave 1."""
    n = len(roles)
    df = pd.DataFrame({"respondent_id": [f"r{i}" for i in range(n)],
                       "firm_id": [f"f{i}" for i in range(n)],
                       "role": pd.Categorical(roles, categories=["CMO", "CIO"]),
                       "wave": pd.array([1] * n, dtype="Int64"), **items})
    return df


# --------------------------------------------------------------------------- the reference file
def test_load_reference_types(ref: pd.DataFrame) -> None:
    assert list(ref.columns) == REFERENCE_COLUMNS
    assert ref["value"].dtype == "float64"
    assert str(ref["year"].dtype) == "Int64" and str(ref["n"].dtype) == "Int64"
    assert ref["figure_id"].is_unique
    row = ref.set_index("figure_id").loc["accenture2013_alignment_important_cio"]
    assert (row["value"], row["year"], row["n"], row["group"]) == (77.0, 2013, 250, "CIO")
    assert ref.set_index("figure_id").loc["accenture2014_need_align_cio", "n"] is pd.NA


def test_every_codebook_benchmark_exists_and_fits(cb, ref: pd.DataFrame) -> None:
    figures = ref.set_index("figure_id")
    links = [(item.id, key, fid) for item in cb.items.values()
             for key, fid in item.benchmark.items()]
    assert links, "the codebook links no item to a published figure"
    missing = [fid for _, _, fid in links if fid not in figures.index]
    assert not missing, f"benchmark ids not in published_figures.csv: {missing}"
    for iid, key, fid in links:
        assert figures.loc[fid, "group"] == key, f"{iid}: {fid} describes another group"
        assert figures.loc[fid, "unit"] == "percent", f"{iid}: {fid} is not a percentage"
        assert key == "all" or key in cb.items[iid].roles, f"{iid}: {key} is not asked"


def copy_reference(tmp_path: Path) -> Path:
    target = tmp_path / "published_figures.csv"
    shutil.copy(paths.REFERENCE / "published_figures.csv", target)
    return target


def test_load_reference_names_bad_rows(tmp_path: Path) -> None:
    path = copy_reference(tmp_path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.loc[2, "value"] = "seventy"
    raw.loc[4, "n"] = "-3"
    raw.loc[5, "group"] = "CEO"
    raw.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        load_reference(path)
    by_rule = {i.rule: i for i in err.value.issues}
    assert by_rule["reference-value-number"].rows == [3]
    assert by_rule["reference-value-number"].column == "value"
    assert by_rule["reference-value-number"].file == str(path)
    assert by_rule["reference-n-integer"].rows == [5]
    assert by_rule["reference-group"].rows == [6]


def test_load_reference_missing_column_and_file(tmp_path: Path) -> None:
    path = copy_reference(tmp_path)
    pd.read_csv(path, dtype=str).drop(columns="unit").to_csv(path, index=False)
    with pytest.raises(DataError, match="unit") as err:
        load_reference(path)
    assert err.value.rule == "reference-columns"
    with pytest.raises(DataError, match="not found"):
        load_reference(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- comparisons
def imp1_frame() -> pd.DataFrame:
    """100 CIOs of whom exactly 77 agree with imp_1 (Accenture 2013: 77 %), and 50 CMOs."""
    cio = [5.0] * 40 + [4.0] * 37 + [3.0] * 13 + [2.0] * 10
    cmo = [4.0] * 20 + [1.0] * 28 + [np.nan] * 2
    return survey(["CIO"] * 100 + ["CMO"] * 50, imp_1=cio + cmo)


def test_compare_to_benchmarks_known_answer(cb, ref: pd.DataFrame) -> None:
    out = compare_to_benchmarks(imp1_frame(), cb, ref).set_index(["item", "group"])
    cio = out.loc[("imp_1", "CIO")]
    assert cio["figure_id"] == "accenture2013_alignment_important_cio"
    assert (cio["n"], cio["n_agree"]) == (100, 77)
    assert cio["share"] == pytest.approx(0.77)
    assert cio["published_share"] == pytest.approx(0.77)
    assert cio["difference_pp"] == pytest.approx(0.0, abs=1e-9)
    assert cio["p_value"] == pytest.approx(1.0)
    assert (cio["ci_low"], cio["ci_high"]) == pytest.approx(wilson_interval(77, 100))
    assert (cio["publisher"], cio["year"], cio["published_n"]) == \
        ("Accenture Interactive", 2013, 250)
    assert cio["note"] == ("different population and year: Accenture Interactive 2013, senior IT "
                           "executives; the published share is treated as a fixed value")
    cmo = out.loc[("imp_1", "CMO")]
    assert (cmo["n"], cmo["n_agree"]) == (48, 20)
    assert cmo["difference_pp"] == pytest.approx(100 * (20 / 48 - 0.57))


def test_compare_to_benchmarks_p_values_match_scipy(cb, ref: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    roles = ["CMO", "CIO"] * 60
    items = {iid: rng.integers(1, 6, len(roles)).astype(float) for iid in cb.items
             if cb.items[iid].scale.max == 5}
    out = compare_to_benchmarks(survey(roles, **items), cb, ref)
    assert len(out) == sum(len(i.benchmark) for i in cb.items.values() if i.id in items)
    for row in out.itertuples():
        expected = stats.binomtest(row.n_agree, row.n, row.published_share).pvalue
        assert row.p_value == pytest.approx(expected)
    pooled = out.set_index(["item", "group"]).loc[("collab_1", "all")]
    assert pooled["n"] == 120  # both roles pooled
    assert out.attrs["skipped"] == []


def test_compare_to_benchmarks_skips_with_reasons(cb, ref: pd.DataFrame) -> None:
    changed = ref.copy()
    changed.loc[changed["figure_id"] == "accenture2013_alignment_important_cmo", "unit"] = \
        "percent of revenue"
    out = compare_to_benchmarks(imp1_frame(), cb, changed)
    assert out[["item", "group"]].values.tolist() == [["imp_1", "CIO"]]
    reasons = {(s["item"], s["group"]): s["reason"] for s in out.attrs["skipped"]}
    assert "not a percentage" in reasons[("imp_1", "CMO")]
    assert reasons[("collab_1", "all")] == "item not in the data"
    no_answers = compare_to_benchmarks(survey(["CMO"], imp_1=[4.0]), cb, ref)
    cio = no_answers.set_index("group").loc["CIO"]
    assert cio["n"] == 0 and math.isnan(cio["share"]) and math.isnan(cio["p_value"])


# --------------------------------------------------------------------------- series
def test_gartner_budget_series(ref: pd.DataFrame) -> None:
    s = series(ref, statement_contains="budget as share of company revenue",
               figure_prefix="gartner_cmo_spend_")
    assert s["year"].tolist() == list(range(2013, 2026))
    assert s.set_index("year").loc[2024, "value"] == 7.7
    assert s.set_index("year").loc[2021, "value"] == 6.4
    assert set(s["unit"]) == {"percent of revenue"} and set(s["publisher"]) == {"Gartner"}
    assert {"year", "value", "unit", "study", "publisher", "confidence"} <= set(s.columns)


def test_martech_series_and_mixed_units(ref: pd.DataFrame) -> None:
    m = series(ref, statement_contains="technology share of the marketing budget",
               figure_prefix="gartner_cmo_spend_")
    assert m["year"].tolist() == [2015, 2016, 2017, 2018, 2021, 2023, 2024]
    assert m.set_index("year").loc[2024, "value"] == 23.8
    with pytest.raises(ValueError, match="mix units"):
        series(ref, figure_prefix="gartner_cmo_spend_")
    with pytest.raises(ValueError, match="no published figure"):
        series(ref, figure_prefix="nobody_")
