"""What the spend report can show with the data at hand, and the survey-to-spend link.

A survey comes with budgets, a ledger, both or neither, and with or without the fiscal year of
each wave. The spend report (``05_spend_shadow_it``) asks this module which sections apply and why
not, takes the firm-year rows of its segment, and links each firm-wave's disconnect index to the
spend of the wave's fiscal year (from ``survey.parquet``'s ``year`` column, never from a notebook
default), saying how many firm-waves found no spend data instead of dropping them silently.

Privacy: the unit of every spend statistic is the firm. A yearly mean and its interval need at
least ``min_cell`` firms, a median at least ``2 * min_cell`` (a median is one firm's own value, or
the mean of two; among ten or more it cannot be told whose). A firm-year belongs to exactly one
segment of each dimension (:func:`helpers.privacy.firm_year_values`), so the segment reports of a
dimension add up to the whole sample; a year is shown in segment reports only when, for every
published segment and the firm-years no segment covers, differencing isolates no group of fewer
than ``min_cell`` firms (:func:`shown_years`). The cross-firm model needs ``min_cell`` distinct
firms besides its minimum of firm-waves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n, indicators, labels, privacy, spend
from helpers.errors import NotApplicable
from helpers.i18n import N_, _, ngettext

# plain text: these end up in HTML-escaped "not applicable" notes and pages
BUDGETS_HOW = "make data BUDGETS=…"
LEDGER_HOW = "make data LEDGER=… FX=…"
YEAR_NEEDS = N_("the fiscal year of each survey wave: add wave_years: to the mapping (e.g. "
                "wave_years: {{1: 2024, 2: 2025}}) and rebuild with make data")
"""Why a section needs the survey's ``year`` (a message id: show it with :func:`year_needs`)."""
SEGMENT_KEYS_WITH_YEARS = ("wave", "year")


def year_needs() -> str:
    """:data:`YEAR_NEEDS` in the report's language."""
    return _(YEAR_NEEDS).format()


# --------------------------------------------------------------------------- words for codes
#: The ledger's category codes (:data:`helpers.spend.CATEGORIES`) as a reader names them.
CATEGORY_WORDS = {
    "software": N_("software"),
    "cloud_infrastructure": N_("cloud infrastructure"),
    "hardware": N_("hardware"),
    "it_services": N_("IT services"),
    "advertising_media": N_("advertising media"),
    "agency": N_("agency services"),
    "travel": N_("travel"),
    "office": N_("office supplies"),
    "other": N_("other purchases"),
}
#: Payment methods of the ledger as a reader names them (others are shown as written).
PAYMENT_WORDS = {
    "purchase_order": N_("purchase order"),
    "invoice": N_("invoice"),
    "corporate_card": N_("corporate card"),
    "expense_claim": N_("expense claim"),
}


def _word(words: dict[str, str], code: str) -> str:
    key = str(code).strip().lower()
    return _(words[key]) if key in words else str(code)


def _listing(items: list[str], style: str = "standard") -> str:
    """``a, b and c`` (``style="or"``: ``a, b or c``) in the report's language."""
    from babel.lists import format_list

    return format_list(list(items), style=style, locale=i18n.locale_name()) if items else ""


def rule_text(rule: spend.ShadowRule = spend.DEFAULT_RULE) -> str:
    """The shadow-IT rule that the numbers use, in words, built from ``rule`` itself (the
    categories, the IT cost centres and the sanctioned payment methods of
    :class:`helpers.spend.ShadowRule`, as the SQL applies them): so the report's description
    cannot drift from the rule. Purchases on a sanctioned method (by default purchase orders and
    invoices) are said never to be shadow IT; a blank payment method or cost centre counts as
    outside IT purchasing, as in the SQL."""
    categories = _listing([_word(CATEGORY_WORDS, c) for c in rule.categories], "or")
    it = _listing(list(rule.it_cost_centers), "or")
    sanctioned = [_word(PAYMENT_WORDS, m) for m in rule.sanctioned_payment_methods]
    outside = [_word(PAYMENT_WORDS, m) for m in spend.CARD_PAYMENT_METHODS
               if m.lower() not in {s.lower() for s in rule.sanctioned_payment_methods}]
    text = _("A ledger line counts as shadow IT when its category is {categories}, it is booked "
             "by a cost centre other than {it} (a blank cost centre included), and it is not paid "
             "through a sanctioned channel ({sanctioned}).").format(
        categories=categories, it=it, sanctioned=_listing(sanctioned, "or"))
    if outside:
        text += " " + _("So a purchase paid by {outside}, by another method or with no "
                        "payment method recorded is shadow IT: it bypasses procurement.").format(
            outside=_listing(outside, "or"))
    text += " " + _("Purchases paid by {sanctioned} go through procurement and accounts payable "
                    "with approval and are never shadow IT, whichever cost centre books "
                    "them.").format(sanctioned=_listing(sanctioned, "or"))
    if {"hardware", "it_services"}.isdisjoint(c.lower() for c in rule.categories):
        text += " " + _("Hardware and IT services count as technology spend but never as "
                        "shadow IT.")
    return text + " " + _("Amounts are converted to EUR at the booking month's rate; refunds "
                          "are netted against purchases.")


def check_inputs(budgets: pd.DataFrame | None, features: pd.DataFrame | None) -> None:
    """Stop the report (:class:`NotApplicable`) when neither budgets nor a ledger were built."""
    if budgets is None and features is None:
        raise NotApplicable(_("needs budgets or a ledger: build firm-year budgets with {budgets} "
                              "and/or a transaction ledger with {ledger}").format(
            budgets=BUDGETS_HOW, ledger=LEDGER_HOW))


def segment_rows(table: pd.DataFrame | None, survey: pd.DataFrame,
                 segment: dict[str, Any] | None) -> pd.DataFrame | None:
    """The firm-year rows (budgets or spend features) that belong to the segment.

    ``survey`` is the whole survey (not the segment's rows): a firm-year belongs to the segment
    its firm's answer for that fiscal year is in, or the answer nearest in time
    (:func:`helpers.privacy.firm_year_values`), so a firm that moved size band between waves
    counts in one size band per year, and the segment reports of a dimension add up to the
    whole sample. For a segment by wave (or year) only the fiscal years of the segment's firm-
    waves count; without the survey's ``year`` there are none and ``attrs["needs"]`` says what
    is missing. Firms not in the survey are left out. None stays None.
    """
    if table is None:
        return None
    firms = set(survey["firm_id"].astype(str))
    keep = table["firm_id"].astype(str).isin(firms).to_numpy().copy()
    needs = ""
    for column, value in (segment or {}).items():
        if column == "year":
            keep &= privacy.values_mask(table["year"], value).to_numpy()
            continue
        if column == "wave" and not _has_years(survey):
            needs = year_needs()
        keep &= privacy.values_mask(privacy.firm_year_values(survey, table, column),
                                    value).to_numpy()
    out = table[keep].reset_index(drop=True)
    out.attrs = {"note": "", "needs": needs}
    return out


def missing_reason(whole: pd.DataFrame | None, segment: pd.DataFrame | None, what: str) -> str:
    """Why a section on ``what`` ("budgets" or "ledger") cannot be shown (``""`` when it can):
    the data was not built, or none of it belongs to this segment."""
    budgets = what == "budgets"
    if whole is None:
        return (_("firm-year budgets ({how})") if budgets else
                _("a transaction ledger ({how})")).format(how=BUDGETS_HOW if budgets
                                                          else LEDGER_HOW)
    if segment is not None and segment.attrs.get("needs"):
        return _("{needs} (a segment by wave takes the spend of its fiscal year)").format(
            needs=segment.attrs["needs"])
    if segment is None or segment.empty:
        return (_("firm-year budgets for this segment's firms and years; the processed budgets "
                  "have none of them") if budgets else
                _("a transaction ledger for this segment's firms and years; the processed "
                  "ledger has none of them"))
    return ""


TREND_VALUES = ["mean", "median", "ci_low", "ci_high"]


def trend(table: pd.DataFrame, column: str, min_cell: int = privacy.DEFAULT_MIN_CELL,
          scale: float = 1.0, years: set[int] | None = None) -> pd.DataFrame:
    """Yearly mean, median and 95 % CI of ``column`` across firms (:func:`helpers.spend.share_trend`)
    times ``scale`` (100 for percent), protected.

    A year of fewer than ``min_cell`` firms is blank (``n`` shown as ``<min_cell``): one firm's
    budget ratio is its own confidential figure. The median needs ``2 * min_cell`` firms (it is
    one firm's value, or the mean of two). ``years`` (:func:`shown_years`, in a segment report)
    lists the years the segment reports may show; the others are blank with ``n`` withheld
    (:data:`helpers.privacy.WITHHELD`). ``attrs["note"]`` says what was left out.
    """
    t = spend.share_trend(table, column).drop(columns="std")
    for c in TREND_VALUES:
        t[c] = t[c] * scale
    n = pd.to_numeric(t["n"])
    t["median"] = t["median"].where(n >= 2 * min_cell)
    out = privacy.suppress_small_groups(t, ["n"], TREND_VALUES, min_cell)
    notes = []
    if years is not None:
        other = ~t["year"].isin(years) & (n >= min_cell)
        for c in TREND_VALUES:
            out[c] = out[c].astype(object).where(~other, np.nan)
        out["n"] = out["n"].astype(object).where(~other, privacy.WITHHELD)
        if other.any():
            notes.append(withheld_note(min_cell))
    if out.attrs.get("suppressed"):
        notes.append(few_firms_note(min_cell))
    if ((n >= min_cell) & (n < 2 * min_cell)).any():
        notes.append(_("Medians need at least {minimum} firms (with fewer, a median is close to "
                       "one firm's own figure).").format(minimum=i18n.integer(2 * min_cell)))
    out.attrs["suppressed"] = 0  # said in the note
    out.attrs["note"] = " ".join(notes)
    for c in TREND_VALUES:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


def withheld_note(min_cell: int) -> str:
    """The note under a yearly table of a segment report whose withheld years are marked."""
    return _("Years marked {mark} are shown in the whole-sample report only: with the other "
             "segment reports they would single out fewer than {minimum} firms.").format(
        mark=privacy.WITHHELD, minimum=i18n.integer(min_cell))


def few_firms_note(min_cell: int) -> str:
    """The note under a yearly table with years of too few firms."""
    return _("Years with fewer than {minimum} firms are blank.").format(
        minimum=i18n.integer(min_cell))


def shown_years(whole_table: pd.DataFrame | None, survey: pd.DataFrame,
                parts: dict[str, privacy.Partition], view: privacy.SegmentView, column: str,
                min_cell: int = privacy.DEFAULT_MIN_CELL) -> set[int] | None:
    """The years whose statistics of ``column`` a segment report may show (None: the whole
    sample, which shows every year of at least ``min_cell`` firms).

    ``whole_table`` holds the firm-years of the whole sample (budget shares or spend features).
    For each year the firms with a value form the units; each firm-year lies in one part of
    every dimension, or none (a year no wave refers to), and a year is shown only when no
    combination of the whole sample with the parts of one or two dimensions isolates fewer than
    ``min_cell`` firms (:func:`helpers.privacy.audit`). A segment of several dimensions shows
    no year (its cells are not among the published groups).
    """
    if view.kind == "whole":
        return None
    if view.kind == "cross" or whole_table is None or whole_table.empty:
        return set()
    values = pd.to_numeric(whole_table[column], errors="coerce")
    rows = whole_table[values.notna().to_numpy()].reset_index(drop=True)
    published = {c: p for c, p in parts.items() if p.published}
    codes = pd.DataFrame({c: privacy.part_codes(privacy.firm_year_values(survey, rows, c), p)
                          for c, p in published.items()})
    codes["_firm"] = rows["firm_id"].astype(str).to_numpy()
    codes["_fw"] = codes["_firm"]
    shown = set()
    for year in sorted(pd.unique(rows["year"].dropna())):
        units = {"firms": codes[(rows["year"] == year).to_numpy()].reset_index(drop=True)}
        if privacy.audit(units, published, min_cell) is None:
            shown.add(int(year))
    return shown


def plottable(trend_table: pd.DataFrame) -> pd.DataFrame:
    """The years of a :func:`trend` table that have an estimate, as ``plots.trend_with_benchmark``
    takes them (year, estimate, ci_low, ci_high as floats)."""
    out = trend_table.rename(columns={"mean": "estimate"})
    out = out[pd.to_numeric(out["estimate"], errors="coerce").notna()]
    return out[["year", "estimate", "ci_low", "ci_high"]].astype(float)


LEDGER_COUNTS = ("count", "n_lines", "n_uncategorised")
LEDGER_AMOUNTS = ("amount_eur", "amount")


#: The ledger's columns and spend classes as a reader names them (the data-quality table).
LEDGER_COLUMN_WORDS = {
    "firm_id": N_("firm id"),
    "booking_date": N_("booking date"),
    "cost_center": N_("cost centre"),
    "vendor": N_("vendor"),
    "vendor_category": N_("category"),
    "payment_method": N_("payment method"),
    "currency": N_("currency"),
    "amount": N_("amount"),
    "it_spend": N_("IT technology spend"),
    "marketing_spend": N_("marketing spend"),
    "martech_spend": N_("martech spend"),
    "other_tech_spend": N_("other technology spend"),
    "tech_spend_total": N_("technology spend"),
    "shadow_it_spend": N_("shadow-IT spend"),
}
#: What a row of the data-quality table is (its ``kind`` and, for bad rows, ``excluded``).
ISSUE_WORDS = {
    "excluded": N_("Excluded lines"),
    "flagged": N_("Flagged firm-years (kept)"),
    "unmapped_vendor": N_("Vendor missing from the vendor map"),
}


def _problem(rule: Any, column: Any) -> Any:
    """A bad-row rule of :data:`helpers.spend.LINE_RULES` as a sentence with the ledger columns
    in words (never the rule's tag)."""
    known = dict(spend.LINE_RULES)
    known[spend.NET_NEGATIVE[0]] = ("", spend.NET_NEGATIVE[1], "")
    if not isinstance(rule, str) or rule not in known:
        return np.nan if not isinstance(rule, str) else rule
    columns = [c.strip() for c in str(column).split(",") if c.strip() and str(column) != "nan"]
    message = _(known[rule][1])
    if not columns:
        return message
    return _("{message} (column: {columns})").format(
        message=message, columns=_listing([_word(LEDGER_COLUMN_WORDS, c) for c in columns]))


def ledger_quality(issues: pd.DataFrame, min_cell: int = privacy.DEFAULT_MIN_CELL
                   ) -> pd.DataFrame:
    """The ledger's data-quality table (excluded rows, unmapped vendors) as a report shows it:
    what each row is in words (``issue``), the problem of bad rows as a sentence (``problem``,
    never the rule's tag), the vendor, and counts.

    Counts of 1 to ``min_cell`` − 1 (firm-years with a net-negative class, lines of a vendor)
    are shown as ``<min_cell``; amounts are left out: an unmapped vendor's total may be the
    spend of one or two firms. The table has no totals, so nothing else gives a count back.
    The table describes the whole ledger (a segment report does not show it).
    """
    out = issues.drop(columns=[c for c in LEDGER_AMOUNTS if c in issues.columns])
    if "kind" in out.columns:
        kept = (out["excluded"].astype(str).str.lower() == "false") if "excluded" in out.columns \
            else pd.Series(False, index=out.index)
        if "rule" in out.columns:
            kept |= out["rule"].astype(str) == spend.NET_NEGATIVE[0]
        kind = out["kind"].astype(str).where(out["kind"].astype(str) != "bad_rows",
                                             np.where(kept, "flagged", "excluded"))
        out.insert(0, "issue", [_word(ISSUE_WORDS, k) for k in kind])
    if "rule" in out.columns:
        column = out["column"] if "column" in out.columns else pd.Series("", index=out.index)
        out.insert(1, "problem", [_problem(r, c) for r, c in zip(out["rule"], column,
                                                                 strict=True)])
    out = out.drop(columns=[c for c in ("kind", "rule", "column", "message", "excluded")
                            if c in out.columns])
    out = out.dropna(axis=1, how="all")
    counts = [c for c in LEDGER_COUNTS if c in out.columns]
    for c in counts:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    out, n = privacy.suppress_counts(out, min_cell, counts)
    for c in counts:
        out[c] = pd.Series([v if isinstance(v, str) or pd.isna(v) else int(v) for v in out[c]],
                           index=out.index, dtype=object)
    notes = [_("Amounts are not shown: a vendor's total may be the spend of very few firms.")] \
        if any(c in issues.columns for c in LEDGER_AMOUNTS) else []
    if n:
        notes.append(_("Counts below {minimum} are shown as <{minimum}.").format(
            minimum=i18n.integer(min_cell)))
    out.attrs["note"] = " ".join(notes)
    return out


# --------------------------------------------------------------------------- survey to spend
@dataclass
class Link:
    """Firm-waves matched to the spend of their fiscal year, or why that is not possible.

    ``linked``: one row per matched firm-wave (disconnect_index, shadow_it_pct, year, wave, firm
    fields). ``needs``: why the linking section does not apply ("" when it does). ``note``: what
    was matched and what was not. ``counts``: the same as numbers, for the results file.
    """

    linked: pd.DataFrame
    needs: str = ""
    note: str = ""
    counts: dict[str, Any] = field(default_factory=dict)


def _has_years(survey: pd.DataFrame) -> bool:
    return "year" in survey.columns and bool(survey["year"].notna().any())


def _years_text(years: list[int]) -> str:
    if not years:
        return _("no year")
    years = sorted(years)
    if years == list(range(years[0], years[-1] + 1)) and len(years) > 2:
        return f"{years[0]}–{years[-1]}"
    return ", ".join(map(str, years))


def firm_wave_years(survey: pd.DataFrame) -> pd.DataFrame:
    """Fiscal year of each firm-wave (firm_id, wave, year; year NA when not recorded)."""
    years = pd.to_numeric(survey["year"], errors="coerce") if "year" in survey.columns else \
        pd.Series(np.nan, index=survey.index)
    frame = survey[["firm_id", "wave"]].assign(year=years)
    out = frame.groupby(["firm_id", "wave"], observed=True, sort=True)["year"].first()
    return out.reset_index().astype({"year": "Int64"})


def link_shadow_it(survey: pd.DataFrame, frame: pd.DataFrame, features: pd.DataFrame | None,
                   min_cell: int = privacy.DEFAULT_MIN_CELL,
                   min_firm_waves: int | None = None) -> Link:
    """Each firm-wave's mean disconnect index beside the shadow-IT share of its fiscal year.

    ``frame`` is :func:`helpers.indicators.respondent_frame` of ``survey``; ``features`` the
    firm-year spend features of the segment. The year of a firm-wave comes from the survey's
    ``year`` column (the mapping's ``wave_years:`` or the export's own dates). Firm-waves whose
    year has no spend data are counted in the note, naming any wave whose year the ledger does
    not cover at all. The section needs at least ``min_firm_waves`` matched firm-waves with a
    disconnect index (default ``max(10, 2 * min_cell)``).
    """
    minimum = min_firm_waves if min_firm_waves is not None else max(10, 2 * min_cell)
    empty = pd.DataFrame(columns=["firm_id", "wave", "year", "disconnect_index", "shadow_it_pct"])
    if features is None or features.empty:
        return Link(empty, needs=_("a transaction ledger ({how})").format(how=LEDGER_HOW))
    if not _has_years(survey):
        return Link(empty, needs=year_needs())
    firm_waves = indicators.firm_level(frame, "disconnect_index").merge(
        firm_wave_years(survey), on=["firm_id", "wave"], how="left")
    n_total = len(firm_waves)
    no_year = firm_waves["year"].isna()
    spend_years = sorted(int(y) for y in pd.unique(features["year"].dropna()))
    dated = firm_waves[~no_year].astype({"year": "int64"})
    linked = dated.merge(features.astype({"year": "int64"}), on=["firm_id", "year"], how="inner")
    linked["shadow_it_pct"] = 100 * linked["shadow_it_share"]
    no_spend = len(dated) - len(linked)
    uncovered = (dated[~dated["year"].isin(spend_years)].groupby("wave", observed=True)["year"]
                 .agg(lambda y: sorted(set(int(v) for v in y))))
    no_share = int(linked["shadow_it_pct"].isna().sum())
    no_index = int((linked["disconnect_index"].isna() & linked["shadow_it_pct"].notna()).sum())
    usable = linked.dropna(subset=["disconnect_index", "shadow_it_pct"])
    counts = {"firm_waves": n_total, "matched": len(usable), "no_year": int(no_year.sum()),
              "no_spend_for_year": no_spend, "no_shadow_it_share": no_share,
              "no_disconnect_index": no_index,
              "waves_without_spend_year": [int(w) for w in uncovered.index]}
    parts = [ngettext("{matched} of {total} firm-wave matched to the spend data of its fiscal "
                      "year.",
                      "{matched} of {total} firm-waves matched to the spend data of their fiscal "
                      "year.", n_total).format(matched=i18n.integer(len(usable)),
                                               total=i18n.integer(n_total))]
    if no_spend:
        parts.append(ngettext("{n} firm-wave has no spend data for its fiscal year.",
                              "{n} firm-waves have no spend data for their fiscal year.",
                              no_spend).format(n=i18n.integer(no_spend)))
    for wave, years in uncovered.items():
        parts.append(_("Wave {wave} (fiscal year {years}) has no spend data at all: the spend "
                       "data covers {covered}.").format(wave=int(wave), years=_years_text(years),
                                                        covered=_years_text(spend_years)))
    if counts["no_year"]:
        parts.append(ngettext("{n} firm-wave has no fiscal year recorded.",
                              "{n} firm-waves have no fiscal year recorded.",
                              counts["no_year"]).format(n=i18n.integer(counts["no_year"])))
    if no_share:
        parts.append(ngettext("{n} firm-wave has no shadow-IT share (no technology spend in the "
                              "ledger that year).",
                              "{n} firm-waves have no shadow-IT share (no technology spend in "
                              "the ledger that year).", no_share).format(
            n=i18n.integer(no_share)))
    if no_index:
        parts.append(ngettext("{n} firm-wave has no disconnect index (too few indicator items "
                              "answered).",
                              "{n} firm-waves have no disconnect index (too few indicator items "
                              "answered).", no_index).format(n=i18n.integer(no_index)))
    if len(usable) < n_total:
        parts.append(_("Those firm-waves are left out of the models."))
    note = " ".join(parts)
    if not frame["disconnect_index"].notna().any():
        return Link(usable, needs=_("the disconnect index, which needs at least one indicator "
                                    "construct asked in the survey"), note=note, counts=counts)
    if len(usable) < minimum:
        return Link(usable, needs=_("at least {minimum} firm-waves with a disconnect index and "
                                    "spend data for their fiscal year (found {found})").format(
            minimum=i18n.integer(minimum), found=i18n.integer(len(usable))),
            note=note, counts=counts)
    if usable["firm_id"].nunique() < min_cell:
        return Link(usable, needs=_("at least {minimum} distinct firms with a disconnect index "
                                    "and spend data (found fewer): a model on fewer firms "
                                    "describes them").format(minimum=i18n.integer(min_cell)),
                    note=note, counts=counts)
    return Link(usable.reset_index(drop=True), note=note, counts=counts)


# --------------------------------------------------------------------------- shadow IT
def usable_features(features: pd.DataFrame | None, min_lines: int) -> pd.DataFrame | None:
    """The firm-years with at least ``min_lines`` ledger lines (:data:`helpers.shadow.MIN_LINES`
    documents why); ``attrs["excluded"]`` counts the others. None stays None."""
    if features is None:
        return None
    lines = pd.to_numeric(features["n_lines"], errors="coerce").fillna(0)
    out = features[(lines >= min_lines).to_numpy()].reset_index(drop=True)
    out.attrs = {**features.attrs, "excluded": int((lines < min_lines).sum())}
    return out


def shadow_trend(features: pd.DataFrame, min_cell: int = privacy.DEFAULT_MIN_CELL,
                 years: set[int] | None = None, conf: float = 0.95) -> pd.DataFrame:
    """Spend-weighted shadow-IT share (%) by year: Σ shadow-IT spend / Σ technology spend over
    the firm-years of the year, with the firm-clustered CR2 interval of
    :func:`helpers.shadow.ratio_of_sums` (the unweighted mean of firm-year ratios is biased
    upwards by thin ledgers). Columns year, share, ci_low, ci_high, n (firms). A year of fewer
    than ``min_cell`` firms is blank with ``n`` shown as ``<min_cell``; years not in ``years``
    (:func:`shown_years`, segment reports) are blank with ``n`` withheld."""
    from helpers.shadow import ratio_of_sums

    rows = []
    tech = pd.to_numeric(features["tech_spend_total"], errors="coerce")
    usable = features[(tech > 0).to_numpy()]
    for year, g in usable.groupby("year", sort=True):
        firms = g["firm_id"].astype(str)
        n = int(firms.nunique())
        row = {"year": int(year), "share": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n}
        if n >= max(min_cell, 2) and (years is None or int(year) in years):
            r = ratio_of_sums(pd.to_numeric(g["shadow_it_spend"], errors="coerce").fillna(0),
                              pd.to_numeric(g["tech_spend_total"]), firms.to_numpy(), conf)
            row.update(share=100 * r.estimate, ci_low=100 * r.ci_low, ci_high=100 * r.ci_high)
        rows.append(row)
    out = pd.DataFrame(rows, columns=["year", "share", "ci_low", "ci_high", "n"])
    out = out.rename(columns={"share": "shadow_it_pct"})
    notes = []
    n = out["n"].copy()
    out["n"] = out["n"].astype(object)
    few = n < min_cell
    out.loc[few, "n"] = f"<{min_cell}"
    if few.any():
        notes.append(few_firms_note(min_cell))
    if years is not None:
        other = ~out["year"].isin(years) & ~few
        out.loc[other, "n"] = privacy.WITHHELD
        if other.any():
            notes.append(withheld_note(min_cell))
    out.attrs["note"] = " ".join(notes)
    return out


WITHIN_MIN_FIRMS = 10
"""Firms in more than one wave that the within-firm model needs (below: not fitted)."""


def within_firms(linked: pd.DataFrame, conf: float = 0.95) -> pd.DataFrame | str:
    """Within-firm association of the shadow-IT share (pp) with the disconnect index: firm fixed
    effects and wave dummies (the within transformation), OLS on the firm-waves of firms in
    more than one wave, errors clustered by firm (CR1 as Stata's ``xtreg, fe vce(cluster)``:
    G/(G−1)·(N−1)/(N−K), K without the absorbed firm means) and t with G − 1 df.

    One row: estimate, std_error, ci_low, ci_high, p_value, within_r2 (R² of the demeaned
    regression — the share of within-firm variation the index and the waves explain), firms,
    firm_waves. A reason (str) when fewer than :data:`WITHIN_MIN_FIRMS` firms have two waves.
    Descriptive only: a change in one or two executives' index between two waves is mostly
    measurement error (the slope is attenuated towards zero), and with few firms the interval is
    wide — the report shows it without a verdict.
    """
    from scipy import stats

    data = linked.dropna(subset=["shadow_it_pct", "disconnect_index"])
    data = data[data.groupby("firm_id")["wave"].transform("nunique") > 1]
    g = int(data["firm_id"].nunique())
    if g < WITHIN_MIN_FIRMS:
        return _("needs at least {minimum} firms in more than one wave with a disconnect index "
                 "and spend data (found {found})").format(minimum=i18n.integer(WITHIN_MIN_FIRMS),
                                                          found=i18n.integer(g))
    waves = pd.get_dummies(data["wave"].astype(str), prefix="wave", drop_first=True, dtype=float)
    x = pd.concat([data[["disconnect_index"]].astype(float), waves], axis=1)
    y = data["shadow_it_pct"].astype(float)
    firm = data["firm_id"].astype(str)
    xd = (x - x.groupby(firm).transform("mean")).to_numpy()
    yd = (y - y.groupby(firm).transform("mean")).to_numpy()
    beta, *_rest = np.linalg.lstsq(xd, yd, rcond=None)
    resid = yd - xd @ beta
    bread = np.linalg.pinv(xd.T @ xd)
    codes = pd.factorize(firm)[0]
    scores = np.zeros((g, xd.shape[1]))
    np.add.at(scores, codes, xd * resid[:, None])
    n, k = xd.shape
    cov = g / (g - 1) * (n - 1) / (n - k) * bread @ scores.T @ scores @ bread
    se = float(np.sqrt(cov[0, 0]))
    t = stats.t.ppf(0.5 + conf / 2, g - 1)
    p = float(2 * stats.t.sf(abs(beta[0] / se), g - 1)) if se > 0 else np.nan
    r2 = 1 - float(resid @ resid) / float(yd @ yd) if float(yd @ yd) > 0 else np.nan
    return pd.DataFrame([{"term": "disconnect_index", "estimate": float(beta[0]),
                          "std_error": se, "ci_low": float(beta[0] - t * se),
                          "ci_high": float(beta[0] + t * se), "p_value": p, "within_r2": r2,
                          "firms": g, "firm_waves": n}])


# Columns the spend report shows (labels in the report's language; counts as integers).
labels.register({
    "shadow_it_pct": N_("Shadow-IT share (%)"),
    "within_r2": N_("Within R²"),
    "disconnect_index": N_("Disconnect index"),
    "issue": N_("Issue"),
    "problem": N_("Problem"),
    "vendor": N_("Vendor"),
    "n_lines": N_("Ledger lines"),
    "n_uncategorised": N_("Uncategorised lines"),
}, counts={"n_lines", "n_uncategorised", "firms", "firm_waves"})
