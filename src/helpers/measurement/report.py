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
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from helpers.measurement import engine
from helpers.measurement.cfa import Z95, CFAResult, cfa
from helpers.measurement.invariance import CHEN_2007, InvarianceResult, chen_noninvariant, invariance
from helpers.measurement.spec import NotEstimable

LADDER_MIN_PER_ITEM = 5  # whole-model ladder: respondents per item in every group (below, the
# multi-group model of 30+ items rarely converges and the batch would spend minutes on it)
CFA_MIN_PER_ITEM = 2  # a role's own CFA for Table 1's diagonal: complete rows per item
ROLE_GROUPS = ("CIO", "CMO")  # reference first: latent mean differences read CMO − CIO
LEVELS = ("none", "configural", "partial metric", "metric", "partial scalar", "scalar")
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
    return str(value) if group == "role" else f"{group} {value}"


def _too_small(survey: pd.DataFrame, group: str, groups: Sequence[Any], min_cell: int) -> str:
    """Why no ladder may be fitted (fewer than two groups, or a group below min_cell), or ''."""
    if len(groups) < 2:
        return f"needs two groups of {group}; these data have {len(groups)}"
    counts = survey[group].value_counts()
    small = [_group_name(group, g) for g in groups if counts.get(g, 0) < min_cell]
    if small:
        return (f"fewer than {min_cell} respondents in group(s) {', '.join(small)}: no model is "
                "fitted (privacy)")
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
            out[c] = whole if not isinstance(whole, str) else (
                f"two items only: judged in the whole model, whose ladder is not fitted ({whole})")
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
        return f"not estimable: {exc.reason}"


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
            note = "; ".join(res.notes) or "configural model does not fit (CFI < .90 or RMSEA > .10)"
        accepted = set(res.table.loc[res.table["verdict"].isin(["holds", "partial"]), "step"])
        freed = _accepted_freed(res, accepted)
        if len(factors) > 2:  # a two-item construct judged in the whole model: its own items
            own = set(res.fits["configural"].spec.factors.get(c, ()))
            own_names = {t.name for t in own}
            others = [f for f in freed if not any(f.startswith((f"{i}~", f"{c}=~")) for i in own_names)]
            freed = [f for f in freed if f not in others]
            if others:
                note = (f"joint verdict of the whole model, which freed {', '.join(others)}")
        rows.append({
            "construct": c, "level": level, "freed": ", ".join(freed),
            "means_comparable": level in ("scalar", "partial scalar"),
            "tested_with": "the whole model" if len(factors) > 2 else
            ", ".join(f for f in factors if f != c),
            "delta_cfi_metric": float(d.get("metric", np.nan)),
            "delta_cfi_scalar": float(d.get("scalar", np.nan)),
            **{f"delta_{k}_{step}": float(steps[f"delta_{k}"].get(step, np.nan))
               for k in ("rmsea", "srmr") for step in ("metric", "scalar")}, "note": note})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


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
        return None, "no construct with two or more five-point items asked of both roles"
    try:
        return cfa(survey, model or list(constructs), group, groups=groups, codebook=codebook), ""
    except NotEstimable as exc:
        return None, exc.reason


def fit_table(fits: dict[str, CFAResult]) -> pd.DataFrame:
    """One row per model: n, χ², df, p, CFI, TLI, RMSEA with its 90 % interval, SRMR, and
    whether it converged and is identified (a model that did not shows no fit index)."""
    rows = []
    for name, f in fits.items():
        x = f.fit
        ok = f.usable
        rows.append({"model": name, "n": int(x["n"]), "chi2": x["chisq"], "df": int(x["df"]),
                     "p": x["pvalue"], "CFI": x["cfi"], "TLI": x["tli"], "RMSEA": x["rmsea"],
                     "RMSEA 90% CI": f"[{x['rmsea_low']:.3f}, {x['rmsea_high']:.3f}]",
                     "SRMR": x["srmr"],
                     "status": "estimated" if ok else "not estimable (see notes)"})
    out = pd.DataFrame(rows)
    if len(out):
        bad = out["status"] != "estimated"
        for c in ("chi2", "p", "CFI", "TLI", "RMSEA", "SRMR"):
            out[c] = out[c].astype(float).where(~bad)
        out["RMSEA 90% CI"] = out["RMSEA 90% CI"].where(~bad, "")
    return out


def fit_reading(f: CFAResult, what: str) -> str:
    """Fit in words, each judgement next to its number (Hu & Bentler 1999 cut-offs: CFI and TLI
    ≥ .95, RMSEA ≤ .06, SRMR ≤ .08; CFI ≥ .90 and RMSEA ≤ .08 acceptable)."""
    if not f.usable:
        return f"The {what} is not estimable: " + "; ".join(
            n for n in f.notes if "converge" in n or "not identified" in n) + "."
    x = {k: round(float(f.fit[k]), 3) for k in ("cfi", "tli", "rmsea", "srmr")}
    good = x["cfi"] >= .95 and x["tli"] >= .95 and x["rmsea"] <= .06 and x["srmr"] <= .08
    fair = x["cfi"] >= .90 and x["rmsea"] <= .08 and x["srmr"] <= .08
    verdict = ("fits well" if good else "fits acceptably" if fair else "does not fit acceptably")
    return (f"The {what} {verdict} (CFI {x['cfi']:.3f}, TLI {x['tli']:.3f}, RMSEA "
            f"{x['rmsea']:.3f} [90 % CI {f.fit['rmsea_low']:.3f}, {f.fit['rmsea_high']:.3f}], SRMR "
            f"{x['srmr']:.3f}; χ²({int(f.fit['df'])}) = {f.fit['chisq']:.1f}, p "
            f"{'< .001' if f.fit['pvalue'] < .001 else '= ' + format(f.fit['pvalue'], '.3f')}). "
            "Cut-offs: good when CFI and TLI ≥ .95, RMSEA ≤ .06 and SRMR ≤ .08 (Hu & Bentler "
            "1999); acceptable when CFI ≥ .90, RMSEA ≤ .08 and SRMR ≤ .08. With several hundred "
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
    out["95% CI"] = [f"[{a - Z95 * s:.2f}, {a + Z95 * s:.2f}]" if np.isfinite(s) else ""
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


def labelled(table: pd.DataFrame, codebook: Any, columns: Sequence[str], language: str = "EN"
             ) -> pd.DataFrame:
    """``table`` with construct ids in ``columns`` replaced by their codebook labels."""
    out = table.copy()
    for c in columns:
        out[c] = [codebook.label(v, language) if isinstance(v, str) and v in codebook.constructs
                  else v for v in out[c]]
    return out


def cfa_notes(f: CFAResult) -> str:
    """Every note of a fit (Heywood cases, convergence, identification, left-out items), or a
    sentence saying there is none."""
    if not f.notes:
        return "No Heywood case, convergence or identification problem."
    return "Notes: " + "; ".join(f.notes) + "."


def alpha_side_table(alpha: pd.DataFrame, validity: pd.DataFrame) -> pd.DataFrame:
    """Cronbach's alpha and omega (helpers.scales) beside the CFA's composite reliability."""
    cr = validity.set_index("factor")["CR"] if len(validity) else pd.Series(dtype=float)
    out = alpha[["construct", "label", "k", "n", "alpha", "ci_low", "ci_high", "omega", "note"]].copy()
    out.insert(out.columns.get_loc("omega") + 1, "CR (CFA)", out["construct"].map(cr))
    return out.drop(columns=["construct"])


# --------------------------------------------------------------------------- invariance
def _num(x: float) -> str:
    """A Δ as printed: three decimals with its sign (−.074, +.021)."""
    v = round(float(x), 3) + 0.0
    s = f"{abs(v):.3f}".lstrip("0")
    return ("−" if v < 0 else "+" if v > 0 else "") + s


_ADJ = {"metric": "metric", "scalar": "scalar", "strict": "strict"}
_LICENSE = {"configural": "the same factor structure in both groups (nothing may be compared "
                          "numerically yet)",
            "metric": "equal loadings, so correlations and regression slopes of the construct "
                      "may be compared",
            "scalar": "equal intercepts as well, so construct means may be compared",
            "strict": "equal residual variances as well, so observed scale scores are "
                      "comparable"}


def step_sentence(step: str, row: pd.Series | dict, subject: str = "The model") -> str:
    """One step of a ladder in words, the verdict derived from the numbers quoted in it (Chen
    2007 for metric/scalar/strict; the configural fit cut-offs of
    :mod:`helpers.measurement.invariance`), not copied from the table's verdict column."""
    row = dict(row)
    verdict = row.get("verdict")
    if verdict == "not tested":
        return f"{subject}: {step} invariance is not tested (the step before it does not hold)."
    if verdict == "not estimable" or (step != "configural" and not np.isfinite(
            float(row.get("delta_cfi", np.nan)))):
        return f"{subject}: the {step} model is not estimable in these data."
    if step == "configural":
        cfi, rmsea = round(float(row["cfi"]), 3), round(float(row["rmsea"]), 3)
        ok = cfi >= 0.90 and rmsea <= 0.10
        return (f"{subject} {'is' if ok else 'is not'} configurally invariant (CFI {cfi:.3f}, "
                f"RMSEA {rmsea:.3f}; needs CFI ≥ .90 and RMSEA ≤ .10).")
    d_cfi, d_rmsea, d_srmr = (float(row[k]) for k in ("delta_cfi", "delta_rmsea", "delta_srmr"))
    fails = chen_noninvariant(step, d_cfi, d_rmsea, d_srmr)
    cut_cfi, cut_rmsea, cut_srmr = CHEN_2007[step]
    numbers = f"ΔCFI {_num(d_cfi)}, ΔRMSEA {_num(d_rmsea)}, ΔSRMR {_num(d_srmr)}"
    rule = (f"non-invariant when ΔCFI ≤ {_num(cut_cfi)} with ΔRMSEA ≥ {_num(cut_rmsea)} or "
            f"ΔSRMR ≥ {_num(cut_srmr)}, Chen 2007")
    freed = str(row.get("freed") or "")
    if fails:
        tried = f", even with {freed} freed" if freed else ""
        return f"{subject} is not {_ADJ[step]} invariant{tried} ({numbers}; {rule})."
    if freed:
        return (f"{subject} is partially {_ADJ[step]} invariant once {freed} "
                f"{'is' if ',' not in freed else 'are'} freed ({numbers}; {rule}).")
    return f"{subject} is {_ADJ[step]} invariant ({numbers}; {rule})."


def ladder_reading(table: pd.DataFrame, subject: str = "The model", groups: str = "the roles"
                   ) -> str:
    """The whole ladder in words, step by step, ending with what may be compared across
    ``groups``; every verdict follows from the numbers in its sentence."""
    sentences, reached, freed = [], None, []
    for _, row in table.iterrows():
        s = step_sentence(row["step"], row, subject)
        sentences.append(s)
        if " is not " in s or "not tested" in s or "not estimable" in s:
            break
        reached = row["step"]
        if row.get("freed"):
            freed.append(str(row["freed"]))
    if reached is None:
        end = (f"Nothing may be compared across {groups}: not even the factor structure is the "
               "same.")
    else:
        end = f"Across {groups} this licenses {_LICENSE[reached]}."
        if reached in ("configural", "metric"):
            end += (f" Construct means may not be compared across {groups}: compare the items "
                    "one by one instead.")
        elif freed:
            end += (f" The invariance is partial: {', '.join(freed)} differ(s) between the groups, "
                    "so a construct containing those items is compared through the latent model "
                    "(its latent mean), not through its raw score.")
    return " ".join(sentences + [end])


def ladder_table(res: InvarianceResult) -> pd.DataFrame:
    """The ladder as printed: χ², df, CFI, TLI, RMSEA, SRMR, Δχ² test, ΔCFI, ΔRMSEA, ΔSRMR,
    verdict and the constraints freed."""
    t = res.table.copy()
    return t.rename(columns={"chisq": "chi2", "pvalue": "p", "delta_chisq": "Δchi2",
                             "delta_df": "Δdf", "p_chisq_diff": "p (Δchi2)", "delta_cfi": "ΔCFI",
                             "delta_rmsea": "ΔRMSEA", "delta_srmr": "ΔSRMR", "cfi": "CFI",
                             "tli": "TLI", "rmsea": "RMSEA", "srmr": "SRMR"})


def construct_ladder_table(ladders: dict[str, InvarianceResult | str], codebook: Any,
                           language: str = "EN") -> pd.DataFrame:
    """Per construct: CFI and the Δs of metric and scalar, the level reached, freed constraints
    and the reading sentence of its scalar step (or why there is none)."""
    rows = []
    verdicts = verdicts_from_ladders(ladders).set_index("construct")
    for c, res in ladders.items():
        v = verdicts.loc[c]
        row = {"construct": codebook.label(c, language), "level": v["level"],
               "freed": v["freed"], "tested with": v["tested_with"] or "alone"}
        if isinstance(res, str):
            row["reading"] = f"No verdict: {res}."
            rows.append(row)
            continue
        t = res.table.set_index("step")
        for step in ("metric", "scalar"):
            for k, name in (("delta_cfi", "ΔCFI"), ("delta_rmsea", "ΔRMSEA"), ("delta_srmr", "ΔSRMR")):
                row[f"{step} {name}"] = t.loc[step, k] if step in t.index else np.nan
        label = codebook.label(c, language)
        row["reading"] = ladder_reading(res.table[res.table["step"] != "strict"], label)
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
        for _, r in lm[lm["factor"] == c].iterrows():
            rows.append({"construct": codebook.label(c, language),
                         "difference": f"{r['group']} − {r['reference']}",
                         "estimate": r["estimate"], "SE": r["std_error"], "ci_low": r["ci_low"],
                         "ci_high": r["ci_high"], "p": r["p_value"],
                         "standardised": r["std_estimate"], "level": verdicts.loc[c, "level"]})
    return pd.DataFrame(rows, columns=["construct", "difference", "estimate", "SE", "ci_low",
                                       "ci_high", "p", "standardised", "level"])


def verdicts_reading(verdicts: pd.DataFrame, codebook: Any, groups: str = "CMOs and CIOs",
                     language: str = "EN") -> str:
    """Which construct means may and may not be compared, from the verdict table."""
    if verdicts.empty:
        return "No construct could be tested."
    ok = verdicts[verdicts["means_comparable"]]
    no = verdicts[~verdicts["means_comparable"]]
    parts = []
    if len(ok):
        parts.append(f"Construct means may be compared between {groups} for "
                     + ", ".join(f"{codebook.label(c, language)} ({lv})"
                                 for c, lv in zip(ok["construct"], ok["level"], strict=True))
                     + ".")
    if len(no):
        parts.append("They may not be compared for "
                     + ", ".join(f"{codebook.label(c, language)} (level reached: {lv})"
                                 for c, lv in zip(no["construct"], no["level"], strict=True))
                     + ": there, compare the items one by one.")
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
        return (pd.DataFrame(), f"The method-factor model is not fitted in this segment: it adds "
                f"a loading for each of the {p} items and needs at least {METHOD_MIN_PER_ITEM} "
                f"complete responses per item ({METHOD_MIN_PER_ITEM * p}); there are {n}.", None)
    spec = trait.spec
    syntax = (spec.syntax + "\n_method =~ NA*" + " + ".join(trait.items) + "\n_method ~~ 1*_method\n"
              + "\n".join(f"_method ~~ 0*{f}" for f in trait.factors))
    try:
        m = cfa(survey, syntax, codebook=codebook, start=trait)
    except NotEstimable as exc:
        return pd.DataFrame(), f"The method-factor model is not estimable: {exc.reason}.", None
    if not m.usable:
        return (pd.DataFrame(), "The method-factor model is not estimable: " + "; ".join(
            n for n in m.notes if "converge" in n or "not identified" in n) + ".", None)
    lo = m.loadings
    method = lo[lo["factor"] == "_method"]["std_estimate"].to_numpy(float)
    traits = lo[lo["factor"] != "_method"]["std_estimate"].to_numpy(float)
    d_chisq = trait.fit["chisq"] - m.fit["chisq"]
    d_df = int(trait.fit["df"] - m.fit["df"])
    p = float(stats.chi2.sf(max(d_chisq, 0), d_df))
    table = pd.DataFrame([
        {"model": "traits only", "chi2": trait.fit["chisq"], "df": int(trait.fit["df"]),
         "CFI": trait.fit["cfi"], "RMSEA": trait.fit["rmsea"], "SRMR": trait.fit["srmr"],
         "trait variance": float(np.mean(trait.loadings["std_estimate"].to_numpy(float) ** 2)),
         "method variance": np.nan},
        {"model": "traits + method factor", "chi2": m.fit["chisq"], "df": int(m.fit["df"]),
         "CFI": m.fit["cfi"], "RMSEA": m.fit["rmsea"], "SRMR": m.fit["srmr"],
         "trait variance": float(np.mean(traits ** 2)),
         "method variance": float(np.mean(method ** 2))}])
    share_m, share_t = table["method variance"].iloc[1], table["trait variance"].iloc[1]
    d_cfi = round(m.fit["cfi"] - trait.fit["cfi"], 3)
    big = share_m >= 0.25 or share_m >= share_t / 2
    reading = (f"Adding a method factor improves the fit by Δχ²({d_df}) = {d_chisq:.1f} "
               f"(p {'< .001' if p < .001 else '= ' + format(p, '.3f')}), ΔCFI {_num(d_cfi)}. "
               f"On average it explains {share_m:.0%} of an item's variance, against {share_t:.0%} "
               f"explained by the constructs. ")
    reading += ("That is a substantial method share: relations between constructs answered by the "
                "same respondent may be inflated." if big else
                "Method variance is small beside trait variance (Williams, Cote & Buckley 1989 "
                "report a median of about 25 % in survey research), so common-method bias is "
                "unlikely to drive the relations between constructs; the χ² improvement alone "
                "is expected with this many items and respondents.")
    return table, reading, m


def harman(survey: pd.DataFrame, trait: CFAResult) -> tuple[float, str]:
    """Harman's single-factor test (side note): the share of the items' total variance on the
    first unrotated principal component of their correlations (listwise, as the CFA)."""
    parts = trait._parts
    data = pd.concat(parts)
    corr = np.corrcoef(data.to_numpy(float), rowvar=False)
    share = float(np.linalg.eigvalsh(corr)[-1] / corr.shape[0])
    return share, (f"Harman's single-factor test (a weak check, shown for completeness): the first "
                   f"unrotated component carries {share:.0%} of the variance of the "
                   f"{corr.shape[0]} items, {'above' if share > 0.5 else 'below'} the 50 % that "
                   "would signal one dominant common factor.")


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
                   language: str = "EN") -> dict[str, tuple[pd.DataFrame, str]]:
    """Table 1 for all respondents and for each role: the scores of ``constructs``
    (:func:`helpers.scales.score`) with the composite reliability of a CFA fitted to the same
    respondents on the diagonal; a CFA that is not estimable, or a role with fewer than
    :data:`CFA_MIN_PER_ITEM` respondents per item, leaves the diagonal empty and says why (the
    second element)."""
    from helpers import scales

    out = {}
    subsets = [("all respondents", survey)]
    if "role" in survey.columns:
        subsets += [(f"{r}s", survey[survey["role"] == r]) for r in codebook.roles
                    if (survey["role"] == r).any()]
    p = sum(_n_items(survey, codebook, c) for c in constructs)
    for name, part in subsets:
        if len(part) < min_cell:
            out[name] = (pd.DataFrame(), f"fewer than {min_cell} respondents")
            continue
        if name != "all respondents" and len(part) < CFA_MIN_PER_ITEM * p:
            fit, why = None, (f"{len(part)} respondents for {p} items; a CFA of one role is "
                              f"fitted with at least {CFA_MIN_PER_ITEM} per item "
                              f"({CFA_MIN_PER_ITEM * p})")
        else:
            fit, why = try_cfa(part, constructs, codebook)
        cr = {}
        note = "Composite reliability (CFA of these respondents) on the diagonal."
        if fit is not None and fit.usable:
            cr = dict(zip(fit.reliability["factor"], fit.reliability["cr"], strict=True))
        else:
            note = ("Diagonal empty: the CFA of these respondents is not estimable ("
                    + (why or "; ".join(n for n in fit.notes if "converge" in n
                                        or "not identified" in n)) + ").")
        scores = scales.score(part, codebook, list(constructs))
        out[name] = (table1(scores, cr, min_cell, codebook, language), note)
    return out


def whole_ladder(survey: pd.DataFrame, codebook: Any, min_cell: int, *, group: str = "role",
                 groups: Sequence[Any] | None = ROLE_GROUPS, strict: bool = True
                 ) -> InvarianceResult | str:
    """The ladder of the model of every modelled construct across ``group`` (configural →
    metric → scalar → strict), or why it is not fitted (fewer than two groups, a group below
    ``min_cell`` or below :data:`LADDER_MIN_PER_ITEM` respondents per item, or a model that is
    not estimable)."""
    constructs = modelled_constructs(survey, codebook)
    if not constructs:
        return "no construct with two or more five-point items asked of both roles"
    present = _groups_present(survey, group, groups)
    reason = _too_small(survey, group, present, min_cell)
    if reason:
        return reason
    p = sum(_n_items(survey, codebook, c) for c in constructs)
    need = LADDER_MIN_PER_ITEM * p
    counts = survey[group].value_counts()
    small = [f"{_group_name(group, g)} ({int(counts.get(g, 0))})" for g in present
             if counts.get(g, 0) < need]
    if small:
        return (f"the whole model has {p} items; its ladder is fitted only with at least "
                f"{LADDER_MIN_PER_ITEM} respondents per item in every group ({need}), and "
                f"{', '.join(small)} {'has' if len(small) == 1 else 'have'} fewer")
    return _ladder(survey, constructs, group, present, codebook, strict)
