"""Outputs are replaced whole or not at all."""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd
import pytest

from helpers import atomic


def test_success_replaces_target(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    atomic.write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_leaves_target_untouched_and_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_open(target) as fh:
        fh.write("half of the new cont")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_interrupt_before_first_write_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.parquet"
    with pytest.raises(KeyboardInterrupt), atomic.atomic_path(target):
        raise KeyboardInterrupt
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []


def test_parquet_roundtrip(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "ø"]})
    atomic.write_parquet(df, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df, check_dtype=False)


def test_several_files_change_together_or_not_at_all(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    page, results = tmp_path / "r" / "a.html", tmp_path / "r" / "a.json"
    atomic.write_texts({page: "old page", results: "old results"})
    real = atomic._sync

    def full(tmp: Path) -> None:  # the disk fills up while the second file is synced
        if ".a.json." in tmp.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
        real(tmp)

    monkeypatch.setattr(atomic, "_sync", full)
    with pytest.raises(OSError, match="No space left"):
        atomic.write_texts({page: "new page", results: "new results"})
    assert (page.read_text(), results.read_text()) == ("old page", "old results")
    assert sorted(p.name for p in page.parent.iterdir()) == ["a.html", "a.json"]
    monkeypatch.undo()
    atomic.write_texts({page: "new page", results: "new results"})
    assert (page.read_text(), results.read_text()) == ("new page", "new results")
