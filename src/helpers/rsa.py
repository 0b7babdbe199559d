"""Polynomial regression with response surface analysis (RSA) for two commensurate predictors.

Fits Z = b0 + b1 X + b2 Y + b3 X^2 + b4 XY + b5 Y^2 (+ controls) by OLS (statsmodels) and
reads the surface along the line of agreement X = Y and the line of disagreement X = -Y
(Edwards & Parry 1993; Shanock et al. 2010):

====  ==============  ===============================================================
a1    b1 + b2         slope along X = Y
a2    b3 + b4 + b5    curvature along X = Y
a3    b1 - b2         slope along X = -Y (does the direction of the discrepancy matter?)
a4    b3 - b4 + b5    curvature along X = -Y ((dis)agreement effect)
a5    b3 - b5         asymmetry of the curvatures (Humberg, Nestler & Back 2019)
====  ==============  ===============================================================

Standard errors of the a's come from the full coefficient covariance matrix V as
sqrt(c' V c) (statsmodels ``t_test``), which includes the covariance terms with their correct
signs — the SE of a4 the Shanock et al. (2010) worksheet got wrong and their 2014 erratum fixed.
Stationary point and principal axes follow Edwards (2002).  This mirrors R's ``RSA`` package
(Schönbrodt) for the full polynomial model, estimated by OLS rather than lavaan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.headlines import p_phrase
from helpers.i18n import N_, _, ngettext
from helpers.models import NotEstimable, aliased_terms
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    import statsmodels.api as sm
else:
    sm = LazyModule("statsmodels.api")

POLY_TERMS = ("b1", "b2", "b3", "b4", "b5")
SURFACE_WEIGHTS = {  # weights on (b1, b2, b3, b4, b5)
    "a1": (1, 1, 0, 0, 0),
    "a2": (0, 0, 1, 1, 1),
    "a3": (1, -1, 0, 0, 0),
    "a4": (0, 0, 1, -1, 1),
    "a5": (0, 0, 1, 0, -1),
}
TABLE_COLUMNS = ["estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]
CENTER_OPTIONS = (None, "pooled", "separate")
MINUS = "\u2212"
SEPARATE_NOTE = N_("x and y were centred separately: the line X = Y is shifted away from raw "
                   "agreement")

# Minimums, checked before fitting (below them :func:`rsa` raises NotEstimable with the reason).
MIN_RESIDUAL_DF = 1
"""Fewest complete cases beyond the coefficients (b0..b5 and the controls): with none the
polynomial passes through every point and no standard error exists."""

MIN_OUTCOME_VALUES = 2
"""Fewest distinct outcome values: a constant outcome has a flat surface with zero residuals."""

MIN_CLUSTERS = 2
"""Fewest clusters for ``cov_type="cluster"``: the G/(G-1) correction and t(G-1) need two."""

MIN_CLUSTERS_JOINT_TEST = len(POLY_TERMS) + 1
"""Fewest clusters for the joint F test of b1..b5 under a cluster covariance: that covariance
has rank at most G - 1, so five restrictions need G - 1 >= 5; with fewer clusters the Wald
statistic divides by a singular matrix (F(5, 4) = 6.9e11 was reported with five clusters) and
the test is not reported."""


@dataclass(frozen=True, eq=False)
class RSAResult:
    """A fitted response surface; build with :func:`rsa`."""

    model: Any  # statsmodels RegressionResultsWrapper
    outcome: str
    x: str
    y: str
    center: str | None
    center_values: tuple[float, float]
    alpha: float
    coefs: pd.DataFrame
    surface: pd.DataFrame
    stationary_point: tuple[float, float]
    principal_axes: dict[str, float]
    notes: tuple[str, ...]
    n: int
    r2: float
    adj_r2: float
    f_test: dict[str, Any]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    control_means: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    # ------------------------------------------------------------------ tables
    def tidy(self) -> pd.DataFrame:
        """Coefficients b0..b5 (and controls) and surface tests a1..a5 in one broom-like table."""
        table = pd.concat([self.coefs, self.surface])
        return table.rename_axis("term").reset_index()[["term", *TABLE_COLUMNS]]

    def glance(self) -> pd.DataFrame:
        """One row of model-level statistics: n, fit, the joint F test and the surface geometry."""
        x0, y0 = self.stationary_point
        return pd.DataFrame([{
            "outcome": self.outcome, "x": self.x, "y": self.y, "n": self.n, "r2": self.r2,
            "adj_r2": self.adj_r2, "f_statistic": self.f_test["statistic"],
            "f_p_value": self.f_test["p_value"], "df_num": self.f_test["df_num"],
            "df_denom": self.f_test["df_denom"], "cov_type": self.model.cov_type,
            "center": self.center or "none", "x0": x0, "y0": y0, **self.principal_axes,
        }])

    def predict_grid(self, n: int = 30, x_range: tuple[float, float] | None = None,
                     y_range: tuple[float, float] | None = None) -> pd.DataFrame:
        """An n x n grid (columns x, y, z) of predicted outcomes, in the original units of x and y.

        Defaults to the observed ranges; controls are held at their sample means.  Feed it to
        3-D surface or contour plots.
        """
        if n < 2:
            raise ValueError(f"n must be at least 2, got {n}")
        xs = np.linspace(*(x_range or self.x_range), n)
        ys = np.linspace(*(y_range or self.y_range), n)
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        return pd.DataFrame({"x": gx, "y": gy, "z": self._predict(gx, gy)})

    def _predict(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        params = self.model.params
        cx, cy = self.center_values
        poly = _poly_terms(np.asarray(x, float) - cx, np.asarray(y, float) - cy)
        z = params["b0"] + poly @ params[list(POLY_TERMS)].to_numpy()
        if len(self.control_means):
            z = z + float(self.control_means @ params[self.control_means.index])
        return z

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """Plain-text report: model, coefficients, surface tests, geometry and notes."""
        x0, y0 = self.stationary_point
        ax = self.principal_axes
        units = "raw" if self.center is None else "centred"
        fit_line = (f"n = {self.n}, R2 = {self.r2:.3f}, adj. R2 = {self.adj_r2:.3f}, "
                    f"covariance: {self.model.cov_type}, centring: {self._centre_text()}")
        f_line = f"Polynomial terms jointly: {self.joint_test_text()}"
        axes_line = (f"First principal axis: {_line(ax['p10'], ax['p11'])}; "
                     f"second: {_line(ax['p20'], ax['p21'])}")
        head = [
            f"Response surface analysis: {self.outcome} ~ {self.x} x {self.y}", fit_line, f_line,
            "", "Coefficients (b1 = X, b2 = Y, b3 = X^2, b4 = XY, b5 = Y^2):",
            self.coefs.to_string(float_format=lambda v: f"{v:.4f}"),
            "", "Surface tests:",
            self.surface.to_string(float_format=lambda v: f"{v:.4f}"),
            "", f"Stationary point: X0 = {x0:.4g}, Y0 = {y0:.4g} ({units} units)", axes_line,
        ]
        return "\n".join(head + [f"Note: {note}" for note in self.notes])

    def reading(self, x_label: str | None = None, y_label: str | None = None,
                outcome_label: str | None = None) -> str:
        """A plain-English reading of a1..a5 from their signs and significance at ``alpha``."""
        xl, yl = x_label or self.x, y_label or self.y
        out = outcome_label or self.outcome
        parts = [
            _read_agreement(self._term("a1"), self._term("a2"), xl, yl, out, self.alpha),
            _read_direction(self._term("a3"), xl, yl, out, self.alpha),
            _read_congruence(self._term("a4"), xl, yl, out, self.alpha),
            _read_symmetry(self._term("a5"), self.alpha),
            _read_axis(self.principal_axes),
        ]
        if self.center == "separate":
            parts.append(_("Caution: {x} and {y} were centred on their own means, so X = Y is "
                           "agreement relative to the averages, not agreement in raw scores.").format(
                               x=xl, y=yl))
        return " ".join(p for p in parts if p)

    def joint_test_text(self) -> str:
        """The joint test of b1..b5 in words: "F(5, 40) = 3.21, p = .012", or why it is not
        reported (too few clusters for a cluster-robust test of five restrictions)."""
        f = self.f_test
        if f.get("note"):
            return _("not reported: {reason}").format(reason=f["note"])
        return "F({df_num}, {df_denom}) = {statistic}, {p}".format(
            df_num=i18n.integer(f["df_num"]), df_denom=i18n.integer(f["df_denom"]),
            statistic=i18n.number(f["statistic"], 2), p=_p(f["p_value"]))

    def _term(self, name: str) -> tuple[str, float, float]:
        row = self.surface.loc[name]
        return name, float(row["estimate"]), float(row["p_value"])

    def _centre_text(self) -> str:
        if self.center is None:
            return "none (raw scores)"
        cx, cy = self.center_values
        return f"{self.center} (x - {cx:.4g}, y - {cy:.4g})"


# --------------------------------------------------------------------------- fitting
def rsa(data: pd.DataFrame, outcome: str, x: str, y: str, center: str | None = None,
        cov_type: str = "nonrobust", controls: Sequence[str] = (), alpha: float = 0.05,
        cov_kwds: Mapping[str, Any] | None = None) -> RSAResult:
    """Fit the second-order polynomial of ``outcome`` on ``x`` and ``y`` and analyse its surface.

    ``center=None`` keeps raw scores; ``"pooled"`` subtracts the grand mean of x and y pooled
    together (one constant, so X = Y still means raw agreement); ``"separate"`` subtracts each
    variable's own mean — this *moves the line of congruence*: X = Y then means "equally far
    above the respective mean", not agreement.  ``cov_type`` is passed to statsmodels
    (``"nonrobust"``, ``"HC3"``, ``"cluster"`` with ``cov_kwds={"groups": "firm_id"}`` — a
    column name or an array aligned with ``data``, ...).  Tests and intervals use the t
    distribution (``use_t=True``) with the model's residual df (G - 1 for cluster covariances).
    Only complete cases (outcome, x, y, controls, cluster groups) are used; ``n`` reports them.
    Numeric controls enter linearly; non-numeric ones as dummies (first level dropped).

    Before fitting, the complete cases are checked against :data:`MIN_RESIDUAL_DF`,
    :data:`MIN_OUTCOME_VALUES`, :data:`MIN_CLUSTERS` and for aliased terms (X or Y constant, X
    equal to Y in every case, collinear controls); failing one raises
    :class:`helpers.models.NotEstimable` with the reason (:func:`try_rsa` returns it instead).
    The joint F test needs :data:`MIN_CLUSTERS_JOINT_TEST` clusters under a cluster covariance;
    with fewer it is NaN and ``f_test["note"]`` says why.
    """
    _check_args(data, outcome, x, y, center, controls, alpha)
    frame, kwds = _complete_cases(data, [outcome, x, y, *controls], cov_type, cov_kwds)
    _require_estimable(frame, outcome, x, y, kwds)
    cx, cy = _centre_values(frame[x], frame[y], center)
    design = _design(frame[x] - cx, frame[y] - cy, frame[list(controls)])
    fit = sm.OLS(frame[outcome].astype(float), design).fit(
        cov_type=cov_type, cov_kwds=kwds, use_t=True)
    b = fit.params[list(POLY_TERMS)].to_numpy()
    (x0, y0), axes, notes = surface_geometry(*b)
    if center == "separate":
        notes = (*notes, _(SEPARATE_NOTE))
    return RSAResult(
        model=fit, outcome=outcome, x=x, y=y, center=center, center_values=(cx, cy),
        alpha=alpha, coefs=_coef_table(fit, alpha), surface=_surface_table(fit, alpha),
        stationary_point=(x0, y0), principal_axes=axes, notes=notes, n=int(fit.nobs),
        r2=float(fit.rsquared), adj_r2=float(fit.rsquared_adj),
        f_test=_joint_test(fit, None if kwds is None else kwds.get("groups")),
        x_range=(float(frame[x].min()), float(frame[x].max())),
        y_range=(float(frame[y].min()), float(frame[y].max())),
        control_means=design.drop(columns=["b0", *POLY_TERMS]).mean(),
    )


def try_rsa(data: pd.DataFrame, outcome: str, x: str, y: str, **kwargs: Any) -> RSAResult | str:
    """:func:`rsa`, or the reason the surface cannot be estimated with these data (too few
    complete cases or clusters, a constant outcome, X equal to Y in every case, ...), for a
    report to say instead of failing."""
    try:
        return rsa(data, outcome, x, y, **kwargs)
    except NotEstimable as exc:
        return str(exc)


def geometry_table(result: RSAResult) -> pd.DataFrame:
    """Stationary point (X0, Y0) and principal axes (intercept and slope) as a small table."""
    x0, y0 = result.stationary_point
    axes = result.principal_axes
    return pd.DataFrame([
        {"quantity": _("Stationary point X0"), "value": x0},
        {"quantity": _("Stationary point Y0"), "value": y0},
        {"quantity": _("First principal axis: intercept p10"), "value": axes.get("p10")},
        {"quantity": _("First principal axis: slope p11"), "value": axes.get("p11")},
        {"quantity": _("Second principal axis: intercept p20"), "value": axes.get("p20")},
        {"quantity": _("Second principal axis: slope p21"), "value": axes.get("p21")},
    ])


def _check_args(data: pd.DataFrame, outcome: str, x: str, y: str, center: str | None,
                controls: Sequence[str], alpha: float) -> None:
    if isinstance(controls, str):
        raise TypeError("controls must be a sequence of column names, not a single string")
    absent = [c for c in (outcome, x, y, *controls) if c not in data.columns]
    if absent:
        raise ValueError(f"column(s) not in the data: {', '.join(absent)}")
    if len({outcome, x, y}) < 3:
        raise ValueError(f"outcome, x and y must be three different columns, got {outcome!r}, "
                         f"{x!r}, {y!r}")
    if center not in CENTER_OPTIONS:
        raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    non_numeric = [c for c in (outcome, x, y) if not pd.api.types.is_numeric_dtype(data[c])]
    if non_numeric:
        raise ValueError(f"outcome, x and y must be numeric; not: {', '.join(non_numeric)}")


def _complete_cases(data: pd.DataFrame, columns: list[str], cov_type: str,
                    cov_kwds: Mapping[str, Any] | None) -> tuple[pd.DataFrame, dict | None]:
    """Rows complete on every model column (and cluster groups), with aligned cov_kwds."""
    kwds = dict(cov_kwds or {})
    groups = kwds.get("groups")
    if isinstance(groups, str):
        if groups not in data.columns:
            raise ValueError(f"cluster column {groups!r} is not in the data")
        groups = data[groups]
    elif groups is not None:
        if len(groups) != len(data):
            raise ValueError(f"cluster groups have {len(groups)} values for {len(data)} rows")
        groups = pd.Series(np.asarray(groups), index=data.index)
    mask = data[columns].notna().all(axis=1)
    if groups is not None:
        mask &= groups.notna()
        kwds["groups"] = pd.factorize(groups[mask])[0]
    elif cov_type == "cluster":
        raise ValueError('cov_type="cluster" needs cov_kwds={"groups": <column or array>}')
    if not mask.any():
        raise NotEstimable(
            (_("no complete cases: every row misses one of {columns} or its cluster")
             if groups is not None else
             _("no complete cases: every row misses one of {columns}")).format(
                 columns=", ".join(columns)))
    return data.loc[mask, columns], (kwds or None)


def _cases(n: int) -> str:
    return ngettext("{n} complete case", "{n} complete cases", n).format(n=i18n.integer(n))


def _require_estimable(frame: pd.DataFrame, outcome: str, x: str, y: str,
                       kwds: Mapping[str, Any] | None) -> None:
    """Raise NotEstimable for a constant outcome, too few clusters, or a surface the predictors
    cannot identify (X or Y constant, X = Y in every case) — the minimums above."""
    n = len(frame)
    if frame[outcome].nunique() < MIN_OUTCOME_VALUES:
        raise NotEstimable(_("the outcome {outcome} has one value in all {cases}: there is no "
                             "surface to estimate").format(outcome=outcome, cases=_cases(n)))
    groups = None if kwds is None else kwds.get("groups")
    if groups is not None and len(np.unique(groups)) < MIN_CLUSTERS:
        raise NotEstimable(_("the {cases} come from 1 cluster; cluster-robust standard "
                             "errors need at least {minimum}").format(
                                 cases=_cases(n), minimum=i18n.integer(MIN_CLUSTERS)))
    for name in (x, y):
        if frame[name].nunique() < 2:
            raise NotEstimable(_("{name} has one value in all {cases}: the surface cannot be "
                                 "estimated along it").format(name=name, cases=_cases(n)))
    if frame[x].astype(float).equals(frame[y].astype(float)):
        raise NotEstimable(_("{x} equals {y} in all {cases}: with perfect agreement the surface "
                             "off the line X = Y is not identified").format(
                                 x=x, y=y, cases=_cases(n)))


def _centre_values(x: pd.Series, y: pd.Series, center: str | None) -> tuple[float, float]:
    """Constants subtracted from x and y."""
    if center is None:
        return 0.0, 0.0
    if center == "pooled":
        grand = float(np.concatenate([x.to_numpy(float), y.to_numpy(float)]).mean())
        return grand, grand
    return float(x.mean()), float(y.mean())


def _poly_terms(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Columns X, Y, X^2, XY, Y^2."""
    return np.column_stack([x, y, x**2, x * y, y**2])


def _design(x: pd.Series, y: pd.Series, controls: pd.DataFrame) -> pd.DataFrame:
    """Design matrix with columns b0..b5 followed by the controls."""
    poly = pd.DataFrame(_poly_terms(x.to_numpy(float), y.to_numpy(float)),
                        columns=list(POLY_TERMS), index=x.index)
    parts = [pd.Series(1.0, index=x.index, name="b0"), poly]
    if controls.shape[1]:
        parts.append(pd.get_dummies(controls, drop_first=True, dtype=float).astype(float))
    design = pd.concat(parts, axis=1)
    needed = design.shape[1] + MIN_RESIDUAL_DF
    if len(design) < needed:
        raise NotEstimable(_("too few complete cases ({n}) for {k} coefficients: the surface "
                             "needs at least {minimum}").format(
                                 n=i18n.integer(len(design)), k=i18n.integer(design.shape[1]),
                                 minimum=i18n.integer(needed)))
    aliased = aliased_terms(design)
    if aliased:
        raise NotEstimable(ngettext(
            "{terms} is aliased among the {cases} (the design is rank deficient: X and Y, their "
            "squares and product or the controls are collinear)",
            "{terms} are aliased among the {cases} (the design is rank deficient: X and Y, "
            "their squares and product or the controls are collinear)", len(aliased)).format(
                terms=", ".join(labels.term(a) for a in aliased), cases=_cases(len(design))))
    return design


def _frame(frame: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    """statsmodels summary_frame -> our column names."""
    table = frame.iloc[:, :6].copy()
    table.columns = TABLE_COLUMNS
    table.index = index
    return table


def _coef_table(fit: Any, alpha: float) -> pd.DataFrame:
    ci = fit.conf_int(alpha)
    return pd.DataFrame({
        "estimate": fit.params, "std_error": fit.bse, "statistic": fit.tvalues,
        "p_value": fit.pvalues, "ci_low": ci[0], "ci_high": ci[1],
    })[TABLE_COLUMNS]


def surface_contrasts(params: Sequence[str]) -> np.ndarray:
    """Rows c (one per a1..a5) such that a = c' b over the model's parameter vector."""
    names = list(params)
    contrasts = np.zeros((len(SURFACE_WEIGHTS), len(names)))
    for row, weights in enumerate(SURFACE_WEIGHTS.values()):
        for term, w in zip(POLY_TERMS, weights, strict=True):
            contrasts[row, names.index(term)] = w
    return contrasts


def _surface_table(fit: Any, alpha: float) -> pd.DataFrame:
    """a1..a5 with SE sqrt(c' V c) from the full covariance matrix, via statsmodels t_test."""
    test = fit.t_test(surface_contrasts(fit.params.index))
    return _frame(test.summary_frame(alpha=alpha), list(SURFACE_WEIGHTS))


def _joint_test(fit: Any, groups: np.ndarray | None = None) -> dict[str, Any]:
    """Joint Wald F test that b1..b5 are all zero; NaN with a ``note`` when a cluster covariance
    from fewer than :data:`MIN_CLUSTERS_JOINT_TEST` clusters cannot support five restrictions."""
    if groups is not None:
        n_clusters = len(np.unique(groups))
        if n_clusters < MIN_CLUSTERS_JOINT_TEST:
            return {"statistic": np.nan, "p_value": np.nan, "df_num": float(len(POLY_TERMS)),
                    "df_denom": float(n_clusters - 1),
                    "note": _("a cluster-robust joint test of the {k} polynomial terms needs at "
                              "least {minimum} clusters; these data have {n}").format(
                                  k=len(POLY_TERMS), minimum=i18n.integer(MIN_CLUSTERS_JOINT_TEST),
                                  n=i18n.integer(n_clusters))}
    names = list(fit.params.index)
    restriction = np.zeros((5, len(names)))
    for row, term in enumerate(POLY_TERMS):
        restriction[row, names.index(term)] = 1
    test = fit.f_test(restriction)
    return {"statistic": float(np.squeeze(test.fvalue)), "p_value": float(test.pvalue),
            "df_num": float(test.df_num), "df_denom": float(test.df_denom), "note": ""}


# --------------------------------------------------------------------------- geometry
def surface_geometry(b1: float, b2: float, b3: float, b4: float, b5: float
                     ) -> tuple[tuple[float, float], dict[str, float], tuple[str, ...]]:
    """Stationary point (X0, Y0) and principal axes p10, p11, p20, p21 (Edwards 2002).

    NaN, with a note, where the surface has no unique stationary point (4 b3 b5 = b4^2: a ridge
    or a plane) or the axes are not defined by these formulas (b4 = 0: axes parallel to X and Y).
    """
    notes: list[str] = []
    scale = max(1.0, abs(b3) + abs(b4) + abs(b5)) ** 2
    denom = 4 * b3 * b5 - b4**2
    if abs(denom) <= 1e-12 * scale:
        x0 = y0 = np.nan
        notes.append(_("no unique stationary point (4*b3*b5 - b4^2 = 0: the surface is a "
                       "ridge, a trough or a plane)"))
    else:
        x0 = (b2 * b4 - 2 * b1 * b5) / denom
        y0 = (b1 * b4 - 2 * b2 * b3) / denom
    if abs(b4) <= 1e-12 * max(1.0, abs(b3), abs(b5)):
        p11 = p21 = np.nan
        notes.append(_("b4 = 0: the principal axes are parallel to the X and Y axes (slopes 0 "
                       "and infinite), so p10, p11, p20, p21 are not reported"))
    else:
        root = np.sqrt((b3 - b5) ** 2 + b4**2)
        p11 = (b5 - b3 + root) / b4
        p21 = (b5 - b3 - root) / b4
    axes = {"p10": y0 - p11 * x0, "p11": p11, "p20": y0 - p21 * x0, "p21": p21}
    return (float(x0), float(y0)), {k: float(v) for k, v in axes.items()}, tuple(notes)


# --------------------------------------------------------------------------- reading
def _num(value: float) -> str:
    return i18n.number(value, 2)


def _line(intercept: float, slope: float, plain: bool = False) -> str:
    """'Y = a + b X' with the sign of b folded in (2 decimals and a true minus when plain)."""
    if plain:
        sign = MINUS if slope < 0 else "+"
        return f"Y = {_num(intercept)} {sign} {_num(abs(slope))} X"
    sign = "-" if slope < 0 else "+"
    return f"Y = {intercept:.4g} {sign} {abs(slope):.4g} X"


def _p(p: float) -> str:
    """APA-style p value (:func:`helpers.headlines.p_phrase`)."""
    return p_phrase(p)


def _cite(term: tuple[str, float, float]) -> str:
    name, est, p = term
    return f"({name} = {_num(est)}, {_p(p)})"


_AGREEMENT_TREND = {  # (a1 significant: direction or None, a2: direction or None)
    ("rises", "upward"): N_("Along the line of agreement (X = Y) the {out} rises as {x} and {y} "
                            "both increase {a1}, and the surface curves upward along it {a2}."),
    ("rises", "downward"): N_("Along the line of agreement (X = Y) the {out} rises as {x} and {y} "
                              "both increase {a1}, and the surface curves downward along it "
                              "{a2}."),
    ("rises", None): N_("Along the line of agreement (X = Y) the {out} rises as {x} and {y} both "
                        "increase {a1}, with no significant curvature {a2}."),
    ("falls", "upward"): N_("Along the line of agreement (X = Y) the {out} falls as {x} and {y} "
                            "both increase {a1}, and the surface curves upward along it {a2}."),
    ("falls", "downward"): N_("Along the line of agreement (X = Y) the {out} falls as {x} and {y} "
                              "both increase {a1}, and the surface curves downward along it "
                              "{a2}."),
    ("falls", None): N_("Along the line of agreement (X = Y) the {out} falls as {x} and {y} both "
                        "increase {a1}, with no significant curvature {a2}."),
    (None, "upward"): N_("Along the line of agreement (X = Y) the {out} shows no significant "
                         "linear trend {a1}, and the surface curves upward along it {a2}."),
    (None, "downward"): N_("Along the line of agreement (X = Y) the {out} shows no significant "
                           "linear trend {a1}, and the surface curves downward along it {a2}."),
    (None, None): N_("Along the line of agreement (X = Y) the {out} shows no significant linear "
                     "trend {a1}, with no significant curvature {a2}."),
}


def _read_agreement(a1: tuple[str, float, float], a2: tuple[str, float, float], xl: str, yl: str,
                    out: str, alpha: float) -> str:
    trend = ("rises" if a1[1] > 0 else "falls") if a1[2] < alpha else None
    shape = ("upward" if a2[1] > 0 else "downward") if a2[2] < alpha else None
    return _(_AGREEMENT_TREND[trend, shape]).format(out=out, x=xl, y=yl, a1=_cite(a1),
                                                    a2=_cite(a2))


def _read_direction(a3: tuple[str, float, float], xl: str, yl: str, out: str,
                    alpha: float) -> str:
    if a3[2] >= alpha:
        return _("Along the line of disagreement (X = −Y) the direction of the discrepancy makes "
                 "no significant difference {a3}.").format(a3=_cite(a3))
    high, low = (xl, yl) if a3[1] > 0 else (yl, xl)
    return _("Along the line of disagreement (X = −Y) the {out} is higher when {high} exceeds "
             "{low} than the reverse {a3}.").format(out=out, high=high, low=low, a3=_cite(a3))


def _read_congruence(a4: tuple[str, float, float], xl: str, yl: str, out: str,
                     alpha: float) -> str:
    if a4[2] >= alpha:
        text = _("The surface is not significantly curved along the line of disagreement {a4}: "
                 "no evidence that agreement between {x} and {y} matters as such.")
    elif a4[1] < 0:
        text = _("Along the line of disagreement the surface is curved downward {a4}: the {out} "
                 "is highest when {x} and {y} agree and falls as their views diverge.")
    else:
        text = _("Along the line of disagreement the surface is curved upward {a4}: the {out} is "
                 "lowest when {x} and {y} agree and rises as their views diverge.")
    return text.format(a4=_cite(a4), out=out, x=xl, y=yl)


def _read_symmetry(a5: tuple[str, float, float], alpha: float) -> str:
    if a5[2] >= alpha:
        return ""
    return _("The curvatures in the two predictors differ {a5}, so the principal axes are tilted "
             "away from the line of agreement.").format(a5=_cite(a5))


def _read_axis(axes: Mapping[str, float]) -> str:
    if not np.isfinite([axes["p10"], axes["p11"]]).all():
        return ""
    return _("The first principal axis is {axis} (point estimates; for a pure agreement effect "
             "it lies on X = Y: intercept 0, slope 1).").format(
                 axis=_line(axes["p10"], axes["p11"], plain=True))
