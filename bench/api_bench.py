"""API latency and throughput on a loaded database, next to the same queries run directly (the floor).

By default uses the benchmark DBMS that bench/load_bench.py fills (.neo4j/bench, Bolt 7689; run that first
with --children N); --home and --port name any other local store (e.g. one bench/national_bench.py made).
Starts the API against it (port 8089 by default) in demo mode, and measures, for the contacts card,
search and network: p50/p95/p99 through HTTP with audit, and the same graph/ functions through the
driver without HTTP or audit; then sustained card requests/s with concurrent clients. Usage:

    .venv/bin/python bench/api_bench.py --label 1000000 [--requests 500] [--clients 16] [--seconds 20]
    .venv/bin/python bench/api_bench.py --label national-1m --home .neo4j/national-1m --port 7695 --api-port 8095
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from neo4j import READ_ACCESS

from graph.credentials import totp_code
from graph import children, local, schema, users
from graph.config import PROJECT_ROOT, GraphSettings
from graph.db import connect
from graph.viewer import Role, Viewer

RESULTS = PROJECT_ROOT / "bench" / "results"
SAMPLE = "MATCH (c:Child {shielded: false})-[:HELD_BY]->(:LocalAuthority {code: $la}) RETURN c.id AS id, " \
         "c.given_name AS given, c.family_name AS family, c.dob AS dob LIMIT 5000"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(pick(0.50) * 1000, 2), "p95_ms": round(pick(0.95) * 1000, 2),
            "p99_ms": round(pick(0.99) * 1000, 2), "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def timed(fn: Callable[[Any], Any], items: list[Any]) -> list[float]:
    out = []
    for item in items:
        began = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - began)
    return out


def sign_in(client: httpx.Client, username: str) -> dict[str, str]:
    user = next(u for u in users.DEMO_USERS if u.username == username)
    for _ in range(2):
        r = client.post("/auth/token", data={"username": user.username, "password": user.password,
                                             "otp": totp_code(user.totp_secret, datetime.now(timezone.utc))})
        if r.status_code == 200:
            return {"Authorization": f"Bearer {r.json()['access_token']}", "X-Purpose": "benchmark"}
        time.sleep(31 - time.time() % 30)
    raise SystemExit(f"cannot sign in as {username}: {r.text}")


WRK_SCRIPT = """
ids = {%s}
headers = {%s}
n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/children/" .. ids[(n %% #ids) + 1], headers)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def wrk_card(api_url: str, ids: list[str], headers: dict[str, str], *, clients: int, seconds: float) -> dict[str, Any]:
    """Sustained card requests with wrk (a C load generator), so the client takes little of the CPU."""
    lua = WRK_SCRIPT % (", ".join(f'"{i}"' for i in ids), ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(["wrk", "-t", "1", "-c", str(clients), "-d", f"{int(seconds)}s", "-s", script.name,
                              api_url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, micros, socket_errors, status_errors, p50, p95, p99, worst = map(int, line.split()[1:])
    return {"client": "wrk", "clients": clients, "seconds": round(micros / 1e6, 1), "requests": requests,
            "errors": socket_errors + status_errors, "requests_per_second": round(requests / (micros / 1e6), 1),
            "p50_ms": p50 / 1000, "p95_ms": p95 / 1000, "p99_ms": p99 / 1000, "max_ms": worst / 1000}


def python_card(api_url: str, ids: list[str], headers: dict[str, str], *, clients: int, seconds: float) -> dict[str, Any]:
    """Sustained card requests from Python threads (when wrk is not installed; the client then costs CPU)."""
    done, errors = [0] * clients, [0] * clients
    stop_at = time.perf_counter() + seconds

    def worker(k: int) -> None:
        with httpx.Client(base_url=api_url, timeout=30) as c:
            j = k
            while time.perf_counter() < stop_at:
                r = c.get(f"/children/{ids[j % len(ids)]}", headers=headers)
                done[k] += 1
                errors[k] += r.status_code != 200
                j += clients

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {"client": "python threads", "clients": clients, "seconds": round(elapsed, 1), "requests": sum(done),
            "errors": sum(errors), "requests_per_second": round(sum(done) / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", required=True, help="the size loaded, e.g. 1000000 (names the result file)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--home", type=Path, default=PROJECT_ROOT / ".neo4j" / "bench", help="the DBMS home")
    parser.add_argument("--port", type=int, default=7689, help="its Bolt port")
    parser.add_argument("--heap", default="4g", help="its heap, if it has to be started")
    parser.add_argument("--pagecache", default="8g", help="its page cache, if it has to be started")
    parser.add_argument("--api-port", type=int, default=8089)
    args = parser.parse_args()

    settings = GraphSettings(uri=f"bolt://127.0.0.1:{args.port}", home=args.home.resolve(),
                             dist=PROJECT_ROOT / ".neo4j" / "dist", bolt_port=args.port, heap=args.heap,
                             pagecache=args.pagecache)
    load_before = [round(x, 2) for x in os.getloadavg()]  # other work on the same cores shows in every figure
    local.start(settings, timeout=300)
    driver = connect(settings)
    schema.apply(driver, database=settings.database)
    with driver.session(database=settings.database) as session:
        session.execute_write(lambda tx: users.ensure_demo_users(tx))
    sample = [dict(r) for r in driver.execute_query(SAMPLE, la="E08000025", database_=settings.database).records]
    random.Random(1).shuffle(sample)
    ids = [s["id"] for s in sample][: args.requests]
    names = [(s["given"], s["family"]) for s in sample][: args.requests]

    api_url = f"http://127.0.0.1:{args.api_port}"
    env = {**os.environ, "NEO4J_URI": settings.bolt_uri, "CP_API_DEMO_MODE": "true", "CP_API_PORT": str(args.api_port)}
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                            "--port", str(args.api_port),
                            "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
                           cwd=PROJECT_ROOT, env=env)
    try:
        client = httpx.Client(base_url=api_url, timeout=30)
        for _ in range(100):
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        prac, lead = sign_in(client, "practitioner.birmingham"), sign_in(client, "safeguarding_lead.birmingham")
        viewer_p = Viewer("bench", Role.PRACTITIONER, "E08000025")
        viewer_l = Viewer("bench", Role.SAFEGUARDING_LEAD, "E08000025")

        def direct(fn: Callable[..., Any], **kw: Any) -> Any:  # as graph.audit.audited_read reads, without the event
            with driver.session(database=settings.database, default_access_mode=READ_ACCESS) as s:
                return fn(s, **kw)

        ops = {
            "card": (lambda i: client.get(f"/children/{i}", headers=prac).raise_for_status(),
                     lambda i: direct(children.card, viewer=viewer_p, child_id=i), ids),
            "search": (lambda n: client.get("/children/search", headers=prac,
                                            params={"given_name": n[0], "family_name": n[1]}).raise_for_status(),
                       lambda n: direct(children.search, viewer=viewer_p, given_name=n[0], family_name=n[1]), names),
            "network": (lambda i: client.get(f"/children/{i}/network", headers=lead).raise_for_status(),
                        lambda i: direct(children.network, viewer=viewer_l, child_id=i), ids),
        }
        latency: dict[str, Any] = {}
        for name, (through_api, through_driver, items) in ops.items():
            # Warm the plan caches and pools, and bring every sampled record into the page cache, so that
            # the API, measured first, does not pay for cold pages the driver then finds warm.
            timed(through_api, items[:50])
            timed(through_driver, items)
            latency[name] = {"api": percentiles(timed(through_api, items)),
                             "driver": percentiles(timed(through_driver, items))}
            print(name, latency[name], flush=True)

        if shutil.which("wrk"):
            throughput = wrk_card(api_url, ids, prac, clients=args.clients, seconds=args.seconds)
        else:
            throughput = python_card(api_url, ids, prac, clients=args.clients, seconds=args.seconds)
        throughput["api_workers"] = args.workers
        print("throughput", throughput, flush=True)
        counts = schema.status(driver, database=settings.database).nodes
    finally:
        api.terminate()
        api.wait(timeout=30)
        driver.close()
    result = {"label": args.label, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "children": counts.get("Child"), "audit_events_after": counts.get("AuditEvent"),
              "latency": latency, "card_throughput": throughput, "home": str(settings.home),
              "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "note": "client, API (uvicorn) and Neo4j share the same 2-core machine"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"api-{args.label}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
