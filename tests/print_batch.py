"""The reports that the browser and PDF tests print (tests/test_browser.py, tests/test_pdf.py).

Taken from the session's rendered batches (conftest: ``rendered_batch``, the default batch on the
small sample; ``rendered_languages``, the German reports), so nothing is rendered twice: the index,
every notebook's whole-sample report and its wave-2 segment report, and one German report, copied
into a folder of their own (``<notebook>/<name>.html`` as in reports/) and printed there with the
real command line (``python -m helpers pdf``). Built once per session (cached by the batch's
path), whichever test module asks first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import paths

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is a dev dependency
    sync_playwright = None
NO_BROWSER = ("no Chromium: apt-get install chromium" if CHROMIUM is None else
              "playwright (Python) is not installed" if sync_playwright is None else None)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

NOTEBOOKS = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
GERMAN = "02_disconnect_profile"  # its German whole-sample report (the one with most tables)

_printed: dict[Path, Path] = {}


def _copy(page: Path, folder: Path, name: str) -> None:
    target = folder / f"{name}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page, target)


def printed_selection(rendered_batch: Path, rendered_languages: Path) -> Path:
    """The folder of the selected reports and the index, each with its PDF beside it."""
    if rendered_batch in _printed:
        return _printed[rendered_batch]
    folder = rendered_batch.parent / "print-selection"
    shutil.rmtree(folder, ignore_errors=True)
    _copy(rendered_batch / "index.html", folder, "index")
    for stem in NOTEBOOKS:
        for name in ("all", "wave-2"):
            _copy(rendered_batch / stem / f"{name}.html", folder, f"{stem}/{name}")
    german = sorted(p for p in (rendered_languages / GERMAN).glob("*language-DE*.html")
                    if not p.name.endswith(".error.html"))
    assert german, f"no German report of {GERMAN} in {rendered_languages}"
    _copy(german[0], folder, f"{GERMAN}/{german[0].stem}")
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "pdf", "--reports-dir", str(folder), "-j", "2"],
        capture_output=True, text=True, timeout=900, cwd=paths.ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _printed[rendered_batch] = folder
    return folder


def pages(folder: Path) -> list[Path]:
    """The index first, then every report page."""
    return [folder / "index.html"] + sorted(folder.glob("*/*.html"))
