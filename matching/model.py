"""The Splink (Fellegi-Sunter) model: its comparisons and blocking rules, training, storage and charts.

Splink 5 on DuckDB in-process. Tables are registered with the database API before a Linker takes them;
DuckDB is given an explicit thread and memory limit because the machine is shared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from matching.records import MODEL_COLUMNS

SPLINK_LOG_LEVEL = logging.WARNING
ARRAY_COLUMNS = ("given_relatives", "name_tokens", "family_names")

# Candidate pairs: each rule joins on equal keys, so the pairs grow with the records per key value,
# not with the square of the population. Together they catch a typo in any one field, a changed family
# name, a move (stale postcode) and a missing identifier.
PREDICTION_RULES = (
    block_on("nhs_valid"),
    block_on("upn_valid"),
    block_on("dob_str", "postcode_district"),
    block_on("dob_str", "given"),
    block_on("dob_str", "family"),
    block_on("given", "family", "substr(dob_str, 1, 4)"),
    block_on("given", "family", "postcode_district"),
    block_on("given", "postcode_full"),
)
# EM sessions: each fixes some fields by blocking on them and estimates the m values of the rest.
TRAINING_RULES = (
    block_on("dob_str", "postcode_district"),
    block_on("given", "family", "substr(dob_str, 1, 4)"),
)
# Rules that admit almost no false matches, to estimate how often two random records are one child,
# and the share of true matches they are assumed to find (an assumption: NHS number completeness).
DETERMINISTIC_RULES = (block_on("nhs_valid"), block_on("given", "family", "dob_str", "postcode_full"))
DETERMINISTIC_RECALL = 0.8
U_MAX_PAIRS = 5e6
EM_MAX_PAIRS = 2e6
TRAIN_SEED = 20100806


def connect(threads: int = 2, memory_limit: str = "8GB", temp_dir: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a thread and memory limit (DuckDB takes every core by default)."""
    config = {"threads": threads, "memory_limit": memory_limit, "preserve_insertion_order": False}
    if temp_dir:
        config["temp_directory"] = temp_dir
    return duckdb.connect(":memory:", config=config)


def _given() -> cl.CustomComparison:
    return cl.CustomComparison(output_column_name="given_name", comparison_description="given name", comparison_levels=[
        cll.NullLevel("given"),
        cll.ExactMatchLevel("given", term_frequency_adjustments=True),
        cll.CustomLevel("array_contains(given_relatives_l, given_r)", "nickname of each other"),
        cll.DamerauLevenshteinLevel("given", 1),
        cll.JaroWinklerLevel("given", 0.9),
        cll.CustomLevel("array_contains(name_tokens_l, given_r) OR array_contains(name_tokens_r, given_l)",
                        "among the other's names"),
        cll.JaroWinklerLevel("given", 0.75),
        cll.ElseLevel(),
    ])


def _family() -> cl.CustomComparison:
    return cl.CustomComparison(output_column_name="family_name", comparison_description="family name",
                               comparison_levels=[
        cll.NullLevel("family"),
        cll.ExactMatchLevel("family", term_frequency_adjustments=True),
        cll.DamerauLevenshteinLevel("family", 1),
        cll.ArrayIntersectLevel("family_names", 1).configure(label_for_charts="shares a family name (hyphen part or former)"),
        cll.JaroWinklerLevel("family", 0.9),
        cll.JaroWinklerLevel("family", 0.75),
        cll.ElseLevel(),
    ])


def _dob() -> cl.CustomComparison:
    swap = ("substr(dob_str_l, 1, 4) = substr(dob_str_r, 1, 4) AND substr(dob_str_l, 6, 2) = substr(dob_str_r, 9, 2)"
            " AND substr(dob_str_l, 9, 2) = substr(dob_str_r, 6, 2)")
    return cl.CustomComparison(output_column_name="dob", comparison_description="date of birth", comparison_levels=[
        cll.NullLevel("dob_str"),
        cll.ExactMatchLevel("dob_str"),
        cll.CustomLevel(swap, "day and month swapped"),
        cll.DamerauLevenshteinLevel("dob_str", 1).configure(label_for_charts="one digit different or swapped"),
        cll.CustomLevel("substr(dob_str_l, 1, 7) = substr(dob_str_r, 1, 7)", "same year and month"),
        cll.CustomLevel("substr(dob_str_l, 1, 4) = substr(dob_str_r, 1, 4)", "same year"),
        cll.ElseLevel(),
    ])


def _postcode() -> cl.CustomComparison:
    return cl.CustomComparison(output_column_name="postcode", comparison_description="postcode", comparison_levels=[
        cll.NullLevel("postcode_full"),
        cll.ExactMatchLevel("postcode_full"),
        cll.ExactMatchLevel("postcode_sector").configure(label_for_charts="same sector"),
        cll.ExactMatchLevel("postcode_district").configure(label_for_charts="same district"),
        cll.ElseLevel(),
    ])


def _identifiers() -> cl.CustomComparison:
    none = "(nhs_valid_l IS NULL OR nhs_valid_r IS NULL) AND (upn_valid_l IS NULL OR upn_valid_r IS NULL)"
    # A council's person id names a child only within that council's own system, so it is not compared.
    return cl.CustomComparison(output_column_name="identifiers", comparison_description="NHS number, UPN",
                               comparison_levels=[
        cll.CustomLevel(none, "nothing to compare").configure(is_null_level=True),
        cll.CustomLevel("nhs_valid_l <> nhs_valid_r", "different NHS numbers"),
        cll.CustomLevel("nhs_valid_l = nhs_valid_r", "same NHS number"),
        cll.CustomLevel("upn_valid_l = upn_valid_r", "same UPN"),
        cll.ElseLevel().configure(label_for_charts="different UPNs"),
    ])


def settings() -> SettingsCreator:
    """The untrained model: six comparisons, the prediction blocking rules, record_key as the id."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            _given(), _family(), _dob(), _postcode(),
            cl.ExactMatch("sex_norm").configure(term_frequency_adjustments=False),
            _identifiers(),
        ],
        blocking_rules_to_generate_predictions=list(PREDICTION_RULES),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )


@dataclass(frozen=True)
class Model:
    """A trained model: Splink's settings with its m and u values, and a version naming this training."""

    settings: dict[str, Any]
    version: str
    trained_at: str  # UTC, ISO 8601 with Z
    trained_on: int  # records
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prior_match_weight(self) -> float:
        """log2 of the prior odds that two random records are one child (the waterfall's first bar)."""
        import math

        p = float(self.settings["probability_two_random_records_match"])
        return math.log2(p / (1 - p))


def as_table(records: pd.DataFrame) -> pa.Table:
    """The columns the model reads, as an Arrow table (lists stay lists) for DuckDB or Spark."""
    cols = ["record_key", *MODEL_COLUMNS]
    frame = records[cols]
    fields = [pa.field(c, pa.list_(pa.string()) if c in ARRAY_COLUMNS else pa.string()) for c in cols]
    return pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)


def linker(records: pd.DataFrame | pa.Table, model: Model | SettingsCreator | dict, db: DuckDBAPI | Any,
           name: str = "records") -> Linker:
    """A Linker over prepared records registered with ``db`` (DuckDB or Spark)."""
    table = as_table(records) if isinstance(records, pd.DataFrame) else records
    if type(db).__name__ == "SparkAPI":
        from pyspark.sql.types import ArrayType, StringType, StructField, StructType

        schema = StructType([StructField(f.name, ArrayType(StringType()) if f.name in ARRAY_COLUMNS else StringType())
                             for f in table.schema])
        table = db.spark.createDataFrame(table.to_pandas(), schema=schema)
    frame = db.register(table, table_name=name)
    spec = model.settings if isinstance(model, Model) else model
    if isinstance(spec, dict):
        spec = json.loads(json.dumps(spec))  # the Linker may annotate the dict it is given
        if type(db).__name__ == "SparkAPI":
            spec = for_spark(spec)
    return Linker(frame, spec, log_level=SPLINK_LOG_LEVEL)


def for_spark(spec: dict[str, Any]) -> dict[str, Any]:
    """A trained model's settings for Spark: the same comparisons written in Spark SQL (Splink's creators
    render each dialect), with the trained prior and m and u values copied level by level.

    Raises:
        ValueError: the saved model's comparisons are not the ones this code defines (retrain it).
    """
    out = settings().get_settings("spark").as_dict()
    out["probability_two_random_records_match"] = spec["probability_two_random_records_match"]
    if [len(c["comparison_levels"]) for c in out["comparisons"]] != \
            [len(c["comparison_levels"]) for c in spec["comparisons"]]:
        raise ValueError("the saved model's comparisons differ from matching.model's: retrain it")
    for new, old in zip(out["comparisons"], spec["comparisons"]):
        for level_new, level_old in zip(new["comparison_levels"], old["comparison_levels"]):
            for key in ("m_probability", "u_probability"):
                if key in level_old:
                    level_new[key] = level_old[key]
    return out


def train(records: pd.DataFrame, *, con: duckdb.DuckDBPyConnection | None = None, seed: int = TRAIN_SEED) -> Model:
    """Train unsupervised on the loaded population: the prior from near-certain rules, u by random
    sampling, m by expectation maximisation over two blocking rules. Returns a versioned Model."""
    db = DuckDBAPI(con or connect())
    link = linker(records, settings(), db, name="training_records")
    link.training.estimate_probability_two_random_records_match(list(DETERMINISTIC_RULES),
                                                                recall=DETERMINISTIC_RECALL)
    link.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    for rule in TRAINING_RULES:
        link.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_MAX_PAIRS)
    spec = link.misc.save_model_to_json()
    spec.pop("linker_uid", None)
    trained_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Model(settings=spec, version=version_of(spec, trained_at), trained_at=trained_at,
                 trained_on=len(records), meta={"term_frequencies": term_frequencies(records, spec)})


def tf_columns(spec: dict[str, Any]) -> list[str]:
    """The columns whose exact matches are adjusted for how common the value is (given and family name)."""
    cols: list[str] = []
    for comp in spec["comparisons"]:
        for level in comp["comparison_levels"]:
            col = level.get("tf_adjustment_column")
            if col and col not in cols:
                cols.append(col)
    return cols


def term_frequencies(records: pd.DataFrame, spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """How often each value of each term-frequency column occurs in a population of prepared records.

    Kept with the model, so a batch matched against only its candidates is weighed as against the whole
    population (a batch's candidates share its names, so their own frequencies would be far too high).
    Values seen once are left out: a value not listed counts as seen once.
    """
    out = {}
    for col in tf_columns(spec):
        values = records[col].dropna()
        values = values[values != ""]
        counts = values.value_counts()
        out[col] = {"total": int(len(values)), "counts": {str(k): int(v) for k, v in counts[counts > 1].items()}}
    return out


def tf_tables(model: Model, values: dict[str, pd.Series]) -> dict[str, pd.DataFrame] | None:
    """Splink term-frequency lookups (value, tf_value) for the given values, from the model's population;
    None when the model carries no frequencies (a model saved before they were kept)."""
    stored = model.meta.get("term_frequencies")
    if not stored:
        return None
    tables = {}
    for col, freq in stored.items():
        total = max(int(freq["total"]), 1)
        counts = freq["counts"]
        distinct = pd.Series(values.get(col, pd.Series(dtype=object))).dropna().unique()
        tables[col] = pd.DataFrame({col: distinct.astype(object),
                                    f"tf_{col}": [counts.get(str(v), 1) / total for v in distinct]})
    return tables


def to_json(model: Model) -> str:
    """The model as one JSON document (what ``save`` writes and the graph stores)."""
    doc = {"version": model.version, "trained_at": model.trained_at, "trained_on": model.trained_on,
           "meta": model.meta, "splink_settings": model.settings}
    return json.dumps(doc, indent=2) + "\n"


def from_json(text: str, origin: str = "model") -> Model:
    """A model from its JSON document; its version is checked against its content.

    Raises:
        ValueError: the text is not a saved model, or its content does not match its version.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{origin}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or "splink_settings" not in doc or "version" not in doc:
        raise ValueError(f"{origin}: not a saved matching model")
    model = Model(settings=doc["splink_settings"], version=doc["version"], trained_at=doc["trained_at"],
                  trained_on=int(doc.get("trained_on", 0)), meta=doc.get("meta", {}))
    if version_of(model.settings, model.trained_at) != model.version:
        raise ValueError(f"{origin}: the model's content does not match its version {model.version}")
    return model


def version_of(spec: dict[str, Any], trained_at: str) -> str:
    """A version string: the training time and a hash of the model's content (same model, same hash)."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return f"{trained_at.replace('-', '').replace(':', '')}-{digest}"


def save(model: Model, path: Path) -> Path:
    """Write the model as JSON (atomically: a reader never sees half a model)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(to_json(model), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load(path: Path) -> Model:
    """Read a saved model; its version is checked against its content.

    Raises:
        ValueError: the file is not a saved model, or its content does not match its version.
    """
    return from_json(Path(path).read_text(encoding="utf-8"), str(path))


def report(model: Model, path: Path) -> Path:
    """Write Splink's own charts of the model (match weights, m and u values) into one HTML file that
    opens offline: the chart libraries are inlined, nothing is fetched from a CDN."""
    from splink.internals.html_utils import chart_html

    blank = pd.DataFrame([{"record_key": "x", **{c: None for c in MODEL_COLUMNS}}])
    for col in ARRAY_COLUMNS:
        blank[col] = [[]]
    db = DuckDBAPI(connect(threads=1, memory_limit="1GB"))
    link = linker(blank, model, db, name="report_records")
    charts = [("Match weights of each comparison level", link.visualisations.match_weights_chart()),
              ("m and u values", link.visualisations.m_u_parameters_chart())]
    body = [f"<h1>Matching model {model.version}</h1>",
            f"<p>Trained {model.trained_at} on {model.trained_on:,} records. Prior match weight "
            f"{model.prior_match_weight:.2f} (log2 odds that two random records are one child).</p>"]
    for title, chart in charts:
        body.append(f"<h2>{title}</h2>")
        body.append(chart_html(chart.chart_dict, inline=True, fullhtml=False))
    html = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Matching model '
            f"{model.version}</title></head><body>" + "\n".join(body) + "</body></html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
