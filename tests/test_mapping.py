"""Tests for helpers.mapping: mapping files are written into tmp_path."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.errors import DataError
from helpers.mapping import Mapping, apply_mapping, load_mapping, normalise_role

MAPPING_YAML = """
source: "Qualtrics export of wave 2"
columns:
  Q1_1: imp_1
  ResponseId: respondent_id
  Q_role: role
  Q9: consent
recode:
  role: {"Chief Marketing Officer": CMO, "Marketingleiter": CMO, "IT-chef": CIO, "CIO": CIO}
  imp_1: {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3,
          "Agree": 4, "Strongly agree": 5, "Don't know": null}
  consent: {Yes: 1, No: 0}
value_labels: true
drop: [IPAddress, RecipientEmail]
"""


def write_mapping(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def raw_frame() -> pd.DataFrame:
    df = pd.DataFrame({
        "ResponseId": ["R_1", "R_2", "R_3", "R_4"],
        "Q1_1": [" agree", "Strongly  AGREE", "Don't know", "maybe"],
        "Q_role": ["Chief Marketing Officer", "it-chef", "cmo", "CTO"],
        "Q9": ["yes", "No", "YES", None],
        "IPAddress": ["10.0.0.1"] * 4,
        "trust_1": ["Low", 2, "high", 9],
    }, dtype=object)
    df.attrs = {"source": "wave2.csv", "format": "qualtrics",
                "question_text": {"Q1_1": "Importance of IT", "IPAddress": "IP Address"},
                "import_ids": {"Q1_1": "QID1_1"},
                "value_labels": {"trust_1": {1: "Low", 2: "Medium", 3: "High"}},
                "missing_codes": {}}
    return df


def test_load_mapping(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path, MAPPING_YAML))
    assert mapping.columns == {"Q1_1": "imp_1", "ResponseId": "respondent_id",
                               "Q_role": "role", "Q9": "consent"}
    assert mapping.recode["consent"] == {"Yes": 1, "No": 0}  # not YAML booleans
    assert mapping.recode["imp_1"]["Don't know"] is None
    assert mapping.value_labels is True
    assert mapping.drop == ("IPAddress", "RecipientEmail")
    assert mapping.source == "Qualtrics export of wave 2"


def test_apply_mapping_renames_recodes_and_drops(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, MAPPING_YAML)
    out = apply_mapping(raw_frame(), load_mapping(path))
    assert list(out.columns) == ["respondent_id", "imp_1", "role", "consent", "trust_1"]
    assert out["respondent_id"].tolist() == ["R_1", "R_2", "R_3", "R_4"]
    assert out["imp_1"].iloc[:2].tolist() == [4, 5]
    assert pd.isna(out["imp_1"].iloc[2])  # "Don't know" -> null
    assert out["imp_1"].iloc[3] == "maybe"  # left for validation to report
    assert out["role"].tolist() == ["CMO", "CIO", "CMO", "CTO"]
    assert out["consent"].iloc[:3].tolist() == [1, 0, 1] and pd.isna(out["consent"].iloc[3])
    assert out["trust_1"].tolist() == [1, 2, 3, 9]  # value labels: labels -> codes
    assert out.attrs["unmapped_labels"] == {"imp_1": ["maybe"], "role": ["CTO"]}
    assert out.attrs["question_text"] == {"imp_1": "Importance of IT"}
    assert out.attrs["import_ids"] == {"imp_1": "QID1_1"}
    assert out.attrs["mapping"] == str(path)
    assert out.attrs["source"] == "wave2.csv"


def test_apply_mapping_accepts_a_path(tmp_path: Path) -> None:
    out = apply_mapping(raw_frame(), write_mapping(tmp_path, MAPPING_YAML))
    assert "respondent_id" in out.columns


def test_recoded_numeric_column_becomes_numeric() -> None:
    df = pd.DataFrame({"q": ["Agree", "disagree", 4]}, dtype=object)
    out = apply_mapping(df, Mapping(recode={"q": {"Agree": 4, "Disagree": 2}}))
    assert out["q"].tolist() == [4, 2, 4]
    assert out["q"].dtype == np.int64
    assert out.attrs["unmapped_labels"] == {}


def test_codes_outside_the_recode_are_reported() -> None:
    df = pd.DataFrame({"q": [1, 7, "Agree", "4"]}, dtype=object)
    out = apply_mapping(df, Mapping(recode={"q": {"Disagree": 1, "Agree": 4}}))
    assert out["q"].tolist() == [1, 7, 4, 4]
    assert out.attrs["unmapped_labels"] == {"q": [7]}


def test_value_labels_without_flag_leave_labels() -> None:
    df = raw_frame()
    out = apply_mapping(df, Mapping(columns={"Q_role": "role"}))
    assert out["trust_1"].tolist() == ["Low", 2, "high", 9]
    assert "trust_1" not in out.attrs["unmapped_labels"]


def test_coded_role_uses_value_labels() -> None:
    df = pd.DataFrame({"role": [1.0, 2.0, 3.0]})
    df.attrs["value_labels"] = {"role": {1: "Marketingleiterin", 2: "IT-Leiter", 3: "CFO"}}
    out = apply_mapping(df, Mapping())
    assert out["role"].tolist() == ["CMO", "CIO", 3.0]
    assert out.attrs["unmapped_labels"] == {"role": [3.0]}


def test_input_frame_is_not_mutated(tmp_path: Path) -> None:
    df = raw_frame()
    before, attrs_before = df.copy(deep=True), copy.deepcopy(df.attrs)
    apply_mapping(df, load_mapping(write_mapping(tmp_path, MAPPING_YAML)))
    pd.testing.assert_frame_equal(df, before)
    assert df.attrs == attrs_before


@pytest.mark.parametrize("label", [
    "cmo", "Cmo ", "CMO", "Chief Marketing Officer", "chief marketing officer (CMO)",
    "Marketing", "Marketingleiter", "Marketingleiterin", "Leiter Marketing", "Marketing-Leiter",
    "Marketingdirecteur", "marketingdirektør", "Marketingchef", "Head of Marketing",
])
def test_normalise_role_cmo(label: str) -> None:
    assert normalise_role(pd.Series([label])).tolist() == ["CMO"]


@pytest.mark.parametrize("label", [
    "cio", " CIO", "Chief Information Officer", "IT", "IT-Leiter", "it leiterin", "IT-chef",
    "IT-directeur", "IT-direktør", "Head of IT",
])
def test_normalise_role_cio(label: str) -> None:
    assert normalise_role(pd.Series([label])).tolist() == ["CIO"]


def test_normalise_role_leaves_unknown_values() -> None:
    series = pd.Series(["CTO", "Chief Technology Officer", None, 3, "Geschäftsführer"])
    result = normalise_role(series)
    assert result.iloc[[0, 1, 3, 4]].tolist() == ["CTO", "Chief Technology Officer", 3,
                                                   "Geschäftsführer"]
    assert pd.isna(result.iloc[2])
    assert series.iloc[0] == "CTO"


# --- errors -------------------------------------------------------------------------------------


def expect_mapping_error(path: Path, rule: str) -> DataError:
    with pytest.raises(DataError) as info:
        load_mapping(path)
    assert info.value.rule == rule
    assert path.name in str(info.value)
    return info.value


def test_missing_source_column_names_mapping_file(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns: {Q1_1: imp_1, Q77: imp_9}\n", "wave2_map.yaml")
    with pytest.raises(DataError) as info:
        apply_mapping(raw_frame(), load_mapping(path))
    assert info.value.rule == "mapping-column-missing"
    assert info.value.column == "Q77"
    assert "wave2_map.yaml" in str(info.value) and "Q77" in str(info.value)


def test_recode_of_unknown_column_is_reported(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns: {Q_role: role}\nrecode: {Q_role: {x: CMO}}\n")
    with pytest.raises(DataError) as info:
        apply_mapping(raw_frame(), load_mapping(path))
    assert info.value.rule == "mapping-column-missing" and "TARGET" in (info.value.hint or "")


def test_rename_onto_existing_column(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns: {Q1_1: trust_1}\n", "clash.yaml")
    with pytest.raises(DataError) as info:
        apply_mapping(raw_frame(), load_mapping(path))
    assert info.value.rule == "mapping-duplicate-target" and "clash.yaml" in str(info.value)


def test_duplicate_target(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns:\n  Q1_1: imp_1\n  Q1_2: imp_1\n")
    error = expect_mapping_error(path, "mapping-duplicate-target")
    assert error.column == "imp_1"


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns:\n  Q1_1: imp_1\n  Q1_1: imp_2\n")
    expect_mapping_error(path, "mapping-yaml")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    error = expect_mapping_error(write_mapping(tmp_path, "colums: {a: b}\n"),
                                 "mapping-unknown-key")
    assert "colums" in str(error)


@pytest.mark.parametrize("text", [
    "columns: [Q1_1, imp_1]\n",
    "columns: {Q1_1: [imp_1]}\n",
    "- just\n- a list\n",
    "recode: {role: CMO}\n",
    "recode: {role: {CMO: [1, 2]}}\n",
    "value_labels: sometimes\n",
    "drop: IPAddress\n",
])
def test_bad_structure(tmp_path: Path, text: str) -> None:
    expect_mapping_error(write_mapping(tmp_path, text, "bad_map.yaml"), "mapping-structure")


def test_conflicting_labels(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, 'recode: {q: {"Agree": 4, "agree ": 5}}\n')
    expect_mapping_error(path, "mapping-duplicate-label")


def test_renamed_and_dropped(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns: {Q1_1: imp_1}\ndrop: [Q1_1]\n")
    expect_mapping_error(path, "mapping-conflict")


def test_invalid_yaml_empty_and_missing_files(tmp_path: Path) -> None:
    expect_mapping_error(write_mapping(tmp_path, "columns: {Q1_1: imp_1\n"), "mapping-yaml")
    expect_mapping_error(write_mapping(tmp_path, "", "empty.yaml"), "empty-file")
    expect_mapping_error(tmp_path / "absent.yaml", "file-not-found")


def test_misspelt_source_column_gets_a_suggestion(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns: {Q_Role: role}\n")
    with pytest.raises(DataError) as info:
        apply_mapping(raw_frame(), load_mapping(path))
    assert "'Q_role'" in (info.value.hint or "")


# --- recodes by value label, for groups of items, and "don't know" -------------------------------

AGREE_DE = {"Stimme überhaupt nicht zu": 1, "Stimme nicht zu": 2, "Weder noch": 3,
            "Stimme zu": 4, "Stimme voll und ganz zu": 5}


def coded_frame() -> pd.DataFrame:
    """An SPSS-like frame: numeric codes with German value labels, 9 = "Weiß nicht"."""
    df = pd.DataFrame({
        "country": [1.0, 2.0, 1.0, 3.0],
        "imp_1": [1.0, 5.0, 9.0, 4.0],
        "imp_2": [2.0, 9.0, 3.0, 5.0],
        "trust_1": [4.0, 4.0, 9.0, 1.0],
        "cofund_1": [1.0, 2.0, 2.0, 1.0],
    })
    agree = {1: "Stimme überhaupt nicht zu", 2: "Stimme nicht zu", 3: "Weder noch",
             4: "Stimme zu", 5: "Stimme voll und ganz zu", 9: "Weiß nicht"}
    df.attrs = {"source": "export.sav", "format": "spss",
                "value_labels": {"country": {1: "Deutschland", 2: "Österreich", 3: "Schweiz"},
                                 "imp_1": agree, "imp_2": agree, "trust_1": agree,
                                 "cofund_1": {1: "Ja", 2: "Nein"}}}
    return df


def test_recode_by_value_label_of_numeric_codes(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, """
        value_labels: true
        recode:
          country: {Deutschland: DE, "Österreich": AT, Schweiz: CH}
          cofund_1: {Ja: 1, Nein: 0}
        """)
    out = apply_mapping(coded_frame(), load_mapping(path))
    assert out["country"].tolist() == ["DE", "AT", "DE", "CH"]  # was: unknown-category '1'
    assert out["cofund_1"].tolist() == [1, 0, 0, 1]  # code 1 = Ja -> 1, code 2 = Nein -> 0
    assert "country" not in out.attrs["unmapped_labels"]


def test_label_recode_also_without_value_labels_flag() -> None:
    out = apply_mapping(coded_frame(), Mapping(recode={"cofund_1": {"Ja": 1, "Nein": 0}}))
    assert out["cofund_1"].tolist() == [1, 0, 0, 1]


def test_reverse_coded_yes_no_follows_the_label_not_the_code() -> None:
    df = pd.DataFrame({"kpi_1": [1.0, 2.0, 1.0]})
    df.attrs["value_labels"] = {"kpi_1": {1: "No", 2: "Yes"}}
    out = apply_mapping(df, Mapping(recode={"kpi_1": {"Yes": 1, "No": 0}}))
    assert out["kpi_1"].tolist() == [0, 1, 0]  # code 1 means "No", although 1 is a target


def test_recode_of_the_code_wins_over_its_label() -> None:
    out = apply_mapping(coded_frame(), Mapping(recode={"country": {1: "LU", "Deutschland": "DE",
                                                                   2: "AT", 3: "CH"}}))
    assert out["country"].tolist() == ["LU", "AT", "LU", "CH"]


def test_coded_category_becomes_its_label_with_value_labels() -> None:
    out = apply_mapping(coded_frame(), Mapping(value_labels=True))
    assert out["country"].tolist() == ["Deutschland", "Österreich", "Deutschland", "Schweiz"]
    # validation then names the label, not the code; items keep their codes
    assert out["imp_1"].tolist() == [1, 5, 9, 4]


def test_one_recode_for_a_scale_a_construct_and_a_list(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "imp_1": ["Stimme zu", "Weder noch"], "imp_2": ["stimme nicht zu", "Stimme zu"],
        "trust_1": ["Stimme zu", "k.A."], "trust_2": ["Weder noch", "Stimme zu"],
        "cofund_1": ["Ja", "Nein"], "kpi_1": ["Nein", "ja"],
    }, dtype=object)
    path = write_mapping(tmp_path, """
        recode:
          agree5: {"Stimme überhaupt nicht zu": 1, "Stimme nicht zu": 2, "Weder noch": 3,
                   "Stimme zu": 4, "Stimme voll und ganz zu": 5}
          mutual_trust: {"k.A.": null}
          "cofund_1, kpi_1": {Ja: 1, Nein: 0}
        """)
    out = apply_mapping(df, load_mapping(path))
    assert out["imp_1"].tolist() == [4, 3] and out["imp_2"].tolist() == [2, 4]
    assert out["trust_1"].iloc[0] == 4 and pd.isna(out["trust_1"].iloc[1])
    assert out["trust_2"].tolist() == [3, 4]
    assert out["cofund_1"].tolist() == [1, 0] and out["kpi_1"].tolist() == [0, 1]
    assert out.attrs["unmapped_labels"] == {}


def test_column_entry_wins_over_list_construct_and_scale() -> None:
    df = pd.DataFrame({"imp_1": ["Top", "Mid"], "imp_2": ["Top", "Mid"], "imp_3": ["Top", "Mid"],
                       "trust_1": ["Top", "Mid"]}, dtype=object)
    mapping = Mapping(recode={
        "agree5": {"Top": 5, "Mid": 3},
        "importance_alignment": {"Top": 4},
        "imp_2, imp_3": {"Top": 2},
        "imp_3": {"Top": 1},
    })
    out = apply_mapping(df, mapping)
    assert out["trust_1"].tolist() == [5, 3]  # scale only
    assert out["imp_1"].tolist() == [4, 3]  # construct over scale; "Mid" still from the scale
    assert out["imp_2"].tolist() == [2, 3]  # list over construct
    assert out["imp_3"].tolist() == [1, 3]  # column over list


def test_group_recode_errors() -> None:
    df = pd.DataFrame({"imp_1": ["a"], "imp_2": ["b"]}, dtype=object)
    with pytest.raises(DataError) as info:
        apply_mapping(df, Mapping(recode={"imp_1, imp_2": {"a": 1}, "imp_2,imp_1": {"b": 2}}))
    assert {i.rule for i in info.value.issues} == {"mapping-recode-overlap"}
    with pytest.raises(DataError) as info:
        apply_mapping(df, Mapping(recode={"data_readiness": {"a": 1}}))
    assert info.value.rule == "mapping-column-missing" and "none of its items" in str(info.value)
    with pytest.raises(DataError) as info:
        apply_mapping(df, Mapping(recode={"imp_1, imp_9": {"a": 1}}))
    assert info.value.column == "imp_9" and "imp_1" in (info.value.hint or "")
    with pytest.raises(DataError) as info:
        apply_mapping(df, Mapping(recode={"agree6": {"a": 1}}))
    assert "agree5" in (info.value.hint or "")


def test_dont_know_everywhere_and_per_item(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, """
        value_labels: true
        dont_know: ["Weiß nicht", "Don't know"]
        recode:
          agree5: {"Keine Angabe": null}
          imp_2: {"Weiß nicht": 3, "Egal": dont_know}
        """)
    df = coded_frame()
    df["imp_3"] = pd.Series(["Don't know", "Keine Angabe", 4, "egal "], dtype=object)
    df["imp_2"] = pd.Series([2.0, 9.0, "Egal", 5.0], dtype=object)
    out = apply_mapping(df, load_mapping(path))
    assert out["imp_1"].iloc[[0, 1, 3]].tolist() == [1, 5, 4] and pd.isna(out["imp_1"].iloc[2])
    assert out["trust_1"].isna().tolist() == [False, False, True, False]
    assert out["imp_2"].iloc[1] == 3 and pd.isna(out["imp_2"].iloc[2])  # column entry wins
    assert out["imp_3"].isna().tolist() == [True, True, False, False]
    assert out.attrs["dont_know"] == {"imp_1": [2], "imp_2": [2], "trust_1": [2],
                                      "imp_3": [0]}  # "Keine Angabe" is skipped, not counted;
    # "egal " only matches in imp_2's own entry; labelled codes (1, 4, 5) are known answers
    assert out.attrs["unmapped_labels"] == {"imp_3": [4, "egal "]}
    assert "country" not in out.attrs["dont_know"]  # dont_know is for items only


def test_dont_know_target_on_a_field_is_an_error(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, 'recode:\n  country: {"Weiß nicht": dont_know}\n', "f.yaml")
    with pytest.raises(DataError) as info:
        apply_mapping(coded_frame(), load_mapping(path))
    assert info.value.rule == "mapping-dont-know-field" and "f.yaml" in str(info.value)


def test_spss_export_end_to_end(tmp_path: Path, survey_factory) -> None:
    """A real .sav with numeric codes and German value labels through load_survey."""
    import pyreadstat

    from helpers.processing import load_survey

    survey = survey_factory(2)
    agree = {1.0: "Stimme überhaupt nicht zu", 2.0: "Stimme nicht zu", 3.0: "Weder noch",
             4.0: "Stimme zu", 5.0: "Stimme voll und ganz zu", 9.0: "Weiß nicht"}
    codes = {"DE": 1.0, "AT": 2.0}
    frame = survey.assign(country=[codes["DE"], codes["DE"], codes["AT"], codes["AT"]])
    frame["imp_1"] = [9.0, 4.0, 2.0, 5.0]
    frame["imp_2"] = [9.0, 9.0, 3.0, 1.0]
    path = tmp_path / "export.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={
        "country": {1.0: "Deutschland", 2.0: "Österreich"}, "imp_1": agree, "imp_2": agree},
        missing_ranges={"imp_2": [9.0]})  # "Weiß nicht" declared user-missing in imp_2 only
    mapping = write_mapping(tmp_path, """
        value_labels: true
        recode:
          country: {Deutschland: DE, "Österreich": AT}
          agree5: {"Weiß nicht": dont_know}
        """)
    df, report = load_survey(path, mapping)
    assert report.ok, str(report)
    assert df["country"].tolist() == ["DE", "DE", "AT", "AT"]
    assert df["imp_1"].tolist()[1:] == [4, 2, 5] and np.isnan(df["imp_1"].iloc[0])
    assert df.attrs["dont_know"] == {"imp_1": [0], "imp_2": [0, 1]}  # user-missing too
    assert df["imp_2"].isna().tolist() == [True, True, False, False]
    assert "missing_cells" not in df.attrs and df.attrs["missing_codes"] == {"imp_2": [9]}
    pd.testing.assert_series_equal(df["trust_1"], survey["trust_1"], check_dtype=False)


# --- the new top-level keys -----------------------------------------------------------------------

FULL = """
columns: {ResponseId: respondent_id, Q_role: role}
dont_know: ["Weiß nicht", 99]
exclude:
  - reason: "test responses"
    column: Q_test
    values: ["yes", "test"]
  - reason: "duplicate"
    ids: [R_abc, 17]
  - {reason: "not an executive", column: role, not_in: [CMO, CIO]}
  - {reason: "too fast", column: duration_seconds, below: 120}
  - {reason: "no answer", column: Q_x, equals: null}
unfinished: keep
wave_years: {1: 2023, 2: 2024}
budgets: {columns: {Firma: firm_id, Jahr: year}, drop: [Kommentar]}
ledger: {columns: {Buchungsdatum: booking_date}}
"""


def test_load_full_mapping(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path, FULL))
    assert mapping.dont_know == ("Weiß nicht", 99)
    assert [(r.reason, r.test, r.column) for r in mapping.exclude] == [
        ("test responses", "values", "Q_test"), ("duplicate", "ids", None),
        ("not an executive", "not_in", "role"), ("too fast", "below", "duration_seconds"),
        ("no answer", "equals", "Q_x")]
    assert mapping.exclude[1].values == ("R_abc", "17")
    assert mapping.exclude[3].number == 120.0 and mapping.exclude[4].values == (None,)
    assert mapping.exclude[3].describe() == "duration_seconds < 120"
    assert mapping.exclude[1].describe() == "respondent_id is one of 2 listed id(s)"
    assert mapping.unfinished == "keep"
    assert mapping.wave_years == {1: 2023, 2: 2024}
    assert all(isinstance(k, int) for k in mapping.wave_years)
    assert mapping.budgets.columns == {"Firma": "firm_id", "Jahr": "year"}
    assert mapping.budgets.drop == ("Kommentar",)
    assert mapping.ledger.columns == {"Buchungsdatum": "booking_date"}


def test_defaults_of_new_keys(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path, "columns: {a: b}\n"))
    assert mapping.unfinished == "exclude" and mapping.exclude == () and mapping.dont_know == ()
    assert mapping.wave_years == {} and mapping.budgets.columns == {}


@pytest.mark.parametrize("text", [
    "exclude: {reason: x}\n",
    "exclude:\n  - {column: a, values: [1]}\n",
    "exclude:\n  - {reason: x, values: [1]}\n",
    "exclude:\n  - {reason: x, column: a}\n",
    "exclude:\n  - {reason: x, column: a, values: [1], below: 3}\n",
    "exclude:\n  - {reason: x, column: a, below: many}\n",
    "exclude:\n  - {reason: x, column: a, values: []}\n",
    "exclude:\n  - {reason: x, column: a, not_in: [null]}\n",
    "exclude:\n  - {reason: x, ids: [a], column: b}\n",
    "exclude:\n  - {reason: x, ids: R_1}\n",
    "exclude:\n  - {reason: x, column: a, value: 1}\n",
    "unfinished: drop\n",
    "unfinished: true\n",
    "dont_know: []\n",
    "dont_know: [[1]]\n",
    "wave_years: [2023, 2024]\n",
    "wave_years: {one: 2023}\n",
    "wave_years: {1: 23}\n",
    "budgets: {colums: {a: b}}\n",
    "budgets: [a]\n",
    "ledger: {columns: {a: b}, drop: [c]}\n",
])
def test_bad_new_keys(tmp_path: Path, text: str) -> None:
    expect_mapping_error(write_mapping(tmp_path, text, "bad_map.yaml"), "mapping-structure")


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    error = expect_mapping_error(write_mapping(tmp_path, "exlude: []\n"), "mapping-unknown-key")
    assert "'exclude'" in (error.hint or "") and "wave_years" in (error.hint or "")


def test_budgets_renamed_and_dropped(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "budgets: {columns: {Jahr: year}, drop: [Jahr]}\n")
    expect_mapping_error(path, "mapping-conflict")


def test_missing_source_column_lists_the_columns_found(tmp_path: Path) -> None:
    path = write_mapping(tmp_path, "columns: {Q99: imp_9}\n")
    with pytest.raises(DataError) as info:
        apply_mapping(raw_frame(), load_mapping(path))
    assert "ResponseId" in (info.value.hint or "") and "trust_1" in (info.value.hint or "")
