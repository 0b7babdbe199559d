"""Fit statistics of an ML factor model, computed with lavaan's conventions (``fitMeasures``).

* χ² = Σ_g N_g F_g (likelihood "normal": N, not N − 1), df = moments − free parameters.
* Baseline: lavaan's independence model — in every group free variances (and, with a mean
  structure, free means), no covariances: χ²_b = Σ_g N_g (Σ_i log s_ii − log|S_g|),
  df_b = G·p(p − 1)/2. It does not change with equality constraints.
* CFI = 1 − max(χ² − df, 0) / max(χ² − df, χ²_b − df_b, 0);
  TLI = (χ²_b/df_b − χ²/df) / (χ²_b/df_b − 1).
* RMSEA = √max((χ²/N)/df − 1/N, 0) · √G with N the total sample size; its 90 % interval by
  inverting the non-central χ² distribution in its non-centrality λ (Browne & Cudeck 1993):
  λ_low solves P(χ²_df(λ) ≤ χ²) = .95, λ_high solves it = .05, bound = √(λ/(N·df)) · √G.
* Log-likelihood (normal, lavaan's ``logl``): ℓ_H1 − χ²/2 with ℓ_H1 the saturated model's;
  AIC = −2ℓ + 2q, BIC = −2ℓ + q·log N.
* SRMR: lavaan's default ``srmr`` for continuous data (= ``srmr_bentler``): per group the root
  mean square of the covariance residuals standardised by the *sample* standard deviations,
  (s_ij − σ_ij)/√(s_ii s_jj) over the p(p + 1)/2 elements with the diagonal, plus, with a mean
  structure, the p mean residuals (m_i − μ_i)/√s_ii; groups weighted by N_g/N.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Sequence

import numpy as np

from helpers.measurement.engine import Estimate, Moments
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import optimize, stats
else:
    optimize = LazyModule("scipy.optimize")
    stats = LazyModule("scipy.stats")


def moments_count(p: int, ngroups: int, meanstructure: bool) -> int:
    """Number of sample moments the model reproduces."""
    return ngroups * (p * (p + 1) // 2 + (p if meanstructure else 0))


def baseline(moments: Sequence[Moments]) -> tuple[float, int]:
    """χ² and df of lavaan's independence (baseline) model."""
    chisq = 0.0
    for mom in moments:
        _, logdet = np.linalg.slogdet(mom.cov)
        chisq += mom.n * (np.log(np.diag(mom.cov)).sum() - logdet)
    p = moments[0].cov.shape[0]
    return float(chisq), len(moments) * p * (p - 1) // 2


def _ncx2_cdf(x: float, df: float, nc: float) -> float:
    if nc <= 0:
        return float(stats.chi2.cdf(x, df))
    return float(stats.ncx2.cdf(x, df, nc))


def rmsea_ci(chisq: float, df: int, n: int, ngroups: int = 1, level: float = 0.90
             ) -> tuple[float, float]:
    """lavaan's RMSEA confidence interval (``lav_fit_rmsea_ci``)."""
    if df < 1 or not np.isfinite(chisq):
        return (np.nan, np.nan) if not np.isfinite(chisq) else (0.0, 0.0)
    upper_p, lower_p = 1 - (1 - level) / 2, (1 - level) / 2

    def lower_fn(lam: float) -> float:
        return _ncx2_cdf(chisq, df, lam) - upper_p

    def upper_fn(lam: float) -> float:
        return _ncx2_cdf(chisq, df, lam) - lower_p

    if lower_fn(0.0) < 0:
        low = 0.0
    else:
        lam = optimize.brentq(lower_fn, 0.0, chisq, xtol=1e-12)
        low = np.sqrt(lam / (n * df)) * np.sqrt(ngroups)
    n_rmsea = max(n, chisq * 4)
    if upper_fn(n_rmsea) > 0 or upper_fn(0.0) < 0:
        high = 0.0
    else:
        lam = optimize.brentq(upper_fn, 0.0, n_rmsea, xtol=1e-12)
        high = np.sqrt(lam / (n * df)) * np.sqrt(ngroups)
    return float(low), float(high)


def srmr(est: Estimate) -> float:
    """lavaan's default SRMR (Bentler's, with means for a mean-structure model)."""
    ntotal = sum(m.n for m in est.moments)
    total = 0.0
    for (sigma, mu), mom in zip(est.model.implied(est.theta), est.moments, strict=True):
        sd = np.sqrt(np.diag(mom.cov))
        resid = (mom.cov - sigma) / np.outer(sd, sd)
        stats_ = list(resid[np.tril_indices_from(resid)])
        if est.model.meanstructure:
            stats_ += list((mom.mean - mu) / sd)
        total += mom.n / ntotal * np.sqrt(np.mean(np.square(stats_)))
    return float(total)


def fit_measures(est: Estimate) -> dict[str, float]:
    """χ², df, p, CFI, TLI, RMSEA with its 90 % interval, SRMR, the baseline χ² and df, n."""
    model, moments = est.model, est.moments
    p, g = len(model.items), model.ngroups
    n = sum(m.n for m in moments)
    df = moments_count(p, g, model.meanstructure) - model.nfree
    chisq = est.chisq
    b_chisq, b_df = baseline(moments)
    pvalue = float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan
    denom = max(chisq - df, b_chisq - b_df, 0.0)
    cfi = 1.0 - max(chisq - df, 0.0) / denom if denom > 0 else 1.0
    if df > 0 and b_df > 0:
        t1 = b_chisq / b_df
        tli = (t1 - chisq / df) / (t1 - 1.0)
    else:
        tli = 1.0
    rmsea = float(np.sqrt(max((chisq / n) / df - 1.0 / n, 0.0)) * np.sqrt(g)) if df > 0 else 0.0
    low, high = rmsea_ci(chisq, df, n, g)
    loglik_h1 = sum(-m.n / 2 * (p * np.log(2 * np.pi) + np.linalg.slogdet(m.cov)[1] + p)
                    for m in moments)
    loglik = loglik_h1 - chisq / 2
    return {"chisq": float(chisq), "df": int(df), "pvalue": pvalue, "cfi": float(cfi),
            "tli": float(tli), "rmsea": rmsea, "rmsea_low": low, "rmsea_high": high,
            "srmr": srmr(est), "baseline_chisq": b_chisq, "baseline_df": int(b_df),
            "loglik": float(loglik), "aic": float(-2 * loglik + 2 * model.nfree),
            "bic": float(-2 * loglik + model.nfree * np.log(n)),
            "n": int(n), "npar": int(model.nfree)}
