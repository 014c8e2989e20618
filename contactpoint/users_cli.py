"""`contactpoint users`: add, disable and list the people who may sign in."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from neo4j import ManagedTransaction
from rich.table import Table

from graph import audit, credentials, users
from graph.config import get_settings
from contactpoint.common import console, database, fail, operator, user_event
from graph.viewer import Role

users_app = typer.Typer(help="Users: add, disable, list. Adding and disabling are audited, naming the "
                             "operating-system user who ran the command.", no_args_is_help=True)

def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        credentials.check_password_strength(password)
    except ValueError as exc:
        fail(str(exc))
    return password


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name, lower case, e.g. jo.bloggs.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[Role, typer.Option(help="What the user may do.")],
    la: Annotated[str, typer.Option(help="ONS code of the user's local authority, e.g. E08000025.")],
    agency: Annotated[str | None, typer.Option(help="Agency id (practitioners).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add a user; prints their TOTP secret once, for their authenticator app."""
    try:
        users.validate_user_fields(username=username, name=name, role=role, la_code=la)
    except ValueError as exc:
        fail(str(exc))
    password = _read_password(password_stdin)
    secret = credentials.new_totp_secret()
    settings, actor, digest = get_settings(), operator(), credentials.hash_password(password)

    def create(tx: ManagedTransaction) -> users.UserRecord:
        made = users.create_user(tx, username=username, name=name, role=role, la_code=la, agency_id=agency,
                                 password_hash=digest, totp_secret=secret)
        audit.append_batch(tx, [user_event(actor, "user_add", request_id=str(uuid.uuid4()), username=made.username,
                                           user_id=made.id, role=made.role.value, la_code=made.la_code,
                                           agency_id=made.agency_id)])
        return made

    with database(settings) as driver, driver.session(database=settings.database) as session:
        try:
            user = session.execute_write(create)
        except (users.UserExists, ValueError) as exc:
            fail(str(exc))
    console.print(f"Created {user.username} ({user.role}, {user.la_code}). "
                  "Add this to their authenticator app now; it is not shown again:", highlight=False)
    console.print(f"  otpauth URI: {credentials.provisioning_uri(secret, user.username)}", highlight=False)
    console.print(f"  secret:      {secret}", highlight=False)


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="The user to disable.")]) -> None:
    """Disable a user; their current tokens stop working at once."""
    settings, actor = get_settings(), operator()

    def disable_(tx: ManagedTransaction) -> users.UserRecord:
        gone = users.disable_user(tx, username=username)
        audit.append_batch(tx, [user_event(actor, "user_disable", request_id=str(uuid.uuid4()),
                                           username=gone.username, user_id=gone.id)])
        return gone

    with database(settings) as driver, driver.session(database=settings.database) as session:
        try:
            user = session.execute_write(disable_)
        except users.UserNotFound as exc:
            fail(str(exc))
    console.print(f"Disabled {user.username}.", highlight=False)


@users_app.command("list")
def list_(la: Annotated[str | None, typer.Option(help="Only this local authority (ONS code).")] = None) -> None:
    """List users (no passwords or secrets)."""
    settings = get_settings()
    with database(settings) as driver, driver.session(database=settings.database) as session:
        found = session.execute_read(users.list_users, la_code=la)
    now = datetime.now(UTC)
    table = Table(title=f"Users{f' in {la}' if la else ''}")
    for column in ("username", "name", "role", "authority", "agency", "status", "created"):
        table.add_column(column)
    for u in found:
        state = "disabled" if u.disabled else "locked" if u.locked(now) else "active"
        created = u.created_at.strftime("%Y-%m-%d") if u.created_at else ""
        table.add_row(u.username, u.name, u.role.value, u.la_code, u.agency_id or "", state, created)
    console.print(table)
