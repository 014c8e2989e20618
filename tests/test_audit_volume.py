"""The audit trail at national volume, on real Neo4j (small): a child's last accesses by index seek, incremental
verification from the last verified point, and verification in the background, never inside a request."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from contactpoint.audit_cli import audit_app
from graph import audit
from graph.audit import queries, runs
from graph.config import GraphSettings, get_settings
from graph.viewer import Role, Viewer

GP = Viewer(user_id="u-gp", role=Role.PRACTITIONER, la_code="E09000001", agency_id="AG-GP")
EDIT = "MATCH (e:AuditEvent {seq: $seq}) SET e += $props"
# The view as it was before the index: a scan of the trail, newest first (the reference the index must match).
SCANNED = """
MATCH (e:AuditEvent) WHERE $child_id IN e.children
RETURN e.seq AS seq ORDER BY e.seq DESC LIMIT $limit
"""


@pytest.fixture()
def db(neo4j_settings: GraphSettings) -> str:
    return neo4j_settings.database


def _append(driver: Driver, db: str, children: Sequence[str], n: int = 1) -> list[int]:
    with driver.session(database=db) as session:
        return [session.execute_write(lambda tx, i=i: audit.append(
            tx, viewer=GP, action="card", children=list(children), purpose="triage", request_id=f"r{i}")).seq
            for i in range(n)]


def _run(driver: Driver, db: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(statement, params, database_=db)
    return [dict(r) for r in records]


# -- a child's last accesses ---------------------------------------------------------------------------------


def _operators(plan: Any) -> Iterator[tuple[str, str]]:
    yield plan["operatorType"], plan.get("args", {}).get("Details", "")
    for child in plan.get("children", []):
        yield from _operators(child)


def test_last_accesses_seek_the_childs_index_entries_and_never_scan_the_trail(empty_db: Driver, db: str) -> None:
    """A structural check on the plan (not a timing): index seeks only, on the child's entries and on the events."""
    with empty_db.session(database=db) as session:
        plan = session.run("EXPLAIN " + queries.LAST_ACCESSES, child_id="C1", limit=25).consume().plan
    ops = list(_operators(plan))
    names = [name.split("@")[0] for name, _ in ops]
    assert not [n for n in names if "Scan" in n], names
    assert any("IndexSeek" in n and "AuditAccess" in d for n, d in ops), ops
    assert any("IndexSeek" in n and "AuditEvent" in d for n, d in ops), ops


def test_last_accesses_are_the_25_the_scan_found(empty_db: Driver, db: str) -> None:
    _append(empty_db, db, ["C1"], 10)
    _append(empty_db, db, ["C2", "C1", "C1"], 12)  # a child named twice in one event is one access
    _append(empty_db, db, ["C2"], 5)
    _append(empty_db, db, [], 2)
    _append(empty_db, db, ["C1", "C3"], 8)
    with empty_db.session(database=db) as session:
        for child, limit in (("C1", 25), ("C2", 25), ("C3", 25), ("C1", 3), ("C9", 25)):
            found = [a.seq for a in session.execute_read(audit.last_accesses, child_id=child, limit=limit)]
            assert found == [r["seq"] for r in _run(empty_db, db, SCANNED, child_id=child, limit=limit)], child
        assert len(session.execute_read(audit.last_accesses, child_id="C1")) == 25


def test_an_index_entry_planted_for_another_child_shows_nothing(empty_db: Driver, db: str) -> None:
    [seq] = _append(empty_db, db, ["C1"])
    _run(empty_db, db, "CREATE (:AuditAccess {child_id: 'C2', seq: $seq})", seq=seq)
    with empty_db.session(database=db) as session:
        assert session.execute_read(audit.last_accesses, child_id="C2") == []


def test_an_index_entry_removed_is_found_by_verify(empty_db: Driver, db: str) -> None:
    seqs = _append(empty_db, db, ["C1", "C2"], 3)
    _run(empty_db, db, "MATCH (a:AuditAccess {child_id: 'C2', seq: $seq}) DELETE a", seq=seqs[1])
    result = audit.verify(empty_db, database=db)
    assert (result.ok, result.kind, result.seq) == (False, "unindexed", seqs[1])


# -- incremental verification --------------------------------------------------------------------------------


@pytest.fixture()
def checked(empty_db: Driver, db: str) -> Driver:
    """30 events, verified in full with the checkpoint recorded at seq 30, then 10 more."""
    _append(empty_db, db, ["C1"], 30)
    first = audit.verify(empty_db, database=db, record=True)
    assert (first.ok, first.mode, first.events) == (True, "full", 30)
    _append(empty_db, db, ["C2"], 10)
    return empty_db


def test_an_incremental_run_picks_up_from_the_checkpoint(checked: Driver, db: str) -> None:
    seen: list[tuple[int, int]] = []
    result = audit.verify(checked, database=db, incremental=True, record=True, batch=4,
                          progress=lambda done, total: seen.append((done, total)))
    assert (result.ok, result.mode, result.from_seq, result.events, result.head_seq) == (
        True, "incremental", 30, 10, 40), result.problem
    assert seen[0] == (34, 40) and seen[-1] == (40, 40)
    with checked.session(database=db) as session:
        assert session.execute_read(audit.read_checkpoint).seq == 40
    again = audit.verify(checked, database=db, incremental=True)
    assert (again.ok, again.events, again.from_seq) == (True, 0, 40)


def test_a_tamper_after_the_checkpoint_is_found_by_an_incremental_run(checked: Driver, db: str) -> None:
    _run(checked, db, EDIT, seq=35, props={"purpose": "curiosity"})
    result = audit.verify(checked, database=db, incremental=True)
    assert (result.ok, result.kind, result.seq) == (False, "edited", 35)


def test_a_tamper_before_the_checkpoint_is_found_only_by_a_full_run(checked: Driver, db: str) -> None:
    """As documented: an incremental run reads only what came after the last verified point."""
    _run(checked, db, EDIT, seq=12, props={"purpose": "curiosity"})
    assert audit.verify(checked, database=db, incremental=True).ok
    full = audit.verify(checked, database=db)
    assert (full.ok, full.kind, full.seq) == (False, "edited", 12)


def test_the_checkpoint_event_rewritten_is_found_by_an_incremental_run(checked: Driver, db: str) -> None:
    _run(checked, db, EDIT, seq=30, props={"hash": "f" * 64})
    result = audit.verify(checked, database=db, incremental=True)
    assert (result.ok, result.kind, result.seq) == (False, "edited", 30)
    assert "run a full verification" in result.problem


def test_events_removed_from_the_end_below_the_checkpoint_are_found(checked: Driver, db: str) -> None:
    _run(checked, db, "MATCH (e:AuditEvent) WHERE e.seq > 25 DETACH DELETE e")
    _run(checked, db, "MATCH (h:AuditHead) SET h.seq = 25, h.hash = 'x'")
    result = audit.verify(checked, database=db, incremental=True)
    assert (result.ok, result.kind) == (False, "truncated")


def test_an_incremental_run_rechecks_events_redacted_since_the_checkpoint(checked: Driver, db: str) -> None:
    audit.redact_child(checked, database=db, child_id="C1", reason="destroyed", authority="run-1")
    result = audit.verify(checked, database=db, incremental=True, record=True)
    assert (result.ok, result.rechecked, result.redacted) == (True, 30, {"destroyed": 30}), result.problem
    _append(checked, db, ["C2"])
    # A redacted event before the checkpoint edited later: the rechecks of a later incremental run catch it only
    # while its run is after the checkpoint; this one's is not, so it is the full run's to find.
    _run(checked, db, EDIT, seq=7, props={"payload_digest": "0" * 64})
    assert audit.verify(checked, database=db, incremental=True).ok
    full = audit.verify(checked, database=db)
    assert (full.ok, full.kind, full.seq) == (False, "edited", 7)


def test_a_redaction_after_the_checkpoint_whose_event_was_then_edited_is_found(checked: Driver, db: str) -> None:
    audit.redact_child(checked, database=db, child_id="C1", reason="destroyed", authority="run-1")
    _run(checked, db, EDIT, seq=7, props={"user_id": "u-someone-else"})
    result = audit.verify(checked, database=db, incremental=True)
    assert (result.ok, result.kind, result.seq) == (False, "edited", 7)


# -- in the background ----------------------------------------------------------------------------------------

LOCK_RESULT = "MERGE (v:AuditVerification {id: 'latest'}) SET v._held = true REMOVE v._held"
OTHER_RUN = """
MERGE (v:AuditVerification {id: 'latest'})
SET v.state = 'running', v.run_id = 'elsewhere', v.mode = 'full', v.by = 'another process', v.started_at = datetime(),
    v.heartbeat_at = datetime() - duration({seconds: $age}), v.done = 5, v.total = 40
"""


def test_a_run_stores_its_progress_and_result_for_anyone_to_read(checked: Driver, db: str) -> None:
    verifier = audit.Verifier(checked, database=db, batch=4, beat_seconds=0)
    assert verifier.start(by="u-auditor")
    verifier.wait(60)
    with checked.session(database=db) as session:
        state = session.execute_read(audit.status)
    assert (state.state, state.running, state.checkpoint["seq"]) == ("idle", None, 40)
    assert {k: state.last[k] for k in ("ok", "mode", "from_seq", "events")} == {
        "ok": True, "mode": "incremental", "from_seq": 30, "events": 10}
    verifier.close()
    assert not verifier.start()  # closed


def test_only_one_run_at_a_time_and_a_dead_ones_lease_is_taken_over(checked: Driver, db: str) -> None:
    _run(checked, db, OTHER_RUN, age=0)
    with pytest.raises(audit.Busy):
        runs.run(checked, database=db, full=True, by="u-auditor")
    with checked.session(database=db) as session:
        state = session.execute_read(audit.status)
    assert (state.state, state.running["by"], state.running["done"]) == ("running", "another process", 5)
    _run(checked, db, OTHER_RUN, age=runs.STALE_SECONDS + 1)  # its process stopped beating
    result = runs.run(checked, database=db, full=True, by="u-auditor")
    assert (result.ok, result.mode, result.events) == (True, "full", 40)


@pytest.fixture()
def auditor(api_client: Any, demo_tokens: Any, empty_db: Driver,
            neo4j_settings: GraphSettings) -> Iterator[dict[str, str]]:
    from tests.conftest import restore_demo_users

    restore_demo_users(empty_db, neo4j_settings.database)
    yield demo_tokens["auditor.birmingham"]
    api_client.app.state.verifier.wait(60)  # nothing of this test's left running into the next


def test_the_api_answers_from_the_stored_result_and_verifies_in_the_background(
        api_client: Any, auditor: dict[str, str], empty_db: Driver, db: str) -> None:
    _append(empty_db, db, ["C1"], 50)
    with empty_db.session(database=db) as session, session.begin_transaction() as holder:
        holder.run(LOCK_RESULT).consume()  # no run can take the lease, so none can finish while this is held
        began = time.monotonic()
        first = api_client.get("/audit/verify", headers=auditor)
        answered = time.monotonic() - began
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["state"], body["ok"], body["events"], body["started"]) == ("never", None, None, True)
        assert api_client.get("/audit/verify", headers=auditor).json()["started"] is False  # this one still waits
        holder.rollback()
    api_client.app.state.verifier.wait(60)
    body = api_client.get("/audit/verify", headers=auditor).json()
    assert (body["state"], body["ok"], body["mode"], body["checkpoint"]["seq"]) == (
        "idle", True, "full", body["head_seq"]), body
    assert body["head_seq"] >= 52 and body["events"] == body["head_seq"]
    print(f"answered in {answered:.3f} s while the run could not start")


@pytest.mark.parametrize("user", ["practitioner.birmingham", "safeguarding_lead.birmingham", "reviewer.birmingham",
                                  "la_admin.birmingham"])
def test_only_auditors_start_a_verification(api_client: Any, demo_tokens: Any, user: str) -> None:
    assert api_client.post("/audit/verify", headers=demo_tokens[user], params={"full": "true"}).status_code == 403
    assert api_client.get("/audit/verify", headers=demo_tokens[user]).status_code == 403


# -- the command ------------------------------------------------------------------------------------------------


@pytest.fixture()
def cli_env(neo4j_settings: GraphSettings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_USER": neo4j_settings.user,
           "NEO4J_PASSWORD": neo4j_settings.password.get_secret_value(), "NEO4J_DATABASE": neo4j_settings.database}
    get_settings.cache_clear()


def test_the_command_verifies_in_full_or_from_the_checkpoint(checked: Driver, cli_env: dict[str, str]) -> None:
    incremental = CliRunner().invoke(audit_app, ["verify", "--incremental"], env=cli_env)
    assert incremental.exit_code == 0, incremental.output
    assert "audit trail intact: 10 events after seq 30" in incremental.stdout
    full = CliRunner().invoke(audit_app, ["verify"], env=cli_env)
    assert full.exit_code == 0 and "audit trail intact: 40 events, head" in full.stdout
    assert "redacted events: none" in full.stdout


def test_the_redact_command_refuses_without_a_reason_and_redacts_with_one(
        checked: Driver, cli_env: dict[str, str], db: str) -> None:
    refused = CliRunner().invoke(audit_app, ["redact", "C1", "--reason", "because", "--authority", "x"], env=cli_env)
    assert refused.exit_code == 2 and "reason" in refused.stderr
    done = CliRunner().invoke(audit_app, ["redact", "C1", "--reason", "destroyed", "--authority", "run-9"],
                              env=cli_env)
    assert done.exit_code == 0 and "redacted the child from 30 events (run at seq 41)" in done.stdout
    result = audit.verify(checked, database=db)
    assert result.ok and result.redacted == {"destroyed": 30}
