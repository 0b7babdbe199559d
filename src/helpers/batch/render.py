"""Render one notebook run into a self-contained HTML report, its results file and the executed notebook.

A :class:`Job` is a notebook with one parameter set. :func:`render` executes it through papermill —
in a fresh Jupyter kernel (``engine="kernel"``) or inside the calling process
(``engine="inprocess"``, :mod:`helpers.batch.engine`; for the batch runner's forked workers) — and
writes, each atomically (an interrupted run leaves the previous file or none, never a truncated one):

- ``reports/<notebook>/<name>.html``, in the report's language (its ``language`` parameter; the
  markdown cells translated whole before conversion, :func:`to_html`): code hidden, a banner on
  synthetic data, after the title the summary (:mod:`helpers.summary`), "how to read this report"
  and a "parameters used" box listing every parameter of the notebook's parameters cell with the
  value the run used (:func:`effective_parameters`), a table of contents, tables and figures
  numbered in document order (:func:`number_tables_and_figures`), every figure embedded, the
  methods note with its numbered references (:mod:`helpers.methods`) and a provenance footer; no
  scripts, fonts or styles from the network;
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
saying so and a results file with status "ok": neither is a bug. Error, "too few" and "not
applicable" pages are in the report's language too.
Heavy imports (nbformat, papermill, nbconvert, pandas) happen inside the functions that need them,
so that the batch runner can plan and reuse reports without paying for them.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from helpers import atomic, i18n, markup, paths
from helpers.batch.jobs import (
    ERROR_PAGE_MARKER,
    EXECUTED_DIR,
    Failure,
    Job,
    JobResult,
    canonical_json,
    data_manifest,
    kept_report,
    public_path,
    python_literal,
    scrub,
    scrub_value,
    time_label,
    typed_translator,
)
from helpers.i18n import N_

KERNEL_NAME = "disconnect-lab"
TEMPLATES = Path(__file__).parent.parent / "templates"
ENGINES = ("kernel", "inprocess")
INJECTED_TAG = "injected-parameters"
PROVENANCE_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn",
                       "papermill", "nbconvert", "ipython")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------- provenance
def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "--no-optional-locks", "-C", str(paths.ROOT), *args],
                             check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


DIRTY = " (with uncommitted changes)"


@functools.lru_cache(maxsize=1)
def provenance() -> dict[str, Any]:
    """Project commit and package versions, once per process (a batch computes it before forking)."""
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    if commit != "unknown" and _git("status", "--porcelain", "--untracked-files=no"):
        commit += DIRTY
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


# --------------------------------------------------------------------------- execution
CellHook = Callable[..., Any]


def execute(job: Job, timeout: int = 600, kernel_name: str | None = None,
            executed_dir: Path = EXECUTED_DIR, engine: str = "kernel",
            on_cell_start: CellHook | None = None, source: str | None = None,
            out: Path | None = None, clock: Any = None) -> Any:
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
        from helpers.batch import engine as batch_engine

        options["engine_name"] = batch_engine.ENGINE_NAME
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
    if clock is not None:
        clock.lap("prepare")
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
    typed_translator()
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

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="report",
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    # the template's words in the report's language (to_html sets it around the export);
    # ``ngettext`` for the plural of a count
    exporter.environment.globals["_"] = lambda message: i18n.gettext(message)
    exporter.environment.globals["ngettext"] = (
        lambda singular, plural, n: i18n.ngettext(singular, plural, n))
    return exporter


def _title(nb: Any, job: Job, language: str | None = None) -> str:
    """The notebook's first heading (else its file name) and the segment."""
    segment = segment_text(job.segment, language)
    for cell in nb.cells:
        match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE) if cell.cell_type == "markdown" else None
        if match:
            return f"{match.group(1).strip()} — {segment}"
    return f"{job.stem} — {segment}"


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


#: What the parameters box calls each parameter (English message ids); a parameter not listed
#: shows its name with spaces.
PARAMETER_LABELS = {
    "data_dir": N_("Processed data folder"),
    "segment": N_("Segment"),
    "exclude": N_("Flagged respondents left out"),
    "language": N_("Language"),
    "min_cell": N_("Minimum cell size"),
    "missing": N_("Missing answers in alpha"),
    "adjust": N_("Multiple-testing correction"),
    "conf": N_("Confidence level"),
    "drivers": N_("Drivers"),
    "controls": N_("Controls"),
    "n_boot": N_("Bootstrap resamples"),
    "seed": N_("Random seed"),
    "continuous": N_("Drivers per SD (exploratory models)"),
    "predictor": N_("Predictor"),
    "outcome": N_("Outcome"),
    "center": N_("Centring"),
    "min_pairs": N_("Minimum CMO–CIO pairs"),
    "min_lines": N_("Minimum ledger lines per firm-year"),
    "wave_years": N_("Fiscal year of each wave"),
}
#: What ``None`` means for a parameter (else "none").
PARAMETER_NONE = {
    "drivers": N_("every driver the survey asked"),
    "continuous": N_("the drivers asked on a rating scale"),
    "predictor": N_("chosen by the report's rule"),
    "outcome": N_("chosen by the report's rule"),
    "adjust": N_("no correction"),
    "center": N_("raw scores"),
}
#: Parameters whose values name survey fields or constructs (shown by their labels).
NAMED_PARAMETERS = ("controls", "drivers", "continuous", "predictor", "outcome")
#: Coded parameter values in words.
PARAMETER_VALUES = {
    ("adjust", "holm"): N_("Holm"),
    ("adjust", "fdr_bh"): N_("Benjamini–Hochberg (false discovery rate)"),
    ("adjust", "bonferroni"): N_("Bonferroni"),
    ("center", "pooled"): N_("grand mean of both executives"),
    ("center", "separate"): N_("each role's own mean"),
    ("missing", "pairwise"): N_("pairwise"),
    ("missing", "listwise"): N_("listwise"),
    ("exclude", "speeder"): N_("speeders"),
    ("exclude", "straight_lining"): N_("straight-liners"),
    ("language", "EN"): N_("English"),
    ("language", "DE"): N_("German"),
    ("language", "NL"): N_("Dutch"),
    ("language", "DA"): N_("Danish"),
}


def notebook_parameters(nb: Any) -> dict[str, Any]:
    """The parameters cell of a notebook (a node) as names and default values, in cell order:
    every top-level assignment of a literal (the cell holds literals only)."""
    import ast

    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return {}
            found: dict[str, Any] = {}
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    with contextlib.suppress(ValueError, TypeError, SyntaxError):
                        found[node.targets[0].id] = ast.literal_eval(node.value)
            return found
    return {}


def effective_parameters(nb: Any, injected: dict[str, Any]) -> dict[str, Any]:
    """Every parameter the run used: the parameters cell's defaults overridden by the injected
    values (in the cell's order; injected names the cell does not have last)."""
    return {**notebook_parameters(nb), **injected}


def segment_text(segment: dict[str, Any], language: str | None = None) -> str:
    """The segment in words, in the reader's language: ``Country: DE, Wave: 2``, ``Country:
    Other (BE, DK, SE)``, or ``Whole sample``."""
    from helpers import labels

    if not segment:
        return i18n.gettext(N_("Whole sample"), language)

    def text(v: Any) -> str:
        if isinstance(v, list | tuple):
            if len(v) > 1:
                return i18n.gettext(N_("Other ({values})"), language).format(
                    values=", ".join(map(text, v)))
            return text(v[0]) if v else ""
        return i18n.gettext(N_("not stated"), language) if v is None else str(v)

    return ", ".join(f"{labels.column(k, language)}: {text(v)}" for k, v in segment.items())


def parameter_label(name: str, language: str | None = None) -> str:
    """What the parameters box calls a parameter."""
    label = PARAMETER_LABELS.get(name)
    return i18n.gettext(label, language) if label else name.replace("_", " ").capitalize()


def parameter_value(name: str, value: Any, language: str | None = None) -> str:
    """A parameter's value as a reader reads it: lists and dicts as text, ``None`` as what it
    means, coded values in words, a confidence level as a percentage."""
    def word(v: Any) -> str:
        if v is None:
            return i18n.gettext(PARAMETER_NONE.get(name, N_("none")), language)
        if isinstance(v, bool):
            return i18n.gettext(N_("yes") if v else N_("no"), language)
        if isinstance(v, str) and (name, v) in PARAMETER_VALUES:
            return i18n.gettext(PARAMETER_VALUES[(name, v)], language)
        if isinstance(v, str) and name in NAMED_PARAMETERS:
            from helpers import labels

            return labels.column(v, language)
        if isinstance(v, float):
            return f"{v:g}".replace(".", i18n.decimal_symbol(language))
        if isinstance(v, dict):
            return ", ".join(f"{word(k)}: {word(x)}" for k, x in v.items()) \
                or i18n.gettext(N_("none"), language)
        if isinstance(v, list | tuple):
            return ", ".join(word(x) for x in v) or i18n.gettext(N_("none"), language)
        return scrub(str(v))

    if name == "segment" and isinstance(value, dict):
        return segment_text(value, language)
    if _has_typed_keys(value):  # {1: 2023} is not {"1": 2023}: the literal that was used
        return scrub(python_literal(value))
    if name == "conf" and isinstance(value, int | float) and 0 < value < 1:
        return i18n.percent(value, 1 if round(value * 100) != value * 100 else 0, language,
                            scale=100)
    return word(value)


def _chosen_value(name: str, value: Any, doc: dict[str, Any], language: str) -> str:
    """A parameter's value; for a construct the report chose by its rule (``None``), the one it
    chose, as recorded in its results (``constructs``)."""
    chosen = ((doc.get("results") or {}).get("constructs") or {}).get("value")
    if value is None and isinstance(chosen, dict) and isinstance(chosen.get(name), str):
        from helpers import labels

        return i18n.gettext(N_("{construct}, chosen by the report's rule"), language).format(
            construct=labels.column(chosen[name], language))
    return parameter_value(name, value, language)


def _doi_apart(reference: str) -> tuple[str, str | None]:
    """A reference's text and its DOI address (shown as a link, set as an identifier), if any."""
    match = re.search(r"\s(https://doi\.org/\S+)$", reference)
    return (reference[: match.start()], match.group(1)) if match else (reference, None)


def report_language(parameters: dict[str, Any]) -> str:
    """The language a report is written in: its ``language`` parameter (English when it is
    missing or not one of :data:`helpers.i18n.LOCALES`)."""
    try:
        return i18n.normalise(parameters.get("language"))
    except ValueError:
        return i18n.SOURCE_LANGUAGE


def report_context(job: Job, doc: dict[str, Any], executed: Path | None = None,
                   parameters: dict[str, Any] | None = None, *,
                   front: bool = True) -> dict[str, Any]:
    """What the report template shows beyond the notebook: summary, "how to read", parameters
    box (``parameters``: every parameter the run used, default the job's), banner, methods note
    with references and footer — in the report's language. ``front=False`` (an error page)
    leaves out the summary and the methods note (which import the modules whose minimums they
    state)."""
    from helpers import methods, summary

    params = dict(job.parameters if parameters is None else parameters)
    language = report_language(params)
    prov = doc.get("provenance") or {}
    fp = doc.get("fingerprint") or {}
    rendered = doc.get("rendered_at")
    with contextlib.suppress(ValueError, TypeError):
        rendered = f"{i18n.datetime(rendered, language)} UTC" if rendered else rendered
    note = methods.note(job.stem, params, language) if front else methods.Note((), ())
    commit = str(prov.get("commit", "unknown"))
    if commit.endswith(DIRTY):
        commit = i18n.gettext(N_("{commit} (with uncommitted changes)"), language).format(
            commit=commit[: -len(DIRTY)])
    return {
        "job": job.key,
        "language": language,
        "html_lang": language.lower(),
        "segment": segment_text(job.segment, language),
        "synthetic": bool(doc.get("synthetic")),
        "parameters": [(parameter_label(k, language), _chosen_value(k, v, doc, language))
                       for k, v in params.items()],
        "parameters_json": canonical_json(scrub_value(job.parameters)),
        "findings": ([f.sentence for f in summary.findings(doc, language)]
                     if doc and front else []),
        "how_to_read": summary.how_to_read(job.stem, params, language) if front else [],
        "methods": list(note.paragraphs),
        "references": [(n, *_doi_apart(text)) for n, text in note.references],
        "commit": commit,
        "data_fingerprint": doc.get("data_fingerprint") or fp.get("data") or "unknown",
        "packages": " · ".join(f"{k} {v}" for k, v in (prov.get("packages") or {}).items()),
        "rendered_at": rendered,
        "seconds": i18n.number(doc["seconds"], 2, language) if isinstance(
            doc.get("seconds"), int | float) else doc.get("seconds"),
        "engine": doc.get("engine"),
        "executed": public_path(executed) if executed else None,
        "csp_meta": markup.csp_meta(),  # the template puts no script on the page
        "front_at_top": True,
    }


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


_HEADING = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>((?:(?!</h[1-6]>).)*?)<a class="anchor-link"',
                      re.DOTALL)


def _with_toc(body: str, language: str | None = None) -> str:
    """Fill the table of contents from the headings (the notebook's translated markdown headings,
    the methods note and the references): after the parameters box, or at the top of the page
    when there is none."""
    headings = [(int(level), anchor, re.sub(r"<[^>]+>", "", text).strip())
                for level, anchor, text in _HEADING.findall(body)]
    top = min((level for level, _, _ in headings), default=1)
    entries = [(level, anchor, text) for level, anchor, text in headings
               if level > top or sum(lv == top for lv, _, _ in headings) > 1]
    nav = ""
    if entries:
        items = "".join(f'<li class="dl-toc-{level - top}"><a href="#{anchor}">{text}</a></li>'
                        for level, anchor, text in entries)
        title = markup.text(i18n.gettext(N_("Contents"), language))
        nav = (f'<nav class="dl-box dl-toc" aria-label="{title}"><h2>{title}</h2><ul>{items}</ul>'
               "</nav>")
    spot = "<!-- dl:toc -->" if "<!-- dl:toc -->" in body else "<!-- dl:toc-top -->"
    body = body.replace(spot, nav, 1)
    return body.replace("<!-- dl:toc -->", "").replace("<!-- dl:toc-top -->", "")


TABLE_NUMBER = N_("Table {n}.")
FIGURE_NUMBER = N_("Figure {n}.")
_NUMBERED = re.compile(r'<caption(?P<table>[^>]*)>|<figure class="dl-figure[^"]*"[^>]*>'
                       r'|<figcaption(?P<figure>[^>]*)>')


def number_tables_and_figures(body: str, language: str | None = None) -> str:
    """Number every table caption and every figure caption in document order ("Table 1.",
    "Figure 1." in the reader's language). A table without a caption and a figure without a
    caption are counted where they stand all the same (a figure gets its number as caption)."""
    counts = {"table": 0, "figure": 0}
    open_figure = False

    def number(kind: str) -> str:
        counts[kind] += 1
        text = i18n.gettext(TABLE_NUMBER if kind == "table" else FIGURE_NUMBER, language)
        return (f'<span class="dl-number">{markup.text(text.format(n=counts[kind]))}</span> ')

    out, last = [], 0
    for m in _NUMBERED.finditer(body):
        out.append(body[last:m.end()])
        last = m.end()
        tag = m.group(0)
        if tag.startswith("<caption"):
            out.append(number("table"))
        elif tag.startswith("<figure"):
            open_figure = True
        elif open_figure:  # the caption of the figure just opened
            open_figure = False
            out.append(number("figure"))
    out.append(body[last:])
    return "".join(out)


def translate_markdown_cells(nb: Any, language: str) -> Any:
    """Every markdown cell in ``language`` (its whole text is the message id), in place, before
    the cells become HTML: headings, narrative and the table of contents built from them."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = i18n.translate_markdown(cell.source, language)
    return nb


def _is_banner(out: Any) -> bool:
    return "synthetic-banner" in str(out.get("data", {}).get("text/html", ""))


def _has_banner(nb: Any) -> bool:
    """Whether the notebook shows the synthetic-data banner itself (``tables.synthetic_banner``)."""
    return any(_is_banner(out) for cell in nb.cells for out in cell.get("outputs", []))


def _without_banner(nb: Any) -> Any:
    """The notebook without its own synthetic-data banner outputs, in place: the page shows the
    banner once, at the top, before the summary."""
    for cell in nb.cells:
        if cell.get("outputs"):
            cell["outputs"] = [out for out in cell["outputs"] if not _is_banner(out)]
    return nb


def _has_parameters_cell(nb: Any) -> bool:
    return any(cell.cell_type == "code" and {"parameters", INJECTED_TAG}
               & set(cell.metadata.get("tags", [])) for cell in nb.cells)


def to_html(nb: Any, job: Job, doc: dict[str, Any], executed: Path | None = None) -> str:
    """Export an executed notebook (results already lifted out) to the offline report HTML, in
    the report's language (its ``language`` parameter): markdown translated, summary and "how to
    read" first, every parameter in the parameters box, tables and figures numbered, methods
    note and references last.

    The synthetic-data banner is the template's, at the top (a banner the notebook shows itself
    moves there).
    """
    parameters = effective_parameters(nb, job.parameters)
    language = report_language(parameters)
    translate_markdown_cells(nb, language)
    nb.metadata["title"] = _title(nb, job, language)
    context = report_context(job, doc, executed, parameters)
    context["synthetic"] = context["synthetic"] or _has_banner(nb)
    context["front_at_top"] = not _has_parameters_cell(nb)
    _without_banner(nb)
    exporter = _exporter()
    exporter.language_code = language.lower()  # <html lang="de">
    with i18n.using(language):
        body, _ = exporter.from_notebook_node(nb, resources={"report": context})
    return number_tables_and_figures(_with_toc(body, language), language)


def error_page(job: Job, failure: Failure, doc: dict[str, Any] | None = None,
               executed: Path | None = None, kept: dict[str, Any] | None = None,
               reports_dir: Path = paths.REPORTS) -> str:
    """A self-contained page saying which report failed, in which cell, and why; and, when the
    previous good report was kept (``kept``: its results), from when it is and where — in the
    report's language (the message and the cell stay as Python wrote them).

    Local paths in the message and the cell are shown relative to the project (:func:`scrub`).
    """
    language = report_language(job.parameters)
    say = lambda message: i18n.gettext(message, language)  # noqa: E731
    ctx = report_context(job, doc or {}, executed, front=False)
    esc = html.escape
    parts = [('<div class="dl-failed" role="alert">' + esc(say(N_(
        "Report failed: {report} ({segment})")).format(report=job.key, segment=ctx["segment"]))
              + "</div>")]
    if kept is not None:
        page = job.html_path(reports_dir).name
        text = esc(say(N_("The previous good report, rendered {when}, is kept: {link}."))).format(
            when=esc(time_label(kept.get("rendered_at"))),
            link=f'<a href="{esc(quote(page))}">{esc(page)}</a>')
        parts.append(f'<p class="dl-kept">{text}</p>')
    if failure.source is not None:
        if failure.cell_index is not None and failure.execution_count:
            where = say(N_("Failing cell: In [{count}], cell {cell} of the executed notebook")
                        ).format(count=failure.execution_count, cell=failure.cell_index + 1)
        elif failure.cell_index is not None:
            where = say(N_("Failing cell: cell {cell} of the executed notebook")).format(
                cell=failure.cell_index + 1)
        else:
            where = say(N_("Failing cell: a cell of the executed notebook"))
        parts.append(f"<h2>{esc(where)}</h2>"
                     f'<pre class="dl-source">{esc(scrub(failure.source))}</pre>')
    parts.append(f"<h2>{esc(say(N_('Message')))}</h2>"
                 f'<pre class="dl-message">{esc(scrub(failure.message))}</pre>')
    parts.append(f"<h2>{esc(say(N_('Parameters')))}</h2><table>" + "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in ctx["parameters"]) + "</table>")
    if ctx["executed"]:
        parts.append("<p>" + esc(say(N_("Executed notebook, with the code: {path}"))).format(
            path=f"<code>{esc(ctx['executed'])}</code>") + "</p>")
    parts.append(f"<footer>{esc(say(N_('commit')))} {esc(ctx['commit'])} · "
                 f"{esc(ctx['packages'])} · {esc(str(ctx['rendered_at'] or ''))}</footer>")
    title = say(N_("FAILED: {report}")).format(report=job.key)
    return (f'<!DOCTYPE html>\n<html lang="{language.lower()}"><head><meta charset="utf-8">'
            + markup.csp_meta() + ERROR_PAGE_MARKER +
            f"<title>{esc(title)}</title><style>{_ERROR_CSS}</style></head><body>"
            + "".join(parts) + "</body></html>\n")


_ERROR_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;"
    "color:#222}.dl-failed{background:#FDECEA;border:2px solid #B00020;padding:.6em 1em;"
    "font-weight:bold}pre{background:#F6F6F6;padding:.6em;overflow-x:auto;white-space:pre-wrap}"
    "th{text-align:left;padding-right:1em}footer{margin-top:2em;font-size:.85em;color:#555}"
)


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
    results file, written as one change (:func:`_commit`); returns the page's path. ``heading``
    is already in the report's language."""
    language = report_language(job.parameters)
    title = html.escape(f"{heading}: {job.key}")
    page = (f'<!DOCTYPE html>\n<html lang="{language.lower()}"><head><meta charset="utf-8">'
            + markup.csp_meta() +
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
    language = report_language(job.parameters)
    body = (f'<p role="note">{_sentence(reason)}</p><p>' + html.escape(i18n.gettext(N_(
        "To protect respondents, this report shows no numbers for segments in which a group has "
        "fewer than {min_cell} respondents (the minimum cell size). Widen the segment or combine "
        "waves to report it."), language).format(min_cell=min_cell)) + "</p>")
    target = _write_short_page(job, doc, i18n.gettext(N_("Too few responses"), language), body,
                               reports_dir, executed_dir)
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
    language = report_language(job.parameters)
    say = lambda message: i18n.gettext(message, language)  # noqa: E731
    body = ("<p>" + html.escape(say(N_("Segment: {segment}")).format(
                segment=segment_text(job.segment, language))) + "</p>"
            f'<p role="note" class="not-applicable">{_sentence(reason)}</p><p>'
            + html.escape(say(N_(
                "This report analyses data that the survey (or the processed data built from it) "
                "does not contain, so it shows nothing for it. Nothing failed: collect or map the "
                "data it needs and run {make_data} and {make_reports} again to get it.")))
            .format(make_data="<code>make data</code>", make_reports="<code>make reports</code>")
            + "</p>")
    target = _write_short_page(job, doc, say(N_("Not applicable")), body, reports_dir,
                               executed_dir)
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
        clock = _Clock()
        nb = execute(job, timeout=timeout, executed_dir=executed_dir, engine=engine,
                     on_cell_start=on_cell_start, source=source, out=attempt, clock=clock)
        clock.lap("execute")
        recorded = results.collect(nb)
        doc = _results_document(job, recorded, time.perf_counter() - start, fingerprint, engine)
        if engine == "inprocess":
            from helpers.batch import engine as batch_engine

            doc["import_warnings"] = [scrub(w) for w in batch_engine.IMPORT_WARNINGS]
        clock.lap("results")
        page = to_html(scrub_outputs(nb), job, doc, job.executed_path(executed_dir))
        clock.lap("export")
        target = _commit(job, page, doc, reports_dir, executed_dir)
        clock.lap("write")
        return JobResult(job, "ok", target, time.perf_counter() - start,
                         phases=clock.phases(cell_seconds(nb)))
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


class _Clock:
    """Laps of one report's rendering (:data:`helpers.batch.jobs.PHASES`)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last
        self.last = now

    def phases(self, cells: float) -> dict[str, float]:
        """The laps, with execution split into the cells' own time and the rest."""
        laps = dict(self.laps)
        execute = laps.pop("execute", 0.0)
        return {"prepare": laps.pop("prepare", 0.0), "cells": min(cells, execute),
                "execute_other": max(execute - cells, 0.0), **laps}


def cell_seconds(nb: Any) -> float:
    """The time a notebook's code cells took to run, from the durations papermill records
    per cell (``metadata.papermill.duration``)."""
    total = 0.0
    for cell in nb.cells:
        duration = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if cell.get("cell_type") == "code" and isinstance(duration, int | float):
            total += float(duration)
    return total


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

