"""Parameter recovery for the driver regressions: do 95 % intervals cover the true effects?

Each replication simulates a fresh sample with ``helpers.simulate`` (continuous responses, so the
linear model is the true model: the disconnect index = true drivers' effects + controls + firm
effect + noise), scores it with the same helpers the drivers report uses
(``indicators.respondent_frame``), fits the report's OLS with firm-clustered errors
(``models.fit``, Stata's small-sample correction) on the true firm-wave drivers, and checks whether
each driver's 95 % CI covers the DGP's coefficient.

    .venv/bin/python benchmarks/coverage_drivers.py --reps 500 --firms 300

prints coverage per driver; the acceptance band is 0.92–0.98 for every main coefficient.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from helpers import indicators, models, simulate
from helpers.codebook import load_codebook

DRIVERS = ["cofunded_projects", "shared_kpis", "it_service_orientation", "joint_agile_teams",
           "data_ownership", "sales_involvement"]
CONTROLS = ["size_band", "industry", "country", "wave", "role"]


def replicate(seed: int, firms: int) -> pd.DataFrame:
    """One simulated sample: each driver's estimate, CI and whether the CI covers the truth."""
    cb = load_codebook()
    config = simulate.SimulationConfig(firms=firms, seed=seed)
    survey, truth = simulate.simulate_survey(config, discrete=False, codebook=cb)
    frame = indicators.respondent_frame(survey, cb).drop(columns=DRIVERS)
    frame = frame.merge(truth[["firm_id", "wave", *DRIVERS]], on=["firm_id", "wave"])
    result = models.fit(models.build_formula("disconnect_index", DRIVERS, CONTROLS, frame), frame,
                        cluster="firm_id")
    tidy = result.tidy().set_index("term").loc[DRIVERS, ["estimate", "ci_low", "ci_high"]]
    tidy["truth"] = [config.betas[d] for d in DRIVERS]
    tidy["covered"] = (tidy["ci_low"] <= tidy["truth"]) & (tidy["truth"] <= tidy["ci_high"])
    return tidy.reset_index().assign(seed=seed)


def coverage(reps: int, firms: int, first_seed: int = 1000, workers: int | None = None
             ) -> pd.DataFrame:
    """Coverage, mean estimate and bias per driver over ``reps`` replications (in parallel)."""
    seeds = [first_seed + r for r in range(reps)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        runs = pd.concat(pool.map(replicate, seeds, [firms] * reps), ignore_index=True)
    return runs.groupby("term", sort=False).agg(
        truth=("truth", "first"), mean_estimate=("estimate", "mean"),
        coverage=("covered", "mean"), reps=("covered", "size")).reset_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--firms", type=int, default=300)
    args = parser.parse_args()
    start = time.perf_counter()
    table = coverage(args.reps, args.firms)
    table["bias"] = table["mean_estimate"] - table["truth"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    inside = table["coverage"].between(0.92, 0.98)
    print(f"\n{args.reps} replications of {args.firms} firms in {time.perf_counter() - start:.0f} s; "
          f"coverage within 0.92–0.98 for {int(inside.sum())} of {len(table)} drivers")
    return 0 if inside.all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
