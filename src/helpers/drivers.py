"""Drivers of the CMO–CIO disconnect and its consequences: firm-level, cross-rater, corrected.

Two headline functions, called by the drivers report (``notebooks/03_drivers.ipynb``) and by the
validity study, return :class:`helpers.headlines.Headline` rows:

* :func:`headlines` — per driver, the association of the driver with the firm's disconnect
  (key ``drivers.<driver_id>``): Likert points of the disconnect index per unit of the driver,
  yes vs no for a yes/no driver, per standard deviation of the (latent, firm-level) driver for a
  rating-scale driver; all drivers and the controls in one model.
* :func:`consequences` — the disconnect's association with three outcomes: a failed or late joint
  project (``consequences.project_failure``: difference in the probability, per point of the
  disconnect), customer-insight capability (``consequences.customer_insight``: insight scale
  points per point of the disconnect, data readiness held constant) and "relationship improved"
  (``consequences.relationship_improved``: answer points per point of the disconnect).

Method (one estimator for both functions, :func:`cross_rater_slopes`)
---------------------------------------------------------------------
The unit is the firm-wave with both executives (a *dyad*: exactly one CMO and one CIO). Every
quantity is measured twice, once by each executive: the disconnect index, each driver (a yes/no
report or a scale score) and each outcome. Each measure is modelled as congeneric,
``W_r = ν_r + λ T + e_r``, where ``T`` is the firm-wave's true value and the errors ``e_r`` of the
two executives are independent of each other and of ``T`` (misreported yes/no facts, item noise,
each executive's own perception, response style). The slopes of the structural regression
``T_y = Σ β_k T_k + controls`` are then identified from **cross-rater moments** only:

1. every measure of each executive is residualised on the controls (dummies for size band,
   industry, country and wave by default; categories with fewer than ``min_cell`` firm-waves or
   firms pooled by :func:`helpers.privacy.pool_rare`);
2. ``M = (A'B + B'A) / 2n`` — the covariances of the CMO's measures with the CIO's measures —
   estimates ``Λ Σ_T Λ``: the errors of the two executives do not covary, so no reliability is
   needed for the covariance matrix itself, and common-method bias (a respondent's halo linking
   his own driver reports and his own disconnect answers) cannot enter: the drivers of one
   executive always meet the disconnect of the other;
3. ``b = M_xx⁻¹ M_xy`` are the slopes per unit of each measure's true score; they are put on the
   reported scale with each measure's loading ``λ``, estimated from the data:

   * yes/no reports (misclassification): the two reports agree with probability
     ``a² + (1 − a)²`` when each is right with probability ``a`` (the same for both executives,
     yes and no alike), so ``λ = 2a − 1 = √(1 − 2·P(disagree))`` (the latent-class identity of
     two parallel binary raters; Hui & Walter 1980; Carroll et al. 2006, ch. 8) and the slope
     is per *true* yes vs no;
   * rating-scale drivers: per standard deviation of the firm-level true score, ``λ = √(cross-
     rater covariance of the two executives' scores)`` (centred per role, before the controls),
     i.e. per SD of the part of the driver both executives see;
   * the disconnect index and the outcome scales are in Likert points; rounding to the scale's
     categories and the floor and ceiling at its ends shrink their covariance with everything by
     ``κ = Σ_τ f(τ)`` — the latent answer's density at the category thresholds ``τ = min+½ …
     max−½`` (Stein's lemma for a step function of a normal latent answer). ``κ`` is estimated
     per item and role from the answers' category shares (a normal latent answer with fixed
     thresholds: the probits of the cumulative shares are linear in τ, slope 1/σ), averaged with
     the item's weight in the score, and the score is divided by it, so that one point is one
     point of the latent answer scale (Stewart 1983 on grouped dependent variables).

   This is a method-of-moments errors-in-variables estimator (Fuller 1987, ch. 1-2; the cross-
   rater design of Podsakoff et al. 2003 against common-method variance), the multivariate
   analogue of using one executive's report as the instrument for the other's.

Intervals: a nonparametric bootstrap over **firms** (clusters: both waves of a firm move
together; Cameron & Miller 2015), ``n_boot`` resamples re-estimating the moments, ``λ`` and
``κ`` from the measures residualised once on the controls (Frisch–Waugh–Lovell; resampling the
dummies themselves would leave rare categories with one or two firms in a resample and inflate
the variance); standard error = the SD of the bootstrap estimates times ``√(n / (n − k))``
(``k`` = controls and regressors: the HC1 degrees-of-freedom factor, which the pairs
bootstrap, like HC0, omits; MacKinnon & White 1985), interval = estimate ± z·SE
(normal; the percentile interval is in ``extra``), p = 2Φ(−|est|/SE). Power (for the
verdict rule of :mod:`helpers.headlines`) is against the smallest association of interest:
:data:`SESOI_BINARY` for yes/no drivers, :data:`SESOI_PER_SD` per SD, :data:`SESOI_FAILURE` and
:data:`SESOI_POINTS` for the consequences. Between :data:`MIN_FIRMS` and
:data:`CONFIRMATORY_FIRMS` firms with a dyad the headline is exploratory: the interval uses the
t quantile (and p the t distribution) with G − 1 degrees of freedom (a small-cluster
correction) and the reading gives no
verdict. Below :data:`MIN_FIRMS` firms, or with fewer than :data:`MIN_RESIDUAL_DF` residual
degrees of freedom, it is not estimable.

Single-executive firm-waves carry no cross-rater information and are left out (counted in
``extra["single_executive_firm_waves"]``): using them would need the assumption that one
respondent's errors in the driver and in the disconnect are independent, which the cross-rater
design exists to avoid. Answers missing for a measure drop the dyad from that model (complete
cases). Assumptions: the two executives' errors are independent and equally accurate on yes/no
facts; the latent answers are roughly normal (for ``κ``); the drivers left out are not
correlated with those in the model. The association is cross-sectional: it is worded as an
association, never as an effect.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import headlines as hl
from helpers import i18n, indicators, labels, privacy
from helpers.codebook import Codebook, load_codebook
from helpers.headlines import Headline
from helpers.i18n import N_, _, ngettext
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import special, stats
else:
    special = LazyModule("scipy.special")
    stats = LazyModule("scipy.stats")

SQRT_2PI = math.sqrt(2.0 * math.pi)  # the normal density φ(z) = exp(−z²/2) / √(2π)

CONTROLS = ("size_band", "industry", "country", "wave")
"""Default controls: firm-wave characteristics, as dummies (the role is not a control: every
measure is residualised within its role)."""

MIN_FIRMS = 20
"""Fewest firms with a complete dyad for any estimate (the bootstrap over firms needs clusters)."""
CONFIRMATORY_FIRMS = 50
"""Fewest firms with a dyad for a verdict in words; below it the headline is exploratory."""
MIN_RESIDUAL_DF = 10
"""Fewest dyads beyond the parameters (controls + measures) for the residualised moments."""
N_BOOT = 400
"""Bootstrap resamples of firms."""

SESOI_BINARY = 0.10
"""Smallest driver association of interest: a tenth of a scale point of the disconnect index
between firms with and without a yes/no arrangement."""
SESOI_PER_SD = 0.05
"""... and per SD of a rating-scale driver: half of it, since −1 SD to +1 SD spans two SDs."""
SESOI_FAILURE = 0.05
"""Consequences: 5 percentage points of failure probability per point of the disconnect."""
SESOI_POINTS = 0.10
"""Consequences on rating scales: 0.1 answer points per point of the disconnect."""

INDEX = indicators.DISCONNECT_INDEX
FAILURE = "project_failure"
INSIGHT = "customer_insight"
IMPROVED = "relationship_improved"
READINESS = "data_readiness"
ROLES = ("CMO", "CIO")

METHOD = N_("firm-level cross-rater errors-in-variables regression (CMO's measures × CIO's "
             "measures; yes/no reports corrected for misreporting from the executives' "
             "agreement, scales per SD of the shared true score, Likert points corrected for "
             "rounding and floor/ceiling); bootstrap over firms")
"""How the headlines are estimated (an English message id: translated where it is shown)."""

labels.register({INDEX: N_("Disconnect index")})


def _language(language: str | None):
    """Translate in ``language`` within the block (the current language when None)."""
    return i18n.using(language or i18n.current())


# --------------------------------------------------------------------------- the estimator
@dataclass(frozen=True)
class Measure:
    """One quantity measured by both executives: its column and how its scale is anchored.

    ``kind``: ``"binary"`` (a yes/no fact: per true yes vs no), ``"per_sd"`` (per SD of the
    shared true score) or ``"points"`` (answer points, corrected for rounding and floor/ceiling
    by ``κ`` from ``items``: item id -> weight in the score, per role).
    """

    column: str
    kind: str
    items: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _residualise(x: np.ndarray, z: np.ndarray | None) -> np.ndarray:
    if z is None or z.shape[1] == 0:
        return x - x.mean(axis=0)
    coef, *_rest = np.linalg.lstsq(z, x, rcond=None)
    return x - z @ coef


def cross_rater_slopes(a: np.ndarray, b: np.ndarray, kinds: Sequence[str],
                       z: np.ndarray | None = None, kappa_a: np.ndarray | None = None,
                       kappa_b: np.ndarray | None = None,
                       loading_from: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Slopes of the last measure's true score on the others', from cross-rater moments.

    ``a`` and ``b`` (n × p): the two executives' measures of the same p quantities, the outcome
    last; ``kinds`` per column (see :class:`Measure`); ``z`` (n × q): the controls' design
    including the intercept (None: means only); ``kappa_a``/``kappa_b`` (p): the floor/ceiling
    factors of ``"points"`` columns (1 elsewhere). ``loading_from``: the raw measures the
    loadings are computed from when ``a`` and ``b`` are already residualised (default: ``a``,
    ``b``). Returns p − 1 slopes on the scales of the module docstring; NaN when a loading or
    the moment matrix is not estimable.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    p = a.shape[1]
    ka = np.ones(p) if kappa_a is None else np.asarray(kappa_a, dtype=float)
    kb = np.ones(p) if kappa_b is None else np.asarray(kappa_b, dtype=float)
    raw_a, raw_b = (a, b) if loading_from is None else loading_from
    a, b = a / ka, b / kb
    loading = np.ones(p)
    for j, kind in enumerate(kinds):
        if kind == "binary":
            agree_gap = 1 - 2 * np.mean(raw_a[:, j] != raw_b[:, j])
            loading[j] = math.sqrt(agree_gap) if agree_gap > 0 else np.nan
        elif kind == "per_sd":
            x, y = raw_a[:, j], raw_b[:, j]
            cov = np.mean((x - x.mean()) * (y - y.mean()))
            loading[j] = math.sqrt(cov) if cov > 0 else np.nan
        elif kind != "points":
            raise ValueError(f"unknown measure kind {kind!r}")
    if not np.all(np.isfinite(loading)):
        return np.full(p - 1, np.nan)
    ra, rb = _residualise(a, z), _residualise(b, z)
    m = (ra.T @ rb + rb.T @ ra) / (2 * len(a))
    mxx, mxy = m[:-1, :-1], m[:-1, -1]
    if np.any(np.linalg.eigvalsh(mxx) <= 0):
        return np.full(p - 1, np.nan)
    slopes = np.linalg.solve(mxx, mxy)
    return slopes * loading[:-1] / loading[-1]


def grouped_normal_kappa(counts: np.ndarray, low: float, high: float) -> np.ndarray:
    """Floor/ceiling factor ``κ = Σ_τ f(τ)`` per row of category counts (categories low..high).

    The latent answer is taken as normal with thresholds at ``low + ½ … high − ½``: the probits
    of the cumulative shares are ``(τ − μ)/σ``; a least-squares line through them (thresholds
    with a share strictly between 0 and 1) gives ``1/σ`` and ``μ``. ``κ`` is the derivative of
    the expected answer with respect to a shift of the latent answer (1 without floor/ceiling).
    NaN where fewer than two thresholds are informative.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    tau = np.arange(low, high) + 0.5
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cum = np.cumsum(counts, axis=1)[:, :-1] / total
    ok = (cum > 0) & (cum < 1)
    zq = np.where(ok, special.ndtri(np.where(ok, cum, 0.5)), 0.0)
    t = np.where(ok, tau[None, :], 0.0)
    n = ok.sum(axis=1)
    st, sz = t.sum(axis=1), zq.sum(axis=1)
    stt, stz = (t * t).sum(axis=1), (t * zq).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * stz - st * sz) / (n * stt - st**2)
        intercept = (sz - slope * st) / n
        z = intercept[:, None] + slope[:, None] * tau[None, :]
        kappa = np.sum(slope[:, None] * np.exp(-0.5 * z * z) / SQRT_2PI, axis=1)  # φ(z)
    return np.where((n >= 2) & (slope > 0), kappa, np.nan)


# --------------------------------------------------------------------------- data
@dataclass
class _Dyads:
    frame: pd.DataFrame            # one row per dyad: <col>_cmo, <col>_cio, controls, firm_id
    single: int                    # firm-waves with one executive only
    items: pd.DataFrame            # the dyads' item answers: <item>_cmo, <item>_cio


def _dyads(survey: pd.DataFrame, cb: Codebook, columns: Sequence[str],
           controls: Sequence[str], min_cell: int) -> _Dyads:
    """Firm-waves with exactly one CMO and one CIO: scores and item answers of both, controls."""
    frame = indicators.respondent_frame(survey, cb)
    items = [i for i in cb.items if i in survey.columns]
    frame = frame.join(survey[items].add_prefix("item__"))
    keep = [c for c in columns if c in frame.columns] + [f"item__{i}" for i in items]
    wide = indicators.dyads(frame, keep)
    per_fw = frame.groupby(["firm_id", "wave"]).size()
    single = int(len(per_fw) - len(wide))
    ctrl = [c for c in controls if c in frame.columns and c not in ("firm_id", "wave")]
    if ctrl:
        firm_wave = frame.drop_duplicates(["firm_id", "wave"]).set_index(["firm_id", "wave"])[ctrl]
        wide = wide.join(firm_wave, on=["firm_id", "wave"])
    wide = privacy.pool_rare(wide, [c for c in controls if c in wide.columns], min_cell)
    item_cols = [c for c in wide.columns if c.startswith("item__")]
    return _Dyads(frame=wide.drop(columns=item_cols), single=single,
                  items=wide[item_cols].rename(columns=lambda c: c[len("item__"):]))


def _design(frame: pd.DataFrame, controls: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept plus dummies of each control that varies (first category the reference)."""
    parts, used = [np.ones((len(frame), 1))], []
    for c in controls:
        if c not in frame.columns:
            continue
        values = frame[c].astype("object").astype(str)
        if values.nunique() < 2:
            continue
        dummies = pd.get_dummies(values, drop_first=True, dtype=float)
        parts.append(dummies.to_numpy())
        used.append(c)
    return np.hstack(parts), used


def _score_items(cb: Codebook, construct: str, survey_items: Iterable[str]
                 ) -> dict[str, dict[str, float]]:
    """Per role, the weight of each item of a construct in its score (mean of the items asked)."""
    present = set(survey_items)
    out = {}
    for role in ROLES:
        ids = [i for i in cb.constructs[construct].items if i in present
               and role in cb.items[i].roles]
        out[role] = {i: 1.0 / len(ids) for i in ids} if ids else {}
    return out


def _index_items(cb: Codebook, indicator_ids: Sequence[str], survey_items: Iterable[str]
                 ) -> dict[str, dict[str, float]]:
    """Per role, each indicator item's weight in the disconnect index (mean of construct means)."""
    present = list(survey_items)
    out: dict[str, dict[str, float]] = {}
    for role in ROLES:
        per = {c: _score_items(cb, c, present)[role] for c in indicator_ids}
        per = {c: w for c, w in per.items() if w}
        out[role] = {i: wi / len(per) for w in per.values() for i, wi in w.items()}
    return out


class _Model:
    """One cross-rater regression on the dyads: data as arrays, fit and bootstrap over firms."""

    def __init__(self, dy: _Dyads, cb: Codebook, measures: Sequence[Measure],
                 controls: Sequence[str]) -> None:
        cols = [f"{m.column}_{r.lower()}" for m in measures for r in ROLES]
        complete = dy.frame[cols].notna().all(axis=1).to_numpy()
        frame = dy.frame.loc[complete].reset_index(drop=True)
        items = dy.items.loc[complete].reset_index(drop=True)
        self.measures = list(measures)
        self.kinds = [m.kind for m in measures]
        self.a = frame[[f"{m.column}_cmo" for m in measures]].to_numpy(dtype=float)
        self.b = frame[[f"{m.column}_cio" for m in measures]].to_numpy(dtype=float)
        self.z, self.controls_used = _design(frame, controls)
        self.n = len(frame)
        # the controls are partialled out once (Frisch–Waugh–Lovell): the bootstrap then
        # resamples the residualised measures, as the cluster sandwich of the full model does
        self.ra = _residualise(self.a, self.z) if self.n else self.a
        self.rb = _residualise(self.b, self.z) if self.n else self.b
        firm_codes, firms = pd.factorize(frame["firm_id"])
        self.firms = len(firms)
        self.rows_of_firm = [np.flatnonzero(firm_codes == g) for g in range(self.firms)]
        # per scale (low, high): the item category indicators of every "points" measure and role
        # side by side (rows x items·categories), and per such part its measure, role, weights and
        # first item's position, so that one grouped_normal_kappa call per scale serves a draw
        grouped: dict[tuple[int, int], tuple[list[np.ndarray], list[tuple]]] = {}
        for j, m in enumerate(measures):
            if m.kind != "points":
                continue
            for role in ROLES:
                weights = m.items.get(role, {})
                ids = [i for i in weights if f"{i}_{role.lower()}" in items.columns]
                if not ids:
                    continue
                scale = cb.items[ids[0]].scale
                cats = np.arange(scale.min, scale.max + 1)
                values = items[[f"{i}_{role.lower()}" for i in ids]].to_numpy(dtype=float)
                # one row per dyad: the answers of every item as 0/1 indicators of the categories
                onehot = (values[:, :, None] == cats[None, None, :]).astype(float).reshape(
                    len(values), len(ids) * len(cats))
                w = np.array([weights[i] for i in ids])
                blocks, parts = grouped.setdefault((scale.min, scale.max), ([], []))
                parts.append((j, role, w / w.sum(), sum(len(part[2]) for part in parts)))
                blocks.append(onehot)
        self._kappa_batches = {key: (np.hstack(blocks), parts)
                               for key, (blocks, parts) in grouped.items()}

    def kappas(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = len(self.measures)
        ka, kb = np.ones(p), np.ones(p)
        # a bootstrap draw repeats rows: the category counts are the draw's multiplicities times
        # the indicators (one product, instead of gathering the drawn rows' indicators)
        times = np.bincount(rows, minlength=self.n).astype(float)
        for (low, high), (onehot, parts) in self._kappa_batches.items():
            kappas = grouped_normal_kappa((times @ onehot).reshape(-1, int(high - low) + 1),
                                          low, high)
            for j, role, w, start in parts:
                kappa = kappas[start:start + len(w)]
                value = float(np.nansum(w * kappa) / np.sum(w[np.isfinite(kappa)])) \
                    if np.isfinite(kappa).any() else np.nan
                (ka if role == "CMO" else kb)[j] = value
        return ka, kb

    def estimate(self, rows: np.ndarray | None = None) -> np.ndarray:
        rows = np.arange(self.n) if rows is None else rows
        ka, kb = self.kappas(rows)
        if not (np.all(np.isfinite(ka)) and np.all(np.isfinite(kb))):
            return np.full(len(self.measures) - 1, np.nan)
        return cross_rater_slopes(self.ra[rows], self.rb[rows], self.kinds, None, ka, kb,
                                  loading_from=(self.a[rows], self.b[rows]))

    def bootstrap(self, n_boot: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        draws = np.empty((n_boot, len(self.measures) - 1))
        for r in range(n_boot):
            pick = rng.integers(0, self.firms, self.firms)
            rows = np.concatenate([self.rows_of_firm[g] for g in pick])
            draws[r] = self.estimate(rows)
        return draws

    def cross_correlation(self, j: int) -> float:
        """Correlation of the two executives' measures of column j (a reliability of one)."""
        x, y = self.a[:, j], self.b[:, j]
        if np.std(x) == 0 or np.std(y) == 0:
            return float("nan")
        return float(np.corrcoef(x, y)[0, 1])


@dataclass(frozen=True)
class _Spec:
    key: str
    label: str
    unit: str
    sesoi: float
    higher: str     # the association in words when the estimate is positive (a whole sentence)
    lower: str      # ... and when it is negative
    regressor: str  # what the reliability in a "not detectable" reading is of


def _fit_headlines(model: _Model, specs: Sequence[_Spec], conf: float, n_boot: int, seed: int,
                   note: str, extra: Mapping[str, Any]) -> list[Headline]:
    """Estimate, bootstrap and word one model's slopes (one spec per regressor)."""
    n_unit = _("firms with both executives")
    method = _(METHOD)
    reason = None
    if model.firms < MIN_FIRMS:
        reason = _("Not estimable: fewer than {minimum} firms with both executives answering "
                   "(the cross-rater design and the bootstrap over firms need them).").format(
                       minimum=i18n.integer(MIN_FIRMS))
    elif model.n - model.z.shape[1] - len(model.measures) < MIN_RESIDUAL_DF:
        reason = _("Not estimable: fewer than {minimum} dyads beyond the parameters (controls "
                   "and measures) of the model.").format(minimum=i18n.integer(MIN_RESIDUAL_DF))
    if reason is None:
        flat = [labels.column(m.column) for j, m in enumerate(model.measures)
                if np.ptp(model.a[:, j]) == 0 or np.ptp(model.b[:, j]) == 0]
        if flat:
            reason = ngettext(
                "Not estimable: {measures} takes one value only in one executive's answers (no "
                "variation to relate).",
                "Not estimable: {measures} take one value only in one executive's answers (no "
                "variation to relate).", len(flat)).format(measures="; ".join(flat))
    point = None if reason else model.estimate()
    if point is not None and not np.all(np.isfinite(point)):
        reason = _("Not estimable: the two executives' reports do not agree beyond chance on a "
                   "measure, or their cross-rater covariances are not positive definite.")
    if reason:
        return [hl.not_estimable(s.key, s.label, s.unit, reason, method, n=model.firms,
                                 n_unit=n_unit) for s in specs]
    draws = model.bootstrap(n_boot, seed)
    ok = np.all(np.isfinite(draws), axis=1)
    draws = draws[ok]
    if len(draws) < 0.9 * n_boot:
        why = _("Not estimable: the estimate fails in {failed} of {total} bootstrap resamples "
                "(too little information in the cross-rater moments).").format(
                    failed=i18n.integer(n_boot - len(draws)), total=i18n.integer(n_boot))
        return [hl.not_estimable(s.key, s.label, s.unit, why, method, n=model.firms,
                                 n_unit=n_unit) for s in specs]
    exploratory = model.firms < CONFIRMATORY_FIRMS
    crit = (stats.t.ppf(0.5 + conf / 2, model.firms - 1) if exploratory
            else stats.norm.ppf(0.5 + conf / 2))
    # the pairs bootstrap, like HC0, ignores the degrees of freedom the controls and the
    # regressors use up: its SE is scaled by √(n / (n − k)), the HC1 factor
    k = model.z.shape[1] + len(model.measures) - 1
    dof = math.sqrt(model.n / (model.n - k))
    out = []
    for j, s in enumerate(specs):
        est = float(point[j])
        se = float(np.std(draws[:, j], ddof=1)) * dof
        low, high = est - crit * se, est + crit * se
        tail = (stats.t(model.firms - 1) if exploratory else stats.norm).sf
        p = float(2 * tail(abs(est) / se)) if se > 0 else float("nan")
        power = hl.power(se, s.sesoi, conf)
        verdict = hl.verdict(low, high, power, exploratory=exploratory)
        reliability = model.cross_correlation(j)
        pct = np.quantile(draws[:, j], [0.5 - conf / 2, 0.5 + conf / 2])
        reading = _reading(s, est, low, high, p, power, verdict, conf, reliability, model)
        out.append(Headline(
            key=s.key, label=s.label, unit=s.unit, estimate=est, ci_low=low, ci_high=high,
            p_value=p, n=model.firms, n_unit=n_unit, verdict=verdict, reading=reading,
            method=method, power=power, sesoi=s.sesoi, std_error=se, note=note,
            extra={**extra, "dyads": model.n, "bootstrap": int(len(draws)),
                   "percentile_ci": (float(pct[0]), float(pct[1])),
                   "cross_rater_correlation": reliability,
                   "controls": list(model.controls_used), "exploratory": exploratory}))
    return out


def _num(x: float) -> str:
    return i18n.number(x, 2)


def _reading(s: _Spec, est: float, low: float, high: float, p: float, power: float | None,
             verdict: str, conf: float, reliability: float, model: _Model) -> str:
    """The reading in words: estimate and interval first, then what they support (whole
    sentences per case; the "exploratory" banner of the report says what that means)."""
    head = _("{label}: {estimate} {unit} ({level} CI {low} to {high}, {p}; {firms} firms with "
             "both executives).").format(
                 label=s.label, estimate=_num(est), unit=s.unit,
                 level=i18n.percent(100 * conf, 0), low=_num(low), high=_num(high),
                 p=hl.p_phrase(p), firms=i18n.integer(model.firms))
    if verdict == "exploratory":
        return head
    pw = "–" if power is None else i18n.percent(100 * power, 0)
    if verdict in hl.SIGNED:
        return head + " " + _("{association}; the interval excludes zero. An association in "
                              "cross-sectional survey data, not a demonstrated effect.").format(
                                  association=s.higher if est > 0 else s.lower)
    if verdict == "no evidence":
        return head + " " + _("No evidence of an association: the interval includes zero, and "
                              "the design had {power} power to detect {sesoi} {unit}.").format(
                                  power=pw, sesoi=_num(s.sesoi), unit=s.unit)
    if not math.isfinite(reliability):
        return head + " " + _("Not detectable with this measurement: the interval includes zero "
                              "and the power to detect {sesoi} {unit} is {power}.").format(
                                  sesoi=_num(s.sesoi), unit=s.unit, power=pw)
    return head + " " + _("Not detectable with this measurement: the interval includes zero and "
                          "the power to detect {sesoi} {unit} is {power}; the two executives' "
                          "measures of {measure} correlate {correlation}.").format(
                              sesoi=_num(s.sesoi), unit=s.unit, power=pw, measure=s.regressor,
                              correlation=_num(reliability))


# --------------------------------------------------------------------------- headlines
def _both_roles(survey: pd.DataFrame, cb: Codebook, construct: str) -> bool:
    role = survey["role"].astype(str) if "role" in survey.columns else pd.Series(dtype=str)
    items = cb.items_present(survey, construct)
    return bool(items) and all(bool(survey.loc[role == r, items].notna().any().any())
                               for r in ROLES)


def headlines(survey: pd.DataFrame, codebook: Codebook | None = None, *, conf: float = 0.95,
              controls: Sequence[str] = CONTROLS, drivers: Sequence[str] | None = None,
              n_boot: int = N_BOOT, seed: int = 20261202, min_cell: int = privacy.DEFAULT_MIN_CELL,
              language: str | None = None) -> list[Headline]:
    """Per driver, its association with the firm's disconnect (key ``drivers.<driver_id>``).

    One cross-rater errors-in-variables regression (module docstring) of the disconnect index
    on every driver asked of both executives, with ``controls``: yes/no drivers per true yes vs
    no (corrected for misreporting with the accuracy implied by the executives' agreement),
    rating-scale drivers per SD of the firm-level true score; the disconnect in Likert points of
    the index (corrected for rounding and floor/ceiling). Slopes are partial: each holds the
    other drivers constant. Drivers the survey did not ask of both executives get a "not
    estimable" row with the reason and are left out of the model. Intervals and SEs from
    ``n_boot`` bootstrap resamples of firms (seeded by ``seed``); power against
    :data:`SESOI_BINARY` / :data:`SESOI_PER_SD`. Labels, units and readings are in
    ``language`` (default: the current one, :func:`helpers.i18n.current`).
    """
    with _language(language):
        return _headlines(survey, codebook, conf=conf, controls=controls, drivers=drivers,
                          n_boot=n_boot, seed=seed, min_cell=min_cell)


def _headlines(survey: pd.DataFrame, codebook: Codebook | None, *, conf: float,
               controls: Sequence[str], drivers: Sequence[str] | None, n_boot: int, seed: int,
               min_cell: int) -> list[Headline]:
    language = i18n.current()
    cb = codebook or load_codebook()
    wanted = cb.constructs_present(survey, kind="driver", among=drivers)
    asked = [d for d in wanted if _both_roles(survey, cb, d)]
    out_missing = [hl.not_estimable(
        f"drivers.{d}", cb.label(d, language), _driver_unit(cb, d),
        _("Not estimable: asked of one executive only, so the cross-rater design has no second "
          "report."), _(METHOD)) for d in wanted if d not in asked]
    indicator_ids = [c for c in cb.constructs_of_kind("indicator") if cb.items_present(survey, c)]
    if not asked or not indicator_ids:
        reason = (_("Not estimable: the survey asked no disconnect indicator.") if asked else
                  _("Not estimable: no driver was asked of both executives."))
        return out_missing + [hl.not_estimable(f"drivers.{d}", cb.label(d, language),
                                               _driver_unit(cb, d), reason, _(METHOD))
                              for d in asked]
    items = [i for i in cb.items if i in survey.columns]
    measures = [Measure(d, "binary" if cb.is_binary(d) else "per_sd") for d in asked]
    measures.append(Measure(INDEX, "points", _index_items(cb, indicator_ids, items)))
    dy = _dyads(survey, cb, [m.column for m in measures], controls, min_cell)
    model = _Model(dy, cb, measures, controls)
    specs = [_driver_spec(cb, d) for d in asked]
    note = _("All drivers in one model (partial associations); the drivers come from both "
             "executives and the disconnect from both, always paired across executives.")
    extra = {"single_executive_firm_waves": dy.single, "drivers_in_model": list(asked)}
    return out_missing + _fit_headlines(model, specs, conf, n_boot, seed, note, extra)


def _driver_spec(cb: Codebook, d: str) -> _Spec:
    """What a driver's headline says, in the current language (whole sentences per sign)."""
    label = cb.label(d, i18n.current())
    if cb.is_binary(d):
        higher = _("Firms with “{driver}” (from both executives' reports, corrected for "
                   "misreporting) have a larger disconnect").format(driver=label)
        lower = _("Firms with “{driver}” (from both executives' reports, corrected for "
                  "misreporting) have a smaller disconnect").format(driver=label)
    else:
        higher = _("A higher “{driver}” (as both executives rate it) goes with a larger "
                   "disconnect of the firm").format(driver=label)
        lower = _("A higher “{driver}” (as both executives rate it) goes with a smaller "
                  "disconnect of the firm").format(driver=label)
    return _Spec(f"drivers.{d}", label, _driver_unit(cb, d),
                 SESOI_BINARY if cb.is_binary(d) else SESOI_PER_SD, higher, lower, label)


def _driver_unit(cb: Codebook, driver: str) -> str:
    return (_("points of the disconnect index, yes vs no") if cb.is_binary(driver)
            else _("points of the disconnect index per SD"))


def consequences(survey: pd.DataFrame, codebook: Codebook | None = None, *,
                 conf: float = 0.95, controls: Sequence[str] = CONTROLS, n_boot: int = N_BOOT,
                 seed: int = 20261203, min_cell: int = privacy.DEFAULT_MIN_CELL,
                 language: str | None = None) -> list[Headline]:
    """The disconnect's association with three outcomes (keys ``consequences.<outcome>``).

    Same cross-rater estimator as :func:`headlines` (module docstring), the disconnect index as
    the regressor, in Likert points of the index:

    * ``project_failure`` — the difference in the probability that a joint project failed or
      was late, per point of the disconnect: the least-squares (linear-probability) slope of the
      true failure indicator on the disconnect, holding the controls constant; the yes/no
      reports are corrected for misreporting with the accuracy implied by the executives'
      agreement. A population-averaged slope, not a logit coefficient.
    * ``customer_insight`` — insight-scale points per point of the disconnect, holding data
      readiness (per SD) constant.
    * ``relationship_improved`` — answer points of "relationship improved" per point of the
      disconnect. Each executive's answer reflects his own perceived disconnect; measured by
      the *other* executive, the slope is the one on the firm's disconnect, which equals the
      slope on the perceived disconnect when perception errors are unbiased.

    An outcome the survey did not ask of both executives gets a "not estimable" row. Labels,
    units and readings are in ``language`` (default: the current one).
    """
    with _language(language):
        return _consequences(survey, codebook, conf=conf, controls=controls, n_boot=n_boot,
                             seed=seed, min_cell=min_cell)


def _consequences(survey: pd.DataFrame, codebook: Codebook | None, *, conf: float,
                  controls: Sequence[str], n_boot: int, seed: int,
                  min_cell: int) -> list[Headline]:
    language = i18n.current()
    cb = codebook or load_codebook()
    items = [i for i in cb.items if i in survey.columns]
    indicator_ids = [c for c in cb.constructs_of_kind("indicator") if cb.items_present(survey, c)]
    index = Measure(INDEX, "points", _index_items(cb, indicator_ids, items))
    plan = [
        (FAILURE, [index], Measure(FAILURE, "binary"), SESOI_FAILURE,
         _("probability of a failed or late joint project per point of the disconnect index"),
         _("A larger disconnect goes with a higher probability of a failed or late joint "
           "project"),
         _("A larger disconnect goes with a lower probability of a failed or late joint "
           "project")),
        (INSIGHT, [index, Measure(READINESS, "per_sd")],
         Measure(INSIGHT, "points", _score_items(cb, INSIGHT, items)), SESOI_POINTS,
         _("points of customer-insight capability per point of the disconnect index"),
         _("A larger disconnect goes with a higher customer-insight capability at the same "
           "data readiness"),
         _("A larger disconnect goes with a lower customer-insight capability at the same "
           "data readiness")),
        (IMPROVED, [index], Measure(IMPROVED, "points", _score_items(cb, IMPROVED, items)),
         SESOI_POINTS,
         _("answer points of “relationship improved” per point of the disconnect index"),
         _("A larger disconnect goes with a higher rating of how much the relationship "
           "improved"),
         _("A larger disconnect goes with a lower rating of how much the relationship "
           "improved")),
    ]
    out: list[Headline] = []
    dy = None
    for outcome, regressors, target, sesoi, unit, higher, lower in plan:
        key, label = f"consequences.{outcome}", cb.label(outcome, language)
        needed = [m.column for m in (*regressors, target) if m.column != INDEX]
        absent = [c for c in needed if not _both_roles(survey, cb, c)]
        if absent or not indicator_ids:
            why = (_("Not estimable: needs {what} asked of both executives.").format(
                       what="; ".join(cb.label(c, language) for c in absent)) if absent else
                   _("Not estimable: needs the disconnect indicators asked of both "
                     "executives."))
            out.append(hl.not_estimable(key, label, unit, why, _(METHOD)))
            continue
        if dy is None:
            cols = [INDEX, FAILURE, INSIGHT, IMPROVED, READINESS]
            dy = _dyads(survey, cb, cols, controls, min_cell)
        model = _Model(dy, cb, [*regressors, target], controls)
        spec = _Spec(key, label, unit, sesoi, higher, lower, _("the disconnect"))
        note = (_("The disconnect of one executive meets the outcome reported by the other, "
                  "both ways. Data readiness (per SD) is held constant.") if outcome == INSIGHT
                else _("The disconnect of one executive meets the outcome reported by the "
                       "other, both ways."))
        out += _fit_headlines(model, [spec], conf, n_boot, seed,
                              note, {"single_executive_firm_waves": dy.single})[:1]
    return out
