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
