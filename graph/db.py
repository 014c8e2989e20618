"""Opening the drivers (sync, and async for the API's hot reads), and the error a caller sees when Neo4j is not there."""

from __future__ import annotations

from typing import Any

from neo4j import AsyncDriver, AsyncGraphDatabase, Driver, GraphDatabase, RoutingControl
from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

from graph.config import GraphSettings


class DatabaseUnavailable(Exception):
    """Neo4j cannot be reached (down, restarting, or the wrong address)."""


def _options(settings: GraphSettings, fail_fast: bool) -> dict[str, Any]:
    timeouts = (
        {"connection_acquisition_timeout": 5.0, "connection_timeout": 3.0, "max_transaction_retry_time": 2.0}
        if fail_fast else {"connection_acquisition_timeout": 10.0}
    )
    return {
        "auth": (settings.user, settings.password.get_secret_value()),
        "max_connection_pool_size": 100 if fail_fast else 50,
        # Schema-less warnings (a label not created yet) are noise for callers; errors still raise.
        "notifications_min_severity": "OFF",
        **timeouts,
    }


def connect(settings: GraphSettings, *, fail_fast: bool = False) -> Driver:
    """Open a driver for the configured Neo4j; connections are made lazily.

    Args:
        fail_fast: for servers: give up within seconds when Neo4j is down (the caller answers 503)
            instead of retrying for half a minute; the driver reconnects by itself when Neo4j returns.
    """
    return GraphDatabase.driver(settings.bolt_uri, **_options(settings, fail_fast))


def connect_async(settings: GraphSettings) -> AsyncDriver:
    """The async driver the API's hot read routes use on its event loop (fail-fast, as `connect`)."""
    return AsyncGraphDatabase.driver(settings.bolt_uri, **_options(settings, True))


def verify(driver: Driver, settings: GraphSettings) -> None:
    """Check that Neo4j answers, turning driver errors into one clear message.

    Raises:
        DatabaseUnavailable: Neo4j is unreachable or refuses the credentials.
    """
    try:
        driver.verify_connectivity()
    except AuthError as exc:
        raise DatabaseUnavailable(
            f"Neo4j at {settings.bolt_uri} refused the credentials for user '{settings.user}' "
            "(set NEO4J_USER and NEO4J_PASSWORD)"
        ) from exc
    except (ServiceUnavailable, SessionExpired, OSError) as exc:
        raise DatabaseUnavailable(
            f"Neo4j is not reachable at {settings.bolt_uri}: start it with 'contactpoint neo4j start' "
            "or set NEO4J_URI"
        ) from exc


PING = "RETURN 1 AS ok"


def ping(driver: Driver, *, database: str) -> None:
    """One round trip to Neo4j, routed as a read; raises the driver's error when it is down."""
    driver.execute_query(PING, database_=database, routing_=RoutingControl.READ)
