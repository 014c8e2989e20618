"""The alert inbox of an authority's safeguarding leads and management team: list, acknowledge, close.

Listing carries child ids and what happened to them, so it is an audited read (one event naming the
children on the page); acknowledging and closing write their event in the same transaction as the change.
An alert addressed to another authority, or about a child hidden from the viewer, is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from api import links
from api.deps import DriverDep, GraphSettingsDep, request_ids, require_roles
from api.routes.children import Purpose
from graph import alerts, audit, triage
from graph.instants import uk_today
from graph.policy import ALERT_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/alerts", tags=["alerts"])
Lead = Annotated[Viewer, Depends(require_roles(*ALERT_ROLES))]
AlertId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="The alert's id")]
NOT_FOUND = "No alert with that id for your authority."


class AckNote(BaseModel):
    """What the lead did or will do about the alert (recorded with it)."""

    note: str = Field(min_length=1, max_length=1000)


class CloseNote(BaseModel):
    """Why the alert is closed (optional)."""

    note: str | None = Field(default=None, max_length=1000)


@router.get("", summary="The alerts addressed to your authority, newest first", responses=links.FROM_INBOX)
def list_alerts(
    request: Request,
    driver: DriverDep,
    graph: GraphSettingsDep,
    purpose: Purpose,
    viewer: Lead,
    state: Annotated[Literal["open", "acknowledged", "closed"] | None, Query()] = "open",
    kind: Annotated[Literal[alerts.KINDS] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    page = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="alerts", purpose=purpose,
        **request_ids(request),
        read=lambda tx: alerts.inbox(tx, viewer=viewer, state=state, kind=kind, limit=limit, skip=skip),
        children_of=lambda found: sorted({a["child_id"] for a in found["items"] if a["child_id"]}),
        outcome_of=lambda found: "ok",
    )
    return {**page, "limit": limit, "skip": skip}


@router.get("/triage", summary="The same alerts grouped by child, children ranked by how their signals compound",
            responses=links.FROM_TRIAGE)
def triaged_alerts(
    request: Request,
    driver: DriverDep,
    graph: GraphSettingsDep,
    purpose: Purpose,
    viewer: Lead,
    state: Annotated[Literal["open", "acknowledged", "closed"] | None, Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """Each child once, with its score explained line by line (docs/alerts.md § Triage) and its alerts."""
    def read(tx: Any) -> dict[str, Any]:
        page = triage.triage(tx, viewer=viewer, state=state, today=uk_today(), limit=limit, skip=skip)
        return {**page, "counts": alerts.inbox(tx, viewer=viewer, state=state, limit=1)["counts"]}

    page = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="alerts", purpose=purpose,
        **request_ids(request), read=read,
        children_of=lambda found: sorted({g["child"]["id"] for g in found["items"] if g["child"]}),
        outcome_of=lambda found: "ok", detail={"view": "triage", "state": state, "skip": skip},
    )
    return {**page, "limit": limit, "skip": skip}


def _change(request: Request, driver: Any, database: str, purpose: str, viewer: Viewer, alert_id: str,
            note: str | None, *, action: str) -> dict[str, Any]:
    """Acknowledge or close in one write transaction with its audit event."""
    def work(tx: Any) -> tuple[str, dict[str, Any] | None]:
        found = alerts.get(tx, viewer=viewer, alert_id=alert_id)
        if found is None:
            outcome = "not_found"
        elif action == "alert_acknowledge":
            outcome = "ok" if alerts.acknowledge(tx, viewer=viewer, alert_id=alert_id, note=note or "") else "denied"
        else:
            outcome = "ok" if alerts.close(tx, viewer=viewer, alert_id=alert_id, note=note) else "denied"
        audit.append(tx, viewer=viewer, action=action, children=[found["child_id"]] if found else [],
                     purpose=purpose, **request_ids(request), outcome=outcome,
                     detail={"alert_id": alert_id, "note": note})
        return outcome, found and alerts.get(tx, viewer=viewer, alert_id=alert_id)

    with driver.session(database=database) as session:
        outcome, item = session.execute_write(work)
    if outcome == "not_found":
        raise HTTPException(404, NOT_FOUND)
    if outcome == "denied":
        assert item is not None
        raise HTTPException(409, f"This alert is {item['state']}; it cannot be "
                                 f"{'acknowledged' if action == 'alert_acknowledge' else 'closed'} again.")
    assert item is not None
    return item


@router.post("/{alert_id}/acknowledge", summary="Acknowledge an open alert, saying what is being done")
def acknowledge(request: Request, alert_id: AlertId, body: AckNote, driver: DriverDep, graph: GraphSettingsDep,
                purpose: Purpose, viewer: Lead) -> dict[str, Any]:
    return _change(request, driver, graph.database, purpose, viewer, alert_id, body.note.strip() or None,
                   action="alert_acknowledge")


@router.post("/{alert_id}/close", summary="Close an open or acknowledged alert")
def close(request: Request, alert_id: AlertId, body: CloseNote, driver: DriverDep, graph: GraphSettingsDep,
          purpose: Purpose, viewer: Lead) -> dict[str, Any]:
    return _change(request, driver, graph.database, purpose, viewer, alert_id, body.note,
                   action="alert_close")
