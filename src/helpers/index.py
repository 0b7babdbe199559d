"""``reports/index.html``: every job of the batch, its status and key estimates, and forest plots.

The page is built from the results files beside the reports (``<report>.json``): a table per
notebook (segment, status — fresh, reused, not applicable, failed, stale or missing —, link, n,
key estimates) and,
for every term a notebook records under ``"key_estimates"`` (columns term, estimate, ci_low,
ci_high, …), a forest plot of that term across segments, drawn with :func:`helpers.plots.interval_plot`
and embedded as a PNG. Plots are cached by content (``build/index-cache``) and missing ones drawn
in parallel, so a rebuild with nothing changed draws none and imports no plotting library. The
page is self-contained: inline styles, no scripts.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import itertools
import json
import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from helpers import atomic, heterogeneity, markup, reporting
from helpers.headlines import format_p
from helpers.reporting import Job

if TYPE_CHECKING:
    from helpers.batch import Outcome

KEY = "key_estimates"
PLOT_VERSION = "1"  # bump to redraw cached plots after changing how they are drawn
SHOWN_TERMS = 3


def _rows(doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The key-estimate rows of a results file (empty when none were recorded)."""
    table = ((doc or {}).get("results") or {}).get(KEY) or {}
    return [r for r in table.get("rows") or [] if r.get("term") is not None]


def _number(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.3g}"


def _estimates_cell(rows: list[dict[str, Any]]) -> str:
    """The first few key estimates; all of them in the cell's tooltip."""
    every = [f"{r['term']} {_number(r.get('estimate'))} "
             f"[{_number(r.get('ci_low'))}, {_number(r.get('ci_high'))}]" for r in rows]
    more = f" +{len(rows) - SHOWN_TERMS} more" if len(rows) > SHOWN_TERMS else ""
    return (f'<span class="est" title="{html.escape(chr(10).join(every))}">'
            + "<br>".join(html.escape(e) for e in every[:SHOWN_TERMS]) + more + "</span>")


# --------------------------------------------------------------------------- forest plots
@dataclass(frozen=True)
class ForestPlot:
    """One term of one notebook across segments: rows of segment, estimate, ci_low, ci_high."""

    stem: str
    term: str
    rows: tuple[tuple[str, float, float, float], ...]

    @property
    def title(self) -> str:
        return f"{self.stem}: {self.term} across segments"

    def cache_path(self, cache_dir: Path) -> Path:
        key = json.dumps([PLOT_VERSION, self.title, self.rows])
        return cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.png"


def _interval(row: dict[str, Any]) -> tuple[float, float, float] | None:
    """Estimate, lower and upper bound of a key-estimate row, when they are ordered numbers."""
    est, low, high = row.get("estimate"), row.get("ci_low"), row.get("ci_high")
    if all(isinstance(v, int | float) and math.isfinite(v) for v in (est, low, high)):
        return (est, low, high) if low <= est <= high else None
    return None


def forest_plots(stem: str, jobs: Sequence[tuple[Job, dict[str, Any]]]) -> list[ForestPlot]:
    """A plot per recorded term, with a row per segment that has a complete estimate and interval."""
    terms = list(dict.fromkeys(str(r["term"]) for _, doc in jobs for r in _rows(doc)))
    labels = [reporting.segment_label(job.segment) for job, _ in jobs]
    if len(set(labels)) < len(labels):  # other grid parameters too: the names tell them apart
        labels = [job.name for job, _ in jobs]
    found = []
    for term in terms:
        rows = tuple((label, *interval) for label, (_, doc) in zip(labels, jobs, strict=True)
                     for row in _rows(doc)
                     if str(row["term"]) == term and (interval := _interval(row)))
        if rows:
            found.append(ForestPlot(stem, term, rows))
    return found


def _draw(plot: ForestPlot, cache_dir: Path) -> None:
    """Draw a forest plot into the cache (the project theme, restored afterwards).

    A plot that cannot be drawn is left out of the index rather than failing it.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    import pandas as pd

    from helpers import plots

    frame = pd.DataFrame(list(plot.rows), columns=["segment", "estimate", "ci_low", "ci_high"])
    spans_zero = frame["ci_low"].min() <= 0 <= frame["ci_high"].max()
    with matplotlib.rc_context(), contextlib.suppress(Exception):
        plots.set_theme()
        fig = plots.interval_plot(frame, label="segment", title=plot.title,
                                  xlabel="Estimate with confidence interval",
                                  reference=0.0 if spans_zero else None)
        fig.axes[0].set_ylabel("Segment")
        with atomic.atomic_open(plot.cache_path(cache_dir), "wb") as fh:
            fig.savefig(fh, format="png", dpi=80)
    plt.close("all")


def draw_missing(forests: Sequence[ForestPlot], cache_dir: Path, workers: int = 1) -> int:
    """Draw the plots not in the cache yet, in parallel (forked processes) where possible."""
    missing = [p for p in forests if not p.cache_path(cache_dir).exists()]
    if missing:
        import helpers.plots  # noqa: F401 -- imported once here, not in every forked process
    if len(missing) > 1 and workers > 1 and hasattr(os, "fork"):
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(missing)), mp_context=context) as pool:
            list(pool.map(_draw, missing, itertools.repeat(cache_dir)))
    else:
        for plot in missing:
            _draw(plot, cache_dir)
    return len(missing)


def _figures(forests: Sequence[ForestPlot], cache_dir: Path) -> str:
    forests = [p for p in forests if p.cache_path(cache_dir).exists()]
    figures = "".join(
        f'<figure><img alt="Forest plot of {html.escape(p.term)} across segments of '
        f'{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.cache_path(cache_dir).read_bytes()).decode()}">'
        f"<figcaption>{html.escape(p.term)}</figcaption></figure>" for p in forests)
    return figures and ('<details class="forest" open><summary>Key estimates across segments '
                        f"({len(forests)} terms)</summary>{figures}</details>")


def _prune(cache_dir: Path, forests: Sequence[ForestPlot]) -> None:
    """Drop cached plots this index no longer shows."""
    used = {p.cache_path(cache_dir).name for p in forests}
    for png in cache_dir.glob("*.png"):
        if png.name not in used:
            with contextlib.suppress(OSError):
                png.unlink()


# --------------------------------------------------------------------------- the page
def _link(path: Path, reports_dir: Path) -> str | None:
    """A page's address relative to the index, when the page exists inside the reports folder."""
    try:
        rel = path.relative_to(reports_dir)
    except ValueError:
        return None
    return quote(rel.as_posix()) if path.is_file() else None


def _job_row(outcome: Outcome, doc: dict[str, Any] | None, reports_dir: Path) -> str:
    """One job: its name (linked to the report, or to the error page when there is no good
    report), segment, status, n, key estimates or why there are none, when it was rendered.

    A failed job whose previous good report was kept links both and says from when the kept
    one is; every message shows paths relative to the project (:func:`reporting.scrub`).
    """
    job = outcome.job
    report = _link(job.html_path(reports_dir), reports_dir)
    error_page = _link(job.error_path(reports_dir), reports_dir)
    failed = outcome.status == "failed"
    kept = failed and report is not None and (doc or {}).get("status") == "ok"
    target = report if report and (kept or not failed) else error_page if failed else None
    name = (f'<a href="{html.escape(target)}">{html.escape(job.name)}</a>' if target
            else html.escape(job.name))
    detail = _estimates_cell(_rows(doc))
    if (doc or {}).get("too_few"):
        detail = '<span class="too-few">too few responses to report (suppressed)</span>'
    status = _label(outcome, doc)
    css = status.replace(" ", "-")
    if status == "not applicable":
        reason = outcome.not_applicable or (doc or {}).get("not_applicable") or ""
        detail = f'<span class="na">{html.escape(reporting.scrub(reason))}</span>'
    when = (doc or {}).get("rendered_at") or ""
    if failed:
        failure = reporting.last_failure(doc) or {}
        error = reporting.scrub(outcome.error or failure.get("error") or "").strip().splitlines()
        detail = f'<span class="err">{html.escape(error[-1] if error else "failed")}</span>'
        if error_page and target != error_page:
            detail += f' · <a href="{html.escape(error_page)}">error page</a>'
        if kept:
            detail += (' <span class="kept">previous good report from '
                       f"{html.escape(reporting.time_label(when))} kept</span>")
        else:
            when = failure.get("attempted_at") or when
    n = (doc or {}).get("n") if not failed or kept else None
    return (f'<tr class="{css}"><td>{name}</td>'
            f"<td>{html.escape(reporting.segment_label(job.segment))}</td>"
            f'<td><span class="status {css}">{status}</span></td>'
            f"<td class=\"num\">{'' if n is None else html.escape(str(n))}</td><td>{detail}</td>"
            f"<td>{html.escape(reporting.time_label(when))}</td></tr>")


def _label(outcome: Outcome, doc: dict[str, Any] | None) -> str:
    """fresh, reused, failed, stale, missing — or *not applicable* for a rendered report whose
    survey lacks what it needs (``helpers.errors.NotApplicable``)."""
    reason = outcome.not_applicable or (doc or {}).get("not_applicable")
    return "not applicable" if reason and outcome.status in ("fresh", "reused") \
        else outcome.status


def _headline_rows(doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The headline rows of a good report's results file (empty when none were recorded)."""
    if not doc or doc.get("status") != "ok":
        return []
    table = (doc.get("results") or {}).get(heterogeneity.KEY) or {}
    return [r for r in table.get("rows") or [] if r.get("key")]


def _segment_tests(items: list[tuple[Outcome, dict[str, Any] | None]]) -> str:
    """"Do segments differ?": one corrected test per headline and dimension
    (:func:`helpers.heterogeneity.segment_tests`); empty when no segment recorded headlines."""
    table = heterogeneity.segment_tests((o.job.segment, _headline_rows(d)) for o, d in items)
    if table.empty:
        return ""
    body = "".join(
        f"<tr><td>{html.escape(str(r.label))}</td><td>{html.escape(r.dimension)}</td>"
        f'<td class="num">{r.parts}</td><td class="num">{_number(r.q)}</td>'
        f'<td class="num">{"" if math.isnan(r.df) else int(r.df)}</td>'
        f'<td class="num">{html.escape(format_p(r.p_value)) if r.p_value == r.p_value else ""}'
        f'</td><td class="num">'
        f'{html.escape(format_p(r.p_holm)) if r.p_holm == r.p_holm else ""}</td>'
        f"<td>{html.escape(r.reading)}</td></tr>" for r in table.itertuples())
    return ('<details class="segments" open><summary>Do segments differ? One test per headline '
            "estimate and segment dimension</summary><p>Cochran's Q on the segment estimates, "
            "equal to the Wald test of the segment interactions in the fully interacted pooled "
            "model (segments share no firms); Holm-corrected over every test of this notebook. "
            "A single segment's estimate is not evidence that the segment differs.</p>"
            "<table><thead><tr><th>Estimate</th><th>Dimension</th><th>Segments</th><th>Q</th>"
            "<th>df</th><th>p</th><th>p (Holm)</th><th>Reading</th></tr></thead>"
            f"<tbody>{body}</tbody></table></details>")


def _notebook_section(stem: str, items: list[tuple[Outcome, dict[str, Any] | None]],
                      reports_dir: Path, figures: str) -> str:
    rows = "".join(_job_row(o, d, reports_dir) for o, d in items)
    return (f'<section id="{html.escape(stem)}"><h2>{html.escape(stem)}</h2>'
            f"{_segment_tests(items)}{figures}"
            "<table><thead><tr><th>Report</th><th>Segment</th><th>Status</th><th>n</th>"
            "<th>Key estimates [CI]</th><th>Rendered</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def render_index(outcomes: Sequence[Outcome], reports_dir: Path, cache_dir: Path,
                 workers: int = 1, plots: bool = True) -> str:
    """The index page for a run's outcomes (results files read from ``reports_dir``);
    ``plots=False`` leaves the forest plots out (and says so), for a nearly full disk."""
    docs = {o.job.key: reporting.read_results(o.job, reports_dir) for o in outcomes}
    by_notebook: dict[str, list[tuple[Outcome, dict[str, Any] | None]]] = {}
    for o in outcomes:
        by_notebook.setdefault(o.job.stem, []).append((o, docs[o.job.key]))
    forests = {stem: forest_plots(stem, [(o.job, d) for o, d in items
                                         if d and d.get("status") == "ok"])
               for stem, items in by_notebook.items()}
    every_plot = [p for found in forests.values() for p in found]
    if plots:
        draw_missing(every_plot, cache_dir, workers)
    sections = "".join(_notebook_section(stem, items, reports_dir,
                                         _figures(forests[stem], cache_dir) if plots else "")
                       for stem, items in by_notebook.items())
    if plots:
        _prune(cache_dir, every_plot)
    labels = [_label(o, docs[o.job.key]) for o in outcomes]
    counts = {s: labels.count(s)
              for s in ("fresh", "reused", "not applicable", "failed", "stale", "missing")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    synthetic = any(d and d.get("synthetic") for d in docs.values())
    banner = ('<div class="banner" role="note">SYNTHETIC DATA — these reports were built from '
              "the simulated sample, not from real respondents.</div>" if synthetic else "")
    nav = " · ".join(f'<a href="#{html.escape(s)}">{html.escape(s)}</a>' for s in by_notebook)
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", " UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + markup.csp_meta() +
            f"<title>Disconnect Lab reports</title><style>{_CSS}</style></head><body>"
            f"<h1>Disconnect Lab reports</h1>{banner}"
            f"<p>{len(outcomes)} reports: {summary}. Index written {now}.</p>"
            + ("" if plots else '<p role="note">The forest plots were left out: the disk was '
               "too full to write them.</p>") +
            f"<nav>{nav}</nav>{sections}</body></html>\n")


def write_index(outcomes: Sequence[Outcome], reports_dir: Path,
                executed_dir: Path = reporting.EXECUTED_DIR, workers: int = 1,
                plots: bool = True) -> Path:
    """Write ``<reports_dir>/index.html`` atomically (the old index stays whole when this
    raises ``OSError``; :func:`helpers.batch.publish_index` handles that).

    Plots are cached in ``index-cache`` beside the executed-notebooks folder (``build/``).
    """
    target = reports_dir / "index.html"
    cache_dir = executed_dir.parent / "index-cache"
    atomic.write_text(target, render_index(outcomes, reports_dir, cache_dir, workers, plots))
    return target


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;"
    "margin:1em auto;padding:0 1em;color:#222}h1{margin-bottom:.2em}"
    "table{border-collapse:collapse;width:100%;font-size:.88em;margin:.5em 0}"
    "th,td{border-bottom:1px solid #E2E6EA;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#F5F8FA}td.num{text-align:right}"
    ".est{font-size:.9em;color:#333}"
    ".status{padding:.05em .45em;border-radius:3px;font-size:.9em;font-weight:600}"
    ".status.fresh{background:#E3F4EA;color:#11612F}.status.reused{background:#EEF1F4;color:#37474F}"
    ".status.failed{background:#FDECEA;color:#B00020}.status.stale,.status.missing"
    "{background:#FFF4E5;color:#7A4100}.err{color:#B00020}"
    ".status.not-applicable{background:#EEF1F4;color:#37474F;font-style:italic}.na{color:#37474F}"
    ".kept{color:#37474F;font-style:italic}"
    ".banner{border:2px solid #D55E00;background:#FFF4E5;color:#3D2000;padding:.6em 1em;"
    "font-weight:bold;margin:.6em 0}figure{display:inline-block;margin:.5em;vertical-align:top}"
    "figure img{max-width:390px;width:100%}figcaption{font-size:.85em;color:#555}"
    "summary{cursor:pointer;font-weight:600;margin:.5em 0}section{margin-top:1.5em}"
)
