"""Ledgers as ERP and card exports write them: known forms converted, wrong types refused.

Every converted ledger must give exactly the features of the clean ledger it was made from (the
hand-checked ledger of test_spend.py); every refused one a DataError naming the file, the column,
the expected type and example values. A spend table with no usable line, or mostly bad lines, is
an error, never an empty success; ``--strict`` makes any bad line one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_spend import FX, LINES, N_GOOD, VENDORS, ledger_frame, write_parquet

from helpers import ledger_types, simulate, spend_spark
from helpers.cli import main
from helpers.errors import DataError
from helpers.mapping import load_mapping
from helpers.spend import MAX_BAD_SHARE, describe_bad_rows, firm_year_features

CLEAN = ledger_frame(LINES[:N_GOOD])


def german(amount: float, group: str = ".") -> str:
    """1234.5 -> "1.234,50" (or "1 234,50" with a no-break space as ``group``)."""
    text = f"{abs(amount):,.2f}".replace(",", "_").replace(".", ",").replace("_", group)
    return ("-" if amount < 0 else "") + text


def write(df: pd.DataFrame, path: Path) -> Path:
    """A Parquet ledger with the frame's own column types (no casting)."""
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


def features(ledger: Path, **kwargs) -> pd.DataFrame:
    return firm_year_features(ledger, fx=FX, vendors=VENDORS, **kwargs)


@pytest.fixture(scope="module")
def clean_features(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return features(write_parquet(CLEAN, tmp_path_factory.mktemp("clean") / "clean.parquet"))


def assert_same(converted: pd.DataFrame, clean: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(converted, clean)
    assert converted.attrs["lines"]["excluded"] == 0
    assert converted.attrs["lines"]["read"] == N_GOOD


DAY = [d for d in CLEAN["booking_date"]]
VARIANTS = {
    "integer yyyymmdd": {"booking_date": [int(d.strftime("%Y%m%d")) for d in DAY]},
    "text yyyymmdd": {"booking_date": [d.strftime("%Y%m%d") for d in DAY]},
    "whole-number yyyymmdd": {"booking_date": [float(d.strftime("%Y%m%d")) for d in DAY]},
    "DD.MM.YYYY": {"booking_date": [d.strftime("%d.%m.%Y") for d in DAY]},
    "DD/MM/YYYY": {"booking_date": [d.strftime("%d/%m/%Y") for d in DAY]},
    "ISO and DD.MM.YYYY mixed": {"booking_date": [d.strftime("%d.%m.%Y" if i % 2 else "%Y-%m-%d")
                                                  for i, d in enumerate(DAY)]},
    "decimal comma": {"amount": [german(a) for a in CLEAN["amount"]]},
    "decimal comma, no grouping": {"amount": [german(a, "") for a in CLEAN["amount"]]},
    "no-break space grouping": {"amount": [german(a, "\u00a0") for a in CLEAN["amount"]]},
    "SAP trailing minus": {"amount": [german(abs(a)) + ("-" if a < 0 else "")
                                      for a in CLEAN["amount"]]},
    "currency sign or code": {"amount": [(f"€ {a:.2f}" if c == "EUR" else f"{a:.2f} {c}")
                                         for a, c in zip(CLEAN["amount"], CLEAN["currency"],
                                                         strict=True)]},
    "amounts stored as text": {"amount": [str(a) for a in CLEAN["amount"]]},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_known_forms_give_the_clean_features(tmp_path: Path, clean_features: pd.DataFrame,
                                             variant: str) -> None:
    ledger = write(CLEAN.assign(**VARIANTS[variant]), tmp_path / "ledger.parquet")
    out = features(ledger)
    assert_same(out, clean_features)
    assert out.attrs["lines"]["converted"], "the conversion is reported"


def test_csv_with_integer_dates_and_decimal_commas(tmp_path: Path,
                                                   clean_features: pd.DataFrame) -> None:
    """The ERP export of the issue: a semicolon CSV with yyyymmdd dates and German amounts."""
    df = CLEAN.assign(booking_date=[d.strftime("%Y%m%d") for d in DAY],
                      amount=[german(a) for a in CLEAN["amount"]])
    path = tmp_path / "erp.csv"
    df.to_csv(path, sep=";", index=False)
    out = features(path)
    assert_same(out, clean_features)
    assert out.attrs["lines"]["converted"] == ["booking_date: text dates 20240315",
                                               "amount: text amounts with a decimal comma"]


def test_a_value_outside_the_columns_form_is_a_counted_bad_line(tmp_path: Path) -> None:
    df = CLEAN.assign(amount=[german(a) for a in CLEAN["amount"]])
    df.loc[0, "amount"] = "12.5"  # a decimal point in a decimal-comma column
    df.loc[1, "amount"] = "99 DKK"  # a currency code that is not the line's (EUR)
    out = features(write(df, tmp_path / "ledger.parquet"))
    bad = out.attrs["bad_rows"].set_index("rule")
    assert bad.loc["bad-amount", "count"] == 2
    assert "amount='12.5'" in bad.loc["bad-amount", "examples"][0]
    assert "row 1" in bad.loc["bad-amount", "examples"][0]
    assert out.attrs["lines"] == {"read": N_GOOD, "excluded": 2,
                                  "converted": ["amount: text amounts with a decimal comma"]}


# ------------------------------------------------------------------------------ wrong types
def refused(ledger: Path, **kwargs) -> DataError:
    with pytest.raises(DataError) as err:
        features(ledger, **kwargs)
    return err.value


def test_nested_amount_names_file_column_and_types(tmp_path: Path) -> None:
    df = CLEAN.assign(amount=[{"value": a, "currency": c}
                              for a, c in zip(CLEAN["amount"], CLEAN["currency"], strict=True)])
    path = write(df, tmp_path / "nested.parquet")
    err = refused(path)
    text = str(err)
    assert (err.rule, err.column, err.file) == ("ledger-column-type", "amount", str(path))
    assert "nested column" in text and "STRUCT" in text and "expected numbers" in text
    assert "nested.parquet row 1: {'currency': 'EUR', 'value': 1000.0}" in text  # an example


def test_nested_text_column_in_one_file_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ledger"
    folder.mkdir()
    write_parquet(CLEAN.iloc[:8], folder / "a.parquet")
    write(CLEAN.iloc[8:].assign(vendor=[[v] for v in CLEAN["vendor"].iloc[8:]]),
          folder / "b.parquet")
    err = refused(folder)
    assert (err.rule, err.column) == ("ledger-column-type", "vendor")
    assert err.file == str(folder / "b.parquet")  # the file that has the nested column
    assert "expected text" in str(err)


@pytest.mark.parametrize(("change", "column", "says"), [
    ({"amount": [True] * N_GOOD}, "amount", "true/false column (BOOLEAN); expected numbers"),
    ({"booking_date": [45000 + i for i in range(N_GOOD)]}, "booking_date",
     "whole-number column (BIGINT); expected dates"),
    ({"booking_date": ["n/a"] * N_GOOD}, "booking_date", "not a date in any known form"),
    ({"amount": ["about 50"] * N_GOOD}, "amount", "not an amount in any known form"),
])
def test_wrong_types_are_refused_with_examples(tmp_path: Path, change: dict, column: str,
                                               says: str) -> None:
    err = refused(write(CLEAN.assign(**change), tmp_path / "ledger.parquet"))
    assert (err.rule, err.column) == ("ledger-column-type", column)
    assert says in str(err) and "e.g." in str(err) and err.hint


def test_csv_examples_are_values_and_say_why(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    CLEAN.assign(booking_date=["soon", "later"] * 8).to_csv(path, index=False)
    text = str(refused(path))
    assert "'soon', 'later'" in text and "lines of a streamed CSV ledger are not tracked" in text


def test_renamed_column_is_named_both_ways(tmp_path: Path) -> None:
    df = CLEAN.rename(columns={"booking_date": "Buchungsdatum"}).assign(Buchungsdatum=[True] * 16)
    err = refused(write(df, tmp_path / "ledger.parquet"),
                  columns={"Buchungsdatum": "booking_date"})
    assert err.column == "booking_date" and "the ledger's 'Buchungsdatum'" in str(err)


# ------------------------------------------------------------------------------ ambiguous forms
def test_ambiguous_dates_ask_for_the_format(tmp_path: Path, clean_features: pd.DataFrame) -> None:
    dates = [d.replace(day=min(d.day, 12)) for d in DAY]  # no day above 12: 01/02 or 02/01?
    df = CLEAN.assign(booking_date=[d.strftime("%d/%m/%Y") for d in dates])
    path = write(df, tmp_path / "ledger.parquet")
    err = refused(path)
    assert (err.rule, err.column) == ("ambiguous-format", "booking_date")
    assert 'date_format: "%d/%m/%Y"' in err.hint and '"%m/%d/%Y"' in err.hint
    expected = features(write_parquet(CLEAN.assign(booking_date=dates), tmp_path / "c.parquet"))
    assert_same(features(path, date_format="%d/%m/%Y"), expected)


def test_date_format_from_the_mapping_file(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('ledger:\n  date_format: "%m/%d/%Y"\n  decimal: ","\n', encoding="utf-8")
    table = load_mapping(mapping).ledger
    assert (table.date_format, table.decimal) == ("%m/%d/%Y", ",")
    mapping.write_text('ledger: {date_format: "dd/mm/yyyy"}\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_mapping(mapping)
    assert err.value.rule == "mapping-structure" and "date_format" in str(err.value)
    mapping.write_text("ledger: {decimal: ';'}\n", encoding="utf-8")
    with pytest.raises(DataError):
        load_mapping(mapping)


def test_day_order_is_read_from_the_whole_column(tmp_path: Path, clean_features: pd.DataFrame,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample alone (the first lines, all early in a month) cannot tell; the column can."""
    monkeypatch.setattr(ledger_types, "SAMPLE_VALUES", 3)
    order = CLEAN.assign(day=[d.day for d in DAY]).sort_values("day", kind="stable")
    df = order.drop(columns="day").assign(
        booking_date=[d.strftime("%m/%d/%Y") for d in order["booking_date"]])
    assert all(int(v[3:5]) <= 12 for v in df["booking_date"].head(3))
    assert_same(features(write(df, tmp_path / "ledger.parquet")), clean_features)


def test_mixed_day_orders_are_refused(tmp_path: Path) -> None:
    df = CLEAN.assign(booking_date=["15/02/2023", "02/15/2023"] * 8)
    err = refused(write(df, tmp_path / "ledger.parquet"))
    assert err.rule == "ambiguous-format" and "mixes day-first and month-first" in str(err)


def test_ambiguous_decimal_mark(tmp_path: Path) -> None:
    df = CLEAN.assign(amount=["1.250"] * N_GOOD)
    path = write(df, tmp_path / "ledger.parquet")
    err = refused(path)
    assert (err.rule, err.column) == ("ambiguous-format", "amount") and "decimal" in err.hint
    thousands = features(path, decimal=",")
    decimals = features(path, decimal=".")
    assert thousands["marketing_spend"].sum() == pytest.approx(
        1000 * decimals["marketing_spend"].sum())


# ------------------------------------------------------------------------------ bad lines
def test_no_usable_line_is_an_error(tmp_path: Path) -> None:
    err = refused(write_parquet(CLEAN.assign(currency="XYZ"), tmp_path / "ledger.parquet"))
    assert [i.rule for i in err.issues] == ["no-usable-lines", "unknown-currency"]
    assert f"none of the ledger's {N_GOOD} lines is usable" in str(err)
    assert "'XYZ'" in str(err)  # the examples of the broken rule


def test_mostly_bad_ledger_is_an_error(tmp_path: Path) -> None:
    df = CLEAN.copy()
    df.loc[:9, "currency"] = "XYZ"  # 10 of 16 lines: 62 %
    path = write_parquet(df, tmp_path / "ledger.parquet")
    err = refused(path)
    assert [i.rule for i in err.issues] == ["too-many-bad-lines", "unknown-currency"]
    assert "10 of the ledger's 16 lines (62%)" in str(err)
    assert f"{MAX_BAD_SHARE:.0%}" in str(err)
    out = features(path, max_bad_share=0.7)  # a caller may accept more
    assert out.attrs["lines"] == {"read": 16, "excluded": 10, "converted": []}


def test_a_few_bad_lines_are_counted_and_strict_refuses_them(tmp_path: Path) -> None:
    path = write_parquet(ledger_frame(), tmp_path / "ledger.parquet")  # 3 of 19 bad
    out = features(path)
    assert out.attrs["lines"] == {"read": len(LINES), "excluded": 3, "converted": []}
    assert describe_bad_rows(out).startswith(f"3 of {len(LINES)} ledger lines (15.8%) excluded")
    err = refused(path, strict=True)
    assert {i.rule for i in err.issues} == {"missing-firm-id", "unknown-currency", "no-fx-rate"}


def test_empty_ledger_is_an_error(tmp_path: Path) -> None:
    err = refused(write_parquet(CLEAN.iloc[:0], tmp_path / "ledger.parquet"))
    assert err.rule == "no-data-rows"


# ------------------------------------------------------------------------------ command line
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sample")
    return simulate.write_sample(folder, firms=12, ledger_rows=3000, seed=5)


def build(sample: dict[str, Path], ledger: Path, out: Path, *extra: str) -> int:
    return main(["build-data", "--survey", str(sample["survey"]), "--ledger", str(ledger),
                 "--fx", str(sample["fx_rates"]), "--vendors", str(sample["vendors"]),
                 "--out", str(out), *extra])


def test_strict_on_the_command_line(tmp_path: Path, sample: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    table = pq.read_table(sample["ledger"])
    bad_line = table.slice(0, 1).to_pandas().assign(currency="XYZ")
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(pa.concat_tables([table, pa.Table.from_pandas(
        bad_line, schema=table.schema, preserve_index=False)]), ledger)
    assert build(sample, ledger, tmp_path / "lenient") == 0
    lines = len(table) + 1
    assert f"1 of {lines:,} ledger lines (0.0%) excluded" in capsys.readouterr().out
    assert build(sample, ledger, tmp_path / "strict", "--strict") == 2
    err = capsys.readouterr().err
    assert "[unknown-currency]" in err and "ledger.parquet" in err and "'XYZ'" in err
    assert not (tmp_path / "strict" / "spend_features.parquet").exists()  # nothing written


def test_command_line_refuses_a_ledger_without_usable_lines(tmp_path: Path,
                                                            sample: dict[str, Path],
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    """The issue's case: integer dates used to give exit 0 and empty features. Now they are
    read; a ledger whose dates are no dates at all is exit 2 with the column named."""
    frame = pq.read_table(sample["ledger"]).to_pandas()
    ints = frame.assign(booking_date=[int(d.strftime("%Y%m%d")) for d in frame["booking_date"]])
    ledger = write(ints, tmp_path / "erp.parquet")
    assert build(sample, ledger, tmp_path / "ok") == 0
    assert "booking_date: bigint read as dates yyyymmdd" in capsys.readouterr().out
    ok = pd.read_parquet(tmp_path / "ok" / "spend_features.parquet")
    assert build(sample, sample["ledger"], tmp_path / "same") == 0
    same = pd.read_parquet(tmp_path / "same" / "spend_features.parquet")
    pd.testing.assert_frame_equal(ok, same)
    nested = write(frame.assign(amount=[{"eur": a} for a in frame["amount"]]),
                   tmp_path / "nested.parquet")
    assert build(sample, nested, tmp_path / "nested") == 2
    err = capsys.readouterr().err
    assert "[ledger-column-type]" in err and "column 'amount'" in err and "Traceback" not in err


def test_make_data_passes_strict() -> None:
    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(["make", "-n", "data", "STRICT=1"], cwd=root, capture_output=True,
                         text=True, timeout=60)
    plain = subprocess.run(["make", "-n", "data"], cwd=root, capture_output=True, text=True,
                           timeout=60)
    assert "build-data" in dry.stdout and "--strict" in dry.stdout, dry.stdout + dry.stderr
    assert "--strict" not in plain.stdout


# ------------------------------------------------------------------------------ Spark parity
SPARK, WHY = spend_spark.available()


@pytest.mark.slow
@pytest.mark.skipif(not SPARK, reason=f"Spark unavailable: {WHY}")
def test_spark_converts_the_same_forms(tmp_path: Path) -> None:
    df = ledger_frame()
    df = df.assign(booking_date=[int(d.strftime("%Y%m%d")) for d in df["booking_date"]],
                   amount=[german(a) for a in df["amount"]])
    df.loc[0, "amount"] = "€ 1.000,00"
    df.loc[1, "amount"] = "200,00-"
    path = write(df, tmp_path / "ledger.parquet")
    duck, spark = features(path, engine="duckdb"), features(path, engine="spark")
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False, rtol=1e-9, atol=1e-6)
    assert duck.attrs["lines"] == spark.attrs["lines"]
    csv = tmp_path / "ledger.csv"
    df.assign(booking_date=[f"{d % 100:02d}.{d // 100 % 100:02d}.{d // 10000}"
                            for d in df["booking_date"]]).to_csv(csv, sep=";", index=False)
    pd.testing.assert_frame_equal(features(csv, engine="duckdb"), features(csv, engine="spark"),
                                  check_dtype=False, rtol=1e-9, atol=1e-6)
