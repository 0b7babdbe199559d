"""Spend features: firm-year technology spend from transaction ledgers, and budget shares.

Ledgers are large (tens of millions of lines), so :func:`firm_year_features` streams them inside
DuckDB (all cores, memory capped at :data:`MEMORY_LIMIT`): the files are read once with
``read_parquet``/``read_csv`` and only small summary tables come back to pandas. The
transformation itself is one portable SQL file, ``helpers/sql/ledger_features.sql``, that Spark
SQL can run unchanged later. Parquet is the fast path; CSV ledgers are parsed as text on every
run, so convert very large ones to Parquet once. Budgets are small, so :func:`budget_shares` and
:func:`share_trend` work in pandas.

Technology categories: software, cloud_infrastructure, hardware, it_services.

Features (one row per ``firm_id`` and ``year``; amounts net of refunds, in EUR or ``currency``):

- ``it_spend``: technology booked by the IT cost centre(s) (``ShadowRule.it_cost_centers``);
- ``marketing_spend``: everything booked by Marketing, whatever the category;
- ``martech_spend``: technology booked by Marketing;
- ``other_tech_spend``: technology booked by any other cost centre (blank or unknown ones too);
- ``tech_spend_total`` = it_spend + martech_spend + other_tech_spend;
- ``shadow_it_spend`` (rule below) and ``shadow_it_share`` = shadow_it_spend / tech_spend_total;
- ``card_share``: share of (net) technology spend paid by corporate_card or expense_claim;
- ``n_vendors_it``/``n_vendors_marketing``/``n_vendors_other``: distinct technology vendors per
  function (vendor names compared case-insensitively);
- ``n_lines``: usable lines; ``refunds``: the refunded amount (positive number);
- ``uncategorised_spend``: lines that neither the vendor map nor the ledger categorises.

Shares are NaN when the firm-year's technology total is zero (below half a cent).

SHADOW-IT RULE (default :data:`DEFAULT_RULE`): a ledger line is shadow IT when its category is
software or cloud_infrastructure, it is booked by a cost centre other than IT (a blank cost centre
included), and it is paid outside procurement: by any payment method other than a purchase_order
or an invoice — corporate_card, expense_claim, any other method, or none recorded (a blank
payment method counts as outside procurement). Purchase orders and invoices run through
procurement and accounts payable with approval and are never shadow IT, whichever cost centre
books them. Reports describe the rule with :func:`helpers.spend_report.rule_text`, built from the
:class:`ShadowRule` itself. The synthetic sample (``helpers.simulate``) generates its shadow IT
with this same rule. Hardware and IT services are technology but never shadow IT
under the default rule. Change the categories, the IT cost centres or the sanctioned payment
methods with :class:`ShadowRule`.

REFUND RULE: negative amounts are refunds. They are netted against spend in the same firm, year
and classification (a refunded card purchase of software by Marketing lowers that year's
shadow_it_spend, martech_spend, marketing_spend and tech_spend_total) and their total is reported,
as a positive amount, in ``refunds``. Net values are kept even when a class turns negative (e.g. a
refund booked in the year after the purchase); such firm-years are listed in the bad-row report
under rule ``net-negative`` but not excluded.

CATEGORIES: the vendor map (``vendors``; names matched ignoring case and surrounding spaces; rows
with a blank vendor or category are ignored) overrides the ledger's ``vendor_category``; a blank
ledger category is filled from the map. Lines that neither categorises count as "uncategorised"
(not technology, but still in marketing_spend, n_lines and uncategorised_spend). Vendors the map
does not know are listed, never dropped, in ``df.attrs["unmapped_vendors"]`` (vendor, n_lines,
amount_eur, n_uncategorised): their lines count under the ledger's category when it has one, as
uncategorised otherwise. Without a vendor map, the list holds the vendors of uncategorised lines.

FX: amounts are converted with the rate of the booking month (``rate_to_eur``: EUR per unit of
the currency; EUR is 1 and need not be listed); when that month is missing from the FX table, the
most recent earlier month's rate is used (also after the table's last month). Reporting in another
``currency`` divides by that currency's rate of the same month (same as-of rule).

BAD ROWS: lines with a missing firm id (``missing-firm-id``), a missing or unparseable booking date
(``bad-date``), a missing or non-numeric amount (``bad-amount``), a currency absent from the FX
table (``unknown-currency``) or a booking before its currency's first FX rate (``no-fx-rate``) are
excluded from the features and reported in ``df.attrs["bad_rows"]`` (rule, column, count,
excluded, message, files, examples with file, row for Parquet, and the offending values). Each
line counts under its first broken rule, in the order above. ``strict=True`` raises
:class:`~helpers.errors.DataError` for them instead (``net-negative`` is only reported). Even
without it, a ledger with no usable line or with more than :data:`MAX_BAD_SHARE` (half) of its
lines excluded is a DataError (rules ``no-usable-lines``, ``too-many-bad-lines``): an empty or
mostly excluded spend table is never a silent success. ``attrs["lines"]`` holds the lines read
and excluded and the columns converted.

COLUMN TYPES: dates and amounts are read in the ledger's own form (integer ``yyyymmdd`` dates,
``15.03.2024``, decimal commas, ...); a column of the wrong type (nested, boolean amount, ...)
or an ambiguous form is a DataError before any line is read. See :mod:`helpers.ledger_types`.

Note: pandas cannot ``pd.concat`` two results that both carry these attrs (it compares attrs with
``==``); clear them first (``df.attrs = {}``).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import ledger_types
from helpers.errors import DataError, Issue, quote
from helpers.i18n import N_
from helpers.io import check_column_types, read_raw

__all__ = [
    "CARD_PAYMENT_METHODS",
    "DEFAULT_RULE",
    "LEDGER_COLUMNS",
    "SUPPORTED_ENGINES",
    "TECH_CATEGORIES",
    "ShadowRule",
    "budget_shares",
    "describe_bad_rows",
    "firm_year_features",
    "share_trend",
]

TECH_CATEGORIES = ("software", "cloud_infrastructure", "hardware", "it_services")
CATEGORIES = TECH_CATEGORIES + ("advertising_media", "agency", "travel", "office", "other")
CARD_PAYMENT_METHODS = ("corporate_card", "expense_claim")
MARKETING_COST_CENTER = "Marketing"
LEDGER_COLUMNS = ("firm_id", "booking_date", "cost_center", "vendor", "vendor_category",
                  "payment_method", "currency", "amount")
OPTIONAL_LEDGER_COLUMNS = ("vendor_category",)
SQL_FILE = "ledger_features.sql"

# A ledger of which more than this share of lines break a rule is an error even without
# ``strict``: it was not read as intended (a wrong column, a format not recognised), and features
# from the few remaining lines would be wrong without saying so.
MAX_BAD_SHARE = 0.5

# DuckDB resources: one thread per available core and a memory cap far below the size of a pandas
# copy of a large ledger; beyond it DuckDB spills to a private temporary directory. Raise it (e.g.
# ``spend.MEMORY_LIMIT = "4GB"``) for ledgers with very many distinct firm-year-vendor pairs.
MEMORY_LIMIT = "512MB"

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".csv.gz")
FEATURE_COLUMNS = ["firm_id", "year", "it_spend", "marketing_spend", "martech_spend",
                   "other_tech_spend", "tech_spend_total", "shadow_it_spend", "shadow_it_share",
                   "card_share", "n_vendors_it", "n_vendors_marketing", "n_vendors_other",
                   "n_lines", "refunds", "uncategorised_spend"]
_SPEND_CLASSES = ("it_spend", "marketing_spend", "martech_spend", "other_tech_spend",
                  "tech_spend_total", "shadow_it_spend")

# rule -> (column, message, hint); the order is the order of precedence in the SQL. The messages
# are message ids (English here and in DataErrors; a report shows them translated).
LINE_RULES: dict[str, tuple[str, str, str]] = {
    "missing-firm-id": ("firm_id", N_("firm id is missing"),
                        "fill in firm_id on every line"),
    "bad-date": ("booking_date", N_("booking date is missing or not a date"),
                 "write booking dates as ISO dates (YYYY-MM-DD)"),
    "bad-amount": ("amount", N_("amount is missing or not a number"),
                   "use plain numbers with a decimal point (negative for refunds)"),
    "unknown-currency": ("currency", N_("currency is not in the FX table"),
                         "add the currency's monthly rates to the FX table or fix the code"),
    "no-fx-rate": ("booking_date", N_("booked before the first FX rate of its currency"),
                   "extend the FX table back to the booking month"),
}
NET_NEGATIVE = ("net-negative", N_("net spend of a class is negative after refunds (kept as is)"),
                "a refund is booked in another year than its purchase, or a purchase is missing")


@dataclass(frozen=True)
class ShadowRule:
    """Which ledger lines count as shadow IT (see the module docstring for the default rule).

    A line is shadow IT when its category is in ``categories``, its cost centre is not one of
    ``it_cost_centers`` and its payment method is not one of ``sanctioned_payment_methods``.
    ``it_cost_centers`` also defines which cost centres make up ``it_spend``. Matching ignores
    case and surrounding spaces.
    """

    categories: tuple[str, ...] = ("software", "cloud_infrastructure")
    it_cost_centers: tuple[str, ...] = ("IT",)
    sanctioned_payment_methods: tuple[str, ...] = ("purchase_order", "invoice")

    def __post_init__(self) -> None:
        for name in ("categories", "it_cost_centers", "sanctioned_payment_methods"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            value = tuple(value)
            if not all(isinstance(v, str) and v.strip() for v in value):
                raise TypeError(f"ShadowRule.{name} must hold non-empty strings, got {value!r}")
            object.__setattr__(self, name, value)


DEFAULT_RULE = ShadowRule()


# =========================================================================== public API: ledgers
def firm_year_features(
    ledger: str | Path,
    engine: str | None = None,
    *,
    fx: str | Path | pd.DataFrame,
    vendors: str | Path | pd.DataFrame | None = None,
    rules: ShadowRule = DEFAULT_RULE,
    strict: bool = False,
    currency: str = "EUR",
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    decimal: str | None = None,
    max_bad_share: float = MAX_BAD_SHARE,
) -> pd.DataFrame:
    """One row per firm and year of technology and marketing spend from a transaction ledger.

    ``ledger`` is a CSV or Parquet file or a folder of them (searched recursively, hive
    partitions such as ``firm_id=F1/`` are read as columns). ``fx`` holds monthly ``date``,
    ``currency``, ``rate_to_eur``; ``vendors`` maps ``vendor`` to ``vendor_category``. The ledger
    never enters pandas: it is streamed by the engine and only the firm-year table returns.
    Excluded lines and vendors missing from the map are in ``attrs["bad_rows"]`` and
    ``attrs["unmapped_vendors"]``; ``strict=True`` raises :class:`DataError` on excluded lines.

    ``engine`` is ``"duckdb"`` (embedded, the default) or ``"spark"`` (the same SQL on a Spark
    session: the active one, e.g. on a cluster, or a local one); without it the configuration
    value ``DISCONNECT_LAB_SPEND_ENGINE`` decides.

    ``columns`` renames the ledger's own column names to :data:`LEDGER_COLUMNS` (the mapping
    file's ``ledger: columns:``, e.g. ``{"Buchungsdatum": "booking_date"}``). The renaming
    happens in the engine's read step (the ``ledger`` view), so the ledger is still streamed.
    Names match ignoring case; a required column missing after renaming is a DataError listing
    the columns found, with close matches.

    Column types (:mod:`helpers.ledger_types`): dates and amounts are read in the ledger's own
    form -- integer ``yyyymmdd`` dates, text dates such as ``15.03.2024``, text amounts with
    decimal commas such as ``1.234,56`` -- and a column of a type that cannot hold them (a
    nested column, a boolean amount) is a DataError naming the file, the column and the expected
    type. ``date_format`` (``"%d/%m/%Y"``) and ``decimal`` (``","``) settle forms the values do
    not tell (the mapping's ``ledger: date_format:`` and ``decimal:``).

    Bad lines: without ``strict`` they are excluded and counted, but a ledger with no usable
    line, or with more than ``max_bad_share`` (default :data:`MAX_BAD_SHARE`, half) of its
    lines excluded, is a DataError naming the broken rules with examples; ``strict=True`` makes
    every excluded line an error.
    """
    engine = engine or default_engine()
    if engine not in SUPPORTED_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; supported engines: "
                         f"{', '.join(SUPPORTED_ENGINES)}")
    if not isinstance(rules, ShadowRule):
        raise TypeError("rules must be a ShadowRule")
    if not 0 <= max_bad_share <= 1:
        raise ValueError("max_bad_share must be between 0 and 1")
    target = _currency_code(currency)
    source = _ledger_source(ledger, columns)
    fx_table = _prepare_fx(fx, target)
    vendor_table = _prepare_vendors(vendors)
    conversions = _plan_ledger(source, date_format, decimal)
    summary, bad_lines = _ENGINES[engine](source, conversions, fx_rates(fx_table, target),
                                          vendor_table, load_sql(_sql_params(rules, target,
                                                                             fx_table)))
    counts = _bad_line_counts(summary)
    bad = (_bad_line_report(bad_lines, counts, source) if counts
           else pd.DataFrame(columns=_REPORT_COLUMNS))
    features = _features(summary)
    excluded = sum(counts.values())
    total = int(features["n_lines"].sum()) + excluded
    _check_usable(source, total, excluded, bad, strict, max_bad_share)
    unmapped = _unmapped(summary, has_map=not vendor_table.empty)
    converted = [c.describe() for c in conversions.values() if c.kind != "as_is"]
    return _finish(features, bad, unmapped, target,
                   {"read": total, "excluded": excluded, "converted": converted})


def _check_usable(source: _LedgerSource, total: int, excluded: int, bad: pd.DataFrame,
                  strict: bool, max_bad_share: float) -> None:
    """Raise when the ledger has no lines, no usable line, any bad line under ``strict`` or
    more than ``max_bad_share`` bad lines: an empty or mostly excluded spend table is never a
    silent success."""
    if total == 0:
        raise DataError("the ledger has no lines", file=str(source.root), rule="no-data-rows",
                        hint="check that the files hold the booking lines, not only a header")
    if not excluded:
        return
    share = excluded / total
    counted = "; ".join(f"{rec.rule} {rec.count:,}" for rec in bad.itertuples())
    if excluded == total:
        head = Issue(rule="no-usable-lines", file=str(source.root),
                     message=f"none of the ledger's {total:,} lines is usable: every line breaks "
                             f"a rule and would be excluded ({counted})",
                     hint="the spend features would be empty; fix the columns named below "
                          "(types and formats: see the mapping's ledger: columns, date_format "
                          "and decimal)")
    elif share > max_bad_share:
        head = Issue(rule="too-many-bad-lines", file=str(source.root),
                     message=f"{excluded:,} of the ledger's {total:,} lines ({share:.0%}) break a "
                             f"rule and would be excluded ({counted}); more than "
                             f"{max_bad_share:.0%} means the ledger was not read as intended",
                     hint="fix the columns named below; features from the remaining lines "
                          "would misstate spend")
    elif strict:
        head = None
    else:
        return
    raise DataError(issues=([head] if head else []) + _issues(bad))


def _plan_ledger(source: _LedgerSource, date_format: str | None, decimal: str | None
                 ) -> dict[str, ledger_types.Conversion]:
    """The ledger's columns and how each becomes its SQL type (see :mod:`helpers.ledger_types`);
    raises DataError for a missing column, a column of the wrong type or an ambiguous form."""
    reader = _reader_sql(source)
    with tempfile.TemporaryDirectory(prefix="helpers-spend-") as tmp, _connect(tmp) as con:
        try:
            described = con.sql(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        except duckdb.Error as exc:
            raise _engine_error(exc, source) from exc
        types = {str(row[0]): str(row[1]) for row in described
                 if str(row[0]) not in ("source_file", "file_row_number")}
        present = ledger_columns(list(types), source)
        return ledger_types.plan(con, reader, present, types, source, date_format=date_format,
                                 decimal=decimal)


def ledger_view_columns(conversions: dict[str, ledger_types.Conversion], dialect: str,
                        ref: Any) -> list[tuple[str, str]]:
    """(SQL expression, name) of the ``ledger`` view's columns for an engine: the typed
    :data:`LEDGER_COLUMNS` (NULL text for an absent optional one) and the raw date and amount."""
    currency = conversions["currency"].source if "currency" in conversions else None
    out = []
    for column in LEDGER_COLUMNS:
        if column in conversions:
            out.append((ledger_types.expression(conversions[column], ref, dialect, currency),
                        column))
        else:
            out.append(("CAST(NULL AS STRING)", column))
    for column in ("booking_date", "amount"):
        out.append((ref(conversions[column].source), f"raw_{column}"))
    return out


def describe_bad_rows(df: pd.DataFrame) -> str:
    """A readable summary of a feature table's bad-row report and unmapped vendors."""
    bad = df.attrs.get("bad_rows", df if "rule" in df.columns else pd.DataFrame())
    lines = [] if not bad.empty else ["No bad rows."]
    counts = df.attrs.get("lines") or {}
    if counts.get("read"):
        share = counts["excluded"] / counts["read"]
        lines.insert(0, f"{counts['excluded']:,} of {counts['read']:,} ledger lines "
                        f"({share:.1%}) excluded")
    if counts.get("converted"):
        lines.append("converted: " + "; ".join(counts["converted"]))
    for rec in bad.itertuples(index=False):
        unit, what = ("lines", "excluded") if rec.excluded else ("firm-years", "kept, flagged")
        lines.append(f"[{rec.rule}] {rec.count} {unit} ({what}), column {rec.column}: "
                     f"{rec.message}")
        lines.extend(f"    e.g. {example}" for example in rec.examples)
    unmapped = df.attrs.get("unmapped_vendors")
    if unmapped is not None and not unmapped.empty:
        names = ", ".join(str(v) for v in unmapped["vendor"].head(10))
        more = " ..." if len(unmapped) > 10 else ""
        lines.append(f"{len(unmapped)} vendor(s) missing from the vendor map: {names}{more}")
    return "\n".join(lines)


def load_sql(params: dict[str, str]) -> list[tuple[str, str]]:
    """(name, SQL) of the views in ``ledger_features.sql``, with ``{{name}}`` parameters filled."""
    text = resources.files("helpers").joinpath("sql", SQL_FILE).read_text(encoding="utf-8")
    sections = []
    for chunk in text.split("\n-- name: ")[1:]:
        name, _, body = chunk.partition("\n")
        sections.append((name.strip(), _fill(body, params).strip()))
    return sections


def _fill(sql: str, params: dict[str, str]) -> str:
    """Replace ``{{name}}`` placeholders; an unknown or leftover placeholder is a bug."""
    for key, value in params.items():
        sql = sql.replace("{{" + key + "}}", value)
    if "{{" in sql:
        raise KeyError(f"unfilled SQL parameter near {sql[sql.index('{{'):][:40]!r}")
    return sql


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal_list(values: Iterable[str]) -> str:
    """``'a', 'b'``; an empty list becomes ``NULL`` so that ``IN (NULL)`` matches nothing."""
    items = [_literal(v.strip().lower()) for v in values]
    return ", ".join(items) if items else "CAST(NULL AS STRING)"


def _sql_params(rules: ShadowRule, currency: str, fx: pd.DataFrame | None = None
                ) -> dict[str, str]:
    """The SQL file's parameters; ``fx`` (from :func:`_prepare_fx`) gives the known currencies
    and the last FX month (without it only ``currency`` itself is known)."""
    codes = sorted(set(fx["currency"])) if fx is not None else [currency]
    last = int(fx["month_index"].max()) if fx is not None else 0
    return {
        "known_currencies": ", ".join(_literal(c) for c in codes),
        "last_month": str(last),
        "currency": _literal(currency),
        "marketing_cost_center": _literal(MARKETING_COST_CENTER.lower()),
        "it_cost_centers": _literal_list(rules.it_cost_centers),
        "tech_categories": _literal_list(TECH_CATEGORIES),
        "shadow_categories": _literal_list(rules.categories),
        "sanctioned_payment_methods": _literal_list(rules.sanctioned_payment_methods),
        "card_payment_methods": _literal_list(CARD_PAYMENT_METHODS),
    }


def _currency_code(currency: str) -> str:
    code = str(currency).strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"currency must be a three-letter code such as 'EUR', got {currency!r}")
    return code


# --------------------------------------------------------------------------- ledger files
@dataclass(frozen=True)
class _LedgerSource:
    """The ledger's files, their format, and the path the user gave (for messages)."""

    root: Path
    format: str  # "parquet" or "csv"
    files: tuple[str, ...]
    renames: tuple[tuple[str, str], ...] = ()  # (ledger column, LEDGER_COLUMNS name)

    def display(self, file: str) -> str:
        """A short name for a file in examples: relative to a ledger folder, else the name."""
        if self.root.is_dir():
            try:
                return Path(file).relative_to(self.root).as_posix()
            except ValueError:
                return file
        return Path(file).name


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    return None


def _ledger_source(ledger: str | Path, columns: dict[str, str] | None = None) -> _LedgerSource:
    """Find the ledger's files: one file, or every Parquet/CSV file below a folder."""
    root = Path(ledger)
    renames = tuple((str(k), str(v)) for k, v in (columns or {}).items())
    unknown = [target for _, target in renames if target not in LEDGER_COLUMNS]
    if unknown:
        raise DataError(f"ledger columns can be renamed to {', '.join(LEDGER_COLUMNS)}, not "
                        f"{', '.join(repr(t) for t in unknown)}", file=str(root),
                        column=unknown[0], rule="mapping-structure",
                        hint="fix the targets of 'ledger: columns:' in the mapping file")
    if root.is_file():
        fmt = _format_of(root)
        if fmt is None:
            raise DataError(f"cannot tell the ledger format from the extension {root.suffix!r}",
                            file=str(root), rule="unknown-format",
                            hint="ledgers are .parquet or .csv files (or a folder of them)")
        return _LedgerSource(root, fmt, (str(root),), renames)
    if not root.is_dir():
        raise DataError("ledger file or folder does not exist", file=str(root),
                        rule="file-not-found", hint="check the path and the working directory")
    found: dict[str, list[str]] = {"parquet": [], "csv": []}
    for path in sorted(root.rglob("*")):
        hidden = any(part.startswith((".", "_")) for part in path.relative_to(root).parts)
        fmt = _format_of(path)
        if path.is_file() and fmt and not hidden:
            found[fmt].append(str(path))
    if found["parquet"] and found["csv"]:
        raise DataError("the ledger folder mixes Parquet and CSV files", file=str(root),
                        rule="mixed-formats", hint="keep one format per ledger folder")
    fmt = "parquet" if found["parquet"] else "csv"
    if not found[fmt]:
        raise DataError("the ledger folder holds no .parquet or .csv files", file=str(root),
                        rule="no-ledger-files")
    return _LedgerSource(root, fmt, tuple(found[fmt]), renames)


# --------------------------------------------------------------------------- FX and vendor map
def _read_table(table: str | Path | pd.DataFrame, what: str) -> tuple[pd.DataFrame, str]:
    """A small lookup table as a DataFrame, plus the name to use in messages."""
    if isinstance(table, pd.DataFrame):
        return table.rename(columns=lambda c: str(c).strip().lower()), f"{what} (DataFrame)"
    df = read_raw(table)
    return df.rename(columns=lambda c: str(c).strip().lower()), str(table)


def _require(df: pd.DataFrame, columns: Sequence[str], name: str, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"the {what} lacks column(s) {', '.join(missing)}", file=name,
                        column=missing[0], rule="missing-column",
                        hint=f"a {what} needs the columns {', '.join(columns)}")


def _bad_rows_error(mask: pd.Series, message: str, name: str, column: str, rule: str,
                    hint: str | None = None) -> None:
    if mask.any():
        rows = [i + 1 for i, bad in enumerate(mask.to_numpy()) if bad]
        raise DataError(message, file=name, column=column, rows=rows, rule=rule, hint=hint)


def _prepare_fx(fx: str | Path | pd.DataFrame, target: str) -> pd.DataFrame:
    """Validated monthly FX rates: currency, month_index, rate_to_eur (EUR = 1 added if absent)."""
    df, name = _read_table(fx, "FX table")
    _require(df, ("date", "currency", "rate_to_eur"), name, "FX table")
    check_column_types(df, {"date": "date", "currency": "text", "rate_to_eur": "number"}, name,
                       "FX table")
    dates = pd.to_datetime(df["date"].astype("str"), errors="coerce", format="mixed")
    _bad_rows_error(dates.isna(), "FX date is missing or not a date", name, "date", "bad-date",
                    "use the first day of each month, e.g. 2023-01-01")
    codes = df["currency"].astype("str").str.strip().str.upper()
    _bad_rows_error(~codes.str.fullmatch(r"[A-Z]{3}"), "currency is not a three-letter code",
                    name, "currency", "bad-currency")
    rates = pd.to_numeric(df["rate_to_eur"], errors="coerce")
    _bad_rows_error(~(rates > 0) | ~np.isfinite(rates), "rate is missing, not a number or not "
                    "positive", name, "rate_to_eur", "bad-rate",
                    "rate_to_eur is EUR per unit of the currency, e.g. 0.134 for DKK")
    _bad_rows_error((codes == "EUR") & ((rates - 1).abs() > 1e-12), "the EUR rate must be 1",
                    name, "rate_to_eur", "bad-rate")
    out = pd.DataFrame({"currency": codes.to_numpy(),
                        "month_index": (dates.dt.year * 12 + dates.dt.month - 1).to_numpy(),
                        "rate_to_eur": rates.to_numpy(dtype="float64")})
    _check_fx_duplicates(out, name)
    out = out.drop_duplicates(["currency", "month_index"])
    if "EUR" not in set(out["currency"]):
        out.loc[len(out)] = ["EUR", out["month_index"].min(), 1.0]
    if target not in set(out["currency"]):
        raise DataError(f"the reporting currency {target} is not in the FX table", file=name,
                        column="currency", rule="unknown-currency",
                        hint=f"add monthly {target} rates or report in EUR")
    return out.astype({"month_index": "int64"}).reset_index(drop=True)


def _check_fx_duplicates(fx: pd.DataFrame, name: str) -> None:
    """Two different rates for one currency and month cannot both be right."""
    spread = fx.groupby(["currency", "month_index"])["rate_to_eur"].transform("nunique")
    _bad_rows_error(spread > 1, "the FX table has different rates for one currency and month",
                    name, "rate_to_eur", "duplicate-fx-rate", "keep one rate per month")


def _prepare_vendors(vendors: str | Path | pd.DataFrame | None) -> pd.DataFrame:
    """Validated vendor map: vendor_key (lower-cased name) -> vendor_category (lower case)."""
    if vendors is None:
        return pd.DataFrame({"vendor_key": pd.Series([], dtype="str"),
                             "vendor_category": pd.Series([], dtype="str")})
    df, name = _read_table(vendors, "vendor map")
    _require(df, ("vendor", "vendor_category"), name, "vendor map")
    check_column_types(df, {"vendor": "text", "vendor_category": "text"}, name, "vendor map")
    keys = df["vendor"].astype("str").str.strip().str.lower()
    cats = df["vendor_category"].astype("str").str.strip().str.lower()
    blank = df["vendor"].isna() | df["vendor_category"].isna() | (keys == "") | (cats == "")
    _bad_rows_error(~blank & ~cats.isin(CATEGORIES), "unknown vendor category", name,
                    "vendor_category", "unknown-category",
                    f"use one of {', '.join(CATEGORIES)}")
    out = pd.DataFrame({"vendor_key": keys, "vendor_category": cats})[~blank]
    spread = out.groupby("vendor_key")["vendor_category"].transform("nunique")
    _bad_rows_error((spread > 1).reindex(df.index, fill_value=False),
                    "a vendor is mapped to different categories", name, "vendor",
                    "duplicate-vendor", "map each vendor once")
    return out.drop_duplicates("vendor_key").reset_index(drop=True)


def fx_rates(fx: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Rates into ``currency`` per currency and month with the as-of rule already applied: the
    ``fx_rates`` input of the SQL (currency, month_index, rate).

    ``fx`` comes from :func:`_prepare_fx`. Every month from a currency's first FX month to the
    table's last month gets a row; a month missing from the table takes the most recent earlier
    rate. The rate into ``currency`` divides by ``currency``'s rate of the same month, so a month
    before ``currency``'s first rate has none (its lines are ``no-fx-rate``). Done here on a
    table of (currencies x months) rows -- a few hundred -- rather than per ledger line in the
    SQL; bookings after the last month use its rate through ``LEAST(month, last_month)``.
    """
    first, last = int(fx["month_index"].min()), int(fx["month_index"].max())
    wide = (fx.pivot(index="month_index", columns="currency", values="rate_to_eur")
            .reindex(range(first, last + 1)).ffill())
    into = wide.div(wide[currency], axis=0)
    out = into.rename_axis(index="month_index", columns="currency").stack().rename("rate")
    out = out.dropna().reset_index()[["currency", "month_index", "rate"]]  # no rate: no row
    return out.astype({"currency": "str", "month_index": "int64", "rate": "float64"})


# --------------------------------------------------------------------------- DuckDB engine
def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _connect(temp_dir: str) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB with capped memory, all cores and spilling to ``temp_dir``."""
    con = duckdb.connect(":memory:", config={
        "threads": _threads(),
        "memory_limit": MEMORY_LIMIT,
        "temp_directory": temp_dir,
        "preserve_insertion_order": False,
    })
    con.execute("SET enable_progress_bar = false")  # no progress bars in notebooks and batch logs
    return con


# Views of the SQL file that DuckDB stores as temporary tables: small (the distinct text values of
# the ledger's lines) and read by several later views, so the ledger is read once for them.
_TABLE_VIEWS = frozenset({"ledger_text_values"})


def _run_duckdb(source: _LedgerSource, conversions: dict[str, ledger_types.Conversion],
                fx: pd.DataFrame, vendors: pd.DataFrame, sections: list[tuple[str, str]]
                ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run the SQL views in DuckDB: the ledger summary, and the bad-line examples if needed.

    The ledger files are streamed by DuckDB (one pass for the distinct text values, stored as a
    small table, one line by line; a third only when some lines are bad); only the small summary
    tables come back to pandas.
    """
    with tempfile.TemporaryDirectory(prefix="helpers-spend-") as tmp, _connect(tmp) as con:
        _register_inputs(con, source, conversions, fx, vendors)
        try:
            for name, sql in sections:
                kind = "TABLE" if name in _TABLE_VIEWS else "VIEW"
                con.execute(f"CREATE TEMP {kind} {name} AS {sql}")
            summary = con.sql("SELECT * FROM ledger_summary").df()
            bad_lines = None
            if _bad_line_counts(summary):
                bad_lines = con.sql("SELECT * FROM ledger_bad_lines").df()
        except duckdb.Error as exc:
            raise _engine_error(exc, source) from exc
    return summary, bad_lines


def _reader_sql(source: _LedgerSource) -> str:
    """The DuckDB table function that streams the ledger files (no data is loaded here)."""
    files = "[" + ", ".join(_literal(f) for f in source.files) + "]"
    common = "filename = 'source_file', union_by_name = true, hive_types_autocast = false"
    if source.format == "parquet":
        return f"read_parquet({files}, file_row_number = true, {common})"
    return f"read_csv({files}, header = true, all_varchar = true, {common})"


def _register_inputs(con: duckdb.DuckDBPyConnection, source: _LedgerSource,
                     conversions: dict[str, ledger_types.Conversion],
                     fx: pd.DataFrame, vendors: pd.DataFrame) -> None:
    """Create the views the SQL reads: ledger (typed, see :func:`ledger_view_columns`),
    fx_rates (from :func:`fx_rates`), vendors."""
    columns = [f"{sql} AS {name}" for sql, name in ledger_view_columns(conversions, "duckdb",
                                                                         _ident)]
    row = "file_row_number + 1" if source.format == "parquet" else "CAST(NULL AS BIGINT)"
    con.execute(f"CREATE TEMP VIEW ledger AS SELECT {', '.join(columns)}, source_file, "
                f"{row} AS source_row FROM {_reader_sql(source)}")
    con.register("fx_rates", pa.Table.from_pandas(fx, preserve_index=False))
    con.register("vendors", pa.table({
        "vendor_key": pa.array(vendors["vendor_key"].tolist(), pa.string()),
        "vendor_category": pa.array(vendors["vendor_category"].tolist(), pa.string())}))


def ledger_columns(names: Sequence[str], source: _LedgerSource) -> dict[str, str]:
    """Which of the ledger's columns (``names``) holds each of :data:`LEDGER_COLUMNS`.

    The renames of ``source`` (the mapping's ``ledger: columns:``) come first; other columns
    match a required name ignoring case. Both engines use it, so they read the same columns.
    """
    present = {name.lower(): name for name in names}
    found: dict[str, str] = {}
    for column, target in source.renames:
        if column.lower() not in present:
            raise DataError(f"the mapping's 'ledger: columns' names '{column}', which is not a "
                            "column of the ledger", file=str(source.root), column=column,
                            rule="mapping-column-missing",
                            hint=_mapping().similar_columns(column, names,
                                                            "the ledger files"))
        found[target] = present[column.lower()]
    renamed = {name.lower() for name in found.values()}
    for column in LEDGER_COLUMNS:
        if column not in found and column in present and column not in renamed:
            found[column] = present[column]
    missing = [c for c in LEDGER_COLUMNS if c not in found and c not in OPTIONAL_LEDGER_COLUMNS]
    if missing:
        required = tuple(c for c in LEDGER_COLUMNS if c not in OPTIONAL_LEDGER_COLUMNS)
        raise _mapping().missing_columns_error(missing, list(names), str(source.root),
                                               "ledger", required)
    return found


def _mapping() -> Any:
    """helpers.mapping, imported on first use: only error messages need it, and it brings the
    codebook and YAML modules that a ledger run does not."""
    from helpers import mapping

    return mapping


def _run_spark(source: _LedgerSource, conversions: dict[str, ledger_types.Conversion],
               fx: pd.DataFrame, vendors: pd.DataFrame, sections: list[tuple[str, str]]
               ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run the same SQL views on Spark (see :mod:`helpers.spend_spark`)."""
    from helpers import spend_spark

    return spend_spark.run(source, fx, vendors, sections,
                           ledger_view_columns(conversions, "spark", spend_spark.ident),
                           _bad_line_counts, csv_delimiter(source))


def csv_delimiter(source: _LedgerSource) -> str | None:
    """The delimiter DuckDB's sniffer finds in the first CSV file (None for Parquet), so that
    Spark splits a semicolon ledger as DuckDB does."""
    if source.format != "csv":
        return None
    try:
        found = duckdb.execute(f"SELECT Delimiter FROM sniff_csv({_literal(source.files[0])})"
                               ).fetchone()
    except duckdb.Error as exc:
        raise _engine_error(exc, source) from exc
    return str(found[0]) if found and found[0] else None


_ENGINES = {"duckdb": _run_duckdb, "spark": _run_spark}
SUPPORTED_ENGINES = tuple(_ENGINES)
ENGINE_ENV = "DISCONNECT_LAB_SPEND_ENGINE"


def default_engine() -> str:
    """The engine from ``DISCONNECT_LAB_SPEND_ENGINE`` (a configuration value), else DuckDB."""
    return os.environ.get(ENGINE_ENV, "duckdb").strip().lower() or "duckdb"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _engine_error(exc: duckdb.Error, source: _LedgerSource) -> DataError:
    return DataError(f"cannot read the ledger: {str(exc).strip().splitlines()[0]}",
                     file=str(source.root), rule="unreadable-ledger",
                     hint="check that every file is a valid, complete CSV or Parquet ledger")


# --------------------------------------------------------------------------- reports
_REPORT_COLUMNS = ["rule", "column", "count", "excluded", "message", "files", "examples"]


def _show(value: Any) -> str:
    return "missing" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else quote(str(value))


def _example(rec: Any, source: _LedgerSource) -> str:
    where = source.display(rec.source_file)
    if rec.source_row is not None and not pd.isna(rec.source_row):
        where += f" row {int(rec.source_row)}"
    return (f"{where}: firm_id={_show(rec.raw_firm_id)}, booking_date="
            f"{_show(rec.raw_booking_date)}, currency={_show(rec.raw_currency)}, "
            f"amount={_show(rec.raw_amount)}")


def _features(summary: pd.DataFrame) -> pd.DataFrame:
    """The firm-year rows of usable lines, in feature order."""
    rows = summary[(summary["row_kind"] == "firm_year") & summary["problem"].isna()]
    return rows[FEATURE_COLUMNS].sort_values(["firm_id", "year"]).reset_index(drop=True)


def _bad_line_counts(summary: pd.DataFrame) -> dict[str, int]:
    """Excluded lines per broken rule (from the firm-year rows of bad lines)."""
    rows = summary[(summary["row_kind"] == "firm_year") & summary["problem"].notna()]
    return {str(k): int(v) for k, v in rows.groupby("problem")["n_lines"].sum().items()}


def _unmapped(summary: pd.DataFrame, has_map: bool) -> pd.DataFrame:
    """Vendors missing from the vendor map (without a map: vendors of uncategorised lines).

    Spellings that differ only in case or spaces are one vendor (the map matches them alike),
    shown under the alphabetically first spelling; a missing vendor name is shown as missing.
    """
    rows = summary[(summary["row_kind"] == "vendor") & summary["problem"].isna()
                   & summary["unmapped_vendor"].notna()]
    names = rows["unmapped_vendor"].astype("str")
    grouped = rows.assign(vendor=names.where(names != ""), key=names.str.lower()).groupby(
        "key", dropna=False).agg(vendor=("vendor", "min"), n_lines=("n_lines", "sum"),
                                 amount=("amount", "sum"),
                                 n_uncategorised=("n_uncategorised", "sum"))
    if not has_map:
        grouped = grouped[grouped["n_uncategorised"] > 0]
    grouped = grouped.reset_index().sort_values(["amount", "key"], ascending=[False, True])
    return grouped[["vendor", "n_lines", "amount", "n_uncategorised"]].reset_index(drop=True)


def _bad_line_report(lines: pd.DataFrame | None, counts: dict[str, int],
                     source: _LedgerSource) -> pd.DataFrame:
    """One report row per broken rule: count, the files concerned and the first examples."""
    records = []
    for rule, (column, message, _hint) in LINE_RULES.items():
        if not counts.get(rule) or lines is None:
            continue
        sub = lines[lines["problem"] == rule]
        files = sub.loc[sub["rank_in_file"] == 1, "source_file"].sort_values()
        examples = sub[sub["rank_in_rule"] <= 5].sort_values("rank_in_rule")
        records.append({"rule": rule, "column": column, "count": counts[rule],
                        "excluded": True, "message": message, "files": files.tolist(),
                        "examples": [_example(r, source) for r in examples.itertuples()]})
    return pd.DataFrame(records, columns=_REPORT_COLUMNS)


def _net_negative(features: pd.DataFrame) -> pd.DataFrame:
    """Firm-years with a negative net spend class: flagged, values kept."""
    negative = features[list(_SPEND_CLASSES)] < -0.005
    hits = features[negative.any(axis=1)]
    if hits.empty:
        return pd.DataFrame(columns=_REPORT_COLUMNS)
    examples = []
    for idx, rec in hits.head(5).iterrows():
        classes = ", ".join(f"{c}={rec[c]:.2f}" for c in _SPEND_CLASSES if negative.at[idx, c])
        examples.append(f"firm {rec['firm_id']} {rec['year']}: {classes}")
    columns = [c for c in _SPEND_CLASSES if negative[c].any()]
    return pd.DataFrame([{"rule": NET_NEGATIVE[0], "column": ", ".join(columns),
                          "count": len(hits), "excluded": False, "message": NET_NEGATIVE[1],
                          "files": [], "examples": examples}], columns=_REPORT_COLUMNS)


def _issues(bad: pd.DataFrame) -> list[Issue]:
    """One DataError issue per broken rule, naming the files, the column and examples."""
    issues = []
    for rec in bad.itertuples(index=False):
        files = ", ".join(rec.files[:3]) + (f" and {len(rec.files) - 3} more files"
                                             if len(rec.files) > 3 else "")
        issues.append(Issue(rule=rec.rule, file=files, column=rec.column,
                            message=f"{rec.count} line(s): {rec.message}; e.g. "
                                    + "; ".join(rec.examples),
                            hint=LINE_RULES[rec.rule][2]))
    return issues


def _finish(features: pd.DataFrame, bad: pd.DataFrame, unmapped: pd.DataFrame,
            currency: str, lines: dict[str, Any]) -> pd.DataFrame:
    """Type the result and attach the bad-row report, the unmapped vendors and the line counts
    (``attrs["lines"]``: lines read and excluded, columns converted from another form)."""
    features = features.astype({"firm_id": "string", "year": "int64", "n_vendors_it": "int64",
                                "n_vendors_marketing": "int64", "n_vendors_other": "int64",
                                "n_lines": "int64"})
    flagged = _net_negative(features)
    reports = [r for r in (bad, flagged) if not r.empty]
    bad_rows = (pd.concat(reports, ignore_index=True) if reports
                else pd.DataFrame(columns=_REPORT_COLUMNS))
    amount = f"amount_{currency.lower()}"
    unmapped = unmapped.rename(columns={"amount": amount}).astype({"n_lines": "int64",
                                                                   "n_uncategorised": "int64"})
    features = features.reset_index(drop=True)
    features.attrs = {"bad_rows": bad_rows.astype({"count": "int64"}),
                      "unmapped_vendors": unmapped.reset_index(drop=True),
                      "currency": currency, "lines": lines}
    return features


# =========================================================================== budgets
BUDGET_AMOUNTS = ("revenue", "it_budget", "marketing_budget", "martech_budget")


def budget_shares(budgets: pd.DataFrame,
                  fx: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """Budget ratios per firm and year, plus EUR amounts when an FX table is given.

    ``*_pct_*`` columns are percentages (0-100): marketing_budget_pct_revenue,
    martech_pct_marketing_budget, martech_pct_revenue, it_budget_pct_revenue.
    ``marketing_share_of_tech`` = martech / (martech + it_budget) is a share (0-1). Ratios are
    currency-free; with ``fx`` (date, currency, rate_to_eur) the amounts are also given in EUR
    (``*_eur``) at the year's average monthly rate. A zero denominator gives NaN.
    """
    df = _typed_budgets(budgets)
    out = df[["firm_id", "year", "currency"]].copy()
    out["marketing_budget_pct_revenue"] = _ratio(df["marketing_budget"], df["revenue"]) * 100
    out["martech_pct_marketing_budget"] = _ratio(df["martech_budget"],
                                                 df["marketing_budget"]) * 100
    out["martech_pct_revenue"] = _ratio(df["martech_budget"], df["revenue"]) * 100
    out["it_budget_pct_revenue"] = _ratio(df["it_budget"], df["revenue"]) * 100
    out["marketing_share_of_tech"] = _ratio(df["martech_budget"],
                                            df["martech_budget"] + df["it_budget"])
    if fx is not None:
        rate = _annual_rates(df, fx)
        out["fx_rate_annual"] = rate
        for col in BUDGET_AMOUNTS:
            out[f"{col}_eur"] = df[col] * rate
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num / den.where(den != 0)


def _typed_budgets(budgets: pd.DataFrame) -> pd.DataFrame:
    """Budgets with numeric amounts, integer years and upper-case currency codes."""
    name = "budgets (DataFrame)"
    _require(budgets, ("firm_id", "year", "currency") + BUDGET_AMOUNTS, name, "budgets table")
    df = budgets.reset_index(drop=True).copy()
    check_column_types(df, {"firm_id": "text", "year": "year", "currency": "text",
                            **dict.fromkeys(BUDGET_AMOUNTS, "number")}, name, "budgets table")
    for col in BUDGET_AMOUNTS:
        values = pd.to_numeric(df[col], errors="coerce")
        _bad_rows_error(values.isna() & df[col].notna(), "amount is not a number", name, col,
                        "invalid-amount")
        df[col] = values.astype("float64")
    years = pd.to_numeric(df["year"], errors="coerce")
    _bad_rows_error(years.isna() | (years % 1 != 0), "year is missing or not a whole number",
                    name, "year", "invalid-year")
    df["year"] = years.astype("int64")
    df["currency"] = df["currency"].astype("str").str.strip().str.upper()
    return df


def _annual_rates(budgets: pd.DataFrame, fx: str | Path | pd.DataFrame) -> pd.Series:
    """EUR per unit: the mean of the monthly rates of the budget's currency and year."""
    monthly = _prepare_fx(fx, "EUR")
    monthly = monthly.assign(year=monthly["month_index"] // 12)
    annual = monthly.groupby(["currency", "year"])["rate_to_eur"].mean()
    keys = pd.MultiIndex.from_arrays([budgets["currency"], budgets["year"]])
    rate = pd.Series(annual.reindex(keys).to_numpy(), index=budgets.index)
    rate[budgets["currency"] == "EUR"] = 1.0
    _bad_rows_error(rate.isna(), "no FX rate for the budget's currency and year",
                    "budgets (DataFrame)", "currency", "no-fx-rate",
                    "add monthly rates for that currency and year to the FX table")
    return rate


def share_trend(shares: pd.DataFrame, column: str, by: str | list[str] = "year",
                level: float = 0.95) -> pd.DataFrame:
    """Mean, median and t confidence interval of the mean of ``column`` per ``by`` group.

    Missing values are left out (``n`` counts the rest); a group of one has no interval.
    """
    keys = [by] if isinstance(by, str) else list(by)
    absent = [c for c in [column, *keys] if c not in shares.columns]
    if absent:
        raise ValueError(f"column(s) {', '.join(absent)} not in the table; it has "
                         f"{', '.join(map(str, shares.columns))}")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    from scipy import stats  # imported here: scipy is slow to import and only needed here

    values = pd.to_numeric(shares[column], errors="coerce")
    grouped = values.groupby([shares[k] for k in keys], dropna=True)
    out = pd.DataFrame({"n": grouped.count(), "mean": grouped.mean(), "median": grouped.median(),
                        "std": grouped.std()})
    sem = out["std"] / np.sqrt(out["n"])
    tcrit = stats.t.ppf((1 + level) / 2, (out["n"] - 1).where(out["n"] > 1))
    out["ci_low"] = out["mean"] - tcrit * sem
    out["ci_high"] = out["mean"] + tcrit * sem
    return out.reset_index()
