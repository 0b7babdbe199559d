"""Dyadic congruence corrected for measurement error: the headline surface of report 04.

Question: does a firm's outcome (by default joint project success, the mean of the CMO's and the
CIO's scale scores) depend on whether the two executives' views of a construct (by default shared
understanding, own view) *agree*, beyond how high they are? The response surface of Edwards &
Parry (1993) answers it, Z = b0 + b1 X + b2 Y + b3 X² + b4 XY + b5 Y², read along the line of
agreement (a1 = b1 + b2, a2 = b3 + b4 + b5) and of disagreement (a3 = b1 − b2,
a4 = b3 − b4 + b5; a4 < 0: the outcome is lower where the two disagree).

Why not OLS on the observed scale scores (:mod:`helpers.rsa`)
---------------------------------------------------------------
Each executive's scale score W = T + u carries measurement error u (item noise, rounding). In a
polynomial regression measurement error does not only attenuate: the quadratic terms lose far
more than the linear ones, and along the line of disagreement the shared part of X and Y cancels
while both errors add up, so the *reliability of the difference* W_x − W_y is what matters. With
three agree5 items per executive it is about .5 in the synthetic sample, and the observed-score
a4 keeps roughly a quarter of the curvature (issue 12: mean a4 −0.12 against −0.49 on the
scale's true-score scale, CI coverage 4 %).

Method: structural errors-in-variables correction (regression calibration, exact here)
--------------------------------------------------------------------------------------
With W = T + u, the errors of the CMO and of the CIO independent of each other (two respondents,
two sets of items) and of T, and (T, u) jointly normal, E[T | W] = μ + Λ (W − μ) with
Λ = Σ_T Σ_W⁻¹, Σ_T = Σ_W − diag(σ²_x, σ²_y), and Var(T | W) does not depend on W. For a quadratic
surface E[Z | T] = b0 + b′T + T′BT this makes E[Z | W] the same quadratic in E[T | W] plus a
constant, so the OLS surface on the observed scores, re-expressed in E[T | W] (B_T = Λ⁻ᵀ B Λ⁻¹,
b_T = Λ⁻ᵀ (b + 2 B r) with r = (I − Λ⁻¹) μ), is consistent for the true-score surface
(regression calibration, Carroll, Ruppert, Stefanski & Crainiceanu 2006, ch. 4, exact for
quadratic regression under normality; the moment counterpart of the latent moderated structural
equation model, LMS, of Klein & Moosbrugger 2000, which assumes normal latent predictors too).
Along X = −Y the correction divides the observed curvature by about the squared reliability of
the difference. Why not the functional adjusted least squares (ALS) estimator of Cheng &
Schneeweiss (1998), which needs no normal T: its Hermite corrections use the fourth moments of
normal errors, and the errors of rounded five-point answers are not normal; in the synthetic
sample ALS kept about three quarters of the curvature (mean a4 −0.35 at 3,000 firms where this
estimator gave −0.47, truth −0.49) and its sampling distribution was heavy-tailed (SD of a4 0.63
against 0.40 at 300 firms).

The error variance of each respondent's score comes from the item-level data of the same pairs,
per role (the measurement layer's tau-equivalent model, under which the unit-weighted scale score
is the natural score and Cronbach's alpha is its reliability): the off-diagonal item covariances
estimate the true-score variance, item i's error variance is θ_i = C_ii − c̄, and a respondent who
answered the item set A has error variance Σ_{i∈A} θ_i / |A|² (a skipped item raises it). With
congeneric items alpha is a lower bound, so the correction is then conservative (it corrects a
little too much); the measurement report (01) shows the loadings. A construct with one item has
no estimable reliability: the corrected surface is then "not estimable".

Pairs in which an executive straight-lined (validation's rule: one answer to every item of a
rating scale, :func:`straight_lining`) are left out of the corrected surface: such answers carry
no information on the true score, their identical items would pass for perfect reliability, and
2 % of them cut the corrected a4 by about 40 % in the synthetic sample (Meade & Craig 2012 on
careless responding). The report says how many pairs this removed.

Intervals and p-values: a nonparametric bootstrap over firms (a firm can appear in two waves):
firms are resampled with replacement and the *whole* estimator, the error variances included, is
recomputed in each replicate, so the intervals carry the uncertainty of the reliabilities
(Efron & Tibshirani 1993, percentile intervals; the p-value is the two-sided percentile p,
2·min(P*(â ≤ 0), P*(â ≥ 0)), consistent with the interval). The standard error is the
normal-equivalent spread of the replicates, (q₈₄.₁ − q₁₅.₉)/2, robust to the heavy tails of a
ratio-type correction when the true-score covariance is nearly singular. A replicate whose
true-score covariance Σ_T is not positive definite (or whose design is singular) is dropped and
counted; when more than :data:`MAX_FAILED_SHARE` of them fail, the correction is not identified
at this reliability and sample size and the headline is "not estimable".

Estimand and scale
------------------
The estimand is the population least-squares quadratic surface of the outcome on the *true
scores* of the two executives' scale — the classical true score, the scale score a respondent
would give on average over replications of the items (rounding and the scale's ceiling
included) — in scale points, centred as ``center`` says (default ``"pooled"``: one grand mean
subtracted from X and Y, so that X = Y is agreement in raw scores). It does not hold any third
variable constant (the surface is an association). In the synthetic sample (``truth.yaml``) the
items of shared understanding measure the executive's latent shared understanding *plus* a part
of their perceived disconnect, so the scale's true score is not the latent X = su_cmo of
``truth.yaml`` (whose a4 = −0.60); the perceived part that the two executives do not share stays
in the true-score difference and dilutes the curvature along X − Y (a4 about −0.49 on the
scale). :mod:`helpers.truth.congruence` derives the estimand on this scale from the simulation
settings by numerical integration; the latent X itself is not identified from the survey.

Verdict, power and small samples
--------------------------------
The verdict comes from :func:`helpers.headlines.verdict`. Power is the power of the interval's
test against the smallest effect of interest (:data:`SESOI`: a4 = −0.40, a disagreement of one
scale point going with a 0.10-point lower outcome, since along X = −Y the surface is
a4·(X − Y)²/4; slopes 0.20 outcome points per scale point), from the bootstrap standard error.
An interval that includes zero at power below 0.8 reads "not detectable with this measurement",
naming the reliability of the difference and the power. Below :data:`MIN_PAIRS` complete pairs
(or :data:`MIN_FIRMS` firms) nothing is estimated; below :data:`CONFIRMATORY_PAIRS` the numbers
are shown as exploratory, without a verdict in words (the firm bootstrap is the small-cluster
method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers import headlines as hl
from helpers import i18n, labels as column_labels
from helpers.codebook import Codebook
from helpers.headlines import Headline
from helpers.i18n import N_, _
from helpers.privacy import DEFAULT_MIN_CELL

KEYS = ("congruence.a1", "congruence.a3", "congruence.a4")
"""The headline estimands. a2 (curvature along the line of agreement) is estimated
(``Surface.interval("congruence.a2")``) but is not a headline: on the true-score scale of a
five-point scale it picks up the ceiling of the items (about +0.025 in the synthetic sample), a
curvature of the measurement, not of the relation."""
ALL_TERMS = ("congruence.a1", "congruence.a2", "congruence.a3", "congruence.a4")
HEADLINE_KEY = "congruence.a4"
MIN_PAIRS = 20
"""Fewest complete CMO–CIO pairs for the corrected surface (six coefficients, two error variances
and a bootstrap over firms); below it the headline is "not estimable"."""
MIN_FIRMS = 15
"""Fewest distinct firms for the firm bootstrap."""
CONFIRMATORY_PAIRS = 100
"""From this many pairs the headline carries a verdict; between MIN_PAIRS and this it is
exploratory (no verdict in words)."""
MIN_ITEMS = 2
"""Fewest items of the predictor construct: its reliability is estimated from the items."""
N_BOOT = 999
SEED = 20261202
MAX_FAILED_SHARE = 0.10
"""Share of bootstrap replicates whose correction may fail (true-score covariance not positive
definite) before the headline is "not estimable"."""
SESOI: dict[str, float] = {"congruence.a1": 0.20, "congruence.a2": 0.40,
                           "congruence.a3": 0.20, "congruence.a4": 0.40}
"""Smallest effects of interest (outcome points per scale point for the slopes a1, a3; per
squared scale point for the curvatures a2, a4: |a4| = 0.40 is a 0.10-point lower outcome for a
one-point disagreement)."""
LABELS = {
    "congruence.a1": N_("Slope along the line of agreement (a1)"),
    "congruence.a2": N_("Curvature along the line of agreement (a2)"),
    "congruence.a3": N_("Slope along the line of disagreement (a3)"),
    "congruence.a4": N_("Curvature along the line of disagreement (a4)"),
}
"""What each estimand is called (English message ids, translated where shown)."""
METHOD = N_("polynomial regression on the executives' true scores (structural errors-in-variables "
            "correction, regression calibration; error variances from the items of each role), "
            "{level} percentile intervals from {replicates} bootstrap replicates over firms")
CENTER_OPTIONS = (None, "pooled", "separate")
PAIRS = N_("CMO–CIO pairs")

column_labels.register({"constraints": N_("Constraints"), "n_parameters": N_("Parameters (k)")},
                       counts={"n_parameters"})
_MONOMIALS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))  # b0, b1 X, b2 Y, b3, b4, b5
_A_WEIGHTS = {"congruence.a1": (0, 1, 1, 0, 0, 0), "congruence.a2": (0, 0, 0, 1, 1, 1),
              "congruence.a3": (0, 1, -1, 0, 0, 0), "congruence.a4": (0, 0, 0, 1, -1, 1)}


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class DyadData:
    """The complete pairs: scale scores, keyed items per role, outcome, firm of each pair."""

    firm: np.ndarray            # integer firm code per pair
    w: dict[str, np.ndarray]    # role -> scale score per pair
    items: dict[str, np.ndarray]  # role -> (pairs x items) keyed item answers (NaN: skipped)
    z: np.ndarray               # outcome: mean of the two executives' scores
    predictor: str
    outcome: str
    item_ids: tuple[str, ...]
    excluded_pairs: int = 0     # complete pairs left out for straight-lining

    @property
    def n(self) -> int:
        return len(self.z)

    @property
    def n_firms(self) -> int:
        return int(len(np.unique(self.firm)))


def straight_lining(survey: pd.DataFrame, codebook: Codebook) -> pd.Series:
    """Validation's straight-lining flag per respondent (the processed data's column, or the
    same rule, :func:`helpers.validate.respondent_flags`, when the column is absent)."""
    if "flag_straight_lining" in survey.columns:
        return survey["flag_straight_lining"].fillna(False).astype(bool)
    from helpers.validate import respondent_flags

    return respondent_flags(survey, codebook)["flag_straight_lining"].astype(bool)


def dyad_data(survey: pd.DataFrame, codebook: Codebook, predictor: str, outcome: str
              ) -> DyadData:
    """Complete CMO–CIO pairs (firm-waves) with both scale scores and the outcome.

    Scores are :func:`helpers.scales.score` (mean of the reverse-keyed items answered, at least
    half of them); the outcome is the mean of the two executives' outcome scores (either when one
    skipped it), as in the observed-score surface of report 04. Pairs with a respondent who
    straight-lined (:func:`straight_lining`) are left out: one answer to every item carries no
    information on the true score, and their perfectly agreeing items would pass for reliability
    (``excluded_pairs`` counts them).
    """
    from helpers.indicators import dyads
    from helpers.scales import score

    item_ids = tuple(codebook.items_present(survey, predictor))
    scores = score(survey, codebook, [predictor, outcome])
    keyed = pd.DataFrame({f"{i}__item": codebook.items[i].score(pd.to_numeric(survey[i]))
                          for i in item_ids}, index=survey.index)
    flat = straight_lining(survey, codebook).astype(float).rename("__flat")
    frame = survey[["firm_id", "wave", "role"]].join(scores).join(keyed).join(flat)
    wide = dyads(frame, [predictor, outcome, *keyed.columns, "__flat"])
    z = wide[[f"{outcome}_cmo", f"{outcome}_cio"]].mean(axis=1)
    keep = (wide[f"{predictor}_cmo"].notna() & wide[f"{predictor}_cio"].notna()
            & z.notna()).to_numpy()
    careless = ((wide["__flat_cmo"] > 0) | (wide["__flat_cio"] > 0)).to_numpy()
    excluded = int((keep & careless).sum())
    keep = keep & ~careless
    wide, z = wide.loc[keep], z.loc[keep]
    firm = pd.factorize(wide["firm_id"])[0]
    return DyadData(
        firm=np.asarray(firm, dtype=np.int64),
        w={r: wide[f"{predictor}_{r.lower()}"].to_numpy(float) for r in ("CMO", "CIO")},
        items={r: wide[[f"{i}__item_{r.lower()}" for i in item_ids]].to_numpy(float)
               for r in ("CMO", "CIO")},
        z=z.to_numpy(float), predictor=predictor, outcome=outcome, item_ids=item_ids,
        excluded_pairs=excluded)


# --------------------------------------------------------------------------- estimator
def _wmean(values: np.ndarray, w: np.ndarray) -> Any:
    return np.tensordot(w, values, axes=(0, 0)) / w.sum()


def error_variances(items: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Error variance of each respondent's scale score under the tau-equivalent model.

    ``items``: (respondents x k) keyed answers, NaN where skipped; ``w``: frequency weights (the
    bootstrap's). Item covariances come from the respondents who answered every item; the
    true-score variance is their mean off-diagonal covariance c̄, item i's error variance
    θ_i = max(C_ii − c̄, 0), and a respondent who answered the set A has Σ_A θ_i / |A|².
    """
    n, k = items.shape
    weights = np.ones(n) if w is None else np.asarray(w, float)
    complete = ~np.isnan(items).any(axis=1) & (weights > 0)
    x, wc = items[complete], weights[complete]
    if k < MIN_ITEMS or wc.sum() < 3:
        return np.full(n, np.nan)
    mean = _wmean(x, wc)
    dev = x - mean
    cov = (dev * wc[:, None]).T @ dev / (wc.sum() - 1)
    off = (cov.sum() - np.trace(cov)) / (k * (k - 1))
    theta = np.maximum(np.diag(cov) - off, 0.0)
    answered = ~np.isnan(items)
    count = answered.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (answered * theta).sum(axis=1) / count**2, np.nan)


@dataclass(frozen=True)
class Fit:
    """One estimate of the surface (the full sample or one bootstrap replicate)."""

    b: np.ndarray | None          # b0..b5 on the true-score scale (None: not identified)
    b_observed: np.ndarray | None  # OLS on the observed scores (None: singular design)
    reliability: dict[str, float]  # CMO, CIO, difference
    center: tuple[float, float]

    def a(self, key: str, corrected: bool = True) -> float:
        b = self.b if corrected else self.b_observed
        return float(np.dot(_A_WEIGHTS[key], b)) if b is not None else float("nan")


def _center_values(wx: np.ndarray, wy: np.ndarray, w: np.ndarray, center: str | None
                   ) -> tuple[float, float]:
    if center is None:
        return 0.0, 0.0
    mx, my = float(_wmean(wx, w)), float(_wmean(wy, w))
    if center == "pooled":
        return (mx + my) / 2, (mx + my) / 2
    return mx, my


def _ols(x: np.ndarray, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    design = np.column_stack([x**a * y**b for a, b in _MONOMIALS])
    m = (design * w[:, None]).T @ design
    eig = np.linalg.eigvalsh(m)
    if eig[0] <= 1e-10 * max(eig[-1], 1e-300):
        return None
    return np.linalg.solve(m, (design * w[:, None]).T @ z)


def fit(data: DyadData, w: np.ndarray | None = None, center: str | None = "pooled") -> Fit:
    """The true-score surface by the structural correction (see the module docstring).

    OLS of Z on the quadratic in the centred observed scores w gives b and the quadratic form
    B; with μ the mean of w, Σ_W its covariance, Σ_T = Σ_W − diag(σ²_x, σ²_y) and
    Λ = Σ_T Σ_W⁻¹, E[T | W] − c = μ + Λ(w − μ), so w = Λ⁻¹ m + r with r = (I − Λ⁻¹) μ and
    the surface in m has B_T = Λ⁻ᵀ B Λ⁻¹ and b_T = Λ⁻ᵀ (b + 2 B r).
    """
    weights = np.ones(data.n) if w is None else np.asarray(w, float)
    wx, wy = data.w["CMO"], data.w["CIO"]
    sx, sy = error_variances(data.items["CMO"], weights), error_variances(data.items["CIO"],
                                                                          weights)
    cx, cy = _center_values(wx, wy, weights, center)
    x, y = wx - cx, wy - cy
    rel = _reliabilities(x, y, sx, sy, weights)
    b_obs = _ols(x, y, data.z, weights)
    if b_obs is None or np.isnan(sx).any() or np.isnan(sy).any():
        return Fit(None, b_obs, rel, (cx, cy))
    mu = np.array([_wmean(x, weights), _wmean(y, weights)])
    dev = np.column_stack([x, y]) - mu
    sigma_w = (dev * weights[:, None]).T @ dev / weights.sum()
    sigma_t = sigma_w - np.diag([_wmean(sx, weights), _wmean(sy, weights)])
    if np.linalg.eigvalsh(sigma_t)[0] <= 0:
        return Fit(None, b_obs, rel, (cx, cy))
    inv_lambda = sigma_w @ np.linalg.inv(sigma_t)   # Λ⁻¹ = Σ_W Σ_T⁻¹
    quad = np.array([[b_obs[3], b_obs[4] / 2], [b_obs[4] / 2, b_obs[5]]])
    r = mu - inv_lambda @ mu
    quad_t = inv_lambda.T @ quad @ inv_lambda
    lin_t = inv_lambda.T @ (b_obs[1:3] + 2 * quad @ r)
    b0 = (float(_wmean(data.z, weights)) - lin_t @ mu - mu @ quad_t @ mu
          - float(np.trace(quad_t @ sigma_t)))
    b_t = np.array([b0, lin_t[0], lin_t[1], quad_t[0, 0], 2 * quad_t[0, 1], quad_t[1, 1]])
    return Fit(b_t, b_obs, rel, (cx, cy))


def _reliabilities(x: np.ndarray, y: np.ndarray, sx: np.ndarray, sy: np.ndarray,
                   w: np.ndarray) -> dict[str, float]:
    def var(values: np.ndarray) -> float:
        mean = _wmean(values, w)
        return float(np.dot(w, (values - mean) ** 2) / (w.sum() - 1))

    ex, ey = float(_wmean(sx, w)), float(_wmean(sy, w))
    return {"CMO": 1 - ex / var(x), "CIO": 1 - ey / var(y),
            "difference": 1 - (ex + ey) / var(x - y)}


# --------------------------------------------------------------------------- bootstrap
@dataclass(frozen=True)
class Surface:
    """The corrected surface with its firm bootstrap."""

    data: DyadData
    estimate: Fit
    replicates: np.ndarray        # (B x 6) b0..b5 of the replicates that succeeded
    replicates_observed: np.ndarray
    failed: int
    n_boot: int
    conf: float
    center: str | None
    labels: tuple[str, str] | None = None

    def a_replicates(self, key: str, corrected: bool = True) -> np.ndarray:
        reps = self.replicates if corrected else self.replicates_observed
        return reps @ np.asarray(_A_WEIGHTS[key], float)

    def interval(self, key: str, corrected: bool = True) -> dict[str, float]:
        """Estimate, percentile interval, percentile p and normal-equivalent SE of one a."""
        boot = self.a_replicates(key, corrected)
        est = self.estimate.a(key, corrected)
        tail = (1 - self.conf) / 2
        lo, hi = np.quantile(boot, [tail, 1 - tail]) if len(boot) else (np.nan, np.nan)
        q16, q84 = np.quantile(boot, [0.158655, 0.841345]) if len(boot) else (np.nan, np.nan)
        below, above = np.sum(boot <= 0), np.sum(boot >= 0)
        p = min(1.0, 2 * (min(below, above) + 1) / (len(boot) + 1))
        return {"estimate": est, "ci_low": float(lo), "ci_high": float(hi), "p_value": p,
                "std_error": float((q84 - q16) / 2)}


def surface(data: DyadData, *, center: str | None = "pooled", conf: float = 0.95,
            n_boot: int = N_BOOT, seed: int = SEED,
            labels: tuple[str, str] | None = None) -> Surface:
    """The corrected surface and ``n_boot`` firm-bootstrap replicates of it."""
    estimate = fit(data, center=center)
    rng = np.random.default_rng(seed)
    g = data.n_firms
    reps, reps_obs, failed = [], [], 0
    for _replicate in range(n_boot):
        counts = np.bincount(rng.integers(0, g, g), minlength=g)
        rep = fit(data, counts[data.firm].astype(float), center=center)
        if rep.b_observed is not None:
            reps_obs.append(rep.b_observed)
        if rep.b is None:
            failed += 1
        else:
            reps.append(rep.b)
    return Surface(data, estimate, np.array(reps).reshape(-1, 6),
                   np.array(reps_obs).reshape(-1, 6), failed, n_boot, conf, center, labels)


# --------------------------------------------------------------------------- headlines
def headlines(survey: pd.DataFrame, codebook: Codebook, *, predictor: str | None = None,
              outcome: str | None = None, center: str | None = "pooled",
              min_pairs: int = MIN_PAIRS, conf: float = 0.95, n_boot: int = N_BOOT,
              seed: int = SEED, confirmatory_pairs: int = CONFIRMATORY_PAIRS,
              sesoi: Mapping[str, float] | None = None,
              language: str | None = None) -> list[Headline]:
    """The congruence headlines a1..a4 (a4 first: the (dis)agreement association).

    ``predictor`` / ``outcome``: construct ids, or None for the report's default rule
    (shared understanding, own view, and joint project success when asked;
    :func:`helpers.indicators.choose_construct`). ``min_pairs`` is raised to :data:`MIN_PAIRS`
    if lower. See the module docstring for the method, the estimand and the verdict rule.
    Labels, notes and readings are in ``language`` (default: the current one).
    """
    with i18n.using(language or i18n.current()):
        return _headlines(survey, codebook, predictor=predictor, outcome=outcome, center=center,
                          min_pairs=min_pairs, conf=conf, n_boot=n_boot, seed=seed,
                          confirmatory_pairs=confirmatory_pairs, sesoi=sesoi)


def in_sentence(label: str) -> str:
    """A codebook label inside a sentence: lower-case first letter (not in German, whose nouns
    keep their capital, nor for an acronym such as "IT")."""
    if i18n.current() == "DE" or len(label) < 2 or label[1].isupper():
        return label
    return label[0].lower() + label[1:]


def _headlines(survey: pd.DataFrame, codebook: Codebook, *, predictor: str | None,
               outcome: str | None, center: str | None, min_pairs: int, conf: float,
               n_boot: int, seed: int, confirmatory_pairs: int,
               sesoi: Mapping[str, float] | None) -> list[Headline]:
    from helpers.indicators import choose_construct

    if center not in CENTER_OPTIONS:
        raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}")
    pid = choose_construct(survey, codebook, predictor, kind="indicator",
                           prefer="shared_understanding_own", both_roles=True)
    oid = choose_construct(survey, codebook, outcome, kind="outcome",
                           prefer="joint_project_success", continuous=True)
    data = dyad_data(survey, codebook, pid, oid)
    method = _(METHOD).format(level=i18n.percent(100 * conf, 0),
                              replicates=i18n.integer(n_boot))
    order = (HEADLINE_KEY, *[k for k in KEYS if k != HEADLINE_KEY])
    minimum = max(int(min_pairs), MIN_PAIRS)
    reason = _not_estimable_reason(data, minimum)
    if reason:
        return [hl.not_estimable(k, _(LABELS[k]), _unit(k), reason, method, n=data.n,
                                 n_unit=_(PAIRS)) for k in order]
    language = i18n.current()
    labels = (in_sentence(codebook.label(pid, language)),
              in_sentence(codebook.label(oid, language)))
    result = surface(data, center=center, conf=conf, n_boot=n_boot, seed=seed, labels=labels)
    if result.estimate.b is None or result.failed > MAX_FAILED_SHARE * n_boot:
        difference = _num(result.estimate.reliability["difference"])
        why = (_("The measurement-error correction is not identified in this sample: the items' "
                 "error variance leaves no true-score variation in the difference between the "
                 "two executives' scores (reliability of the CMO–CIO difference "
                 "{reliability}).").format(reliability=difference)
               if result.estimate.b is None else
               _("The measurement-error correction is not identified in {failed} of {total} "
                 "bootstrap replicates: the items' error variance leaves no true-score variation "
                 "in the difference between the two executives' scores (reliability of the "
                 "CMO–CIO difference {reliability}).").format(
                     failed=i18n.integer(result.failed), total=i18n.integer(n_boot),
                     reliability=difference))
        return [hl.not_estimable(k, _(LABELS[k]), _unit(k), why, method, n=data.n,
                                 n_unit=_(PAIRS)) for k in order]
    values = dict(SESOI, **(sesoi or {}))
    exploratory = data.n < confirmatory_pairs
    return [_headline(result, k, values[k], exploratory, confirmatory_pairs, method)
            for k in order]


def _not_estimable_reason(data: DyadData, minimum: int) -> str:
    if data.n < minimum:
        return _("{n} complete CMO–CIO pairs; the corrected response surface needs at least "
                 "{minimum}.").format(n=i18n.integer(data.n), minimum=i18n.integer(minimum))
    if data.n_firms < MIN_FIRMS:
        return _("{n} firms; the bootstrap over firms needs at least {minimum}.").format(
            n=i18n.integer(data.n_firms), minimum=i18n.integer(MIN_FIRMS))
    if len(data.item_ids) < MIN_ITEMS:
        return _("The predictor has a single item, so its reliability (and the "
                 "measurement-error correction) cannot be estimated from the items.")
    return ""


def _unit(key: str) -> str:
    if key in ("congruence.a2", "congruence.a4"):
        return _("outcome points per squared scale point")
    return _("outcome points per scale point")


def _num(value: float, digits: int = 2) -> str:
    return i18n.number(value, digits)


def _headline(result: Surface, key: str, sesoi: float, exploratory: bool,
              confirmatory: int, method: str) -> Headline:
    stats = result.interval(key)
    observed = result.interval(key, corrected=False)
    power = hl.power(stats["std_error"], sesoi, result.conf)
    verdict = hl.verdict(stats["ci_low"], stats["ci_high"], power, exploratory=exploratory)
    rel = result.estimate.reliability
    name = key.split(".")[1]
    numbers = _("{name} = {estimate} ({level} CI {low} to {high}, {p}; corrected for "
                "measurement error)").format(
                    name=name, estimate=_num(stats["estimate"]),
                    level=i18n.percent(100 * result.conf, 0), low=_num(stats["ci_low"]),
                    high=_num(stats["ci_high"]), p=hl.p_phrase(stats["p_value"]))
    reading = _reading(key, verdict, numbers, power, sesoi, rel, result.data.n, confirmatory,
                       result.labels)
    note = _("Reliability of the scale: CMO {cmo}, CIO {cio}; of the CMO–CIO difference "
             "{difference}. Uncorrected (observed scores) {name} = {estimate} ({low} to "
             "{high}).").format(cmo=_num(rel["CMO"]), cio=_num(rel["CIO"]),
                                difference=_num(rel["difference"]), name=name,
                                estimate=_num(observed["estimate"]),
                                low=_num(observed["ci_low"]), high=_num(observed["ci_high"]))
    if result.data.excluded_pairs:
        count = (i18n.integer(result.data.excluded_pairs)
                 if result.data.excluded_pairs >= DEFAULT_MIN_CELL
                 else _("fewer than {minimum}").format(minimum=i18n.integer(DEFAULT_MIN_CELL)))
        note += " " + _("Pairs with an executive who straight-lined (one answer to every item of "
                        "a rating scale) were left out: {count}.").format(count=count)
    if result.failed:
        note += " " + _("{failed} of {total} bootstrap replicates had a true-score covariance "
                        "that is not positive definite and were left out.").format(
                            failed=i18n.integer(result.failed),
                            total=i18n.integer(result.n_boot))
    return Headline(
        key=key, label=_(LABELS[key]), unit=_unit(key), estimate=stats["estimate"],
        ci_low=stats["ci_low"], ci_high=stats["ci_high"], p_value=stats["p_value"],
        n=result.data.n, n_unit=_(PAIRS), verdict=verdict, reading=reading,
        method=method, power=power, sesoi=sesoi, std_error=stats["std_error"], note=note,
        extra={"reliability": dict(rel), "observed": observed, "center": result.center,
               "center_values": result.estimate.center, "failed_replicates": result.failed,
               "n_firms": result.data.n_firms, "excluded_pairs": result.data.excluded_pairs,
               "predictor": result.data.predictor,
               "outcome": result.data.outcome, "b": result.estimate.b.tolist()
               if result.estimate.b is not None else None})


_MEANING = {  # (verdict "positive", verdict "negative"): whole clauses, {out} and {pred} labels
    "congruence.a4": (N_("{out} is higher where the CMO's and the CIO's {pred} differ than where "
                         "they agree, at the same average level"),
                      N_("{out} is lower where the CMO's and the CIO's {pred} differ than where "
                         "they agree, at the same average level")),
    "congruence.a2": (N_("along the line of agreement {out} is curved upward (curvature where "
                         "both executives give the same {pred} score)"),
                      N_("along the line of agreement {out} is curved downward (curvature where "
                         "both executives give the same {pred} score)")),
    "congruence.a1": (N_("where the two executives agree, {out} is higher the higher both rate "
                         "{pred}"),
                      N_("where the two executives agree, {out} is lower the higher both rate "
                         "{pred}")),
    "congruence.a3": (N_("{out} is higher where the CMO rates {pred} above the CIO than the "
                         "reverse"),
                      N_("{out} is lower where the CMO rates {pred} above the CIO than the "
                         "reverse")),
}


def _reading(key: str, verdict: str, numbers: str, power: float | None, sesoi: float,
             rel: Mapping[str, float], n: int, confirmatory: int,
             labels: tuple[str, str] | None = None) -> str:
    """The reading of one estimand: its numbers, then what they support. An exploratory
    reading gives the numbers only (the report's banner says why there is no verdict)."""
    name = key.split(".")[1]
    pred, out = labels or (_("their views"), _("the outcome"))
    power_text = "–" if power is None else _num(power)
    if verdict == "exploratory":
        return _("{numbers}.").format(numbers=numbers)
    if verdict in hl.SIGNED:
        template = _MEANING[key][0] if verdict == "positive" else _MEANING[key][1]
        meaning = _(template).format(out=out, pred=pred)
        return _("{numbers}: {meaning} — an association in cross-sectional survey answers, not "
                 "an effect.").format(numbers=numbers, meaning=meaning[:1].upper() + meaning[1:])
    if verdict == "no evidence":
        return _("{numbers}: no evidence of an association of this size; the design had power "
                 "{power} to detect |{name}| = {sesoi}.").format(
                     numbers=numbers, power=power_text, name=name, sesoi=_num(sesoi))
    return _("{numbers}: not detectable with this measurement: reliability of the difference "
             "between the two executives' scores {difference} (CMO scale {cmo}, CIO {cio}), "
             "power {power} to detect |{name}| = {sesoi}. This does not show that it does not "
             "matter.").format(numbers=numbers, difference=_num(rel["difference"]),
                               cmo=_num(rel["CMO"]), cio=_num(rel["CIO"]), power=power_text,
                               name=name, sesoi=_num(sesoi))


def headline_table(items: Sequence[Headline]) -> pd.DataFrame:
    """The headlines as the report shows them (estimate, interval, p, power, verdict)."""
    table = hl.table(items)
    return table[["label", "estimate", "ci_low", "ci_high", "p_value", "power", "verdict", "n"]]


# --------------------------------------------------------------------------- constrained models
CONSTRAINED_MODELS: dict[str, str] = {
    N_("full"): N_("b1 X + b2 Y + b3 X² + b4 XY + b5 Y² (all free)"),
    N_("shifted squared difference (SSQD)"): "c (X − Y) + d (X − Y)²: b1 = −b2, b3 = b5 = −b4/2",
    N_("squared difference (SQD)"): "d (X − Y)²: b1 = b2 = 0, b3 = b5 = −b4/2",
    N_("interaction (IA)"): "b1 X + b2 Y + b4 XY",
    N_("additive"): "b1 X + b2 Y",
    N_("null"): N_("intercept only"),
}
"""The constrained models (names and constraints are message ids: shown translated)."""


def _constrained_design(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = x - y
    columns = {
        "full": [x, y, x * x, x * y, y * y], "shifted squared difference (SSQD)": [d, d * d],
        "squared difference (SQD)": [d * d], "interaction (IA)": [x, y, x * y],
        "additive": [x, y], "null": [],
    }[name]
    return np.column_stack([np.ones_like(x), *columns])


def model_comparison(x: Any, y: Any, z: Any, center: str | None = "pooled") -> pd.DataFrame:
    """Constrained response-surface models compared by information criteria, as R's ``RSA``
    package does (Schönbrodt & Humberg), on the observed scores.

    Each model is the polynomial with the constraints in :data:`CONSTRAINED_MODELS`, fitted by
    OLS; the Gaussian log-likelihood counts the residual variance as a parameter, as R's
    ``AIC(lm)`` does (k = coefficients + 1); model names and constraints in the current
    language. Columns: model, constraints, n_parameters (k), log_lik, aic, bic,
    delta_aic, aic_weight (Akaike weights, Burnham & Anderson 2002), r2. The criteria treat pairs
    as independent (a firm in two waves counts twice) and measurement error is not corrected, so
    the comparison describes the observed scores and tends to favour simpler models.
    """
    xs, ys, zs = (np.asarray(v, dtype=float) for v in (x, y, z))
    keep = np.isfinite(xs) & np.isfinite(ys) & np.isfinite(zs)
    xs, ys, zs = xs[keep], ys[keep], zs[keep]
    if center not in CENTER_OPTIONS:
        raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}")
    cx, cy = _center_values(xs, ys, np.ones_like(xs), center)
    xs, ys = xs - cx, ys - cy
    n = len(zs)
    tss = float(np.sum((zs - zs.mean()) ** 2))
    rows = []
    for name, text in CONSTRAINED_MODELS.items():
        design = _constrained_design(name, xs, ys)
        if n <= design.shape[1] + 1:
            continue
        coef = np.linalg.lstsq(design, zs, rcond=None)[0]
        rss = float(np.sum((zs - design @ coef) ** 2))
        k = design.shape[1] + 1
        log_lik = -n / 2 * (np.log(2 * np.pi * rss / n) + 1)
        rows.append({"model": _(name), "constraints": _(text), "n_parameters": k,
                     "log_lik": log_lik,
                     "aic": -2 * log_lik + 2 * k, "bic": -2 * log_lik + np.log(n) * k,
                     "r2": 1 - rss / tss if tss > 0 else np.nan})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["delta_aic"] = table["aic"] - table["aic"].min()
    weights = np.exp(-table["delta_aic"] / 2)
    table["aic_weight"] = weights / weights.sum()
    return table[["model", "constraints", "n_parameters", "log_lik", "aic", "bic", "delta_aic",
                  "aic_weight", "r2"]]
