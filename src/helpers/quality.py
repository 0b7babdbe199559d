"""Data-quality summaries for the first report: who answered, dyad completeness, missingness.

All functions take the processed survey (``helpers.processing.load_processed().survey``) and return
plain DataFrames; the notebook only displays them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from helpers.codebook import Codebook, load_codebook
from helpers.errors import DataError

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


def item_missingness(df: pd.DataFrame, codebook: Codebook | None = None,
                     language: str = "EN") -> pd.DataFrame:
    """Per item: respondents asked (by the codebook's roles), answered, and % missing among asked.

    Role-specific items count only the roles the codebook asks, so a CIO-only item is not reported
    as missing for every CMO.
    """
    cb = codebook or load_codebook()
    rows = []
    for item in cb.items.values():
        if item.id not in df.columns:
            continue
        asked = df["role"].astype(str).isin(item.roles)
        n_asked = int(asked.sum())
        answered = int(df.loc[asked, item.id].notna().sum())
        rows.append({
            "item": item.id,
            "construct": cb.label(item.construct, language),
            "asked": "/".join(item.roles),
            "n_asked": n_asked,
            "n_answered": answered,
            "pct_missing": 100 * (n_asked - answered) / n_asked if n_asked else float("nan"),
        })
    return pd.DataFrame(rows)


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
