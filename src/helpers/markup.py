"""Text from data as HTML, and the Content-Security-Policy every page carries.

Everything a report or the index shows that comes from the data, the codebook, ``reports.yaml``
or a ledger (labels, item wording, segment values, job names, vendor names) is *text*: it goes
through :func:`text` (or, for generated readings, :func:`reading`) and is never markup — a vendor
called ``<NO MERCHANT>`` reads as such, ``<img src=x onerror=…>`` is shown, not run.

As a second line of defence every page carries a Content-Security-Policy (:func:`csp_meta`) that
lets nothing load from anywhere (images and fonts only as ``data:`` URLs, styles inline) and runs
only the scripts the page's own template put there, allowed by their SHA-256 hashes computed from
the exact script text (:func:`inline_script` writes a script so that text and hash agree). A
script that reached a page any other way — through a value that escaped escaping, an output of
some library — is blocked by the browser.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable

#: What a page may load: nothing from the network; images and fonts embedded as data: URLs;
#: inline styles (the templates', pandas'); no base URL, no form targets. ``script-src`` is added
#: by :func:`content_security_policy`.
POLICY = (
    ("default-src", "'none'"),
    ("img-src", "data:"),
    ("font-src", "data:"),
    ("style-src", "'unsafe-inline'"),
    ("base-uri", "'none'"),
    ("form-action", "'none'"),
)
_CODE = re.compile(r"`([^`\n]+)`")


def text(value: object) -> str:
    """A value as HTML text (element content or a quoted attribute): ``<``, ``>``, ``&`` and
    quotes escaped, so nothing in it becomes markup."""
    return html.escape(str(value), quote=True)


def reading(value: str) -> str:
    """Generated reading text (built from numbers and labels) as HTML paragraphs.

    The only markup a reading may carry is a command or a setting in backticks (`` `make data` ``
    becomes ``<code>``); everything else — ``<``, ``[link](…)``, ``# heading``, ``*``, ``$`` — is
    shown as typed, because readings quote labels, reasons and values from the data. Blank lines
    separate paragraphs.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", str(value)) if p.strip()]
    return "".join("<p>" + _CODE.sub(r"<code>\1</code>", text(p)) + "</p>" for p in paragraphs)


def script_hash(script: str) -> str:
    """The CSP source expression allowing one inline script: ``'sha256-…'`` of its exact text."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(scripts: Iterable[str] = ()) -> str:
    """The page policy (:data:`POLICY`) with ``script-src`` allowing exactly ``scripts`` (the
    page's own inline scripts, by hash), or no script at all when there are none."""
    hashes = sorted({script_hash(s) for s in scripts})
    directives = [*POLICY, ("script-src", " ".join(hashes) if hashes else "'none'")]
    return "; ".join(f"{name} {value}" for name, value in directives)


def csp_meta(scripts: Iterable[str] = ()) -> str:
    """The ``<meta http-equiv="Content-Security-Policy">`` element for a page's ``<head>`` (put it
    before any style or script: it governs only what follows it)."""
    return (f'<meta http-equiv="Content-Security-Policy" '
            f'content="{text(content_security_policy(scripts))}">')


def inline_script(script: str) -> str:
    """A ``<script>`` element holding exactly ``script`` (whose hash :func:`csp_meta` allows).

    Refuses text that would end the element early: a page's own script is a constant of the
    code, never built from data."""
    if re.search(r"</script|<!--", script, re.IGNORECASE):
        raise ValueError("an inline script must not contain '</script' or '<!--'")
    return f"<script>{script}</script>"
