"""A differencing attacker: everything a reader of the published outputs could compute.

Issue 10 asks that no published number, alone or combined with any other published number (any
table, any report, any results file, the index), lets a reader recover a statistic of fewer than
``min_cell`` respondents or firms. This module plays that reader over a project folder's
``reports/``; each attack returns a list of findings (empty = nothing recovered):

* :func:`small_counts`: a count of respondents, firms or pairs between 1 and ``min_cell - 1``
  published as a number (results files and HTML tables).
* :func:`segment_complements`: with the processed data in hand (the strongest attacker: one who
  knows who is in which segment), the respondents of the whole sample that no published segment
  of a dimension covers, and the difference of any two nested published segments, must be none
  or at least ``min_cell`` CMOs, CIOs and firms, and every published segment must itself meet
  the minimum: otherwise ``whole - sum of segments`` is a statistic of a small group.
* :func:`results_differencing`: the same attack with only the published numbers: for every
  results-table row that the whole-sample report and the segment reports of one dimension share
  (same labels), ``n_whole - sum(n_segment)`` is the size of the group whose mean or share
  follows by differencing; it must be 0 or at least ``min_cell``.
* :func:`table_margins`: in every HTML table, a suppressed cell (``<min_cell``) that is the only
  suppressed cell of a row or column with a published total, or whose row or column total is
  itself published, follows by subtraction; bounds from the other suppressed cells are checked by
  linear programming (a suppressed cell whose feasible interval is a single value is recovered).
* :func:`within_tables`: two rows of one results table about the same variable whose group
  sizes differ by 1 to ``min_cell - 1`` while both show the group's mean (nested groups).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COUNT_COLUMN = re.compile(
    r"^(n|n_(cmo|cio|pairs|firms|firm_years|respondents|asked|answered|dont_know|skipped|"
    r"excluded|clusters|rows|kept)|respondents|firms|pairs|cmo|cio|cmos|cios|count)$", re.I)
ADDITIVE = re.compile(r"mean|share|pct|percent|rate|average|proportion", re.I)
TOTAL = re.compile(r"^(total|all|overall|whole sample|sum)\b", re.I)
UNITS = ("CMO", "CIO", "firms")


@dataclass
class Report:
    """One published report: its notebook, name, segment and results document."""

    notebook: str
    name: str
    segment: dict[str, Any]
    doc: dict[str, Any]
    path: Path

    @property
    def shows_numbers(self) -> bool:
        """A rendered report with results (a too-few or not-applicable page publishes none)."""
        return self.doc.get("status") == "ok" and bool(self.doc.get("results"))


@dataclass
class Findings:
    """What the attacker recovered, by attack."""

    items: dict[str, list[str]] = field(default_factory=dict)

    def add(self, attack: str, found: Iterable[str]) -> None:
        self.items.setdefault(attack, []).extend(found)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.items.values())

    def describe(self, limit: int = 12) -> str:
        lines = []
        for attack, found in self.items.items():
            for text in found[:limit]:
                lines.append(f"[{attack}] {text}")
            if len(found) > limit:
                lines.append(f"[{attack}] … and {len(found) - limit} more")
        return "\n".join(lines)


# --------------------------------------------------------------------------- reading outputs
def reports(root: Path) -> list[Report]:
    """Every results file under ``reports/`` (the index's source too)."""
    out = []
    for path in sorted((root / "reports").glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        segment = (doc.get("parameters") or {}).get("segment") or {}
        out.append(Report(path.parent.name, path.stem, segment, doc, path))
    return out


def _number(value: Any) -> float | None:
    """A published cell as a number (``1,234``, ``12.5 %``), None for text, blanks, ``<5``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return None if isinstance(value, float) and np.isnan(value) else float(value)
    text = str(value).strip().replace("\u2212", "-").replace("\u202f", "").replace("\xa0", "")
    text = text.rstrip("%").strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def _suppressed(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"\s*<\s*\d+\s*", value))


def result_tables(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The results document's tables: name -> rows."""
    out = {}
    for name, entry in (doc.get("results") or {}).items():
        if isinstance(entry, dict) and entry.get("kind") == "table":
            out[name] = entry.get("rows") or []
    return out


def html_tables(page: str) -> list[list[list[str]]]:
    """Every table of an HTML page as rows of cell texts (tags removed, entities decoded)."""
    tables = []
    for body in re.findall(r"<table[\s>].*?</table>", page, flags=re.S | re.I):
        rows = re.findall(r"<tr[\s>].*?</tr>", body, flags=re.S | re.I)
        tables.append([[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
                        for cell in re.findall(r"<t[dh][\s>].*?</t[dh]>", row,
                                               flags=re.S | re.I)] for row in rows])
    return tables


# --------------------------------------------------------------------------- attacks
def small_counts(root: Path, min_cell: int) -> list[str]:
    """Published counts of people, firms or pairs between 1 and ``min_cell - 1``."""
    found = []
    for rep in reports(root):
        if not rep.shows_numbers:
            continue
        where = f"{rep.notebook}/{rep.name}"
        n = _number(rep.doc.get("n"))
        if n is not None and 0 < n < min_cell:
            found.append(f"{where}.json: n = {n:g}")
        for table, rows in result_tables(rep.doc).items():
            for row in rows:
                for column, value in row.items():
                    v = _number(value)
                    if COUNT_COLUMN.match(str(column)) and v is not None and 0 < v < min_cell:
                        found.append(f"{where}.json {table}: {column} = {v:g} in {_label(row)}")
    for page_path in sorted((root / "reports").rglob("*.html")):
        page = page_path.read_text(encoding="utf-8", errors="replace")
        for rows in html_tables(page):
            if not rows:
                continue
            header = rows[0]
            for row in rows[1:]:
                for column, cell in zip(header, row, strict=False):
                    v = _number(cell)
                    if COUNT_COLUMN.match(column.strip()) and v is not None and 0 < v < min_cell \
                            and float(v).is_integer():
                        found.append(f"{page_path.relative_to(root)}: {column} = {cell} "
                                     f"in row {row[:3]}")
    return found


KEY_COLUMN = re.compile(r"^(year|fiscal_year|wave|period|role|group)$", re.I)


def _label(row: dict[str, Any]) -> str:
    """What identifies a results row across reports: its text cells and its key columns
    (year, wave, …) even when those are numbers."""
    return ", ".join(f"{k}={v}" for k, v in row.items()
                     if KEY_COLUMN.match(str(k)) or (
                         isinstance(v, str) and not _suppressed(v) and _number(v) is None))[:200]


def _unit_counts(frame: pd.DataFrame) -> dict[str, int]:
    roles = frame["role"].astype(str)
    return {"CMO": int((roles == "CMO").sum()), "CIO": int((roles == "CIO").sum()),
            "firms": int(frame["firm_id"].nunique())}


def _small(counts: dict[str, int], min_cell: int) -> list[str]:
    return [f"{unit} {n}" for unit, n in counts.items() if 0 < n < min_cell]


def segment_complements(root: Path, survey: pd.DataFrame, min_cell: int,
                        select: Any) -> list[str]:
    """Small groups that published segments leave over (``select(survey, segment)`` as the
    notebooks apply a segment)."""
    found = []
    by_notebook: dict[str, list[Report]] = {}
    for rep in reports(root):
        if rep.shows_numbers:
            by_notebook.setdefault(rep.notebook, []).append(rep)
    for notebook, reps in sorted(by_notebook.items()):
        members = {rep.name: set(select(survey, rep.segment).index) for rep in reps}
        for rep in reps:
            small = _small(_unit_counts(survey.loc[sorted(members[rep.name])]), min_cell)
            if small:
                found.append(f"{notebook}/{rep.name} describes a small group: {', '.join(small)}")
        whole = [rep for rep in reps if not rep.segment]
        dims: dict[tuple[str, ...], list[Report]] = {}
        for rep in reps:
            if rep.segment:
                dims.setdefault(tuple(sorted(rep.segment)), []).append(rep)
        for dim, parts in sorted(dims.items()):
            covered = set().union(*(members[p.name] for p in parts))
            for w in whole:
                rest = members[w.name] - covered
                small = _small(_unit_counts(survey.loc[sorted(rest)]), min_cell)
                if small:
                    found.append(f"{notebook}: whole sample minus its {'/'.join(dim)} segments "
                                 f"leaves {', '.join(small)} "
                                 f"({len(parts)} segments published)")
            for a in parts:  # nested published segments of one dimension
                for b in parts:
                    if a is b or not members[b.name] < members[a.name]:
                        continue
                    rest = members[a.name] - members[b.name]
                    small = _small(_unit_counts(survey.loc[sorted(rest)]), min_cell)
                    if small:
                        found.append(f"{notebook}: {a.name} minus {b.name} leaves "
                                     f"{', '.join(small)}")
    return found


def results_differencing(root: Path, min_cell: int) -> list[str]:
    """``n_whole - sum(n_segments)`` for rows shared by the whole-sample and segment results."""
    found = []
    by_notebook: dict[str, list[Report]] = {}
    for rep in reports(root):
        by_notebook.setdefault(rep.notebook, []).append(rep)
    for notebook, reps in sorted(by_notebook.items()):
        whole = [r for r in reps if not r.segment and r.shows_numbers]
        dims: dict[tuple[str, ...], list[Report]] = {}
        for rep in reps:
            if rep.segment:
                dims.setdefault(tuple(sorted(rep.segment)), []).append(rep)
        for w in whole:
            for table, rows in result_tables(w.doc).items():
                additive = [c for c in (rows[0] if rows else {}) if ADDITIVE.search(str(c))]
                if not additive:
                    continue
                for row in rows:
                    key = _label(row)
                    for column, value in row.items():
                        n_whole = _number(value)
                        if not COUNT_COLUMN.match(str(column)) or not n_whole:
                            continue
                        for dim, parts in dims.items():
                            covered = 0.0
                            for part in parts:
                                match = [r for r in result_tables(part.doc).get(table, [])
                                         if _label(r) == key]
                                n = _number(match[0].get(column)) if match else None
                                if n is not None and any(
                                        _number(match[0].get(c)) is not None for c in additive):
                                    covered += n
                            rest = n_whole - covered
                            if 0 < rest < min_cell and covered > 0:
                                found.append(
                                    f"{notebook}/{w.name}.json {table} [{key}]: {column} "
                                    f"{n_whole:g} minus the published {'/'.join(dim)} segments "
                                    f"leaves {rest:g}, whose {', '.join(additive)} follow")
    return found


def within_tables(root: Path, min_cell: int) -> list[str]:
    """Two rows of one results table about the same thing (same first text cell: a variable or
    item) whose counts ``n_X`` differ by 1 to ``min_cell - 1`` while both show ``mean_X`` /
    ``share_X``: nested groups (all CMOs and the CMOs with a paired CIO, say) whose difference
    is a statistic of the few respondents in one and not the other."""
    found = []
    for rep in reports(root):
        if not rep.shows_numbers:
            continue
        for table, rows in result_tables(rep.doc).items():
            if not rows:
                continue
            columns = list(rows[0])
            pairs = [(c, m) for c in columns if str(c).startswith("n_") for m in columns
                     if str(m) in (f"mean_{str(c)[2:]}", f"share_{str(c)[2:]}")]
            named = [c for c in ("variable", "item", "construct", "indicator", "outcome", "term")
                     if c in columns]
            first = named[0] if named else next(
                (c for c in columns if isinstance(rows[0].get(c), str)), None)
            if not pairs or first is None:
                continue
            for i, a in enumerate(rows):
                for b in rows[i + 1:]:
                    if a.get(first) != b.get(first):
                        continue
                    for count, mean in pairs:
                        na, nb = _number(a.get(count)), _number(b.get(count))
                        if None in (na, nb) or _number(a.get(mean)) is None \
                                or _number(b.get(mean)) is None:
                            continue
                        if 0 < abs(na - nb) < min_cell:
                            found.append(f"{rep.notebook}/{rep.name}.json {table} "
                                         f"[{first}={a.get(first)}]: {count} {na:g} and {nb:g} "
                                         f"with {mean} in both rows")
    return found


def _recovered(grid: list[list[Any]], total_row: int | None, total_col: int | None,
               columns: list[int], rows: list[int]) -> list[tuple[int, int]]:
    """Suppressed cells of a count grid that the published totals pin to one value.

    Each suppressed cell is an unknown in ``1..min_cell-1`` (its interval is passed as the cell
    value ``("<", k)``); the row and column equations with published totals are constraints;
    a cell is recovered when its minimum equals its maximum (scipy's linprog)."""
    from scipy.optimize import linprog

    unknown = {(r, c): i for i, (r, c) in enumerate(
        (r, c) for r in rows + ([total_row] if total_row is not None else [])
        for c in columns + ([total_col] if total_col is not None else [])
        if isinstance(grid[r][c], tuple))}
    if not unknown:
        return []
    bounds = [(1, grid[r][c][1] - 1) for (r, c) in unknown]
    a_eq, b_eq = [], []

    def equation(cells: list[tuple[int, int]], total: tuple[int, int]) -> None:
        coeff = np.zeros(len(unknown))
        rhs = 0.0
        for cell in cells:
            value = grid[cell[0]][cell[1]]
            if cell in unknown:
                coeff[unknown[cell]] += 1
            elif isinstance(value, float):
                rhs -= value
            else:
                return  # a blank cell: the equation is not published
        tv = grid[total[0]][total[1]]
        if total in unknown:
            coeff[unknown[total]] -= 1
        elif isinstance(tv, float):
            rhs += tv
        else:
            return
        if coeff.any():
            a_eq.append(coeff)
            b_eq.append(rhs)

    if total_col is not None:
        for r in rows + ([total_row] if total_row is not None else []):
            equation([(r, c) for c in columns], (r, total_col))
    if total_row is not None:
        for c in columns + ([total_col] if total_col is not None else []):
            equation([(r, c) for r in rows], (total_row, c))
    if not a_eq:
        return []
    out = []
    for cell, i in unknown.items():
        c = np.zeros(len(unknown))
        c[i] = 1
        lo = linprog(c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=bounds, method="highs")
        if lo.status == 0 and hi.status == 0 and abs(lo.fun + hi.fun) < 1e-6:
            out.append(cell)
    return out


def table_margins(root: Path, min_cell: int) -> list[str]:
    """Suppressed cells of HTML count tables that their published totals give back."""
    found = []
    for page_path in sorted((root / "reports").rglob("*.html")):
        page = page_path.read_text(encoding="utf-8", errors="replace")
        for t, rows in enumerate(html_tables(page)):
            if len(rows) < 2 or not any(_suppressed(c) for row in rows for c in row):
                continue
            width = max(len(r) for r in rows)
            grid: list[list[Any]] = []
            for row in rows:
                cells: list[Any] = []
                for cell in row + [""] * (width - len(row)):
                    if _suppressed(cell):
                        cells.append(("<", int(re.sub(r"\D", "", cell))))
                    else:
                        cells.append(_number(cell) if cell.strip() else None)
                grid.append(cells)
            header = rows[0] + [""] * (width - len(rows[0]))
            body = list(range(1, len(rows)))
            total_row = next((r for r in body if TOTAL.match(rows[r][0] if rows[r] else "")),
                             None)
            total_col = next((c for c in range(1, width) if TOTAL.match(header[c])), None)
            counts = [c for c in range(1, width) if c != total_col and all(
                grid[r][c] is None or isinstance(grid[r][c], tuple)
                or (isinstance(grid[r][c], float) and grid[r][c].is_integer())
                for r in body)]
            data_rows = [r for r in body if r != total_row]
            if total_row is None and total_col is None:
                continue
            for r, c in _recovered(grid, total_row, total_col, counts, data_rows):
                found.append(f"{page_path.relative_to(root)} table {t + 1}: suppressed "
                             f"{rows[r][c]!r} in row {rows[r][0]!r}, column {header[c]!r} "
                             "follows from the published totals")
    return found


def attack(root: Path, survey: pd.DataFrame, min_cell: int, select: Any) -> Findings:
    """Every attack over a project folder's outputs."""
    findings = Findings()
    findings.add("small count", small_counts(root, min_cell))
    findings.add("segment complement", segment_complements(root, survey, min_cell, select))
    findings.add("results differencing", results_differencing(root, min_cell))
    findings.add("table margins", table_margins(root, min_cell))
    findings.add("within a table", within_tables(root, min_cell))
    return findings
