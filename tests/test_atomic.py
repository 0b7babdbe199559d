"""Outputs are replaced whole or not at all."""

from __future__ import annotations

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
