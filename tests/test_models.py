"""Tests for helpers.models: known answers from Stata and R, hand-computed sandwiches, recovery.

Known answers and where they come from
--------------------------------------
* OLS ``reg price mpg length, cluster(gear_ratio)`` (and ``, robust`` / ``vce(hc3)``) on Stata's
  1978 auto data: Stata's full-precision e(b), e(V) and r(table) as stored in the econtools
  test suite (dmsul/econtools, ``econtools/metrics/tests/data/src_ols.py``, written by
  ``stata_results.do``).  The auto columns are typed in below from a SAS listing of the data.
* OLS/WLS ``reg mpg hp`` with ``vce(robust)``/``vce(cluster cyl)`` and ``[aweight=drat/5]`` on
  R's mtcars: Stata's e(V) diagonals as printed by DeclareDesign/estimatr
  (``tests/testthat/stata-ests.txt``, written by ``run-stata-models.do``).
* Poisson ``poisson accident yr_con op_75_79, vce(cluster ship)`` on the ships data: Stata's
  results as stored in statsmodels' own tests (``discrete/tests/results/
  results_count_robust_cluster.py``; data ``ships.csv``, typed in below).
* Logit/probit on the Spector & Mazzeo data (shipped with statsmodels, offline): Greene's / Stata's
  coefficients, SEs and ``margins`` AMEs as stored in statsmodels' ``results_discrete.py``.
* Ordered logit/probit: ``MASS::polr(Sat ~ Infl + Type + Cont, weights = Freq, data = housing)``
  (MASS documentation example); coefficients and SEs at full precision as quoted in R package
  tests (easystats/insight, arm), probit coefficients and deviance from the Julia
  OrdinalMultinomialModels/PolrModels tests of the same example.  The 72 Freq counts of the MASS
  ``housing`` data are typed in (Rdatasets export, two independent copies agree; they sum to 1681).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from helpers import models
from helpers.errors import DataError
from helpers.models import (
    GLANCE_COLUMNS,
    TIDY_COLUMNS,
    add_adjusted,
    adjust_pvalues,
    compare,
    fit,
    marginal_effects,
    reading,
    standardized,
    vif,
)

# ─── typed-in data ──────────────────────────────────────────────────────────────────────────────

# Stata auto.dta (74 cars): price mpg rep78 weight length gear_ratio; "." = missing rep78.
AUTO = """
      4099 22 3 2930 186 3.58     4749 17 3 3350 173 2.53     3799 22 . 2640 168 3.08
      9690 17 5 2830 189 3.20     6295 23 3 2070 174 3.70     9735 25 4 2650 177 3.64
      4816 20 3 3250 196 2.93     7827 15 4 4080 222 2.41     5788 18 3 3670 218 2.73
      4453 26 . 2230 170 2.87     5189 20 3 3280 200 2.93    10372 16 3 3880 207 2.93
      4082 19 3 3400 200 3.08    11385 14 3 4330 221 2.28    14500 14 2 3900 204 2.19
     15906 21 3 4290 204 2.24     3299 29 3 2110 163 2.93     5705 16 4 3690 212 2.56
      4504 22 3 3180 193 2.73     5104 22 2 3220 200 2.73     3667 24 2 2750 179 2.73
      3955 19 3 3430 197 2.56     6229 23 4 2370 170 3.89     4589 35 5 2020 165 3.70
      5079 24 4 2280 170 3.54     8129 21 4 2750 184 3.55     3984 30 5 2120 163 3.54
      4010 18 2 3600 206 2.47     5886 16 2 3600 206 2.47     6342 17 2 3740 220 2.94
      4296 21 3 2130 161 3.37     4389 28 4 1800 147 3.15     4187 21 3 2650 179 3.08
      5799 25 5 2240 172 3.05     4499 28 4 1760 149 3.30    11497 12 3 4840 233 2.47
     13594 12 3 4720 230 2.47    13466 14 3 3830 201 2.47     3995 30 4 1980 154 3.73
      3829 22 4 2580 169 2.73     5379 14 4 4060 221 2.75     6165 15 3 3720 212 2.26
      4516 18 3 3370 198 2.43     6303 14 4 4130 217 2.75     3291 20 3 2830 195 3.08
      8814 21 4 4060 220 2.41     5172 19 3 3310 198 2.93     4733 19 3 3300 198 2.93
      4890 18 4 3690 218 2.73     4181 19 3 3370 200 3.08     4195 24 1 2730 180 2.73
     10371 16 3 4030 206 2.41    12990 14 . 3420 192 3.58     4647 28 3 3260 170 3.05
      4425 34 5 1800 157 2.97     4482 25 3 2200 165 3.37     6486 26 . 2520 182 3.54
      4060 18 2 3330 201 3.23     5798 18 4 3700 214 2.73     4934 18 1 3470 198 3.08
      5222 19 3 3210 201 2.93     4723 19 3 3200 199 2.93     4424 19 . 3420 203 3.08
      4172 24 2 2690 179 2.73     3895 26 3 1830 142 3.72     3798 35 5 2050 164 3.81
      5899 18 5 2410 174 3.06     3748 31 5 2200 165 3.21     5719 18 5 2670 175 3.05
     11995 17 5 3170 193 2.98     7140 23 4 2160 172 3.74     5397 41 5 2040 155 3.78
      4697 25 4 1930 155 3.78     6850 25 4 1990 156 3.78
"""


def _auto() -> pd.DataFrame:
    values = pd.to_numeric(pd.Series(AUTO.split()).replace(".", np.nan))
    columns = ["price", "mpg", "rep78", "weight", "length", "gear_ratio"]
    return pd.DataFrame(values.to_numpy().reshape(-1, 6), columns=columns)


# statsmodels' ships.csv: ship yr_con op_75_79 accident ("." = missing service/accident).
SHIPS = """
1 1 0 0   1 1 1 0   1 2 0 3    1 2 1 4    1 3 0 6    1 3 1 18   1 4 0 .    1 4 1 11
2 1 0 39  2 1 1 29  2 2 0 58   2 2 1 53   2 3 0 12   2 3 1 44   2 4 0 .    2 4 1 18
3 1 0 1   3 1 1 1   3 2 0 0    3 2 1 1    3 3 0 6    3 3 1 2    3 4 0 .    3 4 1 1
4 1 0 0   4 1 1 0   4 2 0 0    4 2 1 0    4 3 0 2    4 3 1 11   4 4 0 .    4 4 1 4
5 1 0 0   5 1 1 .   5 2 0 7    5 2 1 7    5 3 0 5    5 3 1 12   5 4 0 .    5 4 1 1
"""


# R's mtcars (32 cars): mpg cyl hp drat.
MTCARS = """
    21 6 110 3.9 21 6 110 3.9 22.8 4 93 3.85 21.4 6 110 3.08
    18.7 8 175 3.15 18.1 6 105 2.76 14.3 8 245 3.21 24.4 4 62 3.69
    22.8 4 95 3.92 19.2 6 123 3.92 17.8 6 123 3.92 16.4 8 180 3.07
    17.3 8 180 3.07 15.2 8 180 3.07 10.4 8 205 2.93 10.4 8 215 3
    14.7 8 230 3.23 32.4 4 66 4.08 30.4 4 52 4.93 33.9 4 65 4.22
    21.5 4 97 3.7 15.5 8 150 2.76 15.2 8 150 3.15 13.3 8 245 3.73
    19.2 8 175 3.08 27.3 4 66 4.08 26 4 91 4.43 30.4 4 113 3.77
    15.8 8 264 4.22 19.7 6 175 3.62 15 8 335 3.54 21.4 4 109 4.11
"""


def _mtcars() -> pd.DataFrame:
    """mtcars as Stata held it: ``import delimited`` stores mpg and drat, and ``gen w`` stores
    w = drat/5, as 4-byte floats (22.8 -> 22.799999), which moves e(V) in its 7th digit."""
    values = np.array(MTCARS.split(), dtype=float).reshape(-1, 4)
    frame = pd.DataFrame(values, columns=["mpg", "cyl", "hp", "drat"])
    frame["w"] = frame["drat"].astype(np.float32) / np.float32(5)
    return frame.astype({"mpg": np.float32, "drat": np.float32, "w": np.float32}).astype(float)


def _assert_printed(actual: Sequence[float], printed: Sequence[str]) -> None:
    """``actual`` agrees with the values printed as ``printed`` to their last printed digit."""
    for value, text in zip(actual, printed, strict=True):
        mantissa = text.lower().split("e")[0]
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
        half_unit = 0.5 * 10.0 ** (exponent - decimals)
        assert abs(value - float(text)) <= half_unit * (1 + 1e-9), (value, text)


def _ships() -> pd.DataFrame:
    values = pd.to_numeric(pd.Series(SHIPS.split()).replace(".", np.nan))
    return pd.DataFrame(values.to_numpy().reshape(-1, 4),
                        columns=["ship", "yr_con", "op_75_79", "accident"])


# MASS::housing Freq, in the data set's row order: Sat fastest, then Infl, Type, Cont.
HOUSING_FREQ = [
    21, 21, 28, 34, 22, 36, 10, 11, 36, 61, 23, 17, 43, 35, 40, 26, 18, 54,
    13, 9, 10, 8, 8, 12, 6, 7, 9, 18, 6, 7, 15, 13, 13, 7, 5, 11,
    14, 19, 37, 17, 23, 40, 3, 5, 23, 78, 46, 43, 48, 45, 86, 15, 25, 62,
    20, 23, 20, 10, 22, 24, 7, 10, 21, 57, 23, 13, 31, 21, 13, 5, 6, 13,
]
LMH = ["Low", "Medium", "High"]
TYPES = ["Tower", "Apartment", "Atrium", "Terrace"]


def _housing_expanded() -> pd.DataFrame:
    """The 72-row table expanded to one row per householder (frequency weights)."""
    cells = [(s, i, t, c) for c in ["Low", "High"] for t in TYPES for i in LMH for s in LMH]
    table = pd.DataFrame(cells, columns=["Sat", "Infl", "Type", "Cont"]).assign(Freq=HOUSING_FREQ)
    table = table.astype({
        "Sat": pd.CategoricalDtype(LMH, ordered=True), "Infl": pd.CategoricalDtype(LMH),
        "Type": pd.CategoricalDtype(TYPES), "Cont": pd.CategoricalDtype(["Low", "High"]),
    })
    return table.loc[table.index.repeat(table["Freq"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def housing() -> pd.DataFrame:
    return _housing_expanded()


@pytest.fixture(scope="module")
def spector() -> pd.DataFrame:
    return sm.datasets.spector.load_pandas().data


def _survey(n_firms: int = 60, seed: int = 0) -> pd.DataFrame:
    """Two respondents per firm with a firm effect, a factor and some missing values."""
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), 2)
    industry = np.array(["Manufacturing", "Retail", "Services"])[rng.integers(0, 3, n_firms)][firm]
    x1, x2 = rng.normal(size=(2, 2 * n_firms))
    y = 1 + 0.5 * x1 - 0.3 * x2 + 0.4 * (industry == "Retail") + rng.normal(size=n_firms)[firm]
    y = y + rng.normal(size=2 * n_firms)
    frame = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "industry": industry, "firm_id": firm})
    frame.loc[[3, 10], "x1"] = np.nan
    frame.loc[7, "y"] = np.nan
    return frame


# ─── cluster-robust OLS: Stata known answers and a hand-computed sandwich ───────────────────────


def test_ols_cluster_reproduces_stata_regress_vce_cluster():
    """reg price mpg length, cluster(gear_ratio): 74 obs, 36 clusters, t(35) inference."""
    result = fit("price ~ mpg + length", _auto(), cluster="gear_ratio")
    table = result.tidy().set_index("term").loc[["mpg", "length", "Intercept"]]
    stata = np.array([
        [-173.7021808338409, 93.45787726027342, -1.858614660699952, .0715077012033695,
         -363.4317584173695, 16.02739674968774],
        [21.2860458491607, 19.73552996926437, 1.078564694351308, .2881592082933156,
         -18.77921000966515, 61.35130170798657],
        [5864.305369862909, 5224.131729286396, 1.122541634428495, .2692740174602261,
         -4741.245871985581, 16469.8566117114],
    ])
    columns = ["estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]
    np.testing.assert_allclose(table[columns].to_numpy(), stata, rtol=1e-9)
    stata_vce = np.array([
        [8734.374821996333, 1348.973303185951, -439213.4813662018],
        [1348.973303185951, 389.4911431677319, -98196.75311345223],
        [-439213.4813662018, -98196.75311345223, 27291552.32493687],
    ])
    order = ["mpg", "length", "Intercept"]
    np.testing.assert_allclose(result.raw.cov_params().loc[order, order], stata_vce, rtol=1e-9)
    glance = result.glance().iloc[0]
    assert (glance["n"], glance["n_clusters"], glance["cov_type"]) == (74, 36, "cluster")
    assert glance["r2"] == pytest.approx(.2290527372803057, rel=1e-12)


@pytest.mark.parametrize(("cov_type", "stata_se"), [
    ("HC1", [93.80219372722709, 21.20589282528531, 5717.802704310564]),   # , robust
    ("HC3", [103.361133224103, 22.45860917052743, 6140.199945409585]),    # , vce(hc3)
])
def test_ols_robust_reproduces_stata(cov_type, stata_se):
    table = fit("price ~ mpg + length", _auto(), cov_type=cov_type).tidy().set_index("term")
    np.testing.assert_allclose(table.loc[["mpg", "length", "Intercept"], "std_error"], stata_se,
                               rtol=1e-9)


def test_ols_cluster_equals_hand_computed_stata_sandwich():
    """V = (X'X)^-1 (sum_g X_g'u_g u_g'X_g) (X'X)^-1 * G/(G-1) * (N-1)/(N-K); p from t(G-1).

    Clustering on rep78 also drops its 5 missing values (N = 69, G = 5), as Stata does.
    """
    auto = _auto()
    result = fit("price ~ mpg + weight", auto, cluster="rep78")
    used = auto.dropna(subset=["rep78"])
    design = np.column_stack([np.ones(len(used)), used["mpg"], used["weight"]])
    y = used["price"].to_numpy()
    bread = np.linalg.inv(design.T @ design)
    beta = bread @ design.T @ y
    u = y - design @ beta
    scores = pd.DataFrame(design * u[:, None]).groupby(used["rep78"].to_numpy()).sum().to_numpy()
    n, k, g = design.shape[0], design.shape[1], scores.shape[0]
    cov = bread @ (scores.T @ scores) @ bread * g / (g - 1) * (n - 1) / (n - k)
    np.testing.assert_allclose(result.raw.params, beta, rtol=1e-10)
    np.testing.assert_allclose(result.raw.cov_params(), cov, rtol=1e-10)
    table = result.tidy(conf_level=0.90)
    t_values = beta / np.sqrt(np.diag(cov))
    np.testing.assert_allclose(table["p_value"], 2 * stats.t.sf(np.abs(t_values), g - 1),
                               rtol=1e-10)
    crit = stats.t.ppf(0.95, g - 1)
    np.testing.assert_allclose(table["ci_high"], beta + crit * np.sqrt(np.diag(cov)), rtol=1e-10)
    assert (result.n, result.n_dropped, result.n_clusters) == (69, 5, 5)


@pytest.mark.parametrize(("kind", "options", "stata_var_hp", "stata_var_cons"), [
    ("ols", {}, ".0001024", "2.669698"),
    ("ols", {"cov_type": "HC1"}, ".00018388", "4.3123302"),
    ("ols", {"cluster": "cyl"}, ".00034882", "14.922475"),
    ("wls", {"weights": "w"}, ".00009984", "2.4918295"),
    ("wls", {"weights": "w", "cov_type": "HC1"}, ".00017632", "4.0902569"),
    ("wls", {"weights": "w", "cluster": "cyl"}, ".00031337", "13.155473"),
])
def test_ols_and_wls_variances_reproduce_stata_on_mtcars(kind, options, stata_var_hp,
                                                          stata_var_cons):
    """reg mpg hp [aweight=w], vce(...): e(V) as printed by estimatr's Stata run."""
    result = fit("mpg ~ hp", _mtcars(), kind=kind, **options)
    cov = result.raw.cov_params()
    _assert_printed([cov.loc["hp", "hp"], cov.loc["Intercept", "Intercept"]],
                    [stata_var_hp, stata_var_cons])
    df_inference = getattr(result.raw, "df_resid_inference", result.raw.df_resid)
    assert df_inference == (2 if "cluster" in options else 30)   # 3 cylinder groups: t(2)


# ─── cluster-robust ML models: Stata uses G/(G-1) only ──────────────────────────────────────────


def test_poisson_cluster_reproduces_stata():
    """poisson accident yr_con op_75_79, vce(cluster ship): N = 34 of 40 rows, 5 clusters."""
    result = fit("accident ~ yr_con + op_75_79", _ships(), kind="poisson", cluster="ship")
    table = result.tidy().set_index("term").loc[["yr_con", "op_75_79", "Intercept"]]
    stata = np.array([
        [-.02172061893549, .19933709357097, -.10896426022065, .91323083771076,
         -.41241414311748, .36897290524649],
        [.22148585072024, .11093628220713, 1.9965140918162, .04587799343723,
         .00405473301549, .43891696842499],
        [2.2697077143215, 1.1048569901548, 2.054299999499, .03994666479943,
         .10422780555076, 4.4351876230922],
    ])
    columns = ["estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]
    np.testing.assert_allclose(table[columns].to_numpy(), stata, rtol=1e-6)
    glance = result.glance().iloc[0]
    assert (glance["n"], glance["n_dropped"], glance["n_clusters"]) == (34, 6, 5)
    assert glance["loglik"] == pytest.approx(-354.2436413025559, rel=1e-10)
    assert glance["pseudo_r2"] == pytest.approx(.0055004288638308, rel=1e-8)


def test_logit_cluster_equals_hand_computed_sandwich_with_ml_correction(spector):
    """logit: V = H^-1 (sum_g s_g s_g') H^-1 * G/(G-1), no (N-1)/(N-K) factor; normal p-values."""
    data = spector.assign(school=np.arange(len(spector)) % 8)
    result = fit("GRADE ~ GPA + TUCE + PSI", data, kind="logit", cluster="school")
    design = np.column_stack([np.ones(len(data)), data[["GPA", "TUCE", "PSI"]]])
    p = 1 / (1 + np.exp(-design @ result.raw.params.to_numpy()))
    hessian_inv = np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))
    scores = pd.DataFrame(design * (data["GRADE"].to_numpy() - p)[:, None])
    sums = scores.groupby(data["school"].to_numpy()).sum().to_numpy()
    cov = hessian_inv @ (sums.T @ sums) @ hessian_inv * 8 / 7
    np.testing.assert_allclose(result.raw.cov_params(), cov, rtol=1e-8)
    z = result.raw.params.to_numpy() / np.sqrt(np.diag(cov))
    np.testing.assert_allclose(result.tidy()["p_value"], 2 * stats.norm.sf(np.abs(z)), rtol=1e-8)


def test_ml_hc1_is_stata_vce_robust(spector):
    """For ML models HC1 = HC0 * N/(N-1) (Stata's vce(robust)); statsmodels alone gives HC0."""
    hc0 = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit", cov_type="HC0")
    hc1 = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit", cov_type="HC1")
    np.testing.assert_allclose(hc1.tidy()["std_error"], hc0.tidy()["std_error"] * np.sqrt(32 / 31))
    assert hc1.glance()["cov_type"].item() == "HC1"


# ─── logit / probit: published Spector & Mazzeo results ─────────────────────────────────────────


def test_logit_reproduces_spector_published(spector):
    """Greene: Intercept -13.0213, GPA 2.8261, TUCE 0.0952, PSI 2.3787 (Stata at full precision)."""
    result = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit")
    table = result.tidy().set_index("term").loc[["GPA", "TUCE", "PSI", "Intercept"]]
    np.testing.assert_allclose(table["estimate"],
                               [2.82611297201, .0951576702557, 2.37868772835, -13.0213483201],
                               rtol=1e-6)   # Stata's own convergence is ~1e-7 relative
    np.testing.assert_allclose(table["std_error"],
                               [1.26294114526, .141554207662, 1.06456430165, 4.93132462871],
                               rtol=1e-6)
    assert table.loc["PSI", "estimate"] == pytest.approx(2.3787, abs=5e-5)


def test_probit_reproduces_spector_published(spector):
    result = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="probit")
    table = result.tidy().set_index("term").loc[["GPA", "TUCE", "PSI", "Intercept"]]
    np.testing.assert_allclose(table["estimate"],
                               [1.62581025407, .051728948442, 1.42633236818, -7.45232041607],
                               rtol=1e-6)
    np.testing.assert_allclose(table["std_error"],
                               [.693882522754, .083890261293, .595037920474, 2.54247249731],
                               rtol=1e-6)
    np.testing.assert_allclose(table[["ci_low", "ci_high"]],
                               [[.2658255, 2.985795], [-.1126929, .2161508],
                                [.2600795, 2.592585], [-12.43547, -2.469166]], rtol=1e-6)
    glance = result.glance().iloc[0]
    assert glance["loglik"] == pytest.approx(-12.8188033249334, rel=1e-7)
    assert glance["pseudo_r2"] == pytest.approx(.377478069409622, rel=1e-7)
    assert glance["aic"] == pytest.approx(33.637606649867, rel=1e-7)


def test_logit_average_marginal_effects_match_stata_margins(spector):
    """Stata margins, dydx(*) after logit: GPA .3625808, TUCE .0122084, PSI .3051777."""
    result = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit")
    ame = marginal_effects(result)
    assert list(ame.columns) == TIDY_COLUMNS
    assert list(ame["term"]) == ["GPA", "TUCE", "PSI"]
    np.testing.assert_allclose(ame["estimate"],
                               [.36258084688424, .01220841099085, .30517768382304], rtol=1e-6)
    np.testing.assert_allclose(ame["std_error"], [.1094412, .0177942, .0923796], rtol=1e-5)


# ─── ordered models: MASS::polr housing example ─────────────────────────────────────────────────


def test_ordered_logit_reproduces_polr_housing(housing):
    result = fit("Sat ~ Infl + Type + Cont", housing, kind="ordered_logit")
    table = result.tidy()
    assert list(table["term"]) == [
        "Infl[T.Medium]", "Infl[T.High]", "Type[T.Apartment]", "Type[T.Atrium]",
        "Type[T.Terrace]", "Cont[T.High]", "Low|Medium", "Medium|High",
    ]
    assert list(table["coef_type"]) == ["coefficient"] * 6 + ["threshold"] * 2
    polr = [0.566393738890106, 1.28881906381232, -0.572350146429611, -0.366186566153346,
            -1.09101490767244, 0.360284149947385, -0.4961353438375, 0.690708290379271]
    # Both optimisers stop where the log-likelihood is flat to ~1e-12: agreement to 6 decimals.
    np.testing.assert_allclose(table["estimate"], polr, atol=5e-7)
    polr_se = [0.104652784933519, 0.127156148851928, 0.119238013698556, 0.155173338051194,
               0.151486024299045, 0.0955357985611663, 0.124847246308485, 0.125471940342996]
    np.testing.assert_allclose(table["std_error"], polr_se, rtol=1e-4)
    glance = result.glance().iloc[0]
    assert -2 * glance["loglik"] == pytest.approx(3479.149, abs=5e-4)   # residual deviance
    assert glance["aic"] == pytest.approx(3495.149, abs=5e-4)
    assert glance["pseudo_r2"] == pytest.approx(1 - glance["loglik"] / -1824.43881052, rel=1e-8)
    assert result.n == 1681


def test_ordered_probit_reproduces_polr_housing(housing):
    result = fit("Sat ~ Infl + Type + Cont", housing, kind="ordered_probit")
    printed = [0.34642, 0.78291, -0.34754, -0.21789, -0.66417, 0.22239, -0.29983, 0.42672]
    np.testing.assert_allclose(result.tidy()["estimate"], printed, atol=6e-6)
    assert -2 * result.glance()["loglik"].item() == pytest.approx(3479.689, abs=5e-4)


def test_ordered_thresholds_follow_polr_sign_convention(housing):
    """logit P(Y <= j | x) = zeta_j - x'beta, checked against the fitted probabilities."""
    result = fit("Sat ~ Infl + Type + Cont", housing, kind="ordered_logit")
    table = result.tidy().set_index("term")
    x = result.raw.model.exog[0]
    eta = x @ table["estimate"].iloc[:6].to_numpy()
    zeta = table.loc[["Low|Medium", "Medium|High"], "estimate"].to_numpy()
    cumulative = 1 / (1 + np.exp(-(zeta - eta)))
    predicted = result.raw.predict()[0]
    np.testing.assert_allclose(cumulative, np.cumsum(predicted)[:2], rtol=1e-10)


def test_ordered_threshold_names_from_categories_and_integer_codes():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=400)
    x = latent + rng.logistic(size=400)
    codes = np.digitize(latent + 0.8 * x, [-1.0, 0.5, 2.0]) + 1          # Likert 1..4
    frame = pd.DataFrame({"likert": codes, "x": x})
    names = ["unlikely", "somewhat likely", "likely", "very likely"]
    frame["label"] = pd.Categorical.from_codes(codes - 1, categories=names, ordered=True)
    by_code = fit("likert ~ x", frame, kind="ordered_logit").tidy()
    by_label = fit("label ~ x", frame, kind="ordered_logit").tidy()
    assert list(by_code["term"].iloc[1:]) == ["1|2", "2|3", "3|4"]
    assert list(by_label["term"].iloc[1:]) == [
        "unlikely|somewhat likely", "somewhat likely|likely", "likely|very likely"]
    np.testing.assert_allclose(by_code["estimate"], by_label["estimate"], rtol=1e-6)


def _binary_frame(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(50), 4)
    x = rng.normal(size=200) + rng.normal(size=50)[firm]
    z = rng.binomial(1, 0.4, size=200)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.3 + 0.8 * x - 0.5 * z))))
    return pd.DataFrame({
        "y": y, "x": x, "z": z, "firm_id": firm,
        "y_ord": pd.Categorical.from_codes(y, categories=["no", "yes"], ordered=True),
    })


def test_two_category_ordered_logit_equals_logit_including_clusters():
    """With two categories polr is a logit with beta and intercept = -zeta."""
    frame = _binary_frame()
    logit = fit("y ~ x + z", frame, kind="logit", cluster="firm_id").tidy().set_index("term")
    ordered = fit("y_ord ~ x + z", frame, kind="ordered_logit", cluster="firm_id")
    table = ordered.tidy().set_index("term")
    np.testing.assert_allclose(table.loc[["x", "z"], "estimate"],
                               logit.loc[["x", "z"], "estimate"], rtol=1e-5)
    assert table.loc["no|yes", "estimate"] == pytest.approx(-logit.loc["Intercept", "estimate"],
                                                             rel=1e-5)
    np.testing.assert_allclose(table["std_error"], logit["std_error"].loc[["x", "z", "Intercept"]],
                               rtol=1e-4)
    assert ordered.n_clusters == 50


def test_ordered_marginal_effects_match_logit_margins_and_finite_differences():
    frame = _binary_frame()
    logit = fit("y ~ x + z", frame, kind="logit")
    ordered = fit("y_ord ~ x + z", frame, kind="ordered_logit")
    ame = marginal_effects(ordered)
    assert list(ame.columns) == ["term", "level", *TIDY_COLUMNS[1:]]
    top = ame.loc[ame["level"] == "yes"].set_index("term")
    reference = marginal_effects(logit).set_index("term")
    np.testing.assert_allclose(top["estimate"], reference["estimate"], rtol=1e-5)
    np.testing.assert_allclose(top["std_error"], reference["std_error"], rtol=1e-4)
    # Effects on the category probabilities sum to zero for each term.
    np.testing.assert_allclose(ame.groupby("term")["estimate"].sum(), 0, atol=1e-12)


def test_ordered_marginal_effects_equal_finite_differences_of_predictions(housing):
    result = fit("Sat ~ Infl + Type + Cont", housing, kind="ordered_logit")
    ame = marginal_effects(result)
    params = result.raw.params.to_numpy()
    exog = result.raw.model.exog
    step = 1e-6
    shifted = [exog.copy(), exog.copy()]
    shifted[0][:, 5] += step
    shifted[1][:, 5] -= step
    up, down = (result.raw.model.predict(params, exog=e).mean(axis=0) for e in shifted)
    expected = (up - down) / (2 * step)
    got = ame.loc[ame["term"] == "Cont[T.High]", "estimate"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert list(ame["level"].iloc[:3]) == LMH


# ─── mixed model: parameter recovery ────────────────────────────────────────────────────────────


def test_mixed_recovers_fixed_effect_and_group_variance():
    rng = np.random.default_rng(11)
    n_groups, size = 300, 6
    group = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=n_groups * size)
    y = 2.0 + 0.5 * x + rng.normal(scale=1.0, size=n_groups)[group]
    y = y + rng.normal(scale=np.sqrt(1.5), size=n_groups * size)
    frame = pd.DataFrame({"y": y, "x": x, "firm_id": group})
    result = fit("y ~ x", frame, kind="mixed", cluster="firm_id")
    table = result.tidy().set_index("term")
    assert list(table.index) == ["Intercept", "x"]
    assert table.loc["x", "estimate"] == pytest.approx(0.5, abs=3 * table.loc["x", "std_error"])
    glance = result.glance().iloc[0]
    assert glance["group_var"] == pytest.approx(1.0, abs=0.25)
    assert glance["resid_var"] == pytest.approx(1.5, abs=0.15)
    assert glance["icc"] == pytest.approx(0.4, abs=0.07)
    assert (glance["n_clusters"], glance["cov_type"]) == (n_groups, "model-based")
    slopes = fit("y ~ x", frame, kind="mixed", cluster="firm_id", re_formula="~x")
    assert slopes.raw.cov_re.shape == (2, 2)


# ─── coverage of cluster-robust confidence intervals ────────────────────────────────────────────


def _coverage(n_reps: int, n_firms: int = 100, seed: int = 2024) -> dict[str, float]:
    """Share of 95 % CIs covering the truth; the CMO and CIO of a firm share a firm effect.

    x1 has a firm-level component (as most firm characteristics do), so ignoring the clustering
    understates its SE; the naive (iid) interval comes from the same fit's nonrobust covariance.
    """
    rng = np.random.default_rng(seed)
    truth = pd.Series({"x1": 0.5, "x2": -0.3})
    firm = np.repeat(np.arange(n_firms), 2)
    hits = pd.Series(0, index=["x1", "x2", "x1_naive"])
    for _ in range(n_reps):
        x1 = rng.normal(size=n_firms)[firm] + 0.5 * rng.normal(size=2 * n_firms)
        x2 = rng.normal(size=2 * n_firms)
        y = 1 + truth["x1"] * x1 + truth["x2"] * x2 + rng.normal(size=n_firms)[firm]
        frame = pd.DataFrame({"y": y + rng.normal(size=2 * n_firms), "x1": x1, "x2": x2,
                              "firm_id": firm})
        result = fit("y ~ x1 + x2", frame, cluster="firm_id")
        table = result.tidy().set_index("term").loc[truth.index]
        hits[truth.index] += (table["ci_low"] <= truth) & (truth <= table["ci_high"])
        naive_se = np.sqrt(result.raw.normalized_cov_params.loc["x1", "x1"] * result.raw.scale)
        crit = stats.t.ppf(0.975, result.raw.df_resid)
        hits["x1_naive"] += abs(table.loc["x1", "estimate"] - truth["x1"]) <= crit * naive_se
    return (hits / n_reps).to_dict()


def test_cluster_robust_ci_coverage():
    """500 replications (binomial SE of a coverage ~0.01): 0.92-0.98 is a +-3 SE band."""
    started = time.perf_counter()
    coverage = _coverage(n_reps=500)
    elapsed = time.perf_counter() - started
    print(f"coverage {coverage} in {elapsed:.1f}s")
    assert 0.92 <= coverage["x1"] <= 0.98
    assert 0.92 <= coverage["x2"] <= 0.98
    assert coverage["x1_naive"] < coverage["x1"]   # ignoring the firm effect under-covers


# ─── tidy / glance / summary ────────────────────────────────────────────────────────────────────


def test_tidy_names_terms_as_the_design_matrix_and_reports_missing_data():
    frame = _survey()
    result = fit("y ~ x1 * x2 + C(industry)", frame, cluster="firm_id")
    table = result.tidy()
    assert list(table.columns) == TIDY_COLUMNS
    assert list(table["term"]) == ["Intercept", "C(industry)[T.Retail]",
                                   "C(industry)[T.Services]", "x1", "x2", "x1:x2"]
    assert (result.n, result.n_dropped) == (117, 3)
    assert result.formula == "y ~ x1 * x2 + C(industry)" and result.kind == "ols"
    assert result.n_clusters == frame.loc[frame[["y", "x1"]].notna().all(axis=1),
                                          "firm_id"].nunique()
    wide = result.tidy(conf_level=0.99)
    assert (wide["ci_high"] - wide["ci_low"] > table["ci_high"] - table["ci_low"]).all()


def test_missing_cluster_ids_are_dropped_too():
    frame = _survey()
    frame.loc[[0, 1], "firm_id"] = np.nan
    result = fit("y ~ x1 + x2", frame, cluster="firm_id")
    assert (result.n, result.n_dropped) == (115, 5)


def test_glance_columns_and_values():
    frame = _survey()
    ols = fit("y ~ x1 + x2", frame)
    glance = ols.glance()
    assert list(glance.columns) == GLANCE_COLUMNS and len(glance) == 1
    row = glance.iloc[0]
    assert row["r2"] == pytest.approx(ols.raw.rsquared)
    assert row["adj_r2"] == pytest.approx(ols.raw.rsquared_adj)
    assert pd.isna(row["n_clusters"]) and pd.isna(row["pseudo_r2"])
    assert row["df_resid"] == ols.n - 3
    assert (row["kind"], row["cov_type"]) == ("ols", "nonrobust")


def test_summary_mentions_n_clusters_and_fit():
    text = fit("y ~ x1 + x2", _survey(), cluster="firm_id").summary()
    assert "N = 117 complete cases (3 rows dropped" in text
    assert "clusters in 'firm_id'" in text and "R² =" in text
    assert "OLS Regression Results" in text


def test_exponentiate_gives_odds_ratios(spector):
    result = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit")
    plain, odds = result.tidy(), result.tidy(exponentiate=True)
    np.testing.assert_allclose(odds["estimate"], np.exp(plain["estimate"]))
    np.testing.assert_allclose(odds["ci_low"], np.exp(plain["ci_low"]))
    np.testing.assert_allclose(odds["std_error"], plain["std_error"])


def test_wls_matches_statsmodels_wls():
    frame = _survey().dropna().assign(w=lambda d: 1 + (d["firm_id"] % 3))
    result = fit("y ~ x1 + x2", frame, kind="wls", weights="w")
    direct = sm.WLS(frame["y"], sm.add_constant(frame[["x1", "x2"]]), weights=frame["w"]).fit()
    np.testing.assert_allclose(result.tidy()["estimate"], direct.params, rtol=1e-10)
    np.testing.assert_allclose(result.tidy()["std_error"], direct.bse, rtol=1e-10)


# ─── standardised coefficients ──────────────────────────────────────────────────────────────────


def test_standardized_ols_equals_regression_on_z_scores():
    frame = _survey().dropna()
    zscore = frame[["y", "x1", "x2"]].apply(lambda s: (s - s.mean()) / s.std(ddof=1))
    on_z = fit("y ~ x1 + x2", zscore).tidy().set_index("term")
    beta = standardized(fit("y ~ x1 + x2", frame)).set_index("term")
    assert list(beta.index) == ["x1", "x2"]
    np.testing.assert_allclose(beta["estimate"], on_z.loc[["x1", "x2"], "estimate"], rtol=1e-10)
    np.testing.assert_allclose(beta["p_value"], on_z.loc[["x1", "x2"], "p_value"], rtol=1e-8)


def test_standardized_logit_scales_by_sd_x_only(spector):
    result = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit")
    beta = result.tidy(standardize=True).set_index("term")
    plain = result.tidy().set_index("term")
    for term in ["GPA", "TUCE", "PSI"]:   # PSI is a 0/1 dummy: scaled by the sd of its column
        expected = plain.loc[term, "estimate"] * spector[term].std(ddof=1)
        assert beta.loc[term, "estimate"] == pytest.approx(expected)
    assert "Intercept" not in beta.index


# ─── vif, compare, multiple testing ─────────────────────────────────────────────────────────────


def test_vif_on_collinear_design_matches_one_over_one_minus_r2():
    rng = np.random.default_rng(8)
    x1, x2 = rng.normal(size=(2, 300))
    x3 = x1 + x2 + 0.1 * rng.normal(size=300)
    frame = pd.DataFrame({"y": rng.normal(size=300), "x1": x1, "x2": x2, "x3": x3})
    table = vif(fit("y ~ x1 + x2 + x3", frame))
    assert list(table["term"]) == ["x1", "x2", "x3"]
    r2 = sm.OLS(x3, sm.add_constant(np.column_stack([x1, x2]))).fit().rsquared
    assert table.loc[2, "vif"] == pytest.approx(1 / (1 - r2), rel=1e-10)
    assert (table["vif"] > 50).all()
    low = vif(fit("y ~ x1 + x2", frame))
    assert (low["vif"] < 1.1).all()


def test_compare_builds_a_side_by_side_table(spector):
    frame = _survey()
    results = {
        "OLS": fit("y ~ x1 + x2", frame, cluster="firm_id"),
        "OLS + industry": fit("y ~ x1 + x2 + C(industry)", frame),
        "Logit": fit("GRADE ~ GPA + PSI", spector, kind="logit"),
    }
    table = compare(results, digits=2)
    assert list(table.columns) == ["term", "OLS", "OLS + industry", "Logit"]
    terms = [t for t in table["term"] if t]
    assert terms[:6] == ["Intercept", "x1", "x2", "C(industry)[T.Retail]",
                         "C(industry)[T.Services]", "GPA"]
    assert terms[-5:] == ["N", "Clusters", "R²", "Pseudo R²", "AIC"]
    assert len(table) == 2 * 7 + 5
    x1 = results["OLS"].tidy().set_index("term").loc["x1"]
    row = table.index[table["term"] == "x1"][0]
    n_stars = sum(x1["p_value"] < level for level in (0.05, 0.01, 0.001))
    assert n_stars >= 1
    assert table.loc[row, "OLS"] == f"{x1['estimate']:.2f}" + "*" * n_stars
    assert table.loc[row + 1, "OLS"] == f"({x1['std_error']:.2f})"
    assert table.loc[row, "Logit"] == "" and table.loc[row + 1, "Logit"] == ""
    bottom = table.set_index("term").loc[["N", "Clusters"]]
    assert list(bottom["OLS"]) == ["117", str(results["OLS"].n_clusters)]
    assert list(bottom["Logit"]) == ["32", ""]
    assert "*** p<0.001" in table.attrs["note"]


def test_adjust_pvalues_matches_hand_computed_holm_and_bh():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> cummax.
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    # BH: p * 4 / rank -> 0.02, 0.02, 0.04, 0.04 (running minimum from the top).
    np.testing.assert_allclose(adjust_pvalues(p, "fdr_bh"), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(adjust_pvalues([0.01, np.nan, 0.02]), [0.02, np.nan, 0.02])


def test_add_adjusted_skips_intercept_and_thresholds(housing):
    ols = add_adjusted(fit("y ~ x1 + x2", _survey()).tidy(), "holm")
    assert np.isnan(ols.loc[0, "p_adjusted"])
    np.testing.assert_allclose(ols["p_adjusted"].iloc[1:], adjust_pvalues(ols["p_value"].iloc[1:]))
    ordered = add_adjusted(fit("Sat ~ Infl + Cont", housing, kind="ordered_logit").tidy())
    assert ordered.loc[ordered["coef_type"] == "threshold", "p_adjusted"].isna().all()
    assert ordered.loc[ordered["coef_type"] == "coefficient", "p_adjusted"].notna().all()


# ─── clear errors ───────────────────────────────────────────────────────────────────────────────


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match=r"unknown kind 'tobit'.*ols, wls, logit"):
        fit("y ~ x1", _survey(), kind="tobit")


def test_missing_cluster_column_is_named():
    with pytest.raises(ValueError, match="cluster column 'firm'") as info:
        fit("y ~ x1", _survey(), cluster="firm")
    assert isinstance(info.value, DataError) and info.value.column == "firm"


def test_logit_with_one_category_is_refused():
    frame = _survey().assign(won=1)
    with pytest.raises(ValueError, match="one category only"):
        fit("won ~ x1", frame, kind="logit")
    with pytest.raises(ValueError, match="coded 0/1"):
        fit("y ~ x1", frame, kind="logit")


def test_bool_outcome_is_coded_one_zero(spector):
    as_bool = spector.assign(GRADE=spector["GRADE"].astype(bool))
    a = fit("GRADE ~ GPA + TUCE + PSI", as_bool, kind="logit").tidy()
    b = fit("GRADE ~ GPA + TUCE + PSI", spector, kind="logit").tidy()
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "wls"}, "weights= is required"),
    ({"weights": "x2"}, "weights= is required for kind='wls' and only allowed there"),
    ({"kind": "mixed"}, "needs cluster="),
    ({"cluster": "firm_id", "cov_type": "HC3"}, "cannot be combined"),
    ({"kind": "logit", "cov_type": "HC3"}, "not available for kind='logit'"),
])
def test_option_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit("y ~ x1", _survey(), **kwargs)


def test_ordered_outcome_needs_an_order():
    frame = _survey().assign(answer=lambda d: np.where(d["y"] > 1, "agree", "disagree"))
    with pytest.raises(DataError, match="ordered pandas Categorical"):
        fit("answer ~ x1", frame, kind="ordered_logit")
    frame["answer"] = pd.Categorical(frame["answer"], ["disagree", "agree"], ordered=True)
    with pytest.raises(ValueError, match="remove '0 \\+'"):
        fit("answer ~ 0 + x1", frame, kind="ordered_logit")


def test_unknown_variable_in_formula_is_reported():
    with pytest.raises(ValueError, match="cannot build the design matrix.*budget"):
        fit("y ~ budget", _survey())


def test_marginal_effects_refuses_linear_models():
    with pytest.raises(ValueError, match="coefficients are the marginal effects"):
        marginal_effects(fit("y ~ x1", _survey()))


def test_module_exports_kinds():
    assert models.KINDS == ("ols", "wls", "logit", "probit", "poisson", "ordered_logit",
                            "ordered_probit", "mixed")


def test_try_fit_reports_a_fit_that_did_not_converge_instead_of_its_numbers() -> None:
    """A logit that stops before convergence (here: perfect separation) is not an estimate: the
    report says why instead of printing statsmodels' warning beside meaningless numbers."""
    import warnings as _warnings

    df = pd.DataFrame({"y": [0, 0, 0, 0, 1, 1, 1, 1] * 3, "x": [1, 2, 3, 4, 5, 6, 7, 8] * 3,
                       "firm_id": [f"F{i}" for i in range(24)]})
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")  # nothing may leak to the report
        result = models.try_fit("y ~ x", df, kind="logit")
    assert isinstance(result, str)
    assert "separation" in result or "converge" in result or "Singular" in result
    ok = models.try_fit("y ~ x", df.assign(y=[0, 1, 0, 0, 1, 1, 0, 1] * 3), kind="logit")
    assert not isinstance(ok, str)


def test_fit_set_fits_what_applies_and_says_why_the_rest_is_not_shown() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=60), "firm_id": [f"F{i // 2}" for i in range(60)]})
    df["y"] = 0.5 * df["x"] + rng.normal(size=60)
    df["sep"] = (df["x"] > 0).astype(int)  # perfectly separated by x: the logit cannot converge
    result = models.fit_set([
        models.ModelSpec("OLS", "y"),
        models.ModelSpec("Logit", "sep", "logit"),
        models.ModelSpec("Ordered", "z", "ordered_logit", needs="item z, which the survey did not ask"),
    ], df, ["x"], cluster="firm_id")
    assert list(result.fits) == ["OLS"] and list(result.not_estimable) == ["Logit"]
    assert result.not_applicable == {"Ordered": "item z, which the survey did not ask"}
    note = result.note()
    assert " Logit: not estimable in this segment (the estimation did not converge)." in note
    assert note.endswith(" Ordered: not applicable (needs item z, which the survey did not ask).")


# ─── minimums checked before fitting (issue 10: tiny segments) ──────────────────────────────────


def _tiny(n: int = 10, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(1, 9)})
    return frame.assign(y=rng.normal(size=n), firm=[f"F{i // 2}" for i in range(n)])


def test_as_many_parameters_as_cases_is_not_estimable_instead_of_zero_division():
    """The reported crash: 10 respondents, 10 coefficients, firm-clustered errors made
    statsmodels divide by N - K = 0; now the model is refused before fitting, with the reason."""
    formula = "y ~ " + " + ".join(f"x{i}" for i in range(1, 9)) + " + z"
    frame = _tiny().assign(z=np.arange(10.0) ** 2)
    with pytest.raises(models.NotEstimable, match="10 complete cases for 10 parameters: the "
                       r"model needs at least 11 \(more cases than parameters\)"):
        fit(formula, frame, cluster="firm")
    assert models.try_fit(formula, frame, cluster="firm").startswith("10 complete cases for 10")
    assert isinstance(fit("y ~ x1 + x2", frame, cluster="firm"), models.ModelResult)
    assert models.MIN_RESIDUAL_DF == 1


@pytest.mark.parametrize(("formula", "kind", "change", "reason"), [
    ("y ~ x1", "ols", {"firm": "F0"}, "come from 1 cluster of 'firm'; cluster-robust standard "
     "errors need at least 2"),
    ("y ~ x1", "mixed", {"firm": "F0"}, "a random intercept needs at least 2"),
    ("y ~ x1", "mixed", {"firm": [f"F{i}" for i in range(10)]},
     "every cluster of 'firm' has one complete case"),
    ("y ~ x1", "ols", {"y": 2.0}, "the outcome y does not vary (one value) among the 10 complete"),
    ("w ~ x1", "logit", {"w": 0}, "the outcome w has one category only (0) among the 10"),
    ("w ~ x1", "probit", {"w": True}, "the outcome w has one category only (1)"),
    ("w ~ x1", "poisson", {"w": 0}, "the count w is 0 in all 10 complete cases"),
    ("o ~ x1", "ordered_logit", {"o": 3}, "the outcome o has one category only"),
    ("y ~ x1 + C(c)", "ols", {"c": "DE"}, "c has one category among the 10 complete cases; "
     "a factor needs at least 2"),
    ("y ~ x1 + x2 + d", "ols", {"d": lambda f: f["x1"] - f["x2"]},
     "d is an exact linear combination of the other terms among the 10 complete cases (aliased"),
    ("y ~ x1 + x9", "ols", {"x9": np.nan}, "no complete cases"),
])
def test_each_minimum_is_checked_before_fitting(formula, kind, change, reason):
    frame = _tiny()
    for column, value in change.items():
        frame[column] = value(frame) if callable(value) else value
    cluster = "firm" if kind == "mixed" or "firm" in change else None
    with pytest.raises(models.NotEstimable) as info:
        fit(formula, frame, kind=kind, cluster=cluster)
    assert reason in str(info.value)
    assert models.try_fit(formula, frame, kind=kind, cluster=cluster) == str(info.value)


def test_ordered_model_counts_thresholds_as_parameters():
    frame = _tiny(6).assign(o=[1, 2, 3, 4, 5, 1])
    with pytest.raises(models.NotEstimable, match="6 complete cases for 6 parameters"):
        fit("o ~ x1 + x2", frame, kind="ordered_logit")


def test_a_category_seen_only_in_dropped_rows_is_no_term():
    """Issue 12's fake zero term: a Categorical level present only in incomplete rows is dropped
    with them (no all-zero column, no aliased estimate)."""
    frame = _tiny(12).assign(
        c=pd.Categorical(["a", "b"] * 5 + ["c", "c"]), x1=[*np.arange(10.0), np.nan, np.nan])
    result = fit("y ~ x1 + C(c)", frame)
    assert list(result.tidy()["term"]) == ["Intercept", "C(c)[T.b]", "x1"]
    assert result.n == 10


def test_aliased_terms_are_named_left_to_right():
    design = pd.DataFrame({"Intercept": 1.0, "a": [1.0, 2, 3, 4], "b": [2.0, 1, 0, 5],
                           "c": [2.0, 4, 6, 8], "d": [0.0, 0, 0, 0]})
    assert models.aliased_terms(design) == ["c", "d"]
    assert models.aliased_terms(design[["Intercept", "a", "b"]]) == []


def test_try_fit_turns_numerical_failures_into_a_reason():
    frame = _tiny()
    assert models.try_fit("y ~ x1", frame.assign(x1=np.inf)).startswith("the estimation failed")


def test_build_formula_leaves_out_predictors_constant_among_complete_cases_and_says_so():
    frame = _tiny().assign(x3=[1.0] * 8 + [np.nan, 2.0], x4=np.nan, c=["A"] * 9 + ["B"])
    frame.loc[9, "y"] = np.nan  # the only row where x3 and c differ has no outcome
    assert models.build_formula("y", ["x1", "x3", "x4"], ["c", "absent"], frame) == "y ~ x1"
    assert models.left_out("y", ["x1", "x3", "x4"], frame, ["c"]) == {
        "x4": "not answered in this segment", "x3": "one value in all 8 complete cases"}
    assert models.build_formula("y", ["x1"], ["c"]) == "y ~ x1 + C(c)"  # without data: as given


def test_fit_each_gives_a_not_estimable_row_with_the_reason():
    frame = _tiny().assign(flat=1.0)
    table = models.fit_each(frame, ["y", "flat"], ["x1", "x2"], cluster="firm")
    assert list(table["outcome"]) == ["y", "y", "flat"]
    assert list(table.columns[-3:]) == ["n", "note", "p_adjusted"]
    flat = table.iloc[2]
    assert flat["note"].startswith("not estimable: the outcome flat does not vary")
    assert pd.isna(flat["estimate"]) and pd.isna(flat["p_adjusted"])
    assert (table["note"].iloc[:2] == "").all() and table["p_adjusted"].iloc[:2].notna().all()


def test_zscore_centres_a_constant_column():
    out = models.zscore(pd.DataFrame({"a": [2.0, 2.0, np.nan], "b": [1.0, 2.0, 3.0]}), ["a", "b"])
    assert out["a"].tolist()[:2] == [0.0, 0.0] and np.isnan(out["a"].iloc[2])
    np.testing.assert_allclose(out["b"], [-1.0, 0.0, 1.0])


# ─── mixed model: convergence and lme4's fixed-effect covariance ────────────────────────────────


class _NeverConverges:
    """A stand-in MixedLM whose every fit reports no convergence (statsmodels' flag)."""

    def __init__(self, result):
        self.result, self.calls = result, []

    def fit(self, **options):
        self.calls.append(options.get("method", "default"))
        import types
        return types.SimpleNamespace(converged=False, params=self.result.params,
                                     scale=self.result.scale, llf=self.result.llf)


def test_a_mixed_model_that_does_not_converge_is_not_estimable():
    from helpers.models import MIXED_OPTIMIZERS, NotEstimable, _fit_mixed
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"g": np.repeat(np.arange(30), 4), "x": rng.normal(size=120)})
    frame["y"] = frame["x"] + np.repeat(rng.normal(size=30), 4) + rng.normal(size=120)
    good = fit("y ~ x", frame, kind="mixed", cluster="g")
    fake = _NeverConverges(good.raw)
    with pytest.raises(NotEstimable, match="did not converge with any optimizer"):
        _fit_mixed(fake, {})
    assert fake.calls == ["default", *MIXED_OPTIMIZERS]  # every optimizer was tried first


def test_mixed_fixed_effect_covariance_is_the_gls_one():
    """(X' V^-1 X)^-1 built densely from the fitted variances equals the reported SEs."""
    rng = np.random.default_rng(11)
    sizes = rng.integers(2, 7, 40)
    g = np.repeat(np.arange(40), sizes)
    frame = pd.DataFrame({"g": g, "x": rng.normal(size=len(g))})
    frame["y"] = 1 + 0.5 * frame["x"] + rng.normal(0, 0.8, 40)[g] + rng.normal(size=len(g))
    result = fit("y ~ x", frame, kind="mixed", cluster="g")
    x = np.column_stack([np.ones(len(g)), frame["x"]])
    tau2, s2 = float(result.raw.cov_re.iloc[0, 0]), float(result.raw.scale)
    v = s2 * np.eye(len(g)) + tau2 * (g[:, None] == g[None, :])
    cov = np.linalg.inv(x.T @ np.linalg.solve(v, x))
    tidy = result.tidy()
    assert tidy["std_error"].to_numpy() == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-10)
    assert result.glance()["df_inference"].isna().all()  # z tests


def test_mixed_model_matches_lme4_printed_values():
    """lme4 1.1 (R 4.x, Debian r-cran-lme4) on tests/fixtures/mixed_lme4.csv:
    ``summary(lmer(y ~ x + (1 | g), d))$coefficients`` prints (Intercept) 1.2753565382
    (SE 0.1916928410), x 0.6377658327 (SE 0.1090087466); VarCorr 0.6324289053 and residual
    1.0394100777; REML logLik -162.8349611. statsmodels' own Hessian-based SEs (0.19232,
    0.11129) differ in the third digit; ours are lme4's."""
    from pathlib import Path
    frame = pd.read_csv(Path(__file__).parent / "fixtures" / "mixed_lme4.csv")
    result = fit("y ~ x", frame, kind="mixed", cluster="g")
    tidy = result.tidy().set_index("term")
    assert tidy["estimate"].to_numpy() == pytest.approx([1.2753565382, 0.6377658327], abs=1e-6)
    assert tidy["std_error"].to_numpy() == pytest.approx([0.1916928410, 0.1090087466], abs=1e-6)
    glance = result.glance().iloc[0]
    assert glance["group_var"] == pytest.approx(0.6324289053, abs=1e-5)
    assert glance["resid_var"] == pytest.approx(1.0394100777, abs=1e-5)
    assert glance["loglik"] == pytest.approx(-162.8349611, abs=1e-5)


def test_reading_words_associations_with_interval_first_and_journal_p():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=400), "z": rng.normal(size=400)})
    frame["y"] = -0.8 * frame["x"] + rng.normal(size=400)
    result = fit("y ~ x + z", frame)
    text = reading(result, {"x": "Co-funding", "z": "KPIs"}, outcome="disconnect")
    assert text.startswith("1 of 2 terms is associated with disconnect at p < 0.05 (n = 400).")
    assert ("Co-funding is associated with a lower disconnect (\u22120.78, 95\u202f% CI \u22120.87 "
            "to \u22120.69") in text
    assert "p < .001)" in text and "e-" not in text
    assert "goes with" not in text and "narrows" not in text
