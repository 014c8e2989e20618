"""Audit routes for auditors: search the trail, and check the hash chain. All audited: auditors are watched too.

Verification never runs inside a request (a full run over a national trail takes hours): `GET /audit/verify`
answers with the stored result and starts an incremental run in the background, `POST /audit/verify` starts
one (a full one with `full=true`); graph.audit.runs keeps one run at a time across the API's processes.
"""

from __future__ import annotations

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
           "alert_acknowledge", "alert_close", "analytics", "audit_search", "audit_verify", "audit_redact",
           "audit_rechain", "sign_in", "user_lock", "user_add", "user_disable")
# An auditor's purpose is the role's own; the event says what they looked for.
PURPOSE = "audit"
# What an auditor sees of an event: everything but the salts and kept digests (graph.audit.form), which
# only verification needs.
EVENT_FIELDS = ("id", "seq", "at", "user_id", "role", "la_code", "agency_id", "action", "children", "about",
                "purpose", "request_id", "client_request_id", "outcome", "flagged", "detail_json", "scheme",
                "payload_digest", "prev_hash", "hash", "redacted_at", "redaction_reason", "redaction_seq")
# What the verification's event records of what it answered: never the events themselves.
VERIFY_DETAIL = ("ok", "events", "head_seq", "kind", "seq")


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

    A child asked about is in the filters and the event's `about`, not among its children: a lead reading
    the child's last accesses does not learn that an auditor is looking into who opened the record.
    """
    filters = {k: v for k, v in {"child_id": child_id, "user_id": user_id, "since": since, "until": until,
                                 "action": action, "flagged": flagged}.items() if v is not None}
    events = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="audit_search", purpose=PURPOSE,
        **request_ids(request), writer=request.app.state.audit,
        read=lambda session: audit.search(session, **filters, limit=limit, skip=skip),
        children_of=lambda _: [], outcome_of=lambda _: "ok", about=[child_id] if child_id else [],
        detail=lambda found: {"filters": filters, "limit": limit, "skip": skip, "returned": len(found)},
    )
    return {"events": [{k: getattr(e, k) for k in EVENT_FIELDS} for e in events], "limit": limit, "skip": skip}


def _shown(state: audit.Status) -> dict[str, Any]:
    """The stored verification as the API shows it: the last finished run's result at the top level."""
    last = state.last or {}
    return {"state": state.state, "ok": last.get("ok"), "events": last.get("events"), "head_seq": last.get("head_seq"),
            "head_hash": last.get("head_hash"), "seconds": last.get("seconds"), "kind": last.get("kind"),
            "seq": last.get("seq"), "problem": last.get("problem"), "mode": last.get("mode"),
            "from_seq": last.get("from_seq"), "redacted": last.get("redacted", {}),
            "incomplete_redactions": last.get("incomplete_redactions", 0), "rechecked": last.get("rechecked", 0),
            "events_per_second": last.get("events_per_second"), "finished_at": last.get("finished_at"),
            "running": state.running, "checkpoint": state.checkpoint, "error": state.error}


def _answer(request: Request, driver: Any, graph: Any, viewer: Viewer, *, full: bool) -> dict[str, Any]:
    """Read the stored verification (audited like any look at the trail), then start a run in the background."""
    state = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="audit_verify", purpose=PURPOSE,
        **request_ids(request), writer=request.app.state.audit,
        read=audit.status,
        children_of=lambda _: [], outcome_of=lambda _: "ok",
        detail=lambda found: {"mode": "full" if full else "incremental", "state": found.state,
                              **{k: v for k, v in _shown(found).items() if k in VERIFY_DETAIL and v is not None}},
    )
    started = request.app.state.verifier.start(full=full, by=viewer.user_id)
    return {**_shown(state), "started": started}


@router.get("/verify", summary="The last verification's result; checks the events since in the background")
def verify(request: Request, driver: DriverDep, graph: GraphSettingsDep, viewer: Auditor) -> dict[str, Any]:
    """The stored result of the last run (ok, the first problem, redacted events by reason) and the run in progress.

    Starts an incremental run (from the last verified point) in the background unless one is running:
    ask again to see it finish. `state` is "never" until a first run has finished.
    """
    return _answer(request, driver, graph, viewer, full=False)


@router.post("/verify", status_code=202, summary="Start a verification in the background (full=true: all of it)")
def start_verify(request: Request, driver: DriverDep, graph: GraphSettingsDep, viewer: Auditor,
                 full: Annotated[bool, Query(description="recompute the whole chain, not only what the last "
                                                         "verified point leaves")] = False) -> dict[str, Any]:
    """As GET, and a full run when asked: the only kind that finds an edit before the last verified point."""
    return _answer(request, driver, graph, viewer, full=full)
