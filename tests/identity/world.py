"""A small England loaded through the feeds, keyed by source records, for the review, merge and split tests.

Oliver Hughes is known to a Leeds GP system (record gp-leeds|1) and to Leeds children's social care
(council-leeds|C7). Loaded with a link threshold nothing reaches, the two records are two children and one
review pair; every relationship feed names him by one record or the other, so each child has a home, carer,
school, GP, practitioner, plan and emergency visit to move and put back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neo4j import Driver

from loaders.load import load_dir
from matching.decide import Thresholds
from tests.identity.conftest import SOURCES, person, query, write_feed

LEEDS, BIRMINGHAM = "E08000035", "E08000025"
OLIVER = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB")
APART = Thresholds(link=100, review=0)  # nothing links automatically; any pair scored above 0 is for review
GP, COUNCIL = "gp-leeds|1", "council-leeds|C7"


def by_gp(local: str = "1") -> dict[str, str]:
    return {"source_id": "gp-leeds", "local_id": local}


def by_council(local: str = "C7") -> dict[str, str]:
    return {"source_id": "council-leeds", "local_id": local}


def oliver_feeds(folder: Path, *, people: list[dict[str, Any]] | None = None) -> Path:
    """The feeds of Oliver's world (two records, a relationship of every kind through each)."""
    write_feed(folder, "agencies", [
        {"agency_id": "SCH1", "name": "Hillside Primary", "kind": "school", "la_code": LEEDS},
        {"agency_id": "GP1", "name": "Hyde Park Surgery", "kind": "gp_practice", "la_code": LEEDS},
        {"agency_id": "ED1", "name": "Leeds General ED", "kind": "unscheduled_care", "la_code": LEEDS},
        {"agency_id": "SC1", "name": "Leeds Children's Social Care", "kind": "social_care", "la_code": LEEDS}])
    write_feed(folder, "practitioners", [{"practitioner_id": "P1", "name": "Sam Okoro", "job_title": "Social worker",
                                          "agency_id": "SC1"}])
    write_feed(folder, "addresses", [
        {"address_id": "A1", "line1": "1 Hyde Park Road", "town": "Leeds", "postcode": "LS6 2AB", "la_code": LEEDS},
        {"address_id": "A2", "line1": "9 Kirkstall Lane", "town": "Leeds", "postcode": "LS5 3BE", "la_code": LEEDS}])
    write_feed(folder, "sources", SOURCES)
    write_feed(folder, "person_records", people or [person("1", **OLIVER),
                                                    person("C7", source_id="council-leeds", **OLIVER)])
    write_feed(folder, "residences", [{**by_council(), "address_id": "A1", "since": "2020-01-01"},
                                      {**by_gp(), "address_id": "A2", "since": "2018-01-01", "until": "2019-12-31"}])
    write_feed(folder, "carers", [
        {"carer_id": "K1", "name": "Ruth Hughes", **who, "relationship": "mother", "parental_responsibility": "true",
         "since": "2015-04-07"} for who in (by_gp(), by_council())])  # the same fact from both sources
    write_feed(folder, "school_enrolments", [{**by_gp(), "agency_id": "SCH1", "since": "2019-09-01"}])
    write_feed(folder, "gp_registrations", [{**by_council(), "agency_id": "GP1", "since": "2015-05-01"}])
    write_feed(folder, "involvements", [{"practitioner_id": "P1", **by_council(), "service": "social_care",
                                         "since": "2024-02-01", "lead": "true"}])
    write_feed(folder, "plans", [{**by_council(), "la_code": LEEDS, "kind": "child_in_need", "since": "2024-02-01"}])
    write_feed(folder, "attendances", [{**by_gp(), "agency_id": "ED1", "at": "2025-03-02T10:00:00Z",
                                        "reason": "injury"}])
    return folder


def load(driver: Driver, db: str, folder: Path, thresholds: Thresholds = APART) -> dict[str, str]:
    """Load a feed folder, matching with these thresholds; the child each record identifies."""
    from graph.identity import run

    report = load_dir(driver, folder, database=db,
                      matcher=lambda: run.match_pending(driver, database=db, thresholds=thresholds))
    assert report.rejected == 0, report.rejects_path.read_text()
    return children_of_records(driver, db)


def children_of_records(driver: Driver, db: str) -> dict[str, str]:
    return {r["key"]: r["id"] for r in query(driver, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) "
                                                         "RETURN x.key AS key, c.id AS id")}


# Every relationship of a node by its id, whatever it is now (Child or MergedChild): its type, direction, the
# node at the other end and every property; MERGED_INTO (a merge's own bookkeeping) is left out.
SNAPSHOT = """
UNWIND $ids AS id
MATCH (c {id: id}) WHERE c:Child OR c:MergedChild
MATCH (c)-[r]-(o) WHERE type(r) <> 'MERGED_INTO'
RETURN c.id AS child, type(r) AS type, startNode(r) = c AS outgoing,
       coalesce(o.id, o.key, o.code) AS other, properties(r) AS props
"""


def snapshot(driver: Driver, db: str, ids: list[str]) -> list[tuple]:
    """Every relationship of these children, as sorted comparable rows."""
    rows = query(driver, db, SNAPSHOT, ids=ids)
    return sorted((r["child"], r["type"], r["outgoing"], r["other"], sorted((k, str(v)) for k, v in r["props"].items()))
                  for r in rows)
