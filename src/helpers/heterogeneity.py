"""Do segments differ? One test per headline estimate and segment dimension, corrected.

Segment reports each estimate the headline on their own firms; reading them side by side invites
the error issue 12 describes (a 26-pair country "highest when they agree", the opposite of the
whole sample; 23 segments per notebook and no multiplicity control). The question a reader has —
does the estimate differ between the countries (industries, size bands)? — is one test:

- For the parts of one dimension (the published partition, :func:`helpers.privacy.partition`:
  disjoint sets of firms), the fully interacted pooled model (every coefficient, nuisance
  parameters included, allowed to differ by part, errors clustered by firm) has a covariance that
  is block-diagonal across parts, because no firm is in two parts. The Wald test that the
  headline coefficient is equal in all parts is then exactly Cochran's Q on the part estimates
  and their (clustered) standard errors: ``Q = Σ w_i (θ_i − θ̄)²``, ``w_i = 1 / se_i²``,
  ``θ̄ = Σ w_i θ_i / Σ w_i``, χ² with k − 1 degrees of freedom (k parts with an estimate).
  So the segment reports' own estimates give the interaction test of the pooled model.
- Waves are not tested this way: the same firms answer in both waves, the parts are not
  independent (the pooled model's wave interaction needs the firm-level covariance across
  waves); the table says so.
- Holm's correction runs over every (estimate, dimension) test of a notebook: with many
  estimates and dimensions one "significant" difference is expected by chance.

Segments whose headline is not estimable are left out of the test (and counted). A standard
error missing from a results file is recovered from a symmetric interval; an asymmetric
(bootstrap percentile) interval without a standard error leaves that part out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers.headlines import adjusted_p, p_phrase
from helpers.i18n import _
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import special
else:
    special = LazyModule("scipy.special")

KEY = "headlines"
"""The results-file entry holding a report's headline table (:func:`helpers.headlines.table`)."""
NOT_INDEPENDENT = ("wave",)
"""Dimensions whose parts share firms: no Q test (see the module docstring)."""
COLUMNS = ["key", "label", "dimension", "parts", "left_out", "q", "df", "p_value", "p_holm",
           "reading"]


def _dimension(segment: Mapping[str, Any] | None) -> str | None:
    """The one dimension a segment selects on (None: whole sample or a crossed segment)."""
    if not segment or len(segment) != 1:
        return None
    return next(iter(segment))


def _std_error(row: Mapping[str, Any], conf: float = 0.95) -> float | None:
    se = row.get("std_error")
    if se is not None and not (isinstance(se, float) and math.isnan(se)) and se > 0:
        return float(se)
    est, lo, hi = row.get("estimate"), row.get("ci_low"), row.get("ci_high")
    if None in (est, lo, hi) or any(isinstance(v, float) and math.isnan(v) for v in (est, lo, hi)):
        return None
    if not math.isclose(hi - est, est - lo, rel_tol=0.05, abs_tol=1e-9):
        return None  # asymmetric: not a normal interval
    z = float(special.ndtri(0.5 + conf / 2))
    return float((hi - lo) / (2 * z)) or None


def cochran_q(estimates: Sequence[float], std_errors: Sequence[float]) -> tuple[float, int, float]:
    """(Q, df, p) of the hypothesis that all estimates are equal (independent estimates)."""
    theta = np.asarray(estimates, dtype=float)
    w = 1.0 / np.asarray(std_errors, dtype=float) ** 2
    pooled = float(np.sum(w * theta) / np.sum(w))
    q = float(np.sum(w * (theta - pooled) ** 2))
    df = len(theta) - 1
    return q, df, float(special.chdtrc(df, q)) if df > 0 else math.nan


def segment_tests(reports: Iterable[tuple[Mapping[str, Any] | None, Mapping[str, Any]]],
                  alpha: float = 0.05) -> pd.DataFrame:
    """One row per (headline key, dimension): parts tested, Q, df, p, Holm p and a reading.

    ``reports``: (segment, headline rows) of one notebook's segment reports, the rows as
    recorded (:func:`helpers.headlines.table`: key, label, estimate, std_error, ci_low,
    ci_high, verdict).
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for segment, rows in reports:
        dim = _dimension(segment)
        if dim is None:
            continue
        for row in rows:
            entry = found.setdefault((row["key"], dim), {"label": row.get("label") or row["key"],
                                                         "est": [], "se": [], "left_out": 0})
            se = _std_error(row) if row.get("verdict") != "not estimable" else None
            if se is None or row.get("estimate") is None:
                entry["left_out"] += 1
                continue
            entry["est"].append(float(row["estimate"]))
            entry["se"].append(se)
    from helpers import labels

    out = []
    for (key, dim), e in found.items():
        row = {"key": key, "label": e["label"], "dimension": dim, "parts": len(e["est"]),
               "left_out": e["left_out"], "q": math.nan, "df": math.nan, "p_value": math.nan,
               "p_holm": math.nan, "reading": ""}
        if dim in NOT_INDEPENDENT:
            row["reading"] = _("not tested: the same firms answer in every wave, so the wave "
                               "reports are not independent samples")
        elif len(e["est"]) < 2:
            row["reading"] = _("not tested: fewer than two segments with an estimate")
        else:
            row["q"], row["df"], row["p_value"] = cochran_q(e["est"], e["se"])
        out.append(row)
    table = pd.DataFrame(out, columns=COLUMNS)
    tested = table["p_value"].notna()
    if tested.any():
        table.loc[tested, "p_holm"] = adjusted_p(table.loc[tested, "p_value"].to_numpy(), "holm")
        for i in table.index[tested]:
            p = table.at[i, "p_holm"]
            dimension = labels.column(table.at[i, "dimension"])
            table.at[i, "reading"] = (
                _("the {dimension} segments differ (Holm-corrected {p})") if p < alpha else
                _("no detectable difference between {dimension} segments "
                  "(Holm-corrected {p}): read the whole-sample estimate")).format(
                dimension=dimension, p=p_phrase(p))
    return table

