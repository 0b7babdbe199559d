"""Tests for helpers.indicators: known answers, scipy agreement, dyad identification, recovery."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from helpers.indicators import (
    COMPARE_COLUMNS,
    compare_roles,
    disconnect_index,
    respondent_frame,
    dyad_gap,
    dyads,
    reading,
    top_box_shares,
    wilson_interval,
)


def survey(rows: list[tuple[str, str, int, dict[str, float]]]) -> pd.DataFrame:
    """A processed-survey-shaped frame from (firm, role, wave, {column: value}) tuples."""
    df = pd.DataFrame([{"respondent_id": f"r{i}", "firm_id": firm, "role": role, "wave": wave,
                        **values} for i, (firm, role, wave, values) in enumerate(rows)])
    df["role"] = pd.Categorical(df["role"], categories=["CMO", "CIO"])
    df["wave"] = df["wave"].astype("Int64")
    return df


# --------------------------------------------------------------------------- Wilson
def wilson_textbook(x: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) in Newcombe's (1998) closed form, written independently of the module."""
    q = 1 - x / n
    a, b = 2 * n * (x / n) + z * z, z * math.sqrt(z * z + 4 * n * (x / n) * q)
    return (a - b) / (2 * (n + z * z)), (a + b) / (2 * (n + z * z))


@pytest.mark.parametrize("x, n, low, high", [
    (81, 263, 0.2553, 0.3662),   # Newcombe 1998, Table I, example (a)
    (15, 148, 0.0624, 0.1605),   # example (b)
    (0, 20, 0.0000, 0.1611),     # example (c)
    (1, 29, 0.0061, 0.1718),     # example (d)
])
def test_wilson_newcombe_known_answers(x: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(x, n)
    assert got == pytest.approx((low, high), abs=5e-5)
    assert got == pytest.approx(wilson_textbook(x, n), abs=1e-12)


def test_wilson_vectorised_other_levels_and_edges() -> None:
    x, n = np.array([0, 3, 10, 10]), np.array([10, 10, 10, 40])
    low, high = wilson_interval(x, n, conf=0.9)
    z90 = stats.norm.ppf(0.95)
    for i in range(len(x)):
        assert (low[i], high[i]) == pytest.approx(wilson_textbook(x[i], n[i], z90), abs=1e-12)
    assert low[0] == 0.0 and high[2] == 1.0           # 0 of n and n of n hit the bounds exactly
    assert 0 < wilson_interval(0, 10)[1] < 1 and 0 < wilson_interval(10, 10)[0] < 1
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


# --------------------------------------------------------------------------- top-box shares
def test_top_box_shares_counts_as_worded(cb) -> None:
    df = survey([("f1", "CMO", 1, {"imp_1": 5, "trust_3": 4, "req_2": np.nan}),
                 ("f1", "CIO", 1, {"imp_1": 3, "trust_3": 5, "req_2": 4}),
                 ("f2", "CMO", 1, {"imp_1": 4, "trust_3": 1, "req_2": np.nan}),
                 ("f2", "CIO", 1, {"imp_1": np.nan, "trust_3": 2, "req_2": 2})])
    out = top_box_shares(df, cb, items=["imp_1", "trust_3", "req_2"]).set_index(["item", "role"])
    assert list(out.index) == [("imp_1", "CMO"), ("imp_1", "CIO"), ("trust_3", "CMO"),
                               ("trust_3", "CIO"), ("req_2", "CIO")]  # req_2 is asked of CIOs only
    assert out.loc[("imp_1", "CMO"), ["n", "n_agree", "share"]].tolist() == [2, 2, 1.0]
    assert out.loc[("imp_1", "CIO"), ["n", "n_agree", "share"]].tolist() == [1, 0, 0.0]
    # trust_3 is reverse-keyed, but the share is of agreement with the statement as worded
    assert out.loc[("trust_3", "CMO"), "n_agree"] == 1
    assert out.loc[("trust_3", "CIO"), "n_agree"] == 1
    assert out.loc[("imp_1", "CMO"), ["ci_low", "ci_high"]].tolist() == \
        pytest.approx(wilson_interval(2, 2))
    assert out.loc[("imp_1", "CMO"), "label"] == cb.label("imp_1")
    pooled = top_box_shares(df, cb, items="imp_1", by=None)
    assert pooled[["group", "n", "n_agree"]].values.tolist() == [["all", 3, 2]]


def test_top_box_shares_unknown_item(cb) -> None:
    with pytest.raises(KeyError, match="not codebook items"):
        top_box_shares(survey([("f1", "CMO", 1, {"x": 1})]), cb, items=["x"])


# --------------------------------------------------------------------------- dyads and comparisons
def dyad_frame() -> pd.DataFrame:
    """Six complete dyads (f5 in two waves), plus singletons and an ambiguous firm."""
    rows = [("f1", "CMO", 1, 4.0), ("f1", "CIO", 1, 3.0),
            ("f2", "CMO", 1, 5.0), ("f2", "CIO", 1, 2.0),
            ("f3", "CIO", 1, 4.5), ("f3", "CMO", 1, 3.5),
            ("f4", "CMO", 1, 2.0), ("f4", "CIO", 1, 2.5),
            ("f5", "CMO", 1, 4.2), ("f5", "CIO", 1, 1.8),
            ("f5", "CMO", 2, 3.9), ("f5", "CIO", 2, 3.1),
            ("f6", "CMO", 1, 4.4), ("f6", "CIO", 1, np.nan),   # dyad, but the CIO skipped
            ("f7", "CMO", 1, 1.5),                             # CMO only
            ("f8", "CIO", 1, 4.8),                             # CIO only
            ("f9", "CMO", 1, 3.3), ("f9", "CMO", 1, 2.2), ("f9", "CIO", 1, 4.1)]  # two CMOs
    return survey([(f, r, w, {"mutual_trust": v}) for f, r, w, v in rows])


PAIRS_CMO = [4.0, 5.0, 3.5, 2.0, 4.2, 3.9]
PAIRS_CIO = [3.0, 2.0, 4.5, 2.5, 1.8, 3.1]


def test_dyads_identifies_complete_pairs() -> None:
    wide = dyads(dyad_frame(), "mutual_trust")
    assert list(wide.columns) == ["firm_id", "wave", "mutual_trust_cmo", "mutual_trust_cio"]
    assert list(zip(wide["firm_id"], wide["wave"], strict=True)) == [
        ("f1", 1), ("f2", 1), ("f3", 1), ("f4", 1), ("f5", 1), ("f5", 2), ("f6", 1)]
    assert wide.loc[wide["firm_id"] == "f3", ["mutual_trust_cmo", "mutual_trust_cio"]].values \
        .tolist() == [[3.5, 4.5]]
    gap = dyad_gap(dyad_frame(), "mutual_trust")
    assert len(gap) == 6  # f6 has no CIO answer
    assert gap["signed_gap"].tolist() == pytest.approx(np.subtract(PAIRS_CMO, PAIRS_CIO))
    assert gap["abs_gap"].tolist() == pytest.approx(np.abs(np.subtract(PAIRS_CMO, PAIRS_CIO)))


def test_compare_roles_matches_scipy() -> None:
    df = dyad_frame()
    tidy = compare_roles(df, ["mutual_trust"])
    assert list(tidy.columns) == COMPARE_COLUMNS
    assert tidy[["variable", "method"]].values.tolist() == [["mutual_trust", "paired"],
                                                            ["mutual_trust", "welch"]]
    out = tidy.set_index("method")
    paired, welch = out.loc["paired"], out.loc["welch"]

    ref = stats.ttest_rel(PAIRS_CMO, PAIRS_CIO)
    ci = ref.confidence_interval(0.95)
    assert paired["n_pairs"] == 6 and paired["n_cmo"] == 6 and paired["n_cio"] == 6
    assert paired["statistic"] == pytest.approx(ref.statistic)
    assert paired["p_value"] == pytest.approx(ref.pvalue)
    assert paired["df"] == 5
    assert (paired["ci_low"], paired["ci_high"]) == pytest.approx((ci.low, ci.high))
    diffs = np.subtract(PAIRS_CMO, PAIRS_CIO)
    assert paired["difference"] == pytest.approx(diffs.mean())
    assert paired["mean_cmo"] == pytest.approx(np.mean(PAIRS_CMO))
    assert paired["effect_size"] == pytest.approx(diffs.mean() / diffs.std(ddof=1))

    cmo = df.loc[df["role"] == "CMO", "mutual_trust"].dropna().to_numpy()
    cio = df.loc[df["role"] == "CIO", "mutual_trust"].dropna().to_numpy()
    assert (len(cmo), len(cio)) == (10, 8)  # singletons and the ambiguous firm count here
    ref = stats.ttest_ind(cmo, cio, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert (welch["n_cmo"], welch["n_cio"]) == (10, 8) and pd.isna(welch["n_pairs"])
    assert welch["statistic"] == pytest.approx(ref.statistic)
    assert welch["p_value"] == pytest.approx(ref.pvalue)
    assert welch["df"] == pytest.approx(ref.df)
    assert (welch["ci_low"], welch["ci_high"]) == pytest.approx((ci.low, ci.high))
    sp = math.sqrt((9 * cmo.var(ddof=1) + 7 * cio.var(ddof=1)) / 16)
    j = math.gamma(8) / (math.sqrt(8) * math.gamma(7.5))
    assert welch["effect_size"] == pytest.approx(j * (cmo.mean() - cio.mean()) / sp)
    assert j == pytest.approx(1 - 3 / (4 * 16 - 1), abs=1e-3)  # Hedges' approximation
    assert welch["effect_ci_low"] < welch["effect_size"] < welch["effect_ci_high"]


def test_effect_ci_inverts_noncentral_t() -> None:
    out = compare_roles(dyad_frame(), "mutual_trust").set_index("method")
    row = out.loc["paired"]
    n, t = 6, row["effect_size"] * math.sqrt(6)
    assert stats.nct.cdf(t, n - 1, row["effect_ci_low"] * math.sqrt(n)) == pytest.approx(0.975)
    assert stats.nct.cdf(t, n - 1, row["effect_ci_high"] * math.sqrt(n)) == pytest.approx(0.025)


def test_adjusted_p_values_per_family() -> None:
    rng = np.random.default_rng(7)
    n = 40
    df = survey([(f"f{i // 2}", "CMO" if i % 2 == 0 else "CIO", 1, {}) for i in range(2 * n)])
    cols = ["a", "b", "c"]
    for k, col in enumerate(cols):
        df[col] = rng.normal(0, 1, len(df)) + k * 0.3 * (df["role"] == "CMO")
    out = compare_roles(df, cols, adjust="holm")
    for method in ("paired", "welch"):
        fam = out.loc[out["method"] == method]
        expected = multipletests(fam["p_value"], method="holm")[1]
        assert fam["p_adjusted"].tolist() == pytest.approx(expected.tolist())
    assert "p_adjusted" not in compare_roles(df, cols).columns


def test_effect_sizes_recovered_on_simulated_data() -> None:
    rng = np.random.default_rng(2024)
    n = 4000
    cio = rng.normal(3.0, 0.8, n)
    cmo = cio + rng.normal(0.4, 1.0, n)   # differences ~ N(0.4, 1): true d_z = 0.4
    df = survey([(f"f{i}", "CMO", 1, {}) for i in range(n)]
                + [(f"f{i}", "CIO", 1, {}) for i in range(n)])
    df["x"] = np.concatenate([cmo, cio])
    # independent groups with a true standardized difference of 0.5
    df["y"] = np.concatenate([rng.normal(0.5, 1, n), rng.normal(0.0, 1, n)])
    out = compare_roles(df, ["x", "y"]).set_index(["variable", "method"])
    dz = out.loc[("x", "paired")]
    se = math.sqrt(1 / n + 0.4**2 / (2 * n))  # large-sample SE of d_z
    assert dz["effect_size"] == pytest.approx(0.4, abs=3 * se)
    assert dz["effect_ci_high"] - dz["effect_ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.02)
    g = out.loc[("y", "welch")]
    se = math.sqrt(2 / n + 0.5**2 / (4 * n))  # large-sample SE of g, equal groups
    assert g["effect_size"] == pytest.approx(0.5, abs=3 * se)
    assert g["effect_ci_high"] - g["effect_ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.02)


def test_effect_ci_coverage_on_small_samples() -> None:
    """Over many simulated small studies the 95 % effect-size CIs cover the true value ~95 %."""
    rng = np.random.default_rng(11)
    n, reps, d_true = 15, 400, 0.6
    df = survey([(f"f{i}", "CMO", 1, {}) for i in range(n)]
                + [(f"f{i}", "CIO", 1, {}) for i in range(n)])
    sims = {}
    for r in range(reps):
        cio = rng.normal(0, 1, n)
        sims[f"p{r}"] = np.concatenate([cio + rng.normal(d_true, 1, n), cio])
        sims[f"w{r}"] = np.concatenate([rng.normal(d_true, 1, n), rng.normal(0, 1, n)])
    df = pd.concat([df, pd.DataFrame(sims)], axis=1)
    out = compare_roles(df, list(sims))
    paired = out.loc[(out["method"] == "paired") & out["variable"].str.startswith("p")]
    welch = out.loc[(out["method"] == "welch") & out["variable"].str.startswith("w")]
    for fam in (paired, welch):
        covered = ((fam["effect_ci_low"] < d_true) & (d_true < fam["effect_ci_high"])).mean()
        assert 0.92 <= covered <= 0.98


def test_compare_roles_too_few_pairs_gives_nan() -> None:
    df = survey([("f1", "CMO", 1, {"v": 1.0}), ("f1", "CIO", 1, {"v": 2.0}),
                 ("f2", "CMO", 1, {"v": 3.0})])
    out = compare_roles(df, "v").set_index("method")
    assert out.loc["paired", "n_pairs"] == 1
    assert out.loc["paired", "difference"] == -1.0
    assert math.isnan(out.loc["paired", "p_value"])
    assert math.isnan(out.loc["welch", "p_value"])  # one CIO only
    with pytest.raises(KeyError, match="not in the frame"):
        compare_roles(df, "missing")


# --------------------------------------------------------------------------- disconnect index
def test_disconnect_index_hand_computed(cb) -> None:
    better = ["importance_alignment", "collaboration_level", "mutual_trust",
              "shared_understanding_own", "shared_understanding_predicted"]
    worse = ["speed_friction", "requirements_friction", "bypass_standards", "data_autonomy"]
    assert sorted(cb.constructs_of_kind("indicator")) == sorted(better + worse)
    nan = np.nan
    scores = pd.DataFrame({
        #            r1   r2   r3   r4
        "importance_alignment":           [5.0, 1.0, 4.0, 2.0],
        "collaboration_level":            [5.0, 1.0, 3.0, nan],
        "mutual_trust":                   [5.0, 1.0, nan, nan],
        "shared_understanding_own":       [5.0, 1.0, 2.0, nan],
        "shared_understanding_predicted": [5.0, 1.0, nan, nan],
        "speed_friction":                 [1.0, 5.0, 4.0, 5.0],
        "requirements_friction":          [1.0, 5.0, nan, 3.0],
        "bypass_standards":               [1.0, 5.0, 2.0, 4.0],
        "data_autonomy":                  [1.0, 5.0, nan, nan],
    }, index=[10, 11, 12, 13])
    got = disconnect_index(pd.DataFrame(index=scores.index), cb, scores=scores)
    # r1: fully aligned -> 1; r2: fully disconnected -> 5
    # r3: 5 of 9 scored: (6-4) + (6-3) + (6-2) + 4 + 2 = 15, / 5 = 3.0
    # r4: 4 of 9 scored (fewer than half) -> NaN
    assert got.name == "disconnect_index"
    assert list(got.index) == [10, 11, 12, 13]
    assert got.iloc[:3].tolist() == pytest.approx([1.0, 5.0, 3.0])
    assert math.isnan(got.iloc[3])
    assert got.attrs["indicators"] == cb.constructs_of_kind("indicator")
    # an indicator missing from the scores (or never scored) was not asked: the index is built
    # from the 8 asked, so r3 (4 of 8 scored) now has one and r4 (3 of 8) still has none
    for asked in (scores.drop(columns="speed_friction"), scores.assign(speed_friction=nan)):
        dropped = disconnect_index(pd.DataFrame(index=scores.index), cb, scores=asked)
        assert "speed_friction" not in dropped.attrs["indicators"]
        assert dropped.loc[12] == pytest.approx((2 + 3 + 4 + 2) / 4)
        assert math.isnan(dropped.loc[13]) and dropped.loc[10] == pytest.approx(1.0)
    # no indicator asked at all: no index
    none = disconnect_index(pd.DataFrame(index=scores.index), cb, scores=scores[[]])
    assert none.isna().all() and none.attrs["indicators"] == []


def test_with_helpers_scales_on_a_valid_survey(cb, survey_factory) -> None:
    scales = pytest.importorskip("helpers.scales")
    if not hasattr(scales, "score"):
        pytest.skip("helpers.scales.score not written yet")
    df = survey_factory(n_firms=6)  # plain-string roles, every firm a complete dyad
    indicators = cb.constructs_of_kind("indicator")
    scores = scales.score(df, cb, constructs=indicators)
    expected = disconnect_index(df, cb, scores=scores)
    pd.testing.assert_series_equal(disconnect_index(df, cb), expected)
    assert expected.notna().all() and expected.between(1, 5).all()
    out = compare_roles(df.join(scores), indicators, adjust="fdr_bh")
    assert len(out) == 2 * len(indicators)
    assert (out.loc[out["method"] == "paired", "n_pairs"] == 6).all()


def test_respondent_frame_scores_a_survey_that_asked_part_of_the_codebook(cb,
                                                                          survey_factory) -> None:
    """Half the indicators asked, one scale shortened: scores, index and attrs follow the data."""
    df = survey_factory(n_firms=6)
    dropped = [i for c in ("mutual_trust", "speed_friction", "data_autonomy", "sales_involvement")
               for i in cb.constructs[c].items] + ["ready_3"]
    short = df.drop(columns=dropped)
    frame = respondent_frame(short, cb)
    assert "mutual_trust" not in frame.columns and "data_readiness" in frame.columns
    assert frame.attrs["missing_items"] == {"data_readiness": ["ready_3"]}
    assert set(frame.attrs["not_asked"]) == {"mutual_trust", "speed_friction", "data_autonomy",
                                             "sales_involvement"}
    assert len(frame.attrs["indicators"]) == 6
    expected = disconnect_index(short, cb)
    pd.testing.assert_series_equal(frame["disconnect_index"], expected)
    assert frame["disconnect_index"].notna().all()
    ready = ((6 - short["ready_1"]) + short["ready_2"]) / 2  # ready_1 is reverse-keyed
    pd.testing.assert_series_equal(frame["data_readiness"], ready, check_names=False)


def test_choose_construct_default_rule_and_not_applicable(cb, survey_factory) -> None:
    from helpers.errors import NotApplicable
    from helpers.indicators import choose_construct

    df = survey_factory(n_firms=6)
    pick = dict(kind="indicator", prefer="shared_understanding_own", both_roles=True)
    assert choose_construct(df, cb, None, **pick) == "shared_understanding_own"
    no_su = df.drop(columns=["su_1", "su_2", "su_3"])
    first = [c for c in cb.constructs_of_kind("indicator") if c != "shared_understanding_own"][0]
    assert choose_construct(no_su, cb, None, **pick) == first
    # asked of CMOs only: not a dyadic predictor
    cmo_only = df.copy()
    cmo_only.loc[cmo_only["role"] == "CIO", ["su_1", "su_2", "su_3"]] = np.nan
    assert choose_construct(cmo_only, cb, None, **pick) == first
    with pytest.raises(NotApplicable, match=r"^needs .*shared_understanding_own.*both the CMO"):
        choose_construct(cmo_only, cb, "shared_understanding_own", **pick)
    outcome = dict(kind="outcome", prefer="joint_project_success", continuous=True)
    no_success = df.drop(columns=["success_1", "success_2"])
    assert choose_construct(no_success, cb, None, **outcome) == "customer_insight"
    bare = no_success.drop(columns=["insight_1", "insight_2", "improved_1"])
    with pytest.raises(NotApplicable, match="needs an outcome construct"):
        choose_construct(bare, cb, None, **outcome)  # fail_1 is yes/no: not a rating
    with pytest.raises(KeyError):
        choose_construct(df, cb, "no_such", **outcome)


def test_tests_the_data_cannot_support_say_why_and_give_no_verdict() -> None:
    """Tiny segments: no complete pair, one answer per role, no variance — a "not estimable"
    note instead of blanks (the count of a small group is not named), and the reading gives no
    verdict without a test."""
    df = survey([("f1", "CMO", 1, {"v": 1.0}), ("f2", "CIO", 1, {"v": 2.0})])
    out = compare_roles(df, "v").set_index("method")
    assert out.loc["paired", "note"] == "not estimable: a paired test needs at least 2 complete pairs"
    assert out.loc["welch", "note"] == ("not estimable: Welch's test needs at least 2 answers "
                                        "per role")
    same = survey([(f"f{i}", role, 1, {"v": 3.0 if role == "CMO" else 2.0})
                   for i in range(4) for role in ("CMO", "CIO")])
    out = compare_roles(same, "v").set_index("method")
    assert out.loc["paired", "difference"] == 1.0 and math.isnan(out.loc["paired", "p_value"])
    assert out.loc["paired", "note"] == ("not estimable: every pair differs by the same amount "
                                         "(no variance in the differences)")
    assert out.loc["welch", "note"] == "not estimable: no variance within either role"
    text = reading(compare_roles(same, "v", adjust="holm"), {"v": "V"})
    assert text == ("On within-firm pairs, no comparison can be reported in this segment (every "
                    "pair differs by the same amount (no variance in the differences)).")
    assert compare_roles(dyad_frame(), "mutual_trust")["note"].eq("").all()


def test_reading_counts_only_the_tests_reported() -> None:
    table = compare_roles(dyad_frame(), "mutual_trust").assign(p_value=[0.001, np.nan])
    table.loc[1, "n_cmo"] = 3  # as if suppressed below the minimum cell size
    text = reading(table, {"mutual_trust": "Mutual trust"}, method="welch")
    assert text == ("On all respondents (Welch), no comparison can be reported in this segment "
                    "(groups below the minimum cell size are not shown).")
    paired = reading(table, {"mutual_trust": "Mutual trust"})
    assert paired.startswith("On within-firm pairs, the only indicator tested differs between "
                             "CMOs and CIOs. Mutual trust: ")
    assert "1 of 1" not in paired
