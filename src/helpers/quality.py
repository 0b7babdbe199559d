"""Data-quality summaries for the first report: who answered, dyad completeness, missingness.

All functions take the processed survey (``helpers.processing.load_processed().survey``) and return
plain DataFrames; the notebook only displays them.
"""

from __future__ import annotations

import pandas as pd

from helpers.codebook import Codebook, load_codebook


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
