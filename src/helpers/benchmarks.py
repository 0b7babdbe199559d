"""Sample shares beside published figures (Accenture, IBM, Gartner, CMO Council, Forrester, ...).

The published figures live in ``data/reference/published_figures.csv`` (see its README); the codebook
links items to them (``benchmark: {CMO: <figure_id>, CIO: ..., all: ...}``). A published figure comes
from a different population and year, so it is compared with the sample as a *fixed* reference value,
and every comparison row carries a note saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import labels, paths
from helpers.codebook import Codebook, Item, load_codebook
from helpers.errors import DataError, Issue
from helpers.i18n import N_, _
from helpers.indicators import ROLES, count_top_box, wilson_interval
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

REFERENCE_FILE = "published_figures.csv"
REFERENCE_COLUMNS = ["figure_id", "study", "publisher", "year", "respondents", "group",
                     "statement", "value", "unit", "n", "source", "confidence"]
GROUPS = {"CMO", "CIO", "all"}
CONFIDENCE = {"high", "medium", "low"}
SHARE_UNIT = "percent"
HINT = "fix the file; data/reference/README.md describes its columns"

BENCHMARK_COLUMNS = [
    "item", "group", "figure_id", "n", "n_agree", "share", "ci_low", "ci_high",
    "published_share", "difference_pp", "p_value", "study", "publisher", "year", "published_n",
    "confidence", "statement", "source", "label", "note",
]
SERIES_COLUMNS = ["year", "value", "unit", "figure_id", "statement", "study", "publisher", "n",
                  "confidence"]


# --------------------------------------------------------------------------- reading
def _rows(mask: pd.Series) -> list[int]:
    """1-based data-row numbers where ``mask`` is true."""
    return [int(i) + 1 for i in np.flatnonzero(mask.to_numpy())]


def _check_reference(raw: pd.DataFrame, file: str) -> list[Issue]:
    """Every broken rule of the reference table, one :class:`Issue` per rule and column."""
    def issue(column: str, mask: pd.Series, rule: str, message: str) -> Issue | None:
        return Issue(rule=rule, message=message, file=file, column=column, rows=_rows(mask),
                     hint=HINT) if mask.any() else None

    value = pd.to_numeric(raw["value"], errors="coerce")
    year = pd.to_numeric(raw["year"], errors="coerce")
    n = pd.to_numeric(raw["n"], errors="coerce")
    blank_n = raw["n"].isna()
    checks = [
        issue("figure_id", raw["figure_id"].isna(), "reference-id-missing", "figure_id is empty"),
        issue("figure_id", raw["figure_id"].duplicated(keep=False) & raw["figure_id"].notna(),
              "reference-id-unique", "figure_id must be unique"),
        issue("value", value.isna(), "reference-value-number", "value must be a number"),
        issue("year", year.isna() | (year % 1 != 0), "reference-year-integer",
              "year must be a whole number"),
        issue("n", ~blank_n & (n.isna() | (n % 1 != 0) | (n <= 0)), "reference-n-integer",
              "n must be blank or a positive whole number"),
        issue("group", ~raw["group"].isin(GROUPS), "reference-group",
              f"group must be one of {sorted(GROUPS)}"),
        issue("unit", raw["unit"].isna(), "reference-unit-missing", "unit is empty"),
        issue("confidence", ~raw["confidence"].isin(CONFIDENCE), "reference-confidence",
              f"confidence must be one of {sorted(CONFIDENCE)}"),
    ]
    return [c for c in checks if c is not None]


def load_reference(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check the published figures; ``value`` float, ``year`` and ``n`` Int64.

    Raises :class:`DataError` naming the file, column, rows and rule for a missing file, missing
    columns, non-numeric values, bad years or sample sizes, unknown groups or duplicate ids.
    """
    p = Path(path) if path is not None else paths.REFERENCE / REFERENCE_FILE
    if not p.exists():
        raise DataError("reference file not found", file=str(p), rule="file-not-found")
    raw = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in REFERENCE_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"required columns missing: {', '.join(missing)}", file=str(p),
                        column=", ".join(missing), rule="reference-columns", hint=HINT)
    issues = _check_reference(raw, str(p))
    if issues:
        raise DataError(issues=issues)
    return raw.assign(value=pd.to_numeric(raw["value"]).astype(float),
                      year=pd.to_numeric(raw["year"]).astype("Int64"),
                      n=pd.to_numeric(raw["n"]).astype("Int64"))


# --------------------------------------------------------------------------- comparing
def _note(figure: pd.Series) -> str:
    return _("different population and year: {publisher} {year}, {respondents}; the published "
             "share is treated as a fixed value").format(
        publisher=figure["publisher"], year=figure["year"], respondents=figure["respondents"])


def _skip_reason(item: Item, key: str, figure_id: str, df: pd.DataFrame,
                 figures: pd.DataFrame) -> str | None:
    """Why an item–figure link cannot be compared, or None when it can."""
    if item.id not in df.columns:
        return "item not in the data"
    if figure_id not in figures.index:
        return "figure_id not in the reference file"
    figure = figures.loc[figure_id]
    if figure["unit"] != SHARE_UNIT:
        return f"unit {figure['unit']!r} is not a percentage of respondents"
    if figure["group"] != key:
        return f"the figure describes group {figure['group']!r}, the codebook links it to {key!r}"
    return None


def _compare_one(item: Item, key: str, figure: pd.Series, df: pd.DataFrame,
                 cb: Codebook, language: str) -> dict[str, Any]:
    """One comparison row: sample top-box share versus one published percentage."""
    roles = df["role"].astype(str)
    answers = df.loc[roles.isin(ROLES if key == "all" else (key,)), item.id]
    n, agree = count_top_box(answers, item)
    published = figure["value"] / 100
    p_value = stats.binomtest(agree, n, published).pvalue if n else np.nan
    share = agree / n if n else np.nan
    return {"item": item.id, "group": key, "figure_id": figure.name, "n": n, "n_agree": agree,
            "share": share, "published_share": published,
            "difference_pp": 100 * (share - published), "p_value": p_value,
            "study": figure["study"], "publisher": figure["publisher"], "year": figure["year"],
            "published_n": figure["n"], "confidence": figure["confidence"],
            "statement": figure["statement"], "source": figure["source"],
            "label": cb.label(item.id, language), "note": _note(figure)}


def compare_to_benchmarks(df: pd.DataFrame, codebook: Codebook | None = None,
                          reference: pd.DataFrame | None = None, conf: float = 0.95,
                          language: str = "EN") -> pd.DataFrame:
    """Sample top-box share (Wilson CI) beside every published percentage the codebook links to.

    One row per item and benchmark key (CMO, CIO, or ``all`` = both roles pooled): sample n, share
    and CI; the published share (value / 100), study, publisher, year, published n, confidence,
    source; the difference in percentage points (sample − published); and the two-sided exact
    binomial test of the sample share against the published share taken as fixed
    (``scipy.stats.binomtest``). Links that cannot be compared — non-percent units, unknown ids,
    items missing from the data, group mismatches — are listed in ``.attrs["skipped"]`` with the
    reason.
    """
    cb = codebook or load_codebook()
    figures = (reference if reference is not None else load_reference()).set_index("figure_id")
    rows, skipped = [], []
    for item in cb.items.values():
        for key, figure_id in item.benchmark.items():
            reason = _skip_reason(item, key, figure_id, df, figures)
            if reason:
                skipped.append({"item": item.id, "group": key, "figure_id": figure_id,
                                "reason": reason})
            else:
                rows.append(_compare_one(item, key, figures.loc[figure_id], df, cb, language))
    out = pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)
    out = out.astype({"n": "int64", "n_agree": "int64", "year": "Int64", "published_n": "Int64"})
    low, high = wilson_interval(out["n_agree"].to_numpy(), out["n"].to_numpy(), conf)
    out = out.assign(ci_low=low, ci_high=high)
    out.attrs["skipped"] = skipped
    return out


# --------------------------------------------------------------------------- series
def series(reference: pd.DataFrame | None = None, statement_contains: str | None = None,
           figure_prefix: str | None = None) -> pd.DataFrame:
    """A published time series, tidy and sorted by year, for plotting beside sample data.

    Filters by ``figure_prefix`` (start of ``figure_id``) and/or ``statement_contains``
    (case-insensitive). Raises ``ValueError`` when nothing matches or the matches mix units (a
    series is one quantity), e.g. ``series(ref, "budget as share of company revenue",
    "gartner_cmo_spend_")`` gives Gartner's marketing budget as % of revenue, 2013–2025.
    """
    ref = reference if reference is not None else load_reference()
    keep = pd.Series(True, index=ref.index)
    if figure_prefix:
        keep &= ref["figure_id"].str.startswith(figure_prefix)
    if statement_contains:
        keep &= ref["statement"].str.contains(statement_contains, case=False, regex=False)
    out = ref.loc[keep, SERIES_COLUMNS]
    if out.empty:
        raise ValueError(f"no published figure matches prefix={figure_prefix!r}, "
                         f"statement_contains={statement_contains!r}")
    units = sorted(out["unit"].unique())
    if len(units) > 1:
        raise ValueError(f"the matching figures mix units {units}; narrow the selection "
                         "(figure_prefix / statement_contains) to one quantity")
    return out.sort_values(["year", "figure_id"]).reset_index(drop=True)


GROUP_WORDS = {"CMO": N_("CMOs"), "CIO": N_("CIOs"), "all": N_("all respondents")}
CONFIDENCE_WORDS = {"high": N_("high"), "medium": N_("medium"), "low": N_("low")}

labels.register({
    "group": N_("Group"),
    "publisher": N_("Publisher"),
    "year": N_("Year"),
    "published_n": N_("Published n"),
    "statement": N_("Published statement (original wording)"),
}, counts={"published_n"})


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`compare_to_benchmarks` table as the report shows it: the item by its wording,
    shares and interval in percent, the group and the confidence in words, the year as a year (no thousands
    separator)."""
    out = table.assign(
        wording=table["label"],
        share=100 * table["share"], ci_low=100 * table["ci_low"], ci_high=100 * table["ci_high"],
        published=100 * table["published_share"],
        group=table["group"].map(lambda g: _(GROUP_WORDS[g]) if g in GROUP_WORDS else g),
        confidence=table["confidence"].map(
            lambda c: _(CONFIDENCE_WORDS[c]) if c in CONFIDENCE_WORDS else c),
        year=table["year"].map(lambda y: "" if pd.isna(y) else str(int(y))))
    return out[["wording", "group", "n", "share", "ci_low", "ci_high", "published", "difference_pp",
                "p_value", "publisher", "year", "published_n", "confidence", "statement"]]
