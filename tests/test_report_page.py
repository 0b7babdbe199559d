"""The report page around the notebook's content (helpers.batch.render, the report template,
helpers.summary, helpers.methods): summary first, every parameter in the parameters box, tables
and figures numbered, methods and references last — in English and in German."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from helpers import i18n, labels, methods, paths, summary
from helpers.batch import jobs as batch_jobs, plan as batch_plan, render as batch_render, run as batch_run

PROFILE = paths.NOTEBOOKS / "02_disconnect_profile.ipynb"


@pytest.fixture(scope="module")
def pages(sample_processed: Path, tmp_path_factory) -> dict[str, tuple[str, dict]]:
    """The profile report on the small sample in English (defaults) and in German (with one
    parameter overridden): name -> (page, results document)."""
    root = tmp_path_factory.mktemp("report-page")
    spec = {"defaults": {"data_dir": str(sample_processed / "processed"), "min_cell": 5},
            "jobs": [{"notebook": str(PROFILE), "name": "en", "parameters": {"language": "EN"}},
                     {"notebook": str(PROFILE), "name": "de",
                      "parameters": {"language": "DE", "adjust": "fdr_bh"}}]}
    f = root / "b.yaml"
    f.write_text(yaml.safe_dump(spec), encoding="utf-8")
    options = batch_run.Options(reports_dir=root / "reports", executed_dir=root / "executed",
                            engine="fork", workers=2, timeout=600)
    outcomes = batch_run.run(batch_plan.load_batch(f), options)
    assert [o.status for o in outcomes] == ["fresh", "fresh"], outcomes
    folder = root / "reports" / PROFILE.stem
    return {name: ((folder / f"{name}.html").read_text(encoding="utf-8"),
                   json.loads((folder / f"{name}.json").read_text(encoding="utf-8")))
            for name in ("en", "de")}


def _parameters_cell(notebook: Path) -> dict:
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


def _box(page: str) -> list[tuple[str, str]]:
    box = re.search(r'<section[^>]*class="dl-box dl-parameters".*?</section>', page, re.DOTALL)
    assert box
    return [(html.unescape(k), html.unescape(v)) for k, v in
            re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", box.group(0), re.DOTALL)]


def test_parameters_box_lists_every_parameter_with_its_effective_value(pages) -> None:
    defaults = _parameters_cell(PROFILE)
    assert {"adjust", "conf", "exclude", "min_cell", "segment"} <= set(defaults)
    en = dict(_box(pages["en"][0]))
    assert list(en) == [batch_render.parameter_label(k, "EN") for k in defaults]  # all, in order
    assert en["Multiple-testing correction"] == "Holm"  # the cell's default
    assert en["Confidence level"] == "95\u202f%"
    assert en["Flagged respondents left out"] == "none"
    assert en["Segment"] == "Whole sample" and en["Minimum cell size"] == "5"
    assert not any(re.search(r"\b[a-z]+_[a-z_]+\b", label) for label in en)  # no variable names
    de = dict(_box(pages["de"][0]))
    assert len(de) == len(defaults)
    assert de["Korrektur für multiples Testen"] == "Benjamini–Hochberg (False Discovery Rate)"
    assert de["Sprache"] == "Deutsch" and de["Konfidenzniveau"] == "95\u202f%"


def _numbers(page: str, word: str) -> list[int]:
    return [int(n) for n in re.findall(rf'<span class="dl-number">{word} (\d+)\.</span>', page)]


def test_tables_and_figures_are_numbered_in_document_order(pages) -> None:
    for name, table, figure in (("en", "Table", "Figure"), ("de", "Tabelle", "Abbildung")):
        page = pages[name][0]
        tables, figures = _numbers(page, table), _numbers(page, figure)
        assert tables == list(range(1, page.count("<caption") + 1)) and len(tables) >= 3
        assert figures == list(range(1, len(re.findall(r'<figure class="dl-figure', page)) + 1))
        assert figures
        # each number sits at the start of its caption
        assert all(m.group(1) for m in re.finditer(r"<caption[^>]*>(<span class=\"dl-number\">)?",
                                                   page))


def test_summary_comes_before_the_first_section_and_follows_the_results(pages) -> None:
    page, doc = pages["en"]
    first_section = re.search(r'<h2 id="(?!dl-)', page).start()
    summary_at = page.index('<h2 id="dl-summary">Summary</h2>')
    assert page.index("How to read this report") < first_section
    assert summary_at < page.index('class="dl-box dl-parameters"') < first_section
    assert page.index("SYNTHETIC DATA") < summary_at
    shown = [html.unescape(s) for s in re.findall(
        r"<li>(.*?)</li>", page[summary_at:page.index("</section>", summary_at)])]
    expected = [f.sentence for f in summary.findings(doc, "EN")]
    assert shown == expected and 1 <= len(shown) <= summary.MOST
    german = pages["de"]
    assert "<h2 id=\"dl-summary\">Zusammenfassung</h2>" in german[0]
    for f in summary.findings(german[1], "DE"):
        assert html.escape(f.sentence, quote=False) in german[0]


def test_methods_and_references_close_the_report_and_every_citation_resolves(pages) -> None:
    for name, heading, refs in (("en", "Methods", "References"), ("de", "Methoden", "Literatur")):
        page = pages[name][0]
        start = page.index(f'<h2 id="dl-methods">{heading}')
        assert start > page.rindex("<caption") and start < page.index('class="dl-footer"')
        section = page[start:page.index("</section>", start)]
        assert f'<h2 id="dl-references">{refs}' in section
        text = re.sub(r"<ol.*", "", section, flags=re.DOTALL)
        cited = methods.cited(text)
        listed = [int(n) for n in re.findall(r'<li id="dl-ref-(\d+)"', section)]
        assert listed == list(range(1, len(listed) + 1)) and set(listed) == cited
        assert "Bell, R. M., &amp; McCaffrey, D. F. (2002)" in section
        assert "Pustejovsky, J. E., &amp; Tipton, E. (2018)" in section
    # the run's parameter values: Holm in English, Benjamini–Hochberg in the German run
    assert "Holm, S. (1979)" in pages["en"][0] and "Benjamini, Y., &amp; Hochberg" in pages["de"][0]
    assert "Intervalle sind 95\u202f%-Intervalle" in pages["de"][0]


def test_german_report_has_german_template_words_and_translated_headings(pages) -> None:
    page = pages["de"][0]
    assert '<html lang="de">' in page
    for word in ("Verwendete Parameter", "Inhalt", "So lesen Sie diesen Bericht", "Herkunft",
                 "Projekt-Commit", "Erstellt"):
        assert word in page, word
    for english in (">Parameters used", ">Contents<", ">Summary<", ">Methods<", ">Provenance"):
        assert english not in page
    toc = re.search(r'<nav class="dl-box dl-toc".*?</nav>', page, re.DOTALL).group(0)
    nb = nbformat.read(PROFILE, as_version=4)
    headings = [line[3:].strip() for cell in nb.cells if cell.cell_type == "markdown"
                for line in i18n.translate_markdown(cell.source, "DE").splitlines()
                if line.startswith("## ")]
    english = [line[3:].strip() for cell in nb.cells if cell.cell_type == "markdown"
               for line in cell.source.splitlines() if line.startswith("## ")]
    assert headings and headings != english
    for heading in headings:
        assert f">{html.escape(heading, quote=False)}</a>" in toc, heading
    for heading in english:
        assert f">{html.escape(heading, quote=False)}</a>" not in toc, heading


# --------------------------------------------------------------------------- without rendering
def test_numbering_counts_captions_and_figures_in_order() -> None:
    body = ('<figure class="dl-figure"><img alt="a"><figcaption>First plot</figcaption></figure>'
            '<table><caption>Counts</caption></table>'
            '<figure class="dl-figure x" style=""><img alt="b"><figcaption></figcaption></figure>'
            '<div class="dl-table"><table class="dl-data"><caption>Gaps</caption></table></div>')
    out = batch_render.number_tables_and_figures(body, "NL")
    assert re.findall(r'dl-number">([^<]+)<', out) == ["Figuur 1.", "Tabel 1.", "Figuur 2.",
                                                       "Tabel 2."]
    assert '<caption><span class="dl-number">Tabel 2.</span> Gaps</caption>' in out
    assert batch_render.number_tables_and_figures(body, "DA").count("Figur ") == 2


def test_parameter_values_read_as_words() -> None:
    value = batch_render.parameter_value
    assert value("drivers", None, "EN") == "every driver the survey asked"
    controls = value("controls", ["size_band", "industry"], "EN")
    assert controls == f"{labels.column('size_band')}, {labels.column('industry')}"
    assert "_" not in controls  # labels, never variable names
    assert value("exclude", ["speeder", "straight_lining"], "DE") == "Schnellantworter, Durchklicker"
    assert value("conf", 0.9, "DE") == "90\u202f%"
    assert value("wave_years", {1: 2023, 2: 2024}, "EN") == "{1: 2023, 2: 2024}"  # typed keys
    assert value("labels", {"a": 1, "b": None}, "EN") == "a: 1, b: none"
    assert value("segment", {"country": ["BE", "DK"]}, "NL").endswith("Overige (BE, DK)")
    assert value("center", None, "EN") == "raw scores"
    assert batch_render.parameter_label("min_pairs", "EN") == "Minimum CMO–CIO pairs"


def test_error_and_short_pages_speak_the_report_language(tmp_path: Path) -> None:
    job = batch_jobs.Job(PROFILE, "x", {"language": "DE", "segment": {"wave": 2}, "min_cell": 5})
    failure = batch_jobs.Failure("ValueError: boom", 3, 4, "x = 1", "ValueError", "boom")
    page = batch_render.error_page(job, failure)
    assert '<html lang="de">' in page and "Bericht fehlgeschlagen" in page
    assert "Fehlgeschlagene Zelle: In [4], Zelle 4 des ausgeführten Notebooks" in page
    result = batch_render.write_too_few(job, "nur 3 CMOs", tmp_path / "reports",
                                     executed_dir=tmp_path / "executed")
    short = result.html.read_text(encoding="utf-8")
    assert "Zu wenige Antworten" in short and "weniger als 5 Befragte" in short
