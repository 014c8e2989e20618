"""`contactpoint dashboard`: the Streamlit dashboard in the foreground, or in the background for the demo."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from contactpoint.common import console, fail
from contactpoint.service import Service, ServiceError
from dashboard.config import DashboardSettings
from graph.config import PROJECT_ROOT

dashboard_app = typer.Typer(help="The Streamlit dashboard (a client of the API).", no_args_is_help=True)
APP = PROJECT_ROOT / "dashboard" / "app.py"


def command(port: int, host: str = "127.0.0.1") -> tuple[str, ...]:
    """How the dashboard is run: headless, no usage statistics, no file watching (nothing leaves the machine)."""
    return (sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), "--server.address", host,
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--server.runOnSave", "false", "--client.toolbarMode", "minimal", "--global.developmentMode", "false")


def _settings(**overrides: object) -> DashboardSettings:
    try:
        return DashboardSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        fail("; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors()))


def service(port: int) -> Service:
    """The dashboard as a background service of the demo."""
    return Service("dashboard", command(port), f"http://127.0.0.1:{port}/_stcore/health")


ApiUrl = Annotated[str | None, typer.Option(help="The API's base URL (default CP_DASHBOARD_API_URL or "
                                                 "http://127.0.0.1:8000).")]
Port = Annotated[int | None, typer.Option(min=1, max=65535, help="Default CP_DASHBOARD_PORT or 8501.")]


def _given(api_url: str | None, port: int | None, host: str | None = None) -> DashboardSettings:
    return _settings(**{k: v for k, v in (("api_url", api_url), ("port", port), ("host", host)) if v is not None})


@dashboard_app.command("serve")
def serve(port: Port = None, api_url: ApiUrl = None,
          host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None) -> None:
    """Serve the dashboard in the foreground."""
    settings = _given(api_url, port, host)
    os.execve(sys.executable, command(settings.port, settings.host),
              {**os.environ, "CP_DASHBOARD_API_URL": settings.api_url})


@dashboard_app.command("start")
def start(port: Port = None, api_url: ApiUrl = None) -> None:
    """Start the dashboard in the background (127.0.0.1 only)."""
    settings = _given(api_url, port)
    try:
        pid = service(settings.port).start({"CP_DASHBOARD_API_URL": settings.api_url}, timeout=90)
    except ServiceError as exc:
        fail(str(exc))
    console.print(f"Dashboard running at http://127.0.0.1:{settings.port} (pid {pid}), "
                  f"using the API at {settings.api_url}")


@dashboard_app.command("stop")
def stop() -> None:
    """Stop the background dashboard."""
    console.print("Dashboard stopped." if service(_settings().port).stop() else "Dashboard was not running.")
