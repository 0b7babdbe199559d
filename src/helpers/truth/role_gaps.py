"""True CMO − CIO differences in expected construct score, from the simulation settings.

The estimand of :func:`helpers.role_gaps.headlines`: for every indicator construct that both
roles answer with the same items, ``role_gap.<construct>`` = E[score | CMO] − E[score | CIO], and
``role_gap.disconnect_index`` = E[index | CMO] − E[index | CIO], where a score is what
:func:`helpers.indicators.respondent_frame` computes from the *observed* answers: the mean of the
reverse-keyed (``min + max − answer``) item answers, each answer the rounded and clipped latent
``clip(floor(y + 0.5), min, max)``; the disconnect index the mean over the indicator constructs
of the signed scores (``higher_is_better`` reflected as ``min + max − score``).

Exact calculation over the data-generating process of :mod:`helpers.simulate` (no estimator is
run, nothing is simulated):

- the latent answer of a respondent of role r to item i is ``mu[i, r] + a_i D + N(0, v_i)`` in
  the population, where ``D`` is the discrete part of the disconnect (binary drivers, country,
  industry, size band and wave effects: support points and probabilities from
  ``simulate._disconnect_mixture``) and ``v_i`` the variance of everything normal
  (``simulate._latent_spec``: continuous drivers, firm effect, firm-wave noise, perception,
  respondent-construct factor, item noise; shared understanding's own terms); ``mu`` is the
  calibrated item mean (``simulate.calibration_table``), the only part that differs by role;
- so E[answer] = min + Σ_{k=min+1..max} Σ_d P(D=d) Φ((mu + a d − (k − ½)) / √v), exactly;
- construct and index expectations are means of item expectations (linearity: the simulated
  survey has no item non-response, so every respondent's score averages the same items);
- **straight-liners** (``straightliner_share``, 2 % by default) answer every agree item of the
  survey with one value drawn from ``simulate.STRAIGHTLINE_P``, whatever their role. They stay
  in the estimand because the report analyses them by default (the notebook's ``exclude = []``;
  validation only flags them): each expected item answer is ``(1 − s) E[latent answer] +
  s E[straight-line answer]``. The straight-line part is the same for both roles, so it
  shrinks every gap by the factor ``1 − s``;
- who answers (waves, CMO and CIO participation) is independent of the disconnect and of the
  firm's characteristics in the simulation, so the respondents of each role are a sample of the
  same population of firm-waves (the mixture above, waves weighted equally).

Overrides of the configuration (``item_sd``, ``perception_sd``, betas, prevalences,
``straightliner_share``, ``waves``, ...) flow through ``calibration_table``, ``_latent_spec`` and
``_disconnect_mixture``, which the simulation itself uses.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from helpers import simulate
from helpers.codebook import Codebook, Item
from helpers.indicators import DISCONNECT_INDEX, ROLES

PREFIX = "role_gap."


def _straightline_mean(item: Item) -> float:
    values = np.clip(np.array(simulate.STRAIGHTLINE_VALUES, dtype=float), item.scale.min,
                     item.scale.max)
    return float(np.sum(values * np.array(simulate.STRAIGHTLINE_P)))


def expected_item_scores(config: simulate.SimulationConfig, codebook: Codebook
                         ) -> dict[tuple[str, str], float]:
    """E[reverse-keyed score of item i | role r] for every indicator item asked of r, exactly."""
    cb = codebook
    calib = simulate.calibration_table(config, cb)
    mu_of = {(r.item, r.role): float(r.mu) for r in calib.itertuples()}
    values, weights, var_d, _ = simulate._disconnect_mixture(config, cb)
    share = float(config.straightliner_share)
    out: dict[tuple[str, str], float] = {}
    for cid in cb.constructs_of_kind("indicator"):
        for iid in cb.constructs[cid].items:
            item = cb.items[iid]
            a, v = simulate._latent_spec(item, cb, config, var_d)
            lo, hi = int(item.scale.min), int(item.scale.max)
            thresholds = np.arange(lo + 1, hi + 1) - 0.5
            for role in item.roles:
                mu = mu_of[(iid, role)]
                z = (mu + a * values[:, None] - thresholds[None, :]) / np.sqrt(v)
                answer = lo + float(np.sum(weights[:, None] * special.ndtr(z)))
                if item.scale.type == "likert":
                    answer = (1 - share) * answer + share * _straightline_mean(item)
                out[(iid, role)] = (lo + hi - answer) if item.reverse else answer
    return out


def expected_scores(config: simulate.SimulationConfig, codebook: Codebook
                    ) -> dict[str, dict[str, float]]:
    """E[construct score | role] per indicator construct, and E[disconnect index | role]."""
    cb = codebook
    items = expected_item_scores(config, cb)
    out: dict[str, dict[str, float]] = {}
    index = {r: [] for r in ROLES}
    for cid in cb.constructs_of_kind("indicator"):
        con = cb.constructs[cid]
        out[cid] = {}
        for role in ROLES:
            asked = [items[(i, role)] for i in con.items if (i, role) in items]
            if not asked:
                continue
            s = float(np.mean(asked))
            out[cid][role] = s
            lo, hi = (cb.items[con.items[0]].scale.min, cb.items[con.items[0]].scale.max)
            index[role].append(s if con.disconnect == "higher_is_worse" else lo + hi - s)
    out[DISCONNECT_INDEX] = {r: float(np.mean(v)) for r, v in index.items() if v}
    return out


def same_items(cid: str, codebook: Codebook) -> bool:
    """Both roles are asked every item of the construct (a construct-level gap is defined)."""
    return all(set(ROLES) <= set(codebook.items[i].roles) for i in codebook.constructs[cid].items)


def estimands(config: simulate.SimulationConfig, codebook: Codebook) -> dict[str, float]:
    """``role_gap.<construct>`` (constructs both roles answer with the same items) and
    ``role_gap.disconnect_index``: true CMO − CIO difference in expected score, 1-5 points."""
    scores = expected_scores(config, codebook)
    out = {}
    for cid, by_role in scores.items():
        if cid != DISCONNECT_INDEX and not same_items(cid, codebook):
            continue
        if set(ROLES) <= set(by_role):
            out[PREFIX + cid] = by_role["CMO"] - by_role["CIO"]
    return out
