"""Budgets and ledgers take the mapping's ``columns:`` renaming (``budgets:`` and ``ledger:``).

German headers, decimal commas and thousands separators from German Excel; a missing column
lists the columns found with close matches; the ledger stays streamed (renamed in the engine's
read step), with the same features as a ledger that already uses the codebook's names.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from helpers import privacy, spend, spend_spark
from helpers.errors import DataError
from helpers.mapping import load_mapping
from helpers.processing import build_processed, load_budgets, parse_amounts

GERMAN_LEDGER = {"firm_id": "Firma", "booking_date": "Buchungsdatum", "cost_center": "Kostenstelle",
                 "vendor": "Lieferant", "vendor_category": "Kategorie",
                 "payment_method": "Zahlungsart", "currency": "Währung", "amount": "Betrag"}
FX = pd.DataFrame({"date": ["2024-01-01", "2025-01-01"], "currency": ["DKK", "DKK"],
                   "rate_to_eur": [0.134, 0.134]})


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding=encoding)
    return path


BUDGETS_DE = """
    Firma;Jahr;Währung;Umsatz;IT-Budget;Marketingbudget;Martech;Kommentar
    F1;2024;EUR;12.500.000;1.234.567,50;250.000;80.000,25;vertraulich
    F1;2025;EUR;13.000.000;1.300.000;260.000;90.000;
    F2;2024;DKK;900 000 000;45 000 000;30 000 000;5 000 000;
"""
MAPPING = """
    budgets:
      columns: {Firma: firm_id, Jahr: year, "Währung": currency, Umsatz: revenue,
                IT-Budget: it_budget, Marketingbudget: marketing_budget, Martech: martech_budget}
      drop: [Kommentar]
    ledger:
      columns: {Firma: firm_id, Buchungsdatum: booking_date, Kostenstelle: cost_center,
                Lieferant: vendor, Kategorie: vendor_category, Zahlungsart: payment_method,
                "Währung": currency, Betrag: amount}
"""


def test_budgets_with_german_headers_and_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "budgets.csv", BUDGETS_DE, encoding="cp1252")
    before = path.read_bytes()
    budgets = load_budgets(path, write(tmp_path, "mapping.yaml", MAPPING))
    assert list(budgets.columns) == ["firm_id", "year", "currency", "revenue", "it_budget",
                                     "marketing_budget", "martech_budget"]
    first = budgets.set_index(["firm_id", "year"]).sort_index()
    f1 = privacy.pseudonymise(pd.Series(["F1"], dtype="string"), "F").iloc[0]
    assert first.loc[(f1, 2024), "revenue"] == 12_500_000
    assert first.loc[(f1, 2024), "it_budget"] == 1_234_567.50
    assert first.loc[(f1, 2024), "marketing_budget"] == 250_000  # not 250.0
    assert first.loc[(f1, 2024), "martech_budget"] == 80_000.25
    assert sorted(budgets["revenue"]) == [12_500_000, 13_000_000, 900_000_000]
    assert path.read_bytes() == before


def test_budget_columns_match_ignoring_case_spaces_and_hyphens(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", """
        Firm ID,Year,Currency,Revenue,IT Budget,Marketing-Budget,martech_budget
        F1,2024,EUR,100,10,5,1
    """)
    budgets = load_budgets(path)
    assert budgets[["year", "revenue", "it_budget", "marketing_budget"]].iloc[0].tolist() == [
        2024, 100, 10, 5]


def test_missing_budget_columns_list_what_was_found(tmp_path: Path) -> None:
    path = write(tmp_path, "budgets.csv", BUDGETS_DE, encoding="cp1252")
    with pytest.raises(DataError) as info:
        load_budgets(path)
    error = info.value
    assert error.rule == "missing-column" and error.column == "firm_id"
    assert "budgets.csv" in str(error)
    for found in ("Firma", "Jahr", "Umsatz", "IT-Budget", "Kommentar"):
        assert found in str(error)
    assert "it_budget: did you mean 'IT-Budget'?" not in str(error)  # matched automatically
    assert "budgets: {columns:" in error.hint


def test_close_match_suggested_for_a_missing_budget_column(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", """
        firm_id,year,currency,revenue,it_budget,marketing_budgt,martech_budget
        F1,2024,EUR,100,10,5,1
    """)
    with pytest.raises(DataError) as info:
        load_budgets(path)
    assert "marketing_budget: did you mean 'marketing_budgt'?" in info.value.hint


def test_budgets_mapping_naming_an_absent_column(tmp_path: Path) -> None:
    path = write(tmp_path, "budgets.csv", BUDGETS_DE, encoding="cp1252")
    mapping = write(tmp_path, "m.yaml", MAPPING.replace("Umsatz: revenue", "Umsaz: revenue"))
    with pytest.raises(DataError) as info:
        load_budgets(path, mapping)
    assert info.value.rule == "mapping-column-missing" and info.value.column == "Umsaz"
    assert "m.yaml" in str(info.value) and "'Umsatz'" in info.value.hint
    bad_target = write(tmp_path, "t.yaml", "budgets: {columns: {Umsatz: turnover}}\n")
    with pytest.raises(DataError, match="not a budgets column"):
        load_budgets(path, bad_target)


def test_invalid_amounts_and_years_are_clear_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", """
        firm_id;year;currency;revenue;it_budget;marketing_budget;martech_budget
        F1;2024;EUR;100;10;5;1
        F2;2024;EUR;n/v;10;5;1
    """)
    with pytest.raises(DataError) as info:
        load_budgets(path)
    assert (info.value.rule, info.value.column, info.value.rows) == ("invalid-amount", "revenue",
                                                                     [2])
    path = write(tmp_path, "y.csv", """
        firm_id;year;currency;revenue;it_budget;marketing_budget;martech_budget
        F1;FY24;EUR;100;10;5;1
    """)
    with pytest.raises(DataError) as info:
        load_budgets(path)
    assert (info.value.rule, info.value.column) == ("invalid-year", "year")


@pytest.mark.parametrize(("cells", "comma_first", "expected"), [
    (["1.234,5", "12"], True, [1234.5, 12.0]),
    (["1,234.5", "12"], True, [1234.5, 12.0]),  # only the dot convention parses both
    (["1,500", "2,000"], False, [1500.0, 2000.0]),  # comma-separated file: English
    (["1,500", "2,000"], True, [1.5, 2.0]),  # semicolon file: German
    (["1'234'567.50", "1\u00a0000"], True, [1234567.5, 1000.0]),
    ([1234.5, "1.000"], True, [1234.5, 1000.0]),
])
def test_parse_amounts(cells: list, comma_first: bool, expected: list[float]) -> None:
    result = parse_amounts(pd.Series(cells, dtype=object), comma_first=comma_first)
    assert result.tolist() == expected


def test_parse_amounts_leaves_unparseable_text_missing() -> None:
    result = parse_amounts(pd.Series(["12 EUR", "3"], dtype=object))
    assert pd.isna(result.iloc[0]) and result.iloc[1] == 3


# ------------------------------------------------------------------------------ ledger
def plain_ledger() -> pd.DataFrame:
    return pd.DataFrame({
        "firm_id": ["F1", "F1", "F1", "F2"],
        "booking_date": ["2024-02-01", "2024-03-01", "2025-01-15", "2024-05-05"],
        "cost_center": ["Marketing", "IT", "Marketing", "Marketing"],
        "vendor": ["HubSpot", "AWS", "Canva", "Google Ads"],
        "vendor_category": ["software", "cloud_infrastructure", "software", "advertising_media"],
        "payment_method": ["corporate_card", "invoice", "expense_claim", "invoice"],
        "currency": ["EUR", "EUR", "DKK", "EUR"],
        "amount": [1000.0, 2000.0, 5000.0, 300.0],
    })


@pytest.fixture
def ledgers(tmp_path: Path) -> dict[str, Path]:
    plain = tmp_path / "plain.csv"
    plain_ledger().to_csv(plain, index=False)
    german = tmp_path / "german.parquet"
    plain_ledger().rename(columns=GERMAN_LEDGER).to_parquet(german, index=False)
    german_csv = tmp_path / "german.csv"
    plain_ledger().rename(columns=GERMAN_LEDGER).to_csv(german_csv, index=False)
    return {"plain": plain, "german": german, "german_csv": german_csv}


def test_renamed_ledger_gives_the_same_features(ledgers: dict[str, Path], tmp_path: Path) -> None:
    plain = spend.firm_year_features(ledgers["plain"], fx=FX)
    for name in ("german", "german_csv"):
        renamed = spend.firm_year_features(ledgers[name], fx=FX,
                                           columns={v: k for k, v in GERMAN_LEDGER.items()})
        pd.testing.assert_frame_equal(plain, renamed, check_dtype=False)
    assert plain.loc[plain["firm_id"] == "F1", "shadow_it_spend"].tolist() == [1000.0, 670.0]


def test_ledger_names_match_ignoring_case(tmp_path: Path) -> None:
    path = tmp_path / "upper.csv"
    plain_ledger().rename(columns=str.upper).to_csv(path, index=False)
    plain = tmp_path / "plain.csv"
    plain_ledger().to_csv(plain, index=False)
    pd.testing.assert_frame_equal(spend.firm_year_features(path, fx=FX),
                                  spend.firm_year_features(plain, fx=FX), check_dtype=False)


def test_missing_ledger_column_lists_found_columns(ledgers: dict[str, Path]) -> None:
    with pytest.raises(DataError) as info:
        spend.firm_year_features(ledgers["german"], fx=FX, columns={"Firma": "firm_id"})
    error = info.value
    assert error.rule == "missing-column" and error.column == "booking_date"
    for found in ("Buchungsdatum", "Kostenstelle", "Betrag"):
        assert found in str(error)
    assert "ledger: {columns:" in error.hint
    with pytest.raises(DataError) as info:
        spend.firm_year_features(ledgers["german"], fx=FX,
                                 columns={**{v: k for k, v in GERMAN_LEDGER.items()},
                                          "Buchungsdatm": "booking_date"})
    assert info.value.rule == "mapping-column-missing"
    assert "'Buchungsdatum'" in info.value.hint


def test_close_match_suggested_for_a_missing_ledger_column(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    plain_ledger().rename(columns={"payment_method": "payment_methods"}).to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        spend.firm_year_features(path, fx=FX)
    assert "payment_method: did you mean 'payment_methods'?" in info.value.hint


def test_ledger_rename_to_an_unknown_target(ledgers: dict[str, Path]) -> None:
    with pytest.raises(DataError, match="not 'date'"):
        spend.firm_year_features(ledgers["german"], fx=FX, columns={"Buchungsdatum": "date"})


def test_build_uses_the_mapping_for_budgets_and_ledger(tmp_path: Path, ledgers: dict[str, Path],
                                                      survey_factory) -> None:
    survey = survey_factory(2).assign(firm_id=lambda d: d["firm_id"].map({"F0": "F1",
                                                                         "F1": "F2"}))
    survey_path = tmp_path / "survey.csv"
    survey.assign(year=2024).to_csv(survey_path, index=False)
    fx = tmp_path / "fx.csv"
    FX.to_csv(fx, index=False)
    budgets = write(tmp_path, "budgets.csv", BUDGETS_DE, encoding="cp1252")
    mapping = write(tmp_path, "mapping.yaml", MAPPING)
    out = tmp_path / "processed"
    result = build_processed(survey_path, mapping=mapping, budgets=budgets,
                             ledger=ledgers["german"], fx=fx, out_dir=out)
    assert result.manifest["outputs"]["budgets.parquet"]["rows"] == 3
    features = pd.read_parquet(out / "spend_features.parquet")
    assert len(features) == 3 and features["firm_id"].str.startswith("F-").all()


def test_mapping_sections_are_loaded(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, "mapping.yaml", MAPPING))
    assert mapping.ledger.columns["Buchungsdatum"] == "booking_date"
    assert mapping.budgets.drop == ("Kommentar",)


@pytest.mark.slow
@pytest.mark.skipif(not spend_spark.available()[0], reason="Spark unavailable")
def test_spark_reads_the_renamed_ledger(ledgers: dict[str, Path]) -> None:
    columns = {v: k for k, v in GERMAN_LEDGER.items()}
    duck = spend.firm_year_features(ledgers["german"], "duckdb", fx=FX, columns=columns)
    spark = spend.firm_year_features(ledgers["german"], "spark", fx=FX, columns=columns)
    pd.testing.assert_frame_equal(duck.reset_index(drop=True), spark.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9, atol=1e-6)
