"""Where the serious-case child lands in each inbox it reaches, in a synthetic England of any size.

On a store bulk-loaded by bench/national_bench.py (for example 1M children), this plants the child of the
scenario tests who went through four authorities in ten months (tests/scenarios/situations.py, `X1`, with the
agencies it needs), raises every alert from nothing as of the generation date, and then, for each authority the
child's alerts reach, reads the triaged inbox as that authority's safeguarding lead would (graph/triage.py):
the child's rank and score, how many children and alerts the inbox holds, the first screen, and how long it took.
It also reports how many children raised a repeat-emergency alert (the share the generator is calibrated for)
and the time to read the child's chronology. Results go to bench/results/triage-LABEL.json. Usage:

    .venv/bin/python -m bench.triage_bench --home .neo4j/national-1m --port 7871 --label 1m
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from graph import alerts, chronology, local, schema, triage
from graph.config import PROJECT_ROOT, GraphSettings, get_settings
from graph.db import connect
from graph.viewer import Role, Viewer
from loaders.generate import DEFAULT_AS_OF
from tests.factories import AUTHORITIES, Feeds
from tests.scenarios.situations import lost_across_four_authorities, services

RESULTS = PROJECT_ROOT / "bench" / "results"
CHILD = "X1"
FIRST_SCREEN = 10  # the dashboard's triaged inbox shows ten children a page
CLEAR = "MATCH (a:Alert) WHERE a.kind IN $kinds CALL (a) { DELETE a } IN TRANSACTIONS OF 10000 ROWS"
CHILDREN = "MATCH (c:Child) RETURN count(c) AS n"
REPEAT = "MATCH (a:Alert {kind: 'repeat_emergency'}) RETURN count(a) AS alerts, count(DISTINCT a.child_id) AS children"
REACHED = "MATCH (a:Alert {child_id: $child}) RETURN DISTINCT a.la_code AS la ORDER BY la"
NAME = "MATCH (la:LocalAuthority {code: $code}) RETURN la.name AS name"
CODES = "MATCH (la:LocalAuthority) WHERE la.name IN $names RETURN la.name AS name, la.code AS code"


def plant(driver: Any, database: str) -> None:
    """The scenario's child and its agencies, through the real ingestion path, in the store's own authorities
    (found by name: the tests' codes may be older ONS codes than the generator's)."""
    feeds = Feeds()
    services(feeds)
    feeds.rows.pop("authorities")  # already loaded, with their real team contacts
    lost_across_four_authorities(feeds, CHILD, "Nomad", date(2014, 2, 11))
    names = {code: name for code, (name, _) in AUTHORITIES.items()}
    codes = {r["name"]: r["code"] for r in driver.execute_query(CODES, names=list(names.values()),
                                                                  database_=database).records}
    for rows in feeds.rows.values():
        for row in rows:
            if row.get("la_code") in names:
                row["la_code"] = codes[names[row["la_code"]]]
    feeds.write(driver, database)


def _visits_only(group: dict[str, Any]) -> bool:
    return ({a["kind"] for a in group["alerts"]} == {"repeat_emergency"}
            and {r["signal"] for r in group["reasons"]} <= {"emergency"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="3g")
    args = parser.parse_args()
    settings = GraphSettings(home=args.home.resolve(), dist=get_settings().dist_root, bolt_port=args.port,
                             uri=f"bolt://127.0.0.1:{args.port}", heap=args.heap, pagecache=args.pagecache)
    local.start(settings, timeout=600)
    driver = connect(settings)
    db = settings.database
    try:
        schema.apply(driver, database=db)
        children = driver.execute_query(CHILDREN, database_=db).records[0]["n"]
        plant(driver, db)
        with driver.session(database=db) as session:
            session.run(CLEAR, kinds=list(alerts.SCAN_KINDS)).consume()
        began = time.perf_counter()
        scanned = alerts.scan(driver, database=db, as_of=DEFAULT_AS_OF)
        scan_seconds = time.perf_counter() - began
        repeat = driver.execute_query(REPEAT, database_=db).records[0]
        reached = [r["la"] for r in driver.execute_query(REACHED, child=CHILD, database_=db).records]
        inboxes = []
        for code in reached:
            lead = Viewer(user_id="bench-triage", role=Role.SAFEGUARDING_LEAD, la_code=code)
            with driver.session(database=db) as session:
                began = time.perf_counter()
                page = session.execute_read(lambda tx, lead=lead: triage.triage(
                    tx, viewer=lead, state="open", today=DEFAULT_AS_OF, limit=100_000, skip=0))
                seconds = time.perf_counter() - began
            ranked = page["items"]
            mine = next(g for g in ranked if g["subject"] == CHILD)
            name = driver.execute_query(NAME, code=code, database_=db).records[0]["name"]
            inboxes.append({
                "authority": code, "name": name, "children": page["total"], "alerts": page["alerts"],
                "rank": mine["rank"], "score": mine["score"], "seconds": round(seconds, 2),
                "reasons": [(r["signal"], r["points"]) for r in mine["reasons"]],
                "first_screen": [{"subject": g["subject"], "score": g["score"],
                                  "signals": [r["signal"] for r in g["reasons"]]} for g in ranked[:FIRST_SCREEN]],
                "score_at_rank_2": ranked[1]["score"] if len(ranked) > 1 else None,
                # Children whose only alerts are repeat-emergency ones and who show no other signal: the flood.
                "repeat_visits_only": len(only := [g for g in ranked if _visits_only(g)]),
                "first_rank_of_repeat_visits_only": only[0]["rank"] if only else None,
            })
            print(f"{name}: {CHILD} ranks {mine['rank']} of {page['total']} children ({page['alerts']} alerts), "
                  f"score {mine['score']}; next {inboxes[-1]['score_at_rank_2']}; {seconds:.2f} s")
        lead = Viewer(user_id="bench-triage", role=Role.SAFEGUARDING_LEAD, la_code=reached[0])
        chronology_seconds = []
        with driver.session(database=db) as session:
            for _ in range(6):  # the first read plans the statement; the others are what a lead waits for
                began = time.perf_counter()
                story = session.execute_read(lambda tx: chronology.chronology(tx, viewer=lead, child_id=CHILD,
                                                                              as_of=DEFAULT_AS_OF))
                chronology_seconds.append(time.perf_counter() - began)
    finally:
        driver.close()
        local.stop(settings)
    result = {
        "label": args.label, "children": children, "as_of": DEFAULT_AS_OF.isoformat(),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]},
        "alert_scan_seconds": round(scan_seconds, 1), "raised": scanned.raised,
        "repeat_emergency": {"alerts": repeat["alerts"], "children": repeat["children"],
                             "share_of_children": round(repeat["children"] / children, 4)},
        "inboxes": inboxes,
        "chronology": {"entries": len(story["entries"]) if story else 0,
                       "first_seconds": round(chronology_seconds[0], 3),
                       "median_seconds_after": round(statistics.median(chronology_seconds[1:]), 3)},
        "command": f"python -m bench.triage_bench --home {args.home} --port {args.port} --label {args.label}",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"triage-{args.label}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
