"""Child routes: search, the contacts card, network, moves, accesses, shielding and break-glass.

Every response carrying child data goes through graph.audit.audited_read (or writes its event in the
same transaction as the change), so no route can read a child without leaving a trace.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api import export, links
from api.deps import (
    AsyncDriverDep, DriverDep, GraphSettingsDep, request_ids, require_roles, require_roles_audited,
)
from graph import audit, children, chronology, policy, shielding
from graph.identity import merge
from graph.instants import uk_today
from graph.policy import (
    ACCESS_LOG_ROLES, CARD_ROLES, CHRONOLOGY_ROLES, NETWORK_ROLES, OVERRIDE_ROLES, SEARCH_ROLES, SHIELD_ROLES,
)
from graph.viewer import Viewer

router = APIRouter(prefix="/children", tags=["children"])

ChildId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="Directory ID")]
Name = Annotated[str | None, Query(min_length=1, max_length=60, pattern=r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*$")]
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


async def stated_purpose(
    x_purpose: Annotated[str | None, Header(description="Why you are looking: recorded in the audit trail.")] = None,
) -> str:
    """Every request for a child's data states its purpose; without one the request is refused."""
    purpose = (x_purpose or "").strip()
    if not purpose:
        raise HTTPException(400, "State the purpose of this look in the X-Purpose header (it is recorded).")
    if len(purpose) > 200 or not purpose.isprintable():
        raise HTTPException(400, "X-Purpose must be printable text of at most 200 characters.")
    return purpose


Purpose = Annotated[str, Depends(stated_purpose)]


class Reason(BaseModel):
    """A reason recorded with a shielding decision or a break-glass override."""

    reason: str = Field(min_length=5, max_length=500)


class Merged:
    """A read of a merged directory id: it leads to the survivor (answered with 308 to the survivor's URL)."""

    def __init__(self, child_id: str, survivor: str) -> None:
        self.child_id, self.survivor = child_id, survivor


def _resolving(child_id: str, read: Any) -> Any:
    """The read, or, for an id merged into another child, a Merged naming the survivor."""
    async def resolved(session: Any) -> Any:
        found = await read(session)
        if found is None:
            survivor = await merge.survivor_query(child_id=child_id).run_async(session)
            return None if survivor is None else Merged(child_id, survivor)
        return found
    return resolved


def _audit_merged(children_of: Any, outcome_of: Any = None) -> dict[str, Any]:
    """children_of, outcome_of and detail of a resolving read: a merged id's look names both ids and is ok."""
    return {"children_of": lambda found: [found.child_id, found.survivor] if isinstance(found, Merged)
            else children_of(found),
            "outcome_of": lambda found: "ok" if isinstance(found, Merged)
            else (outcome_of(found) if outcome_of else ("ok" if children_of(found) else "not_found")),
            "detail": lambda found: {"merged_into": found.survivor} if isinstance(found, Merged) else None}


def merged_redirect(request: Request, found: Merged) -> HTTPException:
    """308 to the same request about the survivor (old links lead to the child the id was merged into)."""
    path = request.url.path.replace(f"/children/{found.child_id}", f"/children/{found.survivor}", 1)
    location = path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(308, f"Directory ID {found.child_id} was merged into {found.survivor}.",
                         headers={"Location": location})


def _trace(request: Request) -> dict[str, Any]:
    """What audited_read needs from the request: its ids, and the process's audit writer (group commit)."""
    return {**request_ids(request), "writer": request.app.state.audit}


@router.get("/search", summary="Find children by at least two identifying fields (fuzzy on names)",
            responses=links.FROM_SEARCH)
async def search(
    request: Request,
    driver: AsyncDriverDep,
    graph: GraphSettingsDep,
    purpose: Purpose,
    viewer: Annotated[Viewer, Depends(require_roles_audited(*SEARCH_ROLES))],
    given_name: Name = None,
    family_name: Name = None,
    dob: Annotated[date | None, Query()] = None,
    gender: Annotated[Literal["female", "male", "not_known", "not_specified"] | None, Query()] = None,
    postcode: Annotated[str | None, Query(max_length=10)] = None,
) -> dict[str, Any]:
    """Up to the configured number of matches; a shielded child only ever matches on visible fields."""
    canonical = None
    if postcode:
        match = _POSTCODE.match(postcode.upper().strip())
        if match is None:
            raise HTTPException(422, "postcode: not a UK postcode (e.g. 'B1 1AA')")
        canonical = f"{match.group(1)} {match.group(2)}"
    if sum(v is not None for v in (given_name, family_name, dob, gender, canonical)) < 2:
        raise HTTPException(422, "Give at least two of given_name, family_name, dob, gender, postcode.")
    if given_name is None and family_name is None and dob is None and canonical is None:
        raise HTTPException(422, "Give a name, a date of birth or a postcode.")
    limit = request.app.state.api_settings.search_limit
    query = children.search_query(viewer=viewer, given_name=given_name, family_name=family_name, dob=dob,
                                  gender=gender, postcode=canonical, limit=limit)
    results, truncated = await audit.audited_read_async(
        driver, database=graph.database, viewer=viewer, action="search", purpose=purpose,
        **_trace(request), read=query.run_async,
        children_of=lambda found: [c["id"] for c in found[0]],
    )
    return {"results": results, "truncated": truncated}


@router.get("/{child_id}", summary="The contacts card: who is working with this child and how to reach them")
async def card(request: Request, child_id: ChildId, driver: AsyncDriverDep, graph: GraphSettingsDep,
               purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles_audited(*CARD_ROLES))],
               ) -> dict[str, Any]:
    data = await audit.audited_read_async(
        driver, database=graph.database, viewer=viewer, action="card", purpose=purpose,
        **_trace(request),
        read=_resolving(child_id, children.card_query(viewer=viewer, child_id=child_id).run_async),
        **_audit_merged(lambda found: [child_id] if found else []),
    )
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    if data is None:
        raise HTTPException(404, "No child with that directory ID.")
    return data


def _deny_or_return(data: dict[str, Any] | None) -> dict[str, Any]:
    outcome = policy.scope_outcome(data)
    if outcome == "not_found":
        raise HTTPException(404, "No child with that directory ID.")
    if outcome == "denied":
        raise HTTPException(403, "This child has no current or past link to your authority.")
    assert data is not None
    return data


@router.get("/{child_id}/network", summary="The involvement network: child, practitioners, agencies, household")
async def network(request: Request, child_id: ChildId, driver: AsyncDriverDep, graph: GraphSettingsDep,
                  purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles_audited(*NETWORK_ROLES))],
                  depth: Annotated[int, Query(ge=1, le=2)] = 1) -> dict[str, Any]:
    data = await audit.audited_read_async(
        driver, database=graph.database, viewer=viewer, action="network", purpose=purpose,
        **_trace(request),
        read=_resolving(child_id, children.network_query(viewer=viewer, child_id=child_id, depth=depth).run_async),
        **_audit_merged(
            lambda found: [n["id"].split(":", 1)[1] for n in found["nodes"] if n["kind"] == "child"]
            if found and policy.scope_outcome(found) == "ok" else ([child_id] if found else []),
            policy.scope_outcome),
    )
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    return _deny_or_return(data)


@router.get("/{child_id}/moves", summary="Residence history as moves between authorities")
async def moves(request: Request, child_id: ChildId, driver: AsyncDriverDep, graph: GraphSettingsDep,
                purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles_audited(*NETWORK_ROLES))],
                ) -> dict[str, Any]:
    data = await audit.audited_read_async(
        driver, database=graph.database, viewer=viewer, action="moves", purpose=purpose,
        **_trace(request),
        read=_resolving(child_id, children.moves_query(viewer=viewer, child_id=child_id).run_async),
        **_audit_merged(lambda found: [child_id] if found else [], policy.scope_outcome),
    )
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    return _deny_or_return(data)


@router.get("/{child_id}/chronology", summary="The multi-agency chronology: every agency, home, plan, visit and alert",
            responses={200: {"content": {"text/html": {}}, "description": "JSON, or with format=html one "
                                                                           "self-contained printable HTML file"}})
async def child_chronology(request: Request, child_id: ChildId, driver: AsyncDriverDep, graph: GraphSettingsDep,
                           purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles_audited(*CHRONOLOGY_ROLES))],
                           format: Annotated[Literal["json", "html"], Query()] = "json",
                           ) -> Any:
    """Identified, for leads and management teams of linked authorities; a shielded child is its restricted shape.

    The HTML export is an audited read of its own (action `chronology_export`), like any other look. A merged
    id leads to its survivor's chronology (308), as the card does.
    """
    as_of, action = uk_today(), "chronology_export" if format == "html" else "chronology"
    merged = _audit_merged(lambda found: [child_id] if found else [], policy.scope_outcome)
    query = chronology.chronology_query(viewer=viewer, child_id=child_id, as_of=as_of)
    data = await audit.audited_read_async(
        driver, database=graph.database, viewer=viewer, action=action, purpose=purpose, **_trace(request),
        read=_resolving(child_id, query.run_async),
        children_of=merged["children_of"], outcome_of=merged["outcome_of"],
        detail=lambda found: {"format": format, **(merged["detail"](found) or {})},
    )
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    data = _deny_or_return(data)
    if format == "json":
        return data
    page = export.render(data, viewer=viewer, purpose=purpose, request_id=request.state.request_id,
                         generated_at=datetime.now(UTC))
    return HTMLResponse(page, headers={
        "Content-Disposition": f'attachment; filename="chronology-{child_id}-{as_of.isoformat()}.html"'})


@router.get("/{child_id}/accesses", summary="The last 25 accesses to this record")
async def accesses(request: Request, child_id: ChildId, driver: AsyncDriverDep, graph: GraphSettingsDep,
                   purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles_audited(*ACCESS_LOG_ROLES))],
                   ) -> dict[str, Any]:
    async def read(session: Any) -> dict[str, Any] | None:
        state = await children.scope_query(viewer=viewer, child_id=child_id).run_async(session)
        if policy.accesses_outcome(state) != "ok":
            return state and {**state, "accesses": []}
        found = await audit.last_accesses_query(child_id=child_id).run_async(session)
        return {**state, "accesses": [a.__dict__ for a in found]}

    data = await audit.audited_read_async(
        driver, database=graph.database, viewer=viewer, action="accesses", purpose=purpose,
        **_trace(request), read=_resolving(child_id, read),
        **_audit_merged(lambda found: [child_id] if found else [], policy.accesses_outcome),
    )
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    outcome = policy.accesses_outcome(data)
    if outcome == "not_found":
        raise HTTPException(404, "No child with that directory ID.")
    if outcome == "denied":
        raise HTTPException(403, "This record is shielded; contact the holding authority's team." if data["hidden"]
                            else "This child has no current or past link to your authority.")
    return {"child_id": child_id, "accesses": data["accesses"]}


@router.post("/{child_id}/override", summary="Break-glass: open a shielded record once, with a reason")
def override(request: Request, child_id: ChildId, body: Reason, driver: DriverDep, graph: GraphSettingsDep,
             purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles(*OVERRIDE_ROLES))]) -> dict[str, Any]:
    """Rule 4: the event is flagged for investigation and the holding authority's team is alerted.

    The read, the alert and the flagged event are one write transaction: all of them happen or none.
    """
    ids = request_ids(request)

    def work(tx: Any) -> dict[str, Any] | None:
        data = children.card(tx, viewer=viewer, child_id=child_id, override=True)
        alert_id = None if data is None else children.alert_break_glass(
            tx, viewer=viewer, child_id=child_id, reason=body.reason, request_id=ids["request_id"])
        audit.append(tx, viewer=viewer, action="override", children=[child_id] if data else [], purpose=purpose,
                     **ids, outcome="ok" if data else "not_found", flagged=True,
                     detail={"reason": body.reason, "alert_id": alert_id})
        return data

    try:
        with driver.session(database=graph.database) as session:
            data = session.execute_write(work)
    except Exception as exc:  # as audited_read does: a failed look is recorded if the trail can take it
        with contextlib.suppress(Exception):
            request.app.state.audit.append(viewer=viewer, action="override", children=[], purpose=purpose,
                                           **ids, outcome="error", flagged=True,
                                           detail={"reason": body.reason, "error": type(exc).__name__})
        raise
    if data is None:
        raise HTTPException(404, "No child with that directory ID.")
    return {"warning": "This override is recorded and will be investigated; the holding authority has been told.",
            "card": data}


def _change_shield(request: Request, child_id: str, body: Reason, driver: Any, database: str, purpose: str,
                   viewer: Viewer, *, on: bool) -> dict[str, Any]:
    """Shield or unshield in one write transaction with its audit event; only the holding authority's team."""
    def work(tx: Any) -> str:
        outcome = shielding.decide(tx, viewer=viewer, child_id=child_id, shield=on, reason=body.reason)
        audit.append(tx, viewer=viewer, action="shield" if on else "unshield",
                     children=[] if outcome == "not_found" else [child_id], purpose=purpose,
                     **request_ids(request), outcome=outcome, detail={"reason": body.reason})
        return outcome

    with driver.session(database=database) as session:
        outcome = session.execute_write(work)
    if outcome == "not_found":
        raise HTTPException(404, "No child with that directory ID.")
    if outcome == "denied":
        raise HTTPException(403, "Only the management team of the authority holding this record can do that.")
    return {"child_id": child_id, "shielded": on}


@router.post("/{child_id}/shield", summary="Shield a record (the holding authority's team)")
def shield(request: Request, child_id: ChildId, body: Reason, driver: DriverDep, graph: GraphSettingsDep,
           purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles(*SHIELD_ROLES))]) -> dict[str, Any]:
    return _change_shield(request, child_id, body, driver, graph.database, purpose, viewer, on=True)


@router.delete("/{child_id}/shield", summary="Lift a shield (the holding authority's team)")
def unshield(request: Request, child_id: ChildId, body: Reason, driver: DriverDep, graph: GraphSettingsDep,
             purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles(*SHIELD_ROLES))]) -> dict[str, Any]:
    return _change_shield(request, child_id, body, driver, graph.database, purpose, viewer, on=False)
