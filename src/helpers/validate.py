"""Validate a mapped survey frame against the codebook before it is processed.

Column-level rules (required columns, empty required values, value ranges, allowed categories,
unique respondent ids) come from a pandera schema derived from the codebook (:func:`schema_for`);
cross-row rules (duplicate questionnaires, two CMOs in one firm) and data-quality warnings
(straight-lining, speeders, incomplete dyads, firm attributes the two executives report
differently, ...) are plain pandas checks. Every finding is an :class:`~helpers.errors.Issue`
naming the file, the column, the rows (the file's own lines where known) and the rule, with a
hint how to fix it; :func:`validate_survey` collects them in a :class:`ValidationReport`.

Text in numeric columns: item and numeric-field columns may arrive as text (``str``/object dtype,
e.g. a CSV read without type inference). Values that parse as numbers after stripping whitespace
(``"4"``, ``" 5 "``, ``"2.0"``) are accepted as numbers; blank strings count as missing; anything else
(``"Agree"``, ``"3,5"``) breaks the ``not-numeric`` rule. Decimal commas are not parsed here: reading
them is the job of :mod:`helpers.io`. Non-finite numbers (``inf``, ``1e400``, integers beyond the
float range) break the ``out-of-range`` rule, also in fields without a maximum.

Text fields are compared after stripping surrounding whitespace; role and category labels are
case-sensitive (the mapping step normalises labels before validation).

Where the rows are: every issue carries ``rows`` (1-based positions in the frame) and, when the
frame comes from :func:`helpers.io.read_raw` (through the mapping step, rows dropped by mask),
``lines`` -- the file's own line numbers -- and the response ids of those rows. The console
text of an issue names both; ``message`` and :meth:`ValidationReport.to_frame` (which end up in
processed data) never carry ids.

Beyond issues, two functions share the rules with the warnings, so that what is reported is
what is flagged: :func:`respondent_flags` (``flag_speeder``, ``flag_straight_lining`` per
respondent) and :func:`harmonise_firm_attributes` (one size band, industry and country per
firm-wave when the CMO and the CIO answered differently).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers.codebook import Codebook, Field, Item, load_codebook
from helpers.errors import MAX_ROWS_SHOWN, DataError, Issue, format_lines, format_rows
from helpers.io import line_unit, source_lines

if TYPE_CHECKING:  # the real module for type checkers; imported by the first validation
    import pandera.pandas as pa


@functools.cache
def _pandera() -> Any:
    """``pandera.pandas``, imported on the first validation rather than with this module.

    Why: pandera costs ~0.5 s to import and, whenever pyspark is installed (the `spark` extra),
    imports pyspark's pandas layer too -- a notebook importing :mod:`helpers.processing` to read
    processed data would pay for both and never validate anything.
    """
    with warnings.catch_warnings():
        # pandera sets up pyspark's pandas API whenever pyspark is installed (the `spark` extra) by
        # importing `pyspark.pandas`, which warns (FutureWarning) that it does not support this
        # pandas -- three times: under pandas 3 the import fails, and pandera tries again at
        # import and once more when its check backends load on the first validation. It concerns
        # an API this project never uses, so exactly that warning is silenced, here where it is
        # raised (the backends are loaded now for that reason): the console, reports and results
        # files keep only warnings about the user's data.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark(\.|$)")
        import pandera.backends.pandas.builtin_checks  # noqa: F401
        import pandera.pandas as pandera_pandas
    return pandera_pandas


ERROR = "error"
WARNING = "warning"
NUMERIC_FIELD_TYPES = {"integer", "number"}
WHOLE_SCALE_TYPES = {"likert", "binary"}
REPORT_COLUMNS = ["severity", "rule", "column", "n_rows", "rows", "lines", "message", "hint"]
SPEEDER_FRACTION = 1 / 3  # faster than this share of the median completion time: a speeder
STRAIGHTLINE_MIN_ITEMS = 10  # same answer to at least this many items of one likert scale
FLAG_COLUMNS = ("flag_speeder", "flag_straight_lining")
#: Which executive's answer a firm-wave gets when its CMO and CIO report different firm
#: attributes (see :func:`harmonise_firm_attributes` for the reasons).
FIRM_ATTRIBUTE_SOURCE = {"size_band": "CIO", "industry": "CMO", "country": "CMO"}

HINTS = {
    "missing-value": "fill in the value in the raw file, or drop the respondent in the mapping step",
    "duplicate-respondent": "each respondent_id must be unique: remove the repeated submission or "
                            "correct the id in the raw file",
    "duplicate-value": "this codebook field must be unique: correct or remove the repeated rows",
    "out-of-range": "check the export's value coding (e.g. 0-4 instead of 1-5, or 1/2 instead of "
                    "0/1) and add a recode in the mapping file; otherwise correct the raw value",
    "unknown-role": "add a recode for these labels (e.g. 'Chief Marketing Officer' -> CMO) in the "
                    "mapping file",
    "not-numeric": "recode answer labels to numbers (e.g. 'Agree' -> 4) in the mapping file, or blank "
                   "the cell; decimal commas must be read with helpers.io",
    "duplicate-response": "the same questionnaire was submitted twice: keep one of the rows (drop "
                          "the others in the raw file or the mapping step)",
    "dyad-role-conflict": "a firm has one CMO and one CIO per wave: check the firm_id and role of "
                          "these rows, or drop the surplus response",
    "duplicate-column": "two source columns were mapped to the same codebook name: fix the mapping "
                        "file so that each codebook column comes from one source column",
    "straight-lining": "check these respondents for inattentive answering; exclude them in the "
                       "analysis if you judge them careless (not dropped automatically)",
    "speeder": "very fast completions may be careless; review them and exclude them in the "
               "analysis if you judge them so (not dropped automatically)",
    "incomplete-dyad": "single-role firms stay in role-level analyses but drop out of dyadic ones "
                       "(gaps, response surfaces); check whether the counterpart was filed under "
                       "another firm_id",
    "wrong-role-item": "the questionnaire did not ask this role this item: check the role of these "
                       "rows, blank the answers, or add the role to the item in the codebook",
    "unknown-column": "add these columns to the mapping file's drop list, rename them to codebook "
                      "names, or add them to data/codebook.yaml",
    "items-not-present": "nothing to fix if the survey used a subset of the items; otherwise map the "
                         "missing columns in the mapping file",
    "firm-attribute-conflict": "one firm-wave has one value: harmonise_firm_attributes gives both "
                               "rows the CIO's size band and the CMO's industry and country "
                               "(data/README.md); correct the raw answer or recode it in the "
                               "mapping file if you know the right value",
}


# --------------------------------------------------------------------------- report
@dataclass
class ValidationReport:
    """The outcome of :func:`validate_survey`: blocking errors and non-blocking warnings."""

    file: str
    n_rows: int
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks processing (warnings do not)."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise one :class:`DataError` carrying every error, if there are any."""
        if self.errors:
            raise DataError(issues=self.errors)

    def to_frame(self) -> pd.DataFrame:
        """One row per issue (errors first), for display in a notebook or a results file.

        ``rows`` are positions in the checked frame, ``lines`` the file's own lines (empty when
        unknown); response ids are left out (this frame is stored with the processed data).
        """
        records = [
            {
                "severity": issue.severity,
                "rule": issue.rule,
                "column": issue.column,
                "n_rows": len(issue.rows),
                "rows": _first_rows(issue.rows),
                "lines": _first_rows(sorted(issue.lines)),
                "message": issue.message,
                "hint": issue.hint,
            }
            for issue in [*self.errors, *self.warnings]
        ]
        return pd.DataFrame(records, columns=REPORT_COLUMNS)

    def __str__(self) -> str:
        head = (f"Validation of {self.file} ({self.n_rows} rows): "
                f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}")
        lines = [head]
        lines += [f"  ERROR   {issue}" for issue in self.errors]
        lines += [f"  WARNING {issue}" for issue in self.warnings]
        if self.ok:
            lines.append("  no blocking errors")
        return "\n".join(lines)


# --------------------------------------------------------------------------- schema
def schema_for(codebook: Codebook | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a mapped survey frame, derived from the codebook.

    Each check is named by its rule id (``check.name``) and describes itself (``check.error``).
    The schema expects numeric columns to hold numbers: :func:`validate_survey` first turns numeric
    text into numbers (reporting ``not-numeric`` text) and strips text fields. Validate with
    ``schema.validate(frame, lazy=True)`` to collect every failure at once.
    """
    pa = _pandera()
    cb = codebook or load_codebook()
    columns = {f.name: _field_column(f, cb) for f in cb.fields.values()}
    columns.update({item.id: _item_column(item) for item in cb.items.values()})
    return pa.DataFrameSchema(columns, strict=False, name=f"survey ({cb.path.name})")


def _field_column(f: Field, cb: Codebook) -> pa.Column:
    pa = _pandera()
    checks = []
    if f.name == "role":
        checks.append(pa.Check.isin(list(cb.roles), name="unknown-role",
                                    error=f"must be one of {', '.join(cb.roles)} (case-sensitive)"))
    elif f.type == "category" and f.values:
        checks.append(pa.Check.isin(list(f.values), name="unknown-category",
                                    error=f"must be one of {', '.join(f.values)}"))
    if f.type in NUMERIC_FIELD_TYPES:
        checks.append(_range_check(f.min, f.max, whole=f.type == "integer"))
    return pa.Column(None, checks=checks, nullable=not f.required, required=f.required,
                     unique=f.unique)


def _item_column(item: Item) -> pa.Column:
    pa = _pandera()
    scale = item.scale
    check = _range_check(scale.min, scale.max, whole=scale.type in WHOLE_SCALE_TYPES,
                         scale_id=scale.id)
    return pa.Column(None, checks=[check], nullable=True, required=False)


def _range_check(lo: float | None, hi: float | None, *, whole: bool,
                 scale_id: str | None = None) -> pa.Check:
    """An ``out-of-range`` check: lo <= value <= hi, and a whole number if ``whole``."""

    def within(values: pd.Series) -> pd.Series:  # not "in_range": pandera would dispatch that
        numbers = _floats(values)
        good = pd.Series(np.isfinite(numbers.to_numpy()), index=values.index)  # NaN, +-inf fail
        if lo is not None:
            good &= numbers >= lo
        if hi is not None:
            good &= numbers <= hi
        if whole:
            good &= numbers % 1 == 0
        return good

    return _pandera().Check(within, name="out-of-range",
                            error=_range_text(lo, hi, whole, scale_id))


def _range_text(lo: float | None, hi: float | None, whole: bool, scale_id: str | None) -> str:
    kind = "a whole number" if whole else "a number"
    if lo is not None and hi is not None:
        text = f"must be {kind} from {lo:g} to {hi:g}"
    elif lo is not None:
        text = f"must be {kind} >= {lo:g}"
    elif hi is not None:
        text = f"must be {kind} <= {hi:g}"
    else:
        text = f"must be {kind}"
    return f"{text} ({scale_id} scale)" if scale_id else text


# --------------------------------------------------------------------------- entry point
def validate_survey(
    df: pd.DataFrame,
    codebook: Codebook | None = None,
    *,
    file: str = "<data>",
    speeder_fraction: float = SPEEDER_FRACTION,
    straightline_min_items: int = STRAIGHTLINE_MIN_ITEMS,
) -> ValidationReport:
    """Check a mapped survey frame (codebook column names) against the codebook.

    Returns a report of blocking errors and non-blocking warnings; call
    :meth:`ValidationReport.raise_for_errors` to stop on errors. Rows are reported as 1-based
    positions in ``df`` whatever its index, plus the file's own lines and the response ids where
    known (see the module docstring); ``df`` itself is never modified.
    """
    cb = codebook or load_codebook()
    errors: list[Issue] = []
    frame, dup_issue = _unique_columns(df, file)
    errors += dup_issue
    prep, not_numeric = _prepare(frame, cb, file)
    errors += not_numeric
    where = _Locator.of(df, frame)
    skip = {(issue.column, row) for issue in not_numeric for row in issue.rows}
    errors += _schema_issues(prep, cb, file, skip, list(frame.columns))
    response_issues, repeat_rows = _duplicate_responses(prep, cb, file)
    errors += response_issues
    errors += _dyad_role_conflicts(prep.drop(index=repeat_rows), cb, file)
    warnings = [
        *_unknown_columns(frame, cb, file),
        *_items_not_present(frame, cb, file),
        *_wrong_role_items(prep, cb, file),
        *_straight_lining(prep, cb, file, straightline_min_items),
        *_speeders(prep, file, speeder_fraction),
        *_incomplete_dyads(prep, cb, file),
        *_firm_attribute_conflicts(prep, cb, file, where),
    ]
    for issue in [*errors, *warnings]:
        where.locate(issue)
    return ValidationReport(file=file, n_rows=len(df), errors=errors, warnings=warnings)


@dataclass(frozen=True)
class _Locator:
    """The file line and the response id of every row position of the checked frame."""

    lines: np.ndarray | None
    unit: str
    ids: list[str | None]

    @classmethod
    def of(cls, df: pd.DataFrame, frame: pd.DataFrame) -> _Locator:
        """From the checked frame ``df`` and its copy with unique column names ``frame``."""
        lines = source_lines(df)
        ids: list[str | None] = [None] * len(df)
        if "respondent_id" in frame.columns:
            ids = [None if (v := _blank_to_none(value)) is None else _fmt(v).strip()
                   for value in frame["respondent_id"]]
        return cls(None if lines is None else lines.to_numpy(), line_unit(df), ids)

    def locate(self, issue: Issue) -> None:
        """Fill ``issue.lines`` and ``issue.ids`` from its rows (ordered by line)."""
        positions = [r - 1 for r in issue.rows]
        if self.lines is not None:
            positions.sort(key=lambda p: self.lines[p])
            issue.lines = [int(self.lines[p]) for p in positions]
            issue.line_unit = self.unit
        issue.ids = [str(self.ids[p]) for p in positions if self.ids[p] is not None]

    def describe(self, positions: Sequence[int]) -> str:
        """``lines 3, 4`` (or ``rows 3, 4`` when the lines are unknown) for 0-based positions."""
        if self.lines is not None:
            return format_lines([int(self.lines[p]) for p in positions], self.unit)
        rows = sorted(p + 1 for p in positions)
        return f"row {rows[0]}" if len(rows) == 1 else f"rows {format_rows(rows)}"


# --------------------------------------------------------------------------- preparation
def _unique_columns(df: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[Issue]]:
    """Keep the first of repeated column names (reported as an error) so checks see one Series."""
    repeated = df.columns[df.columns.duplicated()].unique()
    if not len(repeated):
        return df, []
    names = [str(c) for c in repeated]
    issue = Issue(rule="duplicate-column", file=file, column=", ".join(names), severity=ERROR,
                  message=f"column name(s) {', '.join(names)} occur more than once; "
                          "only the first of each was validated",
                  hint=HINTS["duplicate-column"])
    return df.loc[:, ~df.columns.duplicated()], [issue]


def _prepare(df: pd.DataFrame, cb: Codebook, file: str) -> tuple[pd.DataFrame, list[Issue]]:
    """A new frame with a 0..n-1 index holding the codebook's columns: numeric columns as float,
    text fields stripped (other columns are only reported as unknown, so they are left out)."""
    columns: dict[Any, pd.Series] = {}
    issues: list[Issue] = []
    for name in df.columns:
        if name not in cb.fields and name not in cb.items:
            continue
        values = df[name].reset_index(drop=True)
        if _is_numeric_column(name, cb):
            numbers, bad = _to_numbers(values)
            if bad.any():
                issues.append(_not_numeric_issue(name, values, bad, cb, file))
            columns[name] = numbers
        else:
            columns[name] = _clean_text(values)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(df))), issues


def _is_numeric_column(name: Any, cb: Codebook) -> bool:
    if name in cb.items:
        return True
    return name in cb.fields and cb.fields[name].type in NUMERIC_FIELD_TYPES


def _blank_to_none(value: Any) -> Any:
    """Strip text; blank text and any NA become None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None if _is_na(value) else value


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like cell
        return False


def _clean_text(values: pd.Series) -> pd.Series:
    """Text-field values as stripped strings (object dtype, None when missing)."""
    def clean(value: Any) -> Any:
        value = _blank_to_none(value)
        return None if value is None else str(value).strip() or None

    return values.astype(object).map(clean).astype(object)


def _to_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Values as float64 plus a mask of cells holding text that is not a number."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
        return values.astype("float64"), pd.Series(False, index=values.index)
    cleaned = values.astype(object).map(_blank_to_none).astype(object)
    numbers = _floats(cleaned)
    return numbers, cleaned.notna() & numbers.isna()


def _floats(values: pd.Series) -> pd.Series:
    """Values as float64, NaN where a value is not a number (a complex one with an imaginary part).
    Integers beyond the float range become +-inf (pandas raises OverflowError for them), which
    the range check rejects."""
    try:
        numbers = pd.to_numeric(values, errors="coerce")
    except OverflowError:
        numbers = values.map(_float_or_nan)
    if numbers.dtype == object or pd.api.types.is_complex_dtype(numbers):
        numbers = values.map(_float_or_nan)  # Python ints beyond int64; complex is no answer
    return numbers.astype("float64")


def _float_or_nan(value: Any) -> float:
    """One value as a float (see :func:`_floats`)."""
    if isinstance(value, str):
        value = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
    if isinstance(value, complex | np.complexfloating):  # pandas may turn 4 into 4+0j
        value = value.real if value.imag == 0 else math.nan
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return math.nan


def _not_numeric_issue(name: Any, values: pd.Series, bad: pd.Series, cb: Codebook,
                       file: str) -> Issue:
    rows = _rows(bad)
    if name in cb.pii_fields:
        found = "values not shown (personal data)"
    else:
        found = f"found {_show_values(str(v).strip() for v in values[bad])}"
    return Issue(rule="not-numeric", file=file, column=str(name), rows=rows, severity=ERROR,
                 message=f"{_plural(len(rows), 'value')} that are not numbers; {found}",
                 hint=HINTS["not-numeric"])


# --------------------------------------------------------------------------- pandera failures
def _schema_issues(prep: pd.DataFrame, cb: Codebook, file: str, skip: set[tuple[str, int]],
                   present: list[Any]) -> list[Issue]:
    """Run the codebook schema lazily and translate its failure cases into issues."""
    schema = schema_for(cb)
    from pandera.errors import SchemaErrors  # imported by schema_for (see _pandera)

    try:
        schema.validate(prep, lazy=True)
    except SchemaErrors as exc:
        return _translate_failures(exc.failure_cases, schema, cb, file, skip, present)
    return []


def _translate_failures(cases: pd.DataFrame, schema: pa.DataFrameSchema, cb: Codebook, file: str,
                        skip: set[tuple[str, int]], present: list[Any]) -> list[Issue]:
    missing = cases["check"] == "column_in_dataframe"
    issues = [
        _missing_column_issue(str(name), cb, file, present)
        for name in cases.loc[missing, "failure_case"]
    ]
    # pandera puts the schema's name in "column" of a missing-column case: translated above
    cases = cases[~missing & cases["column"].notna()]
    issues += [_column_failure_issue(row, schema, file)
               for row in cases[cases["index"].isna()].itertuples(index=False)]
    cases = cases[cases["index"].notna()]
    if cases.empty:
        return issues
    described = [_describe_check(row, schema) for row in cases.itertuples(index=False)]
    cases = cases.assign(rule=[r for r, _ in described], detail=[d for _, d in described],
                         row=[int(i) + 1 for i in cases["index"]])
    for name in schema.columns:
        for rule, group in cases[cases["column"] == name].groupby("rule", sort=False):
            group = group[[(name, r) not in skip for r in group["row"]]]
            if not group.empty:
                issues.append(_failure_issue(name, str(rule), group, cb, file))
    return issues


def _column_failure_issue(row: Any, schema: pa.DataFrameSchema, file: str) -> Issue:
    """A failure pandera reports for a whole column (e.g. a check that could not run)."""
    rule, detail = _describe_check(row, schema)
    return Issue(rule=rule, file=file, column=str(row.column), severity=ERROR,
                 message=f"{detail}: the check failed for the whole column ({row.failure_case})",
                 hint="check the column's content and type; report this if it persists")


def _describe_check(row: Any, schema: pa.DataFrameSchema) -> tuple[str, str]:
    """Rule id and wording of the check behind one pandera failure case."""
    if row.check == "not_nullable":
        return "missing-value", "required value is empty"
    if row.check == "field_uniqueness":
        rule = "duplicate-respondent" if row.column == "respondent_id" else "duplicate-value"
        return rule, "must be unique"
    if row.check_number is not None and not _is_na(row.check_number):
        check = schema.columns[row.column].checks[int(row.check_number)]
        return str(check.name), str(check.error)
    return str(row.check), str(row.check)


def _failure_issue(name: str, rule: str, group: pd.DataFrame, cb: Codebook, file: str) -> Issue:
    rows = sorted(set(group["row"]))
    detail = str(group["detail"].iloc[0])
    values = _show_values(group["failure_case"])
    if rule == "missing-value":
        message = f"{_plural(len(rows), 'empty value')} in a required column"
    elif rule in {"duplicate-respondent", "duplicate-value"}:
        message = f"{values} appear(s) more than once; {detail}"
    else:
        message = f"{detail}; found {values}"
    hint = HINTS.get(rule, "see data/codebook.yaml for the rule")
    if rule == "unknown-category" and cb.fields[name].values:
        hint = (f"allowed: {', '.join(cb.fields[name].values)}; add a recode in the mapping file "
                "or extend the values in data/codebook.yaml")
    return Issue(rule=rule, file=file, column=name, rows=rows, severity=ERROR, message=message,
                 hint=hint)


def _missing_column_issue(name: str, cb: Codebook, file: str, present: list[Any]) -> Issue:
    known = set(cb.fields) | set(cb.items)
    candidates = [str(c) for c in present if c not in known]
    near = _near_name(name, candidates)
    hint = f"the required columns are {', '.join(cb.required_fields)} (codebook names)"
    if near is not None:
        hint += f"; column {near!r} looks like it: rename it to {name!r} in the mapping file"
    else:
        hint += "; map the source column to this name in the mapping file"
    return Issue(rule="missing-column", file=file, column=name, severity=ERROR,
                 message=f"required column {name!r} is missing", hint=hint)


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "_", name.strip().lower()).strip("_")


def _near_name(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate column that looks like ``name`` (case/whitespace or a close spelling)."""
    by_norm = {_norm_name(c): c for c in candidates}
    target = _norm_name(name)
    if target in by_norm:
        return by_norm[target]
    close = difflib.get_close_matches(target, list(by_norm), n=1, cutoff=0.8)
    return by_norm[close[0]] if close else None


# --------------------------------------------------------------------------- cross-row errors
def _has(prep: pd.DataFrame, *names: str) -> bool:
    return all(n in prep.columns for n in names)


def _dyad_keys(prep: pd.DataFrame) -> list[str]:
    """Columns identifying a firm-wave (the firm alone when there is no wave column)."""
    return ["firm_id", "wave"] if "wave" in prep.columns else ["firm_id"]


def _present_items(prep: pd.DataFrame, cb: Codebook) -> list[str]:
    return [i for i in cb.items if i in prep.columns]


def _duplicate_responses(prep: pd.DataFrame, cb: Codebook,
                         file: str) -> tuple[list[Issue], list[int]]:
    """Rows identical in firm, role, wave and every item: one questionnaire submitted twice.

    Also returns the 0-based positions of the repeats (all but the first copy), which the
    dyad-role check ignores so a resubmission is reported once, as a duplicate.
    """
    items = _present_items(prep, cb)
    if not items or not _has(prep, "firm_id", "role"):
        return [], []
    keys = [*_dyad_keys(prep), "role", *items]
    usable = prep["firm_id"].notna()
    dup = prep.duplicated(subset=keys, keep=False) & usable
    if not dup.any():
        return [], []
    repeats = list(prep.index[prep.duplicated(subset=keys, keep="first") & usable])
    pairs = prep.loc[dup, ["firm_id", "role"]].drop_duplicates()
    shown = _limit([f"({f}, {r})" for f, r in pairs.itertuples(index=False)])
    issue = Issue(rule="duplicate-response", file=file, column="firm_id, role", rows=_rows(dup),
                  severity=ERROR, hint=HINTS["duplicate-response"],
                  message=f"duplicate (firm, role) {shown}: rows identical in firm, role, wave "
                          "and every item")
    return [issue], repeats


def _valid_role_rows(prep: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    """Rows with a firm id and a codebook role (the ones dyad rules can judge)."""
    return prep[prep["firm_id"].notna() & prep["role"].isin(list(cb.roles))]


def _dyad_role_conflicts(prep: pd.DataFrame, cb: Codebook, file: str) -> list[Issue]:
    """Firms with more than one respondent of the same role in one wave."""
    if not _has(prep, "firm_id", "role"):
        return []
    keys = [*_dyad_keys(prep), "role"]
    sub = _valid_role_rows(prep, cb)[keys]
    size = sub.groupby(keys, dropna=False)["role"].transform("size")
    bad = sub[size > 1]
    if bad.empty:
        return []
    counts = bad.groupby(keys, dropna=False, sort=False).size()
    parts = [_conflict_text(key, n, keys) for key, n in counts.items()]
    firms = _limit([str(f) for f in bad["firm_id"].drop_duplicates()])
    return [Issue(rule="dyad-role-conflict", file=file, column="role", rows=_rows(bad.index),
                  severity=ERROR, hint=HINTS["dyad-role-conflict"],
                  message=f"firm(s) {firms} have more than one respondent of the same role in "
                          f"a wave: {_limit(parts)}")]


def _conflict_text(key: Any, n: int, keys: list[str]) -> str:
    values = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
    wave = f", wave {_fmt(values['wave'])}" if "wave" in values else ""
    return f"{values['firm_id']}: {n} {values['role']}{wave}"


# --------------------------------------------------------------------------- warnings
def _unknown_columns(df: pd.DataFrame, cb: Codebook, file: str) -> list[Issue]:
    """Columns that are neither codebook fields nor items; Qualtrics' own metadata (read by
    the row selection, never carried into processed data) is known, not unknown."""
    from helpers.io import QUALTRICS_METADATA

    known = set(cb.fields) | set(cb.items) | set(QUALTRICS_METADATA) | set(
        QUALTRICS_METADATA.values())
    unknown = [str(c) for c in df.columns if c not in known]
    if not unknown:
        return []
    return [Issue(rule="unknown-column", file=file, column=_limit(unknown), severity=WARNING,
                  message=f"{_plural(len(unknown), 'column')} neither a codebook field nor an "
                          f"item: {', '.join(unknown)}",
                  hint=HINTS["unknown-column"])]


def _items_not_present(df: pd.DataFrame, cb: Codebook, file: str) -> list[Issue]:
    absent = [i for i in cb.items if i not in df.columns]
    if not absent:
        return []
    return [Issue(rule="items-not-present", file=file, column=_limit(absent), severity=WARNING,
                  message=f"{_plural(len(absent), 'codebook item')} not in the data: "
                          f"{', '.join(absent)}",
                  hint=HINTS["items-not-present"])]


def _wrong_role_items(prep: pd.DataFrame, cb: Codebook, file: str) -> list[Issue]:
    """Answers to items the codebook does not ask of the respondent's role."""
    if "role" not in prep.columns:
        return []
    issues = []
    for item_id in _present_items(prep, cb):
        item = cb.items[item_id]
        other_roles = [r for r in cb.roles if r not in item.roles]
        mask = prep["role"].isin(other_roles) & prep[item_id].notna()
        if mask.any():
            roles = ", ".join(sorted(set(prep.loc[mask, "role"])))
            issues.append(Issue(
                rule="wrong-role-item", file=file, column=item_id, rows=_rows(mask),
                severity=WARNING, hint=HINTS["wrong-role-item"],
                message=f"answered by {roles} although the codebook asks it only of "
                        f"{', '.join(item.roles)}"))
    return issues


def _straight_liners(prep: pd.DataFrame, cb: Codebook, min_items: int) -> dict[str, pd.Series]:
    """Per likert scale with at least ``min_items`` items present: the mask of respondents who
    answered at least ``min_items`` of them, all with one and the same value."""
    masks = {}
    for scale in cb.scales.values():
        if scale.type != "likert":
            continue
        items = [i for i in _present_items(prep, cb) if cb.items[i].scale.id == scale.id]
        if len(items) < min_items:
            continue
        answers = prep[items]
        masks[scale.id] = (answers.notna().sum(axis=1) >= min_items) & (
            answers.nunique(axis=1) == 1)
    return masks


def _straight_lining(prep: pd.DataFrame, cb: Codebook, file: str, min_items: int) -> list[Issue]:
    """Respondents with one and the same answer to every item of a likert scale they answered."""
    issues = []
    for scale_id, flat in _straight_liners(prep, cb, min_items).items():
        if flat.any():
            issues.append(Issue(
                rule="straight-lining", file=file, column=f"{scale_id} items", rows=_rows(flat),
                severity=WARNING, hint=HINTS["straight-lining"],
                message=f"{_plural(int(flat.sum()), 'respondent')} gave the same answer to every "
                        f"{scale_id} item they answered (at least {min_items} items)"))
    return issues


def _speeder_mask(prep: pd.DataFrame, fraction: float
                  ) -> tuple[pd.Series, float, float] | None:
    """Completion times below ``fraction`` of the median: the mask, the threshold and the
    median; None without usable completion times."""
    if "duration_seconds" not in prep.columns:
        return None
    duration = prep["duration_seconds"]
    median = duration.median()
    if pd.isna(median) or median <= 0:
        return None
    threshold = fraction * median
    return duration < threshold, float(threshold), float(median)


def _speeders(prep: pd.DataFrame, file: str, fraction: float) -> list[Issue]:
    """Completion times below ``fraction`` of the median."""
    found = _speeder_mask(prep, fraction)
    if found is None or not found[0].any():
        return []
    fast, threshold, median = found
    return [Issue(rule="speeder", file=file, column="duration_seconds", rows=_rows(fast),
                  severity=WARNING, hint=HINTS["speeder"],
                  message=f"{_plural(int(fast.sum()), 'respondent')} took less than "
                          f"{threshold:.0f} s ({fraction:.2g} x the median of {median:.0f} s)")]


def _incomplete_dyads(prep: pd.DataFrame, cb: Codebook, file: str) -> list[Issue]:
    """Firm-waves in which not every codebook role responded."""
    if not _has(prep, "firm_id", "role"):
        return []
    keys = _dyad_keys(prep)
    sub = _valid_role_rows(prep, cb)[[*keys, "role"]]
    n_roles = sub.groupby(keys, dropna=False)["role"].transform("nunique")
    single = sub[n_roles < len(cb.roles)]
    if single.empty:
        return []
    roles_of = single.groupby(keys, dropna=False)["role"].agg(frozenset)
    missing = [f"{sum(r not in got for got in roles_of)} without a {r}" for r in cb.roles]
    return [Issue(rule="incomplete-dyad", file=file, column="role", rows=_rows(single.index),
                  severity=WARNING, hint=HINTS["incomplete-dyad"],
                  message=f"{_plural(len(roles_of), 'firm-wave')} with only one role: "
                          f"{', '.join(missing)}")]


def _firm_wave_groups(prep: pd.DataFrame, cb: Codebook, attribute: str) -> pd.Series:
    """Firm-wave group number of every row whose firm-wave's respondents gave different values
    of ``attribute`` (index-aligned with ``prep``; NaN for rows without such a conflict).

    Only rows with a firm id and a codebook role count; missing values are no answer, not a
    different one (a required attribute left empty is a ``missing-value`` error).
    """
    none = pd.Series(np.nan, index=prep.index)
    if not _has(prep, "firm_id", "role", attribute):
        return none
    keys = _dyad_keys(prep)
    sub = _valid_role_rows(prep, cb)[[*keys, attribute]]
    if sub.empty:
        return none
    group = sub.groupby(keys, dropna=False, sort=False).ngroup()
    differ = sub.groupby(group)[attribute].transform("nunique") > 1
    return group[differ].reindex(prep.index).astype("float64")


def _firm_attribute_conflicts(prep: pd.DataFrame, cb: Codebook, file: str,
                              where: _Locator) -> list[Issue]:
    """Firm-waves whose CMO and CIO report a different size band, industry or country."""
    issues = []
    for attribute, source in FIRM_ATTRIBUTE_SOURCE.items():
        groups = _firm_wave_groups(prep, cb, attribute)
        if groups.notna().sum() == 0:
            continue
        parts = []
        for _, rows in groups.dropna().groupby(groups.dropna(), sort=False):
            answers = ", ".join(f"{prep.at[p, 'role']} {_answer(prep.at[p, attribute])}"
                                for p in rows.index)
            parts.append(f"{where.describe(list(rows.index))}: {answers}")
        issues.append(Issue(
            rule="firm-attribute-conflict", file=file, column=attribute, rows=_rows(groups.notna()),
            severity=WARNING, hint=HINTS["firm-attribute-conflict"],
            message=f"{_plural(len(parts), 'firm-wave')} whose executives report a different "
                    f"{attribute.replace('_', ' ')}: {_limit(parts)}; the firm-wave is given "
                    f"the {source}'s answer"))
    return issues


# --------------------------------------------------------------------------- per-row results
def respondent_flags(
    df: pd.DataFrame,
    codebook: Codebook | None = None,
    *,
    speeder_fraction: float = SPEEDER_FRACTION,
    straightline_min_items: int = STRAIGHTLINE_MIN_ITEMS,
) -> pd.DataFrame:
    """Per respondent: ``flag_speeder`` and ``flag_straight_lining`` (bool, aligned with
    ``df.index``), by exactly the rules of the ``speeder`` and ``straight-lining`` warnings.

    Call it on the rows that were validated (the speeder threshold is a share of their median
    completion time), with the same parameters. A respondent straight-lines if they do so on any
    likert scale. Without completion times (or items) the flags are all False.
    """
    cb = codebook or load_codebook()
    frame, _ = _unique_columns(df, "<data>")
    prep, _ = _prepare(frame, cb, "<data>")
    fast = _speeder_mask(prep, speeder_fraction)
    flat = pd.Series(False, index=prep.index)
    for mask in _straight_liners(prep, cb, straightline_min_items).values():
        flat |= mask
    speeder = fast[0] if fast is not None else pd.Series(False, index=prep.index)
    return pd.DataFrame({"flag_speeder": speeder.to_numpy(dtype=bool),
                         "flag_straight_lining": flat.to_numpy(dtype=bool)}, index=df.index)


def harmonise_firm_attributes(df: pd.DataFrame, codebook: Codebook | None = None
                              ) -> pd.DataFrame:
    """A copy of ``df`` in which every firm-wave carries one size band, industry and country.

    When the CMO and the CIO of one firm-wave answer a firm attribute differently (the
    ``firm-attribute-conflict`` warning), every row of that firm-wave gets the answer of the
    executive named in :data:`FIRM_ATTRIBUTE_SOURCE`:

    * **size band: the CIO's.** Headcount is what IT provisions accounts, devices and licences
      for, so the CIO counts employees from an inventory; a CMO tends to answer for the
      marketing organisation or the brand's market presence.
    * **industry: the CMO's.** The industry is defined by the markets and customers the firm
      serves, the CMO's own domain; IT often sits in a group function serving several.
    * **country: the CMO's.** Marketing is organised by market, and the CMO answers for the
      market the firm serves; a group CIO often sits at a foreign headquarters.

    If the named executive left the attribute empty (or the firm-wave has no such
    respondent), the other executive's answer is kept; with several respondents of the named
    role (itself a ``dyad-role-conflict`` error) the first row wins. Firm-waves without a
    conflict, rows without a firm id or a codebook role, and values are otherwise unchanged
    (the original value of the chosen row is copied, so dtypes stay as they are).
    ``attrs["harmonised_firm_attributes"]`` counts the firm-waves changed per attribute.
    Without this, such firms fall out of every segment report split by the attribute (neither
    segment holds both executives). Works on the mapped frame and on the processed one.
    """
    cb = codebook or load_codebook()
    out = df.copy()
    out.attrs = dict(df.attrs)
    frame, _ = _unique_columns(df, "<data>")
    prep, _ = _prepare(frame, cb, "<data>")
    changed: dict[str, int] = {}
    for attribute, source in FIRM_ATTRIBUTE_SOURCE.items():
        groups = _firm_wave_groups(prep, cb, attribute)
        conflicts = groups.dropna()
        if conflicts.empty:
            continue
        column = out.columns.get_loc(attribute)
        if not isinstance(column, int):  # repeated column name: validation reports it
            continue
        for _, rows in conflicts.groupby(conflicts, sort=False):
            positions = list(rows.index)
            answered = [p for p in positions if not _is_na(prep.at[p, attribute])]
            chosen = next((p for p in answered if prep.at[p, "role"] == source), answered[0])
            value = df.iat[chosen, column]
            for p in positions:
                out.iat[p, column] = value
        changed[attribute] = int(conflicts.nunique())
    out.attrs["harmonised_firm_attributes"] = changed
    return out


# --------------------------------------------------------------------------- formatting helpers
def _rows(positions: pd.Series | pd.Index | Iterable[int]) -> list[int]:
    """1-based row numbers from a boolean mask or from 0-based positions."""
    if isinstance(positions, pd.Series) and pd.api.types.is_bool_dtype(positions):
        positions = positions.index[positions.to_numpy()]
    return sorted(int(p) + 1 for p in positions)


def _first_rows(rows: Sequence[int], limit: int = MAX_ROWS_SHOWN) -> str:
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    return shown + (", ..." if len(rows) > limit else "")


def _answer(value: Any) -> str:
    """A text answer quoted, or ``no answer``."""
    return "no answer" if _is_na(value) else repr(_fmt(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show_values(values: Iterable[Any], limit: int = MAX_ROWS_SHOWN) -> str:
    """Distinct values quoted, the first few and how many more."""
    distinct = list(dict.fromkeys(_fmt(v) for v in values))
    return _limit([repr(v) for v in distinct], limit)


def _limit(names: Sequence[str], limit: int = MAX_ROWS_SHOWN) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
