"""Shadow-IT headlines (helpers.shadow): known answers for the ratio estimator and the fractional
logit, the regression calibration, small samples, and a quick recovery study through
``shadow.headlines`` against ``helpers.truth.shadow``."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from helpers import i18n, processing, shadow, simulate
from helpers.truth import shadow as truth_shadow


# --------------------------------------------------------------------------- known answers
def test_ratio_of_sums_known_answer() -> None:
    # firms A (1,10) (2,10), B (3,20), C (0,10) (1,10): R = 7/60; U = 2/3, 2/3, -4/3;
    # h_g = 20/60 each; Var = (4/9 + 4/9 + 16/9) / (2/3) / 60^2 = 1/900 -> SE = 1/30
    num = np.array([1, 2, 3, 0, 1], float)
    den = np.array([10, 10, 20, 10, 10], float)
    r = shadow.ratio_of_sums(num, den, np.array(list("AABCC")))
    assert r.estimate == pytest.approx(7 / 60, abs=1e-15)
    assert r.std_error == pytest.approx(1 / 30, rel=1e-12)
    assert r.df == pytest.approx(2, rel=1e-12) and r.n_clusters == 3  # equal shares: G - 1
    t = stats.t.ppf(0.975, 2)
    assert (r.ci_low, r.ci_high) == pytest.approx((7 / 60 - t / 30, 7 / 60 + t / 30), rel=1e-12)


def test_ratio_of_sums_df_is_bell_mccaffrey_as_the_general_cr2_code_computes_it() -> None:
    """Unequal spend per firm: SE and df equal the general CR2 / Bell–McCaffrey computation
    (helpers.role_gaps.cr2_contrast, N x N per cluster) on the WLS form of the ratio."""
    from helpers import role_gaps
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(12), rng.integers(1, 4, 12))
    den = rng.lognormal(3, 1.2, len(groups))  # skewed spend
    num = den * rng.uniform(0.02, 0.2, len(groups))
    r = shadow.ratio_of_sums(num, den, groups)
    ref = role_gaps.cr2_contrast(num / np.sqrt(den), np.sqrt(den)[:, None], groups, [1.0])
    assert r.estimate == pytest.approx(ref["estimate"], rel=1e-12)
    assert r.std_error == pytest.approx(ref["std_error"], rel=1e-10)
    assert r.df == pytest.approx(ref["df"], rel=1e-10)
    assert r.df < 11  # fewer than G - 1 with skewed spend


def test_ratio_of_sums_is_not_the_mean_of_ratios() -> None:
    # a thin firm-year with a high ratio barely moves the spend-weighted share
    num, den = np.array([1.0, 50.0]), np.array([2.0, 1000.0])
    r = shadow.ratio_of_sums(num, den, np.array(["a", "b"]))
    assert r.estimate == pytest.approx(51 / 1002)
    assert np.mean(num / den) == pytest.approx(0.275)


@pytest.mark.filterwarnings("ignore:cov_type not fully supported with var_weights")
def test_fractional_logit_matches_statsmodels_glm_with_cluster_covariance() -> None:
    rng = np.random.default_rng(3)
    n, g = 400, 60
    groups = rng.integers(0, g, n)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    mu = 1 / (1 + np.exp(-(x @ np.array([-2.0, 0.5, 0.3]) + rng.normal(0, 0.3, g)[groups])))
    y = np.clip(mu + rng.normal(0, 0.05, n), 0, 1)
    w = rng.lognormal(0, 1, n)
    beta, cov = shadow.fractional_logit(y, x, w, groups)
    ref = sm.GLM(y, x, family=sm.families.Binomial(), var_weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(beta, ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-6)
    # average marginal effect against the closed form
    ame = shadow.average_marginal_effect(beta, x, 1, w)
    m = 1 / (1 + np.exp(-(x @ beta)))
    assert ame == pytest.approx(np.average(beta[1] * m * (1 - m), weights=w))


def test_regression_calibration_recovers_the_reliability() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    tau = rng.normal(0, 0.5, n)                      # true-score variance 0.25
    idx = np.column_stack([3 + tau + rng.normal(0, 0.4, n), 2.5 + tau + rng.normal(0, 0.3, n)])
    idx[rng.random(n) < 0.2, 0] = np.nan            # some firm-waves with one executive
    idx[rng.random(n) < 0.2, 1] = np.nan
    idx[np.isnan(idx).all(axis=1), 1] = 2.5
    cal = shadow._calibrate(idx, np.ones((n, 1)))
    assert not isinstance(cal, str)
    assert cal.var_true == pytest.approx(0.25, rel=0.08)
    assert cal.var_error["CMO"] == pytest.approx(0.16, rel=0.1)
    assert cal.var_error["CIO"] == pytest.approx(0.09, rel=0.15)
    # E[tau | indices] is unbiased for tau's slope: regressing tau on it gives slope 1
    slope = np.polyfit(cal.true_score, tau, 1)[0]
    assert slope == pytest.approx(1.0, abs=0.06)


def test_calibration_refuses_indices_that_do_not_covary() -> None:
    rng = np.random.default_rng(1)
    idx = rng.normal(size=(200, 2))                  # two unrelated "measures"
    idx[:, 1] = -idx[:, 0] + rng.normal(0, 0.1, 200)
    assert isinstance(shadow._calibrate(idx, np.ones((200, 1))), str)


# --------------------------------------------------------------------------- the truth
def test_truth_follows_the_config(cb) -> None:
    base = simulate.SimulationConfig()
    t = truth_shadow.estimands(base, cb)
    assert 6.5 < t["shadow.share"] < 8.0          # spend weighting: below the mean share 8 %
    assert 4.2 < t["shadow.slope"] < 5.0          # 5 pp per point of D, less the clipped share
    assert truth_shadow.estimands(replace(base, shadow_on_disconnect=0.0), cb)[
        "shadow.slope"] == 0.0
    steeper = truth_shadow.estimands(replace(base, shadow_on_disconnect=0.08), cb)
    assert steeper["shadow.slope"] > 1.3 * t["shadow.slope"]
    noisier = truth_shadow.estimands(replace(base, item_sd=1.2), cb)  # per point of latent D:
    assert noisier["shadow.slope"] == pytest.approx(t["shadow.slope"], rel=1e-12)  # no λ
    assert truth_shadow.estimands(replace(base, shadow_intercept=0.12), cb)[
        "shadow.share"] > t["shadow.share"] + 3


def test_truth_share_matches_a_monte_carlo_of_the_ledger_plan(cb) -> None:
    config = replace(simulate.SimulationConfig(), firms=20_000, seed=11)
    lt = simulate.ledger_truth(config, codebook=cb)
    m_s, m_o = truth_shadow._amount_means()
    tau = lt["row_weight"] / (m_s + (m_o - m_s) * lt["shadow_it_share"])
    mc = 100 * float(np.sum(tau * lt["shadow_it_share"]) / np.sum(tau))
    assert truth_shadow.estimands(config, cb, min_lines=0)["shadow.share"] == pytest.approx(
        mc, abs=0.12)


# --------------------------------------------------------------------------- small samples
@pytest.fixture(scope="module")
def small_sample(tmp_path_factory) -> tuple[processing.ProcessedData, simulate.SimulationConfig]:
    config = replace(simulate.SimulationConfig(), firms=150, ledger_rows=100_000, seed=4)
    return _build(config, tmp_path_factory.mktemp("shadow")), config


def _build(config: simulate.SimulationConfig, root: Path) -> processing.ProcessedData:
    raw = simulate.write_sample(root / "raw", config=config)
    with contextlib.redirect_stdout(io.StringIO()):
        processing.build_processed(raw["survey"], budgets=raw["budgets"], ledger=raw["ledger"],
                                   fx=raw["fx_rates"], vendors=raw["vendors"],
                                   out_dir=root / "processed", force=True)
    return processing.load_processed(root / "processed")


def test_headlines_shape_and_units(small_sample, cb) -> None:
    data, _ = small_sample
    share, slope = shadow.headlines(data.survey, data.spend, cb, bootstrap=49)
    assert (share.key, slope.key) == ("shadow.share", "shadow.slope")
    assert share.unit == "%" and 3 < share.estimate < 15     # percent, not a proportion
    assert slope.unit == "pp per point of the disconnect" and 0 < slope.estimate < 15
    assert 0.8 < slope.extra["kappa"] < 1
    assert share.extra["excluded_firm_years"] >= 0 and share.extra["min_lines"] == 20
    assert share.extra["cost_total_eur"] > 0
    assert share.extra["cost_ci_low"] < share.extra["cost_mean_eur"] < share.extra["cost_ci_high"]
    assert 0 < slope.extra["reliability"] < 1
    assert "percentage points" in slope.reading and "drives" not in slope.reading
    # the minimum of lines is applied and counted
    strict = shadow.headlines(data.survey, data.spend, cb, min_lines=60, bootstrap=20)[0]
    assert strict.extra["excluded_firm_years"] > share.extra["excluded_firm_years"]
    assert "fewer than 60 ledger lines left out" in strict.reading


def test_small_segments_are_exploratory_or_not_estimable(small_sample, cb) -> None:
    data, _ = small_sample
    firms = sorted(data.survey["firm_id"].astype(str).unique())
    mid = data.survey[data.survey["firm_id"].astype(str).isin(firms[:40])]
    share, slope = shadow.headlines(mid, data.spend, cb, bootstrap=30)
    assert share.verdict == "exploratory" and "no verdict" in share.reading.lower()
    assert slope.verdict in ("exploratory", "not estimable")
    tiny = data.survey[data.survey["firm_id"].astype(str).isin(firms[:6])]
    share, slope = shadow.headlines(tiny, data.spend, cb, bootstrap=10)
    assert share.verdict == slope.verdict == "not estimable"
    assert "at least" in share.reading and "at least" in slope.reading
    one_role = data.survey[data.survey["role"].astype(str) == "CMO"]
    slope = shadow.headlines(one_role, data.spend, cb, bootstrap=10)[1]
    assert slope.verdict == "not estimable" and "both executives" in slope.reading
    assert shadow.headlines(data.survey, None, cb)[0].verdict == "not estimable"


def test_readings_in_the_reports_language(small_sample, cb) -> None:
    """In German the headlines carry German labels, units and readings with decimal commas and
    amounts in whole euros grouped with points; a headline that cannot be estimated says so in
    a sentence with its label. The numbers are those of the English run."""
    data, _ = small_sample
    en = shadow.headlines(data.survey, data.spend, cb, bootstrap=20)
    with i18n.using("DE"):
        share, slope = shadow.headlines(data.survey, data.spend, cb, bootstrap=20)
        refused = shadow.headlines(data.survey, None, cb)[0]
    assert (share.estimate, slope.estimate) == (en[0].estimate, en[1].estimate)
    assert share.label == "Schatten-IT-Anteil an den Technologieausgaben (ausgabengewichtet)"
    assert share.n_unit == "Unternehmensjahre" and slope.unit == "Pp. je Punkt Disconnect"
    assert share.reading.startswith("Schatten-IT macht " + i18n.number(share.estimate, 1, "DE"))
    total = i18n.number(share.extra["cost_total_eur"], 0, "DE")
    assert f"insgesamt {total} EUR." in share.reading and "." in total
    assert "Prozentpunkte Schatten-IT-Anteil je Punkt Disconnect" in slope.reading
    assert refused.reading.startswith(share.label + ": nicht schätzbar – benötigt ")
    for h in (share, slope):  # no decimal point (a point before three digits groups them)
        assert not re.search(r"\d\.(?:\d{1,2}|\d{4,})(?!\d)", h.reading), h.reading


# --------------------------------------------------------------------------- recovery
def test_recovery_through_the_headline_function(cb, tmp_path: Path) -> None:
    """15 small samples (120 firms, thin ledgers: ~140 lines per firm-year): the spend-weighted
    share is close to its truth and covered; the slope is unbiased within the noise."""
    rows = []
    for seed in range(15):
        config = replace(simulate.SimulationConfig(), firms=120, ledger_rows=70_000,
                         seed=500 + seed)
        truth = truth_shadow.estimands(config, cb)
        data = _build(config, tmp_path / str(seed))
        share, slope = shadow.headlines(data.survey, data.spend, cb, bootstrap=39)
        rows.append({"share": share.estimate, "share_truth": truth["shadow.share"],
                     "share_cover": share.ci_low <= truth["shadow.share"] <= share.ci_high,
                     "slope": slope.estimate, "slope_truth": truth["shadow.slope"]})
    df = pd.DataFrame(rows)
    share_bias = (df["share"] - df["share_truth"]).mean() / df["share_truth"].mean()
    assert abs(share_bias) < 0.04, df
    assert df["share_cover"].mean() >= 0.8, df
    slope_bias = (df["slope"] - df["slope_truth"]).mean() / df["slope_truth"].mean()
    assert abs(slope_bias) < 0.2, df


def test_index_loading_is_the_floor_ceiling_factor_times_the_varying_share() -> None:
    rng = np.random.default_rng(9)
    n = 20_000
    latent = rng.normal(3.9, 0.8, n)                 # towards the ceiling: κ below 1
    codes = (np.clip(np.floor(latent + 0.5), 1, 5) - 1).astype(int)
    cuts = np.arange(1, 5) + 0.5
    expected = float(np.sum(stats.norm.pdf((cuts - 3.9) / 0.8)) / 0.8)
    flat = (rng.random(n) < 0.1).astype(int)
    items = [shadow._ItemCodes(role, 1.0, codes, 1, 5) for role in shadow.ROLES]
    kappa = shadow.index_loading(items)
    assert kappa["CMO"] == pytest.approx(expected, rel=0.03) and expected < 0.95
    items += [shadow._ItemCodes("CMO", 0.0, flat, 0, 1, flat=True)]
    assert shadow.index_loading(items)["CMO"] == pytest.approx(
        (1 - flat.mean()) * kappa["CMO"], rel=1e-12)
