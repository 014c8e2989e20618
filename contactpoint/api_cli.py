"""`contactpoint api`: serve the HTTP API in the foreground, or run it in the background for the demo."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Annotated

import typer
from pydantic import ValidationError

from api.config import ApiSettings
from contactpoint.common import console, fail
from contactpoint.service import Service, ServiceError

api_app = typer.Typer(help="The HTTP API.", no_args_is_help=True)


def _settings(**overrides: object) -> ApiSettings:
    try:
        return ApiSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        fail("; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors()))


def service(settings: ApiSettings) -> Service:
    """The API as a background service of the demo."""
    command = (sys.executable, "-m", "uvicorn", "api.main:app", "--host", settings.host, "--port", str(settings.port),
               "--workers", "1", "--no-access-log")
    return Service("api", command, f"http://127.0.0.1:{settings.port}/health")


@api_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (demo mode: 127.0.0.1 only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    demo: Annotated[bool, typer.Option(help="Demo mode: demo users may sign in; loopback only.")] = False,
) -> None:
    """Serve the API in the foreground."""
    import uvicorn

    settings = _settings(host=host, port=port, demo_mode=demo)
    from api.app import create_app

    uvicorn.run(create_app(api_settings=settings), host=settings.host, port=settings.port, access_log=False)


@api_app.command("start")
def start(port: Annotated[int, typer.Option(min=1, max=65535)] = 8000) -> None:
    """Start the API in demo mode in the background (127.0.0.1 only)."""
    settings = _settings(host="127.0.0.1", port=port, demo_mode=True)
    try:
        pid = service(settings).start({"CP_API_DEMO_MODE": "true", "CP_API_HOST": "127.0.0.1",
                                       "CP_API_PORT": str(port)})
    except ServiceError as exc:
        fail(str(exc))
    console.print(f"API running at http://127.0.0.1:{port} (pid {pid}); docs at http://127.0.0.1:{port}/docs")


@api_app.command("stop")
def stop(port: Annotated[int, typer.Option(min=1, max=65535)] = 8000) -> None:
    """Stop the background API."""
    was = service(_settings(host="127.0.0.1", port=port, demo_mode=True)).stop()
    console.print("API stopped." if was else "API was not running.")


@api_app.command("code")
def code(username: Annotated[str, typer.Argument(help="A demo user, e.g. practitioner.birmingham")]) -> None:
    """Print the current TOTP code of a demo user (their secrets are public: demo only)."""
    from graph.credentials import totp_code
    from graph.users import DEMO_USERS

    user = next((u for u in DEMO_USERS if u.username == username), None)
    if user is None:
        fail(f"'{username}' is not a demo user (see README: Demo users)")
    console.print(totp_code(user.totp_secret, datetime.now(timezone.utc)))
