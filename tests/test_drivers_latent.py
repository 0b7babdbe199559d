"""Drivers and consequences of the disconnect (helpers.drivers): known answers and recovery.

The recovery study runs the report's own headline functions on simulated surveys and compares
with the truth module (helpers.truth.drivers); the naive per-respondent regression the report
used before (co-funding about −0.24 against a true −0.40) would fail it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from helpers import drivers, simulate
from helpers.codebook import load_codebook
from helpers.truth import drivers as truth_drivers

CB = load_codebook()


# --------------------------------------------------------------------------- known answers
def test_cross_rater_slope_of_a_binary_driver_by_hand() -> None:
    # 4 dyads: the two reports of X disagree once in 4, so λ = √(1 − 2/4) = √½.
    # centred: A_x − ½ = (½, ½, −½, −½), B_x − ¼ = (¾, −¼, −¼, −¼), y_A − 1 = (1, 0, −1, 0),
    # y_B − 1 = (1, 1, −1, −1); M_xx = mean((A_x−½)(B_x−¼)) = ⅛,
    # M_xy = ½ [mean((A_x−½)(y_B−1)) + mean((B_x−¼)(y_A−1))] = ½ (½ + ¼) = ⅜;
    # slope per true yes vs no = (⅜ / ⅛) · √½ = 3/√2.
    a = np.array([[1, 2], [1, 1], [0, 0], [0, 1]], dtype=float)
    b = np.array([[1, 2], [0, 2], [0, 0], [0, 0]], dtype=float)
    slope = drivers.cross_rater_slopes(a, b, ["binary", "points"])
    assert slope == pytest.approx([3 / math.sqrt(2)])
    # a per-SD driver: slope per SD of the shared score = b · √(cross-rater covariance)
    per_sd = drivers.cross_rater_slopes(a, b, ["per_sd", "points"])
    assert per_sd == pytest.approx([3 * math.sqrt(1 / 8)])
    # a binary outcome is divided by its loading: M_yy = mean((y_A−1)(y_B−1)) = ½, so the
    # slope of the true X on y is (⅜ / ½) / √½
    rev = drivers.cross_rater_slopes(a[:, ::-1], b[:, ::-1], ["points", "binary"])
    assert rev == pytest.approx([0.75 / math.sqrt(0.5)])
    # reports that agree no better than chance are not estimable
    noise = np.array([[1, 2], [0, 1], [1, 0], [0, 1]], dtype=float)
    other = np.array([[0, 2], [1, 2], [0, 0], [1, 0]], dtype=float)
    assert np.isnan(drivers.cross_rater_slopes(noise, other, ["binary", "points"])).all()


def test_kappa_of_an_exactly_normal_latent_answer() -> None:
    # category shares of a N(3, 1) latent answer cut at 1.5 … 4.5: κ = Σ φ((τ − 3)) exactly
    tau = np.array([1.5, 2.5, 3.5, 4.5])
    cum = stats.norm.cdf(tau - 3)
    counts = np.diff(np.concatenate([[0], cum, [1]])) * 1e6
    expected = float(np.sum(stats.norm.pdf(tau - 3)))
    assert drivers.grouped_normal_kappa(counts, 1, 5)[0] == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(0.963166, abs=1e-6)
    # a ceiling: N(4.5, 1.2) loses more of a shift than N(3, 1)
    cum = stats.norm.cdf((tau - 4.5) / 1.2)
    high = np.diff(np.concatenate([[0], cum, [1]])) * 1e6
    assert drivers.grouped_normal_kappa(high, 1, 5)[0] < 0.8 * expected


def test_misclassification_correction_recovers_a_constructed_slope() -> None:
    # X ~ Bernoulli(.4), reports right with probability .85, D = −0.5 X + noise seen by both
    rng = np.random.default_rng(1)
    n = 200_000
    x = (rng.random(n) < 0.4).astype(float)
    d = -0.5 * x + rng.normal(0, 0.5, n)
    flip = lambda: np.where(rng.random(n) < 0.85, x, 1 - x)  # noqa: E731
    a = np.column_stack([flip(), d + rng.normal(0, 0.6, n)])
    b = np.column_stack([flip(), d + rng.normal(0, 0.6, n)])
    naive = np.cov(a[:, 0], a[:, 1])[0, 1] / np.var(a[:, 0])
    assert naive == pytest.approx(-0.5 * 0.7 * 0.4 * 0.6 / (0.7**2 * 0.24 + 0.85 * 0.15), rel=0.05)
    assert drivers.cross_rater_slopes(a, b, ["binary", "points"])[0] == pytest.approx(-0.5,
                                                                                    abs=0.01)


# --------------------------------------------------------------------------- truth
def test_truth_follows_the_config() -> None:
    config = simulate.SimulationConfig(beta_cofunded_projects=-0.7, improved_on_disconnect=-0.1)
    truth = truth_drivers.estimands(config, CB)
    assert truth["drivers.cofunded_projects"] == -0.7
    assert truth["drivers.data_readiness"] == 0.0
    assert truth["consequences.relationship_improved"] == -0.1
    # the failure slope: between the logit slope at the mean times p(1-p) bounds, and 0 with b=0
    assert 0.12 < truth["consequences.project_failure"] < 0.9 / 4
    flat = simulate.SimulationConfig(failure_on_disconnect=0.0)
    assert truth_drivers.estimands(flat, CB)["consequences.project_failure"] == pytest.approx(
        0.0, abs=1e-12)


def test_failure_truth_matches_a_monte_carlo_of_the_dgp() -> None:
    config = simulate.SimulationConfig(firms=20_000, waves=2)
    _, truth = simulate.simulate_survey(config, codebook=CB)
    resid = truth["disconnect"] - truth.groupby(["country", "industry", "size_band", "wave"])[
        "disconnect"].transform("mean")
    p = truth["project_failure_p"]
    slope = np.sum((p - p.mean()) * resid) / np.sum(resid**2)
    assert truth_drivers.estimands(config, CB)["consequences.project_failure"] == pytest.approx(
        slope, abs=0.01)


# --------------------------------------------------------------------------- recovery
REPS = 20


@pytest.fixture(scope="module")
def runs() -> dict[str, list]:
    out: dict[str, list] = {}
    for r in range(REPS):
        config = simulate.SimulationConfig(firms=300, seed=7000 + r)
        survey, _ = simulate.simulate_survey(config, codebook=CB)
        rows = drivers.headlines(survey, CB, n_boot=100, seed=r)
        rows += drivers.consequences(survey, CB, n_boot=20, seed=r)
        for h in rows:
            out.setdefault(h.key, []).append(h)
    return out


def test_recovery_of_driver_associations(runs: dict[str, list]) -> None:
    truth = truth_drivers.estimands(simulate.SimulationConfig(), CB)
    cofund = np.mean([h.estimate for h in runs["drivers.cofunded_projects"]])
    assert cofund == pytest.approx(truth["drivers.cofunded_projects"], abs=0.07)
    itso = np.mean([h.estimate for h in runs["drivers.it_service_orientation"]])
    assert itso == pytest.approx(truth["drivers.it_service_orientation"], abs=0.03)
    covered = np.mean([h.ci_low <= truth["drivers.cofunded_projects"] <= h.ci_high
                       for h in runs["drivers.cofunded_projects"]])
    assert covered >= 0.8
    flagged = sum(h.verdict in ("positive", "negative") for h in runs["drivers.data_readiness"])
    assert flagged <= 3  # the true null: about 1 in 20 expected
    assert all(h.verdict in ("no evidence", "not detectable")
               for h in runs["drivers.data_readiness"] if h.ci_low <= 0 <= h.ci_high)


def test_recovery_of_consequences(runs: dict[str, list]) -> None:
    truth = truth_drivers.estimands(simulate.SimulationConfig(), CB)
    for key, tol in (("consequences.project_failure", 0.04),
                     ("consequences.customer_insight", 0.04),
                     ("consequences.relationship_improved", 0.06)):
        mean = np.mean([h.estimate for h in runs[key]])
        assert mean == pytest.approx(truth[key], abs=tol), key
    assert all(h.verdict == "positive" for h in runs["consequences.project_failure"])


def test_small_samples_are_not_estimable_or_exploratory() -> None:
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(firms=12, seed=3),
                                         codebook=CB)
    rows = drivers.headlines(survey, CB, n_boot=20)
    assert {h.verdict for h in rows} == {"not estimable"}
    assert all(str(drivers.MIN_FIRMS) in h.reading for h in rows)
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(firms=45, seed=3),
                                         codebook=CB)
    rows = drivers.headlines(survey, CB, n_boot=50, controls=("wave",))
    assert {h.verdict for h in rows} == {"exploratory"}
    # the numbers only: the report's one "exploratory" banner says why there is no verdict
    assert all(h.reading.startswith(h.label + ": ") for h in rows)
    assert not any(word in h.reading for h in rows
                   for word in ("Exploratory", "excludes zero", "No evidence", "Not detectable"))


def test_absent_outcome_and_one_role_driver_are_not_estimable() -> None:
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(firms=80, seed=4),
                                         codebook=CB)
    survey = survey.drop(columns=["fail_1"])
    survey.loc[survey["role"] == "CIO", "kpi_1"] = np.nan
    rows = {h.key: h for h in drivers.headlines(survey, CB, n_boot=30)}
    assert rows["drivers.shared_kpis"].verdict == "not estimable"
    assert rows["drivers.cofunded_projects"].estimate is not None
    cons = {h.key: h for h in drivers.consequences(survey, CB, n_boot=30)}
    assert cons["consequences.project_failure"].verdict == "not estimable"
    assert cons["consequences.customer_insight"].estimate is not None
