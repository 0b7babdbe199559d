"""Raw inputs to ``data/processed/*.parquet``: read, map, validate, drop personal data, write atomically.

``build_processed`` is what ``make data`` runs. It never writes to the raw inputs; each output is
written to a temporary file and renamed, and ``manifest.json`` — written last — records the
fingerprints of the inputs and outputs, so an interrupted build leaves either the previous complete
state or the new one, and an unchanged build is skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import platform
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import atomic, paths, privacy
from helpers.codebook import Codebook, load_codebook
from helpers.errors import DataError, Issue
from helpers.io import check_column_types, read_raw, row_locations
from helpers.mapping import (
    YEAR_RANGE,
    Mapping,
    TableMapping,
    apply_mapping,
    load_mapping,
    missing_columns_error,
    similar_columns,
)
from helpers.selection import apply_selection, exclusions_frame, metadata_column, select_rows
from helpers.selection import id_text as id_value
from helpers.validate import (FLAG_COLUMNS, ValidationReport, harmonise_firm_attributes,
                              respondent_flags, validate_survey)

SURVEY_FILE = "survey.parquet"
BUDGETS_FILE = "budgets.parquet"
SPEND_FILE = "spend_features.parquet"
LEDGER_ISSUES_FILE = "ledger_issues.parquet"
VALIDATION_FILE = "survey_validation.parquet"
EXCLUSIONS_FILE = "exclusions.parquet"
DONT_KNOW_FILE = "dont_know.parquet"
MANIFEST_FILE = "manifest.json"
BUDGET_COLUMNS = ("firm_id", "year", "currency", "revenue", "it_budget", "marketing_budget",
                  "martech_budget")
BUDGET_AMOUNTS = ("revenue", "it_budget", "marketing_budget", "martech_budget")
MANIFEST_VERSION = 3
RECORDED_DATE_COLUMNS = ("RecordedDate", "EndDate")  # Qualtrics; the first one found is used
PSEUDONYMS = {"respondent_id": "R", "firm_id": "F"}


def fingerprint(path: str | Path | None) -> str | None:
    """SHA-256 of a file's contents, or of every file under a folder (relative names and contents)."""
    if path is None:
        return None
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def is_synthetic(path: str | Path) -> bool:
    """True when ``path`` comes from ``helpers.simulate`` (its folder holds the DGP's truth.yaml)."""
    return (Path(path).resolve().parent / "truth.yaml").exists()


def resolve(path: str | Path | None) -> Path | None:
    """Resolve a path given relative to the project root (notebooks run with other cwds)."""
    if path is None or str(path) == "":
        return None
    p = Path(path)
    return p if p.is_absolute() else paths.ROOT / p


# --------------------------------------------------------------------------- survey
def load_survey(survey: str | Path, mapping: str | Path | Mapping | None = None,
                codebook: Codebook | None = None) -> tuple[pd.DataFrame, ValidationReport]:
    """Read a raw survey export, apply the mapping file (if any), select rows and validate.

    Steps: :func:`helpers.io.read_raw`; :func:`helpers.mapping.apply_mapping` (renames, recodes,
    role normalisation; an empty mapping without a file); :func:`helpers.selection.select_rows`
    (Qualtrics preview/spam/test and unfinished responses, the mapping's ``exclude`` rules), so
    that excluded rows never reach validation; :func:`add_wave` (a survey without a wave column
    is one wave); :func:`add_year`; validation.

    Returns the kept rows (codebook column names; the index is the export's 0-based data row)
    and the validation report; raises nothing for invalid data, so callers decide
    (``report.raise_for_errors()``). ``df.attrs`` holds ``row_selection`` (unfinished setting,
    rows read and kept), ``exclusions`` (counts by reason), ``dont_know`` (item -> row positions
    of "don't know" answers) and ``year_source``.
    """
    cb = codebook or load_codebook()
    raw = read_raw(survey)
    if mapping is None:
        plan = Mapping()
    elif isinstance(mapping, Mapping):
        plan = mapping
    else:
        plan = load_mapping(mapping)
    mapped = apply_mapping(raw, plan, cb)
    selection = select_rows(raw, mapped, plan)
    df = apply_selection(mapped, selection)
    df = add_wave(df, plan)
    df = add_year(df, raw.iloc[np.flatnonzero(selection.keep)], plan)
    return df, validate_survey(df, cb, file=str(survey))


def describe_row_selection(df: pd.DataFrame) -> str:
    """Rows read, kept and excluded (by reason) of a :func:`load_survey` frame, in words."""
    from helpers.selection import describe

    summary = df.attrs.get("row_selection") or {"rows_read": len(df), "rows_kept": len(df)}
    return describe(summary, df.attrs.get("exclusions") or [])


def add_wave(df: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """A survey without a wave column is one wave: ``wave`` is filled with the only wave of the
    mapping's ``wave_years`` (``{1: 2024}``), else 1; ``df.attrs["wave_source"]`` says so.
    With several waves in ``wave_years`` the wave column must be mapped (a DataError)."""
    if "wave" in df.columns:
        df.attrs["wave_source"] = "the survey's wave column"
        return df
    if len(mapping.wave_years) > 1:
        raise DataError(f"'wave_years' lists waves {', '.join(map(str, mapping.wave_years))}, "
                        "but the survey has no wave column", file=mapping.path, column="wave",
                        rule="wave-column-missing",
                        hint="map the export's wave column to 'wave' in 'columns' (a survey "
                             "without one is a single wave)")
    wave = next(iter(mapping.wave_years), 1)
    out = df.copy()
    out["wave"] = np.full(len(out), wave, dtype=np.int64)
    out.attrs["wave_source"] = f"no wave column: one wave ({wave})"
    return out


def add_year(df: pd.DataFrame, raw: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """Give every response the year its wave refers to (``year``), when it can be known.

    In this order: the mapping's ``wave_years`` (a wave without an entry is an error, and so is a
    survey ``year`` that contradicts it); else the survey's own ``year`` column, kept as it is;
    else the calendar year of a recorded-date column of the raw export (Qualtrics
    ``RecordedDate``, else ``EndDate``): the most common year among the wave's kept responses
    (a tie goes to the earlier year) for every response of the wave. Otherwise there is no
    ``year``. ``raw`` holds the same rows as ``df``. ``df.attrs["year_source"]`` says which.
    """
    out = df.copy()
    waves = (pd.to_numeric(out["wave"], errors="coerce").to_numpy(dtype=float)
             if "wave" in out.columns else None)
    if mapping.wave_years:
        out["year"] = _years_from_mapping(out, waves, mapping)
        out.attrs["year_source"] = "wave_years in the mapping file"
    elif "year" in out.columns:
        out.attrs["year_source"] = "the survey's year column"
    else:
        column = next((c for name in RECORDED_DATE_COLUMNS
                       if (c := metadata_column(raw, name)) is not None), None)
        years = None if column is None or waves is None else _years_from_dates(raw[column],
                                                                                waves)
        if years is not None:
            out["year"] = years
            out.attrs["year_source"] = f"{column}: the most common year of each wave"
        else:
            out.attrs["year_source"] = None
    return out


def _years_from_mapping(df: pd.DataFrame, waves: np.ndarray | None,
                        mapping: Mapping) -> pd.Series:
    """``wave_years`` applied to the wave column (checked against a ``year`` column)."""
    if waves is None:
        raise DataError("'wave_years' needs a wave column, but the survey has none",
                        file=mapping.path, column="wave", rule="wave-years-without-wave",
                        hint="map the export's wave column to 'wave' in 'columns'")
    whole = ~np.isnan(waves) & (np.mod(np.nan_to_num(waves), 1) == 0)
    unknown = sorted({int(w) for w in waves[whole]} - set(mapping.wave_years))
    if unknown:
        rows = pd.Series(whole & np.isin(np.nan_to_num(waves), unknown), index=df.index)
        raise DataError(f"'wave_years' gives no year for wave(s) {', '.join(map(str, unknown))}",
                        file=mapping.path, column="wave", rule="wave-years-missing",
                        hint="add every wave of the survey to wave_years, e.g. "
                             f"wave_years: {{{', '.join(f'{w}: YEAR' for w in unknown)}}}",
                        **row_locations(df, rows))
    years = pd.Series([mapping.wave_years.get(int(w)) if ok else None
                       for w, ok in zip(waves, whole, strict=True)], index=df.index,
                      dtype="Int64")
    if "year" in df.columns:
        given = pd.to_numeric(df["year"], errors="coerce")
        conflict = (given.notna() & years.notna() & (given != years.astype("float64"))).to_numpy()
        if conflict.any():
            raise DataError("the survey's year column contradicts 'wave_years' in the mapping "
                            "file", file=mapping.path, column="year",
                            **row_locations(df, pd.Series(conflict, index=df.index)),
                            rule="year-conflict",
                            hint="remove wave_years from the mapping (the survey's years are "
                                 "used) or drop the survey's year column")
    return years


YEAR_IN_TEXT = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def _calendar_year(value: Any) -> float:
    """The year of a date cell (a datetime, or text with a four-digit year), else NaN."""
    if isinstance(value, pd.Timestamp | dt.date | np.datetime64):
        stamp = pd.Timestamp(value)
        return np.nan if pd.isna(stamp) else float(stamp.year)
    if isinstance(value, str):
        for found in YEAR_IN_TEXT.findall(value):
            if YEAR_RANGE[0] <= int(found) <= YEAR_RANGE[1]:
                return float(found)
    return np.nan


def _years_from_dates(dates: pd.Series, waves: np.ndarray) -> Any:
    """Per wave, the most common calendar year of the dates (earlier year on a tie)."""
    years = np.array([_calendar_year(v) for v in dates.to_numpy(dtype=object)], dtype=float)
    if np.isnan(years).all():
        return None
    table = pd.DataFrame({"wave": waves, "year": years}).dropna()
    counts = table.groupby(["wave", "year"]).size().reset_index(name="n")
    best = (counts.sort_values(["wave", "n", "year"], ascending=[True, False, True])
            .drop_duplicates("wave").set_index("wave")["year"])
    by_wave = {w: int(y) for w, y in best.items()}
    return pd.array([by_wave.get(w) for w in waves], dtype="Int64")


def pseudonymous_ids(values: pd.Series, name: str) -> pd.Series:
    """Respondent or firm ids (``name``) as keyed pseudonyms, after one normalisation for every
    file (:func:`helpers.selection.id_text`: "1001", 1001 and 1001.0 are one id), so that the
    survey, the don't-know table, the budgets and the ledger give one firm one pseudonym."""
    text = pd.Series([id_value(v) for v in values.to_numpy(dtype=object)], index=values.index,
                     dtype="string")
    return privacy.pseudonymise(text, PSEUDONYMS[name])


def tidy_survey(df: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """Keep codebook fields and items (never personal fields), with analysis-ready dtypes.

    Respondent and firm ids are replaced by keyed pseudonyms (:func:`helpers.privacy.pseudonymise`)
    so that no id from the raw export reaches processed data, reports or results files.

    Categorical fields become pandas categoricals in codebook order (size bands ordered), ``wave`` a
    nullable integer, items floats (missing answers as NaN), rows sorted by wave, firm and role.
    """
    cb = codebook or load_codebook()
    keep_fields = [f for f in cb.fields.values() if not f.pii and f.name in df.columns]
    item_cols = [i for i in cb.items if i in df.columns]
    out = pd.DataFrame(index=df.index)
    for f in keep_fields:
        col = df[f.name]
        if f.type == "category":
            cats = list(f.values or sorted(col.dropna().astype(str).unique()))
            out[f.name] = pd.Categorical(col.astype("string").str.strip(), categories=cats,
                                         ordered=f.ordered)
        elif f.type == "integer":
            out[f.name] = pd.to_numeric(col, errors="raise").astype("Int64")
        elif f.type == "number":
            out[f.name] = pd.to_numeric(col, errors="raise").astype("float64")
        elif f.name in PSEUDONYMS:
            out[f.name] = pseudonymous_ids(col, f.name)
        else:
            out[f.name] = col.astype("string").str.strip()
    for item in item_cols:
        out[item] = pd.to_numeric(df[item], errors="raise").astype("float64")
    # the speeder / straight-lining warnings per respondent, so reports can exclude them
    out[list(FLAG_COLUMNS)] = respondent_flags(df, cb)
    sort = [c for c in ("wave", "firm_id", "role") if c in out.columns]
    return out.sort_values(sort, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- budgets
def load_budgets(path: str | Path, mapping: str | Path | Mapping | None = None) -> pd.DataFrame:
    """Read firm-year budgets (revenue, IT, marketing and martech budgets in local currency).

    The mapping's ``budgets:`` section renames (``columns``) and drops (``drop``) columns first;
    a column whose name equals a required one ignoring case, spaces and hyphens ("IT Budget")
    needs no entry. Amounts may use decimal commas and thousands separators as German Excel
    writes them ("1.234.567,50", "1 234 567", "1'234'567.50"). A missing required column is a
    DataError listing the columns found and similar names.
    """
    plan = mapping if isinstance(mapping, Mapping) or mapping is None else load_mapping(mapping)
    table = plan.budgets if plan is not None else TableMapping()
    file = str(path)
    df = _read_amounts_table(path)
    df = rename_table(df, table, file, None if plan is None else plan.path,
                      (*BUDGET_COLUMNS, "synthetic"), "budgets", BUDGET_COLUMNS)
    out = df[[c for c in df.columns if c in BUDGET_COLUMNS or c == "synthetic"]].copy()
    check_column_types(out, {"firm_id": "text", "year": "year", "currency": "text",
                             **dict.fromkeys(BUDGET_AMOUNTS, "number")}, file, "budgets file")
    for col in BUDGET_AMOUNTS:
        values = parse_amounts(out[col], comma_first=df.attrs.get("sep") != ",")
        bad = values.isna() & out[col].notna() | (values < 0)
        if bad.any():
            shown = ", ".join(repr(str(v)) for v in out[col][bad].head(3))
            raise DataError(f"amounts must be non-negative numbers; found {shown}", file=file,
                            column=col, rule="invalid-amount", **row_locations(out, bad),
                            hint="use plain numbers in the file's currency (no currency signs); "
                                 "decimal commas and thousands separators are fine")
        out[col] = values.astype("float64")
    years = pd.to_numeric(out["year"], errors="coerce")
    bad = years.isna() | (years % 1 != 0) | ~years.between(*YEAR_RANGE)
    if bad.any():
        raise DataError(f"years must be whole numbers from {YEAR_RANGE[0]} to {YEAR_RANGE[1]}",
                        file=file, column="year", rule="invalid-year", **row_locations(out, bad),
                        hint="one row per firm and (fiscal) year, e.g. 2024")
    out["year"] = years.astype("int64")
    out["firm_id"] = pseudonymous_ids(out["firm_id"], "firm_id")
    return out.sort_values(["firm_id", "year"]).reset_index(drop=True)


def _read_amounts_table(path: str | Path) -> pd.DataFrame:
    """A budgets table with European number formats read as numbers.

    Semicolon/tab CSVs and Excel sheets come from European Excel: text cells are read with the
    decimal comma, so that "250.000" is 250000, not 250 (dot-decimal text that does not fit is
    left as text for :func:`parse_amounts`). Comma-separated files keep the reader's defaults.
    """
    df = read_raw(path)
    if df.attrs.get("format") == "excel" or (df.attrs.get("format") == "csv"
                                             and df.attrs.get("sep") != ","):
        df = read_raw(path, decimal=",")
    return df


_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009'\u2019")
_COMMA_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?", re.ASCII)
_DOT_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", re.ASCII)


def parse_amounts(values: pd.Series, comma_first: bool = True) -> pd.Series:
    """Amounts as floats: numbers as they are; text in one convention for the whole column.

    Text is read with the decimal comma ("1.234,5") or the decimal point ("1,234.5"), whichever
    parses more of the column's text cells (``comma_first`` decides a tie); spaces, no-break
    spaces and apostrophes ("1'234") are thousands separators. Cells that do not parse in the
    chosen convention are NaN (the caller reports them).
    """
    cells = values.astype(object)
    texts = {i: v.translate(_GROUPING).strip() for i, v in cells.items() if isinstance(v, str)}
    texts = {i: t for i, t in texts.items() if t}
    order = [(_COMMA_DECIMAL, ","), (_DOT_DECIMAL, ".")]
    if not comma_first:
        order.reverse()
    pattern, decimal = max(order, key=lambda c: sum(bool(c[0].fullmatch(t))
                                                    for t in texts.values()))
    group = "." if decimal == "," else ","
    numbers = pd.to_numeric(cells.where(~cells.map(lambda v: isinstance(v, str))),
                            errors="coerce").astype("float64")
    for i, text in texts.items():
        if pattern.fullmatch(text):
            numbers.loc[i] = float(text.replace(group, "").replace(decimal, "."))
    return numbers


def rename_table(df: pd.DataFrame, table: TableMapping, file: str, mapping_file: str | None,
                 allowed: tuple[str, ...], what: str, required: tuple[str, ...]
                 ) -> pd.DataFrame:
    """Apply a mapping's ``budgets:``-style renaming to a table and check its columns.

    Source columns named in ``columns`` must exist and targets must be among ``allowed``; then
    a required column still missing is taken from a column equal to it ignoring case, spaces
    and hyphens; a column still missing is a DataError listing the columns found.
    """
    issues = [Issue(rule="mapping-column-missing", file=mapping_file, column=source,
                    message=f"'{what}: columns' names '{source}', which is not in {file}",
                    hint=similar_columns(source, df.columns, f"the {what} file"))
              for source in table.columns if source not in df.columns]
    issues += [Issue(rule="mapping-structure", file=mapping_file, column=target,
                     message=f"'{what}: columns' maps '{source}' to '{target}', which is not a "
                             f"{what} column", hint=f"targets are {', '.join(allowed)}")
               for source, target in table.columns.items() if target not in allowed]
    if issues:
        raise DataError(issues=issues)
    out = df.drop(columns=[c for c in table.drop if c in df.columns]).rename(
        columns=table.columns)
    folded = {_fold_name(c): c for c in out.columns if c not in table.columns.values()}
    auto = {folded[c]: c for c in required
            if c not in out.columns and c in folded and folded[c] not in required}
    out = out.rename(columns=auto)
    missing = [c for c in required if c not in out.columns]
    if missing:
        raise missing_columns_error(missing, list(df.columns), file, what, required)
    return out


def _fold_name(name: Any) -> str:
    """A column name compared ignoring case, surrounding spaces, inner spaces and hyphens."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().casefold())


# --------------------------------------------------------------------------- build
@dataclass
class BuildResult:
    """What ``build_processed`` did: the manifest, the validation report and whether it was skipped."""

    manifest: dict[str, Any]
    report: ValidationReport | None
    skipped: bool
    selection: str | None = None  # rows read, kept and excluded by reason, in words


def _inputs(sources: dict[str, Path | None]) -> dict:
    """Path and content fingerprint of every input (None where not given)."""
    return {name: None if p is None else {"path": str(p), "sha256": fingerprint(p)}
            for name, p in sources.items()}


def read_manifest(out_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The manifest of the processed data, or None when nothing has been built yet."""
    path = Path(out_dir or paths.PROCESSED) / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _is_current(manifest: dict | None, inputs: dict, out_dir: Path) -> bool:
    if not manifest or manifest.get("version") != MANIFEST_VERSION:
        return False
    if manifest.get("inputs") != inputs:
        return False
    return all((out_dir / name).exists() and fingerprint(out_dir / name) == meta["sha256"]
               for name, meta in manifest.get("outputs", {}).items())


def build_processed(survey: str | Path, mapping: str | Path | None = None,
                    budgets: str | Path | None = None, out_dir: str | Path | None = None,
                    codebook: Codebook | None = None, force: bool = False,
                    ledger: str | Path | None = None, fx: str | Path | None = None,
                    vendors: str | Path | None = None, strict: bool = False) -> BuildResult:
    """Validate the raw inputs and write the processed Parquet files plus ``manifest.json``.

    With ``ledger`` (and its ``fx`` table, optionally ``vendors``), firm-year spend features are
    computed in DuckDB (:func:`helpers.spend.firm_year_features`) and written with the ledger's
    bad-row and unmapped-vendor report. Raises :class:`DataError` (nothing written) when the
    survey breaks a blocking rule. Skips the work when inputs, codebook and outputs are unchanged
    since the last build (unless ``force``). ``strict``: any bad ledger line is an error (see
    :func:`helpers.spend.firm_year_features`); a strict build never reuses an earlier one.
    """
    cb = codebook or load_codebook()
    sources = {"survey": resolve(survey), "mapping": resolve(mapping),
               "budgets": resolve(budgets), "ledger": resolve(ledger), "fx": resolve(fx),
               "vendors": resolve(vendors), "codebook": cb.path}
    out = Path(out_dir) if out_dir else paths.PROCESSED
    for p in sources.values():
        if p is not None and not p.exists():
            raise DataError("input file not found", file=str(p), rule="file-not-found")
    if sources["ledger"] is not None and sources["fx"] is None:
        raise DataError("a ledger needs an FX table to convert amounts", file=str(ledger),
                        rule="fx-missing", hint="pass --fx PATH (date, currency, rate_to_eur)")
    inputs = _inputs(sources)
    inputs["pseudonym_key"] = privacy.key_fingerprint()  # a new key means new pseudonyms
    if not force and not strict and _is_current(read_manifest(out), inputs, out):
        return BuildResult(read_manifest(out), None, skipped=True)

    plan = load_mapping(sources["mapping"]) if sources["mapping"] is not None else Mapping()
    df, report = load_survey(sources["survey"], plan, cb)
    report.raise_for_errors()
    # after validation, which must see the answers as given: one value per firm-wave
    df = harmonise_firm_attributes(df, cb)
    frames = {SURVEY_FILE: tidy_survey(df, cb), VALIDATION_FILE: _issues_frame(report),
              EXCLUSIONS_FILE: exclusions_frame(df.attrs.get("exclusions") or []),
              DONT_KNOW_FILE: dont_know_frame(df)}
    if sources["budgets"] is not None:
        frames[BUDGETS_FILE] = load_budgets(sources["budgets"], plan)
    if sources["ledger"] is not None:
        frames[SPEND_FILE], frames[LEDGER_ISSUES_FILE] = _spend_features(
            sources["ledger"], sources["fx"], sources["vendors"], plan.ledger, strict)
    check_year_coverage(frames, sources, df.attrs.get("year_source"))
    outputs = {}
    # stage every file first: if any write fails, none of the previous outputs is replaced
    with contextlib.ExitStack() as stack:
        for name, frame in frames.items():
            tmp = stack.enter_context(atomic.atomic_path(out / name))
            atomic.write_parquet(frame, tmp)
            outputs[name] = {"rows": len(frame), "sha256": fingerprint(tmp)}
    for stale in {SURVEY_FILE, BUDGETS_FILE, VALIDATION_FILE, SPEND_FILE, LEDGER_ISSUES_FILE,
                  EXCLUSIONS_FILE, DONT_KNOW_FILE} - set(frames):
        (out / stale).unlink(missing_ok=True)
    manifest = {
        "version": MANIFEST_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": is_synthetic(sources["survey"]),
        "inputs": inputs,
        "outputs": outputs,
        "dropped_personal_fields": [c for c in cb.pii_fields if c in df.columns],
        "validation": {"errors": len(report.errors), "warnings": len(report.warnings)},
        "row_selection": df.attrs.get("row_selection"),
        "harmonised_firm_attributes": df.attrs.get("harmonised_firm_attributes") or {},
        "years": {**_years_summary(frames[SURVEY_FILE], df.attrs.get("year_source")),
                  "waves_from": df.attrs.get("wave_source")},
        "python": platform.python_version(),
    }
    atomic.write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return BuildResult(manifest, report, skipped=False, selection=describe_row_selection(df))


def dont_know_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``dont_know.parquet``: one row per item answered "don't know" (respondent pseudonym as in
    ``survey.parquet``, item id), from ``df.attrs["dont_know"]`` of a :func:`load_survey` frame."""
    marked = df.attrs.get("dont_know") or {}
    if "respondent_id" in df.columns:
        ids = pseudonymous_ids(df["respondent_id"], "respondent_id")  # as tidy_survey does
    else:
        ids = pd.Series(pd.NA, index=df.index, dtype="string")
    parts = [pd.DataFrame({"respondent_id": ids.iloc[list(positions)].to_numpy(), "item": item})
             for item, positions in marked.items() if positions]
    frame = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame({"respondent_id": [], "item": []}))
    frame = frame.astype({"respondent_id": "string", "item": "string"})
    return frame.reset_index(drop=True)


def _years_summary(survey: pd.DataFrame, source: str | None) -> dict[str, Any]:
    """``manifest.json["years"]``: where the years came from and the years of each wave."""
    if "year" not in survey.columns or "wave" not in survey.columns:
        return {"source": None, "by_wave": {}}
    known = survey.dropna(subset=["wave", "year"])
    by_wave = {str(int(w)): sorted(int(y) for y in group.unique())
               for w, group in known.groupby("wave")["year"]}
    return {"source": source if by_wave else None, "by_wave": by_wave}


def _span(years: list[int]) -> str:
    """2024–2025 for a run of years, else 2022, 2024."""
    if not years:
        return "no year"
    if years == list(range(years[0], years[-1] + 1)) and len(years) > 1:
        return f"{years[0]}\u2013{years[-1]}"
    return ", ".join(map(str, years))


def check_year_coverage(frames: dict[str, pd.DataFrame], sources: dict[str, Path | None],
                        year_source: str | None) -> None:
    """Every survey wave's year must occur in the budgets and in the spend features built.

    A wave whose year is absent from them is a DataError ("wave 1 refers to 2023 but budgets
    cover 2024–2025"): the spend report would silently drop it. Waves without a known year are
    not checked (the spend report says that the link needs years).
    """
    survey = frames[SURVEY_FILE]
    if "year" not in survey.columns or "wave" not in survey.columns:
        return
    waves = _years_summary(survey, year_source)["by_wave"]
    issues = []
    for name, what in ((BUDGETS_FILE, "budgets"), (SPEND_FILE, "ledger")):
        if name not in frames:
            continue
        covered = sorted({int(y) for y in frames[name]["year"].dropna()})
        input_file = str(sources["budgets" if what == "budgets" else "ledger"])
        for wave, years in waves.items():
            for year in years:
                if year not in covered:
                    verb = "cover" if what == "budgets" else "covers"
                    issues.append(Issue(
                        rule="year-mismatch", file=input_file, column="year",
                        message=f"wave {wave} refers to {year} but {what} {verb} "
                                f"{_span(covered)} (survey {sources['survey']}, years from "
                                f"{year_source or 'the survey'})",
                        hint=f"if wave {wave}'s answers refer to another year, set it in the "
                             f"mapping file: wave_years: {{{wave}: YEAR}}; otherwise add "
                             f"{year} to the {what} file"))
    if issues:
        raise DataError(issues=issues)


def _spend_features(ledger: Path, fx: Path, vendors: Path | None,
                    table: TableMapping | None = None, strict: bool = False
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Firm-year features from the ledger (streamed in DuckDB) and its data-quality report;
    ``table`` is the mapping's ``ledger:`` section (column renames, date format, decimal mark)."""
    from helpers.spend import firm_year_features

    table = table or TableMapping()
    features = firm_year_features(ledger, fx=fx, vendors=vendors, columns=table.columns,
                                  date_format=table.date_format, decimal=table.decimal,
                                  strict=strict)
    features["firm_id"] = pseudonymous_ids(features["firm_id"], "firm_id")
    bad = features.attrs.get("bad_rows", pd.DataFrame())
    unmapped = features.attrs.get("unmapped_vendors", pd.DataFrame())
    converted = (features.attrs.get("lines") or {}).get("converted")
    if not bad.empty or converted:  # examples quote raw values: console only, never reports
        from helpers.spend import describe_bad_rows

        print(describe_bad_rows(features))
    bad = bad.drop(columns=[c for c in ("examples", "files") if c in bad.columns])
    issues = pd.concat([
        bad.assign(kind="bad_rows").astype({c: str for c in bad.columns}),
        unmapped.assign(kind="unmapped_vendor").astype({c: str for c in unmapped.columns}),
    ], ignore_index=True)
    features.attrs = {}
    return features, issues


def _issues_frame(report: ValidationReport) -> pd.DataFrame:
    """Validation findings as a Parquet-friendly frame (rows rendered as text)."""
    frame = report.to_frame()
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return frame


# --------------------------------------------------------------------------- notebooks
@dataclass
class ProcessedData:
    """Everything a report reads from ``data/processed``."""

    survey: pd.DataFrame
    budgets: pd.DataFrame | None
    spend: pd.DataFrame | None
    validation: pd.DataFrame
    manifest: dict[str, Any]
    exclusions: pd.DataFrame | None = None  # absent in data built before row selection
    dont_know: pd.DataFrame | None = None

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic"))

    def require(self, *names: str) -> None:
        """Fail clearly when a report needs processed data that was not built (e.g. ``spend``)."""
        how = {"budgets": "BUDGETS=path", "spend": "LEDGER=path FX=path [VENDORS=path]"}
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise DataError(
                f"this report needs {', '.join(missing)} data, which was not built",
                file=str(paths.PROCESSED), rule="not-built",
                hint="run `make data " + " ".join(how.get(n, n) for n in missing) + "`")

    def summary(self, survey: pd.DataFrame | None = None) -> dict[str, Any]:
        """Provenance for a results file: data fingerprint, synthetic flag and n of the segment."""
        df = self.survey if survey is None else survey
        return {"fingerprint": self.fingerprint, "synthetic": self.synthetic, "n": len(df),
                "firms": int(df["firm_id"].nunique()) if "firm_id" in df else None}

    @property
    def fingerprint(self) -> str:
        """One short hash over the processed files, for report provenance."""
        h = hashlib.sha256()
        for name in sorted(self.manifest.get("outputs", {})):
            h.update(self.manifest["outputs"][name]["sha256"].encode())
        return h.hexdigest()[:16]


def load_processed(data_dir: str | Path | None = None) -> ProcessedData:
    """Load the processed data written by ``make data`` (paths relative to the project root)."""
    d = resolve(data_dir) or paths.PROCESSED
    manifest = read_manifest(d)
    if manifest is None:
        raise DataError("no processed data found; run `make data` first", file=str(d),
                        rule="not-built")
    budgets, spend = d / BUDGETS_FILE, d / SPEND_FILE
    exclusions, dont_know = d / EXCLUSIONS_FILE, d / DONT_KNOW_FILE
    return ProcessedData(
        survey=pd.read_parquet(d / SURVEY_FILE),
        budgets=pd.read_parquet(budgets) if budgets.exists() else None,
        spend=pd.read_parquet(spend) if spend.exists() else None,
        validation=pd.read_parquet(d / VALIDATION_FILE),
        manifest=manifest,
        exclusions=pd.read_parquet(exclusions) if exclusions.exists() else None,
        dont_know=pd.read_parquet(dont_know) if dont_know.exists() else None,
    )


def load_ledger_issues(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The ledger's excluded-row and unmapped-vendor report written by ``make data`` (may be
    empty), with only the columns that hold information."""
    path = (resolve(data_dir) or paths.PROCESSED) / LEDGER_ISSUES_FILE
    if not path.exists():
        return pd.DataFrame()
    issues = pd.read_parquet(path)
    return issues.dropna(axis=1, how="all")


def select_segment(df: pd.DataFrame, segment: dict[str, Any] | None) -> pd.DataFrame:
    """Rows matching every ``column: value`` (or list of values, as a pooled "Other" part of
    the grid) in ``segment``, compared as text; ``None`` matches a missing value; {} keeps all."""
    if not segment:
        return df
    mask = pd.Series(True, index=df.index)
    for col, value in segment.items():
        if col not in df.columns:
            raise KeyError(f"segment column {col!r} is not in the data; use one of "
                           f"{', '.join(map(str, df.columns[:12]))}")
        mask &= privacy.values_mask(df[col], value).to_numpy()  # None: a missing value
    return df.loc[mask]
