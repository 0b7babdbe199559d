"""True values of the congruence headlines (:func:`helpers.congruence.headlines`).

The estimand (see :mod:`helpers.congruence`) is the population least-squares quadratic surface
of joint project success Z on the *true scores* of the two executives' shared-understanding
scale, in scale points, centred at the pooled mean of the two roles' scores. It is derived here
from the simulation settings, never by running the estimator.

The data-generating process (:mod:`helpers.simulate`, ``_latent`` and ``_item_latent``): with D the
firm-wave disconnect, s = −1 the construct's disconnect sign (higher is better), k =
``su_on_disconnect``, role r's perception D_r = D + p_r (SD ``perception_sd``) and latent shared
understanding X_r = base + k·D + e_r (``su_base_sd``, ``su_role_sd``), each item of the scale is
μ_ir + T_r + item noise, with true score

    T_r = (s − k)·D_r + X_r = s·D + base + e_r + (s − k)·p_r.

Z = b0 + b1 X + b2 Y + g (X − Y)² + c D + noise (X = X_CMO, Y = X_CIO). The parts of T that the two
executives share (D, base) cancel in T_x − T_y = Δe + (s − k)Δp; the difference components are
independent of the shared ones and jointly normal, so E[X − Y | T] = λ (T_x − T_y) with
λ = σ_e² / (σ_e² + (s − k)² σ_p²) and

The scale score W_r estimates the *classical* true score τ_r = E[W_r | T_r], the mean over the
items of the expected rounded and clipped answer (an exact normal-CDF expression in T_r, the item
mean μ_ir from :func:`helpers.simulate.calibration_table` and the item noise); straight-liners are
excluded as the estimator excludes them. The estimand is the least-squares projection of
E[Z | T] on the quadratic in (τ_x − c, τ_y − c), c the pooled mean of τ, integrated exactly:
E[Z | T] = b0 + ((b1 + b2)/2)·E[X + Y | S, j] + c·E[D | S, j] + g·λ²Δ² + ((b1 − b2)/2)·λΔ + const,
with S = T_x + T_y, Δ = T_x − T_y, j the component of D's discrete part (drivers, controls,
wave), normal within j; Gauss–Hermite quadrature over S and Δ (independent), summed over j.

Without rounding and ceiling (τ = T) this gives a4 = 4 g λ², a2 = 0 and a3 = (b1 − b2)λ − a4 δ
(δ the difference of the roles' mean scores); with them a4 ≈ −0.49, a2 ≈ +0.025 (the ceiling) in
the default sample. A 200,000-firm simulation of the oracle regression (Z on the quadratic in
τ computed from the simulated latents) agrees to within its sampling error.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from helpers.codebook import Codebook
from helpers.simulate import (
    SU_CONSTRUCT,
    SimulationConfig,
    _disconnect_mixture,
    _disconnect_sign,
    calibration_table,
)

ROLES = ("CMO", "CIO")


N_NODES = 48
"""Gauss–Hermite nodes per normal dimension (the integrands are smooth; 48 nodes change the
estimands by less than 1e-6 against 96)."""


Item = tuple[float, float, int, int, bool]
"""(mean mu, item noise SD, scale min, scale max, reverse-keyed) of one item for one role."""


def _item_curves(config: SimulationConfig, codebook: Codebook, role: str) -> list[Item]:
    """The construct's items asked of ``role`` (see :data:`Item`)."""
    calib = calibration_table(config, codebook)
    rows = calib.loc[calib["role"] == role].set_index("item")
    out = []
    for item in codebook.items.values():
        if item.construct != SU_CONSTRUCT or role not in item.roles:
            continue
        out.append((float(rows.at[item.id, "mu"]), config.item_sd, item.scale.min,
                    item.scale.max, bool(item.reverse)))
    return out


def _true_score(t: np.ndarray, items: list[Item]) -> np.ndarray:
    """τ(t) = E[scale score | T = t]: the mean over the items of the expected keyed answer,
    rounded to the scale and clipped (answer = mu ± t + item noise; reverse-keyed items load −1
    on the raw answer and are keyed back)."""
    total = np.zeros_like(t, dtype=float)
    for mu, sd, lo, hi, reverse in items:
        loc = mu + (-t if reverse else t)
        cuts = np.arange(lo, hi) + 0.5
        cdf = special.ndtr((cuts - loc[..., None]) / sd)
        probs = np.diff(np.concatenate([np.zeros(loc.shape + (1,)), cdf,
                                        np.ones(loc.shape + (1,))], axis=-1), axis=-1)
        expected = probs @ np.arange(lo, hi + 1, dtype=float)
        total += lo + hi - expected if reverse else expected
    return total / len(items)


def estimands(config: SimulationConfig, codebook: Codebook) -> dict[str, float]:
    """The true a1..a4 of the congruence headlines for ``config`` (see the module docstring)."""
    c = config
    values, weights, var_normal, _ = _disconnect_mixture(c, codebook)
    s = _disconnect_sign(SU_CONSTRUCT, codebook)
    k = c.su_on_disconnect
    sb2, se2, sp2 = c.su_base_sd**2, c.su_role_sd**2, c.perception_sd**2
    # difference part: Δ = T_x − T_y ~ N(0, vd); E[X − Y | Δ] = λ Δ
    vd = 2 * se2 + 2 * (s - k) ** 2 * sp2
    lam = 2 * se2 / vd
    # sum part within a component j of D's discrete part: S = T_x + T_y ~ N(2 s d_j, vs)
    vs = 4 * sb2 + 4 * s * s * var_normal + 2 * se2 + 2 * (s - k) ** 2 * sp2
    beta_x = (4 * sb2 + 4 * k * s * var_normal + 2 * se2) / vs   # E[ΣX | S, j] slope
    beta_d = 2 * s * var_normal / vs                              # E[D | S, j] slope
    nodes, gh = np.polynomial.hermite_e.hermegauss(N_NODES)
    gh = gh / gh.sum()
    delta = np.sqrt(vd) * nodes                                   # (nΔ,)
    dev = np.sqrt(vs) * nodes                                     # S − 2 s d_j
    sum_s = 2 * s * values[:, None] + dev[None, :]                # (J, nS)
    d_mean = values[:, None] + beta_d * dev[None, :]              # E[D | S, j]
    sum_x = 2 * k * values[:, None] + beta_x * dev[None, :]       # E[X + Y | S, j]
    half = (c.success_b_cmo + c.success_b_cio) / 2
    h_sum = half * sum_x + c.success_on_disconnect * d_mean       # (J, nS)
    h_diff = c.success_gap * (lam * delta) ** 2 + (c.success_b_cmo - c.success_b_cio) / 2 * (
        lam * delta)                                              # (nΔ,) (+ constants)
    w = weights[:, None, None] * gh[None, :, None] * gh[None, None, :]
    tx = (sum_s[:, :, None] + delta[None, None, :]) / 2
    ty = (sum_s[:, :, None] - delta[None, None, :]) / 2
    tau_x = _true_score(tx, _item_curves(c, codebook, "CMO"))
    tau_y = _true_score(ty, _item_curves(c, codebook, "CIO"))
    center = (np.sum(w * tau_x) + np.sum(w * tau_y)) / 2
    x, y = tau_x - center, tau_y - center
    h = h_sum[:, :, None] + h_diff[None, None, :]
    z = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1).reshape(-1, 6)
    wf = w.reshape(-1)
    b = np.linalg.solve((z * wf[:, None]).T @ z, (z * wf[:, None]).T @ h.reshape(-1))
    return {"congruence.a1": float(b[1] + b[2]), "congruence.a2": float(b[3] + b[4] + b[5]),
            "congruence.a3": float(b[1] - b[2]), "congruence.a4": float(b[3] - b[4] + b[5])}
