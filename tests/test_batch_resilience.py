"""The batch survives a killed worker and a full disk: a clear failure, nothing half-written, and
the next run recovers. (Timeouts and interrupted runs are in test_batch.py.)"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from test_batch import FIXTURES, TINY, data, run, write_batch  # noqa: F401 (fixture)

from helpers import atomic

KILLED = FIXTURES.parent / "resilience" / "killed.ipynb"


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" in p.name]


def test_a_killed_worker_fails_its_report_only(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(KILLED)}, {"notebook": str(TINY)}],
                    data)
    assert run(f, tmp_path) == {"killed/all": "failed", "tiny/all": "fresh"}
    doc = json.loads((tmp_path / "reports/killed/all.json").read_text())
    assert doc["status"] == "failed" and "SIGKILL" in doc["error"]
    page = (tmp_path / "reports/killed/all.html").read_text()
    assert "Report failed" in page
    assert not _leftovers(tmp_path / "reports")
    # the next run renders it again (it failed last time) and keeps the good one
    assert run(f, tmp_path) == {"killed/all": "failed", "tiny/all": "reused"}


def test_a_full_disk_is_a_clear_failure_and_the_next_run_recovers(
        tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY)}], data)
    assert run(f, tmp_path) == {"tiny/all": "fresh"}
    report = tmp_path / "reports/tiny/all.html"
    before = report.read_bytes()

    real = atomic.write_text
    calls = {"n": 0}

    def disk_full(target: str | Path, text: str) -> None:
        calls["n"] += 1
        if Path(target).suffix == ".html" and Path(target).parent.name == "tiny":
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(target, text)

    monkeypatch.setattr(atomic, "write_text", disk_full)  # workers are forked from this process
    statuses = run(f, tmp_path, force=True)
    assert statuses == {"tiny/all": "failed"}
    assert report.read_bytes() == before, "the previous complete report is kept"
    assert not _leftovers(tmp_path / "reports")
    doc = json.loads((tmp_path / "reports/tiny/all.json").read_text())
    assert "No space left on device" in doc["error"]

    monkeypatch.setattr(atomic, "write_text", real)  # space again: the next run recovers
    assert run(f, tmp_path) == {"tiny/all": "fresh"}
    assert json.loads((tmp_path / "reports/tiny/all.json").read_text())["status"] == "ok"
