"""Known answers and parameter recovery for helpers.scales (alpha, Feldt CI, omega, scoring)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.codebook import load_codebook
from helpers.scales import (
    alpha_table,
    coverage,
    coverage_note,
    cronbach_alpha,
    feldt_ci,
    fit_one_factor,
    item_table,
    omega_total,
    score,
)

# R datasets::attitude (Chatterjee & Price 1977), 30 departments x 7 items, typed in from the
# R data set (checked against R's summary(attitude): means 64.63, 66.6, 53.13, 56.37, 64.63,
# 74.77, 42.93).
ATTITUDE = pd.DataFrame({
    "rating": [43, 63, 71, 61, 81, 43, 58, 71, 72, 67, 64, 67, 69, 68, 77, 81, 74, 65, 65, 50,
               50, 64, 53, 40, 63, 66, 78, 48, 85, 82],
    "complaints": [51, 64, 70, 63, 78, 55, 67, 75, 82, 61, 53, 60, 62, 83, 77, 90, 85, 60, 70,
                   58, 40, 61, 66, 37, 54, 77, 75, 57, 85, 82],
    "privileges": [30, 51, 68, 45, 56, 49, 42, 50, 72, 45, 53, 47, 57, 83, 54, 50, 64, 65, 46,
                   68, 33, 52, 52, 42, 42, 66, 58, 44, 71, 39],
    "learning": [39, 54, 69, 47, 66, 44, 56, 55, 67, 47, 58, 39, 42, 45, 72, 72, 69, 75, 57, 54,
                 34, 62, 50, 58, 48, 63, 74, 45, 71, 59],
    "raises": [61, 63, 76, 54, 71, 54, 66, 70, 71, 62, 58, 59, 55, 59, 79, 60, 79, 55, 75, 64,
               43, 66, 63, 50, 66, 88, 80, 51, 77, 64],
    "critical": [92, 73, 86, 84, 83, 49, 68, 66, 83, 80, 67, 74, 63, 77, 77, 54, 79, 80, 85, 78,
                 64, 80, 80, 57, 75, 76, 78, 83, 74, 78],
    "advance": [45, 47, 48, 35, 47, 34, 35, 41, 31, 41, 34, 41, 25, 35, 46, 36, 63, 60, 46, 52,
                33, 41, 37, 49, 33, 72, 49, 38, 55, 39],
})


def data_with_covariance(cov: np.ndarray, n: int, seed: int = 1) -> pd.DataFrame:
    """Raw data whose sample covariance matrix (ddof=1) is exactly ``cov``."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, cov.shape[0]))
    z -= z.mean(axis=0)
    white = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    x = white @ np.linalg.cholesky(cov).T
    return pd.DataFrame(x, columns=[f"i{j + 1}" for j in range(cov.shape[0])])


def one_factor_correlation(loadings: list[float]) -> np.ndarray:
    lam = np.asarray(loadings)
    corr = np.outer(lam, lam)
    np.fill_diagonal(corr, 1.0)
    return corr


def likert(rng: np.random.Generator, latent: np.ndarray, loading: float) -> np.ndarray:
    """A 1-5 item driven by a latent score."""
    raw = loading * latent + np.sqrt(1 - loading**2) * rng.standard_normal(len(latent))
    return np.clip(np.round(3 + raw * 1.1), 1, 5)


# --------------------------------------------------------------------------- alpha
def test_attitude_alpha_matches_the_textbook_formula() -> None:
    res = cronbach_alpha(ATTITUDE)
    k = ATTITUDE.shape[1]
    by_variances = k / (k - 1) * (1 - ATTITUDE.var().sum() / ATTITUDE.sum(axis=1).var())
    corr = ATTITUDE.corr().to_numpy()
    r_bar = corr[np.triu_indices(k, 1)].mean()
    assert res.alpha == pytest.approx(by_variances, abs=1e-12)
    assert res.std_alpha == pytest.approx(k * r_bar / (1 + (k - 1) * r_bar), abs=1e-12)
    assert (res.n, res.k) == (30, 7)
    # regression pins (computed here; no printed psych output for attitude was available)
    assert res.alpha == pytest.approx(0.8431428, abs=1e-7)
    assert res.std_alpha == pytest.approx(0.8390838, abs=1e-7)


def test_published_sas_example_alpha_from_item_variances() -> None:
    """SAS PROC CORR example 'Cronbach's Alpha & Maximized Lambda4' (idealism scale, 10 items;
    studylib.net/doc/5619683): printed raw alpha 0.743825 and, by hand, 0.7438254943.

    Only the item variances and the total-score variance (27.8485906) are printed, and alpha
    depends on nothing else, so data with those (co)variances reproduce the printed alpha.
    """
    variances = np.array([0.7279195, 0.9817002, 1.0462640, 0.8286801, 0.6897539, 0.5516331,
                          1.1234452, 0.7986130, 1.3523490, 1.1051902])
    total = 27.8485906
    sd = np.sqrt(variances)
    r = (total - variances.sum()) / (sd.sum() ** 2 - variances.sum())
    cov = r * np.outer(sd, sd)
    np.fill_diagonal(cov, variances)
    res = cronbach_alpha(data_with_covariance(cov, n=200))
    assert res.alpha == pytest.approx(0.7438254943, abs=1e-8)  # inputs printed to 1e-7
    assert round(res.alpha, 6) == 0.743825


def test_alpha_of_psych_sim_congeneric_population_matrix() -> None:
    """psych's alpha() example ``r4 <- sim.congeneric()``: loadings .8, .7, .6, .5.

    Off-diagonal sum = (sum l)^2 - sum l^2 = 6.76 - 1.74 = 5.02, so alpha = 4/3 (1 - 4/9.02).
    """
    data = data_with_covariance(one_factor_correlation([0.8, 0.7, 0.6, 0.5]), n=500)
    res = cronbach_alpha(data)
    assert res.alpha == pytest.approx(4 / 3 * (1 - 4 / 9.02), abs=1e-12)
    assert res.std_alpha == pytest.approx(res.alpha, abs=1e-12)
    assert res.omega == pytest.approx(6.76 / (6.76 + 2.26), abs=1e-8)
    np.testing.assert_allclose(res.loadings, [0.8, 0.7, 0.6, 0.5], atol=1e-6)


def test_item_stats_match_direct_computation() -> None:
    res = cronbach_alpha(ATTITUDE)
    stats_ = res.item_stats
    assert list(stats_.columns) == ["n", "mean", "sd", "r_drop", "alpha_if_dropped", "reversed"]
    for item in ATTITUDE.columns:
        rest = ATTITUDE.drop(columns=item)
        assert stats_.loc[item, "r_drop"] == pytest.approx(
            np.corrcoef(ATTITUDE[item], rest.sum(axis=1))[0, 1], abs=1e-12)
        assert stats_.loc[item, "alpha_if_dropped"] == pytest.approx(
            cronbach_alpha(rest).alpha, abs=1e-12)
    assert stats_.loc["critical", "mean"] == pytest.approx(74.766667, abs=1e-6)
    assert (stats_["n"] == 30).all()


def test_feldt_interval_by_hand_and_direction() -> None:
    res = cronbach_alpha(ATTITUDE, ci=0.95)
    df1, df2 = 29, 29 * 6
    assert res.ci_low == pytest.approx(1 - (1 - res.alpha) * stats.f.ppf(0.975, df1, df2))
    assert res.ci_high == pytest.approx(1 - (1 - res.alpha) * stats.f.ppf(0.025, df1, df2))
    assert res.ci_low < res.alpha < res.ci_high
    narrow = cronbach_alpha(ATTITUDE, ci=0.80)
    assert res.ci_low < narrow.ci_low < narrow.ci_high < res.ci_high


def test_feldt_interval_formula_example_feldt_1987() -> None:
    """Feldt, Woodruff & Salih (1987): alpha = .79, 26 items, 41 examinees, 90% interval."""
    low, high = feldt_ci(0.79, n=41, k=26, ci=0.90)
    assert low == pytest.approx(1 - 0.21 * stats.f.ppf(0.95, 40, 1000))
    assert high == pytest.approx(1 - 0.21 * stats.f.ppf(0.05, 40, 1000))
    assert low < 0.79 < high


def test_feldt_interval_covers_population_alpha() -> None:
    """Coverage of the 90% Feldt interval in 400 samples of n = 60 from a parallel model."""
    rng = np.random.default_rng(7)
    corr = np.full((5, 5), 0.4)
    np.fill_diagonal(corr, 1.0)
    true_alpha = 5 * 0.4 / (1 + 4 * 0.4)
    hits = 0
    for _ in range(400):
        sample = pd.DataFrame(rng.multivariate_normal(np.zeros(5), corr, size=60))
        res = cronbach_alpha(sample, ci=0.90)
        hits += res.ci_low <= true_alpha <= res.ci_high
    assert 0.85 <= hits / 400 <= 0.95


def test_reverse_keying_equals_manually_reversed_data() -> None:
    rng = np.random.default_rng(3)
    latent = rng.standard_normal(400)
    items = pd.DataFrame({f"q{j}": likert(rng, latent, 0.7) for j in range(1, 5)})
    items["q4"] = 6 - items["q4"]  # stored reverse-keyed
    keyed = cronbach_alpha(items, reverse=["q4"])
    manual = cronbach_alpha(items.assign(q4=6 - items["q4"]))
    for attr in ("alpha", "std_alpha", "ci_low", "ci_high", "omega"):
        assert getattr(keyed, attr) == pytest.approx(getattr(manual, attr), abs=1e-12)
    np.testing.assert_allclose(keyed.item_stats["r_drop"], manual.item_stats["r_drop"])
    assert keyed.item_stats.loc["q4", "reversed"]
    assert keyed.item_stats.loc["q4", "mean"] == pytest.approx(items["q4"].mean())
    assert cronbach_alpha(items).alpha < keyed.alpha


def test_pairwise_and_listwise_missing_data() -> None:
    rng = np.random.default_rng(11)
    data = data_with_covariance(one_factor_correlation([0.7, 0.6, 0.5, 0.8]), n=300)
    holes = data.mask(rng.random(data.shape) < 0.1)
    holes.iloc[5] = np.nan  # a respondent who answered nothing
    listwise = cronbach_alpha(holes, missing="listwise")
    pairwise = cronbach_alpha(holes, missing="pairwise")
    complete = holes.dropna()
    assert listwise.n == len(complete)
    assert listwise.alpha == pytest.approx(cronbach_alpha(complete).alpha, abs=1e-12)
    assert pairwise.n == int(holes.notna().any(axis=1).sum()) == 299
    cov = holes.cov().to_numpy()  # pairwise-complete, as psych's use="pairwise"
    assert pairwise.alpha == pytest.approx(4 / 3 * (1 - np.trace(cov) / cov.sum()), abs=1e-12)
    assert pairwise.alpha != pytest.approx(listwise.alpha, abs=1e-6)
    assert (pairwise.item_stats["n"] == holes.notna().sum()).all()


@pytest.mark.parametrize(("frame", "kwargs", "message"), [
    (ATTITUDE[["rating"]], {}, "at least 2 items"),
    (ATTITUDE.head(2), {}, "at least 3"),
    (ATTITUDE, {"reverse": ["nope"]}, "nope"),
    (ATTITUDE, {"missing": "mean"}, "missing must be"),
    (ATTITUDE.assign(rating="x"), {}, "numeric"),
    (ATTITUDE.assign(rating=5), {}, "no variance"),
])
def test_bad_input_raises_value_error(frame: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cronbach_alpha(frame, **kwargs)


def test_two_items_give_alpha_but_no_omega() -> None:
    res = cronbach_alpha(ATTITUDE[["rating", "complaints"]])
    cov = ATTITUDE[["rating", "complaints"]].cov().to_numpy()
    assert res.alpha == pytest.approx(2 * (1 - np.trace(cov) / cov.sum()))
    assert np.isnan(res.omega) and "at least 3 items" in res.omega_note
    assert res.item_stats["alpha_if_dropped"].isna().all()


def test_tidy_is_one_row() -> None:
    row = cronbach_alpha(ATTITUDE).tidy()
    assert len(row) == 1 and {"alpha", "ci_low", "ci_high", "omega", "n", "k"} <= set(row)


# --------------------------------------------------------------------------- omega
def test_minres_three_items_closed_form() -> None:
    """With 3 items the one-factor model is just identified: l1^2 = r12 r13 / r23."""
    corr = np.array([[1, 0.42, 0.35], [0.42, 1, 0.30], [0.35, 0.30, 1]])
    fit = fit_one_factor(corr)
    expected = np.sqrt([0.42 * 0.35 / 0.30, 0.42 * 0.30 / 0.35, 0.35 * 0.30 / 0.42])
    np.testing.assert_allclose(fit.loadings, expected, atol=1e-8)
    assert fit.converged and not fit.heywood


def test_heywood_case_is_flagged() -> None:
    corr = np.array([[1, 0.8, 0.8], [0.8, 1, 0.5], [0.8, 0.5, 1]])  # l1^2 = .64/.5 = 1.28
    assert fit_one_factor(corr).heywood == (0,)
    res = cronbach_alpha(data_with_covariance(corr, n=100))
    assert np.isnan(res.omega) and "Heywood" in res.omega_note


def test_omega_recovers_population_value() -> None:
    loadings = np.array([0.7, 0.6, 0.5, 0.8])
    rng = np.random.default_rng(2024)
    n = 20_000
    factor = rng.standard_normal(n)
    noise = rng.standard_normal((n, 4)) * np.sqrt(1 - loadings**2)
    items = pd.DataFrame(factor[:, None] * loadings + noise, columns=list("abcd"))
    res = cronbach_alpha(items)
    truth = omega_total(loadings)
    assert truth == pytest.approx(6.76 / (6.76 + 2.26))
    assert res.omega == pytest.approx(truth, abs=0.01)
    np.testing.assert_allclose(res.loadings, loadings, atol=0.03)
    assert res.omega >= res.alpha - 1e-9  # congeneric items: alpha is a lower bound


# --------------------------------------------------------------------------- codebook
@pytest.fixture(scope="module")
def codebook():
    return load_codebook()


def survey(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """Simulated answers for three constructs, with the codebook's reverse keys and roles."""
    rng = np.random.default_rng(seed)
    role = np.where(np.arange(n) % 2 == 0, "CMO", "CIO")
    trust, req = rng.standard_normal(n), rng.standard_normal(n)
    frame = pd.DataFrame({
        "role": role,
        "trust_1": likert(rng, trust, 0.75), "trust_2": likert(rng, trust, 0.7),
        "trust_3": 6 - likert(rng, trust, 0.65),  # reverse-keyed in the codebook
        "req_1": likert(rng, req, 0.7), "req_2": likert(rng, req, 0.7),
        "req_3": likert(rng, req, 0.7),
        "cofund_1": rng.integers(0, 2, n).astype(float),
    })
    frame.loc[frame["role"] == "CMO", "req_2"] = np.nan  # req_2 is asked of CIOs only
    frame.loc[frame["role"] == "CIO", "req_3"] = np.nan  # req_3 of CMOs only
    return frame


def test_score_reverse_keys_with_scale_range(codebook) -> None:
    df = pd.DataFrame({"role": ["CMO", "CIO"], "trust_1": [5, 2], "trust_2": [4, 2],
                       "trust_3": [1, np.nan]})
    scores = score(df, codebook, constructs=["mutual_trust"])
    assert list(scores.columns) == ["mutual_trust"]
    assert scores["mutual_trust"].tolist() == pytest.approx([(5 + 4 + 5) / 3, 2.0])


def test_score_respects_roles_and_min_items(codebook) -> None:
    df = pd.DataFrame({
        "role": ["CMO", "CIO", "CMO", "CIO", None],
        "req_1": [4, 4, 4, np.nan, 2], "req_2": [np.nan, 5, np.nan, np.nan, 3],
        "req_3": [2, np.nan, np.nan, np.nan, 4],
    }, index=list("abcde"))
    half = score(df, codebook, ["requirements_friction"], min_items=0.5)["requirements_friction"]
    assert half["a"] == pytest.approx(3.0)   # CMO: req_1 and req_3
    assert half["b"] == pytest.approx(4.5)   # CIO: req_1 and req_2
    assert half["c"] == pytest.approx(4.0)   # answered 1 of the 2 asked
    assert np.isnan(half["d"])               # answered nothing
    assert half["e"] == pytest.approx(3.0)   # unknown role: all three asked
    strict = score(df, codebook, ["requirements_friction"], min_items=0.6)
    assert np.isnan(strict.loc["c", "requirements_friction"])
    assert list(half.index) == list("abcde")


def test_score_ignores_answers_to_items_not_asked(codebook) -> None:
    df = pd.DataFrame({"role": ["CIO"], "auton_1": [5], "auton_2": [1]})  # auton_1: CMO only
    assert score(df, codebook, ["data_autonomy"]).iloc[0, 0] == pytest.approx(1.0)


def test_score_defaults_to_constructs_in_data_and_checks_input(codebook) -> None:
    scores = score(survey(), codebook)
    assert list(scores.columns) == ["mutual_trust", "requirements_friction", "cofunded_projects"]
    with pytest.raises(ValueError, match="min_items"):
        score(survey(), codebook, min_items=0)
    with pytest.raises(KeyError, match="no_such_construct"):
        score(survey(), codebook, ["no_such_construct"])
    assert "sales_involvement" in scores.attrs["not_asked"]
    assert scores.attrs["missing_items"] == {}


def test_score_uses_the_items_present(codebook) -> None:
    """A shortened scale is scored from the items asked; the outputs say which were missing."""
    full = survey()
    short = full.drop(columns="trust_3")
    scores = score(short, codebook, ["mutual_trust", "sales_involvement"])
    assert list(scores.columns) == ["mutual_trust"]  # sales_involvement: no item asked
    expected = short[["trust_1", "trust_2"]].mean(axis=1)
    pd.testing.assert_series_equal(scores["mutual_trust"], expected, check_names=False)
    assert scores.attrs["missing_items"] == {"mutual_trust": ["trust_3"]}
    assert scores.attrs["not_asked"] == ["sales_involvement"]
    # a column that exists but holds no answer counts as not asked, both for scoring ...
    blank = full.assign(trust_3=np.nan)
    pd.testing.assert_frame_equal(score(blank, codebook, ["mutual_trust"]),
                                  score(short, codebook, ["mutual_trust"]))
    # ... and for min_items: two asked items, one answered, is half of them
    one = short.assign(trust_2=np.nan).iloc[:5]
    assert score(one, codebook, ["mutual_trust"]).attrs["missing_items"] == {
        "mutual_trust": ["trust_2", "trust_3"]}
    partial = short.iloc[:3].copy()
    partial.loc[partial.index[0], "trust_2"] = np.nan
    got = score(partial, codebook, ["mutual_trust"], min_items=0.5)["mutual_trust"]
    assert got.iloc[0] == pytest.approx(partial["trust_1"].iloc[0])
    assert np.isnan(score(partial, codebook, ["mutual_trust"], min_items=0.6).iloc[0, 0])


def test_coverage_names_items_not_asked(codebook) -> None:
    df = survey().drop(columns=["trust_3"])
    table = coverage(df, codebook, ["mutual_trust", "requirements_friction",
                                    "sales_involvement"]).set_index("construct")
    assert table.loc["mutual_trust", "status"] == "partial"
    assert table.loc["mutual_trust", "items"] == "trust_1, trust_2"
    assert table.loc["mutual_trust", "note"] == ("Mutual trust: scored from trust_1, trust_2 "
                                                 "(trust_3 not asked)")
    assert table.loc["requirements_friction", "status"] == "complete"
    assert table.loc["sales_involvement", "status"] == "not asked"
    assert table.loc["sales_involvement", "not_asked"] == "sales_1, sales_2"
    assert list(coverage(df, codebook)["construct"]) == list(codebook.constructs)


def test_alpha_on_the_items_present_and_one_item_says_so(codebook) -> None:
    data = survey().drop(columns="trust_3")
    table = alpha_table(data, codebook).set_index("construct")
    direct = cronbach_alpha(data[["trust_1", "trust_2"]])
    assert table.loc["mutual_trust", "alpha"] == pytest.approx(direct.alpha)
    assert table.loc["mutual_trust", "k"] == 2
    assert table.loc["mutual_trust", "not_asked"] == "trust_3"
    assert table.attrs["missing_items"]["mutual_trust"] == ["trust_3"]
    assert "sales_involvement" not in table.index  # not asked: no row
    one = alpha_table(data.drop(columns="trust_2"), codebook).set_index("construct")
    row = one.loc["mutual_trust"]
    # n counts the rows that could enter alpha (two or more items answered): none with one item
    assert np.isnan(row["alpha"]) and row["k"] == 1 and row["n"] == 0
    assert row["note"] == ("one item (item 1): alpha needs at least 2 items "
                           "(item 2; item 3 not asked)")
    items = item_table(data.drop(columns="trust_2"), codebook)
    assert "mutual_trust" not in set(items["construct"])  # one item: no item-total statistics
    assert set(item_table(data, codebook)["item"]) >= {"trust_1", "trust_2"}


def test_alpha_table_pooled_and_by_role(codebook) -> None:
    data = survey()
    pooled = alpha_table(data, codebook)
    assert list(pooled.columns) == ["construct", "label", "group", "k", "n", "alpha", "ci_low",
                                    "ci_high", "omega", "note", "items", "not_asked"]
    assert list(pooled["construct"]) == ["mutual_trust", "requirements_friction"]  # >= 2 items
    trust = pooled.set_index("construct").loc["mutual_trust"]
    direct = cronbach_alpha(data[["trust_1", "trust_2", "trust_3"]], reverse=["trust_3"])
    assert trust["alpha"] == pytest.approx(direct.alpha)
    assert trust["k"] == 3 and trust["n"] == 400 and trust["group"] == "all"
    assert trust["label"] == "Mutual trust"
    req = pooled.set_index("construct").loc["requirements_friction"]
    assert np.isnan(req["alpha"]) and "never answered together" in req["note"]

    by_role = alpha_table(data, codebook, by="role", language="DE")
    assert len(by_role) == 4 and set(by_role["group"]) == {"CMO", "CIO"}
    cio = by_role.set_index(["construct", "group"]).loc[("requirements_friction", "CIO")]
    assert cio["k"] == 2 and cio["n"] == 200
    expected = cronbach_alpha(data.loc[data["role"] == "CIO", ["req_1", "req_2"]]).alpha
    assert cio["alpha"] == pytest.approx(expected)
    assert by_role["label"].iloc[0] == "Gegenseitiges Vertrauen"


def test_coverage_note_says_what_was_not_asked(codebook) -> None:
    df = survey().drop(columns="trust_3")
    note = coverage_note(df, codebook, ["mutual_trust", "requirements_friction",
                                        "sales_involvement"])
    assert note == ("Not asked in this survey, so not analysed: Sales involvement. Scored from "
                    "fewer items than the codebook has: Mutual trust: scored from trust_1, "
                    "trust_2 (trust_3 not asked).")
    assert coverage_note(survey(), codebook, ["mutual_trust", "requirements_friction"]) == ""


def test_alpha_rows_that_cannot_be_computed_say_why_and_count_the_rows_used(codebook) -> None:
    """Tiny segments: a constant item, too few rows, no complete row under listwise deletion —
    no numbers, a "not estimable" note in words, and n the rows the rule would use."""
    data = survey(6)
    flat = alpha_table(data.assign(trust_1=3.0), codebook).set_index("construct")
    row = flat.loc["mutual_trust"]
    assert np.isnan(row["alpha"]) and np.isnan(row["ci_low"]) and row["n"] == 6
    # the item as readers name it, never its variable name
    assert row["note"] == "not estimable: Mutual trust, item 1 has no variance (one value, or " \
                          "fewer than 2 answers)"
    few = alpha_table(data.head(2), codebook).set_index("construct").loc["mutual_trust"]
    assert few["note"] == "not estimable: alpha needs at least 3 rows with an answer, got 2"
    holes = data.assign(trust_1=[np.nan, 1, 2, np.nan, np.nan, np.nan],
                        trust_2=[1.0, np.nan, np.nan, 2, 3, 4])
    listwise = alpha_table(holes, codebook, missing="listwise").set_index("construct")
    assert listwise.loc["mutual_trust", "n"] == 0
    assert listwise.loc["mutual_trust", "note"].startswith("not estimable: alpha needs at least "
                                                           "3 complete rows, got 0")


def test_alpha_refuses_items_whose_sum_score_has_no_variance() -> None:
    items = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [4.0, 3, 2, 1]})
    with pytest.raises(ValueError, match="sum score has no variance"):
        cronbach_alpha(items)


def test_a_failed_alpha_row_counts_only_rows_that_could_enter_it(cb) -> None:
    """Items never answered together (one asked of CMOs, one of CIOs): no alpha and n = 0,
    not the number of respondents who answered one of them."""
    from helpers.scales import _alpha_row
    items = pd.DataFrame({"a": [1, 2, 3, np.nan, np.nan, np.nan],
                          "b": [np.nan, np.nan, np.nan, 2, 4, 5]}, dtype=float)
    row = _alpha_row(items, [], "pairwise", 0.95)
    assert np.isnan(row["alpha"]) and row["n"] == 0 and "not estimable" in row["note"]
