"""Practitioners record their own involvement ("I am working with this child"), end it, and a safeguarding lead
chooses the lead professional. Each change and its audit event are one write transaction (as shielding); a
refused change writes its event too, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import DriverDep, GraphSettingsDep, request_ids, require_roles
from api.routes.children import ChildId, Purpose
from graph import audit, involvements
from graph.instants import uk_today
from graph.policy import INVOLVEMENT_ROLES, LEAD_PROFESSIONAL_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/children", tags=["involvements"])
Worker = Annotated[Viewer, Depends(require_roles(*INVOLVEMENT_ROLES))]
Lead = Annotated[Viewer, Depends(require_roles(*LEAD_PROFESSIONAL_ROLES))]
Service = Annotated[str, Field(pattern=r"^[a-z_]{2,40}$", description="e.g. school_nursing, social_care")]


def _not_future(value: date | None) -> date | None:
    if value is not None and value > uk_today():
        raise ValueError("date is in the future")
    return value


class Involvement(BaseModel):
    """I am working with this child: the service, since when (default today), and for a sensitive service
    whether the child or carer consented to it being shown; optionally how to reach me."""

    model_config = ConfigDict(extra="forbid")
    service: Service
    since: date | None = None
    sensitive: bool = False
    consent: bool = False
    job_title: str | None = Field(default=None, min_length=2, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ]{5,19}$")
    email: str | None = Field(default=None, max_length=120, pattern=r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")

    _dates = field_validator("since")(_not_future)


class Ending(BaseModel):
    """I have stopped working with this child in a service (on a day, default today)."""

    model_config = ConfigDict(extra="forbid")
    service: Service
    until: date | None = None

    _dates = field_validator("until")(_not_future)


class LeadChoice(BaseModel):
    """The current involvement to make the child's lead professional."""

    model_config = ConfigDict(extra="forbid")
    practitioner_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    service: Service


# What each refusal means for the caller, and the outcome its audit event records.
_REFUSED: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "No child with that directory ID.", "not_found"),
    "denied": (403, "This record is shielded; contact the holding authority's team.", "denied"),
    "no_agency": (403, "Your account names no agency in the directory; ask your authority's management team to "
                       "set it.", "denied"),
    "already_recorded": (409, "You already have an involvement with this child in that service", "denied"),
    "none_current": (404, "You have no current involvement you recorded with this child in that service.",
                     "not_found"),
    "before_since": (422, "until: before the involvement began", "denied"),
    "not_current": (422, "practitioner_id, service: no current involvement of that practitioner in that service "
                         "with this child that you can see", "denied"),
}
_NOT_LINKED = "This child has no current or past link to your authority."


def _change(request: Request, driver: Any, database: str, purpose: str, viewer: Viewer, *, action: str,
            child_id: str, detail: dict[str, Any], change: Callable[[Any], tuple[str, Any]]) -> Any:
    """Run a change and append its audit event in one write transaction; a refusal becomes its HTTP error."""
    def work(tx: Any) -> tuple[str, Any]:
        outcome, result = change(tx)
        refused = _REFUSED.get(outcome)
        audit.append(tx, viewer=viewer, action=action, purpose=purpose, **request_ids(request),
                     children=[] if outcome == "not_found" else [child_id],
                     outcome=refused[2] if refused else "ok",
                     detail={**detail, **({"refused": outcome} if refused else {}), **_summary(result)})
        return outcome, result

    with driver.session(database=database) as session:
        outcome, result = session.execute_write(work)
    if outcome in _REFUSED:
        status, message, _ = _REFUSED[outcome]
        if outcome == "denied" and action == "lead_change":
            message = _NOT_LINKED + " (Or it is shielded: contact the holding authority's team.)"
        if outcome == "already_recorded":
            message += f" since {result.get('since')}" + (f", ended {result['until']}" if result.get("until") else "")
        raise HTTPException(status, message)
    return result


def _summary(result: Any) -> dict[str, Any]:
    """What the audit event adds about the outcome: the leads a change unset."""
    return {"previous": result} if isinstance(result, list) and result else {}


@router.post("/{child_id}/involvements", status_code=201,
             summary="I am working with this child: record your own involvement (shown on the card at once)")
def add_involvement(request: Request, child_id: ChildId, body: Involvement, driver: DriverDep,
                    graph: GraphSettingsDep, purpose: Purpose, viewer: Worker) -> dict[str, Any]:
    since = body.since or uk_today()
    recorded = _change(
        request, driver, graph.database, purpose, viewer, action="involvement_add", child_id=child_id,
        detail={"service": body.service, "since": since.isoformat(), "sensitive": body.sensitive,
                "consent": body.consent},
        change=lambda tx: involvements.add(tx, viewer=viewer, child_id=child_id, service=body.service, since=since,
                                           sensitive=body.sensitive, consent=body.consent, job_title=body.job_title,
                                           phone=body.phone, email=body.email))
    return {"child_id": child_id, "involvement": recorded}


@router.post("/{child_id}/involvements/end", summary="End the involvement you recorded with this child")
def end_involvement(request: Request, child_id: ChildId, body: Ending, driver: DriverDep, graph: GraphSettingsDep,
                    purpose: Purpose, viewer: Worker) -> dict[str, Any]:
    until = body.until or uk_today()
    ended = _change(
        request, driver, graph.database, purpose, viewer, action="involvement_end", child_id=child_id,
        detail={"service": body.service, "until": until.isoformat()},
        change=lambda tx: involvements.end(tx, viewer=viewer, child_id=child_id, service=body.service, until=until))
    return {"child_id": child_id, "involvement": ended}


@router.put("/{child_id}/lead", summary="Choose the lead professional among the child's current involvements")
def choose_lead(request: Request, child_id: ChildId, body: LeadChoice, driver: DriverDep, graph: GraphSettingsDep,
                purpose: Purpose, viewer: Lead) -> dict[str, Any]:
    """One lead per child: any other current lead is unset, in the same transaction and audit event."""
    previous = _change(
        request, driver, graph.database, purpose, viewer, action="lead_change", child_id=child_id,
        detail={"practitioner_id": body.practitioner_id, "service": body.service},
        change=lambda tx: involvements.choose_lead(tx, viewer=viewer, child_id=child_id,
                                                   practitioner_id=body.practitioner_id, service=body.service))
    return {"child_id": child_id, "lead": {"practitioner_id": body.practitioner_id, "service": body.service},
            "previous": previous}
