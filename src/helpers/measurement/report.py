"""The measurement report's building blocks (``notebooks/01_measurement.ipynb``), and the
invariance verdicts other reports use (:func:`invariance_verdicts`).

Which constructs are modelled: the codebook's constructs with two or more five-point items asked
of both roles (:func:`modelled_constructs`); yes/no items, single-item constructs and items
asked of one role only are left out, and the library's notes say so
(:func:`helpers.measurement.spec.from_codebook`).

Invariance verdicts are **per construct** (what a construct-level comparison needs): each
construct with three or more items is tested in a one-construct model across the groups
(configural is then just identified, df = 0, so it "holds" by fit; metric and scalar are tested
by Chen's 2007 criteria, with partial invariance as in :mod:`helpers.measurement.invariance`).
A construct with two items is not identified on its own (and two-item constructs that correlate
weakly are not identified across groups together either), so a two-item construct takes the
verdict of the whole model (every modelled construct, each identified through its correlations
with the others) — a joint verdict, shown as such (``tested_with``). The whole
model's ladder is shown in the report beside the per-construct verdicts. Groups are passed as
``("CIO", "CMO")`` so that latent mean differences are CMO − CIO.

Privacy: no ladder is fitted when a group has fewer than ``min_cell`` respondents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers.measurement.invariance import InvarianceResult, invariance
from helpers.measurement.spec import NotEstimable

ROLE_GROUPS = ("CIO", "CMO")  # reference first: latent mean differences read CMO − CIO
LEVELS = ("none", "configural", "partial metric", "metric", "partial scalar", "scalar")
VERDICT_COLUMNS = ["construct", "level", "freed", "means_comparable", "tested_with",
                   "delta_cfi_metric", "delta_cfi_scalar", "note"]


def modelled_constructs(survey: pd.DataFrame, codebook: Any, *, both_roles: bool = True
                        ) -> list[str]:
    """Codebook constructs with at least two five-point (non-binary) items answered in
    ``survey`` and (``both_roles``) asked of both roles: the constructs a pooled CFA can model."""
    out = []
    for c in codebook.constructs:
        items = [i for i in codebook.items_present(survey, c)
                 if codebook.items[i].scale.type != "binary"
                 and (not both_roles or set(codebook.roles) <= set(codebook.items[i].roles))]
        if len(items) >= 2:
            out.append(c)
    return out


def _n_items(survey: pd.DataFrame, codebook: Any, construct: str) -> int:
    return sum(codebook.items[i].scale.type != "binary"
               and set(codebook.roles) <= set(codebook.items[i].roles)
               for i in codebook.items_present(survey, construct))


def _groups_present(survey: pd.DataFrame, group: str, groups: Sequence[Any] | None) -> list[Any]:
    present = list(pd.unique(survey[group].dropna()))
    if groups is None:
        return sorted(present, key=str)
    return [g for g in groups if g in set(present)]


def _too_small(survey: pd.DataFrame, group: str, groups: Sequence[Any], min_cell: int) -> str:
    """Why no ladder may be fitted (fewer than two groups, or a group below min_cell), or ''."""
    if len(groups) < 2:
        return f"needs two groups of {group}; these data have {len(groups)}"
    counts = survey[group].value_counts()
    small = [str(g) for g in groups if counts.get(g, 0) < min_cell]
    if small:
        return (f"fewer than {min_cell} respondents in group(s) {', '.join(small)}: no model is "
                "fitted (privacy)")
    return ""


def construct_ladders(survey: pd.DataFrame, codebook: Any, min_cell: int, *,
                      group: str = "role", groups: Sequence[Any] | None = ROLE_GROUPS,
                      strict: bool = False, whole: InvarianceResult | str | None = None
                      ) -> dict[str, InvarianceResult | str]:
    """Per construct, its invariance ladder across ``group`` (an :class:`InvarianceResult`), or
    the reason it has none (a string). Rules in the module docstring; ``whole`` is the ladder of
    the model of every modelled construct, when already fitted (two-item constructs use it)."""
    constructs = modelled_constructs(survey, codebook)
    present = _groups_present(survey, group, groups)
    reason = _too_small(survey, group, present, min_cell)
    if reason:
        return {c: reason for c in constructs}
    out: dict[str, InvarianceResult | str] = {}
    pairs = [c for c in constructs if _n_items(survey, codebook, c) == 2]
    if pairs:
        if whole is None:
            whole = _ladder(survey, constructs, group, present, codebook, strict)
        for c in pairs:
            out[c] = whole
    for c in constructs:
        if c not in out:
            out[c] = _ladder(survey, [c], group, present, codebook, strict)
    return {c: out[c] for c in constructs}


def _ladder(survey: pd.DataFrame, constructs: list[str], group: str, groups: list[Any],
            codebook: Any, strict: bool) -> InvarianceResult | str:
    try:
        return invariance(survey, constructs, group, groups=groups, codebook=codebook,
                          strict=strict)
    except NotEstimable as exc:
        return f"not estimable: {exc.reason}"


def _level(result: InvarianceResult) -> str:
    """The ladder's level capped at scalar (strict is not needed to compare means)."""
    level = "none"
    for _, row in result.table.iterrows():
        if row["step"] == "strict":
            break
        if row["verdict"] == "holds":
            level = row["step"]
        elif row["verdict"] == "partial":
            level = f"partial {row['step']}"
        else:
            break
    return level


def verdicts_from_ladders(ladders: dict[str, InvarianceResult | str]) -> pd.DataFrame:
    """The verdict table of :func:`invariance_verdicts` from :func:`construct_ladders`."""
    rows = []
    for c, res in ladders.items():
        if isinstance(res, str):
            rows.append({"construct": c, "level": "none", "freed": "", "means_comparable": False,
                         "tested_with": "", "delta_cfi_metric": np.nan,
                         "delta_cfi_scalar": np.nan, "note": res})
            continue
        factors = res.fits["configural"].factors if "configural" in res.fits else [c]
        d = res.table.set_index("step")["delta_cfi"]
        level = _level(res)
        note = ""
        if level == "none":
            note = "; ".join(res.notes) or "configural model does not fit (CFI < .90 or RMSEA > .10)"
        accepted = set(res.table.loc[res.table["verdict"].isin(["holds", "partial"]), "step"])
        freed = _accepted_freed(res, accepted)
        if len(factors) > 2:  # a two-item construct judged in the whole model: its own items
            own = set(res.fits["configural"].spec.factors.get(c, ()))
            own_names = {t.name for t in own}
            others = [f for f in freed if not any(f.startswith((f"{i}~", f"{c}=~")) for i in own_names)]
            freed = [f for f in freed if f not in others]
            if others:
                note = (f"joint verdict of the whole model, which freed {', '.join(others)}")
        rows.append({
            "construct": c, "level": level, "freed": ", ".join(freed),
            "means_comparable": level in ("scalar", "partial scalar"),
            "tested_with": "the whole model" if len(factors) > 2 else
            ", ".join(f for f in factors if f != c),
            "delta_cfi_metric": float(d.get("metric", np.nan)),
            "delta_cfi_scalar": float(d.get("scalar", np.nan)), "note": note})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def _accepted_freed(res: InvarianceResult, accepted: set[str]) -> list[str]:
    """Constraints released at the steps that were accepted (holds or partial)."""
    p = res.partial
    if not len(p):
        return []
    return [f for f, step in zip(p["freed"], p["step"], strict=True) if f and step in accepted]


def invariance_verdicts(survey: pd.DataFrame, codebook: Any, min_cell: int = 5, *,
                        group: str = "role", groups: Sequence[Any] | None = ROLE_GROUPS
                        ) -> pd.DataFrame:
    """Per construct, how far measurement invariance across roles (CMO vs CIO) holds.

    One row per modelled construct (:func:`modelled_constructs`): ``level`` is one of "none",
    "configural", "partial metric", "metric", "partial scalar", "scalar" (the highest step that
    holds in sequence by Chen's 2007 criteria, see :mod:`helpers.measurement.invariance`);
    ``freed`` the constraints released for partial invariance (lavaan names, e.g. "speed_2~1");
    ``means_comparable`` is True at (partial) scalar invariance — only then may construct means be
    compared across the groups; ``tested_with`` the other constructs in the same model (two-item
    constructs take the whole model's verdict); ``delta_cfi_metric``/``delta_cfi_scalar`` the ΔCFI of the
    accepted step (after any freeing); ``note`` why a construct has no verdict.

    Constructs asked with different items of the two roles, or with one item, have no row: compare
    them item by item. No model is fitted when a group has fewer than ``min_cell`` respondents
    (every row then reads "none" with the reason). Fast: about 0.2 s per construct on ~800
    respondents.
    """
    return verdicts_from_ladders(construct_ladders(survey, codebook, min_cell, group=group,
                                                   groups=groups))
