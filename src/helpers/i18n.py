"""Reports in the reader's language: message catalogs (gettext, read with Babel) and numbers and
dates in the reader's locale.

Every sentence a report shows — headings, narrative, readings, table headers, axis titles, notes,
the index — is an English message id translated through the catalogs in
``src/helpers/locale/<lang>/LC_MESSAGES/<domain>.po`` (GNU gettext PO files, edited with any PO
editor). One domain per source file (:func:`domain_of`): ``helpers.perception`` →
``perception.po``, ``notebooks/02_disconnect_profile.ipynb`` → ``nb-02_disconnect_profile.po``,
the report template → ``template-report.po``; at run time all domains of a language are merged.

In code::

    from helpers.i18n import _, N_
    _("Mutual trust")                                # translated now, in the current language
    _("{n} firms in {k} countries").format(n=12, k=3)   # placeholders by name, never by position
    ROLE_RULE = N_("A role needs five respondents.")   # marked for the catalog, translated later

A notebook sets the language from its ``language`` parameter (:func:`set_language`); the batch
renderer translates markdown cells whole (:func:`translate_markdown`: the cell's text is its
message id). English is the source language: with ``EN`` nothing is looked up.

Numbers and dates follow the reader's locale through Babel (:func:`number`, :func:`integer`,
:func:`percent`, :func:`date`): ``1,234.5`` in English, ``1.234,5`` in German, Dutch and Danish.

``python -m helpers i18n update`` extracts every message id into the catalogs (keeping existing
translations); ``python -m helpers i18n check`` lists messages without a translation and
translations whose placeholders differ from their message id (exit 2). The test suite runs the
check.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Report languages and the locale each formats numbers and dates in.
LOCALES = {"EN": "en_GB", "DE": "de_DE", "NL": "nl_NL", "DA": "da_DK"}
SOURCE_LANGUAGE = "EN"
LOCALE_DIR = Path(__file__).parent / "locale"
PACKAGE_DIR = Path(__file__).parent
#: Functions whose first (and, for ngettext, second) string argument is a message id.
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[:!][^{}]*)?\}(?!\})")

_current = SOURCE_LANGUAGE


def normalise(language: str | None) -> str:
    """``language`` as one of :data:`LOCALES`' keys (``"de"`` → ``"DE"``); ValueError otherwise."""
    code = str(language or SOURCE_LANGUAGE).strip().upper()
    if code not in LOCALES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LOCALES)}")
    return code


def set_language(language: str | None) -> str:
    """Make ``language`` the one :func:`_` and the formatters use (a notebook's first cell does
    this with its ``language`` parameter); returns the normalised code."""
    global _current
    _current = normalise(language)
    return _current


def current() -> str:
    """The language in use (``EN`` until :func:`set_language` is called)."""
    return _current


@contextlib.contextmanager
def using(language: str | None) -> Iterator[str]:
    """Within the block, translate and format in ``language``; the previous language after."""
    previous = _current
    code = set_language(language)
    try:
        yield code
    finally:
        set_language(previous)


def locale_name(language: str | None = None) -> str:
    """The Babel locale of ``language`` (default: the current one), e.g. ``de_DE``."""
    return LOCALES[normalise(language or _current)]


# --------------------------------------------------------------------------- catalogs
def domain_of(path: str | Path) -> str:
    """The catalog domain of a source file: its module path under ``helpers`` joined by ``.``
    (``measurement/report.py`` → ``measurement.report``), ``nb-<stem>`` for a notebook,
    ``template-<folder>`` for a report template."""
    p = Path(path)
    if p.suffix == ".ipynb":
        return f"nb-{p.stem}"
    if p.suffix == ".j2":
        return f"template-{p.parent.name}"
    try:
        rel = p.resolve().relative_to(PACKAGE_DIR)
    except ValueError:
        rel = Path(p.name)
    return ".".join(rel.with_suffix("").parts)


@functools.lru_cache(maxsize=None)
def messages(language: str) -> dict[str, Any]:
    """Every translated message of ``language`` from all its domains: message id → translation
    (a string; a tuple of plural forms for ``ngettext`` ids, keyed by the singular). Fuzzy and
    empty entries are left out (the English text shows)."""
    code = normalise(language)
    folder = LOCALE_DIR / code.lower() / "LC_MESSAGES"
    if code == SOURCE_LANGUAGE or not folder.is_dir():
        return {}
    from babel.messages.pofile import read_po

    table: dict[str, Any] = {}
    for po in sorted(folder.glob("*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=LOCALES[code])
        for message in catalog:
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, (tuple, list)):
                forms = tuple(message.string or ())
                if forms and all(forms):
                    table[message.id[0]] = forms
            elif message.string:
                table[message.id] = message.string
    return table


def gettext(message: str, language: str | None = None) -> str:
    """``message`` translated into ``language`` (default: the current one); the message itself
    when the catalog has no translation."""
    code = normalise(language or _current)
    if code == SOURCE_LANGUAGE:
        return message
    found = messages(code).get(message)
    return found if isinstance(found, str) else message


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now (module constants, labels in a
    table of definitions); translate it where it is shown with :func:`_`."""
    return message


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    """The singular or plural form for ``n`` in ``language`` (its plural rule from Babel)."""
    code = normalise(language or _current)
    forms = messages(code).get(singular) if code != SOURCE_LANGUAGE else None
    if not isinstance(forms, tuple):
        return singular if n == 1 else plural
    from babel.core import Locale

    rule = Locale.parse(LOCALES[code]).plural_form(abs(n))
    index = {"one": 0}.get(rule, 1 if len(forms) > 1 else 0)
    return forms[min(index, len(forms) - 1)]


def translate_markdown(source: str, language: str | None = None) -> str:
    """A markdown cell in ``language``: its whole text (stripped) is the message id."""
    key = source.strip()
    translated = gettext(key, language)
    return source if translated is key else translated


def placeholders(text: str) -> set[str]:
    """The named ``{placeholders}`` in a message (``{{`` and ``}}`` are literal braces)."""
    return set(_PLACEHOLDER.findall(text))


# --------------------------------------------------------------------------- numbers and dates
def _missing(value: Any) -> bool:
    try:
        return value is None or value != value  # NaN and pd.NA-like
    except (TypeError, ValueError):
        return True


def number(value: Any, decimals: int = 2, language: str | None = None, *,
           grouping: bool = True, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals in the reader's locale (``1,234.57`` / ``1.234,57``);
    empty for a missing value. ``sign=True`` writes ``+`` before positive numbers; a value that
    rounds to zero never shows as ``-0``."""
    if _missing(value):
        return ""
    from babel.numbers import format_decimal

    x = round(float(value), decimals)
    if x == 0:
        x = 0.0  # no "-0.0"
    pattern = ("#,##0" if grouping else "0") + ("." + "0" * decimals if decimals > 0 else "")
    text = format_decimal(x, format=pattern, locale=locale_name(language), decimal_quantization=True)
    text = text.replace("-", "−")  # a typographic minus, as journals print it
    return ("+" + text) if sign and x > 0 else text


def integer(value: Any, language: str | None = None) -> str:
    """A count as an integer with the locale's thousands separator (``1,234`` / ``1.234``)."""
    if _missing(value):
        return ""
    return number(round(float(value)), 0, language)


def percent(value: Any, decimals: int = 1, language: str | None = None, *,
            scale: float = 1.0) -> str:
    """A percentage (``value * scale`` already in percent) with a narrow space before ``%`` as
    every report language writes it: ``12.5 %``, ``12,5 %``."""
    if _missing(value):
        return ""
    return number(float(value) * scale, decimals, language) + "\u202f%"


def decimal_symbol(language: str | None = None) -> str:
    """The locale's decimal separator (``.`` or ``,``)."""
    from babel.numbers import get_decimal_symbol

    return get_decimal_symbol(locale_name(language))


def date(value: Any, language: str | None = None, fmt: str = "medium") -> str:
    """A date (``datetime``, ``date`` or ISO text) in the reader's locale: ``2 Dec 2026``,
    ``02.12.2026``."""
    if _missing(value):
        return ""
    import datetime as dt

    from babel.dates import format_date

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, format=fmt, locale=locale_name(language))


def datetime(value: Any, language: str | None = None, fmt: str = "medium") -> str:
    """A date and time in the reader's locale (time zone as given)."""
    if _missing(value):
        return ""
    import datetime as dt

    from babel.dates import format_datetime

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return format_datetime(value, format=fmt, locale=locale_name(language))
