"""Fixtures for the matcher: a model trained once on a small synthetic population, record builders."""

from __future__ import annotations

import pandas as pd
import pytest

from loaders.synth import sources
from matching import model as matching_model
from matching import records

CHILDREN = 3000
SEED = 5


@pytest.fixture(scope="session")
def population() -> sources.Sources:
    return sources.build(CHILDREN, SEED)


@pytest.fixture(scope="session")
def trained(population: sources.Sources) -> matching_model.Model:
    prepared = records.prepare(population.records)
    return matching_model.train(prepared.records, con=matching_model.connect(threads=1, memory_limit="1GB"))


@pytest.fixture()
def con():
    connection = matching_model.connect(threads=1, memory_limit="1GB")
    yield connection
    connection.close()


def person(local_id: str, source_id: str = "gp-E09000001", **fields) -> dict:
    """One person record as a source sends it; unspecified fields are blank."""
    row = {c: "" for c in records.COLUMNS}
    row.update(record_key=f"{source_id}|{local_id}", source_id=source_id, source_kind="gp_system", local_id=local_id)
    row.update(fields)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))
