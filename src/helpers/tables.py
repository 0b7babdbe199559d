"""Tables as reports show them: captioned, labelled and formatted in the report's language, small
cells suppressed, and downloadable.

:func:`show` relabels every column through :mod:`helpers.labels` (registered labels, codebook
labels), model terms through :func:`helpers.labels.term` and coded values (verdicts, status
words) through :func:`helpers.labels.value`; formats numbers in the reader's locale
(:mod:`helpers.i18n`: ``1,234.5`` / ``1.234,5``), counts as integers, p-values as journals print
them; aligns text left and numbers right; and puts the table's downloads under it — CSV, Excel
and, for model tables, a journal-style LaTeX table — as ``data:`` URLs, so the report stays one
offline file. The downloads hold exactly the values the table shows (suppressed cells stay
suppressed), as numbers rather than locale text. Every table shown is recorded for the report's
results file (:func:`helpers.results.collect` gathers them under ``tables``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML

from helpers import i18n, labels, markup, results
from helpers.codebook import Codebook, load_codebook
from helpers.headlines import format_p
from helpers.i18n import N_, _
from helpers.privacy import DEFAULT_MIN_CELL, suppress_counts, suppression_note

#: Inline styles, so that alignment and wrapping hold without the report's style sheet (which
#: styles the same classes: ``dl-num``, ``dl-text``, ``dl-table``, ``dl-download``).
NUM_STYLE = "text-align:right;white-space:nowrap"
TEXT_STYLE = "text-align:left"
LONG_TEXT_STYLE = "text-align:left;min-width:14em"
HEAD_STYLE = "white-space:normal"
#: Text cells longer than this get a minimum width (a long note is not squeezed into a column
#: one word wide).
LONG_TEXT = 40
#: Tables with at most this many columns give long text columns a minimum width (wider ones
#: would overflow the page).
NARROW = 8
#: Tables with more columns than this are set compact (smaller type, narrower padding, class
#: ``dl-wide``) so that they fit the page.
WIDE = 10
VERY_WIDE = 14
COMPACT_CELL = ";padding:0.3em 0.3em"
#: Floats whose largest magnitude reaches this are amounts: shown without decimals, grouped.
AMOUNT = 1e5
SUPPRESSED = re.compile(r"^\s*<\s*\d+\s*$")
MODEL_COLUMNS = {"estimate", "ci_low", "ci_high", "std_error", "coef", "std_estimate"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def relabel(df: pd.DataFrame, codebook: Codebook | None = None, language: str = "EN") -> pd.DataFrame:
    """Rename columns and the index name that are codebook fields/constructs to their labels."""
    cb = codebook or load_codebook()

    def lab(name: object) -> object:
        try:
            return cb.label(str(name), language) if str(name) in cb.fields or str(name) in \
                cb.constructs else name
        except KeyError:
            return name

    out = df.rename(columns=lab)
    out.index = out.index.rename(lab(out.index.name)) if out.index.name else out.index
    return out


P_VALUE = re.compile(r"^(p|p_value|p_adj\w*|p_\w*adjusted|\w+_p_value|p \(.*\))$", re.I)
"""Column names that hold p-values: shown as journals print them (``< .001``, ``.012``)."""


def _missing(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float | np.floating) and np.isnan(v))
    except TypeError:
        return False


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_)


@functools.lru_cache(maxsize=None)
def _symbols(language: str) -> tuple[str, str]:
    from babel.numbers import get_decimal_symbol, get_group_symbol

    name = i18n.locale_name(language)
    return get_decimal_symbol(name), get_group_symbol(name)


def number(value: object, decimals: int, language: str | None = None) -> str:
    """:func:`helpers.i18n.number` (same text: grouped, rounded, a typographic minus, never
    ``−0``), without Babel's per-call pattern parsing: a table formats thousands of cells. The
    report languages group by thousands, so Python's grouping with the locale's symbols is
    exact."""
    x = round(float(value), decimals)  # type: ignore[arg-type]
    if x == 0:
        x = 0.0
    decimal, group = _symbols(i18n.normalise(language or i18n.current()))
    text = f"{x:,.{max(decimals, 0)}f}"
    return text.translate({ord(","): "\0", ord("."): decimal}).replace(
        "\0", group).replace("-", "−")


# --------------------------------------------------------------------------- columns
@dataclass
class _Column:
    """How one column is shown: its header, kind and decimals (one format per column)."""

    name: Any
    header: str
    kind: str  # "p", "count", "year", "number", "percent", "text"
    decimals: int
    long: bool = False

    @property
    def numeric(self) -> bool:
        return self.kind != "text"

    def cell(self, v: object, language: str | None) -> str:
        """The cell as the reader sees it (plain text, not yet escaped)."""
        if _missing(v):
            return ""
        if isinstance(v, bool | np.bool_):
            return _("yes") if v else _("no")
        if isinstance(v, dt.date):  # a date in the reader's locale; a time only when it has one
            if isinstance(v, dt.datetime) and v.time() != dt.time(0):
                return i18n.datetime(v, language)
            return i18n.date(v, language)
        if not _is_number(v):
            return str(labels.value(self.name, v, language))
        x = float(v)
        if not math.isfinite(x):
            return "–" if math.isnan(x) else ("∞" if x > 0 else "−∞")
        if self.kind == "p":
            return format_p(x, language)
        if self.kind == "year":  # 2024, wave 2: no thousands separator
            return str(int(round(x)))
        if self.kind == "count" or (self.kind == "text" and isinstance(v, int | np.integer)):
            return number(round(x), 0, language) if self.kind == "count" else str(int(x))
        if self.kind == "percent":
            return number(x, self.decimals, language) + "\u202f%"
        return number(x, self.decimals, language)

    def export(self, v: object, language: str | None) -> Any:
        """The cell for the downloads and the results file: a number as a number (rounded as
        shown; p-values to three significant digits), anything else as the text shown."""
        if _missing(v):
            return None
        if isinstance(v, dt.date):  # ISO 8601: what spreadsheets and R read as a date
            return v.isoformat() if not isinstance(v, dt.datetime) or v.time() != dt.time(0) \
                else v.date().isoformat()
        if isinstance(v, bool | np.bool_) or not _is_number(v):
            return self.cell(v, language)
        x = float(v)
        if not math.isfinite(x):
            return None
        if self.kind == "p":
            return float(f"{x:.3g}")
        if self.kind == "count" or isinstance(v, int | np.integer):
            return int(round(x))
        out = round(x, self.decimals)
        return 0.0 if out == 0 else out


def _whole(values: Iterable[object]) -> bool:
    return all(float(v).is_integer() for v in values if math.isfinite(float(v)))


def _column(name: Any, series: pd.Series, *, decimals: int, percent: Sequence[Any],
            counts: Sequence[Any], language: str | None) -> _Column:
    header = labels.column(name, language)
    values = [v for v in series.tolist() if not _missing(v)]
    numbers = [v for v in values if _is_number(v)]
    words = [v for v in values if not _is_number(v) and not (
        isinstance(v, str) and (SUPPRESSED.match(v) or v.strip() in {"–", "-", ""}))]
    long = any(len(str(v)) > LONG_TEXT for v in words)
    if words or pd.api.types.is_bool_dtype(series) or not numbers and not \
            pd.api.types.is_numeric_dtype(series):
        return _Column(name, header, "text", decimals, long)
    if P_VALUE.match(str(name)):
        return _Column(name, header, "p", 3)
    if name in percent:
        return _Column(name, header, "percent", decimals)
    registered = name in counts or labels.is_count(name) or bool(
        results.COUNT.match(str(name)))
    integers = all(isinstance(v, int | np.integer) for v in numbers)
    if (registered and _whole(numbers)) or (integers and not _calendar(name)):
        return _Column(name, header, "count", 0)
    if integers:  # a year or a wave number: no thousands separator
        return _Column(name, header, "year", 0)
    finite = [abs(float(v)) for v in numbers if math.isfinite(float(v))]
    if finite and max(finite) >= AMOUNT:  # an amount: whole units, grouped
        return _Column(name, header, "number", 0)
    return _Column(name, header, "number", decimals)


def _calendar(name: Any) -> bool:
    return bool(re.search(r"(^|_)(year|wave|yr)s?($|_)", str(name), re.I))


def _index_cell(name: Any, v: object, language: str | None) -> str:
    if _missing(v):
        return ""
    if labels.holds_terms(name):
        return labels.term(v, language)
    if isinstance(v, bool | np.bool_):
        return _("yes") if v else _("no")
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    if _is_number(v):
        return i18n.number(v, 2, language, grouping=False) if isinstance(
            v, float | np.floating) else str(v)
    return str(labels.value(name, v, language))


def _header(name: Any, language: str | None) -> str:
    if isinstance(name, tuple):
        return " · ".join(labels.column(p, language) for p in name if str(p) != "")
    return labels.column(name, language)


# --------------------------------------------------------------------------- the shown table
@dataclass
class Prepared:
    """A table as shown: headers, row labels and cells (text), and the same as plain values for
    the downloads and the results file."""

    caption: str
    index_headers: list[str]
    headers: list[str]
    columns: list[_Column]
    row_labels: list[list[str]]
    cells: list[list[str]]
    values: list[list[Any]]

    def frame(self) -> pd.DataFrame:
        """The downloadable table: the shown headers, the row labels as leading columns, numbers
        as numbers (percent columns say so in their header)."""
        heads = self.index_headers + [c.header + (" (%)" if c.kind == "percent" else "")
                                      for c in self.columns]
        rows = [labels_ + values for labels_, values in zip(self.row_labels, self.values,
                                                            strict=True)]
        return pd.DataFrame(rows, columns=_unique(heads), dtype=object)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def prepare(df: pd.DataFrame, caption: str = "", *, percent: Sequence[Any] = (),
            decimals: int = 1, index: bool = True, counts: Sequence[Any] = (),
            language: str | None = None, headers: dict[Any, str] | None = None) -> Prepared:
    """Label, format and lay out ``df`` as :func:`show` shows it (no HTML yet); ``headers``
    gives this table's own header for some columns (text in the report's language), over the
    registered labels."""
    frame = df
    show_index = index and not (isinstance(frame.index, pd.RangeIndex)
                                and not any(frame.index.names))
    columns = []
    for j, name in enumerate(frame.columns):
        col = _column(name, frame.iloc[:, j], decimals=decimals, percent=percent, counts=counts,
                      language=language)
        if isinstance(name, tuple):
            col.header = _header(name, language)
            if name and labels.is_count(name[0]):
                col.kind, col.decimals = ("count", 0) if col.kind == "number" and _whole(
                    [v for v in frame.iloc[:, j] if _is_number(v) and not _missing(v)]) else (
                    col.kind, col.decimals)
        if headers and name in headers:
            col.header = str(headers[name])
        columns.append(col)
    terms = [labels.holds_terms(name) for name in frame.columns]
    cells, values = [], []
    for row in frame.itertuples(index=False, name=None):
        shown, plain = [], []
        for col, is_term, v in zip(columns, terms, row, strict=True):
            if is_term and isinstance(v, str):
                text = labels.term(v, language)
                shown.append(text)
                plain.append(text)
            else:
                shown.append(col.cell(v, language))
                plain.append(col.export(v, language))
        cells.append(shown)
        values.append(plain)
    index_headers: list[str] = []
    row_labels: list[list[str]] = [[] for _row in range(len(frame))]
    if show_index:
        names = list(frame.index.names)
        index_headers = ["" if n is None else _header(n, language) for n in names]
        for i, key in enumerate(frame.index):
            parts = key if isinstance(key, tuple) else (key,)
            row_labels[i] = [_index_cell(n, v, language) for n, v in zip(names, parts,
                                                                          strict=True)]
    return Prepared(caption, index_headers, [c.header for c in columns], columns, row_labels,
                    cells, values)


def _html(p: Prepared) -> str:
    esc = markup.text
    wide = len(p.index_headers) + len(p.columns) > WIDE
    pad = COMPACT_CELL if wide else ""
    head = "".join(f'<th class="dl-text" scope="col" style="text-align:left;{HEAD_STYLE}{pad}">'
                   f"{esc(h)}</th>" for h in p.index_headers)
    for col in p.columns:
        kind = "dl-num" if col.numeric else "dl-text"
        align = "right" if col.numeric else "left"
        head += (f'<th class="{kind}" scope="col" style="text-align:{align};{HEAD_STYLE}{pad}">'
                 f"{esc(col.header)}</th>")
    body = []
    for labels_, cells in zip(p.row_labels, p.cells, strict=True):
        row = "".join(f'<th class="dl-text" scope="row" style="{TEXT_STYLE}{pad}">{esc(v)}</th>'
                      for v in labels_)
        for col, v in zip(p.columns, cells, strict=True):
            if col.numeric:
                row += f'<td class="dl-num" style="{NUM_STYLE}{pad}">{esc(v)}</td>'
            else:
                style = LONG_TEXT_STYLE if col.long and len(p.columns) <= NARROW else TEXT_STYLE
                row += f'<td class="dl-text" style="{style}{pad}">{esc(v)}</td>'
        body.append(f"<tr>{row}</tr>")
    ncols = len(p.index_headers) + len(p.columns)
    size = "0.75em" if ncols > VERY_WIDE else "0.8em"
    table = (f'<table class="dl-data dl-wide" style="font-size:{size}">' if wide
             else '<table class="dl-data">')
    return (f'<div class="dl-table">{table}'
            f"<caption>{esc(p.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


# --------------------------------------------------------------------------- downloads
def slug(caption: str, limit: int = 60, default: str = "untitled") -> str:
    """A safe ASCII file name stem from a caption (``"CMO − CIO differences, …"`` →
    ``cmo-cio-differences``; ``Größe`` → ``grosse``); ``default`` when nothing is left."""
    text = str(caption).replace("ß", "ss").replace("æ", "ae").replace("ø", "o").replace(
        "Æ", "Ae").replace("Ø", "O")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:limit].rstrip("-") or default


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _safe_text(v: Any) -> Any:
    """Text that a spreadsheet would run as a formula (``=…``, ``+…``, ``@…``) with a leading
    apostrophe, as OWASP advises; numbers and other text unchanged."""
    return "'" + v if isinstance(v, str) and _FORMULA.match(v) else v


def to_csv(frame: pd.DataFrame) -> bytes:
    """The table as CSV: UTF-8 with a byte-order mark (Excel reads the accents), a point as
    decimal separator (R, Python and any locale-aware import read it)."""
    safe = frame.map(_safe_text) if hasattr(frame, "map") else frame.applymap(_safe_text)
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _sheet_title(caption: str) -> str:
    """A worksheet name Excel accepts: no ``[]:*?/\\``, at most 31 characters, no apostrophe
    at either end, not Excel's reserved "History"."""
    title = re.sub(r"[\[\]:*?/\\]", " ", str(caption)).strip()[:31].strip("' ").strip()
    return title if title and title.lower() != "history" else "Table"


#: the workbook's creation time, written into its properties and zip entries: the same table
#: gives the same bytes every run (reports compare equal; the batch's up-to-date check and the
#: fork-versus-kernel test rely on that)
_FIXED_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def to_xlsx(frame: pd.DataFrame, caption: str = "", note: str = "",
            formats: Sequence[str | None] = ()) -> bytes:
    """The table as an Excel workbook (one sheet: the caption, the header, the rows, the note).
    Text stays text (a value starting with ``=`` is never a formula, nor a number or a link);
    ``formats`` gives each column's number format (``0.00``, ``#,##0``) so Excel shows what the
    report shows; a missing or non-finite number is an empty cell.

    Written with XlsxWriter: a report writes one workbook per table, and XlsxWriter writes a
    small one about five times faster than openpyxl (4 ms against 19 ms for 20 rows here)."""
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False,
                                      "nan_inf_to_errors": False})
    wb.set_properties({"created": _FIXED_TIME})
    ws = wb.add_worksheet(_sheet_title(caption))
    bold = wb.add_format({"bold": True})
    header = wb.add_format({"bold": True, "text_wrap": True, "valign": "bottom"})
    number_formats = [wb.add_format({"num_format": f}) if f else None for f in formats]
    row = 0
    if caption:
        ws.write_string(0, 0, str(caption), bold)
        row = 2
    for j, name in enumerate(frame.columns):
        ws.write_string(row, j, str(name), header)
    for values in frame.itertuples(index=False, name=None):
        row += 1
        for j, v in enumerate(values):
            if v is None:
                continue
            if isinstance(v, str):
                ws.write_string(row, j, v)
            elif isinstance(v, (bool, np.bool_)):
                ws.write_boolean(row, j, bool(v))
            elif isinstance(v, (int, float, np.integer, np.floating)):
                if np.isfinite(v):
                    fmt = number_formats[j] if j < len(number_formats) else None
                    ws.write_number(row, j, float(v), fmt)
            elif v is not pd.NA and v is not pd.NaT:
                ws.write_string(row, j, str(v))
    if note:
        ws.write_string(row + 2, 0, str(note))
    wb.close()
    return buffer.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                  "−": r"$-$", "\u202f": r"\,", "\xa0": "~", "≥": r"$\geq$", "≤": r"$\leq$",
                  "×": r"$\times$", "·": r"$\cdot$", "Δ": r"$\Delta$", "χ": r"$\chi$",
                  "²": r"\textsuperscript{2}", "√": r"$\surd$", "±": r"$\pm$", "α": r"$\alpha$",
                  "ω": r"$\omega$", "…": r"\dots{}"}
_LATEX = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def latex_escape(text: object) -> str:
    """Text as LaTeX source that prints as typed (specials escaped, a few symbols as math)."""
    return _LATEX.sub(lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def to_latex(p: Prepared, note: str = "") -> bytes:
    """A journal-style table (``booktabs``: top, middle and bottom rules; caption and label;
    numbers right-aligned, text left-aligned) holding the cells exactly as the report shows
    them. Needs ``\\usepackage{booktabs}``."""
    spec = "l" * len(p.index_headers) + "".join("r" if c.numeric else "l" for c in p.columns)
    heads = [latex_escape(h) for h in p.index_headers + p.headers]
    lines = [r"% \usepackage{booktabs}", r"\begin{table}[htbp]", r"\centering",
             rf"\caption{{{latex_escape(p.caption)}}}", rf"\label{{tab:{slug(p.caption)}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(heads) + r" \\",
             r"\midrule"]
    for labels_, cells in zip(p.row_labels, p.cells, strict=True):
        lines.append(" & ".join(latex_escape(v) for v in labels_ + cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if note:
        lines.append(rf"\par\smallskip{{\footnotesize {latex_escape(note)}\par}}")
    lines.append(r"\end{table}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _excel_format(col: _Column) -> str | None:
    if col.kind == "count":
        return "#,##0"
    if col.kind in ("number", "percent"):
        return "#,##0" + ("." + "0" * col.decimals if col.decimals > 0 else "")
    return None


def data_url(mime: str, payload: bytes) -> str:
    """``data:<mime>;base64,…``: a download that travels inside the page."""
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def download_link(label: str, filename: str, mime: str, payload: bytes) -> str:
    """One download link (``<a class="dl-download" download=… href="data:…">``)."""
    return (f'<a class="dl-download" download="{markup.text(filename)}" '
            f'href="{data_url(mime, payload)}">{markup.text(label)}</a>')


def downloads(links: Sequence[str]) -> str:
    """The row of download links under a table or figure."""
    return ('<p class="dl-downloads" style="font-size:0.85em;margin:0.2em 0 1em">'
            + markup.text(_("Download:")) + " " + " · ".join(links) + "</p>")


def _is_model_table(df: pd.DataFrame) -> bool:
    names = {str(c) for c in df.columns}
    return bool(names & MODEL_COLUMNS)


def table_downloads(p: Prepared, *, note: str = "", latex: bool = False) -> str:
    """CSV, Excel and (``latex``) LaTeX downloads of a prepared table."""
    stem = "table-" + slug(p.caption)
    frame = p.frame()
    formats = [None] * len(p.index_headers) + [_excel_format(c) for c in p.columns]
    links = [download_link("CSV", f"{stem}.csv", "text/csv", to_csv(frame)),
             download_link(_("Excel"), f"{stem}.xlsx", XLSX,
                           to_xlsx(frame, p.caption, note, formats))]
    if latex:
        links.append(download_link("LaTeX", f"{stem}.tex", "application/x-tex",
                                   to_latex(p, note)))
    return downloads(links)


# --------------------------------------------------------------------------- showing
class Shown(HTML):
    """Report HTML that carries the tables it shows for the results file: displayed, it is the
    HTML plus a private MIME entry (:data:`helpers.results.MIME`) that a notebook front end
    ignores and :func:`helpers.results.collect` lifts into ``tables``."""

    def __init__(self, data: str, tables: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(data)
        self.tables = list(tables)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/html": self.data}
        if self.tables:
            bundle[results.MIME] = results.tables_payload(self.tables)
        return bundle


def show(df: pd.DataFrame, caption: str, *, note: str = "", percent: tuple[str, ...] = (),
         decimals: int = 1, index: bool = True, counts: Sequence[str] = (),
         latex: bool | None = None, language: str | None = None,
         download: bool = True, headers: dict[Any, str] | None = None) -> Shown:
    """Show a table with a caption (text from the caller, translated there) and an optional
    note; labels, numbers, alignment and downloads as the module docstring says.

    ``percent`` names columns holding percentages (``12,5 %``); ``counts`` columns holding
    counts (integers) beyond those registered with :func:`helpers.labels.register`;
    ``latex`` adds a LaTeX download (default: for model tables, those with estimates or
    intervals); ``headers`` names some columns for this table only (``{"k": _("Parameters")}``)
    where the registered label does not fit. A table that went through :func:`helpers.privacy.suppress_small_groups` gets the
    suppression note automatically. p-value columns (:data:`P_VALUE`) print as ``< .001`` or
    three decimals, never ``0.000`` or ``1.29e-21``.
    """
    p = prepare(df, caption, percent=percent, decimals=decimals, index=index, counts=counts,
                language=language, headers=headers)
    suppressed = df.attrs.get("suppressed", 0)
    notes = [t for t in (note, suppression_note(suppressed, df.attrs.get("min_cell",
                                                                         DEFAULT_MIN_CELL),
                                                rows=True)) if t]
    body = _html(p)
    for text in notes:
        body += f'<p class="table-note"><em>{markup.text(text)}</em></p>'
    if download:
        body += table_downloads(p, note=" ".join(notes),
                                latex=_is_model_table(df) if latex is None else latex)
    return Shown(body, [results.table_entry(caption, p.frame(), note=" ".join(notes))])


def show_counts(df: pd.DataFrame, caption: str, *, min_cell: int = DEFAULT_MIN_CELL,
                note: str = "", columns: list[str] | None = None) -> Shown:
    """A table of respondent counts with cells below ``min_cell`` suppressed and a note saying so.

    ``columns`` names the count columns (default: every numeric column)."""
    table, n = suppress_counts(df, min_cell, columns)
    notes = " ".join(t for t in (note, suppression_note(n, min_cell)) if t)
    count_columns = columns or [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    return show(table, caption, note=notes, counts=count_columns)


SYNTHETIC = N_("SYNTHETIC DATA — this report was built from the simulated sample "
               "(helpers.simulate), not from real respondents. Numbers illustrate the method "
               "only.")


def synthetic_banner(synthetic: bool) -> HTML:
    """A prominent banner on reports built from the synthetic sample (empty otherwise)."""
    if not synthetic:
        return HTML("")
    return HTML(
        '<div class="synthetic-banner" role="note" style="border:2px solid #D55E00;'
        'background:#FFF4E5;color:#3D2000;padding:0.6em 1em;margin:0.5em 0;font-weight:bold">'
        f"{markup.text(_(SYNTHETIC))}</div>"
    )


def not_applicable(what: str, needs: str) -> HTML:
    """A section that cannot be shown with this data: "Not applicable: <what> needs <needs>."

    Used where a report applies but one of its sections needs data that was not collected (a
    ledger, a construct the survey did not ask); the whole report stops with
    :class:`helpers.errors.NotApplicable` instead. ``what`` and ``needs`` are text in the
    report's language (the caller translates them).
    """
    sentence = _("{what} needs {needs}.").format(what=what, needs=needs)
    return HTML('<p class="not-applicable" role="note"><strong>'
                + markup.text(_("Not applicable:")) + "</strong> " + markup.text(sentence)
                + "</p>")


class Reading(HTML):
    """A reading shown as HTML paragraphs (:func:`helpers.markup.reading`); its plain-text form
    (a console, ``repr``) is the text itself."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(markup.reading(text))

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(self.text)  # type: ignore[attr-defined]


def say(text: str) -> Reading:
    """Show generated reading text (built from the numbers) as a paragraph, not as code output.

    Readings quote labels, reasons and values from the data and the mapping, so the text is
    never markup: only `backticked` commands become code; ``<``, ``&``, ``[…](…)``, ``#``, ``*``
    and ``$`` show as typed ("<5" reads as such). See :func:`helpers.markup.reading`."""
    return Reading(text)


def verdict_word(code: str, language: str | None = None) -> str:
    """A verdict code of :mod:`helpers.headlines` as the word a reader sees (translated)."""
    return str(labels.value("verdict", code, language))


def headlines(rows: list, caption: str, *, decimals: int = 2) -> Shown:
    """Headline estimates (:class:`helpers.headlines.Headline`) as a table, then their readings.

    One row each: what is estimated, its unit, the estimate with its 95 % interval, p, the power
    against the smallest effect of interest, the units it rests on and the verdict in words; an
    "exploratory" banner first when any headline is between its minimum and confirmatory size.
    The downloads hold the numbers in columns of their own.
    """
    def num(v: object) -> str:
        return "" if _missing(v) else i18n.number(v, decimals)

    def units(h: Any) -> str:
        return f"{i18n.integer(h.n)} {_(h.n_unit)}".strip() if h.n is not None else "–"

    shown = pd.DataFrame([{
        _("Estimate of"): h.label, _("Unit"): _(h.unit) if h.unit else "",
        _("Estimate [95 % CI]"): (f"{num(h.estimate)} [{num(h.ci_low)}, {num(h.ci_high)}]"
                                   if h.estimate is not None else "–"),
        _("p"): format_p(h.p_value) if h.p_value is not None else "–",
        _("Power"): i18n.percent(100 * h.power, 0) if h.power is not None else "–",
        _("Units"): units(h),
        _("Verdict"): verdict_word(h.verdict)} for h in rows])
    p = prepare(shown, caption, index=False)
    for col in p.columns:  # the composed cells are text, but read as numbers
        if col.header not in (_("Estimate of"), _("Unit"), _("Verdict")):
            col.kind = "number"
    export = pd.DataFrame([{
        _("Estimate of"): h.label, _("Unit"): _(h.unit) if h.unit else "",
        _("Estimate"): _round(h.estimate, decimals), _("CI lower"): _round(h.ci_low, decimals),
        _("CI upper"): _round(h.ci_high, decimals),
        _("p"): None if h.p_value is None or not math.isfinite(h.p_value)
        else float(f"{h.p_value:.3g}"),
        _("Power"): _round(h.power, 2), _("n"): h.n, _("Units"): _(h.n_unit) if h.n_unit else "",
        _("Verdict"): verdict_word(h.verdict)} for h in rows], dtype=object)
    body = _html(p)
    stem = "table-" + slug(caption)
    links = [download_link("CSV", f"{stem}.csv", "text/csv", to_csv(export)),
             download_link(_("Excel"), f"{stem}.xlsx", XLSX, to_xlsx(export, caption)),
             download_link("LaTeX", f"{stem}.tex", "application/x-tex", to_latex(p))]
    parts = [exploratory_banner(rows).data, body, downloads(links)]
    parts += [Reading(h.reading).data for h in rows if h.reading]
    return Shown("".join(parts), [results.table_entry(caption, export)])


def _round(v: object, decimals: int) -> float | None:
    if v is None or _missing(v) or not math.isfinite(float(v)):  # type: ignore[arg-type]
        return None
    out = round(float(v), decimals)  # type: ignore[arg-type]
    return 0.0 if out == 0 else out


def exploratory_banner(rows: list) -> HTML:
    """A banner when any headline is exploratory: numbers without a verdict in words."""
    shown = [h for h in rows if h.verdict == "exploratory"]
    if not shown:
        return HTML("")
    sizes = "; ".join(sorted({f"{i18n.integer(h.n)} {_(h.n_unit)}" for h in shown
                              if h.n is not None}))
    text = _("This sample ({sizes}) is above the minimum for estimating but below the size "
             "for a confirmatory reading: estimates carry a small-sample correction and no "
             "verdict is given in words. Whether this segment differs from others is tested in "
             "the index (Do segments differ?).").format(sizes=sizes)
    return HTML(
        '<div class="exploratory-banner" role="note" style="border:2px solid #0072B2;'
        'background:#EAF4FB;color:#0B2A40;padding:0.6em 1em;margin:0.5em 0">'
        "<strong>" + markup.text(_("Exploratory:")) + "</strong> " + markup.text(text)
        + "</div>")
