"""Hostile and damaged files end fast in a clear DataError: zip-bomb workbooks, sheets that
claim millions of cells, YAML alias bombs, and values too long to quote.

The bombs are built here at a small scale with the limits lowered, so each test takes well under
a second; the limits are the same code path as the defaults (200 MB unzipped, 20 million cells,
500,000 YAML values).
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from helpers import safe_yaml
from helpers.batch import plan as batch_plan
from helpers.codebook import load_codebook
from helpers.errors import MAX_MESSAGE_CHARS, MAX_QUOTED_CHARS, DataError, Issue, quote
from helpers.io import read_raw
from helpers.mapping import load_mapping
from helpers.spend import firm_year_features

SHEET = "xl/worksheets/sheet1.xml"
HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>")
TAIL = b"</sheetData></worksheet>"
HEADER_ROW = (b'<row r="1"><c r="A1" t="inlineStr"><is><t>respondent_id</t></is></c>'
              b'<c r="B1" t="inlineStr"><is><t>imp_1</t></is></c></row>')


def workbook_with_sheet(path: Path, sheet_xml: bytes | None = None,
                        padding_mb: int = 0) -> Path:
    """A real .xlsx (written by openpyxl) whose first sheet's XML is replaced: by ``sheet_xml``,
    or by a header row plus ``padding_mb`` megabytes of one repeated cell text (compresses
    about 1000:1, the shape of a zip bomb)."""
    book = openpyxl.Workbook()
    book.active.append(["respondent_id", "imp_1"])
    book.active.append(["R1", 4])
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename != SHEET:
                out.writestr(info, source.read(info.filename))
                continue
            with out.open(SHEET, "w", force_zip64=True) as sheet:
                if sheet_xml is not None:
                    sheet.write(sheet_xml)
                    continue
                sheet.write(HEAD + HEADER_ROW + b'<row r="2"><c r="A2" t="inlineStr"><is><t>')
                block = b"A" * 1_000_000
                for _ in range(padding_mb):
                    sheet.write(block)
                sheet.write(b"</t></is></c></row>" + TAIL)
    return path


def refused(path: Path, seconds: float = 2.0) -> DataError:
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        read_raw(path)
    assert time.monotonic() - start < seconds
    return err.value


# ------------------------------------------------------------------------------ Excel
def test_zip_bomb_is_refused_before_parsing(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = workbook_with_sheet(tmp_path / "bomb.xlsx", padding_mb=3)
    assert path.stat().st_size < 50_000  # 3 MB of sheet in a few kilobytes
    monkeypatch.setenv("DISCONNECT_LAB_EXCEL_MAX_MB", "1")

    def parse(*args, **kwargs):
        raise AssertionError("the workbook was parsed before its size was checked")

    monkeypatch.setattr(openpyxl, "load_workbook", parse)
    err = refused(path)
    assert err.rule == "file-too-large" and err.file == str(path)
    text = str(err)
    assert "unzips to 3 MB" in text and "xl/worksheets/sheet1.xml alone 3 MB" in text
    assert "DISCONNECT_LAB_EXCEL_MAX_MB" in err.hint


def test_a_workbook_under_the_limit_is_read(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCONNECT_LAB_EXCEL_MAX_MB", "5")
    df = read_raw(workbook_with_sheet(tmp_path / "big.xlsx", padding_mb=2))
    assert list(df.columns) == ["respondent_id", "imp_1"]
    assert len(df.loc[0, "respondent_id"]) == 2_000_000


def test_sheet_claiming_too_many_cells_stops_early(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A small file with one cell far below and right of the data: the grid would be huge."""
    far = HEAD + HEADER_ROW + b'<row r="5000"><c r="AX5000"><v>1</v></c></row>' + TAIL
    monkeypatch.setenv("DISCONNECT_LAB_EXCEL_MAX_CELLS", "10000")
    err = refused(workbook_with_sheet(tmp_path / "far.xlsx", far))
    assert err.rule == "file-too-large" and "more than 10,000 cells" in str(err)
    assert "5,000 rows x 50 columns" in str(err)
    monkeypatch.delenv("DISCONNECT_LAB_EXCEL_MAX_CELLS")
    corner = HEAD + HEADER_ROW + b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>' + TAIL
    err = refused(workbook_with_sheet(tmp_path / "corner.xlsx", corner))  # default limit
    assert err.rule == "file-too-large"


def test_cell_beyond_excels_sheet_is_refused(tmp_path: Path) -> None:
    beyond = HEAD + HEADER_ROW + b'<row r="9999999"><c r="A9999999"><v>1</v></c></row>' + TAIL
    err = refused(workbook_with_sheet(tmp_path / "beyond.xlsx", beyond))
    assert err.rule == "unreadable-file" and "beyond Excel's last row" in str(err)


def _declare_size(path: Path, member: str, size: int) -> None:
    """Make the archive declare ``size`` uncompressed bytes for ``member`` (a lying header)."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo(member)
    assert info.file_size < 0xFFFFFFFF and not info.flag_bits & 0x08  # no zip64, no descriptor
    struct.pack_into("<I", data, info.header_offset + 22, size)  # local file header
    central = data.find(b"PK\x01\x02")
    while central != -1:  # the central directory entry of the member
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + length] == member.encode():
            struct.pack_into("<I", data, central + 24, size)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central != -1
    path.write_bytes(bytes(data))
    assert zipfile.ZipFile(path).getinfo(member).file_size == size


def test_archive_that_understates_its_size_cannot_inflate_more(tmp_path: Path) -> None:
    """The check trusts the declared sizes because zipfile never inflates beyond them."""
    path = tmp_path / "liar.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("big.xml", b"<a>" + b"A" * 5_000_000 + b"</a>")
    _declare_size(path, "big.xml", 1000)
    with zipfile.ZipFile(path) as archive, archive.open("big.xml") as member:
        with pytest.raises(zipfile.BadZipFile):
            while member.read(65536):
                pass
    bomb = workbook_with_sheet(tmp_path / "lying-bomb.xlsx", padding_mb=4)
    _declare_size(bomb, SHEET, 2000)
    err = refused(bomb)
    assert err.rule == "unreadable-file" and err.file == str(bomb)


# ------------------------------------------------------------------------------ YAML
def laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs" document: each anchor repeats the previous one ``width`` times."""
    lines = [f'l0: &l0 [{", ".join(["lol"] * width)}]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def timed_refusal(load, *args) -> DataError:
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        load(*args)
    assert time.monotonic() - start < 2
    assert err.value.rule == "yaml-too-large"
    assert len(str(err.value)) < 1000  # nothing of the expansion is quoted
    return err.value


def test_billion_laughs_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(laughs() + "columns: *l8\n", encoding="utf-8")
    err = timed_refusal(load_mapping, path)
    assert err.file == str(path) and "nested aliases" in str(err) and "billion laughs" in str(err)


def test_billion_laughs_codebook_and_batch(tmp_path: Path) -> None:
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text(laughs() + "items: *l8\n", encoding="utf-8")
    timed_refusal(load_codebook, codebook)
    reports = tmp_path / "reports.yaml"
    reports.write_text(laughs() + "defaults: {parameters: {x: *l8}}\njobs: []\n",
                       encoding="utf-8")
    timed_refusal(lambda p: batch_plan.load_batch(p, segments=False), reports)


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("columns: &a {x: *a}\n", encoding="utf-8")
    err = timed_refusal(load_mapping, path)
    assert "refers to the block that contains it" in str(err)


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("recode:\n  imp_1: &agree {Agree: 4, Disagree: 2}\n  imp_2: *agree\n",
                    encoding="utf-8")
    assert load_mapping(path).recode["imp_2"] == {"Agree": 4, "Disagree": 2}
    doc = safe_yaml.load_text("base: &base {a: 1, b: 2}\njob:\n  <<: *base\n  b: 3\n",
                              file="x.yaml", rule="batch-yaml")
    assert doc["job"] == {"a": 1, "b": 3}


def test_the_node_limit_counts_the_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    text = laughs(levels=3, width=10)  # 10 + 100 + 1000 scalars and their lists
    assert safe_yaml.load_text(text, file=None, rule="x")["l2"][0][0] == ["lol"] * 10
    monkeypatch.setenv("DISCONNECT_LAB_YAML_MAX_NODES", "1000")
    with pytest.raises(DataError) as err:
        safe_yaml.load_text(text, file=None, rule="x")
    assert err.value.rule == "yaml-too-large" and "1,000 values" in str(err.value)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    assert safe_yaml.check_expanded_size(node, 10**6) == 1 + 3 + 11 + 111 + 1111  # map, keys, lists


def test_oversized_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("source: " + "x" * 3000 + "\n", encoding="utf-8")
    monkeypatch.setenv("DISCONNECT_LAB_YAML_MAX_MB", "0.001")
    with pytest.raises(DataError) as err:
        load_mapping(path)
    assert err.value.rule == "yaml-too-large" and "MB" in str(err.value)


# ------------------------------------------------------------------------------ messages
def test_quote_is_bounded_for_any_value() -> None:
    big: list = ["lol"] * 10
    for _ in range(40):  # 10**40 elements once expanded: repr would never finish
        big = [big] * 10
    start = time.monotonic()
    text = quote(big)
    assert time.monotonic() - start < 0.1
    assert len(text) <= MAX_QUOTED_CHARS and text.endswith("…")
    assert quote("short") == "'short'"
    assert len(quote("x" * 100_000)) == MAX_QUOTED_CHARS


def test_messages_never_carry_a_whole_value(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("unfinished: " + "y" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_mapping(path)
    assert "yyyy…" in str(err.value) and len(str(err.value)) < 600
    path.write_text("big: &big [" + ", ".join(["word"] * 5000) + "]\n"
                    "recode: {imp_1: {Agree: *big}}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_mapping(path)  # big but under the limit: refused by the mapping's own rule
    assert err.value.rule in ("mapping-structure", "mapping-unknown-key")
    assert len(str(err.value)) < 600
    assert len(str(Issue(rule="r", message="m" * 50_000))) <= MAX_MESSAGE_CHARS + 10


def test_ledger_examples_truncate_long_cells(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    rows = [["F1", "2023-01-10", "IT", "AWS", "software", "invoice", "EUR", "100.5"]] * 9
    rows.append(["F1", "2023-01-10", "IT", "AWS", "software", "invoice", "EUR", "z" * 20_000])
    pd.DataFrame(rows, columns=["firm_id", "booking_date", "cost_center", "vendor",
                                "vendor_category", "payment_method", "currency", "amount"]
                 ).to_csv(ledger, index=False)
    fx = pd.DataFrame({"date": ["2023-01-01"], "currency": ["EUR"], "rate_to_eur": [1.0]})
    out = firm_year_features(ledger, fx=fx)
    example = out.attrs["bad_rows"].set_index("rule").loc["bad-amount", "examples"][0]
    assert "zzz…" in example and len(example) < 300
