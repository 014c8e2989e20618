"""The same trained model on Spark (local PySpark, Splink's similarity UDF jar) and on DuckDB: same pairs,
same match weights. Spark is how the national run (11M children, ~35M records) would go."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from matching import model as matching_model
from matching.records import prepare

pyspark = pytest.importorskip("pyspark")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: Spark needs Java 17 or 21")
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    session = (SparkSession.builder.master("local[1]").appName("contactpoint-matching-test")
               .config("spark.jars", similarity_jar_location())
               .config("spark.driver.memory", "1g")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("spark-checkpoints")))
    yield session
    session.stop()


def _predict(link) -> pd.DataFrame:
    out = link.inference.predict(warning_mode="never").as_pandas_dataframe()
    key = out.apply(lambda r: tuple(sorted((r["record_key_l"], r["record_key_r"]))), axis=1)
    return pd.DataFrame({"pair": key, "weight": out["match_weight"].astype(float)}).set_index("pair").sort_index()


def test_spark_and_duckdb_give_the_same_predictions(population, trained, spark):
    from splink import DuckDBAPI, SparkAPI

    sample = population.records[population.truth["child_id"].isin(sorted(population.truth["child_id"].unique())[:150])]
    prepared = prepare(sample).records
    assert 300 <= len(prepared) <= 600
    duck = _predict(matching_model.linker(prepared, trained, DuckDBAPI(matching_model.connect(threads=1))))
    sparked = _predict(matching_model.linker(prepared, trained, SparkAPI(spark_session=spark)))
    assert len(duck) > 100
    assert list(sparked.index) == list(duck.index)
    assert (sparked["weight"] - duck["weight"]).abs().max() < 1e-6
