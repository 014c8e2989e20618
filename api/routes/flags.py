"""The emergency flag for unscheduled-care clinicians (as CP-IS): a CP plan or looked after, and whom to call.

The look, the alert to the responsible authority and the audit event are one write transaction: all of them
happen or none (as break-glass).
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.deps import DriverDep, GraphSettingsDep, request_ids, require_roles
from api.routes.children import Name, Purpose
from graph import audit, flags
from graph.instants import uk_today
from graph.policy import FLAG_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/flags", tags=["emergency flag"])
Clinician = Annotated[Viewer, Depends(require_roles(*FLAG_ROLES))]


@router.get("", summary="Is this child on a child protection plan or looked after, and whom to call")
def flag(
    request: Request,
    driver: DriverDep,
    graph: GraphSettingsDep,
    purpose: Purpose,
    viewer: Clinician,
    nhs_number: Annotated[str | None, Query(pattern=r"^\d{10}$", description="The child's NHS number")] = None,
    given_name: Name = None,
    family_name: Name = None,
    dob: Annotated[date | None, Query()] = None,
) -> dict[str, Any]:
    """Exactly the children an NHS number, or given name, family name and date of birth, name; each shows only
    whether a CP plan or looked-after status is current or ended within 12 months, the responsible authority
    and its team. A shielded child (found by names and date of birth only) shows its holding team alone.
    Each authority responsible for a flag is told that it was viewed."""
    names = (given_name, family_name, dob)
    if nhs_number is not None and any(v is not None for v in names):
        raise HTTPException(422, "Give either nhs_number, or given_name, family_name and dob; not both.")
    if nhs_number is None and not all(v is not None for v in names):
        raise HTTPException(422, "Give nhs_number, or all of given_name, family_name and dob.")
    ids = request_ids(request)
    today = uk_today()
    by = "nhs_number" if nhs_number else "names_and_dob"

    def work(tx: Any) -> tuple[list[dict[str, Any]], bool]:
        found, truncated = flags.lookup(tx, viewer=viewer, today=today, nhs_number=nhs_number,
                                        given_name=given_name, family_name=family_name, dob=dob)
        children = [f["id"] for f in found]
        notified = flags.notify(tx, viewer=viewer, child_ids=children, today=today, request_id=ids["request_id"])
        audit.append(tx, viewer=viewer, action="flag", children=children, purpose=purpose, **ids,
                     outcome="ok" if found else "not_found", detail={"by": by, "alerts": notified})
        return found, truncated

    try:
        with driver.session(database=graph.database) as session:
            found, truncated = session.execute_write(work)
    except Exception as exc:  # as the override route: a failed look is recorded if the trail can take it
        with contextlib.suppress(Exception):
            request.app.state.audit.append(viewer=viewer, action="flag", children=[], purpose=purpose, **ids,
                                           outcome="error", detail={"by": by, "error": type(exc).__name__})
        raise
    return {"results": found, "truncated": truncated}
