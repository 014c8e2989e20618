"""Reading the trail: a child's last accesses (for leads) and the auditors' search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from graph.audit.chain import AuditRecord, _native, _record
from graph.query import Query

# Newest first by seq, which the seq index serves in order, so the scan stops after $limit hits.
LAST_ACCESSES = """
MATCH (e:AuditEvent)
WHERE e.seq > 0 AND $child_id IN e.children
RETURN e {.seq, .at, .user_id, .role, .la_code, .agency_id, .action, .purpose, .outcome,
          .flagged} AS access
ORDER BY e.seq DESC
LIMIT $limit
"""
# `search` joins the fragments of the filters given, so each variant can use its own index.
SEARCH_MATCH = "MATCH (e:AuditEvent) WHERE e.seq > 0"
SEARCH_FILTERS: dict[str, str] = {
    "child_id": " AND $child_id IN e.children",
    "user_id": " AND e.user_id = $user_id",
    "since": " AND e.at >= $since",
    "until": " AND e.at < $until",
    "action": " AND e.action = $action",
    "flagged": " AND e.flagged = $flagged",
}
SEARCH_RETURN = """
RETURN e {.id, .seq, .at, .user_id, .role, .la_code, .agency_id, .action, .children, .purpose,
          .request_id, .client_request_id, .outcome, .flagged, .detail_json, .prev_hash, .hash} AS event
ORDER BY e.seq DESC
SKIP $skip
LIMIT $limit
"""


@dataclass(frozen=True)
class Access:
    """One line of a child's access history: who looked, as what, from where, why and when."""

    seq: int
    at: datetime
    user_id: str
    role: str
    la_code: str
    agency_id: str | None
    action: str
    purpose: str
    outcome: str
    flagged: bool


def last_accesses_query(*, child_id: str, limit: int = 25) -> Query[list[Access]]:
    """The latest accesses to a child's record, newest first (CP-IS shows the last 25)."""
    return Query(LAST_ACCESSES, {"child_id": child_id, "limit": limit},
                 lambda rows: [Access(**{**row["access"], "at": _native(row["access"]["at"])}) for row in rows])


def last_accesses(tx: ManagedTransaction, *, child_id: str, limit: int = 25) -> list[Access]:
    """As `last_accesses_query`, run in `tx`."""
    return last_accesses_query(child_id=child_id, limit=limit).run(tx)


def search(
    tx: ManagedTransaction,
    *,
    child_id: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    flagged: bool | None = None,
    limit: int = 100,
    skip: int = 0,
) -> list[AuditRecord]:
    """Events for auditors, newest first, filtered by child, user, time (since <= at < until), action and flag.

    `flagged=True` lists the events marked for investigation: the break-glass log.
    """
    params = {"child_id": child_id, "user_id": user_id, "since": since, "until": until, "action": action,
              "flagged": flagged}
    statement = SEARCH_MATCH + "".join(SEARCH_FILTERS[k] for k, v in params.items() if v is not None) + SEARCH_RETURN
    rows = tx.run(statement, **params, skip=skip, limit=limit)
    return [_record(row["event"]) for row in rows]

