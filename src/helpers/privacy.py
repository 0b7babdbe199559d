"""Small-cell suppression: groups smaller than a minimum cell size are never shown as numbers.

Respondents are senior executives who were promised confidentiality; in a small country-by-industry
cell a count of 1 or 2 can identify a person. Suppressed cells are shown as ``<min_cell`` and every
table that suppressed something says so.
"""

from __future__ import annotations

import pandas as pd

DEFAULT_MIN_CELL = 5


def suppress_counts(table: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL,
                    columns: list[str] | None = None) -> tuple[pd.DataFrame, int]:
    """Replace counts in ``1..min_cell-1`` by ``"<min_cell"``; returns (table, cells suppressed).

    Zero stays zero (an empty cell reveals nobody). Only ``columns`` (default: all numeric) change.
    """
    out = table.copy()
    cols = columns or [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c])]
    suppressed = 0
    for col in cols:
        small = out[col].notna() & (out[col] > 0) & (out[col] < min_cell)
        suppressed += int(small.sum())
        out[col] = out[col].astype(object).where(~small, f"<{min_cell}")
    return out, suppressed


def suppression_note(n: int, min_cell: int = DEFAULT_MIN_CELL) -> str:
    """The note printed under a table in which ``n`` cells were suppressed ('' when none)."""
    if n == 0:
        return ""
    return (f"{n} cell{'s' if n != 1 else ''} with fewer than {min_cell} respondents "
            f"{'are' if n != 1 else 'is'} suppressed (shown as <{min_cell}).")
