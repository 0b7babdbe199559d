"""Regression models with tidy, broom-like outputs on top of statsmodels.

:func:`fit` is the single entry point: one formula, one data frame, one ``kind``.  It keeps the
complete cases of the variables the model uses (formula, ``cluster`` and ``weights`` columns),
fits the statsmodels estimator and returns a :class:`ModelResult` whose ``tidy()`` (one row per
term), ``glance()`` (one row per model) and ``summary()`` (text) read the same way for every kind,
so that the batch can stack them across segments (the index's tables of key estimates).

Kinds: ``ols``, ``wls`` (``weights=`` column), ``logit``, ``probit``, ``poisson``,
``ordered_logit``, ``ordered_probit`` (statsmodels ``OrderedModel``) and ``mixed`` (``MixedLM``
with a random intercept for each ``cluster``; ``re_formula=``/``vc_formula=`` pass through).

Covariance, as Stata computes it (we choose statsmodels' options, we do not re-implement them):

* ``cluster="firm_id"`` on OLS/WLS: CR1 sandwich times ``G/(G-1) * (N-1)/(N-K)`` and t(G-1)
  inference, as ``regress ..., vce(cluster firm_id)``.
* ``cluster=`` on logit/probit/poisson/ordered models: sandwich times ``G/(G-1)`` only and normal
  inference, as Stata's ML commands.  (statsmodels' default would also multiply by
  ``(N-1)/(N-K)``, which Stata does not do for ML models; we switch that factor off.)
* ``cov_type="HC1"`` etc. without clustering; for ML models ``HC1`` is ``HC0 * N/(N-1)``, which is
  Stata's ``vce(robust)``; ``HC2``/``HC3`` exist for linear models only.

Conventions that differ between R and Stata, and which one we follow:

* ``HC1``: N/(N−K) for linear models (both); ``HC0 * N/(N−1)`` for ML models (Stata's
  ``vce(robust)``; R's ``sandwich::vcovHC(type = "HC1")`` uses N/(N−K) there too).
* probit (and other non-canonical links): standard errors from the observed information (the
  Hessian at the estimate, as Stata's default ``vce(oim)``); R's ``glm`` reports the expected
  (Fisher) information, so its probit SEs differ in the third or fourth digit. Logit and
  Poisson (canonical links) agree exactly.
* mixed models: REML; fixed-effect SEs from lme4's ``(X'V⁻¹X)⁻¹`` with Wald z tests (lme4
  prints t values without p-values; lmerTest's Satterthwaite t is slightly wider with few
  groups); statsmodels' own Hessian-based SEs are not used. Non-converged fits are refused.
* clustered linear models: t(G−1) inference (Stata); ``glance()["df_inference"]`` says which df
  the tests used, ``df_resid`` is R's N − K.
* Cronbach's alpha interval (helpers.scales): Feldt's with n = the rows used (psych's ``n.obs``
  convention for complete data; with pairwise missing data psych uses the full row count).

Ordered models report cut-points as R's ``MASS::polr`` does: ``logit P(Y <= j) = zeta_j - x'beta``,
thresholds on the latent scale named after the category boundaries (``"Low|Medium"``), with
delta-method standard errors (statsmodels stores the first threshold and log increments).
"""

from __future__ import annotations

import warnings

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import patsy

from helpers import i18n, labels as column_labels
from helpers.errors import DataError
from helpers.headlines import p_phrase
from helpers.i18n import N_, _, ngettext
from helpers import LazyModule, lazy_function

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    import statsmodels.formula.api as smf
    from scipy import stats
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.outliers_influence import variance_inflation_factor
else:
    OrderedModel = LazyModule("statsmodels.miscmodels.ordinal_model:OrderedModel")
    smf = LazyModule("statsmodels.formula.api")
    stats = LazyModule("scipy.stats")
    multipletests = lazy_function("statsmodels.stats.multitest", "multipletests")
    variance_inflation_factor = lazy_function("statsmodels.stats.outliers_influence",
                                              "variance_inflation_factor")

KINDS = (
    "ols", "wls", "logit", "probit", "poisson", "ordered_logit", "ordered_probit", "mixed",
)
TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]
GLANCE_COLUMNS = [
    "kind", "n", "n_dropped", "n_clusters", "df_resid", "df_inference", "r2", "adj_r2",
    "pseudo_r2",
    "aic", "bic", "loglik", "cov_type", "group_var", "resid_var", "icc",
]
INTERCEPT = "Intercept"

column_labels.register({
    "n_dropped": N_("Rows dropped (missing values)"),
    "n_clusters": N_("Clusters"), "df_resid": N_("Residual df"),
    "df_inference": N_("df of the tests"), "adj_r2": N_("Adjusted R²"),
    "pseudo_r2": N_("Pseudo R²"),
    "loglik": N_("Log-likelihood"), "cov_type": N_("Covariance"),
    "group_var": N_("Group variance"), "resid_var": N_("Residual variance"), "icc": N_("ICC"),
}, counts={"n_dropped", "n_clusters"})

# ─── minimums: below these a model is not fitted (NotEstimable says which one failed) ──────────
# Issue "Inference that holds" may raise them (small-cluster corrections, events per parameter);
# these are the floors below which no estimate or standard error exists at all.

MIN_CLUSTERS = 2
"""Fewest clusters for cluster-robust standard errors and for a random intercept: the sandwich's
G/(G-1) factor, the t(G-1) reference and a between-cluster variance all need two clusters."""

MIN_RESIDUAL_DF = 1
"""Fewest degrees of freedom left after the parameters (complete cases minus coefficients,
thresholds and variances): with none the fit is exact, the residual variance is 0/0 and the
small-sample factor (N-1)/(N-K) divides by zero (statsmodels' ``ZeroDivisionError``)."""

MIN_OUTCOME_VALUES = 2
"""Fewest distinct outcome values among the complete cases: a constant outcome (or an ordered
outcome in one category) leaves nothing to explain."""

MIN_EVENTS = 1
"""Fewest cases in each class of a binary outcome (events and non-events), and fewest non-zero
counts of a Poisson outcome: without them the likelihood has no maximum (the estimate runs off
to infinity)."""

MIN_FACTOR_LEVELS = 2
"""Fewest categories of a factor term ``C(x)`` among the complete cases: one category is a
constant, aliased with the intercept (R's ``lm`` refuses it the same way)."""

MIN_MIXED_CLUSTER_SIZE = 2
"""A mixed model needs at least one cluster of this size: with one observation per cluster the
random-intercept variance cannot be told apart from the residual variance."""


class NotEstimable(ValueError):
    """The data cannot support the model (too few complete cases, clusters, categories or
    events, a constant outcome, aliased terms): raised *before* fitting. ``str()`` is the reason
    in words, for a report's "not estimable" note (:func:`try_fit`)."""

_LINEAR = frozenset({"ols", "wls"})
_BINARY = frozenset({"logit", "probit"})
_ORDERED = {"ordered_logit": "logit", "ordered_probit": "probit"}
_ML = _BINARY | {"poisson"} | set(_ORDERED)
_CONTINUOUS_OUTCOME = _LINEAR | {"mixed"}
_ML_COV_TYPES = ("nonrobust", "HC0", "HC1")
_LINEAR_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
_FIT_ONLY_KEYS = frozenset({"reml", "method", "maxiter", "gtol", "start_params", "disp"})
_DEFAULT_FIT: dict[str, dict[str, Any]] = {
    "logit": {"method": "newton", "disp": 0},
    "probit": {"method": "newton", "disp": 0},
    "poisson": {"method": "newton", "disp": 0},
    # Tight gradient tolerance: the default BFGS stop leaves ~1e-5 error in the estimates.
    "ordered_logit": {"method": "bfgs", "maxiter": 2000, "gtol": 1e-8, "disp": 0},
    "ordered_probit": {"method": "bfgs", "maxiter": 2000, "gtol": 1e-8, "disp": 0},
}


# ─── the result object ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, repr=False)
class ModelResult:
    """A fitted model: the statsmodels results (``raw``) plus what the tidy tables need.

    ``n`` is the number of complete cases used, ``n_dropped`` the rows of the input left out
    because a model variable (or the cluster/weights column) was missing.
    """

    raw: Any
    formula: str
    kind: str
    n: int
    n_dropped: int
    n_clusters: int | None
    cluster: str | None
    cov_type: str
    outcome_levels: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        clusters = f", {self.n_clusters} clusters" if self.n_clusters else ""
        return f"<ModelResult {self.kind}: {self.formula!r}, n={self.n}{clusters}, {self.cov_type}>"

    def tidy(
        self, conf_level: float = 0.95, exponentiate: bool = False, standardize: bool = False
    ) -> pd.DataFrame:
        """One row per term: ``term, estimate, std_error, statistic, p_value, ci_low, ci_high``.

        Terms are named as the design matrix names them (``Intercept``, ``C(industry)[T.Retail]``,
        ``x1:x2``).  Ordered models add the polr-style thresholds after the coefficients and a
        ``coef_type`` column (``coefficient``/``threshold``); mixed models report the fixed
        effects (variance components are in :meth:`glance`).

        ``standardize=True`` gives beta weights (see :func:`standardized`); ``exponentiate=True``
        turns estimates and confidence limits into odds/incidence-rate ratios (thresholds are left
        on the latent scale; ``std_error`` stays on the model scale, as in broom).
        """
        _check_conf_level(conf_level)
        table = _coefficient_table(self, 1 - conf_level)
        if self.kind in _ORDERED:
            table = pd.concat([table, _threshold_table(self, 1 - conf_level)], ignore_index=True)
        if standardize:
            table = _standardize(self, table)
        if exponentiate:
            table = _exponentiate(table)
        return table

    def glance(self) -> pd.DataFrame:
        """One row: kind, n, n_dropped, n_clusters, df_resid, fit statistics and covariance type.

        ``df_resid`` is R's ``df.residual`` (N − K); ``df_inference`` the degrees of freedom the
        t tests and intervals of :meth:`tidy` actually use: G − 1 for a clustered linear model
        (Stata's convention), N − K for an unclustered one, NaN where inference is normal (z).

        ``r2``/``adj_r2`` for OLS/WLS, McFadden's ``pseudo_r2`` for logit/probit/poisson/ordered
        models, ``group_var``/``resid_var``/``icc`` (random-intercept variance, residual variance
        and their ratio) for mixed models; columns that do not apply are NaN.
        """
        raw = self.raw
        row: dict[str, Any] = dict.fromkeys(GLANCE_COLUMNS, np.nan)
        row.update(
            kind=self.kind, n=self.n, n_dropped=self.n_dropped, n_clusters=self.n_clusters,
            df_resid=float(getattr(raw, "df_resid", np.nan)),
            df_inference=_df_inference(self), aic=float(raw.aic),
            bic=float(raw.bic), loglik=float(raw.llf), cov_type=self.cov_type,
        )
        if self.kind in _LINEAR:
            row.update(r2=float(raw.rsquared), adj_r2=float(raw.rsquared_adj))
        elif self.kind in _ML:
            row.update(pseudo_r2=float(raw.prsquared))
        else:
            group_var, resid_var = float(raw.cov_re.iloc[0, 0]), float(raw.scale)
            row.update(group_var=group_var, resid_var=resid_var,
                       icc=group_var / (group_var + resid_var))
        table = pd.DataFrame([row], columns=GLANCE_COLUMNS)
        return table.astype({"n_clusters": "Int64"})

    def summary(self) -> str:
        """Readable text: our header (n used/dropped, clusters, covariance, fit) + statsmodels'."""
        fit_stats = self.glance().iloc[0]
        clusters = (
            f"{self.n_clusters} clusters in '{self.cluster}'" if self.cluster else "no clustering"
        )
        lines = [
            f"{self.kind} model: {self.formula}",
            (f"N = {self.n} complete cases ({self.n_dropped} rows dropped for missing values); "
             f"{clusters}; covariance: {self.cov_type}"),
            _fit_line(self.kind, fit_stats),
        ]
        if self.kind in _ORDERED:
            lines.append(
                "note: the statsmodels table below stores the first threshold and log increments;"
                " tidy() reports the cumulative cut-points as MASS::polr does."
            )
        return "\n".join(lines) + "\n\n" + self.raw.summary().as_text()


# ─── fitting ────────────────────────────────────────────────────────────────────────────────────


def fit(
    formula: str,
    data: pd.DataFrame,
    kind: str = "ols",
    cluster: str | None = None,
    cov_type: str | None = None,
    weights: str | None = None,
    **kwargs: Any,
) -> ModelResult:
    """Fit ``formula`` on the complete cases of ``data`` and return a :class:`ModelResult`.

    ``cluster`` names the column of cluster ids (firms): cluster-robust covariance with Stata's
    small-sample correction, or the grouping of the random intercept for ``kind="mixed"``.
    ``cov_type`` picks ``"nonrobust"`` (default), ``"HC0"``, ``"HC1"``, ``"HC3"``, ... when not
    clustering.  ``weights`` names the weight column of a ``wls`` fit.  Other keyword arguments go
    to the statsmodels model (e.g. ``re_formula="~x"`` for mixed models), except ``reml``,
    ``method``, ``maxiter``, ``gtol``, ``start_params`` and ``disp``, which go to ``.fit()``.

    Before fitting, the complete cases are checked against the minimums above
    (:data:`MIN_CLUSTERS`, :data:`MIN_RESIDUAL_DF`, :data:`MIN_OUTCOME_VALUES`,
    :data:`MIN_EVENTS`, :data:`MIN_FACTOR_LEVELS`, :data:`MIN_MIXED_CLUSTER_SIZE`) and for
    aliased (exactly collinear) terms; a model that fails one raises :class:`NotEstimable`
    saying which, instead of an estimate from a pseudo-inverse or a statsmodels crash.
    """
    _check_options(data, kind, cluster, cov_type, weights)
    extra = [column for column in (cluster, weights) if column is not None]
    frame, n_dropped = _complete_cases(formula, data, kind, extra)
    _require_estimable(formula, frame, kind, cluster)
    model_kwargs = {k: v for k, v in kwargs.items() if k not in _FIT_ONLY_KEYS}
    fit_kwargs = {k: v for k, v in kwargs.items() if k in _FIT_ONLY_KEYS}
    groups = _cluster_codes(frame, cluster)
    options, cov_label = _fit_options(kind, groups, cov_type, len(frame))
    model = _build_model(kind, formula, frame, cluster, weights, model_kwargs)
    if kind == "mixed":
        raw = _fit_mixed(model, {**options, **fit_kwargs})
    else:
        raw = model.fit(**{**options, **fit_kwargs})
    return ModelResult(
        raw=raw, formula=formula, kind=kind, n=len(frame), n_dropped=n_dropped,
        n_clusters=None if groups is None else int(groups.max() + 1), cluster=cluster,
        cov_type=cov_label,
        outcome_levels=_level_names(model) if kind in _ORDERED else None,
    )


MIXED_OPTIMIZERS = ("lbfgs", "bfgs", "powell", "nm")
"""Optimizers tried for a mixed model, in turn, when statsmodels' default run does not converge;
the converged fit with the highest (restricted) log-likelihood is kept (lme4 users expect the
maximum, and statsmodels' first optimizer can stop early at a lower one)."""


def _fit_mixed(model: Any, options: Mapping[str, Any]) -> Any:
    """Fit a MixedLM; refit with other optimizers when needed; refuse when none converges.

    A fit is accepted only when statsmodels reports convergence and every variance is finite;
    among the accepted fits (default run and :data:`MIXED_OPTIMIZERS`) the one with the highest
    (restricted) log-likelihood is returned. No accepted fit: :class:`NotEstimable` with the
    reason — a non-converged mixed model is never returned as a result.
    """
    fits, reasons = [], []
    runs = [dict(options)] if "method" in options else \
        [dict(options)] + [{**options, "method": m} for m in MIXED_OPTIMIZERS]
    for run_options in runs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                raw = model.fit(**run_options)
            except (np.linalg.LinAlgError, ValueError) as exc:
                reasons.append(f"{run_options.get('method', 'default')}: {exc}")
                continue
        trouble = [str(w.message) for w in caught
                   if "converge" in str(w.message).lower() or "singular" in str(w.message).lower()
                   or "hessian" in str(w.message).lower()]
        finite = np.isfinite(np.asarray(raw.params, dtype=float)).all() and \
            np.isfinite(float(raw.scale))
        if getattr(raw, "converged", False) and finite and not any(
                "did not converge" in t.lower() or "failed to converge" in t.lower()
                for t in trouble):
            fits.append(raw)
        else:
            reasons.append(f"{run_options.get('method', 'default')}: "
                           + ("; ".join(trouble[:1]) or "no convergence"))
        if fits and "method" not in run_options:
            break  # the default run converged: statsmodels' own choice, as before
    if not fits:
        raise NotEstimable("the mixed model did not converge with any optimizer ("
                           + "; ".join(reasons[:3]) + "): no estimate is given")
    return max(fits, key=lambda r: float(r.llf))


def mixed_fixed_cov(raw: Any) -> np.ndarray:
    """lme4's covariance of the fixed effects, ``(X' V^-1 X)^-1``, at the fitted variances.

    ``V`` is block-diagonal by group: ``V_g = s^2 I + Z_g Psi Z_g'`` with the residual variance
    ``s^2`` (``raw.scale``) and the random-effects covariance ``Psi`` (``raw.cov_re``, already
    on the data scale in statsmodels). statsmodels' own ``cov_params()`` inverts the observed
    Hessian of all parameters (fixed effects and variance components together), which differs
    from what ``vcov(lmer(...))`` prints; reports use this one (see :meth:`ModelResult.tidy`).
    """
    model = raw.model
    k = len(raw.fe_params)
    psi = np.asarray(raw.cov_re, dtype=float)
    scale = float(raw.scale)
    info = np.zeros((k, k))
    for g in range(model.n_groups):
        x = np.asarray(model.exog_li[g], dtype=float)[:, :k]
        z = np.asarray(model.exog_re_li[g], dtype=float)
        v = scale * np.eye(len(x)) + z @ psi @ z.T
        info += x.T @ np.linalg.solve(v, x)
    return np.linalg.inv(info)


def _df_inference(result: ModelResult) -> float:
    """The t degrees of freedom of the model's tests (NaN for z tests)."""
    if result.kind not in _LINEAR:
        return float("nan")
    if result.n_clusters:
        return float(result.n_clusters - 1)
    return float(result.raw.df_resid)


def _check_options(
    data: pd.DataFrame, kind: str, cluster: str | None, cov_type: str | None, weights: str | None
) -> None:
    """Reject unknown kinds, absent columns and option combinations that have no meaning."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    for role, column in (("cluster", cluster), ("weights", weights)):
        if column is not None and column not in data.columns:
            raise DataError(
                f"the {role} column '{column}' is not in the data "
                f"(columns: {', '.join(map(str, data.columns))})",
                column=column, rule=f"model-{role}-column",
            )
    if kind == "mixed" and cluster is None:
        raise ValueError("kind='mixed' needs cluster= (the column of group ids)")
    if (kind == "wls") != (weights is not None):
        raise ValueError("weights= is required for kind='wls' and only allowed there; "
                         "expand frequency tables with df.loc[df.index.repeat(df[w])]")
    if cov_type is None or cov_type == "nonrobust":
        return
    if cluster is not None or kind == "mixed":
        raise ValueError(f"cov_type={cov_type!r} cannot be combined with cluster= or "
                         "kind='mixed': clustering already fixes the covariance")
    allowed = _ML_COV_TYPES if kind in _ML else _LINEAR_COV_TYPES
    if cov_type not in allowed:
        raise ValueError(f"cov_type={cov_type!r} is not available for kind={kind!r}; "
                         f"choose one of: {', '.join(allowed)}")


def _complete_cases(
    formula: str, data: pd.DataFrame, kind: str, extra: Sequence[str]
) -> tuple[pd.DataFrame, int]:
    """Rows of ``data`` complete on the formula's variables and ``extra`` columns.

    The formula is evaluated once with patsy (statsmodels' formula engine) to find which rows it
    drops, so that cluster ids and weights stay aligned with the rows actually fitted.
    """
    frame = _patsy_friendly(data.reset_index(drop=True))
    if extra:
        frame = frame.loc[frame[list(extra)].notna().all(axis=1)]
    outcome = formula.split("~", 1)[0].strip()
    frame = _prepare_outcome(frame, outcome, kind, formula)
    try:
        endog, _design = patsy.dmatrices(formula, frame, NA_action="drop",
                                         return_type="dataframe")
    except patsy.PatsyError as exc:
        raise ValueError(f"cannot build the design matrix of {formula!r}: {exc}") from exc
    frame = frame.loc[endog.index]
    if frame.empty:
        raise NotEstimable(_("no complete cases: every row misses a variable of the model "
                             "{formula}").format(formula=formula))
    _check_outcome(kind, endog, outcome)
    # a category seen only in rows just dropped would become an all-zero (aliased) column
    frame = _patsy_friendly(frame)
    return frame, len(data) - len(frame)


def _patsy_friendly(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable pandas dtypes (Int64, boolean, string) as the NumPy types patsy understands, and
    categoricals without unused categories (which would become all-zero dummy columns)."""
    out = {}
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[col] = frame[col].cat.remove_unused_categories()
            continue
        if not isinstance(dtype, pd.api.extensions.ExtensionDtype):
            continue
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            out[col] = frame[col].astype("float64")
        else:
            out[col] = frame[col].astype(object).where(frame[col].notna(), np.nan)
    return frame.assign(**out) if out else frame


def _prepare_outcome(frame: pd.DataFrame, outcome: str, kind: str, formula: str) -> pd.DataFrame:
    """Code True/False outcomes as 1/0 and check that ordered outcomes have an order."""
    column = frame[outcome] if outcome in frame.columns else None
    if kind in _BINARY and column is not None and pd.api.types.is_bool_dtype(column.dtype):
        numeric = column.to_numpy(dtype=float, na_value=np.nan)
        return frame.assign(**{outcome: numeric})
    if kind in _ORDERED:
        if column is None:
            raise ValueError(f"ordered models need a plain column as outcome, not {outcome!r}")
        ordered_cat = isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered
        if not (ordered_cat or pd.api.types.is_numeric_dtype(column.dtype)):
            raise DataError(
                "an ordered model needs an ordered pandas Categorical or numeric codes "
                f"as outcome; got dtype {column.dtype}",
                column=outcome, rule="model-ordered-outcome",
                hint="e.g. df[col] = pd.Categorical(df[col], categories=[...], ordered=True)",
            )
        if patsy.INTERCEPT not in patsy.ModelDesc.from_formula(formula).rhs_termlist:
            raise ValueError("ordered models take their intercepts from the thresholds; "
                             "remove '0 +' / '- 1' from the formula")
    return frame


def _check_outcome(kind: str, endog: pd.DataFrame, outcome: str) -> None:
    """Outcome coding per kind: 0/1 (binary), counts >= 0 (poisson). Whether it varies enough
    to be modelled is :func:`_require_estimable`'s question."""
    values = endog.to_numpy()
    if kind in _BINARY:
        levels = np.unique(values) if endog.shape[1] == 1 else np.array([np.nan])
        if not set(levels.tolist()) <= {0.0, 1.0}:
            raise DataError(f"a {kind} outcome must be coded 0/1 (or True/False)",
                            column=outcome, rule="model-binary-outcome")
    elif kind == "poisson" and (values < 0).any():
        raise DataError("a poisson outcome must be a count (>= 0)",
                        column=outcome, rule="model-count-outcome")


def _cases(n: int) -> str:
    return ngettext("{n} complete case", "{n} complete cases", n).format(n=i18n.integer(n))


def _few_clusters(cluster: str, n_clusters: int, n: int, mixed: bool = False) -> str:
    clusters = ngettext("{k} cluster", "{k} clusters", n_clusters).format(
        k=i18n.integer(n_clusters))
    if mixed:
        text = _("the {cases} come from {clusters} of '{cluster}'; a random intercept needs at "
                 "least {minimum}")
    else:
        text = _("the {cases} come from {clusters} of '{cluster}'; cluster-robust standard "
                 "errors need at least {minimum}")
    return text.format(cases=_cases(n), clusters=clusters, cluster=column_labels.column(cluster),
                       minimum=i18n.integer(MIN_CLUSTERS))


def _n_parameters(kind: str, design: pd.DataFrame, endog: pd.DataFrame) -> int:
    """Parameters the residual degrees of freedom are counted after: the coefficients, plus the
    thresholds of an ordered model (which replace its intercept) or the random-intercept
    variance of a mixed model."""
    k = design.shape[1]
    if kind in _ORDERED:
        categories = endog.shape[1] if endog.shape[1] > 1 else len(np.unique(endog.to_numpy()))
        return k - 1 + (categories - 1)
    return k + 1 if kind == "mixed" else k


def aliased_terms(design: pd.DataFrame) -> list[str]:
    """Columns of ``design`` that are exact linear combinations of the columns before them (R's
    "aliased" coefficients, NA in ``lm``): walking left to right, a column that does not raise
    the rank is aliased."""
    matrix = design.to_numpy(dtype=float)
    scale = np.abs(matrix).max(axis=0)
    matrix = matrix / np.where(scale > 0, scale, 1.0)
    if np.linalg.matrix_rank(matrix) == matrix.shape[1]:
        return []  # the usual case: one decomposition, no walk
    aliased, kept = [], np.empty((len(matrix), 0))
    for j, name in enumerate(design.columns):
        candidate = np.column_stack((kept, matrix[:, j]))
        if np.linalg.matrix_rank(candidate) > kept.shape[1]:
            kept = candidate
        else:
            aliased.append(str(name))
    return aliased


def _require_estimable(formula: str, frame: pd.DataFrame, kind: str, cluster: str | None) -> None:
    """Raise :class:`NotEstimable` when the complete cases cannot support the model: too few
    clusters, a constant outcome or too few events, a factor with one category, fewer cases
    than parameters, or aliased terms. Checked before fitting so that statsmodels never divides
    by zero or estimates an aliased term from a pseudo-inverse."""
    n = len(frame)
    endog, design = patsy.dmatrices(formula, frame, return_type="dataframe")
    outcome = formula.split("~", 1)[0].strip()
    if cluster is not None:
        n_clusters = int(frame[cluster].nunique())
        if n_clusters < MIN_CLUSTERS:
            raise NotEstimable(_few_clusters(cluster, n_clusters, n, mixed=kind == "mixed"))
        if kind == "mixed" and frame[cluster].value_counts().max() < MIN_MIXED_CLUSTER_SIZE:
            raise NotEstimable(_(
                "every cluster of '{cluster}' has one complete case: a random intercept needs "
                "at least one cluster with {minimum} (else its variance is the residual "
                "variance)").format(cluster=column_labels.column(cluster),
                                    minimum=i18n.integer(MIN_MIXED_CLUSTER_SIZE)))
    _require_outcome_variation(kind, endog, outcome, n)
    for factor, info in design.design_info.factor_infos.items():
        if info.type == "categorical" and len(info.categories) < MIN_FACTOR_LEVELS:
            raise NotEstimable(_(
                "{factor} has one category among the {cases}; a factor needs at least "
                "{minimum}").format(factor=column_labels.term(factor.name()), cases=_cases(n),
                                    minimum=i18n.integer(MIN_FACTOR_LEVELS)))
    k = _n_parameters(kind, design, endog)
    if n - k < MIN_RESIDUAL_DF:
        raise NotEstimable(_(
            "{cases} for {k} parameters: the model needs at least {minimum} (more cases than "
            "parameters)").format(cases=_cases(n), k=i18n.integer(k),
                                  minimum=i18n.integer(k + MIN_RESIDUAL_DF)))
    aliased = aliased_terms(design)
    if aliased:
        raise NotEstimable(ngettext(
            "{terms} is an exact linear combination of the other terms among the {cases} "
            "(aliased: the design is rank deficient)",
            "{terms} are exact linear combinations of the other terms among the {cases} "
            "(aliased: the design is rank deficient)", len(aliased)).format(
                terms=", ".join(column_labels.term(a) for a in aliased), cases=_cases(n)))


def _require_outcome_variation(kind: str, endog: pd.DataFrame, outcome: str, n: int) -> None:
    """The outcome varies: two values (:data:`MIN_OUTCOME_VALUES`), both classes of a binary
    outcome (:data:`MIN_EVENTS` each), a non-zero count."""
    values = endog.to_numpy()
    if kind in _BINARY:
        events = int((values == 1).sum())
        fewest = min(events, n - events)
        if fewest < MIN_EVENTS:
            only = 1 if events else 0
            raise NotEstimable(ngettext(
                "the outcome {outcome} has one category only ({only}) among the {cases}; a "
                "{kind} model needs at least {minimum} case with 0 and with 1",
                "the outcome {outcome} has one category only ({only}) among the {cases}; a "
                "{kind} model needs at least {minimum} cases with 0 and with 1",
                MIN_EVENTS).format(outcome=column_labels.column(outcome), only=only,
                                   cases=_cases(n), kind=kind,
                                   minimum=i18n.integer(MIN_EVENTS)))
        return
    if kind == "poisson":
        if int((values > 0).sum()) < MIN_EVENTS:
            raise NotEstimable(_("the count {outcome} is 0 in all {cases}").format(
                outcome=column_labels.column(outcome), cases=_cases(n)))
        return
    distinct = (values != 0).any(axis=0).sum() if endog.shape[1] > 1 else len(np.unique(values))
    if distinct < MIN_OUTCOME_VALUES:
        text = (_("the outcome {outcome} has one category only among the {cases}; the model "
                  "needs at least {minimum} different values") if kind in _ORDERED else
                _("the outcome {outcome} does not vary (one value) among the {cases}; the "
                  "model needs at least {minimum} different values"))
        raise NotEstimable(text.format(outcome=column_labels.column(outcome), cases=_cases(n),
                                       minimum=i18n.integer(MIN_OUTCOME_VALUES)))


def _cluster_codes(frame: pd.DataFrame, cluster: str | None) -> np.ndarray | None:
    """Integer codes 0..G-1 of the cluster column (statsmodels wants integer groups)."""
    if cluster is None:
        return None
    codes, uniques = pd.factorize(frame[cluster])
    if len(uniques) < MIN_CLUSTERS:
        raise NotEstimable(_few_clusters(cluster, len(uniques), len(frame)))
    return codes


def _fit_options(
    kind: str, groups: np.ndarray | None, cov_type: str | None, nobs: int
) -> tuple[dict[str, Any], str]:
    """statsmodels ``fit()`` options that give Stata's covariance, and the label we report."""
    options = dict(_DEFAULT_FIT.get(kind, {}))
    if kind == "mixed":
        return options, "model-based"
    if kind in _LINEAR:
        options["use_t"] = True  # t(N-K), or t(G-1) when clustered, as Stata's regress
    if groups is not None:
        n_groups = int(groups.max() + 1)
        cov_kwds: dict[str, Any] = {"groups": groups}
        if kind in _ML:  # Stata's ML commands: G/(G-1) only, no (N-1)/(N-K)
            cov_kwds.update(use_correction=False, scaling_factor=n_groups / (n_groups - 1))
        options.update(cov_type="cluster", cov_kwds=cov_kwds)
        return options, "cluster"
    label = cov_type or "nonrobust"
    if kind in _ML and label == "HC1":  # Stata's vce(robust) for ML: HC0 * N/(N-1)
        options.update(cov_type="HC0", cov_kwds={"scaling_factor": nobs / (nobs - 1)})
    elif label != "nonrobust":
        options["cov_type"] = label
    return options, label


def _build_model(
    kind: str, formula: str, frame: pd.DataFrame, cluster: str | None, weights: str | None,
    model_kwargs: Mapping[str, Any],
) -> Any:
    """The statsmodels model of ``kind`` on the complete-case frame."""
    if kind == "wls":
        return smf.wls(formula, frame, weights=frame[weights].to_numpy(dtype=float),
                       **model_kwargs)
    if kind in _ORDERED:  # from_formula drops the Intercept column: thresholds replace it
        return OrderedModel.from_formula(formula, frame, distr=_ORDERED[kind], **model_kwargs)
    if kind == "mixed":
        return smf.mixedlm(formula, frame, groups=frame[cluster], **model_kwargs)
    constructors = {"ols": smf.ols, "logit": smf.logit, "probit": smf.probit,
                    "poisson": smf.poisson}
    return constructors[kind](formula, frame, **model_kwargs)


def _level_names(model: Any) -> tuple[str, ...]:
    """Outcome categories of an ordered model as text (integer codes print ``1``, not ``1.0``)."""
    def label(value: Any) -> str:
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return tuple(label(value) for value in model.labels)


# ─── tidy tables ────────────────────────────────────────────────────────────────────────────────


def _tidy_frame(
    terms: Iterable[str], estimate: Any, std_error: Any, statistic: Any, p_value: Any,
    ci: Any,
) -> pd.DataFrame:
    ci = np.asarray(ci, dtype=float).reshape(-1, 2)
    return pd.DataFrame({
        "term": list(terms),
        "estimate": np.asarray(estimate, dtype=float),
        "std_error": np.asarray(std_error, dtype=float),
        "statistic": np.asarray(statistic, dtype=float),
        "p_value": np.asarray(p_value, dtype=float),
        "ci_low": ci[:, 0],
        "ci_high": ci[:, 1],
    })


def _n_coefficients(result: ModelResult) -> int:
    """Number of regression coefficients (fixed effects; thresholds and variances excluded)."""
    if result.kind == "mixed":
        return len(result.raw.fe_params)
    return int(result.raw.model.exog.shape[1])


def _coefficient_table(result: ModelResult, alpha: float) -> pd.DataFrame:
    """The regression coefficients with statsmodels' own inference (t or z, robust or not).

    Mixed models: standard errors from lme4's ``(X' V^-1 X)^-1`` (:func:`mixed_fixed_cov`)
    with Wald z tests and normal intervals (lme4 prints no p-values; lmerTest's Satterthwaite
    t would be slightly wider in small samples).
    """
    raw, k = result.raw, _n_coefficients(result)
    if result.kind == "mixed":
        estimate = np.asarray(raw.fe_params, dtype=float)
        std_error = np.sqrt(np.diag(mixed_fixed_cov(raw)))
        return _normal_table(list(raw.model.exog_names)[:k], estimate, std_error, alpha)
    table = _tidy_frame(
        list(raw.model.exog_names)[:k], np.asarray(raw.params)[:k], np.asarray(raw.bse)[:k],
        np.asarray(raw.tvalues)[:k], np.asarray(raw.pvalues)[:k],
        np.asarray(raw.conf_int(alpha))[:k],
    )
    if result.kind in _ORDERED:
        table["coef_type"] = "coefficient"
    return table


def _cumulative_thresholds(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut-points from statsmodels' (first threshold, log increments) and their Jacobian."""
    derivative = np.concatenate(([1.0], np.exp(theta[1:])))
    increments = np.concatenate((theta[:1], np.exp(theta[1:])))
    jacobian = np.tril(np.ones((len(theta), len(theta)))) * derivative[None, :]
    return increments.cumsum(), jacobian


def _threshold_table(result: ModelResult, alpha: float) -> pd.DataFrame:
    """polr-style cut-points ``zeta_j`` named ``"lower|upper"`` with delta-method SEs (z tests)."""
    raw, k = result.raw, _n_coefficients(result)
    theta = np.asarray(raw.params, dtype=float)[k:]
    cov = np.asarray(raw.cov_params(), dtype=float)[k:, k:]
    estimate, jacobian = _cumulative_thresholds(theta)
    std_error = np.sqrt(np.diag(jacobian @ cov @ jacobian.T))
    levels = result.outcome_levels or ()
    terms = [f"{lower}|{upper}" for lower, upper in pairwise(levels)]
    table = _normal_table(terms, estimate, std_error, alpha)
    table["coef_type"] = "threshold"
    return table


def _normal_table(
    terms: Sequence[str], estimate: np.ndarray, std_error: np.ndarray, alpha: float
) -> pd.DataFrame:
    """Tidy rows with Wald z tests and normal confidence limits."""
    z = estimate / std_error
    crit = stats.norm.ppf(1 - alpha / 2)
    ci = np.column_stack((estimate - crit * std_error, estimate + crit * std_error))
    return _tidy_frame(terms, estimate, std_error, z, 2 * stats.norm.sf(np.abs(z)), ci)


def _exponentiate(table: pd.DataFrame) -> pd.DataFrame:
    """exp() of estimates and confidence limits, except ordered-model thresholds."""
    table = table.copy()
    rows = table["coef_type"].ne("threshold") if "coef_type" in table else slice(None)
    for column in ("estimate", "ci_low", "ci_high"):
        table.loc[rows, column] = np.exp(table.loc[rows, column])
    return table


def _check_conf_level(conf_level: float) -> None:
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be between 0 and 1, got {conf_level}")


# ─── standardised coefficients ──────────────────────────────────────────────────────────────────


def _design_frame(result: ModelResult) -> pd.DataFrame:
    """The fitted design matrix (coefficient columns only), named as the terms."""
    k = _n_coefficients(result)
    exog = np.asarray(result.raw.model.exog, dtype=float)[:, :k]
    return pd.DataFrame(exog, columns=list(result.raw.model.exog_names)[:k])


def _standardize(result: ModelResult, table: pd.DataFrame) -> pd.DataFrame:
    """Scale coefficient rows to beta weights; drop the intercept and thresholds."""
    sd_x = _design_frame(result).std(ddof=1)
    scale = sd_x
    if result.kind in _CONTINUOUS_OUTCOME:
        scale = sd_x / np.std(np.asarray(result.raw.model.endog, dtype=float), ddof=1)
    keep = table["term"].isin(scale.index[sd_x > 0])
    table = table.loc[keep].reset_index(drop=True)
    factor = table["term"].map(scale).to_numpy()
    for column in ("estimate", "std_error", "ci_low", "ci_high"):
        table[column] = table[column] * factor
    return table


def standardized(result: ModelResult, conf_level: float = 0.95) -> pd.DataFrame:
    """Standardised coefficients (beta weights) as a tidy table.

    OLS/WLS/mixed: ``b * sd(x) / sd(y)``; logit/probit/poisson/ordered: ``b * sd(x)`` (the change
    on the latent/log scale per standard deviation of x, as the outcome has no sd to divide by).
    ``sd`` is the unweighted sample sd (ddof=1) over the complete cases of the design-matrix
    column, so a factor dummy is scaled by the sd of its 0/1 column and an interaction by the sd
    of the product column (Stata's ``regress, beta`` does the same).  Standard errors and
    confidence limits are scaled by the same factor, so t/z statistics and p-values are
    unchanged.  The intercept (and ordered thresholds) have no standardised value and are dropped.
    """
    return result.tidy(conf_level=conf_level, standardize=True)


# ─── marginal effects ───────────────────────────────────────────────────────────────────────────


def marginal_effects(result: ModelResult, conf_level: float = 0.95) -> pd.DataFrame:
    """Average marginal effects (AME) as a tidy table.

    logit/probit/poisson: statsmodels ``get_margeff(at="overall")`` (derivative averaged over the
    sample, delta-method SEs).  Ordered models: the AME of every term on the probability of every
    outcome category (column ``level``), i.e. the sample mean of ``dP(Y=j|x)/dx``, computed
    analytically, with delta-method SEs from a numerical Jacobian.  As in ``get_margeff``'s
    default, factor dummies are treated like continuous columns (a derivative, not a discrete
    change).  Clustered or robust covariances carry through to the SEs.
    """
    _check_conf_level(conf_level)
    alpha = 1 - conf_level
    if result.kind in _ORDERED:
        return _ordered_margins(result, alpha)
    if result.kind not in _ML:
        raise ValueError(f"marginal effects are for logit, probit, poisson and ordered models; "
                         f"in a {result.kind} model the coefficients are the marginal effects")
    margeff = result.raw.get_margeff(at="overall")
    terms = [t for t in result.raw.model.exog_names if t != INTERCEPT]
    return _tidy_frame(terms, margeff.margeff, margeff.margeff_se, margeff.tvalues,
                       margeff.pvalues, margeff.conf_int(alpha))


def _ordered_ame(model: Any, params: np.ndarray) -> np.ndarray:
    """AME matrix (terms x categories): mean over rows of ``beta * (f(z_lower) - f(z_upper))``."""
    k = model.exog.shape[1]
    thresholds = model.transform_threshold_params(params)
    xb = np.asarray(model.exog, dtype=float) @ params[:k]
    density = np.zeros((len(xb), len(thresholds)))
    finite = np.isfinite(thresholds)
    density[:, finite] = model.pdf(thresholds[finite][None, :] - xb[:, None])
    slope = (density[:, :-1] - density[:, 1:]).mean(axis=0)
    return np.outer(params[:k], slope)


def _numerical_jacobian(
    func: Callable[[np.ndarray], np.ndarray], params: np.ndarray, rel_step: float = 1e-6
) -> np.ndarray:
    """Central-difference Jacobian of ``func(params).ravel()``."""
    base = func(params).ravel()
    jacobian = np.empty((base.size, params.size))
    for i in range(params.size):
        step = rel_step * max(1.0, abs(params[i]))
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        jacobian[:, i] = (func(up).ravel() - func(down).ravel()) / (2 * step)
    return jacobian


def _ordered_margins(result: ModelResult, alpha: float) -> pd.DataFrame:
    raw = result.raw
    params = np.asarray(raw.params, dtype=float)
    ame = _ordered_ame(raw.model, params)
    jacobian = _numerical_jacobian(lambda p: _ordered_ame(raw.model, p), params)
    cov = jacobian @ np.asarray(raw.cov_params(), dtype=float) @ jacobian.T
    terms = list(raw.model.exog_names)[: ame.shape[0]]
    levels = result.outcome_levels or ()
    table = _normal_table(
        [term for term in terms for _level in levels], ame.ravel(), np.sqrt(np.diag(cov)), alpha
    )
    table.insert(1, "level", [level for _term in terms for level in levels])
    return table


# ─── diagnostics and multiple testing ───────────────────────────────────────────────────────────


def vif(result: ModelResult) -> pd.DataFrame:
    """Variance inflation factors (``term, vif``) of the design matrix, intercept excluded.

    Computed with statsmodels' ``variance_inflation_factor`` on the complete-case design with a
    constant column (added for ordered models, whose design has none), so each VIF is
    ``1 / (1 - R²)`` of the column regressed on all others.
    """
    design = _design_frame(result)
    design = design.loc[:, design.std(ddof=0) > 0]
    matrix = np.column_stack((np.ones(len(design)), design.to_numpy()))
    values = [variance_inflation_factor(matrix, i + 1) for i in range(design.shape[1])]
    return pd.DataFrame({"term": list(design.columns), "vif": values})


def adjust_pvalues(p: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values (``"holm"``, ``"fdr_bh"``, or any ``multipletests`` method).

    NaN entries stay NaN and are not counted in the family.
    """
    values = np.asarray(p, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    if present.any():
        adjusted[present] = multipletests(values[present], method=method)[1]
    return adjusted


def add_adjusted(tidy_df: pd.DataFrame, method: str = "holm") -> pd.DataFrame:
    """A copy of a tidy table with a ``p_adjusted`` column.

    The family is every coefficient except the intercept (and ordered-model thresholds, which test
    nothing of interest); those rows get NaN.
    """
    table = tidy_df.copy()
    family = table["term"].ne(INTERCEPT)
    if "coef_type" in table:
        family &= table["coef_type"].eq("coefficient")
    table["p_adjusted"] = np.nan
    table.loc[family, "p_adjusted"] = adjust_pvalues(table.loc[family, "p_value"], method)
    return table


# ─── side-by-side table ─────────────────────────────────────────────────────────────────────────


def _stars(p_value: float, thresholds: Sequence[float]) -> str:
    if np.isnan(p_value):
        return ""
    return "*" * sum(p_value < threshold for threshold in thresholds)


def _number(value: Any, digits: int) -> str:
    return "" if value is None or pd.isna(value) else i18n.number(value, digits, grouping=False)


def compare(
    results: Mapping[str, ModelResult],
    stars: Sequence[float] = (0.05, 0.01, 0.001),
    digits: int = 3,
    omit: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Journal-style table: one column per model, estimate with stars over ``(SE)`` per term.

    ``omit`` lists term prefixes left out (e.g. ``"C("`` for control dummies, noted in
    ``attrs["note"]``); ``labels`` renames terms for display.

    Rows are the terms in order of first appearance across the models (two rows each: the
    estimate, then the standard error with an empty ``term``), then N, Clusters, R² and/or
    Pseudo R² (when any model has them) and AIC.  Cells are text; a term a model lacks is empty.
    The star legend is in ``table.attrs["note"]``.
    """
    if not results:
        raise ValueError("compare() needs at least one model")
    tidies = {name: result.tidy() for name, result in results.items()}
    terms = list(dict.fromkeys(term for table in tidies.values() for term in table["term"]))
    omitted = [t for t in terms if any(t.startswith(prefix) for prefix in omit)]
    terms = [t for t in terms if t not in omitted]
    rows: list[dict[str, str]] = []
    for term in terms:
        estimate_row, se_row = {"term": (labels or {}).get(term, term)}, {"term": ""}
        for name, table in tidies.items():
            hit = table.loc[table["term"] == term]
            first = hit.iloc[0] if len(hit) else None
            estimate_row[name] = "" if first is None else (
                _number(first["estimate"], digits) + _stars(first["p_value"], stars))
            se_row[name] = "" if first is None else f"({_number(first['std_error'], digits)})"
        rows += [estimate_row, se_row]
    rows += _fit_rows(results, digits)
    table = pd.DataFrame(rows, columns=["term", *results])
    levels = sorted(stars, reverse=True)
    legend = ", ".join(f"{'*' * (i + 1)} p<{_alpha(level)}" for i, level in enumerate(levels))
    table.attrs["note"] = (ngettext(
        "{legend}; standard errors in parentheses; {n} control term estimated but not shown.",
        "{legend}; standard errors in parentheses; {n} control terms estimated but not shown.",
        len(omitted)) if omitted else _("{legend}; standard errors in parentheses.")).format(
            legend=legend, n=i18n.integer(len(omitted)))
    return table


def _alpha(level: float) -> str:
    """A significance level as written in the reader's locale (0.05, 0,05)."""
    return f"{level:g}".replace(".", i18n.decimal_symbol())


def _fit_rows(results: Mapping[str, ModelResult], digits: int) -> list[dict[str, str]]:
    """The N / Clusters / R² / Pseudo R² / AIC rows of :func:`compare`."""
    glances = {name: result.glance().iloc[0] for name, result in results.items()}
    rows = [
        {"term": "N", **{name: i18n.integer(g["n"]) for name, g in glances.items()}},
        {"term": _("Clusters"),
         **{name: "" if pd.isna(g["n_clusters"]) else i18n.integer(g["n_clusters"])
            for name, g in glances.items()}},
    ]
    for label, column in (("R²", "r2"), (_("Pseudo R²"), "pseudo_r2")):
        if any(pd.notna(g[column]) for g in glances.values()):
            rows.append({"term": label,
                         **{name: _number(g[column], digits) for name, g in glances.items()}})
    rows.append({"term": "AIC", **{name: _number(g["aic"], digits) for name, g in glances.items()}})
    return rows


def _fit_line(kind: str, fit_stats: pd.Series) -> str:
    """One line of fit statistics for :meth:`ModelResult.summary`."""
    if kind in _LINEAR:
        return f"R² = {fit_stats['r2']:.4f}, adjusted R² = {fit_stats['adj_r2']:.4f}, " \
               f"AIC = {fit_stats['aic']:.3f}"
    if kind in _ML:
        return f"McFadden pseudo R² = {fit_stats['pseudo_r2']:.4f}, " \
               f"log-likelihood = {fit_stats['loglik']:.3f}, AIC = {fit_stats['aic']:.3f}"
    return f"group variance = {fit_stats['group_var']:.4f}, residual variance = " \
           f"{fit_stats['resid_var']:.4f}, ICC = {fit_stats['icc']:.3f}"


# --------------------------------------------------------------------------- report helpers
def usable_controls(data: pd.DataFrame, controls: Sequence[str]) -> list[str]:
    """The controls that vary in ``data`` (a segment fixes e.g. its country, which then drops out)."""
    return [c for c in controls if c in data.columns and data[c].dropna().nunique() > 1]


def build_formula(outcome: str, predictors: Sequence[str], controls: Sequence[str] = (),
                  data: pd.DataFrame | None = None) -> str:
    """``outcome ~ predictors + C(control) ...``; with ``data``, the predictors and controls that
    do not vary among the complete cases are left out (a segment fixes e.g. its country; a
    driver everyone answered alike cannot be estimated there): :func:`left_out` says which."""
    if data is None:
        kept, used = list(predictors), list(controls)
    else:
        kept, used, _dropped = _formula_parts(outcome, predictors, controls, data)
    terms = list(kept) + [f"C({c})" for c in used]
    return f"{outcome} ~ " + (" + ".join(terms) if terms else "1")


def left_out(outcome: str, predictors: Sequence[str], data: pd.DataFrame,
             controls: Sequence[str] = ()) -> dict[str, str]:
    """The predictors :func:`build_formula` leaves out of this model, each with the reason (not
    answered, or one value among the complete cases), so that a report can say so instead of
    dropping a driver silently."""
    return _formula_parts(outcome, predictors, controls, data)[2]


def _formula_parts(outcome: str, predictors: Sequence[str], controls: Sequence[str],
                   data: pd.DataFrame) -> tuple[list[str], list[str], dict[str, str]]:
    """(predictors kept, controls kept, {predictor left out: why}) among the complete cases of
    the outcome, the predictors and the controls present in ``data``."""
    numeric = {p: pd.to_numeric(data[p], errors="coerce") for p in predictors}
    dropped = {p: _("not answered in this segment") for p in predictors
               if numeric[p].isna().all()}
    kept = [p for p in predictors if p not in dropped]
    used = [c for c in controls if c in data.columns]
    while True:
        columns = [c for c in (outcome,) if c in data.columns] + kept + used
        rows = data[columns].notna().all(axis=1).to_numpy()
        if not rows.any():  # nothing to judge variation on: fit() says "no complete cases"
            return kept, used, dropped
        flat = [p for p in kept if numeric[p][rows].nunique() < 2]
        flat_controls = [c for c in used if data.loc[rows, c].nunique() < 2]
        if not flat and not flat_controls:
            return kept, used, dropped
        for p in flat:
            dropped[p] = _("one value in all {cases}").format(cases=_cases(int(rows.sum())))
        kept = [p for p in kept if p not in flat]
        used = [c for c in used if c not in flat_controls]


def zscore(data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A copy with ``columns`` standardised (mean 0, SD 1), so coefficients are per SD.

    A column with no spread (one value, or one answer) is centred only: it stays constant where
    answered, so :func:`left_out` reports it as not varying rather than as not answered."""
    out = data.copy()
    for c in columns:
        x = pd.to_numeric(out[c], errors="coerce")
        sd = x.std()
        out[c] = (x - x.mean()) / sd if sd > 0 else x - x.mean()
    return out


def try_fit(formula: str, data: pd.DataFrame, **kwargs: Any) -> ModelResult | str:
    """:func:`fit`, or the reason it could not be estimated, in words (for small segments: too
    few cases or clusters, a constant outcome, aliased terms, a fit that did not converge or
    found perfect separation should not take a whole report down, and must not print numbers).
    """
    from statsmodels.tools import sm_exceptions

    unusable = tuple(getattr(sm_exceptions, name) for name in (
        "ConvergenceWarning", "HessianInversionWarning", "PerfectSeparationWarning")
        if hasattr(sm_exceptions, name))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", unusable)
            result = fit(formula, data, **kwargs)
    except NotEstimable as exc:  # a minimum checked before fitting: its reason is the text
        return str(exc)
    except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
        message = exc.issues[0].message if isinstance(exc, DataError) else str(exc)
        return _("the estimation failed ({error}: {message})").format(
            error=type(exc).__name__, message=message)
    problems = [w for w in caught if issubclass(w.category, unusable)]
    if problems:  # not reported as an estimate, so its other warnings (overflow, ...) go too
        kinds = sorted({w.category.__name__ for w in problems})
        return "; ".join(_(_UNUSABLE_FIT[k]) if k in _UNUSABLE_FIT else
                         _("the estimation raised {warning}").format(warning=k) for k in kinds)
    for w in caught:  # a usable fit: its warnings are passed on as they came
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


_UNUSABLE_FIT = {"ConvergenceWarning": N_("the estimation did not converge"),
                 "HessianInversionWarning": N_("the estimation gave no usable standard errors"),
                 "PerfectSeparationWarning": N_("the estimation found perfect separation")}


@dataclass(frozen=True)
class ModelSpec:
    """One model of a side-by-side comparison: its column name, outcome and kind, and — when the
    data cannot support it — what it needs (the model is then *not applicable*, not fitted)."""

    name: str
    outcome: str
    kind: str = "ols"
    needs: str | None = None


@dataclass
class ModelSet:
    """Models fitted side by side (:func:`fit_set`): those estimated, those that could not be
    estimated in this segment (why) and those the data does not apply to (what they need)."""

    fits: dict[str, ModelResult]
    not_estimable: dict[str, str]
    not_applicable: dict[str, str]

    def note(self) -> str:
        """The sentences a comparison table appends for the models it does not show (each a
        whole sentence with a leading space; empty when every model is shown)."""
        return ("".join(" " + _("{model}: not estimable in this segment ({reason}).").format(
                            model=name, reason=why) for name, why in self.not_estimable.items())
                + "".join(" " + _("{model}: not applicable (needs {needs}).").format(
                              model=name, needs=needs)
                          for name, needs in self.not_applicable.items()))


def fit_set(specs: Sequence[ModelSpec], data: pd.DataFrame, predictors: Sequence[str],
            controls: Sequence[str] = (), **kwargs: Any) -> ModelSet:
    """Fit the same predictors and controls for each applicable spec with :func:`try_fit`, so
    that a model which cannot be estimated in a small segment is noted, not fatal."""
    fits, not_estimable, not_applicable = {}, {}, {}
    for spec in specs:
        if spec.needs:
            not_applicable[spec.name] = spec.needs
            continue
        result = try_fit(build_formula(spec.outcome, predictors, controls, data), data,
                         kind=spec.kind, **kwargs)
        if isinstance(result, str):
            not_estimable[spec.name] = result
        else:
            fits[spec.name] = result
    return ModelSet(fits, not_estimable, not_applicable)


def fit_each(data: pd.DataFrame, outcomes: Sequence[str], predictors: Sequence[str],
             controls: Sequence[str] = (), *, kind: str = "ols", cluster: str | None = None,
             adjust: str | None = "fdr_bh") -> pd.DataFrame:
    """The same model for several outcomes: one tidy row per outcome and predictor, with
    ``p_adjusted`` corrected across all of them (``adjust``: "holm", "fdr_bh" or None).

    An outcome whose model cannot be estimated (:func:`try_fit`) gets one row without numbers
    whose ``note`` says why ("not estimable: ..."); ``note`` is empty on estimated rows."""
    rows = []
    for outcome in outcomes:
        res = try_fit(build_formula(outcome, predictors, controls, data), data, kind=kind,
                      cluster=cluster)
        if isinstance(res, str):
            rows.append(pd.DataFrame([{"outcome": outcome, "note": _(
                "not estimable: {reason}").format(reason=res)}]))
            continue
        t = res.tidy()
        rows.append(t[t["term"].isin(predictors)].assign(outcome=outcome, n=res.n, note=""))
    out = pd.concat(rows, ignore_index=True).reindex(
        columns=["outcome", *TIDY_COLUMNS, "n", "note"])
    if adjust:
        out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(dtype=float), adjust)
    return out


def reading(result: ModelResult, labels: Mapping[str, str], *, outcome: str,
            alpha: float = 0.05) -> str:
    """Reading in words of the labelled terms of a model: the association, its size and
    interval first, then p (``< .001`` or three decimals); in the current language, whole
    sentences per case (one term or several; higher or lower).

    Worded as associations ("is associated with a lower …"), never as causes: the models are fit
    on cross-sectional survey data where the same respondent reports both sides.
    """
    t = result.tidy()
    t = t[t["term"].isin(labels)]
    sig = t[t["p_value"] < alpha]
    level = i18n.percent(100 * (1 - alpha), 0)
    clusters = getattr(result, "n_clusters", None)
    sample = (_("n = {n}, {firms} firms").format(n=i18n.integer(result.n),
                                                  firms=i18n.integer(clusters))
              if clusters else _("n = {n}").format(n=i18n.integer(result.n)))
    if len(t) == 1:
        head = (_("The one term shown is associated with {outcome} at p < {alpha} ({sample}).")
                if len(sig) else
                _("The one term shown is not associated with {outcome} at p < {alpha} "
                  "({sample})."))
    else:
        head = ngettext("{significant} of {total} terms is associated with {outcome} at "
                        "p < {alpha} ({sample}).",
                        "{significant} of {total} terms are associated with {outcome} at "
                        "p < {alpha} ({sample}).", len(sig))
    head = head.format(significant=i18n.integer(len(sig)), total=i18n.integer(len(t)),
                       outcome=outcome, alpha=_alpha(alpha), sample=sample)
    parts = []
    for _row_index, r in sig.sort_values("estimate").iterrows():
        text = (_("{term} is associated with a lower {outcome} ({estimate}, {level} CI {low} "
                  "to {high}, {p}).") if r["estimate"] < 0 else
                _("{term} is associated with a higher {outcome} ({estimate}, {level} CI {low} "
                  "to {high}, {p})."))
        parts.append(text.format(
            term=labels[r["term"]], outcome=outcome,
            estimate=i18n.number(r["estimate"], 2, sign=True), level=level,
            low=i18n.number(r["ci_low"], 2, sign=True), high=i18n.number(r["ci_high"], 2, sign=True),
            p=p_phrase(float(r["p_value"]))))
    return " ".join([head, *parts])
