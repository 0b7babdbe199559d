"""Write the malformed-input corpus used by ``tests/test_bad_inputs.py``.

Run once from the project root; the generated files are committed next to this script::

    .venv/bin/python tests/corpus/make_corpus.py            # (re)writes tests/corpus/
    .venv/bin/python tests/corpus/make_corpus.py OUT_DIR    # writes elsewhere (used by a test)

Every file is derived from one small, valid survey (:data:`ROWS`: two firms, each with a CMO and
a CIO, four items) and then broken -- or dressed up as a real export -- in one way.  The script
is deterministic: text files are byte-for-byte the same on every run (a test regenerates them
and compares); the binary files (.xlsx, .sav, .dta, .parquet) get fixed timestamps, so they only
change when openpyxl, pyreadstat or pyarrow change their output format.  Each file is < 50 KB.

``README.md`` in this folder lists every case and its expected outcome; the expectations
themselves live in the table of ``tests/test_bad_inputs.py``.  The "very wide" case is not a
file here: the test builds it at run time (:func:`wide_csv`).
"""

from __future__ import annotations

import io
import random
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat

HERE = Path(__file__).resolve().parent

COLUMNS = ["respondent_id", "firm_id", "role", "country", "industry", "size_band", "wave",
           "language", "duration_seconds", "name", "imp_1", "imp_2", "trust_1", "trust_3",
           "cofund_1"]
ROWS: list[list[Any]] = [
    ["R001", "F01", "CMO", "DE", "Retail", "250-999", 1, "DE", 612, "Anna Müller", 4, 5, 3, 2, 1],
    ["R002", "F01", "CIO", "DE", "Retail", "250-999", 1, "DE", 745, "Jörg Weiß", 2, 3, 4, 4, 0],
    ["R003", "F02", "CMO", "DK", "Health", "<250", 1, "DA", 530, "Jens Jørgensen", 5, 5, 2, 1, 1],
    ["R004", "F02", "CIO", "DK", "Health", "<250", 1, "DA", 688, "Søren Kjærgård", 3, 4, 4, 3, 1],
]
AGREE = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree", 4: "Agree",
         5: "Strongly agree"}
FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


# --- helpers ------------------------------------------------------------------------------------


def rows_with(changes: dict[tuple[int, str], Any]) -> list[list[Any]]:
    """A copy of :data:`ROWS` with ``(row index, column) -> value`` replaced."""
    rows = [list(row) for row in ROWS]
    for (i, column), value in changes.items():
        rows[i][COLUMNS.index(column)] = value
    return rows


def cell(value: Any) -> str:
    """A value as CSV text (quoted when it holds a delimiter, quote or line break)."""
    text = "" if value is None else str(value)
    if any(ch in text for ch in ",;\t\"\n"):
        text = '"' + text.replace('"', '""') + '"'
    return text


def delimited(rows: Sequence[Sequence[Any]], sep: str = ",", header: Sequence[str] = COLUMNS,
              newline: str = "\n") -> str:
    """Header plus rows joined with ``sep`` and ``newline`` (trailing newline included)."""
    lines = [sep.join(cell(v) for v in header)]
    lines += [sep.join(cell(v) for v in row) for row in rows]
    return newline.join(lines) + newline


def zip_fixed_time(data: bytes) -> bytes:
    """Rewrite a zip (an .xlsx) with fixed member timestamps so the bytes are reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = info.external_attr
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" on save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z",
                              data)
            target.writestr(member, data)
    return out.getvalue()


def workbook_bytes(rows: Sequence[Sequence[Any]], merges: Sequence[str] = ()) -> bytes:
    """An .xlsx with one sheet "Data" holding ``rows`` (and the merged ranges)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    for row in rows:
        sheet.append(list(row))
    for cells in merges:
        sheet.merge_cells(cells)
    workbook.properties.created = pd.Timestamp("2024-01-01").to_pydatetime()
    buffer = io.BytesIO()
    workbook.save(buffer)
    return zip_fixed_time(buffer.getvalue())


def stat_bytes(writer: Callable[..., None], df: pd.DataFrame, suffix: str, **options: Any) -> bytes:
    """Bytes of an SPSS/Stata file written by pyreadstat (with a fixed creation timestamp)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"file{suffix}"
        writer(df, str(path), **options)
        data = bytearray(path.read_bytes())
    if suffix == ".sav":  # header: creation date at byte 92 (9 chars), time at 101 (8 chars)
        assert data[:4] == b"$FL2" and data[103:104] == b":" and data[106:107] == b":"
        data[92:109] = b"01 Jan 2400:00:00"
    elif suffix == ".dta":  # <timestamp>17 chars</timestamp> in the XML-like header
        start = data.find(b"<timestamp>")
        if start >= 0:
            length = data[start + 11]
            data[start + 12:start + 12 + length] = b"01 Jan 2024 00:00"[:length].ljust(length)
    return bytes(data)


def frame(rows: Sequence[Sequence[Any]] = ROWS) -> pd.DataFrame:
    return pd.DataFrame([list(r) for r in rows], columns=COLUMNS)


# --- the cases ----------------------------------------------------------------------------------


def text_cases() -> dict[str, bytes]:
    """Delimited-text cases and mapping files: name -> bytes."""
    base = delimited(ROWS)
    files: dict[str, bytes] = {}
    # delimiters and line endings
    files["semicolon_delimiter.csv"] = delimited(ROWS, ";").encode()
    files["pipe_delimiter.csv"] = delimited(ROWS, "|").encode()
    files["tab_separated.tsv"] = delimited(ROWS, "\t").encode()
    files["colon_delimiter.csv"] = delimited(ROWS, ":").encode()
    files["crlf_line_endings.csv"] = delimited(ROWS, newline="\r\n").encode()
    files["trailing_empty_columns.csv"] = "".join(
        line + ",,,\n" for line in base.splitlines()).encode()
    # encodings
    files["utf8_bom.csv"] = b"\xef\xbb\xbf" + base.encode()
    files["cp1252_umlauts.csv"] = delimited(ROWS, ";").encode("cp1252")
    files["utf16_unicode_text.txt"] = delimited(ROWS, "\t", newline="\r\n").encode("utf-16")
    # numbers
    comma_rows = rows_with({(0, "duration_seconds"): "612,5", (1, "duration_seconds"): "1.234,5",
                            (3, "duration_seconds"): "688,25"})
    files["decimal_commas.csv"] = delimited(comma_rows, ";").encode()
    files["bom_semicolon_decimal_comma.csv"] = (
        b"\xef\xbb\xbf" + delimited(comma_rows, ";", newline="\r\n").encode())
    files["nbsp_in_numbers.csv"] = delimited(rows_with({
        (0, "duration_seconds"): "1\u00a0234,5",   # NBSP as thousands separator
        (1, "duration_seconds"): "2\u202f345",     # narrow NBSP (Excel, French/Swiss locales)
        (2, "imp_1"): "5\u00a0",                  # trailing NBSP from a copy-paste
    }), ";").encode()
    files["decimal_comma_in_likert.csv"] = delimited(rows_with({(0, "imp_1"): "3,5"}),
                                                     ";").encode()
    files["likert_out_of_range.csv"] = delimited(rows_with({(1, "imp_1"): 6,
                                                            (3, "imp_1"): 0})).encode()
    files["text_in_numeric.csv"] = delimited(rows_with({(2, "imp_2"): "Agree",
                                                        (3, "imp_2"): "n.a."})).encode()
    # respondents and dyads
    files["duplicate_respondents.csv"] = delimited(rows_with({(3, "respondent_id"): "R002"})
                                                   ).encode()
    files["two_cmos_one_wave.csv"] = delimited(rows_with({(1, "role"): "CMO"})).encode()
    files["unknown_role.csv"] = delimited(rows_with({(1, "role"): "CTO"})).encode()
    roles = rows_with({(0, "role"): "Marketingleiter", (1, "role"): "IT-chef",
                       (2, "role"): "marketingdirektør", (3, "role"): "cio"})
    roles += [["R005", "F03", " Chief Marketing Officer ", "NL", "Manufacturing", "5000+", 1,
               "NL", 590, "Pieter de Vries", 4, 4, 4, 4, 0],
              ["R006", "F03", "Hoofd IT", "NL", "Manufacturing", "5000+", 1, "NL", 640,
               "Eva Jansen", 3, 3, 3, 3, 0]]
    files["role_labels_multilingual.csv"] = delimited(roles, ";").encode()
    # structure
    files["missing_required_column.csv"] = delimited(
        [[v for c, v in zip(COLUMNS, row, strict=True) if c != "country"] for row in ROWS],
        header=[c for c in COLUMNS if c != "country"]).encode()
    files["missing_required_value.csv"] = delimited(rows_with({(2, "firm_id"): ""})).encode()
    files["duplicate_column_names.csv"] = delimited(
        ROWS, header=[*COLUMNS[:-1], "imp_1"]).encode()
    files["empty.csv"] = b""
    files["whitespace_only.csv"] = b"  \r\n\n\t\n"
    files["header_only.csv"] = (",".join(COLUMNS) + "\n").encode()
    files["unbalanced_quote.csv"] = (base + 'R005,"F03,CMO,DE,Retail,<250,1,DE,600,X,1,1,1,1,1\n'
                                     ).encode()
    files["title_row_above_header.csv"] = ("Disconnect survey export 2024-03-01\n" + base).encode()
    files["quoted_multiline_comment.csv"] = delimited(
        [[*row, text] for row, text in zip(ROWS, [
            'Good, but "slow"\nsecond line', "", "Gut; danke", "Line1\r\nLine2"], strict=True)],
        header=[*COLUMNS, "comment"]).encode()
    files["dates_ddmmyyyy.csv"] = delimited(
        [[*row, date] for row, date in zip(ROWS, ["31.12.2024", "01.02.2025", "15.03.2025", ""],
                                           strict=True)],
        ";", header=[*COLUMNS, "interview_date"]).encode()
    # Qualtrics exports
    files["qualtrics_no_importid.csv"] = qualtrics_csv().encode()
    files["qualtrics_mapping.yaml"] = QUALTRICS_MAPPING.encode()
    files["qualtrics_legacy.csv"] = qualtrics_legacy_csv().encode()
    files["qualtrics_legacy_mapping.yaml"] = LEGACY_MAPPING.encode()
    files["spss_mapping.yaml"] = SPSS_MAPPING.encode()
    # where the rows are: the file's own line numbers
    files["qualtrics_multiline_lines.csv"] = qualtrics_multiline_csv().encode()
    lines = delimited(rows_with({(1, "role"): "CTO"})).splitlines(keepends=True)
    files["blank_lines_between_rows.csv"] = "".join(
        [lines[0], "\n", lines[1], "\n", "\n", *lines[2:]]).encode()
    files["firm_attribute_conflict.csv"] = delimited(rows_with({
        (1, "size_band"): "1000-4999", (2, "industry"): "Retail", (3, "country"): "SE"})).encode()
    return files


QUALTRICS_NAMES = ["StartDate", "EndDate", "Status", "Progress", "Duration (in seconds)",
                   "Finished", "ResponseId", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q10_1",
                   "Q10_2", "Q11_1"]
QUALTRICS_TEXTS = ["Start Date", "End Date", "Response Type", "Progress", "Duration (in seconds)",
                   "Finished", "Response ID", "Firm code", "What is your role?", "Country",
                   "Industry", "Employees", "Wave", "Language",
                   "Alignment - It is important that marketing and IT work closely together.",
                   "Alignment - Alignment is a priority of top management.",
                   "Trust - I trust the other function to keep its promises."]
QUALTRICS_MAPPING = """\
# Mapping for qualtrics_no_importid.csv (a Qualtrics export without the ImportId row)
source: "Qualtrics export, two header rows"
columns:
  ResponseId: respondent_id
  Q1: firm_id
  Q2: role
  Q3: country
  Q4: industry
  Q5: size_band
  Q6: wave
  Q7: language
  "Duration (in seconds)": duration_seconds
  Q10_1: imp_1
  Q10_2: imp_2
  Q11_1: trust_1
recode:
  imp_1: {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3, "Agree": 4,
          "Strongly agree": 5}
  imp_2: {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3, "Agree": 4,
          "Strongly agree": 5}
  trust_1: {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3, "Agree": 4,
            "Strongly agree": 5, "Don't know": null}
drop: [StartDate, EndDate, Status, Progress, Finished]
"""


def qualtrics_csv() -> str:
    roles = ["Chief Marketing Officer (CMO)", "IT-Leiter", "CMO", "Chief Information Officer"]
    data = []
    for i, row in enumerate(ROWS):
        values = dict(zip(COLUMNS, row, strict=True))
        data.append([f"2024-03-0{i + 1} 09:00:00", f"2024-03-0{i + 1} 09:1{i}:00", "IP Address",
                     100, values["duration_seconds"], "True", f"R_{i + 1:03d}abc",
                     values["firm_id"], roles[i], values["country"], values["industry"],
                     values["size_band"], values["wave"], values["language"],
                     AGREE[values["imp_1"]], AGREE[values["imp_2"]],
                     "Don't know" if i == 3 else AGREE[values["trust_1"]]])
    return delimited([QUALTRICS_TEXTS, *data], header=QUALTRICS_NAMES, newline="\r\n")


def qualtrics_multiline_csv() -> str:
    """A three-row Qualtrics export (ImportId row) whose question text and one answer span two
    lines, with labels the mapping does not know in the 2nd and 4th response: the data starts on
    line 5, the 2nd response takes lines 6-7, so the 4th sits on line 9."""
    names = [*QUALTRICS_NAMES, "Q20"]
    texts = [*QUALTRICS_TEXTS[:-1], "Trust - I trust the other function\nto keep its promises.",
             "Anything else?"]
    import_ids = [f'{{"ImportId":"{n if n.startswith("Q") else "_recordId"}"}}' for n in names]
    data = [row.split(",") for row in qualtrics_csv().splitlines()[2:]]
    data[1][15] = "Very much"
    data[3][15] = "Somewhat"
    comments = ["", "Two lines:\nfirst, then second", "", ""]
    data = [[*row, comment] for row, comment in zip(data, comments, strict=True)]
    return delimited([texts, import_ids, *data], header=names)


LEGACY_MAPPING = """\
# Mapping for qualtrics_legacy.csv (legacy Qualtrics export: V1..V10 then question ids)
columns:
  V1: respondent_id
  Q1: firm_id
  Q2: role
  Q3: country
  Q4: industry
  Q5: size_band
  Q6: wave
  Q7: language
  Q10_1: imp_1
drop: [V2, V3, V4, V5, V6, V7, V8, V9, V10]
"""


def qualtrics_legacy_csv() -> str:
    names = [f"V{i}" for i in range(1, 11)] + ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q10_1"]
    texts = ["ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress",
             "IPAddress", "Status", "StartDate", "EndDate", "Finished", "Firm code",
             "What is your role?", "Country", "Industry", "Employees", "Wave", "Language",
             "It is important that marketing and IT work closely together."]
    data = []
    for i, row in enumerate(ROWS):
        v = dict(zip(COLUMNS, row, strict=True))
        data.append([f"R_{i + 1:03d}", "Default Response Set", "", "", "", "192.0.2.1", 0,
                     "2024-03-01 09:00:00", "2024-03-01 09:12:00", 1, v["firm_id"], v["role"],
                     v["country"], v["industry"], v["size_band"], v["wave"], v["language"],
                     v["imp_1"]])
    return delimited([texts, *data], header=names)


SPSS_MAPPING = """\
# Mapping for spss_role_coded.sav: role is stored as 1/2 with value labels
value_labels: true
"""


def binary_cases() -> dict[str, bytes]:
    """Excel, SPSS, Stata, Parquet and junk cases: name -> bytes."""
    files: dict[str, bytes] = {}
    group = ["Respondent", *[None] * 9, "Importance of alignment", None, "Mutual trust", None,
             "Co-funding"]
    files["excel_merged_header.xlsx"] = workbook_bytes(
        [group, COLUMNS, *ROWS], merges=("A1:J1", "K1:L1", "M1:N1"))
    files["excel_repeated_header.xlsx"] = workbook_bytes(
        [COLUMNS, *ROWS[:2], COLUMNS, *ROWS[2:], [None] * len(COLUMNS)])
    out_of_range = rows_with({(1, "imp_1"): 6, (3, "imp_1"): 0})
    files["excel_line_numbers.xlsx"] = workbook_bytes(  # data rows on sheet rows 3, 4, 6, 8
        [group, COLUMNS, *out_of_range[:2], COLUMNS, out_of_range[2], [None] * len(COLUMNS),
         out_of_range[3]], merges=("A1:J1", "K1:L1", "M1:N1"))
    files["excel_na.xlsx"] = workbook_bytes([COLUMNS, *rows_with({(1, "imp_2"): "#N/A",
                                                                 (2, "trust_3"): "#N/A"})])
    files["excel_saved_as_csv.csv"] = files["excel_repeated_header.xlsx"]

    spss = frame(rows_with({(1, "imp_1"): 99, (2, "imp_2"): -9}))
    for column in ("imp_1", "imp_2", "trust_1", "trust_3", "cofund_1", "wave", "duration_seconds"):
        spss[column] = spss[column].astype(float)
    labels = {"imp_1": {**AGREE, 99: "Don't know"}, "imp_2": {**AGREE, -9: "Refused"},
              "cofund_1": {0: "No", 1: "Yes"}}
    files["spss_user_missing.sav"] = stat_bytes(
        pyreadstat.write_sav, spss, ".sav", variable_value_labels=labels,
        missing_ranges={"imp_1": [99], "imp_2": [{"lo": -9, "hi": -1}]},
        column_labels={"imp_1": "It is important that marketing and IT work closely together."})
    # found by tests/test_fuzz.py: one byte of a variable record's type (the width of the
    # continuation record of the long string "name") turned 0xffffffff into 0x3effffff --
    # pyreadstat dies with a segmentation fault on it, even with metadataonly=True
    crash = bytearray(files["spss_user_missing.sav"])
    assert crash[496:504] == b"\x02\x00\x00\x00\xff\xff\xff\xff", "record layout changed"
    crash[503] = 0x3E
    files["spss_crashes_reader.sav"] = bytes(crash)
    # also found by the fuzzer: a NUL over the first letter of the short name "RESPONDE" -- the
    # column comes back without a name (NaN), which the reader now calls "unnamed_1"
    nameless = bytearray(files["spss_user_missing.sav"])
    assert nameless[200:208] == b"RESPONDE", "record layout changed"
    nameless[200] = 0
    files["spss_damaged_variable_name.sav"] = bytes(nameless)
    files["spss_undeclared_missing.sav"] = stat_bytes(
        pyreadstat.write_sav, spss, ".sav", variable_value_labels=labels)
    coded = frame()
    coded["role"] = [1.0, 2.0, 1.0, 2.0]
    files["spss_role_coded.sav"] = stat_bytes(
        pyreadstat.write_sav, coded, ".sav",
        variable_value_labels={"role": {1: "Marketingleiter", 2: "IT-Leiter"}})
    stata = frame()
    stata["imp_1"] = ["a", 2, 5, 3]  # .a: Stata extended missing ("not asked")
    stata = stata.drop(columns=["name"])
    files["stata_extended_missing.dta"] = stat_bytes(
        pyreadstat.write_dta, stata, ".dta", missing_user_values={"imp_1": ["a"]})

    buffer = io.BytesIO()
    frame().to_parquet(buffer, index=False)
    files["truncated.parquet"] = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    # found by the fuzzer: intact data, damaged pandas metadata -> pandas raises KeyError
    table = pa.Table.from_pandas(frame(), preserve_index=False)
    meta = dict(table.schema.metadata)
    meta[b"pandas"] = meta[b"pandas"].replace(b'"index_columns"', b'"index_colunms"')
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buffer)
    files["parquet_damaged_metadata.parquet"] = buffer.getvalue()
    # found by the fuzzer: a string column whose bytes are not UTF-8 (Parquet does not check)
    offsets = pa.py_buffer(b"".join(n.to_bytes(4, "little") for n in (0, 4, 9)))
    names = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"Anna\xffJens")])
    buffer = io.BytesIO()
    pq.write_table(pa.table({"respondent_id": ["R001", "R002"], "name": names}), buffer)
    files["parquet_invalid_utf8.parquet"] = buffer.getvalue()

    rng = random.Random(20240301)
    files["binary_junk.csv"] = rng.randbytes(2048)
    files["binary_junk_no_nul.csv"] = bytes(rng.randrange(1, 256) for _ in range(2048))
    files["junk.xlsx"] = b"PK\x03\x04" + rng.randbytes(1024)
    files["junk.sav"] = b"$FL2" + rng.randbytes(1024)
    return files


def wide_csv(extra_columns: int = 2500) -> bytes:
    """The "very wide" case: the base survey plus ``extra_columns`` unknown numeric columns."""
    header = [*COLUMNS, *(f"x{i:05d}" for i in range(extra_columns))]
    rows = [[*row, *((i + k) % 5 + 1 for k in range(extra_columns))] for i, row in enumerate(ROWS)]
    return delimited(rows, header=header).encode()


def all_cases() -> dict[str, bytes]:
    return {**text_cases(), **binary_cases()}


def main(out: Path = HERE) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(all_cases().items()):
        assert len(data) < 50_000, f"{name} is too large ({len(data)} bytes)"
        (out / name).write_bytes(data)
    print(f"wrote {len(all_cases())} files to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
