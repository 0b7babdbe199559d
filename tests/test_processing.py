"""Raw to processed: validated, personal fields dropped, atomic, skipped when unchanged, raw untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from helpers import atomic, processing
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
