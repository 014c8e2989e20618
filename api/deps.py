"""Route dependencies: the driver, settings, the authenticated viewer and role checks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from neo4j import AsyncDriver, Driver

from api.config import ApiSettings
from api.security import InvalidToken, decode_token
from graph import users
from graph.config import GraphSettings
from graph.viewer import Role, Viewer

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")


async def get_driver(request: Request) -> Driver:
    """The process's sync driver (most routes and the audit writer), opened by the app's lifespan."""
    return request.app.state.driver


async def get_graph_settings(request: Request) -> GraphSettings:
    """The Neo4j settings the app was started with (the database name in particular)."""
    return request.app.state.graph_settings


async def get_api_settings_dep(request: Request) -> ApiSettings:
    """The API settings the app was started with."""
    return request.app.state.api_settings


async def get_async_driver(request: Request) -> AsyncDriver:
    """The process's async driver (the hot read routes), opened by the app's lifespan."""
    return request.app.state.async_driver


def request_ids(request: Request) -> dict[str, str | None]:
    """The ids a request's audit events carry: the server's `request_id`, and the client's X-Request-ID if kept.

    The Envelope middleware (api.app) sets both; an app without it (a test's) gets a server id here.
    """
    if getattr(request.state, "request_id", None) is None:
        request.state.request_id = str(uuid.uuid4())
    return {"request_id": request.state.request_id,
            "client_request_id": getattr(request.state, "client_request_id", None)}


DriverDep = Annotated[Driver, Depends(get_driver)]
AsyncDriverDep = Annotated[AsyncDriver, Depends(get_async_driver)]
GraphSettingsDep = Annotated[GraphSettings, Depends(get_graph_settings)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings_dep)]


def unauthorized(detail: str) -> HTTPException:
    """A 401 that tells the client to authenticate with a bearer token."""
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def token_viewer(token: Annotated[str, Depends(oauth2_scheme)], settings: ApiSettingsDep) -> Viewer:
    """The viewer a valid token names, as it was when the token was issued (no database read)."""
    try:
        claims = decode_token(settings, token)
        return Viewer(user_id=claims["sub"], role=Role(claims["role"]), la_code=claims["la"],
                      agency_id=claims.get("agency"))
    except (InvalidToken, ValueError):
        raise unauthorized("Invalid or expired token") from None


def current_viewer(
    token: Annotated[str, Depends(oauth2_scheme)], driver: DriverDep, graph: GraphSettingsDep,
    settings: ApiSettingsDep,
) -> Viewer:
    """The viewer behind a valid token whose user is still enabled with the same role and authority."""
    try:
        claims = decode_token(settings, token)
    except InvalidToken:
        raise unauthorized("Invalid or expired token") from None
    with driver.session(database=graph.database) as session:
        user = session.execute_read(users.get_user, user_id=claims["sub"])
    # A role or authority change, like disabling, ends the sessions issued before it.
    if user is None or user.disabled or user.role != claims["role"] or user.la_code != claims["la"]:
        raise unauthorized("Invalid or expired token")
    return user.viewer()


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]
TokenViewer = Annotated[Viewer, Depends(token_viewer)]


def _forbidden_unless(roles: tuple[Role, ...], viewer: Viewer) -> Viewer:
    if viewer.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Your role does not allow this")
    return viewer


def require_roles(*roles: Role) -> Callable[[Viewer], Awaitable[Viewer]]:
    """A dependency that lets through only current users with one of `roles` (403 for the rest)."""

    # async: a role check does no I/O, so it runs on the event loop instead of a threadpool hop.
    async def check(viewer: CurrentViewer) -> Viewer:
        return _forbidden_unless(roles, viewer)

    return check


def require_roles_audited(*roles: Role) -> Callable[[Viewer], Awaitable[Viewer]]:
    """As `require_roles`, for routes whose every response passes the audit writer.

    The user's standing is not read here: the audit writer confirms it in the transaction that
    writes the request's event (graph.audit.AuditWriter, confirm_users) and refuses the response
    of a user disabled or changed since sign-in. Only for routes that call audited_read with the
    app's writer on every path that returns data.
    """

    async def check(viewer: TokenViewer) -> Viewer:
        return _forbidden_unless(roles, viewer)

    return check
