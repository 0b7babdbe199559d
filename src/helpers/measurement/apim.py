"""Actor–partner interdependence model (APIM) for distinguishable dyads (the CMO and the CIO).

Each executive's outcome is regressed on their own predictor (the *actor* effect) and on their
counterpart's (the *partner* effect), with a separate intercept, actor and partner effect per
role and correlated residuals of the two partners (Kenny, Kashy & Cook 2006, ch. 7: the
"two-intercept" model)::

    y_CMO = b_CMO + a_CMO x_CMO + p_CMO x_CIO + e_CMO
    y_CIO = b_CIO + a_CIO x_CIO + p_CIO x_CMO + e_CIO,   (e_CMO, e_CIO) ~ N(0, Σ), Σ 2 × 2 free

**Estimation.** Both equations have the same regressors (1, x_CMO, x_CIO), so the model is a
seemingly-unrelated regression with identical regressors: GLS with any Σ gives the per-role OLS
coefficients, and the REML estimate of Σ is ``E'E / (n − 3)`` (E the n × 2 OLS residuals). The
covariance of the coefficients is ``Σ ⊗ (X'X)⁻¹``, so estimates *across* roles are correlated
through ``Σ_CMO,CIO``. This closed form is exactly the model of ``nlme::gls(y ~ role +
x_actor:role + x_partner:role − 1, correlation = corCompSymm(~1|dyad), weights =
varIdent(~1|role), method = "REML")`` that Kenny's workshop fits; ``tests/test_agreement_apim``
reproduces its printed estimates, SEs, residual correlation and variance ratio on the Acitelli
couples. t tests and CIs use that fit's ``2n − 6`` residual degrees of freedom.

**Reported.** Per role: intercept, actor and partner effects with SE, t, p and CI, and the
standardised effect (``b · SD(x) / SD(y)``); the residual (partial) correlation of the partners'
outcomes; pseudo-R² per role (``1 − σ²_model / var(y)``, Kenny's definition); tests that the actor
(and the partner) effects are equal across roles (Wald t on the difference, using the cross-role
covariance); and ``k = partner / actor`` per role (Kenny & Ledermann 2010: k ≈ 1 couple pattern,
k ≈ 0 actor-only, k ≈ −1 contrast) with a delta-method CI and, when ``n_boot > 0``, a
percentile bootstrap CI over pairs (recommended by Kenny & Ledermann, since k is a ratio).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.headlines import p_phrase
from helpers.i18n import N_, _
from helpers.privacy import DEFAULT_MIN_CELL
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

ROLES: tuple[str, str] = ("CMO", "CIO")
EFFECT_COLUMNS = ["role", "effect", "estimate", "std_error", "t", "df", "p_value", "ci_low",
                  "ci_high", "std_estimate"]
EFFECTS = {"intercept": N_("Intercept"), "actor": N_("Actor"), "partner": N_("Partner")}
"""The ``effect`` codes as a report names them (message ids: :func:`effect_label`)."""

labels.register({
    "k_ratio": N_("k = partner / actor"),  # the k table's "k" as a report shows it
    "actor": N_("Actor"), "partner": N_("Partner"),
    "delta_ci_low": N_("CI lower (delta method)"), "delta_ci_high": N_("CI upper (delta method)"),
}, counts={"n_boot", "n_pairs"})


def effect_label(code: str) -> str:
    """An ``effect`` code (intercept, actor, partner) as a word in the current language."""
    return _(EFFECTS[code]) if code in EFFECTS else code


@dataclass
class APIMResult:
    """An APIM fit. ``effects`` (tidy, :data:`EFFECT_COLUMNS`), ``tests`` (equal actor / partner
    effects across roles), ``k`` (partner/actor ratio per role with CIs), ``n_pairs``,
    ``residual_sd`` and ``residual_correlation``, ``pseudo_r2`` (per role), ``vcov`` (of the
    six coefficients, in ``effects`` order), ``notes``."""

    effects: pd.DataFrame
    tests: pd.DataFrame
    k: pd.DataFrame
    n_pairs: int
    residual_sd: dict[str, float]
    residual_correlation: float
    pseudo_r2: dict[str, float]
    vcov: pd.DataFrame
    roles: tuple[str, str] = ROLES
    notes: list[str] = field(default_factory=list)

    def effect(self, role: str, effect: str) -> float:
        """One estimate, e.g. ``result.effect("CMO", "actor")``."""
        row = self.effects[(self.effects["role"] == role) & (self.effects["effect"] == effect)]
        return float(row["estimate"].iloc[0])


def _ols_two(x1: np.ndarray, x2: np.ndarray, y1: np.ndarray, y2: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients ((1, x1, x2) × roles), residuals and (X'X)⁻¹ of the two role equations."""
    X = np.column_stack([np.ones_like(x1), x1, x2])
    xtx_inv = np.linalg.inv(X.T @ X)
    Y = np.column_stack([y1, y2])
    B = xtx_inv @ X.T @ Y
    return B, Y - X @ B, xtx_inv


def _ratio_k(B: np.ndarray) -> tuple[float, float]:
    """k = partner / actor per role from the coefficient matrix of :func:`_ols_two`."""
    a1, p1 = B[1, 0], B[2, 0]
    a2, p2 = B[2, 1], B[1, 1]
    return (p1 / a1 if a1 != 0 else np.nan, p2 / a2 if a2 != 0 else np.nan)


def apim(pairs: pd.DataFrame, x_cmo: str, x_cio: str, y_cmo: str, y_cio: str, *,
         roles: tuple[str, str] = ROLES, conf: float = 0.95, n_boot: int = 2000,
         seed: int = 0) -> APIMResult:
    """Fit the distinguishable-dyad APIM on a wide frame, one row per pair.

    ``x_cmo``/``x_cio`` are the two partners' predictor columns and ``y_cmo``/``y_cio`` their
    outcome columns (the first role's, then the second's; ``roles`` names them). Pairs missing
    any of the four are dropped. ``n_boot`` bootstrap resamples of pairs (seeded) give the
    percentile CI of k; ``n_boot=0`` skips it. See the module docstring for the model.
    """
    data = pairs[[x_cmo, x_cio, y_cmo, y_cio]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(data)
    if n < 5:
        raise ValueError(f"the APIM needs at least 5 complete pairs; got {n}")
    x1, x2, y1, y2 = (data[c].to_numpy(float) for c in (x_cmo, x_cio, y_cmo, y_cio))
    B, E, xtx_inv = _ols_two(x1, x2, y1, y2)
    sigma = E.T @ E / (n - 3)  # REML estimate of the 2 × 2 residual covariance
    if np.linalg.matrix_rank(np.column_stack([np.ones(n), x1, x2])) < 3:
        raise ValueError("the predictors are constant or collinear: actor and partner effects "
                         "are not identified")
    # Coefficient vector theta (order of `effects`): role1 (b, a, p), role2 (b, a, p).
    # Role 1 equation: (1, x1, x2) → (b, a, p); role 2: (1, x2, x1) → (b, a, p), i.e. rows 0,2,1.
    order = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (1, 1)]  # (equation, regressor)
    theta = np.array([B[j, eq] for eq, j in order])
    vcov = np.array([[sigma[e1, e2] * xtx_inv[j1, j2] for e2, j2 in order]
                     for e1, j1 in order])
    se = np.sqrt(np.diag(vcov))
    df = 2 * n - 6
    tcrit = stats.t.ppf((1 + conf) / 2, df)
    sd_x = {0: x1.std(ddof=1), 1: x2.std(ddof=1)}
    sd_y = {0: y1.std(ddof=1), 1: y2.std(ddof=1)}
    rows = []
    names = ["intercept", "actor", "partner"]
    for idx, (eq, _unused) in enumerate(order):
        name = names[idx % 3]
        t = theta[idx] / se[idx]
        own, other = eq, 1 - eq
        std = (np.nan if name == "intercept" else
               theta[idx] * sd_x[own if name == "actor" else other] / sd_y[eq])
        rows.append({"role": roles[eq], "effect": name, "estimate": theta[idx],
                     "std_error": se[idx], "t": t, "df": df,
                     "p_value": float(2 * stats.t.sf(abs(t), df)),
                     "ci_low": theta[idx] - tcrit * se[idx], "ci_high": theta[idx] + tcrit * se[idx],
                     "std_estimate": std})
    effects = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    names_vcov = [f"{roles[eq]}:{names[i % 3]}" for i, (eq, _unused) in enumerate(order)]
    vcov_frame = pd.DataFrame(vcov, index=names_vcov, columns=names_vcov)

    tests = []
    for name, i, j in (("actor", 1, 4), ("partner", 2, 5)):
        diff = theta[i] - theta[j]
        se_d = float(np.sqrt(vcov[i, i] + vcov[j, j] - 2 * vcov[i, j]))
        t = diff / se_d
        tests.append({"test": _("equal actor effects") if name == "actor"
                      else _("equal partner effects"), "difference": diff,
                      "contrast": f"{roles[0]} - {roles[1]}", "std_error": se_d, "t": t,
                      "df": df, "p_value": float(2 * stats.t.sf(abs(t), df)),
                      "ci_low": diff - tcrit * se_d, "ci_high": diff + tcrit * se_d})
    tests_frame = pd.DataFrame(tests)

    k_hat = _ratio_k(B)
    boot = np.full((0, 2), np.nan)
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        draws = []
        for _replicate in range(n_boot):
            ix = rng.integers(0, n, n)
            try:
                Bb, _se, _sigma = _ols_two(x1[ix], x2[ix], y1[ix], y2[ix])
            except np.linalg.LinAlgError:
                continue
            draws.append(_ratio_k(Bb))
        boot = np.asarray(draws, dtype=float)
    k_rows = []
    z = stats.norm.ppf((1 + conf) / 2)
    for eq, (ia, ip) in enumerate(((1, 2), (4, 5))):
        a, p = theta[ia], theta[ip]
        k = k_hat[eq]
        grad = np.array([-p / a ** 2, 1 / a]) if a != 0 else np.array([np.nan, np.nan])
        sub = vcov[np.ix_([ia, ip], [ia, ip])]
        se_k = float(np.sqrt(grad @ sub @ grad))
        row = {"role": roles[eq], "k": k, "actor": a, "partner": p, "std_error": se_k,
               "delta_ci_low": k - z * se_k, "delta_ci_high": k + z * se_k,
               "boot_ci_low": np.nan, "boot_ci_high": np.nan, "n_boot": len(boot)}
        if len(boot):
            finite = boot[:, eq][np.isfinite(boot[:, eq])]
            if len(finite):
                row["boot_ci_low"], row["boot_ci_high"] = np.quantile(
                    finite, [(1 - conf) / 2, (1 + conf) / 2])
        k_rows.append(row)
    notes = []
    for eq in (0, 1):
        a_row = effects.iloc[3 * eq + 1]
        if a_row["ci_low"] <= 0 <= a_row["ci_high"]:
            notes.append(_("{role}: the actor association's interval includes 0, so k = "
                           "partner/actor is unstable; read the bootstrap interval, not the point "
                           "estimate.").format(role=roles[eq]))
    resid_sd = {roles[0]: float(np.sqrt(sigma[0, 0])), roles[1]: float(np.sqrt(sigma[1, 1]))}
    r2 = {roles[0]: 1 - sigma[0, 0] / y1.var(ddof=1), roles[1]: 1 - sigma[1, 1] / y2.var(ddof=1)}
    return APIMResult(effects=effects, tests=tests_frame, k=pd.DataFrame(k_rows), n_pairs=n,
                      residual_sd=resid_sd,
                      residual_correlation=float(sigma[0, 1] / np.sqrt(sigma[0, 0] * sigma[1, 1])),
                      pseudo_r2=r2, vcov=vcov_frame, roles=roles, notes=notes)


def apim_survey(survey: pd.DataFrame, predictor: str, outcome: str, codebook: Any = None, *,
                min_cell: int = DEFAULT_MIN_CELL, **kwargs: Any) -> APIMResult:
    """:func:`apim` of codebook construct ``outcome`` on construct ``predictor`` over the
    survey's complete CMO–CIO pairs (:func:`helpers.indicators.dyads`), construct scores from
    :func:`helpers.scales.score`. Raises :class:`helpers.errors.NotApplicable` when a construct
    was not asked of both roles or fewer than ``max(min_cell, 5)`` pairs answered all four."""
    from helpers.codebook import load_codebook
    from helpers.errors import NotApplicable
    from helpers.indicators import dyads
    from helpers.scales import score

    cb = codebook or load_codebook()
    for cid in (predictor, outcome):
        if cid not in cb.constructs:
            raise KeyError(f"{cid!r} is not a construct of the codebook")
    scores = score(survey, cb, [predictor, outcome])
    language = i18n.current()
    if predictor not in scores or outcome not in scores:
        raise NotApplicable(_("needs {predictor} and {outcome} asked of both the CMO and the "
                              "CIO; the survey did not ask them").format(
                                  predictor=cb.label(predictor, language),
                                  outcome=cb.label(outcome, language)))
    ids = survey[["firm_id", "role", "wave"]]
    cols = list(dict.fromkeys([predictor, outcome]))
    wide = dyads(ids.join(scores[cols]), cols)
    need = [f"{predictor}_cmo", f"{predictor}_cio", f"{outcome}_cmo", f"{outcome}_cio"]
    n = int(wide[need].notna().all(axis=1).sum())
    if n < max(min_cell, 5):
        raise NotApplicable(_("needs at least {minimum} CMO–CIO pairs who both answered "
                              "{predictor} and {outcome}; fewer did").format(
                                  minimum=i18n.integer(max(min_cell, 5)),
                                  predictor=cb.label(predictor, language),
                                  outcome=cb.label(outcome, language)))
    return apim(wide, *need, **kwargs)


def try_apim_survey(survey: pd.DataFrame, predictor: str, outcome: str, codebook: Any = None,
                    **kwargs: Any) -> APIMResult | str:
    """:func:`apim_survey`, or why it does not apply, in words (for a report section that must
    not take its report down: a segment with few pairs, a construct asked of one role only)."""
    from helpers.errors import NotApplicable

    try:
        return apim_survey(survey, predictor, outcome, codebook, **kwargs)
    except NotApplicable as exc:
        return str(exc)


def _ci(lo: float, hi: float) -> str:
    return _("{low} to {high}").format(low=i18n.number(lo, 2), high=i18n.number(hi, 2))


_ASSOCIATION = {  # (effect, direction): whole sentences, the numbers in parentheses
    ("actor", "higher"): N_("The {role}'s rating of {outcome} is higher where the {role}'s own "
                            "rating of {predictor} is higher ({numbers})."),
    ("actor", "lower"): N_("The {role}'s rating of {outcome} is lower where the {role}'s own "
                           "rating of {predictor} is higher ({numbers})."),
    ("actor", "none"): N_("The {role}'s rating of {outcome} shows no clear association with the "
                          "{role}'s own rating of {predictor} ({numbers})."),
    ("partner", "higher"): N_("The {role}'s rating of {outcome} is higher where the {other}'s "
                              "rating of {predictor} is higher, beyond the {role}'s own "
                              "({numbers})."),
    ("partner", "lower"): N_("The {role}'s rating of {outcome} is lower where the {other}'s "
                             "rating of {predictor} is higher, beyond the {role}'s own "
                             "({numbers})."),
    ("partner", "none"): N_("The {role}'s rating of {outcome} shows no clear association with "
                            "the {other}'s rating of {predictor}, beyond the {role}'s own "
                            "({numbers})."),
}
_PATTERNS = {
    "couple": N_("consistent with a couple pattern (both executives' views count alike)"),
    "actor-only": N_("consistent with an actor-only pattern (the counterpart's view adds "
                     "little)"),
    "between": N_("between the two: the counterpart's view counts, but less than the "
                  "executive's own"),
    "contrast": N_("a contrast pattern (the counterpart's view goes the other way)"),
    "opposite": N_("the counterpart's view goes the other way"),
    "imprecise": N_("too imprecise to tell the pattern apart"),
    "partner-more": N_("the counterpart's view counts more than the executive's own"),
}


def reading(result: APIMResult, predictor_label: str, outcome_label: str,
            conf: float = 0.95) -> str:
    """The APIM in words, every statement from the numbers beside it: per role the actor and
    the partner association (estimate, ``conf`` interval, p; "no clear association" when the
    interval includes 0) and the pattern k = partner/actor (bootstrap interval when computed,
    else delta method): "couple" when the interval includes 1 but not 0, "actor-only" when it
    includes 0 but not 1, "between the two" when it lies inside (0, 1), "contrast" below 0,
    undetermined when it holds both 0 and 1 (Kenny & Ledermann 2010). Associations, not
    effects in a causal sense: both views and the outcome come from the same survey. In the
    current language (:mod:`helpers.i18n`)."""
    level = i18n.percent(100 * conf, 0)
    sentences = []
    for role, other in (result.roles, result.roles[::-1]):
        for effect in ("actor", "partner"):
            row = result.effects[(result.effects["role"] == role)
                                 & (result.effects["effect"] == effect)].iloc[0]
            numbers = _("{estimate} points per scale point, {level} CI {interval}, {p}").format(
                estimate=i18n.number(row["estimate"], 2), level=level,
                interval=_ci(row["ci_low"], row["ci_high"]), p=p_phrase(row["p_value"]))
            if row["ci_low"] > 0 or row["ci_high"] < 0:
                direction = "higher" if row["estimate"] > 0 else "lower"
            else:
                direction = "none"
            sentences.append(_(_ASSOCIATION[effect, direction]).format(
                role=role, other=other, outcome=outcome_label, predictor=predictor_label,
                numbers=numbers))
    for _row_index, row in result.k.iterrows():
        boot = "boot_ci_low" in row and pd.notna(row.get("boot_ci_low"))
        lo, hi = ((row["boot_ci_low"], row["boot_ci_high"]) if boot
                  else (row["delta_ci_low"], row["delta_ci_high"]))
        if lo <= 1 <= hi and not lo <= 0 <= hi:
            pattern = "couple"
        elif lo <= 0 <= hi and not lo <= 1 <= hi:
            pattern = "actor-only"
        elif 0 < lo and hi < 1:
            pattern = "between"
        elif hi < 0:
            pattern = "contrast" if lo <= -1 <= hi else "opposite"
        elif lo <= 0 <= hi and lo <= 1 <= hi:
            pattern = "imprecise"
        else:
            pattern = "partner-more"
        template = (N_("For the {role}, k = partner/actor = {k} (bootstrap {level} CI "
                       "{interval}): {pattern}.") if boot else
                    N_("For the {role}, k = partner/actor = {k} (delta-method {level} CI "
                       "{interval}): {pattern}."))
        sentences.append(_(template).format(role=row["role"], k=i18n.number(row["k"], 2),
                                            level=level, interval=_ci(lo, hi),
                                            pattern=_(_PATTERNS[pattern])))
    return " ".join(sentences)


__all__ = ["APIMResult", "EFFECTS", "EFFECT_COLUMNS", "apim", "apim_survey", "effect_label", "reading",
           "try_apim_survey"]
