"""The ledger benchmark compares like with like (benchmarks/bench_ledger.py), and importing
helpers.spend stays light.

Timing goals live in the benchmark script; these tests only prove, on a small simulated ledger,
that the plain DuckDB floor query, the Polars query, the pandas baseline and the pipeline compute
the same totals, and that ``import helpers.spend`` pulls in none of the heavy optional packages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import simulate

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import bench_ledger  # noqa: E402


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("ledger")
    config = simulate.SimulationConfig(ledger_rows=50_000)
    files = {"ledger": folder / "ledger.parquet", "fx": folder / "fx_rates.parquet",
             "vendors": folder / "vendors.csv"}
    simulate.fx_rates(config).to_parquet(files["fx"], index=False)
    simulate.vendors_table().to_csv(files["vendors"], index=False)
    simulate.write_ledger(files["ledger"], config)
    return {k: str(v) for k, v in files.items()}


@pytest.fixture(scope="module")
def polars_runs() -> tuple[bool, str]:
    """Polars probed in a fresh process (never imported into the test run before it is known to
    run on this CPU)."""
    return bench_ledger.polars_usable()


def test_the_polars_probe_reports_a_crash_instead_of_crashing(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """A probe whose child dies of SIGILL (what Polars' default runtime does on a CPU without
    AVX2) says so; the calling process lives on."""
    real_run = subprocess.run

    def dying(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return real_run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), "
                         "signal.SIGILL)"], **kw)

    monkeypatch.setattr(bench_ledger.subprocess, "run", dying)
    usable, why = bench_ledger.polars_usable()
    assert not usable and "SIGILL" in why and "rtcompat" in why


def test_the_polars_probe_names_the_missing_cpu_features(monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = subprocess.run

    def warned(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return real_run([sys.executable, "-c", "import sys; sys.stderr.write('Traceback\\n"
                         "RuntimeWarning: Missing required CPU features.\\n\\nThe following\\n')"
                         "; sys.exit(1)"], **kw)

    monkeypatch.setattr(bench_ledger.subprocess, "run", warned)
    usable, why = bench_ledger.polars_usable()
    assert not usable and "Missing required CPU features" in why


@pytest.mark.parametrize("engine", ["floor", "polars", "polars-stream", "pandas"])
def test_engines_compute_the_pipelines_totals(small_ledger: dict[str, str], engine: str,
                                               polars_runs: tuple[bool, str]) -> None:
    if engine.startswith("polars"):
        usable, why = polars_runs
        if not usable:  # its default runtime would kill the test run with SIGILL on such a CPU
            pytest.skip(why)
    pipeline = bench_ledger._keyed(bench_ledger.pipeline_features(**small_ledger))
    other = bench_ledger._keyed(bench_ledger.ENGINES[engine](**small_ledger))
    assert len(pipeline) > 100 and pipeline["n_lines"].sum() == 50_000
    assert (pipeline[["n_vendors_it", "n_vendors_marketing", "n_vendors_other"]] > 0).any().all()
    pd.testing.assert_frame_equal(other, pipeline, check_dtype=False, rtol=1e-7)


def test_the_check_fails_when_a_total_differs(small_ledger: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """check_same is a real check: a floor that drops refunds is caught."""
    real = bench_ledger.floor_sql

    def wrong(*args: str) -> str:
        return real(*args).replace("SUM(CASE WHEN a < 0 THEN -a ELSE 0 END)", "SUM(0.0)")

    monkeypatch.setattr(bench_ledger, "floor_sql", wrong)
    with pytest.raises(AssertionError):
        bench_ledger.check_same(small_ledger, ["pipeline", "floor"])


def test_import_of_spend_is_light() -> None:
    code = ("import sys, json; import helpers.spend; "
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('pyspark', 'pandera', 'polars'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_duckdb_call_imports_no_spark_pandera_or_polars(small_ledger: dict[str, str]) -> None:
    code = ("import sys, json; from helpers import spend; "
            "spend.firm_year_features(**json.loads(sys.argv[1])); "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'pyspark', 'pandera', 'polars'})))")
    args = {**small_ledger, "engine": "duckdb"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
