"""The spend report (05) adapts to what was collected: budgets, a ledger, both or neither, with or
without the fiscal year of each wave, one wave or two, a segment or the whole sample.

Unit tests of :mod:`helpers.spend_report` first (fast), then the notebook end to end in a fresh
kernel on small reshaped processed data (``report_variants``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import report_variants as rv

import re

from helpers import catalogs, i18n, indicators, spend, spend_report
from helpers.codebook import load_codebook
from helpers.errors import NotApplicable

NOTEBOOK = "05_spend_shadow_it"


# --------------------------------------------------------------------------- units
def _survey() -> pd.DataFrame:
    """Firms A–F: one CMO and one CIO per firm-wave; waves 1 (2023) and 2 (2024)."""
    rows = []
    for w, year in ((1, 2023), (2, 2024)):
        for k, firm in enumerate("ABCDEF"):
            for role in ("CMO", "CIO"):
                rows.append({"respondent_id": f"{firm}{role}{w}", "firm_id": firm, "role": role,
                             "wave": w, "year": year, "country": "DE" if k < 3 else "NL"})
    return pd.DataFrame(rows)


def _features(years=(2023, 2024), firms="ABCDEF") -> pd.DataFrame:
    return pd.DataFrame([{"firm_id": f, "year": y, "shadow_it_share": 0.1 + 0.01 * i}
                         for i, (f, y) in enumerate((f, y) for f in firms for y in years)])


def test_neither_budgets_nor_ledger_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="needs budgets or a ledger: .*BUDGETS=.*LEDGER=.*FX="):
        spend_report.check_inputs(None, None)
    spend_report.check_inputs(pd.DataFrame(), None)
    spend_report.check_inputs(None, pd.DataFrame())


def test_segment_rows_by_firm_and_by_wave_year() -> None:
    survey = _survey()
    spend = _features(years=(2022, 2023, 2024))
    rows = spend_report.segment_rows(spend, survey, {"country": "NL"})
    assert set(rows["firm_id"]) == set("DEF") and set(rows["year"]) == {2022, 2023, 2024}
    rows = spend_report.segment_rows(spend, survey, {"wave": 2})
    assert set(rows["year"]) == {2024} and len(rows) == 6 and rows.attrs["needs"] == ""
    rows = spend_report.segment_rows(spend, survey.drop(columns="year"), {"wave": 2})
    assert rows.empty and rows.attrs["needs"].startswith("the fiscal year of each survey wave")
    assert "fiscal year" in spend_report.missing_reason(spend, rows, "ledger")
    assert spend_report.segment_rows(None, survey, {}) is None


def test_segment_rows_put_each_firm_year_in_one_segment() -> None:
    """A firm that moved from DE (wave 1, 2023) to NL (wave 2, 2024) counts in DE for 2022 and
    2023 (the nearest answer) and in NL for 2024: the country segments add up to the whole."""
    survey = _survey()
    survey.loc[(survey["firm_id"] == "A") & (survey["wave"] == 2), "country"] = "NL"
    spend = _features(years=(2022, 2023, 2024))
    de = spend_report.segment_rows(spend, survey, {"country": "DE"})
    nl = spend_report.segment_rows(spend, survey, {"country": "NL"})
    a = sorted(de.loc[de["firm_id"] == "A", "year"]), sorted(nl.loc[nl["firm_id"] == "A", "year"])
    assert a == ([2022, 2023], [2024])
    assert len(de) + len(nl) == len(spend)


def test_missing_reason() -> None:
    assert "make data BUDGETS=" in spend_report.missing_reason(None, None, "budgets")
    assert "LEDGER=" in spend_report.missing_reason(None, None, "ledger")
    assert "none of them" in spend_report.missing_reason(_features(), _features().iloc[:0],
                                                         "ledger")
    assert spend_report.missing_reason(_features(), _features(), "ledger") == ""


def test_trend_blanks_years_of_few_firms() -> None:
    table = pd.DataFrame({"year": [2023] * 6 + [2024] * 3, "share": np.linspace(0.1, 0.5, 9)})
    t = spend_report.trend(table, "share", min_cell=5, scale=100).set_index("year")
    assert t.loc[2023, "n"] == 6
    assert t.loc[2023, "mean"] == pytest.approx(100 * table["share"][:6].mean())
    assert t.loc[2024, "n"] == "<5" and pd.isna(t.loc[2024, "mean"])
    assert spend_report.plottable(t.reset_index())["year"].tolist() == [2023.0]


def _frame(survey: pd.DataFrame) -> pd.DataFrame:
    frame = survey[["respondent_id", "firm_id", "role", "wave", "country"]].copy()
    frame["disconnect_index"] = np.linspace(2, 4, len(frame))
    return frame


def test_link_matches_the_year_of_each_wave() -> None:
    survey = _survey()
    link = spend_report.link_shadow_it(survey, _frame(survey), _features(), min_firm_waves=5)
    assert link.needs == "" and link.counts["matched"] == 12
    assert set(zip(link.linked["wave"], link.linked["year"], strict=True)) == {(1, 2023),
                                                                               (2, 2024)}
    a1 = link.linked[(link.linked["firm_id"] == "A") & (link.linked["wave"] == 1)].iloc[0]
    assert a1["shadow_it_pct"] == pytest.approx(10.0)  # firm A, 2023 is the first feature row
    assert link.note == "12 of 12 firm-waves matched to the spend data of their fiscal year."


def test_link_never_drops_a_wave_silently() -> None:
    survey = _survey()
    survey.loc[survey["wave"] == 1, "year"] = 2019  # the ledger covers 2023-2024 only
    features = _features().drop(index=[1])  # firm A has no 2024 row
    link = spend_report.link_shadow_it(survey, _frame(survey), features, min_firm_waves=5)
    assert link.counts["matched"] == 5 and link.counts["no_spend_for_year"] == 7
    assert link.counts["waves_without_spend_year"] == [1]
    assert "5 of 12 firm-waves matched" in link.note
    assert "7 firm-waves have no spend data for their fiscal year" in link.note
    assert "Wave 1 (fiscal year 2019) has no spend data at all: the spend data covers 2023, " \
           "2024." in link.note
    link = spend_report.link_shadow_it(survey, _frame(survey), features, min_firm_waves=6)
    assert link.needs.startswith("at least 6 firm-waves") and "(found 5)" in link.needs


def test_link_needs_years_a_ledger_and_an_index() -> None:
    survey = _survey()
    no_year = spend_report.link_shadow_it(survey.drop(columns="year"), _frame(survey),
                                          _features())
    assert no_year.needs.startswith("the fiscal year of each survey wave: add wave_years:")
    no_ledger = spend_report.link_shadow_it(survey, _frame(survey), None)
    assert "LEDGER=" in no_ledger.needs
    frame = _frame(survey).assign(disconnect_index=np.nan)
    no_index = spend_report.link_shadow_it(survey, frame, _features(), min_firm_waves=1)
    assert no_index.needs.startswith("the disconnect index")


def test_link_counts_firm_waves_without_a_year() -> None:
    survey = _survey()
    survey.loc[survey["firm_id"] == "F", "year"] = pd.NA
    link = spend_report.link_shadow_it(survey, _frame(survey), _features(), min_firm_waves=5)
    assert link.counts["no_year"] == 2 and link.counts["matched"] == 10
    assert "2 firm-waves have no fiscal year recorded" in link.note


# --------------------------------------------------------------------------- the rule in words
PAYMENTS = ("purchase_order", "invoice", "corporate_card", "expense_claim", "bank_transfer", None)
#: Words that, in a sentence naming a sanctioned payment, say it is *not* shadow IT.
NEGATIONS = {"EN": ("never", "not ", "without", "other than"),
             "DE": ("nie", "nicht", "ohne", "kein"), "NL": ("nooit", "niet", "zonder", "geen"),
             "DA": ("aldrig", "ikke", "uden", "ingen")}
SANCTIONED_WORDS = {"EN": ("invoice", "purchase order"), "DE": ("Rechnung", "Bestellung"),
                    "NL": ("factuur", "inkooporder"), "DA": ("faktura", "indkøbsordre")}


def _shadow_by_payment(tmp_path: Path, rule: spend.ShadowRule) -> dict:
    """Which payment methods the SQL counts as shadow IT: one firm per method, each with one
    software purchase booked by Marketing."""
    firms = {f"F{i}": method for i, method in enumerate(PAYMENTS)}
    ledger = pd.DataFrame([{"firm_id": firm, "booking_date": "2024-03-01",
                            "cost_center": "Marketing", "vendor": "Canva",
                            "vendor_category": "software", "payment_method": method,
                            "currency": "EUR", "amount": 100.0} for firm, method in firms.items()])
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path, index=False)
    fx = pd.DataFrame({"date": ["2024-01-01"], "currency": ["GBP"], "rate_to_eur": [1.2]})
    out = spend.firm_year_features(path, fx=fx, rules=rule).set_index("firm_id")
    return {firms[f]: bool(out.loc[f, "shadow_it_spend"] > 0) for f in firms}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


@pytest.mark.parametrize("rule", [spend.DEFAULT_RULE,
                                  spend.ShadowRule(sanctioned_payment_methods=("purchase_order",))])
def test_rule_text_says_what_the_sql_counts(rule: spend.ShadowRule, tmp_path: Path) -> None:
    """The rule's words are built from the rule the SQL applies: the payment methods the SQL
    never counts as shadow IT are the ones the text calls sanctioned, and every other method (a
    card, an expense claim, a bank transfer, none) is not."""
    shadow = _shadow_by_payment(tmp_path, rule)
    assert shadow["corporate_card"] and shadow["expense_claim"] and shadow["bank_transfer"]
    assert shadow[None]  # a blank payment method is outside procurement
    sanctioned = {m for m, is_shadow in shadow.items() if not is_shadow}
    assert sanctioned == set(rule.sanctioned_payment_methods)
    for language in ("EN", "DE", "NL", "DA"):
        with i18n.using(language):
            text = spend_report.rule_text(rule)
            words = {m: i18n.gettext(spend_report.PAYMENT_WORDS[m]) for m in
                     ("purchase_order", "invoice", "corporate_card", "expense_claim")}
        never = [s for s in _sentences(text) if any(n in s for n in NEGATIONS[language])
                 and any(w in s for w in words.values())]
        assert never, (language, text)
        last = never[-1]  # "Purchases paid by … are never shadow IT"
        for method, word in words.items():
            assert (word in last) == (method in sanctioned), (language, method, last)


def test_rule_text_never_calls_sanctioned_purchases_shadow_it() -> None:
    for language in ("EN", "DE", "NL", "DA"):
        with i18n.using(language):
            text = spend_report.rule_text()
        _assert_no_sanctioned_shadow_it(text, language)


def _assert_no_sanctioned_shadow_it(text: str, language: str) -> None:
    """Every sentence that names a purchase order or an invoice and shadow IT says they are
    not shadow IT (a negation in the same sentence)."""
    shadow = {"EN": "shadow IT", "DE": "Schatten-IT", "NL": "schaduw-IT", "DA": "skygge-IT"}
    for sentence in _sentences(text):
        lower = sentence.lower()
        if shadow[language].lower() in lower and any(
                w.lower() in lower for w in SANCTIONED_WORDS[language]):
            assert any(n in lower for n in NEGATIONS[language]), (language, sentence)


def test_ledger_quality_shows_words_not_codes() -> None:
    issues = pd.DataFrame({"rule": ["bad-date", "net-negative", None],
                           "column": ["booking_date", "it_spend, tech_spend_total", None],
                           "count": ["12", "7", None], "excluded": ["True", "False", None],
                           "message": ["booking date is missing or not a date", "x", None],
                           "kind": ["bad_rows", "bad_rows", "unmapped_vendor"],
                           "vendor": [None, None, "Adly"], "n_lines": [None, None, "717"],
                           "amount_eur": [None, None, "27438973.063279297"]})
    with i18n.using("DE"):
        out = spend_report.ledger_quality(issues, 5)
    assert list(out.columns) == ["issue", "problem", "count", "vendor", "n_lines"]
    assert out["issue"].tolist() == ["Ausgeschlossene Zeilen", "Markierte Unternehmensjahre "
                                     "(beibehalten)", "Lieferant fehlt in der Lieferantenzuordnung"]
    assert out.loc[0, "problem"] == "Buchungsdatum fehlt oder ist kein Datum (Spalte: Buchungsdatum)"
    assert "Technologieausgaben der IT" in out.loc[1, "problem"]
    assert out.loc[0, "count"] == 12 and out.loc[2, "n_lines"] == 717
    shown = " ".join(map(str, out.to_numpy().ravel()))
    assert "_" not in shown and "27438973" not in shown and "net-negative" not in shown


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rv.base_processed(tmp_path_factory.mktemp("spend_base"))


@pytest.fixture(scope="module")
def full(base: Path) -> Path:
    return rv.variant(base, base.parent / "full", wave_years={1: 2024, 2: 2025},
                      flags={"speeder": 10, "straight_lining": 0})


def _firm_waves(processed: Path, wave: int | None = None) -> int:
    survey = pd.read_parquet(processed / "survey.parquet")
    if wave is not None:
        survey = survey[survey["wave"] == wave]
    return len(survey.groupby(["firm_id", "wave"]).size())


@pytest.mark.slow
def test_neither_budgets_nor_ledger(base: Path, tmp_path: Path) -> None:
    survey_only = rv.variant(base, tmp_path / "survey_only", budgets=False, ledger=False)
    name, message = rv.run_expecting_error(NOTEBOOK, survey_only, tmp_path)
    assert name == "NotApplicable" and message.startswith("needs budgets or a ledger")


@pytest.mark.slow
def test_budgets_without_ledger(base: Path, tmp_path: Path) -> None:
    budgets_only = rv.variant(base, tmp_path / "budgets_only", ledger=False,
                              wave_years={1: 2024, 2: 2025})
    run = rv.run(NOTEBOOK, budgets_only, tmp_path / "work")
    assert run.status == "ok"
    assert ("Not applicable: The shadow-IT part of this report needs a transaction ledger (make "
            "data LEDGER=… FX=…)." in run.text)
    trend = rv.table(run.results, "marketing_share_of_tech")
    budgets = pd.read_parquet(budgets_only / "budgets.parquet")
    assert trend["year"].tolist() == sorted(budgets["year"].unique())
    assert trend["n"].tolist() == budgets.groupby("year").size().tolist()
    assert "Marketing's share of technology budgets" in run.text
    assert "data:image/png;base64" in run.html  # the Gartner comparison plots
    assert "shadow_it_share" not in run.results and "key_estimates" not in run.results


@pytest.mark.slow
def test_ledger_without_budgets(full: Path, tmp_path: Path) -> None:
    ledger_only = rv.variant(full, tmp_path / "ledger_only", budgets=False)
    run = rv.run(NOTEBOOK, ledger_only, tmp_path / "work")
    assert run.status == "ok"
    assert ("Not applicable: The budget part of this report needs firm-year budgets (make data "
            "BUDGETS=…)." in run.text)
    assert "shadow_it_share" in run.results and "key_estimates" in run.results


@pytest.mark.slow
def test_full_link_uses_the_survey_years(full: Path, tmp_path: Path) -> None:
    run = rv.run(NOTEBOOK, full, tmp_path, min_lines=1)  # the fixture's ledger is tiny
    assert run.status == "ok"
    link = run.results["link"]["value"]
    total = _firm_waves(full)
    assert link["firm_waves"] == total and link["no_year"] == 0
    assert link["waves_without_spend_year"] == []
    assert link["matched"] + link["no_spend_for_year"] + link["no_shadow_it_share"] + \
        link["no_disconnect_index"] == total
    assert f"{link['matched']} of {total} firm-waves matched" in run.text
    key = rv.table(run.results, "key_estimates")
    assert "shadow.share" in key["term"].tolist()
    assert set(key["term"]) <= {"shadow.share", "shadow.slope"}
    heads = rv.table(run.results, "headlines").set_index("key")
    assert heads.loc["shadow.share", "unit"] == "%"
    assert "Within firms (firm fixed effects" in run.text and "Within R²" in run.text


@pytest.mark.slow
def test_survey_without_year(full: Path, tmp_path: Path) -> None:
    no_year = rv.variant(full, tmp_path / "no_year", wave_years=None)
    run = rv.run(NOTEBOOK, no_year, tmp_path / "work")
    assert run.status == "ok"
    assert ("Not applicable: The link between the disconnect and shadow IT needs the fiscal year "
            "of each survey wave: add wave_years: to the mapping (e.g. wave_years: {1: 2024, 2: 2025})"
            in run.text)
    assert "shadow_it_share" in run.results
    # the share needs no fiscal year; the slope does and says so
    assert rv.table(run.results, "key_estimates")["term"].tolist() == ["shadow.share"]
    heads = rv.table(run.results, "headlines").set_index("key")
    assert heads.loc["shadow.slope", "verdict"] == "not estimable"


@pytest.mark.slow
def test_wave_years_outside_the_ledger_are_named(full: Path, tmp_path: Path) -> None:
    shifted = rv.variant(full, tmp_path / "shifted", wave_years={1: 2019, 2: 2025})
    run = rv.run(NOTEBOOK, shifted, tmp_path / "work", min_lines=1)
    assert run.status == "ok"
    link = run.results["link"]["value"]
    assert link["waves_without_spend_year"] == [1]
    assert link["no_spend_for_year"] >= _firm_waves(shifted, wave=1)
    assert "Wave 1 (fiscal year 2019) has no spend data at all" in run.text
    assert "Within firms (firm fixed effects" not in run.text  # one wave left: no model


@pytest.mark.slow
def test_one_wave(tmp_path: Path) -> None:
    one = rv.base_processed(tmp_path / "one", waves=1)
    shaped = rv.variant(one, tmp_path / "one_wave", wave_years={1: 2024})
    run = rv.run(NOTEBOOK, shaped, tmp_path / "work", min_lines=1)
    assert run.status == "ok"
    assert run.results["link"]["value"]["firm_waves"] == _firm_waves(shaped)
    assert "Within firms: not fitted — needs at least 10 firms in more than one wave" in run.text


@pytest.mark.slow
def test_wave_segment_shows_the_wave_year_only(full: Path, tmp_path: Path) -> None:
    run = rv.run(NOTEBOOK, full, tmp_path, segment={"wave": 2})
    assert run.status == "ok"
    survey = pd.read_parquet(full / "survey.parquet")
    firms = set(survey.loc[survey["wave"] == 2, "firm_id"])
    budgets = pd.read_parquet(full / "budgets.parquet")
    trend = rv.table(run.results, "marketing_share_of_tech")
    assert trend["year"].tolist() == [2025]
    assert trend["n"].tolist() == [int(((budgets["year"] == 2025)
                                        & budgets["firm_id"].isin(firms)).sum())]
    assert rv.table(run.results, "shadow_it_share")["year"].tolist() == [2025]
    assert "shown in the whole-sample report" in run.text  # the whole-ledger table is not


@pytest.mark.slow
def test_country_segment_with_exclusion(full: Path, tmp_path: Path) -> None:
    survey = pd.read_parquet(full / "survey.parquet")
    country = survey["country"].astype(str).value_counts().index[0]
    run = rv.run(NOTEBOOK, full, tmp_path, segment={"country": country}, exclude=["speeder"])
    seg = survey[survey["country"].astype(str) == country]
    assert run.status == "ok"
    assert run.n == len(seg) - int(seg["flag_speeder"].sum())
    firms = set(seg.loc[~seg["flag_speeder"], "firm_id"])
    budgets = pd.read_parquet(full / "budgets.parquet")
    expected = budgets[budgets["firm_id"].isin(firms)].groupby("year").size()
    trend = rv.table(run.results, "marketing_share_of_tech").set_index("year")["n"]
    for year, n in expected.items():
        assert trend[year] == (n if n >= 5 else "<5")


@pytest.mark.slow
def test_survey_without_indicators(full: Path, tmp_path: Path) -> None:
    cb = load_codebook()
    items = [i for c in cb.constructs_of_kind("indicator") for i in cb.constructs[c].items]
    shaped = rv.variant(full, tmp_path / "no_indicators",
                        drop_columns=("industry", "size_band", *items))
    assert indicators.respondent_frame(pd.read_parquet(shaped / "survey.parquet"),
                                       cb)["disconnect_index"].isna().all()
    run = rv.run(NOTEBOOK, shaped, tmp_path / "work")
    assert run.status == "ok"
    assert "needs the disconnect index" in run.text


@pytest.mark.slow
def test_on_processed_data_as_make_data_writes_it(base: Path, tmp_path: Path) -> None:
    """No reshaping: the sample's wave years reach the link through survey.parquet's year."""
    survey = pd.read_parquet(base / "survey.parquet")
    assert "year" in survey.columns, "make data writes the year of each wave (COMMON contract)"
    run = rv.run(NOTEBOOK, base, tmp_path, min_lines=1)  # the fixture's ledger is tiny
    assert run.status == "ok"
    link = run.results["link"]["value"]
    assert link["firm_waves"] == _firm_waves(base) and link["no_year"] == 0
    assert link["waves_without_spend_year"] == [] and link["matched"] >= 10
    assert "key_estimates" in run.results


def _english_fragments(domains: tuple[str, ...], min_words: int = 4) -> dict[str, str]:
    """Runs of at least ``min_words`` words of the English messages of ``domains`` (between
    placeholders and markup) that German translates."""
    markup = re.compile(r"\{[^{}]*\}|`[^`]*`|\*\*?|\[|\]\([^)]*\)|^#+\s*|\$[^$]*\$", re.M)
    out = {}
    for domain, msgs in catalogs.sources().items():
        if domain not in domains:
            continue
        for m in msgs:
            if i18n.gettext(m.id, "DE") == m.id:
                continue
            for piece in markup.split(m.id):
                text = " ".join(piece.split()).strip(" .,;:–—-()")
                if len(re.findall(r"[A-Za-z]{2,}", text)) >= min_words:
                    out[text] = m.id
    return out


@pytest.mark.slow
def test_german_report(full: Path, tmp_path: Path) -> None:
    """Notebook 05 in German: German headings and readings, decimal commas, amounts grouped in
    whole euros, no English sentence from its catalogs, and the rule never calls invoice or
    purchase-order purchases shadow IT."""
    run = rv.run(NOTEBOOK, full, tmp_path, language="DE", min_lines=1)
    assert run.status == "ok"
    text = run.text
    for heading in ("Wer steuert die Technologieausgaben", "Schatten-IT im Buchungsjournal",
                    "Hängt der Disconnect mit dem Schatten-IT-Anteil zusammen?"):
        assert heading in text
    assert "Käufe per Bestellung oder Rechnung" in text and "nie Schatten-IT" in text
    share = re.search(r"Schatten-IT macht (\d+,\d) % der Technologieausgaben aus", text)
    assert share, text[:3000]
    heads = rv.table(run.results, "headlines").set_index("key")
    assert share.group(1) == i18n.number(heads.loc["shadow.share", "estimate"], 1, "DE")
    total = re.search(r"insgesamt (\d{1,3}(?:\.\d{3})*) EUR", text)
    assert total and "," not in total.group(1)  # whole euros, grouped with points
    assert "Prozentpunkte Schatten-IT-Anteil je Punkt Disconnect" in text
    # no raw float such as 27438973.063279297 (a DOI such as 10.1201/… is not a number)
    assert not re.search(r"(?<![\d./])\d+[.,]\d{4,}(?![\d/])", text)
    assert "Unternehmenswellen den Ausgabendaten ihres Geschäftsjahres zugeordnet" in text
    fragments = _english_fragments(("nb-05_spend_shadow_it", "shadow", "spend_report", "spend"))
    assert len(fragments) > 40
    found = [f for f in fragments if f in text]
    assert not found, found[:10]
    _assert_no_sanctioned_shadow_it(text, "DE")


@pytest.mark.slow
def test_english_report_never_calls_sanctioned_purchases_shadow_it(full: Path,
                                                                   tmp_path: Path) -> None:
    run = rv.run(NOTEBOOK, full, tmp_path, min_lines=1)
    assert run.status == "ok"
    assert "are never shadow IT" in run.text
    _assert_no_sanctioned_shadow_it(run.text, "EN")
