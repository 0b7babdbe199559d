"""The cheap "nothing changed" check that lets `make reports` skip `build-data`'s hashing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import freshness


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    survey = tmp_path / "survey.csv"
    survey.write_text("a,b\n1,2\n")
    folder = tmp_path / "processed"
    folder.mkdir()
    (folder / "survey.parquet").write_bytes(b"x" * 10)
    return survey, folder


def test_unchanged_only_while_nothing_changed(tmp_path: Path, files: tuple[Path, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    survey, folder = files
    cache = tmp_path / "cache"
    given = {"inputs": {"survey": survey}, "sample": False}
    assert not freshness.unchanged("build", given, cache)  # nothing remembered yet
    monkeypatch.setenv("KEY_PATH", "a")
    freshness.remember("build", given, [survey, folder, None], env=["KEY_PATH"], folder=cache)
    assert freshness.unchanged("build", given, cache)
    # other arguments
    assert not freshness.unchanged("build", {**given, "sample": True}, cache)
    # another value of a variable that chose a file
    monkeypatch.setenv("KEY_PATH", "b")
    assert not freshness.unchanged("build", given, cache)
    monkeypatch.setenv("KEY_PATH", "a")
    # an input rewritten with the same size: its time differs
    st = survey.stat()
    survey.write_text("a,b\n3,4\n")
    os.utime(survey, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not freshness.unchanged("build", given, cache)
    os.utime(survey, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert freshness.unchanged("build", given, cache)
    # a file added to, or removed from, a folder it depends on
    (folder / "extra.parquet").write_bytes(b"y")
    assert not freshness.unchanged("build", given, cache)
    (folder / "extra.parquet").unlink()
    assert freshness.unchanged("build", given, cache)
    (folder / "survey.parquet").unlink()
    assert not freshness.unchanged("build", given, cache)
    freshness.forget("build", cache)
    assert not freshness.unchanged("build", given, cache)


def test_build_data_takes_the_shortcut_only_after_a_thorough_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`build-data` twice: the second answer comes from the record; after an input changes,
    the thorough check runs again (and finds the outputs to rebuild)."""
    from helpers import cli, processing, simulate

    raw = tmp_path / "raw"
    simulate.write_sample(raw, firms=30, ledger_rows=2_000, seed=3)
    monkeypatch.setattr(freshness, "CACHE", tmp_path / "cache")
    calls = []
    real = processing.build_processed
    monkeypatch.setattr(processing, "build_processed",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr("helpers.paths.PROCESSED", tmp_path / "processed")
    monkeypatch.setattr("helpers.inputs.inputs_file", lambda: tmp_path / "inputs.json")
    argv = ["build-data", "--survey", str(raw / "survey.parquet")]
    assert cli.main(argv) == 0 and len(calls) == 1
    assert cli.main(argv) == 0 and len(calls) == 1
    assert "no input or output changed" in capsys.readouterr().out
    (raw / "survey.parquet").touch()
    assert cli.main(argv) == 0 and len(calls) == 2
