"""``reports/index.html``: what the batch found, what differs between segments, and every report.

The page is built from the results files beside the reports (``<report>.json``) and reads top to
bottom as a reader asks:

1. **Summary.** The batch's status (how many reports are fresh, reused, failed, not applicable,
   stale or missing; each failure with a link to its error page) and the whole-sample findings
   of every notebook (:func:`helpers.summary.findings`), each linking to its report.
2. **What differs between segments**, one table per notebook: a row per key estimate (the
   headlines a report recorded, :class:`helpers.headlines.Headline`; for the data-quality and
   measurement reports the figures they record, :func:`estimates`) with its label and unit and the
   whole-sample value, interval and n; the segments grouped by dimension (country, industry, size
   band, wave — one row group each, with its own header row), every cell the segment report's
   estimate coloured by its verdict, with the n that report used and the interval in the cell's
   title; beside each row the test of whether the segments of that dimension differ
   (:func:`helpers.heterogeneity.segment_tests`: Cochran's Q, Holm-corrected).
3. **Every report**: link, segment, status, the n it used (its estimates' n with their unit —
   pairs, firm-waves, respondents — never the survey's respondents for a report that used pairs),
   errors and reasons.

A filter by segment dimension and by status works offline and without a script: radio buttons
whose ``:checked`` state CSS rules read, so the page's Content-Security-Policy allows no script at
all. Everything from the data (labels, units, segment values, job names, errors) is escaped
(:func:`helpers.markup.text`); numbers are in the index's language (:mod:`helpers.i18n`: the batch
defaults' ``language``, else English). No images: the page stays small (well under 1 MB for the
default batch of 138 reports) and needs nothing drawn, so writing it imports no plotting library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from helpers import atomic, heterogeneity, i18n, labels, markup, summary
from helpers.batch.jobs import Job, last_failure, read_results, scrub, time_label
from helpers.batch.plan import INDEX_STATE_META, Outcome
from helpers.headlines import VERDICTS, format_p, p_phrase, verdict, verdict_words
from helpers.i18n import N_, _, ngettext

STATUSES = ("fresh", "reused", "not applicable", "failed", "stale", "missing")
STATUS_WORDS = {"fresh": N_("fresh"), "reused": N_("reused"),
                "not applicable": N_("not applicable"), "failed": N_("failed"),
                "stale": N_("stale"), "missing": N_("missing")}
"""How each job status reads on the page (fresh: rendered by this run; reused: up to date;
stale: out of date and not re-rendered; missing: never rendered)."""
ALPHA = 0.05
"""Level of the Holm-corrected segment tests below which a dimension's segments "differ"."""
KEY_ESTIMATE_UNITS = {"01_measurement": N_("Cronbach's alpha")}
"""What a notebook's ``key_estimates`` table measures, for notebooks without headlines."""
_SIGNED_CSS = {"positive": "v-pos", "negative": "v-neg", "no evidence": "v-null",
               "not detectable": "v-null", "exploratory": "v-exp", "not estimable": "v-none"}


# --------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class Estimate:
    """One key estimate of one report, as the index shows it.

    ``key`` identifies the quantity across the segment reports of a notebook; ``verdict`` is a
    :data:`helpers.headlines.VERDICTS` code ("" for a descriptive figure such as a count);
    ``count`` marks a count (shown as an integer, without interval); ``difference`` a CMO − CIO
    difference (its signed verdicts read "CMOs higher" / "CIOs higher")."""

    key: str
    label: str
    unit: str = ""
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    std_error: float | None = None
    n: int | None = None
    n_unit: str = ""
    verdict: str = ""
    count: bool = False
    difference: bool = False

    @property
    def testable(self) -> bool:
        """An estimate with a verdict (a descriptive figure or a count is not tested)."""
        return self.verdict in VERDICTS and not self.count

    def row(self) -> dict[str, Any]:
        """The shape :func:`helpers.heterogeneity.segment_tests` reads."""
        return {"key": self.key, "label": self.label, "estimate": self.estimate,
                "std_error": self.std_error, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "verdict": self.verdict}


def _num(value: Any) -> float | None:
    """A finite number, or None (missing, NaN, text such as ``"<5"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    x = _num(value)
    return int(round(x)) if x is not None else None


def _table(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    entry = (doc.get("results") or {}).get(name)
    if isinstance(entry, dict) and isinstance(entry.get("rows"), list):
        return [r for r in entry["rows"] if isinstance(r, dict)]
    return []


def _role_gap_n(doc: dict[str, Any], key: str) -> int | None:
    """The firms behind a role gap whose headline did not record its n (``role_gaps``)."""
    construct = key.split(".", 1)[-1]
    for row in _table(doc, "role_gaps"):
        if row.get("construct") == construct:
            return _count(row.get("n_firms"))
    return None


def _from_headlines(doc: dict[str, Any]) -> list[Estimate]:
    found = []
    for row in _table(doc, heterogeneity.KEY):
        key = str(row.get("key") or "")
        if not key:
            continue
        n, n_unit = _count(row.get("n")), str(row.get("n_unit") or "")
        if n is None and key.startswith("role_gap."):
            n, n_unit = _role_gap_n(doc, key), _("firms")
            n_unit = n_unit if n is not None else ""
        found.append(Estimate(
            key=key, label=str(row.get("label") or key), unit=str(row.get("unit") or ""),
            estimate=_num(row.get("estimate")), ci_low=_num(row.get("ci_low")),
            ci_high=_num(row.get("ci_high")), std_error=_num(row.get("std_error")), n=n,
            n_unit=n_unit, verdict=str(row.get("verdict") or "not estimable"),
            difference=key.startswith("role_gap.")))
    return found


def _from_quality(doc: dict[str, Any]) -> list[Estimate]:
    """The data-quality report: respondents, complete pairs and the sensitivity line's
    CMO − CIO difference on the disconnect index (its first row: all respondents)."""
    rows = _table(doc, "sensitivity")
    first = rows[0] if rows else {}
    respondents = _count(first.get("respondents"))
    if respondents is None:
        respondents = _count(doc.get("n"))
    pairs = _count(first.get("pairs"))
    found = [Estimate("quality.respondents", _("Respondents"), estimate=respondents,
                      n=respondents, n_unit=_("respondents"), count=True)]
    if pairs is not None:
        found.append(Estimate("quality.pairs", _("Complete CMO–CIO pairs"), estimate=pairs,
                              n=pairs, n_unit=_("CMO–CIO pairs"), count=True))
    est, low, high = (_num(first.get(k)) for k in ("difference", "ci_low", "ci_high"))
    if rows:
        found.append(Estimate(
            "quality.role_difference", _("CMO − CIO difference on the disconnect index"),
            unit=_("points"), estimate=est, ci_low=low, ci_high=high, n=pairs,
            n_unit=_("CMO–CIO pairs") if pairs is not None else "",
            verdict=verdict(low, high, None), difference=True))
    return found


def _from_key_estimates(doc: dict[str, Any]) -> list[Estimate]:
    """A notebook's ``key_estimates`` table (term, estimate, interval), terms as labels."""
    stem = Path(str(doc.get("notebook") or "")).stem
    unit = _(KEY_ESTIMATE_UNITS[stem]) if stem in KEY_ESTIMATE_UNITS else ""
    n = _count(doc.get("n"))
    found = []
    for row in _table(doc, "key_estimates"):
        if row.get("term") is None:
            continue
        low, high = _num(row.get("ci_low")), _num(row.get("ci_high"))
        est = _num(row.get("estimate"))
        found.append(Estimate(
            key=f"term.{row['term']}", label=labels.term(row["term"]), unit=unit, estimate=est,
            ci_low=low, ci_high=high, std_error=_num(row.get("std_error")), n=n,
            n_unit=_("respondents") if n is not None else "",
            verdict=""))
    return found


def estimates(doc: dict[str, Any] | None) -> list[Estimate]:
    """The key estimates of a good report's results document (empty for a failed, "too few"
    or not applicable report): its headlines; for a report without headlines, the figures it
    records — the data-quality report's respondents, pairs and sensitivity line, else its
    ``key_estimates`` table."""
    if not doc or doc.get("status") != "ok" or doc.get("too_few") or doc.get("not_applicable"):
        return []
    if _table(doc, heterogeneity.KEY):
        return _from_headlines(doc)
    if _table(doc, "sensitivity") or _table(doc, "row_selection"):
        return _from_quality(doc)
    return _from_key_estimates(doc)


def used_n(found: Iterable[Estimate]) -> list[tuple[int, str]]:
    """The distinct (n, unit) a report's estimates used, in order: what the report's n is."""
    return list(dict.fromkeys((e.n, e.n_unit) for e in found if e.n is not None))


def _decimals(found: Iterable[Estimate]) -> int:
    """One number format per quantity: one decimal for percentages and percentage points,
    two otherwise (as the report summaries write them)."""
    units = " ".join(f" {e.unit} " for e in found)
    return 1 if ("%" in units or " pp " in units or "percentage point" in units) else 2


# --------------------------------------------------------------------------- jobs
@dataclass
class Item:
    """One job of the batch as the index shows it."""

    outcome: Any
    doc: dict[str, Any] | None
    status: str
    found: list[Estimate] = field(default_factory=list)

    @property
    def job(self) -> Job:
        return self.outcome.job


def status_of(outcome: Outcome, doc: dict[str, Any] | None) -> str:
    """fresh, reused, failed, stale, missing — or *not applicable* for a rendered report whose
    survey lacks what it needs (``helpers.errors.NotApplicable``)."""
    reason = outcome.not_applicable or (doc or {}).get("not_applicable")
    return "not applicable" if reason and outcome.status in ("fresh", "reused") \
        else outcome.status


def _shows_numbers(item: Item) -> bool:
    """A good report's numbers are shown (also a failed job's kept previous report); a "too
    few responses" or not applicable report has none."""
    doc = item.doc or {}
    return doc.get("status") == "ok" and item.status not in ("missing", "not applicable") \
        and not doc.get("too_few") and not doc.get("not_applicable")


def _link(path: Path, reports_dir: Path) -> str | None:
    """A page's address relative to the index, when the page exists inside the reports folder."""
    try:
        rel = path.relative_to(reports_dir)
    except ValueError:
        return None
    return quote(rel.as_posix()) if path.is_file() else None


def _target(item: Item, reports_dir: Path) -> str | None:
    """Where a job's name links: its report, or its error page when there is no good report."""
    report = _link(item.job.html_path(reports_dir), reports_dir)
    if item.status != "failed":
        return report
    kept = report is not None and (item.doc or {}).get("status") == "ok"
    return report if kept else _link(item.job.error_path(reports_dir), reports_dir)


def _value_label(value: Any) -> str:
    if isinstance(value, list | tuple):
        if len(value) == 1:
            return _value_label(value[0])
        return _("Other ({values})").format(values=", ".join(map(_value_label, value)))
    return _("not stated") if value is None else str(value)


def dimension_of(segment: dict[str, Any]) -> str | None:
    """The dimension a segment belongs to: its column (``country``), the columns joined for a
    crossed segment, None for the whole sample."""
    return " × ".join(segment) if segment else None


def dimension_label(dimension: str) -> str:
    return " × ".join(labels.column(d) for d in dimension.split(" × "))


def segment_text(segment: dict[str, Any]) -> str:
    """A segment in words: ``Country: DE`` (``Whole sample`` for ``{}``)."""
    if not segment:
        return _("Whole sample")
    return ", ".join(f"{labels.column(k)}: {_value_label(v)}" for k, v in segment.items())


def _distinction(item: Item, others: Sequence[Item]) -> str:
    """What sets a job apart from the other jobs of its segment (a grid over another
    parameter, e.g. ``language: DE``); empty when it is the segment's only job."""
    same = [o for o in others if o.job.segment == item.job.segment and o is not item]
    if not same:
        return ""
    differ = {k: v for k, v in item.job.parameters.items() if k != "segment"
              and any(o.job.parameters.get(k) != v for o in same)}
    return ", ".join(f"{k}: {_value_label(v)}" for k, v in differ.items()) or item.job.name


def _column_label(item: Item, others: Sequence[Item]) -> str:
    """A segment's column header: its value (and what sets it apart when two jobs share it)."""
    values = ", ".join(_value_label(v) for v in item.job.segment.values())
    apart = _distinction(item, others)
    return f"{values} ({apart})" if apart else values


def _notebook_title(stem: str, notebook: Path) -> str:
    """The notebook's first heading in the index's language (its file name in words when it
    has none)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells") or []
    except (OSError, ValueError):
        cells = []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        text = i18n.translate_markdown("".join(cell.get("source") or ""))
        for line in text.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return stem.replace("_", " ")


# --------------------------------------------------------------------------- cells
def _fmt(e: Estimate, value: float | None, decimals: int) -> str:
    if value is None:
        return "–"
    return i18n.integer(value) if e.count else i18n.number(value, decimals)


def _verdict_text(e: Estimate) -> str:
    if not e.verdict:
        return ""
    return verdict_words(e.verdict, difference=e.difference)


def _interval(e: Estimate, decimals: int) -> str:
    if e.ci_low is None or e.ci_high is None:
        return ""
    return _("CI {low} to {high}").format(low=_fmt(e, e.ci_low, decimals),
                                          high=_fmt(e, e.ci_high, decimals))


def _n_text(e: Estimate) -> str:
    return "" if e.n is None else _("n = {n} {unit}").format(n=i18n.integer(e.n),
                                                             unit=e.n_unit).strip()


def _describe(where: str, e: Estimate, decimals: int) -> str:
    """A cell's title: the segment, estimate, interval, n and verdict in one line."""
    parts = [f"{where}: {_fmt(e, e.estimate, decimals)}"]
    parts += [p for p in (_interval(e, decimals), _n_text(e), _verdict_text(e)) if p]
    return "; ".join(parts)


def _css(e: Estimate) -> str:
    return _SIGNED_CSS.get(e.verdict, "v-desc") if e.estimate is not None else "v-none"


def _cell(e: Estimate | None, item: Item, where: str, decimals: int) -> str:
    """One segment's estimate: the value coloured by its verdict, the n below; interval,
    n with unit and verdict in the title."""
    if not _shows_numbers(item):
        reason = {"failed": _("the report failed"), "missing": _("never rendered"),
                  "not applicable": _("not applicable")}.get(item.status, _("no estimate"))
        if (item.doc or {}).get("too_few"):
            reason = _("too few responses to report (suppressed)")
        return (f'<td class="cell v-none" title="{markup.text(f"{where}: {reason}")}">'
                "–</td>")
    if e is None:
        title = markup.text(_("{segment}: not recorded").format(segment=where))
        return f'<td class="cell v-none" title="{title}">–</td>'
    n = f'<span class="sm">{markup.text(i18n.integer(e.n))}</span>' \
        if e.n is not None and not e.count else ""
    return (f'<td class="cell {_css(e)}" title="{markup.text(_describe(where, e, decimals))}">'
            f"{markup.text(_fmt(e, e.estimate, decimals))}{n}</td>")


def _whole_cell(e: Estimate | None, decimals: int) -> str:
    """The whole-sample value with its interval and n written out (the reference of the row)."""
    if e is None:
        return '<td class="whole v-none">–</td>'
    title = markup.text(_describe(_("Whole sample"), e, decimals))
    value = f"<strong>{markup.text(_fmt(e, e.estimate, decimals))}</strong>"
    if e.ci_low is not None and e.ci_high is not None:
        ci = _("({low} to {high})").format(low=_fmt(e, e.ci_low, decimals),
                                           high=_fmt(e, e.ci_high, decimals))
        value += f' <span class="ci">{markup.text(ci)}</span>'
    n = "" if e.count or e.n is None else f'<span class="sm">{markup.text(_n_text(e))}</span>'
    return f'<td class="whole {_css(e)}" title="{title}">{value}{n}</td>'


def _test_cell(test: Any, dimension: str, testable: bool) -> str:
    """Do the segments of this dimension differ? In words, the Holm-corrected p in small text,
    the reading with Q and df in the title."""
    if not testable:
        why = markup.text(_("No test: a descriptive figure."))
        return f'<td class="test" title="{why}">–</td>'
    if test is None:
        return '<td class="test">–</td>'
    dim = dimension_label(dimension)
    if dimension in heterogeneity.NOT_INDEPENDENT:
        why = _("Not tested: the same firms answer in every wave, so the wave reports are not "
                "independent samples.")
        word = markup.text(_("not tested"))
        return f'<td class="test" title="{markup.text(why)}">{word}</td>'
    if not test.p_holm == test.p_holm:  # NaN: fewer than two segments with an estimate
        why = _("Not tested: fewer than two segments with an estimate.")
        return f'<td class="test" title="{markup.text(why)}">–</td>'
    p = format_p(test.p_holm)
    stats = _("Q = {q}, df = {df}, unadjusted {p}").format(
        q=i18n.number(test.q, 1), df=i18n.integer(test.df), p=p_phrase(test.p_value))
    if test.p_holm < ALPHA:
        reading = _("The segments by {dimension} differ: Holm-corrected {p} ({stats}; "
                    "{parts} segments).")
        css, word = "test differ", _("differ")
    else:
        reading = _("No detectable difference between the segments by {dimension}: "
                    "Holm-corrected {p} ({stats}; {parts} segments). Read the whole-sample "
                    "estimate.")
        css, word = "test", _("no difference")
    title = reading.format(dimension=dim, p=p_phrase(test.p_holm), stats=stats,
                           parts=i18n.integer(test.parts))
    return (f'<td class="{css}" title="{markup.text(title)}">{markup.text(word)}'
            f'<span class="sm">p {markup.text(p)}</span></td>')


# --------------------------------------------------------------------------- sections
def _keys(items: Sequence[Item]) -> list[tuple[str, Estimate]]:
    """Every estimate key of a notebook, whole-sample order first, with a representative."""
    ordered = sorted(items, key=lambda i: bool(i.job.segment))
    found: dict[str, Estimate] = {}
    for item in ordered:
        for e in item.found:
            found.setdefault(e.key, e)
    return list(found.items())


def _row_label(e: Estimate) -> str:
    unit = f'<span class="sm">{markup.text(e.unit)}</span>' if e.unit else ""
    return f'<th scope="row">{markup.text(e.label)}{unit}</th>'


def heatmap(items: Sequence[Item], dims: dict[str, str],
            reports_dir: Path) -> str:
    """A notebook's key estimates across segments: a row group per dimension (its segments as
    columns), a row per estimate with the whole-sample value and the segments' test."""
    keys = _keys(items)
    whole = next((i for i in items if not i.job.segment and _shows_numbers(i)), None)
    groups: dict[str, list[Item]] = {}
    for item in items:
        dim = dimension_of(item.job.segment)
        if dim is not None:
            groups.setdefault(dim, []).append(item)
    if not keys:
        return ""
    parts: dict[str, Item] = {}  # one job per segment: a grid over another parameter (a
    for i in items:              # language) repeats a segment's estimate, not a new sample
        if _shows_numbers(i) and i.job.segment:
            parts.setdefault(json.dumps(i.job.segment, sort_keys=True, default=str), i)
    tests = heterogeneity.segment_tests(
        (i.job.segment, [e.row() for e in i.found if e.testable]) for i in parts.values())
    by_test = {(t.key, t.dimension): t for t in tests.itertuples()}
    whole_found = {e.key: e for e in (whole.found if whole else [])}
    width = max((len(g) for g in groups.values()), default=0)
    decimals = {key: _decimals(e for i in items for e in i.found if e.key == key)
                for key, _e in keys}
    whole_word, differ_word = _("Whole sample"), _("Segments differ?")
    bodies = []
    for dim, members in groups.items():
        head = [f'<th scope="colgroup" class="dimname">{markup.text(dimension_label(dim))}</th>',
                f'<th scope="col">{markup.text(whole_word)}</th>']
        for item in members:
            label = markup.text(_column_label(item, members))
            target = _target(item, reports_dir)
            status = "" if item.status in ("fresh", "reused") else (
                f' <span class="mark st-{item.status.replace(" ", "-")}" title="'
                f'{markup.text(_(STATUS_WORDS[item.status]))}">!</span>')
            link = f'<a href="{markup.text(target)}">{label}</a>' if target else label
            head.append(f'<th scope="col" class="seg">{link}{status}</th>')
        head += ['<th class="pad"></th>'] * (width - len(members))
        head.append(f'<th scope="col">{markup.text(differ_word)}</th>')
        rows = [f'<tr class="dimhead">{"".join(head)}</tr>']
        for key, rep in keys:
            e_whole = whole_found.get(key)
            label_of = e_whole or rep
            cells = [_row_label(label_of), _whole_cell(e_whole, decimals[key])]
            for item in members:
                where = segment_text(item.job.segment)
                match = next((e for e in item.found if e.key == key), None)
                cells.append(_cell(match, item, where, decimals[key]))
            cells += ['<td class="pad"></td>'] * (width - len(members))
            cells.append(_test_cell(by_test.get((key, dim)), dim, rep.testable))
            rows.append(f"<tr>{''.join(cells)}</tr>")
        bodies.append(f'<tbody class="dim {dims[dim]}">{"".join(rows)}</tbody>')
    if not bodies:  # only the whole sample: its estimates alone
        rows = [f"<tr>{_row_label(whole_found.get(k) or e)}"
                f"{_whole_cell(whole_found.get(k), decimals[k])}</tr>" for k, e in keys]
        estimate_word = _("Estimate")
        bodies.append(f'<tbody><tr class="dimhead"><th scope="col">{markup.text(estimate_word)}'
                      f'</th><th scope="col">{markup.text(whole_word)}</th></tr>'
                      f'{"".join(rows)}</tbody>')
    caption = _("Key estimates across segments")
    return (f'<div class="wrap"><table class="heat"><caption>{markup.text(caption)}</caption>'
            f'{"".join(bodies)}</table></div>')


def _how_to_read() -> str:
    """How to read the tables of key estimates, with the colour legend."""
    heading = markup.text(_("What differs between segments"))
    text = markup.text(_(
        "One table per report: a row per key estimate (its label and unit), the whole-sample "
        "value with its interval and the n it used, then the segment reports grouped by "
        "dimension. Each cell is that segment report's estimate with, below it, the n that "
        "report used (pairs, firms, firm-waves or respondents, as the row's whole-sample n "
        "says); point at a cell for its interval and verdict. The last column asks whether the "
        "segments of that dimension differ: Cochran's Q on the segment estimates (the "
        "interaction test of the pooled model), Holm-corrected over every test of the report. "
        "A single segment whose colour differs from the whole sample is not evidence that it "
        "differs. Waves are not tested: the same firms answer in both."))
    legend = [("v-pos", _("interval above zero")), ("v-neg", _("interval below zero")),
              ("v-null", _("interval includes zero")),
              ("v-exp", _("exploratory: too few units for a verdict")),
              ("v-desc", _("descriptive figure")), ("v-none", _("not estimable"))]
    keys = "".join(f'<span class="key {css}">{markup.text(word)}</span>' for css, word in legend)
    label = markup.text(_("Colours:"))
    return (f'<section id="differs"><h2>{heading}</h2><p>{text}</p>'
            f'<p class="legend">{label} {keys}</p></section>')


def _notebook_section(stem: str, title: str, items: Sequence[Item], dims: dict[str, str],
                      reports_dir: Path, tables: bool) -> str:
    counts = _status_counts(items)
    line = _reports_line(len(items), counts)
    whole = next((i for i in items if not i.job.segment), None)
    reason = ""
    if whole and whole.status == "not applicable":
        why = scrub(whole.outcome.not_applicable
                              or (whole.doc or {}).get("not_applicable") or "")
        reason = markup.text(_("Not applicable: {reason}").format(reason=why))
        reason = f'<p class="na">{reason}</p>'
    body = heatmap(items, dims, reports_dir) if tables else ""
    if tables and not body and not reason:
        body = markup.text(_("No key estimates were recorded."))
        body = f'<p class="na">{body}</p>'
    return (f'<section class="nb" id="{markup.text(_anchor(stem))}">'
            f"<h2>{markup.text(title)}</h2><p>{markup.text(line)}</p>{reason}{body}</section>")


def _anchor(stem: str) -> str:
    return "nb-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)


def _reports_line(n: int, statuses: str) -> str:
    return ngettext("{n} report: {statuses}.", "{n} reports: {statuses}.", n).format(
        n=i18n.integer(n), statuses=statuses)


def time_text(stamp: Any) -> str:
    """A time stamp (ISO text) in the index's locale, in UTC: ``2 Dec 2026, 05:35:33 UTC``."""
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return time_label(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return f"{i18n.datetime(moment)} UTC"


def _status_counts(items: Sequence[Item]) -> str:
    found = [i.status for i in items]
    return ", ".join(f"{i18n.integer(found.count(s))} {_(STATUS_WORDS[s])}"
                     for s in STATUSES if s in found)


def _job_row(item: Item, reports_dir: Path, dims: dict[str, str], apart: str) -> str:
    """One job: its segment (linked to the report, or to the error page when there is no good
    report; with ``apart``, what sets it apart when another job has the same segment), status, the
    n it used, errors or reasons, when it was rendered.

    A failed job whose previous good report was kept links both and says from when the kept
    one is; every message shows paths relative to the project (:func:`scrub`).
    """
    job, doc, status = item.job, item.doc or {}, item.status
    target = _target(item, reports_dir)
    error_page = _link(job.error_path(reports_dir), reports_dir)
    name = markup.text(segment_text(job.segment))
    name = f'<a href="{markup.text(target)}">{name}</a>' if target else name
    if apart:
        name += f' <span class="sm">({markup.text(apart)})</span>'
    failed = status == "failed"
    kept = failed and doc.get("status") == "ok" and target != error_page
    detail = ""
    if doc.get("too_few"):
        detail = markup.text(_("too few responses to report (suppressed)"))
        detail = f'<span class="na">{detail}</span>'
    if status == "not applicable":
        reason = item.outcome.not_applicable or doc.get("not_applicable") or ""
        detail = f'<span class="na">{markup.text(scrub(reason))}</span>'
    when = doc.get("rendered_at") or ""
    if failed:
        failure = last_failure(doc) or {}
        error = scrub(item.outcome.error or failure.get("error") or "")
        lines = error.strip().splitlines()
        detail = markup.text(lines[-1] if lines else _("failed"))
        detail = f'<span class="err">{detail}</span>'
        if error_page and target != error_page:
            word = markup.text(_("error page"))
            detail += f' · <a href="{markup.text(error_page)}">{word}</a>'
        if kept:
            detail += (' <span class="kept">' + markup.text(
                _("previous good report from {when} kept").format(
                    when=time_text(when))) + "</span>")
        else:
            when = failure.get("attempted_at") or when
    shown = _shows_numbers(item) and (not failed or kept)
    n = "; ".join(f"{i18n.integer(k)} {u}".strip() for k, u in used_n(item.found)) \
        if shown else ""
    if shown and not n and _count(doc.get("n")) is not None:
        n = f"{i18n.integer(doc['n'])} {_('respondents')}"
    dim = dimension_of(job.segment)
    css = f"job st-{status.replace(' ', '-')}" + (f" dim {dims[dim]}" if dim else " whole")
    return (f'<tr class="{css}"><td>{name}</td>'
            f'<td><span class="status st-{status.replace(" ", "-")}">'
            f"{markup.text(_(STATUS_WORDS[status]))}</span></td>"
            f'<td class="num">{markup.text(n)}</td><td>{detail}</td>'
            f"<td>{markup.text(time_text(when) if when else '')}</td></tr>")


def _reports_table(by_notebook: dict[str, list[Item]], titles: dict[str, str],
                   reports_dir: Path, dims: dict[str, str]) -> str:
    head = "".join(f'<th scope="col"{css}>{markup.text(h)}</th>' for h, css in (
        (_("Segment"), ""), (_("Status"), ""), (_("n used"), ' class="num"'), (_("Note"), ""),
        (_("Rendered"), "")))
    bodies = "".join(
        f'<tbody><tr class="nbhead"><th colspan="5" scope="colgroup">'
        f"{markup.text(titles[stem])}</th></tr>"
        + "".join(_job_row(i, reports_dir, dims, _distinction(i, items)) for i in items)
        + "</tbody>"
        for stem, items in by_notebook.items())
    heading = markup.text(_("Every report"))
    return (f'<section id="reports"><h2>{heading}</h2>'
            f'<div class="wrap"><table class="jobs"><thead><tr>{head}</tr></thead>{bodies}'
            "</table></div></section>")


# --------------------------------------------------------------------------- summary
def _summary(by_notebook: dict[str, list[Item]], titles: dict[str, str],
             reports_dir: Path, language: str) -> str:
    """The batch's status with its failures, and the whole-sample findings of each notebook."""
    every = [i for items in by_notebook.values() for i in items]
    status = _reports_line(len(every), _status_counts(every))
    failures = []
    for item in every:
        if item.status != "failed":
            continue
        page = _link(item.job.error_path(reports_dir), reports_dir)
        failure = last_failure(item.doc) or {}
        lines = scrub(item.outcome.error or failure.get("error") or "").strip()
        last = lines.splitlines()[-1] if lines else _("failed")
        name = markup.text(f"{titles[item.job.stem]} — {segment_text(item.job.segment)}")
        link = f'<a href="{markup.text(page)}">{name}</a>' if page else name
        failures.append(f"<li>{link}: {markup.text(last)}</li>")
    failed = markup.text(_("Failed reports (each links to its error page):"))
    failed = (f'<p>{failed}</p><ul class="failures">{"".join(failures)}</ul>'
              if failures else "")
    blocks = []
    for stem, items in by_notebook.items():
        whole = next((i for i in items if not i.job.segment and _shows_numbers(i)), None)
        if whole is None:
            continue
        found = summary.findings(whole.doc or {}, language)
        if not found:
            continue
        target = _target(whole, reports_dir)
        title = markup.text(titles[stem])
        heading = f'<a href="{markup.text(target)}">{title}</a>' if target else title
        points = "".join(f'<li>{markup.text(f.sentence)} <span class="strength">'
                         f"({markup.text(f.strength)})</span></li>" for f in found)
        blocks.append(f"<h4>{heading}</h4><ul>{points}</ul>")
    heading = markup.text(_("Whole-sample findings"))
    intro = markup.text(_("What each report finds for the whole sample; each heading links to "
                          "the report."))
    findings = f"<h3>{heading}</h3><p>{intro}</p>{''.join(blocks)}" if blocks else ""
    heading = markup.text(_("Summary"))
    return (f'<section id="summary"><h2>{heading}</h2>'
            f'<p class="status-line">{markup.text(status)}</p>{failed}{findings}</section>')


# --------------------------------------------------------------------------- filters
def _filters(dims: dict[str, str], statuses: Sequence[str]) -> tuple[str, str, str]:
    """Radio buttons (before the content, so CSS can read their state), their labels and the
    rules that hide what a chosen filter leaves out: no script."""
    every_dim, every_status = markup.text(_("All dimensions")), markup.text(_("Every status"))
    inputs = ['<input type="radio" class="flt" name="dim" id="f-dim-all" checked '
              f'aria-label="{every_dim}">']
    dim_labels = [f'<label for="f-dim-all">{every_dim}</label>']
    rules = []
    for dim, token in dims.items():
        name = markup.text(dimension_label(dim))
        inputs.append(f'<input type="radio" class="flt" name="dim" id="f-dim-{token}" '
                      f'aria-label="{name}">')
        dim_labels.append(f'<label for="f-dim-{token}">{name}</label>')
        rules.append(f"#f-dim-{token}:checked~main .dim:not(.{token}){{display:none}}")
    inputs.append('<input type="radio" class="flt" name="st" id="f-st-all" checked '
                  f'aria-label="{every_status}">')
    st_labels = [f'<label for="f-st-all">{every_status}</label>']
    for s in statuses:
        token = s.replace(" ", "-")
        word = markup.text(_(STATUS_WORDS[s]))
        inputs.append(f'<input type="radio" class="flt" name="st" id="f-st-{token}" '
                      f'aria-label="{word}">')
        st_labels.append(f'<label for="f-st-{token}">{word}</label>')
        rules.append(f"#f-st-{token}:checked~main tr.job:not(.st-{token}){{display:none}}"
                     f"#f-st-{token}:checked~main tbody:not(:has(tr.st-{token})) tr.nbhead"
                     "{display:none}")
    ids = ["f-dim-all", *(f"f-dim-{t}" for t in dims.values()), "f-st-all",
           *(f"f-st-{s.replace(' ', '-')}" for s in statuses)]
    rules += [f"#{i}:checked~.top label[for={i}]{{background:#1F4E79;color:#fff}}"
              f"#{i}:focus-visible~.top label[for={i}]{{outline:2px solid #1F4E79;"
              "outline-offset:2px}" for i in ids]
    words = [markup.text(w) for w in (_("Filter"), _("Segments:"), _("Reports:"))]
    bar = (f'<div class="filters" role="group" aria-label="{words[0]}">'
           f'<span>{words[1]}</span>{"".join(dim_labels)}'
           f'<span>{words[2]}</span>{"".join(st_labels)}</div>')
    return "".join(inputs), bar, "".join(rules)


# --------------------------------------------------------------------------- the page
def index_language(outcomes: Sequence[Outcome]) -> str:
    """The language the jobs share (the batch defaults' ``language``), else English."""
    found = {str(o.job.parameters.get("language") or i18n.SOURCE_LANGUAGE).upper()
             for o in outcomes}
    try:
        return i18n.normalise(found.pop()) if len(found) == 1 else i18n.SOURCE_LANGUAGE
    except ValueError:
        return i18n.SOURCE_LANGUAGE


def render_index(outcomes: Sequence[Outcome], reports_dir: Path, *, tables: bool = True,
                 language: str | None = None) -> str:
    """The index page for a run's outcomes (results files read from ``reports_dir``), in
    ``language`` (default: :func:`index_language`); ``tables=False`` leaves the tables of key
    estimates across segments out (and says so), for a nearly full disk."""
    code = i18n.normalise(language) if language else index_language(outcomes)
    with i18n.using(code):
        return _render(outcomes, reports_dir, tables, code)


def _render(outcomes: Sequence[Outcome], reports_dir: Path, tables: bool, language: str) -> str:
    by_notebook: dict[str, list[Item]] = {}
    for o in outcomes:
        doc = read_results(o.job, reports_dir)
        item = Item(o, doc, status_of(o, doc))
        item.found = estimates(doc) if _shows_numbers(item) else []
        by_notebook.setdefault(o.job.stem, []).append(item)
    titles = {stem: _notebook_title(stem, items[0].job.notebook)
              for stem, items in by_notebook.items()}
    dims: dict[str, str] = {}
    for items in by_notebook.values():
        for item in items:
            dim = dimension_of(item.job.segment)
            if dim is not None and dim not in dims:
                dims[dim] = f"d{len(dims)}"
    every = [i for items in by_notebook.values() for i in items]
    statuses = [s for s in STATUSES if any(i.status == s for i in every)]
    inputs, bar, rules = _filters(dims, statuses)
    sections = "".join(_notebook_section(stem, titles[stem], items, dims, reports_dir, tables)
                       for stem, items in by_notebook.items())
    if tables:
        sections = _how_to_read() + sections
    synthetic = any(i.doc and i.doc.get("synthetic") for i in every)
    banner = markup.text(_("SYNTHETIC DATA — these reports were built from the simulated "
                           "sample, not from real respondents."))
    banner = f'<div class="banner" role="note">{banner}</div>' if synthetic else ""
    nav = " · ".join(f'<a href="#{markup.text(_anchor(s))}">{markup.text(titles[s])}</a>'
                     for s in by_notebook)
    first, last = markup.text(_("Summary")), markup.text(_("Every report"))
    nav = f'<a href="#summary">{first}</a> · {nav} · <a href="#reports">{last}</a>'
    now = time_text(datetime.now(UTC).replace(microsecond=0).isoformat())
    left_out = "" if tables else markup.text(_(
        "The tables of key estimates across segments were left out: the disk was too full to "
        "write them."))
    left_out = f'<p role="note">{left_out}</p>' if left_out else ""
    written = markup.text(_("Index written {when}.").format(when=now))
    title = _("Disconnect Lab reports")
    return ("<!DOCTYPE html>\n"
            f'<html lang="{language.lower()}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            + markup.csp_meta() +
            f"<title>{markup.text(title)}</title><style>{_CSS}{rules}</style></head><body>"
            f'{inputs}<div class="top"><h1>{markup.text(title)}</h1>{banner}'
            f'<p class="written">{written}</p>'
            f"<nav>{nav}</nav>{bar}</div><main>{left_out}"
            f"{_summary(by_notebook, titles, reports_dir, language)}{sections}"
            f"{_reports_table(by_notebook, titles, reports_dir, dims)}</main></body></html>\n")


def write_index(outcomes: Sequence[Outcome], reports_dir: Path, *, tables: bool = True,
                language: str | None = None, state: str | None = None) -> Path:
    """Write ``<reports_dir>/index.html`` atomically (the old index stays whole when this
    raises ``OSError``; :func:`helpers.batch.run.publish_index` handles that).

    ``tables=False`` (the batch's second try on a full disk) leaves out the tables of key
    estimates across segments, and says so. ``state`` (:func:`helpers.batch.plan.index_state`)
    is kept in the page's head, so that a run that changed nothing can leave the page alone
    (:func:`helpers.batch.plan.index_has_state`).
    """
    target = reports_dir / "index.html"
    page = render_index(outcomes, reports_dir, tables=tables, language=language)
    if state:
        page = page.replace('<meta charset="utf-8">', '<meta charset="utf-8">'
                            f'<meta name="{INDEX_STATE_META}" content="{markup.text(state)}">', 1)
    atomic.write_text(target, page)
    return target



_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;"
    "margin:1em auto;padding:0 1em;color:#222;line-height:1.4}h1{margin-bottom:.2em}"
    "h2{margin-top:1.6em;border-bottom:2px solid #1F4E79;padding-bottom:.15em}"
    "h3{font-size:1.2em;margin:1.2em 0 .3em}h4{font-size:1.02em;margin:.9em 0 .2em}"
    "a{color:#0B5394}"
    ".flt{position:absolute;opacity:0;width:1px;height:1px;margin:0}"
    ".filters{display:flex;flex-wrap:wrap;gap:.3em;align-items:center;margin:.6em 0;"
    "position:sticky;top:0;background:#fff;padding:.4em 0;z-index:2;border-bottom:1px solid #DDD}"
    ".filters span{font-weight:600;margin:0 .2em 0 .8em}.filters span:first-child{margin-left:0}"
    ".filters label{border:1px solid #9AA5B1;border-radius:3px;padding:.1em .5em;cursor:pointer;"
    "font-size:.9em}"
    ".wrap{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:.86em;margin:.5em 0}"
    "caption{text-align:left;font-size:.92em;color:#444;padding:.2em 0 .4em;caption-side:top}"
    "th,td{padding:.25em .4em;vertical-align:top}"
    "table.jobs{width:100%}table.jobs th,table.jobs td{border-bottom:1px solid #E2E6EA;"
    "text-align:left}table.jobs td.num{text-align:right;white-space:nowrap}"
    "table.jobs thead th{background:#F5F8FA}table.jobs th.num{text-align:right}"
    "table.jobs td:first-child{white-space:nowrap}"
    "tr.nbhead th{background:#E8EEF4;font-size:1.02em;border-top:2px solid #1F4E79}"
    "table.heat th[scope=row]{text-align:left;font-weight:600;"
    "min-width:14em;max-width:24em;border-bottom:1px solid #E2E6EA;line-height:1.25}"
    "table.heat .sm{display:block;font-weight:normal;font-size:.82em;color:#444}"
    "tbody.dim{border-top:3px solid #1F4E79}"
    "tr.dimhead th{background:#F5F8FA;font-size:.85em;text-align:center;vertical-align:bottom;"
    "border-bottom:1px solid #9AA5B1}tr.dimhead th.dimname{text-align:left;font-size:1em;"
    "color:#1F4E79}"
    "td.cell,td.whole,td.test{text-align:right;white-space:nowrap;border:1px solid #fff;"
    "min-width:3.2em;"
    "font-variant-numeric:tabular-nums}"
    "td.whole{border-right:3px solid #1F4E79;background:#FAFAFA}.ci{font-size:.85em;color:#444}"
    "td.test{text-align:left;border-left:3px solid #1F4E79;color:#333}"
    "td.test.differ{font-weight:700;color:#6B2E00}"
    ".v-pos{background:#D6E6F5;color:#0B3D6B}.v-neg{background:#FBE1CC;color:#6B2E00}"
    ".v-null{background:#EEF0F2;color:#333}.v-exp{background:#fff;color:#444;font-style:italic}"
    ".v-none{color:#595959;text-align:center}.v-desc{background:#F4F6F8;color:#222}"
    "td.pad,th.pad{background:none;border:none}"
    ".mark{color:#B00020;font-weight:700}"
    ".status{padding:.05em .45em;border-radius:3px;font-size:.9em;font-weight:600}"
    ".status.st-fresh{background:#E3F4EA;color:#11612F}.status.st-reused{background:#EEF1F4;"
    "color:#37474F}.status.st-failed{background:#FDECEA;color:#B00020}.status.st-stale,"
    ".status.st-missing{background:#FFF4E5;color:#7A4100}.err{color:#B00020}"
    ".status.st-not-applicable{background:#EEF1F4;color:#37474F;font-style:italic}"
    ".na{color:#37474F}.kept{color:#37474F;font-style:italic}.strength{color:#444}"
    ".banner{border:2px solid #D55E00;background:#FFF4E5;color:#3D2000;padding:.6em 1em;"
    "font-weight:bold;margin:.6em 0}.written{color:#444;margin:.2em 0}"
    "section{margin-top:1.2em}.legend .key{display:inline-block;padding:.05em .5em;"
    "margin:.1em .3em .1em 0;border:1px solid #DDD;font-size:.9em}.v-none.key{text-align:left}"
    "@media print{body{max-width:none;margin:0;padding:0}.filters{display:none}"
    ".wrap{overflow:visible}tbody.dim,tr{break-inside:avoid}h2,h3,h4{break-after:avoid}"
    "table.heat,table.jobs{font-size:7pt}tr.dimhead th{font-size:6.5pt}"
    "table.heat th[scope=row]{min-width:0;max-width:none;width:24%}"
    "td.cell,td.test{min-width:0;white-space:normal;padding:.15em .25em}"
    "td.whole{min-width:8em;white-space:normal}td.whole .ci{white-space:nowrap}"
    ".ci{display:block}table.jobs td:first-child,table.jobs td.num{white-space:normal}}"
)

