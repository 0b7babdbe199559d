"""Tests for helpers.io.read_raw: every fixture file is generated into tmp_path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest

from helpers.errors import DataError
from helpers.io import read_raw


def read_unchanged(path: Path, **options: object) -> pd.DataFrame:
    """read_raw, asserting that the raw file's bytes are the same afterwards."""
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        return read_raw(path, **options)
    finally:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expect_error(path: Path, rule: str, **options: object) -> DataError:
    with pytest.raises(DataError) as info:
        read_unchanged(path, **options)
    assert info.value.rule == rule
    assert path.name in str(info.value)
    return info.value


# --- CSV ----------------------------------------------------------------------------------------


def test_comma_csv_values_and_dtypes(tmp_path: Path) -> None:
    path = write(tmp_path, "wave1.csv", b"id,score,name\n1,3.5,Anna\n2,4,Bob\n3,,Cleo\n")
    df = read_unchanged(path)
    assert list(df.columns) == ["id", "score", "name"]
    assert df["id"].tolist() == [1, 2, 3]
    assert df["id"].dtype == np.int64
    assert df["score"].iloc[:2].tolist() == [3.5, 4.0] and np.isnan(df["score"].iloc[2])
    assert df["name"].dtype == object and df["name"].tolist() == ["Anna", "Bob", "Cleo"]
    assert df.attrs["source"] == str(path)
    assert df.attrs["format"] == "csv"
    assert df.attrs["sep"] == ","
    assert df.attrs["question_text"] == {} and df.attrs["value_labels"] == {}
    json.dumps(df.attrs)  # plain JSON-able metadata


def test_semicolon_csv_with_decimal_comma(tmp_path: Path) -> None:
    text = "id ; score;amount;name\n1;3,5;1.234,56;Anna\n2;4;12;Bob\n3;-0,25; 7 ;Cleo\n"
    df = read_unchanged(write(tmp_path, "de.csv", text.encode()))
    assert list(df.columns) == ["id", "score", "amount", "name"]  # header whitespace stripped
    assert df["score"].tolist() == [3.5, 4.0, -0.25]
    assert df["amount"].tolist() == [1234.56, 12.0, 7.0]
    assert df["name"].tolist() == ["Anna", "Bob", "Cleo"]
    assert df.attrs["sep"] == ";"


def test_comma_csv_keeps_quoted_multiselect_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "multi.csv", b'id,Q5\n1,"1,3"\n2,"2"\n')
    assert read_unchanged(path)["Q5"].tolist() == ["1,3", "2"]


def test_mixed_text_and_numbers_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.csv", b"id,imp_1\n1,4\n2,four\n3,\n")
    column = read_unchanged(path)["imp_1"]
    assert column.dtype == object
    assert column.iloc[:2].tolist() == ["4", "four"] and pd.isna(column.iloc[2])


def test_leading_zero_identifiers_stay_text(tmp_path: Path) -> None:
    df = read_unchanged(write(tmp_path, "ids.csv", b"id,postcode\n1,01067\n2,80331\n"))
    assert df["postcode"].tolist() == ["01067", "80331"]


def test_utf8_bom_is_stripped_from_first_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", "\ufeffid;name\n1;Jürgen\n".encode())
    df = read_unchanged(path)
    assert list(df.columns) == ["id", "name"]
    assert df.loc[0, "name"] == "Jürgen"
    assert df.attrs["encoding"] == "utf-8"


def test_cp1252_umlauts_and_danish_letters(tmp_path: Path) -> None:
    names = ["Müller", "Straße", "Ålborg", "Søren", "Æbeløe"]
    text = "id;name;Größe\n" + "".join(f"{i};{n};1,5\n" for i, n in enumerate(names, 1))
    df = read_unchanged(write(tmp_path, "win.csv", text.encode("cp1252")))
    assert df["name"].tolist() == names
    assert list(df.columns) == ["id", "name", "Größe"]
    assert df["Größe"].tolist() == [1.5] * 5
    assert df.attrs["encoding"] == "cp1252"


def test_latin1_file(tmp_path: Path) -> None:
    text = "id,city\n1,København\n2,Düsseldorf\n3,Århus\n"
    df = read_unchanged(write(tmp_path, "latin.csv", text.encode("latin-1")))
    assert df["city"].tolist() == ["København", "Düsseldorf", "Århus"]


def test_latin1_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    data = "id,name\n1,Ærø\n".encode("latin-1") + b"2,x\x81y\n"
    df = read_unchanged(write(tmp_path, "odd.csv", data))
    assert df["name"].tolist() == ["Ærø", "x\x81y"]
    assert df.attrs["encoding"] == "latin-1"


def test_explicit_encoding_option(tmp_path: Path) -> None:
    path = write(tmp_path, "enc.csv", "id,name\n1,Søren\n".encode("cp1252"))
    assert read_unchanged(path, encoding="cp1252")["name"].tolist() == ["Søren"]
    expect_error(path, "encoding", encoding="utf-8")


def test_tab_separated(tmp_path: Path) -> None:
    data = b"id\tscore\tcomment\n1\t2,5\tgood, really\n2\t3\tok\n"
    for name in ("tabs.tsv", "tabs.txt"):
        df = read_unchanged(write(tmp_path, name, data))
        assert df.attrs["sep"] == "\t"
        assert df["score"].tolist() == [2.5, 3.0]
        assert df["comment"].tolist() == ["good, really", "ok"]


def test_utf16_excel_unicode_text(tmp_path: Path) -> None:
    data = "id\tname\n1\tØrsted\n".encode("utf-16")
    df = read_unchanged(write(tmp_path, "unicode.txt", data))
    assert df["name"].tolist() == ["Ørsted"] and df["id"].tolist() == [1]


def test_explicit_sep_decimal_and_na_values(tmp_path: Path) -> None:
    path = write(tmp_path, "opts.csv", b"id|score\n1|2,5\n2|weiss nicht\n3|4\n")
    df = read_unchanged(path, sep="|", decimal=",", na_values=["weiss nicht"])
    assert df["score"].iloc[[0, 2]].tolist() == [2.5, 4.0] and pd.isna(df["score"].iloc[1])


def test_trailing_delimiter_and_blank_rows_are_dropped(tmp_path: Path) -> None:
    df = read_unchanged(write(tmp_path, "excel.csv", b"id;x;\n1;2;\n;;\n2;3;\n"))
    assert list(df.columns) == ["id", "x"]
    assert df["x"].tolist() == [2, 3]


def test_repeated_header_row_in_csv_is_dropped(tmp_path: Path) -> None:
    df = read_unchanged(write(tmp_path, "concat.csv", b"id,x\n1,2\nid,x\n2,3\n"))
    assert df["id"].tolist() == [1, 2] and df["x"].tolist() == [2, 3]


def test_format_override_for_unknown_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "export.dat", b"a;b\n1;2\n")
    expect_error(path, "unknown-format")
    assert read_unchanged(path, format="csv")["b"].tolist() == [2]
    expect_error(path, "unknown-format", format="sas")


def test_duplicate_column_names_are_rejected(tmp_path: Path) -> None:
    error = expect_error(write(tmp_path, "dup.csv", b"id,q1,q1\n1,2,3\n"), "duplicate-column")
    assert error.column == "q1"


def test_malformed_csv(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "bad.csv", b"a,b\n1,2\n1,2,3\n"), "malformed-csv")


# --- Qualtrics ----------------------------------------------------------------------------------

QUALTRICS_NAMES = "StartDate,EndDate,Duration (in seconds),ResponseId,Q1_1,Q_role\n"
QUALTRICS_TEXTS = ('Start Date,End Date,Duration (in seconds),Response ID,'
                   '"How important is IT, really? - Marketing",What is your role?\n')
QUALTRICS_DATA = ("2024-03-01 10:00:00,2024-03-01 10:09:00,540,R_abc,4,CMO\n"
                  "2024-03-02 11:00:00,2024-03-02 11:05:00,300,R_def,5,CIO\n")
IMPORT_IDS = ["startDate", "endDate", "duration", "_recordId", "QID12_1", "QID3"]


def check_qualtrics(df: pd.DataFrame) -> None:
    assert list(df.columns) == QUALTRICS_NAMES.strip().split(",")
    assert len(df) == 2
    assert df["Duration (in seconds)"].tolist() == [540, 300]
    assert df["Duration (in seconds)"].dtype == np.int64
    assert df["Q1_1"].tolist() == [4, 5]
    assert df["ResponseId"].tolist() == ["R_abc", "R_def"]
    assert df.attrs["format"] == "qualtrics"
    assert df.attrs["question_text"]["Q1_1"] == "How important is IT, really? - Marketing"
    assert df.attrs["question_text"]["StartDate"] == "Start Date"


def test_qualtrics_three_row_header(tmp_path: Path) -> None:
    ids = ",".join(f'"{{""ImportId"":""{i}""}}"' for i in IMPORT_IDS)
    ids = ids.replace('startDate""}', 'startDate"",""timeZone"":""Europe/Berlin""}')
    text = QUALTRICS_NAMES + QUALTRICS_TEXTS + ids + "\n" + QUALTRICS_DATA
    df = read_unchanged(write(tmp_path, "qualtrics.csv", text.encode("utf-8-sig")))
    check_qualtrics(df)
    assert df.attrs["import_ids"] == dict(zip(df.columns, IMPORT_IDS, strict=True))


def test_qualtrics_single_quoted_import_ids(tmp_path: Path) -> None:
    ids = ",".join(f"\"{{'ImportId': '{i}'}}\"" for i in IMPORT_IDS)
    text = QUALTRICS_NAMES + QUALTRICS_TEXTS + ids + "\n" + QUALTRICS_DATA
    df = read_unchanged(write(tmp_path, "qualtrics_old.csv", text.encode()))
    check_qualtrics(df)
    assert df.attrs["import_ids"]["Q1_1"] == "QID12_1"


def test_qualtrics_missing_import_id_row(tmp_path: Path) -> None:
    text = QUALTRICS_NAMES + QUALTRICS_TEXTS + QUALTRICS_DATA
    df = read_unchanged(write(tmp_path, "qualtrics_2rows.csv", text.encode()))
    check_qualtrics(df)
    assert df.attrs["import_ids"] == {}


def test_qualtrics_legacy_two_row_header(tmp_path: Path) -> None:
    text = ("V1,V2,V3,V4,V5,Q1,Q2_1\n"
            "ResponseID,ResponseSet,Name,ExternalDataReference,StartDate,"
            "Your role,Trust in IT - Marketing\n"
            "R_1,Default Response Set,Anonymous,,2014-05-01 10:00:00,CMO,4\n"
            "R_2,Default Response Set,Anonymous,,2014-05-02 10:00:00,IT-Leiter,2\n")
    df = read_unchanged(write(tmp_path, "legacy.csv", text.encode()))
    assert df.attrs["format"] == "qualtrics_legacy"
    assert list(df.columns) == ["V1", "V2", "V3", "V4", "V5", "Q1", "Q2_1"]
    assert df["Q2_1"].tolist() == [4, 2]
    assert df["Q1"].tolist() == ["CMO", "IT-Leiter"]
    assert df.attrs["question_text"]["V1"] == "ResponseID"
    assert df.attrs["question_text"]["Q2_1"] == "Trust in IT - Marketing"


def test_v_named_columns_with_numeric_data_are_not_legacy_qualtrics(tmp_path: Path) -> None:
    df = read_unchanged(write(tmp_path, "r_export.csv", b"V1,V2,V3\n1,2,3\n4,5,6\n"))
    assert df.attrs["format"] == "csv" and len(df) == 2


def test_qualtrics_header_only_has_no_data_rows(tmp_path: Path) -> None:
    text = QUALTRICS_NAMES + QUALTRICS_TEXTS
    expect_error(write(tmp_path, "q_empty.csv", text.encode()), "no-data-rows")


# --- Excel --------------------------------------------------------------------------------------


def save_workbook(path: Path, rows: list[list[object]], merges: tuple[str, ...] = (),
                  title: str = "Data") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
    workbook.create_sheet("Notes").append(["not the data"])
    workbook.save(path)
    return path


def test_excel_plain_header(tmp_path: Path) -> None:
    path = save_workbook(tmp_path / "plain.xlsx",
                         [["id", "role", "imp_1"], [1, "CMO", 4], [2, "CIO", 5.5]])
    df = read_unchanged(path)
    assert df["id"].tolist() == [1, 2] and df["imp_1"].tolist() == [4.0, 5.5]
    assert df["role"].tolist() == ["CMO", "CIO"]
    assert df.attrs["format"] == "excel" and df.attrs["sheet"] == "Data"


def test_excel_sheet_option(tmp_path: Path) -> None:
    path = save_workbook(tmp_path / "sheets.xlsx", [["id"], [1]])
    workbook = openpyxl.load_workbook(path)
    workbook["Notes"].append(["second row"])
    workbook.save(path)
    assert read_unchanged(path, sheet="Notes")["not the data"].tolist() == ["second row"]
    assert read_unchanged(path, sheet=1).attrs["sheet"] == "Notes"
    error = expect_error(path, "sheet-not-found", sheet="Wave 3")
    assert "Notes" in (error.hint or "")


def test_excel_decimal_comma_strings(tmp_path: Path) -> None:
    path = save_workbook(tmp_path / "comma.xlsx",
                         [["id", "score", "label"], [1, "3,5", "a"], [2, 4, "b"],
                          [3, "1.234,5", "c"]])
    df = read_unchanged(path)
    assert df["score"].tolist() == [3.5, 4.0, 1234.5]
    assert df["label"].tolist() == ["a", "b", "c"]


def test_excel_two_header_rows_with_merged_top_row(tmp_path: Path) -> None:
    rows = [["respondent_id", "Trust", None, "role"],
            [None, "trust_1", "trust_2", None],
            [1, 4, 5, "CMO"], [2, 2, "3,5", "CIO"]]
    path = save_workbook(tmp_path / "merged.xlsx", rows, merges=("B1:C1",))
    for options in ({}, {"header_rows": 2}):
        df = read_unchanged(path, **options)
        assert list(df.columns) == ["respondent_id", "trust_1", "trust_2", "role"]
        assert df["trust_1"].tolist() == [4, 2] and df["trust_2"].tolist() == [5.0, 3.5]
        assert df.attrs["question_text"] == {"trust_1": "Trust", "trust_2": "Trust"}


def test_excel_repeated_header_rows_inside_data(tmp_path: Path) -> None:
    header = ["id", "imp_1", "role"]
    rows = [header, [1, 4, "CMO"], [2, 3, "CIO"], header, [3, 5, "CMO"], [None, None, None]]
    df = read_unchanged(save_workbook(tmp_path / "pasted.xlsx", rows))
    assert df["id"].tolist() == [1, 2, 3]
    assert df["imp_1"].tolist() == [4, 3, 5] and df["imp_1"].dtype == np.int64


def test_excel_empty_sheet(tmp_path: Path) -> None:
    path = save_workbook(tmp_path / "empty.xlsx", [])
    assert "Data" in str(expect_error(path, "empty-file"))


def test_excel_header_only(tmp_path: Path) -> None:
    expect_error(save_workbook(tmp_path / "head.xlsx", [["id", "x"]]), "no-data-rows")


def test_corrupt_xlsx(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "broken.xlsx", b"PK\x03\x04 not really a zip"),
                 "unreadable-file")


@pytest.mark.skipif(importlib.util.find_spec("xlrd") is not None, reason="xlrd is installed")
def test_legacy_xls_without_xlrd(tmp_path: Path) -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    expect_error(write(tmp_path, "old.xls", ole2), "unsupported-format")


# --- SPSS, Stata, Parquet -----------------------------------------------------------------------


def spss_frame() -> pd.DataFrame:
    return pd.DataFrame({"respondent_id": ["a", "b", "c", "d"],
                         "role": [1.0, 2.0, 1.0, 2.0],
                         "trust_1": [4.0, 9.0, 2.0, -99.0]})


@pytest.mark.parametrize("name", ["survey.sav", "survey.zsav"])
def test_spss_value_labels_and_user_missing(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    pyreadstat.write_sav(
        spss_frame(), str(path), compress=name.endswith(".zsav"),
        column_labels={"role": "Your role", "trust_1": "I trust our IT department"},
        variable_value_labels={"role": {1: "CMO", 2: "CIO"}, "trust_1": {9: "Don't know"}},
        missing_ranges={"trust_1": [9, {"lo": -99, "hi": -90}]})
    df = read_unchanged(path)
    assert df.attrs["format"] == "spss"
    assert df["role"].tolist() == [1.0, 2.0, 1.0, 2.0]  # codes, not labels
    assert df["trust_1"].iloc[[0, 2]].tolist() == [4.0, 2.0]
    assert df["trust_1"].iloc[[1, 3]].isna().all()
    assert df.attrs["missing_codes"] == {"trust_1": [-99, 9]}
    assert df.attrs["value_labels"]["role"] == {1: "CMO", 2: "CIO"}
    assert df.attrs["question_text"] == {"role": "Your role",
                                         "trust_1": "I trust our IT department"}
    assert df["respondent_id"].dtype == object
    json.dumps(df.attrs)


def test_stata_value_labels_and_extended_missing(tmp_path: Path) -> None:
    path = tmp_path / "survey.dta"
    frame = pd.DataFrame({"role": [1.0, 2.0, 1.0], "trust_1": [4.0, "a", 3.0]})
    frame["trust_1"] = frame["trust_1"].astype(object)
    pyreadstat.write_dta(frame, str(path), column_labels={"role": "Your role"},
                         variable_value_labels={"role": {1: "CMO", 2: "CIO"}},
                         missing_user_values={"trust_1": ["a"]})
    df = read_unchanged(path)
    assert df.attrs["format"] == "stata"
    assert df["role"].tolist() == [1.0, 2.0, 1.0]
    assert df.attrs["value_labels"] == {"role": {1: "CMO", 2: "CIO"}}
    assert df.attrs["question_text"] == {"role": "Your role"}
    assert df["trust_1"].dtype == np.float64
    assert df["trust_1"].iloc[[0, 2]].tolist() == [4.0, 3.0] and pd.isna(df["trust_1"].iloc[1])
    assert df.attrs["missing_codes"] == {"trust_1": [".a"]}


def test_corrupt_spss_file(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "broken.sav", b"$FL2 truncated"), "unreadable-file")


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "processed.parquet"
    frame = pd.DataFrame({"id": [1, 2], "role": ["CMO", "CIO"], "imp_1": [4.5, None]})
    frame.attrs = {"question_text": {"imp_1": "Importance"}, "value_labels": {"imp_1": {1: "x"}}}
    frame.to_parquet(path)
    df = read_unchanged(path)
    assert df["id"].tolist() == [1, 2] and df["role"].tolist() == ["CMO", "CIO"]
    assert df["role"].dtype == object
    assert df["imp_1"].iloc[0] == 4.5 and pd.isna(df["imp_1"].iloc[1])
    assert df.attrs["format"] == "parquet" and df.attrs["source"] == str(path)
    assert df.attrs["question_text"] == {"imp_1": "Importance"}
    assert df.attrs["value_labels"] == {"imp_1": {1: "x"}}


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "full.parquet"
    pd.DataFrame({"id": range(100)}).to_parquet(path)
    data = path.read_bytes()
    truncated = write(tmp_path, "cut.pq", data[: len(data) // 2])
    expect_error(truncated, "unreadable-file")


# --- files that cannot be read ------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "empty.csv", b""), "empty-file")
    expect_error(write(tmp_path, "blank.csv", b"\xef\xbb\xbf \n\n"), "empty-file")


def test_header_only_file(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "header.csv", b"id;role;imp_1\n"), "no-data-rows")


def test_binary_junk_with_nul_bytes(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "junk.csv", bytes(range(256)) * 16), "unreadable-file")


def test_undecodable_junk_without_nul_bytes(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "junk2.csv", b"\x81\x8d\x8f\x90\x9d\x02\x03" * 200),
                 "unreadable-file")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_raw(tmp_path / "nowhere.csv")
    assert info.value.rule == "file-not-found"
    assert "nowhere.csv" in str(info.value)
