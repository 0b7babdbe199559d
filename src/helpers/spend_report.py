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

from helpers import indicators, privacy, spend
from helpers.errors import NotApplicable

# plain text: these end up in HTML-escaped "not applicable" notes and pages
BUDGETS_HOW = "make data BUDGETS=…"
LEDGER_HOW = "make data LEDGER=… FX=…"
YEAR_NEEDS = ("the fiscal year of each survey wave: add wave_years: to the mapping (e.g. "
              "wave_years: {1: 2024, 2: 2025}) and rebuild with make data")
SEGMENT_KEYS_WITH_YEARS = ("wave", "year")


def check_inputs(budgets: pd.DataFrame | None, features: pd.DataFrame | None) -> None:
    """Stop the report (:class:`NotApplicable`) when neither budgets nor a ledger were built."""
    if budgets is None and features is None:
        raise NotApplicable("needs budgets or a ledger: build firm-year budgets with "
                            f"{BUDGETS_HOW} and/or a transaction ledger with {LEDGER_HOW}")


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
            needs = YEAR_NEEDS
        keep &= privacy.values_mask(privacy.firm_year_values(survey, table, column),
                                    value).to_numpy()
    out = table[keep].reset_index(drop=True)
    out.attrs = {"note": "", "needs": needs}
    return out


def missing_reason(whole: pd.DataFrame | None, segment: pd.DataFrame | None, what: str) -> str:
    """Why a section on ``what`` ("budgets" or "ledger") cannot be shown (``""`` when it can):
    the data was not built, or none of it belongs to this segment."""
    how = BUDGETS_HOW if what == "budgets" else LEDGER_HOW
    noun = "firm-year budgets" if what == "budgets" else "a transaction ledger"
    if whole is None:
        return f"{noun} ({how})"
    if segment is not None and segment.attrs.get("needs"):
        return f"{segment.attrs['needs']} (a segment by wave takes the spend of its fiscal year)"
    if segment is None or segment.empty:
        return (f"{noun} for this segment's firms and years; the processed {what} data has none "
                "of them")
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
            notes.append(f"Years marked {privacy.WITHHELD} are shown in the whole-sample "
                         "report only: with the other segment reports they would single out "
                         f"fewer than {min_cell} firms.")
    if out.attrs.get("suppressed"):
        notes.append(f"Years with fewer than {min_cell} firms are blank.")
    if ((n >= min_cell) & (n < 2 * min_cell)).any():
        notes.append(f"Medians need at least {2 * min_cell} firms (with fewer, a median is close "
                     "to one firm's own figure).")
    out.attrs["suppressed"] = 0  # said in the note
    out.attrs["note"] = " ".join(notes)
    for c in TREND_VALUES:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


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


def ledger_quality(issues: pd.DataFrame, min_cell: int = privacy.DEFAULT_MIN_CELL
                   ) -> pd.DataFrame:
    """The ledger's data-quality table (excluded rows, unmapped vendors) as a report shows it.

    Counts of 1 to ``min_cell`` − 1 (firm-years with a net-negative class, lines of a vendor)
    are shown as ``<min_cell``; amounts are left out: an unmapped vendor's total may be the
    spend of one or two firms. The table has no totals, so nothing else gives a count back.
    """
    out = issues.drop(columns=[c for c in LEDGER_AMOUNTS if c in issues.columns])
    counts = [c for c in LEDGER_COUNTS if c in out.columns]
    for c in counts:
        out[c] = pd.to_numeric(out[c], errors="coerce")
    out, n = privacy.suppress_counts(out, min_cell, counts)
    for c in counts:
        out[c] = pd.Series([v if isinstance(v, str) or pd.isna(v) else int(v) for v in out[c]],
                           index=out.index, dtype=object)
    notes = ["Amounts are not shown: a vendor's total may be the spend of very few firms."] \
        if any(c in issues.columns for c in LEDGER_AMOUNTS) else []
    if n:
        notes.append(f"Counts below {min_cell} are shown as <{min_cell}.")
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
        return "no year"
    years = sorted(years)
    if years == list(range(years[0], years[-1] + 1)) and len(years) > 2:
        return f"{years[0]}–{years[-1]}"
    return ", ".join(map(str, years))


def _firm_waves(n: int) -> str:
    """"1 firm-wave has" / "4 firm-waves have"."""
    return f"{n} firm-wave has" if n == 1 else f"{n} firm-waves have"


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
        return Link(empty, needs=f"a transaction ledger ({LEDGER_HOW})")
    if not _has_years(survey):
        return Link(empty, needs=YEAR_NEEDS)
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
    parts = [f"{len(usable)} of {n_total} firm-waves matched to the spend data of their fiscal "
             "year."]
    if no_spend:
        parts.append(f"{_firm_waves(no_spend)} no spend data for their fiscal year.")
    for wave, years in uncovered.items():
        parts.append(f"Wave {int(wave)} (fiscal year {_years_text(years)}) has no spend data at "
                     f"all: the spend data covers {_years_text(spend_years)}.")
    if counts["no_year"]:
        parts.append(f"{_firm_waves(counts['no_year'])} no fiscal year recorded.")
    if no_share:
        parts.append(f"{_firm_waves(no_share)} no shadow-IT share (no technology spend in the "
                     "ledger that year).")
    if no_index:
        parts.append(f"{_firm_waves(no_index)} no disconnect index (too few indicator items "
                     "answered).")
    if len(usable) < n_total:
        parts.append("Those firm-waves are left out of the models.")
    note = " ".join(parts)
    if not frame["disconnect_index"].notna().any():
        return Link(usable, needs="the disconnect index, which needs at least one indicator "
                    "construct asked in the survey", note=note, counts=counts)
    if len(usable) < minimum:
        return Link(usable, needs=f"at least {minimum} firm-waves with a disconnect index and spend "
                    f"data for their fiscal year (found {len(usable)})", note=note, counts=counts)
    if usable["firm_id"].nunique() < min_cell:
        return Link(usable, needs=f"at least {min_cell} distinct firms with a disconnect index and "
                    f"spend data (found fewer): a model on fewer firms describes them",
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
    notes = []
    n = out["n"].copy()
    out["n"] = out["n"].astype(object)
    few = n < min_cell
    out.loc[few, "n"] = f"<{min_cell}"
    if few.any():
        notes.append(f"Years with fewer than {min_cell} firms are blank.")
    if years is not None:
        other = ~out["year"].isin(years) & ~few
        out.loc[other, "n"] = privacy.WITHHELD
        if other.any():
            notes.append(f"Years marked {privacy.WITHHELD} are shown in the whole-sample report "
                         f"only: with the other segment reports they would single out fewer "
                         f"than {min_cell} firms.")
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
        return (f"needs at least {WITHIN_MIN_FIRMS} firms in more than one wave with a "
                f"disconnect index and spend data (found {g})")
    waves = pd.get_dummies(data["wave"].astype(str), prefix="wave", drop_first=True, dtype=float)
    x = pd.concat([data[["disconnect_index"]].astype(float), waves], axis=1)
    y = data["shadow_it_pct"].astype(float)
    firm = data["firm_id"].astype(str)
    xd = (x - x.groupby(firm).transform("mean")).to_numpy()
    yd = (y - y.groupby(firm).transform("mean")).to_numpy()
    beta, *_ = np.linalg.lstsq(xd, yd, rcond=None)
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
