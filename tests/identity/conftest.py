"""Identity in the graph: a real Neo4j, a model trained once on the synthetic sources, feed folders by hand."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph.config import GraphSettings
from graph.identity import models
from matching import model as matching_model
from tests.factories import AUTHORITIES
from tests.matching.conftest import population, trained  # noqa: F401  (fixtures shared with the matcher's tests)

NHS_A, NHS_B, NHS_C = "9434765919", "9000000009", "9434765870"  # each passes Modulus 11
LEEDS_POSTCODE = "LS6 2AB"


@pytest.fixture()
def identity_db(empty_db: Driver, neo4j_settings: GraphSettings, trained: matching_model.Model) -> Driver:
    """An empty database with the schema, the test authorities, and the trained model stored as the one in use."""
    db = neo4j_settings.database
    empty_db.execute_query("UNWIND $rows AS r MERGE (la:LocalAuthority {code: r.code}) SET la.name = r.name, "
                           "la.region = r.region, la.team_phone = '0113 496 0000', la.team_email = 'team@la.example'",
                           rows=[{"code": c, "name": n, "region": r} for c, (n, r) in AUTHORITIES.items()],
                           database_=db)
    with empty_db.session(database=db) as session:
        session.execute_write(models.store_model, model=trained)
    return empty_db


def write_feed(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """A feed file with the union of the rows' columns (blank where a row has none)."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def rejects(path: Path) -> dict[tuple[str, int], str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {(r["file"], int(r["line"])): r["reason"] for r in csv.DictReader(handle)}


def query(driver: Driver, db: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(statement, params, database_=db)
    return [dict(r) for r in records]


def person(local_id: str, source_id: str = "gp-leeds", **fields: Any) -> dict[str, Any]:
    return {"source_id": source_id, "local_id": local_id, **fields}


SOURCES = [
    {"source_id": "gp-leeds", "kind": "gp_system", "name": "Leeds GP systems", "la_code": "E08000035"},
    {"source_id": "ed-leeds", "kind": "emergency_department", "name": "Leeds General ED", "la_code": "E08000035"},
    {"source_id": "council-leeds", "kind": "council_case_system", "name": "Leeds children's social care",
     "la_code": "E08000035"},
    {"source_id": "census", "kind": "school_census", "name": "School census"},
]
