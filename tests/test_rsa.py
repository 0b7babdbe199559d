"""Parameter recovery and known answers for helpers.rsa (polynomial regression + RSA)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.models import NotEstimable
from helpers.rsa import (MIN_CLUSTERS_JOINT_TEST, rsa, surface_contrasts, surface_geometry,
                         try_rsa)

B_TRUE = np.array([3.0, 0.25, 0.25, -0.15, 0.30, -0.15])  # b0..b5
A_TRUE = {"a1": 0.5, "a2": 0.0, "a3": 0.0, "a4": -0.6, "a5": 0.0}
C_A4 = np.array([0, 0, 0, 1, -1, 1])  # a4 = b3 - b4 + b5 over (b0..b5)


def simulate(n: int, b: np.ndarray = B_TRUE, seed: int = 42, noise: float = 1.0,
             mean: float = 0.0) -> pd.DataFrame:
    """Correlated X, Y (r = .4) and Z from the second-order polynomial with coefficients b."""
    rng = np.random.default_rng(seed)
    x, y = rng.multivariate_normal([mean, mean], [[1, 0.4], [0.4, 1]], size=n).T
    terms = np.column_stack([np.ones(n), x, y, x**2, x * y, y**2])
    z = terms @ b + rng.normal(0, noise, n)
    return pd.DataFrame({"x": x, "y": y, "z": z, "firm": np.arange(n) // 2})


def ols_covariance(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and s^2 (X'X)^-1 computed with plain numpy (independent of statsmodels)."""
    x, y = data["x"].to_numpy(), data["y"].to_numpy()
    design = np.column_stack([np.ones(len(x)), x, y, x**2, x * y, y**2])
    beta, *_ = np.linalg.lstsq(design, data["z"].to_numpy(), rcond=None)
    resid = data["z"].to_numpy() - design @ beta
    s2 = resid @ resid / (len(x) - 6)
    return beta, s2 * np.linalg.inv(design.T @ design)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return simulate(5000)


@pytest.fixture(scope="module")
def fit_big(big):
    return rsa(big, "z", "x", "y")


# --------------------------------------------------------------------------- recovery
def test_recovers_surface_parameters(fit_big) -> None:
    surface = fit_big.surface
    assert list(surface.index) == ["a1", "a2", "a3", "a4", "a5"]
    for term, truth in A_TRUE.items():
        row = surface.loc[term]
        assert abs(row["estimate"] - truth) < 3 * row["std_error"], term
    coefs = fit_big.coefs
    assert list(coefs.index) == ["b0", "b1", "b2", "b3", "b4", "b5"]
    assert (np.abs(coefs["estimate"] - B_TRUE) < 3 * coefs["std_error"]).all()
    assert fit_big.n == 5000


def test_confidence_intervals_cover_at_nominal_rate() -> None:
    """95% CIs of a1..a5 cover the truth in about 95% of 300 samples of n = 250."""
    hits = pd.Series(0, index=list(A_TRUE))
    for seed in range(300):
        surface = rsa(simulate(250, seed=seed), "z", "x", "y").surface
        truth = pd.Series(A_TRUE)
        hits += (surface["ci_low"] <= truth) & (truth <= surface["ci_high"])
    rate = hits / 300
    assert ((rate > 0.91) & (rate < 0.99)).all(), rate.to_dict()


def test_a4_standard_error_is_the_corrected_one(big, fit_big) -> None:
    """SE(a4) = sqrt(c'Vc), c = (0,0,0,1,-1,1): covariance terms enter with signs from c.

    The Shanock et al. (2010) worksheet's error (fixed in the 2014 erratum) amounts to adding
    all covariances, i.e. the variance of b3 + b4 + b5; that is a different number.
    """
    beta, cov = ols_covariance(big)
    np.testing.assert_allclose(fit_big.coefs["estimate"], beta, rtol=1e-10)
    correct = np.sqrt(C_A4 @ cov @ C_A4)
    assert fit_big.surface.loc["a4", "std_error"] == pytest.approx(correct, rel=1e-9)
    v = cov[3:, 3:]
    by_hand = np.sqrt(v[0, 0] + v[1, 1] + v[2, 2] - 2 * v[0, 1] + 2 * v[0, 2] - 2 * v[1, 2])
    assert by_hand == pytest.approx(correct, rel=1e-12)
    wrong = np.sqrt(v[0, 0] + v[1, 1] + v[2, 2] + 2 * v[0, 1] + 2 * v[0, 2] + 2 * v[1, 2])
    assert abs(fit_big.surface.loc["a4", "std_error"] - wrong) > 0.1 * correct


def test_every_surface_test_is_a_linear_combination(big, fit_big) -> None:
    beta, cov = ols_covariance(big)
    contrasts = surface_contrasts(["b0", "b1", "b2", "b3", "b4", "b5"])
    estimates = contrasts @ beta
    errors = np.sqrt(np.einsum("ij,jk,ik->i", contrasts, cov, contrasts))
    np.testing.assert_allclose(fit_big.surface["estimate"], estimates, rtol=1e-9)
    np.testing.assert_allclose(fit_big.surface["std_error"], errors, rtol=1e-9)
    t = fit_big.surface["statistic"]
    np.testing.assert_allclose(t, estimates / errors, rtol=1e-9)
    from scipy import stats
    np.testing.assert_allclose(fit_big.surface["p_value"], 2 * stats.t.sf(np.abs(t), 5000 - 6))


def test_joint_f_test_of_polynomial_terms(fit_big) -> None:
    f = fit_big.f_test
    assert (f["df_num"], f["df_denom"]) == (5, 4994)
    assert f["statistic"] == pytest.approx(fit_big.model.fvalue)  # no controls: overall F
    assert fit_big.r2 == pytest.approx(fit_big.model.rsquared)


# --------------------------------------------------------------------------- geometry
def test_stationary_point_and_axes_of_a_constructed_surface() -> None:
    """Z = -0.5((X-1) + (Y-2))^2 - 2((X-1) - (Y-2))^2: peak at (1, 2), axes of slope +1 and -1.

    Expanded: b1 = -1, b2 = 7, b3 = -2.5, b4 = 3, b5 = -2.5.
    """
    (x0, y0), axes, notes = surface_geometry(-1, 7, -2.5, 3, -2.5)
    assert (x0, y0) == pytest.approx((1, 2))
    assert axes == pytest.approx({"p10": 1, "p11": 1, "p20": 3, "p21": -1})
    assert notes == ()
    data = simulate(3000, b=np.array([0, -1, 7, -2.5, 3, -2.5]), noise=0.05, mean=1.5)
    fitted = rsa(data, "z", "x", "y")
    assert fitted.stationary_point == pytest.approx((1, 2), abs=0.01)
    assert fitted.principal_axes["p11"] == pytest.approx(1, abs=0.01)


def test_stationary_point_of_a_circular_surface() -> None:
    """Z = -(X-1)^2 - (Y-2)^2: b1 = 2, b2 = 4, b3 = b5 = -1, b4 = 0; any axes through (1, 2)."""
    (x0, y0), axes, notes = surface_geometry(2, 4, -1, 0, -1)
    assert (x0, y0) == pytest.approx((1, 2))
    assert np.isnan(axes["p11"]) and "b4 = 0" in notes[0]
    data = simulate(2000, b=np.array([0, 2, 4, -1, 0, -1]), noise=0.05, mean=1.5)
    assert rsa(data, "z", "x", "y").stationary_point == pytest.approx((1, 2), abs=0.01)


def test_no_unique_stationary_point_for_a_ridge() -> None:
    (x0, y0), axes, notes = surface_geometry(0.2, 0.2, -1, 2, -1)  # -(X - Y)^2 + rising ridge
    assert np.isnan(x0) and np.isnan(y0) and "no unique stationary point" in notes[0]
    assert axes["p11"] == pytest.approx(1.0) and np.isnan(axes["p10"])


# --------------------------------------------------------------------------- centring
def test_pooled_centring_subtracts_one_constant() -> None:
    data = simulate(800, mean=3.0)
    data["y"] += 0.5
    pooled = rsa(data, "z", "x", "y", center="pooled")
    grand = np.concatenate([data["x"], data["y"]]).mean()
    assert pooled.center_values == pytest.approx((grand, grand))
    separate = rsa(data, "z", "x", "y", center="separate")
    assert separate.center_values == pytest.approx((data["x"].mean(), data["y"].mean()))
    assert any("shifted" in note for note in separate.notes)
    raw = rsa(data, "z", "x", "y")
    for fit in (pooled, separate):  # second-order terms never depend on centring
        np.testing.assert_allclose(fit.coefs.loc[["b3", "b4", "b5"]], raw.coefs.loc[["b3", "b4",
                                   "b5"]], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(pooled.predict_grid(5)["z"], raw.predict_grid(5)["z"])


def test_common_shift_leaves_curvatures_unchanged() -> None:
    """Adding one constant to X and Y: b3..b5 and a2, a4, a5 are invariant, a1 and a3 are not."""
    data = simulate(1500, seed=9)
    shifted = data.assign(x=data["x"] + 5, y=data["y"] + 5)
    before, after = rsa(data, "z", "x", "y"), rsa(shifted, "z", "x", "y")
    invariant = ["a2", "a4", "a5"]
    np.testing.assert_allclose(after.surface.loc[invariant], before.surface.loc[invariant],
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(after.coefs.loc[["b3", "b4", "b5"], "estimate"],
                               before.coefs.loc[["b3", "b4", "b5"], "estimate"], rtol=1e-7)
    assert abs(after.surface.loc["a1", "estimate"] - before.surface.loc["a1", "estimate"]) > 0.1
    pooled_before = rsa(data, "z", "x", "y", center="pooled").surface
    pooled_after = rsa(shifted, "z", "x", "y", center="pooled").surface
    np.testing.assert_allclose(pooled_after, pooled_before, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- options
def test_robust_and_cluster_covariances(big, fit_big) -> None:
    hc3 = rsa(big, "z", "x", "y", cov_type="HC3")
    assert hc3.model.cov_type == "HC3"
    np.testing.assert_allclose(hc3.surface["estimate"], fit_big.surface["estimate"])
    assert not np.allclose(hc3.surface["std_error"], fit_big.surface["std_error"])
    contrast = np.array([0, 0, 0, 1, -1, 1])
    robust_var = contrast @ hc3.model.cov_params().to_numpy() @ contrast
    assert hc3.surface.loc["a4", "std_error"] == pytest.approx(np.sqrt(robust_var))
    by_name = rsa(big, "z", "x", "y", cov_type="cluster", cov_kwds={"groups": "firm"})
    by_array = rsa(big, "z", "x", "y", cov_type="cluster",
                   cov_kwds={"groups": big["firm"].to_numpy()})
    assert by_name.model.cov_type == "cluster"
    assert by_name.f_test["df_denom"] == big["firm"].nunique() - 1  # t tests with G - 1 df
    np.testing.assert_allclose(by_name.surface, by_array.surface)
    with pytest.raises(ValueError, match="groups"):
        rsa(big, "z", "x", "y", cov_type="cluster")


def test_complete_cases_and_controls() -> None:
    data = simulate(600, seed=3)
    rng = np.random.default_rng(0)
    data["size"] = rng.normal(size=600)
    data["z"] += 0.5 * data["size"]
    data["sector"] = np.where(np.arange(600) % 3 == 0, "retail", "banking")
    data.loc[[1, 2, 3], "x"] = np.nan
    data.loc[4, "size"] = np.nan
    fitted = rsa(data, "z", "x", "y", controls=["size", "sector"])
    assert fitted.n == 596
    assert list(fitted.coefs.index) == ["b0", "b1", "b2", "b3", "b4", "b5", "size",
                                        "sector_retail"]
    assert fitted.coefs.loc["size", "estimate"] == pytest.approx(0.5, abs=0.15)
    grid = fitted.predict_grid(4)
    params = fitted.model.params
    row = grid.iloc[5]
    expected = (params["b0"] + params["b1"] * row.x + params["b2"] * row.y
                + params["b3"] * row.x**2 + params["b4"] * row.x * row.y
                + params["b5"] * row.y**2 + params["size"] * fitted.control_means["size"]
                + params["sector_retail"] * fitted.control_means["sector_retail"])
    assert row.z == pytest.approx(expected)


def test_predict_grid_shape_and_range(fit_big, big) -> None:
    grid = fit_big.predict_grid(n=30)
    assert list(grid.columns) == ["x", "y", "z"] and len(grid) == 900
    assert grid["x"].min() == pytest.approx(big["x"].min())
    assert grid["y"].max() == pytest.approx(big["y"].max())
    custom = fit_big.predict_grid(n=3, x_range=(1, 5), y_range=(1, 5))
    assert sorted(custom["x"].unique()) == [1, 3, 5]


def test_tidy_and_glance(fit_big) -> None:
    table = fit_big.tidy()
    assert list(table.columns) == ["term", "estimate", "std_error", "statistic", "p_value",
                                   "ci_low", "ci_high"]
    assert table["term"].tolist() == ["b0", "b1", "b2", "b3", "b4", "b5",
                                      "a1", "a2", "a3", "a4", "a5"]
    glance = fit_big.glance()
    assert len(glance) == 1 and glance.loc[0, "n"] == 5000
    assert {"r2", "f_statistic", "x0", "y0", "p10", "p11"} <= set(glance.columns)


# --------------------------------------------------------------------------- text
def test_reading_of_an_agreement_effect(fit_big) -> None:
    text = fit_big.reading(x_label="the CMO's rating", y_label="the CIO's rating",
                           outcome_label="project success")
    assert "Along the line of agreement (X = Y) the project success rises" in text
    assert "(a1 = 0.51, p < .001)" in text
    assert "curved downward (a4 = \u22120.56, p < .001)" in text
    assert "highest when the CMO's rating and the CIO's rating agree" in text
    assert "direction of the discrepancy makes no significant difference" in text


def test_reading_of_a_disagreement_effect() -> None:
    b = np.array([1.0, 0.4, -0.4, 0.2, -0.4, 0.2])  # (X - Y)^2 and X - Y: a3 > 0, a4 > 0
    text = rsa(simulate(2000, b=b, seed=4), "z", "x", "y").reading()
    assert "curved upward" in text and "lowest when x and y agree" in text
    assert "higher when x exceeds y" in text


def test_summary_mentions_everything(fit_big) -> None:
    text = fit_big.summary()
    for part in ("n = 5000", "Coefficients", "Surface tests", "a4", "Stationary point",
                 "First principal axis"):
        assert part in text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"x": "nope"}, "nope"),
    ({"center": "grand"}, "center must be"),
    ({"alpha": 1.5}, "alpha must be"),
    ({"y": "x"}, "three different columns"),
])
def test_bad_arguments(big, kwargs: dict, message: str) -> None:
    args = {"data": big, "outcome": "z", "x": "x", "y": "y", **kwargs}
    with pytest.raises(ValueError, match=message):
        rsa(**args)


def test_too_few_cases() -> None:
    with pytest.raises(ValueError, match="too few complete cases"):
        rsa(simulate(6), "z", "x", "y")


# --------------------------------------------------------------------------- minimums (issue 10)
@pytest.mark.parametrize(("change", "kwargs", "reason"), [
    ({}, {"n": 6}, "too few complete cases (6) for 6 coefficients: the surface needs at least 7"),
    ({"z": 2.0}, {}, "the outcome z has one value in all 40 complete cases"),
    ({"x": 1.0}, {}, "x has one value in all 40 complete cases"),
    ({"y": lambda d: d["x"]}, {}, "x equals y in all 40 complete cases: with perfect agreement"),
    ({"firm": 0}, {"cluster": True}, "come from 1 cluster; cluster-robust standard errors need"),
    ({"c": lambda d: 2 * d["x"]}, {"controls": ["c"]}, "c is aliased among the 40 complete cases"),
    ({"z": np.nan}, {}, "no complete cases"),
])
def test_minimums_are_checked_before_fitting(change: dict, kwargs: dict, reason: str) -> None:
    data = simulate(kwargs.pop("n", 40), seed=5)
    for column, value in change.items():
        data[column] = value(data) if callable(value) else value
    if kwargs.pop("cluster", False):
        kwargs.update(cov_type="cluster", cov_kwds={"groups": "firm"})
    with pytest.raises(NotEstimable) as info:
        rsa(data, "z", "x", "y", **kwargs)
    assert reason in str(info.value)
    assert try_rsa(data, "z", "x", "y", **kwargs) == str(info.value)


def test_joint_test_is_not_reported_on_fewer_clusters_than_restrictions_need() -> None:
    """Five clusters gave F(5, 4) = 6.9e11: the cluster covariance has rank G - 1 < 5."""
    data = simulate(40, seed=5).assign(firm=lambda d: np.arange(40) % 5)
    fitted = rsa(data, "z", "x", "y", cov_type="cluster", cov_kwds={"groups": "firm"})
    assert np.isnan(fitted.f_test["statistic"]) and np.isnan(fitted.f_test["p_value"])
    assert fitted.f_test["note"] == ("a cluster-robust joint test of the 5 polynomial terms "
                                     "needs at least 6 clusters; these data have 5")
    assert fitted.joint_test_text().startswith("not reported: a cluster-robust joint test")
    assert "Polynomial terms jointly: not reported" in fitted.summary()
    assert fitted.surface["std_error"].notna().all()  # single contrasts stay estimable
    six = rsa(data.assign(firm=np.arange(40) % 6), "z", "x", "y", cov_type="cluster",
              cov_kwds={"groups": "firm"})
    assert np.isfinite(six.f_test["statistic"]) and six.f_test["note"] == ""
    assert six.joint_test_text().startswith("F(5, 5) = ")
    assert MIN_CLUSTERS_JOINT_TEST == 6
