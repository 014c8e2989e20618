"""The matching review queue, merge, split and unmerge: the authority's data team and management team only.

Reading the queue or an entry is an audited read (the entry shows child data); every decision writes its
audit event in the transaction that makes the change (graph.identity.changes). An entry the viewer may not
see (another authority's, or one whose child is shielded from them) answers 404, as an unknown id does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from api.deps import DriverDep, GraphSettingsDep, request_ids, require_roles
from api.routes.children import Purpose
from graph import audit
from graph.identity import changes, review
from graph.policy import IDENTITY_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/identity", tags=["identity"])
DataTeam = Annotated[Viewer, Depends(require_roles(*IDENTITY_ROLES))]
ReviewId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="The review entry's id")]
CHILD_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
RECORD_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\|[^|\x00-\x1f]{1,128}$"
NO_ENTRY = "No review entry with that id for your authority."
STATUS = {"not_found": 404, "denied": 403, "refused": 409}


class Decision(BaseModel):
    """Why: recorded with the decision in the audit trail (and on the entry)."""

    reason: str = Field(min_length=5, max_length=500)


class MergeRequest(Decision):
    """Two children found to be one: `merged` becomes a merged id that leads to `survivor`."""

    survivor: str = Field(pattern=CHILD_ID)
    merged: str = Field(pattern=CHILD_ID)


class SplitRequest(Decision):
    """Records of one child that are another child: they (and what came through them) leave `child_id`."""

    child_id: str = Field(pattern=CHILD_ID)
    record_keys: list[Annotated[str, Field(pattern=RECORD_KEY)]] = Field(min_length=1, max_length=100)


class UnmergeRequest(Decision):
    """A merge found to be wrong: the merged id is a child of its own again, with all it had."""

    merged: str = Field(pattern=CHILD_ID)


@router.get("/reviews", summary="The open review pairs of your authority, strongest first")
def reviews(request: Request, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose, viewer: DataTeam,
            limit: Annotated[int, Query(ge=1, le=200)] = 50,
            skip: Annotated[int, Query(ge=0, le=100_000)] = 0) -> dict[str, Any]:
    page = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="review_queue", purpose=purpose,
        **request_ids(request),
        read=lambda tx: review.queue(tx, viewer=viewer, limit=limit, skip=skip),
        children_of=lambda found: sorted({c for item in found["items"]
                                          for c in (item["child"]["id"], item["candidate_child"]["id"])}),
        outcome_of=lambda found: "ok",
    )
    return {**page, "limit": limit, "skip": skip}


@router.get("/reviews/{review_id}", summary="One pair field by field, with its match-weight waterfall")
def review_entry(request: Request, review_id: ReviewId, driver: DriverDep, graph: GraphSettingsDep,
                 purpose: Purpose, viewer: DataTeam) -> dict[str, Any]:
    found = audit.audited_read(
        driver, database=graph.database, viewer=viewer, action="review", purpose=purpose, **request_ids(request),
        read=lambda tx: review.entry(tx, viewer=viewer, review_id=review_id),
        children_of=lambda found: sorted({c["id"] for c in found["children"]}) if found else [],
        detail={"review_id": review_id},
    )
    if found is None:
        raise HTTPException(404, NO_ENTRY)
    return found


def _answer(change: changes.Change) -> dict[str, Any]:
    if change.outcome != "ok":
        raise HTTPException(STATUS[change.outcome], change.message)
    return {"message": change.message, "children": change.children, "survivor": change.survivor,
            "merged": change.merged, "new_child": change.new_child, "alerts_raised": change.alerts_raised}


def _write(request: Request, driver: Any, database: str, work: Any, **kwargs: Any) -> dict[str, Any]:
    with driver.session(database=database) as session:
        change = session.execute_write(lambda tx: work(tx, **kwargs, **request_ids(request)))
    return _answer(change)


@router.post("/reviews/{review_id}/accept", summary="The pair is one child: merge the two children")
def accept(request: Request, review_id: ReviewId, body: Decision, driver: DriverDep, graph: GraphSettingsDep,
           purpose: Purpose, viewer: DataTeam) -> dict[str, Any]:
    """Refused (409, with the reason) when a guard keeps the two apart: NHS numbers, UPNs, twins."""
    return _write(request, driver, graph.database, review.accept, viewer=viewer, review_id=review_id,
                  reason=body.reason, purpose=purpose)


@router.post("/reviews/{review_id}/reject", summary="The pair is two children: never joined nor proposed again")
def reject(request: Request, review_id: ReviewId, body: Decision, driver: DriverDep, graph: GraphSettingsDep,
           purpose: Purpose, viewer: DataTeam) -> dict[str, Any]:
    return _write(request, driver, graph.database, review.reject, viewer=viewer, review_id=review_id,
                  reason=body.reason, purpose=purpose)


@router.post("/merge", summary="Merge two children found to be one (reversible with /identity/unmerge)")
def merge(request: Request, body: MergeRequest, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose,
          viewer: DataTeam) -> dict[str, Any]:
    return _write(request, driver, graph.database, changes.merge_children, viewer=viewer, survivor=body.survivor,
                  merged=body.merged, reason=body.reason, purpose=purpose)


@router.post("/split", summary="Give some records of a child (and what came through them) a child of their own")
def split(request: Request, body: SplitRequest, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose,
          viewer: DataTeam) -> dict[str, Any]:
    return _write(request, driver, graph.database, changes.split_child, viewer=viewer, child=body.child_id,
                  record_keys=body.record_keys, reason=body.reason, purpose=purpose)


@router.post("/unmerge", summary="Undo a merge exactly: the merged id is a child of its own again")
def unmerge(request: Request, body: UnmergeRequest, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose,
            viewer: DataTeam) -> dict[str, Any]:
    return _write(request, driver, graph.database, changes.unmerge_child, viewer=viewer, merged=body.merged,
                  reason=body.reason, purpose=purpose)
