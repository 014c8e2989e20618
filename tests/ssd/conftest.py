"""Fixtures for the SSD import: a real Neo4j with the test authorities and a matching model, imports by hand."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph.config import GraphSettings
from graph.identity import models
from loaders.ssd.importer import SsdReport, import_ssd
from matching import model as matching_model
from tests.factories import AUTHORITIES
from tests.matching.conftest import population, trained  # noqa: F401  (the matcher's session fixtures)
from tests.conftest import fresh_db


def fresh(driver: Driver, database: str, model: matching_model.Model) -> None:
    """The test database wiped, with the schema, the test authorities and the stored matching model."""
    fresh_db(driver, database)
    driver.execute_query("UNWIND $rows AS r MERGE (la:LocalAuthority {code: r.code}) SET la.name = r.name, "
                         "la.region = r.region, la.team_phone = '0113 496 0000', la.team_email = 'team@la.example'",
                         rows=[{"code": c, "name": n, "region": r} for c, (n, r) in AUTHORITIES.items()],
                         database_=database)
    with driver.session(database=database) as session:
        session.execute_write(models.store_model, model=model)


def run(driver: Driver, settings: GraphSettings, folder: Path, la_code: str) -> SsdReport:
    return import_ssd(driver, folder, la_code=la_code, database=settings.database, batch_size=3)


def rejects(path: Path) -> dict[tuple[str, int], str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {(r["file"], int(r["line"])): r["reason"] for r in csv.DictReader(handle)}


def query(driver: Driver, settings: GraphSettings, statement: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(statement, params, database_=settings.database)
    return [dict(r) for r in records]


# Everything the graph holds, as comparable text: every node and relationship with its properties (less the
# stamps a write or a matching run leaves), so an import that changes nothing leaves it equal.
SNAPSHOT = """
CALL () {
  MATCH (n) WHERE NOT (n:AuditEvent OR n:MatchRun OR n:MatchModel OR n:Sequence)
  RETURN labels(n)[0] + ' ' + coalesce(n.id, n.key, n.code, '') AS item, properties(n) AS props
  UNION ALL
  MATCH (a)-[r]->(b) WHERE NOT (a:AuditEvent OR b:AuditEvent OR a:MatchRun OR b:MatchRun OR a:MatchModel)
  RETURN type(r) + ' ' + coalesce(a.id, a.key, a.code, '') + ' ' + coalesce(b.id, b.key, b.code, '') AS item,
         properties(r) AS props
}
RETURN item, props
"""
STAMPS = {"received", "registered_at", "match_run", "created_at"}


def snapshot(driver: Driver, settings: GraphSettings, where: str = "") -> list[tuple[str, list[str]]]:
    """The graph (or what mentions `where`) as sorted (item, properties) pairs."""
    out = []
    for row in query(driver, settings, SNAPSHOT):
        props = sorted(f"{k}={v}" for k, v in row["props"].items() if k not in STAMPS)
        if where in row["item"] or any(where in p for p in props):
            out.append((row["item"], props))
    return sorted(out)


@pytest.fixture(scope="module")
def ssd_db(driver: Driver, neo4j_settings: GraphSettings, trained: matching_model.Model) -> Driver:  # noqa: F811
    fresh(driver, neo4j_settings.database, trained)
    return driver
