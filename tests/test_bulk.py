"""The bulk path (bulk files -> neo4j-admin import -> start -> schema) gives the online loader's graph; its refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from contactpoint import bulk_cli
from graph import bulk, local, schema, users
from graph.config import PROJECT_ROOT, GraphSettings, get_settings
from graph.db import connect
from loaders.bulk import MANIFEST, write_bulk
from loaders.generate import generate
from loaders.load import load_dir
from tests.conftest import TEST_PORT

CHILDREN, SEED = 1_500, 7
# The imported store runs as a DBMS of its own beside the test DBMS.
BULK_PORT = TEST_PORT + 10

remote_only = pytest.mark.skipif(
    bool(os.environ.get("CP_TEST_NEO4J_URI")), reason="tests run against a remote Neo4j (CP_TEST_NEO4J_URI)"
)
# Owned by the API and analytics work, or by the schema itself: not written by either loader.
_NOT_LOADED = {"SchemaMeta", "User", "AuditEvent", "AuditHead", "AuditAccess", "AuditMention", "AuditCheckpoint",
               "AuditVerification", "Alert"}
_NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"
_RELATIONSHIPS = ("MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.id, a.code) AS start, "
                  "coalesce(b.id, b.code) AS end, properties(r) AS props")


def _canonical(value: Any) -> Any:
    """A value with its type, so 1 and '1', a date and its text, never compare equal."""
    if isinstance(value, list):
        return ("list", tuple(_canonical(v) for v in value))
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    return type(value).__name__, str(value)


# When a source record was received or changed, and a source registered: the moment of loading online, the
# England's day in the bulk files.
_LOAD_INSTANTS = {"received", "changed", "registered_at"}


def _graph(driver: Driver, database: str) -> tuple[list[Any], list[Any]]:
    """Every loaded node (labels, properties) and relationship (type, end keys, properties), sorted."""
    nodes = sorted((tuple(sorted(r["labels"])),
                    _canonical({k: v for k, v in r["props"].items() if k not in _LOAD_INSTANTS}))
                   for r in driver.execute_query(_NODES, database_=database).records
                   if not _NOT_LOADED & set(r["labels"]))
    rels = sorted((r["type"], r["start"], r["end"], _canonical(r["props"]))
                  for r in driver.execute_query(_RELATIONSHIPS, database_=database).records
                  if r["start"] is not None and r["end"] is not None)
    return nodes, rels


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "contactpoint", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphSettings, bulk_cli.BulkLoadReport]]:
    """A small England through the whole bulk path, running on a DBMS of its own."""
    settings = GraphSettings(home=tmp_path_factory.mktemp("bulk") / "neo4j", dist=get_settings().dist_root,
                             bolt_port=BULK_PORT, heap="512m", pagecache="128m")
    report = bulk_cli.run(settings, children=CHILDREN, seed=SEED, import_heap="512m", import_memory="512m",
                          with_demo_users=True)
    yield settings, report
    local.stop(settings, timeout=30)


@remote_only
@pytest.mark.slow
def test_the_bulk_import_is_the_online_graph(imported, empty_db: Driver, neo4j_settings: GraphSettings,
                                             tmp_path: Path) -> None:
    settings, report = imported
    generate(tmp_path, children=CHILDREN, seed=SEED, by_region=True)
    online = load_dir(empty_db, tmp_path, database=neo4j_settings.database)
    assert online.rejected == 0 and not any(r.error for r in online.results)
    online_counts = schema.status(empty_db, database=neo4j_settings.database)
    loaded = {label: n for label, n in online_counts.nodes.items() if label not in _NOT_LOADED and n}
    assert {label: report.nodes[label] for label in loaded} == loaded
    # Types other tests created in the same DBMS stay in its count store with a count of 0.
    assert report.relationships == {t: n for t, n in online_counts.relationships.items() if n}
    with connect(settings) as driver:
        assert _graph(driver, settings.database) == _graph(empty_db, neo4j_settings.database)
    assert not (settings.home / "bulk-csv").exists() and not (settings.home / "import-staging").exists()


@remote_only
@pytest.mark.slow
def test_the_schema_applies_cleanly_on_the_imported_store(imported) -> None:
    settings, report = imported
    with connect(settings) as driver:
        state = schema.status(driver, database=settings.database)
        assert schema.apply(driver, database=settings.database) == []
    assert state.version == schema.SCHEMA_VERSION
    assert state.indexes and all(s == "ONLINE" for _, s, _ in state.indexes)
    assert report.index_count == len(state.indexes) and report.schema_seconds > 0
    assert state.nodes["Child"] == CHILDREN and state.nodes["User"] == len(users.DEMO_USERS)


@remote_only
@pytest.mark.slow
def test_the_api_and_the_cli_work_on_the_imported_store(imported) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import ApiSettings
    from graph.credentials import totp_code
    from graph import users

    settings, _ = imported
    user = next(u for u in users.DEMO_USERS if u.username == "practitioner.birmingham")
    with connect(settings) as driver:
        child = driver.execute_query(
            "MATCH (c:Child {shielded: false})-[:HELD_BY]->(:LocalAuthority {code: $la}) "
            "RETURN c.id AS id, c.given_name AS given, c.family_name AS family ORDER BY c.id LIMIT 1",
            la=user.la_code, database_=settings.database).records[0]
    with TestClient(create_app(settings, ApiSettings(demo_mode=True))) as client:
        token = client.post("/auth/token", data={"username": user.username, "password": user.password,
                                                 "otp": totp_code(user.totp_secret, datetime.now(timezone.utc))})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}", "X-Purpose": "bulk load check"}
        card = client.get(f"/children/{child['id']}", headers=headers)
        assert card.status_code == 200 and card.json()["id"] == child["id"]
        found = client.get("/children/search", headers=headers,
                           params={"given_name": child["given"], "family_name": child["family"]})
        assert found.status_code == 200 and child["id"] in {c["id"] for c in found.json()["results"]}
    done = _cli("db", "status", CP_NEO4J_HOME=str(settings.home), CP_NEO4J_BOLT_PORT=str(BULK_PORT))
    assert done.returncode == 0, done.stderr
    assert "Child" in done.stdout and f"{CHILDREN:,}" in done.stdout


@remote_only
@pytest.mark.slow
def test_bulk_load_refuses_a_running_dbms(imported) -> None:
    settings, _ = imported
    line = _one_error_line(_cli("bulk-load", "--children", "10", "--home", str(settings.home),
                                "--bolt-port", str(BULK_PORT)))
    assert "Neo4j is running on" in line and "stop it first" in line


def test_bulk_load_refuses_a_home_holding_a_store_without_overwrite(tmp_path: Path) -> None:
    store = tmp_path / "home" / "data" / "databases" / "neo4j"
    store.mkdir(parents=True)
    (store / "neostore").write_bytes(b"\0" * 1024)
    line = _one_error_line(_cli("bulk-load", "--children", "10", "--home", str(tmp_path / "home"),
                                "--bolt-port", str(BULK_PORT)))
    assert "already holds database 'neo4j'" in line and "--overwrite" in line
    assert (store / "neostore").stat().st_size == 1024


def test_bulk_load_names_missing_java(tmp_path: Path) -> None:
    line = _one_error_line(_cli("bulk-load", "--children", "10", "--home", str(tmp_path / "home"),
                                PATH=str(tmp_path)))
    assert "Java 17" in line and "apt-get install" in line


def test_bulk_load_refuses_a_remote_neo4j(tmp_path: Path) -> None:
    line = _one_error_line(_cli("bulk-load", "--children", "10", NEO4J_URI="neo4j://cluster.example:7687"))
    assert "local DBMS" in line and "NEO4J_URI" in line


@pytest.mark.slow
def test_a_failed_import_leaves_the_home_as_it_was(tmp_path: Path) -> None:
    csv_dir = tmp_path / "csv"
    write_bulk(csv_dir, children=30, seed=1)
    with (csv_dir / "lived_at.csv").open("a", encoding="utf-8") as f:
        f.write("C99999999,A00000001,2020-01-01,\n")  # a child that does not exist
    settings = GraphSettings(home=tmp_path / "home", dist=get_settings().dist_root, bolt_port=BULK_PORT)
    with pytest.raises(bulk.BulkImportError) as caught:
        bulk.import_store(settings, csv_dir, heap="512m", max_off_heap="512m")
    message = str(caught.value)
    assert "\n" not in message and "C99999999" in message and "import.log" in message
    assert not bulk.store_dirs(settings)[0].exists()
    assert not (settings.home / "import-staging").exists() and not local.import_marker(settings).exists()


def test_the_dbms_will_not_start_on_an_interrupted_import(tmp_path: Path) -> None:
    settings = GraphSettings(home=tmp_path / "home", dist=get_settings().dist_root, bolt_port=BULK_PORT)
    local.import_marker(settings).parent.mkdir(parents=True)
    local.import_marker(settings).write_text("999999999 interrupted\n")
    with pytest.raises(local.LocalNeo4jError) as caught:
        local.start(settings)
    assert "bulk import" in str(caught.value) and "--overwrite" in str(caught.value)


def test_bulk_files_are_deterministic(tmp_path: Path) -> None:
    runs = {}
    for label, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_bulk(tmp_path / label, children=400, seed=seed)
        runs[label] = {p.name: p.read_bytes() for p in sorted((tmp_path / label).iterdir())}
    assert runs["a"] == runs["b"]
    assert runs["a"]["children.csv"] != runs["c"]["children.csv"]
    assert set(runs["a"]) == {g.file for g in bulk.GROUPS} | {MANIFEST}
    for group in bulk.GROUPS:
        assert runs["a"][group.file].decode().split("\n", 1)[0] == ",".join(group.header)
