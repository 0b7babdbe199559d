"""Agreement within the pair: how far the CMO and the CIO of one firm-wave see things alike.

A *pair* is a complete dyad as :func:`helpers.indicators.dyads` forms it: a firm-wave with exactly
one CMO and exactly one CIO. Per construct, on the items asked of *both* roles (reverse-keyed
items scored as ``min + max - value``) and on the pairs in which both executives answered every
one of those items:

* **ICC(1) and ICC(2)** from a one-way ANOVA with pairs as groups (Bliese 2000). With ``MSB`` the
  between-pair and ``MSW`` the within-pair mean square of the construct score and ``k`` the
  group size (the mean group size for unbalanced groups, as Bliese's ``multilevel::ICC1``):
  ``ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW)`` and ``ICC(2) = (MSB - MSW) / MSB = 1 - 1/F``.
  For pairs, ``k = 2``: ``ICC(1) = (MSB - MSW) / (MSB + MSW)``, the reliability of one
  executive's score as a measure of the firm's, and ``ICC(2) = (MSB - MSW) / MSB``, that of
  the pair's mean. ICC(1) equals Shrout & Fleiss's (1979) ICC(1,1) and ICC(2) their ICC(1,k).
  The ANOVA ignores role, so a systematic CMO−CIO difference lowers both: agreement is on the
  absolute level. ``F = MSB / MSW`` is tested on ``(n - 1, n (k - 1))`` degrees of freedom.
* **r_wg(j)** (James, Demaree & Wolf 1984) per pair, summarised over pairs (mean, median, share
  ≥ .70): ``r_wg(j) = J (1 - s̄²/σ²_E) / (J (1 - s̄²/σ²_E) + s̄²/σ²_E)`` with ``s̄²`` the mean over
  the ``J`` items of the pair's item variances (``ddof = 1``; for two raters
  ``s² = (x_CMO - x_CIO)² / 2``) and ``σ²_E`` the variance expected under no agreement. The
  default null is the uniform (rectangular) distribution, ``σ²_EU = (A² - 1) / 12`` for ``A``
  response options; ``null="slight_skew"`` (and the other LeBreton & Senter 2008 nulls) uses
  their Table 2 variances, e.g. 1.34 for five options (James et al.'s slightly skewed
  proportions .05/.15/.20/.35/.25). **Truncation rule**: when ``s̄² > σ²_E`` (more disagreement
  than the null) ``s̄²`` is set to ``σ²_E``, so r_wg(j) = 0 (James, Demaree & Wolf 1984;
  LeBreton & Senter 2008; as ``multilevel::rwg.j``); r_wg(j) therefore lies in [0, 1].
* **Gaps**: mean absolute CMO − CIO difference of the construct score and the share of pairs
  one scale point or more apart.

**Perception accuracy** (:func:`perception_accuracy`): the codebook's meta-perception constructs
(``<base>_predicted``, "predicted counterpart view", whose items ask what the *other* function
would answer) are matched to their ``<base>_own`` construct; item *i* of one is matched with item
*i* of the other. Accuracy of role R's prediction = Pearson correlation (Fisher-z CI) and mean
absolute error between R's prediction and the counterpart's own answer, plus the mean signed
error (prediction − actual, > 0 = the counterpart is predicted to agree more than they do).
:func:`prediction_accuracy` is the same statistic for any two aligned series.

Privacy: a construct (or accuracy row) analysed over fewer than ``min_cell`` pairs is withheld
(its statistics blank, its count shown as ``<min_cell`` by
:func:`helpers.privacy.suppress_small_groups`, a note says why), never shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.i18n import N_, _, ngettext
from helpers.privacy import DEFAULT_MIN_CELL, suppress_small_groups
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

ROLES: tuple[str, str] = ("CMO", "CIO")

# LeBreton & Senter (2008), Table 2: variances of the null response distributions by number of
# response options A (uniform = (A² − 1)/12; "slight_skew" etc. as printed there).
NULL_VARIANCES: dict[str, dict[int, float]] = {
    "slight_skew": {5: 1.34, 6: 1.85, 7: 2.90, 8: 3.47, 9: 5.66, 10: 6.30, 11: 7.31},
    "moderate_skew": {5: 0.90, 6: 1.26, 7: 2.14, 8: 2.79, 9: 4.73, 10: 5.09, 11: 6.32},
    "heavy_skew": {5: 0.44, 6: 0.69, 7: 1.39, 8: 2.35, 9: 3.16, 10: 3.46, 11: 4.02},
    "triangular": {5: 1.32, 6: 1.45, 7: 2.10, 8: 2.81, 9: 3.00, 10: 2.89, 11: 3.32},
    "normal": {5: 1.04, 6: 1.25, 7: 1.40, 8: 1.73, 9: 1.58, 10: 1.45, 11: 1.40},
}
# James, Demaree & Wolf (1984): a slightly skewed five-point null (proportions of options 1..5).
SLIGHT_SKEW_5 = (0.05, 0.15, 0.20, 0.35, 0.25)
RWG_STRONG = 0.70  # conventional cut-off for "strong" agreement (LeBreton & Senter 2008)

AGREEMENT_COLUMNS = [
    "construct", "label", "items", "n_items", "n_pairs", "icc1", "icc2", "f", "df1", "df2",
    "p_value", "msb", "msw", "rwg_j_mean", "rwg_j_median", "share_rwg_j_strong",
    "null_variance", "mean_abs_gap", "share_gap_1plus", "note",
]
VALUE_COLUMNS = AGREEMENT_COLUMNS[5:-1]
ACCURACY_COLUMNS = ["predictor_role", "target_role", "predicted", "actual", "level", "n_pairs",
                    "r", "r_ci_low", "r_ci_high", "mae", "mean_error", "share_exact", "note"]

labels.register({
    "icc1": N_("ICC(1)"), "icc2": N_("ICC(2)"), "f": N_("F"),
    "df1": N_("df (between)"), "df2": N_("df (within)"), "msb": N_("Mean square between pairs"),
    "msw": N_("Mean square within pairs"), "rwg_j_mean": N_("rWG(J), mean"),
    "rwg_j_median": N_("rWG(J), median"), "share_rwg_j_strong": N_("Share rWG(J) ≥ 0.70"),
    "null_variance": N_("Null variance"), "mean_abs_gap": N_("Mean absolute gap"),
    "share_gap_1plus": N_("Share 1+ point apart"),
    "predictor_role": N_("Predicting"), "target_role": N_("Predicted role"),
    "r_ci_low": N_("r, CI lower"), "r_ci_high": N_("r, CI upper"),
    "share_exact": N_("Share exact"),
}, counts={"n_items", "n_pairs", "df1", "df2"})


# --------------------------------------------------------------------------- statistics
def anova_oneway(values: Any, groups: Any) -> dict[str, float]:
    """One-way ANOVA mean squares of ``values`` by ``groups``: ``msb``, ``msw``, their degrees of
    freedom, ``k`` (mean group size, N / number of groups), ``f`` and its ``p_value``."""
    frame = pd.DataFrame({"y": np.asarray(values, dtype=float), "g": np.asarray(groups)})
    frame = frame.dropna()
    grouped = frame.groupby("g", sort=False)["y"]
    n_groups, n = grouped.ngroups, len(frame)
    if n_groups < 2 or n <= n_groups:
        raise ValueError("needs at least two groups and one group with two or more members")
    means, sizes = grouped.transform("mean"), grouped.size()
    grand = frame["y"].mean()
    ssb = float((sizes * (grouped.mean() - grand) ** 2).sum())
    ssw = float(((frame["y"] - means) ** 2).sum())
    df1, df2 = n_groups - 1, n - n_groups
    msb, msw = ssb / df1, ssw / df2
    f = msb / msw if msw > 0 else (np.inf if msb > 0 else np.nan)
    p = float(stats.f.sf(f, df1, df2)) if np.isfinite(f) else (0.0 if msb > 0 else np.nan)
    return {"msb": msb, "msw": msw, "df1": df1, "df2": df2, "k": n / n_groups, "f": f,
            "p_value": p}


def icc1(values: Any, groups: Any) -> float:
    """ICC(1) (Bliese 2000): ``(MSB − MSW) / (MSB + (k − 1) MSW)`` from a one-way ANOVA of
    ``values`` by ``groups``, ``k`` the mean group size. For pairs (k = 2):
    ``(MSB − MSW) / (MSB + MSW)``. Equals Shrout & Fleiss's ICC(1,1); may be negative."""
    a = anova_oneway(values, groups)
    return (a["msb"] - a["msw"]) / (a["msb"] + (a["k"] - 1) * a["msw"])


def icc2(values: Any, groups: Any) -> float:
    """ICC(2) (Bliese 2000): ``(MSB − MSW) / MSB``, the reliability of group means (Shrout &
    Fleiss's ICC(1,k)); for pairs the reliability of the CMO–CIO mean."""
    a = anova_oneway(values, groups)
    return (a["msb"] - a["msw"]) / a["msb"]


def null_variance(options: int, null: str | float = "uniform") -> float:
    """σ²_E, the variance of ratings expected under no agreement, for ``options`` response
    options: ``"uniform"`` → ``(A² − 1) / 12``; a LeBreton & Senter (2008) null by name
    (``"slight_skew"``, ``"moderate_skew"``, ``"heavy_skew"``, ``"triangular"``, ``"normal"``;
    5 to 11 options); or a number used as is."""
    if isinstance(null, (int, float)) and not isinstance(null, bool):
        if null <= 0:
            raise ValueError("a null variance must be positive")
        return float(null)
    if null == "uniform":
        return (options ** 2 - 1) / 12
    if null not in NULL_VARIANCES:
        raise ValueError(f"unknown null {null!r}: uniform, {', '.join(NULL_VARIANCES)} or a number")
    table = NULL_VARIANCES[null]
    if options not in table:
        raise ValueError(f"LeBreton & Senter's {null} null is tabled for 5 to 11 options; "
                         f"got {options} (pass the variance as a number)")
    return table[options]


def distribution_variance(proportions: Sequence[float], values: Sequence[float] | None = None
                          ) -> float:
    """Variance of a discrete null distribution (e.g. :data:`SLIGHT_SKEW_5` → 1.34)."""
    p = np.asarray(proportions, dtype=float)
    x = np.arange(1, len(p) + 1, dtype=float) if values is None else np.asarray(values, float)
    p = p / p.sum()
    mean = float((p * x).sum())
    return float((p * (x - mean) ** 2).sum())


def rwg(ratings: Any, sigma2_e: float) -> float:
    """Single-item r_wg = ``1 − s²/σ²_E`` for one group's ratings (``s²`` with ddof = 1),
    truncated to 0 when ``s² > σ²_E``; NaN for fewer than two ratings."""
    x = np.asarray(ratings, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return np.nan
    s2 = min(float(np.var(x, ddof=1)), sigma2_e)
    return 1 - s2 / sigma2_e


def rwg_j(ratings: Any, sigma2_e: float) -> float:
    """Multi-item r_wg(j) (James, Demaree & Wolf 1984) for one group: ``ratings`` is raters ×
    J items; ``J (1 − s̄²/σ²_E) / (J (1 − s̄²/σ²_E) + s̄²/σ²_E)`` with ``s̄²`` the mean item
    variance (ddof = 1), set to ``σ²_E`` when larger (truncation: r_wg(j) = 0). NaN for fewer
    than two raters."""
    x = np.asarray(ratings, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    x = x[~np.isnan(x).any(axis=1)]
    if len(x) < 2:
        return np.nan
    j = x.shape[1]
    ratio = min(float(np.var(x, axis=0, ddof=1).mean()), sigma2_e) / sigma2_e
    return j * (1 - ratio) / (j * (1 - ratio) + ratio)


def rwg_j_groups(items: pd.DataFrame, groups: Any, sigma2_e: float) -> pd.Series:
    """r_wg(j) of every group (rows of ``items`` with the same ``groups`` value), listwise."""
    values = items.to_numpy(dtype=float)
    keys = pd.Series(np.asarray(groups), index=items.index)
    ok = ~np.isnan(values).any(axis=1) & keys.notna().to_numpy()
    out = {g: rwg_j(values[ok][(keys[ok] == g).to_numpy()], sigma2_e)
           for g in pd.unique(keys[ok])}
    return pd.Series(out, name="rwg_j", dtype=float)


def prediction_accuracy(predicted: Any, actual: Any, conf: float = 0.95) -> dict[str, float]:
    """Accuracy of predictions of another person's answers: ``n``, Pearson ``r`` with a
    Fisher-z CI, ``mae`` (mean absolute error), ``mean_error`` (predicted − actual) and
    ``share_exact`` (same scale point), on the complete pairs."""
    p, a = np.asarray(predicted, dtype=float), np.asarray(actual, dtype=float)
    ok = ~(np.isnan(p) | np.isnan(a))
    p, a = p[ok], a[ok]
    n = len(p)
    out = {"n": n, "r": np.nan, "r_ci_low": np.nan, "r_ci_high": np.nan,
           "mae": float(np.mean(np.abs(p - a))) if n else np.nan,
           "mean_error": float(np.mean(p - a)) if n else np.nan,
           "share_exact": float(np.mean(np.isclose(p, a))) if n else np.nan}
    if n >= 3 and np.std(p) > 0 and np.std(a) > 0:
        r = float(np.corrcoef(p, a)[0, 1])
        out["r"] = r
        if n > 3 and abs(r) < 1:
            z, half = np.arctanh(r), stats.norm.ppf((1 + conf) / 2) / np.sqrt(n - 3)
            out["r_ci_low"], out["r_ci_high"] = float(np.tanh(z - half)), float(np.tanh(z + half))
    return out


# --------------------------------------------------------------------------- survey level
def _codebook(codebook: Any) -> Any:
    if codebook is None:
        from helpers.codebook import load_codebook
        return load_codebook()
    return codebook


def shared_items(survey: pd.DataFrame, codebook: Any, construct: str) -> list[str]:
    """The construct's items asked of both roles and present (answered) in ``survey``."""
    present = codebook.items_present(survey, construct)
    return [i for i in present if all(r in codebook.items[i].roles for r in ROLES)]


def _pairs(survey: pd.DataFrame, items: list[str], codebook: Any) -> pd.DataFrame:
    """Complete dyads, wide, with the items reverse-keyed; pairs missing any item dropped."""
    from helpers.indicators import dyads

    keyed = survey.copy()
    for i in items:
        keyed[i] = codebook.items[i].score(pd.to_numeric(keyed[i], errors="coerce"))
    wide = dyads(keyed, items)
    cols = [f"{i}_{r.lower()}" for i in items for r in ROLES]
    return wide.dropna(subset=cols).reset_index(drop=True)


def _predicted_constructs(codebook: Any) -> dict[str, str]:
    """Meta-perception constructs → the construct they predict (``x_predicted`` → ``x_own``)."""
    out = {}
    for cid in codebook.constructs:
        if cid.endswith("_predicted"):
            base = cid[: -len("_predicted")] + "_own"
            if base in codebook.constructs:
                out[cid] = base
    return out


def _default_constructs(survey: pd.DataFrame, codebook: Any) -> list[str]:
    predicted = set(_predicted_constructs(codebook))
    return [c for c in codebook.constructs_present(survey)
            if c not in predicted and not codebook.is_binary(c)]


def pair_agreement(survey: pd.DataFrame, codebook: Any = None,
                   constructs: Iterable[str] | None = None, min_cell: int = DEFAULT_MIN_CELL,
                   null: str | float = "uniform") -> pd.DataFrame:
    """Agreement within the CMO–CIO pair, one row per construct (columns
    :data:`AGREEMENT_COLUMNS`): ICC(1), ICC(2) with the ANOVA F test, r_wg(j) summarised over
    pairs (null ``null``; see the module docstring for formulas and the truncation rule), the
    mean absolute gap and the share of pairs ≥ 1 scale point apart.

    ``constructs`` defaults to every rating-scale construct the survey asked, except the
    meta-perception ("predicted counterpart view") constructs, which
    :func:`perception_accuracy` handles. A construct whose items differ by role, or analysed
    over fewer than ``min_cell`` pairs, keeps its row with blank statistics and a note.
    """
    cb = _codebook(codebook)
    wanted = _default_constructs(survey, cb) if constructs is None else list(constructs)
    rows = []
    for cid in wanted:
        if cid not in cb.constructs:
            raise KeyError(f"{cid!r} is not a construct of the codebook")
        row: dict[str, Any] = dict.fromkeys(AGREEMENT_COLUMNS, np.nan)
        row.update(construct=cid, label=cb.label(cid), note="")
        items = shared_items(survey, cb, cid)
        row.update(items=", ".join(items), n_items=len(items))
        if not items:
            row.update(n_pairs=0, note=_("no item asked of both roles: the CMO and the CIO "
                                        "answer different questions, so there is no pair "
                                        "agreement"))
            rows.append(row)
            continue
        if not {"firm_id", "role", "wave"} <= set(survey.columns):
            raise KeyError("pair agreement needs firm_id, role and wave columns")
        wide = _pairs(survey, items, cb)
        n = len(wide)
        row["n_pairs"] = n
        if n < max(min_cell, 2):
            row["note"] = _("withheld: fewer than {minimum} pairs in which both executives "
                            "answered every shared item").format(
                                minimum=i18n.integer(max(min_cell, 2)))
            rows.append(row)
            continue
        scale = cb.items[items[0]].scale
        sigma2 = null_variance(scale.max - scale.min + 1, null)
        cmo = wide[[f"{i}_cmo" for i in items]].to_numpy(float)
        cio = wide[[f"{i}_cio" for i in items]].to_numpy(float)
        s_cmo, s_cio = cmo.mean(axis=1), cio.mean(axis=1)
        a = anova_oneway(np.concatenate([s_cmo, s_cio]), np.tile(np.arange(n), 2))
        # r_wg(j) per pair: item variances of two raters are (x1 - x2)^2 / 2.
        mean_var = ((cmo - cio) ** 2 / 2).mean(axis=1)
        ratio = np.minimum(mean_var, sigma2) / sigma2
        j = len(items)
        rwgs = j * (1 - ratio) / (j * (1 - ratio) + ratio)
        gap = np.abs(s_cmo - s_cio)
        varies = a["msb"] > 0
        row.update(
            icc1=(a["msb"] - a["msw"]) / (a["msb"] + a["msw"]) if varies else np.nan,
            icc2=(a["msb"] - a["msw"]) / a["msb"] if varies else np.nan,
            f=a["f"] if varies else np.nan, df1=a["df1"], df2=a["df2"],
            p_value=a["p_value"] if varies else np.nan, msb=a["msb"], msw=a["msw"],
            rwg_j_mean=float(rwgs.mean()), rwg_j_median=float(np.median(rwgs)),
            share_rwg_j_strong=float((rwgs >= RWG_STRONG).mean()), null_variance=sigma2,
            mean_abs_gap=float(gap.mean()), share_gap_1plus=float((gap >= 1 - 1e-9).mean()))
        notes = []
        asked = cb.items_present(survey, cid)
        if len(items) < len(asked):
            notes.append(ngettext(
                "only {shared} of its {asked} items is asked of both roles; agreement is on it",
                "only {shared} of its {asked} items are asked of both roles; agreement is on "
                "those", len(items)).format(shared=i18n.integer(len(items)),
                                            asked=i18n.integer(len(asked))))
        if not varies:
            notes.append(_("the pairs' scores do not vary between pairs: no ICC"))
        if any(cb.items[i].scale.id != scale.id for i in items):
            notes.append(_("items on different scales: rWG(J) uses the first item's scale"))
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = suppress_small_groups(pd.DataFrame(rows, columns=AGREEMENT_COLUMNS), ["n_pairs"],
                                VALUE_COLUMNS, min_cell)
    out.attrs["null"] = null
    return out


def perception_accuracy(survey: pd.DataFrame, codebook: Any = None,
                        min_cell: int = DEFAULT_MIN_CELL, conf: float = 0.95) -> pd.DataFrame:
    """How well each executive predicts the counterpart's answers (columns
    :data:`ACCURACY_COLUMNS`), per direction (CMO predicts CIO, CIO predicts CMO), for the
    construct score (``level="construct"``, mean of the matched items) and each matched item.

    Uses the codebook's ``<base>_predicted`` constructs matched to ``<base>_own`` (item i with
    item i); an empty table when the codebook or the survey has none. Rows over fewer than
    ``min_cell`` pairs are withheld with a note.
    """
    cb = _codebook(codebook)
    rows = []
    for pred_c, own_c in _predicted_constructs(cb).items():
        p_items = shared_items(survey, cb, pred_c)
        o_items = shared_items(survey, cb, own_c)
        all_p, all_o = cb.item_ids(pred_c), cb.item_ids(own_c)
        matched = [(p, o) for p, o in zip(all_p, all_o, strict=False)
                   if p in p_items and o in o_items]
        if not matched:
            continue
        items = [x for pair in matched for x in pair]
        from helpers.indicators import dyads
        keyed = survey.copy()
        for i in items:
            keyed[i] = cb.items[i].score(pd.to_numeric(keyed[i], errors="coerce"))
        wide = dyads(keyed, items)
        for me, other in (ROLES, ROLES[::-1]):
            m, o = me.lower(), other.lower()
            units = [("construct", pred_c, own_c, [p for p, _q in matched],
                      [q for _p, q in matched])]
            units += [("item", p, q, [p], [q]) for p, q in matched]
            for level, pname, oname, pcols, ocols in units:
                pv = wide[[f"{c}_{m}" for c in pcols]]
                ov = wide[[f"{c}_{o}" for c in ocols]]
                ok = pv.notna().all(axis=1).to_numpy() & ov.notna().all(axis=1).to_numpy()
                acc = prediction_accuracy(pv.mean(axis=1)[ok], ov.mean(axis=1)[ok], conf)
                row = {"predictor_role": me, "target_role": other, "predicted": pname,
                       "actual": oname, "level": level, "n_pairs": acc["n"],
                       "r": acc["r"], "r_ci_low": acc["r_ci_low"], "r_ci_high": acc["r_ci_high"],
                       "mae": acc["mae"], "mean_error": acc["mean_error"],
                       "share_exact": acc["share_exact"] if level == "item" else np.nan,
                       "note": ""}
                if acc["n"] < max(min_cell, 1):
                    for c in ("r", "r_ci_low", "r_ci_high", "mae", "mean_error", "share_exact"):
                        row[c] = np.nan
                    row["note"] = _("withheld: fewer than {minimum} pairs answered both").format(
                        minimum=i18n.integer(min_cell))
                rows.append(row)
    return suppress_small_groups(pd.DataFrame(rows, columns=ACCURACY_COLUMNS), ["n_pairs"],
                                 ACCURACY_COLUMNS[6:-1], min_cell)


__all__ = [
    "ACCURACY_COLUMNS", "AGREEMENT_COLUMNS", "NULL_VARIANCES", "RWG_STRONG", "SLIGHT_SKEW_5",
    "agreement_reading", "anova_oneway", "distribution_variance", "icc1", "icc2",
    "null_variance", "pair_agreement",
    "perception_accuracy", "prediction_accuracy", "rwg", "rwg_j", "rwg_j_groups",
    "shared_items",
]


def agreement_reading(table: pd.DataFrame) -> str:
    """:func:`pair_agreement` in words, from its numbers: the constructs on which the two
    executives of a firm agree most and least (ICC(1)), how many ICC(1)s are distinguishable from
    zero (the ANOVA F test at .05), and the share of pairs one scale point or more apart. In the
    current language."""
    rows = table.dropna(subset=["icc1"])
    if rows.empty:
        return _("No agreement statistic in this segment: every construct was withheld or not "
                 "estimable (the table's notes say why).")
    hi, lo = rows.loc[rows["icc1"].idxmax()], rows.loc[rows["icc1"].idxmin()]
    clear = int((rows["p_value"] < 0.05).sum())
    text = _("Within a firm, the CMO's and the CIO's answers agree most on {high} (ICC(1) = "
             "{high_icc}, {high_share} of pairs one scale point or more apart) and least on "
             "{low} (ICC(1) = {low_icc}, {low_share} apart).").format(
                 high=hi["label"], high_icc=i18n.number(hi["icc1"], 2),
                 high_share=i18n.percent(100 * hi["share_gap_1plus"], 0), low=lo["label"],
                 low_icc=i18n.number(lo["icc1"], 2),
                 low_share=i18n.percent(100 * lo["share_gap_1plus"], 0))
    if clear == len(rows):
        tail = ngettext("{clear} of {total} construct shows agreement within pairs beyond chance "
                        "(F test, p < .05).",
                        "{clear} of {total} constructs show agreement within pairs beyond "
                        "chance (F test, p < .05).", len(rows))
    else:
        tail = ngettext("{clear} of {total} construct shows agreement within pairs beyond chance "
                        "(F test, p < .05); for the others the data cannot tell the two "
                        "executives' answers from those of two respondents of different firms.",
                        "{clear} of {total} constructs show agreement within pairs beyond chance "
                        "(F test, p < .05); for the others the data cannot tell the two "
                        "executives' answers from those of two respondents of different firms.",
                        len(rows))
    return text + " " + tail.format(clear=i18n.integer(clear), total=i18n.integer(len(rows)))
