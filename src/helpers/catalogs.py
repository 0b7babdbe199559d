"""Keep the message catalogs (:mod:`helpers.i18n`) in step with the code: extract, update, check.

``python -m helpers i18n update`` reads every message id — ``_("…")``, ``N_("…")`` and
``ngettext("…", "…", n)`` in ``src/helpers`` and in the notebooks' code cells, every markdown cell
of a notebook (whole), ``{{ _("…") }}`` in the report templates — and writes them into
``src/helpers/locale/<lang>/LC_MESSAGES/<domain>.po`` for every report language but English
(one domain per source file, :func:`helpers.i18n.domain_of`), keeping the translations already
there and dropping messages no longer used. Translators fill in the ``msgstr`` lines.

``python -m helpers i18n check`` lists every message without a translation, with a fuzzy one, or
whose translation's ``{placeholders}`` differ from the message id's (exit status 2 when any).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import i18n, paths

NOTEBOOKS = paths.ROOT / "notebooks"
TEMPLATES = i18n.PACKAGE_DIR / "templates"
_SKIP = {"i18n.py", "catalogs.py"}


@dataclass(frozen=True)
class Message:
    """One message id found in a source file (``plural`` for ngettext)."""

    id: str
    plural: str | None
    source: str
    line: int


def _python_messages(code: str, source: str, line_offset: int = 0) -> Iterator[Message]:
    from babel.messages.extract import extract

    for lineno, msg, _comments, _ctx in extract("python", io.BytesIO(code.encode("utf-8")),
                                                 keywords=i18n.KEYWORDS):
        if isinstance(msg, tuple):
            if msg[0]:
                yield Message(msg[0], msg[1], source, lineno + line_offset)
        elif msg:
            yield Message(msg, None, source, lineno + line_offset)


def _notebook_messages(path: Path, source: str) -> Iterator[Message]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells, start=1):
        text = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown" and text.strip():
            yield Message(text.strip(), None, source, number)
        elif cell.get("cell_type") == "code":
            yield from _python_messages(text, source, 0)


def _template_messages(path: Path, source: str) -> Iterator[Message]:
    from babel.messages.extract import extract

    with path.open("rb") as fh:
        for lineno, msg, _comments, _ctx in extract(
                "jinja2.ext:babel_extract", fh, keywords={"_": None},
                options={"trim_blocks": "false"}):
            if isinstance(msg, str) and msg:
                yield Message(msg, None, source, lineno)


def sources() -> dict[str, list[Message]]:
    """Every domain with the messages its source file holds (domains without messages omitted)."""
    found: dict[str, list[Message]] = {}
    files = [p for p in sorted(i18n.PACKAGE_DIR.rglob("*.py")) if p.name not in _SKIP]
    for path in files:
        rel = path.relative_to(paths.ROOT).as_posix() if path.is_relative_to(paths.ROOT) else path.name
        msgs = list(_python_messages(path.read_text(encoding="utf-8"), rel))
        if msgs:
            found.setdefault(i18n.domain_of(path), []).extend(msgs)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        msgs = list(_notebook_messages(path, f"notebooks/{path.name}"))
        if msgs:
            found.setdefault(i18n.domain_of(path), []).extend(msgs)
    for path in sorted(TEMPLATES.rglob("*.j2")):
        msgs = list(_template_messages(path, path.relative_to(i18n.PACKAGE_DIR).as_posix()))
        if msgs:
            found.setdefault(i18n.domain_of(path), []).extend(msgs)
    return found


def _template(domain: str, msgs: list[Message]):
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="Disconnect Lab", domain=domain, fuzzy=False)
    for m in msgs:
        catalog.add((m.id, m.plural) if m.plural else m.id, locations=[(m.source, m.line)])
    return catalog


def po_path(language: str, domain: str) -> Path:
    return i18n.LOCALE_DIR / language.lower() / "LC_MESSAGES" / f"{domain}.po"


def targets() -> list[str]:
    return [lang for lang in i18n.LOCALES if lang != i18n.SOURCE_LANGUAGE]


def update(domains: list[str] | None = None) -> list[Path]:
    """Write every domain's catalog (or only ``domains``') for every target language; returns
    the files written."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    written = []
    found = sources()
    for language in targets():
        folder = i18n.LOCALE_DIR / language.lower() / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        for domain, msgs in found.items():
            if domains and domain not in domains:
                continue
            template = _template(domain, msgs)
            path = po_path(language, domain)
            if path.exists():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=i18n.LOCALES[language])
            else:
                catalog = Catalog(locale=i18n.LOCALES[language], domain=domain,
                                  project="Disconnect Lab", fuzzy=False)
            created = catalog.creation_date  # unchanged catalogs stay byte-identical
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            catalog.creation_date = created
            buf = io.BytesIO()
            write_po(buf, catalog, ignore_obsolete=True, width=100, sort_output=False,
                     omit_header=False)
            if not path.exists() or path.read_bytes() != buf.getvalue():
                path.write_bytes(buf.getvalue())
                written.append(path)
        for stale in folder.glob("*.po"):
            if stale.stem not in found and not domains:
                stale.unlink()
                written.append(stale)
    return written


def problems(languages: list[str] | None = None, domains: list[str] | None = None) -> list[str]:
    """Messages in the code without a usable translation, or with mismatched placeholders
    (in ``domains`` only, when given)."""
    from babel.messages.pofile import read_po

    out = []
    found = sources()
    for language in languages or targets():
        for domain, msgs in found.items():
            if domains and domain not in domains:
                continue
            path = po_path(language, domain)
            if not path.exists():
                out.append(f"{language}: {path.name} missing ({len(msgs)} messages; run "
                           "`python -m helpers i18n update`)")
                continue
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=i18n.LOCALES[language])
            for m in msgs:
                entry = catalog.get((m.id, m.plural) if m.plural else m.id)
                where = f"{language}: {m.source}:{m.line}"
                if entry is None:
                    out.append(f"{where}: not in {path.name} (run `python -m helpers i18n update`)")
                    continue
                strings = entry.string if isinstance(entry.string, (tuple, list)) else [entry.string]
                if entry.fuzzy or not all(strings):
                    out.append(f"{where}: untranslated: {m.id[:70]!r}")
                    continue
                want = i18n.placeholders(m.id) | (i18n.placeholders(m.plural) if m.plural else set())
                for s in strings:
                    if i18n.placeholders(s) != want:
                        out.append(f"{where}: placeholders {sorted(i18n.placeholders(s))} in the "
                                   f"translation, {sorted(want)} in {m.id[:60]!r}")
        out.extend(conflicts(language))
    return out


def conflicts(language: str) -> list[str]:
    """Messages translated differently in two domains of ``language``: the reports read one
    table of all domains (:func:`helpers.i18n.messages`), so a message must have one translation
    (a reader meets one word for one thing, whichever module printed it)."""
    from babel.messages.pofile import read_po

    seen: dict[Any, tuple[str, Any]] = {}
    out = []
    folder = po_path(language, "x").parent
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=i18n.LOCALES[language])
        for entry in catalog:
            if not entry.id or entry.fuzzy or not entry.string:
                continue
            key = entry.id[0] if isinstance(entry.id, (tuple, list)) else entry.id
            string = tuple(entry.string) if isinstance(entry.string, (tuple, list)) \
                else entry.string
            if key in seen and seen[key][1] != string:
                other, before = seen[key]
                out.append(f"{language}: {key[:60]!r} is {before!r} in {other} but {string!r} in "
                           f"{path.name}: one message, one translation")
            seen.setdefault(key, (path.name, string))
    return out


def main(argv: list[str], domains: list[str] | None = None) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        for path in update(domains):
            print(f"wrote {path.relative_to(paths.ROOT) if path.is_relative_to(paths.ROOT) else path}")
        return 0
    if command == "check":
        found = problems(argv[1:] or None, domains)
        for line in found:
            print(line)
        print(f"{len(found)} problem(s) in the message catalogs")
        return 2 if found else 0
    print("usage: python -m helpers i18n update|check [LANG …]")
    return 2
