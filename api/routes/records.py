"""The data subject's rights, for the management team of the authority holding the record (live or archived):
subject access (UK GDPR article 15) as JSON or a readable HTML document, and rectification (article 16).

The export is read through the audit choke point (graph.audit.audited_read), so it is itself recorded; each
correction and withdrawal writes its audit event in the same transaction as the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from api.deps import DriverDep, GraphSettingsDep, request_ids, require_roles
from api.routes.children import ChildId, Merged, Purpose, Reason, merged_redirect
from api.subject_access_html import render
from graph import audit, corrections, subject_access
from graph.identity import merge
from graph.instants import uk_today
from graph.policy import RECTIFY_ROLES, SUBJECT_ACCESS_ROLES
from graph.viewer import Viewer
from loaders.feeds import GENDERS, NhsNumber, PastDate, Text, Upn

router = APIRouter(prefix="/children", tags=["data subject rights"])

NOT_FOUND = "No record with that directory ID is held."
NOT_HOLDER = "Only the management team of the authority holding this record can do that."

# What a corrected value must be: the feed's own rule for the field (loaders/feeds.py).
FIELD_TYPES: dict[str, TypeAdapter[Any]] = {
    "given_name": TypeAdapter(Text), "family_name": TypeAdapter(Text), "dob": TypeAdapter(PastDate),
    "gender": TypeAdapter(Literal[GENDERS]),  # type: ignore[valid-type]
    "nhs_number": TypeAdapter(NhsNumber), "upn": TypeAdapter(Upn),
}


class Correction(BaseModel):
    """A correction of one field of the record, with the reason for it."""

    field: Literal[corrections.CORRECTABLE]  # type: ignore[valid-type]
    value: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=5, max_length=500)


def _outcome(state: dict[str, Any] | Merged | None) -> str:
    if state is None:
        return "not_found"
    if isinstance(state, Merged):  # leads to the survivor's record, where the holder is checked again
        return "ok"
    return "ok" if state["allowed"] else "denied"


def _merged_or_none(session: Any, child_id: str) -> Merged | None:
    """For an id merged into another child, a Merged naming the survivor (answered 308, as the card is)."""
    survivor = merge.survivor_query(child_id=child_id).run(session)
    return None if survivor is None else Merged(child_id, survivor)


def _children_of(child_id: str) -> Any:
    """The children a look names: a merged id's names both ids, as the card's does."""
    return lambda found: ([found.child_id, found.survivor] if isinstance(found, Merged)
                          else [child_id] if found else [])


def _refuse(outcome: str) -> None:
    if outcome == "not_found":
        raise HTTPException(404, NOT_FOUND)
    if outcome == "denied":
        raise HTTPException(403, NOT_HOLDER)


@router.get("/{child_id}/subject-access", summary="Subject access: everything held about the child (JSON or HTML)",
            response_model=None)
def subject_access_export(
    request: Request, child_id: ChildId, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose,
    viewer: Annotated[Viewer, Depends(require_roles(*SUBJECT_ACCESS_ROLES))],
    format: Annotated[Literal["json", "html"], Query(description="json, or a readable html document")] = "json",
) -> dict[str, Any] | HTMLResponse:
    """The whole record with the third-party rules of docs/privacy.md applied, and every recorded look at it."""

    def read(session: Any) -> dict[str, Any] | Merged | None:
        state = subject_access.scope(session, viewer_params=viewer.params(), child_id=child_id)
        if state is None:
            return _merged_or_none(session, child_id)
        if _outcome(state) != "ok":
            return state
        return {**state, "export": subject_access.export(session, viewer_params=viewer.params(), child_id=child_id)}

    def detail(data: dict[str, Any] | Merged | None) -> dict[str, Any]:
        if isinstance(data, Merged):
            return {"format": format, "merged_into": data.survivor}
        found = (data or {}).get("export") or {}
        return {"format": format, "archived": bool(data and data["archived"]),
                "sensitive_services": sum(1 for s in found.get("services", []) if s.get("sensitive"))}

    data = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="subject_access", purpose=purpose,
        **request_ids(request), writer=request.app.state.audit, read=read,
        children_of=_children_of(child_id), outcome_of=_outcome, detail=detail)
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    _refuse(_outcome(data))
    assert data is not None
    export = {**data["export"], "generated_at": datetime.now(UTC),
              "generated_by": {"role": str(viewer.role), "authority": viewer.la_code}}
    if format == "html":
        name = f"subject-access-{child_id}-{uk_today().isoformat()}.html"
        return HTMLResponse(render(export), headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return export


@router.post("/{child_id}/corrections", status_code=201, summary="Correct a field of the record, with a reason")
def correct(request: Request, child_id: ChildId, body: Correction, driver: DriverDep, graph: GraphSettingsDep,
            purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles(*RECTIFY_ROLES))]) -> dict[str, Any]:
    """The corrected value shows on the record; what the source sent is kept under it (docs/privacy.md)."""
    try:
        value = FIELD_TYPES[body.field].validate_python(body.value.strip())
    except ValidationError as exc:
        raise HTTPException(422, f"value: {exc.errors()[0]['msg']} (as the feeds require for {body.field})") from None
    if body.field == "dob" and (uk_today() - value).days > 366 * 26:
        raise HTTPException(422, "value: dob makes the child older than 25")

    def work(tx: Any) -> tuple[str, str | None, Merged | None]:
        outcome, correction_id = corrections.correct(tx, viewer=viewer, child_id=child_id, field=body.field,
                                                     value=value, reason=body.reason)
        merged = _merged_or_none(tx, child_id) if outcome == "not_found" else None
        audit.append(tx, viewer=viewer, action="correct",
                     children=_children_of(child_id)(merged) if outcome == "not_found" else [child_id],
                     purpose=purpose, **request_ids(request), outcome=outcome,
                     detail={"field": body.field, "reason": body.reason, "correction_id": correction_id,
                             **({"merged_into": merged.survivor} if merged else {})})
        return outcome, correction_id, merged

    with driver.session(database=graph.database) as session:
        outcome, correction_id, merged = session.execute_write(work)
    if merged is not None:  # nothing corrected here: the client sends the correction to the survivor
        raise merged_redirect(request, merged)
    _refuse(outcome)
    return {"child_id": child_id, "correction_id": correction_id, "field": body.field, "value": value}


@router.get("/{child_id}/corrections", summary="The corrections of a record, and what the source sent")
def list_corrections(request: Request, child_id: ChildId, driver: DriverDep, graph: GraphSettingsDep,
                     purpose: Purpose, viewer: Annotated[Viewer, Depends(require_roles(*RECTIFY_ROLES))],
                     ) -> dict[str, Any]:
    def read(session: Any) -> tuple[str, list[dict[str, Any]]] | Merged:
        found = session.execute_read(corrections.listed, viewer=viewer, child_id=child_id)
        return (_merged_or_none(session, child_id) or found) if found[0] == "not_found" else found

    data = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="corrections", purpose=purpose,
        **request_ids(request), writer=request.app.state.audit,
        read=read,
        children_of=lambda found: (_children_of(child_id)(found) if isinstance(found, Merged)
                                   else [] if found[0] == "not_found" else [child_id]),
        outcome_of=lambda found: "ok" if isinstance(found, Merged) else found[0],
        detail=lambda found: {"merged_into": found.survivor} if isinstance(found, Merged) else None)
    if isinstance(data, Merged):
        raise merged_redirect(request, data)
    _refuse(data[0])
    return {"child_id": child_id, "corrections": data[1]}


@router.delete("/{child_id}/corrections/{correction_id}", summary="Withdraw a correction: the source's value returns")
def withdraw(request: Request, child_id: ChildId,
             correction_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")], body: Reason, driver: DriverDep,
             graph: GraphSettingsDep, purpose: Purpose,
             viewer: Annotated[Viewer, Depends(require_roles(*RECTIFY_ROLES))]) -> dict[str, Any]:
    def work(tx: Any) -> tuple[str, str | None]:
        outcome, field = corrections.withdraw(tx, viewer=viewer, child_id=child_id, correction_id=correction_id,
                                              reason=body.reason)
        audit.append(tx, viewer=viewer, action="withdraw_correction",
                     children=[] if outcome == "not_found" else [child_id], purpose=purpose, **request_ids(request),
                     outcome=outcome, detail={"correction_id": correction_id, "field": field, "reason": body.reason})
        return outcome, field

    with driver.session(database=graph.database) as session:
        outcome, field = session.execute_write(work)
    _refuse(outcome)
    return {"child_id": child_id, "correction_id": correction_id, "field": field, "withdrawn": True}
