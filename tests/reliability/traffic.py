"""Concurrent HTTP clients for the load and fault tests and bench/soak.py: a request mix, outcomes, percentiles."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRIED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@dataclass(frozen=True)
class Call:
    """One request of the mix: an operation name, and what to send."""

    op: str
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str] | None = None
    json: Any = None


@dataclass(frozen=True)
class Outcome:
    """What one request got: its status (0 for a transport error), how long it took, its request id, and
    when it was sent (time.perf_counter())."""

    op: str
    status: int
    seconds: float
    request_id: str
    at: float
    error: str | None = None


@dataclass
class Run:
    """Every outcome of a run, and how long it ran."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    retried: list[str] = field(default_factory=list)  # the transport errors of GETs sent a second time

    @property
    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    def errors(self, ok: Callable[[Outcome], bool] = lambda o: 200 <= o.status < 300) -> list[Outcome]:
        return [o for o in self.outcomes if not ok(o)]

    def summary(self) -> dict[str, Any]:
        """Requests, rate and latency percentiles, overall and per operation (answered requests only)."""
        answered = [o for o in self.outcomes if o.status]
        ops = sorted({o.op for o in answered})
        return {"requests": len(self.outcomes), "seconds": round(self.seconds, 1),
                "requests_per_second": round(len(self.outcomes) / self.seconds, 1) if self.seconds else 0.0,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "retried": dict(Counter(self.retried)),
                "all": percentiles([o.seconds for o in answered]),
                "by_operation": {op: percentiles([o.seconds for o in answered if o.op == op]) for op in ops}}


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds (nearest rank)."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(pick(0.50) * 1000, 1), "p95_ms": round(pick(0.95) * 1000, 1),
            "p99_ms": round(pick(0.99) * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


def demo_mix(children: Sequence[dict[str, str]], birmingham: Sequence[str],
             tokens: dict[str, dict[str, str]]) -> Callable[[random.Random], Call]:
    """A practitioner's day and a lead's: 70% contacts cards, 20% searches by name, 10% networks."""
    practitioners = [tokens["practitioner.birmingham"], tokens["practitioner.leeds"]]
    lead = tokens["safeguarding_lead.birmingham"]

    def pick(rng: random.Random) -> Call:
        roll = rng.random()
        who = {**rng.choice(practitioners), "X-Purpose": "load test"}
        if roll < 0.7:
            return Call("card", "GET", f"/children/{rng.choice(children)['id']}", who)
        if roll < 0.9:
            child = rng.choice(children)
            return Call("search", "GET", "/children/search", who,
                        params={"given_name": child["given_name"], "family_name": child["family_name"]})
        return Call("network", "GET", f"/children/{rng.choice(birmingham)}/network",
                    {**lead, "X-Purpose": "load test"})

    return pick


async def _client(client: httpx.AsyncClient, mix: Callable[[random.Random], Call], rng: random.Random,
                  until: Callable[[], bool], run: Run) -> None:
    while not until():
        call = mix(rng)
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                response = await client.request(call.method, call.path, params=call.params, json=call.json,
                                                headers={**call.headers, "X-Request-ID": request_id})
                status, error = response.status_code, None
                break
            except httpx.HTTPError as exc:
                status, error = 0, type(exc).__name__
                # As HTTP clients do (RFC 9110 9.2.2): a GET whose pooled connection broke before any answer
                # is sent again once, on a new connection; it is counted, so a dead server still shows.
                if not (attempt == 1 and call.method == "GET" and isinstance(exc, RETRIED)) or until():
                    break
                run.retried.append(error)
        run.outcomes.append(Outcome(call.op, status, time.perf_counter() - started, request_id, started, error))


def drive(base_url: str, mix: Callable[[random.Random], Call], *, clients: int, seconds: float | None = None,
          stop: threading.Event | None = None, seed: int = 1, timeout: float = 30.0, run: Run | None = None) -> Run:
    """`clients` concurrent clients, each sending the next request as soon as it has its answer, for
    `seconds` or until `stop` is set; outcomes go to `run` (a new one by default) as they come."""
    run = run if run is not None else Run()
    began = time.perf_counter()

    def until() -> bool:
        return (seconds is not None and time.perf_counter() - began >= seconds) or (stop is not None and stop.is_set())

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:
            await asyncio.gather(*(_client(client, mix, random.Random(seed * 1000 + i), until, run)
                                   for i in range(clients)))

    asyncio.run(main())
    run.seconds = time.perf_counter() - began
    return run
