"""Printable reports (helpers.batch.pdf, ``make pdf``, templates/report/print.css).

Fast checks of what is printed and when (no browser); then, in Debian's Chromium, real reports of
the session's batch (tests/print_batch.py: every notebook's whole-sample and wave-2 reports, a
German report and the index) printed with the command line: each PDF has a number of pages that
fits the page's printed length, and no table or figure is cut at the page's right edge when the
page is laid out for print at the printable width of A4. Skipped, with the reason, only where no
Chromium (or no Playwright) is installed; CI installs Chromium (.ci/run).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from print_batch import ARGS, CHROMIUM, NO_BROWSER, pages, printed_selection, sync_playwright

from helpers import cli
from helpers.batch import pdf

def _minimal_pdf(n: int) -> bytes:
    """A PDF as Skia writes it: uncompressed page dictionaries under one page tree."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(n))
    objects = [b"1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n",
               f"2 0 obj\n<</Type /Pages\n/Count {n}\n/Kids [{kids}]>>\nendobj\n".encode()]
    objects += [f"{3 + i} 0 obj\n<</Type /Page\n/Parent 2 0 R\n/MediaBox [0 0 595 842]>>\n"
                "endobj\n".encode() for i in range(n)]
    info = b"0 0 obj\n<</Creator (HeadlessChrome) /Producer (Skia/PDF m156)>>\nendobj\n"
    return b"%PDF-1.4\n" + info + b"".join(objects) + b"trailer\n<</Root 1 0 R>>"


# --------------------------------------------------------------------------- no browser needed
def test_page_count_reads_page_objects_and_the_tree() -> None:
    assert pdf.page_count(_minimal_pdf(3)) == 3
    assert pdf.page_count(_minimal_pdf(1)) == 1
    assert pdf.page_count(b"<html>not a pdf</html>") == 0
    # a tree that claims more pages than there are: not trusted
    assert pdf.page_count(_minimal_pdf(2).replace(b"/Count 2", b"/Count 5")) == 0


def test_page_box_comes_from_the_print_stylesheet() -> None:
    assert pdf.page_margins("@page { size: A4; margin: 10mm 20mm; }") == (10, 20, 10, 20)
    assert pdf.page_margins("@page { margin: 5mm 6mm 7mm 8mm }") == (5, 6, 7, 8)
    assert pdf.page_margins("@page { margin: 12mm }") == (12, 12, 12, 12)
    assert pdf.printable_width_px("@page { margin: 10mm 15mm }") == int(180 * 96 / 25.4)
    top, right, bottom, left = pdf.page_margins()  # the project's: A4 with room for the footer
    assert "size: A4" in pdf.print_css()
    assert 10 <= min(top, bottom) and 8 <= min(left, right) <= max(left, right) <= 25
    assert 600 <= pdf.printable_width_px() <= 720


def _report_folder(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    for name in ("02_x/all", "02_x/wave-2", "02_x/all.error", "05_y/all"):
        page = reports / f"{name}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("<html><title>t</title><p>report</p></html>", encoding="utf-8")
    (reports / "02_x" / ".all.html.123.tmp").write_text("partial", encoding="utf-8")
    (reports / "index.html").write_text("<html><title>i</title></html>", encoding="utf-8")
    return reports


def test_every_report_page_and_the_index_is_printed_not_error_pages(tmp_path: Path) -> None:
    reports = _report_folder(tmp_path)
    found = pdf.targets(reports)
    assert [t.key for t in found] == ["index", "02_x/all", "02_x/wave-2", "05_y/all"]
    assert all(t.pdf == t.html.with_suffix(".pdf") for t in found)
    assert [t.key for t in pdf.targets(reports, ["05_*"])] == ["05_y/all"]
    assert [t.key for t in pdf.targets(reports, ["wave", "index"])] == ["index", "02_x/wave-2"]


def test_a_pdf_is_printed_again_only_when_its_page_or_the_rules_changed(tmp_path: Path) -> None:
    reports = _report_folder(tmp_path)
    target = pdf.targets(reports, ["02_x/all"])[0]
    assert not pdf.up_to_date(target)  # no PDF yet
    target.pdf.write_bytes(_minimal_pdf(1))
    now = time.time()
    os.utime(target.html, (now - 100, now - 100))
    os.utime(target.pdf, (now - 50, now - 50))
    assert pdf.up_to_date(target, rules_mtime=now - 200)
    assert not pdf.up_to_date(target, rules_mtime=now - 10)  # print.css (or pdf.py) is newer
    os.utime(target.html, (now, now))
    assert not pdf.up_to_date(target, rules_mtime=now - 200)  # the report was rendered again


def test_up_to_date_pdfs_are_not_printed_and_orphans_are_removed(tmp_path: Path,
                                                                  monkeypatch) -> None:
    reports = _report_folder(tmp_path)
    for target in pdf.targets(reports):
        target.pdf.write_bytes(_minimal_pdf(2))
    gone = reports / "02_x" / "country-XX.pdf"  # its report left the batch
    gone.write_bytes(_minimal_pdf(1))
    mine = reports / "05_y" / "appendix.pdf"  # not printed here: kept
    mine.write_bytes(b"%PDF-1.7 written by someone else")
    monkeypatch.setattr(pdf, "print_pdfs",
                        lambda todo, *a, **k: pytest.fail(f"printed {todo}") if todo else [])
    monkeypatch.setattr(pdf, "_newest_rule", lambda: 0.0)
    out = io.StringIO()
    assert pdf.run(reports, stream=out) == 0
    assert not gone.exists() and mine.exists()
    assert "4 PDFs: 0 printed, 4 up to date, 0 failed" in out.getvalue()


def test_without_chromium_the_command_says_which_package_to_install(tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:
    reports = _report_folder(tmp_path)
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    assert cli.main(["pdf", "--reports-dir", str(reports)]) == 1
    err = capsys.readouterr().err
    assert "Chromium is not installed" in err and "apt-get install chromium" in err
    assert not list(reports.rglob("*.pdf"))


def test_no_reports_is_an_error_not_an_empty_success(tmp_path: Path, capsys) -> None:
    assert cli.main(["pdf", "--reports-dir", str(tmp_path)]) == 1
    assert "make reports" in capsys.readouterr().err


# --------------------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def printed(rendered_batch: Path, rendered_languages: Path) -> Path:
    if NO_BROWSER is not None:
        pytest.skip(NO_BROWSER)
    return printed_selection(rendered_batch, rendered_languages)


# Layout for print at the printable width: the page's height and every table or figure that
# reaches beyond its container or the page's right edge.
PRINT_LAYOUT_JS = """() => {
  const page = document.documentElement.clientWidth;
  const cut = [];
  for (const t of document.querySelectorAll('table')) {
    if (!t.getClientRects().length) continue;
    const box = t.parentElement, right = t.getBoundingClientRect().right;
    if (t.scrollWidth > box.clientWidth + 1 || right > page + 1)
      cut.push('table "' + (t.caption ? t.caption.textContent : t.textContent).trim()
               .slice(0, 50) + '": ' + t.scrollWidth + ' px in ' + box.clientWidth + ' px');
  }
  for (const f of document.querySelectorAll('img, svg, figure')) {
    if (f.getClientRects().length && f.getBoundingClientRect().right > page + 1)
      cut.push(f.tagName + ' ' + (f.getAttribute('alt') || '').slice(0, 50) + ': right edge ' +
               Math.round(f.getBoundingClientRect().right) + ' > ' + page);
  }
  return {height: document.documentElement.scrollHeight, cut: cut,
          tables: document.querySelectorAll('table').length};
}"""


@pytest.mark.slow
@pytest.mark.skipif(NO_BROWSER is not None, reason=str(NO_BROWSER))
def test_each_pdf_has_pages_for_its_length_and_no_table_is_cut(printed: Path) -> None:
    top, _, bottom, _ = pdf.page_margins()
    width = pdf.printable_width_px()
    page_height = (pdf.A4_MM[1] - top - bottom) * pdf.MM_PX
    problems, checked_tables = [], 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": 1000})
            for html in pages(printed):
                name = html.relative_to(printed).as_posix()
                data = html.with_suffix(".pdf").read_bytes()
                n = pdf.page_count(data)
                page = context.new_page()
                page.goto(html.as_uri(), wait_until="load")
                page.emulate_media(media="print")
                layout = page.evaluate(PRINT_LAYOUT_JS)
                page.close()
                checked_tables += layout["tables"]
                problems += [f"{name}: {c}" for c in layout["cut"]]
                # the content's length in pages: breaks kept off rows, figures and boxes add
                # at most about half a page each way, never a page per few lines
                length = layout["height"] / page_height
                low, high = max(1, int(length * 0.9)), int(length * 1.6) + 2
                if not low <= n <= high:
                    problems.append(f"{name}: {n} pages for {length:.1f} pages of content "
                                    f"(expected {low}-{high})")
        finally:
            browser.close()
    assert checked_tables > 20  # the check saw the reports' tables
    assert not problems, "\n".join(problems[:40])


@pytest.mark.slow
@pytest.mark.skipif(NO_BROWSER is not None, reason=str(NO_BROWSER))
def test_pdfs_are_printed_again_only_when_needed(printed: Path) -> None:
    out = io.StringIO()
    assert pdf.run(printed, stream=out) == 0
    total = len(pages(printed))
    assert f"{total} PDFs: 0 printed, {total} up to date, 0 failed" in out.getvalue()
    report = next(p for p in pages(printed) if p.name == "all.html")
    before = report.with_suffix(".pdf").read_bytes()
    report.touch()  # rendered again
    out = io.StringIO()
    assert pdf.run(printed, stream=out) == 0
    assert f"{total} PDFs: 1 printed, {total - 1} up to date, 0 failed" in out.getvalue()
    after = report.with_suffix(".pdf").read_bytes()
    assert pdf.page_count(after) == pdf.page_count(before) >= 1
    assert not list(printed.rglob(".*.tmp"))  # atomic writes leave no temporary file
