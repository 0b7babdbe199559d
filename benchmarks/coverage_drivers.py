"""Recovery of the drivers report's headlines: bias, coverage and verdicts against the truth.

Each replication simulates a fresh survey with ``helpers.simulate`` (rounded Likert answers,
misreported yes/no facts, incomplete dyads: the data the report sees), runs the report's own
headline functions — :func:`helpers.drivers.headlines` (drivers of the disconnect) and
:func:`helpers.drivers.consequences` (failure, customer insight, relationship improved) — and
compares every estimate with its true value from :mod:`helpers.truth.drivers`. ``--set``
overrides any simulation setting (``--set report_accuracy=0.85 --set item_sd=0.8``).

    .venv/bin/python benchmarks/coverage_drivers.py --reps 100 --firms 300

prints per estimand: truth, mean estimate, relative bias, SD of the estimates, mean SE,
coverage of the 95 % interval, share flagged (interval excludes 0) and the share of verdicts
that are right (the true sign, or "not detectable"; for a true zero "no evidence" or "not
detectable"). Targets: coverage 0.92–0.98, |bias| < 10 % of the effect, false positives <= 0.05
on the true null, verdict right >= 0.95. The validity study (``benchmarks/validity.py``) runs
the same functions beside the other reports' headlines.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from helpers import drivers, simulate
from helpers.codebook import load_codebook
from helpers.truth import drivers as truth_drivers


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def replicate(config: simulate.SimulationConfig, n_boot: int) -> pd.DataFrame:
    """One simulated sample: every headline with its truth."""
    cb = load_codebook()
    survey, _ = simulate.simulate_survey(config, codebook=cb)
    truth = truth_drivers.estimands(config, cb)
    rows = drivers.headlines(survey, cb, n_boot=n_boot, seed=config.seed)
    rows += drivers.consequences(survey, cb, n_boot=n_boot, seed=config.seed)
    return pd.DataFrame([{"key": h.key, "truth": truth[h.key], "estimate": h.estimate,
                          "se": h.std_error, "ci_low": h.ci_low, "ci_high": h.ci_high,
                          "verdict": h.verdict} for h in rows])


def _right(group: pd.DataFrame) -> float:
    t = group["truth"].iloc[0]
    if t == 0:
        return float(group["verdict"].isin(["no evidence", "not detectable"]).mean())
    sign = "positive" if t > 0 else "negative"
    return float(group["verdict"].isin([sign, "not detectable"]).mean())


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.assign(covered=(runs["ci_low"] <= runs["truth"]) & (runs["truth"] <= runs["ci_high"]),
                       flagged=runs["verdict"].isin(["positive", "negative"]))
    out = []
    for key, g in runs.groupby("key", sort=False):
        t = g["truth"].iloc[0]
        mean = g["estimate"].mean()
        out.append({"key": key, "truth": t, "mean": mean,
                    "rel_bias": (mean - t) / abs(t) if t else np.nan,
                    "sd": g["estimate"].std(), "mean_se": g["se"].mean(),
                    "coverage": g["covered"].mean(), "flagged": g["flagged"].mean(),
                    "verdict_right": _right(g), "reps": len(g)})
    return pd.DataFrame(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--firms", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--boot", type=int, default=drivers.N_BOOT)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    base = replace(simulate.SimulationConfig(firms=args.firms), **overrides)
    start = time.perf_counter()
    runs = pd.concat([replicate(replace(base, seed=args.seed + r), args.boot)
                      for r in range(args.reps)], ignore_index=True)
    table = summarise(runs)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    null = table["truth"] == 0
    ok = (table["coverage"].between(0.92, 0.98) & (table["verdict_right"] >= 0.95)
          & (null | (table["rel_bias"].abs() < 0.10)) & (~null | (table["flagged"] <= 0.05)))
    print(f"\n{args.reps} replications of {args.firms} firms in "
          f"{time.perf_counter() - start:.0f} s; {int(ok.sum())}/{len(table)} estimands within "
          "targets")
    return 0 if ok.all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
