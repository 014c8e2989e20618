"""Shared fixtures: a real Neo4j for the tests (never a mock), and small synthetic Englands."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[GraphSettings]:
    """Settings of the test DBMS, started here if it is not running (and stopped if we started it)."""
    settings = _test_settings()
    started = False
    if not os.environ.get("CP_TEST_NEO4J_URI"):
        started = not local.status(settings).running
        local.start(settings, timeout=300)
    yield settings
    if started and not os.environ.get("CP_TEST_KEEP_NEO4J"):
        local.stop(settings)


@pytest.fixture(scope="session")
def driver(neo4j_settings: GraphSettings) -> Iterator[Driver]:
    drv = connect(neo4j_settings)
    verify(drv, neo4j_settings)
    yield drv
    drv.close()


@pytest.fixture()
def empty_db(driver: Driver, neo4j_settings: GraphSettings) -> Driver:
    """The test database emptied, with the schema applied."""
    schema.wipe(driver, database=neo4j_settings.database)
    schema.apply(driver, database=neo4j_settings.database)
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
