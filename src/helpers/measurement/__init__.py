"""The measurement layer: CFA, reliability and validity, measurement invariance.

Public API (used by the notebooks, callable by a researcher):

* :func:`cfa` — ML confirmatory factor analysis of lavaan-style syntax or codebook constructs,
  single- or multi-group with lavaan's ``group.equal`` constraints; the result has ``.fit``,
  ``.loadings``, ``.reliability``, ``.latent_correlations``, ``.fornell_larcker``, ``.htmt``,
  ``.estimates`` and ``.notes``.
* :func:`invariance` — the configural → metric → scalar → strict ladder with Chen's (2007)
  criteria, partial invariance and latent mean differences.
* :func:`pair_agreement` (ICC(1), ICC(2), r_wg(j), gaps within the CMO–CIO pair),
  :func:`perception_accuracy` and :func:`apim` / :func:`apim_survey` (actor–partner
  interdependence model) — modules ``agreement`` and ``apim``.
* :func:`composite_reliability`, :func:`average_variance_extracted`, :func:`htmt` — the
  validity statistics on their own.

Model syntax is parsed by semopy (``semopy.parser``); the estimator is ours, written to agree
with lavaan to printed precision (semopy's own optimiser stops early, and its multi-group
analysis has no equality constraints across groups). Modules: ``spec`` (the model), ``engine``
(ML estimation), ``fitindices`` (χ², CFI, TLI, RMSEA, SRMR), ``cfa`` (the result), ``validity``
(CR, AVE, Fornell–Larcker, HTMT) and ``invariance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from helpers.measurement.agreement import (
    icc1, icc2, pair_agreement, perception_accuracy, prediction_accuracy, rwg, rwg_j)
from helpers.measurement.apim import APIMResult, apim, apim_survey
from helpers.measurement.cfa import ESTIMATOR_NOTE, CFAResult, cfa, prepare, resolve_model
from helpers.measurement.invariance import (
    CHEN_2007, InvarianceResult, chen_noninvariant, invariance, latent_mean_differences)
from helpers.measurement.spec import NotEstimable, parse_syntax
from helpers.measurement.validity import (
    HTMT_CUTOFF, average_variance_extracted, composite_reliability, htmt_matrix)


def htmt(data: pd.DataFrame, model: str | Sequence[str], group: str | None = None, *,
         codebook: Any = None) -> pd.DataFrame:
    """HTMT of every pair of factors of ``model`` (syntax or codebook constructs), per group,
    on the listwise-complete items, flagging values above .85."""
    spec, frame = resolve_model(data, model, group, codebook)
    labels, parts, _ = prepare(frame, spec.items, group)
    factors = {f: [t.name for t in terms] for f, terms in spec.factors.items()}
    out = []
    for g, part in zip(labels, parts, strict=True):
        table = htmt_matrix(part.corr(), factors)
        table.insert(2, "group", g)
        out.append(table)
    return pd.concat(out, ignore_index=True)


__all__ = [
    "APIMResult", "apim", "apim_survey", "icc1", "icc2", "pair_agreement", "perception_accuracy",
    "prediction_accuracy", "rwg", "rwg_j",
    "CFAResult", "CHEN_2007", "ESTIMATOR_NOTE", "HTMT_CUTOFF", "InvarianceResult", "NotEstimable",
    "average_variance_extracted", "cfa", "chen_noninvariant", "composite_reliability", "htmt",
    "htmt_matrix", "invariance", "latent_mean_differences", "parse_syntax",
]
