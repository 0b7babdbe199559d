"""Parameter recovery: the drivers report's model recovers the simulator's true effects.

The full study (500 replications, per-driver coverage) is `benchmarks/coverage_drivers.py`; this
test runs 100 replications of the same code so that it stays inside the suite's time budget.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from helpers import paths


def _study():
    spec = importlib.util.spec_from_file_location(
        "coverage_drivers", paths.ROOT / "benchmarks" / "coverage_drivers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # worker processes find its functions by module name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_driver_intervals_cover_the_truth_over_100_replications() -> None:
    table = _study().coverage(reps=100, firms=300)
    assert len(table) == 6 and (table["reps"] == 100).all()
    pooled = table["coverage"].mean()  # 600 intervals: binomial SD about 0.009
    assert 0.92 <= pooled <= 0.98, table
    assert (table["coverage"] >= 0.88).all(), table  # no single driver badly off
    bias = (table["mean_estimate"] - table["truth"]).abs()
    assert (bias < 0.02).all(), table  # unbiased within simulation error (SE ~0.005-0.01)


def test_one_replication_recovers_the_signs() -> None:
    rep = _study().replicate(seed=3, firms=300)
    assert (rep["estimate"] < 0).all()
    assert rep["covered"].sum() >= 4
