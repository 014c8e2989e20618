"""Decommissioning on a real DBMS of its own (its own home and port): refused without the typed confirmation,
and with it, nothing left in the DBMS home but the jars, nothing in var/, and a certificate with the final audit head."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactpoint.decommission_cli import run_decommission
from graph import audit, local, schema
from graph.config import GraphSettings, get_settings
from graph.db import connect
from graph.decommission import DecommissionError
from loaders.load import load_dir
from tests.retention_world import world, write_feeds

PORT = int(os.environ.get("CP_TEST_NEO4J_PORT", "7688")) + 10  # beside the suite's own DBMS, never it

pytestmark = [pytest.mark.skipif(bool(os.environ.get("CP_TEST_NEO4J_URI")),
                                 reason="decommissioning destroys a local DBMS home; the tests run on a remote Neo4j"),
              pytest.mark.slow]  # each test installs and starts a DBMS of its own


def _install(tmp_path: Path) -> Iterator[tuple[GraphSettings, Path]]:
    """A DBMS home holding the retention world with an audit trail, and a var/ with what the project writes there."""
    settings = GraphSettings(home=tmp_path / "home", dist=get_settings().dist_root, bolt_port=PORT, heap="512m",
                             pagecache="64m")
    local.start(settings, timeout=300)
    driver = connect(settings)
    try:
        schema.apply(driver, database=settings.database)
        var = tmp_path / "var"
        feeds = write_feeds(world(), var / "demo" / "england")
        load_dir(driver, feeds, database=settings.database)  # writes var/demo/england/rejects.csv too
        with driver.session(database=settings.database) as session:
            session.execute_write(lambda tx: audit.append(
                tx, viewer=audit.Actor("cli:test", "operator"), action="card", children=["R-ADULT"],
                purpose="a look before the end", request_id="r-1"))
    finally:
        driver.close()
    for folder, name, text in [("log", "api.log", "GET /children/R-ADULT 200\n"), ("cache", "postcodes.npz", "x"),
                               ("run", "api.pid", "1\n")]:
        (var / folder).mkdir(parents=True, exist_ok=True)
        (var / folder / name).write_text(text)
    for folder, name in [("bulk-csv", "children.csv"), ("backups", "neo4j-2026-11-30.dump")]:
        (settings.home / folder).mkdir(parents=True, exist_ok=True)
        (settings.home / folder / name).write_text("C1,Reuben,Ashdown\n")
    yield settings, var
    local.stop(settings, timeout=30)


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphSettings, Path]]:
    """One installation for the module (a start takes a while): the refusals leave it as it was, and the last test
    destroys it."""
    yield from _install(tmp_path_factory.mktemp("installation"))


def _everything(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")) if root.exists() else []


def test_a_wrong_confirmation_destroys_nothing(kept: tuple[GraphSettings, Path], tmp_path: Path) -> None:
    settings, var = kept
    before = _everything(settings.home) + _everything(var)
    with pytest.raises(DecommissionError, match="nothing was destroyed"):
        run_decommission(settings, var_dir=var, certificate_path=tmp_path / "cert.json", confirm="yes")
    assert _everything(settings.home) + _everything(var) == before
    assert not (tmp_path / "cert.json").exists()
    with pytest.raises(DecommissionError, match="inside"):
        run_decommission(settings, var_dir=var, certificate_path=var / "cert.json", confirm="destroy 6 children")
    assert _everything(var) == [p for p in before if var in p.parents]


def test_the_command_asks_for_the_phrase_and_refuses_anything_else(kept: tuple[GraphSettings, Path],
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contactpoint.cli import app
    from graph import config

    settings, var = kept
    for key, value in {"CP_NEO4J_HOME": str(settings.home), "CP_NEO4J_BOLT_PORT": str(PORT),
                       "CP_NEO4J_DIST": str(settings.dist_root)}.items():
        monkeypatch.setenv(key, value)
    config.get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["decommission", "--var-dir", str(var), "--certificate",
                                        str(tmp_path / "cert.json")], input="destroy them all\n")
    finally:
        config.get_settings.cache_clear()
    assert done.exit_code == 1
    assert "Type 'destroy 6 children'" in done.output and "nothing was destroyed" in done.output
    assert (settings.home / "data" / "databases").is_dir() and (var / "demo").is_dir()


def test_decommissioning_leaves_nothing_and_certifies_it(kept: tuple[GraphSettings, Path], tmp_path: Path) -> None:
    settings, var = kept
    driver = connect(settings)
    try:
        head = audit.verify(driver, database=settings.database)
    finally:
        driver.close()
    assert head.ok and head.events >= 1
    body = run_decommission(settings, var_dir=var, certificate_path=tmp_path / "cert.json",
                            confirm="destroy 6 children")

    left = [p for p in _everything(settings.home) if settings.dist_root not in (p, *p.parents)]
    assert left == [] and _everything(var) == []
    assert not local.status(settings).running
    stored = json.loads((tmp_path / "cert.json").read_text())
    assert stored == body
    assert stored["held"]["children"] == 6 and stored["held"]["nodes"]["Child"] == 6
    assert stored["remaining"] == []
    trail = stored["audit_trail"]
    assert trail["verified_before"] is True
    assert (trail["head_seq"], trail["previous_hash"]) == (head.head_seq + 1, head.head_hash)  # the decommission event
    assert len(trail["head_hash"]) == 64
    what = {Path(d["path"]).name: d for d in stored["destroyed"]}
    assert {"data", "logs", "bulk-csv", "backups", "run", "demo", "log", "cache"} <= set(what)
    assert what["data"]["files"] > 10 and what["data"]["bytes"] > 0 and what["backups"]["files"] == 1
    assert stored["overwritten_before_deletion"] is True and "sha256" in stored
