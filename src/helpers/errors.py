"""Errors raised for bad input data.

Every problem with a researcher's data surfaces as a :class:`DataError` whose message names the
file, the column, the offending rows (the first few and how many) and the rule that was broken,
plus a hint how to fix it.  Code that catches exceptions from pandas, pyreadstat or pyarrow
re-raises them as ``DataError`` so that users never have to read a library traceback.

Where the rows are: ``rows`` are 1-based positions in the checked frame (kept for code that
counts them); ``lines`` are the same rows' own line numbers in the file (a text file's physical
line, an Excel sheet row, an SPSS/Stata/Parquet record: ``line_unit``), and ``ids`` their
response ids. Messages name the lines when they are known, else the rows, and then the ids::

    [speeder] file export.csv, column 'duration_seconds', lines 7, 9 (responses R_3kX, R_9aB): ...

The ids are in the text of an issue (``str``), never in its ``message``: messages can end up in
processed data and reports, the full text only on the console (``validate``/``build-data``).
:func:`helpers.io.row_locations` fills rows, lines, unit and ids from a frame and a mask.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ROWS_SHOWN = 5
# A value quoted in a message is cut to this many characters, and a whole message (or hint) to
# MAX_MESSAGE_CHARS: a hostile file (a YAML alias bomb, a megabyte-long cell) must not make a
# message expensive to build or to read.
MAX_QUOTED_CHARS = 80
MAX_MESSAGE_CHARS = 4000
_PLURAL_UNITS = {"line": "lines", "sheet row": "sheet rows", "record": "records", "row": "rows"}


def _bounded_repr(limit: int) -> reprlib.Repr:
    """A ``repr`` that looks at a bounded part of a value: a few levels, items and characters."""
    bounded = reprlib.Repr()
    bounded.maxlevel = 3
    bounded.maxtuple = bounded.maxlist = bounded.maxdict = bounded.maxset = 6
    bounded.maxfrozenset = bounded.maxdeque = bounded.maxarray = 6
    bounded.maxstring = bounded.maxother = limit + 10
    bounded.maxlong = 40
    return bounded


def quote(value: Any, limit: int = MAX_QUOTED_CHARS) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters (cut with "…").

    The one place where messages quote values from the data, a mapping, the codebook or a batch
    file. Unlike ``repr`` it never walks a whole structure: a nested list or mapping (say a YAML
    document built from aliases) is shown by its first few items and levels.
    """
    return shorten(_bounded_repr(limit).repr(value), limit)


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when it was cut."""
    text = str(text)
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "\u2026"


def format_rows(rows: Iterable[int], limit: int = MAX_ROWS_SHOWN) -> str:
    """Render row numbers as ``"3, 7, 12 and 4 more (7 rows)"``."""
    rows = list(rows)
    if not rows:
        return "no rows"
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        return f"{shown} and {len(rows) - limit} more ({len(rows)} rows)"
    return f"{shown} ({len(rows)} row{'s' if len(rows) != 1 else ''})"


def format_lines(lines: Iterable[int], unit: str = "line", limit: int = MAX_ROWS_SHOWN) -> str:
    """Render the file's line numbers: ``"line 7"``, ``"lines 7, 9"``,
    ``"lines 7, 9, 12, 15, 20 and 3 more (8 rows)"`` (``unit`` may be ``"sheet row"`` or
    ``"record"``)."""
    lines = sorted(set(lines))
    word = unit if len(lines) == 1 else _PLURAL_UNITS.get(unit, f"{unit}s")
    shown = ", ".join(str(n) for n in lines[:limit])
    if len(lines) > limit:
        return f"{word} {shown} and {len(lines) - limit} more ({len(lines)} rows)"
    return f"{word} {shown}"


def format_ids(ids: Iterable[str], limit: int = MAX_ROWS_SHOWN) -> str:
    """Render response ids: ``"response R_3kX"``, ``"responses R_1, R_2 and 3 more"``."""
    ids = list(dict.fromkeys(str(i) for i in ids))
    if not ids:
        return ""
    shown = ", ".join(ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"response{'s' if len(ids) != 1 else ''} {shown}{more}"


@dataclass
class Issue:
    """One broken rule in one column of one file (a validation finding).

    ``rows`` are 1-based positions in the checked frame; ``lines`` the same rows' line numbers
    in the file (in ``line_unit``s) when known; ``ids`` their response ids (shown by ``str``,
    never part of ``message``).
    """

    rule: str
    message: str
    file: str | None = None
    column: str | None = None
    rows: Sequence[int] = field(default_factory=list)
    hint: str | None = None
    severity: str = "error"  # "error" blocks processing; "warning" is reported only
    lines: Sequence[int] = field(default_factory=list)
    line_unit: str = "line"
    ids: Sequence[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """The rows as a message names them: lines if known, else rows; then the ids."""
        if self.lines:
            place = format_lines(self.lines, self.line_unit)
        elif self.rows:
            place = f"rows {format_rows(self.rows)}"
        else:
            place = ""
        who = format_ids(self.ids)
        if place and who:
            return f"{place[:-1]}; {who})" if place.endswith(")") else f"{place} ({who})"
        return place or who

    def __str__(self) -> str:
        parts = [f"[{self.rule}]"]
        if self.file:
            parts.append(f"file {self.file}")
        if self.column:
            parts.append(f"column '{self.column}'")
        if where := self.where:
            parts.append(where)
        head = ", ".join(parts[1:])
        message = shorten(self.message, MAX_MESSAGE_CHARS)
        text = f"{parts[0]} {head}: {message}" if head else f"{parts[0]} {message}"
        if self.hint:
            text += f"\n    hint: {shorten(self.hint, MAX_MESSAGE_CHARS)}"
        return text


class DataError(ValueError):
    """Bad input data: names the file, the column, the rows and the rule.

    ``issues`` holds every individual finding when several rules failed at once.
    ``rows`` are 1-based data rows (the first row after the header is row 1); ``lines`` the
    same rows' own line numbers in the file (``line_unit``: line, sheet row or record) and
    ``ids`` their response ids, when known (see :func:`helpers.io.row_locations`).
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] = (),
        rule: str = "data",
        hint: str | None = None,
        issues: Sequence[Issue] | None = None,
        lines: Sequence[int] = (),
        line_unit: str = "line",
        ids: Sequence[str] = (),
    ) -> None:
        if issues is None:
            issues = [Issue(rule=rule, message=message or "invalid data", file=file,
                            column=column, rows=list(rows), hint=hint, lines=list(lines),
                            line_unit=line_unit, ids=list(ids))]
        self.issues = list(issues)
        first = self.issues[0] if self.issues else Issue(rule=rule, message=message or "")
        self.file = first.file
        self.column = first.column
        self.rows = list(first.rows)
        self.lines = list(first.lines)
        self.ids = list(first.ids)
        self.rule = first.rule
        self.hint = first.hint
        if len(self.issues) == 1:
            text = str(self.issues[0])
        else:
            text = f"{len(self.issues)} problems found:\n" + "\n".join(
                f"  - {issue}" for issue in self.issues
            )
        super().__init__(text)


class NotApplicable(Exception):
    """Raised by a report (or a section's helper) whose inputs were not collected.

    The message says what is needed, starting with "needs": ``NotApplicable("needs a ledger:
    run `make data LEDGER=… FX=…`")``. The batch renders a short "not applicable" page for a
    report that stops with it and the index marks the report *not applicable*, not *failed*: a
    survey that did not ask about something is not a bug. Sections inside a report that still
    applies show :func:`helpers.tables.not_applicable` instead.
    """
