"""The report batch: plan the jobs in ``reports.yaml``, reuse what is unchanged, render the rest in parallel.

``make reports`` runs :func:`run` (via ``python -m helpers reports``):

1. **Plan.** :func:`load_batch` expands the batch file — notebooks times parameter sets, with a
   ``grid`` that turns ``segment: [all, country, wave]`` into one job per value present in the
   processed data — into :class:`~helpers.reporting.Job` objects.
2. **Fingerprint.** Each job's fingerprint has five parts: the notebook's cells, the parameters,
   the input data (the processed files' hashes in ``manifest.json``, plus the codebook and the
   reference figures), the helpers source (every file under ``src/helpers``, templates included)
   and the locked environment (``requirements/constraints.txt`` and the Python version). A job
   whose results file carries the same fingerprint, with its HTML present and not failed, is
   reused; the plan says which parts changed for the others.
3. **Render.** A driver process imports the heavy modules once (:func:`helpers.executor.preload`)
   and forks one clean worker per report (``-j`` at a time); the worker runs the notebook in-process
   and writes its outputs atomically. A worker past ``--timeout`` is killed and its report marked
   failed; a failing report never stops the others and never replaces its previous good report
   (the error page goes beside it, ``<name>.error.html``). ``--engine kernel`` runs each report in a fresh
   Jupyter kernel instead (slower; the reference the in-process engine is tested against).
4. **Index.** ``reports/index.html`` lists every job with its status (:mod:`helpers.index`).
   Writing it never raises: a problem (a full disk, no permission) is returned with the outcomes
   (:func:`publish_index`), and an index that cannot be written is removed rather than left
   listing reports as they were.

Job names (from ``reports.yaml`` and the data's segment values) become file names only after
sanitising (:func:`safe_names`, :func:`helpers.reporting.file_stem`).

A lock file (``<reports>/.lock``) serialises runs on one reports folder: a second run waits for
the first, then finds its reports up to date. Leftover temporary files of an interrupted run, and
the reports (HTML, results file, executed notebook) of jobs no longer in the plan, are removed
under the lock, so that ``reports/`` and its index agree (:func:`remove_stale_reports`).

A report that stops itself with ``helpers.errors.NotApplicable`` (the survey did not collect what it
needs) gets a short "not applicable" page; it counts as rendered, not failed.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import gc
import glob
import hashlib
import itertools
import json
import logging
import os
import re
import selectors
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

from helpers import paths, reporting
from helpers.errors import DataError
from helpers.reporting import EXECUTED_DIR, Failure, Job, display_path
from helpers.safe_yaml import load_yaml

BATCH_FILE = paths.ROOT / "reports.yaml"
HELPERS_DIR = Path(reporting.__file__).parent
CONSTRAINTS = paths.ROOT / "requirements" / "constraints.txt"
SURVEY_FILE = "survey.parquet"
DEFAULT_TIMEOUT = 900
ENTRY_KEYS = {"notebook", "name", "parameters", "grid"}
FINGERPRINT_PARTS = ("notebook", "parameters", "data", "helpers", "environment")


# --------------------------------------------------------------------------- the batch file
def slug(value: Any) -> str:
    """A value as a file-name part: ``<250`` -> ``lt250``, ``5000+`` -> ``5000plus``."""
    text = str(value)
    for old, new in (("<", "lt"), (">", "gt"), ("+", "plus"), ("&", "and")):
        text = text.replace(old, new)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def segment_name(segment: dict[str, Any]) -> str:
    """``{}`` -> ``all``; ``{"country": "DE", "wave": 2}`` -> ``country-DE__wave-2``."""
    if not segment:
        return "all"
    parts = []
    for column, value in segment.items():
        values = value if isinstance(value, list | tuple) else [value]
        parts.append(f"{column}-{'_'.join(slug(v) for v in values)}")
    return "__".join(parts)


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else paths.ROOT / p


class _GridData:
    """What the grid reads of a processed-data folder: the survey and the firm-year tables."""

    def __init__(self, folder: Path) -> None:
        import pandas as pd

        def read(name: str) -> Any:
            return pd.read_parquet(folder / name) if (folder / name).exists() else None

        self.survey = read(SURVEY_FILE)
        self.budgets, self.spend = read("budgets.parquet"), read("spend_features.parquet")


class _SegmentValues:
    """The published parts of each segment dimension (:func:`helpers.privacy.published_parts`),
    computed once per data folder, minimum cell size and exclusion."""

    def __init__(self, batch_file: Path) -> None:
        self.batch_file = batch_file
        self.cache: dict[tuple[Path, int, tuple[str, ...]], dict[str, Any]] = {}
        self.columns: dict[Path, list[str]] = {}

    def parts(self, params: dict[str, Any]) -> dict[str, Any]:
        from helpers import privacy

        folder = _resolve(params.get("data_dir") or paths.PROCESSED)
        min_cell = int(params.get("min_cell", privacy.DEFAULT_MIN_CELL))
        exclude = params.get("exclude") or ()
        key = (folder, min_cell, tuple([exclude] if isinstance(exclude, str) else exclude))
        if key not in self.cache:
            if not (folder / SURVEY_FILE).exists():
                raise DataError("the grid needs the processed survey to list segments; run "
                                "`make data` first", file=str(folder / SURVEY_FILE),
                                rule="batch-no-data")
            data = _GridData(folder)
            self.cache[key] = privacy.published_parts(data, min_cell, key[2])
            self.columns[folder] = list(data.survey.columns)
        return self.cache[key]

    def __call__(self, params: dict[str, Any], column: str) -> list[tuple[str, dict[str, Any]]]:
        """One (name part, parameter update) per published part of ``column``; none when the
        dimension has no segment grid (every category pooled)."""
        parts = self.parts(params)
        if column not in parts:
            folder = _resolve(params.get("data_dir") or paths.PROCESSED)
            known = column in self.columns.get(folder, [])
            raise DataError(f"grid segment {column!r} is " + (
                "not a segment dimension: a grid runs over the dimensions whose small "
                "categories are pooled and audited together" if known else
                f"not a column of {SURVEY_FILE}"), file=str(self.batch_file), column=column,
                rule="batch-grid", hint="use all, " + ", ".join(parts))
        return [(f"{column}-{slug(p.key)}", {"segment": p.segment})
                for p in parts[column].parts] if parts[column].published else []

    def check(self, params: dict[str, Any], segment: dict[str, Any]) -> None:
        """Refuse an explicit segment that is not a union of published parts (``DataError``)."""
        from helpers import privacy

        parts = self.parts(params)
        view = privacy.segment_view(segment, parts, where=str(self.batch_file))
        if view.kind == "cross":
            data = _GridData(_resolve(params.get("data_dir") or paths.PROCESSED))
            privacy.check_cross_segment(data.survey, segment, parts,
                                        int(params.get("min_cell", privacy.DEFAULT_MIN_CELL)),
                                        {"budgets": data.budgets, "ledger": data.spend},
                                        where=str(self.batch_file))


def _notebooks(pattern: str, explicit: set[Path], batch_file: Path) -> list[Path]:
    """The notebooks an entry names: a path, or a glob minus notebooks listed on their own."""
    if not glob.has_magic(pattern):
        path = _resolve(pattern)
        if not path.exists():
            raise DataError("notebook not found", file=str(batch_file), column=pattern,
                            rule="batch-notebook")
        return [path]
    found = sorted(Path(p) for p in glob.glob(str(_resolve(pattern))))
    return [p for p in found if p not in explicit]


def _grid_axes(grid: dict[str, Any], params: dict[str, Any],
               values_of: _SegmentValues | None) -> list[list[tuple[str, dict[str, Any]]]]:
    """One axis per grid key: (name part, parameter update) options.

    Without ``values_of``, segment columns (which need the data) are left out.
    """
    axes = []
    for key, raw in grid.items():
        options = raw if isinstance(raw, list) else [raw]
        if key != "segment":
            axes.append([(f"{key}-{slug(v)}", {key: v}) for v in options])
            continue
        axis = []
        for option in options:
            if option in ("all", {}, None):
                axis.append(("all", {"segment": {}}))
            elif isinstance(option, dict):
                if values_of is not None:
                    values_of.check(params, option)
                axis.append((segment_name(option), {"segment": option}))
            elif values_of is not None:
                axis += values_of(params, str(option))
        axes.append(axis)
    return axes


def _entry_jobs(entry: dict[str, Any], defaults: dict[str, Any], explicit: set[Path],
                batch_file: Path, values_of: _SegmentValues | None) -> list[Job]:
    """Expand one batch entry into jobs (notebooks x grid combinations)."""
    unknown = set(entry) - ENTRY_KEYS
    if unknown or "notebook" not in entry:
        raise DataError(f"each job needs `notebook` and may have {', '.join(sorted(ENTRY_KEYS))}; "
                        f"got {', '.join(sorted(entry))}", file=str(batch_file),
                        rule="batch-entry")
    params = {**defaults, **(entry.get("parameters") or {})}
    axes = _grid_axes(entry.get("grid") or {}, params, values_of)
    jobs = []
    for notebook in _notebooks(str(entry["notebook"]), explicit, batch_file):
        for combo in itertools.product(*axes):
            job_params, parts = dict(params), [str(entry["name"])] if entry.get("name") else []
            for part, update in combo:
                job_params.update(update)
                parts.append(part)
            name = "__".join(parts) or segment_name(job_params.get("segment") or {})
            jobs.append(Job(notebook=notebook, name=name, parameters=job_params))
    return jobs


def load_batch(path: str | Path | None = None, *, segments: bool = True) -> list[Job]:
    """Read a batch file (default ``reports.yaml``) and expand it into jobs; see its header.

    ``segments=False`` skips the grid's segment columns, which need the processed data (for
    callers that only want the notebooks and fixed parameter sets).
    """
    batch_file = Path(path) if path else BATCH_FILE
    spec = load_yaml(batch_file, rule="batch-yaml", what="batch file") or {}  # alias limit
    defaults = spec.get("defaults") or {}
    entries = spec.get("jobs") or []
    explicit = {_resolve(e["notebook"]) for e in entries
                if isinstance(e, dict) and "notebook" in e and not glob.has_magic(e["notebook"])}
    values_of = _SegmentValues(batch_file) if segments else None
    jobs = [job for entry in entries
            for job in _entry_jobs(entry, defaults, explicit, batch_file, values_of)]
    keys = [job.key for job in jobs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise DataError(f"duplicate report names: {', '.join(dupes)}", file=str(batch_file),
                        rule="batch-duplicate", hint="give the entries different `name`s")
    return safe_names(jobs, batch_file)


def safe_names(jobs: Sequence[Job], batch_file: Path) -> list[Job]:
    """The jobs renamed to safe file names (:func:`helpers.reporting.file_stem`).

    Names come from ``reports.yaml`` and from the data's segment values; as file names they
    must neither leave the output folder nor break a file system. Two names that become the
    same file — equal after sanitising, or differing only by case, which a Windows or macOS
    disk does not tell apart — are a :class:`DataError` naming the batch file.
    """
    renamed = [Job(job.notebook, reporting.file_stem(job.name), job.parameters) for job in jobs]
    seen: dict[str, str] = {}
    for before, job in zip(jobs, renamed, strict=True):
        folded = job.file_key.casefold()
        if folded in seen and seen[folded] != before.key:
            raise DataError(
                f"the report names {seen[folded]!r} and {before.key!r} would be written to the "
                f"same file ({job.file_key}.html) once made safe file names (only letters, "
                "digits, '_', '.' and '-'; case ignored)", file=str(batch_file),
                rule="batch-duplicate", hint="give the entries names that differ in letters or "
                "digits, not only in case or punctuation")
        seen[folded] = before.key
    return renamed


def select(jobs: Sequence[Job], patterns: Sequence[str]) -> list[Job]:
    """Jobs whose ``notebook/name`` matches any pattern (a glob, or else a substring)."""
    if not patterns:
        return list(jobs)
    return [j for j in jobs if any(fnmatch.fnmatchcase(j.key, p) if glob.has_magic(p)
                                   else p in j.key for p in patterns)]


# --------------------------------------------------------------------------- fingerprints
def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def tree_fingerprint(folder: Path) -> str:
    """Hash of every file under a folder (names and contents), caches and hidden files aside."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder)
        if f.is_file() and "__pycache__" not in rel.parts and not rel.name.startswith("."):
            h.update(str(rel).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def notebook_fingerprint(text: str) -> str:
    """Hash of what a notebook runs and shows: cell types, sources and tags (not outputs or ids)."""
    cells = json.loads(text).get("cells", [])
    return _sha(json.dumps([(c.get("cell_type"), "".join(c.get("source", "")),
                             c.get("metadata", {}).get("tags", [])) for c in cells]))


def parameters_fingerprint(parameters: dict[str, Any]) -> str:
    """Hash of the parameters; ``{1: 2023}`` and ``{"1": 2023}`` differ (both run differently)."""
    return _sha(reporting.canonical_json(parameters, ensure_ascii=True))


def data_fingerprint(data_dir: Any) -> str:
    """The processed files' hashes from ``manifest.json``, the codebook and the reference figures."""
    manifest = reporting.data_manifest(data_dir) or {}
    outputs = {name: meta.get("sha256") for name, meta in (manifest.get("outputs") or {}).items()}
    codebook = paths.CODEBOOK.read_bytes() if paths.CODEBOOK.exists() else b""
    reference = tree_fingerprint(paths.REFERENCE) if paths.REFERENCE.exists() else ""
    return _sha(json.dumps(outputs, sort_keys=True) + _sha(codebook) + reference)


def environment_fingerprint() -> str:
    """The locked environment: the pinned constraints and the Python version."""
    pins = CONSTRAINTS.read_bytes() if CONSTRAINTS.exists() else b""
    return _sha(pins + sys.version.encode())


class Fingerprints:
    """Computes job fingerprints, each shared part once per run, and keeps the notebooks' text
    as read for them (the text the workers then run)."""

    def __init__(self) -> None:
        self.helpers = tree_fingerprint(HELPERS_DIR)
        self.environment = environment_fingerprint()
        self._data: dict[str, str] = {}
        self.sources: dict[Path, str] = {}
        self._notebooks: dict[Path, str] = {}

    def __call__(self, job: Job) -> dict[str, str]:
        data_dir = str(job.parameters.get("data_dir") or paths.PROCESSED)
        if data_dir not in self._data:
            self._data[data_dir] = data_fingerprint(data_dir)
        if job.notebook not in self._notebooks:
            self.sources[job.notebook] = job.notebook.read_text(encoding="utf-8")
            self._notebooks[job.notebook] = notebook_fingerprint(self.sources[job.notebook])
        return {"notebook": self._notebooks[job.notebook],
                "parameters": parameters_fingerprint(job.parameters),
                "data": self._data[data_dir], "helpers": self.helpers,
                "environment": self.environment}


# --------------------------------------------------------------------------- plan
@dataclass
class Planned:
    """A job, its fingerprint, its previous results file, why it must run (empty: reuse) and
    the notebook's text the fingerprint was taken of."""

    job: Job
    fingerprint: dict[str, str]
    previous: dict[str, Any] | None
    reasons: list[str]
    source: str | None = None

    @property
    def up_to_date(self) -> bool:
        return not self.reasons


def _reasons(job: Job, fingerprint: dict[str, str], previous: dict[str, Any] | None,
             reports_dir: Path, force: bool) -> list[str]:
    if force:
        return ["forced"]
    if previous is None or not job.html_path(reports_dir).exists():
        return ["failed last time" if reporting.last_failure(previous) else "no report yet"]
    if previous.get("status") != "ok":
        return ["failed last time" if previous.get("status") else "no fingerprint yet"]
    if reporting.last_failure(previous) or job.error_path(reports_dir).exists():
        return ["failed last time"]  # the good report from before was kept
    before = previous.get("fingerprint") or {}
    return [f"{part} changed" for part in FINGERPRINT_PARTS
            if before.get(part) != fingerprint[part]]


def plan(jobs: Sequence[Job], reports_dir: Path = paths.REPORTS,
         force: bool = False) -> list[Planned]:
    """Fingerprint every job and compare with the results file already beside its report."""
    fingerprints = Fingerprints()
    planned = []
    for job in jobs:
        fp, previous = fingerprints(job), reporting.read_results(job, reports_dir)
        planned.append(Planned(job, fp, previous, _reasons(job, fp, previous, reports_dir, force),
                               fingerprints.sources[job.notebook]))
    return planned


def plan_json(planned: Sequence[Planned], reports_dir: Path) -> list[dict[str, Any]]:
    """The plan as ``--dry-run --json`` prints it."""
    return [{"notebook": display_path(p.job.notebook), "name": p.job.name,
             "parameters": p.job.parameters, "html": display_path(p.job.html_path(reports_dir)),
             "json": display_path(p.job.json_path(reports_dir)), "up_to_date": p.up_to_date,
             "reasons": p.reasons, "fingerprint": p.fingerprint} for p in planned]


# --------------------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    """What a run did with one job: fresh (rendered now), reused, failed, or — for jobs outside
    ``--only`` — stale (out of date) or missing (never rendered)."""

    job: Job
    status: str
    seconds: float = 0.0
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    selected: bool = True
    not_applicable: str | None = None  # rendered as a "not applicable: needs …" page

    @property
    def label(self) -> str:
        """The status as the index and the summary show it."""
        return "not applicable" if self.not_applicable and self.status in ("fresh", "reused") \
            else self.status


def _unselected(p: Planned) -> Outcome:
    failure = reporting.last_failure(p.previous)
    if failure:
        status = "failed"
    elif p.previous is None:
        status = "missing"
    else:
        status = "reused" if p.up_to_date else "stale"
    return Outcome(p.job, status, error=(failure or {}).get("error"), reasons=p.reasons,
                   selected=False, not_applicable=(p.previous or {}).get("not_applicable"))


def outcomes_json(outcomes: Sequence[Outcome], reports_dir: Path) -> list[dict[str, Any]]:
    """A run's outcomes as ``--json`` prints them."""
    return [{"notebook": display_path(o.job.notebook), "name": o.job.name,
             "parameters": o.job.parameters, "html": display_path(o.job.html_path(reports_dir)),
             "error_page": display_path(o.job.error_path(reports_dir))
             if o.job.error_path(reports_dir).exists() else None,
             "status": o.status, "seconds": round(o.seconds, 2), "error": o.error,
             "not_applicable": o.not_applicable, "reasons": o.reasons, "selected": o.selected}
            for o in outcomes]


def summary(outcomes: Sequence[Outcome], reports_dir: Path, seconds: float) -> str:
    """The closing lines of a run: counts, time, the index, and one line per failed report."""
    counts = {s: sum(o.label == s for o in outcomes)
              for s in ("fresh", "reused", "not applicable", "failed", "stale", "missing")}
    lines = [f"{len(outcomes)} reports: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
             + f" in {seconds:.1f} s; index: {display_path(reports_dir / 'index.html')}"]
    for o in outcomes:
        if o.status == "failed":
            kept = reporting.kept_report(o.job, reports_dir)
            when = reporting.time_label((kept or {}).get("rendered_at"))
            note = f"; the previous good report from {when} is kept" if kept else ""
            page = o.job.error_path(reports_dir)
            see = f"see {display_path(page)}" if page.exists() else "no error page written"
            lines.append(f"FAILED {o.job.key}: {_last_line(o.error)}  ({see}{note})")
    return "\n".join(lines)


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
                self.bar.write(f"FAILED {outcome.job.key}: {_last_line(outcome.error)}",
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


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


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

        result = reporting.render(
            planned.job, timeout=int(options.timeout), reports_dir=options.reports_dir,
            executed_dir=options.executed_dir, fingerprint=planned.fingerprint,
            engine="inprocess" if options.engine == "fork" else "kernel",
            on_cell_start=on_cell_start, source=planned.source)
        _send(fd, {"status": result.status, "seconds": result.seconds, "error": result.error,
                   "not_applicable": result.not_applicable})
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
                       not_applicable=result.get("not_applicable"))
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
        reporting.write_failure(job, failure, options.reports_dir, options.executed_dir,
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
        result = reporting.render(p.job, timeout=int(options.timeout),
                                  reports_dir=options.reports_dir,
                                  executed_dir=options.executed_dir, engine="kernel",
                                  fingerprint=p.fingerprint, source=p.source)
        outcomes.append(Outcome(p.job, "fresh" if result.status == "ok" else "failed",
                                result.seconds, result.error, p.reasons,
                                not_applicable=result.not_applicable))
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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_results_file(path: Path) -> bool:
    """Whether ``<stem>/<name>.json`` is a results file this batch wrote for that very report."""
    doc = _read_json(path)
    return (isinstance(doc, dict) and isinstance(doc.get("notebook"), str)
            and reporting.file_stem(Path(doc["notebook"]).stem) == path.parent.name
            and reporting.file_stem(str(doc.get("name"))) == path.stem
            and "status" in doc and "provenance" in doc)


def _is_error_page(path: Path) -> bool:
    """Whether ``<stem>/<name>.error.html`` is an error page this batch wrote."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return reporting.ERROR_PAGE_MARKER in fh.read(4096)
    except OSError:
        return False


def _is_executed_notebook(path: Path) -> bool:
    """Whether ``<stem>/<name>.ipynb`` is a notebook papermill executed from ``<stem>.ipynb``."""
    nb = _read_json(path)
    meta = ((nb or {}).get("metadata") or {}).get("papermill") if isinstance(nb, dict) else None
    return isinstance(meta, dict) and reporting.file_stem(
        Path(str(meta.get("input_path") or "")).stem) == path.parent.name


REPORT_OUTPUTS = (".html", ".json", f"{reporting.ERROR_SUFFIX}.html")
EXECUTED_OUTPUTS = (".ipynb", f"{reporting.ERROR_SUFFIX}.ipynb", ".log")


def _evidence(folder: Path, suffix: str, check: Any) -> dict[str, Path]:
    """``<stem>/<name>`` -> folder for the files ``<folder>/<stem>/<name><suffix>`` that
    ``check`` confirms this batch wrote."""
    found: dict[str, Path] = {}
    for path in sorted(folder.glob(f"*/*{suffix}")) if folder.exists() else []:
        name = path.name[: -len(suffix)]
        if name.startswith(".") or (suffix == ".ipynb" and name.endswith(reporting.ERROR_SUFFIX)):
            continue  # a temporary file, or <name>.error.ipynb (found with its own suffix)
        if path.is_file() and check(path):
            found[f"{path.parent.name}/{name}"] = path.parent
    return found


def stale_reports(jobs: Sequence[Job], reports_dir: Path, executed_dir: Path
                  ) -> dict[str, list[Path]]:
    """``<stem>/<name>`` -> the files the batch wrote for each report no longer in ``jobs``.

    A report counts as written by the batch when one of its files says so: its results file
    (``<stem>/<name>.json`` naming that very report), its error page (``<name>.error.html``,
    marked) or an executed notebook papermill ran from ``<stem>.ipynb`` (``<name>.ipynb`` or
    ``<name>.error.ipynb``). Then every output of that report is listed: in the reports folder
    the page, the results file and the error page (when the reports folder holds the evidence);
    in the executed folder the executed notebooks and the worker's log. Any other file is never
    listed, nor a report of a job in ``jobs`` (names compared as file names, case ignored).
    """
    keys = {job.file_key.casefold() for job in jobs}
    in_reports = _evidence(reports_dir, ".json", _is_results_file) | _evidence(
        reports_dir, f"{reporting.ERROR_SUFFIX}.html", _is_error_page)
    in_executed = _evidence(executed_dir, ".ipynb", _is_executed_notebook) | _evidence(
        executed_dir, f"{reporting.ERROR_SUFFIX}.ipynb", _is_executed_notebook)
    stale: dict[str, list[Path]] = {}
    for key in sorted(set(in_reports) | set(in_executed)):
        if key.casefold() in keys:
            continue
        folder, name = key.split("/", 1)
        candidates = [reports_dir / folder / f"{name}{s}" for s in REPORT_OUTPUTS] \
            if key in in_reports else []
        candidates += [executed_dir / folder / f"{name}{s}" for s in EXECUTED_OUTPUTS]
        files = [f for f in candidates if f.is_file()]
        if files:
            stale[key] = files
    return stale


def stale_outputs(jobs: Sequence[Job], reports_dir: Path, executed_dir: Path) -> list[Path]:
    """The files the batch wrote for reports no longer in ``jobs`` (what a run will remove);
    see :func:`stale_reports`."""
    return [f for files in stale_reports(jobs, reports_dir, executed_dir).values() for f in files]


def remove_stale_reports(jobs: Sequence[Job], reports_dir: Path, executed_dir: Path
                         ) -> list[Path]:
    """Remove the outputs of reports no longer in the batch (:func:`stale_outputs`); call under
    the lock. Returns the files removed; folders left empty are removed too.

    A job disappears from the plan when the data no longer has its segment (a synthetic country
    the user's survey lacks, a segment a withdrawn respondent emptied) or the batch file
    changed. Its report would otherwise stay in ``reports/`` and ``build/`` — the folders a
    researcher zips and sends — without being in the index.
    """
    removed = []
    for f in stale_outputs(jobs, reports_dir, executed_dir):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
            removed.append(f)
    for folder in {f.parent for f in removed}:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
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
        from helpers import executor

        executor.preload(sorted({p.job.notebook for p in todo}))
    else:
        reporting.warm_up()


def longest_first(todo: Sequence[Planned]) -> list[Planned]:
    """Order jobs by their last duration, longest first, so that no long report starts last.

    Jobs never rendered get the mean duration of their notebook's other reports (else 0).
    """
    known: dict[str, list[float]] = {}
    for p in todo:
        if (p.previous or {}).get("seconds") is not None:
            known.setdefault(p.job.stem, []).append(float(p.previous["seconds"]))

    def expected(p: Planned) -> float:
        if (p.previous or {}).get("seconds") is not None:
            return float(p.previous["seconds"])
        same = known.get(p.job.stem)
        return sum(same) / len(same) if same else 0.0

    return sorted(todo, key=expected, reverse=True)


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

    A full disk gets a second try without the forest plots (a smaller page, which says so).
    When no index can be written, the old one is removed — it would still list the reports as
    they were before this run — and the sentence says whether that worked.
    """
    from helpers import index as index_page

    target = options.reports_dir / "index.html"
    try:
        index_page.write_index(outcomes, options.reports_dir, options.executed_dir,
                               options.workers)
        return None
    except OSError as exc:
        problem = describe_os_error(exc)
        if exc.errno in _DISK_FULL:
            with contextlib.suppress(OSError):
                index_page.write_index(outcomes, options.reports_dir, options.executed_dir,
                                       options.workers, plots=False)
                return f"{problem} (the index was written without its forest plots)"
    except Exception as exc:  # noqa: BLE001 -- a bug in the index must not lose the run
        problem = f"could not build {display_path(target)}: {type(exc).__name__}: {exc}"
    try:
        target.unlink(missing_ok=True)
        kept = f"; the old {target.name} was removed so that it lists no report as it was"
    except OSError as exc:
        kept = (f"; the old {target.name} could not be removed either ({exc.strerror}) and is "
                "out of date")
    return problem + kept


def check_outputs(jobs: Sequence[Job], options: Options) -> None:
    """Check, before anything is rendered, that every output path of every job lies inside its
    folder (:func:`helpers.reporting.inside`: a ``DataError`` naming the path otherwise, e.g.
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
        outcomes = Outcomes(
            rendered.get(p.job.key) or
            (Outcome(p.job, "reused", not_applicable=(p.previous or {}).get("not_applicable"))
             if p.job.key in chosen else _unselected(p))
            for p in planned)
        if index:
            problem = publish_index(outcomes, options)
            if problem:
                outcomes.problems.append(problem)
    return outcomes
