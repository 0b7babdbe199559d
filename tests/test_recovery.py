"""Parameter recovery: the drivers report's headlines recover the simulator's true values.

The full study is `benchmarks/coverage_drivers.py` (the report's own headline functions,
helpers.drivers.headlines and consequences, on simulated surveys, against helpers.truth.drivers);
these tests run it small so that they stay inside the suite's time budget.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import paths, simulate


def _study():
    spec = importlib.util.spec_from_file_location(
        "coverage_drivers", paths.ROOT / "benchmarks" / "coverage_drivers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_headline_intervals_cover_the_truth_over_60_replications() -> None:
    study = _study()
    runs = pd.concat([study.replicate(simulate.SimulationConfig(firms=300, seed=5000 + r), 200)
                      for r in range(60)], ignore_index=True)
    table = study.summarise(runs)
    assert len(table) == 10 and (table["reps"] == 60).all()
    pooled = table["coverage"].mean()  # 600 intervals: binomial SD about 0.009
    assert 0.92 <= pooled <= 0.98, table
    assert (table["coverage"] >= 0.85).all(), table  # no single estimand badly off
    effects = table[table["truth"] != 0]
    assert (effects["rel_bias"].abs() < 0.10).all(), table
    assert (table.loc[table["truth"] == 0, "flagged"] <= 0.10).all(), table


def test_one_replication_recovers_the_signs() -> None:
    rep = _study().replicate(simulate.SimulationConfig(firms=300, seed=3), 50)
    effects = rep[rep["truth"] != 0]
    assert (np.sign(effects["estimate"]) == np.sign(effects["truth"])).all(), rep
    covered = (rep["ci_low"] <= rep["truth"]) & (rep["truth"] <= rep["ci_high"])
    assert covered.sum() >= 8, rep
