"""Retention, targeted mode and subject access with identity on real Neo4j: destroying a child takes its source
records, review entries, refusals, merged ids and self-recorded involvements; a stale person record never brings
it back unsaid; archived children leave the flag lookup and the review queue; a targeted load stores no person
record about a child outside the cohort; the export names every record and name the child is known by.

The world is Oliver's (tests/identity/world.py): one boy known to a Leeds GP system, Leeds social care and, here,
the Leeds emergency department, loaded so that nothing links automatically (three children, pairs for review).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from neo4j import Driver

from graph import audit, destruction, flags, involvements, retention, users
from graph.cohort import Scope
from graph.config import GraphSettings
from graph.identity import changes, review
from graph.identity import run as identity_run
from graph.viewer import Role, Viewer
from loaders.load import load_dir
from tests.conftest import restore_demo_users
from tests.identity.conftest import NHS_A, NHS_B, person, query, rejects, write_feed
from tests.identity.world import APART, COUNCIL, GP, LEEDS, OLIVER, by_council, by_gp, oliver_feeds

OFFICER = Viewer("do-leeds", Role.DATA_OFFICER, LEEDS)
CLINICIAN = Viewer("ed-leeds", Role.ED_CLINICIAN, LEEDS, agency_id="ED1")
ACTOR = audit.Actor(user_id="cli:retention-test", role="operator")
TRACE = {"purpose": "matching review", "request_id": "req-retention"}
ED = "ed-leeds|E1"
DESTROYED_ON = date(2039, 5, 1)  # six years after Oliver turned 18 (2033-04-07)
ARCHIVE_DAY = date(2033, 5, 1)


def _oliver(driver: Driver, db: str, folder: Path, *, scope: Scope | None = None) -> dict[str, str]:
    """Oliver's world with an emergency department's record too and a CP plan (so the flag shows him)."""
    oliver_feeds(folder, people=[person("1", **OLIVER), person("C7", source_id="council-leeds", **OLIVER),
                                 person("E1", source_id="ed-leeds", **OLIVER)])
    write_feed(folder, "plans", [{**by_council(), "la_code": LEEDS, "kind": "cp_plan", "since": "2024-02-01"}])
    report = load_dir(driver, folder, database=db, scope=scope,
                      matcher=lambda: identity_run.match_pending(driver, database=db, thresholds=APART))
    assert report.rejected == 0, report.rejects_path.read_text()
    return {r["key"]: r["id"] for r in query(driver, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) "
                                                         "RETURN x.key AS key, c.id AS id")}


def _write(driver: Driver, db: str, work: Any, **kwargs: Any) -> Any:
    with driver.session(database=db) as session:
        return session.execute_write(lambda tx: work(tx, **kwargs))


def _review_between(driver: Driver, db: str, a: str, b: str) -> str:
    return query(driver, db, "MATCH (m:MatchReview) WHERE [m.record_key, m.candidate_key] IN [[$a, $b], [$b, $a]] "
                             "RETURN m.id AS id", a=a, b=b)[0]["id"]


def _gp_child_with_everything(driver: Driver, db: str, folder: Path) -> tuple[str, str, str]:
    """Oliver's GP child, with the ED child merged into it, its pair with the council child rejected (NOT_SAME),
    and a practitioner's self-recorded involvement; gives (gp child, merged ed id, council child)."""
    restore_demo_users(driver, db)
    ids = _oliver(driver, db, folder)
    gp, ed, council = ids[GP], ids[ED], ids[COUNCIL]
    assert len({gp, ed, council}) == 3
    done = _write(driver, db, changes.merge_children, viewer=OFFICER, survivor=gp, merged=ed,
                  reason="the same boy: same name, birthday and home", **TRACE)
    assert done.outcome == "ok", done.message
    refused = _write(driver, db, review.reject, viewer=OFFICER, review_id=_review_between(driver, db, GP, COUNCIL),
                     reason="twins: different NHS numbers at the GP", **TRACE)
    assert refused.outcome == "ok", refused.message
    worker = next(u for u in users.DEMO_USERS if u.username == "practitioner.leeds")
    outcome, _ = _write(driver, db, involvements.add, viewer=Viewer(worker.id, Role.PRACTITIONER, LEEDS, "SC1"),
                        child_id=gp, service="school_nursing", since=date(2025, 1, 6))
    assert outcome == "ok"
    return gp, ed, council


def test_destroying_a_child_takes_what_identity_held_for_it_alone(identity_db: Driver, neo4j_settings: GraphSettings,
                                                                  tmp_path: Path) -> None:
    db = neo4j_settings.database
    gp, ed, council = _gp_child_with_everything(identity_db, db, tmp_path)
    assert query(identity_db, db, "MATCH ()-[n:NOT_SAME]->() RETURN count(n) AS n")[0]["n"] == 1
    assert query(identity_db, db, "MATCH (m:MatchReview) WHERE m.record_key IN $k OR m.candidate_key IN $k "
                                  "RETURN count(m) AS n", k=[GP, ED])[0]["n"] >= 2

    done = _write(identity_db, db, destruction.destroy, rows=[{"id": gp, "rule": "age"}], as_of=DESTROYED_ON)
    assert done.ids == [gp] and done.merged_ids == [ed]

    left = query(identity_db, db, "MATCH (x:SourceRecord) RETURN x.key AS key ORDER BY key")
    assert [r["key"] for r in left] == [COUNCIL]
    assert query(identity_db, db, "MATCH (m:MatchReview) RETURN count(m) AS n")[0]["n"] == 0  # each named him
    assert query(identity_db, db, "MATCH ()-[n:NOT_SAME]-() RETURN count(n) AS n")[0]["n"] == 0
    assert query(identity_db, db, "MATCH (n) WHERE n.id IN [$gp, $ed] AND NOT n:DestroyedChild RETURN count(n) AS n",
                 gp=gp, ed=ed)[0]["n"] == 0
    assert query(identity_db, db, "MATCH ()-[i:INVOLVED_WITH {source: 'self'}]->() RETURN count(i) AS n")[0]["n"] == 0
    assert query(identity_db, db, "MATCH (p:Practitioner) WHERE p.id STARTS WITH 'U-' RETURN count(p) AS n"
                 )[0]["n"] == 1  # the user's own practitioner node is not about the child
    stones = {r["key"]: r["child"] for r in query(identity_db, db, "MATCH (t:DestroyedRecord) "
                                                                   "RETURN t.key AS key, t.child_id AS child")}
    assert stones == {GP: gp, ED: gp}
    merged = query(identity_db, db, "MATCH (t:DestroyedChild {id: $ed}) RETURN t.merged_into AS into", ed=ed)
    assert merged == [{"into": gp}]
    # The council child, not the same boy by the team's decision, keeps its record, carer and relationships.
    kept = query(identity_db, db, "MATCH (c:Child {id: $c}) RETURN COLLECT { MATCH (c)<-[:IDENTIFIES]-(x) "
                                  "RETURN x.key } AS keys, EXISTS { (:Carer {id: 'K1'})-[:CARES_FOR]->(c) } AS carer",
                 c=council)
    assert kept == [{"keys": [COUNCIL], "carer": True}]


def test_a_stale_person_record_for_a_destroyed_child_is_refused_with_the_reason(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    gp, _, _ = _gp_child_with_everything(identity_db, db, tmp_path / "first")
    _write(identity_db, db, destruction.destroy, rows=[{"id": gp, "rule": "age"}], as_of=DESTROYED_ON)
    before = query(identity_db, db, "MATCH (c:Child) RETURN count(c) AS n")[0]["n"]

    stale = tmp_path / "stale"
    write_feed(stale, "person_records", [person("1", **OLIVER), person("E1", source_id="ed-leeds", **OLIVER)])
    write_feed(stale, "residences", [{**by_gp(), "address_id": "A2", "since": "2018-01-01"}])
    report = load_dir(identity_db, stale, database=db,
                      matcher=lambda: identity_run.match_pending(identity_db, database=db, thresholds=APART))
    why = rejects(report.rejects_path)
    assert why[("person_records.csv", 2)] == (f"person record {GP} identified child {gp}, destroyed on {DESTROYED_ON} "
                                              "under the retention rules (turned 18); not loaded")
    assert why[("person_records.csv", 3)].startswith(f"person record {ED} identified child {gp}, destroyed")
    assert why[("residences.csv", 2)].startswith(f"person record {GP} identified child {gp}, destroyed")
    assert query(identity_db, db, "MATCH (c:Child) RETURN count(c) AS n")[0]["n"] == before
    assert query(identity_db, db, "MATCH (x:SourceRecord) WHERE x.key IN [$a, $b] RETURN count(x) AS n",
                 a=GP, b=ED)[0]["n"] == 0


def test_archived_children_leave_the_flag_lookup_and_the_review_queue(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    _oliver(identity_db, db, tmp_path / "first")
    dob = date.fromisoformat(OLIVER["dob"])

    def looked_up() -> list[dict[str, Any]]:
        return _write(identity_db, db, lambda tx: flags.lookup(tx, viewer=CLINICIAN, today=date(2025, 6, 1),
                                                               given_name="Oliver", family_name="Hughes", dob=dob))[0]

    def queued() -> int:
        return _write(identity_db, db, lambda tx: review.queue(tx, viewer=OFFICER))["total"]

    assert looked_up() and queued() > 0  # positive controls: the flag shows him, his pairs wait for review
    report = retention.run(identity_db, database=db, scope=Scope(as_of=ARCHIVE_DAY), actor=ACTOR)
    assert report.archived == {"age": 3}
    assert looked_up() == []
    assert queued() == 0

    stale = tmp_path / "stale"
    write_feed(stale, "person_records", [person("1", **{**OLIVER, "postcode": "LS5 3BE"})])  # changed: would wait
    write_feed(stale, "gp_registrations", [{**by_gp(), "agency_id": "GP1", "since": "2025-01-01"}])
    report = load_dir(identity_db, stale, database=db)
    why = rejects(report.rejects_path)
    assert "was archived on 2033-04-07 under the retention rules (turned 18); not loaded" in why[("person_records.csv", 2)]
    assert "was archived on 2033-04-07" in why[("gp_registrations.csv", 2)]
    assert query(identity_db, db, "MATCH (x:SourceRecord {match_state: 'pending'}) RETURN count(x) AS n")[0]["n"] == 0
    assert query(identity_db, db, "MATCH (c:Child) RETURN count(c) AS n")[0]["n"] == 0


def test_a_targeted_load_stores_no_person_record_about_a_child_outside_the_cohort(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    folder = oliver_feeds(tmp_path, people=[
        person("C7", source_id="council-leeds", **OLIVER, nhs_number=NHS_A),  # named by his cohort plan
        person("1", **OLIVER, nhs_number=NHS_A),  # his NHS number: the same cohort child
        person("2", given_name="Amelia", family_name="Stone", dob="2016-09-09", sex="female", nhs_number=NHS_B)])
    write_feed(folder, "plans", [{**by_council(), "la_code": LEEDS, "kind": "cp_plan", "since": "2024-02-01"}])
    write_feed(folder, "residences", [{**by_council(), "address_id": "A1", "since": "2020-01-01"},
                                      {"source_id": "gp-leeds", "local_id": "2", "address_id": "A2",
                                       "since": "2019-01-01"}])
    report = load_dir(identity_db, folder, database=db, scope=Scope("targeted", 12, date(2025, 6, 1)),
                      matcher=lambda: identity_run.match_pending(identity_db, database=db, thresholds=APART))
    assert report.rejected == 0, report.rejects_path.read_text()
    by_feed = {r.feed: r for r in report.results}
    assert (by_feed["person_records"].loaded, by_feed["person_records"].out_of_scope) == (2, 1)
    assert by_feed["residences"].out_of_scope == 1  # Amelia's home, named by her record: out of scope, not a reject
    keys = sorted(r["key"] for r in query(identity_db, db, "MATCH (x:SourceRecord) RETURN x.key AS key"))
    assert keys == sorted([GP, COUNCIL])
    assert query(identity_db, db, "MATCH (c:Child) WHERE c.given_name = 'Amelia' OR 'Amelia' IN "
                                  "coalesce(c.known_names, []) RETURN count(c) AS n")[0]["n"] == 0
    assert query(identity_db, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) RETURN count(DISTINCT c) AS n"
                 )[0]["n"] == 1  # one boy: his two records share a valid NHS number


def test_subject_access_names_every_record_name_merged_id_own_involvement_and_flag_view(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path, api_client: Any,
        demo_tokens: dict[str, dict[str, str]]) -> None:
    db = neo4j_settings.database
    oliver_feeds(tmp_path, people=[person("1", **OLIVER), person("E1", source_id="ed-leeds", **{
        **OLIVER, "given_name": "Olly", "other_names": "Oliver Hewes"})])
    write_feed(tmp_path, "plans", [{**by_gp(), "la_code": LEEDS, "kind": "cp_plan", "since": "2024-02-01"}])
    (tmp_path / "residences.csv").unlink()
    for name in ("carers", "gp_registrations", "involvements"):
        (tmp_path / f"{name}.csv").unlink()  # the council record is not sent here
    restore_demo_users(identity_db, db)
    identity_db.execute_query("MATCH (u:User) WHERE u.username IN ['practitioner.leeds', 'ed_clinician.leeds'] "
                              "SET u.agency_id = CASE u.username WHEN 'practitioner.leeds' THEN 'SC1' ELSE 'ED1' END",
                              database_=db)
    report = load_dir(identity_db, tmp_path, database=db,
                      matcher=lambda: identity_run.match_pending(identity_db, database=db, thresholds=APART))
    assert report.rejected == 0, report.rejects_path.read_text()
    ids = {r["key"]: r["id"] for r in query(identity_db, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) "
                                                             "RETURN x.key AS key, c.id AS id")}
    gp, ed = ids[GP], ids[ED]
    assert _write(identity_db, db, changes.merge_children, viewer=OFFICER, survivor=gp, merged=ed,
                  reason="the same boy", **TRACE).outcome == "ok"

    def ask(method: str, path: str, user: str, **kw: Any) -> Any:
        response = api_client.request(method, path, headers={**demo_tokens[user], "X-Purpose": "subject access test"},
                                      **kw)
        assert response.status_code < 300, response.text
        return response.json()

    ask("POST", f"/children/{gp}/involvements", "practitioner.leeds", json={"service": "school_nursing"})
    assert ask("GET", "/flags", "ed_clinician.leeds", params={"given_name": "Oliver", "family_name": "Hughes",
                                                             "dob": OLIVER["dob"]})["results"]
    got = ask("GET", f"/children/{gp}/subject-access", "la_admin.leeds")
    assert got["identity"]["merged_ids"] == [ed]
    assert {"Oliver Hughes", "Olly Hughes", "Oliver Hewes"} <= set(got["identity"]["known_names"])
    assert {(s["kind"], s["local_id"]) for s in got["sources"]} == {("gp_system", "1"), ("emergency_department", "E1")}
    own = [s for s in got["services"] if s["recorded"] == "by the practitioner"]
    assert [(s["service"], s["agency"]) for s in own] == [("school_nursing", "Leeds Children's Social Care")]
    assert [(v["role"], v["agency"]) for v in got["flag_views"]] == [("ed_clinician", "Leeds General ED")]
    assert all(v["action"] == "flag" for v in got["flag_views"])
    page = api_client.get(f"/children/{gp}/subject-access", params={"format": "html"},
                          headers={**demo_tokens["la_admin.leeds"], "X-Purpose": "subject access test"}).text
    assert "Emergency care looked at the protection flag" in page and ed in page and "Olly Hughes" in page
