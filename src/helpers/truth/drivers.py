"""True driver associations and consequences of the disconnect, from the simulation settings.

The estimands of :func:`helpers.drivers.headlines` and :func:`helpers.drivers.consequences`,
derived from the data-generating process of :mod:`helpers.simulate` (no estimator is run,
nothing is simulated):

- ``drivers.<driver>`` — the driver's coefficient on the firm-wave disconnect ``D``
  (``config.betas``; 0 for a codebook driver the simulation does not know, and data readiness
  has a true 0): Likert points per true yes vs no, or per SD of the latent (standard normal)
  driver. The disconnect index loads 1 on ``D`` before rounding, so these are points of the
  index's latent answer scale (what the report's floor/ceiling correction estimates).
- ``consequences.project_failure`` — the least-squares slope of the true failure indicator on
  ``D`` holding the controls (country, industry, size band, wave) constant:
  ``Cov(F, D̃) / Var(D̃)`` with ``D̃ = D − E[D | controls]``, where ``P(F = 1 | D) =
  expit(failure_intercept + failure_on_disconnect · D)``. In the simulation ``D = c(controls)
  + S − m``: ``c`` the additive control effects, ``S`` the binary drivers' effects plus a normal
  part (continuous drivers, firm effect, firm-wave noise; variance from
  ``simulate._disconnect_mixture``) independent of the controls, ``m`` the centring constant; so
  ``D̃ = S − E[S]`` and the expectation is an exact sum over the control categories (their
  population weights, waves equally weighted) and the binary drivers' combinations, with
  Gauss–Hermite quadrature (80 nodes) over the normal part.
- ``consequences.customer_insight`` — ``insight_on_disconnect`` (insight points per point of
  ``D``, data readiness held constant, as in the simulation's insight equation).
- ``consequences.relationship_improved`` — ``improved_on_disconnect`` (answer points per point
  of the perceived disconnect ``D_r = D + noise``; equal to the slope on ``D``).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import special

from helpers import simulate
from helpers.codebook import Codebook

GH_NODES = 80


def _control_support(config: simulate.SimulationConfig, cb: Codebook
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Values and probabilities of the additive control effect c(controls) (incl. the wave)."""
    return simulate.discrete_disconnect(config, cb, drivers=False)


def failure_slope(config: simulate.SimulationConfig, cb: Codebook) -> float:
    """Cov(F, D̃) / Var(D̃): the partial least-squares slope of failure on the disconnect."""
    _, _, var_normal, mean_d = simulate._disconnect_mixture(config, cb)
    ctrl, w_ctrl = _control_support(config, cb)
    binary = list(config.driver_prevalence.items())
    s_vals, s_w = [], []
    for combo in itertools.product((0, 1), repeat=len(binary)):
        s_vals.append(sum(config.betas[c] * x for (c, _), x in zip(binary, combo, strict=True)))
        s_w.append(np.prod([p if x else 1 - p for (_, p), x in zip(binary, combo, strict=True)]))
    s_vals, s_w = np.array(s_vals), np.array(s_w)
    mean_s = float(np.sum(s_vals * s_w))
    var_s = float(np.sum(s_w * (s_vals - mean_s) ** 2)) + var_normal
    nodes, gh_w = np.polynomial.hermite_e.hermegauss(GH_NODES)
    gh_w = gh_w / gh_w.sum()
    normal = np.sqrt(var_normal) * nodes
    s = (s_vals[:, None] + normal[None, :]).ravel()            # S = binary part + normal part
    ws = (s_w[:, None] * gh_w[None, :]).ravel()
    d = ctrl[:, None] + s[None, :] - mean_d                      # D for every control x S
    prob = special.expit(config.failure_intercept + config.failure_on_disconnect * d)
    cov = float(np.sum(w_ctrl[:, None] * ws[None, :] * prob * (s - mean_s)[None, :]))
    return cov / var_s


def estimands(config: simulate.SimulationConfig, codebook: Codebook) -> dict[str, float]:
    """The true value of every key of :func:`helpers.drivers.headlines` and ``consequences``."""
    betas = config.betas
    out = {f"drivers.{cid}": float(betas.get(cid, 0.0))
           for cid in codebook.constructs_of_kind("driver")}
    out["consequences.project_failure"] = failure_slope(config, codebook)
    out["consequences.customer_insight"] = float(config.insight_on_disconnect)
    out["consequences.relationship_improved"] = float(config.improved_on_disconnect)
    return out
