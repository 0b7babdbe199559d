"""Perception gaps between CMOs and CIOs: item by item always, construct means only where the
measurement licenses them.

Two questions, kept apart because their answers can disagree:

* **Item-level gaps** (:func:`item_gaps`) — for every item of the indicator constructs, the share
  of each role that *agrees* with the statement as worded, and the gap CMO − CIO in percentage
  points. "Agrees" is the top-2 box of the item's scale (its codebook ``top_box``: 4 "agree" and
  5 "strongly agree" on the five-point scale, 1 "yes" on a yes/no item); reverse-keyed items are
  not flipped, so a share reads as "x % agree with this sentence". The gap and its interval come
  from a linear probability model ``agree ~ 1 + CMO`` over every respondent who answered the item,
  whose CMO coefficient is exactly share(CMO) − share(CIO), with standard errors clustered by firm
  (the CMO and the CIO of one firm, and one firm in two waves, are not independent answers):
  statsmodels ``cov_type="cluster"``, CR1 with ``G/(G−1)·(N−1)/(N−K)`` and t(G−1) inference, as
  Stata's ``regress agree cmo, vce(cluster firm_id)``. Items asked of one role only (the codebook's
  ``roles:``; requirements friction and data autonomy use different items for the two roles) show
  that role's share and no gap. p values are Holm-corrected across the items compared.
* **Construct-level comparisons** (:func:`construct_verdicts`) — a CMO − CIO difference in a
  construct's mean score is a difference in the construct only when both roles use the items
  alike: equal loadings *and* equal item intercepts, at least partially (scalar invariance; see
  :mod:`helpers.measurement.invariance` for the ladder and Chen's 2007 criteria). Each indicator
  construct is fitted on its own as a one-factor model across the two role groups. A construct
  whose items differ by role, whose model cannot be estimated, or whose scalar step fails is
  *not comparable*: :func:`mark_not_comparable` blanks its row of the mean comparison and says
  why. The **disconnect index** (the mean of the signed indicator scores) is comparable only when
  every indicator it averages is: one non-comparable constituent carries its item-intercept
  differences into the index.

**Mutual blame** (:func:`mutual_blame`): two items of one friction construct (``disconnect:
higher_is_worse``; for other constructs the reading says "gaps in opposite directions") whose
gaps are significant (Holm-corrected p < .05) and
point in opposite directions once reverse-keyed items are turned round (CMOs agree more that
"IT is too slow", CIOs more that "marketing expects results too fast"). Averaged into one
construct score such gaps cancel into a false zero; the reading names them instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.codebook import Codebook
from helpers.headlines import format_p
from helpers.i18n import N_, _, ngettext
from helpers.indicators import DISCONNECT_INDEX, ROLES
from helpers.privacy import suppress_small_groups
from helpers import LazyModule, lazy_function

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    import statsmodels.api as sm
    from statsmodels.stats.multitest import multipletests
else:
    sm = LazyModule("statsmodels.api")
    multipletests = lazy_function("statsmodels.stats.multitest", "multipletests")

TOP_BOX_RULE = N_("Agreeing = the top-2 box of the scale (4 \"agree\" or 5 \"strongly agree\" on the "
                "five-point items), the sentence as worded (reverse-keyed items not flipped).")
CLUSTER_RULE = N_("Gap = share of CMOs − share of CIOs agreeing, in percentage points, from a linear "
                "probability model agree ~ role over every respondent who answered, with standard "
                "errors clustered by firm (a firm's CMO and CIO, and a firm in two waves, are not "
                "independent) and t(G − 1) intervals, G = firms.")

GAP_COLUMNS = ["construct", "disconnect", "item", "asked", "reverse", "n_cmo", "n_cio", "n_firms",
               "agree_cmo", "agree_cio", "share_cmo", "share_cio", "gap", "ci_low", "ci_high", "std_error",
               "p_value", "p_adjusted", "note", "label"]
GAP_VALUES = ["share_cmo", "share_cio", "gap", "ci_low", "ci_high", "std_error", "p_value",
              "p_adjusted"]
VERDICT_COLUMNS = ["construct", "items", "level", "comparable", "delta_cfi", "delta_rmsea",
                   "delta_srmr", "freed", "reason"]


# --------------------------------------------------------------------------- one gap
def share_gap(agree: Any, is_cmo: Any, clusters: Any, conf: float = 0.95) -> dict[str, Any]:
    """Share(CMO) − share(CIO) of a 0/1 ``agree`` with a firm-clustered interval.

    OLS of ``agree`` on a constant and the CMO dummy; the slope is the difference in shares.
    Returns ``estimate``, ``std_error`` and ``ci_low``/``ci_high``/``p_value`` (clustered: CR1,
    t with G − 1 df), the same three from the naive (iid OLS) standard error under ``naive_``,
    ``n_clusters`` and ``note`` (non-empty and no interval when the data cannot give one).
    """
    y = np.asarray(agree, dtype=float)
    x = np.asarray(is_cmo, dtype=float)
    g = pd.factorize(pd.Series(np.asarray(clusters)))[0]
    out: dict[str, Any] = {"estimate": np.nan, "std_error": np.nan, "ci_low": np.nan,
                           "ci_high": np.nan, "p_value": np.nan, "naive_std_error": np.nan,
                           "naive_ci_low": np.nan, "naive_ci_high": np.nan, "naive_p_value": np.nan,
                           "n_clusters": int(len(np.unique(g))), "note": ""}
    n_cmo, n_cio = int((x == 1).sum()), int((x == 0).sum())
    if n_cmo == 0 or n_cio == 0:
        out["note"] = _("not estimable: answers from one role only")
        return out
    out["estimate"] = float(y[x == 1].mean() - y[x == 0].mean())
    if out["n_clusters"] < 2:
        out["note"] = _("not estimable: a firm-clustered interval needs at least 2 firms")
        return out
    resid = y - np.where(x == 1, y[x == 1].mean(), y[x == 0].mean())
    if not np.any(np.abs(resid) > 1e-12):
        out["note"] = _("no interval: within each role everyone gave the same answer, so the "
                        "sampling error cannot be estimated")
        return out
    design = np.column_stack([np.ones_like(x), x])
    alpha = 1 - conf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clustered = sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": g},
                                          use_t=True)
        naive = sm.OLS(y, design).fit()
    for prefix, res in (("", clustered), ("naive_", naive)):
        low, high = res.conf_int(alpha)[1]
        out.update({f"{prefix}std_error": float(res.bse[1]), f"{prefix}ci_low": float(low),
                    f"{prefix}ci_high": float(high), f"{prefix}p_value": float(res.pvalues[1])})
    return out


# --------------------------------------------------------------------------- the item table
def _asked(item_roles: Sequence[str]) -> str:
    """``both``, ``CMOs only``, ``CIOs only`` or ``neither`` (codes; :data:`ASKED_WORDS`)."""
    roles = [r for r in ROLES if r in item_roles]
    return "both" if len(roles) == 2 else (f"{roles[0]}s only" if roles else "neither")


ASKED_WORDS = {"both": N_("both roles"), "CMOs only": N_("CMOs only"),
               "CIOs only": N_("CIOs only"), "neither": N_("neither role")}
"""The ``asked`` codes of the item table in words."""
ONE_ROLE_NOTES = {"CMOs only": N_("asked of CMOs only: no gap (compared item by item)"),
                  "CIOs only": N_("asked of CIOs only: no gap (compared item by item)"),
                  "neither": N_("asked of neither role: no gap")}
LEVEL_WORDS = {"scalar": N_("scalar"), "partial scalar": N_("partial scalar"),
               "metric": N_("metric"), "partial metric": N_("partial metric"),
               "configural": N_("configural"), "none": N_("none"),
               "not tested": N_("not tested")}
"""Measurement-invariance levels in words."""


def item_gaps(survey: pd.DataFrame, codebook: Codebook, constructs: Sequence[str] | None = None,
              *, firm: str = "firm_id", role: str = "role", conf: float = 0.95,
              adjust: str | None = "holm", language: str = "EN") -> pd.DataFrame:
    """One row per item of ``constructs`` (default: the indicator constructs asked) — rules in the
    module docstring. Shares, gap and interval are in percent / percentage points; ``agree_*``
    count agreeing respondents (for :func:`protect`, which must run before anything is shown)."""
    cb = codebook
    if constructs is None:
        constructs = cb.constructs_present(survey, kind="indicator")
    roles = survey[role].astype(str)
    rows = []
    for c in constructs:
        for iid in cb.items_present(survey, c):
            item = cb.items[iid]
            values = pd.to_numeric(survey[iid], errors="coerce")
            answered = values.notna() & roles.isin([r for r in ROLES if r in item.roles])
            agree = values[answered].isin(item.scale.top_box).astype(float)
            r_ans = roles[answered]
            row: dict[str, Any] = {
                "construct": c, "disconnect": cb.constructs[c].disconnect, "item": iid,
                "asked": _asked(item.roles), "reverse": item.reverse,
                "n_cmo": int((r_ans == "CMO").sum()), "n_cio": int((r_ans == "CIO").sum()),
                "n_firms": int(survey.loc[answered, firm].nunique()),
                "agree_cmo": int(agree[r_ans == "CMO"].sum()),
                "agree_cio": int(agree[r_ans == "CIO"].sum()),
                "label": cb.label(iid, language)}
            for r in ROLES:
                n = row[f"n_{r.lower()}"]
                row[f"share_{r.lower()}"] = 100 * row[f"agree_{r.lower()}"] / n if n else np.nan
            if row["asked"] != "both":
                one_role = ONE_ROLE_NOTES[row["asked"]]
                row["note"] = _(one_role)
            else:
                gap = share_gap(agree, (r_ans == "CMO").to_numpy(), survey.loc[answered, firm],
                                conf)
                row.update({k: 100 * gap[k] for k in ("std_error", "ci_low", "ci_high")},
                           gap=100 * gap["estimate"], p_value=gap["p_value"], note=gap["note"])
            rows.append(row)
    out = pd.DataFrame(rows, columns=GAP_COLUMNS)
    out["note"] = out["note"].fillna("")
    for col in ("n_cmo", "n_cio", "n_firms", "agree_cmo", "agree_cio"):
        out[col] = out[col].astype("Int64")
    out["p_adjusted"] = np.nan
    tested = out["p_value"].notna()
    if adjust and tested.any():
        out.loc[tested, "p_adjusted"] = multipletests(out.loc[tested, "p_value"].astype(float),
                                                      method=adjust)[1]
    elif tested.any():
        out.loc[tested, "p_adjusted"] = out.loc[tested, "p_value"]
    out.attrs["conf"] = conf
    out.attrs["adjust"] = adjust
    return out


def protect(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The item table as it may be shown: a role answering an item with fewer than ``min_cell``
    respondents, answers from fewer than ``min_cell`` firms, or 1 to ``min_cell`` − 1 agreeing
    (or not agreeing) respondents of a role blank the
    row's shares, gap, interval and p values (the gap and the other role's share would give the
    blanked share back), and such counts show as "<min_cell"; the agreeing counts themselves are
    not part of the shown table. ``attrs["suppressed"]`` counts the rows."""
    t = table.copy()
    small = []
    for r in ("cmo", "cio"):
        n = pd.to_numeric(t[f"n_{r}"], errors="coerce")
        a = pd.to_numeric(t[f"agree_{r}"], errors="coerce")
        t[f"_agree_{r}"] = a
        t[f"_disagree_{r}"] = n - a
        small += [f"_agree_{r}", f"_disagree_{r}"]
    shown = suppress_small_groups(t, ["n_cmo", "n_cio", "n_firms", *small], GAP_VALUES, min_cell)
    blanked = shown[small].apply(lambda s: s.astype(str).str.startswith("<")).any(axis=1)
    shown.loc[blanked, "note"] = _("not shown: fewer than {min_cell} respondents of a role agree "
                                   "(or disagree)").format(min_cell=i18n.integer(min_cell))
    out = shown.drop(columns=[*small, "agree_cmo", "agree_cio"])
    out.attrs = dict(shown.attrs)
    return out


# --------------------------------------------------------------------------- readings
def _significant(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    p = pd.to_numeric(table["p_adjusted"], errors="coerce")
    gap = pd.to_numeric(table["gap"], errors="coerce")
    return table[(p < alpha) & gap.notna()]


def mutual_blame(table: pd.DataFrame, alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """Constructs with significant item gaps (Holm-corrected p < ``alpha``) in opposite keyed
    directions: construct -> its significant rows, each with ``keyed_gap`` (the gap with the sign
    of a reverse-keyed item turned round, so that + means CMOs see more of the construct)."""
    sig = _significant(table, alpha)
    out = {}
    for c, rows in sig.groupby("construct", sort=False):
        keyed = pd.to_numeric(rows["gap"]) * np.where(rows["reverse"].astype(bool), -1, 1)
        if (keyed > 0).any() and (keyed < 0).any():
            out[str(c)] = rows.assign(keyed_gap=keyed.to_numpy())
    return out


def _pct(v: float) -> str:
    return i18n.percent(v, 0)


def _points(v: float) -> str:
    return i18n.number(v, 0, sign=True)


def item_reading(table: pd.DataFrame, construct_labels: Mapping[str, str],
                 alpha: float = 0.05) -> str:
    """The item table in words, generated from the numbers (a protected table is fine)."""
    compared = table[table["asked"] == "both"]
    tested = compared[pd.to_numeric(compared["p_adjusted"], errors="coerce").notna()]
    if tested.empty:
        return _("No item-level gap can be reported in this segment (too few respondents or "
                 "firms per item, or shares not shown to protect small groups).")
    sig = _significant(tested, alpha)
    adjust = table.attrs.get("adjust", "holm")
    values = {"n": i18n.integer(len(tested)), "k": i18n.integer(len(sig)),
              "alpha": i18n.number(alpha, 2),
              "method": {"holm": "Holm", "bonferroni": "Bonferroni",
                         "fdr_bh": "Benjamini–Hochberg"}.get(adjust or "", str(adjust))}
    if len(tested) == 1 and adjust:
        first = (_("The only item asked of both roles shows a gap between CMOs and CIOs in the "
                   "share agreeing ({method}-corrected p < {alpha}, firm-clustered).") if len(sig)
                 else _("The only item asked of both roles shows no gap between CMOs and CIOs in "
                        "the share agreeing ({method}-corrected p < {alpha}, firm-clustered)."))
    elif len(tested) == 1:
        first = (_("The only item asked of both roles shows a gap between CMOs and CIOs in the "
                   "share agreeing (p < {alpha}, firm-clustered).") if len(sig)
                 else _("The only item asked of both roles shows no gap between CMOs and CIOs in "
                        "the share agreeing (p < {alpha}, firm-clustered)."))
    elif adjust:
        first = ngettext("Of {n} items asked of both roles, {k} shows a gap between CMOs and CIOs "
                         "in the share agreeing ({method}-corrected p < {alpha}, firm-clustered).",
                         "Of {n} items asked of both roles, {k} show a gap between CMOs and CIOs "
                         "in the share agreeing ({method}-corrected p < {alpha}, firm-clustered).",
                         len(sig))
    else:
        first = ngettext("Of {n} items asked of both roles, {k} shows a gap between CMOs and CIOs "
                         "in the share agreeing (p < {alpha}, firm-clustered).",
                         "Of {n} items asked of both roles, {k} show a gap between CMOs and CIOs "
                         "in the share agreeing (p < {alpha}, firm-clustered).", len(sig))
    parts = [first.format(**values)]
    blame = mutual_blame(tested, alpha)
    for c, rows in blame.items():
        sides = []
        for _i, r in rows.sort_values("keyed_gap", ascending=False).iterrows():
            side = (_("more CMOs agree that “{wording}” ({cmo} of CMOs vs {cio} of CIOs, gap "
                      "{gap} points, CI {low} to {high})") if r["gap"] > 0 else
                    _("more CIOs agree that “{wording}” ({cmo} of CMOs vs {cio} of CIOs, gap "
                      "{gap} points, CI {low} to {high})"))
            sides.append(side.format(wording=r["label"], cmo=_pct(r["share_cmo"]),
                                     cio=_pct(r["share_cio"]), gap=_points(r["gap"]),
                                     low=_points(r["ci_low"]), high=_points(r["ci_high"])))
        if rows["disconnect"].iloc[0] == "higher_is_worse":  # friction: each blames the other
            text = _("{construct}: mutual blame — {sides}. Each side sees the friction in the "
                     "other; averaged into one construct score these gaps cancel, so a small "
                     "construct-level difference here is not agreement.")
        else:
            text = _("{construct}: gaps in opposite directions — {sides}. Averaged into one "
                     "construct score these gaps cancel, so a small construct-level difference "
                     "here is not agreement.")
        parts.append(text.format(construct=construct_labels.get(c, c), sides="; ".join(sides)))
    others = sig[~sig["construct"].isin(list(blame))]
    if len(others):
        listed = "; ".join(
            _("“{wording}” ({cmo} of CMOs vs {cio} of CIOs, {gap} points)").format(
                wording=r["label"], cmo=_pct(r["share_cmo"]), cio=_pct(r["share_cio"]),
                gap=_points(r["gap"])) for _i, r in others.iterrows())
        parts.append(_("Other gaps: {listed}.").format(listed=listed))
    if not blame:
        parts.append(_("No construct has significant item gaps in opposite directions (no mutual "
                       "blame)."))
    return " ".join(parts)


# --------------------------------------------------------------------------- construct verdicts
def _step(result: Any, step: str) -> pd.Series | None:
    rows = result.table[result.table["step"] == step]
    return rows.iloc[0] if len(rows) else None


def _delta(x: float) -> str:
    return i18n.number(x, 3, sign=True)


def _deltas(row: pd.Series) -> str:
    return (f"ΔCFI {_delta(row['delta_cfi'])}, ΔRMSEA {_delta(row['delta_rmsea'])}, "
            f"ΔSRMR {_delta(row['delta_srmr'])}")


def item_name(codebook: Codebook | None, item_id: str) -> str:
    """An item as a reader names it: "item 2" (:meth:`helpers.codebook.Codebook.item_ref`),
    never the variable name ``trust_2``."""
    return codebook.item_ref(item_id, construct=False) if codebook is not None else item_id


def _constraint_name(codebook: Codebook | None, constraint: str) -> str:
    """A freed equality constraint in words: ``trust_3~1`` → "intercept of item 3",
    ``mutual_trust=~trust_3`` → "loading of item 3"."""
    c = constraint.strip()
    if "=~" in c:
        return _("loading of {item}").format(item=item_name(codebook, c.split("=~")[1].strip()))
    if c.endswith("~1"):
        return _("intercept of {item}").format(item=item_name(codebook, c[:-2].strip()))
    return item_name(codebook, c)


def _freed_items(freed: Any, codebook: Codebook | None = None) -> str:
    """The freed constraints (``trust_1~1, mutual_trust=~trust_3``) in words ("intercept of
    item 1, loading of item 3")."""
    return ", ".join(_constraint_name(codebook, f) for f in str(freed or "").split(",")
                     if f.strip())


def _not_comparable(why: str) -> str:
    return _("not comparable: {why}").format(why=why)


def reason_text(reason: str) -> str:
    """A reason without its "not comparable: " start (in the current language), to quote it
    inside a sentence that already says so."""
    prefix = _("not comparable: {why}").split("{why}")[0]
    return reason[len(prefix):] if prefix and reason.startswith(prefix) else reason


def _shared_verdicts(survey: pd.DataFrame, codebook: Codebook, constructs: Sequence[str],
                     min_cell: int) -> pd.DataFrame | None:
    """The measurement report's per-construct verdicts
    (``helpers.measurement.report.invariance_verdicts``) for ``constructs``, so that 01 and 02
    read one verdict; ``None`` where that function is not available."""
    try:
        from helpers.measurement.report import invariance_verdicts
    except ImportError:
        return None
    items = [i for c in constructs for i in codebook.items_present(survey, c)]
    keep = [c for c in survey.columns if c not in codebook.items or c in items]
    table = invariance_verdicts(survey[keep], codebook, min_cell)
    needed = {"construct", "level", "freed", "means_comparable", "delta_cfi_scalar", "note"}
    return table if needed <= set(table.columns) else None


def _ladder_row(c: str, result: Any, cb: Codebook | None = None) -> dict[str, Any]:
    """Level, Δs, freed constraints and reason of one construct's own ladder."""
    row: dict[str, Any] = {"level": result.level, "freed": ", ".join(result.freed)}
    scalar, metric = _step(result, "scalar"), _step(result, "metric")
    if scalar is not None and pd.notna(scalar["delta_cfi"]):
        row.update({k: scalar[k] for k in ("delta_cfi", "delta_rmsea", "delta_srmr")})
    if result.holds("scalar"):
        row["comparable"] = True
        row["reason"] = (_("comparable: scalar invariance holds") if scalar["verdict"] == "holds"
                         else _("comparable: partial scalar invariance ({freed} "
                                "freed)").format(freed=_freed_items(", ".join(
                                    f for f in result.freed if f.endswith("~1")), cb)))
    elif scalar is not None and scalar["verdict"] == "does not hold":
        first = result.partial[(result.partial["step"] == "scalar")
                               & (result.partial["freed"] == "")]
        full = _deltas(first.iloc[0]) if len(first) else _deltas(scalar)
        tried = _freed_items(scalar["freed"], cb)
        row["reason"] = _not_comparable(
            _("intercepts differ between roles (scalar invariance fails: {deltas}; still "
              "{still} with {freed} freed); compared item by item").format(
                deltas=full, still=_deltas(scalar), freed=tried) if tried else
            _("intercepts differ between roles (scalar invariance fails: {deltas}); compared "
              "item by item").format(deltas=full))
    elif metric is not None and metric["verdict"] == "does not hold":
        row["reason"] = _not_comparable(
            _("loadings differ between roles (metric invariance fails: {deltas}); compared item "
              "by item").format(deltas=_deltas(metric)))
    else:
        why = "; ".join(result.notes) or _("invariance reached: {level}").format(
            level=_(LEVEL_WORDS.get(str(result.level), str(result.level))))
        row["reason"] = _not_comparable(why)
    return row


def _shared_deltas(v: pd.Series, step: str) -> str:
    """The changes in fit a verdict of the shared table rests on: ΔCFI, and ΔRMSEA and ΔSRMR
    when the table has them (Chen 2007 needs ΔCFI together with one of the two)."""
    parts = []
    for k, name in (("cfi", "ΔCFI"), ("rmsea", "ΔRMSEA"), ("srmr", "ΔSRMR")):
        value = pd.to_numeric(pd.Series([v.get(f"delta_{k}_{step}")]), errors="coerce").iloc[0]
        if pd.notna(value):
            parts.append(f"{name} {_delta(value)}")
    return ", ".join(parts)


def _shared_row(v: pd.Series, cb: Codebook | None = None) -> dict[str, Any]:
    """A row of the measurement report's verdict table in this module's terms."""
    comparable = bool(v["means_comparable"])
    level = str(v["level"])
    freed = str(v["freed"] or "")
    d_cfi = pd.to_numeric(pd.Series([v["delta_cfi_scalar"]]), errors="coerce").iloc[0]
    row: dict[str, Any] = {"level": level, "freed": freed, "comparable": comparable,
                           "delta_cfi": d_cfi}
    level_words = _(LEVEL_WORDS.get(level, level))
    if comparable:
        row["reason"] = (_("comparable: scalar invariance holds") if level == "scalar" else
                         _("comparable: partial scalar invariance ({freed} "
                           "freed)").format(freed=_freed_items(freed, cb)))
    elif level in ("metric", "partial metric") and pd.notna(d_cfi) and d_cfi <= -0.010:
        # Chen (2007) fails a step only at ΔCFI <= -.010: the intercepts are what differ
        row["reason"] = _not_comparable(
            _("intercepts differ between roles (scalar invariance fails: {deltas} with {freed} "
              "freed); compared item by item").format(
                deltas=_shared_deltas(v, "scalar"), freed=_freed_items(freed, cb)) if freed else
            _("intercepts differ between roles (scalar invariance fails: {deltas}); compared "
              "item by item").format(deltas=_shared_deltas(v, "scalar")))
    elif level == "configural" and pd.notna(d_metric := pd.to_numeric(
            pd.Series([v.get("delta_cfi_metric")]), errors="coerce").iloc[0]) and d_metric <= -0.010:
        row["reason"] = _not_comparable(
            _("loadings differ between roles (metric invariance fails: {deltas}); compared item "
              "by item").format(deltas=_shared_deltas(v, "metric")))
    elif level != "none":
        row["reason"] = _not_comparable(
            _("scalar invariance not established in these data (level reached: {level}; "
              "{note}); compared item by item").format(level=level_words, note=v["note"])
            if v["note"] else
            _("scalar invariance not established in these data (level reached: {level}); "
              "compared item by item").format(level=level_words))
    else:
        row["reason"] = _not_comparable(
            str(v["note"]) if v["note"] else _("invariance level: {level}").format(
                level=level_words))
    if isinstance(v.get("tested_with"), str) and v["tested_with"]:
        row["reason"] = _("{reason} (tested with {method})").format(reason=row["reason"],
                                                                    method=v["tested_with"])
    return row


def construct_verdicts(survey: pd.DataFrame, codebook: Codebook,
                       constructs: Sequence[str] | None = None, min_cell: int = 5,
                       role: str = "role", shared: bool = True, firm: str = "firm_id"
                       ) -> pd.DataFrame:
    """Per indicator construct: may its CMO and CIO means be compared?

    ``comparable`` where scalar invariance across the role groups holds at least partially;
    ``reason`` says why not otherwise (items that differ by role, too few items or answers, a
    model that cannot be estimated, loadings or intercepts that differ). The verdicts are the
    measurement report's (``helpers.measurement.report.invariance_verdicts``: one-factor model
    per construct, CIO the reference) when that is available and ``shared``; else each construct
    gets its own ladder here (:func:`helpers.measurement.invariance`, same model and rules).
    No model is fitted when a role has fewer than ``min_cell`` complete answers, or the answers
    come from fewer than ``min_cell`` firms.
    """
    from helpers.measurement import invariance

    cb = codebook
    if constructs is None:
        constructs = cb.constructs_present(survey, kind="indicator")
    roles = survey[role].astype(str)
    rows, testable = {}, []
    for c in constructs:
        items = cb.items_present(survey, c)
        row: dict[str, Any] = {"construct": c, "items": ", ".join(items), "level": "not tested",
                               "comparable": False, "freed": ""}
        rows[c] = row
        one_role = [i for i in items if set(ROLES) - set(cb.items[i].roles)]
        if one_role:
            row["reason"] = _not_comparable(
                _("the roles answer different items ({items}); compared item by item").format(
                    items=", ".join(_("{item} asked of {who}").format(
                        item=item_name(cb, i), who=_(ASKED_WORDS[_asked(cb.items[i].roles)]))
                        for i in one_role)))
        elif len(items) < 2:
            row["reason"] = _not_comparable(
                _("fewer than two items asked, so measurement invariance cannot be tested; "
                  "compared item by item"))
        elif (min(int((survey[items].notna().all(axis=1) & (roles == r)).sum())
                  for r in ROLES) < min_cell
              or survey.loc[survey[items].notna().all(axis=1), firm].nunique() < min_cell):
            row["reason"] = _not_comparable(
                _("invariance not tested (fewer than {min_cell} complete answers in a role, or "
                  "answers from fewer than {min_cell} firms)").format(
                    min_cell=i18n.integer(min_cell)))
        else:
            testable.append(c)
    table = _shared_verdicts(survey, cb, testable, min_cell) if shared and testable else None
    for c in testable:
        if table is not None and c in set(table["construct"]):
            rows[c].update(_shared_row(table.set_index("construct").loc[c], cb))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = invariance(survey, [c], role, groups=("CIO", "CMO"), codebook=cb,
                                    strict=False)
        except Exception as exc:  # noqa: BLE001 - a model that fails is a verdict, not a crash
            rows[c]["reason"] = _not_comparable(
                _("invariance model not estimable ({error})").format(error=exc))
            continue
        rows[c].update(_ladder_row(c, result, cb))
    out = pd.DataFrame(list(rows.values()), columns=VERDICT_COLUMNS)
    out["comparable"] = out["comparable"].astype(bool)
    return out


def index_verdict(verdicts: pd.DataFrame, constituents: Sequence[str],
                  labels: Mapping[str, str]) -> tuple[bool, str]:
    """Whether the disconnect index may be compared between roles: only when every indicator it
    averages (``constituents``) is comparable."""
    v = verdicts.set_index("construct")
    failing = [c for c in constituents if c not in v.index or not bool(v.at[c, "comparable"])]
    if not constituents:
        return False, _not_comparable(_("no indicator to average"))
    if failing:
        return False, _not_comparable(
            _("it averages indicators whose means are not comparable between roles "
              "({indicators}); see the item table").format(
                indicators=", ".join(labels.get(c, c) for c in failing)))
    return True, _("comparable: every indicator it averages is")


def mark_not_comparable(comparison: pd.DataFrame, verdicts: pd.DataFrame,
                        value_columns: Sequence[str], index_constituents: Sequence[str],
                        labels: Mapping[str, str], key: str = "variable") -> pd.DataFrame:
    """Blank the mean comparisons of constructs (and of the disconnect index) that are not
    comparable between roles; their ``note`` gives the reason and points to the item table."""
    out = comparison.copy()
    reasons = {r.construct: r.reason for r in verdicts.itertuples() if not r.comparable}
    ok, why = index_verdict(verdicts, index_constituents, labels)
    if not ok:
        reasons[DISCONNECT_INDEX] = why
    hit = out[key].isin(list(reasons))
    for col in value_columns:
        if col in out.columns:
            out[col] = out[col].astype(object).where(~hit, np.nan)
    out["note"] = out["note"].astype(object)

    def note(variable: Any, before: Any) -> str:
        reason = reasons[variable]
        if _("compared item by item") not in reason and _("see the item table") not in reason:
            reason = _("{reason}; see the item table").format(reason=reason)
        # a row the test itself could not estimate keeps that reason first: it holds whatever
        # the measurement says (no pairs, say, is no pairs in any segment)
        before = before if isinstance(before, str) else ""
        return f"{before}; {reason}" if before and before != reason else reason

    out.loc[hit, "note"] = [note(v, b) for v, b in zip(out.loc[hit, key], out.loc[hit, "note"],
                                                       strict=True)]
    out.attrs = dict(comparison.attrs)
    out.attrs["not_comparable"] = int(hit.sum())
    return out


def verdict_reading(verdicts: pd.DataFrame, labels: Mapping[str, str],
                    index_ok: bool) -> str:
    """Which construct means the profile compares, and why the others are not, in words."""
    if verdicts.empty:
        return _("No indicator construct to test for measurement invariance.")
    ok = verdicts[verdicts["comparable"]]
    no = verdicts[~verdicts["comparable"]]
    parts = []
    if len(ok):
        parts.append(_("Construct means are compared between CMOs and CIOs for {constructs} "
                       "(scalar invariance holds, at least partially).").format(
            constructs=", ".join(labels.get(c, c) for c in ok["construct"])))
    if len(no):
        listed = "; ".join(_("{construct} ({reason})").format(
            construct=labels.get(r.construct, r.construct),
            reason=reason_text(str(r.reason))) for r in no.itertuples())
        parts.append((_("They are not compared for {constructs}. For these, read the item "
                        "table.") if len(ok) else
                      _("Construct means are not compared for {constructs}. For these, read the "
                        "item table.")).format(constructs=listed))
    parts.append(_("The disconnect index is compared: every indicator it averages is "
                   "comparable.") if index_ok else
                 _("The disconnect index is not compared: it averages indicators that are not "
                   "comparable."))
    return " ".join(parts)


def p_text(p: Any) -> str:
    """A p value as printed: ``< .001`` or three decimals, blank when missing."""
    p = pd.to_numeric(pd.Series([p]), errors="coerce").iloc[0]
    if pd.isna(p):
        return ""
    return format_p(float(p))


def shown_columns(table: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The columns of a :func:`protect`-ed item table that the report shows, constructs by label,
    who was asked in words and p values as printed text (in the reader's locale)."""
    out = table.assign(indicator=table["construct"].map(lambda c: labels.get(c, c)),
                       wording=table["label"],
                       asked=table["asked"].map(lambda a: _(ASKED_WORDS.get(a, a))),
                       p_adjusted=table["p_adjusted"].map(p_text))[[
        "indicator", "wording", "asked", "n_cmo", "n_cio", "share_cmo", "share_cio",
        "gap", "ci_low", "ci_high", "p_adjusted", "note"]]
    out.attrs = dict(table.attrs)
    return out


def shown_verdicts(verdicts: pd.DataFrame, labels: Mapping[str, str],
                   codebook: Codebook | None = None) -> pd.DataFrame:
    """The invariance verdicts as the report shows them: constructs by label, the number of
    items, the level and "means comparable" in words, the freed intercepts as "item 3"."""
    from helpers.codebook import load_codebook

    cb = codebook or load_codebook()
    return verdicts.assign(
        indicator=verdicts["construct"].map(lambda c: labels.get(c, c)),
        items=verdicts["items"].map(lambda t: len([i for i in str(t).split(",") if i.strip()])),
        level=verdicts["level"].map(lambda v: _(LEVEL_WORDS.get(str(v), str(v)))),
        comparable=verdicts["comparable"].map(lambda v: _("yes") if bool(v) else _("no")),
        freed=verdicts["freed"].map(lambda f: _freed_items(f, cb)))[[
        "indicator", "items", "level", "comparable", "delta_cfi", "freed", "reason"]]


labels.register({
    "asked": N_("Asked of"),
    "delta_cfi": N_("ΔCFI (scalar step)"),
    "freed": N_("Constraints freed"),
    "reason": N_("Reason"),
}, counts={"items"})
