"""RFC 9457 problem details for every error; no stack traces or internals ever leave the API."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

from graph.audit import AuditError, UserRevoked
from graph.db import DatabaseUnavailable

log = logging.getLogger("contactpoint.api")

PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = 5
UNEXPECTED = "Something went wrong; the error has been logged."


def problem(status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def _instance(request: Request) -> dict[str, str]:
    request_id = getattr(request.state, "request_id", None)
    return {"instance": request.url.path, **({"request_id": request_id} if request_id else {})}


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, detail, headers=getattr(exc, "headers", None), **_instance(request))


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()) if part != "body") or "request"
        errors.append({"field": where, "message": err.get("msg", "invalid")})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, detail, title="Invalid request", errors=errors, **_instance(request))


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem(503, "The directory's database is not reachable just now. Try again shortly.",
                   title="Service Unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                   **_instance(request))


async def _unaudited(request: Request, exc: Exception) -> JSONResponse:
    log.warning("audit event not written: %s", exc)
    return problem(503, "The audit trail could not record this request just now, so nothing was shown or changed. "
                        "Try again shortly.", title="Service Unavailable",
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, **_instance(request))


async def _revoked(request: Request, exc: Exception) -> JSONResponse:
    return problem(401, "Invalid or expired token", headers={"WWW-Authenticate": "Bearer"}, **_instance(request))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path)
    return problem(500, UNEXPECTED, **_instance(request))


def install(app: FastAPI) -> None:
    """Map every error the API can raise to problem+json."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(UserRevoked, _revoked)  # an AuditError, but the user's own fault: 401
    app.add_exception_handler(AuditError, _unaudited)
    for exc in (ServiceUnavailable, SessionExpired, TransientError, DatabaseUnavailable, ConnectionError):
        app.add_exception_handler(exc, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
