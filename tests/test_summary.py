"""The report summary (helpers.summary): findings generated from recorded headlines, chosen by
rule, worded from the numbers in English and German."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import headlines, i18n, summary
from helpers.headlines import Headline


def _headline(key: str, estimate: float | None, low: float | None, high: float | None,
              p: float | None, verdict: str, *, power: float | None = 0.5,
              label: str = "Shared KPIs", unit: str = "points per SD", n: int | None = 120,
              n_unit: str = "firms") -> Headline:
    return Headline(key=key, label=label, unit=unit, estimate=estimate, ci_low=low, ci_high=high,
                    p_value=p, n=n, n_unit=n_unit, verdict=verdict, reading="", method="",
                    power=power, std_error=None if estimate is None else 0.05)


def _doc(rows: list[Headline], notebook: str = "03_drivers.ipynb", **parameters) -> dict:
    table = headlines.table(rows)
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return {"notebook": notebook, "status": "ok", "parameters": parameters,
            "results": {"headlines": {"kind": "table", "columns": list(table.columns),
                                      "rows": records}}}


def test_signed_finding_sentence_in_english_and_german() -> None:
    doc = _doc([_headline("drivers.shared_kpis", -0.3, -0.45, -0.15, 0.0004, "negative")])
    [en] = summary.findings(doc, "EN")
    assert en.sentence == ("Shared KPIs: −0.30 points per SD (95\u202f% CI −0.45 to −0.15), strong "
                           "evidence (p < .001; 120 firms).")
    assert en.strength == "strong evidence"
    assert (en.key, en.notebook) == ("drivers.shared_kpis", "03_drivers")
    [de] = summary.findings(doc, "DE")
    assert de.sentence == ("Shared KPIs: −0,30 points per SD (95\u202f%-KI −0,45 bis −0,15), starke "
                           "Evidenz (p < 0,001; 120 firms).")
    assert de.strength == "starke Evidenz"


def test_strength_follows_p_and_power() -> None:
    assert summary.strength("positive", 0.0002) == "strong evidence"
    assert summary.strength("positive", 0.004) == "moderate evidence"
    assert summary.strength("negative", 0.03) == "some evidence"
    assert summary.strength("no evidence", 0.6, 0.93) == \
        "no evidence of an effect of the size that matters (power 93\u202f%)"
    assert summary.strength("not detectable", 0.2, 0.31) == \
        "not detectable with this sample (power 31\u202f%)"
    assert summary.strength("exploratory") == "exploratory: too few units for a verdict"
    assert summary.strength("not estimable") == "not estimable"


def test_confidence_level_from_the_parameters() -> None:
    doc = _doc([_headline("drivers.a", 0.3, 0.1, 0.5, 0.004, "positive")], conf=0.9)
    assert "(90\u202f% CI 0.10 to 0.50)" in summary.findings(doc, "EN")[0].sentence


def test_three_to_five_findings_chosen_by_rule() -> None:
    rows = [
        _headline("drivers.a", 0.30, 0.10, 0.50, 0.004, "positive", label="A"),
        _headline("drivers.b", 0.40, 0.20, 0.60, 0.0001, "positive", label="B"),
        _headline("drivers.c", 0.20, 0.01, 0.39, 0.04, "positive", label="C"),
        _headline("drivers.d", 0.25, 0.05, 0.45, 0.01, "positive", label="D"),
        _headline("drivers.e", 0.22, 0.02, 0.42, 0.03, "positive", label="E"),
        _headline("consequences.x", -0.2, -0.3, -0.1, 0.02, "negative", label="X"),
        _headline("drivers.f", 0.01, -0.1, 0.12, 0.8, "no evidence", power=0.9, label="F"),
    ]
    found = summary.findings(_doc(rows))
    # at most five; the signed ones, most certain first, the families taking turns
    assert [f.key for f in found] == ["drivers.b", "consequences.x", "drivers.a", "drivers.d",
                                      "drivers.e"]
    # fewer than three signed: the informative nulls fill up to three, "no evidence" first
    few = [rows[0],
           _headline("drivers.g", 0.0, -0.2, 0.2, 0.9, "not detectable", power=0.3, label="G"),
           rows[-1],
           _headline("drivers.h", None, None, None, None, "not estimable", label="H")]
    assert [f.key for f in summary.findings(_doc(few))] == ["drivers.a", "drivers.f", "drivers.g"]


def test_null_exploratory_and_not_estimable_wording() -> None:
    nulls = [_headline("congruence.a3", -0.26, -0.6, 0.0, 0.054, "not detectable", power=0.27,
                       label="slope along the line of disagreement (a3)",
                       unit="outcome points per scale point")]
    [f] = summary.findings(_doc(nulls, "04_dyadic_congruence.ipynb"))
    assert f.sentence == ("Slope along the line of disagreement (a3): −0.26 outcome points per "
                          "scale point (95\u202f% CI −0.60 to 0.00), not detectable with this sample "
                          "(power 27\u202f%).")
    exploratory = [_headline("shadow.share", 7.15, 6.1, 8.2, 0.001, "exploratory", unit="%",
                             label="Shadow-IT share")]
    [f] = summary.findings(_doc(exploratory, "05_spend_shadow_it.ipynb"))
    assert f.sentence == ("Shadow-IT share: 7.2\u202f% (95\u202f% CI 6.1 to 8.2), exploratory: too few "
                          "units for a verdict.")
    none = [_headline("shadow.slope", None, None, None, None, "not estimable", label="Slope")]
    [f] = summary.findings(_doc(none, "05_spend_shadow_it.ipynb"))
    assert f.sentence == "Slope: could not be estimated with these data."
    assert summary.findings(_doc(none, "05_spend_shadow_it.ipynb"), "DE")[0].strength != \
        "not estimable"


def test_role_gap_sentence_reads_the_direction_and_the_firms() -> None:
    gap = _headline("role_gap.bypass_standards", -0.46, -0.54, -0.37, 1.9e-21, "negative",
                    label="Bypassing IT standards", unit="", n=None, n_unit="")
    doc = _doc([gap, replace(gap, key="role_gap.mutual_trust", label="Mutual trust",
                             estimate=0.13, ci_low=0.04, ci_high=0.22, p_value=0.011,
                             verdict="positive")], "02_disconnect_profile.ipynb")
    found = summary.findings(doc)
    assert found[0].sentence == (
        "Bypassing IT standards: CIOs rate it higher than CMOs; the CMO − CIO difference is "
        "−0.46 points (95\u202f% CI −0.54 to −0.37), strong evidence (p < .001).")
    assert found[1].sentence.startswith("Mutual trust: CMOs rate it higher than CIOs;")
    assert "some evidence (p = .011)" in found[1].sentence
    # the firms behind a gap, from the role-gap table the profile records
    doc["results"]["role_gaps"] = _table([{"construct": "mutual_trust", "n_firms": 300}])
    assert summary.findings(doc)[1].sentence.endswith("some evidence (p = .011; 300 firms).")
    assert summary.findings(doc, "DE")[1].sentence.endswith(
        "schwache Evidenz (p = 0,011; 300 Unternehmen).")


@pytest.mark.parametrize("doc", [{"status": "failed", "results": {}},
                                 {"status": "ok", "too_few": "only 3 CMOs", "results": {}},
                                 {"status": "ok", "not_applicable": "no ledger", "results": {}}])
def test_no_findings_without_numbers(doc: dict) -> None:
    assert summary.findings(doc) == []


def _table(rows: list[dict]) -> dict:
    return {"kind": "table", "columns": list(rows[0]), "rows": rows}


def test_data_quality_findings_from_recorded_tables() -> None:
    doc = {"notebook": "00_data_quality.ipynb", "status": "ok", "results": {
        "row_selection": _table([{"reason": "rows read from the export", "rows": 900},
                                 {"reason": "test responses", "rows": 65},
                                 {"reason": "rows kept for analysis", "rows": 835}]),
        "dyad_completeness": _table([{"firm-waves": "all waves", "firms": 476,
                                      "complete_dyads": 359, "cmo_only": 67, "cio_only": 50}]),
        "item_missingness": _table([{"item": "imp_1", "pct_missing": 0.0},
                                    {"item": "imp_2", "pct_missing": 7.5},
                                    {"item": "imp_3", "pct_missing": 2.0}]),
        "sensitivity": _table([{"difference": -0.031, "ci_low": -0.078, "ci_high": 0.016,
                                "excluded": 0},
                               {"difference": 0.05, "ci_low": 0.01, "ci_high": 0.09,
                                "excluded": 42}])}}
    found = summary.findings(doc, "EN")
    assert [f.key for f in found] == ["quality.rows", "quality.pairs", "quality.missing",
                                      "quality.sensitivity"]
    assert found[0].sentence == ("835 of the 900 rows of the export were kept for the analysis; "
                                 "65 were left out by the selection rules.")
    assert found[1].sentence.startswith("359 of 476 firm-waves (75.4\u202f%) have answers from both")
    assert found[2].sentence.startswith("1 of 3 items miss more than 5\u202f% of their answers")
    assert "misses 7.5\u202f%" in found[2].sentence
    assert found[3].strength == "sensitive to the exclusions"
    assert "from −0.03 (95\u202f% CI −0.08 to 0.02) to 0.05 (0.01 to 0.09)" in found[3].sentence


def test_measurement_findings_grade_the_fit() -> None:
    assert summary.fit_grade(0.96, 0.04, 0.05) == "good"
    assert summary.fit_grade(0.93, 0.07, 0.05) == "acceptable"
    assert summary.fit_grade(0.88, 0.04, 0.05) == "poor"
    doc = {"notebook": "01_measurement.ipynb", "status": "ok", "results": {
        "cfa_constructs": {"kind": "value", "value": {"modelled": ["a", "b"]}},
        "cfa_fit": _table([{"n": 400, "CFI": 0.912, "RMSEA": 0.071, "SRMR": 0.06}]),
        "invariance_verdicts": _table([{"construct": "mutual_trust", "means_comparable": True},
                                       {"construct": "speed_friction",
                                        "means_comparable": False}])}}
    found = summary.findings(doc, "EN")
    assert found[0].sentence == ("The measurement model (2 constructs, 400 respondents) has "
                                 "acceptable fit by the usual cut-offs: CFI 0.912, RMSEA 0.071, "
                                 "SRMR 0.060.")
    assert found[1].sentence.startswith("CMOs' and CIOs' means can be compared for 1 of 2 "
                                        "constructs")
    assert found[1].strength == "partly comparable"


def test_language_argument_does_not_change_the_current_language() -> None:
    before = i18n.current()
    summary.findings(_doc([_headline("drivers.a", 0.3, 0.1, 0.5, 0.004, "positive")]), "DE")
    assert i18n.current() == before


def test_a_report_of_another_notebook_with_key_estimates_only_has_no_findings() -> None:
    doc = {"notebook": "tiny.ipynb", "status": "ok", "results": {
        "key_estimates": _table([{"term": "mean_score", "estimate": 3.1, "ci_low": 2.9,
                                  "ci_high": 3.3, "p_value": None}])}}
    assert summary.findings(doc) == []
    doc["notebook"] = "01_measurement.ipynb"  # there, key_estimates are the scales' alphas
    assert [f.key for f in summary.findings(doc)] == ["measurement.alpha"]


def test_the_spend_report_adds_its_within_firm_slope_when_headlines_give_fewer_than_three() -> None:
    doc = _doc([_headline("shadow.share", 7.2, 6.7, 7.7, 1e-9, "positive", unit="%",
                          label="Shadow-IT share"),
                _headline("shadow.slope", 5.5, 4.3, 6.8, 1e-9, "positive", label="Slope",
                          unit="pp per point of the disconnect")], "05_spend_shadow_it.ipynb")
    doc["results"]["within_firms"] = _table([{"term": "disconnect_index", "estimate": 5.861,
                                              "ci_low": 1.605, "ci_high": 10.116, "firms": 172}])
    found = summary.findings(doc, "EN")
    assert [f.key for f in found] == ["shadow.share", "shadow.slope", "shadow.within_firms"]
    assert found[2].sentence.startswith(
        "Within firms that took part in more than one wave, the shadow-IT share moves by 5.9 "
        "percentage points per point of the disconnect (95\u202f% CI 1.6 to 10.1; 172 firms)")
    assert found[2].strength == "exploratory: too few units for a verdict"
    assert "5,9 Prozentpunkte" in summary.findings(doc, "DE")[2].sentence
