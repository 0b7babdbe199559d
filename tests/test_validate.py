"""Tests for helpers.validate: one valid survey frame, then one mutation per rule.

Decision under test: numeric text in item/numeric columns ("4", " 5 ") is accepted as a number,
blank text counts as missing, any other text is a ``not-numeric`` error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from helpers.codebook import Codebook
from helpers.errors import DataError, Issue
from helpers.validate import (
    FIRM_ATTRIBUTE_SOURCE,
    ValidationReport,
    harmonise_firm_attributes,
    respondent_flags,
    schema_for,
    validate_survey,
)

FILE = "raw/survey_wave1.csv"
N_FIRMS = 3


@pytest.fixture
def valid(survey_factory) -> pd.DataFrame:
    """Three firms, each with a CMO and a CIO, every item answered where the role is asked."""
    return survey_factory(N_FIRMS)


def check(df: pd.DataFrame, cb: Codebook, **kwargs) -> ValidationReport:
    return validate_survey(df, cb, file=FILE, **kwargs)


def only(issues: list[Issue], rule: str) -> Issue:
    found = [i for i in issues if i.rule == rule]
    assert len(found) == 1, f"expected one {rule!r} issue, got {[str(i) for i in issues]}"
    return found[0]


def assert_reported(issue: Issue, column: str, rows: list[int]) -> None:
    """The issue and its DataError text name the file, the column, the rows and the rule."""
    assert issue.file == FILE
    assert issue.column == column
    assert list(issue.rows) == rows
    assert issue.hint
    text = str(DataError(issues=[issue]))
    assert FILE in text
    assert f"column '{column}'" in text
    assert f"[{issue.rule}]" in text
    if rows:
        assert "rows " + ", ".join(str(r) for r in rows[:5]) in text


def error(report: ValidationReport, rule: str, column: str, rows: list[int]) -> Issue:
    """Assert one blocking issue of ``rule`` and that raise_for_errors reports it."""
    assert not report.ok
    issue = only(report.errors, rule)
    assert issue.severity == "error"
    assert_reported(issue, column, rows)
    with pytest.raises(DataError) as exc:
        report.raise_for_errors()
    assert f"[{rule}]" in str(exc.value)
    return issue


def warning(report: ValidationReport, rule: str, column: str, rows: list[int]) -> Issue:
    """Assert one non-blocking issue of ``rule``: the report stays ok."""
    assert report.ok, str(report)
    issue = only(report.warnings, rule)
    assert issue.severity == "warning"
    assert_reported(issue, column, rows)
    report.raise_for_errors()  # does not raise
    return issue


# --------------------------------------------------------------------------- the valid frame
def test_valid_frame_has_no_issues(valid: pd.DataFrame, cb: Codebook) -> None:
    report = check(valid, cb)
    assert report.ok
    assert report.errors == [] and report.warnings == [], str(report)
    assert report.n_rows == 2 * N_FIRMS
    assert report.file == FILE
    assert "0 errors" in str(report)
    assert report.to_frame().empty


def test_schema_is_derived_from_the_codebook(cb: Codebook) -> None:
    schema = schema_for(cb)
    assert isinstance(schema, pa.DataFrameSchema)
    assert set(schema.columns) == set(cb.fields) | set(cb.items)
    assert schema.columns["respondent_id"].unique
    assert schema.columns["wave"].required and not schema.columns["wave"].nullable
    assert not schema.columns["duration_seconds"].required
    assert [c.name for c in schema.columns["imp_1"].checks] == ["out-of-range"]
    assert [c.name for c in schema.columns["role"].checks] == ["unknown-role"]
    assert [c.name for c in schema.columns["country"].checks] == ["unknown-category"]


# --------------------------------------------------------------------------- blocking rules
def test_missing_column_suggests_near_name(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.rename(columns={"firm_id": "Firm ID"}).drop(columns=["language"])
    report = check(df, cb)
    missing = [i for i in report.errors if i.rule == "missing-column"]
    assert [i.column for i in missing] == ["firm_id", "language"]
    firm = missing[0]
    assert_reported(firm, "firm_id", [])
    assert "'Firm ID'" in firm.hint and "respondent_id" in firm.hint
    assert "looks like" not in missing[1].hint


def test_out_of_range_item(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[2, "imp_1"] = 6
    df.loc[4, "imp_1"] = 0
    issue = error(check(df, cb), "out-of-range", "imp_1", [3, 5])
    assert "1 to 5" in issue.message and "6" in issue.message


@pytest.mark.parametrize(("column", "value"), [("imp_2", 2.5), ("cofund_1", 2), ("kpi_1", 0.5)])
def test_out_of_range_not_whole_or_outside_binary(valid: pd.DataFrame, cb: Codebook,
                                                  column: str, value: float) -> None:
    df = valid.copy()
    df.loc[1, column] = value
    error(check(df, cb), "out-of-range", column, [2])


@pytest.mark.parametrize(("column", "value"), [("wave", 0), ("wave", 1.5),
                                               ("duration_seconds", -5.0)])
def test_out_of_range_numeric_fields(valid: pd.DataFrame, cb: Codebook, column: str,
                                     value: float) -> None:
    df = valid.astype({column: "float64"})
    df.loc[5, column] = value
    error(check(df, cb), "out-of-range", column, [6])


def test_not_numeric_text_in_item(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df["trust_1"] = ["4", "Agree", " 5 ", "", "x", "2"]
    df["trust_1"] = df["trust_1"].astype("str")
    issue = error(check(df, cb), "not-numeric", "trust_1", [2, 5])
    assert "'Agree'" in issue.message and "'x'" in issue.message
    assert "missing-value" not in {i.rule for i in check(df, cb).errors}


def test_not_numeric_text_in_numeric_field_is_not_also_missing(valid: pd.DataFrame,
                                                               cb: Codebook) -> None:
    df = valid.astype({"wave": object})
    df.loc[3, "wave"] = "one"
    report = check(df, cb)
    error(report, "not-numeric", "wave", [4])
    assert {i.rule for i in report.errors} == {"not-numeric"}


def test_numeric_text_is_accepted_as_numbers(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    for item_id in cb.items:
        df[item_id] = [("" if pd.isna(v) else f" {v:g} ") for v in valid[item_id]]
        df[item_id] = df[item_id].astype("str")
    df["wave"] = df["wave"].astype("str")
    report = check(df, cb)
    assert report.ok and report.warnings == [], str(report)


def test_blank_text_in_required_numeric_field_is_missing(valid: pd.DataFrame,
                                                         cb: Codebook) -> None:
    df = valid.astype({"wave": "str"})
    df.loc[0, "wave"] = "  "
    error(check(df, cb), "missing-value", "wave", [1])


def test_unknown_role(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[0, "role"] = "cmo"
    df.loc[1, "role"] = " CIO "  # whitespace is stripped, case is not folded
    issue = error(check(df, cb), "unknown-role", "role", [1])
    assert "'cmo'" in issue.message
    assert "mapping file" in issue.hint


@pytest.mark.parametrize(("column", "value"), [("country", "Germany"), ("industry", "retail"),
                                               ("size_band", "250 - 999"), ("language", "FR")])
def test_unknown_category(valid: pd.DataFrame, cb: Codebook, column: str, value: str) -> None:
    df = valid.copy()
    df.loc[3, column] = value
    issue = error(check(df, cb), "unknown-category", column, [4])
    assert repr(value) in issue.message
    assert cb.fields[column].values[0] in issue.hint


def test_missing_value(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[[1, 4], "firm_id"] = None
    df.loc[2, "language"] = "   "
    report = check(df, cb)
    missing = [i for i in report.errors if i.rule == "missing-value"]
    assert [(i.column, list(i.rows)) for i in missing] == [("firm_id", [2, 5]), ("language", [3])]
    assert_reported(missing[0], "firm_id", [2, 5])


def test_duplicate_respondent(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[3, "respondent_id"] = df.loc[0, "respondent_id"]
    issue = error(check(df, cb), "duplicate-respondent", "respondent_id", [1, 4])
    assert "R0CMO" in issue.message


def test_duplicate_response(valid: pd.DataFrame, cb: Codebook) -> None:
    repeat = valid.iloc[[2]].assign(respondent_id="R-resubmitted")
    df = pd.concat([valid, repeat], ignore_index=True)
    report = check(df, cb)
    issue = error(report, "duplicate-response", "firm_id, role", [3, 7])
    assert "(F1, CMO)" in issue.message
    rules = {i.rule for i in report.errors}
    assert "dyad-role-conflict" not in rules and "duplicate-respondent" not in rules


def test_dyad_role_conflict(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[4, "firm_id"] = "F0"  # a second CMO (with other answers) for firm F0 in wave 1
    issue = error(check(df, cb), "dyad-role-conflict", "role", [1, 5])
    assert "F0" in issue.message and "2 CMO" in issue.message


def test_same_role_in_different_waves_is_no_conflict(valid: pd.DataFrame, cb: Codebook) -> None:
    second = valid.assign(wave=2, respondent_id=valid["respondent_id"] + "-w2")
    report = check(pd.concat([valid, second], ignore_index=True), cb)
    assert report.ok and report.warnings == [], str(report)


# --------------------------------------------------------------------------- warnings
def test_straight_lining(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    agree5 = [i for i, item in cb.items.items() if item.scale.id == "agree5"]
    df.loc[2, [i for i in agree5 if df.loc[2, i] == df.loc[2, i]]] = 3.0
    issue = warning(check(df, cb), "straight-lining", "agree5 items", [3])
    assert "1 respondent" in issue.message


def test_straight_lining_needs_enough_answered_items(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    agree5 = [i for i, item in cb.items.items() if item.scale.id == "agree5"]
    answered = [i for i in agree5 if not pd.isna(df.loc[2, i])]
    df.loc[2, answered] = np.nan
    df.loc[2, answered[:5]] = 3.0
    report = check(df, cb)
    assert "straight-lining" not in {i.rule for i in report.warnings}
    warning(check(df, cb, straightline_min_items=5), "straight-lining", "agree5 items", [3])


def test_speeder(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[1, "duration_seconds"] = 100.0
    issue = warning(check(df, cb), "speeder", "duration_seconds", [2])
    assert "median" in issue.message
    assert check(df, cb, speeder_fraction=0.1).warnings == []
    assert check(df.drop(columns=["duration_seconds"]), cb).warnings == []


def test_incomplete_dyad(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.drop(index=[1, 2]).reset_index(drop=True)  # F0 loses its CIO, F1 its CMO
    issue = warning(check(df, cb), "incomplete-dyad", "role", [1, 2])
    assert "2 firm-waves" in issue.message
    assert "1 without a CMO" in issue.message and "1 without a CIO" in issue.message


def test_wrong_role_item(valid: pd.DataFrame, cb: Codebook) -> None:
    cio_only = next(i for i, item in cb.items.items() if item.roles == ("CIO",))
    df = valid.copy()
    df.loc[df["role"] == "CMO", cio_only] = 4.0
    issue = warning(check(df, cb), "wrong-role-item", cio_only, [1, 3, 5])
    assert "CMO" in issue.message


def test_unknown_column(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.assign(Q99_text="x")
    issue = warning(check(df, cb), "unknown-column", "Q99_text", [])
    assert "drop list" in issue.hint


def test_items_not_present(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.drop(columns=["imp_1", "imp_2"])
    issue = warning(check(df, cb), "items-not-present", "imp_1, imp_2", [])
    assert "imp_1, imp_2" in issue.message


# --------------------------------------------------------------------------- report behaviour
def test_input_is_not_mutated(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.astype({"trust_1": "str", "role": "str"})
    df.loc[0, "trust_1"] = " Agree "
    df.loc[1, "role"] = " CIO "
    df.loc[2, "imp_1"] = 9.0
    before = df.copy(deep=True)
    check(df, cb)
    pd.testing.assert_frame_equal(df, before)


def test_raise_for_errors_carries_every_error(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[0, "imp_1"] = 7.0
    df.loc[1, "country"] = "XX"
    report = check(df, cb)
    with pytest.raises(DataError) as exc:
        report.raise_for_errors()
    assert [i.rule for i in exc.value.issues] == [i.rule for i in report.errors]
    assert {i.rule for i in report.errors} == {"out-of-range", "unknown-category"}
    assert "2 problems found" in str(exc.value)


def test_rows_are_positions_whatever_the_index(valid: pd.DataFrame, cb: Codebook) -> None:
    shuffled = valid.sample(frac=1, random_state=7)
    shuffled.index = [f"id{n}" for n in range(len(shuffled))][::-1]
    target = shuffled.index[3]
    shuffled.loc[target, "imp_1"] = 8.0
    error(check(shuffled, cb), "out-of-range", "imp_1", [4])


def test_to_frame_and_str(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.assign(extra=1)
    df.loc[:, "imp_1"] = 9.0
    report = check(df, cb)
    frame = report.to_frame()
    assert list(frame.columns) == ["severity", "rule", "column", "n_rows", "rows", "lines",
                                   "message", "hint"]
    assert list(frame["severity"]) == ["error", "warning"]
    first = frame.iloc[0]
    assert first["rule"] == "out-of-range" and first["n_rows"] == 6
    assert first["rows"] == "1, 2, 3, 4, 5, ..."
    assert first["lines"] == ""  # a frame built in code has no file lines
    ids = set(valid["respondent_id"])
    assert not any(i in str(v) for i in ids for v in frame.to_numpy().ravel())  # no ids stored
    text = str(report)
    assert FILE in text and "1 error" in text and "1 warning" in text
    assert "ERROR" in text and "WARNING" in text


def test_repeated_column_names_are_an_error(valid: pd.DataFrame, cb: Codebook) -> None:
    df = pd.concat([valid, valid[["country"]]], axis=1)
    issue = error(check(df, cb), "duplicate-column", "country", [])
    assert "mapping file" in issue.hint


def test_norway_is_a_known_country(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[0, "country"] = "NO"
    assert check(df, cb).ok


# --------------------------------------------------------------------------- firm attributes
def test_firm_attribute_conflict(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[3, "size_band"] = "1000-4999"  # F1's CIO; its CMO says 250-999
    issue = warning(check(df, cb), "firm-attribute-conflict", "size_band", [3, 4])
    assert "1 firm-wave" in issue.message
    assert "rows 3, 4 (2 rows): CMO '250-999', CIO '1000-4999'" in issue.message
    assert "CIO's answer" in issue.message and "harmonise_firm_attributes" in issue.hint
    assert issue.ids == ["R1CMO1", "R1CIO1"]  # named on the console, not in the message
    assert "R1CMO1" not in issue.message


def test_firm_attributes_may_differ_between_waves_and_missing_is_no_answer(
        valid: pd.DataFrame, cb: Codebook) -> None:
    second = valid.assign(wave=2, size_band="1000-4999", country="AT",
                          respondent_id=valid["respondent_id"] + "-w2")  # the firms grew, moved
    df = pd.concat([valid, second], ignore_index=True)
    df.loc[0, "industry"] = None  # a missing answer is a missing-value error, not a conflict
    report = check(df, cb)
    assert "firm-attribute-conflict" not in {i.rule for i in report.warnings}, str(report)
    assert {i.rule for i in report.errors} == {"missing-value"}


def test_several_conflicts_and_attributes(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[1, "industry"] = "Health"
    df.loc[5, "industry"] = "Telecom and media"
    df.loc[4, "country"] = "NL"
    report = check(df, cb)
    found = {i.column: i for i in report.warnings if i.rule == "firm-attribute-conflict"}
    assert set(found) == {"industry", "country"}
    assert list(found["industry"].rows) == [1, 2, 5, 6]
    assert "2 firm-waves" in found["industry"].message
    assert "CMO 'Retail', CIO 'Health'" in found["industry"].message
    assert "CMO 'Retail', CIO 'Telecom and media'" in found["industry"].message
    assert list(found["country"].rows) == [5, 6] and "CMO 'NL', CIO 'DE'" in found[
        "country"].message


def test_harmonise_firm_attributes_takes_the_documented_executive(valid: pd.DataFrame,
                                                                  cb: Codebook) -> None:
    df = valid.copy()
    df.loc[0, "size_band"] = "<250"          # F0: CMO <250, CIO 250-999 -> the CIO's
    df.loc[3, "industry"] = "Health"         # F1: CMO Retail, CIO Health -> the CMO's
    df.loc[4, "country"] = "NL"              # F2: CMO NL, CIO DE -> the CMO's
    before = df.copy(deep=True)
    out = harmonise_firm_attributes(df, cb)
    pd.testing.assert_frame_equal(df, before)  # the input is not changed
    assert list(out["size_band"]) == ["250-999"] * 6
    assert list(out["industry"]) == ["Retail"] * 6
    assert list(out["country"]) == ["DE", "DE", "DE", "DE", "NL", "NL"]
    assert out.attrs["harmonised_firm_attributes"] == {"size_band": 1, "industry": 1,
                                                       "country": 1}
    assert FIRM_ATTRIBUTE_SOURCE == {"size_band": "CIO", "industry": "CMO", "country": "CMO"}
    assert [w for w in check(out, cb).warnings if w.rule == "firm-attribute-conflict"] == []
    unchanged = harmonise_firm_attributes(valid, cb)
    pd.testing.assert_frame_equal(unchanged, valid)
    assert unchanged.attrs["harmonised_firm_attributes"] == {}


def test_harmonise_falls_back_to_the_other_executive_and_keeps_dtypes(valid: pd.DataFrame,
                                                                      cb: Codebook) -> None:
    """A processed-like frame (ordered categorical size band, shuffled rows, string labels);
    where the CIO left the size band empty in a conflicting group, the CMOs' first answer."""
    bands = cb.fields["size_band"].values
    df = valid.copy()
    extra = df.iloc[[2]].assign(respondent_id="R1CMO1-b", size_band="5000+")  # 2nd CMO of F1
    df = pd.concat([df, extra], ignore_index=True)
    df.loc[3, "size_band"] = None  # F1's CIO gave none
    df = df.astype({"size_band": pd.CategoricalDtype(bands, ordered=True)})
    df = df.sample(frac=1, random_state=3).set_axis([f"id{i}" for i in range(len(df))])
    out = harmonise_firm_attributes(df, cb)
    assert out["size_band"].dtype == df["size_band"].dtype
    cmos = df[(df["firm_id"] == "F1") & (df["role"] == "CMO")]["size_band"]
    assert set(cmos) == {"250-999", "5000+"}
    f1 = out[out["firm_id"] == "F1"]
    assert len(f1) == 3 and set(f1["size_band"]) == {cmos.iloc[0]}  # the first in frame order
    assert list(out.index) == list(df.index)
    others = out[out["firm_id"] != "F1"]
    pd.testing.assert_frame_equal(others, df[df["firm_id"] != "F1"])


# --------------------------------------------------------------------------- flags
def test_respondent_flags_match_the_warnings(valid: pd.DataFrame, cb: Codebook) -> None:
    df = valid.copy()
    df.loc[1, "duration_seconds"] = 100.0
    agree5 = [i for i, item in cb.items.items() if item.scale.id == "agree5"]
    df.loc[4, [i for i in agree5 if df.loc[4, i] == df.loc[4, i]]] = 2.0
    df.index = [f"r{i}" for i in range(len(df))][::-1]  # any index
    report = check(df, cb)
    flags = respondent_flags(df, cb)
    assert list(flags.columns) == ["flag_speeder", "flag_straight_lining"]
    assert list(flags.index) == list(df.index)
    assert flags.dtypes.eq(bool).all()
    speeders = only(report.warnings, "speeder")
    liners = only(report.warnings, "straight-lining")
    assert [p + 1 for p in np.flatnonzero(flags["flag_speeder"])] == list(speeders.rows) == [2]
    assert [p + 1 for p in np.flatnonzero(flags["flag_straight_lining"])] == list(liners.rows) \
        == [5]
    assert not respondent_flags(df, cb, speeder_fraction=0.1)["flag_speeder"].any()
    assert respondent_flags(df, cb, straightline_min_items=len(agree5) + 1)[
        "flag_straight_lining"].sum() == 0


def test_respondent_flags_without_durations_or_items(valid: pd.DataFrame, cb: Codebook) -> None:
    flags = respondent_flags(valid.drop(columns=["duration_seconds", *cb.items]), cb)
    assert len(flags) == len(valid) and not flags.to_numpy().any()


def test_respondent_flags_take_text_durations_as_validation_does(valid: pd.DataFrame,
                                                                 cb: Codebook) -> None:
    df = valid.astype({"duration_seconds": object})
    df.loc[0, "duration_seconds"] = " 90 "
    df.loc[2, "duration_seconds"] = "n.a."  # not a number: no completion time, not a speeder
    assert list(respondent_flags(df, cb)["flag_speeder"]) == [True] + [False] * 5
