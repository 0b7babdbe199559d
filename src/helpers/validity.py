"""The validity study: does every headline estimate recover the known truth?

For many simulated samples (:mod:`helpers.simulate`, any setting overridable) the study builds
the processed data exactly as ``make data`` does (:func:`helpers.processing.build_processed`),
runs each report's headline function (:mod:`helpers.headlines`) — the function the notebook
calls, with the notebook's default parameters — and compares every :class:`Headline` with its
true value (:mod:`helpers.truth`). Per estimand it reports bias, RMSE, 95 % CI coverage, power
(share of samples with a signed verdict when the truth is not zero), the false-positive rate
(share with a signed verdict when the truth is zero), how often the verdict in words is right,
and whether the targets of issue 12 are met:

- coverage between :data:`COVERAGE` (0.92–0.98);
- false positives at most :data:`MAX_FALSE_POSITIVE` (0.05) on true nulls;
- |bias| below :data:`MAX_RELATIVE_BIAS` (10 %) of the effect (of the smallest effect of
  interest when the effect is smaller than that, e.g. a true zero);
- the verdict right in at least :data:`MIN_VERDICT_RIGHT` (95 %) of samples (:func:`verdict_right`):
  the right sign; or "not detectable" when the interval includes zero (the honest reading when
  the design cannot tell); or "no evidence" when the true effect is smaller than the smallest
  effect of interest;
- the estimate given (not "not estimable") in at least 95 % of samples at the size studied.

A study has finitely many replications, so each share and the bias carry Monte Carlo error
(coverage over 200 samples has a standard error of 0.015). A target counts as *failed* when the
replications show it missed: the Wilson 95 % interval of the share lies wholly outside the
target band, or the bias exceeds its limit by more than 1.96 Monte Carlo standard errors. A
point value outside the band that the replications cannot tell from it is listed as
*marginal* (run more replications to settle it); both are printed.

``benchmarks/validity.py`` is the command line; ``tests/test_validity.py`` runs a quick variant.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from helpers import processing, simulate, truth
from helpers.codebook import Codebook, load_codebook
from helpers.headlines import SIGNED, Headline
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import stats
else:
    stats = LazyModule("scipy.stats")

COVERAGE = (0.92, 0.98)
MAX_FALSE_POSITIVE = 0.05
MAX_RELATIVE_BIAS = 0.10
MIN_VERDICT_RIGHT = 0.95
MIN_ESTIMABLE = 0.95
CONF = 0.95


# --------------------------------------------------------------------------- the reports' calls
def _role_gaps(data: processing.ProcessedData, cb: Codebook) -> list[Headline]:
    from helpers import role_gaps
    return role_gaps.headlines(data.survey, cb)


def _drivers(data: processing.ProcessedData, cb: Codebook) -> list[Headline]:
    from helpers import drivers
    return drivers.headlines(data.survey, cb) + drivers.consequences(data.survey, cb)


def _congruence(data: processing.ProcessedData, cb: Codebook) -> list[Headline]:
    from helpers import congruence
    return congruence.headlines(data.survey, cb)


def _shadow(data: processing.ProcessedData, cb: Codebook) -> list[Headline]:
    from helpers import shadow
    if data.spend is None:
        return []
    return shadow.headlines(data.survey, data.spend, cb)


AREA_CALLS: dict[str, Callable[[processing.ProcessedData, Codebook], list[Headline]]] = {
    "role_gaps": _role_gaps, "drivers": _drivers, "congruence": _congruence, "shadow": _shadow}
"""Area -> the headline call its notebook makes, on the whole sample with default parameters."""


# --------------------------------------------------------------------------- settings
def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``["item_sd=0.8", "report_accuracy=0.85"]`` -> settings, each checked against
    :class:`helpers.simulate.SimulationConfig` (an unknown name is an error naming it)."""
    known = {f.name: f for f in fields(simulate.SimulationConfig)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or name not in known:
            close = ", ".join(sorted(k for k in known if name[:4] in k)[:6])
            raise ValueError(f"--set {pair!r}: expected name=value with a simulation setting "
                             f"name{f' (did you mean {close}?)' if close else ''}")
        out[name] = yaml.safe_load(text)
    return out


def make_config(firms: int, seed: int, settings: Mapping[str, Any] | None = None
                ) -> simulate.SimulationConfig:
    """The simulation settings of one replication (``settings`` override the defaults).

    The ledger is scaled with the number of firms (the default's lines per firm), unless
    ``ledger_rows`` is set, so that ledgers are as thin per firm-year as in the sample.
    """
    base = simulate.SimulationConfig()
    values = {"ledger_rows": round(base.ledger_rows * firms / base.firms)}
    values.update(settings or {})
    values.update(firms=firms, seed=seed)
    for name in ("size_weights", "country_weights", "industry_weights"):  # YAML gives mappings
        if isinstance(values.get(name), Mapping):
            values[name] = tuple(values[name].items())
    return replace(base, **values)


def simulated_data(config: simulate.SimulationConfig, workdir: Path,
                   codebook: Codebook | None = None) -> processing.ProcessedData:
    """Write the sample of ``config`` and build its processed data as ``make data`` does."""
    raw = simulate.write_sample(workdir / "raw", config=config)
    out = workdir / "processed"
    with contextlib.redirect_stdout(io.StringIO()):  # the ledger summary make data prints
        processing.build_processed(raw["survey"], budgets=raw["budgets"], ledger=raw["ledger"],
                                   fx=raw["fx_rates"], vendors=raw["vendors"], out_dir=out,
                                   codebook=codebook, force=True)
    return processing.load_processed(out)


# --------------------------------------------------------------------------- one replication
def replicate(seed: int, firms: int, settings: Mapping[str, Any] | None = None,
              areas: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One simulated sample: a row per headline with its truth, estimate, interval, verdict."""
    cb = load_codebook()
    config = make_config(firms, seed, settings)
    chosen = list(areas or truth.AREAS)
    true = truth.estimands(config, cb, chosen)
    workdir = Path(tempfile.mkdtemp(prefix="validity-"))
    try:
        data = simulated_data(config, workdir, cb)
        rows = []
        for area in chosen:
            for h in AREA_CALLS[area](data, cb):
                if h.key not in true:
                    raise KeyError(f"headline {h.key!r} of {area} has no true value in "
                                   f"helpers.truth.{area}")
                rows.append({"seed": seed, "area": area, "key": h.key, "truth": true[h.key],
                             "estimate": h.estimate, "ci_low": h.ci_low, "ci_high": h.ci_high,
                             "p_value": h.p_value, "verdict": h.verdict, "power": h.power,
                             "sesoi": h.sesoi, "reading": h.reading})
        return rows
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def verdict_right(verdict: str, true_value: float, sesoi: float | None = None) -> bool:
    """Is the verdict in words right about the truth? (see the module docstring)

    A signed verdict is right when its sign is the truth's. "not detectable" is always an
    honest reading of an interval that includes zero. "no evidence" says that an effect as
    large as the smallest effect of interest ``sesoi`` would very likely have been seen: right
    when the true effect is smaller than that (or zero), wrong for a larger one.
    """
    if verdict in ("positive", "negative"):
        return true_value != 0 and verdict == ("positive" if true_value > 0 else "negative")
    if verdict == "not detectable":
        return True
    if verdict == "no evidence":
        return true_value == 0 or (sesoi is not None and math.isfinite(sesoi)
                                   and abs(true_value) < abs(sesoi))
    return False


# --------------------------------------------------------------------------- the study
@dataclass(frozen=True)
class Study:
    """The settings and per-replication rows of a validity study, and their summary."""

    reps: int
    firms: int
    seed: int
    settings: dict[str, Any]
    rows: pd.DataFrame
    summary: pd.DataFrame

    @property
    def within(self) -> int:
        return int(self.summary["within_targets"].sum())

    def last_line(self) -> str:
        return f"validity: {self.within}/{len(self.summary)} estimands within targets"

    def to_json(self) -> dict[str, Any]:
        return {"reps": self.reps, "firms": self.firms, "seed": self.seed,
                "settings": self.settings,
                "summary": self.summary.replace({np.nan: None}).to_dict(orient="records"),
                "within_targets": self.within, "estimands": len(self.summary)}


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per estimand: bias, RMSE, coverage, power, false positives, verdicts right, targets met."""
    out = []
    for key, g in rows.groupby("key", sort=False):
        t = float(g["truth"].iloc[0])
        est = g[g["estimate"].notna() & g["verdict"].ne("not estimable")]
        n = len(est)
        estimable = n / len(g)
        signed = est["verdict"].isin(SIGNED)
        covered = (est["ci_low"] <= t) & (t <= est["ci_high"])
        right = pd.Series([verdict_right(v, t, e) for v, e in zip(g["verdict"], g["sesoi"],
                                                                     strict=True)], dtype=float)
        bias = float(est["estimate"].mean() - t) if n else math.nan
        sesoi = float(est["sesoi"].dropna().median()) if est["sesoi"].notna().any() else math.nan
        # 10 % of the effect; of the smallest effect of interest when the effect is smaller
        scale = max(abs(t), abs(sesoi)) if math.isfinite(sesoi) else abs(t) or math.nan
        row = {
            "key": key, "area": g["area"].iloc[0], "truth": t, "reps": len(g),
            "estimable": estimable,
            "mean_estimate": float(est["estimate"].mean()) if n else math.nan,
            "bias": bias, "relative_bias": bias / scale if scale else math.nan,
            "rmse": float(np.sqrt(((est["estimate"] - t) ** 2).mean())) if n else math.nan,
            "coverage": float(covered.mean()) if n else math.nan,
            "power": float(signed.mean()) if (n and t != 0) else math.nan,
            "false_positive": float(signed.mean()) if (n and t == 0) else math.nan,
            "verdict_right": float(right.mean()),
            "not_detectable": float((g["verdict"] == "not detectable").mean()),
            "mean_stated_power": float(est["power"].mean()) if est["power"].notna().any()
            else math.nan,
        }
        row["bias_mc_se"] = (float(est["estimate"].std(ddof=1) / math.sqrt(n)) if n > 1
                             else math.nan)
        checks = {
            "estimable": (estimable, len(g), MIN_ESTIMABLE, 1.0),
            "coverage": (row["coverage"], n, *COVERAGE),
            "false positives": (row["false_positive"], n, 0.0, MAX_FALSE_POSITIVE),
            "verdict": (row["verdict_right"], len(g), MIN_VERDICT_RIGHT, 1.0),
        }
        failed, marginal = [], []
        for name, (share, trials, low, high) in checks.items():
            if share != share:  # not applicable (NaN)
                continue
            if not low <= share <= high:
                lo, hi = wilson(share, trials)
                (failed if hi < low or lo > high else marginal).append(name)
        limit = MAX_RELATIVE_BIAS * scale
        if not abs(bias) < limit:
            mc = row["bias_mc_se"] if row["bias_mc_se"] == row["bias_mc_se"] else 0.0
            (failed if abs(bias) - 1.96 * mc >= limit else marginal).append("bias")
        row["failed"] = ", ".join(failed)
        row["marginal"] = ", ".join(marginal)
        row["within_targets"] = not failed
        out.append(row)
    return pd.DataFrame(out)


def wilson(share: float, trials: int, conf: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a share observed in ``trials`` replications."""
    if trials <= 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + conf / 2))
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) \
        / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def run(reps: int, firms: int = 300, seed: int = 1, settings: Mapping[str, Any] | None = None,
        areas: Sequence[str] | None = None, workers: int | None = None) -> Study:
    """``reps`` replications (seeds ``seed``, ``seed + 1``, …) in parallel; their summary."""
    settings = dict(settings or {})
    make_config(firms, seed, settings)  # a bad setting fails here, once, not in every worker
    seeds = [seed + r for r in range(reps)]
    workers = max(1, min(workers or os.cpu_count() or 1, reps))
    if workers == 1:
        parts = [replicate(s, firms, settings, areas) for s in seeds]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(replicate, seeds, [firms] * reps, [settings] * reps,
                                  [areas] * reps))
    rows = pd.DataFrame([r for part in parts for r in part])
    return Study(reps=reps, firms=firms, seed=seed, settings=settings, rows=rows,
                 summary=summarise(rows))


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a plain-text table (three decimals)."""
    cols = ["key", "truth", "mean_estimate", "bias", "rmse", "coverage", "power",
            "false_positive", "verdict_right", "estimable", "failed", "marginal"]
    return summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}",
                                   na_rep="–")

