"""What a batch job is and where its files go: :class:`Job` (a notebook with one parameter set),
its output paths (:func:`file_stem`, :func:`inside`), :class:`Failure`, the results file beside a
report (:func:`read_results`, :func:`last_failure`, :func:`kept_report`), and how paths and text
are published (:func:`public_path`, :func:`scrub`: never a local absolute path in a shared
report). The base of :mod:`helpers.batch`: it imports nothing else from it.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import paths

EXECUTED_DIR = paths.ROOT / "build" / "executed"


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
    resolved, base = os.path.realpath(path), os.path.realpath(folder)  # = Path.resolve(), faster
    if not resolved.startswith(base.rstrip(os.sep) + os.sep):
        from helpers.errors import DataError

        raise DataError(f"the output path {public_path(path)} lies outside its output folder "
                        f"{public_path(folder)} (it resolves to {public_path(Path(resolved))})",
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
    #: Seconds spent in each step (:data:`PHASES`) of a rendered report; empty after a failure.
    phases: dict[str, float] = field(default_factory=dict)


#: The steps of rendering one report, as :attr:`JobResult.phases` times them: reading and
#: parameterising the notebook (``prepare``), running its cells (``cells``, the sum of the cells'
#: own times), the rest of executing it (``execute_other``: papermill's bookkeeping, saving the
#: executed notebook), collecting the results file (``results``), exporting the page (``export``)
#: and writing both into place (``write``).
PHASES = ("prepare", "cells", "execute_other", "results", "export", "write")


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


# --------------------------------------------------------------------------- parameters
def python_literal(value: Any) -> str:
    """A parameter value as the Python literal papermill injects (keys keep their types)."""
    return typed_translator().translate(value)


@functools.lru_cache(maxsize=1)
def typed_translator() -> type:
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


ERROR_PAGE_MARKER = '<meta name="generator" content="disconnect-lab error page">'


def time_label(stamp: Any) -> str:
    """An ISO time stamp as pages show it: ``2025-03-01 14:02 UTC``."""
    return str(stamp or "").replace("T", " ").replace("+00:00", " UTC")


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


def notebook_imports(notebook: Path) -> set[str]:
    """Modules a notebook's code cells import at top level (``from a import b`` gives a, a.b)."""
    found: set[str] = set()
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        code = "\n".join(line for line in source.splitlines()
                         if not line.lstrip().startswith(("%", "!")))  # magics are not Python
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found
