"""The one choke point for reads of child data: read, write the audit event, only then return the data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from neo4j import READ_ACCESS, AsyncDriver, Driver
from neo4j.exceptions import SessionExpired, TransientError

from graph.audit.chain import append
from graph.audit.writer import AuditWriter
from graph.viewer import Viewer

T = TypeVar("T")


def audited_read(
    driver: Driver,
    *,
    database: str,
    viewer: Viewer,
    action: str,
    purpose: str,
    request_id: str,
    read: Callable[[Any], T],
    children_of: Callable[[T], Sequence[str]],
    outcome_of: Callable[[T], str] | None = None,
    flagged: bool | Callable[[T], bool] = False,
    detail: Mapping[str, Any] | Callable[[T], Mapping[str, Any]] | None = None,
    writer: AuditWriter | None = None,
    client_request_id: str | None = None,
    about: Sequence[str] = (),
) -> T:
    """The one way to read child data: read (routed as a read), write the audit event, then return.

    The read runs as auto-commit statements in a read session: one round trip each, where a
    transaction function adds a BEGIN and a COMMIT for nothing (Neo4j reads are read-committed
    either way), and a cluster still routes them to its readers. A transient failure (a leader
    change, a lost connection to a reader) is tried once more. `read` gets the session and uses
    it as the query functions use a transaction (`run`).

    With a `writer` the event joins its group commit (the API); without, it commits on its own.
    The outcome defaults to "ok" when `children_of` names children and "not_found" when it names
    none; `outcome_of` overrides it. A read that raises is recorded with outcome "error".
    `request_id` is the server's id for the request, `client_request_id` the client's own (both
    recorded; see `event_fields`), `about` the children the look concerns without showing them.
    `audited_read_async` is the same choke point on an event loop.

    Raises:
        Whatever the read, the callables or the audit write raise; the data is then never returned.
    """
    who = _who(viewer, action, purpose, request_id, client_request_id, about)
    with driver.session(database=database, default_access_mode=READ_ACCESS) as session:

        def record(event: dict[str, Any]) -> None:
            if writer is not None:
                writer.append(**event)
            else:
                session.execute_write(lambda tx: append(tx, **event))

        try:
            try:
                data = read(session)
            except (TransientError, SessionExpired):
                data = read(session)
        except Exception as exc:
            record(_failed(who, exc))
            raise
        record(_event(who, data, children_of, outcome_of, flagged, detail))
    return data


async def audited_read_async(
    driver: AsyncDriver,
    *,
    database: str,
    viewer: Viewer,
    action: str,
    purpose: str,
    request_id: str,
    read: Callable[[Any], Awaitable[T]],
    children_of: Callable[[T], Sequence[str]],
    writer: AuditWriter,
    outcome_of: Callable[[T], str] | None = None,
    flagged: bool | Callable[[T], bool] = False,
    detail: Mapping[str, Any] | Callable[[T], Mapping[str, Any]] | None = None,
    client_request_id: str | None = None,
    about: Sequence[str] = (),
) -> T:
    """As `audited_read`, for the API's event loop: the read through the async driver, the event
    through the writer's group commit, and no thread held while either waits.

    Raises:
        Whatever the read, the callables or the audit write raise; the data is then never returned.
    """
    who = _who(viewer, action, purpose, request_id, client_request_id, about)
    async with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
        try:
            try:
                data = await read(session)
            except (TransientError, SessionExpired):
                data = await read(session)
        except Exception as exc:
            await writer.append_async(**_failed(who, exc))
            raise
    await writer.append_async(**_event(who, data, children_of, outcome_of, flagged, detail))
    return data


def _who(viewer: Viewer, action: str, purpose: str, request_id: str, client_request_id: str | None,
         about: Sequence[str]) -> dict[str, Any]:
    """What a read's event says whatever the read found: who, doing what, why, in which request, about whom."""
    return {"viewer": viewer, "action": action, "purpose": purpose, "request_id": request_id,
            "client_request_id": client_request_id, "about": list(about)}


def _failed(who: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """The event of a read that raised."""
    return {**who, "children": [], "outcome": "error", "flagged": False, "detail": {"error": type(exc).__name__}}


def _event(who: dict[str, Any], data: T, children_of: Callable[[T], Sequence[str]],
           outcome_of: Callable[[T], str] | None, flagged: bool | Callable[[T], bool],
           detail: Mapping[str, Any] | Callable[[T], Mapping[str, Any]] | None) -> dict[str, Any]:
    """The event of a read that returned `data` (the arguments of `event_fields`)."""
    children = list(children_of(data))
    outcome = outcome_of(data) if outcome_of is not None else ("ok" if children else "not_found")
    return {**who, "children": children, "outcome": outcome,
            "flagged": flagged(data) if callable(flagged) else flagged,
            "detail": detail(data) if callable(detail) else detail}

