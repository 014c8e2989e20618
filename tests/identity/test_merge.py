"""Merge, unmerge and split as a person makes them: every relationship moves, and comes back where it was.

The world (tests/identity/world.py): Oliver as two children, one through a GP record, one through a council
record, each with relationships loaded through its record. Viewers are graph.viewer.Viewer values; the API's
own tests of the same rules are in test_identity_api.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import audit
from graph.config import GraphSettings
from graph.identity import changes, merge
from graph.viewer import Role, Viewer
from tests.identity.conftest import NHS_A, NHS_B, person, query, write_feed
from tests.identity.world import (
    BIRMINGHAM, COUNCIL, GP, LEEDS, OLIVER, by_council, children_of_records, load, oliver_feeds, snapshot,
)

OFFICER = Viewer("do-leeds", Role.DATA_OFFICER, LEEDS)
TRACE = {"purpose": "matching review", "request_id": "req-test"}


def _write(driver: Driver, db: str, work: Any, **kwargs: Any) -> changes.Change:
    with driver.session(database=db) as session:
        return session.execute_write(lambda tx: work(tx, **kwargs, **TRACE))


def _oliver(driver: Driver, db: str, folder: Path) -> tuple[str, str]:
    ids = load(driver, db, oliver_feeds(folder))
    assert ids[GP] != ids[COUNCIL]
    return ids[GP], ids[COUNCIL]


def _events(driver: Driver, db: str, action: str) -> list[dict[str, Any]]:
    return query(driver, db, "MATCH (e:AuditEvent {action: $a}) RETURN e.children AS children, e.outcome AS outcome, "
                             "e.detail_json AS detail ORDER BY e.seq", a=action)


def test_merge_moves_every_relationship_and_unmerge_puts_each_back(identity_db: Driver,
                                                                   neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    survivor, merged = _oliver(identity_db, db, tmp_path)
    identity_db.execute_query("CREATE (:Alert {id: 'al-1', key: 'no_gp|' + $c + '|never|' + $la, kind: 'no_gp', "
                              "state: 'open', la_code: $la, child_id: $c})", c=merged, la=LEEDS, database_=db)
    before = snapshot(identity_db, db, [survivor, merged])
    kinds = {row[1] for row in before if row[0] == merged}
    assert kinds >= {"LIVED_AT", "CARES_FOR", "REGISTERED_WITH", "INVOLVED_WITH", "HAS_PLAN", "IDENTIFIES", "HELD_BY"}

    done = _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=survivor, merged=merged,
                  reason="the same child: same name, birthday and home")
    assert done.outcome == "ok", done.message
    after = snapshot(identity_db, db, [survivor, merged])
    # Everything but the facts the survivor already had (Ruth cares for both since the same day) and its own
    # holding authority is on the survivor now, marked with where it came from.
    left = sorted(row[1] for row in after if row[0] == merged)
    assert left == ["CARES_FOR", "HELD_BY"]
    moved = [row for row in after if row[0] == survivor and ("moved_from", merged) in row[4]]
    assert {row[1] for row in moved} == {"LIVED_AT", "REGISTERED_WITH", "INVOLVED_WITH", "HAS_PLAN", "IDENTIFIES"}
    assert query(identity_db, db, "MATCH (c:Child {id: $id}) RETURN c", id=merged) == []
    with identity_db.session(database=db) as session:
        assert session.execute_read(merge.survivor_query(child_id=merged).run) == survivor
    [state] = query(identity_db, db, "MATCH (c:Child {id: $id}) RETURN c.known_names AS names, "
                                     "COUNT { (c)<-[:IDENTIFIES]-() } AS records", id=survivor)
    assert state == {"names": ["Oliver Hughes"], "records": 2}
    [alert] = query(identity_db, db, "MATCH (a:Alert {id: 'al-1'}) RETURN a.child_id AS child, a.merged_from AS was")
    assert alert == {"child": survivor, "was": merged}
    [event] = _events(identity_db, db, "merge")
    assert sorted(event["children"]) == sorted([survivor, merged]) and event["outcome"] == "ok"
    assert json.loads(event["detail"])["reason"] == "the same child: same name, birthday and home"

    undone = _write(identity_db, db, changes.unmerge_child, viewer=OFFICER, merged=merged, reason="a wrong merge")
    assert undone.outcome == "ok", undone.message
    assert snapshot(identity_db, db, [survivor, merged]) == before
    assert children_of_records(identity_db, db) == {GP: survivor, COUNCIL: merged}
    [alert] = query(identity_db, db, "MATCH (a:Alert {id: 'al-1'}) RETURN a.child_id AS child, a.merged_from AS was")
    assert alert == {"child": merged, "was": None}
    assert [e["outcome"] for e in _events(identity_db, db, "unmerge")] == ["ok"]


def test_splitting_off_the_records_a_merge_brought_is_that_merge_undone(identity_db: Driver,
                                                                        neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    survivor, merged = _oliver(identity_db, db, tmp_path)
    before = snapshot(identity_db, db, [survivor, merged])
    assert _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=survivor, merged=merged,
                  reason="one child").outcome == "ok"
    split = _write(identity_db, db, changes.split_child, viewer=OFFICER, child=survivor, record_keys=[COUNCIL],
                   reason="the council's record is another child")
    assert split.outcome == "ok" and split.merged == merged and split.new_child is None
    assert snapshot(identity_db, db, [survivor, merged]) == before


def test_a_split_gives_records_a_new_child_with_what_came_through_them(identity_db: Driver,
                                                                       neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    # The same NHS number: one child from the start, holding both records.
    ids = load(identity_db, db, oliver_feeds(tmp_path, people=[
        person("1", nhs_number=NHS_A, **OLIVER), person("C7", source_id="council-leeds", nhs_number=NHS_A, **OLIVER)]))
    child = ids[GP]
    assert ids[COUNCIL] == child
    before = snapshot(identity_db, db, [child])
    refused = _write(identity_db, db, changes.split_child, viewer=OFFICER, child=child, record_keys=[GP, COUNCIL],
                     reason="all of them")
    assert refused.outcome == "refused" and "keep at least one record" in refused.message
    done = _write(identity_db, db, changes.split_child, viewer=OFFICER, child=child, record_keys=[COUNCIL],
                  reason="the council's record is another child")
    assert done.outcome == "ok" and done.new_child and done.new_child.startswith("CP")
    new = done.new_child
    assert children_of_records(identity_db, db) == {GP: child, COUNCIL: new}
    moved = query(identity_db, db, "MATCH (c:Child {id: $id})-[r]-() WHERE r.via = $key RETURN DISTINCT type(r) AS t "
                                   "ORDER BY t", id=new, key=COUNCIL)
    assert [m["t"] for m in moved] == ["CARES_FOR", "HAS_PLAN", "INVOLVED_WITH", "LIVED_AT", "REGISTERED_WITH"]
    assert query(identity_db, db, "MATCH (c:Child {id: $id})-[r {via: $key}]-() RETURN r", id=child, key=COUNCIL) == []
    assert [e["children"] for e in _events(identity_db, db, "split")] == [[child], [child, new]]
    # Merged back, every relationship is on the first child again (with where it came from).
    assert _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=child, merged=new,
                  reason="the split was wrong").outcome == "ok"
    strip = [(c, t, o, other, [p for p in props if p[0] not in ("moved_from", "split_from")])
             for c, t, o, other, props in snapshot(identity_db, db, [child])]
    assert strip == [(c, t, o, other, props) for c, t, o, other, props in before]


def test_chained_merges_come_apart_one_at_a_time(identity_db: Driver, neo4j_settings: GraphSettings,
                                                 tmp_path: Path):
    db = neo4j_settings.database
    third = dict(OLIVER, given_name="Olly")
    ids = load(identity_db, db, oliver_feeds(tmp_path, people=[
        person("1", **OLIVER), person("C7", source_id="council-leeds", **OLIVER),
        person("E5", source_id="ed-leeds", **third)]))
    write_feed(tmp_path / "more", "residences", [{"source_id": "ed-leeds", "local_id": "E5", "address_id": "A2",
                                                  "since": "2025-01-01"}])
    load(identity_db, db, tmp_path / "more")
    a, b, c = ids[COUNCIL], ids["ed-leeds|E5"], ids[GP]
    before = snapshot(identity_db, db, [a, b, c])
    for survivor, merged in ((b, a), (c, b)):
        assert _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=survivor, merged=merged,
                      reason="one child").outcome == "ok"
    assert set(children_of_records(identity_db, db).values()) == {c}
    assert query(identity_db, db, "MATCH (m:MergedChild)-[:MERGED_INTO]->(s) RETURN m.id AS m, s.id AS s "
                                  "ORDER BY m") == sorted([{"m": a, "s": c}, {"m": b, "s": c}], key=lambda r: r["m"])
    assert _write(identity_db, db, changes.unmerge_child, viewer=OFFICER, merged=b, reason="wrong").outcome == "ok"
    assert children_of_records(identity_db, db) == {GP: c, COUNCIL: b, "ed-leeds|E5": b}  # a is still in b
    assert _write(identity_db, db, changes.unmerge_child, viewer=OFFICER, merged=a, reason="wrong").outcome == "ok"
    assert snapshot(identity_db, db, [a, b, c]) == before
    # The first unmerge brought a back inside b: its event names a (in its detail) among the children it concerns.
    assert query(identity_db, db, "MATCH (e:AuditEvent {action: 'unmerge'}) RETURN e.children AS children, "
                                  "e.about AS about ORDER BY e.seq") == [{"children": [b, c], "about": [a]},
                                                                         {"children": [a, b], "about": []}]


def test_a_child_a_refused_change_names_is_redacted_from_it(identity_db: Driver, neo4j_settings: GraphSettings,
                                                            tmp_path: Path):
    """A merge with an id that is no child shows nothing, yet its detail names the child that is: destroying that
    child later finds the event (its `about`) and removes the id, and the chain still verifies."""
    db = neo4j_settings.database
    survivor, _ = _oliver(identity_db, db, tmp_path)
    missing = "CP999999999"
    refused = _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=survivor, merged=missing,
                     reason="one child")
    assert refused.outcome == "not_found"
    event = "MATCH (e:AuditEvent {action: 'merge'}) RETURN e.children AS children, e.about AS about, " \
            "e.detail_json AS detail"
    [found] = query(identity_db, db, event)
    assert (found["children"], found["about"]) == ([], [survivor, missing])
    assert json.loads(found["detail"])["survivor"] == survivor
    done = audit.redact_child(identity_db, database=db, child_id=survivor, reason="destroyed", authority="run-1")
    assert done.events >= 1
    assert query(identity_db, db, event) == [{"children": [], "about": [missing], "detail": None}]
    trail = query(identity_db, db, "MATCH (e:AuditEvent) RETURN e.children AS c, e.about AS a, e.detail_json AS d")
    assert survivor not in json.dumps(trail)
    result = audit.verify(identity_db, database=db)
    assert result.ok and result.redacted == {"destroyed": done.events}


def test_merge_refused_for_two_valid_nhs_numbers_and_for_twins(identity_db: Driver, neo4j_settings: GraphSettings,
                                                               tmp_path: Path):
    db = neo4j_settings.database
    ids = load(identity_db, db, oliver_feeds(tmp_path, people=[
        person("1", nhs_number=NHS_A, **OLIVER), person("C7", source_id="council-leeds", nhs_number=NHS_B, **OLIVER),
        person("2", **dict(OLIVER, given_name="Amelia", sex="female")),
        person("C8", source_id="council-leeds", **dict(OLIVER, given_name="Zachary"))]))
    before = snapshot(identity_db, db, list(set(ids.values())))
    nhs = _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=ids[GP], merged=ids[COUNCIL],
                 reason="looks the same")
    assert nhs.outcome == "refused" and "different valid NHS numbers" in nhs.message
    twins = _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=ids["gp-leeds|2"],
                   merged=ids["council-leeds|C8"], reason="looks the same")
    assert twins.outcome == "refused" and "twins" in twins.message
    assert snapshot(identity_db, db, list(set(ids.values()))) == before  # nothing changed
    assert [e["outcome"] for e in _events(identity_db, db, "merge")] == ["denied", "denied"]


def _shield(driver: Driver, db: str, folder: Path, rows: list[dict[str, str]]) -> None:
    from loaders.load import load_dir

    write_feed(folder, "shielding", [{**r, "shielded": "true", "decided_on": "2024-01-01", "reason": "risk"}
                                     for r in rows])
    assert load_dir(driver, folder, database=db).rejected == 0


def test_shielded_children_are_merged_only_by_a_team_that_sees_both_in_full(identity_db: Driver,
                                                                             neo4j_settings: GraphSettings,
                                                                             tmp_path: Path):
    db = neo4j_settings.database
    survivor, merged = _oliver(identity_db, db, tmp_path)
    _shield(identity_db, db, tmp_path / "s", [{**by_council(), "la_code": BIRMINGHAM},
                                              {"source_id": "gp-leeds", "local_id": "1", "la_code": LEEDS}])
    before = snapshot(identity_db, db, [survivor, merged])
    # A data officer never sees a shielded child in full; each team sees only the record it shields.
    for viewer in (OFFICER, Viewer("do-b", Role.DATA_OFFICER, BIRMINGHAM), Viewer("t-b", Role.LA_ADMIN, BIRMINGHAM),
                   Viewer("t-l", Role.LA_ADMIN, LEEDS), Viewer("p-l", Role.PRACTITIONER, LEEDS)):
        refused = _write(identity_db, db, changes.merge_children, viewer=viewer, survivor=survivor, merged=merged,
                         reason="one child")
        assert refused.outcome == "denied" and "shielded" in refused.message, viewer
    assert snapshot(identity_db, db, [survivor, merged]) == before
    assert [e["outcome"] for e in _events(identity_db, db, "merge")] == ["denied"] * 5


def test_a_shielded_record_merged_into_an_open_one_shields_the_survivor(identity_db: Driver,
                                                                       neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    survivor, merged = _oliver(identity_db, db, tmp_path)
    _shield(identity_db, db, tmp_path / "s", [{**by_council(), "la_code": LEEDS}])
    before = snapshot(identity_db, db, [survivor, merged])
    team = Viewer("t-l", Role.LA_ADMIN, LEEDS)
    assert _write(identity_db, db, changes.merge_children, viewer=team, survivor=survivor, merged=merged,
                  reason="one child").outcome == "ok"
    [state] = query(identity_db, db, "MATCH (c:Child {id: $id})-[s:SHIELDED_BY]->(la) RETURN c.shielded AS shielded, "
                                     "la.code AS la, s.moved_from AS was", id=survivor)
    assert state == {"shielded": True, "la": LEEDS, "was": merged}
    assert _write(identity_db, db, changes.unmerge_child, viewer=team, merged=merged, reason="wrong").outcome == "ok"
    assert snapshot(identity_db, db, [survivor, merged]) == before
    flags = query(identity_db, db, "UNWIND $ids AS id MATCH (c:Child {id: id}) RETURN c.id AS id, c.shielded AS s "
                                   "ORDER BY id", ids=[survivor, merged])
    assert {f["id"]: f["s"] for f in flags} == {survivor: False, merged: True}


def test_two_shields_of_two_authorities_keep_the_survivors_and_tell_the_other(identity_db: Driver,
                                                                              neo4j_settings: GraphSettings,
                                                                              tmp_path: Path):
    from graph import alerts

    db = neo4j_settings.database
    survivor, merged = _oliver(identity_db, db, tmp_path)
    _shield(identity_db, db, tmp_path / "s", [{**by_council(), "la_code": BIRMINGHAM},
                                              {"source_id": "gp-leeds", "local_id": "1", "la_code": LEEDS}])
    before = snapshot(identity_db, db, [survivor, merged])
    with identity_db.session(database=db) as session:  # as the relink does: no person sees both in full
        session.execute_write(lambda tx: merge.merge(tx, merged=merged, survivor=survivor, reason="r", by="run 1"))
    shields = query(identity_db, db, "MATCH (c {id: $id})-[:SHIELDED_BY]->(la) RETURN la.code AS la", id=survivor)
    left = query(identity_db, db, "MATCH (c {id: $id})-[:SHIELDED_BY]->(la) RETURN la.code AS la", id=merged)
    assert shields == [{"la": LEEDS}] and left == [{"la": BIRMINGHAM}]

    def inbox(viewer: Viewer) -> list[dict[str, Any]]:
        with identity_db.session(database=db) as session:
            return session.execute_read(lambda tx: alerts.inbox(tx, viewer=viewer, kind="shield_merged"))["items"]

    [told] = inbox(Viewer("t-b", Role.LA_ADMIN, BIRMINGHAM))
    assert told["child_id"] == merged and "Leeds" in told["summary"]
    for viewer in (Viewer("l-b", Role.SAFEGUARDING_LEAD, BIRMINGHAM), Viewer("t-l", Role.LA_ADMIN, LEEDS)):
        assert inbox(viewer) == [], viewer
    with identity_db.session(database=db) as session:
        session.execute_write(lambda tx: merge.unmerge(tx, merged=merged))
    assert snapshot(identity_db, db, [survivor, merged]) == before


@pytest.mark.slow
def test_every_child_relationship_type_in_a_loaded_england_is_handled(driver: Driver, empty_db: Driver,
                                                                      neo4j_settings: GraphSettings,
                                                                      small_england: Path):
    """A merge that met a relationship type it does not know would leave it behind (or refuse): every type
    touching a Child in a loaded England is one merge moves, and the round trip puts one of each back."""
    from loaders.load import load_dir

    db = neo4j_settings.database
    load_dir(driver, small_england, database=db)
    found = query(driver, db, """
        CALL db.relationshipTypes() YIELD relationshipType AS t
        CALL (t) {
          MATCH (c:Child)-[r]->(o) WHERE type(r) = t RETURN true AS out, o, r LIMIT 1
          UNION
          MATCH (c:Child)<-[r]-(o) WHERE type(r) = t RETURN false AS out, o, r LIMIT 1
        }
        RETURN t, out, elementId(o) AS other, properties(r) AS props""")
    assert found
    missing = [(f["t"], "out" if f["out"] else "in") for f in found
               if f["t"] not in (merge.HANDLED_OUT if f["out"] else merge.HANDLED_IN)]
    assert missing == [], f"relationship types a merge does not handle: {missing}"
    a, b = "TYPES-A", "TYPES-B"
    driver.execute_query("CREATE (:Child {id: $a, shielded: false}), (:Child {id: $b, shielded: false})",
                         a=a, b=b, database_=db)
    for f in found:
        if f["t"] == "MERGED_INTO":
            continue
        props = {k: v for k, v in f["props"].items() if k not in ("moved_from", "via")}
        shape = "(c)-[r:{t}]->(o)" if f["out"] else "(o)-[r:{t}]->(c)"
        driver.execute_query(f"MATCH (c:Child {{id: $a}}), (o) WHERE elementId(o) = $o "
                             f"CREATE {shape.format(t=f['t'])} SET r = $props",  # the type is the graph's own
                             a=a, o=f["other"], props=props, database_=db)
    before = snapshot(driver, db, [a, b])
    with driver.session(database=db) as session:
        session.execute_write(lambda tx: merge.merge(tx, merged=a, survivor=b, reason="test", by="test"))
        assert session.execute_read(lambda tx: merge.unhandled(tx, child_id=b)) == []
        session.execute_write(lambda tx: merge.unmerge(tx, merged=a))
    assert snapshot(driver, db, [a, b]) == before
