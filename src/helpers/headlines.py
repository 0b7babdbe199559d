"""Headline estimates: the few numbers a report's reader acts on, in one shape.

Every headline estimate (a role gap, a driver effect, a consequence of the disconnect, the
congruence surface, the shadow-IT share and slope) is one named function that the notebook calls
and the validity study (:mod:`helpers.validity`) calls, returning :class:`Headline` rows: what is
validated is what is reported. The verdict in words follows from the numbers by one rule,
:func:`verdict`, so that the study can count how often the reading is right.

Verdicts
--------
``"positive"`` / ``"negative"``
    the ``conf`` interval excludes zero (the sign of the association is read);
``"no evidence"``
    the interval includes zero *and* the design had power >= :data:`ADEQUATE_POWER` to detect
    the smallest effect of interest: an effect that large would very likely have been seen;
``"not detectable"``
    the interval includes zero and power was below :data:`ADEQUATE_POWER`: the data cannot tell
    (the reading names the power, and the reliability where measurement error is the reason);
``"exploratory"``
    the sample lies between the model's minimum and its confirmatory size: numbers are shown
    with a small-sample correction, no verdict in words;
``"not estimable"``
    below the model's minimum, or the fit failed (the reason is given).

Power is the normal-approximation power of a two-sided test at level 1 − ``conf`` against the
smallest effect of interest ``sesoi`` (stated per estimand by the function that computes it),
from the standard error of the estimate: ``Φ(|sesoi|/se − z) + Φ(−|sesoi|/se − z)``. It is a
property of the design and measurement, not of the estimate ("observed power" is never used).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.i18n import N_

VERDICTS = ("positive", "negative", "no evidence", "not detectable", "exploratory",
            "not estimable")
SIGNED = ("positive", "negative")
ADEQUATE_POWER = 0.8
"""Power below which an interval that includes zero reads "not detectable", not "no evidence"."""

VERDICT_WORDS = {
    "positive": N_("positive association"),
    "negative": N_("negative association"),
    "no evidence": N_("no evidence of an effect of the size that matters"),
    "not detectable": N_("not detectable with this sample"),
    "exploratory": N_("exploratory (too few units for a verdict)"),
    "not estimable": N_("not estimable"),
    "withheld": N_("withheld to protect a small group"),
}
"""What a verdict code says to a reader (English message ids; :func:`verdict_words` translates).
``withheld`` is not a verdict of :func:`verdict`: it marks a row the privacy layer blanked."""

ROLE_GAP_WORDS = {
    "positive": N_("CMOs higher"),
    "negative": N_("CIOs higher"),
    "no evidence": N_("no evidence of a gap of the size that matters"),
}
"""The signed verdicts of a CMO − CIO difference, where "positive association" would mislead."""


def verdict_words(verdict: str, language: str | None = None, *, difference: bool = False) -> str:
    """The verdict code ``verdict`` as words in the reader's language (``"no evidence"`` → "no
    evidence of an effect of the size that matters"); ``difference=True`` reads the signed
    verdicts of a CMO − CIO difference as "CMOs higher" / "CIOs higher". An unknown code is
    returned as it is (never an empty cell)."""
    words = (ROLE_GAP_WORDS.get(verdict) if difference else None) or VERDICT_WORDS.get(verdict)
    return i18n.gettext(words, language) if words else str(verdict)


@dataclass(frozen=True)
class Headline:
    """One headline estimate as a report states it and the validity study scores it.

    ``key`` names the estimand in the truth document of simulated data (``estimands`` in
    ``truth.yaml``, e.g. ``"drivers.cofunded_projects"``); real data has no truth, the key still
    identifies the quantity across segments and reports.
    """

    key: str
    label: str
    unit: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int | None
    n_unit: str
    verdict: str
    reading: str
    method: str
    power: float | None = None
    sesoi: float | None = None
    std_error: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    @property
    def significant(self) -> bool:
        """The interval excludes zero (the verdict reads a sign)."""
        return self.verdict in SIGNED


def power(std_error: float | None, sesoi: float | None, conf: float = 0.95) -> float | None:
    """Power of a two-sided level ``1 − conf`` z test against an effect of size ``sesoi``."""
    if std_error is None or sesoi is None or not math.isfinite(std_error) or std_error <= 0:
        return None
    normal = NormalDist()  # the standard library's: no scipy.stats import on the index's path
    z = normal.inv_cdf(0.5 + conf / 2)
    ratio = abs(sesoi) / std_error
    return float(normal.cdf(ratio - z) + normal.cdf(-ratio - z))


def verdict(ci_low: float | None, ci_high: float | None, power_: float | None, *,
            exploratory: bool = False, estimable: bool = True) -> str:
    """The verdict in words that the numbers support (see the module docstring)."""
    if not estimable or ci_low is None or ci_high is None \
            or not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "not estimable"
    if exploratory:
        return "exploratory"
    if ci_low > 0:
        return "positive"
    if ci_high < 0:
        return "negative"
    if power_ is not None and power_ >= ADEQUATE_POWER:
        return "no evidence"
    return "not detectable"


def not_estimable(key: str, label: str, unit: str, reason: str, method: str, *,
                  n: int | None = None, n_unit: str = "") -> Headline:
    """A headline that could not be estimated, with the reason as its reading."""
    return Headline(key=key, label=label, unit=unit, estimate=None, ci_low=None, ci_high=None,
                    p_value=None, n=n, n_unit=n_unit, verdict="not estimable", reading=reason,
                    method=method)


ADJUSTMENTS = ("holm", "bonferroni", "fdr_bh")
"""Multiplicity corrections across a family of headline tests."""


def adjusted_p(p_values: Sequence[float], adjust: str) -> np.ndarray:
    """Holm, Bonferroni or Benjamini–Hochberg adjusted p values (as statsmodels
    ``multipletests`` and R's ``p.adjust``, which the tests check; written out because
    ``multipletests`` runs a full garbage collection on every call and imports statsmodels)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if adjust == "bonferroni":
        return np.minimum(1.0, m * p)
    if adjust == "holm":
        steps = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif adjust == "fdr_bh":
        steps = np.minimum.accumulate((m * ranked / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"adjust must be one of {ADJUSTMENTS} or None, got {adjust!r}")
    out = np.empty(m)
    out[order] = np.minimum(1.0, steps)
    return out


def format_p(p: float | None, language: str | None = None) -> str:
    """A p-value as journals print it, in the reader's locale: ``"< .001"`` or three decimals
    without the leading zero in English (APA); ``"< 0,001"`` / ``"0,012"`` with the decimal comma
    (and the leading zero, as German, Dutch and Danish journals print it) in DE, NL and DA."""
    if p is None or not math.isfinite(p):
        return "–"
    if i18n.decimal_symbol(language) == ".":
        if p < 0.001:
            return "< .001"
        return f"{p:.3f}".lstrip("0") if p < 1 else "1.000"
    if p < 0.001:
        return "< " + i18n.number(0.001, 3, language)
    return i18n.number(min(p, 1.0), 3, language)


def p_phrase(p: float | None, language: str | None = None) -> str:
    """``"p < .001"`` or ``"p = .012"`` (``"p = 0,012"`` in DE, NL, DA): a p-value inside a
    sentence."""
    text = format_p(p, language)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def table(headlines: Iterable[Headline]) -> pd.DataFrame:
    """The headlines as a tidy table (one row each), for the report and the results file."""
    rows = []
    for h in headlines:
        row = asdict(h)
        row.pop("extra")
        rows.append(row)
    return pd.DataFrame(rows, columns=[f for f in Headline.__dataclass_fields__ if f != "extra"])
