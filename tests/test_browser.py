"""Every rendered report and the index, opened in headless Chromium as a reader would: no console
error (a Content-Security-Policy violation is one), no request leaving the page, every image
decoded and described, every in-page link alive, no table wider than its container at 1280 px,
and the policy of :mod:`helpers.markup` on every page. Hostile values are checked in
``test_hostile_values``.

On a selection that includes a German report (tests/print_batch.py: every notebook's whole-sample
and wave-2 reports, the index), what a reader takes away works: every download link (``a[download]``
with a ``data:`` URL) decodes to a valid file of its kind — CSV read by pandas, Excel by openpyxl,
SVG as XML, PNG by its signature, LaTeX with a tabular — and every page's PDF (``make pdf``) opens.

Uses Debian's Chromium (installed by .ci/run) driven by Playwright for Python with the system
browser as executable — nothing is downloaded. Where no browser is installed the tests are
skipped with the reason.
"""

from __future__ import annotations

import base64
import io
import shutil
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from print_batch import pages as selected_pages
from print_batch import printed_selection

from helpers import markup, paths
from helpers.batch import pdf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is a dev dependency
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright (Python) is not installed"),
]
ARTIFACTS = paths.ROOT / "build" / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Contrast of every visible text element against its effective background (WCAG 2.x formula).
CONTRAST_JS = """() => {
  const lum = (rgb) => { const c = rgb.map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
  const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const background = (el) => { for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3); }
    return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const fg = parse(style.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < needed) bad.push(el.tagName + ': ' + el.textContent.trim().slice(0, 40) +
                                 ' (' + ratio.toFixed(2) + ')');
  }
  return bad;
}"""


# Tables wider than the element that holds them (cut off, or only seen by scrolling sideways).
OVERFLOW_JS = """() => [...document.querySelectorAll('table')]
  .filter(t => t.getClientRects().length && t.scrollWidth > t.parentElement.clientWidth + 1)
  .map(t => (t.caption ? t.caption.textContent : t.textContent).trim().slice(0, 60) + ': ' +
            t.scrollWidth + ' px in ' + t.parentElement.clientWidth + ' px')"""


def _check_page(page, url: str) -> dict[str, list]:
    """Open one page; collect console errors, non-file requests, broken images and links.

    A fragment resolves, as in the HTML spec, to the id equal to it or to its percent-decoding
    (nbconvert keeps non-ASCII heading ids percent-encoded)."""
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if not r.request.url.startswith(("file://", "data:")):
            requests.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    images = page.evaluate("() => [...document.images].map(i => [i.naturalWidth, i.alt])")
    links = page.evaluate("""() => [...document.querySelectorAll('a[href^="#"]')]
        .map(a => a.getAttribute('href'))
        .filter(h => h.length > 1 && !document.getElementById(h.slice(1))
                     && !document.getElementById(decodeURIComponent(h.slice(1))))""")
    tables = page.evaluate("""() => [...document.querySelectorAll('table')]
        .filter(t => !t.querySelector('th')).length""")
    policy = page.evaluate("""() => [...document.querySelectorAll(
        'meta[http-equiv="Content-Security-Policy"]')].map(m => m.content)""")
    overflow = page.evaluate(OVERFLOW_JS)
    page.unroute("**/*")
    return {"errors": errors, "requests": requests, "images": images, "dead_links": links,
            "tables_without_headers": tables, "policy": policy, "overflow": overflow}


def _problems(name: str, result: dict[str, list]) -> list[str]:
    """What ``_check_page`` found wrong on one page, one line each."""
    problems = [f"{name}: console error {e}" for e in result["errors"]]
    problems += [f"{name}: network request {u}" for u in result["requests"]]
    problems += [f"{name}: image not decoded" for w, _ in result["images"] if w <= 0]
    problems += [f"{name}: image without alt text" for _, alt in result["images"]
                 if not alt or alt.startswith("No description")]
    problems += [f"{name}: dead link {h}" for h in result["dead_links"]]
    problems += [f"{name}: table wider than its container at 1280 px: {t}"
                 for t in result["overflow"]]
    if result["policy"] != [markup.content_security_policy()]:
        problems.append(f"{name}: Content-Security-Policy {result['policy']}")
    if result["tables_without_headers"]:
        problems.append(f"{name}: {result['tables_without_headers']} table(s) "
                        "without header cells")
    return problems


def test_every_report_and_the_index_in_chromium(rendered_batch: Path) -> None:
    pages = [rendered_batch / "index.html"] + sorted(
        p for p in rendered_batch.rglob("*.html") if p.name != "index.html")
    assert len(pages) > 10
    problems = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for path in pages:
                page = context.new_page()
                result = _check_page(page, path.as_uri())
                name = path.relative_to(rendered_batch).as_posix()
                if path.name == "index.html":
                    page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)
                    contrast = page.evaluate(CONTRAST_JS)
                    problems += [f"{name}: low contrast {c}" for c in contrast[:5]]
                problems += _problems(name, result)
                page.close()
        finally:
            browser.close()
    assert (ARTIFACTS / "index.png").stat().st_size > 0
    assert not problems, "\n".join(problems[:40])


def test_one_full_report_meets_contrast(rendered_batch: Path) -> None:
    report = next(p for p in sorted(rendered_batch.rglob("all.html"))
                  if "02_disconnect_profile" in p.as_posix())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(report.as_uri(), wait_until="load")
            low = page.evaluate(CONTRAST_JS)
            page.screenshot(path=str(ARTIFACTS / "02_disconnect_profile.png"), full_page=True)
        finally:
            browser.close()
    assert not low, "text below WCAG AA contrast:\n" + "\n".join(low[:20])


DOWNLOADS_JS = """() => [...document.querySelectorAll('a[download]')]
  .map(a => [a.getAttribute('download'), a.getAttribute('href') || ''])"""


def _data_url(href: str) -> tuple[str, bytes]:
    """The media type and bytes of a ``data:`` URL (base64 or percent-encoded)."""
    assert href.startswith("data:"), href[:60]
    head, _, body = href[5:].partition(",")
    if head.endswith(";base64"):
        return head[: -len(";base64")], base64.b64decode(body, validate=True)
    return head, urllib.parse.unquote_to_bytes(body)


def _invalid(filename: str, data: bytes) -> str | None:
    """Why a downloaded file is not a valid file of its kind (None when it is)."""
    import openpyxl

    kind = filename.rsplit(".", 1)[-1].lower()
    try:
        if kind == "csv":
            frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
            return None if len(frame.columns) and len(frame) else "an empty table"
        if kind == "xlsx":
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
            return None if any(s.max_row for s in book.worksheets) else "an empty workbook"
        if kind == "svg":
            root = ET.fromstring(data)
            return None if root.tag.rsplit("}", 1)[-1] == "svg" else f"root <{root.tag}>"
        if kind == "png":
            return None if data.startswith(b"\x89PNG\r\n\x1a\n") else "no PNG signature"
        if kind == "tex":
            return None if rb"\begin{tabular}" in data else "no tabular"
        if kind == "docx":
            return None if "word/document.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist() \
                else "no word/document.xml"
    except Exception as exc:  # noqa: BLE001 - any parser error is the finding
        return f"{type(exc).__name__}: {str(exc)[:80]}"
    return f"a kind of file this test does not know ({kind})"


def test_downloads_decode_and_pdfs_open(rendered_batch: Path, rendered_languages: Path) -> None:
    """The selection (every notebook, a segment, a German report, the index): pages open cleanly
    at 1280 px, every download decodes to a valid file, and each page's PDF opens."""
    folder = printed_selection(rendered_batch, rendered_languages)
    problems, kinds = [], {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for path in selected_pages(folder):
                name = path.relative_to(folder).as_posix()
                page = context.new_page()
                result = _check_page(page, path.as_uri())
                links = page.evaluate(DOWNLOADS_JS)
                page.close()
                problems += _problems(name, result)
                for filename, href in links:
                    kind = filename.rsplit(".", 1)[-1].lower()
                    kinds[kind] = kinds.get(kind, 0) + 1
                    try:
                        _, data = _data_url(href)
                    except (ValueError, AssertionError) as exc:
                        problems.append(f"{name}: {filename} is not a data: URL ({exc})")
                        continue
                    why = _invalid(filename, data)
                    if why:
                        problems.append(f"{name}: download {filename}: {why}")
                document = path.with_suffix(".pdf").read_bytes()
                if not document.startswith(b"%PDF-") or pdf.page_count(document) < 1:
                    problems.append(f"{name}: its PDF does not open ({document[:8]!r})")
        finally:
            browser.close()
    # what the reports offer: each table as CSV and Excel, model tables in LaTeX, figures as
    # PNG and SVG
    missing = {"csv", "xlsx", "tex", "png", "svg"} - set(kinds)
    assert not missing, f"no download of kind {sorted(missing)} in any report: {kinds}"
    assert kinds["csv"] == kinds["xlsx"], kinds
    assert not problems, "\n".join(problems[:40])
