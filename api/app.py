"""The FastAPI application: its drivers, request ids, security headers, error mapping.

Two drivers per process, both opened and closed by the lifespan: the async one serves the hot read
routes on the event loop (no thread hand-over a request), the sync one everything else, the
audit writer's thread and the audit verifier's (graph.audit.runs).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth, errors
from api.config import ApiSettings, get_api_settings
from api.routes import alerts as alert_routes
from api.routes import analytics as analytics_routes
from api.routes import audit as audit_routes
from api.routes import children as children_routes
from api.routes import flags as flag_routes
from api.routes import involvements as involvement_routes
from api.routes import identity as identity_routes
from api.routes import records as record_routes
from api.routes import users as user_routes
from graph.audit import AuditWriter, Verifier
from graph.config import GraphSettings, get_settings
from graph.db import connect, connect_async, ping
from graph.misuse import Watch

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}
MAX_BODY_BYTES = 16 * 1024
MAX_URL_BYTES = 4096
MAX_HEADER_BYTES = 16 * 1024  # uvicorn's parser takes headers of any size
# A client's X-Request-ID is kept (as the audit event's client_request_id) only if it is 1 to 64 printable
# ASCII characters, not all blank; anything else is dropped. It never becomes the request's id.
CLIENT_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,64}")


def client_request_id(supplied: str | None) -> str | None:
    """The client's X-Request-ID if it is short printable ASCII (kept beside the server's id), else None."""
    if supplied is None or not supplied.strip() or not CLIENT_REQUEST_ID.fullmatch(supplied):
        return None
    return supplied


class Envelope:
    """Every response: a request id, the security headers, and size limits on the request.

    The request id is always the server's own (a UUID), returned in X-Request-ID and written to the
    request's audit events: a client cannot choose the id the trail files its looks under, nor make two
    requests share one. What a client sent as X-Request-ID is kept beside it as `client_request_id`.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a stream per
    request. A body over the limit is refused from its Content-Length, or, when it comes chunked
    without one, as soon as the bytes read pass the limit (an HTTPException the error handlers
    turn into problem+json). An unexpected error is answered here, as a 500 with the headers:
    Starlette's outermost ServerErrorMiddleware would otherwise answer it without them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"], state["client_request_id"] = request_id, client_request_id(headers.get("x-request-id"))
        stamp = [*self.headers, (b"x-request-id", request_id.encode("latin-1"))]
        started = False

        async def stamped(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *stamp]
            await send(message)

        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await errors.problem(413, f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")(scope, receive, stamped)
            return
        if len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) > MAX_URL_BYTES:
            await errors.problem(414, "The request address is too long.")(scope, receive, stamped)
            return
        if sum(len(name) + len(value) for name, value in scope.get("headers", ())) > MAX_HEADER_BYTES:
            await errors.problem(431, "The request headers are too large.")(scope, receive, stamped)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise HTTPException(413, f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
            return message

        try:
            await self.app(scope, limited, stamped)
        except Exception:
            if started:
                raise
            errors.log.exception("unhandled error on %s", scope.get("path"))
            await errors.problem(500, errors.UNEXPECTED, instance=scope.get("path", ""),
                                 request_id=request_id)(scope, receive, stamped)


def create_app(graph_settings: GraphSettings | None = None, api_settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; settings default to the environment's."""
    graph_settings = graph_settings or get_settings()
    api_settings = api_settings or get_api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.graph_settings = graph_settings
        app.state.api_settings = api_settings
        app.state.driver = connect(graph_settings, fail_fast=True)
        watch = Watch(app.state.driver, database=graph_settings.database, records=api_settings.misuse_records,
                      minutes=api_settings.misuse_minutes)
        app.state.audit = AuditWriter(app.state.driver, database=graph_settings.database, confirm_users=True,
                                      after_commit=watch)
        app.state.verifier = Verifier(app.state.driver, database=graph_settings.database)
        app.state.async_driver = connect_async(graph_settings)
        try:
            yield
        finally:
            app.state.verifier.close()
            app.state.audit.close()
            await app.state.async_driver.close()
            app.state.driver.close()

    app = FastAPI(
        title="ContactPoint graph explorer API",
        version="0.1.0",
        description="Who else is working with this child: shielding enforced in the queries, every look audited.",
        lifespan=lifespan,
    )
    errors.install(app)

    app.add_middleware(Envelope)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """The process is up (says nothing about Neo4j)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["service"], responses={503: {"description": "Neo4j unreachable"}})
    def ready(request: Request) -> dict[str, str]:
        """Neo4j answers a query: ready to serve."""
        ping(request.app.state.driver, database=graph_settings.database)
        return {"status": "ready"}

    app.include_router(auth.router)
    app.include_router(children_routes.router)
    app.include_router(involvement_routes.router)
    app.include_router(flag_routes.router)
    app.include_router(record_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(user_routes.router)
    app.include_router(identity_routes.router)
    return app
