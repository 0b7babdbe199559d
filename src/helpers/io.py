"""Read raw survey files into DataFrames, keeping the source's own column names.

:func:`read_raw` is the single entry point.  It picks a reader from the file extension (or the
``format=`` option) and returns one row per response.  Metadata travels in ``df.attrs`` as plain
JSON-able Python values:

``source``         path of the file that was read
``format``         ``csv``, ``qualtrics``, ``qualtrics_legacy``, ``excel``, ``spss``, ``stata``
                   or ``parquet``
``question_text``  column -> question wording (Qualtrics header rows, SPSS/Stata variable labels,
                   upper Excel header rows)
``value_labels``   column -> {code: label} (SPSS/Stata)
``missing_codes``  column -> user-missing codes that were turned into NaN (SPSS/Stata)
``missing_cells``  column -> {code: row positions} of those cells, so that the mapping step can
                   still count a user-missing "don't know" (SPSS/Stata; only columns with some)
``import_ids``     column -> Qualtrics ImportId (Qualtrics only; empty when the row is absent)
``encoding``/``sep`` for text files, ``sheet`` for Excel: how the file was decoded.
``source_lines``   where each row sits in the file, so messages can point at it: read it with
                   :func:`source_lines` (an index-aligned Series) or :func:`row_locations`.

Where a row came from: messages name the file's *own* line number, not a position in the frame.
``attrs["source_lines"]`` is ``{"unit": ..., "n": rows read, "runs": [[label, line], ...]}``,
keyed by the row's **index label** (``read_raw`` returns labels 0..n-1): the row labelled ``L``
sits on ``line + (L - label)`` of the last run starting at or before ``L``. Units: ``line`` --
the physical line of a text file on which the record starts (header rows, Qualtrics' three
header rows, blank lines and quoted values spanning several lines all counted, as an editor
shows them); ``sheet row`` -- the Excel row number; ``record`` -- the case/record number of an
SPSS, Stata or Parquet file. Because it is keyed by label, it follows rows through
``df.loc[mask]``, ``df.drop(index=...)``, sorting and column changes (pandas copies attrs);
it is lost meaning after ``reset_index`` (labels are renumbered), so filter with masks and
reset the index only after validation. Runs keep attrs small (pandas deep-copies them on every
operation). When the lines cannot be told for certain (a text file the ``csv`` module splits
differently from the parser), the entry is left out and messages fall back to data rows.

Why so much sniffing: the surveys are fielded in four languages and come back as European Excel
exports (semicolons, decimal commas, cp1252 umlauts), Qualtrics downloads with two or three
header rows, and SPSS/Stata files from agencies.  Text cells stay text (object dtype, NaN for
missing): a column is only made numeric when *every* value parses, so a stray "n.a." in a
numeric item is left for validation to report instead of being silently coerced.

Decimal commas are only recognised when the delimiter is not a comma (or ``decimal=","`` is
given): in a comma-separated file a quoted "1,3" is usually a Qualtrics multi-select answer.
Thousands separators: "." with decimal commas ("1.234,5"), and no-break, narrow no-break or thin
spaces in either convention ("1\u00a0234,5", as Excel writes them in French/Nordic locales).
Integers with more than 18 digits keep their column as text (identifiers, like "007"), so no
column silently turns into Python ints or rounded floats.

Excel workbooks (.xlsx) are streamed: openpyxl's read-only mode, row by row, after the sizes the
archive declares are checked (:func:`check_xlsx_size`, before any XML is parsed). A workbook that
unzips to more than 200 MB or a sheet of more than 20 million cells (rows x columns) is a
``DataError`` (rule ``file-too-large``); ``DISCONNECT_LAB_EXCEL_MAX_MB`` and
``DISCONNECT_LAB_EXCEL_MAX_CELLS`` raise the limits.

SPSS and Stata files are read by pyreadstat in a child process (:data:`READSTAT_IN_SUBPROCESS`):
the ReadStat C library can crash on a corrupt file, and the crash then becomes a ``DataError``
instead of killing the notebook kernel or batch worker.  Excel, Parquet and text readers run
in-process; whatever their libraries raise on a corrupt file is re-raised as ``DataError``.

Every problem is raised as :class:`helpers.errors.DataError`; the file is never written to.
"""

from __future__ import annotations

import codecs
import csv
import os
import pickle
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import LazyModule
from helpers.errors import DataError, Issue, quote, shorten

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    import openpyxl
    import pyreadstat
else:  # only Excel, SPSS and Stata files need them (openpyxl alone costs ~0.2 s to import)
    openpyxl = LazyModule("openpyxl")
    pyreadstat = LazyModule("pyreadstat")

EXTENSION_FORMATS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".xlsx": "excel", ".xls": "excel",
    ".sav": "spss", ".zsav": "spss",
    ".dta": "stata",
    ".parquet": "parquet", ".pq": "parquet",
}
# Accepted values of ``format=``: reader names plus the names stored in ``attrs["format"]``.
FORMAT_ALIASES = {
    "csv": "csv", "tsv": "csv", "txt": "csv", "qualtrics": "csv", "qualtrics_legacy": "csv",
    "excel": "excel", "xlsx": "excel", "xls": "excel",
    "spss": "spss", "sav": "spss", "zsav": "spss",
    "stata": "stata", "dta": "stata",
    "parquet": "parquet", "pq": "parquet",
}
DEFAULT_NA_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "#N/A", "NULL", "null")
SEPARATORS = (",", ";", "\t", "|")

# Qualtrics metadata columns and the wording Qualtrics puts in the question-text row.
QUALTRICS_METADATA = {
    "StartDate": "Start Date", "EndDate": "End Date", "Status": "Response Type",
    "IPAddress": "IP Address", "Progress": "Progress",
    "Duration (in seconds)": "Duration (in seconds)", "Finished": "Finished",
    "RecordedDate": "Recorded Date", "ResponseId": "Response ID",
    "RecipientLastName": "Recipient Last Name", "RecipientFirstName": "Recipient First Name",
    "RecipientEmail": "Recipient Email", "ExternalReference": "External Data Reference",
    "LocationLatitude": "Location Latitude", "LocationLongitude": "Location Longitude",
    "DistributionChannel": "Distribution Channel", "UserLanguage": "User Language",
}
IMPORT_ID = re.compile(r"""\{\s*['"]ImportId['"]\s*:\s*['"]([^'"]*)['"]""")
LEGACY_NAME = re.compile(r"V\d+")
# numbers use ASCII digits only: re's \d also matches "٠" or "５", which pandas cannot parse
DOT_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
LEADING_ZERO = re.compile(r"[+-]?0\d", re.ASCII)
LONG_INTEGER = re.compile(r"[+-]?\d{19,}", re.ASCII)  # beyond int64: an identifier, kept as text
COMMA_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?", re.ASCII)  # 3,5  1.234,56  12
GROUP_SPACES = "\u00a0\u202f\u2009"  # no-break, narrow no-break and thin space
SPACE_GROUPED = re.compile(rf"[+-]?\d{{1,3}}(?:[{GROUP_SPACES}]\d{{3}})+(?:[.,]\d+)?",
                           re.ASCII)  # 1 234,5
EMPTY = "\0empty_"  # placeholder name of a nameless, empty column
PER_COLUMN_ATTRS = ("question_text", "value_labels", "missing_codes", "missing_cells",
                    "import_ids")
SOURCE_LINES = "source_lines"  # attrs key: where each row sits in the file (see the docstring)
LINE_UNITS = ("line", "sheet row", "record")
ID_COLUMNS = ("respondent_id", "ResponseId", "ResponseID")  # codebook name, then Qualtrics'
_LINES = "_lines"  # reader -> _finish: file line of each data row, in row order
_UNIT = "_unit"
MAX_CONTROL_SHARE = 0.05  # more control characters than this means binary, not text


@dataclass(frozen=True)
class _ReadOptions:
    """Options of :func:`read_raw`; each reader uses the ones that apply to its format."""

    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    header_rows: int | None = None
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES


@dataclass
class _Header:
    """Column names and header metadata found above the data rows of a grid."""

    names: list[str]
    skip: int
    fmt: str
    question_text: dict[str, str] = field(default_factory=dict)
    import_ids: dict[str, str] | None = None
    upper_rows: list[list[str]] = field(default_factory=list)


def read_raw(
    path: str | Path,
    *,
    format: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header_rows: int | None = None,
    na_values: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read one raw survey file; one row per response, source column names, metadata in attrs.

    ``format`` overrides the extension; ``sep``/``decimal``/``encoding`` override sniffing of
    text files (``encoding`` is also passed to pyreadstat); ``sheet`` picks an Excel sheet
    (name or 0-based index, default the first); ``header_rows`` is the number of header rows
    of a CSV/Excel file (default: detected); ``na_values`` adds strings that mean "missing" in
    text and Excel cells to :data:`DEFAULT_NA_VALUES`.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError("file does not exist (or is a directory)", file=str(file),
                        rule="file-not-found", hint="check the path and the working directory")
    if header_rows is not None and header_rows < 1:
        raise ValueError("header_rows must be at least 1")
    if decimal not in (None, ",", "."):
        raise ValueError("decimal must be ',' or '.'")
    options = _ReadOptions(sep=sep, decimal=decimal, encoding=encoding, sheet=sheet,
                           header_rows=header_rows,
                           na_values=DEFAULT_NA_VALUES + tuple(na_values or ()))
    reader = READERS[_resolve_format(file, format)]
    df, attrs = reader(file, options)
    return _finish(df, file, attrs)


def _resolve_format(file: Path, format: str | None) -> str:
    """Reader name from the ``format`` option or the file extension."""
    if format is not None:
        if format.lower() not in FORMAT_ALIASES:
            raise DataError(f"unknown format {format!r}", file=str(file), rule="unknown-format",
                            hint=f"use one of {sorted(set(FORMAT_ALIASES.values()))}")
        return FORMAT_ALIASES[format.lower()]
    suffix = file.suffix.lower()
    if suffix not in EXTENSION_FORMATS:
        raise DataError(f"cannot tell the format from the extension {suffix!r}", file=str(file),
                        rule="unknown-format",
                        hint=f"pass format=... or use one of {sorted(EXTENSION_FORMATS)}")
    return EXTENSION_FORMATS[suffix]


def _finish(df: pd.DataFrame, file: Path, attrs: dict[str, Any]) -> pd.DataFrame:
    """Reject frames without rows, use object dtype for text and attach the metadata."""
    if df.empty:
        raise DataError("the file has a header but no data rows", file=str(file),
                        rule="no-data-rows")
    df.columns = _plain_names(df.columns, file)
    for column in df.columns:
        if isinstance(df[column].dtype, pd.StringDtype):
            try:
                df[column] = df[column].astype(object).where(df[column].notna(), np.nan)
            except (pa.ArrowException, UnicodeDecodeError) as exc:  # a damaged Parquet file
                raise DataError(f"the column holds text that cannot be decoded: {exc}",
                                file=str(file), column=column, rule="unreadable-file",
                                hint="the file is corrupt; export it again") from exc
    lines = attrs.pop(_LINES, None)
    unit = attrs.pop(_UNIT, "record")
    attrs.pop(SOURCE_LINES, None)  # stored in a Parquet file: it described another file
    df.attrs = {"source": str(file), "format": attrs["format"], "question_text": {},
                "value_labels": {}, "missing_codes": {}, **attrs}
    if lines is None and unit == "record":
        lines = range(1, len(df) + 1)
    default_index = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 \
        and df.index.step == 1
    if lines is not None and default_index and len(lines) == len(df):
        df.attrs[SOURCE_LINES] = _line_runs(lines, unit)
    return df


def _line_runs(lines: Iterable[int], unit: str) -> dict[str, Any]:
    """The ``source_lines`` entry for rows labelled 0..n-1 lying on ``lines``."""
    runs: list[list[int]] = []
    n = 0
    for label, line in enumerate(lines):
        n += 1
        if not runs or line - runs[-1][1] != label - runs[-1][0]:
            runs.append([label, int(line)])
    return {"unit": unit, "n": n, "runs": runs}


def source_lines(df: pd.DataFrame) -> pd.Series | None:
    """The file's own line number of every row of ``df`` (index-aligned, int64), or None.

    None when the frame does not come from :func:`read_raw` (or its lines could not be told),
    or when its index no longer holds the labels ``read_raw`` gave (e.g. text labels). The unit
    (``line``, ``sheet row`` or ``record``) is :func:`line_unit`.
    """
    info = df.attrs.get(SOURCE_LINES)
    if not isinstance(info, dict) or not isinstance(info.get("runs"), list) or not info["runs"]:
        return None
    if not pd.api.types.is_integer_dtype(df.index.dtype):
        return None
    try:
        runs = np.array(info["runs"], dtype=np.int64).reshape(-1, 2)
        n = int(info["n"])
    except (TypeError, ValueError, KeyError):
        return None
    labels = df.index.to_numpy(dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= n):
        return None
    at = np.searchsorted(runs[:, 0], labels, side="right") - 1
    if (at < 0).any():
        return None
    return pd.Series(runs[at, 1] + labels - runs[at, 0], index=df.index, dtype="int64")


def line_unit(df: pd.DataFrame) -> str:
    """What :func:`source_lines` counts: ``line``, ``sheet row`` or ``record``."""
    info = df.attrs.get(SOURCE_LINES)
    unit = info.get("unit") if isinstance(info, dict) else None
    return unit if unit in LINE_UNITS else "line"


def row_locations(df: pd.DataFrame, rows: pd.Series | Sequence[Any],
                  id_column: str | None = None) -> dict[str, Any]:
    """Where some rows of ``df`` are, as keyword arguments of :class:`~helpers.errors.DataError`
    and :class:`~helpers.errors.Issue`: ``rows`` (1-based positions in ``df``), ``lines`` (the
    file's own lines, when known), ``line_unit`` and ``ids`` (response ids, when ``df`` has an id
    column: ``id_column``, else the first of :data:`ID_COLUMNS` present).

    ``rows`` is a boolean mask aligned with ``df`` or a list of index labels. The ids are for
    console messages only; never put them in a report.
    """
    if isinstance(rows, pd.Series) and pd.api.types.is_bool_dtype(rows):
        selected = rows.reindex(df.index, fill_value=False).to_numpy(dtype=bool)
    else:
        selected = df.index.isin(list(rows))
    positions = np.flatnonzero(selected)
    lines = source_lines(df)
    column = id_column or next((c for c in ID_COLUMNS if c in df.columns), None)
    ids: list[str] = []
    if column is not None and column in df.columns:
        ids = [str(v).strip() for v in df[column].iloc[positions] if not _is_missing(v)]
    return {"rows": [int(p) + 1 for p in positions],
            "lines": [] if lines is None else [int(v) for v in lines.iloc[positions]],
            "line_unit": line_unit(df), "ids": ids}


EXPECTED_TYPES = {"number": "numbers", "text": "text", "date": "dates",
                  "year": "whole numbers (years)"}


def check_column_types(df: pd.DataFrame, expected: dict[str, str], file: str,
                       what: str = "table") -> None:
    """Refuse cells that cannot be what a column must hold, before any value is parsed.

    ``expected`` maps columns to ``number``, ``text``, ``date`` or ``year``. Nested cells (a
    list, record or map from a Parquet file) never fit; true/false cells do not fit a number,
    date or year column (pandas would read True as 1). The DataError (rule ``column-type``)
    names the file, the column, the expected type, the rows (file lines when known) and
    example values. Text that is not a number stays for the caller's own rules.
    """
    issues = []
    for column, kind in expected.items():
        if column not in df.columns:
            continue
        values = df[column]
        nested = values.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray))
        boolean = values.map(lambda v: isinstance(v, bool | np.bool_)) if kind != "text" else \
            pd.Series(False, index=values.index)
        bad = nested | boolean
        if not bad.any():
            continue
        found = "nested values (lists or records)" if nested.any() else "true/false values"
        shown = ", ".join(quote(v) for v in values[bad].head(3))
        issues.append(Issue(rule="column-type", file=file, column=str(column),
                            message=f"the {what}'s column holds {found}, not "
                                    f"{EXPECTED_TYPES.get(kind, kind)}; e.g. {shown}",
                            hint=f"store {column} as {EXPECTED_TYPES.get(kind, kind)}, one "
                                 "value per cell", **row_locations(df, bad)))
    if issues:
        raise DataError(issues=issues)


def _is_missing(value: Any) -> bool:
    """True for None/NaN/NA and blank text (a missing id is not shown)."""
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain_names(columns: pd.Index, file: Path) -> list[str]:
    """Column names as unique strings; a missing name (a damaged SPSS/Stata/Parquet header)
    becomes ``unnamed_<position>`` as in text files."""
    names = [f"unnamed_{position}" if _cell_text(name) == "" else str(name)
             for position, name in enumerate(columns, start=1)]
    repeated = [name for name, n in Counter(names).items() if n > 1]
    if repeated:
        raise DataError("the column name occurs more than once in the file", file=str(file),
                        column=repeated[0], rule="duplicate-column",
                        hint="give every column a unique name")
    return names


def _unreadable(file: Path, exc: BaseException, what: str) -> DataError:
    """DataError for a file the underlying library could not parse."""
    detail = str(exc) if isinstance(exc, OSError | ValueError) else f"{type(exc).__name__}: {exc}"
    return DataError(f"cannot read the file as {what}: {detail}", file=str(file),
                     rule="unreadable-file",
                     hint="the file may be truncated, corrupt or in a different format")


# --- text files (CSV, TSV, Qualtrics) -------------------------------------------------------


def _read_text(file: Path, options: _ReadOptions) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a delimited text file, detecting encoding, delimiter and Qualtrics header rows."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise _unreadable(file, exc, "bytes") from exc
    text, encoding = _decode(raw, file, options.encoding)
    text = text.replace("\r\n", "\n")  # also inside quoted multi-line question texts
    if not text.strip():
        raise DataError("the file is empty", file=str(file), rule="empty-file")
    sep = options.sep or _sniff_sep(text)
    grid = _parse_grid(text, sep, file)
    df, header, positions = _frame_from_grid(grid, file, options, comma_decimal=sep != ",")
    starts = _record_lines(text, sep, grid)
    lines = None if starts is None else [starts[p] for p in positions]
    return df, {"format": header.fmt, **_header_attrs(header), "encoding": encoding, "sep": sep,
                _LINES: lines, _UNIT: "line"}


def _decode(raw: bytes, file: Path, encoding: str | None) -> tuple[str, str]:
    """Decode bytes: the given encoding, else UTF-16 (BOM), UTF-8, cp1252, latin-1."""
    if encoding:
        try:
            return raw.decode(encoding).removeprefix("\ufeff"), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(f"cannot decode the file as {encoding}: {exc}", file=str(file),
                            rule="encoding",
                            hint="omit encoding= to let the reader detect it") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel "Unicode text"
        return _checked_text(_decode_as(raw, "utf-16", file), file), "utf-16"
    if b"\x00" in raw:
        raise DataError("the file contains NUL bytes: it is binary, not text", file=str(file),
                        rule="unreadable-file", hint="export the data as CSV, Excel or SPSS")
    try:
        return _checked_text(raw.decode("utf-8-sig"), file), "utf-8"
    except UnicodeDecodeError:
        pass
    body = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return _checked_text(body.decode("cp1252"), file), "cp1252"
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in cp1252
        return _checked_text(body.decode("latin-1"), file), "latin-1"


def _decode_as(raw: bytes, encoding: str, file: Path) -> str:
    """Decode strictly, reporting failure as an unreadable file."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _unreadable(file, exc, encoding) from exc


def _checked_text(text: str, file: Path) -> str:
    """Return the text without BOM, or refuse it when it is mostly control characters."""
    sample = text[:100_000]
    controls = sum(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in sample)
    if sample and controls / len(sample) > MAX_CONTROL_SHARE:
        raise DataError("the file is binary junk, not text (undecodable characters)",
                        file=str(file), rule="unreadable-file",
                        hint="export the data as CSV, Excel or SPSS")
    return text.removeprefix("\ufeff")


def _sniff_sep(text: str) -> str:
    """Pick the delimiter that splits the header into most fields consistently across rows."""
    sample = text[:65_536]
    scores: list[tuple[float, int, str]] = []
    for sep in SEPARATORS:
        try:
            rows = [row for row in csv.reader(StringIO(sample), delimiter=sep) if row][:50]
        except csv.Error:
            continue
        if len(sample) < len(text) and len(rows) > 2:
            rows = rows[:-1]  # the last row may be cut off
        if rows and len(rows[0]) > 1:
            share = sum(len(row) == len(rows[0]) for row in rows) / len(rows)
            scores.append((share, len(rows[0]), sep))
    return max(scores)[2] if scores else ","


def _parse_grid(text: str, sep: str, file: Path) -> pd.DataFrame:
    """Split text into a header-less grid of raw strings (None where a row is short)."""
    try:
        grid = pd.read_csv(StringIO(text), sep=sep, header=None, dtype=object, na_filter=False,
                           skip_blank_lines=True, engine="python" if len(sep) > 1 else "c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        raise _malformed(exc, file, sep, text) from exc
    cells = grid.to_numpy(dtype=object, copy=True)
    cells[pd.isna(cells)] = None
    return pd.DataFrame(cells, dtype=object)


def _record_lines(text: str, sep: str, grid: pd.DataFrame) -> list[int] | None:
    """The physical line (1-based) on which each record of the parsed grid starts.

    The grid comes from pandas, which skips blank lines (also whitespace-only ones) and counts a
    quoted value spanning lines once; the ``csv`` module splits the same text and says how many
    lines each record consumed. Unless both agree on every record's first cell, None: no line
    number is better than a wrong one (e.g. bare carriage returns, which only pandas splits on).
    """
    if len(sep) != 1 or grid.empty:
        return None
    starts: list[tuple[int, str, bool]] = []  # (first line, first cell, blank but whitespace)
    reader = csv.reader(StringIO(text), delimiter=sep)
    consumed = 0
    try:
        for record in reader:
            if record:
                blank = len(record) == 1 and not record[0].strip()
                starts.append((consumed + 1, record[0], blank))
            consumed = reader.line_num
    except csv.Error:  # NUL bytes, a field beyond csv's size limit, a bare carriage return
        return None
    first = ["" if v is None else str(v) for v in grid.iloc[:, 0]]
    for skip_whitespace in (False, True):
        kept = [(line, cell) for line, cell, blank in starts if not (skip_whitespace and blank)]
        if [cell for _, cell in kept] == first:
            return [line for line, _ in kept]
    return None


def _malformed(exc: BaseException, file: Path, sep: str, source: str) -> DataError:
    """DataError for text the CSV parser rejected, naming the line in words a user can act on.

    The parser counts records (from 1, blank lines included, a quoted value spanning several
    lines counted once); the message names the physical line the record starts on, as an editor
    shows it and as every other message does (:func:`_physical_line`).
    """
    text = " ".join(str(exc).split())
    shown = {"\t": "tab", " ": "space"}.get(sep, repr(sep))
    if found := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text):
        expected, record, saw = (int(n) for n in found.groups())
        line = _physical_line(source, sep, record)
        return DataError(f"malformed delimited text: line {line} has {saw} fields but the lines "
                         f"above have {expected} (delimiter {shown})", file=str(file),
                         rule="malformed-csv",
                         hint="remove title or note lines above the header, or quote values "
                              "that contain the delimiter")
    if found := re.search(r"EOF inside string starting at row (\d+)", text):
        line = _physical_line(source, sep, int(found.group(1)) + 1)
        return DataError(f"malformed delimited text: the quoted value starting on line {line} "
                         "is never closed", file=str(file), rule="malformed-csv",
                         hint="close the quote or remove the stray quote character")
    return DataError(f"malformed delimited text: {text}", file=str(file), rule="malformed-csv",
                     hint="check for title lines above the header or unbalanced quotes")


def _physical_line(text: str, sep: str, record: int) -> int:
    """The physical line on which the parser's ``record`` (1-based, blank lines counted, a
    multi-line quoted value once) starts; ``record`` itself when the csv module cannot tell."""
    if len(sep) != 1:
        return record
    reader = csv.reader(StringIO(text), delimiter=sep)
    consumed = 0
    try:
        for number, _ in enumerate(reader, start=1):
            if number == record:
                return consumed + 1
            consumed = reader.line_num
    except csv.Error:
        pass
    return record


# --- grids shared by text and Excel files ---------------------------------------------------


def _frame_from_grid(grid: pd.DataFrame, file: Path, options: _ReadOptions, *,
                     comma_decimal: bool, merged_top: bool = False
                     ) -> tuple[pd.DataFrame, _Header, list[int]]:
    """Turn a header-less grid into a typed frame: header rows, missing values, numbers.

    Also returns the grid position (0-based record or sheet row) of every data row kept, so
    that the reader can tell each row's line in the file.
    """
    header = None if options.header_rows else _qualtrics_header(grid)
    if header is None:
        header = _plain_header(grid, options.header_rows or (2 if merged_top else 1))
    body = grid.iloc[header.skip:]
    names = _column_names(header.names, body, file)
    data = _drop_repeated_headers(body.set_axis(names, axis=1), [names, *header.upper_rows])
    missing = np.frompyfunc(lambda v: _missing_to_nan(v, options.na_values), 1, 1)
    data = pd.DataFrame(missing(data.to_numpy(dtype=object)), index=data.index,
                        columns=data.columns, dtype=object)
    data = data.loc[data.notna().any(axis=1), [n for n in names if not n.startswith(EMPTY)]]
    header.names = list(data.columns)
    positions = [int(p) for p in data.index]
    return _typed(data.reset_index(drop=True), comma_decimal, options.decimal), header, positions


def _column_names(raw: list[str], body: pd.DataFrame, file: Path) -> list[str]:
    """Unique column names; blank ones become ``unnamed_<position>``, or a placeholder
    starting with :data:`EMPTY` (dropped later) when the column holds no data at all, e.g.
    after a trailing delimiter."""
    names: list[str] = []
    for position, name in enumerate(raw, start=1):
        if not name:
            has_data = body.iloc[:, position - 1].map(_cell_text).ne("").any()
            name = f"unnamed_{position}" if has_data else f"{EMPTY}{position}"
        if name in names:
            raise DataError("the column name occurs more than once in the header",
                            file=str(file), column=name, rule="duplicate-column",
                            hint="give every column a unique name")
        names.append(name)
    return names


def _cell_text(value: object) -> str:
    """Header-comparable text of a cell: '' for empty, 2019 for 2019.0."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().removeprefix("\ufeff")


def _qualtrics_header(grid: pd.DataFrame) -> _Header | None:
    """Detect the Qualtrics header variants (3 rows, legacy V1..Vn, missing ImportId row)."""
    if len(grid) < 2:
        return None
    rows = [[_cell_text(v) for v in grid.iloc[i]] for i in range(min(3, len(grid)))]
    names, texts = rows[0], rows[1]
    if _is_legacy(names, texts):
        return _Header(names, 2, "qualtrics_legacy", _non_empty(names, texts), {})
    if len(rows) == 3 and _is_import_row(rows[2]):
        ids = {n: m.group(1) for n, c in zip(names, rows[2], strict=True)
               if (m := IMPORT_ID.search(c))}
        return _Header(names, 3, "qualtrics", _non_empty(names, texts), ids)
    matches = sum(n in QUALTRICS_METADATA and _norm(t) in {_norm(n), _norm(QUALTRICS_METADATA[n])}
                  for n, t in zip(names, texts, strict=True))
    if matches >= 2:
        return _Header(names, 2, "qualtrics", _non_empty(names, texts), {})
    return None


def _is_legacy(names: list[str], texts: list[str]) -> bool:
    """Legacy Qualtrics: V1, V2, V3 ... with text (not data) below them."""
    if len(names) < 3 or names[:3] != ["V1", "V2", "V3"]:
        return False
    v_texts = [t for n, t in zip(names, texts, strict=True) if LEGACY_NAME.fullmatch(n)]
    return sum(bool(t) and not DOT_NUMBER.fullmatch(t) for t in v_texts) >= 2


def _is_import_row(cells: list[str]) -> bool:
    """At least half of the non-empty cells are ImportId JSON (either quote style)."""
    filled = [c for c in cells if c]
    return bool(filled) and sum(bool(IMPORT_ID.match(c)) for c in filled) * 2 >= len(filled)


def _norm(text: str) -> str:
    """Lower-case letters and digits only, to compare "StartDate" with "Start Date"."""
    return re.sub(r"[\W_]+", "", text.casefold())


def _non_empty(names: list[str], texts: list[str]) -> dict[str, str]:
    """Column -> text for the non-empty texts."""
    return {n: t for n, t in zip(names, texts, strict=True) if t}


def _plain_header(grid: pd.DataFrame, count: int) -> _Header:
    """Names from the lowest non-empty of ``count`` header rows; upper rows become question text."""
    rows = [[_cell_text(v) for v in grid.iloc[i]] for i in range(min(count, len(grid)))]
    names: list[str] = []
    texts: dict[str, str] = {}
    for cells in zip(*rows, strict=True):
        filled = [c for c in cells if c]
        name = filled[-1] if filled else ""
        names.append(name)
        upper = [c for c in dict.fromkeys(filled[:-1]) if c != name]
        if name and upper:
            texts[name] = " / ".join(upper)
    return _Header(names, count, "csv", texts, upper_rows=rows[:-1])


def _drop_repeated_headers(data: pd.DataFrame, headers: Sequence[list[str]]) -> pd.DataFrame:
    """Drop data rows that repeat a header row (concatenated exports, pasted sheets)."""
    cells = data.to_numpy(dtype=object)
    texts = np.frompyfunc(_cell_text, 1, 1)(cells) if cells.size else cells
    filled = texts != ""
    repeated = np.zeros(len(data), dtype=bool)
    for header in headers:
        cells = np.array(header, dtype=object)
        needed = max(1, min(2, int((cells != "").sum())))
        same = ((texts == cells) | ~filled).all(axis=1)
        repeated |= same & (filled.sum(axis=1) >= needed)
    return data.loc[~repeated]


def _missing_to_nan(value: object, na_values: tuple[str, ...]) -> object:
    """NaN for empty cells, whitespace and the configured missing-value strings."""
    if value is None:
        return np.nan
    if isinstance(value, str) and value.strip() in na_values:
        return np.nan
    return value


def _typed(data: pd.DataFrame, comma_decimal: bool, decimal: str | None) -> pd.DataFrame:
    """Make every column whose values all parse as numbers numeric; leave the rest as text."""
    cells = data.to_numpy(dtype=object)
    columns = {}
    for position, name in enumerate(data.columns):
        column = cells[:, position]
        numbers = _numeric(column, comma_decimal, decimal)
        columns[name] = pd.Series(column if numbers is None else numbers, index=data.index,
                                  dtype=object if numbers is None else None)
    return pd.DataFrame(columns, index=data.index)


def _numeric(values: np.ndarray, comma_decimal: bool, decimal: str | None) -> np.ndarray | None:
    """The cells of one column as numbers, or None when any value is not a number.

    Works on plain Python values (not one pandas call per column and step): wide exports have
    thousands of columns.
    """
    present = ~pd.isna(values)
    if not present.any():
        return np.full(len(values), np.nan)
    texts: list[str] = []
    for value in values[present]:
        if isinstance(value, str):
            texts.append(_ungroup(value.strip()))
        elif not _is_real(value):
            return None
    if decimal is None:
        decimal = "," if comma_decimal and any("," in t for t in texts) else "."
    pattern = COMMA_NUMBER if decimal == "," else DOT_NUMBER
    if not all(pattern.fullmatch(t) for t in texts):
        return None
    if any(LEADING_ZERO.match(t) or LONG_INTEGER.fullmatch(t) for t in texts):
        return None  # "007", "01234", 20-digit numbers: identifiers or postcodes, not quantities
    converted = iter(texts)
    cells: list[Any] = [np.nan] * len(values)
    for position in np.flatnonzero(present):
        value = values[position]
        if isinstance(value, str):
            value = next(converted)
            if decimal == ",":
                value = value.replace(".", "").replace(",", ".")
        cells[position] = value
    return pd.to_numeric(np.array(cells, dtype=object))


def _ungroup(text: str) -> str:
    """Remove no-break/thin spaces used as thousands separators ("1\u00a0234,5" -> "1234,5")."""
    if SPACE_GROUPED.fullmatch(text):
        return re.sub(f"[{GROUP_SPACES}]", "", text)
    return text


def _is_real(value: object) -> bool:
    """True for int/float cells (not bools, dates or text)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def _header_attrs(header: _Header) -> dict[str, Any]:
    """Question texts (and ImportIds for Qualtrics) as attrs entries."""
    attrs: dict[str, Any] = {"question_text": header.question_text}
    if header.import_ids is not None:
        attrs["import_ids"] = header.import_ids
    return attrs


# --- Excel ----------------------------------------------------------------------------------


def _read_excel(file: Path, options: _ReadOptions) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read one sheet; merged cells are filled so merged headers label every column below."""
    if file.suffix.lower() == ".xls":
        grid, sheet, merged_top = _xls_grid(file, options.sheet), str(options.sheet or 0), False
    else:
        grid, sheet, merged_top = _xlsx_grid(file, options.sheet)
    if grid.empty or grid.map(_cell_text).eq("").all().all():
        raise DataError(f"sheet {sheet!r} is empty", file=str(file), rule="empty-file",
                        hint="pick the sheet with the data via sheet=...")
    df, header, positions = _frame_from_grid(grid, file, options, comma_decimal=True,
                                             merged_top=merged_top)
    fmt = header.fmt if header.fmt.startswith("qualtrics") else "excel"
    # the grid starts at the sheet's row 1 (openpyxl and pandas keep leading empty rows)
    return df, {"format": fmt, **_header_attrs(header), "sheet": sheet,
                _LINES: [p + 1 for p in positions], _UNIT: "sheet row"}


# Limits for Excel workbooks, checked before any XML is parsed: an .xlsx is a zip archive, and a
# few kilobytes of it can inflate to gigabytes of sheet XML (a "zip bomb"), which openpyxl would
# parse for minutes until memory runs out. Raise them through the environment variables below.
EXCEL_MAX_MB_ENV = "DISCONNECT_LAB_EXCEL_MAX_MB"
EXCEL_MAX_CELLS_ENV = "DISCONNECT_LAB_EXCEL_MAX_CELLS"
EXCEL_MAX_BYTES = 200_000_000  # the workbook's parts once unzipped (sheets, shared strings, ...)
EXCEL_MAX_CELLS = 20_000_000  # rows x columns of the sheet read
EXCEL_MAX_PARTS = 10_000  # files inside the archive
EXCEL_MAX_ROWS, EXCEL_MAX_COLUMNS = 1_048_576, 16_384  # Excel's own sheet size


def excel_limits() -> tuple[int, int]:
    """(bytes, cells): the unzipped size and the rows x columns an .xlsx sheet may have.

    ``DISCONNECT_LAB_EXCEL_MAX_MB`` (megabytes) and ``DISCONNECT_LAB_EXCEL_MAX_CELLS`` override
    :data:`EXCEL_MAX_BYTES` and :data:`EXCEL_MAX_CELLS`.
    """
    limits = []
    for name, default, unit in ((EXCEL_MAX_MB_ENV, EXCEL_MAX_BYTES, 1_000_000),
                                (EXCEL_MAX_CELLS_ENV, EXCEL_MAX_CELLS, 1)):
        raw = os.environ.get(name, "").strip()
        try:
            limits.append(max(1, int(float(raw) * unit)) if raw else default)
        except ValueError:
            raise DataError(f"{name} must be a number, not {raw[:40]!r}", rule="configuration",
                            hint=f"unset it to use the default ({default // unit})") from None
    return limits[0], limits[1]


def check_xlsx_size(file: Path) -> None:
    """Refuse a workbook whose parts unzip to more than the limit, from the sizes the archive
    declares (nothing is extracted). Python's zipfile never inflates a part beyond its declared
    size (it stops and reports a bad CRC), so the declared sizes bound what openpyxl can read."""
    max_bytes, _ = excel_limits()
    try:
        with zipfile.ZipFile(file) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _unreadable(file, exc, "an Excel workbook") from exc
    if len(parts) > EXCEL_MAX_PARTS:
        raise DataError(f"the workbook holds {len(parts):,} files, more than an Excel workbook "
                        f"has (at most {EXCEL_MAX_PARTS:,} are read)", file=str(file),
                        rule="file-too-large", hint="save the sheet again from Excel, or as CSV")
    total = sum(part.file_size for part in parts)
    if total > max_bytes:
        biggest = max(parts, key=lambda part: part.file_size)
        raise DataError(
            f"the workbook unzips to {total / 1e6:,.0f} MB ({shorten(biggest.filename, 60)} alone "
            f"{biggest.file_size / 1e6:,.0f} MB from {biggest.compress_size / 1e3:,.0f} KB "
            f"compressed), more than the {max_bytes / 1e6:,.0f} MB limit: it was not opened",
            file=str(file), rule="file-too-large",
            hint=f"if the file is genuine, save the sheet as CSV (read without this limit) or raise "
                 f"the limit with {EXCEL_MAX_MB_ENV}=<megabytes>")


def _xlsx_grid(file: Path, sheet: str | int | None) -> tuple[pd.DataFrame, str, bool]:
    """Cell values of an .xlsx sheet with merged ranges filled; also whether row 1 is merged.

    The workbook is opened in openpyxl's read-only mode and the sheet's XML is streamed row by
    row, after :func:`check_xlsx_size`; the grid may have at most ``excel_limits()[1]`` cells.
    """
    from openpyxl.utils.exceptions import InvalidFileException  # openpyxl: on first use

    check_xlsx_size(file)
    try:
        with open(file, "rb") as handle:  # closed even when openpyxl fails half-way
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                sheet = sheet if sheet is not None else 0
                names = workbook.sheetnames
                if (isinstance(sheet, int) and not 0 <= sheet < len(names)) or (
                        isinstance(sheet, str) and sheet not in names):
                    raise DataError(f"sheet {sheet!r} not found", file=str(file),
                                    rule="sheet-not-found", hint=f"the workbook has sheets {names}")
                worksheet = workbook[names[sheet] if isinstance(sheet, int) else sheet]
                rows, merged = _stream_sheet(workbook, worksheet, file)
                title = worksheet.title
            finally:
                workbook.close()
    except DataError:
        raise
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise _unreadable(file, exc, "an Excel workbook") from exc
    except MemoryError:
        raise
    except Exception as exc:  # a corrupt part surfaces as whatever openpyxl's
        # zip, XML and cell parsers raise (zlib.error, ParseError, ExpatError, TypeError, ...)
        raise _unreadable(file, exc, "an Excel workbook") from exc
    merged_top = False
    for merged_range in merged:
        top, left = merged_range.min_row - 1, merged_range.min_col - 1
        value = rows[top][left] if top < len(rows) and left < len(rows[top]) else None
        merged_top |= merged_range.min_row == 1 and merged_range.max_col > merged_range.min_col
        for r in range(top, min(merged_range.max_row, len(rows))):
            for c in range(left, min(merged_range.max_col, len(rows[r]))):
                rows[r][c] = value
    return pd.DataFrame(rows, dtype=object), title, merged_top


def _stream_sheet(workbook: Any, worksheet: Any, file: Path) -> tuple[list[list[Any]], list[Any]]:
    """The sheet's rows as lists of equal length (None for empty cells, rows from sheet row 1)
    and its merged ranges, in one streaming pass over the sheet XML.

    openpyxl's read-only worksheet streams rows but does not report merged cells, so its own
    row parser (the one ``ReadOnlyWorksheet`` uses) is run here and its merged ranges read
    afterwards. The size of the grid is checked while it grows: a sheet that declares a cell in
    row 1,048,576 or column XFD stops as soon as rows x columns pass the limit.
    """
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.worksheet.cell_range import CellRange

    _, max_cells = excel_limits()
    rows: list[list[Any]] = []
    width = 0
    with workbook._archive.open(worksheet._worksheet_path) as source:
        parser = WorkSheetParser(source, worksheet._shared_strings, data_only=True,
                                 epoch=workbook.epoch, date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        for number, cells in parser.parse():
            if number <= len(rows):  # a row given twice or out of order: openpyxl skips it too
                continue
            last = max((cell["column"] for cell in cells), default=0)
            if number > EXCEL_MAX_ROWS or last > EXCEL_MAX_COLUMNS:
                raise DataError(f"the sheet has a cell beyond Excel's last row or column (row "
                                f"{number}, column {last})", file=str(file), rule="unreadable-file",
                                hint="the file is damaged; save it again from Excel")
            width = max(width, last)
            if number * width > max_cells:
                raise DataError(
                    f"the sheet has more than {max_cells:,} cells (at least {number:,} rows x "
                    f"{width:,} columns): reading stopped", file=str(file),
                    rule="file-too-large",
                    hint=f"delete unused rows and columns (a stray cell far below or right of "
                         f"the data counts), save the sheet as CSV, or raise the limit with "
                         f"{EXCEL_MAX_CELLS_ENV}")
            rows.extend([] for _ in range(number - 1 - len(rows)))  # rows without cells
            values: list[Any] = [None] * last
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            rows.append(values)
        merged = parser.merged_cells
    for values in rows:
        values.extend([None] * (width - len(values)))
    ranges = [CellRange(m.ref) for m in merged.mergeCell] if merged is not None else []
    return rows, ranges


def _xls_grid(file: Path, sheet: str | int | None) -> pd.DataFrame:
    """Cell values of a legacy .xls sheet (needs the optional xlrd package); an .xls is not
    compressed, so its file size is checked against the same limit as an unzipped .xlsx."""
    max_bytes, _ = excel_limits()
    if file.stat().st_size > max_bytes:
        raise DataError(f"the workbook is {file.stat().st_size / 1e6:,.0f} MB, more than the "
                        f"{max_bytes / 1e6:,.0f} MB limit: it was not opened", file=str(file),
                        rule="file-too-large", hint=f"save the sheet as CSV, or raise the limit "
                                                    f"with {EXCEL_MAX_MB_ENV}=<megabytes>")
    try:
        grid = pd.read_excel(file, sheet_name=sheet or 0, header=None, dtype=object)
    except ImportError as exc:
        raise DataError("legacy .xls workbooks need the xlrd package, which is not installed",
                        file=str(file), rule="unsupported-format",
                        hint="open the file in Excel and save it as .xlsx") from exc
    except (ValueError, OSError) as exc:
        raise _unreadable(file, exc, "an Excel workbook") from exc
    return grid.astype(object).where(grid.notna(), None)


# --- SPSS, Stata, Parquet -------------------------------------------------------------------


def _read_spss(file: Path, options: _ReadOptions) -> tuple[pd.DataFrame, dict[str, Any]]:
    """SPSS .sav/.zsav: codes as values, labels and user-missing codes into attrs."""
    return _read_stat(file, "read_sav", "spss", options.encoding)


def _read_stata(file: Path, options: _ReadOptions) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stata .dta: codes as values, labels into attrs, extended missing .a-.z into NaN."""
    return _read_stat(file, "read_dta", "stata", options.encoding)


def _read_stat(file: Path, reader: str, fmt: str, encoding: str | None
               ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read with pyreadstat keeping user-missing values, then turn them into NaN."""
    df, meta = _run_readstat(file, reader, fmt, encoding)
    missing_codes: dict[str, list[Any]] = {}
    missing_cells: dict[str, dict[Any, list[int]]] = {}
    for column in df.columns:
        mask, codes = _user_missing(df[column], column, meta)
        if codes:
            extended = meta.readstat_variable_types.get(column) != "string" \
                and df[column].dtype == object  # Stata .a-.z, named as in missing_codes
            cells: dict[Any, list[int]] = {}
            for position, value in zip(np.flatnonzero(mask.to_numpy()), df[column][mask],
                                       strict=True):
                cells.setdefault(f".{value}" if extended else _plain(value), []).append(
                    int(position))
            df[column] = _without(df[column], mask, meta.readstat_variable_types.get(column))
            missing_codes[column] = codes
            missing_cells[column] = cells
    return df, {
        "format": fmt,
        "question_text": {c: label for c, label in meta.column_names_to_labels.items() if label},
        "value_labels": {c: {_plain(k): v for k, v in labels.items()}
                         for c, labels in meta.variable_value_labels.items()},
        "missing_codes": missing_codes,
        "missing_cells": missing_cells,
    }


# pyreadstat (the ReadStat C library) can crash the whole interpreter on a corrupt file (a
# mangled variable record is enough for a segmentation fault, found by tests/test_fuzz.py), which
# would kill a notebook kernel or a batch worker without a message.  So it runs in a child
# process that pickles its result into a temporary file; a crash or a hang becomes a DataError.
READSTAT_IN_SUBPROCESS = True
READSTAT_TIMEOUT_SECONDS = 600
META_FIELDS = ("column_names_to_labels", "variable_value_labels", "missing_ranges",
               "readstat_variable_types")
_READSTAT_CHILD = """
import pickle, sys
path, reader, encoding, out = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4]
try:
    import pyreadstat
    df, meta = getattr(pyreadstat, reader)(path, user_missing=True, encoding=encoding)
    result = ("ok", df, {name: getattr(meta, name) for name in sys.argv[5:]})
except Exception as exc:
    result = ("error", type(exc).__name__, str(exc))
with open(out, "wb") as fh:
    pickle.dump(result, fh)
"""


def _run_readstat(file: Path, reader: str, fmt: str, encoding: str | None
                  ) -> tuple[pd.DataFrame, SimpleNamespace]:
    """``pyreadstat.<reader>(file)`` -- in a child process unless disabled -- as (df, meta)."""
    if not READSTAT_IN_SUBPROCESS:
        try:
            df, meta = getattr(pyreadstat, reader)(str(file), user_missing=True,
                                                   encoding=encoding)
        except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError,
                UnicodeDecodeError) as exc:
            raise _unreadable(file, exc, fmt.upper()) from exc
        return df, SimpleNamespace(**{name: getattr(meta, name) for name in META_FIELDS})
    with tempfile.TemporaryDirectory(prefix="helpers-readstat-") as tmp:
        out = Path(tmp) / "result.pickle"
        command = [sys.executable, "-c", _READSTAT_CHILD, str(file), reader, encoding or "",
                   str(out), *META_FIELDS]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            done = subprocess.run(command, capture_output=True, timeout=READSTAT_TIMEOUT_SECONDS,
                                  env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DataError(f"reading the file as {fmt.upper()} did not finish within "
                            f"{READSTAT_TIMEOUT_SECONDS} s", file=str(file),
                            rule="unreadable-file",
                            hint="the file may be corrupt; re-export it from SPSS/Stata") from exc
        if done.returncode != 0 or not out.exists():
            how = (f"signal {-done.returncode}" if done.returncode < 0
                   else f"exit status {done.returncode}")
            last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
            raise DataError(f"the {fmt.upper()} reader crashed on this file ({how}"
                            f"{': ' + last if last else ''})", file=str(file),
                            rule="unreadable-file",
                            hint="the file is corrupt or truncated; re-export it from "
                                 "SPSS/Stata (or save it as CSV)")
        status, *payload = pickle.loads(out.read_bytes())  # our own child's output
    if status != "ok":
        name, message = payload
        raise DataError(f"cannot read the file as {fmt.upper()}: {message} ({name})",
                        file=str(file), rule="unreadable-file",
                        hint="the file may be truncated, corrupt or in a different format")
    df, meta = payload
    return df, SimpleNamespace(**meta)


def _user_missing(column: pd.Series, name: str, meta: Any) -> tuple[pd.Series, list[Any]]:
    """Mask of user-missing cells and the sorted codes found in them."""
    if meta.readstat_variable_types.get(name) != "string" and column.dtype == object:
        mask = column.map(lambda v: isinstance(v, str))  # Stata/SAS extended missing .a-.z
        return mask, sorted({f".{v}" for v in column[mask]})
    mask = pd.Series(False, index=column.index)
    for bounds in meta.missing_ranges.get(name, []):
        if isinstance(bounds["lo"], str):
            mask |= column == bounds["lo"]
        else:
            mask |= (column >= bounds["lo"]) & (column <= bounds["hi"])
    return mask, sorted({_plain(v) for v in column[mask]})


def _without(column: pd.Series, mask: pd.Series, storage: str | None) -> pd.Series:
    """The column with masked cells set to NaN, numeric unless it is a string variable."""
    cleared = column.astype(object).where(~mask, np.nan)
    return cleared if storage == "string" else pd.to_numeric(cleared)


def _plain(value: Any) -> Any:
    """Plain Python value: 1 for 1.0, numpy scalars unwrapped."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _read_parquet(file: Path, options: _ReadOptions) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Parquet via pyarrow; attrs stored in the file by pandas are kept."""
    try:
        df = pd.read_parquet(file)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(file, exc, "Parquet") from exc
    except MemoryError:
        raise
    except Exception as exc:  # damaged pandas metadata in the file: KeyError, TypeError, ...
        raise _unreadable(file, exc, "Parquet (its pandas metadata is damaged)") from exc
    stored = {k: v for k, v in df.attrs.items() if k not in ("source", "format")}
    for key in PER_COLUMN_ATTRS:  # written by someone else's code: keep only the expected shape
        if key in stored and not isinstance(stored[key], dict):
            del stored[key]
    if "value_labels" in stored:  # JSON turned the codes into strings
        stored["value_labels"] = {c: {_code(k): v for k, v in labels.items()}
                                  for c, labels in stored["value_labels"].items()
                                  if isinstance(labels, dict)}
    return df, {**stored, "format": "parquet"}


def _code(key: str) -> Any:
    """A value-label code back from its JSON string form: "1" -> 1, "1.5" -> 1.5."""
    if isinstance(key, str) and DOT_NUMBER.fullmatch(key):
        return _plain(float(key))
    return key


READERS: dict[str, Callable[[Path, _ReadOptions], tuple[pd.DataFrame, dict[str, Any]]]] = {
    "csv": _read_text,
    "excel": _read_excel,
    "spss": _read_spss,
    "stata": _read_stata,
    "parquet": _read_parquet,
}
