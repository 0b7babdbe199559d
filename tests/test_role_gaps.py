"""Role gaps (helpers.role_gaps) and their truth (helpers.truth.role_gaps): the CR2 standard
error and Bell–McCaffrey df against known answers, the truth against a large simulation, and a
quick parameter-recovery study through the headline function the profile report calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import linalg, stats
from statsmodels.stats.multitest import multipletests

from helpers import headlines as hl
from helpers import indicators, role_gaps, simulate
from helpers.truth import role_gaps as truth

C = np.array([0.0, 1.0])


def _design(cmo: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(cmo)), cmo.astype(float)])


# --------------------------------------------------------------------------- CR2 known answers
def test_cr2_in_balanced_pairs_is_the_paired_t_test() -> None:
    """One CMO and one CIO per firm: CR2 reproduces the paired t-test exactly (H_gg = I/G, so
    CR2 = CR0·G/(G−1) = s_d²/G) and the Bell–McCaffrey df are G − 1."""
    rng = np.random.default_rng(3)
    g = 23
    firm = rng.normal(size=g)
    cmo = np.tile([1.0, 0.0], g)
    y = np.repeat(firm, 2) + rng.normal(size=2 * g) + 0.3 * cmo
    fit = role_gaps.cr2_contrast(y, _design(cmo), np.repeat(np.arange(g), 2), C)
    ref = stats.ttest_rel(y[cmo == 1], y[cmo == 0])
    d = y[cmo == 1] - y[cmo == 0]
    assert fit["estimate"] == pytest.approx(d.mean(), abs=1e-12)
    assert fit["std_error"] == pytest.approx(d.std(ddof=1) / np.sqrt(g), rel=1e-10)
    assert fit["df"] == pytest.approx(g - 1, rel=1e-10)
    assert 2 * stats.t.sf(abs(fit["estimate"] / fit["std_error"]), fit["df"]) == pytest.approx(
        ref.pvalue, rel=1e-8)


def test_cr2_with_one_respondent_per_firm_is_the_welch_variance() -> None:
    """Singleton clusters: CR2 is HC2, whose variance of a difference in means is
    s1²/n1 + s2²/n2 (the Welch/Neyman variance)."""
    rng = np.random.default_rng(4)
    cmo = (np.arange(70) < 30).astype(float)
    y = rng.normal(size=70) * (1 + cmo) + 0.5 * cmo
    fit = role_gaps.cr2_contrast(y, _design(cmo), np.arange(70), C)
    a, b = y[cmo == 1], y[cmo == 0]
    assert fit["std_error"] == pytest.approx(
        np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)), rel=1e-10)


def _textbook(y: np.ndarray, X: np.ndarray, g: np.ndarray) -> tuple[float, float, float]:
    """CR2 and Bell–McCaffrey df straight from the definitions with N x N matrices."""
    B = np.linalg.inv(X.T @ X)
    e = y - X @ B @ X.T @ y
    ih = np.eye(len(y)) - X @ B @ X.T
    var, cols = 0.0, []
    for k in np.unique(g):
        i = np.flatnonzero(g == k)
        a = linalg.sqrtm(np.linalg.inv(ih[np.ix_(i, i)])).real
        u = a @ X[i] @ B @ C
        var += float(u @ e[i]) ** 2
        cols.append(ih[:, i] @ u)
    m = np.column_stack(cols).T @ np.column_stack(cols)
    return float(C @ B @ X.T @ y), np.sqrt(var), float(np.trace(m) ** 2 / np.sum(m * m))


def test_cr2_and_df_match_the_textbook_formulas_on_unbalanced_clusters() -> None:
    rng = np.random.default_rng(5)
    n = 150
    g = rng.integers(0, 40, n)
    cmo = rng.integers(0, 2, n).astype(float)
    y = rng.normal(size=40)[g] + rng.normal(size=n) + 0.2 * cmo
    fit = role_gaps.cr2_contrast(y, _design(cmo), g, C)
    est, se, df = _textbook(y, _design(cmo), g)
    assert fit["estimate"] == pytest.approx(est, rel=1e-10)
    assert fit["std_error"] == pytest.approx(se, rel=1e-8)
    assert fit["df"] == pytest.approx(df, rel=1e-8)
    assert fit["df"] < len(np.unique(g)) - 1  # unbalanced: fewer df than G − 1
    # with many clusters CR2 is close to statsmodels' CR1 (which scales by G/(G−1)·(N−1)/(N−K))
    cr1 = sm.OLS(y, _design(cmo)).fit(cov_type="cluster", cov_kwds={"groups": g}).bse[1]
    assert fit["std_error"] == pytest.approx(cr1, rel=0.05)


def test_a_firm_with_leverage_one_is_refused() -> None:
    y = np.array([1.0, 2.0, 3.0, 2.0, 4.0])
    cmo = np.array([1.0, 0.0, 0.0, 0.0, 0.0])  # the only CMO: its firm carries the contrast
    with pytest.raises(ValueError, match="leverage"):
        role_gaps.cr2_contrast(y, _design(cmo), np.arange(5), C)


@pytest.mark.parametrize("adjust", ["holm", "bonferroni", "fdr_bh", None])
def test_adjusted_interval_excludes_zero_exactly_when_the_adjusted_p_is_significant(adjust
                                                                                    ) -> None:
    rng = np.random.default_rng(6)
    for rep in range(100):
        p = rng.uniform(0, 0.08, rng.integers(1, 10)) ** rng.uniform(0.5, 2)
        adjusted, levels = role_gaps.adjusted_levels(p, 0.05, adjust)
        if adjust is not None and rep < 5:  # multipletests collects garbage on each call: slow
            assert np.allclose(adjusted, multipletests(p, method=adjust)[1], rtol=1e-12)
        assert np.array_equal(p < levels, adjusted < 0.05), (p, adjusted, levels)
        assert np.all(levels <= 0.05)


# --------------------------------------------------------------------------- the truth
def _clustered_gap(frame: pd.DataFrame, column: str) -> tuple[float, float]:
    """Difference in role means and its firm-clustered SE by statsmodels (not our code)."""
    used = frame[frame[column].notna()]
    cmo = (used["role"].astype(str) == "CMO").to_numpy(dtype=float)
    res = sm.OLS(used[column].to_numpy(dtype=float), _design(cmo)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(used["firm_id"])[0]})
    return float(res.params[1]), float(res.bse[1])


@pytest.mark.parametrize("settings", [{}, {"item_sd": 0.9, "perception_sd": 0.5,
                                           "straightliner_share": 0.10,
                                           "beta_cofunded_projects": -0.8}])
def test_truth_matches_a_large_simulation(cb, settings) -> None:
    """The exact expectation against 20,000 simulated firms, within 4 Monte Carlo SEs
    (clustered by firm); the override run checks that the settings flow through."""
    config = simulate.SimulationConfig(firms=20_000, ledger_rows=0, seed=11, **settings)
    survey, _ = simulate.simulate_survey(config, codebook=cb)
    frame = indicators.respondent_frame(survey, cb)
    true = truth.estimands(config, cb)
    assert set(true) == {f"role_gap.{c}" for c in (
        "importance_alignment", "collaboration_level", "mutual_trust",
        "shared_understanding_own", "shared_understanding_predicted", "speed_friction",
        "bypass_standards", "disconnect_index")}
    for key, value in true.items():
        est, se = _clustered_gap(frame, key.removeprefix("role_gap."))
        assert abs(est - value) < 4 * se, (key, value, est, se)


def test_truth_is_per_role_expectation_of_the_observed_scale(cb) -> None:
    scores = truth.expected_scores(simulate.SimulationConfig(), cb)
    for cid, by_role in scores.items():
        assert set(by_role) == {"CMO", "CIO"}
        assert all(1 < v < 5 for v in by_role.values()), cid
    # without straight-liners and item noise changed, the gaps move: the truth is not a constant
    other = truth.estimands(simulate.SimulationConfig(item_sd=1.2), cb)
    base = truth.estimands(simulate.SimulationConfig(), cb)
    assert any(abs(other[k] - base[k]) > 1e-3 for k in base)


# --------------------------------------------------------------------------- headlines
def test_the_shipped_sample_finds_the_trust_and_shared_understanding_gaps(cb) -> None:
    """Issue 12: on the project sample Welch tests (Holm) missed the true trust and shared
    understanding gaps; the firm-clustered model over all respondents finds both."""
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(ledger_rows=0), codebook=cb)
    rows = {h.key: h for h in role_gaps.headlines(survey, cb)}
    true = truth.estimands(simulate.SimulationConfig(), cb)
    for key in ("role_gap.mutual_trust", "role_gap.shared_understanding_own"):
        assert true[key] < 0 and rows[key].verdict == "negative", rows[key].reading
    for h in rows.values():
        assert h.verdict == hl.verdict(h.extra["ci_low_adjusted"], h.extra["ci_high_adjusted"],
                                       h.power)
        assert h.significant == (h.p_value < 0.05)
        assert hl.format_p(h.p_value) in h.reading and "scale points" in h.reading


def test_recovery_through_the_headline_function(cb) -> None:
    """20 simulated samples of 300 firms: intervals cover the truth, no bias, the large gaps
    (importance, shared understanding, bypassing standards) are found with the right sign."""
    rows = []
    for rep in range(20):
        config = simulate.SimulationConfig(firms=300, ledger_rows=0, seed=500 + rep)
        survey, _ = simulate.simulate_survey(config, codebook=cb)
        true = truth.estimands(config, cb)
        for h in role_gaps.headlines(survey, cb):
            t = true[h.key]
            rows.append({"key": h.key, "truth": t, "estimate": h.estimate,
                         "covered": h.ci_low <= t <= h.ci_high, "verdict": h.verdict,
                         "right_sign": (h.verdict == "negative") == (t < 0)
                         if h.significant else None})
    d = pd.DataFrame(rows)
    assert len(d) == 20 * 8 and (d["verdict"] != "not estimable").all()
    by = d.groupby("key")
    assert 0.88 <= d["covered"].mean() <= 0.99
    assert (by["covered"].mean() >= 0.75).all(), by["covered"].mean()
    bias = by.apply(lambda g: abs(g["estimate"].mean() - g["truth"].iloc[0])
                    / (g["estimate"].std() / np.sqrt(len(g))), include_groups=False)
    assert (bias < 3.5).all(), bias
    for key in ("role_gap.importance_alignment", "role_gap.shared_understanding_own",
                "role_gap.bypass_standards"):
        assert (d.loc[d["key"] == key, "verdict"] == "negative").mean() >= 0.9, key
    assert d["right_sign"].dropna().all()  # no signed verdict with the wrong sign
    trust = d[d["key"] == "role_gap.mutual_trust"]
    assert (trust["estimate"] < 0).mean() >= 0.8


def test_small_samples_are_exploratory_or_not_estimable(cb) -> None:
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(firms=300, ledger_rows=0),
                                         codebook=cb)
    firms = survey["firm_id"].drop_duplicates()
    mid = survey[survey["firm_id"].isin(firms.iloc[:20])]
    rows = role_gaps.headlines(mid, cb)
    assert rows and all(h.verdict == "exploratory" for h in rows)
    assert all("no verdict in words" in h.reading and "Bell–McCaffrey" in h.reading
               for h in rows)
    tiny = survey[survey["firm_id"].isin(firms.iloc[:6])]
    rows = role_gaps.headlines(tiny, cb)
    assert rows and all(h.verdict == "not estimable" for h in rows)
    assert all(f"at least {role_gaps.MIN_CLUSTERS}" in h.reading or "fewer than" in h.reading
               for h in rows)


def test_not_comparable_constructs_are_not_estimated_and_unasked_ones_absent(cb) -> None:
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(firms=120, ledger_rows=0),
                                         codebook=cb)
    survey = survey.drop(columns=["trust_1", "trust_2", "trust_3"])
    reason = "not comparable: intercepts differ between roles"
    rows = {h.key: h for h in role_gaps.headlines(
        survey, cb, comparable={"speed_friction": reason, "mutual_trust": True,
                                "disconnect_index": False})}
    assert "role_gap.mutual_trust" not in rows  # not asked
    assert "role_gap.requirements_friction" not in rows  # different items: item level only
    assert rows["role_gap.speed_friction"].verdict == "not estimable"
    assert reason in rows["role_gap.speed_friction"].reading
    assert rows["role_gap.disconnect_index"].verdict == "not estimable"
    assert rows["role_gap.bypass_standards"].verdict in hl.VERDICTS[:4]
    table = role_gaps.table(list(rows.values()))
    assert list(table.columns) == role_gaps.TABLE_COLUMNS and len(table) == len(rows)


def test_comparable_from_the_measurement_verdicts() -> None:
    verdicts = pd.DataFrame({"construct": ["a", "b"], "comparable": [True, False],
                             "reason": ["comparable: scalar", "not comparable: x"]})
    assert role_gaps.comparable_from(verdicts, False, "not comparable: y") == {
        "a": True, "b": "not comparable: x", "disconnect_index": "not comparable: y"}


def test_protect_withholds_a_headline_nested_in_the_pairs_by_a_few_respondents(cb) -> None:
    """12 complete pairs plus 2 lone CMOs: the all-respondent means beside the pair means would
    reveal the two; the headline row is withheld (numbers and reading), the pairs stay."""
    survey, _ = simulate.simulate_survey(simulate.SimulationConfig(firms=200, ledger_rows=0),
                                         codebook=cb)
    roles = survey.groupby(["firm_id", "wave"], observed=True)["role"].agg(
        lambda r: "".join(sorted(map(str, r))))
    pairs = roles[roles == "CIOCMO"].index[:12]
    lone = roles[roles == "CMO"].index[:2]
    keys = pd.MultiIndex.from_frame(survey[["firm_id", "wave"]].astype(object))
    small = survey[keys.isin(list(pairs) + list(lone))].reset_index(drop=True)
    frame = indicators.respondent_frame(small, cb)
    compared = indicators.compare_roles(frame, ["mutual_trust"], conf=0.95)
    rows = [h for h in role_gaps.headlines(small, cb) if h.key == "role_gap.mutual_trust"]
    assert rows[0].verdict == "exploratory"
    shown, sens = role_gaps.protect(rows, compared[compared["method"] == "paired"], 5)
    assert shown.loc[0, "verdict"] == "withheld" and pd.isna(shown.loc[0, "estimate"])
    assert pd.isna(shown.loc[0, "mean_cmo"]) and "withheld" in shown.loc[0, "reading"]
    assert str(round(rows[0].estimate, 2)) not in shown.loc[0, "reading"]
    assert sens["difference"].notna().all()  # 12 pairs: shown


def test_p_values_and_verdicts_read_in_the_reader_language() -> None:
    """p in the journal style of each language; verdict codes shown as words, never as codes."""
    assert [hl.format_p(p) for p in (0.0004, 0.0123, 0.5, 1.0)] == ["< .001", ".012", ".500",
                                                                    "1.000"]
    assert [hl.format_p(p, "DE") for p in (0.0004, 0.0123, 1.0)] == ["< 0,001", "0,012", "1,000"]
    assert hl.p_phrase(0.0123, "DA") == "p = 0,012" and hl.p_phrase(None) == "p = –"
    for code in hl.VERDICTS:
        for language in ("EN", "DE", "NL", "DA"):
            words = hl.verdict_words(code, language)
            assert words and words != code or code == "not estimable" and language == "EN"
    assert hl.verdict_words("negative", "DE", difference=True) == "CIOs höher"
    assert hl.verdict_words("positive", "EN", difference=True) == "CMOs higher"
    assert hl.verdict_words("withheld", "NL") != "withheld"
