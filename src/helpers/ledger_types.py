"""Ledger column types: what each ledger column holds and how it becomes what the SQL expects.

ERP and card exports write dates and amounts in many ways. Before the ledger is streamed, each
column's type is read from the files (DuckDB's ``DESCRIBE``, no data loaded) and, for text,
integer and number columns that must become dates or amounts, the first
:data:`SAMPLE_VALUES` values are looked at. The result is one :class:`Conversion` per column,
rendered as an SQL expression for the engine's ``ledger`` view (DuckDB, or Spark through
``F.expr``), so the ledger is still read once and never enters pandas.

Converted (``booking_date``):

- DATE and TIMESTAMP columns, as they are;
- integers (or whole numbers) ``yyyymmdd`` such as 20240315, common in ERP exports;
- text: ISO ``2024-03-15`` (a time after it is ignored), ``20240315``, ``15.03.2024`` and
  ``15.03.24``, ``2024/03/15``, and ``15/03/2024``, ``03/15/2024``, ``15-03-2024`` once the
  values tell the day from the month (a day above 12 in either place, looked for in the whole
  column). Several of these forms may be mixed in one column.

Converted (``amount``): numbers as they are; text with a decimal point (``1234.56``,
``1,234.56``) or a decimal comma (``1234,56``, ``1.234,56``); spaces, no-break spaces and
apostrophes as thousands separators (``1 234,56``, ``1'234.56``); a trailing minus
(``1.234,56-``, SAP) and a currency sign or code before or after the number (``€ 1.234,56``,
``1234.56 EUR``, ``12,50 kr.``) when it agrees with the line's ``currency`` (a sign that does not
is a bad amount; signs are looked for when the sampled values have some, which keeps the common
sign-free column fast). Which decimal mark a column uses is decided from its values; a column whose
values never tell (only ``1.234`` or ``1,234``) is a DataError.

DataErrors (rule ``ledger-column-type``) name the ledger file, the column and the expected type,
with example values (Parquet examples name their record; lines of a streamed CSV ledger are not
tracked, so its examples are values only):

- a column of a type that cannot hold what it should: a nested column (a list, struct or map),
  a boolean amount, binary data, a date as amount, and so on;
- a text, integer or number column none of whose sampled values is a date (or a number) in any
  known form;
- an ambiguous column: ``01/02/2024`` everywhere, or day-first and month-first values mixed
  (rule ``ambiguous-format``). The mapping file then says which it is: ``ledger: date_format:
  "%d/%m/%Y"`` (or ``decimal: ","`` for amounts).

Single values that do not parse in the chosen form stay what they were: bad lines, excluded and
counted by :func:`helpers.spend.firm_year_features` (rules ``bad-date``, ``bad-amount``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from helpers.errors import DataError, quote

SAMPLE_VALUES = 20_000  # values per column looked at to recognise its form
ISO = "ISO"  # YYYY-MM-DD, read by the engine's own date cast
TEXT_COLUMNS = ("firm_id", "cost_center", "vendor", "vendor_category", "payment_method",
                "currency")
RULE = "ledger-column-type"

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                  "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_NUMBER_TYPES = {"FLOAT", "DOUBLE", "REAL"}

# Known text date forms: (regex on the trimmed text, strftime format, regex for SQL). The SQL
# regexes avoid backslashes, so that DuckDB and Spark SQL read the same literal.
_TIME = "(?:[ T].*)?"
_DATE_FORMS: tuple[tuple[str, str, str], ...] = (
    (r"\d{4}-\d{1,2}-\d{1,2}" + _TIME, ISO, "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"),
    (r"\d{8}", "%Y%m%d", "^[0-9]{8}$"),
    (r"\d{1,2}\.\d{1,2}\.\d{4}" + _TIME, "%d.%m.%Y", "^[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{4}$"),
    (r"\d{1,2}\.\d{1,2}\.\d{2}" + _TIME, "%d.%m.%y", "^[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{2}$"),
    (r"\d{4}/\d{1,2}/\d{1,2}" + _TIME, "%Y/%m/%d", "^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$"),
)
_DATE_FORM_RES = tuple((re.compile(p), f, s) for p, f, s in _DATE_FORMS)
# Day and month in either order: decided by the values (a part above 12 is the day).
_EITHER_ORDER = re.compile(r"(\d{1,2})([/-])(\d{1,2})[/-](\d{4}|\d{2})" + _TIME)
_ISO_SQL = _DATE_FORMS[0][2]

# Amounts: a currency sign or code at either end, grouping characters, the two conventions.
_CURRENCY_TOKEN = "(€|£|[$]|kr[.]?|S?Fr[.]|[A-Za-z]{3})"
_GROUPING = "[ \u00a0\u202f\u2009'\u2019]"
COMMA_DECIMAL = "^[+-]?(([0-9]{1,3}([.][0-9]{3})+|[0-9]+)(,[0-9]+)?|,[0-9]+)$"
DOT_DECIMAL = "^[+-]?(([0-9]{1,3}(,[0-9]{3})+|[0-9]+)([.][0-9]+)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_SIGN_RE = re.compile(f"^{_CURRENCY_TOKEN}|{_CURRENCY_TOKEN}$")
# What a sign stands for; replaced longest first, so "SFr." is not read as "Fr.".
_SIGN_CODES = (("SFr.", "CHF"), ("Fr.", "CHF"), ("kr.", "DKK SEK NOK ISK"),
               ("kr", "DKK SEK NOK ISK"), ("€", "EUR"), ("£", "GBP"), ("$", "USD CAD AUD NZD"))

_DATE_HINT = ("store booking dates as dates, or as text in one form such as 2024-03-15, "
              "15.03.2024 or 20240315 (integers yyyymmdd work too)")
_AMOUNT_HINT = ("store amounts as numbers, or as text such as 1234.56, 1.234,56 or 1 234,56 "
                "(negative for refunds)")


@dataclass(frozen=True)
class Conversion:
    """How one ledger column becomes the type the SQL expects.

    ``kind``: ``as_is`` (the engine's own cast suffices), ``yyyymmdd`` (whole numbers that are
    dates), ``date_text`` (text dates in ``formats``; :data:`ISO` for ISO dates) or
    ``amount_text`` (text amounts with ``decimal`` as decimal mark).
    """

    column: str  # the name in helpers.spend.LEDGER_COLUMNS
    source: str  # the ledger's own column name
    type: str  # the column's type as DuckDB reads it
    kind: str = "as_is"
    formats: tuple[str, ...] = ()
    decimal: str = "."
    signs: bool = False  # amount_text: some values carry a currency sign or code

    def describe(self) -> str:
        """The conversion in words, e.g. ``booking_date: text dates 15.03.2024``."""
        if self.kind == "yyyymmdd":
            return f"{self.source}: {self.type.lower()} read as dates yyyymmdd"
        if self.kind == "date_text":
            return f"{self.source}: text dates {', '.join(_example_date(f) for f in self.formats)}"
        if self.kind == "amount_text":
            mark = "decimal comma" if self.decimal == "," else "decimal point"
            return f"{self.source}: text amounts with a {mark}"
        return f"{self.source}: {self.type.lower()}"


def type_class(duck_type: str) -> str:
    """``nested``, ``integer``, ``number``, ``date``, ``text``, ``boolean`` or ``other``."""
    t = duck_type.upper().strip()
    if "[" in t or t.startswith(("STRUCT", "MAP", "UNION")):
        return "nested"
    if t in _INTEGER_TYPES:
        return "integer"
    if t in _NUMBER_TYPES or t.startswith(("DECIMAL", "NUMERIC")):
        return "number"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return "date"
    if t in ("VARCHAR", "STRING", "TEXT"):
        return "text"
    if t == "BOOLEAN":
        return "boolean"
    return "other"


_CLASS_WORDS = {"nested": "a nested column (lists, records or maps in each line)",
                "boolean": "a true/false column", "date": "a date column",
                "other": "a column of type {type}", "integer": "a whole-number column",
                "number": "a number column", "text": "a text column"}


# ------------------------------------------------------------------------------ planning
def plan(con: duckdb.DuckDBPyConnection, reader: str, present: dict[str, str],
         types: dict[str, str], source: Any, *, date_format: str | None = None,
         decimal: str | None = None) -> dict[str, Conversion]:
    """One :class:`Conversion` per ledger column found (``present``: ledger name -> own name).

    ``reader`` is the DuckDB table function that streams the ledger and ``types`` the DuckDB
    type of each column; ``source`` (a ``helpers.spend._LedgerSource``) names the files in
    messages. ``date_format``/``decimal`` come from the mapping's ``ledger:`` section.
    """
    checker = _Checker(con, reader, source)
    conversions = {}
    for column, own in present.items():
        kind = type_class(types[own])
        conv = Conversion(column=column, source=own, type=types[own])
        if column == "booking_date":
            conv = checker.date(conv, kind, date_format)
        elif column == "amount":
            conv = checker.amount(conv, kind, decimal, present.get("currency"))
        elif kind not in ("text", "integer", "number"):
            checker.wrong_type(conv, kind, "text (or whole numbers for codes)",
                               "store the column as text")
        conversions[column] = conv
    return conversions


class _Checker:
    """Looks at the ledger's columns through DuckDB: samples, whole-column evidence, errors."""

    def __init__(self, con: duckdb.DuckDBPyConnection, reader: str, source: Any) -> None:
        self.con, self.reader, self.source = con, reader, source

    # --- dates
    def date(self, conv: Conversion, kind: str, date_format: str | None) -> Conversion:
        if kind == "date":
            return conv
        if kind in ("integer", "number"):
            return self._yyyymmdd(conv, kind)
        if kind != "text":
            self.wrong_type(conv, kind, "dates", _DATE_HINT)
        values = [str(v).strip() for v, _ in self.sample(conv.source)]
        values = [v for v in values if v]
        if not values:
            return replace(conv, kind="date_text", formats=(ISO,))
        if date_format:
            if not any(_parses(v, date_format) for v in values[:1000]):
                self.wrong_type(conv, kind, f"dates in the mapping's date_format "
                                f"{quote(date_format)}", "fix ledger: date_format: in the "
                                "mapping file to match the dates shown", examples=values)
            return replace(conv, kind="date_text", formats=(date_format,))
        found: list[str] = []
        families: dict[tuple[str, int], list[bool]] = {}  # (sep, year digits) -> [day1st, mon1st]
        unknown = []
        for value in values:
            fmt = next((f for regex, f, _ in _DATE_FORM_RES if regex.fullmatch(value)), None)
            if fmt is not None:
                if fmt not in found:
                    found.append(fmt)
                continue
            match = _EITHER_ORDER.fullmatch(value)
            if match is None:
                unknown.append(value)
                continue
            first, sep, second, year = match.groups()
            seen = families.setdefault((sep, len(year)), [False, False])
            seen[0] |= int(first) > 12
            seen[1] |= int(second) > 12
        for (sep, digits), (day_first, month_first) in families.items():
            found.append(self._order(conv, sep, digits, day_first, month_first, values))
        if not found:
            self.wrong_type(conv, kind, "dates", _DATE_HINT, examples=unknown,
                            what="holds text that is not a date in any known form")
        return replace(conv, kind="date_text", formats=tuple(found))

    def _order(self, conv: Conversion, sep: str, digits: int, day_first: bool,
               month_first: bool, values: list[str]) -> str:
        """The format of ``a/b/yyyy`` dates: day or month first, from the values."""
        year = "%Y" if digits == 4 else "%y"
        if not (day_first or month_first):  # the sample does not tell: look at the whole column
            day_first, month_first = self._order_evidence(conv.source, sep, digits)
        shown = [v for v in values if _EITHER_ORDER.fullmatch(v)]
        if day_first and month_first:
            self.ambiguous(conv, "mixes day-first and month-first dates", shown,
                           f'date_format: "%d{sep}%m{sep}{year}" (day first) or '
                           f'"%m{sep}%d{sep}{year}" (month first); the other lines are then '
                           'bad dates')
        if not (day_first or month_first):
            self.ambiguous(conv, "holds dates whose day and month cannot be told apart (no "
                           "part is above 12)", shown, f'date_format: "%d{sep}%m{sep}{year}" '
                           f'(day first) or "%m{sep}%d{sep}{year}" (month first)')
        return f"%d{sep}%m{sep}{year}" if day_first else f"%m{sep}%d{sep}{year}"

    def _order_evidence(self, own: str, sep: str, digits: int) -> tuple[bool, bool]:
        """Whether any value of the whole column has a day above 12 first / second."""
        ident = _duck_ident(own)
        pattern = f"^([0-9]{{1,2}}){sep}([0-9]{{1,2}}){sep}[0-9]{{{digits}}}( .*)?$"
        sql = (f"SELECT max(TRY_CAST(regexp_extract(t, '{pattern}', 1) AS INTEGER)), "
               f"max(TRY_CAST(regexp_extract(t, '{pattern}', 2) AS INTEGER)) "
               f"FROM (SELECT TRIM(CAST({ident} AS VARCHAR)) AS t FROM {self.reader})")
        first, second = self._one(sql)
        return bool(first and first > 12), bool(second and second > 12)

    def _yyyymmdd(self, conv: Conversion, kind: str) -> Conversion:
        """Whole numbers that are dates yyyymmdd (20240315), else a type error."""
        values = [v for v, _ in self.sample(conv.source)]
        dates = [v for v in values if _is_yyyymmdd(v)]
        if values and not dates:
            self.wrong_type(conv, kind, "dates (whole numbers count as dates only as yyyymmdd, "
                            "e.g. 20240315)", _DATE_HINT + "; Excel day numbers (45366) must "
                            "be formatted as dates before exporting", examples=values)
        return replace(conv, kind="yyyymmdd")

    # --- amounts
    def amount(self, conv: Conversion, kind: str, decimal: str | None,
               currency: str | None) -> Conversion:
        if kind in ("integer", "number"):
            return conv
        if kind != "text":
            self.wrong_type(conv, kind, "numbers", _AMOUNT_HINT)
        values = [str(v).strip() for v, _ in self.sample(conv.source)]
        values = [v for v in values if v]
        signs = any(_SIGN_RE.search(v) for v in values)
        cleaned = [clean_amount(v) for v in values]
        comma = [bool(re.fullmatch(COMMA_DECIMAL, c)) for c in cleaned]
        dot = [bool(re.fullmatch(DOT_DECIMAL, c)) for c in cleaned]
        if values and not any(comma) and not any(dot):
            self.wrong_type(conv, kind, "numbers", _AMOUNT_HINT, examples=values,
                            what="holds text that is not an amount in any known form")
        if decimal is None:
            decimal = self._decimal(conv, values, cleaned, comma, dot)
        return replace(conv, kind="amount_text", decimal=decimal, signs=signs)

    def _decimal(self, conv: Conversion, values: list[str], cleaned: list[str],
                 comma: list[bool], dot: list[bool]) -> str:
        """The column's decimal mark: the convention more values can only be read in."""
        comma_only = sum(c and not d for c, d in zip(comma, dot, strict=True))
        dot_only = sum(d and not c for c, d in zip(comma, dot, strict=True))
        if comma_only == dot_only:
            both = [v for v, c, d, t in zip(values, comma, dot, cleaned, strict=True)
                    if c and d and re.search("[.,]", t)]
            if not both and not comma_only:
                return "."  # whole numbers only: either mark reads them alike
            comma_only, dot_only = self._decimal_evidence(conv.source)
            if comma_only == dot_only:
                self.ambiguous(conv, "holds amounts whose decimal mark cannot be told "
                               "(1.234 or 1,234 could be thousands or decimals)",
                               both or values, 'decimal: "," (or decimal: ".")')
        return "," if comma_only > dot_only else "."

    def _decimal_evidence(self, own: str) -> tuple[int, int]:
        """Lines of the whole column readable only with a decimal comma / only with a point."""
        text = f"({clean_amount_sql(_duck_ident(own), 'duckdb')})"
        comma = _matches("duckdb", text, COMMA_DECIMAL)
        dot = _matches("duckdb", text, DOT_DECIMAL)
        sql = (f"SELECT count(*) FILTER (WHERE {comma} AND NOT {dot}), "
               f"count(*) FILTER (WHERE {dot} AND NOT {comma}) FROM {self.reader}")
        first, second = self._one(sql)
        return int(first or 0), int(second or 0)

    # --- reading and errors
    def _where_in_file(self) -> str:
        """SQL text saying where a value is in its file: the record number for Parquet; CSV
        line numbers are not tracked by the streamed read."""
        return ("' row ' || CAST(file_row_number + 1 AS VARCHAR)"
                if self.source.format == "parquet" else "''")

    def sample(self, own: str, n: int = SAMPLE_VALUES) -> list[tuple[Any, str]]:
        """Up to ``n`` non-missing values of a column, each with where it is (for examples)."""
        ident = _duck_ident(own)
        row = self._where_in_file()
        sql = (f"SELECT {ident}, source_file, {row} FROM {self.reader} "
               f"WHERE {ident} IS NOT NULL LIMIT {int(n)}")
        try:
            rows = self.con.sql(sql).fetchall()
        except duckdb.Error as exc:
            raise _read_error(exc, self.source) from exc
        return [(value, self.source.display(file) + where) for value, file, where in rows]

    def _examples(self, own: str, file: str) -> list[tuple[Any, str]]:
        """The first three values of a column in one file, with where they are; none when the
        file cannot be read on its own (the message then names the file and type only)."""
        if file not in self.source.files:
            file = self.source.files[0]
        ident = _duck_ident(own)
        row = self._where_in_file()
        sql = (f"SELECT {ident}, {row} FROM {_single_reader(file, self.source)} "
               f"WHERE {ident} IS NOT NULL LIMIT 3")
        try:
            rows = self.con.sql(sql).fetchall()
        except duckdb.Error:
            return []
        return [(value, self.source.display(file) + where) for value, where in rows]

    def _one(self, sql: str) -> tuple[Any, ...]:
        try:
            return self.con.execute(sql).fetchone() or ()
        except duckdb.Error as exc:
            raise _read_error(exc, self.source) from exc

    def files_with(self, own: str, duck_type: str) -> list[str]:
        """The ledger files whose column ``own`` has ``duck_type`` (for a folder's messages)."""
        if len(self.source.files) == 1:
            return [str(self.source.root)]
        hits = []
        for file in self.source.files[:200]:
            try:
                described = self.con.sql(f"DESCRIBE SELECT * FROM {_single_reader(file, self.source)}"
                                         ).fetchall()
            except duckdb.Error:
                continue
            if any(str(r[0]) == own and str(r[1]) == duck_type for r in described):
                hits.append(file)
            if len(hits) == 3:
                break
        return hits or [str(self.source.root)]

    def wrong_type(self, conv: Conversion, kind: str, expected: str, hint: str,
                   examples: Sequence[Any] | None = None, what: str | None = None) -> None:
        """Raise the DataError for a column that cannot hold ``expected``."""
        files = self.files_with(conv.source, conv.type)
        if examples is None:  # read from a file that has the type: a folder's files may differ
            shown = ", ".join(f"{where}: {quote(value)}"
                              for value, where in self._examples(conv.source, files[0]))
        else:
            unique = {quote(v): None for v in list(examples)[:1000]}
            shown = ", ".join(list(unique)[:5])
        if not what:
            what = "is " + _CLASS_WORDS.get(kind, "a column of type {type}").format(
                type=conv.type)
        lines = ("" if self.source.format == "parquet"
                 else " (lines of a streamed CSV ledger are not tracked: example values only)")
        renamed = f" (the ledger's '{conv.source}')" if conv.source != conv.column else ""
        raise DataError(f"{conv.column}{renamed} {what} ({conv.type}); expected {expected}"
                        + (f"; e.g. {shown}{lines}" if shown else ""),
                        file=", ".join(files), column=conv.column, rule=RULE, hint=hint)

    def ambiguous(self, conv: Conversion, what: str, examples: Sequence[str], option: str
                  ) -> None:
        """Raise the DataError for a column whose form the values do not tell."""
        shown = ", ".join(quote(v) for v in list(dict.fromkeys(examples))[:5])
        raise DataError(f"{conv.column} {what}; e.g. {shown}", file=str(self.source.root),
                        column=conv.column, rule="ambiguous-format",
                        hint=f"say which it is in the mapping file's ledger section: {option}")


def _read_error(exc: duckdb.Error, source: Any) -> DataError:
    return DataError(f"cannot read the ledger: {str(exc).strip().splitlines()[0]}",
                     file=str(source.root), rule="unreadable-ledger",
                     hint="check that every file is a valid, complete CSV or Parquet ledger")


def _single_reader(file: str, source: Any) -> str:
    literal = "'" + file.replace("'", "''") + "'"
    if source.format == "parquet":
        return f"read_parquet({literal}, file_row_number = true)"
    return f"read_csv({literal}, header = true, all_varchar = true)"


def _duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parses(value: str, fmt: str) -> bool:
    text = value if " " in fmt else value.split(" ")[0]
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def _is_yyyymmdd(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    if not number.is_integer() or not 10000101 <= number <= 99991231:
        return False
    return _parses(str(int(number)), "%Y%m%d") and 1900 <= int(number) // 10000 <= 2100


def _example_date(fmt: str) -> str:
    if fmt == ISO:
        return "2024-03-15"
    return datetime(2024, 3, 15).strftime(fmt)


def clean_amount(text: str, signs: bool = True) -> str:
    """A text amount without currency sign and grouping spaces/apostrophes, a trailing minus
    moved to the front: the Python twin of :func:`clean_amount_sql` (to read the sample)."""
    t = _SIGN_RE.sub("", text.strip()) if signs else text.strip()
    t = re.sub(_GROUPING, "", t)
    return re.sub("^([^-].*)-$", r"-\1", t)


# ------------------------------------------------------------------------------ SQL rendering
def _literal(text: str, dialect: str) -> str:
    """A SQL string literal. DuckDB doubles a quote; Spark reads doubled quotes as two literals
    and takes a Unicode escape instead."""
    if dialect == "duckdb":
        return "'" + text.replace("'", "''") + "'"
    return "'" + text.replace("\\", "\\\\").replace("'", "\\u0027") + "'"


def _replace_all(dialect: str, text: str, pattern: str, replacement: str) -> str:
    if dialect == "duckdb":
        return (f"regexp_replace({text}, {_literal(pattern, dialect)}, "
                f"{_literal(replacement, dialect)}, 'g')")
    # Spark replaces every match and writes group references as $1
    replacement = re.sub(r"\\(\d)", r"$\1", replacement)
    return f"regexp_replace({text}, {_literal(pattern, dialect)}, {_literal(replacement, dialect)})"


def clean_amount_sql(column: str, dialect: str, signs: bool = True) -> str:
    """SQL for :func:`clean_amount` of the text of ``column`` (DuckDB or Spark SQL). Without
    ``signs`` (no sampled value had one) currency signs are not looked for: a value with one
    is then a bad amount, and the column is read faster."""
    t = f"TRIM(CAST({column} AS STRING))"
    if signs:
        t = _replace_all(dialect, t, f"^{_CURRENCY_TOKEN}|{_CURRENCY_TOKEN}$", "")
    t = _replace_all(dialect, t, _GROUPING, "")
    return _replace_all(dialect, t, "^([^-].*)-$", "-\\1")


def _matches(dialect: str, text: str, pattern: str) -> str:
    return f"(regexp_extract({text}, {_literal(pattern, dialect)}, 0) <> '')"


def format_regex(fmt: str) -> str:
    """A SQL regex (no backslashes) that a date text in strftime format ``fmt`` must match, so
    that e.g. ``%d/%m/%Y`` does not read "15/03/24" as the year 24."""
    compact = re.search(r"%.%.", fmt) is not None
    fields = {"%Y": "[0-9]{4}", "%y": "[0-9]{2}"}
    out = []
    for part in re.split(r"(%.)", fmt):
        if part.startswith("%") and len(part) == 2:
            out.append(fields.get(part, "[0-9]{2}" if compact else "[0-9]{1,2}"))
        else:
            out.append("".join(f"[{c}]" if c in ".$^*+?()[]{}|" else c for c in part))
    return "^" + "".join(out) + "$"


def _parse_date_sql(dialect: str, text: str, fmt: str) -> str:
    if dialect == "duckdb":
        return f"CAST(TRY_STRPTIME({text}, {_literal(fmt, dialect)}) AS DATE)"
    return f"CAST(try_to_timestamp({text}, {_literal(java_pattern(fmt), dialect)}) AS DATE)"


def java_pattern(fmt: str) -> str:
    """A strftime date format as a Spark (Java) datetime pattern."""
    compact = re.search(r"%.%.", fmt) is not None  # adjacent fields need fixed widths
    letters = {"%Y": "yyyy", "%y": "yy", "%m": "MM" if compact else "M",
               "%d": "dd" if compact else "d", "%H": "HH" if compact else "H",
               "%M": "mm" if compact else "m", "%S": "ss" if compact else "s"}
    return re.sub(r"%.", lambda m: letters.get(m.group(0), m.group(0)), fmt)


def expression(conv: Conversion, ref: Callable[[str], str], dialect: str,
               currency: str | None = None) -> str:
    """The SQL expression that gives column ``conv.column`` its expected type.

    ``ref`` quotes a column name for the engine; ``dialect`` is ``duckdb`` or ``spark``;
    ``currency`` is the ledger's own currency column (a currency sign must agree with it).
    """
    x = ref(conv.source)
    if conv.kind == "yyyymmdd":
        number = f"TRY_CAST({x} AS BIGINT)"
        guard = f"{number} BETWEEN 10000101 AND 99991231"
        if type_class(conv.type) == "number":
            guard += f" AND {x} = FLOOR({x})"
        return (f"CASE WHEN {guard} THEN "
                f"{_parse_date_sql(dialect, f'CAST({number} AS STRING)', '%Y%m%d')} END")
    if conv.kind == "date_text":
        text = f"TRIM(CAST({x} AS STRING))"
        parts = []
        for fmt in conv.formats:
            if fmt == ISO:
                parts.append(f"CASE WHEN {_matches(dialect, text, _ISO_SQL)} "
                             f"THEN TRY_CAST({text} AS DATE) END")
                continue
            token = text if " " in fmt else f"regexp_extract({text}, '^[^ ]+', 0)"
            parsed = _parse_date_sql(dialect, token, fmt)
            parts.append(f"CASE WHEN {_matches(dialect, token, format_regex(fmt))} "
                         f"THEN {parsed} END")
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
    if conv.kind == "amount_text":
        n = clean_amount_sql(x, dialect, conv.signs)
        if conv.decimal == ",":
            pattern, number = COMMA_DECIMAL, f"replace(replace({n}, '.', ''), ',', '.')"
        else:
            pattern, number = DOT_DECIMAL, f"replace({n}, ',', '')"
        value = f"CASE WHEN {_matches(dialect, n, pattern)} THEN TRY_CAST({number} AS DOUBLE) END"
        if currency is None or not conv.signs:
            return value
        return f"CASE WHEN {_currency_agrees(ref(currency), x, dialect)} THEN {value} END"
    return x


def _currency_agrees(currency: str, amount: str, dialect: str) -> str:
    """SQL: the amount's currency sign or code, if it has one, names the line's currency
    (a sign as one of the codes it stands for: "$" for USD, CAD, AUD or NZD)."""
    t = f"TRIM(CAST({amount} AS STRING))"
    token = (f"concat(regexp_extract({t}, {_literal('^' + _CURRENCY_TOKEN, dialect)}, 1), "
             f"regexp_extract({t}, {_literal(_CURRENCY_TOKEN + '$', dialect)}, 1))")
    codes = token
    for sign, code in _SIGN_CODES:
        codes = f"replace({codes}, {_literal(sign, dialect)}, '{code}')"
    code = f"UPPER(TRIM(CAST({currency} AS STRING)))"
    return (f"COALESCE(length({token}) = 0 OR (length({code}) = 3 "
            f"AND instr(UPPER({codes}), {code}) > 0), FALSE)")
