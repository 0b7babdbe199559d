"""The index page (``reports/batch_index.html``) built from results files of synthetic jobs: the
cross-report summary and batch status, the key estimates across segments grouped by dimension
with the whole-sample value, the n each report used, the segment tests, the filters (no script
outside the page's policy), labels instead of variable names, German numbers and words, the size
of a large batch's page and escaping of hostile values from the data."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import heterogeneity, markup, paths, summary
from helpers.batch import index as batch_index, plan as batch_plan
from helpers.headlines import format_p
from helpers.batch.jobs import Job

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is a dev dependency
    sync_playwright = None

NOTEBOOKS = paths.ROOT / "notebooks"
DYADIC = NOTEBOOKS / "04_dyadic_congruence.ipynb"
HOSTILE = "<img src=x onerror=alert(1)>"
UNIT = "outcome points per scale point"


def headline(key: str, label: str, estimate: float, se: float, n: int,
             n_unit: str = "CMO–CIO pairs", unit: str = UNIT, p: float = 0.002) -> dict[str, Any]:
    """A headline row as the results file records it (helpers.headlines.table)."""
    low, high = round(estimate - 1.96 * se, 3), round(estimate + 1.96 * se, 3)
    verdict = "positive" if low > 0 else "negative" if high < 0 else "not detectable"
    return {"key": key, "label": label, "unit": unit, "estimate": estimate, "ci_low": low,
            "ci_high": high, "p_value": p, "n": n, "n_unit": n_unit, "verdict": verdict,
            "reading": "", "method": "polynomial regression", "power": 0.5, "sesoi": 0.1,
            "std_error": se, "note": ""}


def write_job(reports: Path, notebook: Path, segment: dict[str, Any],
              rows: list[dict[str, Any]], *, language: str = "EN", n: int = 835,
              status: str = "reused") -> batch_plan.Outcome:
    """A rendered job: its results file (doc n = the survey's respondents) and its report."""
    name = batch_plan.segment_name(segment) if segment else "all"
    job = Job(notebook, name, {"segment": segment, "language": language, "min_cell": 5})
    doc = {"status": "ok", "n": n, "notebook": notebook.name, "name": name,
           "parameters": job.parameters, "rendered_at": "2026-12-02T05:35:33+00:00",
           "synthetic": True,
           "results": {heterogeneity.KEY: {"kind": "table", "columns": list(rows[0]) if rows
                                           else [], "rows": rows}}}
    job.json_path(reports).parent.mkdir(parents=True, exist_ok=True)
    job.json_path(reports).write_text(json.dumps(doc), encoding="utf-8")
    job.html_path(reports).write_text("<!DOCTYPE html><title>report</title>", encoding="utf-8")
    return batch_plan.Outcome(job, status)


def failed_job(reports: Path, notebook: Path, segment: dict[str, Any],
               language: str = "EN") -> batch_plan.Outcome:
    name = batch_plan.segment_name(segment)
    job = Job(notebook, name, {"segment": segment, "language": language, "min_cell": 5})
    job.json_path(reports).parent.mkdir(parents=True, exist_ok=True)
    job.json_path(reports).write_text(json.dumps({
        "status": "failed", "failures": [{"error": "ValueError: no pairs in this segment",
                                          "attempted_at": "2026-12-02T05:40:00+00:00"}]}))
    job.error_path(reports).write_text("<!DOCTYPE html><title>failed</title>")
    return batch_plan.Outcome(job, "failed", error="ValueError: no pairs in this segment")


A1 = ("congruence.a1", "slope along the line of agreement (a1)")
A3 = ("congruence.a3", "slope along the line of disagreement (a3)")


def dyadic_batch(reports: Path, language: str = "EN") -> list[batch_plan.Outcome]:
    """The dyadic report for the whole sample (359 pairs of 835 respondents), two countries
    whose a1 differs clearly, two size bands, and one failed segment."""
    def rows(a1: float, se1: float, a3: float, n: int) -> list[dict[str, Any]]:
        return [headline(*A1, a1, se1, n), headline(*A3, a3, 0.15, n)]

    return [
        write_job(reports, DYADIC, {}, rows(0.553, 0.038, -0.264, 359), language=language),
        write_job(reports, DYADIC, {"country": "DE"}, rows(-0.6, 0.2, -0.1, 120),
                  language=language, n=300),
        write_job(reports, DYADIC, {"country": "NL"}, rows(0.9, 0.3, -0.3, 90),
                  language=language, n=250),
        write_job(reports, DYADIC, {"size_band": "<250"}, rows(0.5, 0.1, -0.2, 150),
                  language=language, n=400),
        write_job(reports, DYADIC, {"size_band": "5000+"}, rows(0.6, 0.1, -0.25, 140),
                  language=language, n=380),
        failed_job(reports, DYADIC, {"size_band": "1000-4999"}, language),
    ]


@pytest.fixture
def page(tmp_path: Path) -> str:
    reports = tmp_path / "reports"
    outcomes = dyadic_batch(reports)
    return batch_index.write_index(outcomes, reports).read_text(encoding="utf-8")


def tbodies(page: str) -> dict[str, str]:
    """The heatmap's row groups by their dimension heading."""
    found = re.findall(r'<tbody class="dim (d\d+)">(.*?)</tbody>', page, re.DOTALL)
    return {re.search(r'class="dimname">([^<]+)<', body).group(1): body for _, body in found}


def row_of(body: str, label: str) -> str:
    return re.search(rf"<tr><th scope=\"row\">{re.escape(label)}.*?</tr>", body,
                     re.DOTALL).group(0)


def visible(page: str) -> str:
    """The text a reader sees or points at: element text and title/aria-label attributes."""
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    titles = re.findall(r'(?:title|aria-label)="([^"]*)"', body)
    text = re.sub(r"<[^>]+>", " ", body)
    return html.unescape(" ".join([text, *titles]))


# --------------------------------------------------------------------------- summary and status
def test_the_index_opens_with_the_findings_and_the_batch_status(page: str,
                                                                tmp_path: Path) -> None:
    summary_part = re.search(r'<section id="summary">.*?</section>', page, re.DOTALL).group(0)
    assert "6 reports: 5 reused, 1 failed." in summary_part
    # the failure, linked to its error page
    assert re.search(r'<ul class="failures"><li><a href="04_dyadic_congruence/'
                     r'size_band-1000-4999.error.html">[^<]+</a>: ValueError: no pairs in this '
                     r"segment</li></ul>", summary_part)
    # the whole-sample findings of the report, from helpers.summary, linked to the report
    doc = json.loads((tmp_path / "reports/04_dyadic_congruence/all.json").read_text())
    sentences = [f.sentence for f in summary.findings(doc, "EN")]
    assert sentences and all(markup.text(s) in summary_part for s in sentences)
    assert '<h4><a href="04_dyadic_congruence/all.html">Dyadic congruence' in summary_part


# --------------------------------------------------------------------------- the estimates
def test_segments_are_grouped_by_dimension_beside_the_whole_sample(page: str) -> None:
    groups = tbodies(page)
    assert list(groups) == ["Country", "Size band (employees)"]
    country, size = groups["Country"], groups["Size band (employees)"]
    heads = re.findall(r'<th scope="col" class="seg"><a href="([^"]+)">([^<]+)</a>', country)
    assert heads == [("04_dyadic_congruence/country-DE.html", "DE"),
                     ("04_dyadic_congruence/country-NL.html", "NL")]
    assert re.findall(r'class="seg">(?:<a href="[^"]+">)?([^<]+)', size) == \
        ["&lt;250", "5000+", "1000-4999"]
    # every row: label with unit, the whole-sample value with interval and n, each segment
    a1 = row_of(country, A1[1])
    assert f'<span class="sm">{UNIT}</span>' in a1
    assert "<strong>0.55</strong> <span class=\"ci\">(0.48 to 0.63)</span>" in a1
    assert "n = 359 CMO–CIO pairs" in a1
    cells = re.findall(r'<td class="cell (v-\w+)" title="([^"]+)">([^<]+)<span class="sm">(\d+)</span>',
                       a1)
    assert [(css, value, n) for css, _, value, n in cells] == [
        ("v-neg", "−0.60", "120"), ("v-pos", "0.90", "90")]
    assert "Country: DE: −0.60; CI −0.99 to −0.21; n = 120 CMO–CIO pairs; negative association" \
        == html.unescape(cells[0][1])
    # the failed segment has no numbers, and says why
    failed = row_of(size, A1[1])
    assert re.search(r'<td class="cell v-none" title="Size band \(employees\): 1000-4999: '
                     r'the report failed">–</td>', failed)


def test_the_n_of_each_report_is_the_n_it_used_with_its_unit(page: str) -> None:
    jobs = re.search(r'<table class="jobs">.*?</table>', page, re.DOTALL).group(0)
    used = dict(re.findall(r'<tr class="job[^"]*"><td>(?:<a href="[^"]+">)?([^<]+)(?:</a>)?'
                           r'</td><td>.*?</td><td class="num">([^<]*)</td>', jobs))
    assert used == {"Whole sample": "359 CMO–CIO pairs", "Country: DE": "120 CMO–CIO pairs",
                    "Country: NL": "90 CMO–CIO pairs",
                    "Size band (employees): &lt;250": "150 CMO–CIO pairs",
                    "Size band (employees): 5000+": "140 CMO–CIO pairs",
                    "Size band (employees): 1000-4999": ""}
    assert "835" not in jobs and ">300<" not in jobs  # never the survey's respondents


def test_the_segment_test_is_shown_per_estimate_and_dimension(page: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    parts = []
    for path in sorted((reports / "04_dyadic_congruence").glob("*.json")):
        doc = json.loads(path.read_text())
        if doc["status"] == "ok" and doc["parameters"]["segment"]:
            parts.append((doc["parameters"]["segment"], doc["results"]["headlines"]["rows"]))
    expected = heterogeneity.segment_tests(parts).set_index(["key", "dimension"])
    a1 = expected.loc[(A1[0], "country")]
    assert a1["p_holm"] < 0.05  # -0.6 against 0.9: the countries differ
    cell = re.search(r'<td class="test differ" title="([^"]+)">differ<span class="sm">p ([^<]+)</span>',
                     row_of(tbodies(page)["Country"], A1[1]))
    assert cell and html.unescape(cell.group(2)) == format_p(a1["p_holm"])
    assert "The segments by Country differ: Holm-corrected p" in html.unescape(cell.group(1))
    a3 = expected.loc[(A3[0], "size_band")]
    cell = re.search(r'<td class="test" title="[^"]+">no difference<span class="sm">p ([^<]+)</span>',
                     row_of(tbodies(page)["Size band (employees)"], A3[1]))
    assert cell and html.unescape(cell.group(1)) == format_p(a3["p_holm"])


# --------------------------------------------------------------------------- filters and policy
def test_filters_work_without_a_script_the_policy_does_not_allow(page: str) -> None:
    dims = re.findall(r'<input type="radio" class="flt" name="dim" id="f-dim-(\w+)"', page)
    statuses = re.findall(r'<input type="radio" class="flt" name="st" id="f-st-([\w-]+)"', page)
    assert dims == ["all", "d0", "d1"] and statuses == ["all", "reused", "failed"]
    for token in ["all", "d0", "d1"]:
        assert f'<label for="f-dim-{token}">' in page
    # the rules that hide the other dimensions and statuses
    assert "#f-dim-d0:checked~main .dim:not(.d0){display:none}" in page
    assert "#f-st-failed:checked~main tr.job:not(.st-failed){display:none}" in page
    # rows carry what the filters select on
    assert re.search(r'<tr class="job st-failed dim d1">', page)
    assert re.search(r'<tr class="job st-reused whole">', page)
    # every script on the page is one its policy allows (here: none, and none allowed)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert html.unescape(policy) == markup.content_security_policy(scripts)
    assert "script-src 'none'" in html.unescape(policy) and "<script" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)


# --------------------------------------------------------------------------- words and numbers
def test_no_variable_names_and_counts_are_integers(page: str) -> None:
    text = visible(page)
    for name in ("congruence.a1", "congruence.a3", "size_band", "n_unit", "n_pairs",
                 "04_dyadic_congruence", "ci_low", "p_holm"):
        assert name not in text, name
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), re.search(r"\b[a-z]+_[a-z_]+\b", text)
    counts = re.sub(r"\bp (= )?1\.000\b", "", text)  # a p-value of 1 reads 1.000
    assert not re.search(r"\b\d+\.0+\b", counts)  # no count as 359.00


def test_a_german_index_has_german_words_and_decimal_commas(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    outcomes = dyadic_batch(reports, language="DE")  # the batch's language: DE
    page = batch_index.write_index(outcomes, reports).read_text(encoding="utf-8")
    assert '<html lang="de">' in page
    groups = tbodies(page)
    assert list(groups) == ["Land", "Größenklasse (Beschäftigte)"]
    a1 = row_of(groups["Land"], A1[1])
    assert "Gesamtstichprobe" in groups["Land"] and "Unterscheiden sich die Segmente?" in page
    assert "<strong>0,55</strong>" in a1 and "(0,48 bis 0,63)" in a1 and ">0,90<" in a1
    assert not re.search(r">-?\d+\.\d+<", page)  # no decimal point in a number cell
    assert "Zusammenfassung" in page and "6 Berichte:" in page
    # an English batch asked for German gets German too
    english = dyadic_batch(tmp_path / "en")
    assert "Gesamtstichprobe" in batch_index.render_index(english, tmp_path / "en", language="DE")


# --------------------------------------------------------------------------- size and safety
def test_a_batch_of_140_reports_gives_an_index_under_1_mb(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    segments = [{}] + [{"country": c} for c in ("DE", "AT", "CH", "NL", "BE", "DK", "SE",
                                               "NO", "UK", "FR")] \
        + [{"industry": i} for i in ("Retail", "Health", "Manufacturing", "Travel and hospitality",
                                     "Financial services", "Consumer goods")] \
        + [{"size_band": s} for s in ("<250", "250-999", "5000+")]
    outcomes = []
    for k in range(7):
        notebook = NOTEBOOKS / f"0{k}_synthetic_{k}.ipynb"
        for j, segment in enumerate(segments):
            rows = [headline(f"drivers.term_{h}", f"Driver number {h} of the disconnect",
                             -0.2 + 0.01 * j + 0.03 * h, 0.08, 250 - j,
                             n_unit="firms with both executives",
                             unit="points of the disconnect index per SD") for h in range(10)]
            outcomes.append(write_job(reports, notebook, segment, rows))
    assert len(outcomes) == 140
    target = batch_index.write_index(outcomes, reports)
    page = target.read_text(encoding="utf-8")
    assert target.stat().st_size < 1_000_000, target.stat().st_size
    assert page.count('<td class="cell ') == 7 * 19 * 10  # every segment's every estimate
    assert len(re.findall(r'<tr class="job ', page)) == 140


def test_hostile_values_from_the_data_are_shown_not_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    rows = [headline("congruence.a1", HOSTILE, 0.5, 0.1, 200, n_unit=HOSTILE, unit=HOSTILE)]
    outcomes = [write_job(reports, DYADIC, {}, rows),
                write_job(reports, DYADIC, {"country": HOSTILE}, rows),
                write_job(reports, DYADIC, {"country": "DE"}, rows)]
    page = batch_index.write_index(outcomes, reports).read_text(encoding="utf-8")
    assert "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") > 5  # label, unit, n, segment


def test_a_full_disk_index_leaves_the_tables_out_and_says_so(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    outcomes = dyadic_batch(reports)
    full = batch_index.render_index(outcomes, reports)
    small = batch_index.render_index(outcomes, reports, tables=False)
    assert 'class="heat"' in full and 'class="heat"' not in small
    assert "tables of key estimates across segments were left out" in small
    assert len(small) < len(full) and 'class="jobs"' in small


# --------------------------------------------------------------------------- the estimates read
def test_reports_without_headlines_show_what_they_record() -> None:
    quality = {"status": "ok", "n": 835, "notebook": "00_data_quality.ipynb", "results": {
        "row_selection": {"rows": [{"reason": "rows read", "rows": 835}]},
        "sensitivity": {"rows": [{"analysis": "all respondents", "respondents": 835,
                                  "pairs": 359, "difference": -0.031, "ci_low": -0.078,
                                  "ci_high": 0.016, "p_value": 0.189}]}}}
    found = {e.key: e for e in batch_index.estimates(quality)}
    assert (found["quality.respondents"].estimate, found["quality.respondents"].count) == \
        (835, True)
    assert (found["quality.role_difference"].n, found["quality.role_difference"].n_unit) == \
        (359, "CMO–CIO pairs")
    assert found["quality.role_difference"].verdict == "not detectable"
    measurement = {"status": "ok", "n": 835, "notebook": "01_measurement.ipynb", "results": {
        "key_estimates": {"rows": [{"term": "mutual_trust", "estimate": 0.767,
                                    "ci_low": 0.739, "ci_high": 0.793}]}}}
    (alpha,) = batch_index.estimates(measurement)
    assert (alpha.label, alpha.unit, alpha.n, alpha.testable) == \
        ("Mutual trust", "Cronbach's alpha", 835, False)
    assert batch_index.estimates({"status": "failed"}) == []
    assert batch_index.estimates({**quality, "not_applicable": "needs pairs"}) == []


def test_too_few_and_not_applicable_reports_show_why_and_no_numbers(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    outcomes = dyadic_batch(reports)[:3]
    few = write_job(reports, DYADIC, {"country": "AT"}, [])
    doc = json.loads(few.job.json_path(reports).read_text())
    few.job.json_path(reports).write_text(json.dumps({**doc, "too_few": "only 3 pairs"}))
    spend = NOTEBOOKS / "05_spend_shadow_it.ipynb"
    missing = write_job(reports, spend, {}, [headline("shadow.share", "Shadow-IT share", 7.2,
                                                      0.3, 1187, "firm-years", "%")])
    missing.not_applicable = "needs the spend ledger"
    page = batch_index.write_index([*outcomes, few, missing], reports).read_text(encoding="utf-8")
    at = re.search(r'<td class="cell v-none" title="Country: AT: ([^"]+)">–</td>',
                   row_of(tbodies(page)["Country"], A1[1]))
    assert at and at.group(1) == "too few responses to report (suppressed)"
    job = re.search(r'<tr class="job st-reused dim d0"><td><a href="[^"]+">Country: AT</a></td>'
                    r'.*?</tr>', page).group(0)
    assert '<td class="num"></td>' in job and "too few responses to report" in job
    assert "Not applicable: needs the spend ledger" in page
    assert "Shadow-IT share" not in page  # its numbers are not shown as if it applied


# --------------------------------------------------------------------------- in the browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None or sync_playwright is None,
                    reason="needs Chromium and playwright")
def test_in_chromium_the_filters_work_offline_and_no_table_is_wider_than_the_page(
        tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    target = batch_index.write_index(dyadic_batch(reports), reports)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                       else (errors.append(r.request.url), r.abort()))
            page.goto(target.as_uri())

            def shown(selector: str) -> int:
                return page.evaluate(f"""() => [...document.querySelectorAll('{selector}')]
                    .filter(e => e.offsetParent !== null).length""")

            assert shown("tbody.dim") == 2 and shown("tr.job") == 6
            page.click('label[for="f-dim-d1"]')  # size bands only
            assert shown("tbody.dim") == 1 and shown("tbody.dim.d1") == 1
            assert shown("tr.job") == 4  # the whole sample and the three size bands
            page.click('label[for="f-st-failed"]')  # ... that failed
            assert shown("tr.job") == 1 and shown("tr.job.st-failed") == 1
            page.click('label[for="f-dim-all"]')
            page.click('label[for="f-st-all"]')
            assert shown("tbody.dim") == 2 and shown("tr.job") == 6
            wide = """() => [...document.querySelectorAll('table')]
                .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1).length"""
            assert page.evaluate(wide) == 0
            page.set_viewport_size({"width": 718, "height": 1000})  # A4 less margins
            page.emulate_media(media="print")
            assert page.evaluate(wide) == 0
            assert not errors
        finally:
            browser.close()


def test_jobs_sharing_a_segment_are_told_apart_and_tested_once(tmp_path: Path) -> None:
    """A grid over the language repeats each segment: two columns, named by their language,
    and one part per segment in the test (the same firms twice would inflate Q)."""
    reports = tmp_path / "reports"
    outcomes = []
    for language in ("EN", "DE"):
        for segment, a1, se in (({}, 0.55, 0.04), ({"country": "DE"}, -0.6, 0.2),
                                ({"country": "NL"}, 0.9, 0.3)):
            outcome = write_job(reports, DYADIC, segment, [headline(*A1, a1, se, 100)],
                                language=language)
            name = f"{outcome.job.name}__language-{language}"
            job = Job(outcome.job.notebook, name, outcome.job.parameters)
            job.json_path(reports).write_text(outcome.job.json_path(reports).read_text())
            job.html_path(reports).write_text("<!DOCTYPE html><title>r</title>")
            outcomes.append(batch_plan.Outcome(job, "reused"))
    page = batch_index.write_index(outcomes, reports).read_text(encoding="utf-8")
    country = tbodies(page)["Country"]
    assert re.findall(r'class="seg"><a href="[^"]+">([^<]+)</a>', country) == [
        "DE (language: EN)", "NL (language: EN)", "DE (language: DE)", "NL (language: DE)"]
    once = heterogeneity.segment_tests([({"country": "DE"}, [headline(*A1, -0.6, 0.2, 100)]),
                                        ({"country": "NL"}, [headline(*A1, 0.9, 0.3, 100)])])
    shown = re.search(r'title="The segments by Country differ: Holm-corrected ([^(]+) \(Q = '
                      r'([\d.]+), df = (\d+)', html.unescape(row_of(country, A1[1])))
    assert shown.group(2) == f"{once.loc[0, 'q']:.1f}" and shown.group(3) == "1"
    assert "Whole sample</a> <span class=\"sm\">(language: DE)</span>" in page
