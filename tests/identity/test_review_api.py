"""The review queue, merge, split and unmerge through the API: who may, what each viewer sees, what is kept.

Oliver's two children (tests/identity/world.py) give one review pair, in Leeds's queue. Sophie, his shielded
sister (Leeds's management team holds her record), shares his mother and lives at his home: to anyone she is
hidden from, Oliver's postcode is withheld, in the records, the children and the evidence alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph.config import GraphSettings
from graph.identity import run
from graph.viewer import Role
from tests.conftest import restore_demo_users
from tests.identity.conftest import NHS_C, person, query, write_feed
from tests.identity.world import APART, COUNCIL, GP, OLIVER, by_council, load, oliver_feeds, snapshot

PURPOSE = {"X-Purpose": "matching review"}
TEAM = ("data_officer.leeds", "la_admin.leeds")
SECRET_POSTCODE = "LS6 2AB"
OTHER_ROLES = [f"{r.value}.leeds" for r in Role if r not in (Role.DATA_OFFICER, Role.LA_ADMIN)]


@pytest.fixture()
def world(identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> dict[str, Any]:
    db = neo4j_settings.database
    ids = load(identity_db, db, oliver_feeds(tmp_path))
    restore_demo_users(identity_db, db)
    [entry] = query(identity_db, db, "MATCH (m:MatchReview) RETURN m.id AS id")
    return {"db": db, "review": entry["id"], "gp": ids[GP], "council": ids[COUNCIL], "folder": tmp_path}


def _shielded_sister(driver: Driver, db: str, folder: Path) -> str:
    """Sophie, shielded by Leeds, Oliver's sister: his mother's child, living at his home now."""
    more = folder / "sophie"
    write_feed(more, "person_records", [person("S1", given_name="Sophie", family_name="Hughes", dob="2012-02-02",
                                               sex="female", nhs_number=NHS_C)])
    write_feed(more, "residences", [{"source_id": "gp-leeds", "local_id": "S1", "address_id": "A1",
                                     "since": "2021-01-01"}])
    write_feed(more, "carers", [{"carer_id": "K1", "name": "Ruth Hughes", "source_id": "gp-leeds", "local_id": "S1",
                                 "relationship": "mother", "parental_responsibility": "true", "since": "2012-02-02"}])
    write_feed(more, "shielding", [{"source_id": "gp-leeds", "local_id": "S1", "shielded": "true",
                                    "la_code": "E08000035", "decided_on": "2024-01-01", "reason": "risk"}])
    return load(driver, db, more)["gp-leeds|S1"]


def call(client: Any, tokens: dict[str, Any], user: str, method: str, path: str, **kwargs: Any) -> Any:
    return client.request(method, path, headers={**tokens[user], **PURPOSE}, **kwargs)


def _queue_ids(client: Any, tokens: dict[str, Any], user: str) -> list[str]:
    response = call(client, tokens, user, "GET", "/identity/reviews")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("user", OTHER_ROLES)
def test_every_other_role_is_refused_every_identity_route(world, api_client, demo_tokens, user: str):
    review = world["review"]
    for method, path, body in [
            ("GET", "/identity/reviews", None), ("GET", f"/identity/reviews/{review}", None),
            ("POST", f"/identity/reviews/{review}/accept", {"reason": "the same child"}),
            ("POST", f"/identity/reviews/{review}/reject", {"reason": "two children"}),
            ("POST", "/identity/merge", {"survivor": world["gp"], "merged": world["council"], "reason": "one child"}),
            ("POST", "/identity/split", {"child_id": world["gp"], "record_keys": [GP], "reason": "two children"}),
            ("POST", "/identity/unmerge", {"merged": world["council"], "reason": "a wrong merge"})]:
        response = call(api_client, demo_tokens, user, method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert query(world_driver(api_client), world["db"], "MATCH (m:MatchReview {state: 'open'}) RETURN count(m) AS n") \
        == [{"n": 1}]


def world_driver(client: Any) -> Driver:
    return client.app.state.driver


@pytest.mark.parametrize("user", TEAM)
def test_the_authoritys_team_sees_the_pair_field_by_field_with_its_waterfall(world, api_client, demo_tokens,
                                                                              user: str):
    assert _queue_ids(api_client, demo_tokens, user) == [world["review"]]
    response = call(api_client, demo_tokens, user, "GET", f"/identity/reviews/{world['review']}")
    assert response.status_code == 200, response.text
    entry = response.json()
    assert {r["key"] for r in entry["records"]} == {GP, COUNCIL}
    assert {c["id"] for c in entry["children"]} == {world["gp"], world["council"]}
    assert all(r["postcode"] == SECRET_POSTCODE and not r["postcode_withheld"] for r in entry["records"])
    falls = entry["waterfall"]
    assert falls["total"] == pytest.approx(entry["weight"])
    assert falls["total"] == pytest.approx(falls["prior"] + sum(b["weight"] for b in falls["bars"]))
    assert {b["comparison"] for b in falls["bars"]} >= {"given_name", "family_name", "dob", "postcode"}
    [event] = query(world_driver(api_client), world["db"], "MATCH (e:AuditEvent {action: 'review'}) "
                                                          "RETURN e.children AS children")
    assert sorted(event["children"]) == sorted([world["gp"], world["council"]])


@pytest.mark.parametrize("user", ["data_officer.birmingham", "la_admin.birmingham"])
def test_another_authoritys_team_never_sees_the_pair(world, api_client, demo_tokens, user: str):
    assert _queue_ids(api_client, demo_tokens, user) == []
    for method, path in [("GET", f"/identity/reviews/{world['review']}"),
                         ("POST", f"/identity/reviews/{world['review']}/accept"),
                         ("POST", f"/identity/reviews/{world['review']}/reject")]:
        response = call(api_client, demo_tokens, user, method, path, json={"reason": "not ours to decide"})
        assert response.status_code == 404, (path, response.text)  # as for an id that does not exist
    merge = call(api_client, demo_tokens, user, "POST", "/identity/merge",
                 json={"survivor": world["gp"], "merged": world["council"], "reason": "one child"})
    assert merge.status_code == 403


def test_a_shielded_childs_pair_is_only_in_the_holding_teams_queue(world, api_client, demo_tokens,
                                                                   identity_db: Driver, tmp_path: Path):
    write_feed(tmp_path / "s", "shielding", [{**by_council(), "shielded": "true", "la_code": "E08000035",
                                              "decided_on": "2024-01-01", "reason": "risk"}])
    from loaders.load import load_dir

    assert load_dir(identity_db, tmp_path / "s", database=world["db"]).rejected == 0
    assert _queue_ids(api_client, demo_tokens, "la_admin.leeds") == [world["review"]]
    for user in ("data_officer.leeds", "data_officer.birmingham", "la_admin.birmingham"):
        assert _queue_ids(api_client, demo_tokens, user) == [], user
        response = call(api_client, demo_tokens, user, "GET", f"/identity/reviews/{world['review']}")
        assert response.status_code == 404, user
        accept = call(api_client, demo_tokens, user, "POST", f"/identity/reviews/{world['review']}/accept",
                      json={"reason": "the same child"})
        assert accept.status_code == 404, user


def test_a_siblings_postcode_is_withheld_where_the_card_withholds_it(world, api_client, demo_tokens,
                                                                     identity_db: Driver):
    _shielded_sister(identity_db, world["db"], world["folder"])
    response = call(api_client, demo_tokens, "data_officer.leeds", "GET", f"/identity/reviews/{world['review']}")
    assert response.status_code == 200, response.text
    entry = response.json()
    assert SECRET_POSTCODE not in response.text and "Hyde Park Road" not in response.text
    assert all(r["postcode"] is None and r["postcode_withheld"] for r in entry["records"])
    council = next(c for c in entry["children"] if c["id"] == world["council"])
    assert council["address"] == {"withheld": True}
    [bar] = [b for b in entry["waterfall"]["bars"] if b["comparison"] == "postcode"]
    assert bar["record"] == bar["candidate"] == "withheld"
    # The holding team sees the sister, so nothing of Oliver's is withheld from it.
    team = call(api_client, demo_tokens, "la_admin.leeds", "GET", f"/identity/reviews/{world['review']}")
    assert SECRET_POSTCODE in team.text


def test_accept_merges_and_the_pair_is_never_proposed_again(world, api_client, demo_tokens, identity_db: Driver):
    db = world["db"]
    accepted = call(api_client, demo_tokens, "data_officer.leeds", "POST",
                    f"/identity/reviews/{world['review']}/accept", json={"reason": "same child, checked with the GP"})
    assert accepted.status_code == 200, accepted.text
    survivor, merged = accepted.json()["survivor"], accepted.json()["merged"]
    assert {survivor, merged} == {world["gp"], world["council"]}
    again = call(api_client, demo_tokens, "data_officer.leeds", "POST",
                 f"/identity/reviews/{world['review']}/accept", json={"reason": "twice"})
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    # The old id leads to the survivor: its card, network and moves answer with the survivor's.
    for tail in ("", "/network", "/moves"):
        moved = api_client.get(f"/children/{merged}{tail}", headers={**demo_tokens["la_admin.leeds"], **PURPOSE},
                               follow_redirects=False)
        assert moved.status_code == 308 and moved.headers["location"] == f"/children/{survivor}{tail}", tail
    card = api_client.get(f"/children/{merged}", headers={**demo_tokens["practitioner.leeds"], **PURPOSE})
    assert card.status_code == 200 and card.json()["id"] == survivor
    events = query(identity_db, db, "MATCH (e:AuditEvent) WHERE e.action IN ['card', 'merge'] AND $m IN e.children "
                                    "RETURN e.action AS action, e.children AS children ORDER BY e.seq", m=merged)
    assert [e["action"] for e in events][:2] == ["merge", "card"] and all(survivor in e["children"] for e in events)
    # Matching again, every record sent afresh: the pair stays one child and is not in the queue again.
    identity_db.execute_query("MATCH (x:SourceRecord) SET x.match_state = 'pending'", database_=db)
    run.match_pending(identity_db, database=db, thresholds=APART)
    assert query(identity_db, db, "MATCH (:SourceRecord)-[:IDENTIFIES]->(c:Child) RETURN DISTINCT c.id AS id") == \
        [{"id": survivor}]
    assert _queue_ids(api_client, demo_tokens, "data_officer.leeds") == []
    assert query(identity_db, db, "MATCH (m:MatchReview) RETURN m.state AS s") == [{"s": "accepted"}]


def test_reject_keeps_them_apart_through_a_rematch(world, api_client, demo_tokens, identity_db: Driver):
    db = world["db"]
    rejected = call(api_client, demo_tokens, "la_admin.leeds", "POST", f"/identity/reviews/{world['review']}/reject",
                    json={"reason": "two brothers, the council confirmed"})
    assert rejected.status_code == 200, rejected.text
    [kept] = query(identity_db, db, "MATCH (a)-[n:NOT_SAME]->(b) RETURN [a.key, b.key] AS pair, n.review_id AS r")
    assert set(kept["pair"]) == {GP, COUNCIL} and kept["r"] == world["review"]
    # Matching again with thresholds that would now link them outright: they stay two, and nothing is proposed.
    identity_db.execute_query("MATCH (x:SourceRecord) SET x.match_state = 'pending'", database_=db)
    from matching.decide import Thresholds

    run.match_pending(identity_db, database=db, thresholds=Thresholds(link=0, review=-50))
    ids = {r["key"]: r["id"] for r in query(identity_db, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) "
                                                           "RETURN x.key AS key, c.id AS id")}
    assert ids[GP] != ids[COUNCIL]
    assert _queue_ids(api_client, demo_tokens, "la_admin.leeds") == []
    merge = call(api_client, demo_tokens, "la_admin.leeds", "POST", "/identity/merge",
                 json={"survivor": ids[GP], "merged": ids[COUNCIL], "reason": "changed our mind"})
    assert merge.status_code == 409 and "not the same child" in merge.json()["detail"]


def test_accepting_twins_is_refused_with_the_reason(identity_db: Driver, neo4j_settings: GraphSettings,
                                                    tmp_path: Path, api_client, demo_tokens):
    """Twins whose records share an NHS number (one source gave a twin the other's) are a question for a person,
    and the answer is never a merge: the twin guard refuses it, and says so."""
    db = neo4j_settings.database
    twin = dict(OLIVER, given_name="Zachary")
    ids = load(identity_db, db, oliver_feeds(tmp_path, people=[
        person("1", nhs_number=NHS_C, **OLIVER), person("C7", source_id="council-leeds", nhs_number=NHS_C, **twin)]))
    restore_demo_users(identity_db, db)
    assert ids[GP] != ids[COUNCIL]
    [review] = query(identity_db, db, "MATCH (m:MatchReview) RETURN m.id AS id, m.reason AS reason")
    assert "twins" in review["reason"]
    before = snapshot(identity_db, db, [ids[GP], ids[COUNCIL]])
    response = call(api_client, demo_tokens, "data_officer.leeds", "POST", f"/identity/reviews/{review['id']}/accept",
                    json={"reason": "looks like one child"})
    assert response.status_code == 409 and "twins stay two children" in response.json()["detail"]
    assert snapshot(identity_db, db, [ids[GP], ids[COUNCIL]]) == before
    assert _queue_ids(api_client, demo_tokens, "data_officer.leeds") == [review["id"]]  # still open, to reject


def test_merge_split_and_unmerge_through_the_api(world, api_client, demo_tokens, identity_db: Driver):
    db, gp, council = world["db"], world["gp"], world["council"]
    before = snapshot(identity_db, db, [gp, council])
    merged = call(api_client, demo_tokens, "data_officer.leeds", "POST", "/identity/merge",
                  json={"survivor": gp, "merged": council, "reason": "one child"})
    assert merged.status_code == 200, merged.text
    unknown = call(api_client, demo_tokens, "data_officer.leeds", "POST", "/identity/merge",
                   json={"survivor": gp, "merged": "NOPE1", "reason": "one child"})
    assert unknown.status_code == 404
    split = call(api_client, demo_tokens, "data_officer.leeds", "POST", "/identity/split",
                 json={"child_id": gp, "record_keys": [COUNCIL], "reason": "the council's record is another child"})
    assert split.status_code == 200 and split.json()["merged"] == council, split.text
    assert snapshot(identity_db, db, [gp, council]) == before
    again = call(api_client, demo_tokens, "data_officer.leeds", "POST", "/identity/unmerge",
                 json={"merged": council, "reason": "undo twice"})
    assert again.status_code == 409 and "not a merged record" in again.json()["detail"]
    actions = query(identity_db, db, "MATCH (e:AuditEvent) WHERE e.action IN ['merge', 'split'] "
                                     "RETURN e.action AS a, e.outcome AS o, e.detail_json AS d ORDER BY e.seq")
    assert [(e["a"], e["o"]) for e in actions] == [("merge", "ok"), ("merge", "not_found"), ("split", "ok")]
    assert json.loads(actions[-1]["d"])["reason"] == "the council's record is another child"
