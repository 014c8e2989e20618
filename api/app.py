"""The FastAPI application: one driver per process, request ids, security headers, error mapping."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api import auth, errors
from api.config import ApiSettings, get_api_settings
from api.routes import alerts as alert_routes
from api.routes import analytics as analytics_routes
from api.routes import audit as audit_routes
from api.routes import children as children_routes
from graph.config import GraphSettings, get_settings
from graph.db import connect, ping

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


def create_app(graph_settings: GraphSettings | None = None, api_settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; settings default to the environment's."""
    graph_settings = graph_settings or get_settings()
    api_settings = api_settings or get_api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.graph_settings = graph_settings
        app.state.api_settings = api_settings
        app.state.driver = connect(graph_settings, fail_fast=True)
        try:
            yield
        finally:
            app.state.driver.close()

    app = FastAPI(
        title="ContactPoint graph explorer API",
        version="0.1.0",
        description="Who else is working with this child: shielding enforced in the queries, every look audited.",
        lifespan=lifespan,
    )
    errors.install(app)

    @app.middleware("http")
    async def envelope(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        supplied = request.headers.get("x-request-id", "")
        request.state.request_id = supplied if 0 < len(supplied) <= 64 and supplied.isprintable() else str(uuid.uuid4())
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            response: Response = errors.problem(413, f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
        elif len(str(request.url)) > 4096:
            response = errors.problem(414, "The request address is too long.")
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

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
    app.include_router(audit_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(analytics_routes.router)
    return app
