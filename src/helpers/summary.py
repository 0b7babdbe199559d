"""The summary a report opens with: the three to five findings that matter, each one plain sentence
with its number, interval and strength of evidence — generated from the results the notebook
recorded (never hand-written numbers), in the reader's language.

:func:`findings` reads a report's results document (``reports/<notebook>/<name>.json``, as
:mod:`helpers.batch.render` writes it) and returns :class:`Finding` rows; the report page and the
index's cross-report summary both use it.

Where the findings come from
----------------------------
Reports that record ``headlines`` (02–05, :class:`helpers.headlines.Headline` rows): the verdict of
each headline (:func:`helpers.headlines.verdict`) decides its strength of evidence in words
(:func:`strength`) and its sentence; the choice follows one rule (:func:`choose`): the signed
findings (interval excludes zero), most certain first (smallest p), taking turns between the
families of estimates (``drivers.*``, ``consequences.*``) so that one family cannot crowd out the
other, at most :data:`MOST`; when fewer than :data:`LEAST` are signed, the informative null
results follow ("no evidence" with adequate power first, then "not detectable", then exploratory
ones). Estimates that could not be made are named only when nothing else could be estimated.

The data-quality report (00): responses kept and left out, CMO–CIO pairs complete, item
missingness and whether leaving out flagged respondents changes the headline. The measurement
report (01): model fit by the usual cut-offs (Hu & Bentler 1999), reliability (Cronbach's alpha,
composite reliability and AVE), and whether CMOs' and CIOs' (and the waves') means are comparable
(measurement invariance).

Strength of evidence
--------------------
``strong evidence`` (p < .001), ``moderate evidence`` (p < .01), ``some evidence`` (the interval
excludes zero, p ≥ .01); ``no evidence of an effect of the size that matters`` (the interval
includes zero and the design had at least 80 % power, named); ``not detectable with this sample``
(the interval includes zero and power was lower); ``exploratory`` (too few units for a verdict);
``not estimable``. The p-value is the one the headline reports (adjusted for multiplicity where
the report adjusts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import i18n
from helpers.i18n import N_

#: fewest and most findings a summary states (fewer only when the report has fewer)
LEAST, MOST = 3, 5
SIGNED = ("positive", "negative")
NULLS = ("no evidence", "not detectable", "exploratory")


@dataclass(frozen=True)
class Finding:
    """One finding of a report: a plain sentence (in the reader's language) with its number,
    interval and strength of evidence; ``strength`` the strength in words; ``key`` what it is
    about (a headline key such as ``drivers.shared_kpis``, or ``quality.rows`` …); ``notebook``
    the notebook's stem."""

    sentence: str
    strength: str
    key: str
    notebook: str


# --------------------------------------------------------------------------- words
STRENGTH = {
    "strong": N_("strong evidence"),
    "moderate": N_("moderate evidence"),
    "some": N_("some evidence"),
    "no evidence": N_("no evidence of an effect of the size that matters (power {power})"),
    "no evidence, no power": N_("no evidence of an effect of the size that matters"),
    "not detectable": N_("not detectable with this sample (power {power})"),
    "not detectable, no power": N_("not detectable with this sample"),
    "exploratory": N_("exploratory: too few units for a verdict"),
    "not estimable": N_("not estimable"),
    "descriptive": N_("descriptive"),
}


def strength(verdict: str, p_value: float | None = None, power: float | None = None,
             language: str | None = None) -> str:
    """The strength of evidence in words, from a headline's verdict, p-value and power."""
    def say(key: str, **values: Any) -> str:
        return i18n.gettext(STRENGTH[key], language).format(**values)

    if verdict in SIGNED:
        if _number(p_value) is not None and p_value < 0.001:
            return say("strong")
        if _number(p_value) is not None and p_value < 0.01:
            return say("moderate")
        return say("some")
    if verdict in ("no evidence", "not detectable"):
        if _number(power) is None:
            return say(f"{verdict}, no power")
        return say(verdict, power=i18n.percent(power, 0, language, scale=100))
    if verdict == "exploratory":
        return say("exploratory")
    return say("not estimable")


def _number(value: Any) -> float | None:
    """A finite number, or None (missing, NaN, text such as "<5")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _decimals(unit: str) -> int:
    """Decimals of an estimate: one for percentages and percentage points, else two."""
    u = f" {unit} "
    return 1 if ("%" in u or " pp " in u or "percentage point" in u) else 2


def _fmt(x: Any, decimals: int, language: str | None) -> str:
    return i18n.number(x, decimals, language)


# --------------------------------------------------------------------------- headlines
ROLE_GAP = {
    "negative": N_("{label}: CIOs rate it higher than CMOs; the CMO − CIO difference is "
                   "{estimate} points ({level} CI {low} to {high}), {strength} ({details})."),
    "positive": N_("{label}: CMOs rate it higher than CIOs; the CMO − CIO difference is "
                   "{estimate} points ({level} CI {low} to {high}), {strength} ({details})."),
    "null": N_("{label}: no difference between CMOs and CIOs can be read; the CMO − CIO "
               "difference is {estimate} points ({level} CI {low} to {high}), {strength}."),
}
SIGNED_SENTENCE = N_("{label}: {estimate} {unit} ({level} CI {low} to {high}), {strength} "
                     "({details}).")
NULL_SENTENCE = N_("{label}: {estimate} {unit} ({level} CI {low} to {high}), {strength}.")
DETAILS_WITH_N = N_("{p}; {n} {n_unit}")
NOT_ESTIMABLE_SENTENCE = N_("{label}: could not be estimated with these data.")


def _rows(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The rows of a table the report recorded (``results[name]``), or ``[]``."""
    entry = (doc.get("results") or {}).get(name)
    if isinstance(entry, dict) and isinstance(entry.get("rows"), list):
        return [r for r in entry["rows"] if isinstance(r, dict)]
    return []


def _value(doc: dict[str, Any], name: str) -> Any:
    entry = (doc.get("results") or {}).get(name)
    return entry.get("value") if isinstance(entry, dict) else None


def _conf(doc: dict[str, Any]) -> float:
    conf = _number((doc.get("parameters") or {}).get("conf"))
    return conf if conf is not None and 0 < conf < 1 else 0.95


def _role_gap_n(doc: dict[str, Any], key: str,
                language: str | None = None) -> tuple[int | None, str]:
    """The firms behind a role gap (the profile report records them in ``role_gaps``)."""
    construct = key.split(".", 1)[-1]
    for row in _rows(doc, "role_gaps"):
        if row.get("construct") == construct and _number(row.get("n_firms")) is not None:
            return int(row["n_firms"]), i18n.gettext(N_("firms"), language)
    return None, ""


def _headline_sentence(h: dict[str, Any], doc: dict[str, Any], language: str | None) -> Finding:
    from helpers.headlines import p_phrase

    key = str(h.get("key") or "")
    label = str(h.get("label") or key)
    verdict = str(h.get("verdict") or "not estimable")
    unit = str(h.get("unit") or "")
    est, low, high = (_number(h.get(k)) for k in ("estimate", "ci_low", "ci_high"))
    p, power = _number(h.get("p_value")), _number(h.get("power"))
    words = strength(verdict, p, power, language)
    notebook = Path(str(doc.get("notebook") or "")).stem
    if verdict == "not estimable" or est is None or low is None or high is None:
        sentence = _capital(i18n.gettext(NOT_ESTIMABLE_SENTENCE, language).format(label=label))
        return Finding(sentence, i18n.gettext(STRENGTH["not estimable"], language), key, notebook)
    d = _decimals(unit)
    values = {"label": label, "estimate": _fmt(est, d, language), "low": _fmt(low, d, language),
              "high": _fmt(high, d, language), "unit": unit, "strength": words,
              "level": i18n.percent(_conf(doc), 0, language, scale=100),
              "p": p_phrase(p, language)}
    if unit.strip() == "%":  # the percent sign after the number, as i18n.percent writes it
        values.update(estimate=i18n.percent(est, d, language), unit="")
    n, n_unit = _number(h.get("n")), str(h.get("n_unit") or "")
    if n is not None and n_unit:
        details = i18n.gettext(DETAILS_WITH_N, language).format(
            p=values["p"], n=i18n.integer(n, language), n_unit=n_unit)
    else:
        details = values["p"]
    if key.startswith("role_gap."):
        template = ROLE_GAP[verdict] if verdict in SIGNED else ROLE_GAP["null"]
        sentence = i18n.gettext(template, language).format(details=details, **values)
        return Finding(_capital(sentence), words, key, notebook)
    template = SIGNED_SENTENCE if verdict in SIGNED else NULL_SENTENCE
    sentence = i18n.gettext(template, language).format(details=details, **values)
    return Finding(_capital(re.sub(" {2,}", " ", sentence)), words, key, notebook)


def _capital(sentence: str) -> str:
    """A sentence starting with a capital letter (a label may start lower-case)."""
    return sentence[:1].upper() + sentence[1:]


def _rank(h: dict[str, Any]) -> tuple:
    """Order within a group: smallest p first, then the larger |estimate / SE|; for null results
    the higher power first."""
    p = _number(h.get("p_value"))
    est, se = _number(h.get("estimate")), _number(h.get("std_error"))
    z = abs(est / se) if est is not None and se else 0.0
    power = _number(h.get("power")) or 0.0
    verdict = h.get("verdict")
    if verdict in SIGNED:
        return (p if p is not None else 1.0, -z)
    return (-power, p if p is not None else 1.0)


def _family(h: dict[str, Any]) -> str:
    return str(h.get("key") or "").split(".", 1)[0]


def _round_robin(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows (already ranked) taking turns between their families, the best of each first."""
    families: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        families.setdefault(_family(row), []).append(row)
    out: list[dict[str, Any]] = []
    queues = list(families.values())
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def choose(headlines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The headlines a summary states (see the module docstring): signed ones (at most
    :data:`MOST`, most certain first, families taking turns); then, up to :data:`LEAST`, null
    results ("no evidence", "not detectable", exploratory, in that order); the not estimable only
    when nothing was estimated (at most :data:`LEAST`)."""
    rows = [dict(h) for h in headlines]
    signed = _round_robin(sorted((h for h in rows if h.get("verdict") in SIGNED), key=_rank))
    chosen = signed[:MOST]
    for verdict in NULLS:
        if len(chosen) >= LEAST:
            break
        group = sorted((h for h in rows if h.get("verdict") == verdict), key=_rank)
        chosen += _round_robin(group)[: LEAST - len(chosen)]
    if not chosen:
        chosen = [h for h in rows if h.get("verdict") == "not estimable"][:LEAST]
    return chosen


WITHIN_FIRMS = N_("Within firms that took part in more than one wave, the shadow-IT share moves "
                  "by {estimate} percentage points per point of the disconnect ({level} CI {low} "
                  "to {high}; {firms} firms), shown without a verdict: few firms take part "
                  "twice and a change in one or two answers is mostly measurement error.")


def _secondary_findings(doc: dict[str, Any], language: str | None) -> list[Finding]:
    """Estimates a report shows beside its headlines, stated when the headlines give fewer than
    :data:`LEAST` findings: the spend report's within-firm slope (exploratory)."""
    out = []
    for row in _rows(doc, "within_firms"):
        est, low, high = (_number(row.get(k)) for k in ("estimate", "ci_low", "ci_high"))
        firms = _number(row.get("firms"))
        if None in (est, low, high, firms):
            continue
        text = i18n.gettext(WITHIN_FIRMS, language).format(
            estimate=_fmt(est, 1, language), low=_fmt(low, 1, language),
            high=_fmt(high, 1, language), firms=i18n.integer(firms, language),
            level=i18n.percent(95, 0, language))
        out.append(Finding(text, i18n.gettext(STRENGTH["exploratory"], language),
                           "shadow.within_firms", Path(str(doc.get("notebook") or "")).stem))
    return out


def _headline_findings(doc: dict[str, Any], language: str | None) -> list[Finding]:
    rows = _rows(doc, "headlines")
    out = []
    for h in choose(rows):
        if h.get("key", "").startswith("role_gap.") and _number(h.get("n")) is None:
            n, n_unit = _role_gap_n(doc, h["key"], language)
            h = {**h, "n": n, "n_unit": n_unit}
        out.append(_headline_sentence(h, doc, language))
    if len(out) < LEAST:
        out += _secondary_findings(doc, language)[: LEAST - len(out)]
    return out


# --------------------------------------------------------------------------- 00 data quality
READ_REASON, KEPT_REASON = "rows read from the export", "rows kept for analysis"


def _quality_findings(doc: dict[str, Any], language: str | None) -> list[Finding]:
    nb = Path(str(doc.get("notebook") or "")).stem
    out: list[Finding] = []
    desc = i18n.gettext(STRENGTH["descriptive"], language)
    integer = lambda v: i18n.integer(v, language)  # noqa: E731

    rows = _rows(doc, "row_selection")
    reasons = {str(r.get("reason")): _number(r.get("rows")) for r in rows}
    read = reasons.get(READ_REASON) or reasons.get(i18n.gettext(READ_REASON, language))
    kept = reasons.get(KEPT_REASON) or reasons.get(i18n.gettext(KEPT_REASON, language))
    if read is not None and kept is not None:
        if kept == read:
            text = i18n.gettext(N_("All {read} rows of the export were kept for the analysis; "
                                   "no row was left out."), language).format(read=integer(read))
        else:
            text = i18n.gettext(N_("{kept} of the {read} rows of the export were kept for the "
                                   "analysis; {left} were left out by the selection rules."),
                                language).format(kept=integer(kept), read=integer(read),
                                                 left=integer(read - kept))
        out.append(Finding(text, desc, "quality.rows", nb))

    dyads = _rows(doc, "dyad_completeness")
    if dyads:
        row = dyads[-1]
        total, complete = _number(row.get("firms")), _number(row.get("complete_dyads"))
        if total and complete is not None:
            text = i18n.gettext(N_("{complete} of {total} firm-waves ({share}) have answers from "
                                   "both the CMO and the CIO: the pairs that the dyadic analyses "
                                   "use."), language).format(
                complete=integer(complete), total=integer(total),
                share=i18n.percent(complete / total, 1, language, scale=100))
            out.append(Finding(text, desc, "quality.pairs", nb))

    items = [r for r in _rows(doc, "item_missingness") if _number(r.get("pct_missing")) is not None]
    if items:
        worst = max(items, key=lambda r: r["pct_missing"])
        over = sum(r["pct_missing"] > 5 for r in items)
        if worst["pct_missing"] == 0:
            text = i18n.gettext(N_("No answer is missing: each of the {m} items was answered by "
                                   "everyone it was asked."), language).format(m=integer(len(items)))
        else:
            from helpers import labels

            text = i18n.gettext(N_("{over} of {m} items miss more than {limit} of their answers; "
                                   "the item missed most, “{item}”, misses {share}."),
                                language).format(
                over=integer(over), m=integer(len(items)), limit=i18n.percent(5, 0, language),
                item=labels.column(worst.get("item"), language),
                share=i18n.percent(worst["pct_missing"], 1, language))
        out.append(Finding(text, desc, "quality.missing", nb))

    sens = [r for r in _rows(doc, "sensitivity")
            if all(_number(r.get(k)) is not None for k in ("difference", "ci_low", "ci_high"))]
    if len(sens) >= 2:
        first, last = sens[0], sens[-1]

        def side(r: dict[str, Any]) -> int:
            return 1 if r["ci_low"] > 0 else -1 if r["ci_high"] < 0 else 0

        same = side(first) == side(last)
        template = (N_("Leaving out {excluded} flagged respondents (speeders, straight-liners) "
                       "moves the CMO − CIO difference on the disconnect index from {a} "
                       "({level} CI {a_low} to {a_high}) to {b} ({b_low} to {b_high}): the "
                       "conclusion does not change.") if same else
                    N_("Leaving out {excluded} flagged respondents (speeders, straight-liners) "
                       "moves the CMO − CIO difference on the disconnect index from {a} "
                       "({level} CI {a_low} to {a_high}) to {b} ({b_low} to {b_high}): the "
                       "conclusion changes, so read the profile with care."))
        excluded = _number(last.get("excluded"))
        text = i18n.gettext(template, language).format(
            excluded=integer(excluded) if excluded is not None else str(last.get("excluded", "")),
            a=_fmt(first["difference"], 2, language), a_low=_fmt(first["ci_low"], 2, language),
            a_high=_fmt(first["ci_high"], 2, language), b=_fmt(last["difference"], 2, language),
            b_low=_fmt(last["ci_low"], 2, language), b_high=_fmt(last["ci_high"], 2, language),
            level=i18n.percent(95, 0, language))
        words = i18n.gettext(N_("robust to the exclusions") if same
                             else N_("sensitive to the exclusions"), language)
        out.append(Finding(text, words, "quality.sensitivity", nb))
    return out[:MOST]


# --------------------------------------------------------------------------- 01 measurement
FIT_WORDS = {
    "good": N_("good fit by the usual cut-offs"),
    "acceptable": N_("acceptable fit by the usual cut-offs"),
    "poor": N_("poor fit by the usual cut-offs"),
}


def fit_grade(cfi: float, rmsea: float, srmr: float | None) -> str:
    """``good`` (CFI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08; Hu & Bentler 1999), ``acceptable`` (CFI ≥
    .90, RMSEA ≤ .08, SRMR ≤ .10) or ``poor``."""
    srmr = 0.0 if srmr is None else srmr
    if cfi >= 0.95 and rmsea <= 0.06 and srmr <= 0.08:
        return "good"
    if cfi >= 0.90 and rmsea <= 0.08 and srmr <= 0.10:
        return "acceptable"
    return "poor"


def _construct(name: Any, language: str | None) -> str:
    from helpers import labels

    return labels.column(name, language)


def _measurement_findings(doc: dict[str, Any], language: str | None) -> list[Finding]:
    nb = Path(str(doc.get("notebook") or "")).stem
    out: list[Finding] = []
    integer = lambda v: i18n.integer(v, language)  # noqa: E731
    num = lambda v, d=3: _fmt(v, d, language)  # noqa: E731

    fit = [r for r in _rows(doc, "cfa_fit")
           if _number(r.get("CFI")) is not None and _number(r.get("RMSEA")) is not None]
    if fit:
        row = fit[0]
        grade = fit_grade(row["CFI"], row["RMSEA"], _number(row.get("SRMR")))
        words = i18n.gettext(FIT_WORDS[grade], language)
        modelled = (_value(doc, "cfa_constructs") or {}).get("modelled") or []
        text = i18n.gettext(N_("The measurement model ({k} constructs, {n} respondents) has "
                               "{grade}: CFI {cfi}, RMSEA {rmsea}, SRMR {srmr}."),
                            language).format(
            k=integer(len(modelled)) if modelled else "–",
            n=integer(row["n"]) if _number(row.get("n")) is not None else "–", grade=words,
            cfi=num(row["CFI"]), rmsea=num(row["RMSEA"]),
            srmr=num(row["SRMR"]) if _number(row.get("SRMR")) is not None else "–")
        out.append(Finding(text, words, "measurement.fit", nb))

    alpha = [r for r in _rows(doc, "key_estimates") if _number(r.get("estimate")) is not None] \
        if Path(str(doc.get("notebook") or "")).stem.startswith("01_") else []
    if alpha:
        low = min(alpha, key=lambda r: r["estimate"])
        ok = sum(r["estimate"] >= 0.70 for r in alpha)
        words = i18n.gettext(N_("reliable") if ok == len(alpha) else N_("partly reliable"),
                             language)
        ci = (_number(low.get("ci_low")), _number(low.get("ci_high")))
        template = (N_("Cronbach's alpha reaches {cutoff} for {ok} of {m} scales; the lowest is "
                       "{construct} with {alpha} ({level} CI {low} to {high}).")
                    if None not in ci else
                    N_("Cronbach's alpha reaches {cutoff} for {ok} of {m} scales; the lowest is "
                       "{construct} with {alpha}."))
        text = i18n.gettext(template, language).format(
            ok=integer(ok), m=integer(len(alpha)), construct=_construct(low.get("term"), language),
            alpha=num(low["estimate"], 2), cutoff=num(0.70, 2),
            level=i18n.percent(95, 0, language),
            low=num(ci[0], 2) if ci[0] is not None else "",
            high=num(ci[1], 2) if ci[1] is not None else "")
        out.append(Finding(text, words, "measurement.alpha", nb))

    rel = [r for r in _rows(doc, "cfa_reliability")
           if _number(r.get("CR")) is not None and _number(r.get("AVE")) is not None]
    if rel:
        cr = sum(r["CR"] >= 0.70 for r in rel)
        ave = sum(r["AVE"] >= 0.50 for r in rel)
        words = i18n.gettext(N_("reliable") if cr == ave == len(rel) else N_("partly reliable"),
                             language)
        text = i18n.gettext(N_("{cr} of {m} constructs reach a composite reliability of {cr_cut} "
                               "and {ave} an average variance extracted of {ave_cut}."),
                            language).format(cr=integer(cr), ave=integer(ave), m=integer(len(rel)),
                                             cr_cut=num(0.70, 2), ave_cut=num(0.50, 2))
        out.append(Finding(text, words, "measurement.reliability", nb))

    for name, key, all_ok, some in (
            ("invariance_verdicts", "measurement.invariance_roles",
             N_("CMOs' and CIOs' means can be compared for all {m} constructs (at least partial "
                "scalar invariance)."),
             N_("CMOs' and CIOs' means can be compared for {ok} of {m} constructs (at least "
                "partial scalar invariance); not for {names}.")),
            ("invariance_verdicts_waves", "measurement.invariance_waves",
             N_("The waves' means can be compared for all {m} constructs (at least partial "
                "scalar invariance)."),
             N_("The waves' means can be compared for {ok} of {m} constructs (at least partial "
                "scalar invariance); not for {names}."))):
        rows = [r for r in _rows(doc, name) if isinstance(r.get("means_comparable"), bool)]
        if not rows:
            continue
        ok = sum(r["means_comparable"] for r in rows)
        not_ok = [_construct(r.get("construct"), language) for r in rows
                  if not r["means_comparable"]]
        words = i18n.gettext(N_("comparable") if not not_ok else N_("partly comparable"),
                             language)
        text = i18n.gettext(some if not_ok else all_ok, language).format(
            ok=integer(ok), m=integer(len(rows)), names=", ".join(not_ok))
        out.append(Finding(text, words, key, nb))
    return out[:MOST]


# --------------------------------------------------------------------------- entry point
def findings(doc: dict[str, Any], language: str | None = None) -> list[Finding]:
    """The findings a report's summary states, from its results document (``doc``: the parsed
    ``<report>.json``), in ``language`` (default: the current one). Empty for a report without
    numbers (failed, "too few", "not applicable") or without recorded results it knows."""
    if not isinstance(doc, dict) or doc.get("status") not in (None, "ok") \
            or doc.get("too_few") or doc.get("not_applicable"):
        return []
    language = i18n.normalise(language or i18n.current())
    results = doc.get("results") or {}
    if not isinstance(results, dict):
        return []
    if _rows(doc, "headlines"):
        return _headline_findings(doc, language)
    stem = Path(str(doc.get("notebook") or "")).stem
    if stem.startswith("01_") or "cfa_fit" in results or "invariance_verdicts" in results:
        return _measurement_findings(doc, language)  # (alpha from key_estimates only in 01)
    if stem.startswith("00_") or "row_selection" in results or "dyad_completeness" in results:
        return _quality_findings(doc, language)
    return []


# --------------------------------------------------------------------------- how to read
HOW_TO_READ_LEAD = {
    "00": N_("This report describes the responses and tests nothing: counts, shares and "
             "completeness, for the whole export and for this segment."),
    "01": N_("Fit indices say how well the measurement model reproduces the answers: CFI close "
             "to 1 and RMSEA and SRMR close to 0 are good (usual cut-offs: CFI at least .95, "
             "RMSEA at most .06, SRMR at most .08). Reliabilities of .70 or more are adequate. "
             "CMOs' and CIOs' means may be compared only where scalar invariance holds, at least "
             "partially."),
    "02": N_("Differences are CMO minus CIO on the 1–5 scale of each indicator: a negative "
             "difference means that CIOs score higher, a positive one that CMOs do."),
    "03": N_("A driver's association is the difference in the firm's disconnect index between "
             "firms with and without the arrangement (or per standard deviation of a rating): "
             "negative means a smaller disconnect. Consequences are per point of the disconnect "
             "index."),
    "04": N_("a4 below zero means that the outcome is lower where the two executives' views "
             "diverge; a1 is the slope where they agree, a3 where they disagree."),
    "05": N_("The shadow-IT share is in percent of technology spend; the slope in percentage "
             "points of that share per point of the disconnect index."),
}
HOW_TO_READ_ESTIMATES = N_(
    "Each estimate comes with its {level} confidence interval, the range of values compatible "
    "with the data: the narrower, the more precise. The p value is the probability of a result "
    "at least this far from zero if there were no difference or association at all (adjusted "
    "for the number of tests where the report says so). The words for the strength of evidence "
    "follow from these numbers: “strong”, “moderate” or “some evidence” when the interval "
    "excludes zero (p below .001, below .01, or otherwise); “no evidence of an effect of the "
    "size that matters” when it includes zero although the data had at least 80 % power to "
    "find such an effect; “not detectable with this sample” when the power was lower, which is "
    "absence of evidence, not evidence of absence; “exploratory” when there were too few units "
    "for a verdict. These are associations in survey data, not proven effects.")
HOW_TO_READ_PRIVACY = N_(
    "To protect respondents, no number describes fewer than {min_cell} respondents, firms or "
    "pairs: smaller groups are withheld, shown as “<{min_cell}” or pooled into “Other”.")


def how_to_read(notebook: str | Path, parameters: dict[str, Any] | None = None,
                language: str | None = None) -> list[str]:
    """The "How to read this report" paragraphs of a notebook's report: what its numbers mean,
    the interval, p and the verdict words (reports that estimate), and the suppression of small
    groups, in ``language``."""
    stem = Path(str(notebook)).stem
    params = parameters or {}
    language = i18n.normalise(language or i18n.current())
    conf = _number(params.get("conf"))
    conf = conf if conf is not None and 0 < conf < 1 else 0.95
    out = []
    lead = HOW_TO_READ_LEAD.get(stem[:2])
    if lead:
        out.append(i18n.gettext(lead, language))
    if stem[:2] not in ("00", "01") and lead:
        out.append(i18n.gettext(HOW_TO_READ_ESTIMATES, language).format(
            level=i18n.percent(conf, 0, language, scale=100)))
    min_cell = params.get("min_cell", 5)
    out.append(i18n.gettext(HOW_TO_READ_PRIVACY, language).format(
        min_cell=i18n.integer(min_cell, language) if _number(min_cell) is not None
        else str(min_cell)))
    return out


__all__ = ["Finding", "findings", "how_to_read", "strength", "choose", "fit_grade", "LEAST",
           "MOST"]
