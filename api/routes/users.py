"""GET /users: the management team (`la_admin`) sees the users of its own authority, never credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import DriverDep, GraphSettingsDep, require_roles
from graph import users
from graph.policy import USER_ADMIN_ROLES
from graph.viewer import Viewer

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[Viewer, Depends(require_roles(*USER_ADMIN_ROLES))]


class UserSummary(BaseModel):
    """One user as the management team sees them: no password hash, TOTP secret or login counters."""

    username: str
    name: str
    role: str
    la_code: str
    agency_id: str | None
    agency: str | None
    disabled: bool
    locked: bool


class AuthorityUsers(BaseModel):
    """The users of one authority, by username."""

    la_code: str
    users: list[UserSummary]


@router.get("", response_model=AuthorityUsers, summary="The users of your authority")
def list_users(driver: DriverDep, graph: GraphSettingsDep, viewer: Admin) -> AuthorityUsers:
    """Only the viewer's own authority: another authority's users are never listed."""
    with driver.session(database=graph.database) as session:
        found = session.execute_read(users.authority_users, la_code=viewer.la_code)
    return AuthorityUsers(la_code=viewer.la_code, users=[UserSummary(**u) for u in found])
