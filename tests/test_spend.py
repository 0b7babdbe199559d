"""Spend features: every number checked by hand on a small ledger (helpers.spend)."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import spend
from helpers.errors import DataError
from helpers.spend import ShadowRule, budget_shares, firm_year_features, share_trend

# FX: EUR per unit. March 2023 is missing for every currency (falls back to February);
# bookings after April 2023 use the April rates; DKK has no rate before January 2023.
FX = pd.DataFrame({
    "date": ["2023-01-01", "2023-02-01", "2023-04-01"] * 3,
    "currency": ["DKK"] * 3 + ["GBP"] * 3 + ["CHF"] * 3,
    "rate_to_eur": [0.13, 0.14, 0.15, 1.15, 1.20, 1.10, 1.05, 1.10, 1.00],
})

VENDORS = pd.DataFrame({
    "vendor": ["HubSpot", "Salesforce", "Canva", "AWS", "Dell", "Google Ads", "Accenture"],
    "vendor_category": ["software", "software", "software", "cloud_infrastructure", "hardware",
                        "advertising_media", "it_services"],
})

COLUMNS = ["firm_id", "booking_date", "cost_center", "vendor", "vendor_category",
           "payment_method", "currency", "amount"]
LINES = [
    # F1 2023 ------------------------------------------------------------------------------
    # 1-2: Marketing buys HubSpot on the card, then gets 200 back; the ledger says "other" but
    #      the vendor map overrides it to software -> shadow IT, martech, card
    ("F1", "2023-01-10", "Marketing", "HubSpot", "other", "corporate_card", "EUR", 1000.0),
    ("F1", "2023-01-20", "Marketing", "HubSpot", "other", "corporate_card", "EUR", -200.0),
    # 3: Marketing software on a purchase order: martech, not shadow (DKK Feb 0.14)
    ("F1", "2023-02-05", "Marketing", "Salesforce", "software", "purchase_order", "DKK", 10000.0),
    # 4: blank category, mapped to software by the vendor map; March missing -> Feb DKK 0.14
    ("F1", "2023-03-15", "Marketing", "Canva", None, "corporate_card", "DKK", 1000.0),
    # 5-6: IT cloud on card and invoice: IT spend, never shadow (GBP Jan 1.15, Feb 1.20)
    ("F1", "2023-01-12", "IT", "AWS", "cloud_infrastructure", "corporate_card", "GBP", 1000.0),
    ("F1", "2023-02-12", "IT", "AWS", "cloud_infrastructure", "invoice", "GBP", 2000.0),
    # 7: Sales hardware on card: technology, card, not shadow (CHF Apr 1.00)
    ("F1", "2023-04-03", "Sales", "Dell", "hardware", "corporate_card", "CHF", 500.0),
    # 8: advertising: marketing spend only (CHF Jan 1.05)
    ("F1", "2023-01-25", "Marketing", "Google Ads", "advertising_media", "invoice", "CHF", 2000.0),
    # 9: vendor not in the map, category from the ledger: Finance software on expense claim
    ("F1", "2023-02-25", "Finance", "NewTool", "software", "expense_claim", "EUR", 300.0),
    # 10: same vendor, no category anywhere -> uncategorised, listed as unmapped
    ("F1", "2023-02-26", "Marketing", "NewTool", None, "corporate_card", "EUR", 50.0),
    # 11: unknown vendor, uncategorised, HR (GBP Apr 1.10)
    ("F1", "2023-04-20", "HR", "MysteryCo", None, "invoice", "GBP", 100.0),
    # 12: IT software on card: IT spend, not shadow
    ("F1", "2023-02-14", "IT", "Salesforce", "software", "corporate_card", "EUR", 400.0),
    # 13: IT services by Operations on invoice: other tech, not shadow (March -> Feb GBP 1.20)
    ("F1", "2023-03-02", "Operations", "Accenture", "it_services", "invoice", "GBP", 1000.0),
    # F2 -----------------------------------------------------------------------------------
    # 14: Marketing cloud on an invoice: martech, not shadow (accounts payable approves it)
    ("F2", "2023-01-08", "Marketing", "AWS", "cloud_infrastructure", "invoice", "EUR", 600.0),
    # 15-16: 2024, after the FX table ends -> April 2023 GBP rate 1.10; the card refund has no
    #        shadow purchase that year -> shadow spend turns negative (net-negative)
    ("F2", "2024-06-01", "Marketing", "Canva", None, "purchase_order", "GBP", 100.0),
    ("F2", "2024-06-15", "Marketing", "Canva", None, "corporate_card", "GBP", -50.0),
    # bad lines ----------------------------------------------------------------------------
    (None, "2023-01-10", "IT", "AWS", "cloud_infrastructure", "invoice", "EUR", 100.0),
    ("F1", "2023-01-11", "IT", "AWS", "cloud_infrastructure", "invoice", "XXX", 100.0),
    ("F1", "2022-12-15", "IT", "AWS", "cloud_infrastructure", "invoice", "DKK", 100.0),
]
N_GOOD = 16


def ledger_frame(lines: list[tuple] = LINES) -> pd.DataFrame:
    df = pd.DataFrame(lines, columns=COLUMNS)
    df["booking_date"] = [date.fromisoformat(d) for d in df["booking_date"]]
    return df


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    table = pa.Table.from_pandas(df, preserve_index=False).cast(pa.schema([
        ("firm_id", pa.string()), ("booking_date", pa.date32()), ("cost_center", pa.string()),
        ("vendor", pa.string()), ("vendor_category", pa.string()),
        ("payment_method", pa.string()), ("currency", pa.string()), ("amount", pa.float64()),
    ]))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


@pytest.fixture()
def parquet_ledger(tmp_path: Path) -> Path:
    return write_parquet(ledger_frame(), tmp_path / "ledger.parquet")


@pytest.fixture()
def csv_ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.csv"
    ledger_frame().to_csv(path, index=False)
    return path


def features(ledger: Path, **kwargs) -> pd.DataFrame:
    kwargs.setdefault("fx", FX)
    kwargs.setdefault("vendors", VENDORS)
    return firm_year_features(ledger, **kwargs)


def row(df: pd.DataFrame, firm: str, year: int) -> pd.Series:
    hit = df[(df["firm_id"] == firm) & (df["year"] == year)]
    assert len(hit) == 1
    return hit.iloc[0]


# ------------------------------------------------------------------------------ hand-checked
def test_f1_2023_features_by_hand(parquet_ledger: Path) -> None:
    r = row(features(parquet_ledger), "F1", 2023)
    # EUR amounts per line: 1: 1000, 2: -200, 3: 10000*0.14=1400, 4: 1000*0.14=140,
    # 5: 1000*1.15=1150, 6: 2000*1.20=2400, 7: 500*1.00=500, 8: 2000*1.05=2100, 9: 300, 10: 50,
    # 11: 100*1.10=110, 12: 400, 13: 1000*1.20=1200
    it = 1000 * 1.15 + 2000 * 1.20 + 400                           # lines 5, 6, 12 = 3950
    marketing = 1000 - 200 + 10000 * 0.14 + 1000 * 0.14 + 2000 * 1.05 + 50   # 1-4, 8, 10
    martech = 1000 - 200 + 10000 * 0.14 + 1000 * 0.14              # lines 1-4 = 2340
    other_tech = 500 * 1.00 + 300 + 1000 * 1.20                    # lines 7, 9, 13 = 2000
    tech = it + martech + other_tech                                # 8290
    shadow = 1000 - 200 + 1000 * 0.14 + 300                         # lines 1, 2, 4, 9 = 1240
    card = 1000 - 200 + 1000 * 0.14 + 1000 * 1.15 + 500 * 1.00 + 300 + 400  # 1,2,4,5,7,9,12
    assert r["it_spend"] == pytest.approx(it)
    assert r["marketing_spend"] == pytest.approx(marketing)
    assert r["martech_spend"] == pytest.approx(martech)
    assert r["other_tech_spend"] == pytest.approx(other_tech)
    assert r["tech_spend_total"] == pytest.approx(tech)
    assert r["shadow_it_spend"] == pytest.approx(shadow)
    assert r["shadow_it_share"] == pytest.approx(shadow / tech)
    assert r["card_share"] == pytest.approx(card / tech)
    assert r["n_vendors_it"] == 2           # AWS, Salesforce
    assert r["n_vendors_marketing"] == 3    # HubSpot, Salesforce, Canva
    assert r["n_vendors_other"] == 3        # Dell, NewTool, Accenture
    assert r["n_lines"] == 13
    assert r["refunds"] == pytest.approx(200)
    assert r["uncategorised_spend"] == pytest.approx(50 + 100 * 1.10)


def test_f2_features_and_fx_after_the_table_ends(parquet_ledger: Path) -> None:
    df = features(parquet_ledger)
    assert list(zip(df["firm_id"], df["year"], strict=True)) == [("F1", 2023), ("F2", 2023), ("F2", 2024)]
    r = row(df, "F2", 2023)   # line 14: Marketing cloud on invoice = martech, sanctioned
    assert (r["it_spend"], r["martech_spend"], r["other_tech_spend"]) == (0, 600, 0)
    assert r["shadow_it_spend"] == pytest.approx(0)
    assert r["shadow_it_share"] == pytest.approx(0.0)
    assert r["card_share"] == pytest.approx(0.0)
    assert (r["n_vendors_marketing"], r["n_lines"], r["refunds"]) == (1, 1, 0)
    r = row(df, "F2", 2024)   # lines 15-16 at the April 2023 GBP rate 1.10
    assert r["martech_spend"] == pytest.approx(100 * 1.10 - 50 * 1.10)
    assert r["marketing_spend"] == pytest.approx(100 * 1.10 - 50 * 1.10)
    assert r["shadow_it_spend"] == pytest.approx(-50 * 1.10)
    assert r["shadow_it_share"] == pytest.approx(-55 / 55)
    assert r["card_share"] == pytest.approx(-55 / 55)
    assert r["refunds"] == pytest.approx(50 * 1.10)
    assert (r["n_vendors_marketing"], r["n_lines"]) == (1, 2)


def test_result_types_and_columns(parquet_ledger: Path) -> None:
    df = features(parquet_ledger)
    for col in ["firm_id", "year", "it_spend", "marketing_spend", "martech_spend",
                "other_tech_spend", "tech_spend_total", "shadow_it_spend", "shadow_it_share",
                "card_share", "n_vendors_it", "n_vendors_marketing", "n_vendors_other",
                "n_lines", "refunds"]:
        assert col in df.columns
    assert df["year"].dtype == "int64" and df["n_lines"].dtype == "int64"
    assert df.attrs["currency"] == "EUR"


def test_reporting_currency(parquet_ledger: Path) -> None:
    df = features(parquet_ledger, currency="gbp")
    # F2 2023: 600 EUR in January / 1.15 EUR per GBP; F2 2024 lines are GBP already
    assert row(df, "F2", 2023)["martech_spend"] == pytest.approx(600 / 1.15)
    assert row(df, "F2", 2024)["martech_spend"] == pytest.approx(100 - 50)
    # F1 2023 line 3: 10000 DKK in February = 10000 * 0.14 / 1.20 GBP, plus line 5 etc.
    it = 1000 + 2000 + 400 / 1.20      # GBP lines are 1:1; 400 EUR in February
    assert row(df, "F1", 2023)["it_spend"] == pytest.approx(it)
    assert "amount_gbp" in df.attrs["unmapped_vendors"].columns


# ------------------------------------------------------------------------------ reports
def test_unmapped_vendors_listed_not_dropped(parquet_ledger: Path) -> None:
    unmapped = features(parquet_ledger).attrs["unmapped_vendors"]
    assert list(unmapped.columns) == ["vendor", "n_lines", "amount_eur", "n_uncategorised"]
    # NewTool: line 9 (software from the ledger, 300) + line 10 (uncategorised, 50)
    # MysteryCo: line 11 (uncategorised, 100 GBP * 1.10); largest amount first
    assert unmapped["vendor"].tolist() == ["NewTool", "MysteryCo"]
    assert unmapped["n_lines"].tolist() == [2, 1]
    assert unmapped["amount_eur"].tolist() == pytest.approx([300 + 50, 100 * 1.10])
    assert unmapped["n_uncategorised"].tolist() == [1, 1]


def test_without_vendor_map_ledger_categories_are_used(parquet_ledger: Path) -> None:
    df = features(parquet_ledger, vendors=None)
    r = row(df, "F1", 2023)
    # HubSpot stays "other" (lines 1-2 leave tech), Canva (line 4) is uncategorised
    assert r["martech_spend"] == pytest.approx(10000 * 0.14)
    assert r["shadow_it_spend"] == pytest.approx(300)
    assert r["uncategorised_spend"] == pytest.approx(1000 * 0.14 + 50 + 100 * 1.10)
    # listed: the vendors of uncategorised lines, with all their lines
    unmapped = df.attrs["unmapped_vendors"].set_index("vendor")
    assert sorted(unmapped.index) == ["Canva", "MysteryCo", "NewTool"]
    assert unmapped.loc["Canva", "n_lines"] == 3                     # lines 4, 15, 16
    assert unmapped.loc["Canva", "amount_eur"] == pytest.approx(1000 * 0.14 + 100 * 1.10
                                                                - 50 * 1.10)
    assert unmapped.loc["NewTool", "n_uncategorised"] == 1


def test_bad_rows_counted_with_examples(parquet_ledger: Path) -> None:
    bad = features(parquet_ledger).attrs["bad_rows"].set_index("rule")
    assert bad.loc[["missing-firm-id", "unknown-currency", "no-fx-rate"], "count"].tolist() \
        == [1, 1, 1]
    assert bad.loc["unknown-currency", "column"] == "currency"
    assert bad.loc["unknown-currency", "files"] == [str(parquet_ledger)]
    assert bad.loc["unknown-currency", "examples"] == [
        ("ledger.parquet row 18: firm_id='F1', booking_date='2023-01-11', currency='XXX', "
         "amount='100.0'")]
    assert "row 17" in bad.loc["missing-firm-id", "examples"][0]
    assert bad.loc["net-negative", "count"] == 1 and not bad.loc["net-negative", "excluded"]
    assert bad.loc["net-negative", "examples"] == ["firm F2 2024: shadow_it_spend=-55.00"]
    df = features(parquet_ledger)
    assert df["n_lines"].sum() + bad.loc[bad["excluded"], "count"].sum() == len(LINES)
    text = spend.describe_bad_rows(df)
    assert "[unknown-currency] 1 lines (excluded), column currency" in text
    assert "[net-negative] 1 firm-years (kept, flagged)" in text
    assert "2 vendor(s) missing from the vendor map: NewTool, MysteryCo" in text


def test_csv_bad_dates_and_amounts(tmp_path: Path, csv_ledger: Path) -> None:
    text = csv_ledger.read_text() + "F1,2023-02-30,IT,AWS,software,invoice,EUR,100\n" \
                                    "F1,soon,IT,AWS,software,invoice,EUR,100\n" \
                                    "F1,2023-03-01,IT,AWS,software,invoice,EUR,12 DKK\n" \
                                    "F1,15.03.2023,IT,AWS,software,invoice,EUR,100\n" \
                                    "F1,2023-03-01,IT,AWS,software,invoice,EUR,12 EUR\n"
    csv_ledger.write_text(text)
    df = features(csv_ledger)
    bad = df.attrs["bad_rows"].set_index("rule")
    assert bad.loc["bad-date", "count"] == 2
    assert bad.loc["bad-amount", "count"] == 1  # a currency code that is not the line's
    assert "booking_date='2023-02-30'" in " ".join(bad.loc["bad-date", "examples"])
    assert "amount='12 DKK'" in bad.loc["bad-amount", "examples"][0]
    # a second known date form and a matching currency code are read, not excluded
    assert row(df, "F1", 2023)["n_lines"] == 15
    assert df.attrs["lines"]["read"] == len(LINES) + 5


def test_strict_raises_naming_file_column_and_rule(parquet_ledger: Path) -> None:
    with pytest.raises(DataError) as err:
        features(parquet_ledger, strict=True)
    text = str(err.value)
    for rule in ("missing-firm-id", "unknown-currency", "no-fx-rate"):
        assert f"[{rule}]" in text
    assert str(parquet_ledger) in text and "column 'currency'" in text and "'XXX'" in text
    assert {i.rule for i in err.value.issues} == {"missing-firm-id", "unknown-currency",
                                                  "no-fx-rate"}


def test_strict_passes_a_clean_ledger(tmp_path: Path) -> None:
    path = write_parquet(ledger_frame(LINES[:N_GOOD]), tmp_path / "clean.parquet")
    df = features(path, strict=True)
    assert df.attrs["bad_rows"]["rule"].tolist() == ["net-negative"]


# ------------------------------------------------------------------------------ sources
def test_csv_equals_parquet(parquet_ledger: Path, csv_ledger: Path) -> None:
    a, b = features(parquet_ledger), features(csv_ledger)
    pd.testing.assert_frame_equal(a, b, check_exact=False)
    pd.testing.assert_frame_equal(a.attrs["unmapped_vendors"], b.attrs["unmapped_vendors"])
    assert a.attrs["bad_rows"]["count"].tolist() == b.attrs["bad_rows"]["count"].tolist()
    assert "ledger.csv: firm_id=missing" in b.attrs["bad_rows"]["examples"][0][0]


def test_folder_of_files_equals_single_file(tmp_path: Path, parquet_ledger: Path) -> None:
    df = ledger_frame()
    folder = tmp_path / "ledger_folder"
    write_parquet(df.iloc[:7], folder / "2023" / "part-a.parquet")
    write_parquet(df.iloc[7:12], folder / "2023" / "part-b.parquet")
    write_parquet(df.iloc[12:], folder / "later" / "part-c.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-a.parquet.crc").write_text("junk")
    single, many = features(parquet_ledger), features(folder)
    pd.testing.assert_frame_equal(single, many)
    assert single.attrs["bad_rows"]["count"].tolist() == many.attrs["bad_rows"]["count"].tolist()
    assert any(e.startswith("later/part-c.parquet row ")
               for e in many.attrs["bad_rows"]["examples"].sum())


def test_hive_partitioned_folder(tmp_path: Path) -> None:
    clean = ledger_frame(LINES[:N_GOOD])
    single = features(write_parquet(clean, tmp_path / "clean.parquet"))
    table = pa.Table.from_pandas(clean, preserve_index=False)
    pq.write_to_dataset(table, tmp_path / "hive", partition_cols=["firm_id"])
    pd.testing.assert_frame_equal(single, features(tmp_path / "hive"))


def test_ledger_never_loaded_into_pandas(parquet_ledger: Path, csv_ledger: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("the ledger must be streamed by the engine, not read by pandas")

    monkeypatch.setattr(pd, "read_parquet", forbidden)
    monkeypatch.setattr(pd, "read_csv", forbidden)
    monkeypatch.setattr(pq, "read_table", forbidden)
    assert len(features(parquet_ledger)) == 3
    assert len(features(csv_ledger)) == 3


def test_raw_files_untouched(tmp_path: Path, parquet_ledger: Path, csv_ledger: Path) -> None:
    def snapshot() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(tmp_path.rglob("*")) if p.is_file()}

    before = snapshot()
    features(parquet_ledger)
    features(csv_ledger)
    assert snapshot() == before


# ------------------------------------------------------------------------------ rules
def test_custom_shadow_rule(parquet_ledger: Path) -> None:
    rule = ShadowRule(categories=("software", "cloud_infrastructure", "hardware"),
                      sanctioned_payment_methods=("purchase_order",))
    df = features(parquet_ledger, rules=rule)
    # F1: default 1240 plus Sales hardware on card (line 7, 500); line 9 is an expense claim
    assert row(df, "F1", 2023)["shadow_it_spend"] == pytest.approx(1000 - 200 + 140 + 300 + 500)
    # F2 2023: with only purchase orders sanctioned, the Marketing cloud invoice is shadow IT
    assert row(df, "F2", 2023)["shadow_it_spend"] == pytest.approx(600)


def test_it_cost_centers_define_it_spend(parquet_ledger: Path) -> None:
    df = features(parquet_ledger, rules=ShadowRule(it_cost_centers=("IT", "Operations")))
    r = row(df, "F1", 2023)
    assert r["it_spend"] == pytest.approx(3950 + 1200)       # + Accenture via Operations
    assert r["other_tech_spend"] == pytest.approx(500 + 300)
    assert r["n_vendors_it"] == 3


def test_empty_sanctioned_list_makes_all_non_it_software_shadow(parquet_ledger: Path) -> None:
    df = features(parquet_ledger, rules=ShadowRule(sanctioned_payment_methods=()))
    # F1: default 1240 plus Marketing's Salesforce purchase order (line 3, 10000 DKK * 0.14)
    assert row(df, "F1", 2023)["shadow_it_spend"] == pytest.approx(1240 + 10000 * 0.14)


def test_shadow_rule_is_frozen() -> None:
    rule = ShadowRule(categories=["software"])
    assert rule.categories == ("software",)
    with pytest.raises(AttributeError):
        rule.categories = ("hardware",)  # type: ignore[misc]


# ------------------------------------------------------------------------------ bad input
def test_unknown_engine(parquet_ledger: Path) -> None:
    with pytest.raises(ValueError, match="supported engines: duckdb, spark"):
        features(parquet_ledger, engine="hadoop")


def test_missing_ledger_and_missing_column(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        features(tmp_path / "nope.parquet")
    assert err.value.rule == "file-not-found"
    path = write_parquet(ledger_frame(), tmp_path / "l.parquet")
    pq.write_table(pq.read_table(path).drop(["currency"]), path)
    with pytest.raises(DataError) as err:
        features(path)
    assert (err.value.rule, err.value.column) == ("missing-column", "currency")


def test_unreadable_and_mixed_ledgers(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "part.parquet"
    broken.parent.mkdir()
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError) as err:
        features(broken.parent)
    assert err.value.rule == "unreadable-ledger" and err.value.file == str(broken.parent)
    mixed = tmp_path / "mixed"
    write_parquet(ledger_frame(), mixed / "a.parquet")
    ledger_frame().to_csv(mixed / "b.csv", index=False)
    with pytest.raises(DataError) as err:
        features(mixed)
    assert err.value.rule == "mixed-formats"


def test_fx_and_vendor_map_validation(parquet_ledger: Path) -> None:
    duplicated = pd.concat([FX, FX.iloc[[0]].assign(rate_to_eur=0.2)], ignore_index=True)
    with pytest.raises(DataError) as err:
        features(parquet_ledger, fx=duplicated)
    assert err.value.rule == "duplicate-fx-rate" and err.value.rows == [1, 10]
    with pytest.raises(DataError) as err:
        features(parquet_ledger, vendors=pd.DataFrame({"vendor": ["X"],
                                                       "vendor_category": ["sofware"]}))
    assert err.value.rule == "unknown-category"
    with pytest.raises(DataError) as err:
        features(parquet_ledger, currency="USD")
    assert err.value.rule == "unknown-currency"


def test_sql_is_portable() -> None:
    path = Path(spend.__file__).parent / "sql" / spend.SQL_FILE
    code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
    forbidden = [r"\bASOF\b", r"\bQUALIFY\b", "::", r"\bstrftime\b", r"\blist_\w+", r"\bstruct_",
                 r"\bunnest\b", r"\bread_(parquet|csv)", r"\bEXCLUDE\b", r"GROUP BY ALL",
                 r"\[", r"\bdate_trunc\b"]
    for pattern in forbidden:
        assert not re.search(pattern, code, flags=re.IGNORECASE), pattern
    names = [name for name, _ in spend.load_sql(spend._sql_params(spend.DEFAULT_RULE, "EUR"))]
    assert names[-2:] == ["ledger_summary", "ledger_bad_lines"]


# ------------------------------------------------------------------------------ budgets
BUDGETS = pd.DataFrame({
    "firm_id": ["F1", "F2", "F3"],
    "year": [2023, 2023, 2023],
    "currency": ["EUR", "DKK", "GBP"],
    "revenue": [1_000_000.0, 5_000_000.0, 0.0],
    "it_budget": [40_000.0, 100_000.0, 10.0],
    "marketing_budget": [80_000.0, 200_000.0, 0.0],
    "martech_budget": [20_000.0, 50_000.0, 0.0],
})


def test_budget_shares_by_hand() -> None:
    out = budget_shares(BUDGETS).set_index("firm_id")
    assert out.loc["F1", "marketing_budget_pct_revenue"] == pytest.approx(80_000 / 1e6 * 100)
    assert out.loc["F1", "martech_pct_marketing_budget"] == pytest.approx(20_000 / 80_000 * 100)
    assert out.loc["F1", "martech_pct_revenue"] == pytest.approx(20_000 / 1e6 * 100)
    assert out.loc["F1", "it_budget_pct_revenue"] == pytest.approx(40_000 / 1e6 * 100)
    assert out.loc["F1", "marketing_share_of_tech"] == pytest.approx(20_000 / 60_000)
    assert out.loc["F2", "marketing_share_of_tech"] == pytest.approx(50_000 / 150_000)
    assert pd.isna(out.loc["F3", "marketing_budget_pct_revenue"])   # zero revenue
    assert pd.isna(out.loc["F3", "martech_pct_marketing_budget"])
    assert out.loc["F3", "marketing_share_of_tech"] == 0


def test_budget_shares_in_eur() -> None:
    out = budget_shares(BUDGETS, fx=FX).set_index("firm_id")
    dkk_2023 = (0.13 + 0.14 + 0.15) / 3       # mean of the months in the FX table
    assert out.loc["F2", "fx_rate_annual"] == pytest.approx(dkk_2023)
    assert out.loc["F2", "revenue_eur"] == pytest.approx(5_000_000 * dkk_2023)
    assert out.loc["F1", "martech_budget_eur"] == pytest.approx(20_000)
    assert out.loc["F3", "it_budget_eur"] == pytest.approx(10 * (1.15 + 1.20 + 1.10) / 3)
    with pytest.raises(DataError) as err:
        budget_shares(BUDGETS.assign(year=2021), fx=FX)
    assert err.value.rule == "no-fx-rate" and err.value.rows == [2, 3]


def test_share_trend_by_hand() -> None:
    shares = pd.DataFrame({"year": [2023, 2023, 2023, 2024, 2024],
                           "x": [1.0, 2.0, 3.0, 5.0, None]})
    out = share_trend(shares, "x").set_index("year")
    t = 4.302652729911275                      # t(0.975, df=2)
    assert out.loc[2023, "n"] == 3 and out.loc[2023, "mean"] == pytest.approx(2.0)
    assert out.loc[2023, "median"] == pytest.approx(2.0)
    assert out.loc[2023, "ci_low"] == pytest.approx(2 - t * 1 / 3 ** 0.5)
    assert out.loc[2023, "ci_high"] == pytest.approx(2 + t * 1 / 3 ** 0.5)
    assert out.loc[2024, "n"] == 1 and pd.isna(out.loc[2024, "ci_low"])
    with pytest.raises(ValueError, match="not in the table"):
        share_trend(shares, "y")


def test_fx_rates_apply_the_as_of_rule_to_the_small_table() -> None:
    """spend.fx_rates: a missing month takes the most recent earlier rate, a month before a
    currency's first rate has none, and rates into another currency divide by its rate."""
    raw = pd.DataFrame({"date": ["2023-01-01", "2023-03-01", "2023-02-01", "2023-03-01",
                                 "2023-01-01"],
                        "currency": ["DKK", "DKK", "USD", "USD", "EUR"],
                        "rate_to_eur": [0.13, 0.14, 0.9, 0.8, 1.0]})
    fx = spend._prepare_fx(raw, "EUR")
    jan = 2023 * 12
    rates = spend.fx_rates(fx, "EUR").set_index(["currency", "month_index"])["rate"]
    assert rates[("DKK", jan + 1)] == pytest.approx(0.13)  # February: January's rate
    assert rates[("DKK", jan + 2)] == pytest.approx(0.14)
    assert ("USD", jan) not in rates.index  # before USD's first rate
    assert rates[("EUR", jan + 2)] == 1.0
    in_usd = spend.fx_rates(fx, "USD").set_index(["currency", "month_index"])["rate"]
    assert in_usd[("DKK", jan + 2)] == pytest.approx(0.14 / 0.8)
    assert ("DKK", jan) not in in_usd.index  # no USD rate in January
    assert in_usd[("USD", jan + 1)] == pytest.approx(1.0)


def test_spellings_of_text_values_classify_alike(tmp_path: Path, parquet_ledger: Path) -> None:
    """Text values are classified once per distinct raw value (the SQL's small lookup views), so
    every spelling a line may carry -- case, surrounding spaces, a firm id with spaces, a blank
    one -- must give what the clean spelling gives: same features, vendors, bad-line counts."""
    messy = ledger_frame()
    respell = {"firm_id": {"F1": " F1 "}, "cost_center": {"IT": " it", "Marketing": "MARKETING "},
               "vendor": {"HubSpot": " hubspot", "NewTool": "NEWTOOL  ", "AWS": "aws"},
               "vendor_category": {"software": " Software "},
               "payment_method": {"corporate_card": "Corporate_Card ", "invoice": " INVOICE"},
               "currency": {"GBP": " gbp ", "DKK": "Dkk"}}
    odd = messy.index % 2 == 1  # every other line respelt: two spellings of each value meet
    for column, spellings in respell.items():
        messy.loc[odd, column] = messy.loc[odd, column].replace(spellings)
    blank = ledger_frame([LINES[0], LINES[0]]).assign(firm_id=["   ", "\u00a0"])  # only spaces
    messy = pd.concat([messy, blank], ignore_index=True)
    clean, got = features(parquet_ledger), features(write_parquet(messy, tmp_path / "m.parquet"))
    pd.testing.assert_frame_equal(got, clean, rtol=1e-12)
    assert got.attrs["unmapped_vendors"]["n_lines"].tolist() == \
        clean.attrs["unmapped_vendors"]["n_lines"].tolist()
    assert got.attrs["unmapped_vendors"]["amount_eur"].tolist() == pytest.approx(
        clean.attrs["unmapped_vendors"]["amount_eur"].tolist(), rel=1e-12)
    counts = dict(zip(got.attrs["bad_rows"]["rule"], got.attrs["bad_rows"]["count"], strict=True))
    assert counts["missing-firm-id"] == 3 and counts["unknown-currency"] == 1
    assert counts["no-fx-rate"] == 1
