"""Raw inputs to ``data/processed/*.parquet``: read, map, validate, drop personal data, write atomically.

``build_processed`` is what ``make data`` runs. It never writes to the raw inputs; each output is
written to a temporary file and renamed, and ``manifest.json`` — written last — records the
fingerprints of the inputs and outputs, so an interrupted build leaves either the previous complete
state or the new one, and an unchanged build is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import atomic, paths, privacy
from helpers.codebook import Codebook, load_codebook
from helpers.errors import DataError
from helpers.io import read_raw
from helpers.mapping import apply_mapping, load_mapping, normalise_role
from helpers.validate import ValidationReport, validate_survey

SURVEY_FILE = "survey.parquet"
BUDGETS_FILE = "budgets.parquet"
SPEND_FILE = "spend_features.parquet"
LEDGER_ISSUES_FILE = "ledger_issues.parquet"
VALIDATION_FILE = "survey_validation.parquet"
MANIFEST_FILE = "manifest.json"
BUDGET_COLUMNS = ("firm_id", "year", "currency", "revenue", "it_budget", "marketing_budget",
                  "martech_budget")
MANIFEST_VERSION = 2
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
def load_survey(survey: str | Path, mapping: str | Path | None = None,
                codebook: Codebook | None = None) -> tuple[pd.DataFrame, ValidationReport]:
    """Read a raw survey export, apply the mapping file (if any) and validate it.

    Returns the mapped frame (codebook column names) and the validation report; raises nothing for
    invalid data, so callers decide (``report.raise_for_errors()``).
    """
    cb = codebook or load_codebook()
    raw = read_raw(survey)
    if mapping is not None:
        df = apply_mapping(raw, load_mapping(mapping))
    else:
        df = raw.copy()
        if "role" in df.columns:
            df["role"] = normalise_role(df["role"])
    return df, validate_survey(df, cb, file=str(survey))


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
        else:
            out[f.name] = col.astype("string").str.strip()
    for name, prefix in PSEUDONYMS.items():
        if name in out.columns:
            out[name] = privacy.pseudonymise(out[name], prefix)
    for item in item_cols:
        out[item] = pd.to_numeric(df[item], errors="raise").astype("float64")
    sort = [c for c in ("wave", "firm_id", "role") if c in out.columns]
    return out.sort_values(sort, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- budgets
def load_budgets(path: str | Path) -> pd.DataFrame:
    """Read firm-year budgets (revenue, IT, marketing and martech budgets in local currency)."""
    df = read_raw(path)
    missing = [c for c in BUDGET_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"missing required budget columns: {', '.join(missing)}", file=str(path),
                        column=missing[0], rule="missing-column",
                        hint=f"a budgets file needs the columns {', '.join(BUDGET_COLUMNS)}")
    out = df[[c for c in df.columns if c in BUDGET_COLUMNS or c == "synthetic"]].copy()
    for col in ("revenue", "it_budget", "marketing_budget", "martech_budget"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() & out[col].notna() | (values < 0)
        if bad.any():
            rows = [i + 1 for i in range(len(out)) if bad.iloc[i]]
            raise DataError("amounts must be non-negative numbers", file=str(path), column=col,
                            rows=rows, rule="invalid-amount",
                            hint="use plain numbers in the file's currency (no currency signs)")
        out[col] = values.astype("float64")
    out["year"] = pd.to_numeric(out["year"], errors="raise").astype("int64")
    out["firm_id"] = privacy.pseudonymise(out["firm_id"].astype("string"), PSEUDONYMS["firm_id"])
    return out.sort_values(["firm_id", "year"]).reset_index(drop=True)


# --------------------------------------------------------------------------- build
@dataclass
class BuildResult:
    """What ``build_processed`` did: the manifest, the validation report and whether it was skipped."""

    manifest: dict[str, Any]
    report: ValidationReport | None
    skipped: bool


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
                    vendors: str | Path | None = None) -> BuildResult:
    """Validate the raw inputs and write the processed Parquet files plus ``manifest.json``.

    With ``ledger`` (and its ``fx`` table, optionally ``vendors``), firm-year spend features are
    computed in DuckDB (:func:`helpers.spend.firm_year_features`) and written with the ledger's
    bad-row and unmapped-vendor report. Raises :class:`DataError` (nothing written) when the
    survey breaks a blocking rule. Skips the work when inputs, codebook and outputs are unchanged
    since the last build (unless ``force``).
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
    if not force and _is_current(read_manifest(out), inputs, out):
        return BuildResult(read_manifest(out), None, skipped=True)

    df, report = load_survey(sources["survey"], sources["mapping"], cb)
    report.raise_for_errors()
    frames = {SURVEY_FILE: tidy_survey(df, cb), VALIDATION_FILE: _issues_frame(report)}
    if sources["budgets"] is not None:
        frames[BUDGETS_FILE] = load_budgets(sources["budgets"])
    if sources["ledger"] is not None:
        frames[SPEND_FILE], frames[LEDGER_ISSUES_FILE] = _spend_features(
            sources["ledger"], sources["fx"], sources["vendors"])
    outputs = {}
    # stage every file first: if any write fails, none of the previous outputs is replaced
    with contextlib.ExitStack() as stack:
        for name, frame in frames.items():
            tmp = stack.enter_context(atomic.atomic_path(out / name))
            atomic.write_parquet(frame, tmp)
            outputs[name] = {"rows": len(frame), "sha256": fingerprint(tmp)}
    for stale in {SURVEY_FILE, BUDGETS_FILE, VALIDATION_FILE, SPEND_FILE,
                  LEDGER_ISSUES_FILE} - set(frames):
        (out / stale).unlink(missing_ok=True)
    manifest = {
        "version": MANIFEST_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": is_synthetic(sources["survey"]),
        "inputs": inputs,
        "outputs": outputs,
        "dropped_personal_fields": [c for c in cb.pii_fields if c in df.columns],
        "validation": {"errors": len(report.errors), "warnings": len(report.warnings)},
        "python": platform.python_version(),
    }
    atomic.write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return BuildResult(manifest, report, skipped=False)


def _spend_features(ledger: Path, fx: Path, vendors: Path | None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Firm-year features from the ledger (streamed in DuckDB) and its data-quality report."""
    from helpers.spend import firm_year_features

    features = firm_year_features(ledger, fx=fx, vendors=vendors)
    features["firm_id"] = privacy.pseudonymise(features["firm_id"], PSEUDONYMS["firm_id"])
    bad = features.attrs.get("bad_rows", pd.DataFrame())
    unmapped = features.attrs.get("unmapped_vendors", pd.DataFrame())
    if not bad.empty:  # examples quote raw ids and values: they go to the console, not reports
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
    return ProcessedData(
        survey=pd.read_parquet(d / SURVEY_FILE),
        budgets=pd.read_parquet(budgets) if budgets.exists() else None,
        spend=pd.read_parquet(spend) if spend.exists() else None,
        validation=pd.read_parquet(d / VALIDATION_FILE),
        manifest=manifest,
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
    """Rows matching every ``column: value`` (or list of values) in ``segment``; {} keeps all."""
    if not segment:
        return df
    mask = pd.Series(True, index=df.index)
    for col, value in segment.items():
        if col not in df.columns:
            raise KeyError(f"segment column {col!r} is not in the data; use one of "
                           f"{', '.join(map(str, df.columns[:12]))}")
        values = value if isinstance(value, (list, tuple, set)) else [value]
        mask &= df[col].astype("string").isin([str(v) for v in values])
    return df.loc[mask]
