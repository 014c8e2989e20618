"""The reliability suite's own DBMS (one that may be killed), a loaded England on it, tokens, real API servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

from api.config import ApiSettings
from api.security import issue_token
from graph import alerts, local, users
from graph.config import PROJECT_ROOT, GraphSettings
from graph.db import connect
from loaders.generate import DEFAULT_AS_OF
from loaders.load import load_dir
from tests.conftest import TEST_PORT, counts, fresh_db, local_dbms

# A DBMS of the suite's own, so killing it never disturbs the main test DBMS.
REL_PORT = TEST_PORT + 100
REL_HOME = PROJECT_ROOT / ".neo4j" / f"test-rel-{REL_PORT}"
BIRMINGHAM, LEEDS = users.BIRMINGHAM, users.LEEDS


def rel_graph_settings() -> GraphSettings:
    return GraphSettings(uri=f"bolt://127.0.0.1:{REL_PORT}", home=REL_HOME, dist=PROJECT_ROOT / ".neo4j" / "dist",
                         bolt_port=REL_PORT, heap="1g", pagecache="512m")


@pytest.fixture(scope="session")
def rel_settings() -> Iterator[GraphSettings]:
    """The reliability DBMS, started here (and stopped at the end if started here)."""
    if os.environ.get("CP_TEST_NEO4J_URI"):
        pytest.skip("the reliability suite kills its own local DBMS; it does not run against CP_TEST_NEO4J_URI")
    yield from local_dbms(rel_graph_settings())


@pytest.fixture(scope="session")
def rel_driver(rel_settings: GraphSettings) -> Iterator[Driver]:
    driver = connect(rel_settings)
    yield driver
    driver.close()


@dataclass(frozen=True)
class World:
    """What the tests need to know about the loaded England: some children and who may open them."""

    feeds: Path
    children: list[dict[str, str]]  # {id, given_name, family_name, dob}, unshielded, for cards and search
    birmingham: list[str]  # unshielded children held by Birmingham (network and shielding by its team)
    loaded: tuple[dict[str, int], dict[str, int]]  # node and relationship counts of a clean load of the feeds


SAMPLE = """
MATCH (c:Child {shielded: false})-[:HELD_BY]->(la:LocalAuthority)
RETURN c.id AS id, c.given_name AS given_name, c.family_name AS family_name, toString(c.dob) AS dob,
       la.code AS la ORDER BY c.id
"""


def load_england(driver: Driver, database: str, feeds: Path, rejects: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Wipe, apply the schema, load the feeds, scan for alerts and add the demo users: the demo's own steps.

    Returns the counts the clean load left, before the scan and the users.
    """
    fresh_db(driver, database)
    report = load_dir(driver, feeds, database=database, rejects_path=rejects)
    assert report.rejected == 0
    loaded = counts(driver, database)
    alerts.scan(driver, database=database, as_of=DEFAULT_AS_OF)
    with driver.session(database=database) as session:
        session.execute_write(lambda tx: users.ensure_demo_users(tx))
    return loaded


@pytest.fixture(scope="session")
def england(rel_settings: GraphSettings, rel_driver: Driver, small_england: Path,
            tmp_path_factory: pytest.TempPathFactory) -> World:
    """The generator's England (1,500 children) loaded on the reliability DBMS, scanned, with the demo users."""
    loaded = load_england(rel_driver, rel_settings.database, small_england,
                          tmp_path_factory.mktemp("rel") / "rejects.csv")
    rows, _, _ = rel_driver.execute_query(SAMPLE, database_=rel_settings.database)
    children = [{k: r[k] for k in ("id", "given_name", "family_name", "dob")} for r in rows]
    birmingham = [r["id"] for r in rows if r["la"] == BIRMINGHAM]
    assert len(children) > 1000 and len(birmingham) >= 10
    return World(small_england, children, birmingham, loaded)


def mint_tokens(driver: Driver, database: str, settings: ApiSettings | None = None) -> dict[str, dict[str, str]]:
    """A bearer header per user in the database, as sign-in would issue it (no TOTP step spent)."""
    settings = settings or ApiSettings(demo_mode=True)
    with driver.session(database=database) as session:
        everyone = session.execute_read(lambda tx: users.list_users(tx))
    now = datetime.now(timezone.utc)
    return {u.username: {"Authorization": f"Bearer {issue_token(settings, u.viewer(), now=now)[0]}"}
            for u in everyone}


@pytest.fixture()
def tokens(england: World, rel_driver: Driver, rel_settings: GraphSettings) -> dict[str, dict[str, str]]:
    """Fresh tokens for every user of the reliability database."""
    return mint_tokens(rel_driver, rel_settings.database)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    """The API as production runs it: a uvicorn process of its own, on a free loopback port, in demo mode."""

    def __init__(self, graph: GraphSettings, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**os.environ, "NEO4J_URI": graph.bolt_uri, "NEO4J_USER": graph.user,
                    "NEO4J_PASSWORD": graph.password.get_secret_value(), "NEO4J_DATABASE": graph.database,
                    "CP_API_DEMO_MODE": "true", "CP_API_HOST": "127.0.0.1", "CP_API_PORT": str(self.port), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> ApiServer:
        command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", "1", "--no-access-log"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"the API exited at start: {self.log.read_text()[-2000:]}"
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, as when the machine or the OOM killer takes it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def kill_neo4j(settings: GraphSettings) -> None:
    """SIGKILL the local DBMS's JVM (no checkpoint, no clean shutdown) and wait until it is gone.

    Gone is its port free too: a JVM's main thread shows as a zombie while its other threads still exit.
    """
    state = local.status(settings)
    assert state.running and state.pid is not None
    os.kill(state.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while local.status(settings).running or not _port_free(settings.bolt_port):
        assert time.monotonic() < deadline, "the DBMS did not die"
        time.sleep(0.05)
