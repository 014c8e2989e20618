"""OpenAPI links: which response value feeds which next request (clients and stateful testing follow them)."""

from __future__ import annotations

from typing import Any


def _ref(path: str, method: str) -> str:
    """A JSON pointer to an operation of this API's own schema."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def follow(description: str, targets: dict[str, tuple[str, str, dict[str, str]]]) -> dict[int, Any]:
    """A `responses=` entry whose 200 links to each target: name -> (path, method, parameters)."""
    links = {name: {"operationRef": _ref(path, method), "parameters": parameters}
             for name, (path, method, parameters) in targets.items()}
    return {200: {"description": description, "links": links}}


CHILD = "/children/{child_id}"


def _child_routes(child_id: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    given = {"child_id": child_id}
    return {"card": (CHILD, "get", given), "network": (CHILD + "/network", "get", given),
            "moves": (CHILD + "/moves", "get", given), "accesses": (CHILD + "/accesses", "get", given),
            "chronology": (CHILD + "/chronology", "get", given),
            "override": (CHILD + "/override", "post", given), "shield": (CHILD + "/shield", "post", given),
            "unshield": (CHILD + "/shield", "delete", given)}


FROM_SEARCH = follow("The children found; each id opens their record", _child_routes("$response.body#/results/0/id"))
ALERT = {"alert_id": "$response.body#/items/0/id"}
FROM_INBOX = follow(
    "One page of the inbox; each alert's id acknowledges or closes it, its child's id opens the record",
    {"acknowledge": ("/alerts/{alert_id}/acknowledge", "post", ALERT),
     "close": ("/alerts/{alert_id}/close", "post", ALERT),
     **{f"child_{name}": target for name, target in _child_routes("$response.body#/items/0/child_id").items()
        if name in ("card", "network", "moves", "chronology")}},
)
FROM_TRIAGE = follow(
    "One page of children ranked by their alerts' signals; each child's id opens the record or the chronology",
    {f"child_{name}": (path, method, {"child_id": "$response.body#/items/0/child/id"})
     for name, (path, method, _) in _child_routes("").items() if name in ("card", "chronology")},
)
FROM_CASES = follow(
    "Pseudonymised cases; each reference opens the case",
    {"case": ("/analytics/cases/{case}", "get",
              {"case": "$response.body#/cases/0/case", "la_code": "$request.query.la_code"})},
)
FROM_AUDIT = follow(
    "Events, newest first; each names a user to search by",
    {"by_user": ("/audit", "get", {"user_id": "$response.body#/events/0/user_id"})},
)
