"""Tables as reports show them: captioned, labelled in the report language, small cells suppressed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from IPython.display import HTML

from helpers import markup
from helpers.headlines import format_p
from helpers.codebook import Codebook, load_codebook
from helpers.privacy import DEFAULT_MIN_CELL, suppress_counts, suppression_note


def relabel(df: pd.DataFrame, codebook: Codebook | None = None, language: str = "EN") -> pd.DataFrame:
    """Rename columns and the index name that are codebook fields/constructs to their labels."""
    cb = codebook or load_codebook()

    def lab(name: object) -> object:
        try:
            return cb.label(str(name), language) if str(name) in cb.fields or str(name) in \
                cb.constructs else name
        except KeyError:
            return name

    out = df.rename(columns=lab)
    out.index = out.index.rename(lab(out.index.name)) if out.index.name else out.index
    return out


def _formatter(decimals: int, suffix: str = ""):
    """Format floats to ``decimals`` (with ``suffix``), blank for missing, anything else as its
    text, HTML-escaped: a value from the data (a vendor name, a label) is shown, never run."""
    def fmt(v: object) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (float, np.floating)):
            return f"{v:.{decimals}f}{suffix}"
        return markup.text(v)
    return fmt


P_VALUE = re.compile(r"^(p|p_value|p_adj\w*|p_\w*adjusted|\w+_p_value|p \(.*\))$", re.I)
"""Column names that hold p-values: shown as journals print them (``< .001``, ``.012``)."""


def _p_formatter(v: object) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating, int, np.integer)):
        return markup.text(format_p(float(v)))
    return markup.text(v)


def show(df: pd.DataFrame, caption: str, *, note: str = "", percent: tuple[str, ...] = (),
         decimals: int = 1, index: bool = True) -> HTML:
    """Render a table with a caption and an optional note, percentages and rounding applied.

    A table that went through :func:`helpers.privacy.suppress_small_groups` gets the suppression
    note automatically. p-value columns (:data:`P_VALUE`) print as ``< .001`` or three decimals,
    never ``0.000`` or ``1.29e-21``.
    """
    fmt = {c: _p_formatter if P_VALUE.match(str(c)) else
           _formatter(decimals, " %" if c in percent else "") for c in df.columns}
    styler = df.style.format(fmt, na_rep="").set_caption(markup.text(caption))
    for axis in (0, 1):  # row and column labels and their names come from the data too
        styler = styler.format_index(escape="html", axis=axis).format_index_names(
            escape="html", axis=axis)
    if not index:
        styler = styler.hide(axis="index")
    body = styler.to_html()
    suppressed = df.attrs.get("suppressed", 0)
    notes = [t for t in (note, suppression_note(suppressed, df.attrs.get("min_cell", DEFAULT_MIN_CELL),
                                                rows=True)) if t]
    for text in notes:
        body += f'<p class="table-note"><em>{markup.text(text)}</em></p>'
    return HTML(body)


def show_counts(df: pd.DataFrame, caption: str, *, min_cell: int = DEFAULT_MIN_CELL,
                note: str = "", columns: list[str] | None = None) -> HTML:
    """A table of respondent counts with cells below ``min_cell`` suppressed and a note saying so.

    ``columns`` names the count columns (default: every numeric column)."""
    table, n = suppress_counts(df, min_cell, columns)
    notes = " ".join(t for t in (note, suppression_note(n, min_cell)) if t)
    return show(table, caption, note=notes)


def synthetic_banner(synthetic: bool) -> HTML:
    """A prominent banner on reports built from the synthetic sample (empty otherwise)."""
    if not synthetic:
        return HTML("")
    return HTML(
        '<div class="synthetic-banner" role="note" style="border:2px solid #D55E00;'
        'background:#FFF4E5;color:#3D2000;padding:0.6em 1em;margin:0.5em 0;font-weight:bold">'
        "SYNTHETIC DATA — this report was built from the simulated sample "
        "(helpers.simulate), not from real respondents. Numbers illustrate the method only."
        "</div>"
    )


def not_applicable(what: str, needs: str) -> HTML:
    """A section that cannot be shown with this data: "Not applicable: <what> needs <needs>."

    Used where a report applies but one of its sections needs data that was not collected (a
    ledger, a construct the survey did not ask); the whole report stops with
    :class:`helpers.errors.NotApplicable` instead.
    """
    return HTML('<p class="not-applicable" role="note"><strong>Not applicable:</strong> '
                f"{markup.text(what)} needs {markup.text(needs)}.</p>")


class Reading(HTML):
    """A reading shown as HTML paragraphs (:func:`helpers.markup.reading`); its plain-text form
    (a console, ``repr``) is the text itself."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(markup.reading(text))

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(self.text)  # type: ignore[attr-defined]


def say(text: str) -> Reading:
    """Show generated reading text (built from the numbers) as a paragraph, not as code output.

    Readings quote labels, reasons and values from the data and the mapping, so the text is
    never markup: only `backticked` commands become code; ``<``, ``&``, ``[…](…)``, ``#``, ``*``
    and ``$`` show as typed ("<5" reads as such). See :func:`helpers.markup.reading`."""
    return Reading(text)


def headlines(rows: list, caption: str, *, decimals: int = 2) -> HTML:
    """Headline estimates (:class:`helpers.headlines.Headline`) as a table, then their readings.

    One row each: what is estimated, its unit, the estimate with its interval, p, the power
    against the smallest effect of interest, the units it rests on and the verdict; an
    "exploratory" banner first when any headline is between its minimum and confirmatory size.
    """
    from helpers.headlines import format_p

    def number(v: object) -> str:
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{decimals}f}"

    table = pd.DataFrame([{
        "estimate of": h.label, "unit": h.unit,
        "estimate [CI]": (f"{number(h.estimate)} [{number(h.ci_low)}, {number(h.ci_high)}]"
                          if h.estimate is not None else "–"),
        "p": format_p(h.p_value) if h.p_value is not None else "–",
        "power": f"{100 * h.power:.0f} %" if h.power is not None else "–",
        "n": f"{h.n} {h.n_unit}" if h.n is not None else "–",
        "verdict": h.verdict} for h in rows])
    parts = [exploratory_banner(rows).data, show(table, caption, index=False).data]
    parts += [Reading(h.reading).data for h in rows if h.reading]
    return HTML("".join(parts))


def exploratory_banner(rows: list) -> HTML:
    """A banner when any headline is exploratory: numbers without a verdict in words."""
    shown = [h for h in rows if h.verdict == "exploratory"]
    if not shown:
        return HTML("")
    sizes = "; ".join(sorted({f"{h.n} {h.n_unit}" for h in shown if h.n is not None}))
    return HTML(
        '<div class="exploratory-banner" role="note" style="border:2px solid #0072B2;'
        'background:#EAF4FB;color:#0B2A40;padding:0.6em 1em;margin:0.5em 0">'
        "<strong>Exploratory:</strong> "
        + markup.text(f"this sample ({sizes}) is above the minimum for estimating but below the "
                      "size for a confirmatory reading: estimates carry a small-sample "
                      "correction and no verdict is given in words. Whether this segment "
                      "differs from others is tested in the index (Do segments differ?).")
        + "</div>")
