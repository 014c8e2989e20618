"""Audit routes for auditors: search the trail, and check the hash chain. Both are audited: auditors are watched too."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator

from api import links
from api.deps import DriverDep, GraphSettingsDep, request_ids, require_roles
from graph import audit
from graph.instants import utc
from graph.policy import AUDIT_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/audit", tags=["audit"])
Auditor = Annotated[Viewer, Depends(require_roles(*AUDIT_ROLES))]
Key = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


def _storable(value: datetime | None) -> datetime | None:
    """The instant in UTC, as the trail holds it: one with no offset is UK time (graph.instants; compared with a
    stored instant it would otherwise match nothing). Offsets are at most 18 hours, as ISO 8601 and Neo4j allow."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is not None and abs(offset) > timedelta(hours=18):
        raise ValueError("the UTC offset must be between -18:00 and +18:00")
    return utc(value)


Instant = Annotated[datetime | None, AfterValidator(_storable), Query()]
# The actions the trail records (graph.audit events), for the action filter: looks at child data and changes
# to it, the auditors' own looks at the trail, and every change to who may sign in.
ACTIONS = ("search", "card", "network", "moves", "accesses", "override", "shield", "unshield", "alerts",
           "alert_acknowledge", "alert_close", "analytics", "audit_search", "audit_verify", "sign_in", "user_lock",
           "user_add", "user_disable")
# An auditor's purpose is the role's own; the event says what they looked for.
PURPOSE = "audit"


@router.get("", summary="Who looked at what, when and why", responses=links.FROM_AUDIT)
def search(
    request: Request,
    driver: DriverDep,
    graph: GraphSettingsDep,
    viewer: Auditor,
    child_id: Key = None,
    user_id: Key = None,
    since: Instant = None,
    until: Instant = None,
    action: Annotated[Literal[ACTIONS] | None, Query()] = None,  # type: ignore[valid-type]
    flagged: Annotated[bool | None, Query(description="true: the events marked for investigation "
                                                      "(break-glass overrides)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """The event of the search names the auditor, the filters and how many events came back.

    A child asked about is in the filters, not among the event's children: a lead reading the child's
    last accesses does not learn that an auditor is looking into who opened the record.
    """
    filters = {k: v for k, v in {"child_id": child_id, "user_id": user_id, "since": since, "until": until,
                                 "action": action, "flagged": flagged}.items() if v is not None}
    events = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="audit_search", purpose=PURPOSE,
        **request_ids(request), writer=request.app.state.audit,
        read=lambda session: audit.search(session, **filters, limit=limit, skip=skip),
        children_of=lambda _: [], outcome_of=lambda _: "ok",
        detail=lambda found: {"filters": filters, "limit": limit, "skip": skip, "returned": len(found)},
    )
    return {"events": [asdict(e) for e in events], "limit": limit, "skip": skip}


@router.get("/verify", summary="Recompute the hash chain and report the first problem, if any")
def verify(request: Request, driver: DriverDep, graph: GraphSettingsDep, viewer: Auditor) -> dict[str, Any]:
    result = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="audit_verify", purpose=PURPOSE,
        **request_ids(request), writer=request.app.state.audit,
        read=lambda _: audit.verify(driver, database=graph.database),
        children_of=lambda _: [], outcome_of=lambda _: "ok",
        detail=lambda found: {"ok": found.ok, "events": found.events, "head_seq": found.head_seq,
                              **({"kind": found.kind, "seq": found.seq} if not found.ok else {})},
    )
    return asdict(result)
