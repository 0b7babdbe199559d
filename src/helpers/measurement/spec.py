"""The measurement model a CFA fits: lavaan-style syntax (parsed by semopy) or codebook constructs.

Two ways in, one description out (:class:`Spec`):

* lavaan-style syntax — ``"trust =~ trust_1 + trust_2 + trust_3"``, one statement per line (or
  separated by ``;``), with ``=~`` (loadings) and ``~~`` ((co)variances). A number before ``*``
  fixes a parameter (``0.5*x2``, ``f1 ~~ 0*f2``, ``f ~~ 1*f``), ``NA*`` frees the first loading
  (then fix the factor variance), a name labels a parameter (equal labels are equal parameters,
  single-group models only). Parsing is semopy's (``semopy.parser.parse_desc``); we check what
  it returns against the data and refuse what the estimator does not do (regressions, intercept
  lines, second-order factors, per-group modifiers such as ``c(a, b)*x``).
* a list of codebook construct ids — the syntax is written from the codebook's constructs and
  items (never retyped): items asked in the data (and, for a multi-group model, in every group),
  reverse-keyed items re-keyed on their scale (``min + max - value``), yes/no items and
  one-item constructs left out with a note saying why.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import i18n
from helpers.codebook import Codebook
from helpers.i18n import _

_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


class NotEstimable(ValueError):
    """The data cannot support the model (not identified, too few rows, a singular covariance
    matrix): ``reason`` says why in words, for a "not estimable" note in a report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Term:
    """One right-hand term of a statement: its variable, a fixed value or a label (or neither)."""

    name: str
    fixed: float | None = None
    label: str | None = None
    free: bool = False  # ``NA*x``: free even where it would be fixed by default


@dataclass(frozen=True)
class Spec:
    """A parsed measurement model: factors with their items, extra (co)variances, notes."""

    factors: dict[str, tuple[Term, ...]]
    covariances: tuple[tuple[str, Term], ...]
    syntax: str
    reverse: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def items(self) -> list[str]:
        """Observed variables in order of first appearance."""
        seen: dict[str, None] = {}
        for terms in self.factors.values():
            for t in terms:
                seen.setdefault(t.name, None)
        for lhs, t in self.covariances:
            for name in (lhs, t.name):
                if name not in self.factors:
                    seen.setdefault(name, None)
        return list(seen)

    @property
    def labelled(self) -> bool:
        return any(t.label for terms in self.factors.values() for t in terms) or any(
            t.label for _name, t in self.covariances)


# --------------------------------------------------------------------------- syntax
def _modifier(raw: str | None, line: str) -> tuple[float | None, str | None, bool]:
    if raw is None:
        return None, None, False
    if raw == "NA":
        return None, None, True
    try:
        value = float(raw)
    except ValueError:
        if _NAME.match(raw):
            return None, raw, False
        raise ValueError(f"cannot read the modifier {raw!r} in {line!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"a fixed value must be a finite number, got {raw!r} in {line!r}")
    return value, None, False


@lru_cache(maxsize=1)
def _semopy_parser() -> Callable[[str], tuple[Any, Any]]:
    """semopy's ``parser.parse_desc``, loaded without running ``semopy/__init__`` (which imports
    sympy, scikit-learn and numdifftools: 1–2 s per process, for a module that needs only ``re``)."""
    found = importlib.util.find_spec("semopy")
    path = Path(next(iter(found.submodule_search_locations or []), "")) / "parser.py" if found else None
    if path is None or not path.is_file():
        from semopy.parser import parse_desc  # a layout we do not know: the ordinary import

        return parse_desc
    loader = importlib.util.spec_from_file_location("semopy.parser", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module.parse_desc


def parse_syntax(syntax: str) -> Spec:
    """Parse lavaan-style measurement syntax with semopy's parser into a :class:`Spec`."""
    parse_desc = _semopy_parser()

    if not isinstance(syntax, str) or "=~" not in syntax:
        raise ValueError("a model needs at least one 'factor =~ item + item' statement")
    factors: dict[str, list[Term]] = {}
    covariances: list[tuple[str, Term]] = []
    statements = [s.split("#")[0].strip() for line in syntax.splitlines() for s in line.split(";")]
    for line in (s for s in statements if s):
        try:
            effects, operations = parse_desc(line)
        except Exception as exc:  # semopy raises SyntaxError or bare Exception
            raise ValueError(f"cannot parse the model statement {line!r} (lavaan-style syntax: "
                             "'f =~ x1 + x2 + x3', 'x1 ~~ x2', fixed values as '0.5*x2')") from exc
        unsupported = sorted(set(effects) - {"=~", "~~"}) + sorted(operations)
        if unsupported:
            raise ValueError(f"{line!r}: only '=~' (loadings) and '~~' ((co)variances) are "
                             f"supported in a measurement model, not {', '.join(unsupported)}")
        for lhs, rhs in effects.get("=~", {}).items():
            for name, raw in rhs.items():
                fixed, label, free = _modifier(raw, line)
                factors.setdefault(lhs, [])
                if any(t.name == name for t in factors[lhs]):
                    raise ValueError(f"{line!r}: {name} is listed twice for factor {lhs}")
                factors[lhs].append(Term(name, fixed, label, free))
        for lhs, rhs in effects.get("~~", {}).items():
            for name, raw in rhs.items():
                fixed, label, free = _modifier(raw, line)
                covariances.append((lhs, Term(name, fixed, label, free)))
    nested = sorted({t.name for terms in factors.values() for t in terms} & set(factors))
    if nested:
        raise ValueError(f"second-order factors are not supported: {', '.join(nested)} "
                         "appear(s) as indicators of another factor")
    return Spec({f: tuple(ts) for f, ts in factors.items()}, tuple(covariances), syntax.strip())


def write_syntax(factors: dict[str, Sequence[str]]) -> str:
    """lavaan syntax for simple-structure factors (one statement per factor)."""
    return "\n".join(f"{f} =~ {' + '.join(items)}" for f, items in factors.items())


# --------------------------------------------------------------------------- codebook
def _unanswered_groups(df: pd.DataFrame, items: Sequence[str], group: str | None
                       ) -> dict[str, list[str]]:
    """Per item, the groups in which it has no answer (empty when asked everywhere; "the data"
    without groups) — one grouped pass over the items' columns."""
    if not items:
        return {}
    answered = df[list(items)].notna()
    if group is None:
        anywhere = answered.any()
        return {i: [] if anywhere[i] else ["the data"] for i in items}
    by_group = answered.groupby(df[group], observed=True, sort=False).any()
    return {i: [str(g) for g, ok in by_group[i].items() if not ok] for i in items}


def from_codebook(df: pd.DataFrame, constructs: Iterable[str], codebook: Codebook,
                  group: str | None = None) -> Spec:
    """The measurement model of codebook constructs, as asked in ``df``.

    Items come from the codebook (those with a column and an answer; for a multi-group model
    those answered in every group); reverse-keyed items are re-keyed; yes/no items and
    constructs left with one item are not modelled (a note says so); a construct left with two
    items is identified only through its correlations with the other constructs (a note).
    """
    constructs = list(constructs)
    unknown = [c for c in constructs if c not in codebook.constructs]
    if unknown:
        raise KeyError(f"not constructs of {codebook.path.name}: {', '.join(map(str, unknown))} "
                       f"(known: {', '.join(codebook.constructs)})")
    notes: list[str] = []
    factors: dict[str, list[str]] = {}
    role_field = "role" if "role" in getattr(df, "columns", ()) and group != "role" else None
    roles_present = ({str(r) for r in df[role_field].dropna().unique()} & set(codebook.roles)
                     if role_field else set())
    for c in constructs:
        asked = codebook.items_present(df, c)
        unanswered = _unanswered_groups(df, asked, group)
        shown = codebook.label(c, i18n.current())
        kept = []
        for i in asked:
            if codebook.items[i].scale.type == "binary":
                notes.append(_("{construct}: item {item} is a yes/no item and is not modelled "
                               "by a linear (ML) factor model").format(construct=shown, item=codebook.item_number(i)))
                continue
            not_asked = sorted(roles_present - set(codebook.items[i].roles))
            if not_asked:
                notes.append(_("{construct}: item {item} is not asked of {roles} and is left "
                               "out of a model that pools the roles (fit each role to include "
                               "it)").format(construct=shown, item=codebook.item_number(i), roles=", ".join(not_asked)))
                continue
            missing_in = unanswered[i]
            if missing_in:
                notes.append(_("{construct}: item {item} has no answers in group(s) {groups} "
                               "and is left out of the multi-group model (compare it item by "
                               "item)").format(construct=shown, item=codebook.item_number(i),
                                               groups=", ".join(map(str, missing_in))))
                continue
            kept.append(i)
        absent = [i for i in codebook.constructs[c].items if i not in asked]
        if absent:
            notes.append(_("{construct}: item(s) {items} not asked in these data").format(
                construct=shown, items=", ".join(
                str(codebook.item_number(i)) for i in absent)))
        if len(kept) == 0:
            notes.append(_("{construct}: no item left to model").format(construct=shown))
        elif len(kept) == 1:
            notes.append(_("{construct}: only one item ({item}): its error variance cannot be "
                           "separated from the construct's variance, so it is not part of the "
                           "CFA").format(construct=shown, item=codebook.item_ref(kept[0], construct=False)))
        else:
            factors[c] = kept
    if not factors:
        raise NotEstimable(_("no construct has two or more modelled items") +
                           (f" ({'; '.join(notes)})" if notes else ""))
    reverse = tuple(i for items in factors.values() for i in items if codebook.items[i].reverse)
    spec = parse_syntax(write_syntax(factors))
    return Spec(spec.factors, spec.covariances, spec.syntax, reverse, tuple(notes))


def rekey(df: pd.DataFrame, items: Sequence[str], codebook: Codebook) -> pd.DataFrame:
    """``df`` with the reverse-keyed codebook ``items`` re-keyed onto their scale (a copy)."""
    out = df.copy()
    for i in items:
        out[i] = codebook.items[i].score(pd.to_numeric(out[i]))
    return out


def identification_notes(spec: Spec) -> tuple[list[str], str | None]:
    """Notes on weakly identified factors, and the reason the model is not identified (or None).

    A factor with one indicator has no measurement model; a factor with two indicators is
    identified only when it correlates with another factor (a lone two-indicator factor is not
    identified: three moments, four parameters).
    """
    notes: list[str] = []
    fixed_cov = {(lhs, t.name) for lhs, t in spec.covariances if t.fixed == 0}
    for f, terms in spec.factors.items():
        k = len(terms)
        if k == 1:
            return notes, (f"factor {f} has one indicator ({terms[0].name}): its error variance "
                           "cannot be separated from the factor variance")
        if k == 2 and terms[1].fixed is None:
            others = [g for g in spec.factors if g != f and (f, g) not in fixed_cov
                      and (g, f) not in fixed_cov]
            if not others:
                return notes, (f"factor {f} has two indicators and no correlation with another "
                               "factor: not identified (three moments, four parameters)")
            notes.append(_("{construct}: two items only; identified through its correlations "
                           "with other factors, so its loadings are fragile (add a third item if "
                           "you can)").format(construct=f))
        if not any(t.fixed is not None for t in terms) and not any(
                lhs == t.name == f and t.fixed is not None for lhs, t in spec.covariances):
            marker = terms[0]
            if marker.free:
                return notes, (f"factor {f}: the first loading is freed (NA*) but the factor "
                               f"variance is not fixed ('{f} ~~ 1*{f}')")
    return notes, None


def check_columns(df: Any, names: Iterable[str], what: str = "model") -> None:
    """Every observed variable of the model must be a column of the data."""
    from helpers.errors import DataError

    missing = [n for n in names if n not in getattr(df, "columns", ())]
    if missing:
        raise DataError(f"the {what} uses variable(s) {', '.join(missing)} that are not columns "
                        "of the data", column=missing[0], rule="measurement-unknown-variable",
                        hint="check the item names in the model syntax against the data")
