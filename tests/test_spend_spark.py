"""The same ledger SQL on Spark gives the same firm-year features as DuckDB.

Needs pyspark (the project's `spark` extra) and a Java runtime (Debian's openjdk-17-jre-headless,
installed by .ci/run); without them the tests are skipped and say why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import simulate, spend, spend_spark
from helpers.errors import DataError

OK, WHY = spend_spark.available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not OK, reason=f"Spark unavailable: {WHY}")]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Path]:
    """A simulated ledger (1 % deliberately broken rows), split into a partitioned folder too."""
    root = tmp_path_factory.mktemp("spark")
    config = simulate.SimulationConfig(firms=25, ledger_rows=30_000, seed=11, bad_rows=0.01)
    ledger = simulate.write_ledger(root / "ledger.parquet", config)
    fx = root / "fx.parquet"
    simulate.fx_rates(config).to_parquet(fx, index=False)
    vendors = root / "vendors.csv"
    simulate.vendors_table().to_csv(vendors, index=False)
    folder = root / "ledger_parts"
    frame = pd.read_parquet(ledger)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        (folder / f"part={i}").mkdir(parents=True)
        frame.iloc[rows].to_parquet(folder / f"part={i}" / "data.parquet", index=False)
    return {"ledger": ledger, "folder": folder, "fx": fx, "vendors": vendors}


def _both(path: Path, sample: dict[str, Path], **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    args = {"fx": sample["fx"], "vendors": sample["vendors"], **kwargs}
    return (spend.firm_year_features(path, "duckdb", **args),
            spend.firm_year_features(path, "spark", **args))


def _assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark) > 0
    pd.testing.assert_frame_equal(duck.reset_index(drop=True), spark.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("layout", ["ledger", "folder"])
def test_spark_equals_duckdb(sample: dict[str, Path], layout: str) -> None:
    duck, spark = _both(sample[layout], sample)
    _assert_same(duck, spark)
    pd.testing.assert_frame_equal(duck.attrs["unmapped_vendors"], spark.attrs["unmapped_vendors"],
                                  check_dtype=False, rtol=1e-9)
    # the same lines are excluded for the same reasons
    d_bad = duck.attrs["bad_rows"].set_index("rule")["count"]
    s_bad = spark.attrs["bad_rows"].set_index("rule")["count"]
    assert d_bad.sum() > 0
    pd.testing.assert_series_equal(d_bad.sort_index(), s_bad.sort_index(), check_dtype=False)


def test_spark_strict_mode_raises(sample: dict[str, Path]) -> None:
    with pytest.raises(DataError) as err:
        spend.firm_year_features(sample["ledger"], "spark", fx=sample["fx"], strict=True)
    assert "ledger.parquet" in str(err.value)


def test_engine_from_configuration(sample: dict[str, Path], monkeypatch) -> None:
    monkeypatch.setenv(spend.ENGINE_ENV, "spark")
    assert spend.default_engine() == "spark"
    monkeypatch.setenv(spend.ENGINE_ENV, "nonsense")
    with pytest.raises(ValueError, match="supported engines: duckdb, spark"):
        spend.firm_year_features(sample["ledger"], fx=sample["fx"])
