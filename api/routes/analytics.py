"""Reviewer analytics: suppressed prevalence, trends, pseudonymised cases and network measures.

Only reviewers reach these routes. Every request states its purpose and writes one audit event
(action "analytics"); only the case view names a child in it, since only it is about one child.
Pseudonyms are keyed with CP_API_PSEUDONYM_KEY (analytics.privacy); counts are suppressed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from analytics import reports
from analytics.privacy import pseudonym
from api import links
from api.deps import ApiSettingsDep, DriverDep, GraphSettingsDep, request_ids, require_roles
from api.routes.children import Purpose
from graph import analytics as patterns
from graph import audit
from graph.policy import ANALYTICS_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/analytics", tags=["analytics"])
Reviewer = Annotated[Viewer, Depends(require_roles(*ANALYTICS_ROLES))]
Cohort = Annotated[Literal[patterns.COHORTS], Query(description="Children on a CP plan, looked after, "  # type: ignore[valid-type]
                                                               "in need, or all children")]
Pattern = Literal[patterns.PATTERNS]  # type: ignore[valid-type]
LaCode = Annotated[str, Query(pattern=r"^E(06|08|09|10)\d{6}$", description="ONS code of the authority")]
CaseRef = Annotated[str, Path(pattern=r"^ch-[0-9a-f]{20}$", description="A case pseudonym from /analytics/cases")]
NO_COUNTS = "No pattern counts are stored yet: run 'contactpoint alerts scan'."


def _audited(request: Request, driver: Any, database: str, viewer: Viewer, purpose: str, read: Any,
             detail: dict[str, Any], children_of: Any = None) -> Any:
    return audit.audited_read(
        driver, database=database, viewer=viewer, action="analytics", purpose=purpose,
        **request_ids(request), read=read,
        children_of=children_of or (lambda _: []),
        outcome_of=lambda found: "not_found" if found is None else "ok",
        detail=detail,
    )


def _tables(tx: Any, cohort: str, days: list[date]) -> dict[date, dict[str, Any]]:
    return {d: reports.prevalence(patterns.counts(tx, day=d, cohort=cohort), patterns.PATTERNS) for d in days}


@router.get("/prevalence", summary="Each pattern by authority and nationally, for one cohort and date")
def prevalence(request: Request, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose, viewer: Reviewer,
               cohort: Cohort = "all",
               day: Annotated[date | None, Query(alias="date", ge=date(2000, 1, 1), le=date(2100, 12, 31),
                                                 description="Default: the latest")] = None,
               ) -> dict[str, Any]:
    def read(tx: Any) -> dict[str, Any] | None:
        dates = patterns.stored_dates(tx)
        chosen = day or (dates[-1] if dates else None)
        if chosen is None or chosen not in dates:
            return None
        return {"date": chosen, "dates": dates, **_tables(tx, cohort, [chosen])[chosen]}

    data = _audited(request, driver, graph.database, viewer, purpose, read,
                    {"view": "prevalence", "cohort": cohort, "date": str(day)})
    if data is None:
        raise HTTPException(404, NO_COUNTS if day is None else f"date: no pattern counts stored for {day}.")
    return {"cohort": cohort, "patterns": list(patterns.PATTERNS), **data}


@router.get("/trend", summary="Each pattern over time, for an authority or the nation")
def trend(request: Request, driver: DriverDep, graph: GraphSettingsDep, purpose: Purpose, viewer: Reviewer,
          cohort: Cohort = "all", la_code: Annotated[str | None, Query(pattern=r"^E(06|08|09|10)\d{6}$")] = None,
          ) -> dict[str, Any]:
    def read(tx: Any) -> list[dict[str, Any]] | None:
        dates = patterns.stored_dates(tx)
        return reports.trend(_tables(tx, cohort, dates), la_code) if dates else None

    points = _audited(request, driver, graph.database, viewer, purpose, read,
                      {"view": "trend", "cohort": cohort, "la_code": la_code})
    if points is None:
        raise HTTPException(404, NO_COUNTS)
    return {"cohort": cohort, "la_code": la_code, "patterns": list(patterns.PATTERNS), "points": points}


def _as_of(tx: Any, given: date | None) -> date:
    dates = patterns.stored_dates(tx)
    return given or (dates[-1] if dates else date.today())


AsOf = Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2100, 12, 31),
                                    description="Default: the latest date with stored counts")]


@router.get("/cases", summary="Pseudonymised cases in an authority showing serious-case patterns",
            responses=links.FROM_CASES)
def cases(request: Request, driver: DriverDep, graph: GraphSettingsDep, settings: ApiSettingsDep, purpose: Purpose,
          viewer: Reviewer, la_code: LaCode, pattern: Annotated[list[Pattern] | None, Query()] = None,
          as_of: AsOf = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Cases with any of the patterns asked for (default: any pattern), in pseudonym order."""
    chosen = tuple(pattern or patterns.PATTERNS)

    def read(tx: Any) -> dict[str, Any]:
        day = _as_of(tx, as_of)
        return {"as_of": day, "rows": patterns.cases(tx, viewer=viewer, la_code=la_code, as_of=day, patterns=chosen)}

    data = _audited(request, driver, graph.database, viewer, purpose, read,
                    {"view": "cases", "la_code": la_code, "patterns": list(chosen)})
    listed = reports.case_list(data["rows"], settings.pseudonym_key.get_secret_value().encode())
    return {"la_code": la_code, "as_of": data["as_of"], "patterns": list(chosen), "cases": listed[:limit],
            "truncated": len(listed) > limit}


@router.get("/cases/{case}", summary="One pseudonymised case: network and chronology by agency")
def case(request: Request, case: CaseRef, driver: DriverDep, graph: GraphSettingsDep, settings: ApiSettingsDep,
         purpose: Purpose, viewer: Reviewer, la_code: LaCode, as_of: AsOf = None) -> dict[str, Any]:
    key = settings.pseudonym_key.get_secret_value().encode()

    def read(tx: Any) -> tuple[str, dict[str, Any]] | None:
        child_id = next((c for c in patterns.case_ids(tx, viewer=viewer, la_code=la_code)
                         if pseudonym(key, "child", c) == case), None)
        if child_id is None:
            return None
        raw = patterns.case(tx, viewer=viewer, la_code=la_code, child_id=child_id, as_of=_as_of(tx, as_of))
        return None if raw is None else (child_id, raw)

    found = _audited(request, driver, graph.database, viewer, purpose, read, {"view": "case", "case": case},
                     children_of=lambda got: [got[0]] if got else [])
    if found is None:
        raise HTTPException(404, "No case with that reference in that authority.")
    return reports.case_view(found[1], found[0], key)


@router.get("/network", summary="Bridges, household clusters and fragmentation in an authority")
def network(request: Request, driver: DriverDep, graph: GraphSettingsDep, settings: ApiSettingsDep,
            purpose: Purpose, viewer: Reviewer, la_code: LaCode, as_of: AsOf = None,
            top: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    def read(tx: Any) -> dict[str, Any]:
        day = _as_of(tx, as_of)
        return {"as_of": day, "rows": patterns.subgraph(tx, viewer=viewer, la_code=la_code, as_of=day)}

    data = _audited(request, driver, graph.database, viewer, purpose, read, {"view": "network", "la_code": la_code})
    report = reports.network_report(data["rows"], settings.pseudonym_key.get_secret_value().encode(), top=top)
    return {"la_code": la_code, "as_of": data["as_of"], **report}
