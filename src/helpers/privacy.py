"""Privacy: small-cell suppression and keyed pseudonyms for respondent and firm ids.

Groups smaller than a minimum cell size are never shown as numbers.

Respondents are senior executives who were promised confidentiality; in a small country-by-industry
cell a count of 1 or 2 can identify a person. Suppressed cells are shown as ``<min_cell`` and every
table that suppressed something says so.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
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


def mask_small(table: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Numeric counts with cells in ``1..min_cell-1`` set to NaN (for plots: no bar is drawn)."""
    return table.mask((table > 0) & (table < min_cell))


def suppression_note(n: int, min_cell: int = DEFAULT_MIN_CELL, rows: bool = False) -> str:
    """The note printed under a table in which ``n`` cells (or rows) were suppressed."""
    if n == 0:
        return ""
    what = "row" if rows else "cell"
    return (f"{n} {what}{'s' if n != 1 else ''} with fewer than {min_cell} respondents "
            f"{'are' if n != 1 else 'is'} suppressed (counts shown as <{min_cell}, "
            "values left blank).")


# --------------------------------------------------------------------------- pseudonyms
KEY_ENV = "DISCONNECT_LAB_KEY_FILE"


def key_file() -> Path:
    """Where the local pseudonymisation key lives (``.secrets/pseudonym.key``; never committed)."""
    from helpers import paths

    return Path(os.environ.get(KEY_ENV) or paths.ROOT / ".secrets" / "pseudonym.key")


def pseudonym_key() -> bytes:
    """The local secret key, generated (32 random bytes, owner-only permissions) on first use."""
    path = key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def key_fingerprint() -> str:
    """A public fingerprint of the key (so processed data is rebuilt when the key changes)."""
    return hashlib.sha256(b"fingerprint:" + pseudonym_key()).hexdigest()[:16]


def pseudonymise(values: pd.Series, prefix: str) -> pd.Series:
    """Keyed-hash pseudonyms (HMAC-SHA256, 12 hex digits) for respondent or firm ids.

    The same id always gets the same pseudonym with the same key, so tables still join; without
    the key the original id cannot be recovered or confirmed by guessing.
    """
    key = pseudonym_key()

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return pd.NA
        digest = hmac.new(key, str(v).strip().encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{prefix}-{digest[:12]}"

    mapping = {v: one(v) for v in pd.unique(values.dropna())}
    return values.map(mapping).astype("string")


# --------------------------------------------------------------------------- small groups
def suppress_small_groups(table: pd.DataFrame, n_columns: list[str], value_columns: list[str],
                          min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Blank ``value_columns`` in rows where any of ``n_columns`` is below ``min_cell``.

    The count of suppressed rows is kept in ``attrs["suppressed"]`` so that
    :func:`helpers.tables.show` prints the note; counts themselves are shown as ``<min_cell``.
    """
    out = table.copy()
    small = pd.Series(False, index=out.index)
    for col in n_columns:
        n = pd.to_numeric(out[col], errors="coerce")
        small |= n.notna() & (n > 0) & (n < min_cell)  # an empty group reveals nobody
    for col in value_columns:
        out[col] = out[col].astype(object).where(~small, np.nan)
    for col in n_columns:
        n = pd.to_numeric(out[col], errors="coerce")
        out[col] = out[col].astype(object).where(~(n.notna() & (n > 0) & (n < min_cell)),
                                                 f"<{min_cell}")
    out.attrs["suppressed"] = int(small.sum())
    out.attrs["min_cell"] = min_cell
    return out


def pool_rare(data: pd.DataFrame, columns: list[str], min_cell: int = DEFAULT_MIN_CELL,
              label: str = "Other") -> pd.DataFrame:
    """Merge categories with fewer than ``min_cell`` respondents into one ``label`` category, so
    no model term describes a group smaller than the minimum cell size."""
    out = data.copy()
    for col in columns:
        if col not in out.columns:
            continue
        values = out[col].astype("object")
        counts = values.value_counts()
        rare = set(counts[counts < min_cell].index)
        if rare:
            out[col] = values.where(~values.isin(rare), label)
    return out


class TooFewResponses(Exception):
    """Raised by a report whose segment is too small to show any numbers."""


def check_segment(survey: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL,
                  per_role: bool = True) -> None:
    """Stop a report (``TooFewResponses``) when a role has fewer than ``min_cell`` respondents.

    Every report compares or describes CMOs and CIOs, so a segment where either role is smaller
    than the minimum cell size cannot be shown without describing a small group.
    """
    roles = survey["role"].astype(str).value_counts() if "role" in survey else pd.Series()
    groups = {r: int(roles.get(r, 0)) for r in ("CMO", "CIO")} if per_role else \
        {"respondents": len(survey)}
    small = {g: n for g, n in groups.items() if n < min_cell}
    if small:
        raise TooFewResponses(
            f"too few responses to report this segment: fewer than {min_cell} "
            + " and ".join(f"{g}s" if g != "respondents" else g for g in small)
            + " (minimum cell size).")


def check_count(n: int, minimum: int, what: str) -> None:
    """Stop a report (``TooFewResponses``) when an analysis unit count is below ``minimum``."""
    if n < minimum:
        found = "none" if n == 0 else f"fewer than {minimum}"
        raise TooFewResponses(f"too few {what} to report this segment: {found} "
                              f"(at least {minimum} needed).")
