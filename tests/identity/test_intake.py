"""Sources and person records through the loader: kept as sent, rejected with a reason, matched into children."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from neo4j import Driver

from graph.config import GraphSettings
from graph.identity import run
from loaders.load import load_dir
from matching.decide import Thresholds
from tests.identity.conftest import NHS_A, NHS_B, SOURCES, person, query, rejects, write_feed

OLIVER = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB")


def _load(driver: Driver, db: str, folder: Path, **kw):
    report = load_dir(driver, folder, database=db, **kw)
    return report, rejects(report.rejects_path)


def _child_of(driver: Driver, db: str, key: str) -> str | None:
    rows = query(driver, db, "MATCH (:SourceRecord {key: $k})-[:IDENTIFIES]->(c:Child) RETURN c.id AS id", k=key)
    assert len(rows) <= 1
    return rows[0]["id"] if rows else None


def test_records_are_kept_as_sent_and_bad_ones_rejected_with_a_reason(identity_db: Driver,
                                                                      neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", [*SOURCES, {"source_id": "x", "kind": "spaceship", "name": "X"},
                                     {"source_id": "y", "kind": "police", "name": "Y", "la_code": "E06000999"}])
    write_feed(tmp_path, "person_records", [
        person("1", given_name="Amara", family_name="Okafor", dob="2016-02-03", nhs_number="943 476 5918",
               postcode="ls62ab", other_names="Amara Brennan;Mara Okafor"),
        person("2", dob="2016-02-03", postcode="LS6 2AB"),  # line 3: nothing to match on
        person("3", source_id="nowhere", given_name="Ann"),  # line 4: unknown source
        person("4", given_name="Ann", nhs_number="12345"),  # line 5: not an NHS number
        person("1", given_name="Again"),  # line 6: the same record twice in one file
    ])
    report, bad = _load(identity_db, db, tmp_path)
    by_feed = {r.feed: r for r in report.results}
    assert (by_feed["sources"].loaded, by_feed["sources"].rejected) == (4, 2)
    assert "kind" in bad[("sources.csv", 6)]
    assert "unknown local authority 'E06000999'" in bad[("sources.csv", 7)]
    assert (by_feed["person_records"].loaded, by_feed["person_records"].rejected) == (1, 4)
    assert "neither a name nor an identifier" in bad[("person_records.csv", 3)]
    assert "unknown source 'nowhere'" in bad[("person_records.csv", 4)]
    assert "NHS number is 10 digits" in bad[("person_records.csv", 5)]
    assert "duplicate source_id/local_id" in bad[("person_records.csv", 6)]
    [kept] = query(identity_db, db, "MATCH (x:SourceRecord {key: 'gp-leeds|1'})-[:FROM]->(s:Source) "
                                    "RETURN x.nhs_number AS nhs, x.nhs_number_valid AS valid, x.postcode AS pc, "
                                    "x.other_names AS other, x.bk_nhs AS bk, s.kind AS kind")
    # A failing check digit is kept as sent, marked invalid, and never used as a key.
    assert kept == {"nhs": "9434765918", "valid": False, "pc": "LS6 2AB",
                    "other": ["Amara Brennan", "Mara Okafor"], "bk": None, "kind": "gp_system"}
    keys = query(identity_db, db, "MATCH (x:SourceRecord {key: 'gp-leeds|1'}) "
                                  "RETURN [k IN keys(x) WHERE k STARTS WITH 'bk_' | [k, x[k]]] AS keys")[0]["keys"]
    assert dict(keys) == {"bk_dob_district": "2016-02-03|LS6", "bk_dob_given": "2016-02-03|amara",
                          "bk_dob_family": "2016-02-03|okafor", "bk_name_year": "amara|okafor|2016",
                          "bk_name_district": "amara|okafor|LS6", "bk_given_postcode": "amara|LS6 2AB"}


def test_a_load_matches_records_into_children_with_their_evidence(identity_db: Driver,
                                                                  neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", SOURCES)
    write_feed(tmp_path, "person_records", [
        person("1", nhs_number=NHS_A, **OLIVER),
        person("E9", source_id="ed-leeds", given_name="Olly", family_name="Hughes", dob="2015-04-07",
               nhs_number=NHS_A),
        person("C7", source_id="council-leeds", **{**OLIVER, "given_name": "Oliver"}),
        person("2", given_name="Priya", family_name="Shah", dob="2011-11-30", sex="female", postcode="LS1 4AP"),
    ])
    report, bad = _load(identity_db, db, tmp_path)
    assert bad == {}
    summary = report.matching
    assert (summary.records, summary.new_children, summary.rejected) == (4, 2, 0)
    oliver = _child_of(identity_db, db, "gp-leeds|1")
    assert re.fullmatch(r"CP\d{9}", oliver)
    assert _child_of(identity_db, db, "ed-leeds|E9") == oliver == _child_of(identity_db, db, "council-leeds|C7")
    assert _child_of(identity_db, db, "gp-leeds|2") not in (None, oliver)
    links = {r["key"]: r for r in query(identity_db, db, """
        MATCH (x:SourceRecord)-[i:IDENTIFIES]->(:Child {id: $id})
        RETURN x.key AS key, i.method AS method, i.weight AS weight, i.model AS model, i.since AS since,
               x.match_state AS state""", id=oliver)}
    assert links["ed-leeds|E9"]["method"] == "exact_nhs"
    assert links["council-leeds|C7"]["method"] == "model" and links["council-leeds|C7"]["weight"] >= 6
    assert {r["model"] for r in links.values()} == {summary.model}
    assert all(r["since"].tzinfo is not None and r["state"] == "matched" for r in links.values())
    [child] = query(identity_db, db, "MATCH (c:Child {id: $id})-[:HELD_BY]->(la) RETURN c.given_name AS given, "
                                     "c.nhs_number AS nhs, c.known_names AS known, la.code AS la", id=oliver)
    # The council's case system outranks the GP and the ED for the chosen values; every name is kept.
    assert child == {"given": "Oliver", "nhs": NHS_A, "known": ["Oliver Hughes", "Olly Hughes"], "la": "E08000035"}
    [done] = query(identity_db, db, "MATCH (m:MatchRun {id: $id}) RETURN m.state AS state, m.records AS records, "
                                    "m.new_children AS new", id=summary.run_id)
    assert done == {"state": "done", "records": 4, "new": 2}


def test_different_valid_nhs_numbers_never_identify_one_child(identity_db: Driver, neo4j_settings: GraphSettings,
                                                              tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", SOURCES)
    # Everything else the same, and a third record without a number that matches both.
    write_feed(tmp_path, "person_records", [person("1", nhs_number=NHS_A, **OLIVER),
                                            person("2", source_id="ed-leeds", nhs_number=NHS_B, **OLIVER),
                                            person("3", source_id="council-leeds", **OLIVER)])
    report, _ = _load(identity_db, db, tmp_path)
    assert report.matching.guarded > 0
    a, b = _child_of(identity_db, db, "gp-leeds|1"), _child_of(identity_db, db, "ed-leeds|2")
    assert a != b
    numbers = query(identity_db, db, """
        MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) WHERE x.nhs_number_valid
        WITH c, collect(DISTINCT x.nhs_number) AS numbers RETURN max(size(numbers)) AS most""")
    assert numbers == [{"most": 1}]


def test_twins_stay_two_children(identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", SOURCES)
    twin = dict(family_name="Begum", dob="2018-09-14", postcode="LS6 2AB")
    write_feed(tmp_path, "person_records", [
        person("1", given_name="Amira", sex="female", **twin), person("2", given_name="Aliyah", sex="female", **twin),
        person("E1", source_id="ed-leeds", given_name="Amira", **twin),
        person("E2", source_id="ed-leeds", given_name="Aliyah", **twin)])
    _load(identity_db, db, tmp_path)
    amira, aliyah = _child_of(identity_db, db, "gp-leeds|1"), _child_of(identity_db, db, "gp-leeds|2")
    assert amira != aliyah
    assert _child_of(identity_db, db, "ed-leeds|E1") == amira and _child_of(identity_db, db, "ed-leeds|E2") == aliyah


def test_a_record_sent_again_unchanged_is_not_matched_again_and_a_changed_one_is(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", SOURCES)
    write_feed(tmp_path, "person_records", [person("1", nhs_number=NHS_A, **OLIVER),
                                            person("2", source_id="ed-leeds", **OLIVER)])
    _load(identity_db, db, tmp_path)
    first = _child_of(identity_db, db, "ed-leeds|2")
    report, _ = _load(identity_db, db, tmp_path)
    assert report.matching is None  # nothing pending
    # The ED corrects its record: a different child altogether (a new NHS number, another name).
    write_feed(tmp_path, "person_records", [person("2", source_id="ed-leeds", given_name="Zara", family_name="Khan",
                                                   dob="2019-01-02", nhs_number=NHS_B, postcode="LS1 4AP")])
    report, _ = _load(identity_db, db, tmp_path)
    assert report.matching.records == 1
    assert _child_of(identity_db, db, "ed-leeds|2") != first
    assert _child_of(identity_db, db, "gp-leeds|1") == first


def test_a_pair_between_the_thresholds_waits_for_a_person_on_a_child_of_its_own(
        identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", SOURCES)
    write_feed(tmp_path, "person_records", [
        person("1", given_name="Harriet", family_name="Walsh", dob="2013-08-19", sex="female", postcode="LS6 2AB"),
        person("P1", source_id="census", given_name="Harriet", family_name="Walsh", dob="2013-08-19",
               postcode="NE1 4XF")])
    load_dir(identity_db, tmp_path, database=db,
             matcher=lambda: run.match_pending(identity_db, database=db, thresholds=Thresholds(link=60, review=-40)))
    a, b = _child_of(identity_db, db, "gp-leeds|1"), _child_of(identity_db, db, "census|P1")
    assert a and b and a != b
    [review] = query(identity_db, db, "MATCH (m:MatchReview) RETURN m {.key, .state, .child_id, .candidate_child_id, "
                                      ".evidence_json, .la_codes, .weight} AS m")
    m = review["m"]
    assert m["key"] == "census|P1||gp-leeds|1" and m["state"] == "open"
    assert {m["child_id"], m["candidate_child_id"]} == {a, b}
    evidence = json.loads(m["evidence_json"])
    assert evidence["prior"] + sum(c["weight"] for c in evidence["comparisons"]) == pytest.approx(m["weight"])
    assert m["la_codes"] == ["E08000035"]
