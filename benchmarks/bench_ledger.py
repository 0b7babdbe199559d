"""Ledger to firm-year features: DuckDB (helpers.spend) against a straightforward pandas baseline.

For each size (default 1, 5 and 20 million rows) the script generates a ledger with
``helpers.simulate`` (cached under build/bench/), then runs each engine in a fresh process and
reports wall-clock seconds and peak resident memory (the child's ru_maxrss), with the ratios
pandas/DuckDB. The pandas baseline is what a notebook would do: ``read_parquet`` the whole ledger,
map FX rates and vendor categories, classify, ``groupby``. Before timing, the baseline is checked
to compute the same features as DuckDB on the smallest ledger.

    .venv/bin/python benchmarks/bench_ledger.py                 # 1M, 5M, 20M rows
    .venv/bin/python benchmarks/bench_ledger.py --rows 1000000  # one size

Goal (issue "Spend ledgers at scale"): at 20M rows DuckDB at least 3x faster and at most 1/6 of
the pandas peak memory, with near-linear growth over sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "bench"
TECH = ["software", "cloud_infrastructure", "hardware", "it_services"]


# ----------------------------------------------------------------------------- pandas baseline
def pandas_features(ledger: str, fx: str, vendors: str) -> pd.DataFrame:
    """The straightforward pandas computation of the same firm-year features (clean ledgers)."""
    from helpers.spend import CARD_PAYMENT_METHODS, DEFAULT_RULE

    df = pd.read_parquet(ledger)
    rates = pd.read_parquet(fx)
    rates["month"] = pd.to_datetime(rates["date"]).dt.to_period("M")
    df["month"] = pd.to_datetime(df["booking_date"]).dt.to_period("M")
    df = df.merge(rates[["month", "currency", "rate_to_eur"]], on=["month", "currency"],
                  how="left")
    df.loc[df["currency"] == "EUR", "rate_to_eur"] = 1.0
    df["amount_eur"] = df["amount"] * df["rate_to_eur"]
    vmap = pd.read_csv(vendors)
    mapped = df["vendor"].str.lower().map(dict(zip(vmap["vendor"].str.lower(),
                                                   vmap["vendor_category"], strict=True)))
    df["category"] = mapped.fillna(df["vendor_category"])
    df["year"] = pd.to_datetime(df["booking_date"]).dt.year
    tech = df["category"].isin(TECH)
    it = df["cost_center"].isin(DEFAULT_RULE.it_cost_centers)
    mkt = df["cost_center"] == "Marketing"
    shadow = (df["category"].isin(DEFAULT_RULE.categories) & ~it
              & ~df["payment_method"].isin(DEFAULT_RULE.sanctioned_payment_methods))
    card = df["payment_method"].isin(CARD_PAYMENT_METHODS)
    a = df["amount_eur"]
    parts = pd.DataFrame({
        "firm_id": df["firm_id"], "year": df["year"],
        "it_spend": a.where(it & tech, 0.0), "marketing_spend": a.where(mkt, 0.0),
        "martech_spend": a.where(mkt & tech, 0.0), "other_tech_spend": a.where(~it & ~mkt & tech, 0.0),
        "tech_spend_total": a.where(tech, 0.0), "shadow_it_spend": a.where(shadow, 0.0),
        "card_tech": a.where(tech & card, 0.0), "refunds": (-a).where(a < 0, 0.0),
    })
    out = parts.groupby(["firm_id", "year"]).sum()
    out["n_lines"] = parts.groupby(["firm_id", "year"]).size()
    out["shadow_it_share"] = out["shadow_it_spend"] / out["tech_spend_total"]
    out["card_share"] = out["card_tech"] / out["tech_spend_total"]
    fn = np.select([it, mkt], ["it", "marketing"], "other")
    vend = df.loc[tech, ["firm_id", "year", "vendor"]].assign(fn=fn[tech.to_numpy()])
    vend["vendor"] = vend["vendor"].str.lower()
    counts = vend.drop_duplicates().groupby(["firm_id", "year", "fn"]).size().unstack(fill_value=0)
    for f in ("it", "marketing", "other"):
        out[f"n_vendors_{f}"] = counts.get(f, 0)
    return out.drop(columns="card_tech").reset_index()


def duckdb_features(ledger: str, fx: str, vendors: str) -> pd.DataFrame:
    from helpers import spend

    return spend.firm_year_features(ledger, "duckdb", fx=fx, vendors=vendors)


ENGINES = {"pandas": pandas_features, "duckdb": duckdb_features}


# ----------------------------------------------------------------------------- measurement
def ensure_ledger(rows: int) -> dict[str, str]:
    """Generate (once) a ledger of ``rows`` rows with its FX table and vendor map."""
    from helpers import simulate

    folder = CACHE / f"ledger-{rows}"
    files = {"ledger": folder / "ledger.parquet", "fx": folder / "fx_rates.parquet",
             "vendors": folder / "vendors.csv"}
    if not all(p.exists() for p in files.values()):
        folder.mkdir(parents=True, exist_ok=True)
        config = simulate.SimulationConfig(ledger_rows=rows)
        simulate.fx_rates(config).to_parquet(files["fx"], index=False)
        simulate.vendors_table().to_csv(files["vendors"], index=False)
        simulate.write_ledger(files["ledger"], config)
    return {k: str(v) for k, v in files.items()}


def measure(engine: str, files: dict[str, str]) -> dict[str, float]:
    """Run one engine in a fresh process: wall seconds and peak RSS (MB) of that process."""
    code = ("import sys, json, time; sys.path.insert(0, %r); import bench_ledger as b; "
            "t = time.perf_counter(); f = b.ENGINES[%r](**json.loads(sys.argv[1])); "
            "print(json.dumps({'seconds': time.perf_counter() - t, 'rows': len(f), "
            "'peak_kb': b.peak_kb()}))" % (str(Path(__file__).parent), engine))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(files)], capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{proc.stderr}")
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "compute_s": inner["seconds"], "peak_mb": inner["peak_kb"] / 1024}


def peak_kb() -> int:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would include the memory
    of the parent at fork time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def check_same(files: dict[str, str]) -> None:
    """The baseline must compute what DuckDB computes, or its timing means nothing."""
    def keyed(df: pd.DataFrame) -> pd.DataFrame:
        df.attrs = {}  # the bad-row report rides in attrs; not compared here
        return df.astype({"firm_id": object, "year": "int64"}).set_index(["firm_id", "year"]
                                                                            ).sort_index()

    duck, base = keyed(duckdb_features(**files)), keyed(pandas_features(**files))
    cols = [c for c in base.columns if c in duck.columns]
    pd.testing.assert_frame_equal(duck[cols], base[cols], check_dtype=False, rtol=1e-7)
    print(f"baseline check: pandas and DuckDB agree on {len(cols)} features for {len(duck)} "
          "firm-years")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 5_000_000, 20_000_000])
    args = parser.parse_args()
    sizes = sorted(args.rows)
    check_same(ensure_ledger(sizes[0]))
    print(f"{'rows':>11} {'engine':>7} {'wall s':>8} {'peak MB':>8} {'s per 1M':>9}")
    summary = []
    for rows in sizes:
        files = ensure_ledger(rows)
        res = {e: measure(e, files) for e in ("duckdb", "pandas")}
        for engine, r in res.items():
            print(f"{rows:>11,} {engine:>7} {r['wall_s']:>8.1f} {r['peak_mb']:>8.0f} "
                  f"{r['wall_s'] / rows * 1e6:>9.2f}")
        speed = res["pandas"]["wall_s"] / res["duckdb"]["wall_s"]
        memory = res["pandas"]["peak_mb"] / res["duckdb"]["peak_mb"]
        summary.append((rows, speed, memory))
        print(f"{'':>11} ratio   pandas/duckdb: {speed:.1f}x time, {memory:.1f}x peak memory")
    rows, speed, memory = summary[-1]
    ok = speed >= 3 and memory >= 6
    print(f"\nat {rows:,} rows: DuckDB {speed:.1f}x faster, {memory:.1f}x less peak memory "
          f"(goal: >= 3x and >= 6x): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
