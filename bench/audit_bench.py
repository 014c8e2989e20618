"""The audit trail at national volume: a store of millions of chained events, a child's last 25 accesses, verification.

Builds (unless --reuse) a throw-away DBMS of its own: a synthetic England of --children children (the bulk files
`contactpoint bulk-load` writes) and --events audit events chained and hashed in Python exactly as the writer
would (graph.audit.form, streaming: one event in memory at a time), with one AuditAccess index entry per child
an event names, all through neo4j-admin's bulk importer. ContactPoint's design load was about 200,000 enquiries
a day (73M events a year); the events are spread at that rate. Then it measures:

- a child's last 25 accesses (graph.audit.last_accesses) for random children, cold then warm, and for the most
  accessed children: p50/p95/p99;
- the accesses route through the API, with its own audit write, and the contacts card beside it;
- a full verification (events/s), recording the checkpoint;
- a day's events (--day-events) appended through the chain's own append, then the incremental verification
  of that day from the checkpoint.

Writes bench/results/audit-<label>.json with the machine's load average before and after (the cores are
shared). Usage:

    .venv/bin/python bench/audit_bench.py --events 10000000 --children 100000 --home .neo4j/audit-10m --port 7841
    .venv/bin/python bench/audit_bench.py --reuse --home .neo4j/audit-10m --port 7841   # measure again
    .venv/bin/python bench/audit_bench.py --reuse --only-accesses --label 10m-accesses \\
        --home .neo4j/audit-10m --port 7841

--skip-api leaves out the API's measurements, --skip-verify the verifications and the day appended. Each step
is saved to the result file as it ends (`completed` lists them), so a step that fails keeps the figures before it.

The DBMS is stopped at the end; --drop deletes its home (the store takes several GB).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from neo4j import READ_ACCESS, Driver

from api_bench import percentiles, sign_in, timed  # bench/ is the script's folder, so on the path
from graph import audit, bulk, local, schema, users
from graph.audit import form
from graph.config import PROJECT_ROOT, GraphSettings, get_settings
from graph.db import connect
from loaders.bulk import write_bulk

RESULTS = PROJECT_ROOT / "bench" / "results"
BIRMINGHAM = users.BIRMINGHAM
DAY = 200_000  # ContactPoint's design load: enquiries a day
START = datetime(2025, 1, 6, tzinfo=timezone.utc)
EVENT_HEADER = ("id", "seq:long", "at:datetime", "user_id", "role", "la_code", "agency_id", "action", "outcome",
                "request_id", "flagged:boolean", "scheme:long", "children:string[]", "child_salts:string[]",
                "purpose", "detail_json", "context_salt", "payload_digest", "prev_hash", "hash")
GROUPS = (
    bulk.Group("audit_events.csv", "nodes", "AuditEvent", EVENT_HEADER),
    bulk.Group("audit_access.csv", "nodes", "AuditAccess", ("child_id", "seq:long")),
    bulk.Group("audit_head.csv", "nodes", "AuditHead", ("id", "seq:long", "hash")),
)
PURPOSES = ("s47 enquiry", "triage", "school admission", "home visit planning", "strategy meeting", "referral")
ROLES = ("practitioner",) * 8 + ("safeguarding_lead",) * 2
# action, share of events, children it names (min, max)
ACTIONS = (("card", 0.55, 1, 1), ("accesses", 0.08, 1, 1), ("moves", 0.07, 1, 1), ("network", 0.08, 2, 7),
           ("search", 0.14, 0, 8), ("sign_in", 0.08, 0, 0))
ALL_CHILDREN = "MATCH (c:Child) RETURN c.id AS id"
CHILDREN_OF = "MATCH (c:Child)-[:HELD_BY]->(:LocalAuthority {code: $la}) WHERE NOT c.shielded RETURN c.id AS id"
MOST_ACCESSED = """
MATCH (a:AuditAccess) WITH a.child_id AS child, count(*) AS n ORDER BY n DESC LIMIT $n RETURN child, n
"""


def machine() -> dict[str, Any]:
    mem_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return {"cpus": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def _authorities(folder: Path) -> list[str]:
    with (folder / "authorities.csv").open() as f:
        return [row[0] for row in csv.reader(f)][1:]


def _children(folder: Path) -> list[str]:
    with (folder / "children.csv").open() as f:
        reader = csv.reader(f)
        next(reader)
        return [row[0] for row in reader]


def events(n: int, children: list[str], authorities: list[str], seed: int) -> Iterator[dict[str, Any]]:
    """`n` events as the writer would store them: sealed, chained, numbered; a day's worth every DAY events.

    Children are drawn with a skew (a few children are looked at far more than most), users from a pool
    of 20,000 across the authorities.
    """
    rng = random.Random(seed)
    people = [(f"u-{k:05d}", rng.choice(ROLES), rng.choice(authorities), f"AG-{k % 3000:04d}") for k in range(20_000)]
    weights = [share for _, share, _, _ in ACTIONS]
    prev = audit.GENESIS
    step = timedelta(seconds=86_400 / DAY)
    for seq in range(1, n + 1):
        action, _, low, high = rng.choices(ACTIONS, weights)[0]
        named = [children[int(len(children) * rng.random() ** 1.5)] for _ in range(rng.randint(low, high))]
        user_id, role, la_code, agency_id = rng.choice(people)
        fields = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "seq": seq,
                  "at": START + step * seq, "user_id": user_id, "role": role, "la_code": la_code,
                  "agency_id": agency_id, "action": action, "outcome": "ok" if named or action == "sign_in"
                  else "not_found", "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  "client_request_id": None, "flagged": False, "children": named, "about": [],
                  "purpose": rng.choice(PURPOSES), "detail_json": "{}"}
        form.seal(fields)
        fields["prev_hash"], fields["hash"] = prev, form.chain_hash(prev, fields)
        prev = fields["hash"]
        yield fields


def write_audit(folder: Path, n: int, children: list[str], authorities: list[str], seed: int) -> dict[str, Any]:
    """The audit groups' files: events, their index entries, and the head."""
    began = time.monotonic()
    rows = {"audit_events.csv": 0, "audit_access.csv": 0, "audit_head.csv": 1}
    last: dict[str, Any] = {}
    with (folder / "audit_events.csv").open("w", newline="") as ev, \
            (folder / "audit_access.csv").open("w", newline="") as ac:
        ev_out, ac_out = csv.writer(ev), csv.writer(ac)
        ev_out.writerow(EVENT_HEADER)
        ac_out.writerow(GROUPS[1].header)
        for e in events(n, children, authorities, seed):
            ev_out.writerow([e["id"], e["seq"], e["at"].isoformat(timespec="microseconds").replace("+00:00", "Z"),
                             e["user_id"], e["role"], e["la_code"], e["agency_id"], e["action"], e["outcome"],
                             e["request_id"], "false", form.SCHEME, ";".join(e["children"]),
                             ";".join(e["child_salts"]), e["purpose"], e["detail_json"], e["context_salt"],
                             e["payload_digest"], e["prev_hash"], e["hash"]])
            for child in form.index_ids(e["children"]):
                ac_out.writerow([child, e["seq"]])
                rows["audit_access.csv"] += 1
            rows["audit_events.csv"] += 1
            last = e
            if e["seq"] % 1_000_000 == 0:
                print(f"  {e['seq']:,} events written ({time.monotonic() - began:.0f} s)", flush=True)
    with (folder / "audit_head.csv").open("w", newline="") as hd:
        out = csv.writer(hd)
        out.writerow(GROUPS[2].header)
        out.writerow(["head", last["seq"], last["hash"]])
    return {"rows": rows, "seconds": round(time.monotonic() - began, 1),
            "bytes": sum((folder / g.file).stat().st_size for g in GROUPS)}


def build(settings: GraphSettings, args: argparse.Namespace) -> dict[str, Any]:
    """England and the trail as bulk files, imported into the home; the schema and the demo users on top."""
    folder = settings.home.parent / f"{settings.home.name}-csv"
    shutil.rmtree(folder, ignore_errors=True)
    local.stop(settings)
    began = time.monotonic()
    england = write_bulk(folder, children=args.children, seed=args.seed)
    print(f"England: {args.children:,} children in {time.monotonic() - began:.0f} s", flush=True)
    trail = write_audit(folder, args.events, _children(folder), _authorities(folder), args.seed)
    print(f"trail: {args.events:,} events in {trail['seconds']:.0f} s", flush=True)
    imported = bulk.import_store(settings, folder, overwrite=True, heap=args.import_heap,
                                 max_off_heap=args.import_memory, rows={**england, **trail["rows"]}, extra=GROUPS)
    print(f"imported in {imported.seconds:.0f} s", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    local.start(settings, timeout=900)
    t = time.monotonic()
    with connect(settings) as driver:
        schema.apply(driver, database=settings.database, await_seconds=4 * 3600)
        with driver.session(database=settings.database) as session:
            session.execute_write(lambda tx: users.ensure_demo_users(tx))
    return {"generate_trail": trail, "import_seconds": round(imported.seconds, 1),
            "import_peak_rss_bytes": imported.peak_rss_bytes,
            "schema_and_indexes_seconds": round(time.monotonic() - t, 1)}


def accesses(driver: Driver, database: str, ids: list[str]) -> list[float]:
    def one(child_id: str) -> Any:  # as the route reads, in a read session, without the event
        with driver.session(database=database, default_access_mode=READ_ACCESS) as s:
            return audit.last_accesses(s, child_id=child_id)
    return timed(one, ids)


def through_api(settings: GraphSettings, args: argparse.Namespace, birmingham: list[str]) -> dict[str, Any]:
    """The accesses route (a lead of Birmingham, with its audit write) and the contacts card beside it."""
    url = f"http://127.0.0.1:{args.api_port}"
    env = {**os.environ, "NEO4J_URI": settings.bolt_uri, "CP_API_DEMO_MODE": "true"}
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                            str(args.api_port), "--no-access-log", "--log-level", "warning"], cwd=PROJECT_ROOT, env=env)
    try:
        client = httpx.Client(base_url=url, timeout=120)
        for _ in range(200):
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        lead, practitioner = sign_in(client, "safeguarding_lead.birmingham"), sign_in(client, "practitioner.birmingham")
        ids = birmingham[: args.samples]
        get = lambda path, who: client.get(path, headers=who).raise_for_status()  # noqa: E731
        timed(lambda i: get(f"/children/{i}/accesses", lead), ids[:50])
        found = [len(get(f"/children/{i}/accesses", lead).json()["accesses"]) for i in ids[:50]]
        # Each child's first look (its entries and events read from disk into the page cache), then again.
        out = {"accesses": percentiles(timed(lambda i: get(f"/children/{i}/accesses", lead), ids)),
               "accesses_again": percentiles(timed(lambda i: get(f"/children/{i}/accesses", lead), ids)),
               "card": percentiles(timed(lambda i: get(f"/children/{i}", practitioner), ids)),
               "accesses_returned_mean": round(sum(found) / len(found), 1)}
    finally:
        api.terminate()
        api.wait(timeout=30)
    return out


def append_day(driver: Driver, database: str, n: int, children: list[str], batch: int = 500) -> dict[str, Any]:
    """A day's events through the chain's own append (the head locked per transaction, as a shielding route's)."""
    rng = random.Random(99)
    viewer = audit.Actor(user_id="u-day", role="practitioner", la_code=BIRMINGHAM)
    began = time.monotonic()
    with driver.session(database=database) as session:
        for start in range(0, n, batch):
            fields = [audit.event_fields(viewer=viewer, action="card", children=[rng.choice(children)],
                                         purpose="triage", request_id=f"day-{start + k}")
                      for k in range(min(batch, n - start))]
            session.execute_write(audit.append_batch, fields)
    took = time.monotonic() - began
    return {"events": n, "seconds": round(took, 1), "events_per_second": round(n / took, 1), "batch": batch}


def verification(driver: Driver, database: str, *, incremental: bool) -> dict[str, Any]:
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  verified up to seq {done:,} of {total:,}", flush=True)

    result = audit.verify(driver, database=database, incremental=incremental, record=True, progress=progress)
    assert result.ok, result.problem
    return {"mode": result.mode, "from_seq": result.from_seq, "events": result.events, "head_seq": result.head_seq,
            "seconds": round(result.seconds, 1), "events_per_second": round(result.events_per_second, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", help="names the result file (default: from --events, e.g. 10m)")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-port", type=int, default=8841)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="4g")
    parser.add_argument("--import-heap", default="2g")
    parser.add_argument("--import-memory", default="4g")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--day-events", type=int, default=DAY)
    parser.add_argument("--reuse", action="store_true", help="measure the store already built in --home")
    parser.add_argument("--skip-api", action="store_true", help="leave out the measurements through the API")
    parser.add_argument("--only-accesses", action="store_true",
                        help="measure a child's last accesses only (no verification, no day appended)")
    parser.add_argument("--skip-verify", action="store_true",
                        help="leave out the verifications and the day appended (measure the reads only)")
    parser.add_argument("--drop", action="store_true", help="delete the home at the end")
    args = parser.parse_args()

    settings = GraphSettings(uri=f"bolt://127.0.0.1:{args.port}", home=args.home.resolve(),
                             dist=get_settings().dist_root, bolt_port=args.port, heap=args.heap,
                             pagecache=args.pagecache)
    before = machine()
    result: dict[str, Any] = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "machine_before": before, "neo4j": {"heap": args.heap, "pagecache": args.pagecache}}
    label = args.label or (f"{args.events // 1_000_000}m" if args.events >= 1_000_000 else str(args.events))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"audit-{label}.json"
    result["command"] = " ".join(["bench/audit_bench.py", *sys.argv[1:]])

    def save(step: str) -> None:
        """Write what is measured so far (a later step that fails leaves the earlier figures), and say so."""
        result["completed"] = [*result.get("completed", []), step]
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(step, json.dumps(result.get(step)), flush=True)

    try:
        if not args.reuse:
            result["build"] = build(settings, args)
            save("build")
        local.start(settings, timeout=900)
        measure(settings, args, result, save)
        store, logs = bulk.store_dirs(settings)
        result["store_bytes"], result["transaction_log_bytes"] = bulk.folder_bytes(store), bulk.folder_bytes(logs)
    finally:
        result["machine_after"] = machine()
        path.write_text(json.dumps(result, indent=2) + "\n")
        local.stop(settings)
    if args.drop:
        shutil.rmtree(settings.home, ignore_errors=True)
    print(f"-> {path}")


def measure(settings: GraphSettings, args: argparse.Namespace, result: dict[str, Any], save: Any) -> None:
    """The measurements on the running DBMS, each saved as it ends."""
    with connect(settings) as driver:
        db = settings.database
        status = schema.status(driver, database=db)
        result["nodes"] = {k: status.nodes.get(k) for k in ("AuditEvent", "AuditAccess", "Child")}
        all_children = [r["id"] for r in driver.execute_query(ALL_CHILDREN, database_=db).records]
        rng = random.Random(args.seed)
        sample = rng.sample(all_children, min(args.samples, len(all_children)))
        hot = [r["child"] for r in driver.execute_query(MOST_ACCESSED, n=100, database_=db).records]
        cold = accesses(driver, db, sample)
        result["last_accesses"] = {
            "random_cold": percentiles(cold), "random_warm": percentiles(accesses(driver, db, sample)),
            "most_accessed_100": percentiles(accesses(driver, db, hot * 3)),
            "most_accessed_entries": driver.execute_query(MOST_ACCESSED, n=1, database_=db).records[0]["n"]}
        save("last_accesses")
        if args.only_accesses:
            return
        if not args.skip_api:
            birmingham = [r["id"] for r in driver.execute_query(CHILDREN_OF, la=BIRMINGHAM, database_=db).records]
            rng.shuffle(birmingham)
            result["api"] = through_api(settings, args, birmingham)
            save("api")
        if args.skip_verify:
            return
        result["verify_full"] = verification(driver, db, incremental=False)
        save("verify_full")
        result["append_day"] = append_day(driver, db, args.day_events, all_children)
        save("append_day")
        result["verify_incremental"] = verification(driver, db, incremental=True)
        save("verify_incremental")


if __name__ == "__main__":
    main()
