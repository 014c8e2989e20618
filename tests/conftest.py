"""Shared fixtures: a real Neo4j for the tests (never a mock), and small synthetic Englands."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from graph import local, schema
from graph.config import PROJECT_ROOT, GraphSettings
from graph.db import connect, verify

# The tests get a DBMS of their own, so they never touch the demo's data.
TEST_PORT = int(os.environ.get("CP_TEST_NEO4J_PORT", "7688"))
TEST_HOME = PROJECT_ROOT / ".neo4j" / ("test" if TEST_PORT == 7688 else f"test-{TEST_PORT}")


def _test_settings() -> GraphSettings:
    uri = os.environ.get("CP_TEST_NEO4J_URI")
    if uri:  # an existing Neo4j 5 named by the caller; it will be wiped
        return GraphSettings(uri=uri)
    return GraphSettings(uri=f"bolt://127.0.0.1:{TEST_PORT}", home=TEST_HOME, dist=PROJECT_ROOT / ".neo4j" / "dist", bolt_port=TEST_PORT,
                         heap="1g", pagecache="512m")


def local_dbms(settings: GraphSettings) -> Iterator[GraphSettings]:
    """A local test DBMS, started if it is not running, and stopped afterwards if it was started here."""
    started = not local.status(settings).running
    local.start(settings, timeout=300)
    yield settings
    if started and not os.environ.get("CP_TEST_KEEP_NEO4J"):
        local.stop(settings)


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[GraphSettings]:
    """Settings of the test DBMS, started here if it is not running (and stopped if we started it)."""
    settings = _test_settings()
    if os.environ.get("CP_TEST_NEO4J_URI"):
        yield settings
    else:
        yield from local_dbms(settings)


@pytest.fixture(scope="session")
def driver(neo4j_settings: GraphSettings) -> Iterator[Driver]:
    drv = connect(neo4j_settings)
    verify(drv, neo4j_settings)
    yield drv
    drv.close()


# Per database: the index and constraint names a full apply of the schema left, once it has run in this session.
_APPLIED: dict[str, frozenset[str]] = {}
_SCHEMA_NAMES = ("SHOW INDEXES YIELD name RETURN collect(name) AS names",
                 "SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names")
_VERSIONS = "MATCH (m:SchemaMeta) RETURN collect(m.version) AS versions"
_DELETE_RELATIONSHIPS = "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS"
_DELETE_DATA = "MATCH (n) WHERE NOT n:SchemaMeta CALL (n) { DELETE n } IN TRANSACTIONS OF 50000 ROWS"


def fresh_db(driver: Driver, database: str) -> None:
    """The database emptied, with the schema at its current version and nothing else in it.

    A full wipe and apply runs every migration again (about 2 s). When the schema is already what a full apply
    in this session left (the same version, the same index and constraint names), only the data is deleted;
    a test that changed the schema (a migration's test, an index dropped) gets the full wipe and apply.
    """
    names = _schema_names(driver, database)
    versions = driver.execute_query(_VERSIONS, database_=database).records[0]["versions"]
    if _APPLIED.get(database) == names and versions == [schema.SCHEMA_VERSION]:
        with driver.session(database=database) as session:
            session.run(_DELETE_RELATIONSHIPS).consume()
            session.run(_DELETE_DATA).consume()
        return
    schema.wipe(driver, database=database)
    schema.apply(driver, database=database)
    _APPLIED[database] = _schema_names(driver, database)


def _schema_names(driver: Driver, database: str) -> frozenset[str]:
    return frozenset(name for query in _SCHEMA_NAMES
                     for name in driver.execute_query(query, database_=database).records[0]["names"])


@pytest.fixture()
def empty_db(driver: Driver, neo4j_settings: GraphSettings) -> Driver:
    """The test database emptied, with the schema applied."""
    fresh_db(driver, neo4j_settings.database)
    return driver


@pytest.fixture(scope="session")
def small_england(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Feeds for 1,500 children, made by the real generator."""
    from loaders.generate import generate

    out = tmp_path_factory.mktemp("england-1500")
    generate(out, children=1500, seed=7)
    return out


def counts(driver: Driver, database: str) -> tuple[dict[str, int], dict[str, int]]:
    """Node counts by label and relationship counts by type."""
    state = schema.status(driver, database=database)
    return state.nodes, state.relationships


@pytest.fixture(scope="session")
def api_client(neo4j_settings: GraphSettings) -> Iterator[object]:
    """The real API app on the test database, in demo mode (demo users may sign in)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import ApiSettings

    # Tokens signed in once per session must outlive the session: a suite on a busy machine takes longer than
    # the default 15 minutes, and the later tests then saw 401s.
    app = create_app(neo4j_settings, ApiSettings(demo_mode=True, token_minutes=240))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def demo_tokens(api_client, driver: Driver, neo4j_settings: GraphSettings) -> dict[str, dict[str, str]]:
    """A bearer header per demo user, signed in once per session (a TOTP code works once)."""
    from datetime import datetime, timezone

    from graph.credentials import totp_code
    from graph import users

    schema.apply(driver, database=neo4j_settings.database)
    with driver.session(database=neo4j_settings.database) as session:
        session.execute_write(lambda tx: users.ensure_demo_users(tx))
    headers = {}
    for user in users.DEMO_USERS:
        for _ in range(2):  # a code already used in this 30 s step is refused: wait for the next one
            response = api_client.post("/auth/token", data={
                "username": user.username, "password": user.password,
                "otp": totp_code(user.totp_secret, datetime.now(timezone.utc))})
            if response.status_code == 200:
                break
            time.sleep(31 - time.time() % 30)
        assert response.status_code == 200, response.text
        headers[user.username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return headers


def restore_demo_users(driver: Driver, database: str) -> None:
    """Put the demo users back after a test wiped the database (their tokens stay valid)."""
    from graph import users

    with driver.session(database=database) as session:
        session.execute_write(lambda tx: users.ensure_demo_users(tx))
