"""Reports 03 (drivers) and 04 (dyadic congruence) read in German: their headings, captions,
readings and notes come from the catalogs, numbers carry the decimal comma, and neither an English
message of their notebooks and helpers nor a variable or patsy term name shows.

Only the parts these reports and their helpers write are checked here: the summary, "how to read",
methods and references sections, the parameters box and the footer come from the report template
and the shared layers (tests/test_localisation.py checks those across every report).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from helpers import catalogs, i18n, paths
from helpers.batch import jobs as batch_jobs, render as batch_render
from test_localisation import DECIMAL_POINT, VARIABLE, visible_text

DOMAINS = ("nb-03_drivers", "nb-04_dyadic_congruence", "drivers", "congruence", "rsa", "models",
           "measurement.apim", "measurement.agreement")
#: parts of the page written by the template and the shared layers, not by these reports
SHARED = ("dl-front", "dl-summary", "dl-reading", "dl-methods", "dl-references", "dl-footer",
          "dl-parameters", "dl-toc", "dl-banner")
PARAMETERS = {"03_drivers": {"n_boot": 60},
              "04_dyadic_congruence": {"n_boot": 99, "apim_n_boot": 200}}
_MARKUP = re.compile(r"\{[^{}]*\}|`[^`]*`|\*\*?|\[|\]\([^)]*\)|^#+\s*|\$[^$]*\$|\n[-*] ", re.M)


def _own_text(page: str) -> str:
    """The visible text of the page without the template's and shared layers' sections."""
    soup = BeautifulSoup(page, "html.parser")
    for element in soup.find_all(class_=lambda c: bool(c) and any(
            name in c.split() for name in SHARED)):
        element.decompose()
    return visible_text(str(soup))


def _english_fragments() -> dict[str, str]:
    """Literal runs of at least five words of every message of these reports' domains that
    German translates (runs between placeholders and markup, as test_localisation cuts them)."""
    out = {}
    for domain, messages in catalogs.sources().items():
        if domain not in DOMAINS:
            continue
        for m in messages:
            if i18n.gettext(m.id, "DE") == m.id:
                continue
            for piece in _MARKUP.split(m.id):
                text = " ".join(piece.split()).strip(" .,;:–—-()")
                if len(re.findall(r"[A-Za-z]{2,}", text)) >= 5:
                    out[text] = m.id
    return out


def _headings(stem: str, language: str) -> list[str]:
    """The markdown headings of a notebook as the report shows them in ``language``."""
    nb = nbformat.read(paths.NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    out = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = i18n.translate_markdown(cell.source, language)
            out += [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(PARAMETERS))
def test_report_reads_in_german(stem: str, sample_processed: Path, tmp_path: Path) -> None:
    job = batch_jobs.Job(notebook=paths.NOTEBOOKS / f"{stem}.ipynb", name="all__language-DE",
                        parameters={"data_dir": str(sample_processed / "processed"),
                                    "language": "DE", **PARAMETERS[stem]})
    result = batch_render.render(job, timeout=600, reports_dir=tmp_path / "reports",
                              executed_dir=tmp_path / "executed")
    assert result.status == "ok", result.error
    page = result.html.read_text(encoding="utf-8")
    text = _own_text(page)
    assert len(text) > 2000

    # headings: German, and none of the English ones
    german, english = _headings(stem, "DE"), _headings(stem, "EN")
    assert german and all(h in text for h in german), [h for h in german if h not in text]
    assert not [h for h, e in zip(german, english, strict=True) if h != e and e in text]

    # readings: the recorded headlines are in German and shown as recorded
    doc = json.loads(result.html.with_suffix(".json").read_text(encoding="utf-8"))
    readings = [r["reading"] for r in doc["results"]["headlines"]["rows"] if r.get("reading")]
    assert readings
    unit = (i18n.gettext("firms with both executives", "DE") if stem == "03_drivers"
            else i18n.gettext("CMO–CIO pairs", "DE"))
    assert unit != "firms with both executives" and unit in text
    for reading in readings:
        assert " ".join(reading.split())[:60] in text
        assert not re.search(r"\b(?:the|with|and|of)\b", reading), reading  # no English words

    # numbers: the decimal comma, never a decimal point
    assert re.search(r"\d,\d\d", text)
    assert not DECIMAL_POINT.findall(text), DECIMAL_POINT.findall(text)[:5]

    # no English message of these reports' notebooks and helpers
    found = [f for f in _english_fragments() if f in text]
    assert not found, found[:10]

    # labels, never variable names or patsy terms
    assert not VARIABLE.findall(text), sorted(set(VARIABLE.findall(text)))[:10]
    assert "C(" not in text and "[T." not in text
