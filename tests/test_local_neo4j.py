"""The local Neo4j launcher, on the real embedded DBMS: start, status, stop, and its error messages."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from pydantic import SecretStr

from graph import local
from graph.config import GraphSettings, get_settings

# A DBMS of this module's own for the stop test, so the one other tests use is never stopped.
SCRATCH_PORT = 7699

remote_only = pytest.mark.skipif(
    bool(os.environ.get("CP_TEST_NEO4J_URI")), reason="tests run against a remote Neo4j (CP_TEST_NEO4J_URI)"
)


@pytest.fixture()
def scratch(tmp_path: Path) -> Iterator[GraphSettings]:
    """Settings for a throw-away home under /tmp, sharing the installed jars of the default home."""
    settings = GraphSettings(home=tmp_path / "neo4j", dist=get_settings().dist_root, bolt_port=SCRATCH_PORT,
                             heap="512m", pagecache="64m")
    yield settings
    local.stop(settings, timeout=30)


def _query(settings: GraphSettings, cypher: str, password: str | None = None) -> list[neo4j.Record]:
    auth = (settings.user, password or settings.password.get_secret_value())
    with neo4j.GraphDatabase.driver(local.status(settings).bolt_uri, auth=auth) as driver:
        return driver.execute_query(cypher, database_=settings.database).records


@remote_only
@pytest.mark.slow
def test_start_is_idempotent(neo4j_settings: GraphSettings) -> None:
    first = local.start(neo4j_settings)
    again = local.start(neo4j_settings)
    assert first.running and again.running
    assert again.pid == first.pid


@remote_only
def test_status_reports_the_running_server(neo4j_settings: GraphSettings) -> None:
    state = local.status(neo4j_settings)
    assert state.running
    assert state.version.startswith("5.26")
    assert state.bolt_uri == f"bolt://127.0.0.1:{neo4j_settings.bolt_port}"
    assert state.pid == int((neo4j_settings.home / "run" / "neo4j.pid").read_text())
    assert state.log_path.is_file()


@remote_only
def test_a_query_works_with_the_configured_credentials(neo4j_settings: GraphSettings) -> None:
    assert _query(neo4j_settings, "RETURN 1 AS one")[0]["one"] == 1


@remote_only
def test_authentication_is_enforced(neo4j_settings: GraphSettings) -> None:
    with pytest.raises(neo4j.exceptions.AuthError):
        _query(neo4j_settings, "RETURN 1", password="not-the-password")


@pytest.mark.slow
def test_stop_then_start_on_a_scratch_home(scratch: GraphSettings) -> None:
    started = local.start(scratch, timeout=180)
    assert started.running and started.version.startswith("5.26")
    assert os.getsid(started.pid) == started.pid  # its own session: outlives the caller
    assert _query(scratch, "RETURN 2 AS two")[0]["two"] == 2

    assert local.stop(scratch) is True
    state = local.status(scratch)
    assert not state.running and state.pid is None
    assert not (scratch.home / "run" / "neo4j.pid").exists()
    assert "STOPPED" in state.log_path.read_text()  # the shutdown hook ran: a clean stop
    assert local.stop(scratch) is False


@pytest.mark.slow
def test_stop_escalates_to_sigkill_after_the_timeout_and_says_so(scratch: GraphSettings) -> None:
    pid = local.start(scratch, timeout=180).pid
    said: list[str] = []
    assert local.stop(scratch, timeout=0.01, progress=said.append) is True
    assert any("SIGKILL" in line for line in said)
    assert "SIGKILL" in local.status(scratch).log_path.read_text()
    assert not local.status(scratch).running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stale_pid_files_are_cleared(scratch: GraphSettings) -> None:
    pid_file = scratch.home / "run" / "neo4j.pid"
    pid_file.parent.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    for stale in (str(gone.pid), str(os.getpid()), "not a pid"):  # dead; reused by a non-Neo4j process
        pid_file.write_text(stale)
        assert not local.status(scratch).running
        assert not pid_file.exists()
    pid_file.write_text(str(os.getpid()))
    assert local.stop(scratch) is False


def test_an_early_exit_is_reported_with_the_log_gist(scratch: GraphSettings) -> None:
    weak = scratch.model_copy(update={"password": SecretStr("short")})
    with pytest.raises(local.LocalNeo4jError) as caught:
        local.start(weak, timeout=60)
    message = str(caught.value)
    assert "exited during start" in message and "at least 8 characters" in message
    assert "\n" not in message
    assert not (scratch.home / "run" / "neo4j.pid").exists()


def test_a_port_taken_by_another_process_is_refused(scratch: GraphSettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = scratch.model_copy(update={"bolt_port": squatter.getsockname()[1]})
        with pytest.raises(local.LocalNeo4jError, match="already in use"):
            local.start(taken)


def test_prerequisites_are_present_here() -> None:
    local.check_prerequisites()


def test_missing_java_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(local.LocalNeo4jError) as caught:
        local.check_prerequisites()
    message = str(caught.value)
    assert "\n" not in message
    assert "Java 17" in message and "apt-get install openjdk-17-jre-headless" in message


def test_missing_maven_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java = shutil.which("java")
    assert java is not None
    (tmp_path / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(local.LocalNeo4jError) as caught:
        local.check_prerequisites()
    message = str(caught.value)
    assert "\n" not in message
    assert "Maven" in message and "apt-get install maven" in message
