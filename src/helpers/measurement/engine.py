"""Maximum-likelihood estimation of a (multi-group) confirmatory factor model, as lavaan does it.

Model per group g (LISREL all-y notation):  Σ_g = Λ_g Φ_g Λ_g' + Θ_g,  μ_g = ν_g + Λ_g α_g.

* Fit function: lavaan's ML with ``likelihood = "normal"``: sample covariances with divisor N and
  T = Σ_g N_g [log|Σ_g| + tr(S_g Σ_g⁻¹) − log|S_g| − p + (m_g − μ_g)' Σ_g⁻¹ (m_g − μ_g)], so
  the chi-square is N·F (not N−1) and a multi-group chi-square is the sum over groups.
* Identification: the first loading of each factor is fixed to 1 in every group (lavaan's
  marker variable, ``auto.fix.first``); factor variances and covariances are free.
* Mean structure: only for multi-group models (as lavaan's ``cfa(group = )``); intercepts are
  free per group and latent means fixed to 0, except that with equal intercepts the latent means
  are free in every group but the first (as lavaan does under ``group.equal = "intercepts"``).
* Equality constraints (lavaan's ``group.equal``/``group.partial`` and labels) are one shared
  free parameter, so the information matrix is that of the reduced model.
* Optimiser: Fisher scoring with a backtracking line search, then BFGS started from the scoring
  matrix, to a gradient of 1e-9 per observation (at least as tight as lavaan's nlminb, so the
  estimates agree with lavaan's to printed precision; where lavaan stops earlier on a flat
  likelihood, our χ² is the lower one).
* Standard errors: the inverse of the expected (Fisher) information at the estimates with the
  structured (model-implied) moments, lavaan's default ``information = "expected"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers.measurement.spec import NotEstimable, Spec

GROUP_EQUAL = ("loadings", "intercepts", "residuals", "residual.covariances", "lv.variances",
               "lv.covariances", "means")
MATRICES = ("lambda", "phi", "theta", "nu", "alpha")


@dataclass(frozen=True)
class Param:
    """One row of the parameter table (lavaan's partable): where it sits and whether it is free."""

    op: str            # "=~", "~~" or "~1"
    lhs: str
    rhs: str
    group: int
    matrix: str        # one of MATRICES
    row: int
    col: int
    free: int          # index into the free-parameter vector, -1 when fixed
    value: float       # the fixed value (fixed parameters) or the start value
    label: str = ""

    @property
    def name(self) -> str:
        """lavaan's name of the parameter (``visual=~x2``, ``x1~~x1``, ``x3~1``)."""
        return f"{self.lhs}{self.op}{self.rhs}"


@dataclass(frozen=True)
class Moments:
    """Sample moments of one group: n, the covariance matrix with divisor n, the means."""

    n: int
    cov: np.ndarray
    mean: np.ndarray


@dataclass
class Model:
    """A parameter table over ``items`` and ``factors`` for ``ngroups`` groups."""

    items: list[str]
    factors: list[str]
    params: list[Param]
    ngroups: int
    meanstructure: bool
    nfree: int = field(init=False)

    def __post_init__(self) -> None:
        self.nfree = 1 + max((p.free for p in self.params), default=-1)
        self._index()

    def _index(self) -> None:
        free = [p for p in self.params if p.free >= 0]
        self._free_entries = free
        self._entry_param = np.array([p.free for p in free], dtype=int)
        # the mapping entry -> parameter (an E x q 0/1 matrix)
        self.entry_map = np.zeros((len(free), self.nfree))
        self.entry_map[np.arange(len(free)), self._entry_param] = 1.0
        # per (group, matrix): rows, columns, source (free index or -1) and fixed values
        self._slots: dict[tuple[int, str], tuple[np.ndarray, ...]] = {}
        self._positions: dict[tuple[int, str], np.ndarray] = {}
        for g in range(self.ngroups):
            for mat in MATRICES:
                sel = [p for p in self.params if p.group == g and p.matrix == mat]
                self._positions[(g, mat)] = np.array(
                    [k for k, p in enumerate(self.params) if p.group == g and p.matrix == mat], dtype=int)
                self._slots[(g, mat)] = (
                    np.array([p.row for p in sel], dtype=int), np.array([p.col for p in sel], dtype=int),
                    np.array([p.free for p in sel], dtype=int), np.array([p.value for p in sel], float))
        self._flat_layout()
        self._group_entries = [[e for e, prm in enumerate(free) if prm.group == g]
                               for g in range(self.ngroups)]
        # per (group, matrix) of the free entries: rows, cols, parameter, weight (2 off-diagonal)
        self._grad_slots: dict[tuple[int, str], tuple[np.ndarray, ...]] = {}
        for g in range(self.ngroups):
            for mat in MATRICES:
                sel = [p for p in free if p.group == g and p.matrix == mat]
                weight = [2.0 if mat in ("phi", "theta") and p.row != p.col else 1.0 for p in sel]
                self._grad_slots[(g, mat)] = (
                    np.array([p.row for p in sel], dtype=int), np.array([p.col for p in sel], dtype=int),
                    np.array([p.free for p in sel], dtype=int), np.array(weight))

    @property
    def free_entries(self) -> list[Param]:
        return self._free_entries

    def start(self) -> np.ndarray:
        """Start values of the free parameters (equal parameters: the mean of their starts)."""
        theta = np.zeros(self.nfree)
        counts = np.zeros(self.nfree)
        for p in self._free_entries:
            theta[p.free] += p.value
            counts[p.free] += 1
        return theta / np.maximum(counts, 1)

    def _flat_layout(self) -> None:
        """Where each matrix of each group sits in one flat buffer, the buffer with every fixed
        value in place, and the buffer positions of the free entries (a symmetric entry twice)
        with their parameters: :meth:`matrices` then costs one copy and one assignment."""
        p, m = len(self.items), len(self.factors)
        shapes = {"lambda": (p, m), "phi": (m, m), "theta": (p, p), "nu": (p,), "alpha": (m,)}
        self._layout: list[dict[str, tuple[int, tuple[int, ...]]]] = []
        offset = 0
        for _g in range(self.ngroups):
            where = {}
            for mat, shape in shapes.items():
                where[mat] = (offset, shape)
                offset += int(np.prod(shape))
            self._layout.append(where)
        template = np.zeros(offset)
        dst: list[int] = []
        src: list[int] = []
        for g in range(self.ngroups):
            for mat in MATRICES:
                start, shape = self._layout[g][mat]
                rows, cols, free, fixed = self._slots[(g, mat)]
                if len(shape) == 1:
                    places = [start + rows]
                else:
                    places = [start + rows * shape[1] + cols]
                    if mat in ("phi", "theta"):
                        places.append(start + cols * shape[1] + rows)
                for pos in places:
                    template[pos[free < 0]] = fixed[free < 0]
                    dst.extend(pos[free >= 0].tolist())
                    src.extend(free[free >= 0].tolist())
        self._template = template
        self._dst = np.array(dst, dtype=int)
        self._src = np.array(src, dtype=int)

    def matrices(self, theta: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Λ, Φ, Θ, ν, α of each group at ``theta``."""
        buf = self._template.copy()
        if len(self._dst):
            buf[self._dst] = np.asarray(theta, float)[self._src]
        return [{mat: buf[start:start + int(np.prod(shape))].reshape(shape)
                 for mat, (start, shape) in where.items()} for where in self._layout]

    def implied(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Model-implied covariance matrix and means of each group."""
        res = []
        for mats in self.matrices(theta):
            lam = mats["lambda"]
            sigma = lam @ mats["phi"] @ lam.T + mats["theta"]
            res.append((sigma, mats["nu"] + lam @ mats["alpha"]))
        return res

    def entry_jacobian(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per group: the free entries of that group (their indices among all free entries) and
        the derivatives of Σ_g (E_g x p x p) and μ_g (E_g x p) with respect to each entry."""
        p = len(self.items)
        mats = self.matrices(theta)
        out = []
        for g in range(self.ngroups):
            lam, phi, alpha = mats[g]["lambda"], mats[g]["phi"], mats[g]["alpha"]
            lam_phi = lam @ phi
            idx = self._group_entries[g]
            d_sigma = np.zeros((len(idx), p, p))
            d_mu = np.zeros((len(idx), p))
            for k, e in enumerate(idx):
                prm = self._free_entries[e]
                r, c = prm.row, prm.col
                if prm.matrix == "lambda":
                    v = lam_phi[:, c]
                    d_sigma[k, r, :] += v
                    d_sigma[k, :, r] += v
                    d_mu[k, r] += alpha[c]
                elif prm.matrix == "phi":
                    a, b = lam[:, r], lam[:, c]
                    d_sigma[k] += np.outer(a, b) if r == c else np.outer(a, b) + np.outer(b, a)
                elif prm.matrix == "theta":
                    d_sigma[k, r, c] += 1.0
                    if r != c:
                        d_sigma[k, c, r] += 1.0
                elif prm.matrix == "nu":
                    d_mu[k, r] += 1.0
                else:  # alpha
                    d_mu[k] += lam[:, r]
            out.append((np.array(idx, dtype=int), d_sigma, d_mu))
        return out

    def standardized(self, theta: np.ndarray) -> np.ndarray:
        """lavaan's ``std.all`` value of every parameter-table row: loadings λσ_f/σ_x, factor
        (co)variances as correlations, residual variances and intercepts over the implied item
        variances / SDs, residual covariances as residual correlations, latent means over the
        factor SDs."""
        out = np.full(len(self.params), np.nan)
        for g, (mats, (sigma, _)) in enumerate(zip(self.matrices(theta), self.implied(theta), strict=True)):
            with np.errstate(invalid="ignore", divide="ignore"):
                ov, lv = np.sqrt(np.diag(sigma)), np.sqrt(np.diag(mats["phi"]))
                for mat in MATRICES:
                    rows, cols, _, _ = self._slots[(g, mat)]
                    pos = self._positions[(g, mat)]
                    if not len(pos):
                        continue
                    if mat == "lambda":
                        value = mats[mat][rows, cols] * lv[cols] / ov[rows]
                    elif mat == "phi":
                        value = mats[mat][rows, cols] / (lv[rows] * lv[cols])
                    elif mat == "theta":  # residual covariances as residual correlations
                        th = mats[mat]
                        value = np.where(rows == cols, th[rows, cols] / (ov[rows] * ov[cols]),
                                         th[rows, cols] / np.sqrt(th[rows, rows] * th[cols, cols]))
                    elif mat == "nu":
                        value = mats[mat][rows] / ov[rows]
                    else:
                        value = mats[mat][rows] / lv[rows]
                    out[pos] = value
        return out


#: the threadpoolctl controller and the number of imported modules when it was made
_THREADPOOLS: dict[str, Any] = {}


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread: the matrices here are small (tens to a few
    hundred rows), for which threads cost more than they bring, and reports render in parallel
    processes that would otherwise oversubscribe the cores (measured: 3x faster under load).

    The controller that finds the loaded BLAS libraries (threadpoolctl scans the process's
    libraries: ~8 ms, per CFA fit) is kept while no module has been imported since it was made;
    an import may have loaded another BLAS (scipy's own), and then it is made again."""
    import sys

    if _THREADPOOLS.get("modules") != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _THREADPOOLS["controller"] = ThreadpoolController()
        _THREADPOOLS["modules"] = len(sys.modules)
    return _THREADPOOLS["controller"].limit(limits=1, user_api="blas")


# --------------------------------------------------------------------------- building
def _factor_starts(mom: Moments, items: list[str], spec: Spec) -> dict[str, dict]:
    """Start values from one-factor principal-axis loadings of each factor's items."""
    cov = mom.cov
    sd = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    corr = cov / np.outer(sd, sd)
    pos = {it: i for i, it in enumerate(items)}
    starts: dict[str, dict] = {}
    for f, terms in spec.factors.items():
        idx = [pos[t.name] for t in terms]
        sub = corr[np.ix_(idx, idx)]
        if len(idx) >= 3:
            try:
                smc = 1.0 - 1.0 / np.diag(np.linalg.inv(sub))
            except np.linalg.LinAlgError:
                smc = np.full(len(idx), 0.5)
        else:
            smc = np.full(len(idx), abs(sub[0, 1]) if len(idx) == 2 else 0.5)
        reduced = sub.copy()
        np.fill_diagonal(reduced, np.clip(smc, 0.05, 0.98))
        vals, vecs = np.linalg.eigh(reduced)
        load = vecs[:, -1] * np.sqrt(max(vals[-1], 1e-6))
        if load[0] < 0:
            load = -load
        load = np.sign(load) * np.clip(np.abs(load), 0.2, 0.95)
        load[load == 0] = 0.2
        starts[f] = {"std": load, "unstd": load * sd[idx], "idx": idx}
    return starts


def build_model(spec: Spec, items: list[str], moments: Sequence[Moments],
                equal: Sequence[str] = (), partial: Sequence[str] = ()) -> Model:
    """The parameter table of ``spec`` for the groups' ``moments`` (lavaan's defaults, see the
    module docstring), with ``equal`` constraints across groups except those named in
    ``partial`` (lavaan names: ``"visual=~x2"``, ``"x7~1"``, ``"x1~~x1"``)."""
    unknown = sorted(set(equal) - set(GROUP_EQUAL))
    if unknown:
        raise ValueError(f"equal= takes {', '.join(GROUP_EQUAL)}; not {', '.join(unknown)}")
    ngroups = len(moments)
    meanstructure = ngroups > 1
    if spec.labelled and ngroups > 1:
        raise ValueError("labels are supported in single-group models only; constrain "
                         "parameters across groups with equal= (and free some with partial=)")
    factors = list(spec.factors)
    pos = {it: i for i, it in enumerate(items)}
    fpos = {f: k for k, f in enumerate(factors)}
    partial = {"".join(str(n).split()) for n in partial}  # "x3 ~ 1" is "x3~1", as in lavaan
    params: list[Param] = []
    shared: dict[tuple, int] = {}
    counter = [0]

    def new_free(key: tuple | None) -> int:
        if key is not None and key in shared:
            return shared[key]
        counter[0] += 1
        if key is not None:
            shared[key] = counter[0] - 1
        return counter[0] - 1

    def add(op: str, lhs: str, rhs: str, g: int, matrix: str, row: int, col: int,
            fixed: float | None, start: float, kind: str | None, label: str | None = None) -> None:
        name = f"{lhs}{op}{rhs}"
        if fixed is not None:
            params.append(Param(op, lhs, rhs, g, matrix, row, col, -1, float(fixed), label or ""))
            return
        if label:
            key: tuple | None = ("label", label)
        elif kind is not None and kind in equal and name not in partial:
            key = (kind, name)
        else:
            key = None
        params.append(Param(op, lhs, rhs, g, matrix, row, col, new_free(key), float(start),
                            label or ""))

    # user (co)variances by kind
    cov_terms: dict[tuple[str, str], object] = {}
    for lhs, t in spec.covariances:
        a, b = (lhs, t.name)
        for name in (a, b):
            if name not in fpos and name not in pos:
                raise ValueError(f"'{a} ~~ {b}': {name} is neither a factor nor an item of the model")
        if (a in fpos) != (b in fpos):
            raise ValueError(f"'{a} ~~ {b}': a covariance between a factor and an item is not a "
                             "measurement-model parameter")
        order = fpos if a in fpos else pos
        cov_terms[(a, b) if order[a] <= order[b] else (b, a)] = t

    for g, mom in enumerate(moments):
        starts = _factor_starts(mom, items, spec)
        fvar: dict[str, float] = {}
        # loadings
        for f, terms in spec.factors.items():
            st = starts[f]
            marker_fixed = None
            first = terms[0]
            if first.fixed is not None:
                marker_fixed = first.fixed
            elif not first.free:
                marker_fixed = 1.0
            var_term = cov_terms.get((f, f))
            if marker_fixed not in (None, 0.0):
                scale = st["unstd"][0] / marker_fixed
            elif var_term is not None and getattr(var_term, "fixed", None):
                scale = float(np.sqrt(var_term.fixed))
            else:
                scale = st["unstd"][0]
            fvar[f] = scale ** 2
            for j, t in enumerate(terms):
                fixed = t.fixed if t.fixed is not None else (1.0 if j == 0 and not t.free else None)
                add("=~", f, t.name, g, "lambda", pos[t.name], fpos[f], fixed,
                    st["unstd"][j] / scale, "loadings", t.label)
        # factor (co)variances
        scores = {}
        cov = mom.cov
        for f, st in starts.items():
            w = np.zeros(len(items))
            w[st["idx"]] = np.sign(st["std"]) / np.sqrt(np.clip(np.diag(cov)[st["idx"]], 1e-12, None))
            scores[f] = w
        for a in factors:
            for b in factors[fpos[a]:]:
                t = cov_terms.get((a, b))
                if a == b:
                    start = fvar[a]
                    kind = "lv.variances"
                else:
                    wa, wb = scores[a], scores[b]
                    denom = np.sqrt((wa @ cov @ wa) * (wb @ cov @ wb))
                    r = (wa @ cov @ wb) / denom if denom > 0 else 0.0
                    start = 0.8 * r * np.sqrt(fvar[a] * fvar[b])
                    kind = "lv.covariances"
                add("~~", a, b, g, "phi", fpos[a], fpos[b], getattr(t, "fixed", None), start,
                    kind, getattr(t, "label", None))
        # residual variances and covariances
        implied_common = {}
        for st in starts.values():
            for j, i in enumerate(st["idx"]):
                implied_common[i] = implied_common.get(i, 0.0) + st["unstd"][j] ** 2
        for it in items:
            i = pos[it]
            t = cov_terms.get((it, it))
            start = max(cov[i, i] - implied_common.get(i, 0.0), 0.1 * cov[i, i])
            add("~~", it, it, g, "theta", i, i, getattr(t, "fixed", None), start, "residuals",
                getattr(t, "label", None))
        for (a, b), t in cov_terms.items():
            if a in pos and a != b:
                add("~~", a, b, g, "theta", pos[a], pos[b], t.fixed, 0.0, "residual.covariances",
                    t.label)
        # intercepts and latent means
        if meanstructure:
            for it in items:
                add("~1", it, "", g, "nu", pos[it], 0, None, mom.mean[pos[it]], "intercepts")
            for f in factors:
                free_mean = ("intercepts" in equal and g > 0 and "means" not in equal)
                add("~1", f, "", g, "alpha", fpos[f], 0, None if free_mean else 0.0, 0.0,
                    None)
    unmatched = sorted(partial - {p.name for p in params})
    if unmatched:
        raise ValueError(f"partial= names no parameter of the model: {', '.join(unmatched)} "
                         "(lavaan names: 'factor=~item', 'item~1', 'item~~item')")
    return Model(items, factors, params, ngroups, meanstructure)


# --------------------------------------------------------------------------- estimation
@dataclass
class Estimate:
    """The result of :func:`estimate`: parameters, their covariance matrix, fit value, status."""

    model: Model
    moments: list[Moments]
    theta: np.ndarray
    vcov: np.ndarray
    chisq: float
    chisq_by_group: list[float]
    converged: bool
    iterations: int
    identified: bool
    message: str = ""
    #: (group index, item index) of the residual variance that ran off (see :func:`_diverging`)
    diverged: tuple[int, int] | None = None


def _group_terms(sigma: np.ndarray, mu: np.ndarray, mom: Moments, meanstructure: bool
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
    """F_g, Σ⁻¹, Ω = Σ⁻¹ − Σ⁻¹(S + dd')Σ⁻¹ and Σ⁻¹d (or None when Σ is not positive definite)."""
    try:
        chol = np.linalg.cholesky(sigma)
        # a Σ that passes Cholesky can still be too ill-conditioned to invert (which LAPACK kernel
        # decides differs between CPUs): that trial point is treated as outside the admissible set
        inv = np.linalg.inv(sigma)
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(inv).all():
        return None
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    sign, logdet_s = np.linalg.slogdet(mom.cov)
    d = (mom.mean - mu) if meanstructure else np.zeros_like(mu)
    inv_d = inv @ d
    f = logdet + np.trace(mom.cov @ inv) - logdet_s - len(mu) + d @ inv_d
    omega = inv - inv @ (mom.cov + np.outer(d, d)) @ inv
    return float(f), inv, omega, inv_d


def objective(model: Model, moments: Sequence[Moments], theta: np.ndarray) -> tuple[float, list[float]]:
    """The ML discrepancy in chi-square units (Σ_g N_g F_g) and its per-group parts."""
    parts = []
    for (sigma, mu), mom in zip(model.implied(theta), moments, strict=True):
        terms = _group_terms(sigma, mu, mom, model.meanstructure)
        if terms is None:
            return np.inf, []
        parts.append(mom.n * terms[0])
    return float(sum(parts)), parts


def gradient_information(model: Model, moments: Sequence[Moments], theta: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per free *entry* (not yet summed over equal parameters): the gradient of Σ_g N_g F_g and
    the expected information (in log-likelihood units, i.e. lavaan's N-weighted Fisher
    information), evaluated at the model-implied moments."""
    nent = len(model.free_entries)
    grad = np.zeros(nent)
    info = np.zeros((nent, nent))
    for (idx, d_sigma, d_mu), (sigma, mu), mom in zip(
            model.entry_jacobian(theta), model.implied(theta), moments, strict=True):
        if len(idx) == 0:
            continue
        terms = _group_terms(sigma, mu, mom, model.meanstructure)
        if terms is None:
            raise np.linalg.LinAlgError("the implied covariance matrix is not positive definite")
        _, inv, omega, inv_d = terms
        q = len(idx)
        # the same sums as einsum("kij,ij->k") and einsum("ij,kjl->kil"), as BLAS products
        grad[idx] = mom.n * (d_sigma.reshape(q, -1) @ omega.ravel() - 2.0 * d_mu @ inv_d)
        a = np.matmul(inv, d_sigma)
        block = 0.5 * a.reshape(q, -1) @ a.transpose(0, 2, 1).reshape(q, -1).T
        if model.meanstructure:
            block += d_mu @ inv @ d_mu.T
        info[np.ix_(idx, idx)] = mom.n * block
    return grad, info


def _solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, rhs, rcond=None)[0]


def _is_singular(info: np.ndarray) -> bool:
    d = np.sqrt(np.clip(np.diag(info), 1e-300, None))
    scaled = info / np.outer(d, d)
    eig = np.linalg.eigvalsh((scaled + scaled.T) / 2)
    return bool(eig[0] < 1e-9 * max(eig[-1], 1.0)) or bool(np.any(np.diag(info) <= 0))


def gradient(model: Model, moments: Sequence[Moments], theta: np.ndarray) -> np.ndarray:
    """The gradient of Σ_g N_g F_g with respect to the free parameters, in closed form:
    ∂/∂Λ = 2ΩΛΦ − 2(Σ⁻¹d)α', ∂/∂Φ = Λ'ΩΛ, ∂/∂Θ = Ω, ∂/∂ν = −2Σ⁻¹d, ∂/∂α = −2Λ'Σ⁻¹d
    (off-diagonal elements of the symmetric Φ and Θ count twice)."""
    grads = []
    for mats, (sigma, mu), mom in zip(model.matrices(theta), model.implied(theta), moments, strict=True):
        terms = _group_terms(sigma, mu, mom, model.meanstructure)
        if terms is None:
            raise np.linalg.LinAlgError("the implied covariance matrix is not positive definite")
        _, _, omega, inv_d = terms
        lam, phi, alpha = mats["lambda"], mats["phi"], mats["alpha"]
        grads.append({k: mom.n * v for k, v in {
            "lambda": 2.0 * omega @ lam @ phi - 2.0 * np.outer(inv_d, alpha),
            "phi": lam.T @ omega @ lam, "theta": omega,
            "nu": -2.0 * inv_d, "alpha": -2.0 * lam.T @ inv_d}.items()})
    out = np.zeros(model.nfree)
    for g, grad in enumerate(grads):
        for mat, values in grad.items():
            rows, cols, src, weight = model._grad_slots[(g, mat)]
            if len(src):
                picked = values[rows] if values.ndim == 1 else values[rows, cols]
                np.add.at(out, src, weight * picked)
    return out


def _line_search(model: Model, moments: Sequence[Moments], theta: np.ndarray, value: float,
                 grad: np.ndarray, step: np.ndarray, t: float = 1.0
                 ) -> tuple[np.ndarray, float, list[float], float] | None:
    """Backtracking (Armijo) along ``step`` from the step length ``t``: the new point, its
    objective and parts, and the accepted length; None when no decrease is possible. Close to
    the optimum the decrease falls below the rounding error of the objective, so a step that does
    not raise it by more than that error counts as a decrease."""
    slope = grad @ step
    noise = 1e-11 * max(1.0, abs(value))
    while t > 1e-12:
        new = theta + t * step
        new_value, parts = objective(model, moments, new)
        if np.isfinite(new_value) and new_value <= value + max(1e-4 * t * slope, 0.0) + (
                noise if -slope < noise else 0.0):
            return new, new_value, parts, t
        t /= 2.0
    return None


#: gradient size (per observation) below which quasi-Newton steps take over from scoring: after
#: the first scoring step or two. Each scoring step computes the expected information (the costly
#: part of an iteration for the whole model's 300+ parameters); BFGS, started from the scoring
#: matrix, needs more but far cheaper iterations and reaches the same optimum (chi-square equal
#: to 1e-12 relative on 220 fits of the sample and its segments; 11.2 s -> 6.9 s for them), and
#: a failed BFGS step falls back to scoring
BFGS_FROM = 1.0

#: a residual variance below this multiple of its item's observed variance (in any group) marks
#: estimates that run off to infinity: no admissible solution exists, and the loop stops there
DIVERGED_RESIDUAL = -10.0


def _diverging(model: Model, moments: Sequence[Moments], theta: np.ndarray
               ) -> tuple[int, int] | None:
    """Where the estimates are running away: (group, item) of a residual variance far below
    minus its item's observed variance (offset by an ever larger common part), or None."""
    for g, (mats, mom) in enumerate(zip(model.matrices(theta), moments, strict=True)):
        ratio = np.diag(mats["theta"]) / np.maximum(np.diag(mom.cov), 1e-12)
        k = int(np.argmin(ratio))
        if ratio[k] < DIVERGED_RESIDUAL:
            return g, k
    return None


def estimate(model: Model, moments: Sequence[Moments], start: np.ndarray | None = None,
             max_iter: int = 500, tol: float = 1e-9) -> Estimate:
    """Minimise Σ_g N_g F_g — Fisher scoring far from the optimum (gradient per observation
    above :data:`BFGS_FROM`), then quasi-Newton (BFGS) steps started from the scoring matrix 2·J
    (superlinear where scoring is only linear) — to a gradient below ``tol`` per observation;
    standard errors from the expected information at the estimates."""
    moments = list(moments)
    ntotal = sum(m.n for m in moments)
    theta = model.start() if start is None else np.asarray(start, float).copy()
    value, parts = objective(model, moments, theta)
    if not np.isfinite(value):
        theta = _feasible_start(model, moments, theta)
        value, parts = objective(model, moments, theta)
    m = model.entry_map
    converged, message, it, last_t = False, "", 0, 1.0
    diverged: tuple[int, int] | None = None
    inv_hess: np.ndarray | None = None  # BFGS approximation of the inverse Hessian
    try:
        grad = gradient(model, moments, theta)
    except np.linalg.LinAlgError as exc:
        grad, message = np.full(model.nfree, np.nan), str(exc)
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        if not np.all(np.isfinite(grad)):
            message = message or "the gradient is not finite"
            break
        size = np.max(np.abs(grad)) / ntotal if len(grad) else 0.0
        if size < tol:
            converged = True
            break
        moved = None
        if inv_hess is None or size >= BFGS_FROM:
            _, j_e = gradient_information(model, moments, theta)
            scoring = 2.0 * (m.T @ j_e @ m)
            step = _solve(scoring, -grad)
            if not np.isfinite(grad @ step) or grad @ step >= 0:
                step = -grad / max(np.max(np.abs(grad)), 1.0)
            # scoring steps start from four times the last accepted length (at most 1): where
            # the steps must be short, halving from 1 each time costs a dozen evaluations
            t0 = min(1.0, 4.0 * last_t)
            moved = _line_search(model, moments, theta, value, grad, step, t0)
            if moved is None and t0 < 1.0:  # no decrease below t0: try the longer steps too
                moved = _line_search(model, moments, theta, value, grad, step)
            if moved is not None:
                last_t = moved[3]
            if size < BFGS_FROM and moved is not None:
                try:
                    inv_hess = np.linalg.inv(scoring)
                except np.linalg.LinAlgError:
                    inv_hess = None
        else:
            step = -inv_hess @ grad
            if grad @ step < 0:
                moved = _line_search(model, moments, theta, value, grad, step)
            if moved is None:  # fall back to a scoring step
                inv_hess = None
                continue
        if moved is None:
            converged = size < 1e-6  # no decrease possible: at the optimum to machine precision
            message = "" if converged else "the line search failed"
            break
        new_theta, value, parts, _t = moved
        if it % 10 == 0 and (diverged := _diverging(model, moments, new_theta)) is not None:
            g, k = diverged
            where = f" in group {g + 1}" if model.ngroups > 1 else ""
            theta, message = new_theta, (
                f"the estimates diverge: the residual variance of {model.items[k]}{where} fell "
                f"below {DIVERGED_RESIDUAL:g} times its observed variance (no admissible solution)")
            break
        try:
            new_grad = gradient(model, moments, new_theta)
        except np.linalg.LinAlgError as exc:
            message = str(exc)
            theta = new_theta
            break
        if inv_hess is not None:  # BFGS update of the inverse Hessian
            s, y = new_theta - theta, new_grad - grad
            sy = s @ y
            if sy > 1e-12 * np.sqrt((s @ s) * (y @ y)):
                rho = 1.0 / sy
                hy = inv_hess @ y
                inv_hess = (inv_hess - rho * (np.outer(s, hy) + np.outer(hy, s))
                            + (rho * rho * (y @ hy) + rho) * np.outer(s, s))
        theta, grad = new_theta, new_grad
    else:
        message = f"no convergence after {max_iter} iterations"
    vcov = np.full((model.nfree, model.nfree), np.nan)
    identified = True
    try:
        _, j_e = gradient_information(model, moments, theta)
        info = m.T @ j_e @ m
        if model.nfree and _is_singular(info):
            identified = False
        else:
            vcov = np.linalg.inv(info) if model.nfree else vcov
    except np.linalg.LinAlgError:
        identified = False
    return Estimate(model, moments, theta, vcov, value, parts, converged, it, identified, message,
                    diverged)


def _feasible_start(model: Model, moments: Sequence[Moments], theta: np.ndarray) -> np.ndarray:
    """Shrink factor covariances and raise residual variances until every Σ_g is positive definite."""
    theta = theta.copy()
    for _ in range(30):
        if np.isfinite(objective(model, moments, theta)[0]):
            return theta
        for prm in model.free_entries:
            if prm.matrix == "phi" and prm.row != prm.col:
                theta[prm.free] *= 0.5
            elif prm.matrix == "theta" and prm.row == prm.col:
                theta[prm.free] = abs(theta[prm.free]) * 1.5 + 1e-3
            elif prm.matrix == "theta":
                theta[prm.free] *= 0.5
    raise NotEstimable("no start values give a positive definite model covariance matrix")


def release_score_tests(est: Estimate, names: Sequence[str]) -> dict[str, float]:
    """Univariate score tests (modification indices, 1 df per released group) for freeing the
    cross-group equality of each named parameter (lavaan's ``lavTestScore`` on equality
    constraints): the score of the model in which that parameter's copies in groups 2..G are
    separate parameters, evaluated at the constrained estimates: ¼ g' J⁻¹ g."""
    model = est.model
    g_e, j_e = gradient_information(model, est.moments, est.theta)
    entries = model.free_entries
    out: dict[str, float] = {}
    for name in names:
        rows = [e for e, prm in enumerate(entries) if prm.name == name]
        if len(rows) < 2 or len({entries[e].free for e in rows}) != 1:
            continue
        extra = np.zeros((len(entries), len(rows) - 1))
        m = model.entry_map.copy()
        for k, e in enumerate(sorted(rows, key=lambda e: entries[e].group)[1:]):
            m[e, entries[e].free] = 0.0
            extra[e, k] = 1.0
        m_ext = np.hstack([m, extra])
        grad = m_ext.T @ g_e
        info = m_ext.T @ j_e @ m_ext
        try:
            out[name] = float(0.25 * grad @ np.linalg.solve(info, grad))
        except np.linalg.LinAlgError:
            out[name] = float("nan")
    return out
