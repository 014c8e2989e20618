"""What every `contactpoint` command shares: the consoles, a one-line failure, a verified driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from neo4j import Driver
from rich.console import Console

from graph.config import GraphSettings
from graph.db import DatabaseUnavailable, connect, verify

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
