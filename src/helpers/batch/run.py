"""Run a planned batch: render what is out of date in parallel workers, then write the index.

A driver process imports the heavy modules once (:func:`helpers.batch.engine.preload`) and forks
one clean worker per report (``-j`` at a time); the worker renders its job
(:func:`helpers.batch.render.render`) and writes its outputs atomically. A worker past
``--timeout`` is killed and its report marked failed; a failing report never stops the others and
never replaces its previous good report. ``--engine kernel`` runs each report in a fresh Jupyter
kernel instead. A lock file (``<reports>/.lock``) serialises runs on one reports folder
(:func:`exclusive`); leftover temporary files and the outputs of jobs no longer in the plan are
removed under the lock. :func:`publish_index` writes ``reports/index.html``
(:mod:`helpers.batch.index`) and never raises.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import glob
import json
import logging
import os
import selectors
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from helpers import paths
from helpers.batch.jobs import EXECUTED_DIR, Failure, Job, display_path
from helpers.batch import plan as batch_plan
from helpers.batch.plan import (
    Outcome,
    Planned,
    last_line,
    longest_first,
    plan,
    remove_stale_reports,
    select,
    stale_reports,
    unselected,
)
from helpers.batch.render import render, warm_up, write_failure
from helpers.errors import DataError

DEFAULT_TIMEOUT = 900


# --------------------------------------------------------------------------- progress
class Progress:
    """done/total, failures and elapsed time: one updating line on a terminal, else plain lines."""

    def __init__(self, total: int, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total, self.done, self.failed = total, 0, 0
        self.start = time.monotonic()
        self.bar = None
        if self.tty and total:
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: the driver forks workers
            self.bar = tqdm(total=total, file=self.stream, unit="report", dynamic_ncols=True,
                            desc="reports", postfix="0 failed",
                            bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}]{postfix}")

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.start)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def finished(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += outcome.status == "failed"
        line = (f"[{self.done:>{len(str(self.total))}}/{self.total}] {outcome.label:6s} "
                f"{outcome.seconds:6.1f}s  {outcome.job.key}")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
            self.bar.update(1)
            if outcome.status == "failed":
                self.bar.write(f"FAILED {outcome.job.key}: {last_line(outcome.error)}",
                               file=self.stream)
        else:
            print(f"{line}  ({self.failed} failed, {self.elapsed()} elapsed)", file=self.stream,
                  flush=True)

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- workers
@dataclass
class Options:
    """How to render: where to, with which engine, how long each report may take."""

    reports_dir: Path = paths.REPORTS
    executed_dir: Path = EXECUTED_DIR
    engine: str = "fork"
    timeout: float = DEFAULT_TIMEOUT
    workers: int = 1


@dataclass
class _Worker:
    """A forked child rendering one report, as the driver sees it."""

    planned: Planned
    pid: int
    fd: int
    started: float
    buffer: bytes = b""
    cell: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    timed_out: bool = False


def _send(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this worker when the driver dies (no orphaned workers)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _worker_main(planned: Planned, fd: int, options: Options, parent: int) -> NoReturn:
    """In the forked child: render one report, report back over the pipe, exit."""
    code = 70
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops its workers itself
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent(parent)
        log = _log_path(planned.job, options)
        log.parent.mkdir(parents=True, exist_ok=True)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)  # library and kernel output that bypasses the notebook's capture
        os.dup2(out, 2)
        logging.getLogger("papermill").setLevel(logging.ERROR)  # parameter-parsing chatter

        def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
            _send(fd, {"cell": cell_index, "source": cell.source})

        result = render(
            planned.job, timeout=int(options.timeout), reports_dir=options.reports_dir,
            executed_dir=options.executed_dir, fingerprint=planned.fingerprint,
            engine="inprocess" if options.engine == "fork" else "kernel",
            on_cell_start=on_cell_start, source=planned.source)
        _send(fd, {"status": result.status, "seconds": result.seconds, "error": result.error,
                   "not_applicable": result.not_applicable, "phases": result.phases})
        code = 0
    except BaseException:  # noqa: BLE001 -- reported to the driver, which writes the error page
        with contextlib.suppress(Exception):
            _send(fd, {"crash": traceback.format_exc()})
    finally:
        os._exit(code)


def _log_path(job: Job, options: Options) -> Path:
    return job.log_path(options.executed_dir)


def _fork(planned: Planned, options: Options) -> _Worker:
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _worker_main(planned, write_fd, options, parent)
    os.close(write_fd)
    return _Worker(planned, pid, read_fd, time.monotonic())


def _receive(worker: _Worker, chunk: bytes) -> None:
    """Take the worker's messages: the cell it started, then its result."""
    worker.buffer += chunk
    *lines, worker.buffer = worker.buffer.split(b"\n")
    for line in lines:
        message = json.loads(line)
        if "cell" in message:
            worker.cell = message
        else:
            worker.result = message


def _exit_description(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"was killed by signal {sig} ({signal.Signals(sig).name})"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _finish(worker: _Worker, status: int, options: Options) -> Outcome:
    """Turn a finished worker into an outcome, writing the error page when the worker could not."""
    job, seconds = worker.planned.job, time.monotonic() - worker.started
    result = worker.result or {}
    _clean_log(job, options)
    if "status" in result:
        return Outcome(job, "fresh" if result["status"] == "ok" else "failed",
                       result.get("seconds", seconds), result.get("error"), worker.planned.reasons,
                       not_applicable=result.get("not_applicable"),
                       phases={**(result.get("phases") or {}), "worker": seconds})
    _remove_partial(job, options)
    cell = worker.cell or {}
    where = f" while running cell {cell['cell'] + 1} of the executed notebook" if cell else ""
    if worker.timed_out:
        message = (f"Timed out: the report ran longer than {options.timeout:g} s{where} and was "
                   "stopped (raise the limit with --timeout).")
    elif "crash" in result:
        message = f"The report worker failed{where}:\n{result['crash']}"
    else:
        message = f"The report worker {_exit_description(status)}{where}."
    failure = Failure(message, cell.get("cell"), None, cell.get("source"))
    try:
        write_failure(job, failure, options.reports_dir, options.executed_dir,
                                seconds=seconds, fingerprint=worker.planned.fingerprint,
                                engine=options.engine)
    except (OSError, DataError) as exc:  # the run goes on; the summary names the failure
        message += f"\n(its error page could not be written: {exc})"
    return Outcome(job, "failed", seconds, message, worker.planned.reasons)


def _clean_log(job: Job, options: Options) -> None:
    """Keep a worker's log only when something was written to it."""
    log = _log_path(job, options)
    with contextlib.suppress(OSError):
        if log.stat().st_size == 0:
            log.unlink()


def partial_files(job: Job, reports_dir: Path, executed_dir: Path) -> list[Path]:
    """The temporary files a killed render of ``job`` may have left: those of its page, results
    file and error page (``.<file>.XXXXXXXX.tmp``, :mod:`helpers.atomic`), its attempt notebook
    and papermill's temporary copy of it — and no other job's (``wave-1`` is not ``wave-1.5``)."""
    found = []
    for target in (job.html_path(reports_dir), job.json_path(reports_dir),
                   job.error_path(reports_dir)):
        found += target.parent.glob(f".{glob.escape(target.name)}.{'?' * 8}.tmp")
    attempt = job.attempt_path(executed_dir)
    found += [attempt] if attempt.exists() else []
    found += attempt.parent.glob(f".{glob.escape(attempt.stem)}.*.tmp.ipynb")
    return [f for f in found if f.is_file()]


def _remove_partial(job: Job, options: Options) -> None:
    """Delete the temporary files a killed worker may have left beside its outputs."""
    for tmp in partial_files(job, options.reports_dir, options.executed_dir):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _stop(workers: dict[int, _Worker], options: Options) -> None:
    """Kill every running worker (on interruption) and remove their partial files."""
    for worker in workers.values():
        with contextlib.suppress(OSError):
            os.kill(worker.pid, signal.SIGKILL)
    for worker in workers.values():
        with contextlib.suppress(OSError):
            os.waitpid(worker.pid, 0)
            os.close(worker.fd)
        _remove_partial(worker.planned.job, options)


def run_forked(todo: Sequence[Planned], options: Options, progress: Progress) -> list[Outcome]:
    """Render jobs in forked workers, at most ``options.workers`` at once, killing overdue ones."""
    pending, running, outcomes = deque(todo), {}, []
    selector = selectors.DefaultSelector()
    try:
        while pending or running:
            while pending and len(running) < options.workers:
                worker = _fork(pending.popleft(), options)
                running[worker.fd] = worker
                selector.register(worker.fd, selectors.EVENT_READ)
            for key, _ in selector.select(timeout=0.2):
                worker = running[key.fd]
                chunk = os.read(key.fd, 65536)
                if chunk:
                    _receive(worker, chunk)
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                del running[key.fd]
                _, status = os.waitpid(worker.pid, 0)
                outcomes.append(_finish(worker, status, options))
                progress.finished(outcomes[-1])
            _kill_overdue(running.values(), options.timeout)
            progress.tick()
    except BaseException:
        _stop(running, options)
        raise
    finally:
        selector.close()
    return outcomes


def _kill_overdue(workers: Any, timeout: float) -> None:
    now = time.monotonic()
    for worker in workers:
        if not worker.timed_out and now - worker.started > timeout:
            worker.timed_out = True
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)


def run_inline(todo: Sequence[Planned], options: Options, progress: Progress) -> list[Outcome]:
    """Where ``os.fork`` does not exist: one fresh kernel per report, in turn (per-cell timeout)."""
    outcomes = []
    for p in todo:
        result = render(p.job, timeout=int(options.timeout),
                                  reports_dir=options.reports_dir,
                                  executed_dir=options.executed_dir, engine="kernel",
                                  fingerprint=p.fingerprint, source=p.source)
        outcomes.append(Outcome(p.job, "fresh" if result.status == "ok" else "failed",
                                result.seconds, result.error, p.reasons,
                                not_applicable=result.not_applicable,
                                phases={**result.phases, "worker": result.seconds}))
        progress.finished(outcomes[-1])
    return outcomes


# --------------------------------------------------------------------------- locking
@contextlib.contextmanager
def exclusive(reports_dir: Path, stream: TextIO | None = None) -> Iterator[None]:
    """Hold ``<reports_dir>/.lock`` for a run; a second run waits here (and says so)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    reports_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(reports_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            print(f"another report run (pid {holder}) is writing {reports_dir}; waiting for it "
                  "to finish", file=stream or sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def remove_stale_temporaries(*folders: Path) -> int:
    """Remove temporary files (``.name.*tmp*``) left by an interrupted run; call under the lock."""
    removed = 0
    for folder in folders:
        for tmp in folder.rglob(".*tmp*") if folder.exists() else ():
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


# --------------------------------------------------------------------------- the run
def default_engine() -> str:
    return "fork" if hasattr(os, "fork") else "kernel"


def default_workers() -> int:
    with contextlib.suppress(AttributeError):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_native_threads(workers: int) -> None:
    """Share the cores among the workers: BLAS/OpenMP threads per worker = cores // workers.

    Two workers that each spin up a BLAS thread per core oversubscribe the machine (about a third
    slower on 2 cores). Takes effect in libraries loaded afterwards, so the command line calls it
    before anything imports numpy; variables the user set are left alone.
    """
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(max(1, default_workers() // max(1, workers))))


def _prepare(todo: Sequence[Planned], options: Options) -> None:
    """Before forking: import what the workers need (fork engine) or at least warm the exporter."""
    if not todo:
        return
    if options.engine == "fork":
        from helpers.batch import engine as batch_engine

        batch_engine.preload(sorted({p.job.notebook for p in todo}))
    warm_up()


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class Outcomes(list):
    """A run's outcomes, one per job, and the problems that kept the run from finishing its
    outputs (the index could not be written): each one sentence for the user."""

    def __init__(self, outcomes: Sequence[Outcome] = (), problems: Sequence[str] = ()) -> None:
        super().__init__(outcomes)
        self.problems = list(problems)


def describe_os_error(exc: OSError, doing: str = "write") -> str:
    """An operating-system error as one sentence with what to do: a full disk, a permission
    problem, a read-only file system."""
    where = display_path(Path(exc.filename)) if exc.filename else "a file"
    hints = {errno.ENOSPC: "the disk is full: free some space and run again",
             errno.EDQUOT: "the disk quota is used up: free some space and run again",
             errno.EACCES: "permission denied: check who may write there",
             errno.EPERM: "permission denied: check who may write there",
             errno.EROFS: "the folder is on a read-only file system: choose another with "
                          "--reports-dir"}
    why = hints.get(exc.errno or 0, exc.strerror or str(exc))
    return f"could not {doing} {where}: {why}"


def publish_index(outcomes: Sequence[Outcome], options: Options) -> str | None:
    """Write ``index.html``; never raises. Returns None when written, else what went wrong in
    one sentence.

    A full disk gets a second try without the tables of key estimates across segments (a
    smaller page, which says so).
    When no index can be written, the old one is removed — it would still list the reports as
    they were before this run — and the sentence says whether that worked.
    """
    target = options.reports_dir / "index.html"
    try:
        state = index_state(outcomes, options.reports_dir)
        if state is not None and batch_plan.index_has_state(options.reports_dir, state):
            return None  # nothing it shows has changed: the page stays as it was written
        from helpers.batch import index as batch_index  # its modules load only to write it

        batch_index.write_index(outcomes, options.reports_dir, state=state)
        return None
    except OSError as exc:
        problem = describe_os_error(exc)
        if exc.errno in _DISK_FULL:
            with contextlib.suppress(OSError):
                from helpers.batch import index as batch_index

                batch_index.write_index(outcomes, options.reports_dir, tables=False)
                return (f"{problem} (the index was written without its tables of key estimates "
                        "across segments)")
    except Exception as exc:  # noqa: BLE001 -- a bug in the index must not lose the run
        problem = f"could not build {display_path(target)}: {type(exc).__name__}: {exc}"
    try:
        target.unlink(missing_ok=True)
        kept = f"; the old {target.name} was removed so that it lists no report as it was"
    except OSError as exc:
        kept = (f"; the old {target.name} could not be removed either ({exc.strerror}) and is "
                "out of date")
    return problem + kept


TIMINGS_FILE = "timings.json"


def record_timings(outcomes: Sequence[Outcome], options: Options) -> None:
    """Write where the time of the reports rendered in this run went, per report and step
    (``<executed_dir>/timings.json``; ``benchmarks/bench_reports.py`` reads it). Best effort: a
    run never fails for want of it."""
    from helpers import atomic

    rows = [{"report": o.job.key, "status": o.status, "seconds": o.seconds, **o.phases}
            for o in outcomes]
    with contextlib.suppress(OSError):
        atomic.write_text(options.executed_dir / TIMINGS_FILE, json.dumps(
            {"workers": options.workers, "engine": options.engine, "reports": rows}, indent=1))


#: Outcomes that leave a report as it was: the index shows them alike.
_SAME_REPORT = {"fresh": "ok", "reused": "ok"}


def index_state(outcomes: Sequence[Outcome], reports_dir: Path) -> str | None:
    """What the index shows, in one hash: each report's key, status (fresh and reused count
    alike: a run that rendered nothing leaves the page of the run that rendered them), label
    and the size and time of its results file, page and error page; the sources of the index
    modules and the catalogs. None when a report failed in this run (its error is news)."""
    import hashlib

    if any(o.status == "failed" and o.selected for o in outcomes):
        return None
    h = hashlib.sha256()
    for o in outcomes:
        stats = []
        for path in (o.job.json_path(reports_dir), o.job.html_path(reports_dir),
                     o.job.error_path(reports_dir)):
            try:
                st = path.stat()
                stats.append((st.st_size, st.st_mtime_ns))
            except OSError:
                stats.append(None)
        h.update(json.dumps([o.job.key, _SAME_REPORT.get(o.status, o.status),
                             _SAME_REPORT.get(o.label, o.label), o.not_applicable, stats],
                            default=str).encode())
    deps = batch_plan.Dependencies(batch_plan.HELPERS_DIR)  # read at call time (tests move it)
    for module in sorted(deps.closure({"helpers.batch.index"})):
        source = deps.file(module)
        if source is not None:
            h.update(module.encode() + source.read_bytes())
    for po in sorted((batch_plan.HELPERS_DIR / "locale").rglob("*.po")):
        h.update(str(po.stat().st_mtime_ns).encode())
    return h.hexdigest()[:32]


def check_outputs(jobs: Sequence[Job], options: Options) -> None:
    """Check, before anything is rendered, that every output path of every job lies inside its
    folder (:func:`helpers.inside`: a ``DataError`` naming the path otherwise, e.g.
    when a notebook's folder is a link to elsewhere)."""
    for job in jobs:
        for folder, outputs in ((options.reports_dir, (job.html_path, job.json_path,
                                                       job.error_path)),
                                (options.executed_dir, (job.executed_path,
                                                        job.executed_error_path,
                                                        job.attempt_path, job.log_path))):
            for output in outputs:
                output(folder)


def run(jobs: Sequence[Job], options: Options, *, only: Sequence[str] = (), force: bool = False,
        progress_stream: TextIO | None = None, index: bool = True) -> Outcomes:
    """Render what is out of date among the jobs ``only`` selects and write the index.

    Returns one outcome per job in ``jobs`` (jobs outside ``only`` are reported as they stand)
    and, in ``problems``, why the index could not be written (writing it never raises). A
    folder that cannot be written at all (the lock, removing stale reports) raises ``OSError``;
    every output path is checked first (:func:`plan`, a ``DataError`` if one lies outside).
    """
    stream = progress_stream or sys.stderr
    with exclusive(options.reports_dir, stream):
        remove_stale_temporaries(options.reports_dir, options.executed_dir)
        stale = stale_reports(jobs, options.reports_dir, options.executed_dir)
        remove_stale_reports(jobs, options.reports_dir, options.executed_dir)
        gone = sorted(stale)
        if gone:
            print(f"removed {len(gone)} report(s) no longer in the batch: "
                  + ", ".join(gone[:8]) + (f" and {len(gone) - 8} more" if len(gone) > 8 else ""),
                  file=stream, flush=True)
        chosen = {job.key for job in select(jobs, only)}
        check_outputs(jobs, options)
        planned = plan(jobs, options.reports_dir)
        for p in planned:
            if force and p.job.key in chosen:
                p.reasons = p.reasons or ["forced"]
        todo = longest_first([p for p in planned if p.job.key in chosen and not p.up_to_date])
        workers = f" with {min(options.workers, len(todo))} {options.engine} worker(s)"
        print(f"{len(planned)} reports planned, {len(chosen)} selected: "
              f"{len(chosen) - len(todo)} up to date, {len(todo)} to render"
              f"{workers if todo else ''}", file=stream, flush=True)
        _prepare(todo, options)
        progress = Progress(len(todo), stream)
        try:
            runner = run_forked if hasattr(os, "fork") else run_inline
            rendered = {o.job.key: o for o in runner(todo, options, progress)}
        finally:
            progress.close()
            gc.unfreeze()  # preload froze the heap for the workers' sake
        if rendered:
            record_timings(list(rendered.values()), options)
        outcomes = Outcomes(
            rendered.get(p.job.key) or
            (Outcome(p.job, "reused", not_applicable=(p.previous or {}).get("not_applicable"))
             if p.job.key in chosen else unselected(p))
            for p in planned)
        if index:
            problem = publish_index(outcomes, options)
            if problem:
                outcomes.problems.append(problem)
    return outcomes

