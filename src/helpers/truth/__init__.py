"""The true values of the headline estimands of a simulated sample.

Each area of the reports has one module here (``role_gaps``, ``drivers``, ``congruence``,
``shadow``) with ``estimands(config, codebook) -> dict[str, float]``: the value that the area's
headline function (:mod:`helpers.headlines`) estimates, derived from the simulation settings by
exact calculation or numerical integration over the data-generating process — never by running
an estimator. :func:`estimands` merges them; ``truth.yaml`` of a written sample lists them under
``estimands`` and the validity study (:mod:`helpers.validity`) compares with them.
"""

from __future__ import annotations

import importlib

from helpers.codebook import Codebook, load_codebook

AREAS = ("role_gaps", "drivers", "congruence", "shadow")


def estimands(config, codebook: Codebook | None = None,
              areas: tuple[str, ...] | list[str] | None = None) -> dict[str, float]:
    """Every headline estimand's true value for ``config`` (a ``SimulationConfig``)."""
    cb = codebook or load_codebook()
    out: dict[str, float] = {}
    for area in areas or AREAS:
        module = importlib.import_module(f"helpers.truth.{area}")
        values = module.estimands(config, cb)
        clash = set(values) & set(out)
        if clash:
            raise ValueError(f"estimand keys defined twice: {sorted(clash)}")
        out.update({k: float(v) for k, v in values.items()})
    return out
