"""The schema applies idempotently, is versioned, and enforces unique ids."""

from __future__ import annotations

import pytest
from neo4j import Driver
from neo4j.exceptions import ConstraintError

from graph import schema
from graph.config import GraphSettings


def _names(driver: Driver, database: str, what: str) -> set[str]:
    records, _, _ = driver.execute_query(f"SHOW {what} YIELD name RETURN name", database_=database)
    return {r["name"] for r in records}


def test_apply_twice_changes_nothing(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    constraints, indexes = _names(empty_db, db, "CONSTRAINTS"), _names(empty_db, db, "INDEXES")
    assert schema.apply(empty_db, database=db) == []
    assert _names(empty_db, db, "CONSTRAINTS") == constraints
    assert _names(empty_db, db, "INDEXES") == indexes
    assert schema.status(empty_db, database=db).version == schema.SCHEMA_VERSION


def test_fresh_database_gets_every_migration(driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    schema.wipe(driver, database=db)  # removes the version marker, not the indexes
    assert schema.status(driver, database=db).version is None
    assert schema.apply(driver, database=db) == sorted(schema.MIGRATIONS)
    state = schema.status(driver, database=db)
    assert state.version == schema.SCHEMA_VERSION
    names = {name for name, st, _ in state.indexes if st == "ONLINE"}
    assert {"child_names", "child_dob", "address_postcode", "child_nhs_number", "child_id"} <= names


@pytest.mark.parametrize(("label", "key"), [("Child", "id"), ("Agency", "id"), ("LocalAuthority", "code")])
def test_ids_are_unique(empty_db: Driver, neo4j_settings: GraphSettings, label: str, key: str) -> None:
    statement = {"Child": "CREATE (:Child {id: $v})", "Agency": "CREATE (:Agency {id: $v})",
                 "LocalAuthority": "CREATE (:LocalAuthority {code: $v})"}[label]
    empty_db.execute_query(statement, v="X1", database_=neo4j_settings.database)
    with pytest.raises(ConstraintError):
        empty_db.execute_query(statement, v="X1", database_=neo4j_settings.database)


def test_fulltext_finds_former_names(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    empty_db.execute_query(
        "CREATE (:Child {id: 'C1', given_name: 'Amelia', family_name: 'Okafor', former_names_text: 'Amelia Brennan'})",
        database_=db,
    )
    empty_db.execute_query("CALL db.awaitIndexes(60)", database_=db)
    records, _, _ = empty_db.execute_query(
        "CALL db.index.fulltext.queryNodes('child_names', 'brenan~') YIELD node RETURN node.id AS id", database_=db
    )
    assert [r["id"] for r in records] == ["C1"]
