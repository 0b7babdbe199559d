"""Reports in German, Dutch and Danish: every message of the code has a translation, and a German
report shows no English sentence from the notebooks, the helpers or the templates — nor a
variable name, in any language.

The catalog check runs on the source (fast); the report checks read the reports of
``rendered_languages`` (every notebook's whole-sample report in German, one segment report in
Dutch and Danish, rendered by ``make reports`` on the small sample) and ``rendered_batch`` (the
default, English batch).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from helpers import catalogs, i18n

_TAGS = re.compile(r"<[^>]+>")
_DROP = re.compile(r"<(script|style|code|pre|footer|title)\b.*?</\1>", re.S | re.I)
_MARKUP = re.compile(r"\{[^{}]*\}|`[^`]*`|\*\*?|\[|\]\([^)]*\)|^#+\s*|\$[^$]*\$|\n[-*] ", re.M)
#: snake_case identifiers (``cofunded_projects``, ``n_pairs``) and patsy terms (``C(wave)[T.2.0]``)
VARIABLE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\bC\([a-z_]+\)(?:\[T\.[^\]]*\])?")


DECIMAL_POINT = re.compile(r"(?<![\d.,])(?:0\.\d+|\d+\.(?:\d{1,2}|\d{4,}))(?![\d.,])")


def visible_text(page: str) -> str:
    """What a reader sees: tags, scripts, styles, code, the provenance footer and data: URLs
    removed, entities decoded, whitespace collapsed."""
    body = _DROP.sub(" ", page)
    body = re.sub(r'(href|src)="data:[^"]*"', "", body)
    return " ".join(html.unescape(_TAGS.sub(" ", body)).split())


def english_fragments(min_words: int = 5) -> dict[str, str]:
    """Fragment → message id: the literal runs (between placeholders and markup) of every message
    in the code that are at least ``min_words`` words long and that German translates."""
    out = {}
    for msgs in catalogs.sources().values():
        for m in msgs:
            if i18n.gettext(m.id, "DE") == m.id:
                continue  # untranslated messages are test_every_message_is_translated's concern
            for piece in _MARKUP.split(m.id):
                text = " ".join(piece.split()).strip(" .,;:–—-()")
                if len(re.findall(r"[A-Za-z]{2,}", text)) >= min_words:
                    out[text] = m.id
    return out


def test_every_message_is_translated() -> None:
    problems = catalogs.problems()
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])


def test_placeholders_are_found() -> None:
    assert i18n.placeholders("{n} of {total:.1f} firms ({{literal}})") == {"n", "total"}


def test_formats_follow_the_locale() -> None:
    assert i18n.number(1234.567, 2, "EN") == "1,234.57"
    assert i18n.number(1234.567, 2, "DE") == "1.234,57"
    assert i18n.number(-0.04, 1, "NL") == "0,0"  # never "-0,0"
    assert i18n.number(-1.5, 1, "DA") == "−1,5"
    assert i18n.integer(835.0, "DE") == "835"
    assert i18n.percent(12.34, 1, "DE") == "12,3\u202f%"
    with i18n.using("NL"):
        assert i18n.current() == "NL" and i18n.number(0.5, 2) == "0,50"
    assert i18n.current() == "EN"
    with pytest.raises(ValueError):
        i18n.set_language("FR")


@pytest.mark.slow
def test_german_reports_show_no_english_sentence(rendered_languages: Path) -> None:
    pages = sorted(rendered_languages.rglob("*language-DE*.html"))
    assert len(pages) >= 6, pages
    fragments = english_fragments()
    assert len(fragments) > 50  # the check has something to look for
    problems = []
    for page in pages:
        text = visible_text(page.read_text(encoding="utf-8"))
        assert len(text) > 500, page
        found = [f for f in fragments if f in text]
        problems += [f"{page.relative_to(rendered_languages)}: {f!r}" for f in found[:10]]
    assert not problems, "English in German reports:\n" + "\n".join(problems[:60])


@pytest.mark.slow
def test_other_languages_render_with_decimal_commas(rendered_languages: Path) -> None:
    for language in ("DE", "NL", "DA"):
        pages = sorted(rendered_languages.rglob(f"*language-{language}*.html"))
        assert pages, language
        for page in pages:
            text = visible_text(page.read_text(encoding="utf-8"))
            if "02_disconnect_profile" in page.as_posix():
                assert re.search(r"\d,\d", text), (page, "no decimal comma")
                text = re.sub(r"\b10\.\d{4,}/\S+", "", text)  # DOIs in the references
                points = DECIMAL_POINT.findall(text)  # 1.5, 0.123, 12.25 (not 1.234: thousands)
                assert not points, (page, points[:5])


@pytest.mark.slow
@pytest.mark.parametrize("batch", ["rendered_batch", "rendered_languages"])
def test_reports_show_labels_never_variable_names(batch: str, request) -> None:
    folder: Path = request.getfixturevalue(batch)
    problems = []
    for page in sorted(folder.rglob("*.html")):
        text = visible_text(page.read_text(encoding="utf-8"))
        names = sorted(set(VARIABLE.findall(text)))
        if names:
            problems.append(f"{page.relative_to(folder)}: {', '.join(names[:8])}")
        counts = re.findall(r"\b(?:n|N)\s*=\s*\d+\.0+\b", text)
        if counts:
            problems.append(f"{page.relative_to(folder)}: counts with decimals {counts[:3]}")
    assert not problems, "\n".join(problems[:60])


def test_no_code_rebinds_the_translation_function() -> None:
    """``counts, _ = np.histogram(…)`` in a module that translates with ``_`` makes the next
    ``_("…")`` call an array: a report failed on a survey whose scores took that branch. Every
    module and notebook that imports ``_`` from helpers.i18n must leave it alone."""
    import ast
    import json

    sources = {p: p.read_text(encoding="utf-8") for p in sorted(i18n.PACKAGE_DIR.rglob("*.py"))}
    for nb in sorted(catalogs.NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        sources[nb] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    found = []
    for path, text in sources.items():
        tree = ast.parse(text)
        imports_ = any(isinstance(n, ast.ImportFrom) and n.module == "helpers.i18n"
                       and any(a.name == "_" for a in n.names) for n in ast.walk(tree))
        if imports_:
            found += [f"{path.name}:{n.lineno}" for n in ast.walk(tree)
                      if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)]
    assert not found, found
