"""Fixtures of the dashboard tests: their England, a real uvicorn API on a free port, sign-in helpers."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from neo4j import Driver

from graph import alerts, analytics, users
from graph.config import GraphSettings
from tests.conftest import fresh_db, restore_demo_users
from tests.dashboard.world import feeds
from tests.scenarios.situations import AS_OF

# Users only these tests sign in with through the dashboard's form (so no TOTP step is shared with others).
FORM_USERS = {name: "practitioner" for name in ("dash.signin", "dash.restore", "dash.back", "dash.other")}
FORM_PASSWORD = "dashboard form test password"
FORM_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(scope="package", autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Streamlit's AppTest runs a page as `__main__` and leaves it there; a later test that starts a process with
    multiprocessing's spawn (the bulk loader's generator) would then re-run that page in the child and fail."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="package")
def dash_world(driver: Driver, neo4j_settings: GraphSettings) -> None:
    """The dashboard tests' England, scanned for alerts and counted for reviewers, with form-test users."""
    from graph.credentials import hash_password

    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    feeds().write(driver, db)
    alerts.scan(driver, database=db, as_of=AS_OF)
    analytics.compute(driver, database=db, as_of=AS_OF)
    digest = hash_password(FORM_PASSWORD)
    with driver.session(database=db) as session:
        for username, role in FORM_USERS.items():
            session.execute_write(users.create_user, username=username, name=f"Test {username}", role=role,
                                  la_code="E08000025", password_hash=digest, totp_secret=FORM_SECRET)


def free_port() -> int:
    """A port nothing listens on now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def api_url(neo4j_settings: GraphSettings) -> Iterator[str]:
    """The real API (uvicorn, demo mode) on the test database, on a port the OS picked."""
    import uvicorn

    from api.app import create_app
    from api.config import ApiSettings

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(neo4j_settings, ApiSettings(demo_mode=True)),
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


@pytest.fixture(scope="package")
def dashboard_env(api_url: str) -> Iterator[str]:
    """The dashboard, in this process (AppTest), pointed at the test API."""
    from dashboard.config import get_dashboard_settings

    old = os.environ.get("CP_DASHBOARD_API_URL")
    os.environ["CP_DASHBOARD_API_URL"] = api_url
    get_dashboard_settings.cache_clear()
    yield api_url
    if old is None:
        os.environ.pop("CP_DASHBOARD_API_URL", None)
    else:
        os.environ["CP_DASHBOARD_API_URL"] = old
    get_dashboard_settings.cache_clear()


def fresh_code(driver: Driver, database: str, username: str, secret: str) -> str:
    """A TOTP code the API will accept: a code works once per 30 s step, so wait for a step not yet used."""
    from graph.credentials import totp_code, totp_step

    records, _, _ = driver.execute_query("MATCH (u:User {username: $u}) RETURN u.totp_last_step AS step",
                                         {"u": username}, database_=database)
    last = records[0]["step"] if records and records[0]["step"] is not None else -1
    while totp_step(datetime.now(UTC)) <= last:
        time.sleep(31 - time.time() % 30)
    return totp_code(secret, datetime.now(UTC))


def auth_state(api_url: str, headers: dict[str, str]) -> dict[str, Any]:
    """What the dashboard keeps after a sign-in, for a token the suite already holds."""
    me = httpx.get(f"{api_url}/auth/me", headers=headers, timeout=30)
    me.raise_for_status()
    return {"token": headers["Authorization"].removeprefix("Bearer "), "user": me.json(),
            "expires_at": time.time() + 600}
