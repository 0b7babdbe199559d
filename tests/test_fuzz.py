"""Property-based tests: whatever the input, the only exception that escapes is ``DataError``.

Three entry points are fuzzed with hypothesis:

1. the raw reader (:func:`helpers.io.read_raw`): random bytes, random delimited text (mixed
   delimiters, quotes, BOMs, encodings, NUL bytes, very long lines, Qualtrics-like header cells),
   mutated Excel, Parquet, SPSS and Stata files (flipped, inserted and cut bytes; spliced XML
   inside the workbook) and valid workbooks with random typed cells and merged ranges;
2. the mapping step (:func:`helpers.mapping.load_mapping` + :func:`~helpers.mapping.apply_mapping`):
   random YAML text and mostly well-formed mapping structures with wrong types, huge numbers and
   NaN, applied to frames carrying SPSS-like value labels (sometimes of the wrong shape);
3. validation (:func:`helpers.validate.validate_survey` must always return a report and leave its
   input alone) on random codebook frames with mixed cells -- numbers out of range, huge and
   non-finite numbers, text, None, booleans, bytes, lists, dates, decimals -- and the whole
   pipeline (:func:`helpers.processing.load_survey`) on CSV and Parquet files written from them.

Each property also checks that the input file is byte-identical after reading.  The escapes the
fuzzer found are pinned as plain regression tests at the end (and as files in tests/corpus/).

The runs are deterministic (``derandomize=True``, no example database) so CI sees the same
examples every time; ``max_examples`` is sized so the file runs in under a minute (validation is
pandera-bound at ~0.15 s per frame, and SPSS/Stata files are read in a child process at ~0.5 s
each, so those properties get fewer examples).  ``FUZZ_EXPLORE=N`` runs N times as many from a
random seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyarrow import ArrowException

from helpers.codebook import load_codebook
from helpers.errors import DataError
from helpers.io import read_raw
from helpers.mapping import Mapping, apply_mapping, load_mapping
from helpers.processing import load_survey
from helpers.validate import ValidationReport, validate_survey

CORPUS = Path(__file__).parent / "corpus"
CB = load_codebook()
EXPLORE = int(os.environ.get("FUZZ_EXPLORE", "0") or 0)


def fuzz(max_examples: int) -> Callable[[Any], Any]:
    """Deterministic hypothesis settings for this file.

    ``FUZZ_EXPLORE=N`` (e.g. ``FUZZ_EXPLORE=20 pytest tests/test_fuzz.py``) runs N times as
    many examples from a random seed, to hunt for new failures outside CI.
    """
    return settings(max_examples=max_examples * max(EXPLORE, 1), deadline=None,
                    derandomize=not EXPLORE, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def only_data_error(call: Callable[[], Any]) -> Any:
    """Run ``call``; a DataError is fine (and must say which rule), anything else fails the test."""
    try:
        return call()
    except DataError as exc:
        assert exc.rule and str(exc), "a DataError must name its rule and carry a message"
        return None


def assert_unchanged(df: pd.DataFrame, original: pd.DataFrame) -> None:
    """``df`` still equals its deep copy ``original`` (cell by cell; cells may be lists or sets)."""
    assert list(df.columns) == list(original.columns) and df.index.equals(original.index)
    assert list(df.dtypes) == list(original.dtypes)
    for j in range(df.shape[1]):
        assert list(map(repr, df.iloc[:, j])) == list(map(repr, original.iloc[:, j]))
    assert df.attrs == original.attrs


def read_checked(path: Path, **options: Any) -> pd.DataFrame | None:
    """read_raw raising only DataError, leaving the file unchanged; checks what it returns."""
    before = sha(path)
    df = only_data_error(lambda: read_raw(path, **options))
    assert sha(path) == before
    if df is not None:
        assert len(df) > 0
        assert df.columns.is_unique
        assert all(isinstance(c, str) for c in df.columns)
        json.dumps(df.attrs, default=str)
    return df


# --- 1. the raw reader --------------------------------------------------------------------------

CELL_ALPHABET = st.sampled_from(
    list("abcXYZ019 .,;:|\t\"'\r\n-+eE") + ["\x00", "\ufeff", "\u00a0", "\u202f", "ä", "ø", "€",
                                             "Ø", "ß", "\x81", "\x1a", "\u2028", "#N/A", "NA",
                                             "ImportId", "{", "}", "V1", "V2", "V3"])
SPECIAL_CELLS = st.sampled_from([
    '{"ImportId":"QID1"}', "{'ImportId': 'QID2_TEXT'}", "StartDate", "Start Date", "ResponseId",
    "Response ID", "V1", "V2", "V3", "Q1", "3,5", "1.234,56", "1\u00a0234,5", "007",
    "99999999999999999999999", "1e400", "-0", "31.12.2024", "#N/A", "n/a", "NULL", "respondent_id",
    "role", "imp_1", "", " "])
cells = st.one_of(st.lists(CELL_ALPHABET, max_size=12).map("".join), SPECIAL_CELLS)
long_cells = st.integers(min_value=1_000, max_value=200_000).map(lambda n: "x" * n)
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-16-be"]


@st.composite
def delimited_text(draw: st.DrawFn) -> bytes:
    """A header and rows of random cells with a random delimiter, line ending and encoding."""
    sep = draw(st.sampled_from([",", ";", "\t", "|", ":", " "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    width = draw(st.integers(min_value=1, max_value=8))
    n_rows = draw(st.integers(min_value=0, max_value=8))
    rows = []
    for _ in range(n_rows + 1):
        row_width = draw(st.sampled_from([width, width, width, max(1, width - 1), width + 1]))
        row = draw(st.lists(st.one_of(cells, cells, cells, long_cells), min_size=row_width,
                            max_size=row_width))
        if draw(st.booleans()):
            row = ['"' + c.replace('"', '""') + '"' if sep in c or '"' in c else c for c in row]
        rows.append(sep.join(row))
    text = newline.join(rows) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


@fuzz(250)
@given(data=st.binary(max_size=3_000), suffix=st.sampled_from([".csv", ".tsv", ".txt"]))
def test_random_bytes_as_text(fuzz_dir: Path, data: bytes, suffix: str) -> None:
    path = fuzz_dir / f"random{suffix}"
    path.write_bytes(data)
    read_checked(path)


@fuzz(250)
@given(data=delimited_text(), options=st.sampled_from(
    [{}, {}, {}, {"sep": ";"}, {"decimal": ","}, {"encoding": "cp1252"}, {"header_rows": 2},
     {"na_values": ["-", "99"]}, {"encoding": "utf-16"}]))
def test_random_delimited_text(fuzz_dir: Path, data: bytes, options: dict[str, Any]) -> None:
    path = fuzz_dir / "text.csv"
    path.write_bytes(data)
    read_checked(path, **options)


def _seed_files() -> dict[str, bytes]:
    parquet = io.BytesIO()
    pd.DataFrame({"respondent_id": ["R1", "R2"], "imp_1": [4, 5]}).to_parquet(parquet)
    return {
        ".xlsx": (CORPUS / "excel_merged_header.xlsx").read_bytes(),
        ".sav": (CORPUS / "spss_user_missing.sav").read_bytes(),
        ".dta": (CORPUS / "stata_extended_missing.dta").read_bytes(),
        ".parquet": parquet.getvalue(),
    }


SEEDS = _seed_files()


@st.composite
def mutated_binary(draw: st.DrawFn, suffixes: tuple[str, ...]) -> tuple[str, bytes]:
    """A valid Excel/SPSS/Stata/Parquet file with bytes flipped, inserted or cut off."""
    suffix = draw(st.sampled_from(suffixes))
    data = bytearray(SEEDS[suffix])
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data[position] = draw(st.integers(min_value=0, max_value=255))
    if draw(st.booleans()):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        data[position:position] = draw(st.binary(min_size=1, max_size=16))
    if draw(st.booleans()):
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    return suffix, bytes(data)


@fuzz(250)
@given(case=mutated_binary((".xlsx", ".parquet")))
def test_mutated_excel_and_parquet_files(fuzz_dir: Path, case: tuple[str, bytes]) -> None:
    suffix, data = case
    path = fuzz_dir / f"mutated{suffix}"
    path.write_bytes(data)
    read_checked(path)


@fuzz(10)
@given(case=mutated_binary((".sav", ".dta")))
def test_mutated_spss_and_stata_files(fuzz_dir: Path, case: tuple[str, bytes]) -> None:
    """pyreadstat runs in a child process (~0.5 s each), hence few examples here; a crash of the
    C library must come back as a DataError (tests/corpus/spss_crashes_reader.sav is the
    regression case the explorer found)."""
    suffix, data = case
    path = fuzz_dir / f"mutated{suffix}"
    path.write_bytes(data)
    read_checked(path)


XML_BITS = st.sampled_from(["<", ">", "/", '"', "=", "&", ";", "<c r=\"A1\" t=\"s\"><v>99</v></c>",
                            "<row r=\"1\">", "</row>", "t=\"e\"", "<v>", "</v>", "-1", "1e309",
                            "A1048577", "XFD1", "r=\"0\"", "\x00", "é", "<!--", "]]>"])


@st.composite
def mutated_workbook(draw: st.DrawFn) -> bytes:
    """The corpus workbook with random splices in its XML parts (sheet, strings, workbook)."""
    source = zipfile.ZipFile(io.BytesIO(SEEDS[".xlsx"]))
    names = [n for n in source.namelist() if n.endswith(".xml")]
    target_name = draw(st.sampled_from(names))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == target_name:
                text = data.decode("utf-8")
                for _ in range(draw(st.integers(min_value=1, max_value=4))):
                    start = draw(st.integers(min_value=0, max_value=len(text)))
                    stop = draw(st.integers(min_value=start, max_value=min(len(text), start + 40)))
                    text = text[:start] + draw(XML_BITS) + text[stop:]
                data = text.encode("utf-8")
            target.writestr(name, data)
    return out.getvalue()


@fuzz(150)
@given(data=mutated_workbook())
def test_mutated_workbook_xml(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "mutated_xml.xlsx"
    path.write_bytes(data)
    read_checked(path)


# --- 2. the mapping -----------------------------------------------------------------------------

NAMES = ["Q1", "Q2", "Q3", "role", "imp_1", "wave", "firm_id", "respondent_id", "ResponseId", "2_1"]
scalars = st.one_of(
    st.sampled_from(NAMES), st.text(max_size=8), st.integers(), st.integers(min_value=-10**30,
                                                                            max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), st.just(10**400),
    st.sampled_from(["Agree", "CMO", "Marketingleiter", "IT-chef", " cio ", "nan", "inf", "1e999",
                     "-0", "4.0", "", "null", "~", "Yes", "No"]))
names = st.one_of(st.sampled_from(NAMES), scalars)
yaml_values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(scalars, children, max_size=3)), max_leaves=8)


def sometimes_wrong(draw: st.DrawFn, good: st.SearchStrategy[Any]) -> Any:
    """Mostly ``good``, one time in ten any YAML value (a wrong type)."""
    return draw(yaml_values) if draw(st.integers(min_value=0, max_value=9)) == 0 else draw(good)


@st.composite
def mapping_structure(draw: st.DrawFn) -> Any:
    """A mostly well-formed mapping dict with random names, labels, values and wrong types."""
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        return draw(yaml_values)
    raw: dict[Any, Any] = {}
    if draw(st.booleans()):
        raw["columns"] = sometimes_wrong(draw, st.dictionaries(
            st.sampled_from(NAMES) | scalars, st.sampled_from(NAMES) | scalars, max_size=5))
    if draw(st.booleans()):
        labels = st.dictionaries(scalars, scalars, max_size=5)
        raw["recode"] = sometimes_wrong(draw, st.dictionaries(names, labels, max_size=4))
    if draw(st.booleans()):
        raw["drop"] = sometimes_wrong(draw, st.lists(names, max_size=3))
    if draw(st.booleans()):
        raw["value_labels"] = sometimes_wrong(draw, st.booleans())
    if draw(st.booleans()):
        raw["source"] = draw(scalars)
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        raw[draw(scalars)] = draw(yaml_values)
    return raw


cell_values = st.one_of(
    st.none(), st.integers(min_value=-5, max_value=10), st.integers(), st.floats(),
    st.booleans(), st.text(max_size=6),
    st.sampled_from(["Agree", "CMO", "CIO", "Marketingleiter", "Hoofd IT", "4", " 5 ", "3,5", "",
                     "nan", "1e999", "99999999999999999999999", "Ärger"]),
    st.just(10**40), st.just(10**400), st.just(float("nan")))


@st.composite
def labelled_frame(draw: st.DrawFn) -> pd.DataFrame:
    """A small frame whose columns come from NAMES, with random cells and SPSS-like attrs."""
    columns = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    n = draw(st.integers(min_value=0, max_value=5))
    df = pd.DataFrame({c: pd.Series(draw(st.lists(cell_values, min_size=n, max_size=n)),
                                    dtype=object) for c in columns})
    codes = st.one_of(st.integers(min_value=-99, max_value=99), st.floats(), st.text(max_size=3),
                      st.just(10**40), st.just(10**400), st.booleans())
    labels = draw(st.dictionaries(st.sampled_from(columns),
                                  st.dictionaries(codes, st.text(max_size=8) | cell_values,
                                                  max_size=4), max_size=3))
    if draw(st.integers(min_value=0, max_value=9)) == 0:  # attrs set by hand, any shape
        labels = draw(st.one_of(yaml_values, st.dictionaries(st.sampled_from(columns),
                                                             yaml_values, max_size=2)))
    df.attrs = {"source": "fuzz.sav", "format": "spss", "question_text": {},
                "value_labels": labels, "missing_codes": {}}
    return df


def _dump(structure: Any) -> str:
    """YAML text of a structure (float keys and NaN included)."""
    try:
        return yaml.safe_dump(structure, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return repr(structure)


@fuzz(300)
@given(text=st.one_of(st.text(max_size=300), mapping_structure().map(_dump)))
def test_random_mapping_yaml(fuzz_dir: Path, text: str) -> None:
    path = fuzz_dir / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    before = sha(path)
    mapping = only_data_error(lambda: load_mapping(path))
    assert sha(path) == before
    if mapping is not None:
        assert isinstance(mapping, Mapping)
        df = pd.DataFrame({"Q1": ["Agree", "4"], "role": ["CMO", "IT-chef"]})
        only_data_error(lambda: apply_mapping(df, mapping))


@fuzz(300)
@given(structure=mapping_structure(), df=labelled_frame())
def test_random_mapping_applied(fuzz_dir: Path, structure: Any, df: pd.DataFrame) -> None:
    path = fuzz_dir / "structure.yaml"
    path.write_text(_dump(structure), encoding="utf-8")
    mapping = only_data_error(lambda: load_mapping(path))
    if mapping is None:
        return
    original = df.copy(deep=True)
    out = only_data_error(lambda: apply_mapping(df, mapping))
    assert_unchanged(df, original)  # the input frame is never mutated
    if out is not None:
        assert len(out) == len(df)
        assert out.columns.is_unique


# --- 3. validation and the whole pipeline -------------------------------------------------------

KNOWN = [*CB.fields, *CB.items]
survey_values = st.one_of(
    st.none(), st.just(np.nan), st.integers(min_value=-3, max_value=8), st.integers(),
    st.floats(), st.booleans(), st.text(max_size=6),
    st.sampled_from([*CB.roles, "cmo", "Marketingleiter", "CTO", *(CB.fields["country"].values or []),
                     "Retail", "<250", "5000+", "EN", "DE", "R1", "R2", "F1", "F2", " 4 ", "3,5",
                     "", "  ", "inf", "-inf", "nan", "1e400", "99999999999999999999999", "Ärger",
                     "\u00a0", "0x10", "١٢"]),
    st.just(10**30), st.just(-(10**30)), st.just(10**400), st.just(float("inf")),
    st.just("1" * 400))
# what Parquet, Excel or a notebook can put into a cell besides numbers and text
exotic_values = st.sampled_from([
    [1, 2], [], {"a": 1}, b"\x00\xff", bytearray(b"4"), Decimal("3.5"), Decimal("NaN"),
    pd.Timestamp("2024-12-31"), pd.NaT, pd.NA, dt.date(2024, 12, 31), dt.time(9, 30),
    pd.Timedelta("1h"), np.int64(4), np.float32(2.5), np.bool_(True), np.datetime64("NaT"),
    complex(1, 2), (1, 2), frozenset({3})])
survey_or_exotic = st.one_of(survey_values, survey_values, survey_values, exotic_values)


@st.composite
def survey_frames(draw: st.DrawFn, values: st.SearchStrategy[Any] = survey_values
                  ) -> pd.DataFrame:
    """Random codebook columns (required ones usually present), a few unknown or repeated names,
    mixed-type cells and sometimes a non-default index."""
    required = list(CB.required_fields) if draw(st.booleans()) else []
    chosen = draw(st.lists(st.sampled_from(KNOWN), max_size=12, unique=True))
    columns = list(dict.fromkeys([*required, *chosen]))
    columns += draw(st.lists(st.sampled_from(["extra", "Q1", "", "imp_1", "role"]), max_size=2))
    n = draw(st.integers(min_value=0, max_value=8))
    records = [[draw(values) for _ in columns] for _ in range(n)]
    df = pd.DataFrame(records, columns=columns, dtype=object) if columns else pd.DataFrame(
        index=range(n))
    kind = draw(st.sampled_from(["plain", "plain", "typed", "index"]))
    if kind == "typed":  # let pandas infer dtypes per column, as read_raw does
        df = df.infer_objects()
    elif kind == "index" and n:
        df.index = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=n, max_size=n))
    return df


@fuzz(100)
@given(df=survey_frames(survey_or_exotic))
def test_validate_always_returns_a_report(df: pd.DataFrame) -> None:
    original = df.copy(deep=True)
    report = validate_survey(df, CB, file="fuzz.csv")
    assert isinstance(report, ValidationReport)
    assert report.n_rows == len(df)
    for issue in [*report.errors, *report.warnings]:
        assert issue.rule and issue.file == "fuzz.csv"
        assert all(isinstance(r, int) and 1 <= r <= len(df) for r in issue.rows)
    str(report)
    report.to_frame()
    if not report.ok:
        with pytest.raises(DataError):
            report.raise_for_errors()
    assert_unchanged(df, original)


@fuzz(80)
@given(df=survey_frames(), sep=st.sampled_from([",", ";"]))
def test_load_survey_raises_only_data_error(fuzz_dir: Path, df: pd.DataFrame, sep: str) -> None:
    path = fuzz_dir / "survey.csv"
    path.write_text(df.to_csv(index=False, sep=sep), encoding="utf-8")
    before = sha(path)
    result = only_data_error(lambda: load_survey(path))
    assert sha(path) == before
    if result is not None:
        frame, report = result
        assert report.n_rows == len(frame)
        if not report.ok:
            with pytest.raises(DataError) as info:
                report.raise_for_errors()
            assert path.name in str(info.value)


@fuzz(50)
@given(df=survey_frames(survey_or_exotic))
def test_load_survey_from_parquet(fuzz_dir: Path, df: pd.DataFrame) -> None:
    """Parquet carries any cell type (lists, bytes, dates, decimals) into the pipeline."""
    path = fuzz_dir / "survey.parquet"
    try:
        df.to_parquet(path)
    except (ValueError, TypeError, OverflowError, ArrowException):
        assume(False)  # pyarrow cannot store this mix of types; not an input we can get
    result = only_data_error(lambda: load_survey(path))
    if result is not None:
        assert result[1].n_rows == len(result[0])


excel_cells = st.one_of(
    st.none(), st.integers(min_value=-(10**15), max_value=10**15), st.floats(allow_nan=False,
                                                                           allow_infinity=False),
    st.booleans(), st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                           max_size=8),
    st.sampled_from(["#N/A", "#DIV/0!", "=1+1", "3,5", "respondent_id", "imp_1", "CMO", " "]),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.dates(min_value=dt.date(1900, 3, 1)), st.times())


@st.composite
def workbooks(draw: st.DrawFn) -> bytes:
    """A valid .xlsx with random typed cells, header-like rows and random merged ranges."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    width = draw(st.integers(min_value=1, max_value=6))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        sheet.append(draw(st.lists(excel_cells, min_size=width, max_size=width)))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        r1, c1 = draw(st.integers(1, 7)), draw(st.integers(1, 7))
        sheet.merge_cells(start_row=r1, start_column=c1, end_row=r1 + draw(st.integers(0, 2)),
                          end_column=c1 + draw(st.integers(0, 2)))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@fuzz(80)
@given(data=workbooks())
def test_random_workbooks(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "random.xlsx"
    path.write_bytes(data)
    read_checked(path)
    only_data_error(lambda: load_survey(path))


# --- regressions: escapes the fuzzer found, pinned as plain tests -----------------------------


def test_huge_integer_labels_in_a_mapping(tmp_path: Path) -> None:
    """float(10**400) overflowed in mapping._key and _sort_key (OverflowError escaped)."""
    path = tmp_path / "mapping.yaml"
    path.write_text(f"recode:\n  imp_1: {{{10**400}: 1, Agree: 4}}\n", encoding="utf-8")
    mapping = load_mapping(path)
    df = pd.DataFrame({"imp_1": pd.Series([10**400, "Agree", 10**401, 3], dtype=object)})
    out = apply_mapping(df, mapping)
    assert out["imp_1"].tolist() == [1, 4, 10**401, 3]
    assert out.attrs["unmapped_labels"] == {"imp_1": [3, 10**401]}  # neither label nor target


def test_value_labels_of_any_shape(tmp_path: Path) -> None:
    """A list as a value label (hand-made attrs, e.g. from Parquet) was used as a dict key."""
    path = tmp_path / "mapping.yaml"
    path.write_text("value_labels: true\n", encoding="utf-8")
    df = pd.DataFrame({"Q1": ["Agree", "x"], "Q2": ["a", "b"]})
    df.attrs["value_labels"] = {"Q1": {1: ["Disagree"], 4: "Agree"}, "Q2": "not a dict"}
    out = apply_mapping(df, load_mapping(path))
    assert out["Q1"].tolist() == [4, "x"] and out["Q2"].tolist() == ["a", "b"]


def test_bytes_in_a_numeric_column() -> None:
    """Showing the offending values decoded bytes as UTF-8 (UnicodeDecodeError escaped)."""
    df = pd.DataFrame({"imp_1": pd.Series([b"\x00\xff", 3], dtype=object)})
    report = validate_survey(df, CB, file="bytes.parquet")
    issue = next(i for i in report.errors if i.rule == "not-numeric")
    assert issue.column == "imp_1" and list(issue.rows) == [1] and "xff" in issue.message


def test_huge_integers_in_validation() -> None:
    """pandas.to_numeric raised OverflowError on 10**400 next to other values."""
    df = pd.DataFrame({"imp_1": pd.Series([10**400, 3, "1" * 400], dtype=object),
                       "wave": pd.Series([-(10**400), 1, 2], dtype=object)})
    report = validate_survey(df, CB, file="big.csv")
    rows = {(i.rule, i.column): list(i.rows) for i in report.errors}
    assert rows[("out-of-range", "imp_1")] == [1, 3]
    assert rows[("out-of-range", "wave")] == [1]


def test_long_integers_stay_text(tmp_path: Path) -> None:
    """A 23-digit number used to become a column of Python ints (object dtype)."""
    path = tmp_path / "ids.csv"
    path.write_bytes(b"id,n\n99999999999999999999999,1\n12,2\n")
    df = read_raw(path)
    assert df["id"].tolist() == ["99999999999999999999999", "12"]
    assert df["n"].tolist() == [1, 2]


def test_non_ascii_digits_stay_text(tmp_path: Path) -> None:
    """re's \\d matched "٠" (Arabic-Indic zero), then pandas.to_numeric raised ValueError."""
    path = tmp_path / "digits.csv"
    path.write_bytes("id,n,m\n1,\u0660,\uff15\n2,3,4\n".encode())
    df = read_raw(path)
    assert df["n"].tolist() == ["\u0660", "3"] and df["m"].tolist() == ["\uff15", "4"]
    assert df["id"].tolist() == [1, 2]


def test_complex_numbers_are_not_answers() -> None:
    """A complex column was cast to float, silently dropping the imaginary part (4+0j is 4)."""
    df = pd.DataFrame({"imp_1": [3 + 2j, 4 + 0j], "imp_2": pd.Series([3 + 2j, 4], dtype=object)})
    report = validate_survey(df, CB, file="complex.parquet")
    rows = {i.column: list(i.rows) for i in report.errors if i.rule == "not-numeric"}
    assert rows == {"imp_1": [1], "imp_2": [1]}


def test_non_finite_numbers_are_not_accepted() -> None:
    """Regression (found by the fuzzer): "inf" passed as a completion time and 1e400 as a wave."""
    df = pd.DataFrame({"duration_seconds": ["inf", 600, 1e400], "imp_1": [math.inf, 3, 4]})
    report = validate_survey(df, CB, file="inf.csv")
    rules = {(i.rule, i.column): list(i.rows) for i in report.errors}
    assert rules[("out-of-range", "duration_seconds")] == [1, 3]
    assert rules[("out-of-range", "imp_1")] == [1]
