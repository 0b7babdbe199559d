"""Confirmatory factor analysis: :func:`cfa` and its result, :class:`CFAResult`.

Estimator: maximum likelihood on the item covariances (and means, for a multi-group model), with
lavaan's defaults (see :mod:`helpers.measurement.engine`); rows with a missing answer on any
modelled item are left out (listwise, lavaan's default ``missing = "listwise"``).

Five-point items are treated as continuous. With five or more categories and roughly symmetric
answers ML estimates of loadings are close to those of categorical estimators (Rhemtulla, Brosseau-
Liard & Savalei 2012); the χ² and the standard errors assume multivariate normality, so with
skewed items they are too optimistic. The robust alternative would be ML with Satorra–Bentler /
Huber–White corrections (lavaan's ``MLR``: same estimates, larger standard errors, a scaled χ²
and robust CFI/RMSEA) or WLSMV on polychoric correlations (thresholds instead of intercepts, so
scalar invariance becomes threshold invariance); neither is implemented here, and a report says
so beside the estimator.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.codebook import item_refs
from helpers.errors import DataError, quote
from helpers.i18n import N_, _
from helpers.measurement import engine
from helpers.measurement import spec as specs
from helpers.measurement.fitindices import fit_measures
from helpers.measurement.spec import NotEstimable, Spec
from helpers.measurement.validity import (
    average_variance_extracted,
    composite_reliability,
    fornell_larcker_table,
    htmt_matrix,
)
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

ALL = "all"  # the group label of a single-group model in tidy tables
ESTIMATOR_NOTE = N_(
    "Maximum likelihood (ML) on the items' covariances (and means, across groups), lavaan's "
    "defaults; five-point items treated as continuous; rows with a missing answer left out "
    "(listwise); standard errors from the expected information. A robust alternative (MLR) "
    "would keep these estimates but widen the standard errors and scale the chi-square for "
    "non-normal answers; WLSMV would treat the five points as ordered categories (thresholds "
    "instead of intercepts).")
#: The standard normal's 97.5th percentile, scipy.stats.norm.ppf(0.975) to the last digit
#: (written out: computing it at import would load scipy.stats before a notebook's first cell
#: is done; tests/test_measurement.py checks the two agree).
Z95 = 1.959963984540054


# --------------------------------------------------------------------------- input
def resolve_model(data: pd.DataFrame, model: str | Sequence[str], group: str | None,
                  codebook: Any = None) -> tuple[Spec, pd.DataFrame]:
    """The :class:`Spec` of ``model`` and the data with reverse-keyed codebook items re-keyed.

    A string with ``=~`` is lavaan syntax (codebook items in it are re-keyed only when a
    ``codebook`` is given); anything else names codebook constructs (the default codebook when
    none is given)."""
    if isinstance(model, str) and "=~" in model:
        spec = specs.parse_syntax(model)
        if codebook is not None:
            reverse = tuple(i for i in spec.items if i in codebook.items and codebook.items[i].reverse)
            spec = Spec(spec.factors, spec.covariances, spec.syntax, reverse, spec.notes)
    else:
        if codebook is None:
            from helpers.codebook import load_codebook
            codebook = load_codebook()
        constructs = [model] if isinstance(model, str) else list(model)
        specs.check_columns(data, [group] if group else [], "model's group")
        spec = specs.from_codebook(data, constructs, codebook, group)
    specs.check_columns(data, spec.items + ([group] if group else []))
    if spec.reverse:
        data = specs.rekey(data, spec.reverse, codebook)
    return spec, data


def _numeric(df: pd.DataFrame, items: Sequence[str]) -> pd.DataFrame:
    """The item columns as floats; a value that is not a number is a DataError naming it."""
    out = {}
    for c in items:
        col = df[c]
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & col.notna()
        if bad.any():
            rows = list(np.flatnonzero(bad.to_numpy()) + 1)
            raise DataError(f"item values must be numbers; found {quote(col[bad].iloc[0])}",
                            column=c, rows=rows, rule="measurement-not-numeric",
                            hint="recode the answers to the scale's numbers before a CFA")
        out[c] = num.astype(float)
    return pd.DataFrame(out, index=df.index)


def group_levels(df: pd.DataFrame, group: str, groups: Sequence[Any] | None) -> list[Any]:
    """Group order: as given, else a categorical's order, else order of first appearance (lavaan)."""
    present = df[group].dropna()
    if groups is not None:
        unknown = [g for g in groups if g not in set(present)]
        if unknown:
            raise DataError(f"group(s) {', '.join(map(str, unknown))} do not occur in the data",
                            column=group, rule="measurement-unknown-group",
                            hint=f"groups present: {', '.join(map(str, present.unique()))}")
        return list(groups)
    if isinstance(present.dtype, pd.CategoricalDtype):
        return [c for c in present.cat.categories if (present == c).any()]
    return list(pd.unique(present))


def prepare(data: pd.DataFrame, items: Sequence[str], group: str | None,
            groups: Sequence[Any] | None = None) -> tuple[list[Any], list[pd.DataFrame], list[str]]:
    """Group labels, the listwise-complete item frame of each group and notes on dropped rows."""
    notes: list[str] = []
    frame = _numeric(data, items)
    if group is None:
        labels: list[Any] = [ALL]
        keys = pd.Series(ALL, index=data.index)
    else:
        labels = group_levels(data, group, groups)
        keys = data[group]
        outside = ~keys.isin(labels)
        if outside.any():
            notes.append(_("{n} row(s) outside the groups {groups} (or without a {column}) "
                           "left out").format(n=int(outside.sum()),
                                              groups=", ".join(map(str, labels)), column=group))
    parts, dropped = [], 0
    for g in labels:
        part = frame[(keys == g).to_numpy()]
        complete = part.dropna()
        dropped += len(part) - len(complete)
        parts.append(complete)
    if dropped:
        notes.append(_("{n} row(s) with a missing answer on a modelled item left out (listwise "
                       "deletion, lavaan's default)").format(n=dropped))
    return labels, parts, notes


def moments_of(labels: Sequence[Any], parts: Sequence[pd.DataFrame]) -> list[engine.Moments]:
    """Sample moments per group, after the checks that make ML possible."""
    out = []
    for g, part in zip(labels, parts, strict=True):
        where = "" if g == ALL else " " + _("in group {group}").format(group=g)
        p = part.shape[1]
        if len(part) <= p:
            raise NotEstimable(_("{n} complete row(s){where} for {p} items: a CFA needs more rows "
                                 "than items").format(n=len(part), where=where, p=p))
        x = part.to_numpy(float)
        cov = np.cov(x, rowvar=False, bias=True)
        flat = [c for c, v in zip(part.columns, np.diag(cov), strict=True) if v <= 1e-12]
        if flat:
            raise NotEstimable(_("item(s) {items} have no variance{where} (everyone gave the "
                                 "same answer)").format(items=", ".join(flat), where=where))
        if np.linalg.eigvalsh(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))[0] <= 1e-10:
            raise NotEstimable(_("the item covariance matrix{where} is singular (an item is an "
                                 "exact combination of others)").format(where=where))
        out.append(engine.Moments(len(part), cov, x.mean(axis=0)))
    return out


# --------------------------------------------------------------------------- result
class CFAResult:
    """A fitted CFA. Tidy tables: :attr:`estimates` (every parameter, lavaan's
    ``parameterEstimates`` with ``std.all``), :attr:`loadings`, :attr:`reliability`,
    :attr:`latent_correlations`, :attr:`fornell_larcker`, :attr:`htmt`; :attr:`fit` (a dict);
    :attr:`notes` (Heywood cases, non-convergence, identification, dropped rows and items)."""

    estimator = "ML"
    estimator_note = ESTIMATOR_NOTE

    def __init__(self, est: engine.Estimate, spec: Spec, labels: list[Any],
                 parts: list[pd.DataFrame], equal: Sequence[str], partial: Sequence[str],
                 notes: Sequence[str]) -> None:
        self._est = est
        self.spec = spec
        self.groups = tuple(labels)
        self._parts = parts
        self.equal = tuple(equal)
        self.partial = tuple(partial)
        self.n = {g: len(p) for g, p in zip(labels, parts, strict=True)}
        self.syntax = spec.syntax
        self.converged = est.converged
        self.identified = est.identified
        self.fit = fit_measures(est)
        self.chisq_by_group = dict(zip(labels, est.chisq_by_group, strict=True))
        self.estimates = self._estimates()
        self.notes = tuple(notes) + tuple(self._problems())

    # ------------------------------------------------------------------ tables
    @property
    def usable(self) -> bool:
        """Converged and identified: the numbers are estimates (notes may still flag Heywood cases)."""
        return self.converged and self.identified

    @property
    def factors(self) -> list[str]:
        return list(self._est.model.factors)

    @property
    def items(self) -> list[str]:
        return list(self._est.model.items)

    def _std_values(self, theta: np.ndarray) -> np.ndarray:
        """lavaan's ``std.all`` of every parameter-table row at ``theta``."""
        return self._est.model.standardized(theta)

    def _estimates(self) -> pd.DataFrame:
        est, model = self._est, self._est.model
        se_free = np.sqrt(np.clip(np.diag(est.vcov), 0, None)) if est.identified else \
            np.full(model.nfree, np.nan)
        params = model.params
        index = np.array([prm.free for prm in params], dtype=int)
        free = index >= 0
        value = np.where(free, est.theta[np.where(free, index, 0)] if model.nfree else 0.0,
                         [prm.value for prm in params]).astype(float)
        se = np.where(free, se_free[np.where(free, index, 0)] if model.nfree else np.nan, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(free & (se > 0), value / se, np.nan)
        finite = np.isfinite(z)
        p = np.full(len(params), np.nan)
        if finite.any():
            p[finite] = 2 * stats.norm.sf(np.abs(z[finite]))
        return pd.DataFrame({
            "lhs": [prm.lhs for prm in params], "op": [prm.op for prm in params],
            "rhs": [prm.rhs for prm in params],
            "group": [self.groups[prm.group] for prm in params],
            "label": [prm.label for prm in params], "free": free, "estimate": value,
            "std_error": se, "z": z, "p_value": p,
            "ci_low": np.where(free, value - Z95 * se, np.nan),
            "ci_high": np.where(free, value + Z95 * se, np.nan),
            "std_estimate": np.asarray(self._std_values(est.theta), dtype=float),
        })

    @property
    def loadings(self) -> pd.DataFrame:
        """One row per loading: factor, item, group, estimate, std_error, ci_low, ci_high,
        p_value, std_estimate (fixed marker loadings have no standard error)."""
        e = self.estimates[self.estimates["op"] == "=~"]
        return e.rename(columns={"lhs": "factor", "rhs": "item"})[
            ["factor", "item", "group", "estimate", "std_error", "ci_low", "ci_high", "p_value",
             "std_estimate"]].reset_index(drop=True)

    @property
    def reliability(self) -> pd.DataFrame:
        """Per factor and group: number of items, composite reliability (cr), average variance
        extracted (ave) and its square root, from the standardised solution (a copy: worked out
        once per fit, read by several tables)."""
        return self._reliability.copy()

    @cached_property
    def _reliability(self) -> pd.DataFrame:
        e = self.estimates
        rows = []
        for g in self.groups:
            eg = e[e["group"] == g]
            resid = eg[(eg["op"] == "~~") & eg["lhs"].isin(self.items)]
            for f in self.factors:
                lam = eg[(eg["op"] == "=~") & (eg["lhs"] == f)]
                its = list(lam["rhs"])
                own = resid[(resid["lhs"] == resid["rhs"]) & resid["lhs"].isin(its)]
                var = own.set_index("lhs")["std_estimate"]
                pairs = resid[(resid["lhs"] != resid["rhs"]) & resid["lhs"].isin(its)
                              & resid["rhs"].isin(its)]
                # std.all of a residual covariance is a residual correlation; CR needs it on the
                # items' standardised scale: r · √(θ_ii θ_jj) with θ the standardised variances
                cov = [r.std_estimate * np.sqrt(var[r.lhs] * var[r.rhs]) for r in pairs.itertuples()]
                cr = composite_reliability(lam["std_estimate"], var, cov)
                ave = average_variance_extracted(lam["std_estimate"], var)
                rows.append({"factor": f, "group": g, "n_items": len(its), "cr": cr, "ave": ave,
                             "sqrt_ave": float(np.sqrt(ave)) if ave >= 0 else np.nan})
        return pd.DataFrame(rows, columns=["factor", "group", "n_items", "cr", "ave", "sqrt_ave"])

    @cached_property
    def latent_correlations(self) -> pd.DataFrame:
        """Factor correlations per group with delta-method standard errors and 95 % Wald
        intervals (lavaan's ``standardizedSolution``)."""
        e = self.estimates
        mask = ((e["op"] == "~~") & e["lhs"].isin(self.factors) & (e["lhs"] != e["rhs"])).to_numpy()
        with engine.one_blas_thread():
            se = self._std_errors(np.flatnonzero(mask))
        sub = e[mask]
        out = pd.DataFrame({"factor_1": sub["lhs"].to_numpy(), "factor_2": sub["rhs"].to_numpy(),
                            "group": sub["group"].to_numpy(),
                            "estimate": sub["std_estimate"].to_numpy(), "std_error": se})
        out["ci_low"] = out["estimate"] - Z95 * out["std_error"]
        out["ci_high"] = out["estimate"] + Z95 * out["std_error"]
        return out

    def _std_errors(self, rows: np.ndarray) -> np.ndarray:
        """Delta-method standard errors of the std.all values of parameter-table ``rows``."""
        est = self._est
        if len(rows) == 0 or not est.identified:
            return np.full(len(rows), np.nan)
        theta = est.theta
        jac = np.zeros((len(rows), len(theta)))
        base = self._std_values(theta)[rows]
        for k in range(len(theta)):
            h = 1e-6 * max(1.0, abs(theta[k]))
            up = theta.copy()
            up[k] += h
            jac[:, k] = (self._std_values(up)[rows] - base) / h
        return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, est.vcov, jac), 0, None))

    @property
    def fornell_larcker(self) -> pd.DataFrame:
        """√AVE against the largest absolute latent correlation, per factor and group."""
        return fornell_larcker_table(self.reliability, self.latent_correlations)

    @cached_property
    def htmt(self) -> pd.DataFrame:
        """HTMT per pair of factors and group, from the same (listwise) data as the CFA."""
        frames = []
        for g, part in zip(self.groups, self._parts, strict=True):
            table = htmt_matrix(part.corr(), {f: [t.name for t in terms]
                                              for f, terms in self.spec.factors.items()})
            table.insert(2, "group", g)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    def score_tests(self, names: Iterable[str]) -> dict[str, float]:
        """Score tests (modification indices) for releasing the cross-group equality of each
        named parameter (lavaan names, e.g. ``"x3~1"``), as ``lavaan::lavTestScore``."""
        with engine.one_blas_thread():
            return engine.release_score_tests(self._est, list(names))

    # ------------------------------------------------------------------ notes
    def _problems(self) -> list[str]:
        out = []
        est = self._est

        def where(g: Any) -> str:
            return "" if g == ALL else " " + _("in group {group}").format(group=g)

        if est.diverged is not None:
            g, k = est.diverged
            out.append(_("the estimation did not converge: the residual variance of {item} "
                         "ran below {times} times its observed variance{where}, offset by an "
                         "ever larger common part (no admissible solution exists in these "
                         "data): the numbers are not maximum-likelihood estimates").format(
                item=item_refs([est.model.items[k]]),
                times=i18n.number(engine.DIVERGED_RESIDUAL, 0),
                where=where(self.groups[g])))
        elif not est.converged:
            out.append(_("the estimation did not converge ({reason}): the numbers are not "
                         "maximum-likelihood estimates").format(
                reason=est.message or _("unknown reason")))
        if not est.identified:
            out.append(_("the model is not identified in these data (singular information "
                         "matrix): no standard errors; estimates are not unique"))
        e = self.estimates
        # each check selects its rows first (iterating over every estimate costs ~30 ms a fit)
        op, lhs, rhs = e["op"].to_numpy(), e["lhs"].to_numpy(), e["rhs"].to_numpy()
        value, std = e["estimate"].to_numpy(float), e["std_estimate"].to_numpy(float)
        group = e["group"].to_numpy()
        factors = set(self.factors)
        for k in np.flatnonzero((op == "~~") & (lhs == rhs) & (value < 0)):
            text = (_("Heywood case: negative factor variance of {name} ({value})")
                    if lhs[k] in factors else
                    _("Heywood case: negative residual variance of {name} ({value})"))
            out.append(text.format(name=lhs[k], value=i18n.number(value[k], 3)) + where(group[k]))
        loads = op == "=~"
        for k in np.flatnonzero(loads & (np.abs(std) > 1)):
            out.append(_("Heywood case: standardised loading of {item} on {factor} is "
                         "{value} (beyond ±1)").format(
                item=rhs[k], factor=lhs[k], value=i18n.number(std[k], 3)) + where(group[k]))
        signs: dict[tuple[Any, Any], set[bool]] = {}  # (factor, group) in order of appearance
        for k in np.flatnonzero(loads):
            seen = signs.setdefault((lhs[k], group[k]), set())
            if value[k] != 0:
                seen.add(bool(value[k] > 0))
        for f, g in [key for key, seen in signs.items() if len(seen) == 2]:
            out.append(_("items of {factor} load in opposite directions{where}: re-key "
                         "reverse-worded items (composite reliability and AVE assume one "
                         "direction)").format(factor=f, where=where(g)))
        latent = (op == "~~") & np.isin(lhs, list(factors)) & (lhs != rhs)
        for k in np.flatnonzero(latent & (np.abs(std) > 1)):
            out.append(_("Heywood case: latent correlation of {a} and {b} is {value} (beyond "
                         "±1)").format(a=lhs[k], b=rhs[k], value=i18n.number(std[k], 3))
                       + where(group[k]))
        return out

    def __repr__(self) -> str:
        f = self.fit
        return (f"CFAResult(ML, n={f['n']}, groups={len(self.groups)}, chisq={f['chisq']:.3f}, "
                f"df={f['df']}, cfi={f['cfi']:.3f}, rmsea={f['rmsea']:.3f}, srmr={f['srmr']:.3f}"
                f"{', not converged' if not self.converged else ''})")


# --------------------------------------------------------------------------- cfa()
@dataclass(frozen=True)
class Prepared:
    """A model's inputs, resolved once: the spec, the group labels, each group's listwise-complete
    item frame, their moments and the notes on items and rows. The fits of one invariance ladder
    (configural, metric, scalar, strict and every partial trial) share them: only the
    constraints differ."""

    spec: Spec
    labels: list[Any]
    parts: list[pd.DataFrame]
    moments: list[Any]
    notes: tuple[str, ...]
    group: str | None


def prepare_model(data: pd.DataFrame, model: str | Sequence[str], group: str | None = None, *,
                  groups: Sequence[Any] | None = None, codebook: Any = None) -> Prepared:
    """The inputs of :func:`cfa` (same arguments and errors), ready for any constraints."""
    spec, frame = resolve_model(data, model, group, codebook)
    id_notes, reason = specs.identification_notes(spec)
    if reason:
        raise NotEstimable(reason)
    labels, parts, notes = prepare(frame, spec.items, group, groups)
    if group is not None and len(labels) < 2:
        raise NotEstimable(f"a multi-group model needs two groups; {group} has "
                           f"{len(labels)} in these data")
    if spec.reverse:
        notes.append(_("reverse-keyed item(s) re-keyed before fitting: {items}").format(
            items=item_refs(spec.reverse)))
    return Prepared(spec, labels, parts, moments_of(labels, parts),
                    tuple(list(spec.notes) + notes + id_notes), group)


def cfa(data: pd.DataFrame, model: str | Sequence[str], group: str | None = None,
        equal: Sequence[str] | str = (), *, partial: Sequence[str] = (),
        groups: Sequence[Any] | None = None, codebook: Any = None,
        start: CFAResult | None = None, prepared: Prepared | None = None) -> CFAResult:
    """Fit a confirmatory factor model by maximum likelihood, with lavaan's defaults.

    ``model`` is lavaan-style syntax (``"trust =~ trust_1 + trust_2 + trust_3"``) or a list of
    codebook construct ids (the syntax is then derived from the codebook: see
    :func:`helpers.measurement.spec.from_codebook`). ``group`` names a column for a multi-group
    model (groups in the order of ``groups``, else of first appearance); ``equal`` takes any of
    ``"loadings"``, ``"intercepts"``, ``"residuals"`` (and ``"residual.covariances"``,
    ``"lv.variances"``, ``"lv.covariances"``, ``"means"``) as lavaan's ``group.equal``, and
    ``partial`` the parameters exempted, as ``group.partial`` (``"visual=~x2"``, ``"x7~1"``).
    ``prepared`` (from :func:`prepare_model` with the same data, model, group and groups) skips
    resolving and preparing the data again.

    Raises :class:`NotEstimable` (with a reason in words) when the data cannot support the model
    and :class:`helpers.errors.DataError` for unusable input; Heywood cases, non-convergence and
    weak identification are kept as :attr:`CFAResult.notes`.
    """
    equal = (equal,) if isinstance(equal, str) else tuple(equal)
    if equal and group is None:
        raise ValueError("equal= constrains parameters across groups: give group= as well")
    if prepared is None:
        prepared = prepare_model(data, model, group, groups=groups, codebook=codebook)
    elif prepared.group != group:
        raise ValueError(f"prepared for group {prepared.group!r}, fitted with {group!r}")
    spec, labels, moments = prepared.spec, prepared.labels, prepared.moments
    model_ = engine.build_model(spec, spec.items, moments, equal, partial)
    df = (len(labels) * (len(spec.items) * (len(spec.items) + 1) // 2
                         + (len(spec.items) if model_.meanstructure else 0)) - model_.nfree)
    if df < 0:
        raise NotEstimable(f"the model has {model_.nfree} free parameters for "
                           f"{model_.nfree + df} sample moments (df = {df}): not identified")
    theta0 = _start_from(model_, start) if start is not None else None
    with engine.one_blas_thread():
        est = engine.estimate(model_, moments, theta0)
        return CFAResult(est, spec, labels, prepared.parts, equal, partial, prepared.notes)


def _start_from(model: engine.Model, previous: CFAResult) -> np.ndarray:
    """Start values from a previous fit of a nested model (same rows by name and group)."""
    prev = previous._est
    values = {(p.name, p.group): (prev.theta[p.free] if p.free >= 0 else p.value)
              for p in prev.model.params}
    theta = model.start()
    counts = np.zeros(model.nfree)
    acc = np.zeros(model.nfree)
    for p in model.free_entries:
        if (p.name, p.group) in values:
            acc[p.free] += values[(p.name, p.group)]
            counts[p.free] += 1
    has = counts > 0
    theta[has] = acc[has] / counts[has]
    return theta
