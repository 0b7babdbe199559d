"""Role gaps: CMO − CIO differences in indicator construct scores, from every respondent, with
firm-clustered small-sample inference — the profile report's headline estimates.

What is estimated
-----------------
For every indicator construct that both roles answer with the same items (constructs whose
items differ by role, such as requirements friction, are compared item by item only:
:func:`helpers.perception.item_gaps`), and for the disconnect index, the difference
``E[score | CMO] − E[score | CIO]`` in scale points of the 1–5 construct score, scored one way
(:func:`helpers.indicators.respondent_frame`: the mean of the reverse-keyed items; the index the
mean of the signed indicator scores). Key ``role_gap.<construct>`` / ``role_gap.disconnect_index``;
the true value of simulated data is :func:`helpers.truth.role_gaps.estimands`.

Model and why
-------------
OLS of the score on a constant and a CMO dummy over **all** respondents with a score (not only
complete CMO–CIO pairs: a firm where one executive answered still tells about its role), so the
coefficient is exactly mean(CMO) − mean(CIO). Its standard error is **cluster-robust by firm**:
the CMO and the CIO of one firm, and one firm in two waves, share the firm's disconnect, so
their answers are not independent (Welch's test treats them as such and, because the two roles'
answers correlate positively within a firm, overstates the variance of the difference, missing
real gaps; a paired test throws away every unpaired respondent). The clustered variance is
**CR2** (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018, R ``clubSandwich::vcovCR(type =
"CR2")`` with the OLS working model): residuals of cluster g are multiplied by
``(I − H_gg)^{-1/2}``, which makes the variance unbiased under independent homoskedastic errors
and repairs the downward bias of CR1 with few clusters. Intervals and p values use Student t
with the **Bell–McCaffrey degrees of freedom** (Imbens & Kolesár 2016, ``K_BM``: the
Satterthwaite df of the CR2 variance under independent homoskedastic errors), which equal
G − 1 in a balanced paired design (there CR2 reproduces the paired t-test exactly) and fall
below G − 1 when clusters are unbalanced, as few-cluster inference needs. A random-intercept
mixed model was not chosen: its fixed-effect SE is right only if its variance model (equal
within-firm correlation for every role and wave) is, and it weights firms with a pair more
than firms with one respondent, estimating a precision-weighted gap, not the difference of the
two roles' population means that the report states. No wave term: the estimand averages the
waves as the respondents do, and role is not associated with wave by design.

Minimums and the exploratory band
---------------------------------
``min_cell`` respondents of each role and firms (privacy, :mod:`helpers.privacy`) and at least
:data:`MIN_CLUSTERS` firms, else "not estimable" with the reason; with fewer than
:data:`CONFIRMATORY_CLUSTERS` firms the numbers are shown (CR2, Bell–McCaffrey df) with the
verdict "exploratory" and no verdict in words. A construct that the measurement layer finds not
comparable between roles (no scalar invariance; ``comparable`` from
:func:`helpers.perception.construct_verdicts` / :func:`helpers.perception.index_verdict`, see
:func:`comparable_from`) is "not estimable" at construct level with its reason and is compared
item by item. ``comparable=None`` does not gate (every construct with the same items is
estimated; the validity study's default).

Multiplicity and the verdict
----------------------------
The construct gaps form one family (the disconnect index is the one pre-specified summary and
is tested on its own at ``1 − conf``). ``adjust`` ("holm" default, "bonferroni", "fdr_bh" or
None) gives the adjusted p (statsmodels ``multipletests``), stored as ``p_value`` (the
unadjusted one in ``extra["p_unadjusted"]``). The verdict is :func:`helpers.headlines.verdict`
applied to the **multiplicity-adjusted interval** (``extra["ci_low_adjusted"]``,
``extra["ci_high_adjusted"]``), whose level is chosen so that it excludes zero exactly when the
adjusted p is below ``1 − conf``: Holm — the k-th smallest p gets level ``α / (m − k + 1)``
while the step-down rejects, and every later one the level at which it stopped; Bonferroni —
``α / m``; BH — ``R α / m`` with R rejections (the false-coverage-rate intervals of Benjamini &
Yekutieli 2005; ``α / m`` when R = 0). Power (against :data:`SESOI`) is at that same level. So
"positive"/"negative" ⇔ adjusted p < 1 − conf. ``ci_low``/``ci_high`` are the ordinary (marginal)
``conf`` intervals, the uncertainty of each gap on its own; when they exclude zero but the
adjusted one does not, the reading says so.

The smallest effect of interest is :data:`SESOI` = 0.20 scale points (one respondent in five
answering one step higher on every item), for the power behind "no evidence" vs "not
detectable".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import headlines as hl
from helpers import i18n, labels
from helpers.codebook import Codebook
from helpers.headlines import Headline
from helpers.i18n import N_, _, ngettext
from helpers.indicators import DISCONNECT_INDEX, ROLES, respondent_frame
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

PREFIX = "role_gap."
UNIT = N_("scale points (1-5)")
N_UNIT = N_("respondents")
INDEX_LABEL = N_("Disconnect index")
SESOI = 0.20
"""Smallest role gap of interest, in scale points of the 1–5 score."""
MIN_CLUSTERS = 10
"""Fewest firms for a clustered role gap: below this the CR2 variance rests on too few
independent units to be estimated (Cameron & Miller 2015 report over-rejection even with
corrections below about ten clusters)."""
CONFIRMATORY_CLUSTERS = 40
"""Firms from which a role gap gets a verdict in words; between :data:`MIN_CLUSTERS` and this
it is exploratory (Cameron & Miller 2015: 'few' clusters ranges up to about 40–50)."""
ADJUSTMENTS = hl.ADJUSTMENTS
METHOD = ("OLS score ~ role over all respondents; firm-clustered CR2 standard error, t with "
          "Bell–McCaffrey df")


# --------------------------------------------------------------------------- CR2 estimator
def cr2_contrast(y: Any, X: Any, clusters: Any, contrast: Any) -> dict[str, float]:
    """OLS estimate of ``contrast · beta`` with its CR2 standard error and Bell–McCaffrey df.

    ``V = Σ_g (u_g' e_g)²`` with ``u_g = (I − H_gg)^{-1/2} X_g (X'X)^{-1} c`` (Bell & McCaffrey
    2002); df ``= (tr M)² / ||M||²_F`` with ``M = G'G``, G's column g being ``(I − H)_{·g} u_g``
    (Imbens & Kolesár 2016), computed in O(clusters) as ``M = diag(u_g'u_g) − m_g' B m_h``,
    ``m_g = X_g' u_g``, ``B = (X'X)^{-1}``. Raises ``ValueError`` when a cluster has leverage
    1 (``I − H_gg`` singular: the contrast rests on one firm) or the design is singular.
    Returns estimate, std_error, df, n, n_clusters.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    c = np.asarray(contrast, dtype=float)
    codes = pd.factorize(pd.Series(np.asarray(clusters)), sort=False)[0]
    order = np.argsort(codes, kind="stable")
    y, X, codes = y[order], X[order], codes[order]
    xtx = X.T @ X
    if np.linalg.matrix_rank(xtx) < X.shape[1]:
        raise ValueError("the design is singular")
    B = np.linalg.inv(xtx)
    beta = B @ (X.T @ y)
    e = y - X @ beta
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    bc = B @ c
    n_g = len(sizes)
    score = np.empty(n_g)
    uu = np.empty(n_g)
    m = np.empty((n_g, X.shape[1]))
    for s in np.unique(sizes):
        sel = np.nonzero(sizes == s)[0]
        pos = starts[sel][:, None] + np.arange(s)[None, :]
        xg = X[pos]                                     # (k, s, p)
        h = np.einsum("kip,pq,kjq->kij", xg, B, xg)
        vals, vecs = np.linalg.eigh(np.eye(s)[None] - h)
        if np.any(vals <= 1e-10):
            raise ValueError("a firm has leverage 1 (the gap rests on one firm's answers)")
        a = np.einsum("kij,kj,klj->kil", vecs, vals ** -0.5, vecs)
        u = np.einsum("kij,kj->ki", a, xg @ bc)        # (k, s)
        score[sel] = np.einsum("ki,ki->k", u, e[pos])
        uu[sel] = np.einsum("ki,ki->k", u, u)
        m[sel] = np.einsum("kip,ki->kp", xg, u)
    var = float(np.sum(score**2))
    mb = m @ B                                          # (G, p)
    diag_mbm = np.einsum("gp,gp->g", mb, m)
    trace = float(np.sum(uu - diag_mbm))
    mtm = m.T @ m
    frob = float(np.sum(uu**2) - 2 * np.sum(uu * diag_mbm) + np.trace(B @ mtm @ B @ mtm))
    df = trace**2 / frob if frob > 0 else math.nan
    return {"estimate": float(c @ beta), "std_error": math.sqrt(var), "df": float(df),
            "n": int(len(y)), "n_clusters": int(n_g)}


def _t_interval(est: float, se: float, df: float, alpha: float) -> tuple[float, float, float]:
    """(low, high, two-sided p) of a t(df) test of zero."""
    q = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else math.nan
    return est - q * se, est + q * se, p


# --------------------------------------------------------------------------- multiplicity
def adjusted_levels(p_values: Sequence[float], alpha: float, adjust: str | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(adjusted p values, per-hypothesis interval levels α_j) for the family (module
    docstring): an α_j interval excludes zero exactly when the adjusted p is below ``alpha``."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p, p
    if adjust is None:
        return p.copy(), np.full(m, alpha)
    if adjust not in ADJUSTMENTS:
        raise ValueError(f"adjust must be one of {ADJUSTMENTS} or None, got {adjust!r}")
    adjusted = hl.adjusted_p(p, adjust)
    if adjust == "bonferroni":
        return adjusted, np.full(m, alpha / m)
    if adjust == "fdr_bh":
        r = int(np.sum(adjusted < alpha))
        return adjusted, np.full(m, alpha * (max(r, 1) / m))
    levels = np.empty(m)
    order = np.argsort(p, kind="stable")
    stopped = None
    for rank, j in enumerate(order):
        level = alpha / (m - rank) if stopped is None else stopped
        levels[j] = level
        if stopped is None and not p[j] < level:
            stopped = level
    return adjusted, levels


# --------------------------------------------------------------------------- comparability
def comparable_from(verdicts: pd.DataFrame, index_ok: bool | None = None,
                    index_why: str = "") -> dict[str, bool | str]:
    """The ``comparable`` mapping from :func:`helpers.perception.construct_verdicts` (and
    :func:`helpers.perception.index_verdict`): True, or the reason it is not comparable."""
    out: dict[str, bool | str] = {
        str(r.construct): True if bool(r.comparable) else str(r.reason)
        for r in verdicts.itertuples()}
    if index_ok is not None:
        out[DISCONNECT_INDEX] = True if index_ok else (index_why or _("not comparable"))
    return out


def _gate(comparable: Mapping[str, Any] | None, key: str) -> str | None:
    """None when the construct may be compared, else the reason."""
    if comparable is None or key not in comparable:
        return None
    v = comparable[key]
    if v is True or (isinstance(v, (bool, np.bool_)) and bool(v)):
        return None
    if isinstance(v, str) and v.strip():
        reason = v.strip()
    else:
        reason = _("not comparable between roles (measurement invariance not established)")
    if _("compared item by item") not in reason and _("see the item table") not in reason:
        reason = _("{reason}; compared item by item").format(reason=reason)
    return reason


def _same_items(cb: Codebook, survey: pd.DataFrame, cid: str) -> bool:
    items = cb.items_present(survey, cid)
    return bool(items) and all(set(ROLES) <= set(cb.items[i].roles) for i in items)


# --------------------------------------------------------------------------- headlines
def _fmt(x: float) -> str:
    return i18n.number(x, 2, grouping=False)


def _signed(x: float) -> str:
    return i18n.number(x, 2, grouping=False, sign=True)


def _estimate(frame: pd.DataFrame, column: str, min_cell: int) -> dict[str, Any] | str:
    """The gap of one column, or the reason it cannot be estimated."""
    used = frame[frame[column].notna() & frame["role"].isin(ROLES) & frame["firm_id"].notna()]
    counts = {r: int((used["role"] == r).sum()) for r in ROLES}
    firms = int(used["firm_id"].nunique())
    if min(counts.values()) < max(min_cell, 2):
        return _("fewer than {minimum} respondents of a role have a score (a group that small "
                 "is not shown)").format(minimum=i18n.integer(max(min_cell, 2)))
    if firms < max(MIN_CLUSTERS, min_cell):
        return ngettext("answers from {firms} firm; a firm-clustered gap needs at least "
                        "{minimum} firms",
                        "answers from {firms} firms; a firm-clustered gap needs at least "
                        "{minimum} firms", firms).format(
            firms=i18n.integer(firms), minimum=i18n.integer(max(MIN_CLUSTERS, min_cell)))
    y = used[column].to_numpy(dtype=float)
    cmo = (used["role"] == "CMO").to_numpy(dtype=float)
    if np.allclose(y, np.where(cmo == 1, y[cmo == 1].mean(), y[cmo == 0].mean())):
        return _("every respondent of a role has the same score: no sampling error can be "
                 "estimated")
    try:
        fit = cr2_contrast(y, np.column_stack([np.ones_like(cmo), cmo]),
                           used["firm_id"].astype(str).to_numpy(), [0.0, 1.0])
    except ValueError as exc:
        why = (_("a firm has leverage 1: the gap rests on one firm's answers")
               if "leverage" in str(exc) else _("the design is singular"))
        return _("the clustered variance cannot be estimated ({why})").format(why=why)
    if not (fit["std_error"] > 0 and math.isfinite(fit["df"]) and fit["df"] > 0):
        return _("the clustered variance cannot be estimated (no variation within the roles)")
    fit.update(n_cmo=counts["CMO"], n_cio=counts["CIO"],
               mean_cmo=float(y[cmo == 1].mean()), mean_cio=float(y[cmo == 0].mean()))
    return fit


ADJUST_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "fdr_bh": "Benjamini–Hochberg"}


def _reading(label: str, fit: Mapping[str, Any], verdict: str, *, conf: float, adjust: str | None,
             m: int, in_family: bool) -> str:
    """The headline's reading: whole sentences per case, numbers in the reader's locale."""
    est, lo, hi = fit["estimate"], fit["ci_low"], fit["ci_high"]
    corrected = in_family and adjust is not None and m > 1
    method = ADJUST_NAMES.get(adjust or "", "")
    p = hl.p_phrase(fit["p_value"])
    if corrected:
        p = _("{p}, {method}-adjusted").format(p=p, method=method)
    values = {"label": label, "estimate": _signed(est), "gap": _fmt(abs(est)), "low": _fmt(lo),
              "high": _fmt(hi), "level": i18n.percent(100 * conf, 0), "p": p,
              "size": _("{n} respondents in {firms} firms").format(
                  n=i18n.integer(fit["n"]), firms=i18n.integer(fit["n_clusters"])),
              "firms": i18n.integer(fit["n_clusters"]), "method": method,
              "m": i18n.integer(m), "needed": i18n.integer(CONFIRMATORY_CLUSTERS),
              "df": i18n.number(fit["df"], 1), "sesoi": _fmt(SESOI)}
    numbers = _("{label}: CMO − CIO = {estimate} scale points ({level} CI {low} to {high}; {p}; "
                "{size}).")
    if verdict == "exploratory":
        return (numbers + " " + _("Exploratory: only {firms} firms (a verdict needs {needed}); "
                                  "small-cluster correction (CR2, Bell–McCaffrey df = {df}); no "
                                  "verdict in words.")).format(**values)
    if verdict in hl.SIGNED:
        if est > 0 and corrected:
            text = _("{label}: CMOs score {gap} scale points higher than CIOs on average ({level} "
                     "CI of CMO − CIO {low} to {high}; {p}; {size}), also after {method} "
                     "correction across {m} indicators.")
        elif est > 0:
            text = _("{label}: CMOs score {gap} scale points higher than CIOs on average ({level} "
                     "CI of CMO − CIO {low} to {high}; {p}; {size}).")
        elif corrected:
            text = _("{label}: CMOs score {gap} scale points lower than CIOs on average ({level} "
                     "CI of CMO − CIO {low} to {high}; {p}; {size}), also after {method} "
                     "correction across {m} indicators.")
        else:
            text = _("{label}: CMOs score {gap} scale points lower than CIOs on average ({level} "
                     "CI of CMO − CIO {low} to {high}; {p}; {size}).")
        return text.format(**values)
    sentences = [numbers]
    if corrected and (lo > 0 or hi < 0):
        sentences.append(_("The {level} interval on its own excludes zero, but the interval "
                           "adjusted for the {m} indicators compared does not."))
    power = fit.get("power")
    if verdict == "no evidence":
        sentences.append(_("No evidence of a gap of {sesoi} scale points or more between the "
                           "roles: a gap that large would have been found with power {power}."))
    elif power is not None:
        sentences.append(_("Not detectable with these data: power {power} to detect a gap of "
                           "{sesoi} scale points."))
    else:
        sentences.append(_("Not detectable with these data: the power to detect a gap of "
                           "{sesoi} scale points is unknown."))
    values["power"] = i18n.number(power, 2) if power is not None else ""
    return " ".join(t.format(**values) for t in sentences)


def headlines(survey: pd.DataFrame, codebook: Codebook, *, conf: float = 0.95,
              adjust: str | None = "holm", min_cell: int = 5,
              comparable: Mapping[str, Any] | None = None,
              language: str | None = None) -> list[Headline]:
    """CMO − CIO gap of every indicator construct both roles answer with the same items, and of
    the disconnect index: one :class:`~helpers.headlines.Headline` each (module docstring).
    Labels, readings and notes are in ``language`` (default: :func:`helpers.i18n.current`)."""
    with i18n.using(language or i18n.current()):
        return _headlines(survey, codebook, conf=conf, adjust=adjust, min_cell=min_cell,
                          comparable=comparable)


def _headlines(survey: pd.DataFrame, codebook: Codebook, *, conf: float, adjust: str | None,
               min_cell: int, comparable: Mapping[str, Any] | None) -> list[Headline]:
    cb = codebook
    if "role" not in survey.columns or "firm_id" not in survey.columns:
        return []
    frame = respondent_frame(survey, cb)
    frame["role"] = frame["role"].astype(str)
    constructs = [c for c in cb.constructs_present(survey, kind="indicator")
                  if c in frame.columns and _same_items(cb, survey, c)]
    columns = list(constructs)
    if frame.attrs.get("indicators") and DISCONNECT_INDEX in frame.columns:
        columns.append(DISCONNECT_INDEX)
    alpha = 1 - conf
    names = {c: cb.label(c, i18n.current()) for c in constructs} | {
        DISCONNECT_INDEX: _(INDEX_LABEL)}
    fits: dict[str, dict[str, Any] | str] = {}
    for c in columns:
        gate = _gate(comparable, c)
        fits[c] = gate if gate is not None else _estimate(frame, c, min_cell)
    for fit in fits.values():
        if isinstance(fit, dict):
            fit["ci_low"], fit["ci_high"], fit["p_unadjusted"] = _t_interval(
                fit["estimate"], fit["std_error"], fit["df"], alpha)
    family = [c for c in constructs if isinstance(fits[c], dict)]
    adjusted, levels = adjusted_levels([fits[c]["p_unadjusted"] for c in family], alpha, adjust)
    level_of = {c: (float(adjusted[i]), float(levels[i])) for i, c in enumerate(family)}
    out = []
    for c in columns:
        fit, key = fits[c], PREFIX + c
        if isinstance(fit, str):
            out.append(replace(hl.not_estimable(key, names[c], UNIT,
                                                _("{label}: not estimable — {reason}.").format(
                                                    label=names[c], reason=fit), METHOD,
                                                n_unit=N_UNIT), note=fit))
            continue
        p_adj, level = level_of.get(c, (fit["p_unadjusted"], alpha))
        fit["p_value"] = p_adj
        lo_a, hi_a, _p = _t_interval(fit["estimate"], fit["std_error"], fit["df"], level)
        fit["power"] = hl.power(fit["std_error"], SESOI, 1 - level)
        exploratory = fit["n_clusters"] < CONFIRMATORY_CLUSTERS
        verdict = hl.verdict(lo_a, hi_a, fit["power"], exploratory=exploratory)
        reading = _reading(names[c], fit, verdict, conf=conf, adjust=adjust, m=len(family),
                           in_family=c in level_of)
        extra = {k: fit[k] for k in ("df", "n_clusters", "n_cmo", "n_cio", "mean_cmo",
                                     "mean_cio", "p_unadjusted")}
        extra.update(ci_low_adjusted=lo_a, ci_high_adjusted=hi_a, conf_adjusted=1 - level,
                     adjust=adjust if c in level_of else None, family_size=len(family),
                     construct=c)
        out.append(Headline(
            key=key, label=names[c], unit=UNIT, estimate=fit["estimate"], ci_low=fit["ci_low"],
            ci_high=fit["ci_high"], p_value=p_adj, n=fit["n"], n_unit=N_UNIT, verdict=verdict,
            reading=reading, method=METHOD, power=fit["power"], sesoi=SESOI,
            std_error=fit["std_error"],
            note=(_("exploratory: fewer than {needed} firms").format(
                needed=i18n.integer(CONFIRMATORY_CLUSTERS)) if exploratory else ""),
            extra=extra))
    return out


TABLE_COLUMNS = ["construct", "label", "n_cmo", "n_cio", "n_firms", "mean_cmo", "mean_cio",
                 "estimate", "ci_low", "ci_high", "std_error", "df", "p_unadjusted", "p_value",
                 "ci_low_adjusted", "ci_high_adjusted", "power", "verdict", "note"]


def table(rows: Sequence[Headline]) -> pd.DataFrame:
    """The role-gap headlines as the report's table: one row per construct, with the per-role
    means and counts, the marginal and the multiplicity-adjusted interval, and the verdict."""
    out = []
    for h in rows:
        e = h.extra
        out.append({"construct": h.key.removeprefix(PREFIX), "label": h.label,
                    "n_cmo": e.get("n_cmo"), "n_cio": e.get("n_cio"),
                    "n_firms": e.get("n_clusters"), "mean_cmo": e.get("mean_cmo"),
                    "mean_cio": e.get("mean_cio"), "estimate": h.estimate, "ci_low": h.ci_low,
                    "ci_high": h.ci_high, "std_error": h.std_error, "df": e.get("df"),
                    "p_unadjusted": e.get("p_unadjusted"), "p_value": h.p_value,
                    "ci_low_adjusted": e.get("ci_low_adjusted"),
                    "ci_high_adjusted": e.get("ci_high_adjusted"), "power": h.power,
                    "verdict": h.verdict,
                    "note": (h.note or h.reading) if h.verdict == "not estimable" else h.note})
    frame = pd.DataFrame(out, columns=TABLE_COLUMNS)
    for col in ("n_cmo", "n_cio", "n_firms"):
        frame[col] = frame[col].astype("Int64")
    for col in TABLE_COLUMNS[5:-2]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


SENSITIVITY_VALUES = ["mean_cmo", "mean_cio", "difference", "ci_low", "ci_high", "statistic",
                      "df", "p_value", "effect_size", "effect_ci_low", "effect_ci_high",
                      "p_adjusted"]
TABLE_VALUES = [c for c in TABLE_COLUMNS if c not in ("construct", "label", "n_cmo", "n_cio",
                                                      "n_firms", "note")] + ["reading"]


def protect(rows: Sequence[Headline], paired: pd.DataFrame, min_cell: int
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The role-gap table (with each ``reading``) and the complete-pairs sensitivity rows
    (``indicators.compare_roles(..., method paired)``), safe to show together.

    The pairs are a subset of the respondents the headline uses, so when the two groups differ
    by 1 to ``min_cell`` − 1 respondents of a role, showing both means would reveal those few:
    the headline row is withheld (:func:`helpers.privacy.withhold_nested_rows`, its reading
    replaced by the reason); sensitivity rows with fewer than ``min_cell`` pairs are suppressed
    (:func:`helpers.privacy.suppress_small_groups`)."""
    from helpers import privacy

    main = table(rows)
    main["reading"] = [h.reading for h in rows]
    sens = paired.copy()
    both = pd.concat([
        sens.assign(_source="paired", _key=sens["variable"].astype(str)),
        main.assign(_source="main", _key=main["construct"].astype(str))], ignore_index=True)
    values = [c for c in dict.fromkeys(SENSITIVITY_VALUES + TABLE_VALUES) if c in both.columns]
    both = privacy.withhold_nested_rows(both, "_key", ["n_cmo", "n_cio"], values, min_cell)
    main_part = both[both["_source"] == "main"]
    # the privacy layer blanks the larger group's values: the all-respondents row
    hit = (main["estimate"].notna().to_numpy()
           & pd.to_numeric(main_part["estimate"], errors="coerce").isna().to_numpy())
    out = main.copy()
    for col in TABLE_VALUES:
        out[col] = out[col].astype(object).where(~hit, None)
    note = _("withheld: all respondents and the complete pairs differ by fewer than {min_cell} "
             "respondents of a role, whose answers the two rows would reveal").format(
        min_cell=i18n.integer(min_cell))
    out.loc[hit, "reading"] = [_("{label}: {note}").format(label=label, note=note)
                               for label in out.loc[hit, "label"]]
    out.loc[hit, "note"] = note
    out.loc[hit, "verdict"] = "withheld"
    out.attrs["withheld"] = int(hit.sum())
    sens_part = both[both["_source"] == "paired"].drop(columns=["_source", "_key"])
    sens_part = sens_part[sens.columns].set_axis(sens.index)
    sens_part = privacy.suppress_small_groups(sens_part, ["n_pairs"], [
        c for c in SENSITIVITY_VALUES if c in sens_part.columns], min_cell)
    return out, sens_part


def headline_rows(shown: pd.DataFrame) -> pd.DataFrame:
    """The shown (privacy-protected, :func:`protect`) role-gap table in the shape of
    :func:`helpers.headlines.table` (key, label, estimate, std_error, ci_low, ci_high, p_value,
    verdict): what the results file records for the index's segment tests."""
    out = shown.assign(key=PREFIX + shown["construct"].astype(str))
    return out[["key", "label", "estimate", "std_error", "ci_low", "ci_high", "p_value",
                "verdict"]]


labels.register({
    "indicator": N_("Indicator"),
    "p_unadjusted": N_("p (unadjusted)"),
    "p_adjusted": N_("p (adjusted)"),
    "power": N_("Power"),
    "verdict": N_("Verdict"),
    "note": N_("Note"),
}, counts={"n_cmo", "n_cio", "n_firms"})


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The protected role-gap table (:func:`protect`) as the report shows it: the indicator by
    its label, the difference named as such, the adjusted p as ``p_adjusted``, the verdict in
    words ("CMOs higher", "not detectable with these data", ...)."""
    out = table.assign(
        indicator=table["label"],
        verdict=table["verdict"].map(lambda v: hl.verdict_words(str(v), difference=True)))
    out = out.rename(columns={"estimate": "difference", "p_value": "p_adjusted"})
    return out[["indicator", "n_cmo", "n_cio", "n_firms", "mean_cmo", "mean_cio", "difference",
                "ci_low", "ci_high", "df", "p_unadjusted", "p_adjusted", "ci_low_adjusted",
                "ci_high_adjusted", "power", "verdict", "note"]]
