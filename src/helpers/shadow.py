"""Shadow IT: the spend-weighted shadow-IT share of technology spend and its association with
the CMO–CIO disconnect — the two headline estimates of the spend report (``05``).

What is estimated
-----------------
``shadow.share`` — the *spend-weighted* shadow-IT share, in percent: the ratio of sums
``Σ shadow_it_spend / Σ tech_spend_total`` over the firm-years of the segment (each with at
least ``min_lines`` ledger lines). It answers "what share of the technology euros in these
ledgers is shadow IT". The unweighted mean of firm-year ratios is *not* used: a firm-year with a
thin ledger (few lines) has a ratio of two small random sums, which is biased upwards here
(cheap shadow-IT card purchases are frequent, large sanctioned purchases rare: a thin ledger often
lacks the large ones; firm-years with <= 48 lines measure about 15 % against a true 8 %). The
ratio of sums is consistent whatever the thinness, because ``E[S − R·T] = 0`` holds line by
line (Cochran 1977, ch. 6). Interval: the linearised (delta-method) variance of a ratio,
clustered by firm, with the CR2 leverage correction of Bell & McCaffrey (2002) — the ratio is
the weighted least-squares intercept of ``S/T`` on 1 with weights ``T``, whose cluster leverage
is ``h_g = T_g / ΣT`` — and a t reference with G − 1 degrees of freedom (G firms). The
shadow-IT cost is given beside it (``extra``): the total in EUR of the firm-years used and the
mean per firm-year with the same clustered CR2 interval.

``shadow.slope`` — the association of the share with the firm's disconnect: the average
marginal effect (AME), in *percentage points per point of the disconnect* (1–5 index scale), of a
fractional logit (Papke & Wooldridge 1996: Bernoulli quasi-likelihood for a share, consistent
for the conditional mean whatever the distribution of the share) of each firm-wave's shadow-IT
share of its fiscal year on the firm's disconnect, with the controls and the wave:

* **Weighted by technology spend.** The score of the T-weighted quasi-likelihood is
  ``Σ_i (S_i − T_i·μ(x_i))·x_i``, whose expectation is zero when ``E[S | x] = μ(x)·E[T | x]``:
  the model recovers the share *of euros* without the small-sum bias of thin firm-years (the
  unweighted fit of ``S/T`` inherits that bias and overstated the slope). The AME is averaged
  with the same weights, so both headlines are "per euro of technology spend".
* **The disconnect is a latent firm quantity measured with error** by each executive's
  disconnect index (perception, construct and item noise; a single respondent in many
  firm-waves). A regression on the observed mean index is attenuated by its reliability. The
  two executives of one firm measure the same disconnect with independent errors, so the
  variance of the firm's true score is the covariance of the CMO's and the CIO's index across
  firm-waves with both (after the role means, the controls and the wave are partialled out),
  and each role's error variance is its residual variance minus that covariance. The firm-wave's
  disconnect enters the model as its best linear predictor given the executives who answered and
  the controls (*regression calibration*, Carroll et al. 2006, ch. 4): both indices weighted by
  their precisions, or the one index shrunk by its reliability. That best prediction is on
  the scale of the index's *true score*, which is flatter than the latent disconnect: answers
  are rounded to whole scale points and stop at 1 and 5 (floor and ceiling), and straight-
  lining respondents' answers do not move at all. The slope is therefore multiplied by the
  index's floor/ceiling factor κ — for each item, the slope of its expected rounded answer in
  a shift of its (normal) latent answer, from the item's category shares
  (:func:`helpers.drivers.grouped_normal_kappa`, the same correction as the drivers report),
  averaged with the item's weight in the index, times the share of the role's respondents not
  flagged as straight-lining; the geometric mean of the CMO's and the CIO's. The slope is then
  *per point of the latent disconnect* on the index's 1–5 scale (what an error-free,
  unrounded index would measure), not per point of one noisy answer. Calibration, κ and model
  are re-estimated in every bootstrap sample.
* **Inference**: a pairs bootstrap over firms (``bootstrap`` resamples; Cameron, Gelbach &
  Miller 2008), which carries the uncertainty of the estimated reliability into the interval;
  the estimate is bias-corrected with the same resamples, ``2·AME − mean(AME*)`` (Efron &
  Tibshirani 1993, §10.6: the correction for measurement error and the spend weights leave an
  O(1/n) upward bias — about +7 % at 150 firms, +2 % at 300 — that the resamples measure; the
  plug-in value is kept in ``extra["plug_in_estimate"]``); the interval is
  ``estimate ± t_{G−1} · SE_boot`` and the p-value uses the same t reference.
  The firm-clustered sandwich of the fractional logit (statsmodels' CR1: G/(G−1)·(N−1)/(N−K))
  is reported beside it (``extra["se_cluster_naive"]``) — it treats the calibrated disconnect
  as known and is too narrow.

Minimums and small samples
--------------------------
Firm-years with fewer than ``min_lines`` ledger lines (:data:`MIN_LINES`) are left out of both
headlines and counted (``extra["excluded_firm_years"]``): below that, a firm-year's technology
total rests on a handful of purchases. The share needs :data:`MIN_FIRMS_SHARE` firms (and
``min_cell``); the slope :data:`MIN_FIRMS_SLOPE` firms with linked spend and
:data:`MIN_DYADS` firm-waves with both executives (to estimate the reliability). Between these
and :data:`CONFIRMATORY_FIRMS` firms the headline is *exploratory*: numbers with the small-
cluster corrections above (CR2 and t(G−1) for the share; t(G−1) with the cluster bootstrap for
the slope), no verdict in words.

Readings are associations in cross-sectional survey-and-ledger data, never causal claims.
Power is against :data:`SESOI_SLOPE_PP` percentage points per point of the index for the slope,
:data:`SESOI_SHARE_PP` for the share (:func:`helpers.headlines.power`).

Conventions that differ from defaults elsewhere: the fractional logit's clustered covariance uses
statsmodels' small-sample factor (Stata's ``vce(cluster)``); the ratio's uses CR2, not CR1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import headlines as hl
from helpers import i18n, indicators, privacy
from helpers.codebook import Codebook
from helpers.headlines import Headline
from helpers.i18n import N_, _, ngettext
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import special, stats
else:
    special = LazyModule("scipy.special")
    stats = LazyModule("scipy.stats")

MIN_LINES = 20
"""Ledger lines a firm-year needs to count (fewer: its technology total rests on a handful of
purchases). Firm-years left out are counted in the headline's note."""
MIN_FIRMS_SHARE = 10
MIN_FIRMS_SLOPE = 20
MIN_DYADS = 10
CONFIRMATORY_FIRMS = 60
BOOTSTRAP_REPS = 199
SESOI_SHARE_PP = 1.0
SESOI_SLOPE_PP = 2.0
ROLES = ("CMO", "CIO")
EXCLUDE_TECH_BELOW = 0.005  # a technology total below half a cent has no share

FLAT_FLAG = "flag_straight_lining"
SHARE_KEY, SLOPE_KEY = "shadow.share", "shadow.slope"
# Message ids: a headline carries them translated into the report's language.
SHARE_LABEL = N_("Shadow-IT share of technology spend (spend-weighted)")
SLOPE_LABEL = N_("Shadow-IT share per point of the disconnect (corrected for measurement error)")
SLOPE_UNIT = N_("pp per point of the disconnect")
FIRM_YEARS = N_("firm-years")
FIRM_WAVES = N_("firm-waves")
SHARE_METHOD = ("ratio of sums over firm-years (spend-weighted), delta-method SE clustered by "
                "firm with CR2 correction, t(G-1)")
SLOPE_METHOD = ("fractional logit weighted by technology spend on the regression-calibrated "
                "disconnect (reliability from the CMO-CIO covariance), average marginal effect; "
                "pairs bootstrap over firms, t(G-1)")


# --------------------------------------------------------------------------- estimators
def _least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS coefficients by the normal equations (fast for the bootstrap); columns that are all
    zero (a category absent from a bootstrap sample) get 0, a singular system falls back to
    the minimum-norm least-squares solution."""
    keep = np.any(x != 0, axis=0)
    xk = x[:, keep]
    try:
        b = np.linalg.solve(xk.T @ xk, xk.T @ y)
    except np.linalg.LinAlgError:
        b = np.linalg.lstsq(xk, y, rcond=None)[0]
    out = np.zeros(x.shape[1])
    out[keep] = b
    return out


@dataclass(frozen=True)
class RatioEstimate:
    """A ratio of sums with its firm-clustered (CR2) standard error and t interval."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    df: float
    n_clusters: int


def ratio_of_sums(num: np.ndarray, den: np.ndarray, groups: np.ndarray,
                  conf: float = 0.95) -> RatioEstimate:
    """``R = Σ num / Σ den`` with the delta-method variance clustered by ``groups`` (CR2).

    The residuals ``u_i = num_i − R·den_i`` are summed per cluster (``U_g``); with cluster
    leverage ``h_g = Σ_{i∈g} den_i / Σ den`` (the ratio is the WLS intercept of num/den on 1 with
    weights den), ``Var(R) = Σ_g U_g² / (1 − h_g) / (Σ den)²`` (CR2, Bell & McCaffrey 2002: for
    this one-parameter model the exact CR2 adjustment ``(I − H_gg)^{-1/2}`` reduces to
    ``1/sqrt(1 − h_g)``) and the interval uses t with the Bell–McCaffrey degrees of freedom
    (Imbens & Kolesár 2016): with ``a_g = 1 / sqrt(1 − h_g)``, ``p_g = a_g² h_g`` and
    ``q_g = a_g² h_g²``, ``df = (Σp − Σq)² / (Σp² − 2 Σ p q + (Σq)²)`` — G − 1 when every firm
    carries the same share of spend, fewer when a few large firms dominate the total (skewed
    spend: the t(G − 1) interval under-covered at 150 firms, 0.90 over 160 samples).
    """
    num = np.asarray(num, float)
    den = np.asarray(den, float)
    codes = pd.factorize(pd.Series(groups))[0]
    total = den.sum()
    r = num.sum() / total
    u = np.bincount(codes, weights=num - r * den)
    h = np.bincount(codes, weights=den) / total
    g = len(u)
    keep = np.clip(1 - h, 1e-12, None)
    var = float(np.sum(u**2 / keep)) / total**2
    se = math.sqrt(var)
    df = bell_mccaffrey_df(h)
    t = stats.t.ppf(0.5 + conf / 2, df)
    return RatioEstimate(float(r), se, float(r - t * se), float(r + t * se), df, g)


def bell_mccaffrey_df(h: np.ndarray) -> float:
    """Bell–McCaffrey degrees of freedom of the CR2 variance of a weighted mean (intercept-only
    WLS) from the clusters' leverages ``h`` (shares of the total weight); at least 1."""
    h = np.asarray(h, float)
    a2 = 1.0 / np.clip(1 - h, 1e-12, None)
    p, q = a2 * h, a2 * h**2
    num = (p.sum() - q.sum()) ** 2
    den = float(np.sum(p**2) - 2 * np.sum(p * q) + q.sum() ** 2)
    return max(float(num / den), 1.0) if den > 0 else 1.0


def mean_of_totals(values: np.ndarray, groups: np.ndarray, conf: float = 0.95) -> RatioEstimate:
    """Mean of ``values`` per row with the CR2-clustered interval (a ratio with unit weights)."""
    return ratio_of_sums(values, np.ones(len(values)), groups, conf)


def fractional_logit(y: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None,
                     groups: np.ndarray | None = None, *, tol: float = 1e-10,
                     max_iter: int = 100) -> tuple[np.ndarray, np.ndarray | None]:
    """Bernoulli quasi-likelihood (fractional logit) by IRLS; ``(params, cluster covariance)``.

    ``y`` in [0, 1], ``x`` the design with intercept, ``weights`` variance weights (as
    statsmodels' ``GLM(..., family=Binomial(), var_weights=w)``). The covariance (None without
    ``groups``) is the cluster sandwich with statsmodels' correction G/(G−1)·(N−1)/(N−K).
    Aliased columns (a category absent from a bootstrap sample) get coefficient 0 through the
    least-squares step; the covariance is then not meaningful (it is not used there).
    """
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    mean_y = np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6)
    beta = np.zeros(x.shape[1])
    beta[0] = special.logit(mean_y)
    for _iteration in range(max_iter):
        eta = x @ beta
        mu = special.expit(eta)
        v = np.clip(mu * (1 - mu), 1e-12, None)
        z = eta + (y - mu) / v
        sw = np.sqrt(w * v)
        new = _least_squares(x * sw[:, None], z * sw)
        if np.max(np.abs(new - beta)) < tol * (1 + np.max(np.abs(beta))):
            beta = new
            break
        beta = new
    else:
        raise RuntimeError("the fractional logit did not converge")
    if groups is None:
        return beta, None
    mu = special.expit(x @ beta)
    bread = np.linalg.inv((x * (w * mu * (1 - mu))[:, None]).T @ x)
    scores = x * (w * (y - mu))[:, None]
    codes = pd.factorize(pd.Series(groups))[0]
    g = codes.max() + 1
    s = np.zeros((g, x.shape[1]))
    np.add.at(s, codes, scores)
    n, k = x.shape
    factor = g / (g - 1) * (n - 1) / (n - k)
    return beta, factor * bread @ (s.T @ s) @ bread


def average_marginal_effect(beta: np.ndarray, x: np.ndarray, column: int,
                            weights: np.ndarray | None = None) -> float:
    """Weighted mean over rows of dμ/dx_column = β_column · μ(1 − μ) (in proportions)."""
    mu = special.expit(x @ beta)
    return float(np.average(beta[column] * mu * (1 - mu), weights=weights))


# --------------------------------------------------------------------------- data
def _firm_waves(survey: pd.DataFrame, codebook: Codebook,
                controls: Sequence[str], min_cell: int) -> pd.DataFrame:
    """One row per firm-wave with an index: CMO and CIO index, fiscal year, controls."""
    from helpers.spend_report import firm_wave_years

    frame = indicators.respondent_frame(survey, codebook)
    frame = frame[frame["disconnect_index"].notna() & frame["role"].astype(str).isin(ROLES)]
    keys = ["firm_id", "wave"]
    wide = (frame.assign(role=frame["role"].astype(str))
            .pivot_table(index=keys, columns="role", values="disconnect_index",
                         aggfunc="mean", observed=True))
    wide = wide.reindex(columns=list(ROLES)).reset_index()
    fields = [c for c in controls if c in frame.columns]
    if fields:
        first = frame.groupby(keys, observed=True)[fields].first().reset_index()
        wide = wide.merge(first, on=keys, how="left")
    years = firm_wave_years(survey)
    out = wide.merge(years, on=keys, how="left")
    out["firm_id"] = out["firm_id"].astype(str)
    out = privacy.pool_rare(out, [c for c in fields], min_cell) if fields else out
    out = out.reset_index(drop=True)
    out.attrs["indicators"] = list(frame.attrs.get("indicators", []))
    return out


@dataclass
class _ItemCodes:
    """One index item of one role: its weight in the index and each firm-wave's answer as a
    category code (−1 where missing), for the floor/ceiling factor κ."""

    role: str
    weight: float
    codes: np.ndarray
    low: int
    high: int
    flat: bool = False          # the role's straight-lining flag (1) per firm-wave, not an item


def _index_item_codes(survey: pd.DataFrame, codebook: Codebook, fw: pd.DataFrame
                      ) -> list[_ItemCodes]:
    """The answers behind each role's disconnect index, aligned with the rows of ``fw``."""
    keys = ["firm_id", "wave"]
    rows = survey.assign(firm_id=survey["firm_id"].astype(str), role=survey["role"].astype(str))
    pos = fw[keys].astype({"firm_id": str}).reset_index().rename(columns={"index": "_row"})
    out = []
    for role in ROLES:
        answers = rows[rows["role"] == role].drop_duplicates(keys)
        answers = pos.merge(answers, on=keys, how="left").sort_values("_row")
        flat = pd.Series(False, index=answers.index)
        if FLAT_FLAG in answers.columns:
            flat = answers[FLAT_FLAG].astype("boolean").fillna(False).astype(bool)
        present = answers["respondent_id"].notna().to_numpy() if "respondent_id" in \
            answers.columns else np.ones(len(answers), bool)
        out.append(_ItemCodes(role, 0.0, np.where(present, flat.to_numpy().astype(int), -1),
                              0, 1, flat=True))
        constructs = []
        for cid in fw.attrs.get("indicators", []):
            ids = [i for i in codebook.constructs[cid].items if i in answers.columns
                   and role in codebook.items[i].roles and answers[i].notna().any()]
            if ids:
                constructs.append(ids)
        for ids in constructs:
            for item in ids:
                scale = codebook.items[item].scale
                x = pd.to_numeric(answers[item], errors="coerce").to_numpy(dtype=float)
                ok = np.isfinite(x) & (x >= scale.min) & (x <= scale.max) & (x == np.round(x))
                ok &= ~flat.to_numpy()  # κ from the answers that vary with the disconnect
                codes = np.where(ok, np.nan_to_num(x) - scale.min, -1).astype(int)
                out.append(_ItemCodes(role, 1.0 / (len(constructs) * len(ids)), codes,
                                      int(scale.min), int(scale.max)))
    return out


def index_loading(items: list[_ItemCodes], rows: np.ndarray | None = None) -> dict[str, float]:
    """Each role's floor/ceiling factor of the disconnect index: the index-weighted mean of its
    items' κ (:func:`helpers.drivers.grouped_normal_kappa` — the slope of an item's expected
    rounded, clipped answer in a shift of its normal latent answer, from the category shares).
    It converts the index's true-score scale to the latent disconnect's. Respondents flagged
    as straight-lining (``flag_straight_lining`` from validation) are left out of κ and scale
    it by the share of the role's respondents who are not flagged: their flat answers do not
    move with the disconnect."""
    from helpers.drivers import grouped_normal_kappa

    codes = [it.codes if rows is None else it.codes[rows] for it in items]
    # κ of every item, one call per scale (a bootstrap runs this for each draw)
    kappas: dict[int, float] = {}
    scales: dict[tuple[int, int], list[int]] = {}
    for k, it in enumerate(items):
        if not it.flat:
            scales.setdefault((it.low, it.high), []).append(k)
    for (low, high), ks in scales.items():
        counts = np.vstack([np.bincount(codes[k][codes[k] >= 0], minlength=high - low + 1)
                            for k in ks])
        kappas.update(zip(ks, grouped_normal_kappa(counts, low, high).tolist()))
    out = {}
    for role in ROLES:
        num = den = 0.0
        answering = 1.0
        for k, it in enumerate(items):
            if it.role != role:
                continue
            c = codes[k]
            if it.flat:
                answering = 1.0 - float(np.mean(c[c >= 0])) if np.any(c >= 0) else 1.0
                continue
            kappa = kappas[k]
            if math.isfinite(kappa):
                num += it.weight * kappa
                den += it.weight
        out[role] = answering * num / den if den > 0 else math.nan
    return out


def _design(frame: pd.DataFrame, controls: Sequence[str]) -> pd.DataFrame:
    """Intercept, dummies of the controls that vary and of the wave (first level dropped)."""
    parts = [pd.Series(1.0, index=frame.index, name="const")]
    for c in [*controls, "wave"]:
        if c not in frame.columns:
            continue
        values = frame[c].astype(str).where(frame[c].notna(), "(missing)")
        if values.nunique() < 2:
            continue
        dummies = pd.get_dummies(values, prefix=c, drop_first=True, dtype=float)
        parts.append(dummies)
    return pd.concat(parts, axis=1)


@dataclass
class _Calibration:
    true_score: np.ndarray      # E[τ | indices, controls] per firm-wave
    var_true: float             # variance of the true score given the controls
    var_error: dict[str, float]  # error variance of each role's index
    reliability: float          # mean reliability of the firm-waves' calibrated index
    n_dyads: int
    kappa: float = math.nan     # floor/ceiling factor: index true score per point of latent D


def _calibrate(idx: np.ndarray, z: np.ndarray) -> _Calibration | str:
    """Regression calibration of the latent disconnect from the role indices (see module doc).

    ``idx``: (n, 2) CMO and CIO index (NaN where the role did not answer); ``z``: controls with
    intercept. Returns the calibration or the reason it is impossible.
    """
    has = ~np.isnan(idx)
    rows, roles = np.nonzero(has)
    y = idx[rows, roles]
    xr = np.column_stack([z[rows], (roles == 1).astype(float)])
    coef = _least_squares(xr, y)
    resid = np.full(idx.shape, np.nan)
    resid[rows, roles] = y - xr @ coef
    both = has.all(axis=1)
    n_dyads = int(both.sum())
    if n_dyads < 2:
        return _("a firm-wave with both executives' disconnect index")
    var_true = float(np.sum(resid[both, 0] * resid[both, 1]) / (n_dyads - 1))
    k = xr.shape[1]
    var_error = {}
    for j, role in enumerate(ROLES):
        r = resid[has[:, j], j]
        dof = max(len(r) - k / 2, 1)  # the residual df the role's rows lose to the fit
        var_error[role] = float(np.sum(r**2) / dof) - var_true
    if var_true <= 0 or min(var_error.values()) <= 0:
        return _("the CMO's and the CIO's disconnect index to covary as two measures of one "
                 "disconnect (they do not: its measurement error cannot be separated)")
    prec = np.array([1 / var_error[r] for r in ROLES])
    r0 = np.where(has, resid, 0.0)
    info = has @ prec                                  # Σ precisions of the answers present
    u_hat = var_true * (r0 @ prec) / (1 + var_true * info)
    rel = var_true * info / (1 + var_true * info)
    true_score = z @ coef[:-1] + u_hat
    return _Calibration(true_score, var_true, var_error, float(np.mean(rel)), n_dyads)


@dataclass
class _SlopeData:
    fw: pd.DataFrame             # firm-waves with an index (the calibration sample)
    z: np.ndarray                # controls design of fw (with intercept)
    idx: np.ndarray              # (n, 2) role indices
    linked: np.ndarray           # positions in fw of the firm-waves with usable spend
    s: np.ndarray                # shadow-IT spend of the linked firm-waves' fiscal years
    t: np.ndarray                # technology spend
    firm_codes: np.ndarray       # firm code of every fw row
    items: list[_ItemCodes]      # the index's item answers, for the latent scale


def _slope_once(data: _SlopeData, rows_fw: np.ndarray, rows_link: np.ndarray
                ) -> tuple[float, np.ndarray, np.ndarray, _Calibration] | str:
    """Calibration on ``rows_fw`` of fw, model on ``rows_link`` of the linked rows: AME (pp)."""
    cal = _calibrate(data.idx[rows_fw], data.z[rows_fw])
    if isinstance(cal, str):
        return cal
    score = np.full(len(data.fw), np.nan)
    # a firm-wave drawn twice has one calibrated value (same inputs, same coefficients)
    score[rows_fw] = cal.true_score
    pos = data.linked[rows_link]
    x = np.column_stack([np.ones(len(pos)), score[pos], data.z[pos][:, 1:]])
    t = data.t[rows_link]
    w = t / t.mean()
    y = np.clip(data.s[rows_link] / t, 0.0, 1.0)
    beta, _cov = fractional_logit(y, x, w)
    kappa = index_loading(data.items, rows_fw)
    scale = math.sqrt(kappa["CMO"] * kappa["CIO"])
    if not math.isfinite(scale) or scale <= 0:
        return _("the answers' category shares, which give the index's floor/ceiling factor")
    cal.kappa = scale
    return 100 * scale * average_marginal_effect(beta, x, 1, w), beta, x, cal


# --------------------------------------------------------------------------- headlines
def headlines(survey: pd.DataFrame, spend: pd.DataFrame | None, codebook: Codebook, *,
              conf: float = 0.95, controls: Sequence[str] = ("size_band", "industry", "country"),
              min_lines: int = MIN_LINES, min_cell: int = privacy.DEFAULT_MIN_CELL,
              bootstrap: int = BOOTSTRAP_REPS, seed: int = 12,
              share_years: set[int] | None = None) -> list[Headline]:
    """The spend-weighted shadow-IT share and its association with the disconnect.

    ``survey``: the respondents of the segment (processed survey); ``spend``: the firm-year
    spend features of the segment (:func:`helpers.spend.firm_year_features`); firm-years of
    firms not in ``survey`` are left out. See the module docstring for the methods. Returns
    ``[share, slope]`` (:class:`helpers.headlines.Headline`, estimates in percent and
    percentage points per point of the disconnect index). ``share_years`` (a segment report's
    :func:`helpers.spend_report.shown_years`) limits the share to the years that may be shown;
    None uses every year. ``bootstrap`` resamples of firms with ``seed`` give the slope's
    interval.
    """
    if spend is None or spend.empty:
        reason = _("needs a transaction ledger ({how})").format(how="make data LEDGER=… FX=…")
        return [hl.not_estimable(SHARE_KEY, _(SHARE_LABEL), "%",
                                 _why(SHARE_LABEL, reason), SHARE_METHOD),
                hl.not_estimable(SLOPE_KEY, _(SLOPE_LABEL), _(SLOPE_UNIT),
                                 _why(SLOPE_LABEL, reason), SLOPE_METHOD)]
    firms = set(survey["firm_id"].astype(str))
    fy = spend[spend["firm_id"].astype(str).isin(firms)].copy()
    fy["firm_id"] = fy["firm_id"].astype(str)
    tech = pd.to_numeric(fy["tech_spend_total"], errors="coerce")
    lines = pd.to_numeric(fy["n_lines"], errors="coerce").fillna(0)
    thin = lines < min_lines
    no_tech = ~thin & ~(tech >= EXCLUDE_TECH_BELOW)
    usable = fy[~thin & ~no_tech].reset_index(drop=True)
    counts = {"firm_years": int(len(fy)), "excluded_firm_years": int(thin.sum()),
              "no_technology_spend": int(no_tech.sum()), "min_lines": int(min_lines)}
    in_years = usable if share_years is None else \
        usable[pd.to_numeric(usable["year"], errors="coerce").isin(share_years).to_numpy()]
    counts["years_withheld"] = int(len(usable) - len(in_years))
    share = _share(in_years.reset_index(drop=True), counts, conf, min_cell)
    slope = _slope(survey, usable, codebook, counts, conf=conf, controls=controls,
                   min_cell=min_cell, bootstrap=bootstrap, seed=seed)
    return [share, slope]


def _excluded_text(counts: dict[str, Any]) -> str:
    """What was left out, in the report's language ("" when nothing was)."""
    parts = []
    if counts["excluded_firm_years"]:
        parts.append(ngettext("{n} firm-year with fewer than {minimum} ledger lines left out",
                              "{n} firm-years with fewer than {minimum} ledger lines left out",
                              counts["excluded_firm_years"]).format(
            n=i18n.integer(counts["excluded_firm_years"]),
            minimum=i18n.integer(counts["min_lines"])))
    if counts["no_technology_spend"]:
        parts.append(ngettext("{n} firm-year without technology spend left out",
                              "{n} firm-years without technology spend left out",
                              counts["no_technology_spend"]).format(
            n=i18n.integer(counts["no_technology_spend"])))
    return "; ".join(parts)


def _why(label: str, reason: str) -> str:
    """The reading of a headline that is not estimated: its label and the reason, a sentence."""
    return _("{label}: not estimable — {reason}.").format(label=_(label), reason=reason)


def _eur(x: float) -> str:
    """An amount in whole euros with the locale's grouping (``EUR 12,834,482``)."""
    return _("EUR {amount}").format(amount=i18n.number(x, 0))


def _share(usable: pd.DataFrame, counts: dict[str, Any], conf: float,
           min_cell: int) -> Headline:
    n_firms = usable["firm_id"].nunique()
    minimum = max(MIN_FIRMS_SHARE, min_cell)
    if usable.empty and counts.get("years_withheld"):
        return hl.not_estimable(
            SHARE_KEY, _(SHARE_LABEL), "%",
            _why(SHARE_LABEL, _("no year this segment report may show: with the other segment "
                                "reports its firm-years would single out fewer than {minimum} "
                                "firms (see the whole-sample report)").format(
                minimum=i18n.integer(min_cell))),
            SHARE_METHOD, n_unit=_(FIRM_YEARS))
    if n_firms < minimum:
        return hl.not_estimable(
            SHARE_KEY, _(SHARE_LABEL), "%",
            _why(SHARE_LABEL, _("needs at least {minimum} firms with {lines} or more ledger "
                                "lines in a year (found {found})").format(
                minimum=i18n.integer(minimum), lines=i18n.integer(counts["min_lines"]),
                found=i18n.integer(n_firms))),
            SHARE_METHOD, n=len(usable), n_unit=_(FIRM_YEARS))
    s = pd.to_numeric(usable["shadow_it_spend"], errors="coerce").fillna(0).to_numpy()
    t = pd.to_numeric(usable["tech_spend_total"], errors="coerce").to_numpy()
    groups = usable["firm_id"].to_numpy()
    r = ratio_of_sums(s, t, groups, conf)
    cost = mean_of_totals(s, groups, conf)
    est, lo, hi, se = 100 * r.estimate, 100 * r.ci_low, 100 * r.ci_high, 100 * r.std_error
    p = float(2 * stats.t.sf(abs(est / se), r.df)) if se > 0 else None
    power = hl.power(se, SESOI_SHARE_PP, conf)
    exploratory = n_firms < CONFIRMATORY_FIRMS
    verdict = hl.verdict(lo, hi, power, exploratory=exploratory)
    excluded = _excluded_text(counts)
    values = {"share": i18n.percent(est, 1), "level": i18n.percent(100 * conf, 0),
              "low": i18n.number(lo, 1), "high": i18n.percent(hi, 1),
              "n": i18n.integer(len(usable)), "firms": i18n.integer(n_firms),
              "excluded": excluded, "mean": _eur(cost.estimate),
              "mean_low": i18n.number(cost.ci_low, 0), "mean_high": i18n.number(cost.ci_high, 0),
              "total": _eur(s.sum()), "minimum": i18n.integer(CONFIRMATORY_FIRMS)}
    head = (_("Shadow IT is {share} of technology spend ({level} CI {low} to {high}), "
              "spend-weighted over {n} firm-years of {firms} firms ({excluded}).") if excluded
            else _("Shadow IT is {share} of technology spend ({level} CI {low} to {high}), "
                   "spend-weighted over {n} firm-years of {firms} firms."))
    money = _("Shadow-IT spend averages {mean} per firm-year ({level} CI {mean_low} to "
              "{mean_high}); {total} in total.")
    reading = head.format(**values) + " " + money.format(**values)
    if exploratory:
        reading = _("Exploratory ({firms} firms, fewer than {minimum}): no verdict.").format(
            **values) + " " + reading
    return Headline(
        key=SHARE_KEY, label=_(SHARE_LABEL), unit="%", estimate=est, ci_low=lo, ci_high=hi,
        p_value=p, n=len(usable), n_unit=_(FIRM_YEARS), verdict=verdict, reading=reading,
        method=SHARE_METHOD, power=power, sesoi=SESOI_SHARE_PP, std_error=se,
        note=excluded,
        extra={**counts, "firms": int(n_firms), "cost_total_eur": float(s.sum()),
               "cost_mean_eur": cost.estimate, "cost_ci_low": cost.ci_low,
               "cost_ci_high": cost.ci_high, "tech_total_eur": float(t.sum()),
               "df": r.df})


def _slope_data(survey: pd.DataFrame, usable: pd.DataFrame, codebook: Codebook,
                controls: Sequence[str], min_cell: int) -> _SlopeData | str:
    from helpers.spend_report import _has_years, year_needs

    if not _has_years(survey):
        return year_needs()
    fw = _firm_waves(survey, codebook, controls, min_cell)
    if fw.empty:
        return _("the disconnect index, which needs indicator items answered by CMOs and CIOs")
    if not fw[list(ROLES)].notna().all(axis=1).any():
        return _("answers of both executives (CMO and CIO) for some firms: with one role the "
                 "disconnect cannot be separated from measurement error")
    z = _design(fw, [c for c in controls if c in fw.columns]).to_numpy()
    spend = usable[["firm_id", "year", "shadow_it_spend", "tech_spend_total"]].copy()
    spend["year"] = pd.to_numeric(spend["year"], errors="coerce")
    left = fw[["firm_id", "year"]].reset_index().dropna(subset=["year"])
    left["year"] = left["year"].astype(float)
    spend["year"] = spend["year"].astype(float)
    linked = left.merge(spend, on=["firm_id", "year"], how="inner")
    return _SlopeData(
        fw=fw, z=z, idx=fw[list(ROLES)].to_numpy(dtype=float),
        linked=linked["index"].to_numpy(),
        s=pd.to_numeric(linked["shadow_it_spend"], errors="coerce").fillna(0).to_numpy(),
        t=pd.to_numeric(linked["tech_spend_total"], errors="coerce").to_numpy(),
        firm_codes=pd.factorize(fw["firm_id"])[0],
        items=_index_item_codes(survey, codebook, fw))


def _slope(survey: pd.DataFrame, usable: pd.DataFrame, codebook: Codebook,
           counts: dict[str, Any], *, conf: float, controls: Sequence[str], min_cell: int,
           bootstrap: int, seed: int) -> Headline:
    unit = _(SLOPE_UNIT)

    def refuse(reason: str, n: int | None = None) -> Headline:
        return hl.not_estimable(SLOPE_KEY, _(SLOPE_LABEL), unit, _why(SLOPE_LABEL, reason),
                                SLOPE_METHOD, n=n, n_unit=_(FIRM_WAVES))

    data = _slope_data(survey, usable, codebook, controls, min_cell)
    if isinstance(data, str):
        return refuse(_("needs {what}").format(what=data))
    link_firms = data.firm_codes[data.linked]
    n_firms = len(np.unique(link_firms))
    n_dyads = int((~np.isnan(data.idx)).all(axis=1).sum())
    minimum = max(MIN_FIRMS_SLOPE, min_cell)
    if n_firms < minimum:
        return refuse(_("needs at least {minimum} firms with a disconnect index and spend data "
                        "for the wave's fiscal year (found {found})").format(
            minimum=i18n.integer(minimum), found=i18n.integer(n_firms)), len(data.linked))
    if n_dyads < MIN_DYADS:
        return refuse(_("needs at least {minimum} firm-waves in which both executives answered, "
                        "to separate the disconnect from measurement error (found {found})"
                        ).format(minimum=i18n.integer(MIN_DYADS), found=i18n.integer(n_dyads)),
                      len(data.linked))
    all_fw = np.arange(len(data.fw))
    all_link = np.arange(len(data.linked))
    try:
        first = _slope_once(data, all_fw, all_link)
    except (np.linalg.LinAlgError, RuntimeError) as exc:
        return refuse(_("needs a model that can be fitted ({error})").format(error=exc),
                      len(data.linked))
    if isinstance(first, str):
        return refuse(_("needs {what}").format(what=first), len(data.linked))
    ame, beta, x, cal = first
    groups = data.firm_codes[data.linked]
    t = data.t
    w = t / t.mean()
    y = np.clip(data.s / t, 0, 1)
    _params, cov = fractional_logit(y, x, w, groups)
    mu = special.expit(x @ beta)
    grad = np.average((mu * (1 - mu))[:, None] * (np.eye(x.shape[1])[1][None, :]
                      + beta[1] * (1 - 2 * mu)[:, None] * x), axis=0, weights=w)
    se_naive = 100 * cal.kappa * float(np.sqrt(grad @ cov @ grad))
    # pairs bootstrap over firms
    rng = np.random.default_rng(seed)
    firms = np.unique(data.firm_codes)
    fw_of = [np.flatnonzero(data.firm_codes == f) for f in firms]
    link_of = [np.flatnonzero(groups == f) for f in firms]
    draws = []
    for _draw in range(bootstrap):
        pick = rng.integers(0, len(firms), len(firms))
        rows_fw = np.concatenate([fw_of[i] for i in pick])
        rows_link = np.concatenate([link_of[i] for i in pick])
        if len(rows_link) < 3:
            continue
        try:
            out = _slope_once(data, rows_fw, rows_link)
        except (np.linalg.LinAlgError, RuntimeError):
            continue
        if not isinstance(out, str):
            draws.append(out[0])
    if len(draws) < max(20, bootstrap // 2):
        return refuse(_("needs bootstrap samples in which the model can be fitted (most "
                        "failed)"), len(data.linked))
    se = float(np.std(draws, ddof=1))
    plug_in = ame
    ame = 2 * plug_in - float(np.mean(draws))  # bootstrap bias correction (see module doc)
    df = n_firms - 1
    tq = stats.t.ppf(0.5 + conf / 2, df)
    lo, hi = ame - tq * se, ame + tq * se
    p = float(2 * stats.t.sf(abs(ame / se), df)) if se > 0 else None
    power = hl.power(se, SESOI_SLOPE_PP, conf)
    exploratory = n_firms < CONFIRMATORY_FIRMS
    verdict = hl.verdict(lo, hi, power, exploratory=exploratory)
    reading = _slope_reading(ame, lo, hi, p, power, verdict, conf, len(data.linked), n_firms,
                             cal.reliability, counts)
    return Headline(
        key=SLOPE_KEY, label=_(SLOPE_LABEL), unit=unit, estimate=ame, ci_low=lo, ci_high=hi,
        p_value=p, n=len(data.linked), n_unit=_(FIRM_WAVES), verdict=verdict, reading=reading,
        method=SLOPE_METHOD, power=power, sesoi=SESOI_SLOPE_PP, std_error=se,
        note=_excluded_text(counts),
        extra={"firms": int(n_firms), "dyads": n_dyads, "reliability": cal.reliability,
               "kappa": cal.kappa, "plug_in_estimate": plug_in,
               "var_true_score": cal.var_true, "var_error_cmo": cal.var_error["CMO"],
               "var_error_cio": cal.var_error["CIO"], "se_cluster_naive": se_naive,
               "bootstrap_reps": len(draws), "df": df, **counts})


def _slope_reading(ame: float, lo: float, hi: float, p: float | None, power: float | None,
                   verdict: str, conf: float, n: int, n_firms: int, reliability: float,
                   counts: dict[str, Any]) -> str:
    """The slope's reading: whole sentences per verdict, numbers in the reader's locale."""
    values = {"estimate": i18n.number(ame, 1, sign=True), "level": i18n.percent(100 * conf, 0),
              "low": i18n.number(lo, 1, sign=True), "high": i18n.number(hi, 1, sign=True),
              "p": hl.p_phrase(p), "n": i18n.integer(n), "firms": i18n.integer(n_firms),
              "reliability": i18n.number(reliability, 2),
              "power": "–" if power is None else i18n.percent(100 * power, 0),
              "sesoi": i18n.number(SESOI_SLOPE_PP, 0), "minimum": i18n.integer(CONFIRMATORY_FIRMS)}
    numbers = _("{estimate} percentage points of the shadow-IT share per point of the disconnect "
                "on the 1–5 index scale ({level} CI {low} to {high} pp, {p}), across {n} "
                "firm-waves of {firms} firms, corrected for the measurement error of the "
                "executives' answers (reliability of a firm-wave's index {reliability}).")
    if verdict == "exploratory":
        text = _("Exploratory ({firms} firms, fewer than {minimum}): no verdict at this size.")
        return text.format(**values) + " " + numbers.format(**values)
    reading = {
        "positive": N_("Firms whose executives report a larger disconnect have a larger "
                       "shadow-IT share of technology spend (an association)."),
        "negative": N_("Firms whose executives report a larger disconnect have a smaller "
                       "shadow-IT share of technology spend (an association)."),
        "no evidence": N_("No evidence of an association; the design had {power} power to "
                          "detect {sesoi} pp per point."),
    }.get(verdict, N_("Not detectable with this data: the interval includes zero and the power "
                      "to detect {sesoi} pp per point is {power} (reliability {reliability})."))
    return numbers.format(**values) + " " + _(reading).format(**values)
