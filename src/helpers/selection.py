"""Row selection: which responses of an export enter the analysis, every exclusion counted.

:func:`select_rows` runs after the mapping's renames and recodes and BEFORE validation, so an
excluded row (a preview, a test response, a duplicate) never produces a validation error.  It
never drops a row silently: every exclusion is counted under a reason, and ``make data`` writes
the counts to ``data/processed/exclusions.parquet`` (``step``, ``reason``, ``rule``, ``n_rows``;
counts only, no ids) for the data-quality report.

Reasons, in this order (a row matched by several counts for the first):

1. **Qualtrics metadata** (step ``qualtrics``), understood with or without a mapping file when the
   export is recognisably from Qualtrics (read as a Qualtrics CSV/Excel export, or holding at
   least three of its metadata columns such as ``ResponseId``, ``Status``, ``Finished``,
   ``Progress``, ``RecordedDate``; legacy ``V1..Vn`` exports are recognised by their
   question-text row):

   - *preview*: ``Status`` "Survey Preview" (code 1) or ``DistributionChannel`` "preview";
   - *spam*: ``Status`` "Spam", "Survey Preview Spam", "Imported Spam" (codes 8, 9, 12) or
     ``DistributionChannel`` "spam";
   - *test*: ``Status`` "Survey Test" (code 2) or ``DistributionChannel`` "test";
   - *unfinished*: ``Finished`` false (0, False) or ``Progress`` below 100.  The mapping's
     ``unfinished:`` decides: ``exclude`` (the default) leaves them out, ``keep`` keeps them
     (their number is still recorded as ``unfinished_rows``).

   Preview, spam and test responses are always excluded; each reason is listed only when it
   matched a row.
2. **The mapping's** ``exclude`` rules (step ``mapping``), in file order; each is listed, also
   when it matched no row.  See :mod:`helpers.mapping` for their syntax.

A rule naming a column that is neither a source column nor a target name is a
:class:`~helpers.errors.DataError` naming the mapping file and listing the columns found; so
are respondent ids not in the data and text in a column compared with a number.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.errors import DataError
from helpers.io import QUALTRICS_METADATA, row_locations
from helpers.mapping import (
    COMPARISONS,
    ROLE_COLUMN,
    ExcludeRule,
    Mapping,
    _role_of,
    matches,
    similar_columns,
)

EXCLUSION_COLUMNS = ["step", "reason", "rule", "n_rows"]
QUALTRICS_MIN_METADATA = 3  # metadata columns that make a file from another reader "Qualtrics"
PROGRESS_DONE = 100

# (reason, rule text, Status values/codes, DistributionChannel values)
QUALTRICS_REASONS = (
    ("Qualtrics survey preview",
     "Status is Survey Preview (1) or DistributionChannel is preview",
     ("Survey Preview", 1), ("preview",)),
    ("flagged as spam by Qualtrics",
     "Status is Spam (8), Survey Preview Spam (9) or Imported Spam (12), or "
     "DistributionChannel is spam",
     ("Spam", "Survey Preview Spam", "Imported Spam", 8, 9, 12), ("spam",)),
    ("Qualtrics test response",
     "Status is Survey Test (2) or DistributionChannel is test",
     ("Survey Test", 2), ("test",)),
)
UNFINISHED_REASON = "unfinished response"
UNFINISHED_RULE = "Finished is false (0) or Progress < 100"


@dataclass
class Selection:
    """Which rows to keep (``keep``, by position) and the exclusions counted by reason."""

    keep: np.ndarray
    unfinished: str
    unfinished_rows: int = 0
    exclusions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.keep)

    @property
    def rows_kept(self) -> int:
        return int(self.keep.sum())

    def summary(self) -> dict[str, Any]:
        """``manifest.json["row_selection"]``: the unfinished setting and the row counts."""
        return {"unfinished": self.unfinished, "rows_read": self.rows_read,
                "rows_kept": self.rows_kept, "unfinished_rows": self.unfinished_rows}

    def frame(self) -> pd.DataFrame:
        """The exclusions as ``exclusions.parquet`` holds them (one row per reason)."""
        return exclusions_frame(self.exclusions)

    def describe(self) -> str:
        """How many rows were read, kept and excluded, and why (for the command line)."""
        return describe(self.summary(), self.exclusions)


def exclusions_frame(exclusions: list[dict[str, Any]]) -> pd.DataFrame:
    """Exclusion records as a typed frame with :data:`EXCLUSION_COLUMNS` (also when empty)."""
    frame = pd.DataFrame(exclusions, columns=EXCLUSION_COLUMNS)
    return frame.astype({"step": "string", "reason": "string", "rule": "string",
                         "n_rows": "int64"})


def describe(summary: dict[str, Any], exclusions: list[dict[str, Any]]) -> str:
    """Row counts and exclusions in words, e.g. for ``python -m helpers validate``."""
    read, kept = summary.get("rows_read", 0), summary.get("rows_kept", 0)
    excluded = read - kept
    if not excluded:
        lines = [f"Rows: {read} read, all kept"]
    else:
        lines = [f"Rows: {read} read, {kept} kept, {excluded} excluded:"]
    for record in exclusions:
        if record["n_rows"] or record["step"] == "mapping":
            lines.append(f"  {record['n_rows']:>5}  {record['reason']} ({record['rule']})")
    if summary.get("unfinished") == "keep" and summary.get("unfinished_rows"):
        lines.append(f"  {summary['unfinished_rows']} unfinished response(s) kept "
                     "(unfinished: keep)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- Qualtrics metadata
def _norm(text: Any) -> str:
    """Letters and digits only, casefolded: "Response Type" ~ "responsetype"."""
    return re.sub(r"[\W_]+", "", str(text).casefold())


def is_qualtrics(raw: pd.DataFrame) -> bool:
    """True when the raw export comes from Qualtrics (its reader said so, or it holds at least
    :data:`QUALTRICS_MIN_METADATA` of Qualtrics' metadata columns, e.g. an SPSS export)."""
    if str(raw.attrs.get("format", "")).startswith("qualtrics"):
        return True
    return sum(name in raw.columns for name in QUALTRICS_METADATA) >= QUALTRICS_MIN_METADATA


def metadata_column(raw: pd.DataFrame, name: str) -> str | None:
    """The raw column holding Qualtrics metadata ``name`` (e.g. ``Finished``), or None.

    By name; in a Qualtrics export also by its question-text row (legacy ``V10`` = "Finished").
    """
    if name in raw.columns:
        return name
    if not str(raw.attrs.get("format", "")).startswith("qualtrics"):
        return None
    wanted = {_norm(name), _norm(QUALTRICS_METADATA.get(name, name))}
    texts = raw.attrs.get("question_text")
    for column, text in (texts.items() if isinstance(texts, dict) else ()):
        if column in raw.columns and _norm(text) in wanted:
            return str(column)
    return None


def _labels(frame: pd.DataFrame, column: str) -> Any:
    labels = frame.attrs.get("value_labels")
    return labels.get(column) if isinstance(labels, dict) else None


def _qualtrics_masks(raw: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(reason, rule, mask) for preview, spam and test responses."""
    n = len(raw)
    status, channel = metadata_column(raw, "Status"), metadata_column(raw, "DistributionChannel")
    out = []
    for reason, rule, status_values, channel_values in QUALTRICS_REASONS:
        mask = np.zeros(n, dtype=bool)
        if status is not None:
            mask |= matches(raw[status].to_numpy(dtype=object), status_values,
                            _labels(raw, status))
        if channel is not None:
            mask |= matches(raw[channel].to_numpy(dtype=object), channel_values,
                            _labels(raw, channel))
        out.append((reason, rule, mask))
    return out


def unfinished_mask(raw: pd.DataFrame) -> np.ndarray:
    """Rows whose ``Finished`` is false (0/False) or whose ``Progress`` is below 100."""
    mask = np.zeros(len(raw), dtype=bool)
    if not is_qualtrics(raw):
        return mask
    finished = metadata_column(raw, "Finished")
    if finished is not None:
        mask |= matches(raw[finished].to_numpy(dtype=object), (0, "false"),
                        _labels(raw, finished))
    progress = metadata_column(raw, "Progress")
    if progress is not None:
        numbers = pd.to_numeric(raw[progress], errors="coerce").to_numpy(dtype=float)
        mask |= np.nan_to_num(numbers, nan=PROGRESS_DONE) < PROGRESS_DONE
    return mask


# --------------------------------------------------------------------------- selection
def select_rows(raw: pd.DataFrame, mapped: pd.DataFrame, mapping: Mapping) -> Selection:
    """Decide which rows to keep: Qualtrics metadata first, then the mapping's ``exclude`` rules.

    ``raw`` is the export as read (source names; for metadata and dropped columns), ``mapped``
    the same rows after :func:`helpers.mapping.apply_mapping` (target names, recoded values).
    """
    if len(raw) != len(mapped):
        raise ValueError("raw and mapped frames must hold the same rows")
    n = len(raw)
    taken = np.zeros(n, dtype=bool)
    selection = Selection(keep=np.ones(n, dtype=bool), unfinished=mapping.unfinished)

    def count(step: str, reason: str, rule: str, mask: np.ndarray, always: bool) -> None:
        new = mask & ~taken
        taken[:] |= new
        if new.any() or always:
            selection.exclusions.append({"step": step, "reason": reason, "rule": rule,
                                         "n_rows": int(new.sum())})

    if is_qualtrics(raw):
        for reason, rule, mask in _qualtrics_masks(raw):
            count("qualtrics", reason, rule, mask, always=False)
        unfinished = unfinished_mask(raw) & ~taken
        selection.unfinished_rows = int(unfinished.sum())
        if mapping.unfinished == "exclude":
            count("qualtrics", UNFINISHED_REASON,
                  f"{UNFINISHED_RULE} (unfinished: exclude)", unfinished, always=False)
    for rule in mapping.exclude:
        count("mapping", rule.reason, rule.describe(), _rule_mask(rule, raw, mapped, mapping),
              always=True)
    selection.keep = ~taken
    return selection


def apply_selection(mapped: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The kept rows (index unchanged: the export's data-row positions), with the selection in
    attrs: ``row_selection`` (the summary), ``exclusions`` (the records) and ``dont_know``
    positions renumbered to the kept rows."""
    out = mapped.iloc[np.flatnonzero(selection.keep)].copy()
    attrs = dict(mapped.attrs)
    new_position = np.cumsum(selection.keep) - 1
    attrs["dont_know"] = {
        column: [int(new_position[p]) for p in positions if selection.keep[p]]
        for column, positions in (mapped.attrs.get("dont_know") or {}).items()}
    attrs["dont_know"] = {c: p for c, p in attrs["dont_know"].items() if p}
    attrs["row_selection"] = selection.summary()
    attrs["exclusions"] = [dict(record) for record in selection.exclusions]
    out.attrs = attrs
    return out


def _rule_mask(rule: ExcludeRule, raw: pd.DataFrame, mapped: pd.DataFrame,
               mapping: Mapping) -> np.ndarray:
    """Rows one ``exclude`` rule matches."""
    if rule.test == "ids":
        return _ids_mask(rule, mapped, mapping)
    frame, column = _rule_column(rule, raw, mapped, mapping)
    values = frame[column].to_numpy(dtype=object)
    if rule.test in COMPARISONS:
        numbers = _numbers(frame, column, rule, mapping)
        with np.errstate(invalid="ignore"):
            compare = {"above": np.greater, "below": np.less, "at_least": np.greater_equal,
                       "at_most": np.less_equal}[rule.test]
            return compare(numbers, rule.number) & ~np.isnan(numbers)
    wanted = list(rule.values)
    if column == ROLE_COLUMN and frame is mapped:
        wanted = [_role_of(v) or v if isinstance(v, str) else v for v in wanted]
    hit = matches(values, wanted, _labels(frame, column))
    if rule.test == "not_in":
        return ~hit & ~pd.isna(pd.Series(values, dtype=object)).to_numpy()
    return hit


def _rule_column(rule: ExcludeRule, raw: pd.DataFrame, mapped: pd.DataFrame,
                 mapping: Mapping) -> tuple[pd.DataFrame, str]:
    """Where a rule's column is: a renamed source column's target, a column of the mapped
    frame (a target or a kept source column), or a dropped source column in the raw export."""
    name = str(rule.column)
    if name in mapping.columns and mapping.columns[name] in mapped.columns:
        return mapped, mapping.columns[name]
    if name in mapped.columns:
        return mapped, name
    if name in raw.columns:
        return raw, name
    found = list(dict.fromkeys([*map(str, raw.columns), *map(str, mapped.columns)]))
    raise DataError(f"'exclude' rule '{rule.reason}' names column '{name}', which is neither a "
                    f"column of {raw.attrs.get('source', 'the data')} nor a target name",
                    file=mapping.path, column=name, rule="exclude-column-missing",
                    hint=similar_columns(name, found))


def _numbers(frame: pd.DataFrame, column: str, rule: ExcludeRule, mapping: Mapping
             ) -> np.ndarray:
    """The cells as floats (NaN when empty); text that is not a number is an error."""
    series = frame[column].astype(object)
    numbers = pd.to_numeric(series.map(lambda v: v.strip() if isinstance(v, str) else v),
                            errors="coerce")
    bad = numbers.isna() & series.notna() & series.map(lambda v: str(v).strip() != "")
    if bad.any():
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(series[bad].astype(str)))[:5])
        raise DataError(f"'exclude' rule '{rule.reason}' compares '{rule.column}' with a number, "
                        f"but it holds text: {shown}", file=mapping.path, column=rule.column,
                        rule="exclude-not-numeric",
                        hint="compare a numeric column, or use values/not_in for text",
                        **row_locations(frame, bad))
    return numbers.to_numpy(dtype=float)


def id_text(value: Any) -> str | None:
    """An id as text, the same whatever file it came from: surrounding spaces removed and whole
    numbers without a decimal part (SPSS stores ``1001`` as 1001.0, so "1001" and 1001.0 are one
    id); None when empty. Used for the mapping's ``ids`` rules and for every respondent and firm
    id of the processed data, so that survey, budgets and ledger give one firm one pseudonym."""
    if isinstance(value, float | np.floating) and np.isfinite(value) and value.is_integer():
        return str(int(value))
    if value is None or (not isinstance(value, str) and _is_na_scalar(value)):
        return None
    return str(value).strip()


def _is_na_scalar(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list-like cell
        return False


def _ids_mask(rule: ExcludeRule, mapped: pd.DataFrame, mapping: Mapping) -> np.ndarray:
    """Rows whose respondent id is listed; an id not in the data is an error (a typo)."""
    if "respondent_id" not in mapped.columns:
        raise DataError(f"'exclude' rule '{rule.reason}' lists respondent ids, but no column is "
                        "mapped to respondent_id", file=mapping.path, column="respondent_id",
                        rule="exclude-column-missing",
                        hint="map the export's response id column to respondent_id in 'columns'")
    ids = [id_text(v) for v in mapped["respondent_id"].to_numpy(dtype=object)]
    present = set(ids)
    missing = [i for i in rule.values if i not in present]
    if missing:
        close = [m for i in missing[:3]
                 for m in difflib.get_close_matches(i, [p for p in present if p], n=1)]
        guess = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise DataError(f"'exclude' rule '{rule.reason}' lists {len(missing)} respondent id(s) "
                        f"that are not in the data: {', '.join(missing[:10])}",
                        file=mapping.path, column="respondent_id", rule="exclude-unknown-id",
                        hint=f"{guess}ids are matched exactly, as text")
    wanted = set(rule.values)
    return np.array([i in wanted for i in ids], dtype=bool)
