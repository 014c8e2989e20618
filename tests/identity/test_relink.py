"""A full relink: the merges and splits it would make, shown and then applied; the merge primitive."""

from __future__ import annotations

import pytest

import os
import subprocess
import sys
from pathlib import Path

from neo4j import Driver

from graph.config import GraphSettings, PROJECT_ROOT
from graph.identity import merge, relink, run
from loaders.load import load_dir
from matching.decide import Thresholds
from tests.identity.conftest import NHS_A, NHS_B, SOURCES, person, query, write_feed

LEEDS = "E08000035"
OLIVER = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB")


def _children(driver: Driver, db: str) -> dict[str, str]:
    return {r["key"]: r["id"] for r in query(driver, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) "
                                                         "RETURN x.key AS key, c.id AS id")}


def _load_apart(driver: Driver, db: str, folder: Path) -> dict[str, str]:
    """Oliver's GP and council records loaded with a link threshold nothing reaches: two children."""
    write_feed(folder, "sources", SOURCES)
    write_feed(folder, "addresses", [{"address_id": "A1", "line1": "1 Hyde Park Road", "town": "Leeds",
                                      "postcode": "LS6 2AB", "la_code": LEEDS}])
    write_feed(folder, "person_records", [person("1", **OLIVER), person("C7", source_id="council-leeds", **OLIVER)])
    write_feed(folder, "residences", [{"source_id": "council-leeds", "local_id": "C7", "address_id": "A1",
                                       "since": "2020-01-01"}])
    load_dir(driver, folder, database=db,
             matcher=lambda: run.match_pending(driver, database=db, thresholds=Thresholds(link=100, review=90)))
    return _children(driver, db)


def test_relink_shows_a_merge_then_applies_it_with_the_relationships(identity_db: Driver,
                                                                      neo4j_settings: GraphSettings, tmp_path: Path):
    db = neo4j_settings.database
    before = _load_apart(identity_db, db, tmp_path)
    gp, council = before["gp-leeds|1"], before["council-leeds|C7"]
    assert gp != council
    planned = relink.plan(identity_db, database=db)
    assert set(planned.diff.merges["current_child_id"]) == {gp, council} and planned.moves == 1
    assert _children(identity_db, db) == before  # planning changes nothing
    relink.apply(identity_db, database=db, planned=planned)
    after = _children(identity_db, db)
    survivor = after["gp-leeds|1"]
    assert after["council-leeds|C7"] == survivor and survivor in (gp, council)
    merged = council if survivor == gp else gp
    assert query(identity_db, db, "MATCH (c:Child)-[l:LIVED_AT]->() RETURN c.id AS id, l.via AS via") == \
        [{"id": survivor, "via": "council-leeds|C7"}]
    assert query(identity_db, db, "MATCH (m:MergedChild)-[:MERGED_INTO]->(s:Child) WHERE NOT m:Child "
                                  "RETURN m.id AS m, s.id AS s") == [{"m": merged, "s": survivor}]
    assert relink.plan(identity_db, database=db).moves == 0  # nothing left to change


def test_relink_splits_a_child_holding_two_valid_nhs_numbers(identity_db: Driver, neo4j_settings: GraphSettings,
                                                              tmp_path: Path):
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", SOURCES)
    write_feed(tmp_path, "person_records", [person("1", nhs_number=NHS_A, **OLIVER),
                                            person("E2", source_id="ed-leeds", nhs_number=NHS_B, **OLIVER)])
    load_dir(identity_db, tmp_path, database=db)
    ids = _children(identity_db, db)
    assert ids["gp-leeds|1"] != ids["ed-leeds|E2"]
    # A wrong merge made outside the matcher (by hand, or by an older model): one child, two NHS numbers.
    with identity_db.session(database=db) as session:
        session.execute_write(lambda tx: merge.merge(tx, merged=ids["ed-leeds|E2"], survivor=ids["gp-leeds|1"],
                                                     reason="test", by="test"))
    assert len(set(_children(identity_db, db).values())) == 1
    planned = relink.plan(identity_db, database=db)
    assert set(planned.diff.splits["current_child_id"]) == {ids["gp-leeds|1"]}
    relink.apply(identity_db, database=db, planned=planned)
    after = _children(identity_db, db)
    assert after["gp-leeds|1"] != after["ed-leeds|E2"]
    assert ids["gp-leeds|1"] in (after["gp-leeds|1"], after["ed-leeds|E2"])  # one group keeps the child


def test_merge_moves_everything_and_the_most_restrictive_shielding_wins(identity_db: Driver,
                                                                         neo4j_settings: GraphSettings,
                                                                         tmp_path: Path):
    db = neo4j_settings.database
    ids = _load_apart(identity_db, db, tmp_path)
    gp, council = ids["gp-leeds|1"], ids["council-leeds|C7"]
    write_feed(tmp_path / "s", "shielding", [{"child_id": council, "shielded": "true", "la_code": LEEDS,
                                              "decided_on": "2024-01-01", "reason": "risk"}])
    load_dir(identity_db, tmp_path / "s", database=db)
    with identity_db.session(database=db) as session:
        session.execute_write(lambda tx: merge.merge(tx, merged=council, survivor=gp, reason="test", by="test"))
    [state] = query(identity_db, db, """
        MATCH (s:Child {id: $gp})
        RETURN s.shielded AS shielded, COUNT { (s)-[:SHIELDED_BY]->() } AS shields,
               COUNT { (s)-[:HELD_BY]->() } AS held, COUNT { (s)<-[:IDENTIFIES]-() } AS records,
               [(s)-[l:LIVED_AT]->() | l.moved_from] AS moved""", gp=gp)
    assert state == {"shielded": True, "shields": 1, "held": 1, "records": 2, "moved": [council]}
    assert query(identity_db, db, "MATCH (c:Child {id: $id}) RETURN c", id=council) == []


def _cli(settings: GraphSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CP_NEO4J_URI": settings.bolt_uri, "CP_NEO4J_PASSWORD": settings.password.get_secret_value()}
    return subprocess.run([sys.executable, "-m", "contactpoint", "match", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_match_commands_run_export_and_relink(identity_db: Driver, neo4j_settings: GraphSettings,
                                                  tmp_path: Path):
    db = neo4j_settings.database
    _load_apart(identity_db, db, tmp_path)
    write_feed(tmp_path / "more", "person_records", [person("9", given_name="Zara", family_name="Khan",
                                                            dob="2019-01-02")])
    load_dir(identity_db, tmp_path / "more", database=db, matcher=lambda: None)  # stored, left pending
    done = _cli(neo4j_settings, "run")
    assert done.returncode == 0, done.stderr
    assert "1 records" in done.stdout and "1 new children" in done.stdout
    done = _cli(neo4j_settings, "model", "--export", str(tmp_path / "model.json"))
    assert done.returncode == 0 and (tmp_path / "model.json").is_file(), done.stderr
    done = _cli(neo4j_settings, "relink")
    assert done.returncode == 0, done.stderr
    assert "1 merges" in done.stdout and "Nothing applied" in done.stdout
    done = _cli(neo4j_settings, "relink", "--apply")
    assert done.returncode == 0 and "Applied: 1 records moved" in done.stdout, done.stdout + done.stderr
