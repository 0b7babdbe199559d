"""CMO versus CIO on every disconnect indicator: agreement shares, role comparisons, dyads, gaps.

Conventions shared by every function here:

- The survey frame is the processed one (``respondent_id, firm_id, role, wave, ...`` plus item
  columns); construct scores come from :func:`helpers.scales.score` and are joined to it by index
  (``df.join(scores)``) when a function needs ids and scores together.
- A *dyad* is a firm-wave with exactly one CMO and exactly one CIO. Firm-waves with one executive,
  or with two respondents of the same role (ambiguous pairing), are not dyads.
- Differences are always CMO − CIO.
- Results are tidy tables (one row per variable and method), in the manner of R's broom.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.codebook import Codebook, Item, load_codebook
from helpers.headlines import p_phrase
from helpers.i18n import N_, _, ngettext
from helpers import LazyModule, lazy_function

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import optimize, special, stats
    from statsmodels.stats.multitest import multipletests
else:
    optimize = LazyModule("scipy.optimize")
    special = LazyModule("scipy.special")
    stats = LazyModule("scipy.stats")
    multipletests = lazy_function("statsmodels.stats.multitest", "multipletests")

ROLES: tuple[str, str] = ("CMO", "CIO")

COMPARE_COLUMNS = [
    "variable", "method", "n_cmo", "n_cio", "n_pairs", "mean_cmo", "mean_cio", "difference",
    "ci_low", "ci_high", "statistic", "df", "p_value", "effect_size", "effect_ci_low",
    "effect_ci_high", "effect_measure", "note",
]
COUNT_COLUMNS = ["n_cmo", "n_cio", "n_pairs"]
PAIRED_MEASURE = "Cohen's d_z"
WELCH_MEASURE = "Hedges' g"
DISCONNECT_INDEX = "disconnect_index"

MIN_PAIRS = 2
"""Fewest complete CMO–CIO pairs for the paired t-test: the SD of the differences has n - 1
degrees of freedom."""

MIN_PER_ROLE = 2
"""Fewest answers per role for Welch's test: each role's variance needs two."""


# --------------------------------------------------------------------------- shares
def wilson_interval(successes: Any, n: Any, conf: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Newcombe 1998, method 3).

    Works on scalars or arrays; ``n == 0`` gives NaN bounds. Preferred over the Wald interval because
    it stays inside [0, 1] and keeps its coverage for small n and shares near 0 or 1.
    """
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any((x < 0) | (x > m)):
        raise ValueError("successes must lie between 0 and n")
    z = stats.norm.ppf(0.5 + conf / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2))
    low = np.where(x == 0, 0.0, np.clip(centre - half, 0, 1))
    high = np.where(x == m, 1.0, np.clip(centre + half, 0, 1))
    low, high = np.where(m > 0, low, np.nan), np.where(m > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def count_top_box(values: pd.Series, item: Item) -> tuple[int, int]:
    """(n answered, n agreeing): answers in the item's ``top_box`` as worded (never reverse-scored)."""
    v = pd.to_numeric(values, errors="coerce")
    return int(v.notna().sum()), int(v.isin(item.scale.top_box).sum())


def _item_ids(df: pd.DataFrame, cb: Codebook, items: Iterable[str] | None) -> list[str]:
    """The requested items (default: every codebook item present in ``df``), checked."""
    if items is None:
        return [i for i in cb.items if i in df.columns]
    ids = [items] if isinstance(items, str) else list(items)
    unknown = [i for i in ids if i not in cb.items]
    if unknown:
        raise KeyError(f"not codebook items: {', '.join(unknown)}")
    _require(df, ids)
    return ids


def top_box_shares(df: pd.DataFrame, codebook: Codebook | None = None,
                   items: Iterable[str] | None = None, by: str | None = "role",
                   conf: float = 0.95, language: str = "EN") -> pd.DataFrame:
    """Per item and group: n answered, n agreeing (top box), share and its Wilson CI, item label.

    The share is of people agreeing with the statement *as worded* (reverse-keyed items are not
    flipped), so it can be read against published "x % agree" figures. With ``by="role"`` only the
    roles the codebook asks the item of get a row; ``by=None`` pools everyone (group ``"all"``).
    """
    cb = codebook or load_codebook()
    ids = _item_ids(df, cb, items)
    group_col = by or "group"
    groups = [("all", df)] if by is None else list(df.groupby(by, observed=True, sort=True))
    rows = []
    for iid in ids:
        item = cb.items[iid]
        for key, grp in groups:
            if by == "role" and str(key) not in item.roles:
                continue
            n, agree = count_top_box(grp[iid], item)
            rows.append({"item": iid, "construct": item.construct, group_col: key,
                         "n": n, "n_agree": agree, "label": cb.label(iid, language)})
    out = pd.DataFrame(rows, columns=["item", "construct", group_col, "n", "n_agree", "label"])
    return _add_share(out, conf)[["item", "construct", group_col, "n", "n_agree", "share",
                                  "ci_low", "ci_high", "label"]]


def _add_share(table: pd.DataFrame, conf: float) -> pd.DataFrame:
    """Add ``share``, ``ci_low`` and ``ci_high`` (Wilson) from the ``n`` and ``n_agree`` columns."""
    n = table["n"].to_numpy(dtype=float)
    x = table["n_agree"].to_numpy(dtype=float)
    low, high = wilson_interval(x, n, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, x / n, np.nan)
    return table.assign(share=share, ci_low=low, ci_high=high)


# --------------------------------------------------------------------------- dyads
def _require(df: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the frame: {', '.join(missing)} "
                       "(join construct scores to the survey first: df.join(scores))")


def _as_list(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def dyads(df: pd.DataFrame, columns: str | Sequence[str], *, firm: str = "firm_id",
          role: str = "role", wave: str = "wave") -> pd.DataFrame:
    """Complete dyads as a wide frame: one row per firm-wave, ``<col>_cmo`` and ``<col>_cio``.

    Only firm-waves with exactly one CMO and one CIO are kept; values may still be NaN where one
    executive skipped a question. This is the input of the response-surface analysis
    (x = the CMO's view, y = the CIO's view).
    """
    cols = _as_list(columns)
    _require(df, [firm, role, wave, *cols])
    data = df[[firm, wave, *cols]].assign(_role=df[role].astype(str).to_numpy())
    data = data.loc[data["_role"].isin(ROLES)]
    counts = (data.groupby([firm, wave, "_role"]).size().unstack("_role")
              .reindex(columns=list(ROLES)).fillna(0))
    complete = counts.index[(counts["CMO"] == 1) & (counts["CIO"] == 1)]
    data = data.set_index([firm, wave])
    data = data.loc[data.index.isin(complete)]
    wide = data.set_index("_role", append=True)[cols].unstack("_role")
    wide = wide.reindex(columns=pd.MultiIndex.from_product([cols, list(ROLES)]))
    wide.columns = [f"{c}_{r.lower()}" for c, r in wide.columns]
    return wide.sort_index().reset_index()


def dyad_gap(df: pd.DataFrame, column: str, *, firm: str = "firm_id", role: str = "role",
             wave: str = "wave") -> pd.DataFrame:
    """Per dyad with both answers: CMO value, CIO value, signed gap (CMO − CIO) and absolute gap.

    The firm-level disconnect read as a perception gap. Note that a difference score confounds the
    two levels; for outcome models use :func:`dyads` with response-surface analysis instead.
    """
    wide = dyads(df, column, firm=firm, role=role, wave=wave)
    wide = wide.dropna(subset=[f"{column}_cmo", f"{column}_cio"])
    cmo, cio = wide[f"{column}_cmo"], wide[f"{column}_cio"]
    return pd.DataFrame({firm: wide[firm], wave: wide[wave], "variable": column,
                         "cmo": cmo, "cio": cio, "signed_gap": cmo - cio,
                         "abs_gap": (cmo - cio).abs()}).reset_index(drop=True)


# --------------------------------------------------------------------------- comparisons
def _noncentral_t_ci(t: float, df: float, conf: float) -> tuple[float, float]:
    """CI of the noncentrality parameter by inverting the noncentral t CDF at the observed t.

    Finds ncp_lo, ncp_hi with ``nct.cdf(t, df, ncp_lo) = (1 + conf) / 2`` and
    ``nct.cdf(t, df, ncp_hi) = (1 - conf) / 2`` (Steiger & Fouladi 1997). NaN when t is not finite.
    """
    if not (np.isfinite(t) and df > 0):
        return np.nan, np.nan

    def solve(target: float) -> float:
        def f(ncp: float) -> float:
            return float(special.nctdtr(df, ncp, t)) - target  # CDF at t; decreasing in ncp

        half = 1.0 + np.sqrt(1 + t * t / (2 * df))  # about one SD of t around its ncp
        lo, hi = t - half, t + half
        f_lo, f_hi = f(lo), f(hi)
        for _attempt in range(60):
            if f_lo > 0 > f_hi:
                return float(optimize.brentq(f, lo, hi, xtol=1e-10))
            if f_lo <= 0:
                lo, f_lo = lo - half, f(lo - half)
            if f_hi >= 0:
                hi, f_hi = hi + half, f(hi + half)
            half *= 2
        return np.nan

    alpha = 1 - conf
    return solve(1 - alpha / 2), solve(alpha / 2)


def _values(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _empty_row(variable: str, method: str, measure: str, **counts: int) -> dict[str, Any]:
    row: dict[str, Any] = {c: np.nan for c in COMPARE_COLUMNS}
    row.update(variable=variable, method=method, effect_measure=measure,
               n_cmo=pd.NA, n_cio=pd.NA, n_pairs=pd.NA, note="")
    row.update(counts)
    return row


def _paired_row(variable: str, cmo: np.ndarray, cio: np.ndarray, conf: float) -> dict[str, Any]:
    """Paired t-test on complete dyads; effect size Cohen's d_z with a noncentral-t CI."""
    keep = ~(np.isnan(cmo) | np.isnan(cio))
    cmo, cio = cmo[keep], cio[keep]
    n = len(cmo)
    row = _empty_row(variable, "paired", PAIRED_MEASURE, n_cmo=n, n_cio=n, n_pairs=n)
    if n < MIN_PAIRS:  # the count itself is not named: it may be a suppressed cell
        row["note"] = _("not estimable: a paired test needs at least {minimum} complete "
                        "pairs").format(minimum=i18n.integer(MIN_PAIRS))
    if n == 0:
        return row
    diff = cmo - cio
    row.update(mean_cmo=cmo.mean(), mean_cio=cio.mean(), difference=diff.mean())
    if n < MIN_PAIRS:
        return row
    sd = diff.std(ddof=1)
    if not sd > 0:
        row["note"] = _("not estimable: every pair differs by the same amount (no variance in "
                        "the differences)")
        return row
    res = stats.ttest_rel(cmo, cio)
    ci = res.confidence_interval(conf)
    dz = diff.mean() / sd
    lo, hi = _noncentral_t_ci(dz * np.sqrt(n), n - 1, conf)
    row.update(ci_low=ci.low, ci_high=ci.high, statistic=res.statistic, df=res.df,
               p_value=res.pvalue, effect_size=dz, effect_ci_low=lo / np.sqrt(n),
               effect_ci_high=hi / np.sqrt(n))
    return row


def _hedges_j(df: float) -> float:
    """Exact small-sample correction J(df) = Γ(df/2) / (√(df/2) Γ((df−1)/2))."""
    return float(np.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / np.sqrt(df / 2))


def _welch_row(variable: str, cmo: np.ndarray, cio: np.ndarray, conf: float) -> dict[str, Any]:
    """Welch t-test on all respondents; effect size Hedges' g (pooled SD) with a noncentral-t CI."""
    cmo, cio = cmo[~np.isnan(cmo)], cio[~np.isnan(cio)]
    n1, n2 = len(cmo), len(cio)
    row = _empty_row(variable, "welch", WELCH_MEASURE, n_cmo=n1, n_cio=n2)
    row.update(mean_cmo=cmo.mean() if n1 else np.nan, mean_cio=cio.mean() if n2 else np.nan)
    row["difference"] = row["mean_cmo"] - row["mean_cio"]
    if n1 < MIN_PER_ROLE or n2 < MIN_PER_ROLE:
        row["note"] = _("not estimable: Welch's test needs at least {minimum} answers per "
                        "role").format(minimum=i18n.integer(MIN_PER_ROLE))
        return row
    if not (cmo.var(ddof=1) > 0 or cio.var(ddof=1) > 0):
        row["note"] = _("not estimable: no variance within either role")
        return row
    res = stats.ttest_ind(cmo, cio, equal_var=False)
    ci = res.confidence_interval(conf)
    df_pooled = n1 + n2 - 2
    sd_pooled = np.sqrt(((n1 - 1) * cmo.var(ddof=1) + (n2 - 1) * cio.var(ddof=1)) / df_pooled)
    d = row["difference"] / sd_pooled if sd_pooled > 0 else np.nan
    scale = np.sqrt(1 / n1 + 1 / n2)
    j = _hedges_j(df_pooled)
    lo, hi = _noncentral_t_ci(d / scale, df_pooled, conf)
    row.update(ci_low=ci.low, ci_high=ci.high, statistic=res.statistic, df=res.df,
               p_value=res.pvalue, effect_size=j * d, effect_ci_low=j * lo * scale,
               effect_ci_high=j * hi * scale)
    return row


def _adjust(table: pd.DataFrame, method: str) -> pd.Series:
    """Multiplicity-adjusted p-values within each ``method`` family (NaN p-values left out)."""
    adjusted = pd.Series(np.nan, index=table.index)
    for _key, fam in table.groupby("method", sort=False):
        p = fam["p_value"].dropna()
        if len(p):
            adjusted.loc[p.index] = multipletests(p.to_numpy(), method=method)[1]
    return adjusted


def compare_roles(scores_or_items: pd.DataFrame, columns: str | Sequence[str], *,
                  firm: str = "firm_id", role: str = "role", wave: str = "wave",
                  conf: float = 0.95, adjust: str | None = None) -> pd.DataFrame:
    """CMO versus CIO on each column, two ways, as a tidy table (one row per variable and method).

    - ``paired``: complete dyads only (same firm and wave, one CMO and one CIO, both answered);
      paired t-test of CMO − CIO, its CI, and Cohen's d_z = mean difference / SD of differences.
    - ``welch``: every respondent with an answer, as independent groups; Welch t-test (df by
      Welch–Satterthwaite), CI of the difference, and Hedges' g (difference / pooled SD, times the
      exact small-sample correction J).

    A test the data cannot support (fewer than :data:`MIN_PAIRS` pairs or :data:`MIN_PER_ROLE`
    answers per role, no variance) has no statistic, interval or p-value, and ``note`` says why
    ("not estimable: ..."); ``note`` is empty otherwise.

    Effect-size CIs invert the noncentral t distribution at the observed t (exact for d_z under
    normal differences; for g the pooled-variance t is inverted and the bounds scaled by J, which
    assumes equal variances). ``adjust`` ("holm", "fdr_bh" or any ``multipletests`` method) adds
    ``p_adjusted`` computed separately within the paired and within the Welch family.

    The frame needs the id columns and the value columns, e.g. ``compare_roles(df.join(scores),
    ["mutual_trust", "speed_friction"])``.
    """
    cols = _as_list(columns)
    _require(scores_or_items, [firm, role, wave, *cols])
    wide = dyads(scores_or_items, cols, firm=firm, role=role, wave=wave)
    roles = scores_or_items[role].astype(str)
    rows = []
    for col in cols:
        rows.append(_paired_row(col, _values(wide[f"{col}_cmo"]), _values(wide[f"{col}_cio"]),
                                conf))
        rows.append(_welch_row(col, _values(scores_or_items.loc[roles == "CMO", col]),
                               _values(scores_or_items.loc[roles == "CIO", col]), conf))
    out = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    out[COUNT_COLUMNS] = out[COUNT_COLUMNS].astype("Int64")
    if adjust is not None:
        out["p_adjusted"] = _adjust(out, adjust)
    return out


# --------------------------------------------------------------------------- disconnect index
def _indicator_bounds(cb: Codebook, construct: str) -> tuple[int, int]:
    """(min, max) of the one scale all items of an indicator construct share."""
    scales = {(cb.items[i].scale.min, cb.items[i].scale.max) for i in cb.constructs[construct].items}
    if len(scales) != 1:
        raise ValueError(f"items of indicator {construct!r} use different scale ranges: {scales}")
    return scales.pop()


def disconnect_index(df: pd.DataFrame, codebook: Codebook | None = None,
                     scores: pd.DataFrame | None = None) -> pd.Series:
    """Respondent-level disconnect index: higher = more disconnect, on the 1–5 scale.

    For each indicator construct c of the codebook (``kind: indicator``) that the survey asked,
    with score s_c (the mean of its reverse-keyed items, from :func:`helpers.scales.score` unless
    ``scores`` is given):

    - ``disconnect: higher_is_worse`` enters as s_c;
    - ``disconnect: higher_is_better`` enters as min + max − s_c (reflected on its scale, 6 − s_c
      for 1–5).

    The index is the unweighted mean of these signed scores over the constructs the respondent has
    a score for, and NaN when fewer than half of the indicators asked are scored. An indicator
    counts as asked when it has a score for at least one respondent (a construct missing from
    ``scores``, or without any score, was not asked: a survey that skips indicators still gets an
    index from those it asked). ``attrs["indicators"]`` lists the indicators used. Same index as
    ``df``.
    """
    cb = codebook or load_codebook()
    indicators = cb.constructs_of_kind("indicator")
    if scores is None:
        from helpers.scales import score  # imported here: scales is written alongside this module

        scores = score(df, cb, constructs=indicators)
    signed = pd.DataFrame(index=scores.index, dtype=float)
    for cid in indicators:
        if cid not in scores.columns:
            continue
        s = pd.to_numeric(scores[cid], errors="coerce").astype(float)
        if not s.notna().any():
            continue
        lo, hi = _indicator_bounds(cb, cid)
        signed[cid] = s if cb.constructs[cid].disconnect == "higher_is_worse" else lo + hi - s
    enough = (signed.notna().sum(axis=1) * 2 >= signed.shape[1]) & (signed.shape[1] > 0)
    index = signed.mean(axis=1).where(enough).astype(float).rename(DISCONNECT_INDEX)
    index.attrs["indicators"] = list(signed.columns)
    return index


# --------------------------------------------------------------------------- report helpers
ID_COLUMNS = ["respondent_id", "firm_id", "role", "country", "industry", "size_band", "wave"]


def respondent_frame(df: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """Ids and segments, every construct score and the disconnect index, one row per respondent.

    The frame the profile, driver and dyadic reports start from, so that scoring is done one way.
    Constructs are scored from the items the survey asked; ``attrs`` carry ``missing_items``
    and ``not_asked`` (see :func:`helpers.scales.score`) and ``indicators``, the indicators the
    disconnect index is built from.
    """
    from helpers.scales import score

    cb = codebook or load_codebook()
    scores = score(df, cb)
    out = df[[c for c in ID_COLUMNS if c in df.columns]].join(scores)
    index = disconnect_index(df, cb, scores=scores)
    out["disconnect_index"] = index
    out.attrs = {"missing_items": dict(scores.attrs["missing_items"]),
                 "not_asked": list(scores.attrs["not_asked"]),
                 "indicators": list(index.attrs["indicators"])}
    return out


def choose_construct(df: pd.DataFrame, codebook: Codebook, requested: str | None, *,
                     kind: str, prefer: str, both_roles: bool = False,
                     continuous: bool = False) -> str:
    """The construct a report analyses: ``requested`` when given, else a documented default.

    - ``requested`` (a report parameter) must be a construct the survey asked; if it was not,
      the report does not apply (:class:`helpers.errors.NotApplicable`), it is never swapped.
    - ``requested=None``: ``prefer`` if it qualifies, else the first construct of ``kind`` in
      codebook order that qualifies.

    A construct qualifies when the survey asked it (:meth:`Codebook.constructs_present`), with
    ``both_roles`` when CMOs *and* CIOs answered at least one of its items (a dyadic predictor),
    and with ``continuous`` when it is a scale score rather than a yes/no share.
    """
    from helpers.errors import NotApplicable

    def ok(cid: str) -> bool:
        if cid not in codebook.constructs_present(df, among=[cid]):
            return False
        if continuous and codebook.is_binary(cid):
            return False
        if both_roles:
            role = df["role"].astype(str) if "role" in df.columns else pd.Series(dtype=str)
            items = codebook.items_present(df, cid)
            return all(bool(df.loc[role == r, items].notna().any().any()) for r in ROLES)
        return True

    needs = (("asked of both the CMO and the CIO" if both_roles else "asked")
             + (", on a rating scale" if continuous else ""))
    if requested is not None:
        if requested not in codebook.constructs:
            raise KeyError(f"{requested!r} is not a construct of {codebook.path}")
        if not ok(requested):
            raise NotApplicable(f"needs {codebook.label(requested)} ({requested}) {needs}; "
                                "the survey did not ask it so")
        return requested
    for cid in [prefer, *codebook.constructs_of_kind(kind)]:
        if ok(cid):
            return cid
    raise NotApplicable(f"needs a{'n' if kind[0] in 'aeiou' else ''} {kind} construct {needs} "
                        f"(e.g. {codebook.label(prefer)}); the survey asked none")


EFFECT_WORDS = {PAIRED_MEASURE: N_("Cohen's dz"), WELCH_MEASURE: N_("Hedges' g")}
"""The effect measures in words (``d_z`` and ``g`` are what journals print)."""


def _not_estimable_prefix() -> str:
    return _("not estimable: {reason}").split("{reason}")[0]


def reading(comparison: pd.DataFrame, labels: dict[str, str], method: str = "paired",
            alpha: float = 0.05) -> str:
    """A summary in words of a :func:`compare_roles` table: which gaps are significant (whole
    sentences, in the current language).

    Uses ``p_adjusted`` when present (the multiple-testing corrected p-value), else ``p_value``.
    """
    rows = comparison[comparison["method"] == method]
    pcol = "p_adjusted" if "p_adjusted" in rows.columns else "p_value"
    p_values = pd.to_numeric(rows[pcol], errors="coerce")
    tested = rows[p_values.notna()]
    paired = method == "paired"
    untested = _untested(rows[p_values.isna()])
    if tested.empty:  # no verdict without a test: say why instead of "no difference"
        return (_("On within-firm pairs, no comparison can be reported in this segment "
                  "({reasons}).") if paired else
                _("On all respondents (Welch), no comparison can be reported in this segment "
                  "({reasons}).")).format(reasons=untested)
    sig = tested[p_values[tested.index] < alpha].sort_values("effect_size", key=abs,
                                                              ascending=False)
    tail = ""
    if len(tested) < len(rows):
        missing = len(rows) - len(tested)
        names = ", ".join(str(labels.get(v, v)) for v in rows.loc[p_values.isna(), "variable"])
        tail = " " + ngettext("{k} of {n} comparisons is not reported ({names}; the table's "
                              "notes say why).",
                              "{k} of {n} comparisons are not reported ({names}; the table's "
                              "notes say why).",
                              missing).format(k=i18n.integer(missing),
                                              n=i18n.integer(len(rows)), names=names)
    values = {"n": i18n.integer(len(tested)), "k": i18n.integer(len(sig)),
              "alpha": i18n.number(alpha, 2)}
    corrected = pcol == "p_adjusted"
    if sig.empty:
        if paired and corrected:
            text = ngettext("On within-firm pairs, the {n} indicator tested does not differ "
                            "between CMOs and CIOs at the {alpha} level after correction for "
                            "multiple testing.",
                            "On within-firm pairs, none of the {n} indicators tested differs "
                            "between CMOs and CIOs at the {alpha} level after correction for "
                            "multiple testing.", len(tested))
        elif paired:
            text = ngettext("On within-firm pairs, the {n} indicator tested does not differ "
                            "between CMOs and CIOs at the {alpha} level.",
                            "On within-firm pairs, none of the {n} indicators tested differs "
                            "between CMOs and CIOs at the {alpha} level.", len(tested))
        elif corrected:
            text = ngettext("On all respondents (Welch), the {n} indicator tested does not "
                            "differ between CMOs and CIOs at the {alpha} level after correction "
                            "for multiple testing.",
                            "On all respondents (Welch), none of the {n} indicators tested "
                            "differs between CMOs and CIOs at the {alpha} level after correction "
                            "for multiple testing.", len(tested))
        else:
            text = ngettext("On all respondents (Welch), the {n} indicator tested does not "
                            "differ between CMOs and CIOs at the {alpha} level.",
                            "On all respondents (Welch), none of the {n} indicators tested "
                            "differs between CMOs and CIOs at the {alpha} level.", len(tested))
        return text.format(**values) + tail
    parts = []
    for _i, r in sig.iterrows():
        text = (_("{label}: CMOs higher by {gap} points ({measure} = {effect}, {p})")
                if r["difference"] > 0 else
                _("{label}: CIOs higher by {gap} points ({measure} = {effect}, {p})"))
        measure = EFFECT_WORDS.get(r["effect_measure"])
        parts.append(text.format(label=labels.get(r["variable"], r["variable"]),
                                 gap=i18n.number(abs(r["difference"]), 2),
                                 measure=_(measure) if measure else r["effect_measure"],
                                 effect=i18n.number(r["effect_size"], 2),
                                 p=p_phrase(r[pcol])))
    if len(tested) == 1:
        first = (_("On within-firm pairs, the only indicator tested differs between CMOs and "
                   "CIOs.") if paired else
                 _("On all respondents (Welch), the only indicator tested differs between CMOs "
                   "and CIOs."))
    elif paired and corrected:
        first = ngettext("On within-firm pairs, {k} of {n} indicators tested differs between CMOs "
                         "and CIOs (p-values corrected for multiple testing).",
                         "On within-firm pairs, {k} of {n} indicators tested differ between CMOs "
                         "and CIOs (p-values corrected for multiple testing).", len(sig))
    elif paired:
        first = ngettext("On within-firm pairs, {k} of {n} indicators tested differs between CMOs "
                         "and CIOs.",
                         "On within-firm pairs, {k} of {n} indicators tested differ between CMOs "
                         "and CIOs.", len(sig))
    elif corrected:
        first = ngettext("On all respondents (Welch), {k} of {n} indicators tested differs "
                         "between CMOs and CIOs (p-values corrected for multiple testing).",
                         "On all respondents (Welch), {k} of {n} indicators tested differ "
                         "between CMOs and CIOs (p-values corrected for multiple testing).",
                         len(sig))
    else:
        first = ngettext("On all respondents (Welch), {k} of {n} indicators tested differs "
                         "between CMOs and CIOs.",
                         "On all respondents (Welch), {k} of {n} indicators tested differ "
                         "between CMOs and CIOs.", len(sig))
    return (first.format(**values) + " " + _("{findings}.").format(findings="; ".join(parts))
            + tail)


def _untested(rows: pd.DataFrame) -> str:
    """Why rows of a comparison have no p-value: their notes, else small-group suppression."""
    notes = rows["note"] if "note" in rows.columns else pd.Series(dtype=object)
    prefix = _not_estimable_prefix()
    reasons = list(dict.fromkeys(str(n).removeprefix(prefix) for n in notes
                                 if isinstance(n, str) and n))
    if not reasons or notes.astype(str).eq("").any():
        reasons.append(_("groups below the minimum cell size are not shown"))
    return "; ".join(reasons)


labels.register({
    "effect_size": N_("Effect size"),
    "effect_ci_low": N_("Effect size CI lower"),
    "effect_ci_high": N_("Effect size CI upper"),
}, counts={"n_pairs"})


def shown_comparison(comparison: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """A :func:`compare_roles` table as the report shows it: the indicator by its label, the
    effect measure in words, ``p_adjusted`` named as adjusted."""
    out = comparison.assign(
        indicator=comparison["variable"].map(lambda v: labels.get(v, v)),
        effect_measure=comparison["effect_measure"].map(
            lambda m: _(EFFECT_WORDS[m]) if m in EFFECT_WORDS else m).where(
            pd.to_numeric(comparison["effect_size"], errors="coerce").notna(), ""))
    cols = ["indicator", "n_pairs", "mean_cmo", "mean_cio", "difference", "ci_low", "ci_high",
            "effect_measure", "effect_size", "p_value", "p_adjusted", "note"]
    return out[[c for c in cols if c in out.columns]]


FIRM_FIELDS = ["country", "industry", "size_band"]


def firm_level(frame: pd.DataFrame, columns: str | Sequence[str], *, firm: str = "firm_id",
               wave: str = "wave") -> pd.DataFrame:
    """One row per firm and wave: the mean of ``columns`` over the firm's respondents (CMO, CIO
    or both), the number of respondents, and the firm's country, industry and size band."""
    cols = _as_list(columns)
    _require(frame, [firm, wave, *cols])
    grouped = frame.groupby([firm, wave], observed=True, sort=True)
    out = grouped[cols].mean()
    out["n_respondents"] = grouped.size()
    fields = [f for f in FIRM_FIELDS if f in frame.columns]
    if fields:
        out = out.join(grouped[fields].first())
    return out.reset_index()
