"""Scale reliability and construct scores: Cronbach's alpha (with Feldt CI), omega, scoring.

Alpha follows R's ``psych::alpha``: raw alpha from the item covariance matrix, standardised alpha
from the correlation matrix, the corrected item-total correlation ``r_drop`` and alpha if an item
is dropped, all from one (pairwise-complete by default) covariance matrix.  The confidence
interval is Feldt's (1965; Feldt, Woodruff & Salih 1987), as printed by ``psych::alpha``.
Omega total comes from a one-factor minres fit, the default estimator of ``psych::fa``.

Scores and reliability tables are derived from the codebook (reverse keying with the scale range,
role-specific items, labels), so nothing about an item is re-typed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import i18n, labels
from helpers.codebook import Codebook, item_ref, item_refs, load_codebook
from helpers.errors import DataError
from helpers.i18n import N_, _, ngettext
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import optimize, stats
else:
    optimize = LazyModule("scipy.optimize")
    stats = LazyModule("scipy.stats")

labels.register({
    "construct": N_("Construct"), "kind": N_("Kind"), "items_asked": N_("Items asked"),
    "not_asked": N_("Items not asked"), "status": N_("Status"), "group": N_("Group"),
    "alpha": N_("Cronbach's alpha"), "omega": N_("Omega"),
    "note": N_("Note"), "mean": N_("Mean"), "r_drop": N_("r (item–rest)"),
    "alpha_if_dropped": N_("Alpha if dropped"), "item": N_("Item"),
}, counts={"k"})

#: coverage status and construct kinds as the report shows them
WORDS = {"complete": N_("complete"), "partial": N_("fewer items"), "not asked": N_("not asked"),
         "indicator": N_("indicator"), "driver": N_("driver"), "outcome": N_("outcome"),
         "all": N_("all respondents")}


def word(code: Any) -> str:
    """A coverage status, construct kind or group code (:data:`WORDS`) in the report language."""
    text = str(code)
    return _(WORDS[text]) if text in WORDS else text

MISSING_MODES = ("pairwise", "listwise")
HEYWOOD_COMMUNALITY = 1.0 - 1e-6

# Minimums: below them alpha or omega is not computed and the tables say why ("not estimable").
MIN_ALPHA_ITEMS = 2
"""Fewest items for Cronbach's alpha: k/(k-1) is undefined for one item."""

MIN_ALPHA_ROWS = 3
"""Fewest respondents for alpha (rows with an answer, or complete rows when listwise): Feldt's
interval has df1 = n - 1 and df2 = (n - 1)(k - 1), and two rows give a covariance matrix of
rank one, for which alpha is 1 or undefined whatever the items measure."""

MIN_OMEGA_ITEMS = 3
"""Fewest items for omega total: a one-factor model on two items is not identified (one
correlation, two loadings)."""


@dataclass(frozen=True, eq=False)
class AlphaResult:
    """Reliability of one set of items (see :func:`cronbach_alpha`)."""

    alpha: float
    std_alpha: float
    ci_low: float
    ci_high: float
    ci: float
    n: int
    k: int
    item_stats: pd.DataFrame
    omega: float
    omega_note: str
    loadings: pd.Series
    missing: str

    def tidy(self) -> pd.DataFrame:
        """One broom-like row: n, k, alpha, its CI, standardised alpha and omega."""
        return pd.DataFrame([{
            "n": self.n, "k": self.k, "alpha": self.alpha, "ci_low": self.ci_low,
            "ci_high": self.ci_high, "std_alpha": self.std_alpha, "omega": self.omega,
            "omega_note": self.omega_note,
        }])


@dataclass(frozen=True)
class OneFactorFit:
    """A single-factor minres solution on a correlation matrix."""

    loadings: np.ndarray
    converged: bool
    heywood: tuple[int, ...]


# --------------------------------------------------------------------------- alpha
def cronbach_alpha(items: pd.DataFrame, reverse: Sequence[str] = (), missing: str = "pairwise",
                   ci: float = 0.95) -> AlphaResult:
    """Cronbach's alpha, its Feldt CI, item statistics and omega total for item columns.

    ``items`` is wide: one column per item, one row per respondent.  Items named in ``reverse``
    are multiplied by -1 (alpha, r_drop and omega do not depend on the additive constant, so no
    scale range is needed; ``item_stats`` mean/sd stay on the original scale).

    ``missing="pairwise"`` (the default, like ``psych::alpha(use="pairwise")``) builds the
    covariance matrix from pairwise-complete observations and reports ``n`` = rows with at least
    one answer.  ``missing="listwise"`` first drops every row with a missing item and reports
    the number of complete rows.  psych always uses ``nrow(x)`` (empty and incomplete rows
    included) as n for its Feldt interval, so our interval is slightly wider when rows are lost.
    ``item_stats["n"]`` counts each item's answers, as psych's ``item.stats$n``.

    Feldt interval with df1 = n-1, df2 = (n-1)(k-1): lower = 1 - (1-alpha) F(1-(1-ci)/2),
    upper = 1 - (1-alpha) F((1-ci)/2) — the same as ``psych::alpha.ci``.

    ``omega`` is McDonald's omega total, (sum l)^2 / ((sum l)^2 + sum(1 - l^2)), from a
    one-factor minres fit to the item correlations (:func:`fit_one_factor`).  It is NaN, with
    the reason in ``omega_note``, for fewer than 3 items, non-convergence or a Heywood case.
    (``psych::omega`` divides by the observed total variance instead of the model-implied one;
    the two agree when the one-factor model fits.)
    """
    data = _prepare_items(items, reverse, missing)
    cov = _item_covariance(data)
    alpha = _raw_alpha(cov)
    n, k = len(data), data.shape[1]
    low, high = feldt_ci(alpha, n, k, ci)
    corr = _cov_to_corr(cov)
    omega, note, loadings = _omega_total(corr)
    return AlphaResult(
        alpha=alpha, std_alpha=_std_alpha(corr), ci_low=low, ci_high=high, ci=ci, n=n, k=k,
        item_stats=_item_stats(items.loc[data.index, list(data.columns)], cov, reverse),
        omega=omega, omega_note=note, loadings=pd.Series(loadings, index=data.columns),
        missing=missing,
    )


def feldt_ci(alpha: float, n: int, k: int, ci: float = 0.95) -> tuple[float, float]:
    """Feldt (1965) confidence interval for coefficient alpha from n respondents and k items."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}")
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1 - ci) / 2
    lower = 1 - (1 - alpha) * stats.f.ppf(1 - tail, df1, df2)
    upper = 1 - (1 - alpha) * stats.f.ppf(tail, df1, df2)
    return float(lower), float(upper)


def _prepare_items(items: pd.DataFrame, reverse: Sequence[str], missing: str) -> pd.DataFrame:
    """Check the input and return numeric, reverse-keyed items after the missing-data rule."""
    if not isinstance(items, pd.DataFrame):
        raise TypeError("items must be a pandas DataFrame with one column per item")
    if missing not in MISSING_MODES:
        raise ValueError(f"missing must be one of {MISSING_MODES}, got {missing!r}")
    if items.shape[1] < MIN_ALPHA_ITEMS:
        raise ValueError(f"alpha needs at least {MIN_ALPHA_ITEMS} items, got {items.shape[1]} "
                         f"({', '.join(map(str, items.columns)) or 'none'})")
    unknown = [c for c in reverse if c not in items.columns]
    if unknown:
        raise ValueError(f"reverse names columns that are not items: {', '.join(unknown)}")
    non_numeric = [c for c in items.columns if not pd.api.types.is_numeric_dtype(items[c])]
    if non_numeric:
        raise DataError(f"items must be numeric; {', '.join(map(str, non_numeric))} "
                        "are not", column=str(non_numeric[0]), rule="alpha-numeric")
    data = items.astype(float)
    if reverse:
        data[list(reverse)] = -data[list(reverse)]
    data = data.dropna() if missing == "listwise" else data.dropna(how="all")
    if len(data) < MIN_ALPHA_ROWS:
        text = (_("alpha needs at least {min} complete rows, got {n}") if missing == "listwise"
                else _("alpha needs at least {min} rows with an answer, got {n}"))
        raise ValueError(text.format(min=MIN_ALPHA_ROWS, n=len(data)))
    return data


def _item_covariance(data: pd.DataFrame) -> np.ndarray:
    """Pairwise-complete covariance matrix; refuse items that cannot enter alpha."""
    cov = data.cov()
    variances = np.diag(cov.to_numpy())
    flat = [c for c, v in zip(cov.columns, variances, strict=True) if not v > 0]
    if flat:
        raise DataError(ngettext("{items} has no variance (one value, or fewer than 2 answers)",
                                 "{items} have no variance (one value, or fewer than 2 answers)",
                                 len(flat)).format(items=item_refs(map(str, flat))),
                        column=str(flat[0]), rule="alpha-no-variance",
                        hint="drop the item(s) before computing alpha")
    if cov.isna().to_numpy().any():
        rows, cols = np.where(cov.isna().to_numpy())
        a, b = cov.columns[rows[0]], cov.columns[cols[0]]
        raise DataError(_("items {a} and {b} are never answered together (role-specific "
                          "items?)").format(a=item_ref(str(a)), b=item_ref(str(b))),
                        column=str(a), rule="alpha-no-overlap",
                        hint="compute alpha within the group asked both")
    if not cov.to_numpy().sum() > 0:
        raise DataError(_("the items' covariances cancel out: their sum score has no variance"),
                        column=str(cov.columns[0]), rule="alpha-no-total-variance")
    return cov.to_numpy()


def _raw_alpha(cov: np.ndarray) -> float:
    """k/(k-1) * (1 - trace(C)/sum(C))."""
    k = cov.shape[0]
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def _std_alpha(corr: np.ndarray) -> float:
    """Standardised alpha: raw alpha of the correlation matrix."""
    return _raw_alpha(corr)


def _cov_to_corr(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def _item_stats(raw: pd.DataFrame, cov: np.ndarray, reverse: Sequence[str]) -> pd.DataFrame:
    """Per item: n, mean, sd (original scale), r_drop and alpha if dropped (psych's formulas)."""
    k = cov.shape[0]
    r_drop, if_dropped = [], []
    for i in range(k):
        rest = np.delete(np.delete(cov, i, axis=0), i, axis=1)
        r_drop.append((cov[:, i].sum() - cov[i, i]) / np.sqrt(cov[i, i] * rest.sum()))
        if_dropped.append(_raw_alpha(rest) if k > 2 else np.nan)
    values = raw.astype(float)
    return pd.DataFrame({
        "n": values.notna().sum().astype(int), "mean": values.mean(), "sd": values.std(),
        "r_drop": r_drop, "alpha_if_dropped": if_dropped,
        "reversed": [c in set(reverse) for c in values.columns],
    }, index=values.columns)


# --------------------------------------------------------------------------- omega
def fit_one_factor(corr: np.ndarray) -> OneFactorFit:
    """Single-factor minres (unweighted least squares on the off-diagonal correlations).

    Minimises sum_{i<j} (r_ij - l_i l_j)^2, which is what ``psych::fa(fm="minres")`` fits.
    Loadings are signed so that their sum is positive.  ``heywood`` lists items whose
    communality l_i^2 reaches 1 (an improper solution).
    """
    corr = np.asarray(corr, dtype=float)
    k = corr.shape[0]
    if k < MIN_OMEGA_ITEMS:
        raise ValueError(f"a one-factor model needs at least {MIN_OMEGA_ITEMS} items to be "
                         "identified")
    upper = np.triu_indices(k, 1)

    def residuals(lam: np.ndarray) -> np.ndarray:
        return corr[upper] - np.outer(lam, lam)[upper]

    def jacobian(lam: np.ndarray) -> np.ndarray:
        jac = np.zeros((len(upper[0]), k))
        rows = np.arange(len(upper[0]))
        jac[rows, upper[0]] = -lam[upper[1]]
        jac[rows, upper[1]] = -lam[upper[0]]
        return jac

    values, vectors = np.linalg.eigh(corr)
    start = vectors[:, -1] * np.sqrt(max(values[-1], 1e-6))
    fit = optimize.least_squares(residuals, start, jac=jacobian, method="lm",
                                 xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
    lam = fit.x if fit.x.sum() >= 0 else -fit.x
    heywood = tuple(int(i) for i in np.flatnonzero(lam**2 >= HEYWOOD_COMMUNALITY))
    return OneFactorFit(loadings=lam, converged=bool(fit.success), heywood=heywood)


def omega_total(loadings: Iterable[float]) -> float:
    """McDonald's omega total of a unit-weighted sum: (sum l)^2 / ((sum l)^2 + sum(1 - l^2))."""
    lam = np.asarray(list(loadings), dtype=float)
    common = lam.sum() ** 2
    return float(common / (common + (1 - lam**2).sum()))


def _omega_total(corr: np.ndarray) -> tuple[float, str, np.ndarray]:
    """Omega from a one-factor fit, or NaN and the reason it is not estimable."""
    k = corr.shape[0]
    if k < MIN_OMEGA_ITEMS:
        return np.nan, _("omega needs at least {min} items (a one-factor model is not "
                         "identified)").format(min=MIN_OMEGA_ITEMS), np.full(k, np.nan)
    fit = fit_one_factor(corr)
    if not fit.converged:
        return np.nan, _("one-factor model did not converge"), fit.loadings
    if fit.heywood:
        return np.nan, _("Heywood case: communality ≥ 1 for item position(s) {positions}").format(
            positions=", ".join(str(i + 1) for i in fit.heywood)), fit.loadings
    return omega_total(fit.loadings), "", fit.loadings


# --------------------------------------------------------------------------- codebook
# Surveys shorten scales and skip constructs. A construct is scored from the items the survey
# asked (``Codebook.items_present``: a column with at least one answer); a construct none of
# whose items were asked is left out. The outputs say which items were missing, in
# ``attrs["missing_items"]`` ({construct: [items not asked]}, only constructs scored from a
# subset) and ``attrs["not_asked"]`` (constructs requested or in the codebook but not asked).
def _constructs_in(df: pd.DataFrame, codebook: Codebook, constructs: Iterable[str] | None
                   ) -> list[str]:
    """The requested constructs (checked against the codebook), or every codebook construct."""
    if constructs is None:
        return list(codebook.constructs)
    ids = [constructs] if isinstance(constructs, str) else list(constructs)
    unknown = [c for c in ids if c not in codebook.constructs]
    if unknown:
        raise KeyError(f"{', '.join(map(repr, unknown))} not constructs of {codebook.path}")
    return ids


def _coverage_attrs(df: pd.DataFrame, codebook: Codebook, constructs: Iterable[str]
                    ) -> dict[str, Any]:
    """``missing_items`` and ``not_asked`` for the outputs' attrs (see the section comment)."""
    missing, not_asked = {}, []
    for cid in constructs:
        present = codebook.items_present(df, cid)
        if not present:
            not_asked.append(cid)
        elif len(present) < len(codebook.constructs[cid].items):
            missing[cid] = codebook.items_absent(df, cid)
    return {"missing_items": missing, "not_asked": not_asked}


def coverage(df: pd.DataFrame, codebook: Codebook, constructs: Iterable[str] | None = None,
             language: str = "EN") -> pd.DataFrame:
    """Which items of each construct the survey asked: one row per construct.

    Columns: ``construct``, ``label``, ``kind``, ``items`` (asked, comma-separated),
    ``not_asked`` (items of the codebook that were not), ``status`` (``complete``, ``partial``
    or ``not asked``) and ``note``, e.g. "Data readiness: scored from ready_1, ready_2 (ready_3
    not asked)".
    """
    rows = []
    for cid in _constructs_in(df, codebook, constructs):
        present = codebook.items_present(df, cid)
        absent = codebook.items_absent(df, cid)
        label = codebook.label(cid, language)
        if not present:
            status = "not asked"
            note = _("{construct}: not asked in this survey").format(construct=label)
        elif absent:
            status = "partial"
            note = _("{construct}: scored from {items} ({absent} not asked)").format(
                construct=label, items=", ".join(present), absent=", ".join(absent))
        else:
            status = "complete"
            note = _("{construct}: scored from {items}").format(construct=label,
                                                                items=", ".join(present))
        rows.append({"construct": cid, "label": label, "kind": codebook.constructs[cid].kind,
                     "items": ", ".join(present), "not_asked": ", ".join(absent),
                     "status": status, "note": note})
    return pd.DataFrame(rows, columns=["construct", "label", "kind", "items", "not_asked",
                                       "status", "note"])


def coverage_note(df: pd.DataFrame, codebook: Codebook, constructs: Iterable[str] | None = None,
                  language: str = "EN") -> str:
    """One sentence or two for a report: constructs not asked, and those scored from fewer items
    than the codebook has (e.g. "Scored from fewer items than the codebook has: Data readiness:
    scored from ready_1, ready_2 (ready_3 not asked)."). Empty when everything was asked."""
    table = coverage(df, codebook, constructs, language)
    parts = []
    missing = table.loc[table["status"] == "not asked", "label"].tolist()
    if missing:
        parts.append(_("Not asked in this survey, so not analysed: {constructs}.").format(
            constructs=", ".join(missing)))
    partial = table.loc[table["status"] == "partial", "note"].tolist()
    if partial:
        parts.append(_("Scored from fewer items than the codebook has: {notes}.").format(
            notes="; ".join(partial)))
    return " ".join(parts)


def _asked(df: pd.DataFrame, codebook: Codebook, items: list[str]) -> pd.DataFrame:
    """Boolean frame: was each respondent asked each item (by the ``role`` column, if any)?"""
    if "role" not in df.columns:
        return pd.DataFrame(True, index=df.index, columns=items)
    role = df["role"].astype("object")
    known = role.isin(codebook.roles)
    return pd.DataFrame({i: ~known | role.isin(codebook.items[i].roles) for i in items},
                        index=df.index)


def score(df: pd.DataFrame, codebook: Codebook, constructs: Iterable[str] | None = None,
          min_items: float = 0.5) -> pd.DataFrame:
    """Construct scores: the mean of a construct's reverse-keyed items, one column per construct.

    Reverse-keyed items are scored as scale min + max - value (``Item.score``).  Only the items
    the survey asked count (a column in ``df`` with at least one answer): a shortened scale is
    scored from what is there, and a construct with none of its items asked gets no column.
    A respondent gets a score when they answered at least ``min_items`` (a share, 0 < min_items
    <= 1) of those items *they were asked*: with a ``role`` column, items not asked of that role
    are ignored (rows with an unknown role are treated as asked everything).  Respondents asked
    none of a construct's items get NaN.  Without ``constructs``, every codebook construct asked
    is scored.  ``attrs["missing_items"]`` and ``attrs["not_asked"]`` say what was left out.
    """
    if not 0 < min_items <= 1:
        raise ValueError(f"min_items is a share of the items asked, in (0, 1]; got {min_items}")
    wanted = _constructs_in(df, codebook, constructs)
    out = {}
    for cid in wanted:
        items = codebook.items_present(df, cid)
        if not items:
            continue
        asked = _asked(df, codebook, items)
        keyed = pd.DataFrame({i: codebook.items[i].score(pd.to_numeric(df[i])) for i in items},
                             index=df.index).where(asked)
        n_asked = asked.sum(axis=1)
        n_answered = keyed.notna().sum(axis=1)
        enough = (n_asked > 0) & (n_answered >= 1) & (n_answered >= min_items * n_asked - 1e-9)
        out[cid] = keyed.mean(axis=1).where(enough)
    scores = pd.DataFrame(out, index=df.index, dtype=float)
    scores.attrs.update(_coverage_attrs(df, codebook, wanted))
    return scores


TABLE_COLUMNS = ["construct", "label", "group", "k", "n", "alpha", "ci_low", "ci_high", "omega",
                 "note", "items", "not_asked"]


def alpha_table(df: pd.DataFrame, codebook: Codebook, by: str | None = None, language: str = "EN",
                missing: str = "pairwise", ci: float = 0.95) -> pd.DataFrame:
    """Alpha (Feldt CI), omega, k and n per multi-item construct, optionally per group of ``by``.

    One row per construct the survey asked (x group); ``group`` is ``"all"`` without ``by``.
    Reliability is computed on the items asked (``items``; ``not_asked`` lists the codebook's
    other items).  Items with no answers in a group (e.g. items not asked of that role) are left
    out and ``k`` counts the items used.  When alpha cannot be computed (a single item asked,
    a constant item, role-specific items never answered together) the numbers are NaN and
    ``note`` says why.  ``attrs`` carry ``missing_items`` and ``not_asked`` as :func:`score`'s.
    """
    groups = _groups(df, by)
    rows = []
    multi = [cid for cid, c in codebook.constructs.items() if len(c.items) >= 2]
    for cid in multi:
        present = codebook.items_present(df, cid)
        if not present:
            continue
        absent = codebook.items_absent(df, cid)
        label = codebook.label(cid, language)
        reverse = [i for i in present if codebook.items[i].reverse]
        for group, part in groups:
            rows.append({"construct": cid, "label": label, "group": group,
                         **_alpha_row(part[present], reverse, missing, ci, absent),
                         "items": ", ".join(present), "not_asked": ", ".join(absent)})
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table.attrs.update(_coverage_attrs(df, codebook, multi))
    return table


def _groups(df: pd.DataFrame, by: str | None) -> list[tuple[Any, pd.DataFrame]]:
    """``[("all", df)]`` or one ``(value, rows)`` pair per value of ``by``."""
    if by is None:
        return [("all", df)]
    if by not in df.columns:
        raise DataError(f"grouping column {by!r} is not in the data", column=by, rule="group-by")
    return [(g, part) for g, part in df.groupby(by, sort=True, observed=True)]


ITEM_COLUMNS = ["construct", "item", "group", "n", "mean", "sd", "r_drop", "alpha_if_dropped"]


def item_table(df: pd.DataFrame, codebook: Codebook, by: str | None = None,
               missing: str = "pairwise") -> pd.DataFrame:
    """Item statistics per multi-item construct (x group): n, mean, sd, corrected item-total
    correlation and alpha if the item were dropped — how CMOs and CIOs read each item.

    Only the items the survey asked enter (a construct needs two of them answered in a group);
    ``attrs`` carry ``missing_items`` and ``not_asked`` as :func:`score`'s."""
    rows = []
    for cid in codebook.constructs:
        present = codebook.items_present(df, cid)
        reverse = [i for i in present if codebook.items[i].reverse]
        for group, part in _groups(df, by):
            used = [c for c in present if part[c].notna().any()]
            if len(used) < 2:
                continue
            try:
                res = cronbach_alpha(part[used].apply(pd.to_numeric),
                                     reverse=[r for r in reverse if r in used], missing=missing)
            except ValueError:
                continue
            stats = res.item_stats.reset_index(names="item")
            stats.insert(0, "construct", cid)
            stats.insert(2, "group", group)
            rows.append(stats[ITEM_COLUMNS])
    table = (pd.concat(rows, ignore_index=True) if rows
             else pd.DataFrame(columns=ITEM_COLUMNS))
    table.attrs.update(_coverage_attrs(df, codebook, codebook.constructs))
    return table


def _alpha_row(items: pd.DataFrame, reverse: list[str], missing: str, ci: float,
               absent: Sequence[str] = ()) -> dict:
    """Numbers for one alpha-table row, NaN with a note when alpha is not computable."""
    used = [c for c in items.columns if items[c].notna().any()]
    answered = items[used].notna()
    # rows that can enter alpha: all items answered (listwise), or at least two of them
    # (pairwise: a row with one answer adds to no covariance) — a failed row's n is never
    # the count of respondents who merely answered something
    n_used = answered.all(axis=1) if missing == "listwise" else answered.sum(axis=1) >= 2
    empty = {"k": len(used), "n": int(n_used.sum()), "alpha": np.nan,
             "ci_low": np.nan, "ci_high": np.nan, "omega": np.nan}
    if len(used) < MIN_ALPHA_ITEMS:
        unused = [c for c in items.columns if c not in used]
        why = (_("{items} not answered in this group").format(
            items=item_refs(unused, construct=False))
               if unused else "")
        why = "; ".join(t for t in (why, _("{items} not asked").format(
            items=item_refs(absent, construct=False))
                                    if absent else "") if t)
        head = (_("one item ({item}): alpha needs at least 2 items").format(
            item=item_ref(used[0], construct=False)) if used
                else _("no answers in this group"))
        return {**empty, "note": head + (f" ({why})" if why else "")}
    try:
        res = cronbach_alpha(items[used].apply(pd.to_numeric),
                             reverse=[r for r in reverse if r in used], missing=missing, ci=ci)
    except ValueError as exc:  # a minimum not met: no numbers, the reason in words
        reason = exc.issues[0].message if isinstance(exc, DataError) else str(exc)
        return {**empty, "note": _("not estimable: {reason}").format(reason=reason)}
    return {"k": res.k, "n": res.n, "alpha": res.alpha, "ci_low": res.ci_low,
            "ci_high": res.ci_high, "omega": res.omega, "note": res.omega_note}


# --------------------------------------------------------------------------- as reports show them
def coverage_caption(table: pd.DataFrame) -> str:
    """The caption of :func:`coverage`'s table: how many constructs were asked in full, with
    fewer items, not at all (in the report language, each count in its grammatical number)."""
    complete = int((table["status"] == "complete").sum())
    partial = int((table["status"] == "partial").sum())
    absent = int((table["status"] == "not asked").sum())
    return ngettext("{complete} construct asked in full, {partial} with fewer items, {absent} "
                    "not asked",
                    "{complete} constructs asked in full, {partial} with fewer items, {absent} "
                    "not asked", complete).format(complete=complete, partial=partial,
                                                  absent=absent)


def coverage_shown(table: pd.DataFrame, codebook: Codebook | None = None,
                   language: str | None = None) -> pd.DataFrame:
    """:func:`coverage` as the report shows it: construct labels, kinds and statuses in words,
    the number of items asked, and the wording of the items not asked (never item ids)."""
    cb = codebook or load_codebook()
    lang = i18n.normalise(language or i18n.current())

    def ids(text: object) -> list[str]:
        return [i.strip() for i in str(text or "").split(",") if i.strip()]

    out = table[["label", "kind", "items", "not_asked", "status"]].rename(
        columns={"label": "construct", "items": "items_asked"})
    out["items_asked"] = [len(ids(v)) for v in table["items"]]
    out["not_asked"] = ["; ".join(cb.short_label(i, lang) for i in ids(v)) or "–"
                        for v in table["not_asked"]]
    out["kind"] = out["kind"].map(word)
    out["status"] = out["status"].map(word)
    return out


labels.register({
                 "r_drop_cio": N_("r item–rest (CIO)"), "r_drop_cmo": N_("r item–rest (CMO)"),
                 "r_drop_gap": N_("r item–rest gap (CMO − CIO)")}, counts={"items_asked"})


def item_table_by_role(items: pd.DataFrame, codebook: Codebook, language: str = "EN"
                       ) -> pd.DataFrame:
    """:func:`item_table` by role (``by="role"``) side by side: per item its mean and corrected
    item-total correlation for CIOs and CMOs and the gap in the latter, with the construct's
    label and the item's wording (codebook)."""
    wide = items.pivot_table(index=["construct", "item"], columns="group",
                             values=["mean", "r_drop"], observed=True).reindex(
        columns=[(stat, role) for stat in ("mean", "r_drop") for role in ("CIO", "CMO")])
    wide.columns = [f"{stat}_{role.lower()}" for stat, role in wide.columns]
    wide = wide.reset_index()
    wide["construct"] = [codebook.label(c, language) for c in wide["construct"]]
    wide["item"] = [codebook.short_label(i, language) for i in wide["item"]]
    wide["r_drop_gap"] = wide["r_drop_cmo"] - wide["r_drop_cio"]
    return wide
