"""Give every child of a bulk-loaded store the source records matching would have joined to it, for the card's cost.

A bulk load (`contactpoint bulk-load`, bench/national_bench.py) writes one source record per child: the
directory's own. A child that came through matching is known to about 2.75 records (loaders/synth/sources.py).
This adds, for every child, a GP system's record and, for three children in four, a school census's, each
FROM a source of the child's authority and IDENTIFIES the child (method "model"), and a second known name, so
that the contacts card's "known to" and "known names" read what a matched directory holds. Then measure the
card again with bench/api_bench.py. Usage (the store bench/national_bench.py made, left running):

    .venv/bin/python bench/card_sources.py --port 7695
    .venv/bin/python bench/api_bench.py --label national-1m-sources --home .neo4j/national-1m --port 7695

Idempotent: a child that already has the records is left alone. Writes nothing else.
"""

from __future__ import annotations

import argparse
import time

from graph.config import GraphSettings, get_settings
from graph.db import connect

SOURCES = """
MATCH (la:LocalAuthority)
UNWIND [['bench-gp-', 'gp_system', ' GP practices'], ['bench-sc-', 'school_census', ' school census']] AS s
MERGE (src:Source {id: s[0] + la.code})
ON CREATE SET src.kind = s[1], src.name = la.name + s[2], src.registered_at = datetime()
RETURN count(src) AS sources
"""
RECORDS = """
MATCH (c:Child)-[:HELD_BY]->(la:LocalAuthority)
WHERE NOT EXISTS { (c)<-[:IDENTIFIES]-(:SourceRecord {source_id: 'bench-gp-' + la.code}) }
CALL (c, la) {
  MATCH (gp:Source {id: 'bench-gp-' + la.code}), (sc:Source {id: 'bench-sc-' + la.code})
  WITH c, gp, sc, datetime() AS now
  CREATE (g:SourceRecord {key: gp.id + '|' + c.id, source_id: gp.id, local_id: c.id, given_name: c.given_name,
                          family_name: c.family_name, dob: c.dob, sex: c.gender, nhs_number: c.nhs_number,
                          match_state: 'matched', received: now, changed: now})-[:FROM]->(gp),
         (g)-[:IDENTIFIES {method: 'model', since: now}]->(c)
  WITH c, sc, now WHERE toInteger(right(c.id, 1)) % 4 <> 0
  CREATE (s:SourceRecord {key: sc.id + '|' + c.id, source_id: sc.id, local_id: c.id,
                          given_name: left(c.given_name, 3), family_name: c.family_name, dob: c.dob,
                          upn: c.upn, match_state: 'matched', received: now, changed: now})-[:FROM]->(sc),
         (s)-[:IDENTIFIES {method: 'model', since: now}]->(c)
  SET c.known_names = [c.given_name + ' ' + c.family_name, left(c.given_name, 3) + ' ' + c.family_name]
} IN TRANSACTIONS OF 10000 ROWS
"""
COUNT = "MATCH (r:SourceRecord) RETURN count(r) AS records, count {MATCH (c:Child)} AS children"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=7695, help="the Bolt port of the running store")
    args = parser.parse_args()
    settings = GraphSettings(uri=f"bolt://127.0.0.1:{args.port}", dist=get_settings().dist_root)
    began = time.monotonic()
    with connect(settings) as driver:
        db = settings.database
        sources = driver.execute_query(SOURCES, database_=db).records[0]["sources"]
        with driver.session(database=db) as session:
            session.run(RECORDS).consume()
        counted = driver.execute_query(COUNT, database_=db).records[0]
    print(f"{sources} sources; {counted['records']:,} source records for {counted['children']:,} children "
          f"({counted['records'] / max(counted['children'], 1):.2f} a child) in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
