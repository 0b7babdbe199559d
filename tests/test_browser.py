"""Every rendered report and the index, opened in headless Chromium as a reader would: no console
error (a Content-Security-Policy violation is one), no request leaving the page, every image
decoded and described, every in-page link alive, and the policy of :mod:`helpers.markup` on
every page. Hostile values are checked in ``test_hostile_values``.

Uses Debian's Chromium (installed by .ci/run) driven by Playwright for Python with the system
browser as executable — nothing is downloaded. Where no browser is installed the tests are
skipped with the reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import markup, paths

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
    page.unroute("**/*")
    return {"errors": errors, "requests": requests, "images": images, "dead_links": links,
            "tables_without_headers": tables, "policy": policy}


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
                problems += [f"{name}: console error {e}" for e in result["errors"]]
                problems += [f"{name}: network request {u}" for u in result["requests"]]
                problems += [f"{name}: image not decoded" for w, _ in result["images"] if w <= 0]
                problems += [f"{name}: image without alt text" for _, alt in result["images"]
                             if not alt or alt.startswith("No description")]
                problems += [f"{name}: dead link {h}" for h in result["dead_links"]]
                if result["policy"] != [markup.content_security_policy()]:
                    problems.append(f"{name}: Content-Security-Policy {result['policy']}")
                if result["tables_without_headers"]:
                    problems.append(f"{name}: {result['tables_without_headers']} table(s) "
                                    "without header cells")
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
