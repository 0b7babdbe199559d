"""Printable reports: every rendered report and the index as a PDF beside it (``make pdf``).

Headless Chromium prints each page as a reader's browser would: Debian's package (``chromium``),
driven by Playwright for Python with the system browser as its executable — nothing is
downloaded, and every request that would leave the page is refused (the reports are offline
files; printing needs no network). Several pages print at once in one browser.

What the paper looks like is the page's own print stylesheet: for the reports
``templates/report/print.css``, which the report template includes (the page box — A4 and its
margins, ``@page`` — tables fitted to the page width with their header rows repeated, no row,
figure or box cut by a page break, headings kept with what follows, no table of contents or
download links); the index has print rules of its own (helpers.batch.index) and gets the same page box
from here. Chromium adds a header (the page's title) and a footer (the report's name, page *n* /
*total*) in the page margins.

Incremental: a PDF is printed again only when it is missing or older than its page, the print
stylesheet or this module. Each PDF is written atomically (:mod:`helpers.atomic`). A PDF whose page
is gone (a report no longer in the batch) is removed when the whole folder is printed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import glob
import html
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from helpers import atomic, paths

PRINT_CSS = Path(__file__).resolve().parent.parent / "templates" / "report" / "print.css"
INDEX = "index"
ERROR_PAGE = ".error.html"  # an error page (helpers.batch.render): no report to print
A4_MM = (210.0, 297.0)
MM_PX = 96 / 25.4  # CSS pixels per millimetre
PAGE_TIMEOUT_MS = 180_000  # one page: load and print (the index is the largest, a few seconds)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
APT_HINT = ("install Debian's package: sudo apt-get install chromium (or set CHROMIUM to a "
            "Chromium or Chrome executable)")


class PdfError(RuntimeError):
    """PDFs cannot be printed at all (no browser, no Playwright); the message says what to do."""


def find_chromium() -> str:
    """The Chromium executable: ``$CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the
    PATH, else Debian's ``/usr/bin/chromium``; :class:`PdfError` naming the package when none."""
    given = os.environ.get("CHROMIUM")
    if given:
        found = shutil.which(given)
        if found is None:
            raise PdfError(f"CHROMIUM={given} is not an executable; {APT_HINT}")
        return found
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError(f"Chromium is not installed, and it prints the PDFs: {APT_HINT}")


def _playwright():
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise PdfError("Playwright for Python is not installed (it drives Chromium): run "
                       "`make setup`, or pip install playwright — no browser download is "
                       "needed, the system's Chromium is used") from None
    return async_playwright


# --------------------------------------------------------------------------- the page box
def print_css() -> str:
    """The print stylesheet's text."""
    return PRINT_CSS.read_text(encoding="utf-8")


def page_margins(css: str | None = None) -> tuple[float, float, float, float]:
    """The page margins (top, right, bottom, left) in millimetres, from the ``@page`` rule of the
    print stylesheet (one to four lengths in mm, as in CSS); 15 mm each when it sets none."""
    css = print_css() if css is None else css
    rule = re.search(r"@page\s*\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    margin = re.search(r"(?<![-\w])margin\s*:\s*([^;}]+)", rule.group(1)) if rule else None
    if margin is None:
        return (15.0, 15.0, 15.0, 15.0)
    values = [float(v) for v in re.findall(r"([\d.]+)\s*mm", margin.group(1))]
    if not 1 <= len(values) <= 4:
        raise ValueError(f"print.css: @page margin must be 1-4 lengths in mm: {margin.group(1)}")
    top = values[0]
    right = values[1] if len(values) > 1 else top
    bottom = values[2] if len(values) > 2 else top
    left = values[3] if len(values) > 3 else right
    return (top, right, bottom, left)


def printable_width_px(css: str | None = None) -> int:
    """Width of the printable area of an A4 page in CSS pixels (what a table must fit)."""
    _, right, _, left = page_margins(css)
    return int((A4_MM[0] - left - right) * MM_PX)


def _header_footer(key: str, css: str) -> tuple[str, str]:
    """Chromium's header and footer templates: the page's title above; the report's name and the
    page number below, aligned with the text (the page's side margins)."""
    _, right, _, left = page_margins(css)
    box = (f"width:100%;margin:0 {right}mm 0 {left}mm;font:7.5px system-ui,'DejaVu Sans',"
           "sans-serif;color:#555;display:flex;justify-content:space-between;gap:8px")
    header = (f'<div style="{box}"><span class="title" style="overflow:hidden;'
              'white-space:nowrap;text-overflow:ellipsis"></span></div>')
    footer = (f'<div style="{box}"><span>{html.escape(key)}</span>'
              '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span>'
              "</div>")
    return header, footer


# --------------------------------------------------------------------------- what to print
@dataclass(frozen=True)
class Target:
    """One page to print: ``key`` is ``<notebook>/<name>`` or ``index``."""

    key: str
    html: Path
    pdf: Path


def _matches(key: str, patterns: Sequence[str]) -> bool:
    """As ``make reports --only``: a glob, or else a substring of ``<notebook>/<name>``."""
    return not patterns or any(fnmatch.fnmatchcase(key, p) if glob.has_magic(p) else p in key
                               for p in patterns)


def targets(reports_dir: Path, only: Sequence[str] = ()) -> list[Target]:
    """The index and every report page (``<notebook>/<name>.html``, not error pages nor
    temporary files) of ``reports_dir``, the index first."""
    found = []
    index = reports_dir / "index.html"
    if index.is_file() and _matches(INDEX, only):
        found.append(Target(INDEX, index, index.with_suffix(".pdf")))
    for page in sorted(reports_dir.glob("*/*.html")):
        if page.name.startswith(".") or page.name.endswith(ERROR_PAGE) or not page.is_file():
            continue
        key = f"{page.parent.name}/{page.stem}"
        if _matches(key, only):
            found.append(Target(key, page, page.with_suffix(".pdf")))
    return found


def _newest_rule() -> float:
    return max(PRINT_CSS.stat().st_mtime, Path(__file__).stat().st_mtime)


def up_to_date(target: Target, rules_mtime: float | None = None) -> bool:
    """Whether the PDF is newer than its page, the print stylesheet and this module."""
    try:
        printed = target.pdf.stat().st_mtime
    except FileNotFoundError:
        return False
    rules = _newest_rule() if rules_mtime is None else rules_mtime
    return printed > max(target.html.stat().st_mtime, rules)


def is_printed_here(path: Path) -> bool:
    """Whether ``path`` is a PDF that Chromium printed (Skia writes its producer in the file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)  # Skia writes the document information first
            fh.seek(max(0, path.stat().st_size - 65536))
            tail = fh.read()
    except OSError:
        return False
    return head.startswith(b"%PDF-") and (b"/Producer (Skia/PDF" in head
                                          or b"/Producer (Skia/PDF" in tail)


def orphans(reports_dir: Path) -> list[Path]:
    """PDFs printed here whose page is gone (a report no longer in the batch)."""
    candidates = [reports_dir / "index.pdf", *sorted(reports_dir.glob("*/*.pdf"))]
    return [p for p in candidates if p.is_file() and not p.with_suffix(".html").is_file()
            and is_printed_here(p)]


# --------------------------------------------------------------------------- printing
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_PAGE_TREE = re.compile(rb"/Type\s*/Pages\b(?:(?!>>).)*?/Count\s+(\d+)", re.S)


def page_count(data: bytes) -> int:
    """Pages of a PDF that Chromium printed: its page objects (Skia writes every object's
    dictionary uncompressed), checked against the page tree's root count. 0 when it is not a
    PDF or the two disagree."""
    if not data.startswith(b"%PDF-"):
        return 0
    pages = len(_PAGE_OBJECT.findall(data))
    counts = [int(c) for c in _PAGE_TREE.findall(data)]
    return pages if counts and max(counts) == pages else 0


@dataclass
class Printed:
    target: Target
    status: str  # "printed" or "failed"
    pages: int = 0
    seconds: float = 0.0
    error: str = ""


async def _refuse_network(route) -> None:
    if route.request.url.startswith(("file:", "data:")):
        await route.continue_()
    else:
        await route.abort()


async def _print_one(context, target: Target, css: str) -> bytes:
    page = await context.new_page()
    try:
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        await page.goto(target.html.as_uri(), wait_until="load")
        await page.emulate_media(media="print")
        header, footer = _header_footer(target.key, css)
        top, right, bottom, left = page_margins(css)  # a page's own @page rule takes precedence
        margin = {"top": f"{top}mm", "right": f"{right}mm", "bottom": f"{bottom}mm",
                  "left": f"{left}mm"}
        return await page.pdf(format="A4", prefer_css_page_size=True, print_background=True,
                              margin=margin, display_header_footer=True,
                              header_template=header, footer_template=footer, outline=True,
                              tagged=True)
    finally:
        await page.close()


async def _print_all(todo: Sequence[Target], chromium: str, workers: int,
                     done: Callable[[Printed], None]) -> list[Printed]:
    css = print_css()
    async with _playwright()() as pw:
        try:
            browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure: one sentence
            raise PdfError(f"Chromium ({chromium}) did not start: "
                           f"{str(exc).strip().splitlines()[0]}") from None
        try:
            context = await browser.new_context()
            await context.route("**/*", _refuse_network)
            slots = asyncio.Semaphore(max(1, workers))

            async def one(target: Target) -> Printed:
                async with slots:
                    start = time.monotonic()
                    try:
                        data = await _print_one(context, target, css)
                        pages = page_count(data)
                        if pages < 1:
                            raise RuntimeError("Chromium returned no readable PDF")
                        with atomic.atomic_open(target.pdf, "wb") as fh:
                            fh.write(data)
                        result = Printed(target, "printed", pages, time.monotonic() - start)
                    except Exception as exc:  # noqa: BLE001 - reported per page, the rest go on
                        text = str(exc).strip().splitlines()
                        result = Printed(target, "failed", seconds=time.monotonic() - start,
                                         error=text[0] if text else type(exc).__name__)
                    done(result)
                    return result

            return list(await asyncio.gather(*(one(t) for t in todo)))
        finally:
            await browser.close()


def print_pdfs(todo: Sequence[Target], workers: int = 2,
               done: Callable[[Printed], None] = lambda _: None) -> list[Printed]:
    """Print ``todo`` (ignoring whether they are up to date) with ``workers`` pages at once in
    one browser; each result is also passed to ``done`` as it finishes."""
    if not todo:
        return []
    chromium = find_chromium()
    return asyncio.run(_print_all(todo, chromium, workers, done))


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(paths.ROOT).as_posix()
    except ValueError:
        return str(path)


def run(reports_dir: Path | None = None, only: Sequence[str] = (), workers: int | None = None,
        force: bool = False, stream: TextIO | None = None) -> int:
    """``make pdf``: print what is missing or out of date; exit status 0, or 1 when a page
    failed or nothing can be printed (the message says why)."""
    stream = stream or sys.stdout
    reports_dir = Path(reports_dir or paths.REPORTS)
    start = time.monotonic()
    chosen = targets(reports_dir, only)
    if not chosen:
        what = f" matching {', '.join(only)}" if only else ""
        print(f"error: no report{what} in {_display(reports_dir)}: run `make reports` first",
              file=sys.stderr)
        return 1
    rules = _newest_rule()
    todo = [t for t in chosen if force or not up_to_date(t, rules)]
    removed = [] if only else orphans(reports_dir)
    for path in removed:
        path.unlink(missing_ok=True)
        print(f"removed {_display(path)} (its report is no longer in the batch)", file=stream)

    def done(p: Printed) -> None:
        if p.status == "printed":
            print(f"printed {_display(p.target.pdf)}  {p.pages} page{'s' * (p.pages != 1)}, "
                  f"{p.seconds:.1f} s", file=stream, flush=True)
        else:
            print(f"failed  {_display(p.target.html)}: {p.error}", file=sys.stderr, flush=True)

    try:
        results = print_pdfs(todo, workers or default_workers(), done)
    except PdfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    printed = sum(r.status == "printed" for r in results)
    failed = sum(r.status == "failed" for r in results)
    print(f"{len(chosen)} PDF{'s' * (len(chosen) != 1)}: {printed} printed, "
          f"{len(chosen) - len(todo)} up to date, {failed} failed "
          f"({time.monotonic() - start:.1f} s) in {_display(reports_dir)}", file=stream)
    return 1 if failed else 0
