"""Machine-readable results of a report run: key estimates recorded in the notebook, collected by the runner.

A notebook calls :func:`record` with a tidy table (or a dict); the call emits an output with a private
MIME type that a live notebook shows as nothing. The batch runner (:mod:`helpers.batch.render`) lifts
those outputs out of the executed notebook into ``<report>.json`` beside the HTML — notebook, parameters,
data fingerprint, n and the tidy estimates — and removes them before the HTML export.

Recorded numbers are rounded to the precision the reports show (:func:`rounded`): a results file
in full float precision would let a reader difference two reports far beyond what either shows.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

MIME = "application/vnd.disconnect-lab.results+json"
#: decimals of recorded estimates, intervals, means, shares and statistics
DECIMALS = 3
#: decimals of percentages (columns named pct_*, *_pct, percent…)
PERCENT_DECIMALS = 1
#: significant digits of p-values (so p = 0.00004 stays distinguishable from 0)
P_DIGITS = 3
PERCENT = re.compile(r"(^|_)(pct|percent)(_|$)", re.IGNORECASE)
P_VALUE = re.compile(r"^(p|p_value|p_adjusted|pvalue|p_.*)$", re.IGNORECASE)
COUNT = re.compile(r"^(n|n_.*|.*_n|firms|pairs|respondents|cmos|cios|count|df_resid|nobs|"
                   r"firm_waves|matched|no_.*|clusters|excluded|cmo_only|cio_only|"
                   r"complete_dyads|rows)$", re.IGNORECASE)


def round_value(name: str, value: Any) -> Any:
    """A recorded number as the report shows it: percentages to :data:`PERCENT_DECIMALS`,
    p-values to :data:`P_DIGITS` significant digits, whole-number counts as integers, other
    numbers to :data:`DECIMALS`. Anything else is returned as it is."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    v = float(value)
    if not math.isfinite(v):
        return v
    if COUNT.match(name) and v.is_integer():
        return int(v)
    if P_VALUE.match(name):
        return float(f"{v:.{P_DIGITS}g}")
    if PERCENT.search(name):
        return round(v, PERCENT_DECIMALS)
    return round(v, DECIMALS)


def rounded(value: Any, name: str = "") -> Any:
    """:func:`round_value` through dicts (by key), lists and tables (by column)."""
    if isinstance(value, pd.DataFrame):
        out = value.copy()
        for col in out.columns:
            out[col] = pd.Series([round_value(str(col), v) for v in out[col]], index=out.index,
                                 dtype=object)
        return out
    if isinstance(value, dict):
        return {k: rounded(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, name) for v in value]
    return round_value(name, value)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value if isinstance(value, (str, int, bool)) or value is None else str(value)


def plain(value: Any) -> Any:
    """A value in plain JSON types (dict keys as text, NaN as None), as results files hold it."""
    return _jsonable(value)


def payload(key: str, value: pd.DataFrame | dict[str, Any] | float | str) -> dict[str, Any]:
    """The JSON entry for one recorded result (a table becomes a list of row records), rounded
    to the precision reports show (:func:`rounded`)."""
    if isinstance(value, pd.DataFrame):
        records = rounded(value).reset_index(drop=True).to_dict(orient="records")
        return {"key": key, "kind": "table", "columns": [str(c) for c in value.columns],
                "rows": _jsonable(records)}
    return {"key": key, "kind": "value", "value": _jsonable(rounded(value, key))}


def record(key: str, value: pd.DataFrame | dict[str, Any] | float | str) -> None:
    """Record a key result (e.g. a tidy table of estimates) for the report's results file."""
    from IPython.display import display

    display({MIME: payload(key, value)}, raw=True)


TABLES = "tables"
"""The results key holding every table a report shows (:func:`table_entry`)."""


def table_entry(caption: str, frame: pd.DataFrame, note: str = "") -> dict[str, Any]:
    """One shown table for the results file: its caption, column headers and rows (lists of
    plain values, as the table's downloads hold them: the shown labels, numbers rounded as
    shown, suppressed cells as shown), and its note."""
    entry = {"caption": str(caption), "columns": [str(c) for c in frame.columns],
             "rows": _jsonable(frame.astype(object).where(frame.notna(), None)
                               .to_numpy().tolist())}
    if note:
        entry["note"] = str(note)
    return entry


def tables_payload(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The private MIME entry a shown table's display carries (:class:`helpers.tables.Shown`)."""
    return {"key": TABLES, "kind": TABLES, TABLES: _jsonable(entries)}


def collect(nb: Any, strip: bool = True) -> dict[str, Any]:
    """All results recorded in an executed notebook, keyed by name; optionally remove them.

    Recorded results (:func:`record`) are outputs of their own and are removed whole; the
    tables a report shows (:func:`helpers.tables.show`) travel inside the table's display and
    are gathered, in the order shown, under :data:`TABLES` (``{"kind": "tables", "tables":
    [{caption, columns, rows, note?}, …]}``) while the display itself stays.
    """
    found: dict[str, Any] = {}
    shown: list[dict[str, Any]] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if out.get("output_type") in (
                "display_data", "execute_result") else {}
            if MIME not in data:
                kept.append(out)
                continue
            entry = data[MIME]
            if entry.get("kind") == TABLES:
                shown.extend(entry.get(TABLES) or [])
            else:
                found[entry["key"]] = {k: v for k, v in entry.items() if k != "key"}
            rest = {k: v for k, v in data.items() if k != MIME}
            if set(rest) - {"text/plain"}:  # a display that carried the entry: keep it
                if strip:
                    out["data"] = rest
                kept.append(out)
        if strip:
            cell["outputs"] = kept
    if shown:
        found[TABLES] = {"kind": TABLES, TABLES: shown}
    return found


def dumps(document: dict[str, Any]) -> str:
    """Serialise a results document deterministically."""
    return json.dumps(_jsonable(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


KEY_COLUMNS = ["term", "estimate", "std_error", "ci_low", "ci_high", "p_value"]


def key_estimates(table: pd.DataFrame, *, term: str = "term", estimate: str = "estimate",
                  std_error: str | None = "std_error", ci_low: str = "ci_low",
                  ci_high: str = "ci_high", p_value: str | None = "p_value") -> pd.DataFrame:
    """A table in the index's standard shape (term, estimate, std_error, ci_low, ci_high,
    p_value); columns a method does not produce are NaN."""
    out = pd.DataFrame({
        "term": table[term].astype(str).to_numpy(),
        "estimate": table[estimate].to_numpy(dtype=float),
        "std_error": table[std_error].to_numpy(dtype=float) if std_error else np.nan,
        "ci_low": table[ci_low].to_numpy(dtype=float),
        "ci_high": table[ci_high].to_numpy(dtype=float),
        "p_value": table[p_value].to_numpy(dtype=float) if p_value else np.nan,
    })
    return out[KEY_COLUMNS]
