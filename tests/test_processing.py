"""Raw to processed: validated, personal fields dropped, atomic, skipped when unchanged, raw untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from helpers import atomic, privacy, processing
from helpers.errors import DataError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def raw_csv(tmp_path: Path, survey_factory) -> Path:
    """A semicolon CSV with decimal commas and personal fields, as European Excel exports look."""
    df = survey_factory(4)
    df["name"] = ["Jörg Müller", "Søren Ågård", "Anna de Vries", "Tom Smith"] * 2
    df["email"] = [f"p{i}@firm.example" for i in range(len(df))]
    df["comment"] = "Vertraulich: bitte nicht weitergeben"
    df["duration_seconds"] = df["duration_seconds"] + 0.5
    path = tmp_path / "raw" / "survey.csv"
    path.parent.mkdir()
    df.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
    return path


def test_build_writes_typed_survey_without_personal_fields(raw_csv: Path, tmp_path: Path,
                                                          cb) -> None:
    before = _sha(raw_csv)
    out = tmp_path / "processed"
    result = processing.build_processed(raw_csv, out_dir=out)
    assert not result.skipped
    survey = pd.read_parquet(out / "survey.parquet")
    assert len(survey) == 8
    assert not set(cb.pii_fields) & set(survey.columns)
    assert set(result.manifest["dropped_personal_fields"]) == {"name", "email", "comment"}
    assert isinstance(survey["role"].dtype, pd.CategoricalDtype)
    assert list(survey["size_band"].cat.categories) == list(cb.fields["size_band"].values)
    assert survey["duration_seconds"].min() == pytest.approx(600.5)  # decimal comma read
    assert survey["imp_1"].dtype == "float64"
    assert _sha(raw_csv) == before, "raw data must never be modified"
    assert result.manifest["synthetic"] is False
    assert result.manifest["outputs"]["survey.parquet"]["rows"] == 8
    for text in ("Jörg", "Søren", "@firm.example", "Vertraulich"):
        assert text.encode() not in (out / "survey.parquet").read_bytes()


def test_unchanged_build_is_skipped_and_changes_rebuild(raw_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    processing.build_processed(raw_csv, out_dir=out)
    assert processing.build_processed(raw_csv, out_dir=out).skipped
    assert not processing.build_processed(raw_csv, out_dir=out, force=True).skipped
    text = raw_csv.read_text(encoding="cp1252").replace("Retail", "Health", 1)
    raw_csv.write_text(text, encoding="cp1252")
    assert not processing.build_processed(raw_csv, out_dir=out).skipped


def test_invalid_survey_writes_nothing(raw_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(raw_csv, sep=";", decimal=",", encoding="cp1252")
    df.loc[2, "imp_1"] = 9
    bad = raw_csv.with_name("bad.csv")
    df.to_csv(bad, sep=";", decimal=",", index=False, encoding="cp1252")
    out = tmp_path / "processed"
    with pytest.raises(DataError) as err:
        processing.build_processed(bad, out_dir=out)
    assert err.value.rule == "out-of-range" and "bad.csv" in str(err.value)
    assert "imp_1" in str(err.value) and "line 4" in str(err.value)  # data row 3, 1 header line
    assert not out.exists() or not any(out.iterdir())


def test_interrupted_build_keeps_previous_complete_state(raw_csv: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    out = tmp_path / "processed"
    processing.build_processed(raw_csv, out_dir=out)
    before = {p.name: _sha(p) for p in out.iterdir()}
    calls = {"n": 0}
    real = atomic.write_parquet

    def crash_on_second(df, target):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        real(df, target)

    monkeypatch.setattr(atomic, "write_parquet", crash_on_second)
    text = raw_csv.read_text(encoding="cp1252").replace("Retail", "Health", 1)
    raw_csv.write_text(text, encoding="cp1252")  # new input, so a partial write would show
    with pytest.raises(KeyboardInterrupt):
        processing.build_processed(raw_csv, out_dir=out)
    after = {p.name: _sha(p) for p in out.iterdir()}
    assert after == before, "no file replaced, no temporary or half-written files left behind"
    # the manifest still describes the previous build, which is complete and consistent
    manifest = processing.read_manifest(out)
    for name, meta in manifest["outputs"].items():
        assert processing.fingerprint(out / name) == meta["sha256"]


def test_missing_input_and_unbuilt_data_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file-not-found"):
        processing.build_processed(tmp_path / "nope.csv", out_dir=tmp_path / "p")
    with pytest.raises(DataError, match="make data"):
        processing.load_processed(tmp_path / "empty")


def test_select_segment(survey_factory) -> None:
    df = pd.concat([survey_factory(2, wave=1), survey_factory(3, wave=2)], ignore_index=True)
    assert len(processing.select_segment(df, {})) == 10
    assert len(processing.select_segment(df, {"wave": 2})) == 6
    assert len(processing.select_segment(df, {"wave": [1, 2], "role": "CMO"})) == 5
    with pytest.raises(KeyError, match="segment column"):
        processing.select_segment(df, {"planet": "Mars"})


def test_ids_are_pseudonymised_consistently(raw_csv: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(raw_csv, sep=";", decimal=",", encoding="cp1252")
    out = tmp_path / "processed"
    processing.build_processed(raw_csv, out_dir=out)
    survey = pd.read_parquet(out / "survey.parquet")
    assert not set(raw["respondent_id"]) & set(survey["respondent_id"])
    assert not set(raw["firm_id"]) & set(survey["firm_id"])
    assert survey["respondent_id"].str.fullmatch(r"R-[0-9a-f]{12}").all()
    # one pseudonym per firm: the CMO and the CIO of a firm still share it
    assert survey.groupby("firm_id")["role"].nunique().eq(2).all()
    assert survey["firm_id"].nunique() == raw["firm_id"].nunique()
    # stable across builds with the same key
    again = processing.build_processed(raw_csv, out_dir=tmp_path / "again")
    assert not again.skipped
    pd.testing.assert_frame_equal(survey, pd.read_parquet(tmp_path / "again" / "survey.parquet"))


# --- years, row selection records, budgets and spend years --------------------------------------


def _two_waves(survey_factory) -> pd.DataFrame:
    return pd.concat([survey_factory(2, wave=1), survey_factory(2, wave=2)], ignore_index=True)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BUDGETS_CSV = ("firm_id,year,currency,revenue,it_budget,marketing_budget,martech_budget\n"
               + "".join(f"F{f},{y},EUR,100,10,5,1\n" for f in (0, 1) for y in (2024, 2025)))


def test_wave_years_from_the_mapping(tmp_path: Path, survey_factory) -> None:
    raw = tmp_path / "survey.csv"
    _two_waves(survey_factory).to_csv(raw, index=False)
    mapping = _write(tmp_path, "m.yaml", "wave_years: {1: 2024, 2: 2025}\n")
    out = tmp_path / "processed"
    result = processing.build_processed(raw, mapping=mapping, out_dir=out,
                                        budgets=_write(tmp_path, "b.csv", BUDGETS_CSV))
    survey = pd.read_parquet(out / "survey.parquet")
    assert survey["year"].dtype == "Int64"
    assert survey.groupby("wave")["year"].unique().map(list).to_dict() == {1: [2024], 2: [2025]}
    assert result.manifest["years"] == {"source": "wave_years in the mapping file",
                                        "by_wave": {"1": [2024], "2": [2025]},
                                        "waves_from": "the survey's wave column"}


def test_wave_years_must_cover_every_wave_and_agree_with_the_survey(tmp_path: Path,
                                                                    survey_factory) -> None:
    raw = tmp_path / "survey.csv"
    _two_waves(survey_factory).to_csv(raw, index=False)
    with pytest.raises(DataError) as info:
        processing.load_survey(raw, _write(tmp_path, "m.yaml", "wave_years: {1: 2024}\n"))
    assert info.value.rule == "wave-years-missing" and "wave(s) 2" in str(info.value)
    assert "m.yaml" in str(info.value) and "2: YEAR" in info.value.hint
    with_year = tmp_path / "with_year.csv"
    _two_waves(survey_factory).assign(year=2030).to_csv(with_year, index=False)
    with pytest.raises(DataError) as info:
        processing.load_survey(with_year, _write(tmp_path, "m2.yaml",
                                                 "wave_years: {1: 2024, 2: 2030}\n"))
    assert info.value.rule == "year-conflict" and len(info.value.rows) == 4  # wave 1 rows


def test_the_surveys_own_year_is_kept(tmp_path: Path, survey_factory) -> None:
    raw = tmp_path / "survey.csv"
    _two_waves(survey_factory).assign(year=lambda d: 2022 + d["wave"]).to_csv(raw, index=False)
    df, report = processing.load_survey(raw)
    assert report.ok and df["year"].tolist() == [2023] * 4 + [2024] * 4
    assert df.attrs["year_source"] == "the survey's year column"


def test_year_from_recorded_dates_is_the_most_common_per_wave(tmp_path: Path,
                                                             survey_factory) -> None:
    survey = _two_waves(survey_factory)
    survey["RecordedDate"] = ["2023-12-20 10:00", "2023-12-21 11:00", "2024-01-10 09:00",
                              "2024-01-11 09:30",  # wave 1: a tie -> the earlier year
                              "2024-11-02", "2024-11-03", "2024-11-05", "2025-01-02"]
    raw = tmp_path / "survey.csv"
    survey.to_csv(raw, index=False)
    df, report = processing.load_survey(raw)
    assert report.ok, str(report)
    assert df["year"].tolist() == [2023] * 4 + [2024] * 4
    assert df.attrs["year_source"] == "RecordedDate: the most common year of each wave"


def test_without_years_there_is_no_year_and_no_coverage_check(raw_csv: Path,
                                                             tmp_path: Path) -> None:
    budgets = _write(tmp_path, "b.csv", BUDGETS_CSV.replace("2024", "2019"))
    result = processing.build_processed(raw_csv, budgets=budgets, out_dir=tmp_path / "p")
    assert "year" not in pd.read_parquet(tmp_path / "p" / "survey.parquet").columns
    assert result.manifest["years"] == {"source": None, "by_wave": {},
                                        "waves_from": "the survey's wave column"}


def test_a_wave_year_without_budgets_is_an_error(tmp_path: Path, survey_factory) -> None:
    raw = tmp_path / "survey.csv"
    _two_waves(survey_factory).to_csv(raw, index=False)
    mapping = _write(tmp_path, "m.yaml", "wave_years: {1: 2023, 2: 2024}\n")
    out = tmp_path / "processed"
    with pytest.raises(DataError) as info:
        processing.build_processed(raw, mapping=mapping, out_dir=out,
                                   budgets=_write(tmp_path, "budgets.csv", BUDGETS_CSV))
    error = info.value
    assert error.rule == "year-mismatch" and len(error.issues) == 1
    assert "wave 1 refers to 2023 but budgets cover 2024\u20132025" in str(error)
    assert "budgets.csv" in str(error) and "survey.csv" in str(error)
    assert "wave_years" in error.hint
    assert not out.exists() or not any(out.iterdir()), "nothing written"


def test_a_wave_year_without_ledger_lines_is_an_error(tmp_path: Path, survey_factory) -> None:
    raw = tmp_path / "survey.csv"
    _two_waves(survey_factory).assign(year=lambda d: 2023 + d["wave"]).to_csv(raw, index=False)
    ledger = _write(tmp_path, "ledger.csv",
                    "firm_id,booking_date,cost_center,vendor,vendor_category,payment_method,"
                    "currency,amount\nF0,2024-03-01,IT,AWS,software,invoice,EUR,100\n")
    fx = _write(tmp_path, "fx.csv", "date,currency,rate_to_eur\n2024-01-01,DKK,0.134\n")
    with pytest.raises(DataError) as info:
        processing.build_processed(raw, ledger=ledger, fx=fx, out_dir=tmp_path / "p")
    assert "wave 2 refers to 2025 but ledger covers 2024" in str(info.value)


def test_selection_records_are_written_and_loaded(raw_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    result = processing.build_processed(raw_csv, out_dir=out)
    assert result.manifest["row_selection"] == {"unfinished": "exclude", "rows_read": 8,
                                                "rows_kept": 8, "unfinished_rows": 0}
    data = processing.load_processed(out)
    assert data.exclusions is not None and data.exclusions.empty
    assert list(data.exclusions.columns) == ["step", "reason", "rule", "n_rows"]
    assert data.dont_know is not None and list(data.dont_know.columns) == ["respondent_id",
                                                                           "item"]
    (out / "exclusions.parquet").unlink()  # data built before row selection: absent, not an error
    assert processing.load_processed(out).exclusions is None


def test_a_survey_without_a_wave_column_is_one_wave(tmp_path: Path, survey_factory) -> None:
    raw = tmp_path / "survey.csv"
    survey_factory(2).drop(columns="wave").to_csv(raw, index=False)
    df, report = processing.load_survey(raw, _write(tmp_path, "m.yaml", "wave_years: {3: 2025}\n"))
    assert report.ok, str(report)
    assert df["wave"].tolist() == [3] * 4 and df["year"].tolist() == [2025] * 4
    assert df.attrs["wave_source"] == "no wave column: one wave (3)"
    df, report = processing.load_survey(raw)
    assert report.ok and df["wave"].tolist() == [1] * 4 and "year" not in df.columns
    with pytest.raises(DataError) as info:
        processing.load_survey(raw, _write(tmp_path, "m2.yaml", "wave_years: {1: 2024, 2: 2025}\n"))
    assert info.value.rule == "wave-column-missing"


def test_numeric_ids_get_the_same_pseudonym_in_survey_and_budgets(tmp_path: Path,
                                                                  survey_factory) -> None:
    """SPSS stores firm 1001 as 1001.0; a budget sheet writes 1001: one firm, one pseudonym."""
    survey = survey_factory(2)
    survey["firm_id"] = survey["firm_id"].map({"F0": 1001.0, "F1": 1002.0})
    survey["respondent_id"] = [17.0, 18.0, 19.0, 20.0]
    raw = tmp_path / "survey.parquet"
    survey.to_parquet(raw)
    budgets = _write(tmp_path, "b.csv", BUDGETS_CSV.replace("F0,", "1001,").replace("F1,",
                                                                                    "1002,"))
    out = tmp_path / "p"
    processing.build_processed(raw, budgets=budgets, out_dir=out)
    firms = set(pd.read_parquet(out / "survey.parquet")["firm_id"])
    assert firms == set(pd.read_parquet(out / "budgets.parquet")["firm_id"])
    expected = privacy.pseudonymise(pd.Series(["17", "18", "19", "20"], dtype="string"), "R")
    assert set(pd.read_parquet(out / "survey.parquet")["respondent_id"]) == set(expected)
