"""An audit trail that can forget: a destroyed child's details leave the trail, the chain still verifies, and any
other change to it is still found (real Neo4j)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from neo4j import Driver

from graph import audit, schema
from graph.audit import form, redaction, upgrade
from graph.config import GraphSettings
from graph.viewer import Role, Viewer

GP = Viewer(user_id="u-gp", role=Role.PRACTITIONER, la_code="E09000001", agency_id="AG-GP")
LEAD = Viewer(user_id="u-lead", role=Role.SAFEGUARDING_LEAD, la_code="E08000025")
AUDITOR = Viewer(user_id="u-auditor", role=Role.AUDITOR, la_code="E08000025")
GONE, KEPT = "CHILD-GONE", "CHILD-KEPT"
RUN = "destruction-run-2031-04-01"

# Test-only statements: the trail as stored, and the tampering an attacker with database credentials could do.
WHOLE_TRAIL = "MATCH (e:AuditEvent) RETURN collect(properties(e)) AS events"
INDEX = "MATCH (a:AuditAccess|AuditMention) RETURN labels(a)[0] AS label, a.child_id AS child, a.seq AS seq"
EVENT = "MATCH (e:AuditEvent {seq: $seq}) RETURN properties(e) AS event"
EDIT = "MATCH (e:AuditEvent {seq: $seq}) SET e += $props"
DELETE = "MATCH (e:AuditEvent {seq: $seq}) DELETE e"
SWAP = """
MATCH (a:AuditEvent {seq: $a}), (b:AuditEvent {seq: $b})
SET a.seq = -1
WITH a, b SET b.seq = $a
WITH a SET a.seq = $b
"""
# Room for an event at $seq: every later event and index entry one seq on (the last first: seq is unique), and
# the head too.
MAKE_ROOM = """
MATCH (e:AuditEvent|AuditAccess|AuditMention) WHERE e.seq >= $seq
WITH e ORDER BY e.seq DESC
CALL (e) { SET e.seq = e.seq + 1 }
WITH count(*) AS moved
MATCH (h:AuditHead) SET h.seq = h.seq + 1
"""
INSERT = "CREATE (e:AuditEvent) SET e = $props, e.at = datetime($at)"


@pytest.fixture()
def db(neo4j_settings: GraphSettings) -> str:
    return neo4j_settings.database


def _append(driver: Driver, db: str, children: Sequence[str], *, viewer: Viewer = GP, n: int = 1,
            about: Sequence[str] = (), purpose: str = "assessment", detail: dict[str, Any] | None = None) -> list[int]:
    with driver.session(database=db) as session:
        return [session.execute_write(lambda tx, i=i: audit.append(
            tx, viewer=viewer, action="card", children=list(children), purpose=purpose, request_id=f"req-{i}",
            about=about, detail=detail)).seq for i in range(n)]


def _run(driver: Driver, db: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(statement, params, database_=db)
    return [dict(r) for r in records]


def _event(driver: Driver, db: str, seq: int) -> dict[str, Any]:
    return _run(driver, db, EVENT, seq=seq)[0]["event"]


def _verify(driver: Driver, db: str, **kw: Any) -> audit.VerifyResult:
    return audit.verify(driver, database=db, batch=4, **kw)


@pytest.fixture()
def trail(empty_db: Driver, db: str) -> dict[str, list[int]]:
    """Events naming the child to be destroyed alone, with another child, only in an auditor's search; and others."""
    seqs = {
        "alone": _append(empty_db, db, [GONE], n=3, purpose=f"checking on {GONE}"),
        "shared": _append(empty_db, db, [KEPT, GONE], viewer=LEAD, n=2, detail={"note": f"{GONE} and {KEPT}"}),
        "other": _append(empty_db, db, [KEPT], n=2),
        "audit": _append(empty_db, db, [], viewer=AUDITOR, about=[GONE], detail={"filters": {"child_id": GONE}}),
        "none": _append(empty_db, db, [], n=1),
    }
    assert _verify(empty_db, db).ok
    return seqs


@pytest.fixture()
def redacted(trail: dict[str, list[int]], empty_db: Driver, db: str) -> dict[str, list[int]]:
    done = audit.redact_child(empty_db, database=db, child_id=GONE, reason="destroyed", authority=RUN, batch=2)
    assert (done.events, done.reason, done.authority) == (6, "destroyed", RUN)
    return {**trail, "run": [done.run_seq]}


def test_a_redacted_trail_verifies_and_reports_the_redacted_events_by_reason(
        redacted: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    result = _verify(empty_db, db)
    assert result.ok, result.problem
    assert (result.redacted, result.incomplete_redactions) == ({"destroyed": 6}, 0)
    assert result.events == 10  # the nine events and the run


def test_the_destroyed_child_is_nowhere_in_the_trail(redacted: dict[str, list[int]], empty_db: Driver,
                                                     db: str) -> None:
    whole = json.dumps(_run(empty_db, db, WHOLE_TRAIL)[0]["events"], default=str)
    assert GONE not in whole
    assert all(row["child"] != GONE for row in _run(empty_db, db, INDEX))
    with empty_db.session(database=db) as session:
        assert session.execute_read(audit.last_accesses, child_id=GONE) == []
        assert session.execute_read(audit.search, child_id=GONE) == []


def test_the_run_is_in_the_chain_naming_reason_authority_and_count_never_the_child(
        redacted: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    run = _event(empty_db, db, redacted["run"][0])
    assert (run["action"], run["children"], run["about"], run["user_id"]) == (
        "audit_redact", [], [], "system:redaction")
    assert json.loads(run["detail_json"]) == {"reason": "destroyed", "authority": RUN, "events": 6}
    for seq in redacted["alone"] + redacted["shared"] + redacted["audit"]:
        event = _event(empty_db, db, seq)
        assert (event["redaction_reason"], event["redaction_seq"]) == ("destroyed", redacted["run"][0])
        assert "purpose" not in event and "detail_json" not in event and event["redacted_at"] is not None


def test_other_children_keep_their_accesses_with_who_when_and_what(
        redacted: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    with empty_db.session(database=db) as session:
        accesses = session.execute_read(audit.last_accesses, child_id=KEPT)
    assert [a.seq for a in accesses] == sorted(redacted["shared"] + redacted["other"], reverse=True)
    shared = [a for a in accesses if a.seq in redacted["shared"]]
    assert all((a.user_id, a.role, a.action, a.purpose, a.redacted) == ("u-lead", "safeguarding_lead", "card",
                                                                        None, True) for a in shared)
    assert all(a.purpose == "assessment" and not a.redacted for a in accesses if a.seq in redacted["other"])
    for seq in redacted["shared"]:
        assert _event(empty_db, db, seq)["children"] == [KEPT]
    for seq in redacted["alone"]:
        assert _event(empty_db, db, seq)["children"] == []


@pytest.mark.parametrize(("reason", "authority", "complaint"), [
    ("", RUN, "reason"), ("tidying up", RUN, "reason"), ("destroyed", "", "authority"),
    ("destroyed", "   ", "authority"), ("destroyed", "x" * 201, "authority")])
def test_a_redaction_without_a_reason_or_an_authority_is_refused(
        trail: dict[str, list[int]], empty_db: Driver, db: str, reason: str, authority: str, complaint: str) -> None:
    before = _run(empty_db, db, WHOLE_TRAIL)[0]["events"]
    with pytest.raises(ValueError, match=complaint):
        audit.redact_child(empty_db, database=db, child_id=GONE, reason=reason, authority=authority)
    assert _run(empty_db, db, WHOLE_TRAIL)[0]["events"] == before


def test_a_child_no_event_names_records_no_run(trail: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    done = audit.redact_child(empty_db, database=db, child_id="NEVER-SEEN", reason="destroyed", authority=RUN)
    assert (done.run_seq, done.events) == (None, 0)
    assert _verify(empty_db, db).head_seq == 9


# -- after redaction, every other change is still found ------------------------------------------------------


def _tamper(driver: Driver, db: str, seqs: dict[str, list[int]], how: str) -> int:
    """Make one change an attacker might; returns the seq verify must name."""
    alone, shared, other = seqs["alone"][0], seqs["shared"][0], seqs["other"][0]
    if how == "header of a redacted event":
        _run(driver, db, EDIT, seq=alone, props={"user_id": "u-someone-else"})
        return alone
    if how == "header of a whole event":
        _run(driver, db, EDIT, seq=other, props={"outcome": "denied"})
        return other
    if how == "time of a redacted event":
        _run(driver, db, "MATCH (e:AuditEvent {seq: $seq}) SET e.at = e.at + duration({seconds: 1})", seq=shared)
        return shared
    if how == "payload of a whole event":
        _run(driver, db, EDIT, seq=other, props={"purpose": "curiosity"})
        return other
    if how == "child kept in a redacted event":
        _run(driver, db, EDIT, seq=shared, props={"children": ["CHILD-ELSE"]})
        return shared
    if how == "child removed without redaction":
        _run(driver, db, EDIT, seq=other, props={"children": [], "child_salts": []})
        return other
    if how == "payload digest":
        _run(driver, db, EDIT, seq=alone, props={"payload_digest": "0" * 64})
        return alone
    if how == "kept part digest":
        kept = _event(driver, db, shared)["part_digests"]
        _run(driver, db, EDIT, seq=shared, props={"part_digests": [kept[0], "child:" + "0" * 64, *kept[2:]]})
        return shared
    if how == "event deleted":
        _run(driver, db, DELETE, seq=shared)
        return shared
    if how == "events reordered":
        _run(driver, db, SWAP, a=alone, b=alone + 1)
        return alone
    if how == "event inserted":
        before = _event(driver, db, other)
        forged = form.seal({**{k: before.get(k) for k in form.HEADER_FIELDS if k not in ("at", "seq")},
                            "id": "forged", "seq": other, "at": before["at"].to_native(),
                            "children": [KEPT], "about": [], "purpose": "forged", "detail_json": "{}"})
        forged["prev_hash"], forged["hash"] = before["prev_hash"], form.chain_hash(before["prev_hash"], forged)
        _run(driver, db, MAKE_ROOM, seq=other)
        _run(driver, db, INSERT, props={k: v for k, v in forged.items() if k != "at"}, at=before["at"].iso_format())
        _run(driver, db, "CREATE (:AuditAccess {child_id: $c, seq: $seq})", c=KEPT, seq=other)
        return other + 1  # the forgery links to its predecessor; the event it displaced is found moved
    raise AssertionError(how)


TAMPERING = {
    "header of a redacted event": "edited", "header of a whole event": "edited", "time of a redacted event": "edited",
    "payload of a whole event": "edited", "child kept in a redacted event": "edited",
    "child removed without redaction": "edited", "payload digest": "edited", "kept part digest": "edited",
    "event deleted": "removed", "events reordered": "reordered", "event inserted": "reordered",
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_after_redaction_any_other_change_is_found_and_named(
        redacted: dict[str, list[int]], empty_db: Driver, db: str, how: str) -> None:
    seq = _tamper(empty_db, db, redacted, how)
    result = _verify(empty_db, db)
    assert (result.ok, result.kind, result.seq) == (False, TAMPERING[how], seq), result.problem
    assert f"seq {seq}" in result.problem


def test_removing_details_without_a_run_is_found(trail: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    seq = trail["other"][0]
    _run(empty_db, db, "MATCH (e:AuditEvent {seq: $seq}) REMOVE e.purpose, e.detail_json, e.context_salt", seq=seq)
    result = _verify(empty_db, db)
    assert (result.ok, result.kind, result.seq) == (False, "edited", seq)


def test_a_forged_redaction_citing_a_real_run_is_found_by_the_runs_count(
        redacted: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    """Someone with the database's credentials strips another event, copying the form a redaction leaves."""
    seq = redacted["other"][0]
    event = _event(empty_db, db, seq)
    _run(empty_db, db, EDIT, seq=seq, props={
        **form.redacted(event, KEPT), "redaction_reason": "destroyed", "redaction_seq": redacted["run"][0]})
    _run(empty_db, db, "MATCH (e:AuditEvent {seq: $seq}) REMOVE e.purpose, e.detail_json, e.context_salt", seq=seq)
    _run(empty_db, db, "MATCH (a:AuditAccess {seq: $seq}) DELETE a", seq=seq)
    result = _verify(empty_db, db)
    assert (result.ok, result.kind) == (False, "redaction")
    assert "7 events cite the redaction run" in result.problem


def test_a_redaction_citing_no_run_is_found(trail: dict[str, list[int]], empty_db: Driver, db: str) -> None:
    seq = trail["other"][0]
    event = _event(empty_db, db, seq)
    _run(empty_db, db, EDIT, seq=seq, props={**form.redacted(event, KEPT), "redaction_reason": "destroyed",
                                             "redaction_seq": trail["none"][0]})
    _run(empty_db, db, "MATCH (e:AuditEvent {seq: $seq}) REMOVE e.purpose, e.detail_json, e.context_salt", seq=seq)
    _run(empty_db, db, "MATCH (a:AuditAccess {seq: $seq}) DELETE a", seq=seq)
    result = _verify(empty_db, db)
    assert (result.ok, result.kind, result.seq) == (False, "redaction", seq)


# -- batches, interruptions, concurrency --------------------------------------------------------------------


def test_a_run_cut_short_is_finished_by_the_next(empty_db: Driver, db: str) -> None:
    _append(empty_db, db, [GONE], n=25)
    with empty_db.session(database=db) as session:
        run = session.execute_write(redaction.open_run, child_id=GONE, reason="erasure", authority="order-17")
        assert session.execute_write(redaction.redact_batch, child_id=GONE, run=run, batch=10) == 10
    cut = _verify(empty_db, db)  # the process died here
    assert (cut.ok, cut.redacted, cut.incomplete_redactions) == (True, {"erasure": 10}, 1)
    again = audit.redact_child(empty_db, database=db, child_id=GONE, reason="erasure", authority="order-17", batch=7)
    assert again.events == 15 and again.run_seq == run.run_seq + 1
    after = _verify(empty_db, db)
    assert (after.ok, after.redacted, after.incomplete_redactions) == (True, {"erasure": 25}, 1)


def test_events_appended_after_the_run_are_not_its_to_redact(empty_db: Driver, db: str) -> None:
    _append(empty_db, db, [GONE], n=3)
    with empty_db.session(database=db) as session:
        run = session.execute_write(redaction.open_run, child_id=GONE, reason="destroyed", authority=RUN)
        later = _append(empty_db, db, [GONE])[0]
        while session.execute_write(redaction.redact_batch, child_id=GONE, run=run, batch=2):
            pass
    assert _event(empty_db, db, later)["children"] == [GONE]
    assert _verify(empty_db, db).ok


def test_two_children_of_the_same_events_redacted_at_once_both_go(empty_db: Driver, db: str) -> None:
    seqs = _append(empty_db, db, [GONE, KEPT, "CHILD-THIRD"], n=30)
    failures: list[BaseException] = []

    def redact(child: str) -> None:
        try:
            audit.redact_child(empty_db, database=db, child_id=child, reason="destroyed", authority=RUN, batch=3)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=redact, args=(c,)) for c in (GONE, KEPT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert {tuple(_event(empty_db, db, s)["children"]) for s in seqs} == {("CHILD-THIRD",)}
    result = _verify(empty_db, db)
    assert result.ok and result.redacted == {"destroyed": 30}, result.problem


# -- the events stored before -------------------------------------------------------------------------------


def _store_scheme_1(driver: Driver, db: str, rows: list[dict[str, Any]]) -> str:
    """Events as the chain wrote them before it could forget: scheme 1, no salts, no index entries."""
    prev = audit.GENESIS
    for seq, row in enumerate(rows, start=1):
        fields = {"id": f"old-{seq}", "seq": seq, "at": "2025-01-02T03:04:05.000001+00:00", "user_id": "u-old",
                  "role": "practitioner", "la_code": "E09000001", "agency_id": None, "outcome": "ok",
                  "request_id": f"req-old-{seq}", "flagged": False, "detail_json": "{}", "purpose": "triage", **row}
        digest = form.chain_hash(prev, {**fields, "at": datetime.fromisoformat(fields["at"])})
        stored = {k: v for k, v in {**fields, "prev_hash": prev, "hash": digest}.items() if k != "at" and v is not None}
        _run(driver, db, "CREATE (e:AuditEvent) SET e = $props, e.at = datetime($at)", props=stored, at=fields["at"])
        prev = digest
    _run(driver, db, "MERGE (h:AuditHead {id: 'head'}) SET h.seq = $seq, h.hash = $hash", seq=len(rows), hash=prev)
    return prev


OLD_ROWS = [
    {"action": "card", "children": [GONE]},
    {"action": "search", "children": [KEPT, GONE]},
    {"action": "audit_search", "role": "auditor", "children": [],
     "detail_json": json.dumps({"filters": {"child_id": GONE}, "limit": 100, "skip": 0, "returned": 2})},
    {"action": "card", "children": [KEPT]},
]


def test_events_stored_before_are_rechained_once_then_can_be_redacted(empty_db: Driver, db: str) -> None:
    old_head = _store_scheme_1(empty_db, db, OLD_ROWS)
    assert _verify(empty_db, db).ok  # scheme 1 verifies as it was written
    with pytest.raises(audit.AuditError, match="re-chain"):  # nothing indexes them yet, but the check is there
        with empty_db.session(database=db) as session:
            run = redaction.Redaction(99, 1, "destroyed", RUN)
            _run(empty_db, db, "CREATE (:AuditAccess {child_id: $c, seq: 1})", c=GONE)
            session.execute_write(redaction.redact_batch, child_id=GONE, run=run)
    _run(empty_db, db, "MATCH (a:AuditAccess) DELETE a")

    done = upgrade.rechain(empty_db, database=db, batch=2)
    assert (done.converted, done.old_head_seq, done.old_head_hash) == (4, 4, old_head)
    result = _verify(empty_db, db)
    assert result.ok and result.head_seq == 5, result.problem
    rechain = _event(empty_db, db, 5)
    assert rechain["action"] == "audit_rechain"
    assert json.loads(rechain["detail_json"]) == {"old_head_seq": 4, "old_head_hash": old_head, "converted": 4}
    assert sorted((r["label"], r["child"], r["seq"]) for r in _run(empty_db, db, INDEX)) == [
        ("AuditAccess", GONE, 1), ("AuditAccess", GONE, 2), ("AuditAccess", KEPT, 2), ("AuditAccess", KEPT, 4),
        ("AuditMention", GONE, 3)]
    assert upgrade.rechain(empty_db, database=db) == upgrade.Rechained(0, 0)  # once only

    assert audit.redact_child(empty_db, database=db, child_id=GONE, reason="destroyed", authority=RUN).events == 3
    assert GONE not in json.dumps(_run(empty_db, db, WHOLE_TRAIL)[0]["events"], default=str)
    assert _verify(empty_db, db).redacted == {"destroyed": 3}


def test_a_broken_trail_is_not_rechained(empty_db: Driver, db: str) -> None:
    _store_scheme_1(empty_db, db, OLD_ROWS)
    _run(empty_db, db, EDIT, seq=2, props={"purpose": "curiosity"})
    before = _run(empty_db, db, WHOLE_TRAIL)[0]["events"]
    with pytest.raises(audit.AuditError, match="edited: the event at seq 2"):
        upgrade.rechain(empty_db, database=db)
    assert _run(empty_db, db, WHOLE_TRAIL)[0]["events"] == before


def test_schema_migration_8_rechains_the_trail(empty_db: Driver, db: str) -> None:
    _store_scheme_1(empty_db, db, OLD_ROWS)
    _run(empty_db, db, "MATCH (m:SchemaMeta {id: 'schema'}) SET m.version = 7")
    assert schema.apply(empty_db, database=db) == [v for v in sorted(schema.MIGRATIONS) if v >= 8]
    result = _verify(empty_db, db)
    assert result.ok and result.head_seq == 5
    assert _run(empty_db, db, "MATCH (e:AuditEvent) WHERE e.scheme IS NULL RETURN count(e) AS n")[0]["n"] == 0
