"""Reliability and validity from a CFA: composite reliability, AVE, Fornell–Larcker, HTMT.

* Composite reliability (Jöreskog's ρ_c, as Fornell & Larcker 1981 and Bagozzi & Yi 1988 report
  it), from the completely standardised solution:
  CR = (Σλ)² / ((Σλ)² + Σθ + 2Σθ_ij), λ the standardised loadings, θ the standardised residual
  variances and θ_ij the standardised residual covariances among the factor's items.
* Average variance extracted (Fornell & Larcker 1981): AVE = Σλ² / (Σλ² + Σθ).
* Fornell–Larcker criterion: √AVE of each factor exceeds its absolute correlation with every
  other factor.
* HTMT (Henseler, Ringle & Sarstedt 2015): the mean absolute correlation between the items of
  two constructs over the geometric mean of the mean absolute correlations among each
  construct's own items (absolute values, as ``semTools::htmt`` by default; reverse-keyed items
  are re-keyed first anyway). Values above .85 (HTMT.85, Kline's cut-off) flag a lack of
  discriminant validity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

HTMT_CUTOFF = 0.85


def composite_reliability(std_loadings: Sequence[float], std_residuals: Sequence[float],
                          std_residual_covariances: Sequence[float] = ()) -> float:
    """Composite reliability ρ_c from standardised loadings and residual (co)variances."""
    lam = np.asarray(std_loadings, float)
    if lam.size == 0:
        return float("nan")
    common = lam.sum() ** 2
    error = float(np.sum(std_residuals)) + 2.0 * float(np.sum(std_residual_covariances))
    return float(common / (common + error))


def average_variance_extracted(std_loadings: Sequence[float], std_residuals: Sequence[float]
                               ) -> float:
    """Average variance extracted: Σλ² / (Σλ² + Σθ) on the standardised solution."""
    lam = np.asarray(std_loadings, float)
    if lam.size == 0:
        return float("nan")
    explained = float(np.sum(lam ** 2))
    return explained / (explained + float(np.sum(std_residuals)))


def htmt_matrix(corr: pd.DataFrame, factors: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """HTMT for every pair of factors from an item correlation matrix (long: factor_1,
    factor_2, htmt, above_85). A factor with a single item has no HTMT (NaN)."""
    absr = corr.abs()

    def mono(items: Sequence[str]) -> float:
        if len(items) < 2:
            return float("nan")
        sub = absr.loc[list(items), list(items)].to_numpy()
        return float(sub[np.triu_indices(len(items), 1)].mean())

    names = list(factors)
    rows = []
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            hetero = float(absr.loc[list(factors[a]), list(factors[b])].to_numpy().mean())
            denom = np.sqrt(mono(factors[a]) * mono(factors[b]))
            value = hetero / denom if denom > 0 else float("nan")
            rows.append({"factor_1": a, "factor_2": b, "htmt": value,
                         "above_85": bool(value > HTMT_CUTOFF) if np.isfinite(value) else False})
    return pd.DataFrame(rows, columns=["factor_1", "factor_2", "htmt", "above_85"])


def fornell_larcker_table(reliability: pd.DataFrame, correlations: pd.DataFrame) -> pd.DataFrame:
    """Per factor (and group): √AVE, its largest absolute latent correlation, with which factor,
    and whether √AVE exceeds it (the Fornell–Larcker criterion)."""
    rows = []
    for _, rel in reliability.iterrows():
        f, g = rel["factor"], rel["group"]
        corr = correlations[(correlations["group"] == g)
                            & ((correlations["factor_1"] == f) | (correlations["factor_2"] == f))]
        if corr.empty:
            rows.append({"factor": f, "group": g, "sqrt_ave": rel["sqrt_ave"],
                         "max_abs_correlation": np.nan, "with": None, "holds": None})
            continue
        k = corr["estimate"].abs().to_numpy().argmax()
        best = corr.iloc[k]
        other = best["factor_2"] if best["factor_1"] == f else best["factor_1"]
        r = abs(float(best["estimate"]))
        rows.append({"factor": f, "group": g, "sqrt_ave": rel["sqrt_ave"],
                     "max_abs_correlation": r, "with": other,
                     "holds": bool(rel["sqrt_ave"] > r) if np.isfinite(rel["sqrt_ave"]) else False})
    return pd.DataFrame(rows, columns=["factor", "group", "sqrt_ave", "max_abs_correlation",
                                       "with", "holds"])
