"""The malformed-input corpus (``tests/corpus/``) through the real pipeline.

One table, one row per file: each case either **loads** -- ``load_survey`` returns a frame whose
report has no errors, and the values that matter are checked exactly -- or **fails** with a
:class:`~helpers.errors.DataError` (raised by the reader, or by ``report.raise_for_errors()``)
whose message names the file, the column, the rows (where rows apply) and the rule.  Every case
checks that the raw file (and its mapping file) is byte-identical afterwards.

Decisions documented here (and in ``tests/corpus/README.md``):

* A ``DD.MM.YYYY`` column is kept as text, never parsed: the codebook has no date field, so the
  column is reported as an ``unknown-column`` warning, and day-first/month-first guessing would
  be a silent corruption.  It must not turn into a number in a decimal-comma file either.
* Line breaks inside quoted values are normalised to ``\\n`` (a CRLF file stays readable).
* SPSS/Stata user-missing codes become NaN and are listed in ``attrs["missing_codes"]``; an
  undeclared 99 is not guessed to be missing -- it fails the range check.
* Messages name the file's own lines (a text file's physical line, header rows, blank lines and
  multi-line quoted values counted; an Excel sheet row; an SPSS/Stata record) and the response
  ids; ``rows`` stay 1-based data rows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers.codebook import load_codebook
from helpers.errors import DataError
from helpers.io import read_raw, source_lines
from helpers.processing import load_survey, tidy_survey
from helpers.validate import ValidationReport, harmonise_firm_attributes

CORPUS = Path(__file__).parent / "corpus"
NAN = math.nan


def _load_make_corpus() -> Any:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_corpus = _load_make_corpus()

BASE: dict[str, list[Any]] = {
    "respondent_id": ["R001", "R002", "R003", "R004"],
    "firm_id": ["F01", "F01", "F02", "F02"],
    "role": ["CMO", "CIO", "CMO", "CIO"],
    "country": ["DE", "DE", "DK", "DK"],
    "size_band": ["250-999", "250-999", "<250", "<250"],
    "wave": [1, 1, 1, 1],
    "duration_seconds": [612, 745, 530, 688],
    "name": ["Anna Müller", "Jörg Weiß", "Jens Jørgensen", "Søren Kjærgård"],
    "imp_1": [4, 2, 5, 3],
    "imp_2": [5, 3, 5, 4],
    "trust_1": [3, 4, 2, 4],
    "trust_3": [2, 4, 1, 3],
    "cofund_1": [1, 0, 1, 1],
}


def base(**changes: list[Any]) -> dict[str, list[Any]]:
    return {**BASE, **changes}


@dataclass(frozen=True)
class Case:
    """One corpus file and what must happen to it."""

    file: str
    outcome: str  # "loads" or "fails"
    mapping: str | None = None
    # loads: column -> expected values (NaN-aware), plus an optional check of frame and report
    expect: dict[str, list[Any]] = field(default_factory=dict)
    check: Callable[[pd.DataFrame, ValidationReport], None] | None = None
    # fails: the rule, the column, the 1-based data rows and the file's own lines (line, sheet
    # row or record) of the issue; ``where``: how the message names them (lines and ids)
    rule: str | None = None
    column: str | None = None
    rows: tuple[int, ...] = ()
    lines: tuple[int, ...] = ()
    where: str = ""
    says: tuple[str, ...] = ()
    reader: bool = False  # the reader itself refuses the file (checked with read_raw too)
    generated: bool = False  # built at test time (too large to commit)

    def __str__(self) -> str:
        return self.file


def attrs(**expected: Any) -> Callable[[pd.DataFrame, ValidationReport], None]:
    """Check entries of ``df.attrs``."""

    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        for key, value in expected.items():
            assert df.attrs[key] == value, (key, df.attrs[key])

    return check


def warns(rule: str, column: str) -> Callable[[pd.DataFrame, ValidationReport], None]:
    """A non-blocking warning of ``rule`` naming ``column``."""

    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        assert any(w.rule == rule and column in (w.column or "") for w in report.warnings), \
            str(report)

    return check


def both(*checks: Callable[[pd.DataFrame, ValidationReport], None]
         ) -> Callable[[pd.DataFrame, ValidationReport], None]:
    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        for one in checks:
            one(df, report)

    return check


def columns_are(*names: str) -> Callable[[pd.DataFrame, ValidationReport], None]:
    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        assert list(df.columns) == list(names)

    return check


def lacks(*names: str) -> Callable[[pd.DataFrame, ValidationReport], None]:
    """Columns the mapping file drops."""

    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        assert not set(names) & set(df.columns), list(df.columns)

    return check


def attrs_at(key: str, column: str, value: Any) -> Callable[[pd.DataFrame, ValidationReport], None]:
    """``df.attrs[key][column] == value`` (question texts, value labels)."""

    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        assert df.attrs[key].get(column) == value, df.attrs[key]

    return check


def lines_are(*lines: int) -> Callable[[pd.DataFrame, ValidationReport], None]:
    """The file's own line of every row read."""

    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        found = source_lines(df)
        assert found is not None and list(found) == list(lines), found

    return check


def firm_attributes_harmonised(df: pd.DataFrame, report: ValidationReport) -> None:
    """firm_attribute_conflict.csv: one warning per attribute naming the lines and both answers;
    after harmonising, both rows of each firm-wave carry the documented executive's answer."""
    found = {w.column: w for w in report.warnings if w.rule == "firm-attribute-conflict"}
    assert set(found) == {"size_band", "industry", "country"}, str(report)
    size = found["size_band"]
    assert list(size.lines) == [2, 3] and list(size.ids) == ["R001", "R002"]
    assert "lines 2, 3: CMO '250-999', CIO '1000-4999'" in size.message
    assert "lines 4, 5 (responses R003, R004)" in str(found["country"])
    assert "CMO 'DK', CIO 'SE'" in found["country"].message
    same = harmonise_firm_attributes(df, load_codebook())
    assert list(same["size_band"]) == ["1000-4999", "1000-4999", "<250", "<250"]  # the CIO's
    assert list(same["industry"]) == ["Retail"] * 4  # F02: the CMO's
    assert list(same["country"]) == ["DE", "DE", "DK", "DK"]  # F02: the CMO's
    assert same.attrs["harmonised_firm_attributes"] == {"size_band": 1, "industry": 1,
                                                        "country": 1}


def shape(rows: int, columns: int) -> Callable[[pd.DataFrame, ValidationReport], None]:
    def check(df: pd.DataFrame, report: ValidationReport) -> None:
        assert df.shape == (rows, columns)

    return check


QUESTION = "It is important that marketing and IT work closely together."
COMMA_DURATIONS = [612.5, 1234.5, 530.0, 688.25]

CASES = [
    # --- loads: delimiters, line endings, encodings --------------------------------------------
    Case("semicolon_delimiter.csv", "loads", expect=BASE,
         check=both(attrs(sep=";"), lines_are(2, 3, 4, 5))),
    Case("pipe_delimiter.csv", "loads", expect=BASE, check=attrs(sep="|")),
    Case("tab_separated.tsv", "loads", expect=BASE, check=attrs(sep="\t")),
    Case("crlf_line_endings.csv", "loads", expect=BASE),
    Case("trailing_empty_columns.csv", "loads", expect=BASE,
         check=columns_are(*make_corpus.COLUMNS)),
    Case("utf8_bom.csv", "loads", expect=BASE,
         check=both(columns_are(*make_corpus.COLUMNS), attrs(encoding="utf-8"))),
    Case("cp1252_umlauts.csv", "loads", expect=BASE, check=attrs(encoding="cp1252", sep=";")),
    Case("utf16_unicode_text.txt", "loads", expect=BASE, check=attrs(encoding="utf-16")),
    # --- loads: numbers ------------------------------------------------------------------------
    Case("decimal_commas.csv", "loads", expect=base(duration_seconds=COMMA_DURATIONS)),
    Case("bom_semicolon_decimal_comma.csv", "loads",
         expect=base(duration_seconds=COMMA_DURATIONS),
         check=columns_are(*make_corpus.COLUMNS)),
    Case("nbsp_in_numbers.csv", "loads",
         expect=base(duration_seconds=[1234.5, 2345.0, 530.0, 688.0])),
    Case("excel_na.xlsx", "loads", expect=base(imp_2=[5, NAN, 5, 4], trust_3=[2, 4, NAN, 3])),
    # --- loads: roles, dates, free text --------------------------------------------------------
    Case("role_labels_multilingual.csv", "loads",
         expect={"role": ["CMO", "CIO", "CMO", "CIO", "CMO", "CIO"],
                 "respondent_id": ["R001", "R002", "R003", "R004", "R005", "R006"]}),
    Case("dates_ddmmyyyy.csv", "loads",
         expect=base(interview_date=["31.12.2024", "01.02.2025", "15.03.2025", NAN]),
         check=warns("unknown-column", "interview_date")),
    Case("quoted_multiline_comment.csv", "loads",
         expect=base(comment=['Good, but "slow"\nsecond line', NAN, "Gut; danke",
                              "Line1\nLine2"]),
         check=lines_are(2, 4, 5, 6)),
    Case("firm_attribute_conflict.csv", "loads",
         expect=base(size_band=["250-999", "1000-4999", "<250", "<250"],
                     industry=["Retail", "Retail", "Retail", "Health"],
                     country=["DE", "DE", "DK", "SE"]),
         check=firm_attributes_harmonised),
    # --- loads: Excel layouts ------------------------------------------------------------------
    Case("excel_merged_header.xlsx", "loads", expect=BASE,
         check=both(attrs_at("question_text", "imp_1", "Importance of alignment"),
                    lines_are(3, 4, 5, 6))),
    Case("excel_repeated_header.xlsx", "loads", expect=BASE, check=lines_are(2, 3, 5, 6)),
    # --- loads: Qualtrics ----------------------------------------------------------------------
    Case("qualtrics_no_importid.csv", "loads", mapping="qualtrics_mapping.yaml",
         expect={"respondent_id": ["R_001abc", "R_002abc", "R_003abc", "R_004abc"],
                 "role": ["CMO", "CIO", "CMO", "CIO"], "imp_1": [4, 2, 5, 3],
                 "imp_2": [5, 3, 5, 4], "trust_1": [3, 4, 2, NAN],
                 "duration_seconds": [612, 745, 530, 688]},
         check=both(attrs(format="qualtrics", import_ids={}, unmapped_labels={}),
                    lacks("StartDate", "Status", "Finished"), lines_are(3, 4, 5, 6))),
    Case("qualtrics_legacy.csv", "loads", mapping="qualtrics_legacy_mapping.yaml",
         expect={"respondent_id": ["R_001", "R_002", "R_003", "R_004"],
                 "role": ["CMO", "CIO", "CMO", "CIO"], "imp_1": [4, 2, 5, 3]},
         check=both(attrs(format="qualtrics_legacy"),
                    attrs_at("question_text", "imp_1", QUESTION), lacks("V2", "V10"))),
    # --- loads: SPSS and Stata -----------------------------------------------------------------
    Case("spss_user_missing.sav", "loads",
         expect=base(imp_1=[4, NAN, 5, 3], imp_2=[5, 3, NAN, 4]),
         check=both(attrs(format="spss", missing_codes={"imp_1": [99], "imp_2": [-9]},
                          question_text={"imp_1": QUESTION}), lines_are(1, 2, 3, 4))),
    Case("spss_role_coded.sav", "loads", mapping="spss_mapping.yaml", expect=BASE,
         check=attrs_at("value_labels", "role", {1: "Marketingleiter", 2: "IT-Leiter"})),
    Case("stata_extended_missing.dta", "loads",
         expect={k: v for k, v in base(imp_1=[NAN, 2, 5, 3]).items() if k != "name"},
         check=attrs(format="stata", missing_codes={"imp_1": [".a"]})),
    # --- loads: very wide (generated) ----------------------------------------------------------
    Case("very_wide.csv", "loads", expect=base(x00000=[1, 2, 3, 4], x02499=[5, 1, 2, 3]),
         check=both(warns("unknown-column", "x00000"), shape(4, 15 + 2500)),
         generated=True),
    # --- fails: the reader refuses the file ----------------------------------------------------
    Case("empty.csv", "fails", rule="empty-file", reader=True, says=("empty",)),
    Case("whitespace_only.csv", "fails", rule="empty-file", reader=True),
    Case("header_only.csv", "fails", rule="no-data-rows", reader=True),
    Case("binary_junk.csv", "fails", rule="unreadable-file", reader=True, says=("binary",)),
    Case("binary_junk_no_nul.csv", "fails", rule="unreadable-file", reader=True,
         says=("binary",)),
    Case("excel_saved_as_csv.csv", "fails", rule="unreadable-file", reader=True),
    Case("junk.xlsx", "fails", rule="unreadable-file", reader=True, says=("Excel",)),
    Case("junk.sav", "fails", rule="unreadable-file", reader=True, says=("SPSS",)),
    Case("truncated.parquet", "fails", rule="unreadable-file", reader=True, says=("Parquet",)),
    Case("parquet_damaged_metadata.parquet", "fails", rule="unreadable-file", reader=True,
         says=("pandas metadata is damaged", "KeyError")),
    Case("parquet_invalid_utf8.parquet", "fails", rule="unreadable-file", column="name",
         reader=True, says=("cannot be decoded",)),
    Case("spss_crashes_reader.sav", "fails", rule="unreadable-file", reader=True,
         says=("SPSS reader crashed",)),
    Case("unbalanced_quote.csv", "fails", rule="malformed-csv", reader=True,
         says=("line 6", "never closed")),
    Case("title_row_above_header.csv", "fails", rule="malformed-csv", reader=True,
         says=("line 2 has 15 fields", "title")),
    Case("duplicate_column_names.csv", "fails", rule="duplicate-column", column="imp_1",
         reader=True),
    # --- fails: validation ---------------------------------------------------------------------
    Case("colon_delimiter.csv", "fails", rule="missing-column", column="respondent_id"),
    Case("missing_required_column.csv", "fails", rule="missing-column", column="country"),
    Case("spss_damaged_variable_name.sav", "fails", rule="missing-column",
         column="respondent_id"),
    Case("missing_required_value.csv", "fails", rule="missing-value", column="firm_id",
         rows=(3,), lines=(4,), where="line 4 (response R003)"),
    Case("likert_out_of_range.csv", "fails", rule="out-of-range", column="imp_1", rows=(2, 4),
         lines=(3, 5), where="lines 3, 5 (responses R002, R004)",
         says=("'6', '0'", "from 1 to 5")),
    Case("decimal_comma_in_likert.csv", "fails", rule="out-of-range", column="imp_1",
         rows=(1,), lines=(2,), where="line 2 (response R001)",
         says=("'3.5'", "whole number")),
    Case("spss_undeclared_missing.sav", "fails", rule="out-of-range", column="imp_1", rows=(2,),
         lines=(2,), where="record 2 (response R002)",
         says=("'99'", "'-9'", "column 'imp_2', record 3 (response R003)")),
    Case("text_in_numeric.csv", "fails", rule="not-numeric", column="imp_2", rows=(3, 4),
         lines=(4, 5), where="lines 4, 5 (responses R003, R004)", says=("'Agree', 'n.a.'",)),
    Case("duplicate_respondents.csv", "fails", rule="duplicate-respondent",
         column="respondent_id", rows=(2, 4), lines=(3, 5), where="lines 3, 5 (response R002)",
         says=("'R002'",)),
    Case("two_cmos_one_wave.csv", "fails", rule="dyad-role-conflict", column="role", rows=(1, 2),
         lines=(2, 3), where="lines 2, 3 (responses R001, R002)", says=("F01: 2 CMO, wave 1",)),
    Case("unknown_role.csv", "fails", rule="unknown-role", column="role", rows=(2,),
         lines=(3,), where="line 3 (response R002)", says=("'CTO'",)),
    # --- fails: the file's own lines -------------------------------------------------------------
    Case("qualtrics_multiline_lines.csv", "fails", mapping="qualtrics_mapping.yaml",
         rule="not-numeric", column="imp_2", rows=(2, 4), lines=(6, 9),
         where="lines 6, 9 (responses R_002abc, R_004abc)", says=("'Very much', 'Somewhat'",)),
    Case("blank_lines_between_rows.csv", "fails", rule="unknown-role", column="role", rows=(2,),
         lines=(6,), where="line 6 (response R002)"),
    Case("excel_line_numbers.xlsx", "fails", rule="out-of-range", column="imp_1", rows=(2, 4),
         lines=(4, 8), where="sheet rows 4, 8 (responses R002, R004)"),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same(actual: list[Any], expected: list[Any]) -> bool:
    """Lists equal value by value, NaN equal to NaN, 4 equal to 4.0."""
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        if isinstance(e, float) and math.isnan(e):
            if not pd.isna(a):
                return False
        elif a != e or type(a) is bool:
            return False
    return True


@pytest.fixture
def case_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    case: Case = request.param
    if case.generated:
        path = tmp_path / case.file
        path.write_bytes(make_corpus.wide_csv(2500))
        return path
    return CORPUS / case.file


@pytest.mark.parametrize(("case", "case_path"), [(c, c) for c in CASES], ids=str,
                         indirect=["case_path"])
def test_corpus_case(case: Case, case_path: Path) -> None:
    mapping = CORPUS / case.mapping if case.mapping else None
    files = [p for p in (case_path, mapping) if p is not None]
    before = {p: sha256(p) for p in files}
    try:
        if case.outcome == "loads":
            check_loads(case, case_path, mapping)
        else:
            check_fails(case, case_path, mapping)
    finally:
        assert {p: sha256(p) for p in files} == before, "a raw file was modified"


def check_loads(case: Case, path: Path, mapping: Path | None) -> None:
    df, report = load_survey(path, mapping)
    assert report.ok, str(report)
    for column, expected in case.expect.items():
        assert column in df.columns, f"{column} missing from {list(df.columns)[:20]}"
        actual = df[column].tolist()
        assert same(actual, expected), f"{column}: {actual} != {expected}"
    if case.check is not None:
        case.check(df, report)
    tidy = tidy_survey(df, load_codebook())  # the values also survive the processing step
    assert len(tidy) == len(df)
    assert not {"name", "email", "ip_address", "comment"} & set(tidy.columns)


def check_fails(case: Case, path: Path, mapping: Path | None) -> None:
    assert case.rule is not None
    with pytest.raises(DataError) as info:
        _, report = load_survey(path, mapping)
        report.raise_for_errors()
    error = info.value
    text = str(error)
    assert {issue.rule for issue in error.issues} == {case.rule}, text
    issue = next(i for i in error.issues if i.column == case.column)
    assert path.name in text and path.name in (issue.file or "")
    assert f"[{case.rule}]" in text
    if case.column:
        assert f"column '{case.column}'" in text
    assert list(issue.rows) == list(case.rows), text
    assert list(issue.lines) == list(case.lines), text
    assert bool(case.rows) == bool(case.where), "a case with rows says how they are named"
    if case.where:
        assert f"column '{case.column}', {case.where}: " in text, text
    for words in case.says:
        assert words in text, text
    if case.reader:  # the same error straight from the reader
        with pytest.raises(DataError) as direct:
            read_raw(path)
        assert direct.value.rule == case.rule and path.name in str(direct.value)


# --- the corpus itself --------------------------------------------------------------------------


def test_at_least_twenty_cases_and_every_file_is_used() -> None:
    assert len(CASES) >= 20
    assert {c.outcome for c in CASES} == {"loads", "fails"}
    used = {c.file for c in CASES} | {c.mapping for c in CASES if c.mapping}
    on_disk = {p.name for p in CORPUS.iterdir() if p.is_file()} - {"README.md", "make_corpus.py"}
    assert on_disk == used - {c.file for c in CASES if c.generated}
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    missing = [c.file for c in CASES if f"`{c.file}`" not in readme]
    assert not missing, f"cases not listed in tests/corpus/README.md: {missing}"


def test_every_file_is_small() -> None:
    assert all(p.stat().st_size < 50_000 for p in CORPUS.iterdir())


def test_text_files_match_the_generator(tmp_path: Path) -> None:
    """The committed text files are exactly what make_corpus.py writes (it is deterministic)."""
    make_corpus.main(tmp_path)
    for name, data in make_corpus.text_cases().items():
        assert (CORPUS / name).read_bytes() == data, f"{name} differs from make_corpus.py"
    assert {p.name for p in tmp_path.iterdir()} <= {p.name for p in CORPUS.iterdir()}
