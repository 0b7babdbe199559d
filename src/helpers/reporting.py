"""Render one notebook run into a self-contained HTML report, its results file and the executed notebook.

A :class:`Job` is a notebook with one parameter set. :func:`render` executes it through papermill —
in a fresh Jupyter kernel (``engine="kernel"``) or inside the calling process
(``engine="inprocess"``, :mod:`helpers.executor`; for the batch runner's forked workers) — and
writes, each atomically (an interrupted run leaves the previous file or none, never a truncated one):

- ``reports/<notebook>/<name>.html``: code hidden, a "parameters used" box where papermill injected
  the parameters, a table of contents, every figure embedded, a banner on synthetic data and a
  provenance footer; no scripts, fonts or styles from the network;
- ``reports/<notebook>/<name>.json``: status, parameters, fingerprint, provenance and the results
  the notebook recorded with :func:`helpers.results.record` (the index reads these);
- ``build/executed/<notebook>/<name>.ipynb``: the executed notebook, for analysts who want the code.

A failing notebook gets an error page naming the failing cell and the message,
``<name>.error.html`` beside the report: a previous good report, its results file and executed
notebook are kept, never replaced by a failure (:func:`write_failure`); it never raises. File
names come from :func:`file_stem` and every output path is checked to lie in its folder
(:func:`inside`); what is published shows paths relative to the project (:func:`scrub`).
A notebook that stops itself with ``helpers.privacy.TooFewResponses`` (a segment too small to show)
or ``helpers.errors.NotApplicable`` (the survey did not collect what it needs) gets a short page
saying so and a results file with status "ok": neither is a bug.
Heavy imports (nbformat, papermill, nbconvert, pandas) happen inside the functions that need them,
so that the batch runner can plan and reuse reports without paying for them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import time
import traceback
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from helpers import atomic, markup, paths

EXECUTED_DIR = paths.ROOT / "build" / "executed"
KERNEL_NAME = "disconnect-lab"
TEMPLATES = Path(__file__).parent / "templates"
ENGINES = ("kernel", "inprocess")
INJECTED_TAG = "injected-parameters"
PROVENANCE_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn",
                       "papermill", "nbconvert", "ipython")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------- file names
MAX_STEM_BYTES = 200  # leaves room for ".error.html" and a temporary file's affixes in 255 bytes
ERROR_SUFFIX = ".error"  # <name>.error.html: the error page written beside a report
_UNSAFE = re.compile(r"[^\w.-]+")
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])", re.IGNORECASE)


def file_stem(name: Any) -> str:
    """A job name (or notebook stem) as a safe file-name stem; ``file_stem(file_stem(x))`` is
    ``file_stem(x)``.

    Names come from ``reports.yaml`` and from data values, so they may hold anything: ``/`` and
    ``..`` (a path outside the output folder), NUL, newlines, spaces, a Windows-reserved device
    name, thousands of characters. Every run of characters other than letters, digits, ``_``,
    ``.`` and ``-`` becomes ``-``; leading and trailing dots and dashes go (no hidden files, no
    ``..``); a reserved name (``CON``, ``nul.x``, ``COM1``) gets a leading ``_``; a trailing
    ``.error`` becomes ``-error`` (that suffix is the error page's); a name longer than
    :data:`MAX_STEM_BYTES` (UTF-8) keeps a readable prefix and ends in a hash of the whole name.
    """
    original = unicodedata.normalize("NFC", str(name))
    text = _UNSAFE.sub("-", original).strip(".-") or "report"
    if _RESERVED.fullmatch(text.split(".")[0]):
        text = f"_{text}"
    if text.casefold().endswith(ERROR_SUFFIX):
        text = text[: -len(ERROR_SUFFIX)] + "-error"
    if len(text.encode()) > MAX_STEM_BYTES:
        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        prefix = text.encode()[: MAX_STEM_BYTES - len(digest) - 1].decode("utf-8", "ignore")
        text = f"{prefix.rstrip('.-')}-{digest}"
    return text


def inside(path: Path, folder: Path) -> Path:
    """``path``, after checking that it lies inside ``folder`` once both are resolved (symbolic
    links followed); a :class:`~helpers.errors.DataError` otherwise. Every output path passes
    here before anything is written to it."""
    resolved, base = path.resolve(), folder.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        from helpers.errors import DataError

        raise DataError(f"the output path {public_path(path)} lies outside its output folder "
                        f"{public_path(folder)} (it resolves to {public_path(resolved)})",
                        file=public_path(path), rule="output-path",
                        hint="remove the symbolic link, or give the job another name")
    return path


@dataclass(frozen=True)
class Job:
    """One report: a notebook run with one parameter set.

    Its outputs are named by :func:`file_stem` of the notebook's stem and of ``name``, and each
    path is checked to lie inside its output folder (:func:`inside`).
    """

    notebook: Path
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.notebook.stem

    @property
    def key(self) -> str:
        """``<notebook stem>/<name>``: unique within a batch, what ``--only`` matches."""
        return f"{self.stem}/{self.name}"

    @property
    def file_key(self) -> str:
        """``<folder>/<file stem>``: the key as the output files spell it."""
        return f"{file_stem(self.stem)}/{file_stem(self.name)}"

    @property
    def segment(self) -> dict[str, Any]:
        return dict(self.parameters.get("segment") or {})

    def _output(self, folder: Path, suffix: str) -> Path:
        return inside(folder / file_stem(self.stem) / f"{file_stem(self.name)}{suffix}", folder)

    def html_path(self, reports_dir: Path = paths.REPORTS) -> Path:
        """The report (``<name>.html``): only ever a good report, never an error page."""
        return self._output(reports_dir, ".html")

    def json_path(self, reports_dir: Path = paths.REPORTS) -> Path:
        """The results file of the report (or of the failure, when there is no good report)."""
        return self._output(reports_dir, ".json")

    def error_path(self, reports_dir: Path = paths.REPORTS) -> Path:
        """The error page of the last attempt, when it failed (``<name>.error.html``)."""
        return self._output(reports_dir, f"{ERROR_SUFFIX}.html")

    def executed_path(self, executed_dir: Path = EXECUTED_DIR) -> Path:
        """The executed notebook of the report."""
        return self._output(executed_dir, ".ipynb")

    def executed_error_path(self, executed_dir: Path = EXECUTED_DIR) -> Path:
        """The executed notebook of the last attempt, when it failed."""
        return self._output(executed_dir, f"{ERROR_SUFFIX}.ipynb")

    def attempt_path(self, executed_dir: Path = EXECUTED_DIR) -> Path:
        """Where a render saves its executed notebook until it knows whether it succeeded (a
        temporary name, swept like the other temporary files when a run is killed)."""
        return inside(executed_dir / file_stem(self.stem) /
                      f".{file_stem(self.name)}.attempt.tmp.ipynb", executed_dir)

    def log_path(self, executed_dir: Path = EXECUTED_DIR) -> Path:
        """The forked worker's log (output that bypassed the notebook's capture)."""
        return self._output(executed_dir, ".log")


@dataclass
class JobResult:
    """What happened to one job."""

    job: Job
    status: str  # "ok" or "failed"
    html: Path
    seconds: float
    error: str | None = None
    not_applicable: str | None = None  # what the report needs, when its inputs were not collected


@dataclass
class Failure(Exception):
    """Why a report failed: a message and, when a cell raised, that cell."""

    message: str
    cell_index: int | None = None
    execution_count: int | None = None
    source: str | None = None
    ename: str | None = None  # the exception's class name, when a cell raised
    evalue: str | None = None  # and its message

    def __str__(self) -> str:
        return self.message


def load_batch(path: str | Path | None = None) -> list[Job]:
    """The batch file's jobs without segment expansion, so no processed data is needed.

    Kept for older callers that want the notebooks of the batch; the runner uses
    :func:`helpers.batch.load_batch`.
    """
    from helpers.batch import load_batch as load

    return load(path, segments=False)


def segment_label(segment: dict[str, Any]) -> str:
    """``country DE, wave 2``, ``country Other (BE, DK, SE)`` for several values (the pooled
    part of a grid) — or ``whole sample`` for ``{}``."""
    if not segment:
        return "whole sample"

    def text(v: Any) -> str:
        if isinstance(v, list | tuple):
            return f"Other ({', '.join(map(text, v))})" if len(v) > 1 else text(v[0]) if v else ""
        return "not stated" if v is None else str(v)

    return ", ".join(f"{k} {text(v)}" for k, v in segment.items())


def read_results(job: Job, reports_dir: Path = paths.REPORTS) -> dict[str, Any] | None:
    """The results file beside a report, or None when missing or unreadable."""
    try:
        return json.loads(job.json_path(reports_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def data_manifest(data_dir: str | Path | None) -> dict[str, Any] | None:
    """``manifest.json`` of a processed-data folder (relative to the project root), if built."""
    folder = Path(data_dir) if data_dir else paths.PROCESSED
    folder = folder if folder.is_absolute() else paths.ROOT / folder
    path = folder / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


# --------------------------------------------------------------------------- provenance
def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "--no-optional-locks", "-C", str(paths.ROOT), *args],
                             check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def provenance() -> dict[str, Any]:
    """Project commit and package versions, once per process (a batch computes it before forking)."""
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    if commit != "unknown" and _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    versions = {"python": sys.version.split()[0]}
    for name in (*PROVENANCE_PACKAGES, "disconnect-lab"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"commit": commit, "packages": versions}


def _kernel_name() -> str:
    """The project kernel when registered (``make setup``), else the running Python's kernel."""
    from jupyter_client.kernelspec import find_kernel_specs

    return KERNEL_NAME if KERNEL_NAME in find_kernel_specs() else "python3"


# --------------------------------------------------------------------------- parameters
def python_literal(value: Any) -> str:
    """A parameter value as the Python literal papermill injects (keys keep their types)."""
    return _typed_translator().translate(value)


@functools.lru_cache(maxsize=1)
def _typed_translator() -> type:
    """papermill's Python translator, except that dict keys keep their type.

    papermill writes every dict key as a string (``{1: 2023}`` arrives as ``{"1": 2023}``), so a
    ``wave_years: {1: 2023}`` in ``reports.yaml`` would not match integer waves in the notebook.
    Registered for the Python language, it serves both engines (the in-process engine and a
    fresh kernel), which inject parameters the same way.
    """
    from papermill.translators import PythonTranslator, papermill_translators

    class TypedPythonTranslator(PythonTranslator):
        """Python parameters whose dict keys are translated like values, not quoted."""

        @classmethod
        def translate_dict(cls, val: dict) -> str:
            items = ", ".join(f"{cls.translate(k)}: {cls.translate(v)}" for k, v in val.items())
            return f"{{{items}}}"

    papermill_translators.register("python", TypedPythonTranslator)
    return TypedPythonTranslator


def canonical_json(value: Any, ensure_ascii: bool = False) -> str:
    """Deterministic JSON of parameters for fingerprints and the footer: sorted keys, with
    non-string keys tagged by type (``{1: 2023}`` and ``{"1": 2023}`` run differently)."""
    def tag(v: Any) -> Any:
        if isinstance(v, dict):
            return {(k if isinstance(k, str) else f"{type(k).__name__}:{k}"): tag(x)
                    for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [tag(x) for x in v]
        return v

    return json.dumps(tag(value), sort_keys=True, ensure_ascii=ensure_ascii, default=str)


# --------------------------------------------------------------------------- execution
CellHook = Callable[..., Any]


def execute(job: Job, timeout: int = 600, kernel_name: str | None = None,
            executed_dir: Path = EXECUTED_DIR, engine: str = "kernel",
            on_cell_start: CellHook | None = None, source: str | None = None,
            out: Path | None = None) -> Any:
    """Run the notebook with papermill; the executed copy is kept under ``build/executed``
    (``out``: where; default the job's executed notebook).

    ``engine="kernel"`` starts a fresh kernel (``timeout`` is then papermill's per-cell limit);
    ``"inprocess"`` runs the cells in this process (the batch runner enforces its timeout by
    killing the worker). ``source`` is the notebook's text as planned (the batch runner reads it
    with the fingerprint, so an edit during a run cannot make the two disagree); default: the
    file. The notebook is saved once, at the end — also when a cell failed, which analysts want to
    inspect — under a temporary name renamed into place.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    import nbformat
    import papermill as pm

    options: dict[str, Any] = {"on_cell_start": on_cell_start} if on_cell_start else {}
    if engine == "inprocess":
        from helpers import executor

        options["engine_name"] = executor.ENGINE_NAME
        kernel_name = kernel_name or "python3"
    else:
        options["execution_timeout"] = timeout
    kernel_name = kernel_name or _kernel_name()
    notebook = parameterize(nbformat.reads(source, as_version=4) if source is not None
                            else str(job.notebook), job.parameters, kernel_name,
                            options.get("engine_name"))
    out = out or job.executed_path(executed_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.ipynb")
    try:
        return pm.execute_notebook(
            notebook, str(tmp), parameters=None, kernel_name=kernel_name, cwd=str(paths.ROOT),
            progress_bar=False, log_output=False, request_save_on_cell_execute=False, **options)
    finally:
        if tmp.exists():
            _record_input_path(tmp, job.notebook, job.executed_path(executed_dir))
            os.replace(tmp, out)


def parameterize(notebook: Any, parameters: dict[str, Any], kernel_name: str,
                 engine_name: str | None = None) -> Any:
    """The notebook (a path or a node) with papermill's injected-parameters cell, typed.

    papermill would quote every dict key (``{1: 2023}`` arriving as ``{"1": 2023}``) and then
    fail to save a notebook whose metadata mixes integer and string keys. Here the cell is written
    by :func:`python_literal`'s translator, and the metadata records the parameters as JSON
    (where keys are text anyway); papermill then runs the notebook as given.
    """
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from helpers import results

    nb = load_notebook_node(notebook)  # a path or an in-memory node
    if not parameters:
        return nb
    _typed_translator()
    nb = parameterize_notebook(nb, parameters, kernel_name=kernel_name, engine_name=engine_name)
    nb.metadata.papermill["parameters"] = results.plain(parameters)
    return nb


def _record_input_path(executed: Path, notebook: Path, output: Path) -> None:
    """Papermill records an in-memory input notebook itself as the input path, and the
    temporary file as the output: record both files (relative to the project, :func:`public_path`)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    nb.metadata.papermill["input_path"] = public_path(notebook)
    nb.metadata.papermill["output_path"] = public_path(output)
    nbformat.write(nb, executed)


def failure_from(exc: BaseException) -> Failure:
    """The failing cell and its error, as papermill reports them, or the exception itself."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, PapermillExecutionError):
        trace = _ANSI.sub("", "\n".join(exc.traceback or [])).strip()
        last = f"{exc.ename}: {exc.evalue}"
        message = trace if trace.endswith(last) else f"{trace}\n\n{last}".strip()
        return Failure(message, exc.cell_index, exc.exec_count, exc.source, exc.ename,
                       exc.evalue)
    return Failure("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip(),
                   ename=type(exc).__name__, evalue=str(exc))


# --------------------------------------------------------------------------- documents
def _base_document(job: Job, status: str, seconds: float, fingerprint: dict[str, str] | None,
                   engine: str) -> dict[str, Any]:
    """What every results file says: the job, the outcome and how it was produced."""
    manifest = data_manifest(job.parameters.get("data_dir")) or {}
    return {
        "notebook": job.notebook.name,
        "name": job.name,
        "parameters": scrub_value(job.parameters),
        "status": status,
        "synthetic": manifest.get("synthetic"),
        "seconds": round(seconds, 2),
        "rendered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": fingerprint,
        "engine": engine,
        "provenance": provenance(),
    }


def _results_document(job: Job, recorded: dict[str, Any], seconds: float,
                      fingerprint: dict[str, str] | None, engine: str) -> dict[str, Any]:
    """The results file of a rendered report: the base document plus the recorded results."""
    data = recorded.pop("data", {}).get("value", {})
    doc = _base_document(job, "ok", seconds, fingerprint, engine)
    doc.update({"data_fingerprint": data.get("fingerprint"), "n": data.get("n"),
                "results": recorded})
    if data.get("synthetic") is not None:
        doc["synthetic"] = data["synthetic"]
    return doc


def _dumps(doc: dict[str, Any]) -> str:
    from helpers import results

    return results.dumps(doc)


# --------------------------------------------------------------------------- HTML
@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="report",
                        exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, embed_images=True)


def _title(nb: Any, job: Job) -> str:
    """The notebook's first heading (else its file name) and the segment."""
    for cell in nb.cells:
        match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE) if cell.cell_type == "markdown" else None
        if match:
            return f"{match.group(1).strip()} — {segment_label(job.segment)}"
    return f"{job.stem} — {segment_label(job.segment)}"


def _display(value: Any) -> str:
    """A parameter value for the parameters box: JSON, or the Python literal when JSON would
    turn non-string dict keys into strings."""
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    return python_literal(value) if _has_typed_keys(value) else text


def _has_typed_keys(value: Any) -> bool:
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _has_typed_keys(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_typed_keys(v) for v in value)
    return False


def report_context(job: Job, doc: dict[str, Any], executed: Path | None = None) -> dict[str, Any]:
    """What the report template shows beyond the notebook: parameters box, banner, footer."""
    prov = doc.get("provenance") or {}
    fp = doc.get("fingerprint") or {}
    return {
        "job": job.key,
        "segment": segment_label(job.segment),
        "synthetic": bool(doc.get("synthetic")),
        "parameters": [(k, scrub(_display(v))) for k, v in job.parameters.items()],
        "parameters_json": canonical_json(scrub_value(job.parameters)),
        "commit": prov.get("commit", "unknown"),
        "data_fingerprint": doc.get("data_fingerprint") or fp.get("data") or "unknown",
        "packages": " · ".join(f"{k} {v}" for k, v in (prov.get("packages") or {}).items()),
        "rendered_at": doc.get("rendered_at"),
        "seconds": doc.get("seconds"),
        "engine": doc.get("engine"),
        "executed": public_path(executed) if executed else None,
        "csp_meta": markup.csp_meta(),  # the template puts no script on the page
    }


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the project root when inside it."""
    return str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)


# --------------------------------------------------------------------------- published paths
def _home() -> Path | None:
    """The user's home folder, unless it is unknown or the file-system root."""
    with contextlib.suppress(RuntimeError, KeyError):
        home = Path.home()
        return home if len(home.parts) > 1 else None
    return None


def public_path(path: str | Path) -> str:
    """A path as published outputs (reports, error pages, results files, the index) show it:
    relative to the project when inside it, ``~/…`` inside the home folder, else its last three
    parts after ``…/`` — never a local absolute path that travels with a shared report."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    for base, shown in ((paths.ROOT, None), (_home(), "~")):
        if base is None:
            continue
        for form in {base, Path(os.path.realpath(base))}:
            if p == form or p.is_relative_to(form):
                rel = p.relative_to(form).as_posix()
                return (f"{shown}/{rel}" if rel != "." else shown) if shown else rel
    return "…/" + "/".join(p.parts[-3:])


@functools.lru_cache(maxsize=4)
def _local_prefixes(root: str, home: str | None) -> re.Pattern[str]:
    """The project root and the home folder (as given and resolved), longest first."""
    forms = {root: ".", os.path.realpath(root): "."}
    if home:
        forms |= {home: "~", os.path.realpath(home): "~"}
    ordered = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(f"(?:{re.escape(f)})(?![\\w.-])" for f in ordered)), forms


def scrub(text: str) -> str:
    """Text for a published output with local paths taken out: the project root becomes ``.``
    and the home folder ``~`` (tracebacks, warnings, error messages, parameter values)."""
    if not text:
        return text
    home = _home()
    pattern, forms = _local_prefixes(str(paths.ROOT), str(home) if home else None)
    return pattern.sub(lambda m: forms[m.group(0)], text)


def scrub_value(value: Any) -> Any:
    """:func:`scrub` applied to every string in a parameter value (dicts, lists, tuples)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v) for v in value)
    return value


_TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")


def scrub_outputs(nb: Any) -> Any:
    """Take local paths out of the text outputs of an executed notebook (streams, tracebacks,
    text and HTML displays; images untouched), in place, before it becomes a report."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = scrub(out.get("text", ""))
            elif out.get("output_type") == "error":
                out["evalue"] = scrub(out.get("evalue", ""))
                out["traceback"] = [scrub(line) for line in out.get("traceback", [])]
            else:
                data = out.get("data", {})
                for mime in _TEXT_MIMES:
                    if isinstance(data.get(mime), str):
                        data[mime] = scrub(data[mime])
    return nb


_HEADING = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>(.*?)<a class="anchor-link"', re.DOTALL)


def _with_toc(body: str) -> str:
    """Fill the table of contents from the markdown headings: after the parameters box, or at the
    top of the page when the notebook has no injected parameters."""
    headings = [(int(level), anchor, re.sub(r"<[^>]+>", "", text).strip())
                for level, anchor, text in _HEADING.findall(body)]
    top = min((level for level, _, _ in headings), default=1)
    entries = [(level, anchor, text) for level, anchor, text in headings
               if level > top or sum(lv == top for lv, _, _ in headings) > 1]
    nav = ""
    if entries:
        items = "".join(f'<li class="dl-toc-{level - top}"><a href="#{anchor}">{text}</a></li>'
                        for level, anchor, text in entries)
        nav = (f'<nav class="dl-box dl-toc" aria-label="Contents"><h2>Contents</h2><ul>{items}</ul>'
               "</nav>")
    spot = "<!-- dl:toc -->" if "<!-- dl:toc -->" in body else "<!-- dl:toc-top -->"
    body = body.replace(spot, nav, 1)
    return body.replace("<!-- dl:toc -->", "").replace("<!-- dl:toc-top -->", "")


def _has_banner(nb: Any) -> bool:
    """Whether the notebook shows the synthetic-data banner itself (``tables.synthetic_banner``)."""
    return any("synthetic-banner" in str(out.get("data", {}).get("text/html", ""))
               for cell in nb.cells for out in cell.get("outputs", []))


def to_html(nb: Any, job: Job, doc: dict[str, Any], executed: Path | None = None) -> str:
    """Export an executed notebook (results already lifted out) to the offline report HTML.

    The template adds the synthetic-data banner unless the notebook already shows it.
    """
    nb.metadata["title"] = _title(nb, job)
    context = report_context(job, doc, executed)
    context["synthetic"] = context["synthetic"] and not _has_banner(nb)
    body, _ = _exporter().from_notebook_node(nb, resources={"report": context})
    return _with_toc(body)


ERROR_PAGE_MARKER = '<meta name="generator" content="disconnect-lab error page">'


def time_label(stamp: Any) -> str:
    """An ISO time stamp as pages show it: ``2025-03-01 14:02 UTC``."""
    return str(stamp or "").replace("T", " ").replace("+00:00", " UTC")


def error_page(job: Job, failure: Failure, doc: dict[str, Any] | None = None,
               executed: Path | None = None, kept: dict[str, Any] | None = None,
               reports_dir: Path = paths.REPORTS) -> str:
    """A self-contained page saying which report failed, in which cell, and why; and, when the
    previous good report was kept (``kept``: its results), from when it is and where.

    Local paths in the message and the cell are shown relative to the project (:func:`scrub`).
    """
    ctx = report_context(job, doc or {}, executed)
    esc = html.escape
    parts = [(f'<div class="dl-failed" role="alert">Report failed: {esc(job.key)} '
              f"({esc(ctx['segment'])})</div>")]
    if kept is not None:
        page = job.html_path(reports_dir).name
        parts.append(f'<p class="dl-kept">The previous good report, rendered '
                     f"{esc(time_label(kept.get('rendered_at')))}, is kept: "
                     f'<a href="{esc(quote(page))}">{esc(page)}</a>.</p>')
    if failure.source is not None:
        count = f"In [{failure.execution_count}], " if failure.execution_count else ""
        where = f"cell {failure.cell_index + 1}" if failure.cell_index is not None else "a cell"
        parts.append(f"<h2>Failing cell: {count}{where} of the executed notebook</h2>"
                     f'<pre class="dl-source">{esc(scrub(failure.source))}</pre>')
    parts.append(f'<h2>Message</h2><pre class="dl-message">{esc(scrub(failure.message))}</pre>')
    parts.append("<h2>Parameters</h2><table>" + "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in ctx["parameters"]) + "</table>")
    if ctx["executed"]:
        parts.append(f"<p>Executed notebook, with the code: <code>{esc(ctx['executed'])}</code></p>")
    parts.append(f"<footer>commit {esc(ctx['commit'])} · {esc(ctx['packages'])} · "
                 f"{esc(str(ctx['rendered_at'] or ''))}</footer>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' + markup.csp_meta() +
            ERROR_PAGE_MARKER +
            f"<title>FAILED: {esc(job.key)}</title><style>{_ERROR_CSS}</style></head><body>"
            + "".join(parts) + "</body></html>\n")


_ERROR_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;"
    "color:#222}.dl-failed{background:#FDECEA;border:2px solid #B00020;padding:.6em 1em;"
    "font-weight:bold}pre{background:#F6F6F6;padding:.6em;overflow-x:auto;white-space:pre-wrap}"
    "th{text-align:left;padding-right:1em}footer{margin-top:2em;font-size:.85em;color:#555}"
)


# --------------------------------------------------------------------------- outputs
def kept_report(job: Job, reports_dir: Path = paths.REPORTS) -> dict[str, Any] | None:
    """The results of the job's good report, when there is one to keep: its page exists and its
    results file says "ok" (a full report, a "too few" or a "not applicable" page)."""
    doc = read_results(job, reports_dir)
    ok = doc is not None and doc.get("status") == "ok" and job.html_path(reports_dir).exists()
    return doc if ok else None


def last_failure(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """Why the last attempt at a report failed, from its results file (None if it did not):
    ``error``, ``attempted_at`` and, when a cell raised, ``failing_cell``."""
    if not doc:
        return None
    if isinstance(doc.get("failure"), dict):
        return doc["failure"]
    if doc.get("status") == "failed":
        return {"error": doc.get("error"), "attempted_at": doc.get("rendered_at"),
                "failing_cell": doc.get("failing_cell")}
    return None


def _public_failure(failure: Failure) -> Failure:
    """The failure as published: local paths taken out of the message, the cell and the value."""
    return Failure(scrub(failure.message), failure.cell_index, failure.execution_count,
                   None if failure.source is None else scrub(failure.source), failure.ename,
                   None if failure.evalue is None else scrub(failure.evalue))


def write_failure(job: Job, failure: Failure, reports_dir: Path = paths.REPORTS,
                  executed_dir: Path = EXECUTED_DIR, *, seconds: float = 0.0,
                  fingerprint: dict[str, str] | None = None, engine: str = "kernel") -> JobResult:
    """Write the error page beside the report (``<name>.error.html``) and record the failure in
    the results file (atomically); never raises for a full disk or a read-only folder.

    A previous good report (:func:`kept_report`) stays as it is, page and results: its results
    file gains a ``failure`` entry and keeps status "ok", so the index links both and marks the
    job failed. Without one, the results file says status "failed". The executed notebook of
    the failed attempt is ``<name>.error.ipynb`` (written by :func:`render`).
    """
    failure = _public_failure(failure)
    attempt = _base_document(job, "failed", seconds, fingerprint, engine)
    record: dict[str, Any] = {"error": failure.message, "attempted_at": attempt["rendered_at"],
                              "seconds": attempt["seconds"], "fingerprint": fingerprint,
                              "engine": engine}
    if failure.source is not None:
        record["failing_cell"] = {"index": failure.cell_index, "source": failure.source,
                                  "execution_count": failure.execution_count}
    page = job.error_path(reports_dir)
    kept = kept_report(job, reports_dir)
    executed = job.executed_error_path(executed_dir)
    try:
        atomic.write_text(page, error_page(job, failure, attempt,
                                           executed if executed.exists() else None, kept,
                                           reports_dir))
        record["page"] = page.name
    except OSError as exc:  # e.g. the disk is full: say so in the results file, first (the
        record["error"] = (f"(The error page could not be written either: {_os_reason(exc)}.)"
                           f"\n{record['error']}")  # last line stays the failure's message)
    if kept is not None:
        doc = {**kept, "failure": record}
    else:
        doc = {**attempt, "error": record["error"], "failure": record}
        if "failing_cell" in record:
            doc["failing_cell"] = record["failing_cell"]
        with contextlib.suppress(OSError):  # a page not known to be good (an old error page)
            job.html_path(reports_dir).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # nothing more can be written; the run reports it
        atomic.write_text(job.json_path(reports_dir), _dumps(doc))
    return JobResult(job, "failed", page, seconds, record["error"])


def _os_reason(exc: OSError) -> str:
    """An operating-system error in words, with the file relative to the project."""
    where = f": {public_path(exc.filename)}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _remove_failure_outputs(job: Job, reports_dir: Path, executed_dir: Path) -> None:
    """After a good render: the error page and the failed executed notebook of an earlier
    attempt are out of date."""
    for stale in (job.error_path(reports_dir), job.executed_error_path(executed_dir)):
        with contextlib.suppress(OSError):
            stale.unlink(missing_ok=True)


_TOO_FEW = re.compile(r"TooFewResponses: (.+)")


def too_few_reason(failure: Failure) -> str | None:
    """The reason when a report stopped itself with ``helpers.privacy.TooFewResponses``."""
    found = _TOO_FEW.findall(failure.message or "")
    return found[-1].strip() if found else None


def _commit(job: Job, page: str, doc: dict[str, Any], reports_dir: Path,
            executed_dir: Path) -> Path:
    """Publish a good report: its page and results file as one change (:func:`atomic.write_texts`:
    a full disk leaves the previous pair as it was), then its executed notebook; the error page
    and failed notebook of an earlier attempt go. Returns the page's path."""
    target = job.html_path(reports_dir)
    atomic.write_texts({target: page, job.json_path(reports_dir): _dumps(doc)})
    attempt = job.attempt_path(executed_dir)
    if attempt.exists():
        os.replace(attempt, job.executed_path(executed_dir))
    _remove_failure_outputs(job, reports_dir, executed_dir)
    return target


def _write_short_page(job: Job, doc: dict[str, Any], heading: str, body: str,
                      reports_dir: Path, executed_dir: Path = EXECUTED_DIR) -> Path:
    """A page without numbers (a heading, then ``body``: HTML built from escaped text) and its
    results file, written as one change (:func:`_commit`); returns the page's path."""
    title = html.escape(f"{heading}: {job.key}")
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' + markup.csp_meta() +
            f"<title>{title}</title><style>{_ERROR_CSS}</style></head>"
            f"<body><main><h1>{title}</h1>{body}</main></body></html>\n")
    return _commit(job, page, doc, reports_dir, executed_dir)


def _sentence(text: str) -> str:
    """Text as the start of a sentence, HTML-escaped."""
    return html.escape(text[:1].upper() + text[1:])


def write_too_few(job: Job, reason: str, reports_dir: Path = paths.REPORTS, *,
                  seconds: float = 0.0, fingerprint: dict[str, str] | None = None,
                  engine: str = "kernel", executed_dir: Path = EXECUTED_DIR) -> JobResult:
    """A short "too few responses" page and a results file without numbers (atomically)."""
    reason = scrub(reason)
    doc = _base_document(job, "ok", seconds, fingerprint, engine)
    doc.update({"too_few": reason, "results": {}, "n": None})
    min_cell = job.parameters.get("min_cell", 5)
    body = (f'<p role="note">{_sentence(reason)}</p>'
            f"<p>To protect respondents, this report shows no numbers for segments in which a "
            f"group has fewer than {html.escape(str(min_cell))} respondents (the minimum cell "
            "size). Widen the segment or combine waves to report it.</p>")
    target = _write_short_page(job, doc, "Too few responses", body, reports_dir, executed_dir)
    return JobResult(job, "ok", target, seconds)


def not_applicable_reason(failure: Failure) -> str | None:
    """What a report needs, when it stopped itself with ``helpers.errors.NotApplicable``."""
    if failure.ename == "NotApplicable":
        return (failure.evalue or "").strip() or "needs data this survey did not collect"
    return None


def _executed_summary(job: Job, executed_dir: Path) -> dict[str, Any]:
    """The data summary a stopped notebook recorded before it stopped (n, fingerprint), if any
    (from the attempt just made, else the executed notebook)."""
    import nbformat

    from helpers import results

    attempt = job.attempt_path(executed_dir)
    try:
        nb = nbformat.read(attempt if attempt.exists() else job.executed_path(executed_dir),
                           as_version=4)
    except (OSError, ValueError):
        return {}
    return (results.collect(nb, strip=False).get("data") or {}).get("value") or {}


def write_not_applicable(job: Job, reason: str, reports_dir: Path = paths.REPORTS,
                         executed_dir: Path = EXECUTED_DIR, *, seconds: float = 0.0,
                         fingerprint: dict[str, str] | None = None,
                         engine: str = "kernel") -> JobResult:
    """A short "not applicable" page saying what the report needs, and a results file with
    status "ok" and ``not_applicable`` (atomically). Nothing failed: the survey did not collect
    what this report analyses."""
    reason = scrub(reason)
    doc = _base_document(job, "ok", seconds, fingerprint, engine)
    data = _executed_summary(job, executed_dir)
    doc.update({"not_applicable": reason, "results": {}, "n": data.get("n"),
                "data_fingerprint": data.get("fingerprint")})
    if data.get("synthetic") is not None:
        doc["synthetic"] = data["synthetic"]
    body = (f"<p>Segment: {html.escape(segment_label(job.segment))}</p>"
            f'<p role="note" class="not-applicable">{_sentence(reason)}</p>'
            "<p>This report analyses data that the survey (or the processed data built from it) "
            "does not contain, so it shows nothing for it. Nothing failed: collect or map the "
            "data it needs and run <code>make data</code> and <code>make reports</code> again to "
            "get it.</p>")
    target = _write_short_page(job, doc, "Not applicable", body, reports_dir, executed_dir)
    return JobResult(job, "ok", target, seconds, not_applicable=reason)


def render(job: Job, timeout: int = 600, reports_dir: Path = paths.REPORTS,
           executed_dir: Path = EXECUTED_DIR, *, engine: str = "kernel",
           fingerprint: dict[str, str] | None = None,
           on_cell_start: CellHook | None = None, source: str | None = None) -> JobResult:
    """Execute one job and write its HTML report and results file (or its error page); never
    raises for a failing notebook, a full disk or a read-only folder.

    The executed notebook is saved under a temporary name first; only a good outcome (a report,
    a "too few" or "not applicable" page) replaces the report, its results file and its executed
    notebook — the page and the results file as one change. A failure keeps all three and
    writes ``<name>.error.html`` (and ``<name>.error.ipynb``) beside them (:func:`write_failure`).
    ``source``: the notebook text to run (default: read the file), see :func:`execute`.
    """
    from helpers import results

    start = time.perf_counter()
    attempt = job.attempt_path(executed_dir)
    with contextlib.suppress(OSError):  # belongs to an earlier attempt
        job.executed_error_path(executed_dir).unlink(missing_ok=True)
    try:
        nb = execute(job, timeout=timeout, executed_dir=executed_dir, engine=engine,
                     on_cell_start=on_cell_start, source=source, out=attempt)
        recorded = results.collect(nb)
        doc = _results_document(job, recorded, time.perf_counter() - start, fingerprint, engine)
        if engine == "inprocess":
            from helpers import executor

            doc["import_warnings"] = [scrub(w) for w in executor.IMPORT_WARNINGS]
        page = to_html(scrub_outputs(nb), job, doc, job.executed_path(executed_dir))
        target = _commit(job, page, doc, reports_dir, executed_dir)
        return JobResult(job, "ok", target, time.perf_counter() - start)
    except OSError as exc:  # not from a cell (papermill wraps those): an output not written
        failure = Failure(f"The report could not be saved: {_os_reason(exc)}",
                          ename=type(exc).__name__, evalue=str(exc.strerror or exc))
    except Exception as exc:  # noqa: BLE001 -- one failing report must not stop the batch
        failure = failure_from(exc)
    try:
        reason = too_few_reason(failure)
        if reason:  # a segment too small to report: a short page, not a failure
            return write_too_few(job, reason, reports_dir, seconds=time.perf_counter() - start,
                                 fingerprint=fingerprint, engine=engine, executed_dir=executed_dir)
        needs = not_applicable_reason(failure)
        if needs:  # the survey did not collect what the report needs: not a failure either
            return write_not_applicable(job, needs, reports_dir, executed_dir,
                                        seconds=time.perf_counter() - start,
                                        fingerprint=fingerprint, engine=engine)
    except OSError as exc:  # the short page could not be written: a failure after all
        failure = Failure(f"{failure.message}\n\nThe page saying so could not be written: "
                          f"{_os_reason(exc)}", failure.cell_index, failure.execution_count,
                          failure.source, failure.ename, failure.evalue)
    with contextlib.suppress(OSError):
        if attempt.exists():
            os.replace(attempt, job.executed_error_path(executed_dir))
    return write_failure(job, failure, reports_dir, executed_dir,
                         seconds=time.perf_counter() - start, fingerprint=fingerprint,
                         engine=engine)


def warm_up() -> None:
    """Load the exporter, its templates and filters, and the provenance, before forking workers."""
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Warm-up\n\n## Section\n\nText with `code` and *emphasis*."),
        v4.new_code_cell("x", outputs=[
            v4.new_output("stream", name="stdout", text="x\n"),
            v4.new_output("display_data", data={"text/html": "<p>x</p>", "text/plain": "x"}),
            v4.new_output("display_data", data={"image/png": _PIXEL}),
        ], metadata={"tags": [INJECTED_TAG]}),
    ])
    _exporter().from_notebook_node(nb, resources={"report": report_context(
        Job(Path("warm-up.ipynb"), "warm-up"), {})})
    provenance()


_PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5Erk"
          "Jggg==")
