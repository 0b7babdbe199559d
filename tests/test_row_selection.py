"""Row selection before validation: Qualtrics metadata and the mapping's ``exclude`` rules.

The export below is a Qualtrics three-header-row CSV with German answer labels. Besides six
valid responses it holds every kind of row a researcher has to leave out -- previews, spam, a
test response sent through the test channel, an unfinished response, a response marked as a
test in a survey question, a forwarded-link duplicate and a respondent who is neither CMO nor
CIO -- and each of them would break a validation rule if it were kept.
"""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import processing
from helpers.errors import DataError
from helpers.io import QUALTRICS_METADATA, read_raw
from helpers.mapping import Mapping, apply_mapping, load_mapping
from helpers.processing import build_processed, describe_row_selection, load_survey
from helpers.selection import (
    EXCLUSION_COLUMNS,
    is_qualtrics,
    metadata_column,
    select_rows,
    unfinished_mask,
)

COLUMNS = ["StartDate", "EndDate", "Status", "Progress", "Duration (in seconds)", "Finished",
           "RecordedDate", "ResponseId", "DistributionChannel", "UserLanguage", "Q_firm",
           "Q_role", "Q_country", "Q_industry", "Q_size", "Q_wave", "Q_test", "Q10_1", "Q10_2",
           "Q10_3"]
AGREE = {1: "Stimme überhaupt nicht zu", 2: "Stimme nicht zu", 3: "Weder noch", 4: "Stimme zu",
         5: "Stimme voll und ganz zu"}


def row(rid: str, firm: str, role: str, *, status: str = "IP Address", progress: int = 100,
        finished: str = "True", channel: str = "anonymous", test: str = "no",
        answers: tuple[Any, Any, Any] = (4, 5, 3), recorded: str = "2024-03-05 10:00:00",
        wave: int = 1, duration: int = 600) -> dict[str, Any]:
    """One response as Qualtrics exports it (answers as German labels)."""
    labels = [AGREE.get(a, a) if isinstance(a, int) else a for a in answers]
    return {"StartDate": recorded, "EndDate": recorded, "Status": status, "Progress": progress,
            "Duration (in seconds)": duration, "Finished": finished, "RecordedDate": recorded,
            "ResponseId": rid, "DistributionChannel": channel, "UserLanguage": "DE",
            "Q_firm": firm, "Q_role": role, "Q_country": "DE", "Q_industry": "Retail",
            "Q_size": "250-999", "Q_wave": wave, "Q_test": test, "Q10_1": labels[0],
            "Q10_2": labels[1], "Q10_3": labels[2]}


VALID = [
    row("R_1", "F1", "Marketingleiter"), row("R_2", "F1", "IT-Leiter", answers=(2, 3, 4)),
    row("R_3", "F2", "CMO", answers=(5, 5, "Weiß nicht")), row("R_4", "F2", "CIO"),
    row("R_5", "F3", "Chief Marketing Officer (CMO)", answers=(3, 4, 4)),
    row("R_6", "F3", "IT-Leiterin", answers=(1, 2, 2)),
]
EXCLUDED = [  # each breaks a validation rule if kept (see the comment)
    row("R_p1", "F1", "Tester", status="Survey Preview", answers=("xyz", 9, 9)),  # role, range
    row("R_p2", "F9", "CMO", status="Survey Preview", finished="False", progress=20),  # also unfinished
    row("R_s1", "F1", "CMO", status="Spam"),  # second CMO of F1
    row("R_t1", "F2", "CMO", channel="test"),  # second CMO of F2
    row("R_u1", "F3", "CMO", finished="False", progress=40, answers=(4, "", "")),  # second CMO
    row("R_q1", "F3", "CIO", test="yes"),  # second CIO of F3
    row("R_dup", "F1", "CMO"),  # forwarded link: second CMO of F1
    row("R_gf", "F5", "Geschäftsführer"),  # unknown role
]
MAPPING = textwrap.dedent("""
    columns:
      ResponseId: respondent_id
      Q_firm: firm_id
      Q_role: role
      Q_country: country
      Q_industry: industry
      Q_size: size_band
      Q_wave: wave
      UserLanguage: language
      "Duration (in seconds)": duration_seconds
      Q10_1: imp_1
      Q10_2: imp_2
      Q10_3: imp_3
    recode:
      agree5: {"Stimme überhaupt nicht zu": 1, "Stimme nicht zu": 2, "Weder noch": 3,
               "Stimme zu": 4, "Stimme voll und ganz zu": 5}
    dont_know: ["Weiß nicht"]
    drop: [StartDate, EndDate, Status, Progress, Finished, RecordedDate, DistributionChannel]
    exclude:
      - reason: "test responses"
        column: Q_test
        values: ["yes", "test"]
      - reason: "forwarded-link duplicate"
        ids: [R_dup]
      - reason: "neither CMO nor CIO"
        column: role
        not_in: [CMO, CIO]
      - reason: "too fast"
        column: duration_seconds
        below: 60
""")
EXPECTED = [
    ("qualtrics", "Qualtrics survey preview", 2),
    ("qualtrics", "flagged as spam by Qualtrics", 1),
    ("qualtrics", "Qualtrics test response", 1),
    ("qualtrics", "unfinished response", 1),
    ("mapping", "test responses", 1),
    ("mapping", "forwarded-link duplicate", 1),
    ("mapping", "neither CMO nor CIO", 1),
    ("mapping", "too fast", 0),
]


def write_qualtrics(path: Path, rows: list[dict[str, Any]], columns: list[str] = COLUMNS) -> Path:
    """A Qualtrics CSV: names, question texts, ImportId row, then the responses."""
    texts = [QUALTRICS_METADATA.get(c, f"Question {c}") for c in columns]
    ids = [json.dumps({"ImportId": c}) for c in columns]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerows([columns, texts, ids])
        writer.writerows([[r.get(c, "") for c in columns] for r in rows])
    return path


def write_mapping(tmp_path: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    rows = [VALID[0], *EXCLUDED[:4], *VALID[1:4], *EXCLUDED[4:], *VALID[4:]]
    return write_qualtrics(tmp_path / "export.csv", rows)


def counts(df: pd.DataFrame) -> list[tuple[str, str, int]]:
    return [(e["step"], e["reason"], e["n_rows"]) for e in df.attrs["exclusions"]]


def test_excluded_rows_never_reach_validation(export: Path, tmp_path: Path) -> None:
    raw_before = export.read_bytes()
    df, report = load_survey(export, write_mapping(tmp_path, MAPPING))
    assert report.ok, str(report)
    assert df["respondent_id"].tolist() == ["R_1", "R_2", "R_3", "R_4", "R_5", "R_6"]
    assert df["role"].tolist() == ["CMO", "CIO"] * 3
    assert counts(df) == EXPECTED
    assert df.attrs["row_selection"] == {"unfinished": "exclude", "rows_read": 14,
                                         "rows_kept": 6, "unfinished_rows": 1}
    assert report.n_rows == 6
    assert export.read_bytes() == raw_before, "raw data must never be modified"


def test_kept_rows_keep_their_file_lines(export: Path, tmp_path: Path) -> None:
    """The index is the export's data row, so messages name the file's own lines."""
    df, _ = load_survey(export, write_mapping(tmp_path, MAPPING))
    # 3 header lines; R_1 is data row 0 -> line 4; R_2 follows 4 excluded rows -> line 9
    assert df.index.tolist()[:2] == [0, 5]
    broken = pd.read_csv(export, header=None, dtype=str, keep_default_na=False)
    broken.iloc[3 + 5, COLUMNS.index("Q10_1")] = "7"  # R_2's imp_1 out of range
    bad = tmp_path / "bad.csv"
    broken.to_csv(bad, header=False, index=False)
    _, report = load_survey(bad, write_mapping(tmp_path, MAPPING))
    issue = next(i for i in report.errors if i.rule == "unknown-category" or i.column == "imp_1")
    assert list(issue.lines) == [9] and "R_2" in str(issue)


def test_every_exclusion_counted_once_for_its_first_reason(export: Path, tmp_path: Path) -> None:
    df, _ = load_survey(export, write_mapping(tmp_path, MAPPING))
    total = sum(e["n_rows"] for e in df.attrs["exclusions"])
    assert total == df.attrs["row_selection"]["rows_read"] - len(df)
    # R_p2 is a preview and unfinished: counted as a preview only
    assert dict((r, n) for _, r, n in counts(df))["unfinished response"] == 1


def test_unfinished_keep(export: Path, tmp_path: Path) -> None:
    text = MAPPING + "unfinished: keep\n"
    text = text.replace("ids: [R_dup]", "ids: [R_dup, R_u1]")  # R_u1 would clash with R_5
    df, report = load_survey(export, write_mapping(tmp_path, text))
    assert report.ok, str(report)
    assert "unfinished response" not in [r for _, r, _ in counts(df)]
    assert df.attrs["row_selection"]["unfinished"] == "keep"
    assert df.attrs["row_selection"]["unfinished_rows"] == 1
    assert dict((r, n) for _, r, n in counts(df))["forwarded-link duplicate"] == 2


def test_unfinished_kept_response_stays(tmp_path: Path) -> None:
    rows = [*VALID, row("R_u", "F4", "CMO", finished="False", progress=60)]
    path = write_qualtrics(tmp_path / "export.csv", rows)
    base = MAPPING[:MAPPING.index("exclude:")]  # R_dup is not in this export
    kept, _ = load_survey(path, write_mapping(tmp_path, base + "unfinished: keep\n"))
    dropped, _ = load_survey(path, write_mapping(tmp_path, base, "m2.yaml"))
    assert "R_u" in kept["respondent_id"].tolist()
    assert "R_u" not in dropped["respondent_id"].tolist()
    assert len(kept) == len(dropped) + 1


def test_qualtrics_metadata_without_a_mapping(tmp_path: Path, survey_factory) -> None:
    """Codebook names plus Qualtrics' metadata columns: previews excluded without a mapping."""
    survey = survey_factory(2)
    meta = pd.DataFrame({"Status": ["IP Address"] * len(survey), "Progress": 100,
                         "Finished": "True", "RecordedDate": "2025-02-01 09:00:00"})
    extra = survey.iloc[[0]].assign(respondent_id="R_preview", role="Tester")
    frame = pd.concat([pd.concat([survey, meta], axis=1),
                       extra.assign(Status="Survey Preview", Progress=100, Finished="True",
                                    RecordedDate="2025-02-01")], ignore_index=True)
    columns = list(frame.columns)
    path = write_qualtrics(tmp_path / "plain_names.csv", frame.to_dict("records"), columns)
    df, report = load_survey(path)
    assert report.ok, str(report)
    assert len(df) == len(survey)
    assert counts(df) == [("qualtrics", "Qualtrics survey preview", 1)]
    assert df["year"].unique().tolist() == [2025]  # from RecordedDate


def test_numeric_status_codes_and_spss_style_labels() -> None:
    raw = pd.DataFrame({"ResponseId": list("abcdefg"), "Status": [0, 1, 8, 9, 12, 2, 4],
                        "Finished": [1, 1, 1, 1, 1, 1, 0], "Progress": [100] * 6 + [55]})
    raw.attrs = {"format": "spss", "value_labels": {"Finished": {0: "False", 1: "True"}}}
    assert is_qualtrics(raw)  # three metadata columns, although read as SPSS
    mapped = apply_mapping(raw, Mapping())
    selection = select_rows(raw, mapped, Mapping())
    assert selection.keep.tolist() == [True, False, False, False, False, False, False]
    assert [(e["reason"], e["n_rows"]) for e in selection.exclusions] == [
        ("Qualtrics survey preview", 1), ("flagged as spam by Qualtrics", 3),
        ("Qualtrics test response", 1), ("unfinished response", 1)]


def test_status_labels_through_value_labels() -> None:
    raw = pd.DataFrame({"ResponseId": ["a", "b"], "Status": [16, 17], "Finished": [1, 1],
                        "Progress": [100, 100]})
    raw.attrs = {"format": "spss",
                 "value_labels": {"Status": {16: "Offline", 17: "Survey Preview"}}}
    selection = select_rows(raw, apply_mapping(raw, Mapping()), Mapping())
    assert selection.keep.tolist() == [True, False]


def test_other_exports_with_a_status_column_are_left_alone() -> None:
    raw = pd.DataFrame({"respondent_id": ["a", "b"], "Status": [1, 2], "Progress": [10, 20]})
    raw.attrs = {"format": "csv"}
    assert not is_qualtrics(raw)
    selection = select_rows(raw, apply_mapping(raw, Mapping()), Mapping())
    assert selection.keep.all() and selection.exclusions == []
    assert not unfinished_mask(raw).any()


def test_legacy_export_found_by_question_text(tmp_path: Path) -> None:
    text = ("V1,V2,V3,V7,V10,Q1\n"
            "ResponseID,ResponseSet,Name,Status,Finished,Firm\n"
            "R_1,Default,,0,1,F1\nR_2,Default,,1,1,F1\nR_3,Default,,0,0,F2\n")
    path = tmp_path / "legacy.csv"
    path.write_text(text, encoding="utf-8")
    raw = read_raw(path)
    assert raw.attrs["format"] == "qualtrics_legacy"
    assert metadata_column(raw, "Status") == "V7" and metadata_column(raw, "Finished") == "V10"
    selection = select_rows(raw, apply_mapping(raw, Mapping()), Mapping())
    assert selection.keep.tolist() == [True, False, False]


@pytest.mark.parametrize(("rule", "expected"), [
    ("column: Progress\n    below: 100", [False, True, False]),
    ("column: Progress\n    at_most: 50", [False, True, False]),
    ("column: Progress\n    at_least: 100", [True, False, True]),
    ("column: Progress\n    above: 50", [True, False, True]),
    ("column: Q_role\n    equals: ceo", [False, False, True]),  # a source column, renamed
    ("column: role\n    values: [CIO]", [False, True, False]),  # German label, normalised
    ("column: role\n    not_in: [Marketingleiter, IT-Leiter]", [False, False, True]),
    ("column: Q_note\n    values: [null]", [False, True, False]),  # a dropped column, empty
    ("column: Q_flag\n    equals: true", [True, False, False]),  # a boolean cell (Excel)
])
def test_rule_tests(tmp_path: Path, rule: str, expected: list[bool]) -> None:
    raw = pd.DataFrame({"rid": ["a", "b", "c"], "Progress": [100, 40, 100],
                        "Q_role": ["Marketingleiter", "IT-Leiter", "CEO"],
                        "Q_note": ["x", None, "y"], "Q_flag": [True, False, False]})
    raw.attrs = {"format": "csv", "source": "export.csv"}
    text = ("columns: {rid: respondent_id, Q_role: role}\ndrop: [Q_note]\nexclude:\n"
            "  - reason: rule under test\n    " + rule + "\n")
    mapping = load_mapping(write_mapping(tmp_path, text))
    selection = select_rows(raw, apply_mapping(raw, mapping), mapping)
    assert (~selection.keep).tolist() == expected
    assert selection.exclusions[0]["n_rows"] == sum(expected)


def test_rule_values_match_value_labels(tmp_path: Path) -> None:
    raw = pd.DataFrame({"rid": ["a", "b", "c"], "test_flag": [1, 2, 1]})
    raw.attrs = {"format": "spss", "value_labels": {"test_flag": {1: "Nein", 2: "Ja"}}}
    mapping = load_mapping(write_mapping(tmp_path, """
        columns: {rid: respondent_id}
        exclude:
          - {reason: test, column: test_flag, values: [ja]}
        """))
    selection = select_rows(raw, apply_mapping(raw, mapping), mapping)
    assert selection.keep.tolist() == [True, False, True]


def test_rule_on_absent_column_names_mapping_and_found_columns(export: Path,
                                                               tmp_path: Path) -> None:
    path = write_mapping(tmp_path, MAPPING.replace("column: Q_test", "column: Q_tset"),
                         "wave1_mapping.yaml")
    with pytest.raises(DataError) as info:
        load_survey(export, path)
    error = info.value
    assert error.rule == "exclude-column-missing" and error.column == "Q_tset"
    assert "wave1_mapping.yaml" in str(error)
    assert "'Q_test'" in error.hint and "Q_firm" in error.hint and "respondent_id" in error.hint


def test_unknown_ids_and_text_in_a_comparison_are_errors(export: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_survey(export, write_mapping(tmp_path, MAPPING.replace("[R_dup]", "[R_dpu]")))
    assert info.value.rule == "exclude-unknown-id" and "R_dpu" in str(info.value)
    assert "R_dup" in info.value.hint
    text = MAPPING.replace("column: duration_seconds", "column: Q_role")
    with pytest.raises(DataError) as info:
        load_survey(export, write_mapping(tmp_path, text, "m2.yaml"))
    assert info.value.rule == "exclude-not-numeric" and info.value.column == "Q_role"


def test_ids_rule_needs_a_respondent_id(tmp_path: Path) -> None:
    raw = pd.DataFrame({"x": [1]})
    mapping = load_mapping(write_mapping(tmp_path, "exclude: [{reason: dup, ids: [a]}]\n"))
    with pytest.raises(DataError, match="respondent_id"):
        select_rows(raw, apply_mapping(raw, mapping), mapping)


def test_describe_row_selection(export: Path, tmp_path: Path) -> None:
    df, _ = load_survey(export, write_mapping(tmp_path, MAPPING))
    text = describe_row_selection(df)
    assert text.splitlines()[0] == "Rows: 14 read, 6 kept, 8 excluded:"
    assert "2  Qualtrics survey preview" in text and "0  too fast" in text
    assert "R_dup" not in text  # counts only, no ids


def test_build_writes_exclusions_dont_know_and_manifest(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    result = build_processed(export, mapping=write_mapping(tmp_path, MAPPING), out_dir=out)
    exclusions = pd.read_parquet(out / "exclusions.parquet")
    assert list(exclusions.columns) == EXCLUSION_COLUMNS
    assert list(exclusions.itertuples(index=False, name=None)) == [
        (step, reason, rule, n) for (step, reason, n), rule in zip(
            EXPECTED, exclusions["rule"], strict=True)]
    assert "R_dup" not in exclusions.to_string()
    assert result.manifest["row_selection"] == {"unfinished": "exclude", "rows_read": 14,
                                                "rows_kept": 6, "unfinished_rows": 1}
    assert result.manifest["years"] == {"source": "RecordedDate: the most common year of each "
                                        "wave", "by_wave": {"1": [2024]},
                                        "waves_from": "the survey's wave column"}
    survey = pd.read_parquet(out / "survey.parquet")
    assert len(survey) == 6 and survey["year"].dtype == "Int64"
    dont_know = pd.read_parquet(out / "dont_know.parquet")
    assert dont_know["item"].tolist() == ["imp_3"]
    answered = survey.set_index("respondent_id").loc[dont_know["respondent_id"].iloc[0]]
    assert np.isnan(answered["imp_3"]) and answered["imp_1"] == 5  # R_3, pseudonymised
    assert not set(dont_know["respondent_id"]) & {"R_3"}
    for name in ("exclusions.parquet", "dont_know.parquet"):
        assert processing.fingerprint(out / name) == result.manifest["outputs"][name]["sha256"]


def test_command_line_says_what_was_excluded(export: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    mapping = write_mapping(tmp_path, MAPPING)
    done = subprocess.run([sys.executable, "-m", "helpers", "validate", "--survey", str(export),
                           "--mapping", str(mapping)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Rows: 14 read, 6 kept, 8 excluded:" in done.stdout
    assert "1  forwarded-link duplicate (respondent_id is one of 1 listed id(s))" in done.stdout
    built = subprocess.run([sys.executable, "-m", "helpers", "build-data", "--survey",
                            str(export), "--mapping", str(mapping), "--out",
                            str(tmp_path / "processed")], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Rows: 14 read, 6 kept, 8 excluded:" in built.stdout


def test_rule_values_reach_reports_only_for_columns_that_say_nothing_about_a_person(cb) -> None:
    """Regression (found by the own-data e2e test): a rule on an e-mail column put the tester's
    address into exclusions.parquet and the data-quality report."""
    from helpers.mapping import ExcludeRule

    email = ExcludeRule(reason="test response", test="in", column="RecipientEmail",
                        values=("tester@firm.example", None))
    assert "tester" not in email.describe(cb) and "one of 1 listed value(s) or empty" in \
        email.describe(cb)
    assert "x@y" not in ExcludeRule("t", "equals", "email", ("x@y",)).describe(cb)
    assert "'CFO'" in ExcludeRule("not a CxO", "not_in", "role", ("CFO",)).describe(cb)
    assert "'Survey Preview'" in ExcludeRule("p", "in", "Status", ("Survey Preview",)).describe(cb)
    assert "R_1" not in ExcludeRule("dup", "in", "respondent_id", ("R_1",)).describe(cb)
