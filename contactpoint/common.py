"""What every `contactpoint` command shares: the consoles, a one-line failure, a verified driver, the operator."""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from neo4j import Driver
from rich.console import Console

from graph import audit, users
from graph.config import GraphSettings
from graph.db import DatabaseUnavailable, connect, verify
from graph.viewer import Role

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
# What the command line records as the purpose of a change to who may sign in.
USER_ADMIN = "user administration"


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


def operator() -> audit.Actor:
    """Who a command's audit events name: `cli:` and the operating-system user running it.

    The name keeps only the characters an audit search takes (letters, digits, '_', '.', '-').
    """
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        name = f"uid-{os.getuid()}"
    return audit.Actor(user_id="cli:" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60], role="operator")


def user_event(actor: audit.Actor, action: str, *, request_id: str, **detail: Any) -> dict[str, Any]:
    """The audit event (graph.audit.event_fields) of a change to who may sign in, made at the command line.

    `request_id` is the command run's own (the events of one run share it).
    """
    return audit.event_fields(viewer=actor, action=action, children=[], purpose=USER_ADMIN, request_id=request_id,
                              detail=detail)


# The agency each demo role works for in its authority: practitioners a school, safeguarding leads children's
# social care, emergency-department clinicians an emergency department.
DEMO_AGENCY_KINDS = {Role.PRACTITIONER: "school", Role.SAFEGUARDING_LEAD: "social_care",
                     Role.ED_CLINICIAN: "unscheduled_care"}


def demo_users(driver: Driver, settings: GraphSettings) -> None:
    """The demo users, employed by an agency of their authority where their role works for one
    (DEMO_AGENCY_KINDS); each one created is audited."""
    actor, run = operator(), str(uuid.uuid4())
    by_name = {u.username: u for u in users.DEMO_USERS}

    def ensure(tx: Any, agencies: dict[str, str | None]) -> None:
        created = users.ensure_demo_users(tx, agency_for=agencies)
        if created:
            audit.append_batch(tx, [
                user_event(actor, "user_add", request_id=run, username=name, user_id=by_name[name].id,
                           role=by_name[name].role.value, la_code=by_name[name].la_code,
                           agency_id=agencies.get(name), demo=True)
                for name in created])

    with driver.session(database=settings.database) as session:
        agencies = {
            u.username: session.execute_read(lambda tx, la=u.la_code, kind=DEMO_AGENCY_KINDS[u.role]:
                                             users.first_agency(tx, la_code=la, kind=kind))
            for u in users.DEMO_USERS if u.role in DEMO_AGENCY_KINDS
        }
        session.execute_write(ensure, agencies)
