"""What every `contactpoint` command shares: the consoles, a one-line failure, a verified driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from neo4j import Driver
from rich.console import Console

from graph import users
from graph.config import GraphSettings
from graph.db import DatabaseUnavailable, connect, verify
from graph.viewer import Role

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print one clear line and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=1)


@contextmanager
def database(settings: GraphSettings) -> Iterator[Driver]:
    """A verified driver, or one line saying why Neo4j cannot be used."""
    driver = connect(settings)
    try:
        verify(driver, settings)
    except DatabaseUnavailable as exc:
        driver.close()
        fail(str(exc))
    try:
        yield driver
    finally:
        driver.close()


def demo_users(driver: Driver, settings: GraphSettings) -> None:
    """The demo users, practitioners employed by a school of their authority."""
    with driver.session(database=settings.database) as session:
        agencies = {
            u.username: session.execute_read(lambda tx, la=u.la_code: users.first_agency(tx, la_code=la, kind="school"))
            for u in users.DEMO_USERS if u.role is Role.PRACTITIONER
        }
        session.execute_write(lambda tx: users.ensure_demo_users(tx, agency_for=agencies))
