"""Reading the trail: a child's last accesses (for leads) and the auditors' search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from graph.audit.chain import EVENT_PROJECTION, AuditRecord, _record
from graph.audit.form import native
from graph.query import Query

# Newest first: a seek on the child's entries in the (child_id, seq) index, the newest $limit kept, then each
# event by its unique seq. Never a scan of the trail, however long it is. The event must name the child: an
# entry planted for another child shows nothing (verify finds an entry removed).
LAST_ACCESSES = """
MATCH (a:AuditAccess {child_id: $child_id})
WHERE a.seq > 0
WITH a.seq AS seq ORDER BY seq DESC LIMIT $limit
MATCH (e:AuditEvent {seq: seq})
WHERE $child_id IN e.children
RETURN e {.seq, .at, .user_id, .role, .la_code, .agency_id, .action, .purpose, .outcome,
          .flagged, redacted: e.redaction_reason IS NOT NULL} AS access
ORDER BY e.seq DESC
"""
# `search` joins the fragments of the filters given, so each variant can use its own index. A child's
# events are found through its AuditAccess entries, as its last accesses are.
SEARCH_MATCH = "MATCH (e:AuditEvent) WHERE e.seq > 0"
SEARCH_BY_CHILD = """
MATCH (a:AuditAccess {child_id: $child_id})
WHERE a.seq > 0
MATCH (e:AuditEvent {seq: a.seq})
WHERE $child_id IN e.children"""
SEARCH_FILTERS: dict[str, str] = {
    "user_id": " AND e.user_id = $user_id",
    "since": " AND e.at >= $since",
    "until": " AND e.at < $until",
    "action": " AND e.action = $action",
    "flagged": " AND e.flagged = $flagged",
}
SEARCH_RETURN = """
RETURN e {""" + EVENT_PROJECTION + """} AS event
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
    purpose: str | None  # None once a child named with this one was redacted (graph.audit.redaction)
    outcome: str
    flagged: bool
    redacted: bool = False


def last_accesses_query(*, child_id: str, limit: int = 25) -> Query[list[Access]]:
    """The latest accesses to a child's record, newest first (CP-IS shows the last 25)."""
    return Query(LAST_ACCESSES, {"child_id": child_id, "limit": limit},
                 lambda rows: [Access(**{**row["access"], "at": native(row["access"]["at"])}) for row in rows])


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
    start = SEARCH_BY_CHILD if child_id is not None else SEARCH_MATCH
    statement = start + "".join(f for k, f in SEARCH_FILTERS.items() if params[k] is not None) + SEARCH_RETURN
    rows = tx.run(statement, **params, skip=skip, limit=limit)
    return [_record(row["event"]) for row in rows]

