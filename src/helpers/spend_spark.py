"""The Spark engine for :func:`helpers.spend.firm_year_features`: the same SQL file, run by Spark.

Nothing here re-states the transformation: it registers the same input views that the DuckDB
engine registers (``ledger``, ``fx_rates`` with the as-of rule applied, ``vendors``), creates the
views of ``helpers/sql/ledger_features.sql`` in order with ``spark.sql(...)``, and brings back the
small summary tables. The ledger is read by Spark executors, never by pandas.

Which Spark: the active session if the caller (or ``spark-submit``) created one — that is how to
run on a cluster — else a local session (``local[*]``) or the master named by the
``DISCONNECT_LAB_SPARK_MASTER`` environment variable. Requires ``pyspark`` (the ``spark`` extra)
and a Java runtime (Java 17 or later for Spark 4).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pandas as pd


MASTER_ENV = "DISCONNECT_LAB_SPARK_MASTER"


def available() -> tuple[bool, str]:
    """Whether Spark can run here, and why not (for skips and error messages)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False, "pyspark is not installed (pip install -e '.[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return False, "no Java runtime found (install Debian's openjdk-17-jre-headless)"
    return True, ""


def session() -> Any:
    """The active Spark session, or a new one on ``DISCONNECT_LAB_SPARK_MASTER`` / ``local[*]``."""
    ok, why = available()
    if not ok:
        raise RuntimeError(f"the spark engine cannot run: {why}")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    cores = max(1, len(os.sched_getaffinity(0)))
    return (SparkSession.builder
            .master(os.environ.get(MASTER_ENV, "local[*]"))
            .appName("disconnect-lab-spend")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(2 * cores))
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def ident(name: str) -> str:
    """A column name quoted for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def _read_ledger(spark: Any, source: Any, view_columns: list[tuple[str, str]],
                 delimiter: str | None = None) -> Any:
    """The ledger files as a Spark DataFrame with the engine-neutral, typed column set.

    ``view_columns`` are the ``ledger`` view's (SQL expression, name) pairs from
    :func:`helpers.spend.ledger_view_columns`: the same typing (dates and amounts converted
    from the ledger's own forms, :mod:`helpers.ledger_types`) as the DuckDB engine, in Spark
    SQL. CSV files are read as text, as DuckDB reads them, split at ``delimiter`` (the one
    DuckDB's sniffer found).
    """
    from pyspark.sql import functions as F

    reader = spark.read
    if source.root.is_dir():
        reader = reader.option("basePath", str(source.root))  # hive partitions become columns
    frame = (reader.parquet(*source.files) if source.format == "parquet"
             else reader.option("header", "true").option("sep", delimiter or ",")
             .csv(list(source.files)))
    selected = [F.expr(sql).alias(name) for sql, name in view_columns]
    return frame.select(*selected, F.col("_metadata.file_path").alias("source_file"),
                        F.lit(None).cast("bigint").alias("source_row"))


def run(source: Any, fx: pd.DataFrame, vendors: pd.DataFrame, sections: list[tuple[str, str]],
        view_columns: list[tuple[str, str]], has_bad_lines: Any, delimiter: str | None = None
        ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Create the SQL views in Spark and return (summary, bad-line examples or None).

    ``fx`` is the ``fx_rates`` input (:func:`helpers.spend.fx_rates`: currency, month_index,
    rate into the reporting currency, as-of rule applied)."""
    spark = session()
    _read_ledger(spark, source, view_columns, delimiter).createOrReplaceTempView("ledger")
    spark.createDataFrame(fx.astype({"currency": "str", "month_index": "int64",
                                     "rate": "float64"}),
                          schema="currency string, month_index bigint, rate double"
                          ).createOrReplaceTempView("fx_rates")
    spark.createDataFrame(vendors.astype(str), schema="vendor_key string, vendor_category string"
                          ).createOrReplaceTempView("vendors")
    for name, sql in sections:
        spark.sql(sql).createOrReplaceTempView(name)
    summary = spark.sql("SELECT * FROM ledger_summary").toPandas()
    bad = spark.sql("SELECT * FROM ledger_bad_lines").toPandas() if has_bad_lines(summary) else None
    return summary, bad
