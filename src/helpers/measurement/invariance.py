"""Measurement invariance across groups: the configural → metric → scalar → strict ladder.

Each step adds lavaan ``group.equal`` constraints to the previous one (metric: loadings; scalar:
+ intercepts, with latent means then free in every group but the first; strict: + residual
variances) and is compared with the step before it (or with the partial model accepted there).

Verdicts (stated rules; every verdict follows from the numbers printed beside it):

* configural — *holds* when the model converges, is identified, and fits acceptably:
  CFI ≥ .90 and RMSEA ≤ .10 at three decimals (Bentler & Bonett 1980; MacCallum, Browne &
  Sugawara 1996); *not estimable* when it does not converge or is not identified. Unless it
  holds, the later steps are *not tested*.
* metric, scalar, strict — Chen (2007), for samples above 300: a step *does not hold* when
  ΔCFI ≤ −.010 *and* either ΔRMSEA ≥ .015 or ΔSRMR ≥ .030 (metric) / ≥ .010 (scalar, strict);
  otherwise it *holds*. The Δs are rounded to three decimals, as printed, before the rule is
  applied. The χ² difference test (``p_chisq_diff``) is shown beside it but does not decide: with
  a few hundred executives it flags differences too small to matter (Cheung & Rensvold 2002).
* partial invariance — when a step does not hold, its equality constraints are released one at
  a time, each time the one with the largest score test (modification index, as
  ``lavaan::lavTestScore``) among those that may still be released, refitting after each, until
  the step holds against the previous one (verdict *partial*). A constraint may be released only
  if its score test is significant (χ² with G − 1 df, p < .05) and if every factor keeps at least
  two invariant items (the marker counts for loadings; Byrne, Shavelson & Muthén 1989; Steenkamp
  & Baumgartner 1998). When no constraint may be released and the step still fails, it *does not
  hold* and the later steps are *not tested*.
* latent mean differences — only where scalar invariance holds at least partially: the latent
  mean of each group minus the first group's (fixed at 0), from the (partial) scalar model, with a
  95 % Wald interval and, as a standardised difference, divided by the pooled latent SD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers.measurement.cfa import Z95, CFAResult, cfa, prepare_model
from helpers.measurement.spec import NotEstimable
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}
RELEASED_BY_STEP = {"metric": "=~", "scalar": "~1", "strict": "~~"}
# Chen (2007): (ΔCFI at or below, ΔRMSEA at or above, ΔSRMR at or above) mark non-invariance
CHEN_2007 = {"metric": (-0.010, 0.015, 0.030), "scalar": (-0.010, 0.015, 0.010),
             "strict": (-0.010, 0.015, 0.010)}
CONFIGURAL_MIN_CFI = 0.90
CONFIGURAL_MAX_RMSEA = 0.10
TABLE_COLUMNS = ["step", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "delta_chisq",
                 "delta_df", "p_chisq_diff", "delta_cfi", "delta_rmsea", "delta_srmr", "verdict",
                 "freed"]


def chen_noninvariant(step: str, delta_cfi: float, delta_rmsea: float, delta_srmr: float) -> bool:
    """Chen's (2007) rule: ΔCFI ≤ −.010 together with ΔRMSEA ≥ .015 or ΔSRMR ≥ .030 (metric)
    / .010 (scalar, strict), on Δs rounded to three decimals."""
    cfi_cut, rmsea_cut, srmr_cut = CHEN_2007[step]
    d_cfi, d_rmsea, d_srmr = (round(float(v), 3) for v in (delta_cfi, delta_rmsea, delta_srmr))
    return d_cfi <= cfi_cut and (d_rmsea >= rmsea_cut or d_srmr >= srmr_cut)


def compare(previous: CFAResult, current: CFAResult) -> dict[str, float]:
    """Δχ², Δdf, its p value and the rounded ΔCFI, ΔRMSEA, ΔSRMR of ``current`` vs ``previous``."""
    a, b = previous.fit, current.fit
    d_chisq = b["chisq"] - a["chisq"]
    d_df = b["df"] - a["df"]
    p = float(stats.chi2.sf(max(d_chisq, 0.0), d_df)) if d_df > 0 else np.nan
    def printed(x: float) -> float:
        return round(float(x), 3) + 0.0  # + 0.0: no "-0.000"

    return {"delta_chisq": d_chisq, "delta_df": d_df, "p_chisq_diff": p,
            "delta_cfi": printed(b["cfi"] - a["cfi"]), "delta_rmsea": printed(b["rmsea"] - a["rmsea"]),
            "delta_srmr": printed(b["srmr"] - a["srmr"])}


@dataclass
class InvarianceResult:
    """The ladder (:attr:`table`), the partial-invariance steps taken (:attr:`partial`), the fits
    per step, latent mean differences where scalar invariance holds, and notes."""

    table: pd.DataFrame
    partial: pd.DataFrame
    fits: dict[str, CFAResult]
    latent_means: pd.DataFrame
    groups: tuple[Any, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        """The highest step that holds in sequence ("configural", "metric", "partial metric",
        "scalar", "partial scalar", "strict", "partial strict"), or "none"."""
        level = "none"
        for _, row in self.table.iterrows():
            if row["verdict"] == "holds":
                level = row["step"]
            elif row["verdict"] == "partial":
                level = f"partial {row['step']}"
            else:
                break
        return level

    def holds(self, step: str) -> bool:
        """Whether ``step`` holds, fully or partially (comparisons it licenses may be made)."""
        row = self.table[self.table["step"] == step]
        return bool(len(row)) and row["verdict"].iloc[0] in ("holds", "partial")

    @property
    def freed(self) -> list[str]:
        """Every constraint released along the ladder (lavaan ``group.partial`` names)."""
        return [f for f in self.partial["freed"] if f] if len(self.partial) else []


def _row(step: str, fit: CFAResult | None, delta: dict | None, verdict: str, freed: Sequence[str]
         ) -> dict[str, Any]:
    row: dict[str, Any] = {c: np.nan for c in TABLE_COLUMNS}
    row.update(step=step, verdict=verdict, freed=", ".join(freed))
    if fit is not None:
        row.update({k: fit.fit[k] for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")})
    if delta is not None:
        row.update(delta)
    return row


def _releasable(fit: CFAResult, op: str, freed: Sequence[str]) -> list[str]:
    """Constraints of kind ``op`` that may be released: still equal across groups and leaving
    every factor at least two invariant items (the fixed marker counts for loadings)."""
    e = fit.estimates
    first = e[e["group"] == fit.groups[0]]
    factor_items = {f: list(first[(first["op"] == "=~") & (first["lhs"] == f)]["rhs"])
                    for f in fit.factors}
    if op == "=~":
        names = [f"{r.lhs}=~{r.rhs}" for r in first[(first["op"] == "=~") & first["free"]].itertuples()]
    elif op == "~1":
        names = [f"{i}~1" for i in fit.items]
    else:
        names = [f"{i}~~{i}" for i in fit.items]
    names = [n for n in names if n not in freed]

    def invariant(f: str, also: str | None = None) -> int:
        gone = set(freed) | ({also} if also else set())
        if op == "=~":
            return 1 + sum(f"{f}=~{i}" not in gone for i in factor_items[f][1:])
        key = "~1" if op == "~1" else "~~"
        return sum((f"{i}{key}{i}" if key == "~~" else f"{i}~1") not in gone for i in factor_items[f])

    out = []
    for n in names:
        if op == "=~":
            fs = [n.split("=~")[0]]
        else:
            item = n.split("~")[0]
            fs = [f for f, its in factor_items.items() if item in its]
        if all(invariant(f, n) >= 2 for f in fs):
            out.append(n)
    return out


def invariance(data: pd.DataFrame, model: str | Sequence[str], group: str, *,
               groups: Sequence[Any] | None = None, codebook: Any = None,
               strict: bool = True, alpha: float = 0.05) -> InvarianceResult:
    """Test configural, metric, scalar (and strict) invariance of ``model`` across ``group``,
    with partial invariance and latent mean differences (rules in the module docstring).

    ``model`` is lavaan syntax or a list of codebook construct ids, as for :func:`cfa`; the
    first group (``groups[0]`` when given) is the reference of the latent mean differences.
    """
    steps = [s for s in STEPS if strict or s != "strict"]
    rows, partial_rows, fits, notes = [], [], {}, []
    freed: list[str] = []
    try:  # the data are resolved once; the steps differ only in their constraints
        prepared = prepare_model(data, model, group, groups=groups, codebook=codebook)
        configural = cfa(data, model, group, (), groups=groups, codebook=codebook,
                         prepared=prepared)
    except NotEstimable as exc:
        notes.append(f"configural model not estimable: {exc.reason}")
        table = pd.DataFrame([_row(s, None, None, "not tested" if s != "configural"
                                   else "not estimable", ()) for s in steps], columns=TABLE_COLUMNS)
        return InvarianceResult(table, pd.DataFrame(columns=_PARTIAL_COLUMNS), {},
                                pd.DataFrame(columns=_MEAN_COLUMNS), tuple(groups or ()), notes)
    fits["configural"] = configural
    labels = configural.groups
    if not configural.usable:
        verdict = "not estimable"
        notes.append("configural model not estimable: " + "; ".join(
            n for n in configural.notes if "converge" in n or "identified" in n))
    elif (round(configural.fit["cfi"], 3) >= CONFIGURAL_MIN_CFI
          and round(configural.fit["rmsea"], 3) <= CONFIGURAL_MAX_RMSEA):
        verdict = "holds"
    else:
        verdict = "does not hold"
    rows.append(_row("configural", configural, None, verdict, ()))
    accepted = configural
    crit = float(stats.chi2.ppf(1 - alpha, len(labels) - 1))
    for step in steps[1:]:
        if rows[-1]["verdict"] not in ("holds", "partial"):
            rows.append(_row(step, None, None, "not tested", ()))
            continue
        fit = cfa(data, model, group, STEPS[step], partial=freed, groups=labels,
                  codebook=codebook, start=accepted, prepared=prepared)
        delta = compare(accepted, fit)
        verdict = "holds"
        step_freed: list[str] = []
        if fit.usable and chen_noninvariant(step, delta["delta_cfi"], delta["delta_rmsea"],
                                            delta["delta_srmr"]):
            partial_rows.append(_partial_row(step, "", np.nan, fit, delta, "does not hold"))
        while fit.usable and chen_noninvariant(step, delta["delta_cfi"], delta["delta_rmsea"],
                                                delta["delta_srmr"]):
            candidates = _releasable(fit, RELEASED_BY_STEP[step], freed)
            scores = {k: v for k, v in fit.score_tests(candidates).items() if np.isfinite(v)}
            if not scores or max(scores.values()) < crit:
                verdict = "does not hold"
                break
            name = max(scores, key=scores.get)
            freed.append(name)
            step_freed.append(name)
            fit = cfa(data, model, group, STEPS[step], partial=freed, groups=labels,
                      codebook=codebook, start=fit, prepared=prepared)
            delta = compare(accepted, fit)
            still = chen_noninvariant(step, delta["delta_cfi"], delta["delta_rmsea"], delta["delta_srmr"])
            partial_rows.append(_partial_row(step, name, scores[name], fit, delta,
                                             "does not hold" if still else "partial"))
            verdict = "partial"
        if not fit.usable:
            verdict = "not estimable"
            why = "; ".join(n for n in fit.notes if "converge" in n or "identified" in n)
            notes.append(f"{step} model not estimable: {why}")
        rows.append(_row(step, fit, delta, verdict, step_freed))
        fits[step] = fit
        if verdict in ("holds", "partial"):
            accepted = fit
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    result = InvarianceResult(table, pd.DataFrame(partial_rows, columns=_PARTIAL_COLUMNS), fits,
                              pd.DataFrame(columns=_MEAN_COLUMNS), tuple(labels), notes)
    if result.holds("scalar"):
        result.latent_means = latent_mean_differences(fits["scalar"])
    else:
        notes.append("latent means are not compared: scalar invariance does not hold, even "
                     "partially, so group differences in item means mix construct and item "
                     "effects")
    return result


def _partial_row(step: str, freed: str, score: float, fit: CFAResult, delta: dict, verdict: str
                 ) -> dict[str, Any]:
    """One row of the partial-invariance search (``freed`` empty: every constraint of the step)."""
    return {"step": step, "freed": freed, "score_test": score,
            **{k: fit.fit[k] for k in ("chisq", "df", "cfi", "rmsea", "srmr")},
            **{k: delta[k] for k in ("delta_cfi", "delta_rmsea", "delta_srmr")}, "verdict": verdict}


_PARTIAL_COLUMNS = ["step", "freed", "score_test", "chisq", "df", "cfi", "rmsea", "srmr",
                    "delta_cfi", "delta_rmsea", "delta_srmr", "verdict"]
_MEAN_COLUMNS = ["factor", "group", "reference", "estimate", "std_error", "ci_low", "ci_high",
                 "p_value", "std_estimate"]


def latent_mean_differences(fit: CFAResult) -> pd.DataFrame:
    """Latent mean of each group minus the first group's, from a (partial) scalar model: the
    estimate, its standard error and 95 % Wald interval, p value, and the difference divided by
    the pooled latent standard deviation (variances pooled with weights n_g)."""
    e = fit.estimates
    ref = fit.groups[0]
    rows = []
    for f in fit.factors:
        var = e[(e["op"] == "~~") & (e["lhs"] == f) & (e["rhs"] == f)].set_index("group")["estimate"]
        for g in fit.groups[1:]:
            r = e[(e["op"] == "~1") & (e["lhs"] == f) & (e["group"] == g)].iloc[0]
            pooled = (fit.n[ref] * var[ref] + fit.n[g] * var[g]) / (fit.n[ref] + fit.n[g])
            rows.append({"factor": f, "group": g, "reference": ref, "estimate": r["estimate"],
                         "std_error": r["std_error"],
                         "ci_low": r["estimate"] - Z95 * r["std_error"],
                         "ci_high": r["estimate"] + Z95 * r["std_error"], "p_value": r["p_value"],
                         "std_estimate": r["estimate"] / np.sqrt(pooled) if pooled > 0 else np.nan})
    return pd.DataFrame(rows, columns=_MEAN_COLUMNS)
