"""Where a row is: the file's own line numbers and response ids in messages.

``helpers.io.read_raw`` records, per row, the physical line of a text file (header rows, blank
lines and multi-line quoted values counted), the sheet row of an Excel file or the record number
of an SPSS/Stata/Parquet file (``attrs["source_lines"]``, keyed by index label so it follows
rows through masks and sorting); ``helpers.validate`` turns an issue's rows into those lines and
the rows' response ids; ``helpers.errors`` formats them. Known answers throughout: every file is
built here with its lines known by construction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.codebook import Codebook
from helpers.errors import DataError, Issue, format_ids, format_lines
from helpers.io import line_unit, read_raw, row_locations, source_lines
from helpers.validate import validate_survey

HEADER = "respondent_id,firm_id,role,imp_1"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- formatting
def test_format_lines_and_ids() -> None:
    assert format_lines([7]) == "line 7"
    assert format_lines([9, 7]) == "lines 7, 9"
    assert format_lines(range(1, 9)) == "lines 1, 2, 3, 4, 5 and 3 more (8 rows)"
    assert format_lines([4], "sheet row") == "sheet row 4"
    assert format_lines([2, 3], "record") == "records 2, 3"
    assert format_ids(["R_3kX"]) == "response R_3kX"
    assert format_ids(["a", "b", "a"]) == "responses a, b"
    assert format_ids([f"R{i}" for i in range(7)]) == "responses R0, R1, R2, R3, R4 and 2 more"
    assert format_ids([]) == ""


def test_issue_names_lines_then_ids_and_falls_back_to_rows() -> None:
    issue = Issue(rule="speeder", message="too fast", file="x.csv", column="duration_seconds",
                  rows=[1, 3], lines=[7, 9], ids=["R_3kX", "R_9aB"])
    assert str(issue) == ("[speeder] file x.csv, column 'duration_seconds', lines 7, 9 "
                          "(responses R_3kX, R_9aB): too fast")
    rows_only = Issue(rule="r", message="m", rows=[2, 4], ids=["R1", "R2"])
    assert str(rows_only) == "[r] rows 2, 4 (2 rows; responses R1, R2): m"
    assert str(Issue(rule="r", message="m", rows=[2])) == "[r] rows 2 (1 row): m"
    assert "response" not in issue.message  # ids are in the text, never in the message
    error = DataError("bad amount", file="b.xlsx", column="it_budget", rows=[1], lines=[4],
                      line_unit="sheet row", ids=["F01"], rule="invalid-amount")
    assert error.lines == [4] and error.ids == ["F01"] and error.rows == [1]
    assert "column 'it_budget', sheet row 4 (response F01): bad amount" in str(error)


# --------------------------------------------------------------------------- text files
def test_csv_lines_count_blank_lines_and_multiline_values(tmp_path: Path) -> None:
    text = (HEADER + "\r\n"
            "\r\n"                                   # line 2: blank
            'R1,F1,CMO,"4"\r\n'                      # line 3
            "   \r\n"                                # line 4: whitespace only
            'R2,"F1\r\nsecond line",CIO,5\r\n'      # lines 5-6: a quoted value with a break
            ",,,\r\n"                                # line 7: empty cells only (dropped)
            "R3,F2,CMO,3\r\n")                       # line 8
    df = read_raw(write(tmp_path, "s.csv", text.encode()))
    assert list(df["respondent_id"]) == ["R1", "R2", "R3"]
    assert list(source_lines(df)) == [3, 5, 8]
    assert line_unit(df) == "line"
    json.dumps(df.attrs)  # still plain JSON-able metadata


def test_qualtrics_three_header_rows(tmp_path: Path) -> None:
    text = ("ResponseId,Q1,Q2\n"
            'Response ID,"Firm\ncode",Your role\n'  # a question text on two lines
            '"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}","{""ImportId"":""QID2""}"\n'
            "R_1,F1,CMO\nR_2,F1,CIO\n")
    df = read_raw(write(tmp_path, "q.csv", text.encode()))
    assert df.attrs["format"] == "qualtrics"
    assert list(source_lines(df)) == [5, 6]
    where = row_locations(df, df["Q2"] == "CIO")
    assert where == {"rows": [2], "lines": [6], "line_unit": "line", "ids": ["R_2"]}


def test_lines_unknown_when_the_csv_module_splits_differently(tmp_path: Path,
                                                               cb: Codebook) -> None:
    """Bare carriage returns: pandas splits on them, the csv module does not -- no lines then,
    and messages name data rows as before."""
    df = read_raw(write(tmp_path, "mac.csv", (HEADER + "\rR1,F1,CMO,9\rR2,F1,CIO,4\r").encode()))
    assert len(df) == 2 and source_lines(df) is None
    issue = next(i for i in validate_survey(df, cb, file="mac.csv").errors
                 if i.rule == "out-of-range")
    assert issue.lines == [] and issue.ids == ["R1"]
    assert "column 'imp_1', rows 1 (1 row; response R1)" in str(issue)


def test_malformed_text_names_the_physical_line(tmp_path: Path) -> None:
    """The parser counts records (a multi-line value once); the message names the line."""
    head = 'a,b,c\n\n1,"x\ny\nz",3\n'  # a blank line 2 and a value over lines 3-5
    with pytest.raises(DataError) as too_many:
        read_raw(write(tmp_path, "m1.csv", (head + "4,5,6,7\n").encode()))
    assert "line 6 has 4 fields" in str(too_many.value)
    with pytest.raises(DataError) as unclosed:
        read_raw(write(tmp_path, "m2.csv", (head + '4,5,6\n7,"8,9\n').encode()))
    assert "quoted value starting on line 7 is never closed" in str(unclosed.value)


def test_tab_and_semicolon_files(tmp_path: Path) -> None:
    for sep in ("\t", ";", "|"):
        text = HEADER.replace(",", sep) + "\n\n" + sep.join(["R1", "F1", "CMO", "4"]) + "\n"
        df = read_raw(write(tmp_path, "t.csv", text.encode()))
        assert list(source_lines(df)) == [3], sep


@st.composite
def csv_with_known_lines(draw: st.DrawFn) -> tuple[str, list[int]]:
    """A CSV whose data rows are interleaved with blank lines and multi-line quoted values,
    with the line each data row starts on computed by construction."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    parts = [HEADER + newline]
    line = 2
    starts = []
    for n in range(draw(st.integers(min_value=1, max_value=8))):
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            parts.append(draw(st.sampled_from(["", " ", "\t"])) + newline)
            line += 1
        breaks = draw(st.integers(min_value=0, max_value=2))
        comment = newline.join(["text, with comma"] * (breaks + 1))
        starts.append(line)
        parts.append(f'R{n},F{n // 2},{"CMO" if n % 2 == 0 else "CIO"},"{comment}"{newline}')
        line += breaks + 1
    return "".join(parts), starts


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=csv_with_known_lines())
def test_csv_lines_known_answer(case: tuple[str, list[int]], tmp_path: Path) -> None:
    text, starts = case
    df = read_raw(write(tmp_path, "gen.csv", text.encode()))
    assert len(df) == len(starts)
    assert list(source_lines(df)) == starts


# --------------------------------------------------------------------------- other formats
def test_excel_sheet_rows(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (["respondent_id", "role"], ["R1", "CMO"], [None, None], ["respondent_id", "role"],
                ["R2", "CIO"]):
        sheet.append(row)
    path = tmp_path / "s.xlsx"
    workbook.save(path)
    df = read_raw(path)
    assert list(source_lines(df)) == [2, 5] and line_unit(df) == "sheet row"


def test_spss_and_parquet_record_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"respondent_id": ["R1", "R2", "R3"], "imp_1": [1.0, 2.0, 3.0]})
    pyreadstat.write_sav(frame, str(tmp_path / "s.sav"))
    df = read_raw(tmp_path / "s.sav")
    assert list(source_lines(df)) == [1, 2, 3] and line_unit(df) == "record"
    stale = frame.copy()
    stale.attrs = {"source_lines": {"unit": "line", "n": 3, "runs": [[0, 40]]}}  # another file's
    stale.to_parquet(tmp_path / "s.parquet")
    df = read_raw(tmp_path / "s.parquet")
    assert list(source_lines(df)) == [1, 2, 3] and line_unit(df) == "record"


def test_parquet_with_its_own_index_has_no_lines(tmp_path: Path) -> None:
    frame = pd.DataFrame({"imp_1": [1, 2]}, index=pd.Index(["a", "b"], name="rid"))
    frame.to_parquet(tmp_path / "i.parquet")
    assert source_lines(read_raw(tmp_path / "i.parquet")) is None


# --------------------------------------------------------------------------- following rows
def test_lines_follow_masks_sorting_and_column_changes(tmp_path: Path) -> None:
    text = HEADER + "\n" + "\n".join(f"R{i},F{i // 2},{'CMO' if i % 2 else 'CIO'},{i % 5 + 1}"
                                     f"{chr(10) if i == 2 else ''}" for i in range(6)) + "\n"
    df = read_raw(write(tmp_path, "f.csv", text.encode()))
    assert list(source_lines(df)) == [2, 3, 4, 6, 7, 8]  # a blank line after R2
    kept = df.loc[df["role"] == "CMO"].rename(columns={"imp_1": "x"}).assign(y=1)
    assert list(source_lines(kept)) == [3, 6, 8]
    ordered = df.sort_values("respondent_id", ascending=False).drop(index=[0])
    assert list(source_lines(ordered)) == [8, 7, 6, 4, 3]
    assert list(source_lines(ordered).index) == list(ordered.index)
    relabelled = df.set_axis([f"r{i}" for i in range(6)])
    assert source_lines(relabelled) is None  # labels no longer those read_raw gave
    assert source_lines(pd.DataFrame({"a": [1]})) is None
    where = row_locations(ordered, [5, 1])
    assert where["lines"] == [8, 3] and where["ids"] == ["R5", "R1"] and where["rows"] == [1, 5]


def test_validation_names_lines_and_ids_after_rows_are_excluded(tmp_path: Path,
                                                                  cb: Codebook,
                                                                  survey_factory) -> None:
    """What the mapping step's row exclusion does (drop rows by mask, keep labels): the issue
    still names the file's own line of each row, and the respondent id."""
    valid = survey_factory(3)
    valid.loc[4, "imp_1"] = 9
    path = tmp_path / "survey.csv"
    valid.to_csv(path, index=False)
    df = read_raw(path)
    kept = df.loc[df["respondent_id"] != valid.loc[0, "respondent_id"]]  # drop line 2
    report = validate_survey(kept, cb, file=str(path))
    issue = next(i for i in report.errors if i.rule == "out-of-range")
    respondent = valid.loc[4, "respondent_id"]
    assert issue.rows == [4] and issue.lines == [6] and issue.ids == [respondent]
    assert f"column 'imp_1', line 6 (response {respondent}): " in str(report)
    frame = report.to_frame()
    assert frame.loc[0, "lines"] == "6" and frame.loc[0, "rows"] == "4"
    assert respondent not in " ".join(map(str, frame.to_numpy().ravel()))


def test_numeric_ids_are_shown_as_written(tmp_path: Path, cb: Codebook) -> None:
    frame = pd.DataFrame({"respondent_id": [1001.0, 1002.0], "imp_1": [4.0, 7.0]})
    frame.attrs = {"source_lines": {"unit": "record", "n": 2, "runs": [[0, 1]]}}
    issue = next(i for i in validate_survey(frame, cb).errors if i.rule == "out-of-range")
    assert issue.ids == ["1002"] and "record 2 (response 1002)" in str(issue)


def test_damaged_source_lines_are_ignored(cb: Codebook) -> None:
    frame = pd.DataFrame({"respondent_id": ["a", "b"], "imp_1": [4.0, 7.0]})
    for damaged in ({"runs": "x"}, {"unit": "line", "n": 1, "runs": [[0, 3]]}, [1, 2],
                    {"unit": "line", "n": 2, "runs": [[1, 3]]}):
        frame.attrs = {"source_lines": damaged}
        assert source_lines(frame) is None
        issue = next(i for i in validate_survey(frame, cb).errors if i.rule == "out-of-range")
        assert issue.lines == [] and issue.rows == [2]
    assert np.array_equal(row_locations(frame, frame["imp_1"] > 5)["rows"], [2])


def test_row_locations_takes_the_qualtrics_id_before_mapping() -> None:
    frame = pd.DataFrame({"ResponseId": ["R_a", " ", "R_c"], "Q1": [1, 2, 3]})
    assert row_locations(frame, frame["Q1"] >= 2)["ids"] == ["R_c"]  # a blank id is not shown
    assert row_locations(frame, frame["Q1"] >= 2, id_column="Q1")["ids"] == ["2", "3"]
    assert row_locations(frame, [9])["rows"] == []  # a label not in the frame
