"""Labels, never variable names: what tables, plots and sentences call a column, a model term or a
value, in the report's language.

Modules that put a column in a shown table register its label once, at import, with
:func:`register` (a mapping of column name → English label marked with ``N_``); :func:`column`
translates it where it is shown (:func:`helpers.tables.show` relabels every registered column).
Codebook fields and constructs get their codebook label. Model terms as statsmodels/patsy name
them — ``C(size_band)[T.250-999]``, ``C(wave)[T.2.0]``, ``cofunded_projects:role[T.CMO]`` — become
"Size band: 250-999", "Wave: 2", "Co-funded projects × Role: CMO" (:func:`term`).
"""

from __future__ import annotations

import re
import sys
from typing import Any

from helpers.i18n import N_, gettext

_COLUMNS: dict[str, str] = {}
_COUNTS: set[str] = set()
_TERMS: set[str] = {"term"}
_VALUES: dict[str, dict[str, str]] = {}
_SOURCES: dict[str, dict[str, str]] = {}  # column name -> registering module -> label
_TERM = re.compile(r"^C\((?P<var>[^,)]+)(?:,[^)]*)?\)\[T\.(?P<level>.*)\]$")
_BOOL = re.compile(r"^(?P<var>.+)\[T\.(?P<level>.*)\]$")


def register(columns: dict[str, str], *, counts: tuple[str, ...] | set[str] = (),
             terms: tuple[str, ...] | set[str] = (),
             values: dict[str, dict[str, str]] | None = None) -> None:
    """Register display labels (English message ids, marked with ``N_``) for column names.

    ``counts`` names the columns that hold counts (shown as integers with thousands separators,
    never ``359.00``); ``terms`` the columns whose values are model terms (shown through
    :func:`term`; a column named ``term`` always is); ``values`` maps a column to the words its
    coded values stand for (``{"status": {"ok": N_("usable")}}``: cells show the word,
    translated, never the code)."""
    module = str(sys._getframe(1).f_globals.get("__name__", "?"))
    for name, label in columns.items():
        taken = {m: lab for m, lab in _SOURCES.get(str(name), {}).items() if lab != label}
        if taken:
            raise ValueError(
                f"column {name!r}: {module} registers the label {label!r}, but "
                + ", ".join(f"{m} registered {lab!r}" for m, lab in taken.items())
                + " — one name has one label in every report (the label shown must not depend "
                "on which modules were imported); use another column name, or pass headers= "
                "to helpers.tables.show")
        _SOURCES.setdefault(str(name), {})[module] = label
    _COLUMNS.update(columns)
    _COUNTS.update(counts)
    _TERMS.update(terms)
    for name, words in (values or {}).items():
        _VALUES.setdefault(str(name), {}).update({str(k): v for k, v in words.items()})


def is_count(name: Any) -> bool:
    """Whether a registered column holds counts (shown as integers, never ``359.00``)."""
    return str(name) in _COUNTS


def conflicts() -> dict[str, dict[str, str]]:
    """Column names that two modules registered with different labels (a module may give a
    generic name of this module its own label): ``{name: {module: label}}``.

    The registry is one for the process, so with a conflict the label shown depends on which
    modules were imported and in which order — a report rendered by the batch's fork engine
    (which imports every helper first) would differ from one rendered in a fresh kernel. A name
    must have one label across the helpers; a table that needs another wording for one column
    passes ``headers=`` to :func:`helpers.tables.show`."""
    out = {}
    for name, sources in _SOURCES.items():
        areas = {m: lab for m, lab in sources.items() if m != __name__}
        if len(set(areas.values())) > 1:
            out[name] = dict(sorted(areas.items()))
    return out


def holds_terms(name: Any) -> bool:
    """Whether a column's values are model terms (``term`` or registered with ``terms=``)."""
    return str(name) in _TERMS


def has_values(name: Any) -> bool:
    """Whether a column's coded values have registered words (:func:`value`)."""
    return str(name) in _VALUES


def value(name: Any, code: Any, language: str | None = None) -> Any:
    """The word for a coded value of column ``name`` (translated), the value itself when it has
    none registered: ``value("verdict", "no evidence")`` → "no evidence" / "kein Hinweis"."""
    words = _VALUES.get(str(name))
    if words is None or not isinstance(code, str | bool) or str(code) not in words:
        return code
    return gettext(words[str(code)], language)


def _codebook_label(name: str, language: str | None) -> str | None:
    try:
        from helpers.codebook import load_codebook

        cb = load_codebook()
        if name in cb.fields or name in cb.constructs:
            from helpers import i18n

            return cb.label(name, i18n.normalise(language or i18n.current()))
    except (KeyError, ValueError, OSError):
        return None
    return None


def column(name: Any, language: str | None = None) -> str:
    """The label of a column name: registered label (translated), else the codebook's label,
    else the name itself (a name that is already a label)."""
    key = str(name)
    if key in _COLUMNS:
        return gettext(_COLUMNS[key], language)
    return _codebook_label(key, language) or key


def _level(value: str) -> str:
    text = value.strip()
    if re.fullmatch(r"-?\d+\.0+", text):
        text = text.split(".")[0]
    return {"True": gettext(N_("yes")), "False": gettext(N_("no"))}.get(text, text)


def term(name: Any, language: str | None = None) -> str:
    """A model term as a reader would name it (interactions joined by ``×``)."""
    text = str(name)
    if text == "Intercept":
        return gettext(N_("Intercept"), language)
    parts = []
    for piece in text.split(":"):
        m = _TERM.match(piece) or _BOOL.match(piece)
        if m:
            var = m.group("var").strip()
            parts.append(f"{column(var, language)}: {_level(m.group('level'))}")
        else:
            inner = re.fullmatch(r"C\(([^,)]+)\)", piece)
            parts.append(column(inner.group(1) if inner else piece, language))
    return " × ".join(parts)


#: The verdict words of :mod:`helpers.headlines` (its codes, shown translated).
VERDICT_WORDS = {
    "positive": N_("positive"),
    "negative": N_("negative"),
    "no evidence": N_("no evidence"),
    "not detectable": N_("not detectable"),
    "exploratory": N_("exploratory"),
    "not estimable": N_("not estimable"),
}

# Generic columns: statistics and counts that tables across the reports show. Columns that only
# one area shows are registered by that area's module.
register({
    # model tables
    "term": N_("Term"),
    "estimate": N_("Estimate"),
    "std_error": N_("Standard error"),
    "std_estimate": N_("Standardised estimate"),
    "standardised": N_("Standardised"),
    "ci_low": N_("CI lower"),
    "ci_high": N_("CI upper"),
    "ci_low_adjusted": N_("CI lower (adjusted)"),
    "ci_high_adjusted": N_("CI upper (adjusted)"),
    "boot_ci_low": N_("Bootstrap CI lower"),
    "boot_ci_high": N_("Bootstrap CI upper"),
    "p_value": N_("p"),
    "p_unadjusted": N_("p (unadjusted)"),
    "p_adjusted": N_("p (adjusted)"),
    "statistic": N_("Test statistic"),
    "t": N_("t"),
    "df": N_("df"),
    "power": N_("Power"),
    "verdict": N_("Verdict"),
    "effect": N_("Effect"),
    "effect_size": N_("Effect size"),
    "effect_measure": N_("Effect size measure"),
    "difference": N_("Difference"),
    "difference_pp": N_("Difference (percentage points)"),
    "gap": N_("Gap CMO − CIO (points)"),
    "contrast": N_("Contrast"),
    "r": N_("r"),
    "r2": N_("R²"),
    "vif": N_("VIF"),
    "aic": N_("AIC"),
    "bic": N_("BIC"),
    "delta_aic": N_("ΔAIC"),
    "aic_weight": N_("AIC weight"),
    "log_lik": N_("Log-likelihood"),
    "chisq": N_("χ²"),
    "chi2": N_("χ²"),
    "cfi": N_("CFI"),
    "tli": N_("TLI"),
    "rmsea": N_("RMSEA"),
    "srmr": N_("SRMR"),
    "model": N_("Model"),
    "method": N_("Method"),
    "analysis": N_("Analysis sample"),
    "test": N_("Test"),
    "step": N_("Step"),
    "outcome": N_("Outcome"),
    "predicted": N_("Predicted"),
    "actual": N_("Actual"),
    "mae": N_("Mean absolute error"),
    "mean_error": N_("Mean error"),
    # descriptive statistics
    "mean": N_("Mean"),
    "median": N_("Median"),
    "std": N_("Standard deviation"),
    "sd": N_("SD"),
    "mean_cmo": N_("Mean (CMOs)"),
    "mean_cio": N_("Mean (CIOs)"),
    "share": N_("Sample share (%)"),
    "share_cmo": N_("CMOs agreeing (%)"),
    "share_cio": N_("CIOs agreeing (%)"),
    "published_share": N_("Published share"),
    "amount_eur": N_("Amount (EUR)"),
    # counts
    "n": N_("n"),
    "count": N_("Count"),
    "n_cmo": N_("CMOs"),
    "n_cio": N_("CIOs"),
    "n_firms": N_("Firms"),
    "n_pairs": N_("Pairs"),
    "n_items": N_("Items"),
    "n_rows": N_("Rows"),
    "n_boot": N_("Bootstrap replicates"),
    "firms": N_("Firms"),
    "pairs": N_("Complete pairs"),
    "respondents": N_("Respondents"),
    "rows": N_("Rows"),
    "excluded": N_("Left out"),
    "firm_waves": N_("Firm-waves"),
    "complete_dyads": N_("Complete pairs"),
    "cmo_only": N_("CMO only"),
    "cio_only": N_("CIO only"),
    "waves": N_("Waves"),
    "published_n": N_("Published n"),
    "k": N_("Items (k)"),
    # what a row is about
    "label": N_("Label"),
    "construct": N_("Construct"),
    "variable": N_("Variable"),
    "item": N_("Item"),
    "items": N_("Items"),
    "factor": N_("Construct"),
    "group": N_("Group"),
    "role": N_("Role"),
    "segment": N_("Segment"),
    "wave": N_("Wave"),
    "year": N_("Year"),
    "value": N_("Value"),
    "unit": N_("Unit"),
    "quantity": N_("Quantity"),
    "kind": N_("Kind"),
    "level": N_("Invariance level reached"),
    "status": N_("Status"),
    "comparable": N_("Means comparable"),
    "published": N_("Published share (%)"),
    "publisher": N_("Publisher"),
    "severity": N_("Severity"),
    "rule": N_("Rule"),
    "hint": N_("What to do"), "wording": N_("Item wording"),
    "note": N_("Note"),
    "reason": N_("Reason"),
    "reading": N_("Reading"),
    "confidence": N_("Confidence in the figure"),
}, counts={"n", "count", "n_cmo", "n_cio", "n_firms", "n_pairs", "n_items", "n_rows", "n_boot",
           "firms", "pairs", "respondents", "rows", "excluded", "firm_waves", "complete_dyads",
           "cmo_only", "cio_only", "waves", "published_n"},
   values={"verdict": VERDICT_WORDS})
