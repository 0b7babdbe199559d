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

from helpers.codebook import Codebook, load_codebook
from helpers.errors import DataError
from helpers.privacy import DEFAULT_MIN_CELL, suppress_counts

#: the segment fields the report breaks responses down by (each only when the survey has it)
SEGMENT_FIELDS = ("country", "industry", "size_band", "wave")

#: report parameter ``exclude`` value -> the per-respondent flag column ``make data`` writes
FLAGS = {"speeder": "flag_speeder", "straight_lining": "flag_straight_lining"}


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
    if unknown:
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
    """One-row summary: segment, respondents by role, firms, waves, complete dyads."""
    dyads = dyad_completeness(df)
    roles = df["role"].astype(str).value_counts()
    seg = ", ".join(f"{k} = {v}" for k, v in (segment or {}).items()) or "whole sample"
    return pd.DataFrame([{
        "segment": seg,
        "respondents": len(df),
        "CMOs": int(roles.get("CMO", 0)),
        "CIOs": int(roles.get("CIO", 0)),
        "firms": int(df["firm_id"].nunique()),
        "waves": int(df["wave"].nunique()),
        "complete dyads (firm-waves)": int(dyads["complete_dyads"].sum()),
    }])


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


MISSINGNESS_COLUMNS = ["item", "construct", "asked", "n_asked", "n_answered", "n_skipped",
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
    values = [c for c in MISSINGNESS_COLUMNS[4:] if c in table.columns]
    out = suppress_small_groups(table, ["n_asked"], values, min_cell)
    out.attrs["dont_know_recorded"] = recorded
    out.attrs["note"] = "" if recorded else (
        "\"Don't know\" answers were not recorded apart from skipped items in this processed "
        "data (it predates that record): every missing answer counts as skipped. Rebuild it with "
        "make data to separate them.")
    return out


def _pct(n: Any, n_asked: int) -> float:
    """``n`` as a percentage of ``n_asked`` (NaN when nobody was asked or ``n`` is unknown)."""
    return 100 * n / n_asked if n_asked and n is not pd.NA else float("nan")


def missingness_reading(missing: pd.DataFrame) -> str:
    """One sentence on item missingness when there is nothing to chart (else ``""``).

    ``missing`` is :func:`item_missingness` (possibly with small groups blanked): when no shown
    item has a missing answer, a chart of zero-length bars would say less than this sentence.
    """
    if missing.empty:
        return "None of the codebook's items is in this survey, so no item missingness is shown."
    pct = pd.to_numeric(missing["pct_missing"], errors="coerce")
    if pct.notna().any() and (pct.fillna(0) > 0).any():
        return ""
    if pct.isna().all():
        return ("Item missingness is not shown: every item was asked of fewer respondents than "
                "the minimum cell size.")
    return (f"Every respondent answered every one of the {int(pct.notna().sum())} items they were "
            "asked: no answer is skipped or \"don't know\".")


def warning_summary(validation: pd.DataFrame) -> pd.DataFrame:
    """Validation findings (non-blocking warnings) as one row per rule and column.

    The messages are left out: they may quote raw values from the export; the rule, the column,
    how many rows and the hint say what a reader of a shared report needs.
    """
    if validation.empty:
        return pd.DataFrame(columns=["severity", "rule", "column", "n_rows", "hint"])
    cols = [c for c in ("severity", "rule", "column", "n_rows", "hint")
            if c in validation.columns]
    return validation[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- row selection
#: exclusion reasons about rows that are not respondents (tool previews, test runs, spam): their
#: counts describe how the survey was run, not anyone who answered, and are shown as counted
NOT_RESPONDENTS = re.compile(r"\b(preview|test|spam|bot)", re.IGNORECASE)
ROW_SELECTION_COLUMNS = ["step", "reason", "rule", "rows"]
READ, KEPT = "rows read from the export", "rows kept for analysis"


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
    if "rows_read" in selection:
        rows.append({"step": "", "reason": READ, "rule": "", "rows": selection["rows_read"],
                     "_person": False})
    if exclusions is not None:
        for _, ex in exclusions.iterrows():
            rows.append({"step": ex.get("step", ""), "reason": ex.get("reason", ""),
                         "rule": ex.get("rule", ""), "rows": int(ex["n_rows"]),
                         "_person": _about_respondents(ex)})
    if "rows_kept" in selection:
        rows.append({"step": "", "reason": KEPT, "rule": "", "rows": selection["rows_kept"],
                     "_person": False})
    table = pd.DataFrame(rows, columns=[*ROW_SELECTION_COLUMNS, "_person"])
    counts = pd.to_numeric(table["rows"], errors="coerce")
    person = table["_person"].astype(bool)
    masked, _ = suppress_counts(table.loc[person, ["rows"]].astype("float64"), min_cell)
    small = person & (counts > 0) & (counts < min_cell)
    hidden_total = int(counts[small].sum())
    notes = []
    table["rows"] = table["rows"].astype(object)
    table.loc[person, "rows"] = [v if isinstance(v, str) else int(v) for v in masked["rows"]]
    if small.any():
        notes.append(f"{int(small.sum())} count{'s' if small.sum() != 1 else ''} of excluded "
                     f"respondents below {min_cell} {'are' if small.sum() != 1 else 'is'} shown "
                     f"as <{min_cell} (minimum cell size).")
        recoverable = {READ, KEPT} <= set(table["reason"])
        if recoverable and hidden_total < min_cell:
            table.loc[table["reason"] == READ, "rows"] = "not shown"
            notes.append("Rows read is not shown: with rows kept it would reveal the "
                         "suppressed count.")
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
        return ("Nothing was recorded about which rows of the export were kept: this processed "
                "data was built before `make data` recorded its row selection. Rebuild it with "
                "`make data` to see rows read, rows kept and every exclusion with its count.")
    parts = []
    values = dict(zip(table["reason"], table["rows"], strict=True))
    if READ in values and KEPT in values and values[READ] != "not shown":
        parts.append(f"`make data` read {values[READ]} rows from the export and kept "
                     f"{values[KEPT]} for analysis.")
    elif KEPT in values:
        parts.append(f"`make data` kept {values[KEPT]} rows of the export for analysis.")
    # a rule that matched nothing is listed in the table but excluded no row ("<5" did)
    reasons = table[~table["reason"].isin([READ, KEPT])]
    n_reasons = int((reasons["rows"].astype(str) != "0").sum())
    parts.append("No row was excluded." if n_reasons == 0 else
                 f"Rows were excluded for {n_reasons} reason{'s' if n_reasons != 1 else ''} "
                 "(table below).")
    setting = selection.get("unfinished")
    if setting == "exclude":
        parts.append("Unfinished responses were excluded: the setting `unfinished: exclude` is "
                     "the default, and `unfinished: keep` in the mapping keeps them.")
    elif setting == "keep":
        kept = int(selection.get("unfinished_rows") or 0)
        how_many = f" ({_count(kept, min_cell)} of them)" if kept else ""
        parts.append("Unfinished responses were kept (setting `unfinished: keep` in the mapping): "
                     f"respondents who stopped part-way count with the answers they gave{how_many}.")
    else:
        parts.append("No setting for unfinished responses was recorded (the export has no "
                     "`Finished` column, or the data was built before the setting existed).")
    return " ".join(parts)


# --------------------------------------------------------------------------- flags
def has_flags(survey: pd.DataFrame) -> bool:
    """True when the processed survey carries the speeder and straight-lining flags."""
    return all(c in survey.columns for c in FLAGS.values())


def sensitivity_reading(table: pd.DataFrame) -> str:
    """The sensitivity line in words: how the CMO − CIO difference on the disconnect index
    moves in each analysis sample shown beside all respondents (``""`` when nothing to say)."""
    rows = table.set_index("analysis")
    if (rows["excluded"].astype(object) == 0).all():
        return ("No respondent here is flagged as a speeder or straight-liner: leaving them out "
                "changes nothing.")
    base = rows["difference"].get("all respondents")
    if base is None or pd.isna(base):
        return ""
    moves = [f"{label}: {r['difference']:+.3f}" for label, r in rows.iterrows()
             if label != "all respondents" and pd.notna(r["difference"])
             and not (isinstance(r["excluded"], int) and r["excluded"] == 0)]
    if not moves:
        return ""
    return ("Within-firm CMO − CIO difference on the disconnect index, all respondents: "
            f"{base:+.3f}; " + "; ".join(moves) + ".")


def exclusion_reading(survey: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL) -> str:
    """What the ``exclude`` parameter did, in words, from :func:`exclude_flagged`'s attrs.

    Counts below ``min_cell`` are given as "fewer than min_cell": in a segment, "1 speeder"
    says something about one person.
    """
    counts = survey.attrs.get("excluded") or {}
    if not counts:
        return ""
    words = {"speeder": "speeders", "straight_lining": "straight-liners"}
    parts = [f"{_count(k, min_cell)} flagged as {words[name]}" for name, k in counts.items()]
    total = int(survey.attrs.get("n_excluded", 0))
    return (f"This report leaves out respondents flagged by validation (parameter `exclude`): "
            f"{' and '.join(parts)}; {_count(total, min_cell)} "
            f"respondent{'s' if total != 1 else ''} in all.")


def _small(n: int, min_cell: int) -> int | str:
    """A count for a table: ``"<min_cell"`` for 1 to min_cell − 1, else the count itself."""
    return f"<{min_cell}" if 0 < n < min_cell else int(n)


def _count(n: int, min_cell: int) -> str:
    """A count of respondents in text: "fewer than min_cell" for 1 to min_cell − 1."""
    return f"fewer than {min_cell}" if 0 < n < min_cell else str(n)


SENSITIVITY = {"all respondents": (), "without speeders": ("speeder",),
               "without straight-liners": ("straight_lining",),
               "without speeders and straight-liners": ("speeder", "straight_lining")}
SENSITIVITY_COLUMNS = ["analysis", "excluded", "respondents", "CMOs", "CIOs", "pairs",
                       "difference", "ci_low", "ci_high", "p_value"]


def sensitivity(survey: pd.DataFrame, codebook: Codebook | None = None,
                min_cell: int = DEFAULT_MIN_CELL, conf: float = 0.95) -> pd.DataFrame:
    """How the headline moves when speeders and straight-liners are left out.

    One row per analysis sample (all respondents, without speeders, without straight-liners,
    without both): respondents, CMOs, CIOs, complete pairs and the headline of the disconnect
    profile — the within-firm (paired) CMO − CIO difference on the disconnect index with its
    ``conf`` interval (:func:`helpers.indicators.compare_roles`). ``survey`` is the segment
    *before* any exclusion and must carry the flags (:func:`has_flags`).

    Privacy: a row whose CMOs or CIOs differ from those of a row already shown by 1 to
    ``min_cell`` − 1 respondents is blanked (comparing the two would describe those few
    people); counts below
    ``min_cell`` show as ``<min_cell`` and a difference on fewer than ``min_cell`` pairs is blank.
    ``attrs["note"]`` says what was hidden; ``attrs["index_available"]`` whether the disconnect
    index could be computed (it needs at least one indicator construct asked).
    """
    from helpers import indicators  # imported here: scoring is only needed for this table

    cb = codebook or load_codebook()
    frame = indicators.respondent_frame(survey, cb)
    index_available = bool(frame["disconnect_index"].notna().any())
    rows, blanked, thin = [], 0, False
    shown: list[dict[str, set]] = []  # the CMOs and CIOs of every row shown so far
    for label, names in SENSITIVITY.items():
        kept = exclude_flagged(survey, list(names))
        members = {role: set(kept.index[kept["role"].astype(str) == role])
                   for role in ("CMO", "CIO")}
        # a row that differs from a row already shown by 1 to min_cell - 1 respondents (of a
        # role) would describe them by differencing (e.g. "without both" beside "without
        # speeders")
        if any(0 < len(members[r] ^ other[r]) < min_cell for other in shown for r in members):
            blanked += 1
            n = kept.attrs["n_excluded"]
            rows.append({"analysis": label, "excluded": f"<{min_cell}" if n < min_cell else np.nan})
            continue
        shown.append(members)
        sub = frame.loc[kept.index]
        roles = sub["role"].astype(str)
        paired = indicators.compare_roles(sub, ["disconnect_index"], conf=conf)
        paired = paired[paired["method"] == "paired"].iloc[0]
        n_pairs = int(paired["n_pairs"]) if pd.notna(paired["n_pairs"]) else 0
        row = {"analysis": label, "excluded": kept.attrs["n_excluded"], "respondents": len(sub),
               "CMOs": int((roles == "CMO").sum()), "CIOs": int((roles == "CIO").sum()),
               "pairs": n_pairs}
        if n_pairs >= min_cell:
            row.update({c: paired[c] for c in ("difference", "ci_low", "ci_high", "p_value")})
        else:
            thin = thin or index_available
        for c in ("respondents", "CMOs", "CIOs", "pairs"):
            row[c] = _small(row[c], min_cell)
        rows.append(row)
    out = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    for c in ("difference", "ci_low", "ci_high", "p_value"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    for c in ("excluded", "respondents", "CMOs", "CIOs", "pairs"):  # counts, "<min_cell" or blank
        out[c] = pd.Series([v if isinstance(v, str) or pd.isna(v) else int(v) for v in out[c]],
                           index=out.index, dtype=object)
    notes = []
    if blanked:
        notes.append(f"{blanked} row{'s' if blanked != 1 else ''} left blank: "
                     f"{'they differ' if blanked != 1 else 'it differs'} from a row shown by "
                     f"fewer than {min_cell} respondents, and the change would describe them.")
    if thin and index_available:
        notes.append(f"Differences on fewer than {min_cell} complete pairs are not shown.")
    if not index_available:
        notes.append("The disconnect index is not available: the survey asked none of the "
                     "indicator constructs, so only the counts are shown.")
    out.attrs["note"] = " ".join(notes)
    out.attrs["index_available"] = index_available
    return out
