"""The measurement report's building blocks (``notebooks/01_measurement.ipynb``), and the
invariance verdicts other reports use (:func:`invariance_verdicts`).

Which constructs are modelled: the codebook's constructs with two or more five-point items asked
of both roles (:func:`modelled_constructs`); yes/no items, single-item constructs and items
asked of one role only are left out, and the library's notes say so
(:func:`helpers.measurement.spec.from_codebook`).

Invariance verdicts are **per construct** (what a construct-level comparison needs): each
construct with three or more items is tested in a one-construct model across the groups
(configural is then just identified, df = 0, so it "holds" by fit; metric and scalar are tested
by Chen's 2007 criteria, with partial invariance as in :mod:`helpers.measurement.invariance`).
A construct with two items is not identified on its own (and two-item constructs that correlate
weakly are not identified across groups together either), so a two-item construct takes the
verdict of the whole model (every modelled construct, each identified through its correlations
with the others) — a joint verdict, shown as such (``tested_with``). The whole model's ladder is
fitted only with :data:`LADDER_MIN_PER_ITEM` respondents per item in every group; below that the
two-item constructs have no verdict ("none", with the reason). The whole
model's ladder is shown in the report beside the per-construct verdicts. Groups are passed as
``("CIO", "CMO")`` so that latent mean differences are CMO − CIO.

Privacy: no ladder is fitted when a group has fewer than ``min_cell`` respondents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.codebook import item_ref
from helpers.i18n import N_, _, ngettext
from helpers.measurement import engine
from helpers.measurement.cfa import Z95, CFAResult, cfa
from helpers.measurement.invariance import CHEN_2007, InvarianceResult, chen_noninvariant, invariance
from helpers.measurement.spec import NotEstimable
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

LADDER_MIN_PER_ITEM = 5  # whole-model ladder: respondents per item in every group (below, the
# multi-group model of 30+ items rarely converges and the batch would spend minutes on it)
CFA_MIN_PER_ITEM = 2  # a role's own CFA for Table 1's diagonal: complete rows per item
ROLE_GROUPS = ("CIO", "CMO")  # reference first: latent mean differences read CMO − CIO
LEVELS = ("none", "configural", "partial metric", "metric", "partial scalar", "scalar")
#: verdict and step words as the report shows them (codes stay in the results file)
WORDS = {
    "none": N_("none"), "configural": N_("configural"), "partial metric": N_("partial metric"),
    "metric": N_("metric"), "partial scalar": N_("partial scalar"), "scalar": N_("scalar"),
    "strict": N_("strict"), "partial strict": N_("partial strict"), "holds": N_("holds"),
    "partial": N_("partial"), "does not hold": N_("does not hold"),
    "not tested": N_("not tested"), "not estimable": N_("not estimable"),
    "estimated": N_("estimated"), "not estimable (see notes)": N_("not estimable (see notes)"),
}

labels.register({
    "model": N_("Model"), "chi2": N_("χ²"), "CFI": N_("CFI"), "TLI": N_("TLI"),
    "RMSEA": N_("RMSEA"), "RMSEA 90% CI": N_("RMSEA 90 % CI"), "SRMR": N_("SRMR"),
    "status": N_("Status"), "item": N_("Item"),
    "loading": N_("Loading"), "std. loading": N_("Standardised loading"),
    "SE (std.)": N_("SE (standardised)"), "95% CI": N_("95 % CI"),
    "√AVE": N_("√AVE"), "largest |r|": N_("Largest |r|"),
    "with": N_("With"), "Fornell–Larcker": N_("Fornell–Larcker holds"),
    "CR ≥ .70": N_("CR ≥ .70"), "AVE ≥ .50": N_("AVE ≥ .50"),
    "factor_1": N_("Construct"), "factor_2": N_("Other construct"), "htmt": N_("HTMT"),
    "above .85": N_("Above .85"), "alpha": N_("Cronbach's alpha"),
    "omega": N_("Omega"), "CR (CFA)": N_("CR (CFA)"), "note": N_("Note"),
    "step": N_("Step"), "Δchi2": N_("Δχ²"), "Δdf": N_("Δdf"), "p (Δchi2)": N_("p (Δχ²)"),
    "ΔCFI": N_("ΔCFI"), "ΔRMSEA": N_("ΔRMSEA"), "ΔSRMR": N_("ΔSRMR"), "verdict": N_("Verdict"),
    "constraints_freed": N_("Constraints freed"), "score_test": N_("Score test"),
    "level_reached": N_("Invariance level reached"), "tested with": N_("Tested with"),
    "metric ΔCFI": N_("Metric ΔCFI"), "metric ΔRMSEA": N_("Metric ΔRMSEA"),
    "metric ΔSRMR": N_("Metric ΔSRMR"), "scalar ΔCFI": N_("Scalar ΔCFI"),
    "scalar ΔRMSEA": N_("Scalar ΔRMSEA"), "scalar ΔSRMR": N_("Scalar ΔSRMR"),
    "reading": N_("Reading"), "SE": N_("SE"),
    "standardised": N_("Standardised"), "trait variance": N_("Trait variance"),
    "method variance": N_("Method variance"), "M": N_("M"), "SD": N_("SD"),
    "construct": N_("Construct"),
}, counts={"df", "Δdf", "items", "k"})


def word(code: Any) -> str:
    """A verdict, level or step code (:data:`WORDS`) in the report language."""
    text = str(code)
    return _(WORDS[text]) if text in WORDS else text


def in_words(table: pd.DataFrame, columns: Sequence[str] = ("step", "verdict", "level", "status")
             ) -> pd.DataFrame:
    """``table`` as the report shows it: codes in ``columns`` as words, yes/no columns as
    "yes"/"no" and freed constraints (lavaan names) described (:func:`describe_freed`)."""
    out = table.rename(columns=_SHOWN_AS)
    columns = [_SHOWN_AS.get(c, c) for c in columns]
    for c in out.columns:
        if c in columns:
            out[c] = out[c].map(lambda v: word(v) if isinstance(v, str) else v)
        elif c == "constraints_freed":
            out[c] = out[c].map(lambda v: describe_freed(v) if isinstance(v, str) else v)
        elif out[c].dtype == bool:
            out[c] = out[c].map(lambda v: _("yes") if v else _("no"))
    return out


#: columns shown under a name of their own (names such as ``freed`` or ``level`` mean something
#: else in other reports' tables, and a column's label is registered once per name)
_SHOWN_AS = {"freed": "constraints_freed", "level": "level_reached", "delta_cfi": "ΔCFI",
             "delta_rmsea": "ΔRMSEA", "delta_srmr": "ΔSRMR", "cfi": "CFI", "rmsea": "RMSEA",
             "srmr": "SRMR", "chisq": "chi2", "tli": "TLI"}


def describe_freed(freed: str) -> str:
    """Freed constraints in words: ``speed_2~1`` → "the intercept of speed_2", ``f=~i`` → "the
    loading of i", ``i~~i`` → "the residual variance of i" (comma-separated lists kept)."""
    out = []
    for name in (t.strip() for t in str(freed or "").split(",")):
        if not name:
            continue
        if name.endswith("~1"):
            out.append(_("the intercept of {item}").format(item=item_ref(name[:-2])))
        elif "=~" in name:
            out.append(_("the loading of {item}").format(item=item_ref(name.split("=~", 1)[1])))
        elif "~~" in name:
            out.append(_("the residual variance of {item}").format(
                item=item_ref(name.split("~~", 1)[0])))
        else:
            out.append(name)
    return ", ".join(out)


VERDICT_COLUMNS = ["construct", "level", "freed", "means_comparable", "tested_with",
                   "delta_cfi_metric", "delta_cfi_scalar", "delta_rmsea_metric",
                   "delta_rmsea_scalar", "delta_srmr_metric", "delta_srmr_scalar", "note"]


def modelled_constructs(survey: pd.DataFrame, codebook: Any, *, both_roles: bool = True
                        ) -> list[str]:
    """Codebook constructs with at least two five-point (non-binary) items answered in
    ``survey`` and (``both_roles``) asked of both roles: the constructs a pooled CFA can model."""
    out = []
    for c in codebook.constructs:
        items = [i for i in codebook.items_present(survey, c)
                 if codebook.items[i].scale.type != "binary"
                 and (not both_roles or set(codebook.roles) <= set(codebook.items[i].roles))]
        if len(items) >= 2:
            out.append(c)
    return out


def _n_items(survey: pd.DataFrame, codebook: Any, construct: str) -> int:
    return sum(codebook.items[i].scale.type != "binary"
               and set(codebook.roles) <= set(codebook.items[i].roles)
               for i in codebook.items_present(survey, construct))


def _groups_present(survey: pd.DataFrame, group: str, groups: Sequence[Any] | None) -> list[Any]:
    present = list(pd.unique(survey[group].dropna()))
    if groups is None:
        return sorted(present, key=str)
    return [g for g in groups if g in set(present)]


def _group_name(group: str, value: Any) -> str:
    """A group as read in a sentence: "CMO" for roles, "wave 2" for other columns."""
    return str(value) if group == "role" else _("{dimension} {value}").format(
        dimension=labels.column(group), value=value)


def _too_small(survey: pd.DataFrame, group: str, groups: Sequence[Any], min_cell: int) -> str:
    """Why no ladder may be fitted (fewer than two groups, or a group below min_cell), or ''."""
    if len(groups) < 2:
        return ngettext("needs two groups of {dimension}; these data have {n}",
                        "needs two groups of {dimension}; these data have {n}", len(groups)
                        ).format(dimension=labels.column(group), n=len(groups))
    counts = survey[group].value_counts()
    small = [_group_name(group, g) for g in groups if counts.get(g, 0) < min_cell]
    if small:
        return _("fewer than {min_cell} respondents in group(s) {groups}: no model is fitted "
                 "(privacy)").format(min_cell=min_cell, groups=", ".join(small))
    return ""


def construct_ladders(survey: pd.DataFrame, codebook: Any, min_cell: int, *,
                      group: str = "role", groups: Sequence[Any] | None = ROLE_GROUPS,
                      strict: bool = False, whole: InvarianceResult | str | None = None
                      ) -> dict[str, InvarianceResult | str]:
    """Per construct, its invariance ladder across ``group`` (an :class:`InvarianceResult`), or
    the reason it has none (a string). Rules in the module docstring; ``whole`` is the ladder of
    the model of every modelled construct, when already fitted (two-item constructs use it)."""
    constructs = modelled_constructs(survey, codebook)
    present = _groups_present(survey, group, groups)
    reason = _too_small(survey, group, present, min_cell)
    if reason:
        return {c: reason for c in constructs}
    out: dict[str, InvarianceResult | str] = {}
    pairs = [c for c in constructs if _n_items(survey, codebook, c) == 2]
    if pairs:
        if whole is None:
            whole = whole_ladder(survey, codebook, min_cell, group=group, groups=groups,
                                 strict=strict)
        for c in pairs:
            out[c] = whole if not isinstance(whole, str) else _(
                "two items only: judged in the whole model, whose ladder is not fitted "
                "({reason})").format(reason=whole)
    for c in constructs:
        if c not in out:
            out[c] = _ladder(survey, [c], group, present, codebook, strict)
    return {c: out[c] for c in constructs}


def _ladder(survey: pd.DataFrame, constructs: list[str], group: str, groups: list[Any],
            codebook: Any, strict: bool) -> InvarianceResult | str:
    try:
        return invariance(survey, constructs, group, groups=groups, codebook=codebook,
                          strict=strict)
    except NotEstimable as exc:
        return _("not estimable: {reason}").format(reason=exc.reason)


def _level(result: InvarianceResult) -> str:
    """The ladder's level (:attr:`InvarianceResult.level`) capped at scalar: strict is not
    needed to compare means, so a ladder that reached (partial) strict reports its scalar step."""
    level = result.level
    if not level.endswith("strict"):
        return level
    scalar = result.table.loc[result.table["step"] == "scalar", "verdict"].iloc[0]
    return "scalar" if scalar == "holds" else "partial scalar"


def verdicts_from_ladders(ladders: dict[str, InvarianceResult | str]) -> pd.DataFrame:
    """The verdict table of :func:`invariance_verdicts` from :func:`construct_ladders`."""
    rows = []
    for c, res in ladders.items():
        if isinstance(res, str):
            rows.append({"construct": c, "level": "none", "freed": "", "means_comparable": False,
                         "tested_with": "", "note": res})
            continue
        factors = res.fits["configural"].factors if "configural" in res.fits else [c]
        steps = res.table.set_index("step")
        d = steps["delta_cfi"]
        level = _level(res)
        note = ""
        if level == "none":
            note = "; ".join(res.notes) or _(
                "configural model does not fit (CFI < .90 or RMSEA > .10)")
        accepted = set(res.table.loc[res.table["verdict"].isin(["holds", "partial"]), "step"])
        freed = _accepted_freed(res, accepted)
        if len(factors) > 2:  # a two-item construct judged in the whole model: its own items
            own = set(res.fits["configural"].spec.factors.get(c, ()))
            own_names = {t.name for t in own}
            others = [f for f in freed if not any(f.startswith((f"{i}~", f"{c}=~")) for i in own_names)]
            freed = [f for f in freed if f not in others]
            if others:
                note = _("joint verdict of the whole model, which freed {freed}").format(
                    freed=describe_freed(", ".join(others)))
        rows.append({
            "construct": c, "level": level, "freed": ", ".join(freed),
            "means_comparable": level in ("scalar", "partial scalar"),
            "tested_with": _(WHOLE_MODEL) if len(factors) > 2 else
            ", ".join(f for f in factors if f != c),
            "delta_cfi_metric": float(d.get("metric", np.nan)),
            "delta_cfi_scalar": float(d.get("scalar", np.nan)),
            **{f"delta_{k}_{step}": float(steps[f"delta_{k}"].get(step, np.nan))
               for k in ("rmsea", "srmr") for step in ("metric", "scalar")}, "note": note})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


WHOLE_MODEL = N_("the whole model")


def _accepted_freed(res: InvarianceResult, accepted: set[str]) -> list[str]:
    """Constraints released at the steps that were accepted (holds or partial)."""
    p = res.partial
    if not len(p):
        return []
    return [f for f, step in zip(p["freed"], p["step"], strict=True) if f and step in accepted]


def invariance_verdicts(survey: pd.DataFrame, codebook: Any, min_cell: int = 5, *,
                        group: str = "role", groups: Sequence[Any] | None = ROLE_GROUPS
                        ) -> pd.DataFrame:
    """Per construct, how far measurement invariance across roles (CMO vs CIO) holds.

    One row per modelled construct (:func:`modelled_constructs`): ``level`` is one of "none",
    "configural", "partial metric", "metric", "partial scalar", "scalar" (the highest step that
    holds in sequence by Chen's 2007 criteria, see :mod:`helpers.measurement.invariance`);
    ``freed`` the constraints released for partial invariance (lavaan names, e.g. "speed_2~1");
    ``means_comparable`` is True at (partial) scalar invariance — only then may construct means be
    compared across the groups; ``tested_with`` the other constructs in the same model (two-item
    constructs take the whole model's verdict); ``delta_cfi_metric``/``delta_cfi_scalar`` the ΔCFI of the
    accepted step (after any freeing); ``note`` why a construct has no verdict.

    Constructs asked with different items of the two roles, or with one item, have no row: compare
    them item by item. No model is fitted when a group has fewer than ``min_cell`` respondents
    (every row then reads "none" with the reason). Cost on the sample (835 respondents): about
    0.2 s per construct with three or more items, plus one whole-model ladder (3–5 s) when a
    two-item construct is present.
    """
    return verdicts_from_ladders(construct_ladders(survey, codebook, min_cell, group=group,
                                                   groups=groups))


# --------------------------------------------------------------------------- CFA tables
def try_cfa(survey: pd.DataFrame, constructs: Sequence[str], codebook: Any, *,
            group: str | None = None, groups: Sequence[Any] | None = None,
            model: str | None = None) -> tuple[CFAResult | None, str]:
    """The CFA of ``constructs`` (or of lavaan ``model``), or None and the reason it is not
    estimable in these data."""
    if not constructs and model is None:
        return None, _(NO_CONSTRUCT)
    try:
        return cfa(survey, model or list(constructs), group, groups=groups, codebook=codebook), ""
    except NotEstimable as exc:
        return None, exc.reason


NO_CONSTRUCT = N_("no construct with two or more five-point items asked of both roles")


def fit_table(fits: dict[str, CFAResult]) -> pd.DataFrame:
    """One row per model: n, χ², df, p, CFI, TLI, RMSEA with its 90 % interval, SRMR, and
    whether it converged and is identified (a model that did not shows no fit index)."""
    rows = []
    for name, f in fits.items():
        x = f.fit
        ok = f.usable
        rows.append({"model": name, "n": int(x["n"]), "chi2": x["chisq"], "df": int(x["df"]),
                     "p": x["pvalue"], "CFI": x["cfi"], "TLI": x["tli"], "RMSEA": x["rmsea"],
                     "RMSEA 90% CI": _interval(x["rmsea_low"], x["rmsea_high"], 3),
                     "SRMR": x["srmr"],
                     "status": "estimated" if ok else "not estimable (see notes)"})
    out = pd.DataFrame(rows)
    if len(out):
        bad = out["status"] != "estimated"
        for c in ("chi2", "p", "CFI", "TLI", "RMSEA", "SRMR"):
            out[c] = out[c].astype(float).where(~bad)
        out["RMSEA 90% CI"] = out["RMSEA 90% CI"].where(~bad, "")
    return out


def _interval(low: float, high: float, decimals: int) -> str:
    """``[low, high]`` in the reader's locale (``[0,031; 0,037]`` where the comma is decimal)."""
    sep = "; " if i18n.decimal_symbol() == "," else ", "
    return f"[{i18n.number(low, decimals)}{sep}{i18n.number(high, decimals)}]"


def _p_text(p: float) -> str:
    """``p < .001`` or ``p = .012`` as journals print it."""
    from helpers.headlines import format_p

    text = format_p(float(p))
    return f"p {text}" if text.startswith("<") else f"p = {text}"


#: Hu & Bentler (1999) cut-offs for a good fit, and the acceptable ones (Browne & Cudeck 1993)
GOOD_FIT = {"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}
FAIR_FIT = {"cfi": 0.90, "rmsea": 0.08, "srmr": 0.08}


def fit_reading(f: CFAResult, what: str) -> str:
    """Fit in words, each judgement next to its number (Hu & Bentler 1999 cut-offs: CFI and TLI
    ≥ .95, RMSEA ≤ .06, SRMR ≤ .08; CFI ≥ .90 and RMSEA ≤ .08 acceptable). ``what`` names the
    model in the report language ("The measurement model")."""
    if not f.usable:
        return _("{what} is not estimable: {reasons}.").format(what=what, reasons="; ".join(
            n for n in f.notes if "converge" in n or "not identified" in n))
    x = {k: round(float(f.fit[k]), 3) for k in ("cfi", "tli", "rmsea", "srmr")}
    good = x["cfi"] >= .95 and x["tli"] >= .95 and x["rmsea"] <= .06 and x["srmr"] <= .08
    fair = x["cfi"] >= .90 and x["rmsea"] <= .08 and x["srmr"] <= .08
    numbers = dict(what=what, cfi=i18n.number(x["cfi"], 3), tli=i18n.number(x["tli"], 3),
                   rmsea=i18n.number(x["rmsea"], 3),
                   interval=_interval(f.fit["rmsea_low"], f.fit["rmsea_high"], 3),
                   srmr=i18n.number(x["srmr"], 3), df=i18n.integer(f.fit["df"]),
                   chi2=i18n.number(f.fit["chisq"], 1), p=_p_text(f.fit["pvalue"]))
    if good:
        head = _("{what} fits well (CFI {cfi}, TLI {tli}, RMSEA {rmsea} {interval} (90 % CI), "
                 "SRMR {srmr}; χ²({df}) = {chi2}, {p}).")
    elif fair:
        head = _("{what} fits acceptably (CFI {cfi}, TLI {tli}, RMSEA {rmsea} {interval} (90 % "
                 "CI), SRMR {srmr}; χ²({df}) = {chi2}, {p}).")
    else:
        head = _("{what} does not fit acceptably (CFI {cfi}, TLI {tli}, RMSEA {rmsea} {interval} "
                 "(90 % CI), SRMR {srmr}; χ²({df}) = {chi2}, {p}).")
    return head.format(**numbers) + " " + _(
        "Cut-offs: good when CFI and TLI ≥ .95, RMSEA ≤ .06 and SRMR ≤ .08 (Hu & Bentler 1999); "
        "acceptable when CFI ≥ .90, RMSEA ≤ .08 and SRMR ≤ .08. With several hundred "
        "respondents the χ² test rejects almost any model and is shown, not used.")


def loadings_table(f: CFAResult) -> pd.DataFrame:
    """Standardised loadings (std.all) with delta-method standard errors and 95 % intervals,
    and the unstandardised estimate (marker loadings fixed at 1 have no standard error)."""
    e = f.estimates
    rows = np.flatnonzero((e["op"] == "=~").to_numpy())
    with engine.one_blas_thread():
        se = f._std_errors(rows)
    sub = e.iloc[rows]
    out = pd.DataFrame({"factor": sub["lhs"].to_numpy(), "item": sub["rhs"].to_numpy(),
                        "group": sub["group"].to_numpy(),
                        "loading": sub["estimate"].to_numpy(),
                        "std. loading": sub["std_estimate"].to_numpy(), "SE (std.)": se})
    out["95% CI"] = [_interval(a - Z95 * s, a + Z95 * s, 2) if np.isfinite(s) else ""
                     for a, s in zip(out["std. loading"], out["SE (std.)"], strict=True)]
    return out


def validity_table(f: CFAResult) -> pd.DataFrame:
    """Per factor: items, composite reliability, AVE, √AVE, the largest latent correlation and
    whether Fornell–Larcker holds (√AVE above it), with the usual thresholds flagged
    (CR ≥ .70, AVE ≥ .50; Fornell & Larcker 1981)."""
    rel = f.reliability
    fl = f.fornell_larcker
    out = rel.merge(fl[["factor", "group", "max_abs_correlation", "with", "holds"]],
                    on=["factor", "group"], how="left")
    out["CR ≥ .70"] = out["cr"].round(2) >= 0.70
    out["AVE ≥ .50"] = out["ave"].round(2) >= 0.50
    return out.rename(columns={"n_items": "items", "cr": "CR", "ave": "AVE", "sqrt_ave": "√AVE",
                               "max_abs_correlation": "largest |r|", "with": "with",
                               "holds": "Fornell–Larcker"})


def htmt_table(f: CFAResult) -> pd.DataFrame:
    """HTMT of every pair of factors, flagged above .85 (Henseler, Ringle & Sarstedt 2015)."""
    h = f.htmt.rename(columns={"above_85": "above .85"})
    return h.drop(columns=["group"]) if set(h["group"]) == {"all"} else h


labels.register({"compared_on": N_("Compared on")})
_ACCURACY_LEVELS = {"construct": N_("construct score"), "item": N_("single item")}


def accuracy_shown(accuracy: pd.DataFrame, codebook: Any, language: str | None = None
                   ) -> pd.DataFrame:
    """:func:`helpers.measurement.agreement.perception_accuracy` as the report shows it:
    constructs by their labels, and whether a row compares construct scores or single items in
    words (its own column name: ``level`` means an invariance level elsewhere)."""
    out = labelled(accuracy, codebook, [c for c in ("predicted", "actual")
                                        if c in accuracy.columns], language or i18n.current())
    if "level" in out.columns:
        out = out.rename(columns={"level": "compared_on"})
        out["compared_on"] = out["compared_on"].map(
            lambda v: _(_ACCURACY_LEVELS[v]) if v in _ACCURACY_LEVELS else v)
    return out


def htmt_note(htmt: pd.DataFrame) -> str:
    """The note under the HTMT table: how many pairs of constructs are above .85."""
    k = int(htmt["above .85"].sum()) if len(htmt) else 0
    return ngettext("{k} pair above .85 (Henseler, Ringle & Sarstedt 2015).",
                    "{k} pairs above .85 (Henseler, Ringle & Sarstedt 2015).", k).format(k=k)


def labelled(table: pd.DataFrame, codebook: Any, columns: Sequence[str], language: str = "EN"
             ) -> pd.DataFrame:
    """``table`` with construct ids in ``columns`` replaced by their codebook labels and item
    ids by their reference ("Mutual trust, item 3")."""
    out = table.copy()

    def name(v: Any) -> Any:
        if isinstance(v, str) and v in codebook.constructs:
            return codebook.label(v, language)
        if isinstance(v, str) and v in codebook.items:
            return codebook.item_ref(v, language)
        return v

    for c in columns:
        out[c] = [name(v) for v in out[c]]
    return out


def cfa_notes(f: CFAResult, codebook: Any = None, language: str | None = None) -> str:
    """Every note of a fit (Heywood cases, convergence, identification, left-out items), or a
    sentence saying there is none; with ``codebook``, construct names as their labels."""
    if not f.notes:
        return _("No Heywood case, convergence or identification problem.")
    return _("Notes: {notes}.").format(notes="; ".join(
        named(n, codebook, language) for n in f.notes))


def named(text: str, codebook: Any = None, language: str | None = None) -> str:
    """``text`` with every codebook construct id (``data_ownership``) replaced by its label and
    every item id (``own_1``, in a Heywood note) by its reference ("Data ownership, item 1")."""
    if codebook is None:
        return text
    import re

    ids = sorted([*codebook.constructs, *codebook.items], key=len, reverse=True)
    if not ids:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, ids)) + r")\b")
    lang = language or i18n.current()

    def name(m: re.Match[str]) -> str:
        key = m.group(1)
        return codebook.label(key, lang) if key in codebook.constructs \
            else codebook.item_ref(key, lang)

    return pattern.sub(name, text)


def alpha_side_table(alpha: pd.DataFrame, validity: pd.DataFrame) -> pd.DataFrame:
    """Cronbach's alpha and omega (helpers.scales) beside the CFA's composite reliability."""
    cr = validity.set_index("factor")["CR"] if len(validity) else pd.Series(dtype=float)
    out = alpha[["construct", "label", "k", "n", "alpha", "ci_low", "ci_high", "omega", "note"]].copy()
    out.insert(out.columns.get_loc("omega") + 1, "CR (CFA)", out["construct"].map(cr))
    return out.drop(columns=["construct"])


# --------------------------------------------------------------------------- invariance
def _num(x: float) -> str:
    """A Δ as printed: three decimals with its sign (−.074, +.021; −,074 where the decimal
    separator is a comma)."""
    v = round(float(x), 3) + 0.0
    s = f"{abs(v):.3f}".lstrip("0").replace(".", i18n.decimal_symbol())
    return ("−" if v < 0 else "+" if v > 0 else "") + s


_LICENSE = {"configural": N_("Across {groups} this licenses the same factor structure in both "
                             "groups (nothing may be compared numerically yet)."),
            "metric": N_("Across {groups} this licenses equal loadings, so correlations and "
                         "regression slopes of the construct may be compared."),
            "scalar": N_("Across {groups} this licenses equal intercepts as well, so construct "
                         "means may be compared."),
            "strict": N_("Across {groups} this licenses equal residual variances as well, so "
                         "observed scale scores are comparable.")}
#: partial invariance, per step: one freed constraint, several
_PARTIAL = {
    "metric": lambda n: ngettext(
        "{subject} is partially metric invariant once {freed} is freed ({numbers}; {rule}).",
        "{subject} is partially metric invariant once {freed} are freed ({numbers}; {rule}).", n),
    "scalar": lambda n: ngettext(
        "{subject} is partially scalar invariant once {freed} is freed ({numbers}; {rule}).",
        "{subject} is partially scalar invariant once {freed} are freed ({numbers}; {rule}).", n),
    "strict": lambda n: ngettext(
        "{subject} is partially strict invariant once {freed} is freed ({numbers}; {rule}).",
        "{subject} is partially strict invariant once {freed} are freed ({numbers}; {rule}).", n),
}
#: one sentence per step and outcome (a whole sentence each, for translators)
_STEP = {
    ("metric", "fails"): N_("{subject} is not metric invariant ({numbers}; {rule})."),
    ("scalar", "fails"): N_("{subject} is not scalar invariant ({numbers}; {rule})."),
    ("strict", "fails"): N_("{subject} is not strict invariant ({numbers}; {rule})."),
    ("metric", "fails freed"): N_("{subject} is not metric invariant, even with {freed} freed "
                                  "({numbers}; {rule})."),
    ("scalar", "fails freed"): N_("{subject} is not scalar invariant, even with {freed} freed "
                                  "({numbers}; {rule})."),
    ("strict", "fails freed"): N_("{subject} is not strict invariant, even with {freed} freed "
                                  "({numbers}; {rule})."),
    ("metric", "holds"): N_("{subject} is metric invariant ({numbers}; {rule})."),
    ("scalar", "holds"): N_("{subject} is scalar invariant ({numbers}; {rule})."),
    ("strict", "holds"): N_("{subject} is strict invariant ({numbers}; {rule})."),
}


def step_sentence(step: str, row: pd.Series | dict, subject: str | None = None) -> str:
    """One step of a ladder in words, the verdict derived from the numbers quoted in it (Chen
    2007 for metric/scalar/strict; the configural fit cut-offs of
    :mod:`helpers.measurement.invariance`), not copied from the table's verdict column."""
    row = dict(row)
    subject = subject or _("The model")
    verdict = row.get("verdict")
    if verdict == "not tested":
        return _("{subject}: {step} invariance is not tested (the step before it does not hold)."
                 ).format(subject=subject, step=word(step))
    if verdict == "not estimable" or (step != "configural" and not np.isfinite(
            float(row.get("delta_cfi", np.nan)))):
        return _("{subject}: the {step} model is not estimable in these data.").format(
            subject=subject, step=word(step))
    if step == "configural":
        cfi, rmsea = round(float(row["cfi"]), 3), round(float(row["rmsea"]), 3)
        ok = cfi >= 0.90 and rmsea <= 0.10
        text = (_("{subject} is configurally invariant (CFI {cfi}, RMSEA {rmsea}; needs CFI ≥ "
                  ".90 and RMSEA ≤ .10).") if ok else
                _("{subject} is not configurally invariant (CFI {cfi}, RMSEA {rmsea}; needs CFI "
                  "≥ .90 and RMSEA ≤ .10)."))
        return text.format(subject=subject, cfi=i18n.number(cfi, 3), rmsea=i18n.number(rmsea, 3))
    d_cfi, d_rmsea, d_srmr = (float(row[k]) for k in ("delta_cfi", "delta_rmsea", "delta_srmr"))
    fails = chen_noninvariant(step, d_cfi, d_rmsea, d_srmr)
    cut_cfi, cut_rmsea, cut_srmr = CHEN_2007[step]
    numbers = f"ΔCFI {_num(d_cfi)}, ΔRMSEA {_num(d_rmsea)}, ΔSRMR {_num(d_srmr)}"
    rule = _("non-invariant when ΔCFI ≤ {cfi} with ΔRMSEA ≥ {rmsea} or ΔSRMR ≥ {srmr}, Chen "
             "2007").format(cfi=_num(cut_cfi), rmsea=_num(cut_rmsea), srmr=_num(cut_srmr))
    raw = str(row.get("freed") or "")
    freed = describe_freed(raw)
    if fails:
        text = _(_STEP[(step, "fails freed" if freed else "fails")])
    elif freed:
        text = _PARTIAL[step](len([t for t in raw.split(",") if t.strip()]))
    else:
        text = _(_STEP[(step, "holds")])
    return text.format(subject=subject, freed=freed, numbers=numbers, rule=rule)


def ladder_reading(table: pd.DataFrame, subject: str | None = None, groups: str | None = None
                   ) -> str:
    """The whole ladder in words, step by step, ending with what may be compared across
    ``groups``; every verdict follows from the numbers in its sentence."""
    subject = subject or _("The model")
    groups = groups or _("the roles")
    sentences, reached, freed, n_freed = [], None, [], 0
    for _i, row in table.iterrows():
        sentences.append(step_sentence(row["step"], row, subject))
        if not _step_holds(row):
            break
        reached = row["step"]
        if row.get("freed"):
            freed.append(describe_freed(str(row["freed"])))
            n_freed += len([t for t in str(row["freed"]).split(",") if t.strip()])
    if reached is None:
        end = _("Nothing may be compared across {groups}: not even the factor structure is the "
                "same.").format(groups=groups)
    else:
        end = _(_LICENSE[reached]).format(groups=groups)
        if reached in ("configural", "metric"):
            end += " " + _("Construct means may not be compared across {groups}: compare the "
                           "items one by one instead.").format(groups=groups)
        elif freed:
            end += " " + ngettext(
                "The invariance is partial: {freed} differs between the groups, so a construct "
                "containing that item is compared through the latent model (its latent mean), "
                "not through its raw score.",
                "The invariance is partial: {freed} differ between the groups, so a construct "
                "containing those items is compared through the latent model (its latent mean), "
                "not through its raw score.", n_freed).format(freed=", ".join(freed))
    return " ".join(sentences + [end])


def _step_holds(row: pd.Series | dict) -> bool:
    """Whether :func:`step_sentence` reads a step as holding (from the same numbers)."""
    row = dict(row)
    step = row["step"]
    if row.get("verdict") in ("not tested", "not estimable"):
        return False
    if step == "configural":
        return round(float(row["cfi"]), 3) >= 0.90 and round(float(row["rmsea"]), 3) <= 0.10
    if not np.isfinite(float(row.get("delta_cfi", np.nan))):
        return False
    return not chen_noninvariant(step, *(float(row[k]) for k in
                                         ("delta_cfi", "delta_rmsea", "delta_srmr")))


def ladder_table(res: InvarianceResult) -> pd.DataFrame:
    """The ladder as printed: χ², df, CFI, TLI, RMSEA, SRMR, Δχ² test, ΔCFI, ΔRMSEA, ΔSRMR,
    verdict and the constraints freed."""
    t = res.table.copy()
    return t.rename(columns={"chisq": "chi2", "pvalue": "p", "delta_chisq": "Δchi2",
                             "delta_df": "Δdf", "p_chisq_diff": "p (Δchi2)", "delta_cfi": "ΔCFI",
                             "delta_rmsea": "ΔRMSEA", "delta_srmr": "ΔSRMR", "cfi": "CFI",
                             "tli": "TLI", "rmsea": "RMSEA", "srmr": "SRMR"})


def construct_ladder_table(ladders: dict[str, InvarianceResult | str], codebook: Any,
                           language: str = "EN", groups: str | None = None) -> pd.DataFrame:
    """Per construct: CFI and the Δs of metric and scalar, the level reached, freed constraints
    and the reading sentence of its scalar step (or why there is none)."""
    rows = []
    verdicts = verdicts_from_ladders(ladders).set_index("construct")
    for c, res in ladders.items():
        v = verdicts.loc[c]
        tested = v["tested_with"]
        row = {"construct": codebook.label(c, language), "level": v["level"],
               "freed": v["freed"],
               "tested with": (tested if tested == _(WHOLE_MODEL) else ", ".join(
                   codebook.label(t.strip(), language) if t.strip() in codebook.constructs
                   else t.strip() for t in tested.split(","))) if tested else _("alone")}
        if isinstance(res, str):
            row["reading"] = _("No verdict: {reason}.").format(reason=res)
            rows.append(row)
            continue
        t = res.table.set_index("step")
        for step in ("metric", "scalar"):
            for k, name in (("delta_cfi", "ΔCFI"), ("delta_rmsea", "ΔRMSEA"), ("delta_srmr", "ΔSRMR")):
                row[f"{step} {name}"] = t.loc[step, k] if step in t.index else np.nan
        label = codebook.label(c, language)
        row["reading"] = ladder_reading(res.table[res.table["step"] != "strict"], label, groups)
        rows.append(row)
    return pd.DataFrame(rows)


def latent_means_table(ladders: dict[str, InvarianceResult | str], codebook: Any,
                       language: str = "EN") -> pd.DataFrame:
    """Latent mean differences (second group − reference, CMO − CIO for roles) with 95 %
    intervals, only for constructs at (partial) scalar invariance."""
    verdicts = verdicts_from_ladders(ladders).set_index("construct")
    rows = []
    for c, res in ladders.items():
        if isinstance(res, str) or not verdicts.loc[c, "means_comparable"]:
            continue
        lm = res.latent_means
        for _i, r in lm[lm["factor"] == c].iterrows():
            rows.append({"construct": codebook.label(c, language),
                         "difference": f"{r['group']} − {r['reference']}",
                         "estimate": r["estimate"], "SE": r["std_error"], "ci_low": r["ci_low"],
                         "ci_high": r["ci_high"], "p": r["p_value"],
                         "standardised": r["std_estimate"], "level": verdicts.loc[c, "level"]})
    return pd.DataFrame(rows, columns=["construct", "difference", "estimate", "SE", "ci_low",
                                       "ci_high", "p", "standardised", "level"])


def verdicts_reading(verdicts: pd.DataFrame, codebook: Any, groups: str | None = None,
                     language: str | None = None) -> str:
    """Which construct means may and may not be compared, from the verdict table."""
    language = language or i18n.current()
    groups = groups or _("CMOs and CIOs")
    if verdicts.empty:
        return _("No construct could be tested.")
    ok = verdicts[verdicts["means_comparable"]]
    no = verdicts[~verdicts["means_comparable"]]
    parts = []
    if len(ok):
        parts.append(_("Construct means may be compared between {groups} for {constructs}."
                       ).format(groups=groups, constructs=", ".join(
                           f"{codebook.label(c, language)} ({word(lv)})"
                           for c, lv in zip(ok["construct"], ok["level"], strict=True))))
    if len(no):
        parts.append(_("They may not be compared for {constructs}: there, compare the items one "
                       "by one.").format(constructs=", ".join(
                           _("{construct} (level reached: {level})").format(
                               construct=codebook.label(c, language), level=word(lv))
                           for c, lv in zip(no["construct"], no["level"], strict=True))))
    return " ".join(parts)


# --------------------------------------------------------------------------- common method
METHOD_MIN_PER_ITEM = 10  # ULMC only with 10 complete responses per item (it rarely converges below)


def method_factor(survey: pd.DataFrame, trait: CFAResult, codebook: Any
                  ) -> tuple[pd.DataFrame, str, CFAResult | None]:
    """Unmeasured latent method construct (ULMC; Podsakoff et al. 2003, Liang et al. 2007): the
    trait model plus one method factor on which every item also loads, uncorrelated with the
    traits (variance fixed at 1, loadings free). Returns the comparison table (fit of both
    models, Δχ² test, ΔCFI, and the average share of item variance due to the traits and to the
    method factor: mean squared standardised loadings), a reading, and the method fit. Fitted
    only with at least :data:`METHOD_MIN_PER_ITEM` complete responses per item (otherwise the
    table is empty and the reading says why)."""
    n, p = int(trait.fit["n"]), len(trait.items)
    if n < METHOD_MIN_PER_ITEM * p:
        return (pd.DataFrame(), _(
            "The method-factor model is not fitted in this segment: it adds a loading for each of "
            "the {p} items and needs at least {per_item} complete responses per item ({need}); "
            "there are {n}.").format(p=p, per_item=METHOD_MIN_PER_ITEM,
                                     need=i18n.integer(METHOD_MIN_PER_ITEM * p),
                                     n=i18n.integer(n)), None)
    spec = trait.spec
    syntax = (spec.syntax + "\n_method =~ NA*" + " + ".join(trait.items) + "\n_method ~~ 1*_method\n"
              + "\n".join(f"_method ~~ 0*{f}" for f in trait.factors))
    try:
        m = cfa(survey, syntax, codebook=codebook, start=trait)
    except NotEstimable as exc:
        return pd.DataFrame(), _("The method-factor model is not estimable: {reason}.").format(
            reason=exc.reason), None
    if not m.usable:
        return (pd.DataFrame(), _("The method-factor model is not estimable: {reason}.").format(
            reason="; ".join(n for n in m.notes if "converge" in n or "not identified" in n)),
            None)
    lo = m.loadings
    method = lo[lo["factor"] == "_method"]["std_estimate"].to_numpy(float)
    traits = lo[lo["factor"] != "_method"]["std_estimate"].to_numpy(float)
    d_chisq = trait.fit["chisq"] - m.fit["chisq"]
    d_df = int(trait.fit["df"] - m.fit["df"])
    p = float(stats.chi2.sf(max(d_chisq, 0), d_df))
    table = pd.DataFrame([
        {"model": _(TRAITS_ONLY), "chi2": trait.fit["chisq"], "df": int(trait.fit["df"]),
         "CFI": trait.fit["cfi"], "RMSEA": trait.fit["rmsea"], "SRMR": trait.fit["srmr"],
         "trait variance": float(np.mean(trait.loadings["std_estimate"].to_numpy(float) ** 2)),
         "method variance": np.nan},
        {"model": _(TRAITS_METHOD), "chi2": m.fit["chisq"], "df": int(m.fit["df"]),
         "CFI": m.fit["cfi"], "RMSEA": m.fit["rmsea"], "SRMR": m.fit["srmr"],
         "trait variance": float(np.mean(traits ** 2)),
         "method variance": float(np.mean(method ** 2))}])
    share_m, share_t = table["method variance"].iloc[1], table["trait variance"].iloc[1]
    d_cfi = round(m.fit["cfi"] - trait.fit["cfi"], 3)
    big = share_m >= 0.25 or share_m >= share_t / 2
    reading = _("Adding a method factor improves the fit by Δχ²({df}) = {chi2} ({p}), ΔCFI "
                "{d_cfi}. On average it explains {method} of an item's variance, against {trait} "
                "explained by the constructs.").format(
        df=d_df, chi2=i18n.number(d_chisq, 1), p=_p_text(p), d_cfi=_num(d_cfi),
        method=i18n.percent(share_m, 0, scale=100), trait=i18n.percent(share_t, 0, scale=100))
    reading += " " + (_("That is a substantial method share: relations between constructs "
                        "answered by the same respondent may be inflated.") if big else
                      _("Method variance is small beside trait variance (Williams, Cote & "
                        "Buckley 1989 report a median of about 25 % in survey research), so "
                        "common-method bias is unlikely to drive the relations between "
                        "constructs; the χ² improvement alone is expected with this many items "
                        "and respondents."))
    return table, reading, m


TRAITS_ONLY, TRAITS_METHOD = N_("traits only"), N_("traits + method factor")


def harman(survey: pd.DataFrame, trait: CFAResult) -> tuple[float, str]:
    """Harman's single-factor test (side note): the share of the items' total variance on the
    first unrotated principal component of their correlations (listwise, as the CFA)."""
    parts = trait._parts
    data = pd.concat(parts)
    corr = np.corrcoef(data.to_numpy(float), rowvar=False)
    share = float(np.linalg.eigvalsh(corr)[-1] / corr.shape[0])
    text = (_("Harman's single-factor test (a weak check, shown for completeness): the first "
              "unrotated component carries {share} of the variance of the {k} items, above the "
              "50 % that would signal one dominant common factor.") if share > 0.5 else
            _("Harman's single-factor test (a weak check, shown for completeness): the first "
              "unrotated component carries {share} of the variance of the {k} items, below the "
              "50 % that would signal one dominant common factor."))
    return share, text.format(share=i18n.percent(share, 0, scale=100), k=corr.shape[0])


# --------------------------------------------------------------------------- Table 1
def table1(scores: pd.DataFrame, cr: dict[str, float], min_cell: int, codebook: Any,
           language: str = "EN") -> pd.DataFrame:
    """Table 1 as journals print it: n, mean and SD of each construct score, and the lower
    triangle of their correlations (pairwise complete) with composite reliability on the
    diagonal. A row with fewer than ``min_cell`` scores is suppressed, and so is a correlation
    resting on fewer than ``min_cell`` respondents (privacy)."""
    from helpers.privacy import suppress_small_groups

    cols = [c for c in scores.columns if scores[c].notna().any()]
    k = len(cols)
    names = [f"{i + 1}. {codebook.label(c, language)}" for i, c in enumerate(cols)]
    out = pd.DataFrame({"n": [int(scores[c].notna().sum()) for c in cols],
                        "M": [scores[c].mean() for c in cols],
                        "SD": [scores[c].std() for c in cols]}, index=names)
    present = scores[cols].notna().astype(int)
    pair_n = present.T @ present
    corr = scores[cols].corr()
    for j in range(k):
        col = []
        for i in range(k):
            if i == j:
                col.append(cr.get(cols[i], np.nan))
            elif i > j and pair_n.iloc[i, j] >= min_cell:
                col.append(corr.iloc[i, j])
            else:
                col.append(np.nan)
        out[str(j + 1)] = col
    out.index.name = "construct"
    out = out.reset_index()
    return suppress_small_groups(out, ["n"], ["M", "SD"] + [str(j + 1) for j in range(k)], min_cell)


def table1_by_role(survey: pd.DataFrame, codebook: Any, constructs: Sequence[str], min_cell: int,
                   language: str = "EN", min_items: float = 0.5, *,
                   pooled: tuple[CFAResult | None, str] | None = None
                   ) -> dict[str, tuple[pd.DataFrame, str]]:
    """Table 1 for all respondents and for each role: the scores of ``constructs``
    (:func:`helpers.scales.score`: a respondent's score needs answers to ``min_items``, a share,
    of the construct's items asked) with the composite reliability of a CFA fitted to the same
    respondents on the diagonal; a CFA that is not estimable, or a role with fewer than
    :data:`CFA_MIN_PER_ITEM` respondents per item, leaves the diagonal empty and says why (the
    second element). ``pooled``: :func:`try_cfa`'s result for all of ``survey`` and
    ``constructs`` when the caller has it already (the report fits that model once)."""
    from helpers import scales

    out = {}
    subsets = [("all respondents", survey)]
    if "role" in survey.columns:
        subsets += [(f"{r}s", survey[survey["role"] == r]) for r in codebook.roles
                    if (survey["role"] == r).any()]
    p = sum(_n_items(survey, codebook, c) for c in constructs)
    for name, part in subsets:
        if len(part) < min_cell:
            out[name] = (pd.DataFrame(), _("fewer than {min_cell} respondents").format(
                min_cell=min_cell))
            continue
        if name != "all respondents" and len(part) < CFA_MIN_PER_ITEM * p:
            fit, why = None, _("{n} respondents for {p} items; a CFA of one role is fitted with "
                               "at least {per_item} per item ({need})").format(
                n=i18n.integer(len(part)), p=p, per_item=CFA_MIN_PER_ITEM,
                need=i18n.integer(CFA_MIN_PER_ITEM * p))
        elif name == "all respondents" and pooled is not None:
            fit, why = pooled
        else:
            fit, why = try_cfa(part, constructs, codebook)
        cr = {}
        note = _("Composite reliability (CFA of these respondents) on the diagonal.")
        if fit is not None and fit.usable:
            cr = dict(zip(fit.reliability["factor"], fit.reliability["cr"], strict=True))
        else:
            note = _("Diagonal empty: the CFA of these respondents is not estimable ({reason})."
                     ).format(reason=why or "; ".join(n for n in fit.notes if "converge" in n
                                                      or "not identified" in n))
        scores = scales.score(part, codebook, list(constructs), min_items=min_items)
        out[name] = (table1(scores, cr, min_cell, codebook, language), note)
    return out


TABLE1_WHO = {"all respondents": N_("Table 1: construct scores, all respondents"),
              "CMOs": N_("Table 1: construct scores, CMOs"),
              "CIOs": N_("Table 1: construct scores, CIOs")}


def table1_caption(name: str) -> str:
    """The caption of the Table 1 of ``name`` (a key of :func:`table1_by_role`), translated."""
    return _(TABLE1_WHO[name]) if name in TABLE1_WHO else _(
        "Table 1: construct scores, {who}").format(who=name)


def whole_ladder(survey: pd.DataFrame, codebook: Any, min_cell: int, *, group: str = "role",
                 groups: Sequence[Any] | None = ROLE_GROUPS, strict: bool = True
                 ) -> InvarianceResult | str:
    """The ladder of the model of every modelled construct across ``group`` (configural →
    metric → scalar → strict), or why it is not fitted (fewer than two groups, a group below
    ``min_cell`` or below :data:`LADDER_MIN_PER_ITEM` respondents per item, or a model that is
    not estimable)."""
    constructs = modelled_constructs(survey, codebook)
    if not constructs:
        return _(NO_CONSTRUCT)
    present = _groups_present(survey, group, groups)
    reason = _too_small(survey, group, present, min_cell)
    if reason:
        return reason
    p = sum(_n_items(survey, codebook, c) for c in constructs)
    need = LADDER_MIN_PER_ITEM * p
    counts = survey[group].value_counts()
    small = [f"{_group_name(group, g)} ({i18n.integer(counts.get(g, 0))})" for g in present
             if counts.get(g, 0) < need]
    if small:
        return ngettext(
            "the whole model has {p} items; its ladder is fitted only with at least {per_item} "
            "respondents per item in every group ({need}), and {groups} has fewer",
            "the whole model has {p} items; its ladder is fitted only with at least {per_item} "
            "respondents per item in every group ({need}), and {groups} have fewer",
            len(small)).format(p=p, per_item=LADDER_MIN_PER_ITEM, need=i18n.integer(need),
                               groups=", ".join(small))
    return _ladder(survey, constructs, group, present, codebook, strict)
