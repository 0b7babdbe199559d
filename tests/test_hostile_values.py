"""No markup from data, ever: hostile values through every report path, checked in the HTML and
in Chromium.

A project copy (``tests/exports/harness.project_copy``) gets a codebook whose labels and item
wording carry markup, a survey with a country value and a column header that are HTML, a ledger
whose vendors are ``<img src=x onerror=…>`` and ``<NO MERCHANT>``, and a ``reports.yaml`` whose
segment value and parameters are hostile. The data-quality, measurement, profile, drivers,
congruence and spend reports, a not-applicable/failed page, a too-few page and the index are
rendered; then every page must

- hold no element, attribute or URL that the data could have put there (no script, no event
  handler, no link or image to anywhere but the page itself, the reports and ``data:`` images),
  with the hostile text present as text;
- carry the Content-Security-Policy of :mod:`helpers.markup` before any style;
- in headless Chromium: open no dialog, log no console error (a CSP violation is one), and show
  the hostile values literally in ``document.body.innerText``.

About 45 s on two idle cores: 40 firms, ten jobs, the fork engine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from exports import harness
from helpers import markup, privacy, processing, simulate
from helpers.codebook import load_codebook

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is a dev dependency
    sync_playwright = None
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs Chromium (apt-get install chromium) and playwright (Python)")

COUNTRY = "<script>alert(1)</script>"              # a survey value and a reports.yaml segment
HEADER = '"><img src=x onerror=alert(2)>'          # a survey column header
VENDOR = "<img src=x onerror=alert(3)>"            # a ledger vendor name
NO_MERCHANT = "<NO MERCHANT>"                      # a harmless one that must not vanish
COUNTRY_LABEL = "Country <img src=x onerror=alert(4)>"
TRUST = "Trust <script>alert(5)</script> [x](javascript:alert(6)) $a$"
KPIS = "KPIs <img src=x onerror=alert(7)>"
SU = "SU <b>bold</b> & <i>x"
SUCCESS = "Success <svg onload=alert(8)> [see](javascript:alert(11))"  # readings quote it
WORDING = "Alignment <img src=x onerror=alert(9)> matters"
DRIVER = "<img src=x onerror=alert(10)>"           # a reports.yaml parameter value

#: page (relative to reports/, the segment's file by its notebook) -> text it must show
SEGMENT = COUNTRY_LABEL + ": " + COUNTRY  # the segment as its field's label and value
EXPECTED = {
    "00_data_quality/all": [COUNTRY, HEADER, COUNTRY_LABEL],
    "00_data_quality/segment": [SEGMENT],
    "01_measurement/segment": [SEGMENT, TRUST, SU, KPIS],
    "02_disconnect_profile/all": [TRUST, WORDING],
    "03_drivers/all": [KPIS],
    "03_drivers/drivers": [DRIVER],
    "04_dyadic_congruence/all": [SU, SUCCESS.lower()],
    "04_dyadic_congruence/segment": [],
    "05_spend_shadow_it/all": [VENDOR, NO_MERCHANT],
    "05_spend_shadow_it/segment": [SEGMENT],
    "index": [COUNTRY, COUNTRY_LABEL],
}
#: elements a page may hold (what nbconvert's lab template, pandas' Styler and our pages use)
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "div", "section", "nav", "footer",
    "h1", "h2", "h3", "h4", "p", "a", "em", "strong", "code", "pre", "span", "br", "ul", "li",
    "dl", "dt", "dd", "table", "caption", "thead", "tbody", "tr", "th", "td", "img", "figure",
    "figcaption", "details", "summary", "hr", "blockquote", "ol", "sup", "sub",
    "input", "label",  # the index's filters: radio buttons read by CSS, no form, no script
}


def _hostile_codebook(path: Path) -> None:
    """Labels and an item's wording with markup; the hostile country an allowed value."""
    cb = yaml.safe_load(path.read_text(encoding="utf-8"))
    cb["fields"]["country"]["values"].append(COUNTRY)
    cb["fields"]["country"]["label"]["EN"] = COUNTRY_LABEL
    for construct, label in (("mutual_trust", TRUST), ("shared_kpis", KPIS),
                             ("shared_understanding_own", SU),
                             ("joint_project_success", SUCCESS)):
        cb["constructs"][construct]["label"]["EN"] = label
    next(i for i in cb["items"] if i["id"] == "imp_1")["wording"]["EN"] = WORDING
    path.write_text(yaml.safe_dump(cb, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _batch(root: Path) -> None:
    """A small batch: each notebook for the whole sample and/or the hostile country, and a job
    whose hostile parameter makes the report fail (an error page quoting it)."""
    def job(stem: str, segment: dict | None, name: str, **parameters: object) -> dict:
        params = {"segment": segment or {}, **parameters}
        return {"notebook": f"notebooks/{stem}.ipynb", "name": name, "parameters": params}

    hostile = {"country": COUNTRY}
    jobs = [job(page.split("/")[0], hostile if page.endswith("segment") else None,
                page.split("/")[1]) for page in EXPECTED if "/" in page]
    drivers = next(j for j in jobs if j["name"] == "drivers")
    drivers["parameters"]["drivers"] = [DRIVER]
    spec = {"defaults": {"data_dir": "data/processed", "language": "EN", "min_cell": 5},
            "jobs": jobs}
    (root / "reports.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True),
                                       encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project copy with hostile inputs, its processed data built and its batch rendered;
    returns its reports folder."""
    root = harness.project_copy(tmp_path_factory.mktemp("hostile") / "project", segments=None)
    _hostile_codebook(root / "data" / "codebook.yaml")
    raw = root / "data" / "raw" / "hostile"
    simulate.write_sample(raw, firms=40, ledger_rows=4000, seed=3)
    survey = pd.read_parquet(raw / "survey.parquet")
    survey["country"] = survey["country"].astype(object)
    survey.loc[survey["firm_id"].isin(sorted(survey["firm_id"].unique())[:14]),
               "country"] = COUNTRY
    survey[HEADER] = "x"  # an unknown column: a validation warning names it
    survey.to_parquet(raw / "survey.parquet")
    ledger = pd.read_parquet(raw / "ledger.parquet")
    ledger["vendor"] = ledger["vendor"].astype(object)
    unmapped = ledger["vendor"].isin(simulate.UNMAPPED_VENDORS)
    vendors = ledger.loc[unmapped, "vendor"].value_counts().index[:2]
    assert len(vendors) == 2, "the sample ledger should have unmapped vendors"
    ledger.loc[ledger["vendor"] == vendors[0], "vendor"] = VENDOR
    ledger.loc[ledger["vendor"] == vendors[1], "vendor"] = NO_MERCHANT
    ledger.to_parquet(raw / "ledger.parquet")
    with harness.key_of(root):
        processing.build_processed(
            raw / "survey.parquet", budgets=raw / "budgets.parquet",
            ledger=raw / "ledger.parquet", fx=raw / "fx_rates.parquet",
            vendors=raw / "vendors.csv", out_dir=root / "data" / "processed",
            codebook=load_codebook(root / "data" / "codebook.yaml"))
    _batch(root)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    env.update({"DISCONNECT_LAB_ROOT": str(root),
                privacy.KEY_ENV: str(root / ".secrets" / "pseudonym.key")})
    done = subprocess.run([sys.executable, "-m", "helpers", "reports", "--jobs", "2"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
    assert "failed" in done.stdout, "the job with a hostile parameter should fail"
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return root / "reports"


def _pages(reports: Path) -> dict[str, Path]:
    """EXPECTED's page keys -> the HTML file."""
    found = {}
    for key in EXPECTED:
        if key == "index":
            found[key] = reports / "index.html"
            continue
        stem, name = key.split("/")  # a failed report's page may sit beside its last good one
        found[key] = next((p for p in (reports / stem / f"{name}.html",
                                       reports / stem / f"{name}.error.html") if p.exists()),
                          reports / stem / f"{name}.html")
    missing = [k for k, p in found.items() if not p.exists()]
    assert not missing, f"not rendered: {missing}; have {sorted(map(str, reports.rglob('*')))}"
    return found


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


#: The downloads a page may carry as data: URLs (tables as CSV, Excel, LaTeX; figures as PNG, SVG).
DOWNLOAD = re.compile(r"data:(text/csv|application/vnd\.openxmlformats-officedocument\."
                      r"spreadsheetml\.sheet|application/x-tex|image/png|image/svg\+xml)"
                      r"(;charset=utf-8)?;base64,[A-Za-z0-9+/=]*$")


def markup_problems(page: str) -> list[str]:
    """What on a page the data could have put there: unknown elements (script, iframe, svg, …),
    event-handler attributes, URLs leaving the page (other than data: images and relative
    links), and a missing or late Content-Security-Policy."""
    parser = _Elements()
    parser.feed(page)
    problems = []
    for tag, attrs in parser.tags:
        if tag not in ALLOWED_TAGS:
            problems.append(f"element <{tag}>")
        problems += [f"<{tag} {name}=…>" for name in attrs if name.startswith("on")]
        for name in ("href", "src", "action", "formaction", "xlink:href", "background"):
            url = (attrs.get(name) or "").strip()
            if not url:
                continue
            if name == "src" and url.startswith("data:image/png;base64,"):
                continue
            if tag == "a" and name == "href" and "download" in attrs and DOWNLOAD.match(url):
                continue  # a table's or figure's download, inside the page
            if re.match(r"\s*([a-z][a-z0-9+.-]*:|//)", url, re.IGNORECASE):
                problems.append(f"<{tag} {name}={url[:60]!r}>")
    metas = [a for t, a in parser.tags if t == "meta" and "http-equiv" in a]
    policy = markup.content_security_policy()
    if [m.get("content") for m in metas] != [policy]:
        problems.append(f"CSP meta: {metas} instead of one with {policy!r}")
    else:
        csp_at = next(i for i, (_, a) in enumerate(parser.tags) if "http-equiv" in a)
        if any(t in ("style", "script", "img") for t, _ in parser.tags[:csp_at]):
            problems.append("the CSP meta comes after a style or script")
    return problems


@pytest.mark.slow
def test_every_page_shows_hostile_values_as_text(hostile_reports: Path) -> None:
    pages = _pages(hostile_reports)
    every = sorted(hostile_reports.rglob("*.html"))
    assert set(pages.values()) <= set(every)
    problems = []
    for path in every:
        page = path.read_text(encoding="utf-8")
        name = path.relative_to(hostile_reports).as_posix()
        problems += [f"{name}: {p}" for p in markup_problems(page)]
    for key, path in pages.items():
        text = harness.visible_text(path.read_text(encoding="utf-8"))
        problems += [f"{key}: does not show {want!r}" for want in EXPECTED[key]
                     if want not in text]
    assert not problems, "\n".join(problems[:40])


def test_the_checks_find_markup() -> None:
    """The static check is not vacuous: each way in that it guards is reported."""
    head = f'<html><head><meta charset="utf-8">{markup.csp_meta()}<style></style></head><body>'
    assert markup_problems(head + "<p>&lt;script&gt;</p></body></html>") == []
    for body in (COUNTRY, VENDOR, HEADER, "<svg onload=alert(8)>", '<a href="javascript:x">a</a>',
                 '<img src="https://example.org/x.png">', "<iframe srcdoc=x></iframe>"):
        assert markup_problems(head + body + "</body></html>"), body
    assert markup_problems("<html><head><style></style></head><body></body></html>")
    late = f"<html><head><style></style>{markup.csp_meta()}</head><body></body></html>"
    assert markup_problems(late) == ["the CSP meta comes after a style or script"]


# --------------------------------------------------------------------------- markup helpers
def test_text_escapes_quotes_for_attributes() -> None:
    assert markup.text(HEADER) == "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
    assert markup.text(NO_MERCHANT) == "&lt;NO MERCHANT&gt;"


def test_reading_keeps_code_spans_and_nothing_else() -> None:
    html = markup.reading(f"Run `make data`: {TRUST}\n\n# {VENDOR} *x*")
    assert html == ("<p>Run <code>make data</code>: Trust &lt;script&gt;alert(5)&lt;/script&gt; "
                    "[x](javascript:alert(6)) $a$</p><p># &lt;img src=x onerror=alert(3)&gt; "
                    "*x*</p>")


def test_policy_allows_exactly_the_listed_scripts() -> None:
    policy = markup.content_security_policy(["a()", "a()", "b()"])
    assert policy.startswith("default-src 'none'; img-src data:;")
    assert policy.count("'sha256-") == 2 and "unsafe-inline'" not in policy.split("script-src")[1]
    assert markup.content_security_policy().endswith("script-src 'none'")
    with pytest.raises(ValueError):
        markup.inline_script("x = '</script><script>alert(1)'")


# --------------------------------------------------------------------------- in the browser
def _open(context, path: Path) -> dict[str, object]:
    """Open a page; collect dialogs, console errors (CSP violations are errors) and its text."""
    seen: dict[str, list] = {"dialogs": [], "errors": [], "requests": []}
    page = context.new_page()
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))

    def route(r):
        if not r.request.url.startswith(("file://", "data:")):
            seen["requests"].append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(50)  # let an onerror/onload handler fire, if one got in
    seen["text"] = page.evaluate("() => document.body.innerText")
    seen["title"] = page.title()
    page.close()
    return seen


@pytest.mark.slow
@needs_browser
def test_in_chromium_no_dialog_no_csp_error_and_literal_text(hostile_reports: Path) -> None:
    pages = _pages(hostile_reports)
    every = sorted(hostile_reports.rglob("*.html"))
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            for path in every:
                seen = _open(context, path)
                name = path.relative_to(hostile_reports).as_posix()
                problems += [f"{name}: dialog {d!r}" for d in seen["dialogs"]]
                problems += [f"{name}: console error {e}" for e in seen["errors"]]
                problems += [f"{name}: request {u}" for u in seen["requests"]]
                key = next((k for k, p in pages.items() if p == path), None)
                problems += [f"{name}: innerText lacks {want!r}"
                             for want in EXPECTED.get(key, []) if want not in seen["text"]]
        finally:
            browser.close()
    assert not problems, "\n".join(problems[:40])


@needs_browser
def test_in_chromium_the_policy_runs_listed_scripts_only(tmp_path: Path) -> None:
    """The browser check would see an injected script, the policy blocks it, and a listed
    script (allowed by the hash :mod:`helpers.markup` computes) runs."""
    own = "document.title = 'own script ran';"
    injected = "<script>alert('injected')</script><img src=x onerror=\"alert('handler')\">"
    unsafe, guarded = tmp_path / "unsafe.html", tmp_path / "guarded.html"
    unsafe.write_text(f"<!DOCTYPE html><html><head></head><body>{injected}</body></html>")
    guarded.write_text(f"<!DOCTYPE html><html><head>{markup.csp_meta([own])}</head><body>"
                       f"{markup.inline_script(own)}{injected}</body></html>")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            without, with_policy = _open(context, unsafe), _open(context, guarded)
        finally:
            browser.close()
    assert without["dialogs"]  # an injected script is seen when nothing stops it
    assert with_policy["dialogs"] == [] and with_policy["title"] == "own script ran"
    assert any("Content Security Policy" in e for e in with_policy["errors"])

