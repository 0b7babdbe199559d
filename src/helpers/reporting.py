"""Render notebooks to self-contained HTML reports: execute with papermill, export with nbconvert.

Reports hide the code (inputs and prompts), embed every figure, and are written atomically: an
interrupted run leaves the previous report or none, never a truncated one. A failing notebook gets
an error page naming the failing cell and message and does not stop the other jobs.
"""

from __future__ import annotations

import html
import os
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import yaml

from helpers import atomic, paths, results

EXECUTED_DIR = paths.ROOT / "build" / "executed"
KERNEL_NAME = "disconnect-lab"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Job:
    """One report: a notebook run with one parameter set."""

    notebook: Path
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.notebook.stem

    def html_path(self, reports_dir: Path = paths.REPORTS) -> Path:
        return reports_dir / self.stem / f"{self.name}.html"

    def executed_path(self, executed_dir: Path = EXECUTED_DIR) -> Path:
        return executed_dir / self.stem / f"{self.name}.ipynb"


@dataclass
class JobResult:
    """What happened to one job."""

    job: Job
    status: str  # "ok" or "failed"
    html: Path
    seconds: float
    error: str | None = None


def load_batch(path: str | Path | None = None) -> list[Job]:
    """Read ``reports.yaml``: defaults merged into each job's parameters."""
    p = Path(path) if path else paths.ROOT / "reports.yaml"
    spec = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    defaults = spec.get("defaults") or {}
    jobs = []
    for entry in spec.get("jobs") or []:
        nb = Path(entry["notebook"])
        nb = nb if nb.is_absolute() else paths.ROOT / nb
        params = {**defaults, **(entry.get("parameters") or {})}
        jobs.append(Job(notebook=nb, name=str(entry.get("name", "all")), parameters=params))
    names = [(j.stem, j.name) for j in jobs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"{p}: duplicate report names {sorted(dupes)}")
    return jobs


def _kernel_name() -> str:
    """The project kernel when registered (``make setup``), else the running Python's kernel."""
    from jupyter_client.kernelspec import find_kernel_specs

    return KERNEL_NAME if KERNEL_NAME in find_kernel_specs() else "python3"


def execute(job: Job, timeout: int = 600, kernel_name: str | None = None,
            executed_dir: Path = EXECUTED_DIR) -> nbformat.NotebookNode:
    """Run the notebook with papermill; the executed copy is kept under ``build/executed``.

    Papermill saves the notebook after every cell; it writes to a temporary name that is renamed
    once execution ends (successfully or with an error, which analysts want to inspect).
    """
    import papermill as pm

    out = job.executed_path(executed_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.ipynb")
    try:
        return pm.execute_notebook(
            str(job.notebook), str(tmp), parameters=job.parameters,
            kernel_name=kernel_name or _kernel_name(), cwd=str(paths.ROOT),
            progress_bar=False, log_output=False, execution_timeout=timeout,
        )
    finally:
        if tmp.exists():
            os.replace(tmp, out)


def to_html(nb: nbformat.NotebookNode, title: str) -> str:
    """Export an executed notebook to HTML with code hidden and no remote resources."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="report",
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    return body


def _results_document(job: Job, recorded: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The results file written beside a report: what ran, on which data, and the key estimates."""
    data = recorded.pop("data", {}).get("value", {})
    return {
        "notebook": job.notebook.name,
        "name": job.name,
        "parameters": job.parameters,
        "data_fingerprint": data.get("fingerprint"),
        "synthetic": data.get("synthetic"),
        "n": data.get("n"),
        "results": recorded,
        "seconds": round(seconds, 2),
        "rendered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def error_page(job: Job, message: str) -> str:
    """A small HTML page saying which report failed and why."""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>FAILED: {html.escape(job.stem)} / {html.escape(job.name)}</title></head><body>"
        f"<h1>Report failed: {html.escape(job.stem)} ({html.escape(job.name)})</h1>"
        f"<p>Parameters: <code>{html.escape(repr(job.parameters))}</code></p>"
        f"<pre>{html.escape(message)}</pre></body></html>"
    )


def _failure_message(exc: BaseException) -> str:
    """The failing cell and its error, as papermill reports them, or the traceback."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return (f"Cell {exc.exec_count} failed:\n{exc.source}\n\n{exc.ename}: {exc.evalue}")
    return "".join(traceback.format_exception_only(type(exc), exc))


def render(job: Job, timeout: int = 600, reports_dir: Path = paths.REPORTS,
           executed_dir: Path = EXECUTED_DIR) -> JobResult:
    """Execute one job and write its HTML report (or its error page) atomically."""
    start = time.perf_counter()
    target = job.html_path(reports_dir)
    try:
        nb = execute(job, timeout=timeout, executed_dir=executed_dir)
        recorded = results.collect(nb)
        atomic.write_text(target, to_html(nb, f"{job.stem} — {job.name}"))
        atomic.write_text(target.with_suffix(".json"), results.dumps(_results_document(
            job, recorded, time.perf_counter() - start)))
        return JobResult(job, "ok", target, time.perf_counter() - start)
    except Exception as exc:  # one failing report must not take the batch down
        message = _failure_message(exc)
        atomic.write_text(target, error_page(job, message))
        return JobResult(job, "failed", target, time.perf_counter() - start, message)


def run_batch(jobs: list[Job], timeout: int = 600) -> list[JobResult]:
    """Render every job in turn, printing one line per job; failures are collected, not raised."""
    results = []
    for n, job in enumerate(jobs, start=1):
        result = render(job, timeout=timeout)
        results.append(result)
        print(f"[{n}/{len(jobs)}] {result.status:6s} {result.seconds:5.1f}s  "
              f"{result.html.relative_to(paths.ROOT) if result.html.is_relative_to(paths.ROOT) else result.html}",
              flush=True)
    return results
