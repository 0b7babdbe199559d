"""Errors raised for bad input data.

Every problem with a researcher's data surfaces as a :class:`DataError` whose message names the
file, the column, the offending rows (the first few and how many) and the rule that was broken,
plus a hint how to fix it.  Code that catches exceptions from pandas, pyreadstat or pyarrow
re-raises them as ``DataError`` so that users never have to read a library traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_ROWS_SHOWN = 5


def format_rows(rows: Iterable[int], limit: int = MAX_ROWS_SHOWN) -> str:
    """Render row numbers as ``"3, 7, 12 and 4 more (7 rows)"``."""
    rows = list(rows)
    if not rows:
        return "no rows"
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        return f"{shown} and {len(rows) - limit} more ({len(rows)} rows)"
    return f"{shown} ({len(rows)} row{'s' if len(rows) != 1 else ''})"


@dataclass
class Issue:
    """One broken rule in one column of one file (a validation finding)."""

    rule: str
    message: str
    file: str | None = None
    column: str | None = None
    rows: Sequence[int] = field(default_factory=list)
    hint: str | None = None
    severity: str = "error"  # "error" blocks processing; "warning" is reported only

    def __str__(self) -> str:
        parts = [f"[{self.rule}]"]
        if self.file:
            parts.append(f"file {self.file}")
        if self.column:
            parts.append(f"column '{self.column}'")
        if self.rows:
            parts.append(f"rows {format_rows(self.rows)}")
        head = ", ".join(parts[1:])
        text = f"{parts[0]} {head}: {self.message}" if head else f"{parts[0]} {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class DataError(ValueError):
    """Bad input data: names the file, the column, the rows and the rule.

    ``issues`` holds every individual finding when several rules failed at once.
    Row numbers are 1-based data rows (the first row after the header is row 1).
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
    ) -> None:
        if issues is None:
            issues = [Issue(rule=rule, message=message or "invalid data", file=file,
                            column=column, rows=list(rows), hint=hint)]
        self.issues = list(issues)
        first = self.issues[0] if self.issues else Issue(rule=rule, message=message or "")
        self.file = first.file
        self.column = first.column
        self.rows = list(first.rows)
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
