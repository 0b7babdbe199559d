"""The measurement report's building blocks (helpers.measurement.report) on the sample in
data/processed, and the report itself (notebooks/01_measurement.ipynb) rendered by the batch.

The sample (835 respondents, 426 CMOs and 409 CIOs) is the repository's synthetic data: its
speed-friction items were built with opposite item-level gaps for the two roles, which is what
the scalar step must catch."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import processing
from helpers.codebook import load_codebook
from helpers.measurement import report as R



@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "data" / "processed"
    if not (root / processing.SURVEY_FILE).exists():
        pytest.skip("data/processed not built (make data)")
    return processing.load_processed(root).survey


@pytest.fixture(scope="module")
def verdicts(survey, cb) -> pd.DataFrame:
    return R.invariance_verdicts(survey, cb, 5)


def test_verdicts_one_row_per_pooled_construct(verdicts, survey, cb):
    assert list(verdicts.columns) == R.VERDICT_COLUMNS
    assert list(verdicts["construct"]) == R.modelled_constructs(survey, cb)
    # asked with different items of CMOs and CIOs: compared item by item, never as a mean
    assert not {"requirements_friction", "data_autonomy"} & set(verdicts["construct"])
    assert set(verdicts["level"]) <= set(R.LEVELS)
    assert (verdicts["means_comparable"]
            == verdicts["level"].isin(["scalar", "partial scalar"])).all()


def test_speed_friction_is_not_scalar_invariant(verdicts):
    row = verdicts.set_index("construct").loc["speed_friction"]
    assert row["level"] == "metric"
    assert not row["means_comparable"]
    assert row["delta_cfi_scalar"] <= -0.010
    trust = verdicts.set_index("construct").loc["mutual_trust"]
    assert trust["level"] == "scalar" and trust["freed"] == ""


def test_two_item_constructs_take_the_whole_models_verdict(verdicts):
    two = verdicts.set_index("construct").loc[["data_ownership", "customer_insight"]]
    assert (two["tested_with"] == "the whole model").all()
    assert two["level"].nunique() == 1


def test_small_groups_fit_nothing(survey, cb):
    tiny = pd.concat([survey[survey["role"] == "CMO"].head(4), survey[survey["role"] == "CIO"].head(20)])
    v = R.invariance_verdicts(tiny, cb, 5)
    assert (v["level"] == "none").all() and not v["means_comparable"].any()
    assert v["note"].str.contains("fewer than 5 respondents in group\\(s\\) CMO").all()
    one_role = survey[survey["role"] == "CMO"]
    v = R.invariance_verdicts(one_role, cb, 5)
    assert (v["level"] == "none").all() and v["note"].str.contains("needs two groups").all()
