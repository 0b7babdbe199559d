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


# --------------------------------------------------------------------------- verdicts in words
def _row(step, d_cfi, d_rmsea, d_srmr, freed="", verdict="holds"):
    return {"step": step, "delta_cfi": d_cfi, "delta_rmsea": d_rmsea, "delta_srmr": d_srmr,
            "freed": freed, "verdict": verdict, "cfi": 0.95, "rmsea": 0.04}


def test_step_sentences_follow_chen_from_the_numbers():
    # the lavaan figure: scalar ΔCFI −.074 with RMSEA and SRMR worsening
    s = R.step_sentence("scalar", _row("scalar", -0.074, 0.031, 0.012), "Speed friction")
    assert s.startswith("Speed friction is not scalar invariant (ΔCFI −.074, ΔRMSEA +.031")
    # Chen needs ΔCFI and one of ΔRMSEA/ΔSRMR: ΔCFI alone does not make a step fail
    assert " is scalar invariant" in R.step_sentence("scalar", _row("scalar", -0.074, 0.005, 0.004))
    # the rule reads the printed (rounded) Δs: −.0096 prints as −.010 and fails with ΔSRMR .010
    assert "not scalar" in R.step_sentence("scalar", _row("scalar", -0.0096, 0.0, 0.0100))
    assert "not scalar" not in R.step_sentence("scalar", _row("scalar", -0.0094, 0.0, 0.0100))
    # metric's SRMR limit is .030, not .010
    assert " is metric invariant" in R.step_sentence("metric", _row("metric", -0.02, 0.0, 0.02))
    assert "not metric" in R.step_sentence("metric", _row("metric", -0.02, 0.0, 0.03))
    s = R.step_sentence("scalar", _row("scalar", -0.004, 0.004, 0.004, "imp_3~1", "partial"))
    assert "partially scalar invariant once the intercept of Importance of alignment, item 3 is freed" in s
    s = R.step_sentence("scalar", _row("scalar", -0.06, 0.164, 0.04, "speed_2~1", "does not hold"))
    assert "not scalar invariant, even with the intercept of Speed and urgency friction, item 2 freed" in s
    two = R.step_sentence("metric", _row("metric", -0.001, 0.0, 0.0, "f=~a_2, f=~a_3", "partial"))
    assert "partially metric invariant once the loading of a_2, the loading of a_3 are freed" in two
    assert "not tested" in R.step_sentence("scalar", _row("scalar", 0, 0, 0, verdict="not tested"))
    conf = R.step_sentence("configural", {"step": "configural", "cfi": 0.899, "rmsea": 0.05,
                                          "verdict": "does not hold"})
    assert "is not configurally invariant (CFI 0.899" in conf


def test_every_ladder_sentence_agrees_with_its_table_row(survey, cb):
    whole = R.whole_ladder(survey, cb, 5)
    for _, row in whole.table.iterrows():
        s = R.step_sentence(row["step"], row)
        held = row["verdict"] in ("holds", "partial")
        assert (" is not " not in s) == held, (row["step"], s)
        assert ("partially" in s) == (row["verdict"] == "partial")
    reading = R.ladder_reading(whole.table, "The whole model", "CMOs and CIOs")
    assert ("The whole model is partially scalar invariant once the intercept of Speed and urgency friction, item 2 is "
            "freed") in reading
    assert "The invariance is partial: the intercept of Speed and urgency friction, item 2 differs between the groups" in reading
    ladders = R.construct_ladders(survey, cb, 5, whole=whole)
    table = R.construct_ladder_table(ladders, cb).set_index("construct")
    speed = table.loc[cb.label("speed_friction")]
    assert speed["level"] == "metric" and speed["scalar ΔCFI"] <= -0.010
    assert "Speed and urgency friction is not scalar invariant" in speed["reading"]
    assert "Construct means may not be compared across the roles" in speed["reading"]
    for label, row in table.iterrows():
        comparable = row["level"] in ("scalar", "partial scalar")
        assert ("so construct means may be compared" in row["reading"]) == comparable, label
    text = R.verdicts_reading(R.verdicts_from_ladders(ladders), cb)
    assert "may not be compared for Speed and urgency friction (level reached: metric)" in text


def test_latent_means_are_cmo_minus_cio_and_only_where_scalar_holds(survey, cb):
    ladders = R.construct_ladders(survey, cb, 5)
    means = R.latent_means_table(ladders, cb).set_index("construct")
    assert (means["difference"] == "CMO − CIO").all()
    assert cb.label("speed_friction") not in means.index
    from helpers import scales
    scores = scales.score(survey, cb, ["mutual_trust", "it_service_orientation"])
    for c in ("mutual_trust", "it_service_orientation"):
        observed = (scores.loc[survey["role"] == "CMO", c].mean()
                    - scores.loc[survey["role"] == "CIO", c].mean())
        latent = means.loc[cb.label(c)]
        assert latent["ci_low"] < latent["estimate"] < latent["ci_high"]
        assert abs(observed) > 0.05 and (observed > 0) == (latent["estimate"] > 0)


# --------------------------------------------------------------------------- CFA, CMV, Table 1
def test_cfa_tables_on_the_sample(survey, cb):
    cons = R.modelled_constructs(survey, cb)
    fit, why = R.try_cfa(survey, cons, cb)
    assert why == "" and fit.usable
    t = R.fit_table({"all": fit}).iloc[0]
    assert t["n"] == len(survey) and t["df"] == fit.fit["df"]
    assert t["CFI"] == pytest.approx(fit.fit["cfi"]) and t["RMSEA 90% CI"].startswith("[0.0")
    assert "fits acceptably (CFI 0.957" in R.fit_reading(fit, "model")
    lo = R.loadings_table(fit)
    assert len(lo) == len(fit.items) and (lo["SE (std.)"] > 0).all()
    assert lo["std. loading"].between(0.5, 0.9).all()
    v = R.validity_table(fit)
    assert (v["Fornell–Larcker"] == (v["√AVE"] > v["largest |r|"])).all()
    assert R.try_cfa(survey, [], cb)[0] is None
    none, reason = R.try_cfa(survey.head(10), cons, cb)
    assert none is None and "complete row(s)" in reason


def test_method_factor_and_harman(survey, cb):
    fit, _ = R.try_cfa(survey, R.modelled_constructs(survey, cb), cb)
    table, reading, m = R.method_factor(survey, fit, cb)
    assert m is not None and m.usable
    assert list(table["model"]) == ["traits only", "traits + method factor"]
    assert table["df"].iloc[0] - table["df"].iloc[1] == len(fit.items)
    assert table["chi2"].iloc[1] < table["chi2"].iloc[0]
    method, trait = table["method variance"].iloc[1], table["trait variance"].iloc[1]
    assert 0 < method < trait
    assert f"{100 * method:.0f}\u202f% of an item's variance" in reading
    share, text = R.harman(survey, fit)
    assert 0 < share < 0.5 and "below the 50 %" in text and f"{100 * share:.0f}\u202f%" in text


def test_table1_diagonal_is_the_cfas_composite_reliability(survey, cb):
    cons = R.modelled_constructs(survey, cb)
    tables1 = R.table1_by_role(survey, cb, cons, 5)
    assert set(tables1) == {"all respondents", "CMOs", "CIOs"}
    for name, part in (("all respondents", survey), ("CMOs", survey[survey["role"] == "CMO"]),
                       ("CIOs", survey[survey["role"] == "CIO"])):
        t1, note = tables1[name]
        fit, _ = R.try_cfa(part, cons, cb)
        cr = fit.reliability.set_index("factor")["cr"]
        for j, c in enumerate(cons):
            assert t1[str(j + 1)].iloc[j] == pytest.approx(cr[c], abs=1e-12)
            assert pd.isna(t1[str(j + 1)].iloc[:j]).all()  # upper triangle empty
        assert t1["n"].iloc[0] == part[["imp_1", "imp_2", "imp_3"]].notna().any(axis=1).sum()
        assert "Composite reliability" in note


def test_table1_suppresses_small_cells(cb):
    scores = pd.DataFrame({"mutual_trust": [1, 2, 3, 4, 5, 2, 3],
                           "speed_friction": [2, 1, 4, 3, None, None, None],
                           "bypass_standards": [1, 3, 2, 5, 4, 4, 1]}, dtype=float)
    t1 = R.table1(scores, {"mutual_trust": 0.8, "speed_friction": 0.7, "bypass_standards": 0.75},
                  5, cb)
    trust, speed, bypass = (t1.iloc[i] for i in range(3))
    assert speed["n"] == "<5" and pd.isna(speed[["M", "SD", "1", "2"]]).all()
    assert trust["n"] == 7 and trust["1"] == 0.8 and trust["M"] == pytest.approx(20 / 7)
    assert pd.isna(bypass["2"])  # its correlation with speed friction rests on 4 respondents
    assert bypass["1"] == pytest.approx(scores["mutual_trust"].corr(scores["bypass_standards"]))
    assert bypass["3"] == 0.75 and t1.attrs["suppressed"] == 1


# --------------------------------------------------------------------------- the report
@pytest.fixture(scope="module")
def rendered(survey, tmp_path_factory):
    """01 rendered by the batch CLI on the sample: the whole sample and a small segment (Belgium,
    26 CMOs and 25 CIOs)."""
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    from report_variants import visible_text

    root = Path(__file__).resolve().parents[1]
    tmp = tmp_path_factory.mktemp("measurement_report")
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "helpers", "reports", "--only", "01_measurement/all",
         "--only", "01_measurement/country-BE", "--force", "--reports-dir", str(tmp / "reports"),
         "--executed-dir", str(tmp / "executed")],
        capture_output=True, text=True, timeout=600, cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = {}
    for name in ("all", "country-BE"):
        page = (tmp / "reports" / "01_measurement" / f"{name}.html").read_text()
        doc = json.loads((tmp / "reports" / "01_measurement" / f"{name}.json").read_text())
        out[name] = {"text": visible_text(page), "results": doc["results"]}
    out["seconds"] = time.perf_counter() - start
    return out


def test_report_on_the_sample(rendered):
    text, res = rendered["all"]["text"], rendered["all"]["results"]
    assert "Traceback" not in text and "Error" not in text
    assert "The measurement model fits acceptably (CFI 0.957" in text
    assert "Speed and urgency friction is not scalar invariant" in text
    assert "Latent mean differences, CMO − CIO" in text
    assert "Unmeasured latent method factor" in text and "Harman's single-factor test" in text
    assert "Table 1: construct scores, all respondents" in text
    assert "Table 1: construct scores, CMOs" in text and "Invariance across waves" in text
    verdicts = {r["construct"]: r for r in res["invariance_verdicts"]["rows"]}
    assert verdicts["speed_friction"]["level"] == "metric"
    assert not verdicts["speed_friction"]["means_comparable"]
    assert {r["step"] for r in res["invariance_roles_ladder"]["rows"]} == {
        "configural", "metric", "scalar", "strict"}
    assert "key_estimates" in res and "coverage" in res  # kept for the index and other tests


def test_report_on_a_small_segment(rendered):
    text, res = rendered["country-BE"]["text"], rendered["country-BE"]["results"]
    assert "Traceback" not in text and "Error" not in text
    assert "Invariance across roles, construct by construct" in text
    assert "invariance_verdicts" in res
    levels = {r["level"] for r in res["invariance_verdicts"]["rows"]}
    assert levels <= set(R.LEVELS)


def test_method_factor_needs_ten_responses_per_item(survey, cb):
    part = survey[survey["country"] == "DE"]
    fit, _ = R.try_cfa(part, R.modelled_constructs(part, cb), cb)
    table, reading, m = R.method_factor(part, fit, cb)
    assert table.empty and m is None
    assert f"needs at least 10 complete responses per item (350); there are {len(part)}" in reading


def test_whole_model_ladder_needs_five_respondents_per_item(survey, cb):
    part = survey[survey["country"] == "DE"]  # 88 CMOs, 88 CIOs, 35 items: 175 needed per group
    whole = R.whole_ladder(part, cb, 5)
    assert isinstance(whole, str)
    assert "at least 5 respondents per item in every group (175), and CIO (88), CMO (88) have" in whole
    v = R.invariance_verdicts(part, cb, 5).set_index("construct")
    assert v.loc["data_ownership", "level"] == "none"
    assert v.loc["data_ownership", "note"].startswith("two items only: judged in the whole model")
    assert v.loc["mutual_trust", "level"] != "none"  # three items: its own ladder
    t1 = R.table1_by_role(part, cb, R.modelled_constructs(part, cb), 5)
    assert "a CFA of one role is fitted with at least 2 per item (70)" not in t1["CMOs"][1]
    assert t1["CMOs"][0]["1"].iloc[0] > 0  # 88 ≥ 70: the role's CFA gives the diagonal
