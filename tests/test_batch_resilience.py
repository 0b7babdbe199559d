"""The batch survives a killed worker, a full disk and a folder it may not write: a clear
failure, nothing half-written, the previous good report kept, an index that never lies, and the
next run recovers. (Timeouts and interrupted runs are in test_batch.py.)

A full disk is simulated where it surfaces on a real one: when a temporary file written by
:mod:`helpers.atomic` is synced (``_sync``), files above a size fail with ``ENOSPC`` — a nearly
full disk takes a small error page but not a 400 KB report. Workers are forked from the test
process, so they inherit the simulation.
"""

from __future__ import annotations

import errno
import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import test_batch
from test_batch import FAILS, FIXTURES, TINY, options, run, write_batch

from helpers import atomic, cli
from helpers.batch import plan as batch_plan, run as batch_run

data = test_batch.data  # shared fixtures: the tiny processed data, frozen sources
frozen_sources = test_batch.frozen_sources

KILLED = FIXTURES.parent / "resilience" / "killed.ipynb"


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" in p.name]


def disk_full(monkeypatch: pytest.MonkeyPatch, fails: Callable[[Path, int], bool]) -> None:
    """From now on, syncing an atomic write's temporary file raises ENOSPC when
    ``fails(target, size)`` (the target the temporary file is for, its size in bytes)."""
    real = atomic._sync

    def sync(tmp: Path) -> None:
        target = tmp.with_name(tmp.name[1:].rsplit(".", 2)[0])  # .<name>.XXXXXXXX.tmp
        if fails(target, tmp.stat().st_size):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
        real(tmp)

    monkeypatch.setattr(atomic, "_sync", sync)


def test_a_killed_worker_fails_its_report_only(tmp_path: Path, data: Path) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(KILLED)}, {"notebook": str(TINY)}],
                    data)
    assert run(f, tmp_path) == {"killed/all": "failed", "tiny/all": "fresh"}
    doc = json.loads((tmp_path / "reports/killed/all.json").read_text())
    assert doc["status"] == "failed" and "SIGKILL" in doc["error"]
    page = (tmp_path / "reports/killed/all.error.html").read_text()
    assert "Report failed" in page
    assert not (tmp_path / "reports/killed/all.html").exists()
    assert not _leftovers(tmp_path / "reports")
    # the next run renders it again (it failed last time) and keeps the good one
    assert run(f, tmp_path) == {"killed/all": "failed", "tiny/all": "reused"}


def test_a_nearly_full_disk_keeps_the_good_report_and_the_next_run_recovers(
        tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY)}], data)
    assert run(f, tmp_path) == {"tiny/all": "fresh"}
    report, results = tmp_path / "reports/tiny/all.html", tmp_path / "reports/tiny/all.json"
    before = report.read_bytes(), results.read_bytes()
    assert len(before[0]) > 30_000
    disk_full(monkeypatch, lambda target, size: size > 30_000)  # room for small files only

    outcomes = batch_run.run(batch_plan.load_batch(f), options(tmp_path), force=True,
                         progress_stream=io.StringIO())
    assert [o.status for o in outcomes] == ["failed"]
    assert report.read_bytes() == before[0], "the good report is never replaced"
    assert not _leftovers(tmp_path)
    doc = json.loads(results.read_text())
    assert doc["status"] == "ok" and doc["results"] == json.loads(before[1])["results"]
    assert doc["failure"]["error"] == ("The report could not be saved: No space left on "
                                       "device: …/reports/tiny/all.html")
    page = (tmp_path / "reports/tiny/all.error.html").read_text()
    assert "The previous good report, rendered" in page and 'href="all.html"' in page
    index = (tmp_path / "reports/index.html").read_text()
    row = re.search(r'<tr class="job st-failed[^"]*">.*?</tr>', index).group(0)
    assert 'href="tiny/all.html"' in row and 'href="tiny/all.error.html"' in row
    assert "previous good report from" in row and "kept" in row
    assert batch_plan.summary(outcomes, tmp_path / "reports", 1.0).count("previous good report") == 1

    monkeypatch.undo()
    assert run(f, tmp_path) == {"tiny/all": "fresh"}  # space again: it failed last time
    doc = json.loads(results.read_text())
    assert doc["status"] == "ok" and "failure" not in doc
    assert not (tmp_path / "reports/tiny/all.error.html").exists()
    assert not (tmp_path / "executed/tiny/all.error.ipynb").exists()
    assert not re.search(r'<tr class="job st-failed', (tmp_path / "reports/index.html").read_text())


def test_a_disk_full_for_the_whole_report_pair_changes_neither(
        tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page fits but the results file does not: neither is replaced (one change)."""
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY), "parameters": {"shift": 1.0}}],
                    data)
    assert run(f, tmp_path) == {"tiny/all": "fresh"}
    report, results = tmp_path / "reports/tiny/all.html", tmp_path / "reports/tiny/all.json"
    before = report.read_bytes(), results.read_bytes()
    write_batch(f, [{"notebook": str(TINY), "parameters": {"shift": 2.0}}], data)
    failing = {"n": 0}

    def json_fails_once(target: Path, size: int) -> bool:
        if target == results and failing["n"] == 0:
            failing["n"] += 1
            return True
        return False

    disk_full(monkeypatch, json_fails_once)
    assert run(f, tmp_path, workers=1) == {"tiny/all": "failed"}
    assert report.read_bytes() == before[0]
    doc = json.loads(results.read_text())
    assert doc["parameters"]["shift"] == 1.0 and "No space left" in doc["failure"]["error"]
    assert not _leftovers(tmp_path)


@pytest.fixture(scope="module")
def rendered_once(tmp_path_factory: pytest.TempPathFactory, data: Path,
                  frozen_sources: Path) -> Path:
    root = tmp_path_factory.mktemp("rendered")
    f = write_batch(root / "b.yaml", [{"notebook": str(TINY)}, {"notebook": str(FAILS),
                                      "parameters": {"segment": {"wave": 2}}}], data)
    assert run(f, root) == {"tiny/all": "fresh", "fails/wave-2": "failed"}
    return root


@pytest.fixture
def rendered(tmp_path: Path, rendered_once: Path) -> Path:
    """A batch rendered once (one good report, one failed) copied into ``tmp_path``; returns
    its batch file. Runs on it render nothing (``--only`` matches no job), they write the index."""
    shutil.copytree(rendered_once, tmp_path, dirs_exist_ok=True)
    return tmp_path / "b.yaml"


NOTHING = ["no such report"]


def _cli(f: Path, root: Path, *only: str) -> list[str]:
    return ["reports", "--batch", str(f), "--reports-dir", str(root / "reports"),
            "--executed-dir", str(root / "executed"), "-j", "1",
            *(arg for pattern in only for arg in ("--only", pattern))]


def test_an_index_that_cannot_be_written_is_one_clear_message_and_no_stale_index(
        tmp_path: Path, rendered: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "reports/index.html"
    assert index.exists()
    disk_full(monkeypatch, lambda target, size: target.name == "index.html")
    code = cli.main(_cli(rendered, tmp_path, *NOTHING))
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "could not write" in errors[0] and "index.html" in errors[0]
    assert "disk is full" in errors[0] and "old index.html was removed" in errors[0]
    assert not index.exists(), "an old index would still list the reports as they were"
    assert not _leftovers(tmp_path)


def test_a_full_disk_drops_the_tables_across_segments_before_the_index(
        tmp_path: Path, rendered: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "reports/index.html"
    assert 'class="heat"' in index.read_text()  # the key estimates across segments
    sizes: list[int] = []

    def the_full_index_does_not_fit(target: Path, n: int) -> bool:
        if target.name != "index.html":
            return False
        sizes.append(n)
        return len(sizes) == 1

    disk_full(monkeypatch, the_full_index_does_not_fit)
    outcomes = batch_run.run(batch_plan.load_batch(rendered), options(tmp_path), only=NOTHING,
                         progress_stream=io.StringIO())
    assert len(outcomes.problems) == 1 and "without its tables of key estimates" in outcomes.problems[0]
    assert len(sizes) == 2 and sizes[1] < sizes[0]  # the second try is the smaller page
    text = index.read_text()
    assert 'class="heat"' not in text
    assert "tables of key estimates across segments were left out" in text
    assert re.search(r'<tr class="job st-failed[^"]*"><td><a href="fails/wave-2.error.html">',
                     text)


def test_an_index_neither_written_nor_removed_is_said_to_be_out_of_date(
        tmp_path: Path, rendered: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "reports/index.html"
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == index:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    def denied(target: Path, size: int) -> bool:
        if target == index:
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return False

    disk_full(monkeypatch, denied)
    monkeypatch.setattr(Path, "unlink", unlink)
    outcomes = batch_run.run(batch_plan.load_batch(rendered), options(tmp_path), only=NOTHING,
                         progress_stream=io.StringIO())
    [problem] = outcomes.problems
    assert "permission denied" in problem and "could not be removed either" in problem
    assert "out of date" in problem


def test_a_read_only_reports_folder_is_one_clear_message(
        tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    f = write_batch(tmp_path / "b.yaml", [{"notebook": str(TINY)}], data)
    real_open = batch_run.os.open

    def read_only(path: object, *args: object, **kw: object) -> int:
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(batch_run.os, "open", read_only)
    code = cli.main(_cli(f, tmp_path))
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert err.strip().count("\n") == 0, err
    assert err.startswith("error: could not write") and "read-only file system" in err
