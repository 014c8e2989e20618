"""Relationship feeds naming a child by the record a source sent: resolved to the right child, and marked."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from graph.config import GraphSettings
from loaders.load import load_dir
from tests.identity.conftest import NHS_A, NHS_B, SOURCES, person, query, rejects, write_feed

LEEDS = "E08000035"
OLIVER = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB")
PRIYA = dict(given_name="Priya", family_name="Shah", dob="2011-11-30", sex="female", postcode="LS1 4AP")


def _world(folder: Path) -> Path:
    write_feed(folder, "agencies", [{"agency_id": "SCH1", "name": "Hillside Primary", "kind": "school",
                                     "la_code": LEEDS}])
    write_feed(folder, "addresses", [{"address_id": "A1", "line1": "1 Hyde Park Road", "town": "Leeds",
                                      "postcode": "LS6 2AB", "la_code": LEEDS}])
    write_feed(folder, "sources", SOURCES)
    write_feed(folder, "person_records", [person("1", nhs_number=NHS_A, **OLIVER),
                                          person("E9", source_id="ed-leeds", nhs_number=NHS_A, **OLIVER),
                                          person("2", nhs_number=NHS_B, **PRIYA)])
    return folder


def _child(driver: Driver, db: str, key: str) -> str:
    [row] = query(driver, db, "MATCH (:SourceRecord {key: $k})-[:IDENTIFIES]->(c:Child) RETURN c.id AS id", k=key)
    return row["id"]


def test_a_record_keyed_relationship_lands_on_the_child_its_record_identifies(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    _world(tmp_path)
    write_feed(tmp_path, "residences", [
        {"source_id": "ed-leeds", "local_id": "E9", "address_id": "A1", "since": "2020-01-01"},
        {"source_id": "gp-leeds", "local_id": "2", "address_id": "A1", "since": "2021-01-01"},
        {"child_id": "C404", "address_id": "A1", "since": "2021-01-01"},  # line 4: unknown child
        {"source_id": "gp-leeds", "local_id": "99", "address_id": "A1", "since": "2021-01-01"},  # 5: no record
        {"child_id": "C1", "source_id": "gp-leeds", "local_id": "2", "address_id": "A1", "since": "2022-01-01"},
        {"source_id": "gp-leeds", "address_id": "A1", "since": "2022-01-01"},  # 7: half a record
        {"address_id": "A1", "since": "2022-01-01"},  # 8: no child at all
    ])
    write_feed(tmp_path, "school_enrolments", [{"source_id": "gp-leeds", "local_id": "1", "agency_id": "SCH1",
                                                "since": "2019-09-01"}])
    report = load_dir(identity_db, tmp_path, database=db)
    bad = rejects(report.rejects_path)
    assert set(bad) == {("residences.csv", n) for n in (4, 5, 6, 7, 8)}
    assert "unknown child 'C404'" in bad[("residences.csv", 4)]
    assert bad[("residences.csv", 5)] == "no person record gp-leeds|99: send it in person_records.csv first"
    assert "not both" in bad[("residences.csv", 6)]
    assert "local_id is required with source_id" in bad[("residences.csv", 7)]
    assert "name the child: child_id, or source_id and local_id" in bad[("residences.csv", 8)]
    oliver, priya = _child(identity_db, db, "gp-leeds|1"), _child(identity_db, db, "gp-leeds|2")
    assert oliver != priya
    lived = query(identity_db, db, "MATCH (c:Child)-[l:LIVED_AT]->(:Address {id: 'A1'}) "
                                   "RETURN c.id AS child, l.via AS via ORDER BY via")
    assert lived == [{"child": oliver, "via": "ed-leeds|E9"}, {"child": priya, "via": "gp-leeds|2"}]
    assert query(identity_db, db, "MATCH (c:Child)-[e:ENROLLED_AT]->() RETURN c.id AS child, e.via AS via") == \
        [{"child": oliver, "via": "gp-leeds|1"}]


def test_directory_keyed_children_are_the_directorys_own_records_and_can_be_matched(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "children", [{"child_id": "C1", "given_name": "Oliver", "family_name": "Hughes",
                                       "dob": "2015-04-07", "gender": "male", "nhs_number": NHS_A, "la_code": LEEDS}])
    write_feed(tmp_path, "sources", SOURCES)
    write_feed(tmp_path, "person_records", [person("E9", source_id="ed-leeds", given_name="Olly",
                                                   family_name="Hughes-Smith", dob="2015-04-07", nhs_number=NHS_A)])
    write_feed(tmp_path, "residences", [{"child_id": "C1", "address_id": "A1", "since": "2020-01-01"}])
    write_feed(tmp_path, "addresses", [{"address_id": "A1", "line1": "1 Hyde Park Road", "town": "Leeds",
                                        "postcode": "LS6 2AB", "la_code": LEEDS}])
    report = load_dir(identity_db, tmp_path, database=db)
    assert report.rejected == 0
    assert _child(identity_db, db, "ed-leeds|E9") == "C1" == _child(identity_db, db, "directory|C1")
    [c1] = query(identity_db, db, "MATCH (c:Child {id: 'C1'})-[l:LIVED_AT]->() RETURN c.given_name AS given, "
                                  "c.family_name AS family, c.known_names AS known, l.via AS via")
    # The directory's own values stand; the hospital's name is one the child is known by.
    assert c1 == {"given": "Oliver", "family": "Hughes", "known": ["Oliver Hughes", "Olly Hughes-Smith"], "via": None}
    [method] = query(identity_db, db, "MATCH (:SourceRecord {key: 'directory|C1'})-[i:IDENTIFIES]->() "
                                      "RETURN i.method AS m")
    assert method == {"m": "directory"}


def test_shielding_by_a_sources_record_is_the_same_locked_audited_decision(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    _world(tmp_path)
    write_feed(tmp_path, "shielding", [
        {"source_id": "ed-leeds", "local_id": "E9", "shielded": "true", "la_code": LEEDS, "decided_on": "2024-01-02",
         "reason": "risk from a former partner"},
        {"source_id": "ed-leeds", "local_id": "nope", "shielded": "true", "la_code": LEEDS,
         "decided_on": "2024-01-02", "reason": "x"}])
    report = load_dir(identity_db, tmp_path, database=db)
    bad = rejects(report.rejects_path)
    assert list(bad) == [("shielding.csv", 3)] and "no person record ed-leeds|nope" in bad[("shielding.csv", 3)]
    oliver = _child(identity_db, db, "gp-leeds|1")
    [state] = query(identity_db, db, "MATCH (c:Child {id: $id})-[s:SHIELDED_BY]->(la) RETURN c.shielded AS shielded, "
                                     "la.code AS la", id=oliver)
    assert state == {"shielded": True, "la": LEEDS}
    [event] = query(identity_db, db, "MATCH (e:AuditEvent {action: 'shield'}) RETURN e.children AS children, "
                                     "e.user_id AS user")
    assert event == {"children": [oliver], "user": "feed:shielding"}
