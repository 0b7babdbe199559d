"""Data-quality summaries for the first report: who answered, dyad completeness, missingness.

All functions take the processed survey (``helpers.processing.load_processed().survey``) and return
plain DataFrames; the notebook only displays them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n, labels, privacy
from helpers.codebook import Codebook, load_codebook
from helpers.errors import DataError
from helpers.i18n import N_, _, ngettext
from helpers.privacy import DEFAULT_MIN_CELL, CountCube, Partition, SegmentView, suppress_counts

#: the segment fields the report breaks responses down by (each only when the survey has it)
SEGMENT_FIELDS = ("country", "industry", "size_band", "wave")

#: report parameter ``exclude`` value -> the per-respondent flag column ``make data`` writes
FLAGS = {"speeder": "flag_speeder", "straight_lining": "flag_straight_lining"}

labels.register({
    # sample overview
    "segment": N_("Segment"), "respondents": N_("Respondents"), "cmos": N_("CMOs"),
    "cios": N_("CIOs"), "firms": N_("Firms"), "waves": N_("Waves"),
    "complete_pairs": N_("Complete pairs (firm-waves)"),
    # row selection
    "step": N_("Step"), "reason": N_("Reason"), "rule": N_("Rule"), "rows": N_("Rows"),
    # dyad completeness
    "firm_waves": N_("Firm-waves"),
    "cmo_only": N_("CMO only"), "cio_only": N_("CIO only"),
    "pct_complete": N_("Complete pairs (% of firm-waves)"),
    # item missingness
    "item": N_("Item"), "construct": N_("Construct"),
    "asked": N_("Asked of"), "n_asked": N_("Asked"), "n_answered": N_("Answered"),
    "n_skipped": N_("Skipped"), "n_dont_know": N_("Don't know"),
    "pct_skipped": N_("Skipped (%)"), "pct_dont_know": N_("Don't know (%)"),
    "pct_missing": N_("Missing (%)"),
    # validation warnings
    "warning": N_("Warning"), "column": N_("Column"), "n_rows": N_("Rows"),
    # responses by segment
    "Total": N_("Total"),
}, counts={"respondents", "cmos", "cios", "firms", "waves", "complete_pairs", "rows",
           "firm_waves", "complete_dyads", "cmo_only", "cio_only", "n_asked", "n_answered",
           "n_skipped", "n_dont_know", "excluded", "pairs", "n_rows"})


def exclude_flagged(survey: pd.DataFrame, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Drop respondents flagged by validation as ``"speeder"`` and/or ``"straight_lining"``.

    Validation only warns about careless answering; a report parameter ``exclude`` lets the
    researcher leave those respondents out (and the data-quality report shows how much that
    moves the headline numbers). The returned frame's ``attrs["excluded"]`` maps each reason to
    the respondents it flagged (a respondent flagged twice counts under both reasons) and
    ``attrs["n_excluded"]`` holds how many rows were dropped in all.
    """
    if isinstance(exclude, str):  # exclude="speeder" would otherwise be read letter by letter
        exclude = [exclude]
    names = list(dict.fromkeys(exclude))
    unknown = [n for n in names if n not in FLAGS]
    if unknown:  # a programming error shown in the console, not report text
        raise ValueError(f"unknown exclusion {', '.join(map(repr, unknown))}: the parameter "
                         f"`exclude` takes a list of {', '.join(map(repr, FLAGS))}")
    out = survey.copy()
    out.attrs = dict(survey.attrs)
    if not names:
        out.attrs.update(excluded={}, n_excluded=0)
        return out
    absent = [FLAGS[n] for n in names if FLAGS[n] not in survey.columns]
    if absent:
        raise DataError(
            "the processed data carries no speeder/straight-lining flags, so respondents cannot "
            f"be excluded by {', '.join(names)}", file="data/processed/survey.parquet",
            column=absent[0], rule="flags-missing",
            hint="rebuild the processed data with `make data` (this version of the project writes "
                 "the flags), or set `exclude = []`")
    drop = pd.Series(False, index=survey.index)
    counts = {}
    for name in names:
        flagged = survey[FLAGS[name]].fillna(False).astype(bool)
        counts[name] = int(flagged.sum())
        drop |= flagged
    out = out.loc[~drop]
    out.attrs = {**survey.attrs, "excluded": counts, "n_excluded": int(drop.sum())}
    return out


def sample_overview(df: pd.DataFrame, segment: dict | None = None) -> pd.DataFrame:
    """One-row summary: segment, respondents by role, firms, waves, complete dyads (the columns
    are registered with :mod:`helpers.labels`; the segment is named in the report language)."""
    dyads = dyad_completeness(df)
    roles = df["role"].astype(str).value_counts()
    return pd.DataFrame([{
        "segment": segment_name(segment),
        "respondents": len(df),
        "cmos": int(roles.get("CMO", 0)),
        "cios": int(roles.get("CIO", 0)),
        "firms": int(df["firm_id"].nunique()),
        "waves": int(df["wave"].nunique()),
        "complete_pairs": int(dyads["complete_dyads"].sum()),
    }])


def segment_name(segment: dict | None) -> str:
    """The segment in words: "Country: DE; Wave: 2", or "whole sample" (translated)."""
    if not segment:
        return _("whole sample")
    return "; ".join(_("{dimension}: {value}").format(dimension=labels.column(k),
                                                       value=_segment_value(v))
                     for k, v in segment.items())


def _segment_value(value: Any) -> str:
    """A segment value in text: ``DE``, ``Other (BE, DK, SE)`` for a pooled list."""
    if isinstance(value, list | tuple):
        names = ", ".join(privacy.value_label(v) for v in value)
        return f"{privacy.OTHER} ({names})" if len(value) > 1 else names
    return privacy.value_label(value)


def responses_by(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Responses per value of ``by`` (rows) and role (columns), with a Total column."""
    table = pd.crosstab(df[by], df["role"]).reindex(columns=["CMO", "CIO"], fill_value=0)
    if isinstance(df[by].dtype, pd.CategoricalDtype):
        table = table.reindex([c for c in df[by].cat.categories if c in table.index])
    table["Total"] = table.sum(axis=1)
    table.index.name = by
    table.columns.name = None
    return table.loc[table["Total"] > 0]


def dyad_completeness(df: pd.DataFrame) -> pd.DataFrame:
    """Per wave: firms, complete CMO–CIO pairs, firms with only one executive, share complete."""
    roles = (df.groupby(["wave", "firm_id"], observed=True)["role"]
             .agg(lambda r: frozenset(r.astype(str))).reset_index())
    rows = []
    for wave, grp in roles.groupby("wave", observed=True):
        complete = int(sum(r >= {"CMO", "CIO"} for r in grp["role"]))
        cmo_only = int(sum(r == frozenset({"CMO"}) for r in grp["role"]))
        cio_only = int(sum(r == frozenset({"CIO"}) for r in grp["role"]))
        firms = len(grp)
        rows.append({"wave": int(wave), "firms": firms, "complete_dyads": complete,
                     "cmo_only": cmo_only, "cio_only": cio_only,
                     "pct_complete": 100 * complete / firms if firms else float("nan")})
    return pd.DataFrame(rows, columns=["wave", "firms", "complete_dyads", "cmo_only", "cio_only",
                                       "pct_complete"])


MISSINGNESS_COLUMNS = ["item", "wording", "construct", "asked", "n_asked", "n_answered", "n_skipped",
                       "n_dont_know", "pct_skipped", "pct_dont_know", "pct_missing"]


def item_missingness(df: pd.DataFrame, codebook: Codebook | None = None,
                     language: str = "EN", dont_know: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per item: respondents asked (by the codebook's roles), answered, skipped, "don't know".

    Role-specific items count only the roles the codebook asks, so a CIO-only item is not reported
    as missing for every CMO. ``dont_know`` is the long table ``make data`` writes (respondent_id,
    item): those answers are missing in the survey but were given, so they are counted apart from
    skipped items. Without it (older processed data) ``n_dont_know`` is unknown (NA) and every
    missing answer counts as skipped; ``attrs["dont_know_recorded"]`` says which. Percentages are
    among the respondents asked; ``pct_missing`` = skipped + don't know.
    """
    cb = codebook or load_codebook()
    dk_pairs: set[tuple[str, str]] = set()
    if dont_know is not None and not dont_know.empty:
        dk_pairs = set(zip(dont_know["respondent_id"].astype(str), dont_know["item"].astype(str),
                           strict=True))
    ids = df["respondent_id"].astype(str) if "respondent_id" in df.columns else None
    rows = []
    for item in cb.items.values():
        if item.id not in df.columns:
            continue
        asked = df["role"].astype(str).isin(item.roles)
        n_asked = int(asked.sum())
        missing = asked & df[item.id].isna()
        answered = n_asked - int(missing.sum())
        if dont_know is None or ids is None:
            n_dk: Any = pd.NA
            skipped = int(missing.sum())
        else:
            n_dk = int(sum((rid, item.id) in dk_pairs for rid in ids[missing]))
            skipped = int(missing.sum()) - n_dk

        rows.append({
            "item": item.id,
            "wording": cb.label(item.id, language),
            "construct": cb.label(item.construct, language),
            "asked": "/".join(item.roles),
            "n_asked": n_asked,
            "n_answered": answered,
            "n_skipped": skipped,
            "n_dont_know": n_dk,
            "pct_skipped": _pct(skipped, n_asked),
            "pct_dont_know": _pct(n_dk, n_asked),
            "pct_missing": _pct(n_asked - answered, n_asked),
        })
    out = pd.DataFrame(rows, columns=MISSINGNESS_COLUMNS)
    out["n_dont_know"] = out["n_dont_know"].astype("Int64")
    out.attrs["dont_know_recorded"] = dont_know is not None
    return out


def missingness_table(survey: pd.DataFrame, codebook: Codebook | None = None,
                      language: str = "EN", dont_know: pd.DataFrame | None = None,
                      min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """:func:`item_missingness` as the report shows it: items asked of fewer than ``min_cell``
    respondents blanked, the "don't know" columns only when they were recorded, and
    ``attrs["note"]`` saying so when they were not."""
    from helpers.privacy import suppress_small_groups

    table = item_missingness(survey, codebook, language, dont_know)
    recorded = table.attrs["dont_know_recorded"]
    if not recorded:
        table = table.drop(columns=["n_dont_know", "pct_dont_know"])
    values = [c for c in MISSINGNESS_COLUMNS[5:] if c in table.columns]
    out = suppress_small_groups(table, ["n_asked"], values, min_cell)
    out.attrs["dont_know_recorded"] = recorded
    out.attrs["note"] = "" if recorded else _(DONT_KNOW_NOT_RECORDED)
    return out


DONT_KNOW_NOT_RECORDED = N_(
    "\"Don't know\" answers were not recorded apart from skipped items in this processed data "
    "(it predates that record): every missing answer counts as skipped. Rebuild it with `make "
    "data` to separate them.")


def _pct(n: Any, n_asked: int) -> float:
    """``n`` as a percentage of ``n_asked`` (NaN when nobody was asked or ``n`` is unknown)."""
    return 100 * n / n_asked if n_asked and n is not pd.NA else float("nan")


def _withheld(missing: pd.DataFrame) -> pd.Series:
    counts = [c for c in ("n_answered", "n_skipped", "n_dont_know") if c in missing.columns]
    return missing[counts].apply(lambda col: col.map(lambda v: isinstance(v, str))).any(axis=1)


def items_with_missing(missing: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`protected_missingness` worth a table (items named by wording and
    construct, never by their variable name): items with a missing answer or
    a withheld count (the items every respondent answered are counted in
    :func:`missingness_reading`, not listed as rows of zeros)."""
    if missing.empty:
        return missing
    pct = pd.to_numeric(missing["pct_missing"], errors="coerce")
    out = missing.loc[(pct.fillna(0) > 0) | _withheld(missing)].drop(columns=["item"],
                                                                      errors="ignore")
    out.attrs = dict(missing.attrs)  # items named by their wording and construct, not by id
    return out


def missing_shares(missing: pd.DataFrame, codebook: Codebook, language: str | None = None
                   ) -> pd.Series:
    """Per item with a missing answer, the share missing among those asked (the chart beside
    :func:`items_with_missing`), indexed by the item as readers name it ("Mutual trust, item 3")."""
    if missing.empty:
        return pd.Series(dtype=float)
    rows = missing.loc[items_with_missing(missing).index]
    shares = pd.to_numeric(rows.set_index("item")["pct_missing"], errors="coerce").dropna()
    shares = shares[shares > 0]
    return shares.rename(index=lambda i: codebook.item_ref(i, language))


def missingness_reading(missing: pd.DataFrame) -> str:
    """Item missingness in a sentence: how many items were checked and how many have a missing
    answer (the table then lists only those, :func:`items_with_missing`); when no item has one,
    this sentence stands instead of a table and a chart of zero-length bars.

    ``missing`` is :func:`item_missingness` (possibly with small groups blanked) or
    :func:`protected_missingness`.
    """
    if missing.empty:
        return missing.attrs.get("note") or _(
            "None of the codebook's items is in this survey, so no item missingness is shown.")
    pct = pd.to_numeric(missing["pct_missing"], errors="coerce")
    withheld = _withheld(missing)
    checked = len(missing)
    with_missing = int((pct.fillna(0) > 0).sum())
    if with_missing and with_missing == checked:
        return ngettext("{checked} item checked; it has missing answers (table below).",
                        "{checked} items checked; each has missing answers (table below).",
                        checked).format(checked=i18n.integer(checked))
    if with_missing:
        return ngettext(
            "Of the {checked} items checked, {k} has missing answers (table below); every "
            "respondent asked the others answered them.",
            "Of the {checked} items checked, {k} have missing answers (table below); every "
            "respondent asked the others answered them.", with_missing).format(
            checked=i18n.integer(checked), k=i18n.integer(with_missing))
    if withheld.any() and pct.notna().any():
        k = int(withheld.sum())
        return ngettext(
            "No item shown with a percentage has a missing answer; {k} item has a few missing "
            "answers whose counts are withheld (table below).",
            "No item shown with a percentage has a missing answer; {k} items have a few missing "
            "answers whose counts are withheld (table below).", k).format(k=i18n.integer(k))
    if pct.isna().all():
        return _("Item missingness is not shown: every item was asked of fewer respondents than "
                 "the minimum cell size.")
    n = int(pct.notna().sum())
    return ngettext(
        "Nothing is missing: every respondent answered the {n} item they were asked (checked "
        "for skipped and \"don't know\" answers).",
        "Nothing is missing: every respondent answered every one of the {n} items they were "
        "asked (checked for skipped and \"don't know\" answers).", n).format(n=i18n.integer(n))


#: validation's non-blocking rules (helpers.validate) in words, and what to do about them
WARNINGS = {
    "straight-lining": (N_("Straight-lining: the same answer to every item of a scale"),
                        N_("Check these respondents for inattentive answering; leave them out "
                           "with the parameter `exclude` if you judge them careless (they are "
                           "not dropped automatically).")),
    "speeder": (N_("Speeders: very fast completions"),
                N_("Very fast completions may be careless; review them and leave them out with "
                   "the parameter `exclude` if you judge them so (they are not dropped "
                   "automatically).")),
    "incomplete-dyad": (N_("Firms with only one of the two executives"),
                        N_("These firms stay in the role comparisons but drop out of the dyadic "
                           "analyses (gaps, response surfaces); check whether the counterpart "
                           "was filed under another firm id.")),
    "wrong-role-item": (N_("An item answered by a role it was not asked of"),
                        N_("Check the role of these rows, blank the answers, or add the role to "
                           "the item in the codebook.")),
    "unknown-column": (N_("Columns the codebook does not know"),
                       N_("Add these columns to the mapping file's drop list, rename them to "
                          "codebook names, or add them to the codebook.")),
    "items-not-present": (N_("Codebook items the survey did not ask"),
                          N_("Nothing to fix if the survey used a subset of the items; otherwise "
                             "map the missing columns in the mapping file.")),
    "firm-attribute-conflict": (N_("The two executives of a firm give different firm "
                                   "attributes"),
                                N_("Both rows get one value (the CIO's size band, the CMO's "
                                   "industry and country); correct the raw answer or recode it "
                                   "in the mapping file if you know the right value.")),
}


def _column_words(rule: str, column: Any) -> str:
    text = str(column or "")
    if rule == "straight-lining" and text.endswith(" items"):
        return _("Items of the scale {scale}").format(scale=text[:-len(" items")])
    return ", ".join(labels.column(c.strip()) for c in text.split(",")) if text else ""


def warning_summary(validation: pd.DataFrame) -> pd.DataFrame:
    """Validation findings (non-blocking warnings) as one row per rule and column, in words.

    The messages are left out: they may quote raw values from the export; the rule (described in
    words, :data:`WARNINGS`), the column (its label), how many rows and what to do say what a
    reader of a shared report needs.
    """
    columns = ["warning", "column", "n_rows", "hint"]
    if validation.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for _i, v in validation.iterrows():
        rule = str(v.get("rule", ""))
        what, hint = WARNINGS.get(rule, (rule, str(v.get("hint", "") or "")))
        rows.append({"warning": _(what) if rule in WARNINGS else what,
                     "column": _column_words(rule, v.get("column")),
                     "n_rows": int(v["n_rows"]) if pd.notna(v.get("n_rows")) else np.nan,
                     "hint": _(hint) if rule in WARNINGS else hint})
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- row selection
#: exclusion reasons about rows that are not respondents (tool previews, test runs, spam): their
#: counts describe how the survey was run, not anyone who answered, and are shown as counted
NOT_RESPONDENTS = re.compile(r"\b(preview|test|spam|bot)", re.IGNORECASE)
ROW_SELECTION_COLUMNS = ["step", "reason", "rule", "rows"]
READ, KEPT = N_("rows read from the export"), N_("rows kept for analysis")
NOT_SHOWN = N_("not shown")
#: the steps of ``make data`` that exclude rows (helpers.selection), in words
STEPS = {"qualtrics": N_("Qualtrics export"), "mapping": N_("mapping file")}


def _about_respondents(row: pd.Series) -> bool:
    text = " ".join(str(row.get(c) or "") for c in ("step", "reason", "rule"))
    return not NOT_RESPONDENTS.search(text)


def row_selection(exclusions: pd.DataFrame | None, selection: dict[str, Any] | None,
                  min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """What ``make data`` kept: rows read, each exclusion reason with its count, rows kept.

    ``exclusions`` is ``exclusions.parquet``, ``selection`` the manifest's ``row_selection``;
    either may be None (older processed data), and an empty table means nothing was recorded.
    The counts are about the whole export. Counts of excluded *respondents* (unfinished,
    duplicates, neither CMO nor CIO, ids listed in the mapping) from 1 to ``min_cell`` − 1 are
    shown as ``<min_cell``: "1 respondent excluded as neither CMO nor CIO" can point at a person.
    Previews, test responses and spam are not respondents and are shown as counted. When the
    suppressed counts add up to fewer than ``min_cell`` and could be recovered as rows read minus
    rows kept minus the rest, rows read is left out too. ``attrs["note"]`` says what was hidden.
    """
    rows: list[dict[str, Any]] = []
    selection = selection or {}
    read, kept = _(READ), _(KEPT)
    if "rows_read" in selection:
        rows.append({"step": "", "reason": read, "rule": "", "rows": selection["rows_read"],
                     "_person": False})
    if exclusions is not None:
        for _i, ex in exclusions.iterrows():
            step = str(ex.get("step", "") or "")
            rows.append({"step": _(STEPS[step]) if step in STEPS else step,
                         "reason": _(str(ex.get("reason", "") or "")),
                         "rule": ex.get("rule", ""), "rows": int(ex["n_rows"]),
                         "_person": _about_respondents(ex)})
    if "rows_kept" in selection:
        rows.append({"step": "", "reason": kept, "rule": "", "rows": selection["rows_kept"],
                     "_person": False})
    table = pd.DataFrame(rows, columns=[*ROW_SELECTION_COLUMNS, "_person"])
    counts = pd.to_numeric(table["rows"], errors="coerce")
    person = table["_person"].astype(bool)
    masked, _n = suppress_counts(table.loc[person, ["rows"]].astype("float64"), min_cell)
    small = person & (counts > 0) & (counts < min_cell)
    hidden_total = int(counts[small].sum())
    notes = []
    table["rows"] = table["rows"].astype(object)
    table.loc[person, "rows"] = [v if isinstance(v, str) else int(v) for v in masked["rows"]]
    if small.any():
        k = int(small.sum())
        notes.append(ngettext(
            "{k} count of excluded respondents below {min_cell} is shown as <{min_cell} (minimum "
            "cell size).",
            "{k} counts of excluded respondents below {min_cell} are shown as <{min_cell} "
            "(minimum cell size).", k).format(k=i18n.integer(k), min_cell=min_cell))
        recoverable = {read, kept} <= set(table["reason"])
        if recoverable and hidden_total < min_cell:
            table.loc[table["reason"] == read, "rows"] = _(NOT_SHOWN)
            notes.append(_("Rows read is not shown: with rows kept it would reveal the "
                           "suppressed count."))
    out = table.drop(columns="_person")
    out.attrs["note"] = " ".join(notes)
    return out


def row_selection_reading(table: pd.DataFrame, selection: dict[str, Any] | None,
                          min_cell: int = DEFAULT_MIN_CELL) -> str:
    """The row selection in words: rows read and kept, and the unfinished-responses setting.

    ``table`` is :func:`row_selection` (so suppressed counts stay suppressed in the text); the
    number of unfinished responses kept is given as "fewer than ``min_cell``" when small.
    """
    selection = selection or {}
    if table.empty and not selection:
        return _("Nothing was recorded about which rows of the export were kept: this processed "
                 "data was built before `make data` recorded its row selection. Rebuild it with "
                 "`make data` to see rows read, rows kept and every exclusion with its count.")
    parts = []
    read, kept = _(READ), _(KEPT)
    values = dict(zip(table["reason"], table["rows"], strict=True))
    if read in values and kept in values and values[read] != _(NOT_SHOWN):
        parts.append(_("`make data` read {read} rows from the export and kept {kept} for "
                       "analysis.").format(read=_count_text(values[read]),
                                           kept=_count_text(values[kept])))
    elif kept in values:
        parts.append(_("`make data` kept {kept} rows of the export for analysis.").format(
            kept=_count_text(values[kept])))
    # a rule that matched nothing is listed in the table but excluded no row ("<5" did)
    reasons = table[~table["reason"].isin([read, kept])]
    n_reasons = int((reasons["rows"].astype(str) != "0").sum())
    parts.append(_("No row was excluded.") if n_reasons == 0 else ngettext(
        "Rows were excluded for {n} reason (table below).",
        "Rows were excluded for {n} reasons (table below).", n_reasons).format(
        n=i18n.integer(n_reasons)))
    setting = selection.get("unfinished")
    if setting == "exclude":
        parts.append(_("Unfinished responses were excluded: the setting `unfinished: exclude` is "
                       "the default, and `unfinished: keep` in the mapping keeps them."))
    elif setting == "keep":
        n_kept = int(selection.get("unfinished_rows") or 0)
        parts.append(_("Unfinished responses were kept (setting `unfinished: keep` in the "
                       "mapping): respondents who stopped part-way count with the answers they "
                       "gave ({count} of them).").format(count=_count(n_kept, min_cell))
                     if n_kept else
                     _("Unfinished responses were kept (setting `unfinished: keep` in the "
                       "mapping): respondents who stopped part-way count with the answers they "
                       "gave."))
    else:
        parts.append(_("No setting for unfinished responses was recorded (the export has no "
                       "`Finished` column, or the data was built before the setting existed)."))
    return " ".join(parts)


def _count_text(value: Any) -> str:
    """A count from a shown table in text: an integer in the reader's locale, or as shown."""
    if isinstance(value, str):
        return value
    return i18n.integer(value)


# --------------------------------------------------------------------------- flags
def has_flags(survey: pd.DataFrame) -> bool:
    """True when the processed survey carries the speeder and straight-lining flags."""
    return all(c in survey.columns for c in FLAGS.values())


def sensitivity_reading(table: pd.DataFrame) -> str:
    """The sensitivity line in words: how the CMO − CIO difference on the disconnect index
    moves in each analysis sample shown beside all respondents (``""`` when nothing to say)."""
    rows = table.set_index("analysis")
    if (rows["excluded"].astype(object) == 0).all():
        return _("No respondent here is flagged as a speeder or straight-liner: leaving them out "
                 "changes nothing.")
    everyone = _(ALL_RESPONDENTS)
    base = rows["difference"].get(everyone)
    if base is None or pd.isna(base):
        return ""
    moves = [_("{analysis}: {difference}").format(
        analysis=label, difference=i18n.number(r["difference"], 3, sign=True))
        for label, r in rows.iterrows()
        if label != everyone and pd.notna(r["difference"])
        and not (isinstance(r["excluded"], int) and r["excluded"] == 0)]
    if not moves:
        return ""
    return _("Within-firm CMO − CIO difference on the disconnect index, all respondents: "
             "{base}; {others}.").format(base=i18n.number(base, 3, sign=True),
                                         others="; ".join(moves))


def exclusion_reading(survey: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL,
                      hidden: dict[str, str] | None = None) -> str:
    """What the ``exclude`` parameter did, in words, from :func:`exclude_flagged`'s attrs.

    Counts below ``min_cell`` are given as "fewer than min_cell": in a segment, "1 speeder"
    says something about one person. In a segment report whose matching sensitivity row is
    ``hidden`` (:func:`hidden_in_segments`) no count is given: the segment reports of a
    dimension together would give a small one back.
    """
    counts = survey.attrs.get("excluded") or {}
    if not counts:
        return ""
    label = next((k for k, v in SENSITIVITY.items() if set(v) == set(counts)), None)
    if hidden and label is not None and label in hidden:
        return _("This report leaves out respondents flagged by validation (parameter "
                 "`exclude`) as {flags}; how many is shown in the whole-sample report only."
                 ).format(flags=_(" and ").join(_(FLAG_WORDS[n]) for n in counts))
    parts = [_("{count} flagged as {flag}").format(count=_count(k, min_cell),
                                                    flag=_(FLAG_WORDS[name]))
             for name, k in counts.items()]
    total = int(survey.attrs.get("n_excluded", 0))
    return ngettext(
        "This report leaves out respondents flagged by validation (parameter `exclude`): "
        "{flagged}; {total} respondent in all.",
        "This report leaves out respondents flagged by validation (parameter `exclude`): "
        "{flagged}; {total} respondents in all.", total).format(
        flagged=_(" and ").join(parts), total=_count(total, min_cell))


FLAG_WORDS = {"speeder": N_("speeders"), "straight_lining": N_("straight-liners")}


def _small(n: int, min_cell: int) -> int | str:
    """A count for a table: ``"<min_cell"`` for 1 to min_cell − 1, else the count itself."""
    return f"<{min_cell}" if 0 < n < min_cell else int(n)


def _count(n: int, min_cell: int) -> str:
    """A count of respondents in text: "fewer than min_cell" for 1 to min_cell − 1."""
    return _("fewer than {min_cell}").format(min_cell=min_cell) if 0 < n < min_cell \
        else i18n.integer(n)


ALL_RESPONDENTS = N_("all respondents")
UNIT_WORDS = {"CMO": N_("CMOs"), "CIO": N_("CIOs"), "pairs": N_("complete CMO–CIO pairs")}
#: the analysis samples of the sensitivity line (English message ids; shown translated)
SENSITIVITY = {ALL_RESPONDENTS: (), N_("without speeders"): ("speeder",),
               N_("without straight-liners"): ("straight_lining",),
               N_("without speeders and straight-liners"): ("speeder", "straight_lining")}
SENSITIVITY_COLUMNS = ["analysis", "excluded", "respondents", "cmos", "cios", "pairs",
                       "difference", "ci_low", "ci_high", "p_value"]


def _pairs(kept: pd.DataFrame) -> set[str]:
    """Firm-waves with both executives among ``kept`` (keys ``firm|wave``)."""
    role = kept["role"].astype(str)
    key = kept["firm_id"].astype(str) + "\x1f" + kept["wave"].astype("string").fillna("")
    return set(key[role == "CMO"]) & set(key[role == "CIO"])


def hidden_in_segments(whole: pd.DataFrame, parts: dict[str, Partition],
                       min_cell: int = DEFAULT_MIN_CELL) -> dict[str, str]:
    """The sensitivity rows that segment reports must not show, with the reason.

    A row "without speeders" in every segment report of a dimension, beside the whole sample's,
    publishes each segment without its speeders; the speeders (and the pairs they break) of a
    segment, or of the difference of two segments, then follow by differencing. A row is shown
    in segment reports only when, for the respondents it leaves out and for what separates it
    from another row shown, the published parts isolate no group of 1 to ``min_cell`` − 1
    (:func:`helpers.privacy.audit`, as for the segments themselves). ``whole`` is the survey
    of the whole sample before any exclusion.
    """
    if not has_flags(whole):
        return {}
    all_pairs = _pairs(whole)
    left_out: dict[str, pd.Series] = {}
    hidden: dict[str, str] = {}
    for label, names in SENSITIVITY.items():
        if not names:
            continue
        flagged = pd.Series(False, index=whole.index)
        for name in names:
            flagged |= whole[FLAGS[name]].fillna(False).astype(bool)
        left_out[label] = flagged
    shown: list[str] = []
    every = privacy.audit_units(whole, parts, ("CMO", "CIO", "pairs"))
    for label, flagged in left_out.items():
        groups = [flagged] + [flagged ^ left_out[other] for other in shown]
        for group in groups:
            if not group.any():
                continue
            broken = all_pairs - _pairs(whole.loc[~group])
            members = whole.index[group]
            units = {"CMO": every["CMO"].loc[every["CMO"].index.isin(members)],
                     "CIO": every["CIO"].loc[every["CIO"].index.isin(members)],
                     "pairs": every["pairs"].loc[every["pairs"]["_fw"].isin(broken)]}
            found = privacy.audit(units, parts, min_cell)
            if found is not None:
                hidden[label] = _(
                    "across the segment reports of {dimensions} it would single out fewer "
                    "than {min_cell} {units}").format(
                    dimensions=", ".join(labels.column(c) for c in found.columns),
                    min_cell=min_cell, units=_(UNIT_WORDS.get(found.unit, found.unit)))
                break
        else:
            shown.append(label)
    return hidden


def sensitivity(survey: pd.DataFrame, codebook: Codebook | None = None,
                min_cell: int = DEFAULT_MIN_CELL, conf: float = 0.95, *,
                hidden: dict[str, str] | None = None) -> pd.DataFrame:
    """How the headline moves when speeders and straight-liners are left out.

    One row per analysis sample (all respondents, without speeders, without straight-liners,
    without both): respondents, CMOs, CIOs, complete pairs and the headline of the disconnect
    profile — the within-firm (paired) CMO − CIO difference on the disconnect index with its
    ``conf`` interval (:func:`helpers.indicators.compare_roles`). ``survey`` is the segment
    *before* any exclusion and must carry the flags (:func:`has_flags`).

    Privacy: a row whose CMOs, CIOs or complete pairs differ from those of a row already shown
    by 1 to ``min_cell`` − 1 is blanked (comparing the two would describe those few people);
    counts below ``min_cell`` show as ``<min_cell`` and a difference on fewer than ``min_cell``
    pairs is blank. ``hidden`` (:func:`hidden_in_segments`, for a segment report) blanks the
    rows that the segment reports of a dimension together would give away.
    ``attrs["note"]`` says what was hidden; ``attrs["index_available"]`` whether the disconnect
    index could be computed (it needs at least one indicator construct asked).
    """
    from helpers import indicators  # imported here: scoring is only needed for this table

    cb = codebook or load_codebook()
    hidden = hidden or {}
    frame = indicators.respondent_frame(survey, cb)
    index_available = bool(frame["disconnect_index"].notna().any())
    rows, blanked, thin = [], 0, False
    shown: list[dict[str, set]] = []  # the CMOs, CIOs and pairs of every row shown so far
    for label, names in SENSITIVITY.items():
        kept = exclude_flagged(survey, list(names))
        members = {role: set(kept.index[kept["role"].astype(str) == role])
                   for role in ("CMO", "CIO")}
        members["pairs"] = _pairs(kept)
        # a row that differs from a row already shown by 1 to min_cell - 1 respondents (of a
        # role) or pairs would describe them by differencing (e.g. "without both" beside
        # "without speeders")
        if label in hidden or any(0 < len(members[r] ^ other[r]) < min_cell
                                  for other in shown for r in members):
            blanked += 1
            n = kept.attrs["n_excluded"]
            rows.append({"analysis": _(label),
                         "excluded": f"<{min_cell}" if 0 < n < min_cell else np.nan})
            continue
        shown.append(members)
        sub = frame.loc[kept.index]
        roles = sub["role"].astype(str)
        paired = indicators.compare_roles(sub, ["disconnect_index"], conf=conf)
        paired = paired[paired["method"] == "paired"].iloc[0]
        n_pairs = int(paired["n_pairs"]) if pd.notna(paired["n_pairs"]) else 0
        row = {"analysis": _(label), "excluded": kept.attrs["n_excluded"],
               "respondents": len(sub),
               "cmos": int((roles == "CMO").sum()), "cios": int((roles == "CIO").sum()),
               "pairs": n_pairs}
        if n_pairs >= min_cell:
            row.update({c: paired[c] for c in ("difference", "ci_low", "ci_high", "p_value")})
        else:
            thin = thin or index_available
        for c in ("respondents", "cmos", "cios", "pairs"):
            row[c] = _small(row[c], min_cell)
        rows.append(row)
    out = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    for c in ("difference", "ci_low", "ci_high", "p_value"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    for c in ("excluded", "respondents", "cmos", "cios", "pairs"):  # counts, "<min_cell" or blank
        out[c] = pd.Series([v if isinstance(v, str) or pd.isna(v) else int(v) for v in out[c]],
                           index=out.index, dtype=object)
    notes = []
    across = [label for label in SENSITIVITY if label in hidden]
    if blanked - len(across) > 0:
        k = blanked - len(across)
        notes.append(ngettext(
            "{k} row left blank: it differs from a row shown by fewer than {min_cell} "
            "respondents or pairs, and the change would describe them.",
            "{k} rows left blank: they differ from a row shown by fewer than {min_cell} "
            "respondents or pairs, and the change would describe them.", k).format(
            k=i18n.integer(k), min_cell=min_cell))
    if across:
        notes.append(ngettext(
            "Not shown in segment reports ({rows}): {reason}; the whole-sample report shows it.",
            "Not shown in segment reports ({rows}): {reason}; the whole-sample report shows "
            "them.", len(across)).format(rows=", ".join(_(a) for a in across),
                                         reason=hidden[across[0]]))
    if thin and index_available:
        notes.append(_("Differences on fewer than {min_cell} complete pairs are not shown."
                       ).format(min_cell=min_cell))
    if not index_available:
        notes.append(_("The disconnect index is not available: the survey asked none of the "
                       "indicator constructs, so only the counts are shown."))
    out.attrs["note"] = " ".join(notes)
    out.attrs["index_available"] = index_available
    return out


# --------------------------------------------------------------------------- published breakdowns
BREAKDOWNS_ELSEWHERE = N_(
    "Breakdowns by {fields} are shown in the whole-sample report only: inside a segment they "
    "would publish the intersection of two segments (this segment and, say, one size band), "
    "which the two segments' reports could be differenced against.")


def responses_by_part(df: pd.DataFrame, partition: Partition) -> pd.DataFrame:
    """Responses per published part of a dimension (rows) and role, with a Total column.

    The parts are :func:`helpers.privacy.partitions`' (categories below the minimum pooled
    into "Other (…)"), so every row holds none or at least the minimum of each unit and no
    cell needs suppressing: the table equals the sum of the segment reports of the dimension.
    """
    rows = []
    roles = df["role"].astype(str)
    for part in partition.parts:
        mask = part.mask(df).to_numpy()
        rows.append({partition.column: part.label, "CMO": int((roles[mask] == "CMO").sum()),
                     "CIO": int((roles[mask] == "CIO").sum())})
    table = pd.DataFrame(rows, columns=[partition.column, "CMO", "CIO"]).set_index(
        partition.column)
    table["Total"] = table.sum(axis=1)
    table.columns.name = None
    return table.loc[table["Total"] > 0]


def breakdown_note(partition: Partition) -> str:
    """What the pooling of one dimension did, in words (``""`` when nothing was pooled)."""
    if not partition.note:
        return ""
    if not partition.published:
        return _("No category of {dimension} holds at least {min_cell} CMOs, CIOs, firms, pairs "
                 "and firm-years beside the others: the categories are shown together and there "
                 "are no segment reports by it.").format(
            dimension=labels.column(partition.column), min_cell=partition.min_cell)
    pooled = partition.pooled
    return _("{pooled}: categories with fewer than {min_cell} CMOs, CIOs, firms, complete pairs "
             "or firm-years (or pooled so that no two segments differ by a small group) are "
             "reported together, here and as one segment report.").format(
        pooled=pooled.label, min_cell=partition.min_cell) if pooled else ""


def breakdowns(df: pd.DataFrame, parts: dict[str, Partition],
               view: SegmentView) -> tuple[dict[str, pd.DataFrame], str]:
    """The responses-by-segment tables a report shows and the sentence on what it leaves out.

    The whole-sample report shows every segment dimension by its published parts; a segment
    report shows none (:data:`BREAKDOWNS_ELSEWHERE`).
    """
    fields = [f for f in SEGMENT_FIELDS if f in parts]
    if view.kind != "whole":
        names = ", ".join(labels.column(f) for f in fields)
        return {}, _(BREAKDOWNS_ELSEWHERE).format(fields=names) if fields else ""
    tables = {}
    for f in fields:
        table = responses_by_part(df, parts[f])
        table.attrs["note"] = breakdown_note(parts[f])
        tables[f] = table
    return tables, ""


def _sets(whole: pd.DataFrame, parts: dict[str, Partition]) -> dict[str, np.ndarray]:
    """The groups of a :class:`~helpers.privacy.CountCube`: the whole sample and every part of
    every dimension with a segment grid, as row masks of ``whole``."""
    out = {privacy.WHOLE: np.ones(len(whole), dtype=bool)}
    for column, partition in parts.items():
        if partition.published:
            for part in partition.parts:
                out[privacy.group_key(column, part)] = part.mask(whole).to_numpy()
    return out


def _groups(parts: dict[str, Partition]) -> dict[str, list[str]]:
    return {c: [privacy.group_key(c, p) for p in part.parts]
            for c, part in parts.items() if part.published}


DYAD_COUNTS = ["firms", "complete_dyads", "cmo_only", "cio_only"]
CROSS_TABLES = N_("This segment crosses two dimensions: its dyad and item counts are shown in the "
                "single-dimension segment reports and the whole-sample report only, whose "
                "small counts are protected together.")


def _dyad_counts(df: pd.DataFrame) -> dict[str, int]:
    """:func:`dyad_completeness` summed over waves (vectorised: it runs for every group)."""
    role = df["role"].astype(str)
    flags = pd.DataFrame({"cmo": (role == "CMO").to_numpy(), "cio": (role == "CIO").to_numpy(),
                          "firm": df["firm_id"].astype(str).to_numpy(),
                          "wave": df["wave"].astype("string").to_numpy()})
    per = flags.groupby(["wave", "firm"], sort=False)[["cmo", "cio"]].max()
    return {"firms": len(per), "complete_dyads": int((per["cmo"] & per["cio"]).sum()),
            "cmo_only": int((per["cmo"] & ~per["cio"]).sum()),
            "cio_only": int((~per["cmo"] & per["cio"]).sum())}


def dyad_cube(whole: pd.DataFrame, parts: dict[str, Partition]) -> CountCube:
    """Firm-waves, complete pairs and firm-waves with only the CMO or only the CIO, for the
    whole sample and every published part (summed over waves). Firm-waves and pairs are known
    to a reader (the sample overview shows them); the two one-executive counts are not."""
    sets = _sets(whole, parts)
    values = pd.DataFrame([_dyad_counts(whole.loc[m]) for m in sets.values()],
                          index=list(sets), columns=DYAD_COUNTS)
    return CountCube(values, _groups(parts), [("firms", DYAD_COUNTS[1:])],
                     known=["firms", "complete_dyads"])


def dyad_table(whole: pd.DataFrame, parts: dict[str, Partition], view: SegmentView,
               min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Dyad completeness as a report shows it, protected across every report of the batch.

    The whole-sample report shows one row per published wave and one for all waves; a segment
    report one row for its segment (all its waves together: a row per wave would be the
    intersection of two segments). Counts below ``min_cell`` and the cells that would give them
    back through a total — inside the table or across the reports of a dimension — are
    withheld (:func:`helpers.privacy.secondary_suppression` on :func:`dyad_cube`);
    ``pct_complete`` (pairs / firm-waves) is always shown: both counts are published.
    """
    cube = dyad_cube(whole, parts)
    hidden = privacy.secondary_suppression(cube, min_cell)
    shown = privacy.shown_cells(cube, hidden, min_cell)
    rows: list[tuple[str, pd.Series]] = []
    def name(column: str, value: Any) -> str:
        return _("{dimension}: {value}").format(dimension=labels.column(column), value=value)

    if view.kind == "whole":
        wave = parts.get("wave")
        if wave is not None and wave.published:
            rows += [(name("wave", p.label), shown.loc[privacy.group_key("wave", p)])
                     for p in wave.parts]
        rows.append((_("all waves"), shown.loc[privacy.WHOLE]))
    elif view.kind == "part":
        rows.append((name(view.column, view.label), shown.loc[view.rows[0]]))
    elif view.kind == "union":
        rows.append((name(view.column, view.label),
                     privacy.union_row(cube, hidden, view.rows, min_cell)))
    else:
        out = pd.DataFrame(columns=["firm_waves", *DYAD_COUNTS[1:], "pct_complete"])
        out.attrs["note"] = _(CROSS_TABLES)
        return out
    table = pd.DataFrame([r for _n, r in rows], index=pd.Index([n for n, _r in rows],
                                                                name=_("Segment")))
    firms = pd.to_numeric(table["firms"], errors="coerce")
    complete = pd.to_numeric(table["complete_dyads"], errors="coerce")
    table["pct_complete"] = (100 * complete / firms).astype(float)
    n = int(table[DYAD_COUNTS].apply(lambda c: c.map(lambda v: isinstance(v, str))).sum().sum())
    table.attrs["note"] = "" if not n else _(
        "{mark} marks a withheld count: fewer than {min_cell}, or a count that with the totals "
        "here or in the other segment reports would give such a count back.").format(
        mark=privacy.WITHHELD, min_cell=min_cell)
    return table.rename(columns={"firms": "firm_waves"})


MISSING_CUBE = ["n_asked", "n_answered", "n_missing", "n_skipped", "n_dont_know"]


def _missing_counts(whole: pd.DataFrame, sets: dict[str, np.ndarray], cb: Codebook,
                    dont_know: pd.DataFrame | None) -> dict[str, dict[str, dict[str, float]]]:
    """Per group and item: asked, answered, missing, skipped and "don't know" (as
    :func:`item_missingness` counts them), computed for all groups at once."""
    items = [i for i in cb.items.values() if i.id in whole.columns]
    role = whole["role"].astype(str).to_numpy()
    asked = np.column_stack([np.isin(role, i.roles) for i in items]) if items else \
        np.zeros((len(whole), 0), dtype=bool)
    answered = asked & whole[[i.id for i in items]].notna().to_numpy() if items else asked
    dk = np.zeros_like(asked)
    if dont_know is not None and not dont_know.empty and "respondent_id" in whole.columns:
        pos = {rid: k for k, rid in enumerate(whole["respondent_id"].astype(str))}
        col = {i.id: j for j, i in enumerate(items)}
        for rid, item in zip(dont_know["respondent_id"].astype(str),
                             dont_know["item"].astype(str), strict=True):
            if rid in pos and item in col:
                dk[pos[rid], col[item]] = True
    dk &= asked & ~answered
    out = {}
    for key, m in sets.items():
        a, n, d = asked[m].sum(0), answered[m].sum(0), dk[m].sum(0)
        out[key] = {i.id: {"n_asked": a[j], "n_answered": n[j], "n_missing": a[j] - n[j],
                           "n_skipped": a[j] - n[j] - d[j], "n_dont_know": d[j]}
                    for j, i in enumerate(items)}
    return out


def protected_missingness(whole: pd.DataFrame, parts: dict[str, Partition], view: SegmentView,
                          codebook: Codebook | None = None, language: str = "EN",
                          dont_know: pd.DataFrame | None = None,
                          min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Item missingness of the report's segment, protected across every report of the batch.

    For each item the counts of the whole sample and of every published part form one
    :class:`~helpers.privacy.CountCube` (margins: the parts of a dimension add up to the whole;
    inside a row: asked = answered + missing, missing = skipped + don't know). Counts below
    ``min_cell`` and the cells that would give them back are withheld, and a percentage is
    shown only when its count is (``pct_missing`` with the number missing). A segment of
    several dimensions gets no table (its cells are not in the cube).
    """
    if view.kind == "cross":
        out = pd.DataFrame(columns=MISSINGNESS_COLUMNS)
        out.attrs.update(note=_(CROSS_TABLES), dont_know_recorded=dont_know is not None)
        return out
    cb = codebook or load_codebook()
    sets = _sets(whole, parts)
    counts = _missing_counts(whole, sets, cb, dont_know)
    recorded = dont_know is not None
    base = item_missingness(whole.iloc[:0], cb, language, dont_know).set_index("item")
    out_rows = []
    withheld = 0
    for item in base.index:
        values = pd.DataFrame({k: counts[k][item] for k in sets}).T[MISSING_CUBE]
        cube = CountCube(values.astype(float), _groups(parts),
                         [("n_asked", ["n_answered", "n_missing"]),
                          ("n_missing", ["n_skipped", "n_dont_know"])], known=["n_asked"])
        hidden = privacy.secondary_suppression(cube, min_cell)
        if view.kind in ("whole", "part"):
            shown = privacy.shown_cells(cube, hidden, min_cell).loc[view.rows[0]]
            mask = hidden.loc[view.rows[0]]
        else:
            shown = privacy.union_row(cube, hidden, view.rows, min_cell)
            mask = hidden.loc[view.rows].any()
        withheld += int(mask.sum())
        row: dict[str, Any] = {"item": item, "wording": base.loc[item, "wording"],
                               "construct": base.loc[item, "construct"],
                               "asked": base.loc[item, "asked"]}
        for c in ("n_asked", "n_answered", "n_skipped", "n_dont_know"):
            row[c] = shown[c]
        asked = float(pd.to_numeric(shown["n_asked"]))
        for pct, count in (("pct_skipped", "n_skipped"), ("pct_dont_know", "n_dont_know"),
                           ("pct_missing", "n_missing")):
            row[pct] = 100 * float(shown[count]) / asked if not mask[count] and asked else np.nan
        out_rows.append(row)
    out = pd.DataFrame(out_rows, columns=MISSINGNESS_COLUMNS)
    if not recorded:
        out = out.drop(columns=["n_dont_know", "pct_dont_know"])
    out.attrs["dont_know_recorded"] = recorded
    notes = []
    if withheld:
        notes.append(_("{mark} marks a withheld count: fewer than {min_cell}, or a count that "
                       "with the totals here or in the other segment reports would give such a "
                       "count back; percentages of withheld counts are left blank.").format(
            mark=privacy.WITHHELD, min_cell=min_cell))
    if not recorded:
        notes.append(_(DONT_KNOW_NOT_RECORDED))
    out.attrs["note"] = " ".join(notes)
    return out
