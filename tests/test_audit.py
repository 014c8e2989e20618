"""The audit trail: a verifiable hash chain, the audited-read choke point, and the readers, on real Neo4j."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timezone
from typing import Any

import pytest
from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import ConstraintError
from typer.testing import CliRunner

from contactpoint.audit_cli import audit_app
from graph import audit
from graph.audit import AuditRecord, form
from graph.config import GraphSettings, get_settings
from graph.db import connect
from graph.viewer import Role, Viewer

GP = Viewer(user_id="u-gp", role=Role.PRACTITIONER, la_code="E09000001", agency_id="AG-GP")
LEAD = Viewer(user_id="u-lead", role=Role.SAFEGUARDING_LEAD, la_code="E08000025")

# Test-only statements: fixtures, and the tampering an attacker with database credentials could do.
CREATE_CHILDREN = "UNWIND $ids AS id CREATE (:Child {id: id, given_name: 'Ann', family_name: 'Test'})"
READ_CHILD = "MATCH (c:Child {id: $id}) RETURN c {.id, .given_name, .family_name} AS child"
EVENTS = "MATCH (e:AuditEvent) RETURN e {.seq, .user_id, .role, .la_code, .agency_id, .action, .children, " \
         ".purpose, .request_id, .outcome, .flagged, .detail_json} AS event ORDER BY e.seq"
EDIT_PURPOSE = "MATCH (e:AuditEvent {seq: $seq}) SET e.purpose = $purpose"
REHASH = "MATCH (e:AuditEvent {seq: $seq}) SET e.purpose = $purpose, e.payload_digest = $digest, e.hash = $hash"
SET_AT = "MATCH (e:AuditEvent {seq: $seq}) SET e.at = $at"
SHIFT_AT = "MATCH (e:AuditEvent {seq: $seq}) SET e.at = e.at + duration({nanoseconds: 1})"
DELETE_EVENT = "MATCH (e:AuditEvent {seq: $seq}) DELETE e"
# The unique seq constraint is checked on each SET, so the swap goes through a free value.
SWAP_SEQ = """
MATCH (a:AuditEvent {seq: $a}), (b:AuditEvent {seq: $b})
SET a.seq = -1
WITH a, b SET b.seq = $a
WITH a SET a.seq = $b
"""
DELETE_HEAD = "MATCH (h:AuditHead) DELETE h"
SQUAT_SEQ = "OPTIONAL MATCH (h:AuditHead) CREATE (:AuditEvent {id: 'squatter', seq: coalesce(h.seq, 0) + 1})"


@pytest.fixture()
def db(neo4j_settings: GraphSettings) -> str:
    return neo4j_settings.database


def _append(driver: Driver, db: str, n: int, *, viewer: Viewer = GP, children: Sequence[str] = ("C1",),
            start: int = 0) -> list[AuditRecord]:
    with driver.session(database=db) as session:
        return [
            session.execute_write(lambda tx, i=i: audit.append(
                tx, viewer=viewer, action="view_child", children=list(children), purpose="assessment",
                request_id=f"req-{start + i}"))
            for i in range(n)
        ]


def _events(driver: Driver, db: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(EVENTS, database_=db)
    return [r["event"] for r in records]


def _run(driver: Driver, db: str, statement: str, **params: Any) -> None:
    driver.execute_query(statement, params, database_=db)


def _read_child(child_id: str) -> Callable[[ManagedTransaction], dict[str, Any] | None]:
    def read(tx: ManagedTransaction) -> dict[str, Any] | None:
        row = tx.run(READ_CHILD, id=child_id).single()
        return None if row is None else row["child"]
    return read


def _ids(child: dict[str, Any] | None) -> list[str]:
    return [] if child is None else [child["id"]]


# -- the chain -----------------------------------------------------------------------------------


def test_empty_trail_verifies(empty_db: Driver, db: str) -> None:
    result = audit.verify(empty_db, database=db)
    assert (result.ok, result.events, result.head_hash) == (True, 0, audit.GENESIS)


def test_chain_of_many_events_verifies_across_batches(empty_db: Driver, db: str) -> None:
    records = _append(empty_db, db, 250)
    assert [r.seq for r in records] == list(range(1, 251))
    assert records[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:]))
    seen: list[tuple[int, int]] = []
    result = audit.verify(empty_db, database=db, batch=100, progress=lambda done, total: seen.append((done, total)))
    assert result.ok, result.problem
    assert (result.events, result.head_seq, result.head_hash) == (250, 250, records[-1].hash)
    assert seen == [(100, 250), (200, 250), (250, 250)]


def test_hash_chains_the_header_and_the_digest_of_the_salted_payload_parts(empty_db: Driver, db: str) -> None:
    """The scheme written out by hand (docs/audit.md), so a change to the form cannot pass unnoticed."""
    record = _append(empty_db, db, 1)[0]
    at = record.at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    assert at.endswith("+00:00")
    header = ('{"action":"view_child","agency_id":"AG-GP","at":"%s","client_request_id":null,"flagged":false,'
              '"id":"%s","la_code":"E09000001","outcome":"ok","request_id":"req-0","role":"practitioner",'
              '"scheme":2,"seq":1,"user_id":"u-gp"}') % (at, record.id)
    [child_salt], context_salt = record.child_salts, record.context_salt
    assert len(child_salt) == len(context_salt) == 32 and child_salt != context_salt
    sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    child = sha(f"{child_salt}\x1fchild\x1fC1")
    context = sha(f'{context_salt}\x1fcontext\x1f{{"detail_json":"{{}}","purpose":"assessment"}}')
    assert record.payload_digest == sha(f"child:{child}\ncontext:{context}")
    assert record.hash == sha(f"{audit.GENESIS}\n{header}\n{record.payload_digest}")
    assert audit.chain_hash(audit.GENESIS, record.__dict__) == record.hash


# An event as the chain stored it before events could carry a client's request id: its canonical JSON
# has no client_request_id key. It must go on verifying.
OLD_EVENT = ('{"action":"card","agency_id":null,"at":"2025-01-02T03:04:05.678901+00:00","children":["C1"],'
             '"detail_json":"{}","flagged":false,"id":"old-1","la_code":"E08000025","outcome":"ok",'
             '"purpose":"triage","request_id":"req-old","role":"safeguarding_lead","seq":1,"user_id":"u-old"}')
STORE_OLD_EVENT = """
CREATE (:AuditEvent {id: 'old-1', seq: 1, at: datetime('2025-01-02T03:04:05.678901Z'), user_id: 'u-old',
                     role: 'safeguarding_lead', la_code: 'E08000025', action: 'card', children: ['C1'],
                     purpose: 'triage', request_id: 'req-old', outcome: 'ok', flagged: false, detail_json: '{}',
                     prev_hash: $genesis, hash: $hash})
CREATE (:AuditHead {id: 'head', seq: 1, hash: $hash})
"""
SET_CLIENT_ID = "MATCH (e:AuditEvent {seq: $seq}) SET e.client_request_id = $value"


def test_events_stored_before_client_request_ids_still_verify(empty_db: Driver, db: str) -> None:
    digest = hashlib.sha256((audit.GENESIS + OLD_EVENT).encode()).hexdigest()
    _run(empty_db, db, STORE_OLD_EVENT, genesis=audit.GENESIS, hash=digest)
    assert audit.verify(empty_db, database=db).ok
    with empty_db.session(database=db) as session:
        new = session.execute_write(lambda tx: audit.append(
            tx, viewer=GP, action="card", children=["C1"], purpose="triage", request_id="req-new",
            client_request_id="their-id"))
    assert (new.seq, new.prev_hash, new.client_request_id) == (2, digest, "their-id")
    result = audit.verify(empty_db, database=db)
    assert result.ok and result.events == 2, result.problem


def test_a_clients_request_id_is_covered_by_the_hash(empty_db: Driver, db: str) -> None:
    """Editing, removing or slipping in a client's request id is caught like any other edit."""
    with empty_db.session(database=db) as session:
        for i, client in enumerate(("their-id-0", None, "their-id-2")):
            session.execute_write(lambda tx, i=i, client=client: audit.append(
                tx, viewer=GP, action="card", children=["C1"], purpose="triage", request_id=f"req-{i}",
                client_request_id=client))
    stored = _run_read(empty_db, db, "MATCH (e:AuditEvent) RETURN e.client_request_id AS c ORDER BY e.seq")
    assert stored == ["their-id-0", None, "their-id-2"]
    assert audit.verify(empty_db, database=db).ok
    for seq, tampered, original in ((1, "their-id-X", "their-id-0"), (3, None, "their-id-2"), (2, "req-0", None)):
        _run(empty_db, db, SET_CLIENT_ID, seq=seq, value=tampered)
        result = audit.verify(empty_db, database=db)
        assert (result.ok, result.kind, result.seq) == (False, "edited", seq), (seq, tampered)
        _run(empty_db, db, SET_CLIENT_ID, seq=seq, value=original)
        assert audit.verify(empty_db, database=db).ok


def _run_read(driver: Driver, db: str, statement: str) -> list[Any]:
    records, _, _ = driver.execute_query(statement, database_=db)
    return [r[0] for r in records]


@pytest.fixture()
def chain(empty_db: Driver, db: str) -> Driver:
    """A trail of 20 events that verifies."""
    _append(empty_db, db, 20)
    assert audit.verify(empty_db, database=db).ok
    return empty_db


def test_edited_field_is_detected(chain: Driver, db: str) -> None:
    _run(chain, db, EDIT_PURPOSE, seq=7, purpose="curiosity")
    result = audit.verify(chain, database=db, batch=5)
    assert (result.ok, result.kind, result.seq, result.events) == (False, "edited", 7, 6)
    assert "seq 7" in result.problem


@pytest.mark.parametrize("at", ["2026-01-01T00:00:00Z", "shift-one-nanosecond"])
def test_edited_time_is_detected(chain: Driver, db: str, at: str) -> None:
    if at == "shift-one-nanosecond":
        _run(chain, db, SHIFT_AT, seq=4)
    else:
        _run(chain, db, SET_AT, seq=4, at=at)  # a string where a datetime was
    result = audit.verify(chain, database=db)
    assert (result.ok, result.kind, result.seq) == (False, "edited", 4)


def test_edit_with_recomputed_hash_breaks_the_next_link(chain: Driver, db: str) -> None:
    with chain.session(database=db) as session:
        [target] = session.execute_read(audit.search, limit=1, skip=12)  # seq 8 of 20, newest first
    edited = {**target.__dict__, "purpose": "curiosity"}
    edited["payload_digest"] = form.digest_parts(form.all_parts(edited))  # a forger recomputes all of it
    forged = audit.chain_hash(target.prev_hash, edited)
    _run(chain, db, REHASH, seq=8, purpose="curiosity", digest=edited["payload_digest"], hash=forged)
    result = audit.verify(chain, database=db)
    assert (result.ok, result.kind, result.seq) == (False, "relinked", 9)


def test_deleted_event_in_the_middle_is_detected(chain: Driver, db: str) -> None:
    _run(chain, db, DELETE_EVENT, seq=10)
    result = audit.verify(chain, database=db, batch=4)
    assert (result.ok, result.kind, result.seq, result.events) == (False, "removed", 10, 9)
    assert "seq 10 missing" in result.problem


def test_swapped_events_are_detected_as_reordered(chain: Driver, db: str) -> None:
    _run(chain, db, SWAP_SEQ, a=5, b=6)
    result = audit.verify(chain, database=db)
    assert (result.ok, result.kind, result.seq) == (False, "reordered", 5)
    assert "recorded as seq 6" in result.problem


def test_distant_swap_is_detected_as_reordered(chain: Driver, db: str) -> None:
    _run(chain, db, SWAP_SEQ, a=3, b=17)
    result = audit.verify(chain, database=db, batch=5)
    assert (result.kind, result.seq) == ("reordered", 3)
    assert "recorded as seq 17" in result.problem


def test_deleted_last_event_is_detected_by_the_head(chain: Driver, db: str) -> None:
    _run(chain, db, DELETE_EVENT, seq=20)
    result = audit.verify(chain, database=db)
    assert (result.ok, result.kind, result.seq, result.events) == (False, "truncated", 20, 19)


def test_deleted_head_is_detected(chain: Driver, db: str) -> None:
    _run(chain, db, DELETE_HEAD)
    result = audit.verify(chain, database=db)
    assert (result.ok, result.kind) == (False, "head_missing")


def test_concurrent_appends_make_a_gap_free_chain(empty_db: Driver, db: str) -> None:
    threads, per_thread = 4, 40
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            _append(empty_db, db, per_thread, viewer=Viewer(f"u{n}", Role.PRACTITIONER, "E09000001"),
                    start=n * per_thread)
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures
    events = _events(empty_db, db)
    assert [e["seq"] for e in events] == list(range(1, threads * per_thread + 1))
    assert sorted(e["request_id"] for e in events) == sorted(f"req-{i}" for i in range(threads * per_thread))
    result = audit.verify(empty_db, database=db, batch=50)
    assert result.ok, result.problem
    assert result.events == threads * per_thread
    with empty_db.session(database=db) as session:
        newest_first = session.execute_read(audit.search, limit=1000)
    assert [r.at for r in newest_first] == sorted((r.at for r in newest_first), reverse=True)


def test_append_refuses_an_event_without_a_purpose(empty_db: Driver, db: str) -> None:
    with empty_db.session(database=db) as session, pytest.raises(ValueError, match="purpose"):
        session.execute_write(lambda tx: audit.append(tx, viewer=GP, action="view_child", children=[],
                                                      purpose="", request_id="r"))
    assert _events(empty_db, db) == []


# -- the choke point -----------------------------------------------------------------------------


@pytest.fixture()
def children(empty_db: Driver, db: str) -> Driver:
    _run(empty_db, db, CREATE_CHILDREN, ids=["C1", "C2"])
    return empty_db


@pytest.fixture(params=["own transaction", "group commit"])
def via(request: pytest.FixtureRequest, children: Driver, db: str) -> Iterator[dict[str, Any]]:
    """The choke point's two ways of writing: its own transaction (CLI, tests) or the API's writer."""
    if request.param == "own transaction":
        yield {}
        return
    writer = audit.AuditWriter(children, database=db)
    yield {"writer": writer}
    writer.close()


def test_audited_read_writes_one_event_per_call(children: Driver, via: dict[str, Any], db: str) -> None:
    first = audit.audited_read(children, database=db, **via, viewer=GP, action="view_child", purpose="school admission",
                               request_id="req-1", read=_read_child("C1"), children_of=_ids)
    second = audit.audited_read(children, database=db, **via, viewer=LEAD, action="view_child", purpose="s47 enquiry",
                                request_id="req-2", read=_read_child("C2"), children_of=_ids,
                                flagged=lambda child: True, detail=lambda child: {"override": "break-glass"})
    assert (first["id"], second["id"]) == ("C1", "C2")
    events = _events(children, db)
    assert events == [
        {"seq": 1, "user_id": "u-gp", "role": "practitioner", "la_code": "E09000001", "agency_id": "AG-GP",
         "action": "view_child", "children": ["C1"], "purpose": "school admission", "request_id": "req-1",
         "outcome": "ok", "flagged": False, "detail_json": "{}"},
        {"seq": 2, "user_id": "u-lead", "role": "safeguarding_lead", "la_code": "E08000025", "agency_id": None,
         "action": "view_child", "children": ["C2"], "purpose": "s47 enquiry", "request_id": "req-2",
         "outcome": "ok", "flagged": True, "detail_json": '{"override":"break-glass"}'},
    ]
    assert audit.verify(children, database=db).ok


def test_audited_read_records_a_miss(children: Driver, via: dict[str, Any], db: str) -> None:
    found = audit.audited_read(children, database=db, **via, viewer=GP, action="view_child", purpose="triage",
                               request_id="req-miss", read=_read_child("C404"), children_of=_ids)
    assert found is None
    [event] = _events(children, db)
    assert (event["children"], event["outcome"], event["request_id"]) == ([], "not_found", "req-miss")


def test_caller_states_the_outcome(children: Driver, via: dict[str, Any], db: str) -> None:
    audit.audited_read(children, database=db, **via, viewer=GP, action="search", purpose="triage", request_id="req-s",
                       read=lambda tx: [], children_of=lambda rows: rows, outcome_of=lambda rows: "ok")
    assert _events(children, db)[0]["outcome"] == "ok"


def test_the_event_is_committed_before_the_data_is_returned(children: Driver, via: dict[str, Any],
                                                            neo4j_settings: GraphSettings, db: str) -> None:
    child = audit.audited_read(children, database=db, **via, viewer=GP, action="view_child", purpose="triage",
                               request_id="req-order", read=_read_child("C1"), children_of=_ids)
    # A separate driver shares no session or bookmark with the call: the event is already committed.
    with connect(neo4j_settings) as other, other.session(database=db) as session:
        [event] = session.execute_read(audit.search, child_id=child["id"])
    assert event.request_id == "req-order"


def test_no_data_when_the_audit_write_fails(children: Driver, via: dict[str, Any], db: str) -> None:
    _run(children, db, SQUAT_SEQ)  # the next seq is taken, so the event's CREATE violates the constraint
    returned: list[Any] = []
    # The group writer takes a taken seq for a race with another appender, retries, then gives up.
    with pytest.raises(audit.AuditError if via else ConstraintError):
        returned.append(audit.audited_read(children, database=db, **via, viewer=GP, action="view_child",
                                           purpose="triage", request_id="req-x", read=_read_child("C1"),
                                           children_of=_ids))
    assert returned == []
    assert [e["request_id"] for e in _events(children, db)] == [None]  # only the squatter


def test_no_data_when_the_event_cannot_be_built(children: Driver, via: dict[str, Any], db: str) -> None:
    def broken(child: dict[str, Any] | None) -> list[str]:
        raise KeyError("id")

    returned: list[Any] = []
    with pytest.raises(KeyError):
        returned.append(audit.audited_read(children, database=db, **via, viewer=GP, action="view_child",
                                           purpose="triage", request_id="req-y", read=_read_child("C1"),
                                           children_of=broken))
    assert returned == []
    assert _events(children, db) == []


def test_a_failed_read_is_recorded(children: Driver, via: dict[str, Any], db: str) -> None:
    def read(tx: ManagedTransaction) -> None:
        raise PermissionError("not allowed")

    with pytest.raises(PermissionError):
        audit.audited_read(children, database=db, **via, viewer=GP, action="view_child", purpose="triage",
                           request_id="req-z", read=read, children_of=_ids)
    [event] = _events(children, db)
    assert (event["outcome"], event["children"], event["detail_json"]) == ("error", [], '{"error":"PermissionError"}')


BLOCKED = "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n"
HOLD_HEAD = "MATCH (h:AuditHead {id: 'head'}) SET h._held = true REMOVE h._held"


def _queued_behind_a_held_head(driver: Driver, db: str, writer: audit.AuditWriter,
                               requests: list[Callable[[], Any]]) -> list[Any]:
    """Run requests[0] until the writer blocks on the held head, queue the rest behind it, then let go.

    So requests[1:] reach the writer together and share its next batch. Returns each request's
    result or the exception it raised.
    """
    outcomes: list[Any] = [None] * len(requests)

    def run(i: int) -> None:
        try:
            outcomes[i] = requests[i]()
        except Exception as exc:  # returned to the test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    with driver.session(database=db) as session, session.begin_transaction() as holder:
        holder.run(HOLD_HEAD).consume()  # the chain's head is locked until this transaction ends
        threads[0].start()
        deadline = time.monotonic() + 10
        while driver.execute_query(BLOCKED, database_=db).records[0]["n"] == 0:
            assert time.monotonic() < deadline, "the writer never reached the head's lock"
            time.sleep(0.05)
        for t in threads[1:]:
            t.start()
        while writer._queue.qsize() < len(requests) - 1:  # the others wait behind the blocked batch
            assert time.monotonic() < deadline
            time.sleep(0.01)
        holder.rollback()
    for t in threads:
        t.join()
    return outcomes


def _card_event(writer: audit.AuditWriter, viewer: Viewer, i: int) -> Callable[[], AuditRecord]:
    return lambda: writer.append(viewer=viewer, action="card", children=[f"C{i}"], purpose="triage",
                                 request_id=f"req-{i}")


def test_group_commit_writes_the_waiting_events_in_one_transaction(empty_db: Driver, db: str) -> None:
    _append(empty_db, db, 1)  # the head exists
    writer = audit.AuditWriter(empty_db, database=db)
    records = _queued_behind_a_held_head(empty_db, db, writer, [_card_event(writer, GP, i) for i in range(13)])
    writer.close()
    assert writer.batches == 2  # the blocked event, then all twelve that waited
    assert sorted(r.seq for r in records) == list(range(2, 15))
    result = audit.verify(empty_db, database=db)
    assert result.ok and result.events == 14, result.problem


def test_group_commit_refuses_only_the_revoked_user_in_a_batch(empty_db: Driver, db: str) -> None:
    from graph import users

    with empty_db.session(database=db) as session:
        for name in ("still.here", "now.gone"):
            session.execute_write(lambda tx, name=name: users.create_user(
                tx, username=name, name=name, role="practitioner", la_code="E09000001", agency_id="AG-GP",
                password_hash="unused", totp_secret="JBSWY3DPEHPK3PXP"))
        ids = {r["username"]: r["id"] for r in session.run("MATCH (u:User) RETURN u.username AS username, u.id AS id")}
    _run(empty_db, db, "MATCH (u:User {username: 'now.gone'}) SET u.disabled = true")
    here, gone = (Viewer(ids[n], Role.PRACTITIONER, "E09000001", "AG-GP") for n in ("still.here", "now.gone"))
    writer = audit.AuditWriter(empty_db, database=db, confirm_users=True)
    outcomes = _queued_behind_a_held_head(empty_db, db, writer, [
        _card_event(writer, here, 0), _card_event(writer, here, 1), _card_event(writer, gone, 2),
        _card_event(writer, here, 3)])
    writer.close()
    assert [type(o).__name__ for o in outcomes] == ["AuditRecord", "AuditRecord", "UserRevoked", "AuditRecord"]
    assert writer.batches == 2
    by_request = {e["request_id"]: e for e in _events(empty_db, db)}
    assert (by_request["req-2"]["outcome"], by_request["req-2"]["children"]) == ("denied", [])
    assert "disabled or changed" in by_request["req-2"]["detail_json"]
    assert [by_request[f"req-{i}"]["outcome"] for i in (0, 1, 3)] == ["ok", "ok", "ok"]
    assert audit.verify(empty_db, database=db).ok


def test_writers_in_several_processes_and_locked_appends_keep_one_chain(empty_db: Driver, db: str) -> None:
    """Two API processes' writers and a shielding route's in-transaction appends, all at once."""
    writers = [audit.AuditWriter(empty_db, database=db) for _ in range(2)]
    failures: list[BaseException] = []

    def through(writer: audit.AuditWriter, n: int) -> None:
        try:
            for i in range(25):
                writer.append(viewer=GP, action="card", children=["C1"], purpose="triage", request_id=f"w{n}-{i}")
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    def locked() -> None:
        try:
            _append(empty_db, db, 25, start=1000)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=through, args=(writers[n % 2], n)) for n in range(4)]
    threads.append(threading.Thread(target=locked))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for writer in writers:
        writer.close()
    assert not failures
    events = _events(empty_db, db)
    assert [e["seq"] for e in events] == list(range(1, 126))
    assert len({e["request_id"] for e in events}) == 125
    result = audit.verify(empty_db, database=db)
    assert result.ok and result.events == 125, result.problem


def test_a_failed_batch_fails_its_requests_and_the_writer_goes_on(children: Driver, db: str) -> None:
    writer = audit.AuditWriter(children, database=db)
    _run(children, db, SQUAT_SEQ)  # the next seq is taken: the batch's CREATE violates the constraint
    with pytest.raises(audit.AuditError, match="gave up"):
        writer.append(viewer=GP, action="card", children=["C1"], purpose="triage", request_id="req-fail")
    _run(children, db, "MATCH (e:AuditEvent {id: 'squatter'}) DELETE e")
    record = writer.append(viewer=GP, action="card", children=["C1"], purpose="triage", request_id="req-next")
    writer.close()
    assert [e["request_id"] for e in _events(children, db)] == ["req-next"]
    assert record.seq == 1 and audit.verify(children, database=db).ok


def test_a_closed_writer_refuses_events(empty_db: Driver, db: str) -> None:
    writer = audit.AuditWriter(empty_db, database=db)
    writer.close()
    with pytest.raises(audit.AuditError, match="closed"):
        writer.append(viewer=GP, action="card", children=["C1"], purpose="triage", request_id="req-late")
    assert _events(empty_db, db) == []


# -- readers -------------------------------------------------------------------------------------


def test_last_accesses_returns_at_most_25_newest_first(empty_db: Driver, db: str) -> None:
    _append(empty_db, db, 5, children=["C2"])
    _append(empty_db, db, 30, viewer=LEAD, children=["C1", "C3"], start=100)
    _append(empty_db, db, 3, children=["C2"], start=200)
    with empty_db.session(database=db) as session:
        accesses = session.execute_read(audit.last_accesses, child_id="C1")
        few = session.execute_read(audit.last_accesses, child_id="C2", limit=4)
        none = session.execute_read(audit.last_accesses, child_id="C9")
    assert len(accesses) == 25
    assert [a.seq for a in accesses] == list(range(35, 10, -1))
    assert accesses[0].at >= accesses[-1].at
    assert (accesses[0].user_id, accesses[0].role, accesses[0].la_code, accesses[0].purpose) == (
        "u-lead", "safeguarding_lead", "E08000025", "assessment")
    assert [a.seq for a in few] == [38, 37, 36, 5]
    assert none == []


def test_search_filters_by_child_user_and_date(empty_db: Driver, db: str) -> None:
    early = _append(empty_db, db, 3, children=["C1"]) + _append(empty_db, db, 2, viewer=LEAD, children=["C2"])
    late = _append(empty_db, db, 2, children=["C2"], start=10) + _append(empty_db, db, 2, viewer=LEAD, children=["C1"])
    cut = late[0].at

    def seqs(**filters: Any) -> list[int]:
        with empty_db.session(database=db) as session:
            return [r.seq for r in session.execute_read(audit.search, **filters)]

    assert seqs() == list(range(9, 0, -1))
    assert seqs(child_id="C1") == [9, 8, 3, 2, 1]
    assert seqs(user_id="u-lead") == [9, 8, 5, 4]
    assert seqs(since=cut) == [9, 8, 7, 6]
    assert seqs(until=cut) == [5, 4, 3, 2, 1]
    assert seqs(child_id="C2", user_id="u-lead", until=cut) == [5, 4]
    assert seqs(since=early[1].at, until=cut, child_id="C1") == [3, 2]
    assert seqs(limit=2, skip=3) == [6, 5]
    with empty_db.session(database=db) as session:
        [full] = session.execute_read(audit.search, user_id="u-gp", limit=1)
    assert full == late[1]


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture()
def cli_env(neo4j_settings: GraphSettings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()  # the command reads the environment below, not an earlier test's
    yield {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_USER": neo4j_settings.user,
           "NEO4J_PASSWORD": neo4j_settings.password.get_secret_value(), "NEO4J_DATABASE": neo4j_settings.database}
    get_settings.cache_clear()


def test_verify_command_reports_an_intact_trail(chain: Driver, cli_env: dict[str, str]) -> None:
    head = audit.verify(chain, database=cli_env["NEO4J_DATABASE"]).head_hash
    result = CliRunner().invoke(audit_app, ["verify", "--batch", "100"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert f"audit trail intact: 20 events, head {head[:16]}" in result.stdout


def test_verify_command_fails_on_tampering(chain: Driver, cli_env: dict[str, str], db: str) -> None:
    _run(chain, db, DELETE_EVENT, seq=12)
    result = CliRunner().invoke(audit_app, ["verify"], env=cli_env)
    assert result.exit_code == 1
    assert "removed: seq 12 missing" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_async_append_cancelled_while_waiting_is_still_written_and_the_writer_goes_on(
        empty_db: Driver, db: str) -> None:
    import asyncio

    writer = audit.AuditWriter(empty_db, database=db)

    async def scenario() -> AuditRecord:
        waiting = asyncio.create_task(writer.append_async(
            viewer=GP, action="card", children=["C1"], purpose="triage", request_id="req-gone"))
        await asyncio.sleep(0)  # submitted: the client then goes away
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await writer.append_async(viewer=GP, action="card", children=["C2"], purpose="triage",
                                         request_id="req-next")

    after = asyncio.run(scenario())
    writer.close()
    assert after.seq == 2
    assert [e["request_id"] for e in _events(empty_db, db)] == ["req-gone", "req-next"]
    assert audit.verify(empty_db, database=db).ok
