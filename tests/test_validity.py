"""The validity study's machinery: settings, scoring and targets (helpers.validity).

The quick end-to-end variant (a few samples through every report's headline function) is at the
end; ``benchmarks/validity.py`` runs the full study.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers import headlines, simulate, truth, validity


def rows(key: str, true: float, estimates, halfwidth: float, verdicts=None, sesoi=0.1):
    out = []
    for i, e in enumerate(estimates):
        lo, hi = e - halfwidth, e + halfwidth
        v = verdicts[i] if verdicts else headlines.verdict(lo, hi, 0.9)
        out.append({"seed": i, "area": "a", "key": key, "truth": true, "estimate": e,
                    "ci_low": lo, "ci_high": hi, "p_value": 0.5, "verdict": v, "power": 0.9,
                    "sesoi": sesoi, "reading": ""})
    return pd.DataFrame(out)


def test_summary_counts_coverage_bias_and_power_by_hand() -> None:
    # 20 samples of a true -0.4: 19 intervals cover it, one (-0.1 ± 0.2) does not
    est = [-0.4] * 19 + [-0.1]
    s = validity.summarise(rows("k", -0.4, est, 0.2)).iloc[0]
    assert s["coverage"] == pytest.approx(19 / 20)
    assert s["bias"] == pytest.approx((sum(est) / 20) + 0.4)
    assert s["relative_bias"] == pytest.approx(s["bias"] / 0.4)
    assert s["power"] == pytest.approx(19 / 20)  # -0.1 ± 0.2 includes 0: not signed
    # with stated power .9 the one interval that includes 0 reads "no evidence": wrong
    assert s["verdict_right"] == pytest.approx(19 / 20)
    assert s["within_targets"]


def test_a_confident_null_reading_of_a_true_effect_is_wrong() -> None:
    # an interval that includes zero with high stated power reads "no evidence": wrong for -0.4
    assert headlines.verdict(-0.3, 0.1, 0.9) == "no evidence"
    assert not validity.verdict_right("no evidence", -0.4)
    assert validity.verdict_right("not detectable", -0.4)
    assert not validity.verdict_right("positive", -0.4)
    assert validity.verdict_right("no evidence", 0.0)
    assert not validity.verdict_right("negative", 0.0)
    # "no evidence" of an effect as large as the smallest of interest: right for a smaller one
    assert validity.verdict_right("no evidence", -0.05, sesoi=0.2)
    assert not validity.verdict_right("no evidence", -0.25, sesoi=0.2)
    assert validity.verdict_right("negative", -0.05, sesoi=0.2)


def test_targets_fail_for_an_attenuated_estimator() -> None:
    # the report's old driver estimate: -0.24 for a true -0.40, tight intervals
    s = validity.summarise(rows("k", -0.4, [-0.24] * 20, 0.1)).iloc[0]
    assert not s["within_targets"]
    assert "coverage" in s["failed"] and "bias" in s["failed"]


def test_false_positives_on_a_true_null() -> None:
    est = [0.0] * 85 + [0.3, -0.3] * 7 + [0.01]
    s = validity.summarise(rows("k", 0.0, est, 0.2)).iloc[0]
    assert s["false_positive"] == pytest.approx(0.14)
    assert math.isnan(s["power"])
    assert "false positives" in s["failed"] and "verdict" in s["failed"]
    assert abs(s["relative_bias"]) < 0.01  # measured against the smallest effect of interest


def test_a_miss_the_replications_cannot_tell_from_the_target_is_marginal() -> None:
    # 2 false positives in 20 samples: 0.10 > 0.05, but the Wilson interval reaches 0.03
    est = [0.0] * 18 + [0.3, -0.3]
    s = validity.summarise(rows("k", 0.0, est, 0.2)).iloc[0]
    assert s["false_positive"] == pytest.approx(0.1)
    assert s["failed"] == "" and "false positives" in s["marginal"] and s["within_targets"]
    lo, hi = validity.wilson(0.1, 20)
    assert (lo, hi) == (pytest.approx(0.0279, abs=1e-4), pytest.approx(0.3010, abs=1e-4))


def test_not_estimable_samples_count_against_the_target() -> None:
    r = rows("k", -0.4, [-0.4] * 20, 0.2)
    r.loc[:2, ["estimate", "ci_low", "ci_high"]] = None
    r.loc[:2, "verdict"] = "not estimable"
    s = validity.summarise(r).iloc[0]
    assert s["estimable"] == pytest.approx(17 / 20) and "estimable" in s["failed"]


def test_settings_are_checked_and_applied() -> None:
    settings = validity.parse_settings(["item_sd=0.8", "report_accuracy=0.85"])
    assert settings == {"item_sd": 0.8, "report_accuracy": 0.85}
    config = validity.make_config(150, 7, settings)
    assert (config.firms, config.seed, config.item_sd, config.report_accuracy) == \
        (150, 7, 0.8, 0.85)
    # ledgers as thin per firm as in the sample
    base = simulate.SimulationConfig()
    assert config.ledger_rows == round(base.ledger_rows * 150 / base.firms)
    with pytest.raises(ValueError, match="item_sdd"):
        validity.parse_settings(["item_sdd=0.8"])
    with pytest.raises(ValueError, match="name=value"):
        validity.parse_settings(["item_sd"])


def test_truth_follows_the_settings() -> None:
    base = truth.estimands(validity.make_config(300, 1), areas=["drivers"])
    moved = truth.estimands(validity.make_config(300, 1, {"beta_cofunded_projects": -0.8}),
                            areas=["drivers"])
    assert base["drivers.cofunded_projects"] == pytest.approx(-0.4)
    assert moved["drivers.cofunded_projects"] == pytest.approx(-0.8)


@pytest.mark.slow
def test_quick_study_through_every_report_headline() -> None:
    """The quick variant of benchmarks/validity.py: two samples of 200 firms through every
    area's headline function (the notebooks' calls), each compared with its truth."""
    study = validity.run(reps=2, firms=200, seed=11, workers=1)
    keys = set(study.summary["key"])
    true = truth.estimands(validity.make_config(200, 11))
    assert keys <= set(true)  # every headline has its truth (replicate raises otherwise)
    assert {"drivers.cofunded_projects", "congruence.a4", "shadow.share",
            "role_gap.mutual_trust"} <= keys
    rows = study.rows[study.rows["verdict"] != "not estimable"]
    assert len(rows) >= 0.9 * len(study.rows)
    # no estimate far from its truth: 5 half-widths of its own interval at most
    half = (rows["ci_high"] - rows["ci_low"]) / 2
    assert ((rows["estimate"] - rows["truth"]).abs() <= 5 * half).all()
    assert study.last_line().startswith("validity: ")
    assert study.last_line().endswith(f"/{len(keys)} estimands within targets")


def test_power_is_the_two_sided_normal_power() -> None:
    from scipy import stats
    z = stats.norm.ppf(0.975)
    assert headlines.power(0.1, 0.25) == pytest.approx(
        stats.norm.cdf(2.5 - z) + stats.norm.cdf(-2.5 - z), rel=1e-12)
    assert headlines.power(0.1, -0.25) == headlines.power(0.1, 0.25)
    assert headlines.power(None, 0.2) is None and headlines.power(0.0, 0.2) is None
