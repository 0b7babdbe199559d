"""True values of the shadow-IT headlines (:mod:`helpers.shadow`) for a simulation config.

Computed by exact numerical integration over the data-generating process of
:mod:`helpers.simulate` (never by running the estimator), following every setting of the config:

* firm ``i``'s ledger rows land in each of its firm-years with probability proportional to
  ``w_i = sqrt(revenue_i)`` (revenue = the size band's median × lognormal(0, revenue_sigma));
* the true shadow-IT share of a firm-year is ``s = clip(a + b·D + e, lo, hi)``,
  ``e ~ N(0, shadow_sd)``, with D the firm's disconnect in the wave of that year;
* a technology row is shadow IT with the probability that makes the expected *amount* share
  ``s`` (shadow rows cost ``m_s`` on average, other technology rows ``m_o``), so the expected
  technology spend of a firm-year is proportional to ``τ = w / (m_s + (m_o − m_s)·s)`` and its
  expected shadow-IT spend to ``s·τ``;
* a firm-year counts when it has at least :data:`helpers.shadow.MIN_LINES` usable lines; its
  lines are Binomial(ledger_rows·(1 − bad_rows), w / Σw), Σw over firms × years replaced by its
  expectation.

``shadow.share`` (percent) = ``100 · E[s·τ·1{N ≥ min}] / E[τ·1{N ≥ min}]`` over every firm and
ledger year: the population ratio of sums that :func:`helpers.shadow.ratio_of_sums` estimates.

``shadow.slope`` (percentage points per point of the latent disconnect D, which is on the
disconnect index's 1–5 scale: every indicator item loads 1 on D before rounding) =
``100 · E_T[ d m_T(D)/dD ]``, where ``m_T(D) = E[s·τ | D] / E[τ | D]`` is the
technology-spend-weighted mean share at disconnect D (the regression function of the
spend-weighted fractional logit) and ``E_T`` averages over the firm-years the report links (the
fiscal year of each wave) weighted by their expected technology spend. It does not depend on
how noisily the survey measures D (item noise, perception, rounding): the estimator corrects
for that (regression calibration and the floor/ceiling factor κ of :mod:`helpers.shadow`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from helpers import simulate
from helpers.codebook import Codebook

_E_GRID = np.linspace(-8.0, 8.0, 1601)          # standard-normal grid for the share noise
_E_W = np.exp(-0.5 * _E_GRID**2)
_E_W /= _E_W.sum()
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)   # probabilists' Gauss-Hermite
_GH_W = _GH_W / _GH_W.sum()


def _amount_means() -> tuple[float, float]:
    """Mean EUR amount of a shadow-IT row and of another technology row (lognormal means)."""
    med, sig = simulate._MEDIAN, simulate._SIGMA
    return (float(med[0] * np.exp(sig[0] ** 2 / 2)), float(med[1] * np.exp(sig[1] ** 2 / 2)))


def _disconnect_parts(config: simulate.SimulationConfig, cb: Codebook
                      ) -> tuple[dict[str, tuple[float, np.ndarray]], np.ndarray, np.ndarray,
                                 float, float]:
    """D = size effect + wave effect + discrete rest + N(0, var_normal) − mean.

    Returns ({size band: (probability, ...)}, rest support, rest weights, var_normal, mean).
    """
    values, weights = simulate.discrete_disconnect(config, cb,
                                                   ("country", "industry"), waves=False)
    sizes, sw = simulate._weights(config.size_weights, cb.fields["size_band"].values,
                                  "size_band", cb)
    size_eff = simulate._effects(config.size_effects, np.array(sizes, dtype=object))
    _, _, var_normal, mean = simulate._disconnect_mixture(config, cb)
    bands = {s: (float(p), float(e)) for s, p, e in zip(sizes, sw, size_eff, strict=True)}
    return bands, values, weights, float(var_normal), float(mean)


def _share_moments(config: simulate.SimulationConfig, d: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(E_e[s/(m_s+Δs)], E_e[1/(m_s+Δs)]) at each disconnect value in ``d``."""
    m_s, m_o = _amount_means()
    lin = config.shadow_intercept + config.shadow_on_disconnect * d[:, None]
    s = np.clip(lin + config.shadow_sd * _E_GRID[None, :], config.shadow_min, config.shadow_max)
    inv = 1.0 / (m_s + (m_o - m_s) * s)
    return (s * inv) @ _E_W, inv @ _E_W


def _size_weight(config: simulate.SimulationConfig, bands: dict[str, tuple[float, float]],
                 min_lines: int) -> dict[str, float]:
    """E[w · P(N ≥ min_lines | w)] per size band (w = sqrt(revenue))."""
    medians = dict(config.revenue_medians_eur)
    probs = {s: p for s, (p, _) in bands.items()}
    mean_w = sum(p * math.sqrt(medians[s]) * math.exp(config.revenue_sigma**2 / 8)
                 for s, p in probs.items())
    cells = config.firms * len(config.years)
    rows = config.ledger_rows * (1 - config.bad_rows)
    out = {}
    for s in bands:
        w = math.sqrt(medians[s]) * np.exp(0.5 * config.revenue_sigma * _GH_X)
        p_row = np.clip(w / (cells * mean_w), 0, 1)
        keep = stats.binom.sf(min_lines - 1, round(rows), p_row) if min_lines > 0 else 1.0
        out[s] = float(np.sum(_GH_W * w * keep))
    return out


def _d_nodes(bands: dict[str, tuple[float, float]], rest: np.ndarray, rest_w: np.ndarray,
             var_normal: float, mean: float, size: str, shift: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of D given the size band (and the wave's shift)."""
    base = bands[size][1] + shift - mean + rest
    d = (base[:, None] + math.sqrt(var_normal) * _GH_X[None, :]).ravel()
    w = (rest_w[:, None] * _GH_W[None, :]).ravel()
    return d, w


def estimands(config: simulate.SimulationConfig, codebook: Codebook,
              min_lines: int | None = None) -> dict[str, float]:
    """``{"shadow.share": %, "shadow.slope": pp per index point}`` for ``config``."""
    from helpers.shadow import MIN_LINES

    min_lines = MIN_LINES if min_lines is None else min_lines
    if config.ledger_rows <= 0:
        return {}  # no ledger is simulated: the sample has no shadow-IT estimand
    bands, rest, rest_w, var_normal, mean = _disconnect_parts(config, codebook)
    size_w = _size_weight(config, bands, min_lines)
    grid = np.linspace(-6.0, 6.0, 4801)
    g1, g0 = _share_moments(config, grid)
    m = g1 / g0
    dm = np.gradient(m, grid)

    def expect(years: list[int]) -> tuple[float, float, float]:
        num = den = slope = 0.0
        for year in years:
            shift = config.wave_effect * (config.wave_of_year(year) - 1)
            for size, (p, _) in bands.items():
                d, w = _d_nodes(bands, rest, rest_w, var_normal, mean, size, shift)
                a1, a0, ds = (np.interp(d, grid, g1), np.interp(d, grid, g0),
                              np.interp(d, grid, dm))
                scale = p * size_w[size]
                num += scale * float(w @ a1)
                den += scale * float(w @ a0)
                slope += scale * float(w @ (a0 * ds))
        return num, den, slope

    num, den, _ = expect(list(config.years))
    share = 100 * num / den
    wave_years = [config.wave_year(wv) for wv in range(1, config.waves + 1)]
    _, den_l, slope_l = expect([y for y in wave_years if y in config.years])
    return {"shadow.share": float(share), "shadow.slope": float(100 * slope_l / den_l)}


__all__ = ["estimands"]
