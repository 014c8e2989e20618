"""Every Cypher statement about users: accounts, login bookkeeping (lockout, TOTP replay) and demo users."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction
from neo4j.exceptions import ConstraintError

from graph.viewer import Role, Viewer

LA_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

# Only these fields ever leave the database for listings and token checks: no hash, no secret.
_PUBLIC = ("u {.id, .username, .name, .role, .la_code, .agency_id, .disabled, .failed_attempts, "
           ".locked_until, .created_at}")

CREATE_USER = f"""
CREATE (u:User {{id: $id, username: $username, name: $name, role: $role, la_code: $la_code,
                 agency_id: $agency_id, password_hash: $password_hash, totp_secret: $totp_secret,
                 disabled: false, failed_attempts: 0, created_at: $now}})
RETURN {_PUBLIC} AS user
"""

# The one statement that returns the password hash and the TOTP secret.
GET_USER_FOR_LOGIN = """
MATCH (u:User {username: $username})
RETURN u {.id, .username, .name, .role, .la_code, .agency_id, .disabled, .failed_attempts, .locked_until,
          .created_at, .password_hash, .totp_secret, .totp_last_step} AS user
"""

GET_USER = f"MATCH (u:User {{id: $user_id}}) RETURN {_PUBLIC} AS user"

LIST_USERS = f"MATCH (u:User) RETURN {_PUBLIC} AS user ORDER BY u.la_code, u.username"
LIST_USERS_IN_LA = f"MATCH (u:User {{la_code: $la_code}}) RETURN {_PUBLIC} AS user ORDER BY u.username"

# What GET /auth/me and GET /users show: names of the authority and agency, never a hash or secret.
ME = """
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (la:LocalAuthority {code: u.la_code})
OPTIONAL MATCH (a:Agency {id: u.agency_id})
RETURN u {.username, .name, .role, .la_code, .agency_id, authority: la.name, agency: a.name} AS me
"""
AUTHORITY_USERS = """
MATCH (u:User {la_code: $la_code})
OPTIONAL MATCH (a:Agency {id: u.agency_id})
RETURN u {.username, .name, .role, .la_code, .agency_id, agency: a.name, disabled: coalesce(u.disabled, false),
          locked: u.locked_until IS NOT NULL AND u.locked_until > $now} AS user
ORDER BY u.username
"""

DISABLE_USER = f"MATCH (u:User {{username: $username}}) SET u.disabled = true RETURN {_PUBLIC} AS user"

# Writing _lock first takes the node's write lock, so the reads below see every committed failure
# (read-committed isolation would otherwise let concurrent failures lose increments).
# Failures while locked are not counted, so guessing cannot extend a lock for ever.
RECORD_FAILURE = """
MATCH (u:User {id: $user_id})
SET u._lock = true
REMOVE u._lock
WITH u
WHERE u.locked_until IS NULL OR u.locked_until <= $now
WITH u, coalesce(u.failed_attempts, 0) + 1 >= $attempts_allowed AS reached
SET u.failed_attempts = CASE WHEN reached THEN 0 ELSE coalesce(u.failed_attempts, 0) + 1 END,
    u.locked_until = CASE WHEN reached THEN $now + duration({seconds: $lock_seconds}) ELSE null END
RETURN reached
"""

# Accepts the login only if the account is still usable and the TOTP step is newer than the last one,
# checked under the node's write lock so two requests cannot both spend the same code.
RECORD_SUCCESS = """
MATCH (u:User {id: $user_id})
SET u._lock = true
REMOVE u._lock
WITH u, (NOT coalesce(u.disabled, false)
         AND (u.locked_until IS NULL OR u.locked_until <= $now)
         AND coalesce(u.totp_last_step, -1) < $totp_step) AS accepted
SET u.totp_last_step = CASE WHEN accepted THEN $totp_step ELSE u.totp_last_step END,
    u.failed_attempts = CASE WHEN accepted THEN 0 ELSE u.failed_attempts END,
    u.locked_until = CASE WHEN accepted THEN null ELSE u.locked_until END,
    u.password_hash = CASE WHEN accepted AND $password_hash IS NOT NULL THEN $password_hash
                           ELSE u.password_hash END
RETURN accepted
"""

# Returns the usernames it created, for the caller's audit events.
ENSURE_DEMO_USERS = """
UNWIND $users AS d
OPTIONAL MATCH (old:User {username: d.username})
WITH d, old IS NULL AS fresh
MERGE (u:User {username: d.username})
ON CREATE SET u.id = d.id, u.name = d.name, u.role = d.role, u.la_code = d.la_code,
              u.password_hash = d.password_hash, u.totp_secret = d.totp_secret,
              u.disabled = false, u.failed_attempts = 0, u.created_at = $now
SET u.agency_id = coalesce(d.agency_id, u.agency_id)
RETURN collect(CASE WHEN fresh THEN d.username END) AS created
"""


class UserExists(Exception):
    """A user with that username already exists."""


class UserNotFound(Exception):
    """No user has that username."""


@dataclass(frozen=True)
class UserRecord:
    """A user as listings and token checks see it: no password hash, no TOTP secret."""

    id: str
    username: str
    name: str
    role: Role
    la_code: str
    agency_id: str | None
    disabled: bool
    failed_attempts: int
    locked_until: datetime | None
    created_at: datetime | None

    def locked(self, now: datetime) -> bool:
        """Whether a lockout is in force at `now`."""
        return self.locked_until is not None and self.locked_until > now

    def viewer(self) -> Viewer:
        """The viewer context the access policy takes."""
        return Viewer(user_id=self.id, role=self.role, la_code=self.la_code, agency_id=self.agency_id)


@dataclass(frozen=True)
class LoginRecord(UserRecord):
    """A user with the credentials a login checks; kept out of reprs and logs."""

    password_hash: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    totp_last_step: int | None = None


def _native(value: Any) -> datetime | None:
    return value.to_native() if value is not None else None


def _user(row: dict[str, Any]) -> UserRecord:
    return UserRecord(
        id=row["id"], username=row["username"], name=row["name"], role=Role(row["role"]),
        la_code=row["la_code"], agency_id=row["agency_id"], disabled=bool(row["disabled"]),
        failed_attempts=row["failed_attempts"] or 0, locked_until=_native(row["locked_until"]),
        created_at=_native(row["created_at"]),
    )


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def validate_user_fields(*, username: str, name: str, role: str, la_code: str) -> Role:
    """Check the fields of a new user and return the role.

    Raises:
        ValueError: with a message saying which field is wrong.
    """
    if not USERNAME.fullmatch(username):
        raise ValueError(f"username '{username}' must be 3-64 lower-case letters, digits, '.', '_' or '-'")
    if not name.strip():
        raise ValueError("name must not be empty")
    try:
        checked = Role(role)
    except ValueError:
        raise ValueError(f"role '{role}' is not one of {', '.join(r.value for r in Role)}") from None
    if not LA_CODE.fullmatch(la_code):
        raise ValueError(f"local authority '{la_code}' is not an ONS code like E08000025")
    return checked


def create_user(
    tx: ManagedTransaction, *, username: str, name: str, role: str, la_code: str, password_hash: str,
    totp_secret: str, agency_id: str | None = None, now: datetime | None = None,
) -> UserRecord:
    """Create an enabled user with a hashed password and a TOTP secret.

    Args:
        password_hash: an argon2 hash (graph.credentials.hash_password), never the password.
        totp_secret: the base32 secret shared with the user's authenticator.

    Raises:
        ValueError: a field is invalid (see validate_user_fields).
        UserExists: the username is taken.
    """
    checked = validate_user_fields(username=username, name=name, role=role, la_code=la_code)
    if not password_hash or not totp_secret:
        raise ValueError("a user needs a password hash and a TOTP secret")
    try:
        row = tx.run(
            CREATE_USER, id=str(uuid.uuid4()), username=username, name=name.strip(), role=checked.value,
            la_code=la_code, agency_id=agency_id, password_hash=password_hash, totp_secret=totp_secret,
            now=_now(now),
        ).single(strict=True)
    except ConstraintError as exc:
        raise UserExists(f"user '{username}' already exists") from exc
    return _user(row["user"])


def get_user_for_login(tx: ManagedTransaction, *, username: str) -> LoginRecord | None:
    """The user with their password hash, TOTP secret and last used step, or None."""
    row = tx.run(GET_USER_FOR_LOGIN, username=username.strip().lower()).single()
    if row is None:
        return None
    u = row["user"]
    base = _user(u)
    return LoginRecord(**vars(base), password_hash=u["password_hash"], totp_secret=u["totp_secret"],
                       totp_last_step=u["totp_last_step"])


def get_user(tx: ManagedTransaction, *, user_id: str) -> UserRecord | None:
    """The user behind a token (to check they are still enabled), or None."""
    row = tx.run(GET_USER, user_id=user_id).single()
    return _user(row["user"]) if row else None


def list_users(tx: ManagedTransaction, *, la_code: str | None = None) -> list[UserRecord]:
    """All users, or those of one authority, without hashes or secrets."""
    result = tx.run(LIST_USERS) if la_code is None else tx.run(LIST_USERS_IN_LA, la_code=la_code)
    return [_user(r["user"]) for r in result]


def me(tx: ManagedTransaction, *, user_id: str) -> dict[str, Any] | None:
    """The signed-in user as they see themselves (username, role, authority, agency), or None."""
    row = tx.run(ME, user_id=user_id).single()
    return None if row is None else dict(row["me"])


def authority_users(tx: ManagedTransaction, *, la_code: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The users of one authority for its management team: no hashes, secrets or login bookkeeping."""
    return [dict(r["user"]) for r in tx.run(AUTHORITY_USERS, la_code=la_code, now=_now(now))]


def disable_user(tx: ManagedTransaction, *, username: str) -> UserRecord:
    """Disable a user; their tokens stop working at the next request.

    Raises:
        UserNotFound: no such username.
    """
    row = tx.run(DISABLE_USER, username=username.strip().lower()).single()
    if row is None:
        raise UserNotFound(f"no user '{username}'")
    return _user(row["user"])


def record_failure(
    tx: ManagedTransaction, *, user_id: str, attempts_allowed: int, lock_minutes: float,
    now: datetime | None = None,
) -> bool:
    """Count a failed login atomically; the failure that reaches the limit locks the account.

    The counter restarts after a lock; failures during a lock are ignored.

    Returns:
        True if this failure locked the account.
    """
    row = tx.run(RECORD_FAILURE, user_id=user_id, attempts_allowed=attempts_allowed,
                 lock_seconds=round(lock_minutes * 60), now=_now(now)).single()
    return bool(row and row["reached"])


def record_success(
    tx: ManagedTransaction, *, user_id: str, totp_step: int, password_hash: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Spend a TOTP step and clear failures, if the account is still usable and the step is new.

    Args:
        password_hash: a fresh hash to store when the old one used outdated parameters.

    Returns:
        False if the login must be refused after all (disabled, locked, or the step already used).
    """
    row = tx.run(RECORD_SUCCESS, user_id=user_id, totp_step=totp_step, password_hash=password_hash,
                 now=_now(now)).single()
    return bool(row and row["accepted"])


# -- demo users (demo mode only: the passwords and TOTP secrets below are public) --------------

_DEMO_NAMESPACE = uuid.UUID("6f1c2e4a-5b7d-4c8e-9f10-2a3b4c5d6e7f")


@dataclass(frozen=True)
class DemoUser:
    """A fixed demo account; the hash is precomputed so seeding needs no hashing."""

    username: str
    name: str
    role: Role
    la_code: str
    password: str = field(repr=False)
    totp_secret: str = field(repr=False)
    password_hash: str = field(repr=False)

    @property
    def id(self) -> str:
        """A stable user id, the same on every demo database."""
        return str(uuid.uuid5(_DEMO_NAMESPACE, self.username))

    def row(self, agency_id: str | None) -> dict[str, Any]:
        """The parameters of ENSURE_DEMO_USERS for this user."""
        return {"id": self.id, "username": self.username, "name": self.name, "role": self.role.value,
                "la_code": self.la_code, "password_hash": self.password_hash, "totp_secret": self.totp_secret,
                "agency_id": agency_id}


BIRMINGHAM, LEEDS = "E08000025", "E08000035"
_H = "$argon2id$v=19$m=65536,t=3,p=4$"
# (role, city, LA, TOTP secret, argon2 hash of "<city>-<role with dashes>-demo")
_DEMO_TABLE = (
    (Role.PRACTITIONER, "birmingham", BIRMINGHAM, "PLAFJEH76CLM35YOZS7HITX35BUZDVKK",
     "hOkVENF1smXSghETb+VA9w$IjYzBFtr/S7tewkFObbg6qBB8dRg1DKaCigpph33UK4"),
    (Role.SAFEGUARDING_LEAD, "birmingham", BIRMINGHAM, "ZBT3S2BM7PVSPW7XNECARYKH5C4G3G5N",
     "EmDrT7i/wo4Ma1vNCdLRgA$BwNEdL/tP7fJZMM04wFS3wTiPmNGMdueoCNnwibij0Q"),
    (Role.REVIEWER, "birmingham", BIRMINGHAM, "P5GISZZQMKXIGPPP2ALNOOPT3QT2NAQI",
     "NOa+/XQuJppRrwNHMaj0+Q$in2+qvxhodtZRXCnMOnxj2e0+QUy//6EGonv3tYdYu4"),
    (Role.LA_ADMIN, "birmingham", BIRMINGHAM, "EW6APKIHB3OTHGUDHNFBWEI77LSSDOWK",
     "+dXaJKjcyadrOqQpigLRkg$A9XGdnovhdzRexhBTr5EKlv6Bf52xKes1H27IyAhjbY"),
    (Role.AUDITOR, "birmingham", BIRMINGHAM, "MPAMF3KZMNLWNENZIN2VSZWZTWDTDEAZ",
     "kkUVqxQDpKpFYkLoYm4tUA$4SzKBlySwKPvFqGcq50hw+MqVjD8h4cb5Z7kPKNCdFI"),
    (Role.PRACTITIONER, "leeds", LEEDS, "FKJYJ7P3GJU5O6CLI4I5DP32HZP3UNO2",
     "CeEzFSlFI8b70ema4f4b3w$R0y1SOHJKiJOuVJvCBBY+rFNQGLv5J8h8/L+829WS2c"),
    (Role.SAFEGUARDING_LEAD, "leeds", LEEDS, "IHW3GLNWKE7GXLC6IBZHCKGFBRP6DPJW",
     "zzzQgTBhe05Zpy5SL7CCFw$OzXavKNmWULPtYIA2PjqnOJ9tp7AzscazVICDQfyc1o"),
    (Role.REVIEWER, "leeds", LEEDS, "KGSHN2XF5HTFMXALT537AJDDU4BQ2JWN",
     "UHQGZpm5581i0kxNWMT0Ow$CgNa/8WGbSTDFrhxmsQE/2RHe9VstpQ9Y18QZslZY0c"),
    (Role.LA_ADMIN, "leeds", LEEDS, "OPUQ3IKVFX3CHCYFR3HGCRDUZKEV4AGF",
     "I4c6nUky8YB6+aFuutpMSA$AuWuMrW8Xy96O1rYJ8XMk4pM2UoJO/oY9Qso9M5W564"),
    (Role.AUDITOR, "leeds", LEEDS, "G3Z7XOQB7YSJEB45LTA6HGFPHF7TK7XW",
     "i+6kKGqKclVeRB1iT8a30g$Nuu0bUGXOmsMyZR9nJmufR6lpcNg3tg4Qqjjl2VySp8"),
    (Role.ED_CLINICIAN, "birmingham", BIRMINGHAM, "XQ6LP4PB5ORE6LYR7LEDHOASTWNB3AVK",
     "bvbkySWdt9dxojxD6Xosyw$US2vExNOG0ThOaPGraX9imhnps+woKedJcTLJv9p9ug"),
    (Role.ED_CLINICIAN, "leeds", LEEDS, "Y3MEVVG3RY25VHXLPELUXXCOTPQELOFM",
     "mLf4UaXhs5KiRV4XANyoyA$klUOsHKgWxpbbZpIouTmvK4frkaOwlBEJQrCMAXy3Tg"),
    (Role.DATA_OFFICER, "birmingham", BIRMINGHAM, "63SXXOV2A4OLHRJKZGTEVRRFNUICQXCG",
     "NNfzYn7r7yCJDMN0zdqjBA$rGjXPwEpU0MnB35AEkUTtRHn1Zwape1Zo7sZRFshsW8"),
    (Role.DATA_OFFICER, "leeds", LEEDS, "46DSA2QFOAIGUHUCLNXMLPMS3V2D4OOY",
     "xNDvIU6lH7pNfM3sBPJvuA$CMbheJ7KV8SGX3wcrsIy8ecyKJ5a5q88nU02oNQasZk"),
)

# One user per role in Birmingham and in Leeds, e.g. practitioner.birmingham / birmingham-practitioner-demo.
DEMO_USERS: tuple[DemoUser, ...] = tuple(
    DemoUser(
        username=f"{role.value}.{city}",
        name=f"Demo {role.value.replace('_', ' ')} ({city.title()})",
        role=role,
        la_code=la,
        password=f"{city}-{role.value.replace('_', '-')}-demo",
        totp_secret=secret,
        password_hash=_H + tail,
    )
    for role, city, la, secret, tail in _DEMO_TABLE
)


def ensure_demo_users(
    tx: ManagedTransaction, *, agency_for: dict[str, str | None] | None = None, now: datetime | None = None,
) -> list[str]:
    """Create the fixed demo users that are missing (idempotent MERGE). For demo mode only.

    Existing users with those usernames keep their credentials; only a given agency is (re)set.

    Args:
        agency_for: username -> agency id, e.g. a loaded school for `practitioner.birmingham`.

    Returns:
        The usernames of the users created, in DEMO_USERS order (for the caller's audit events).

    Raises:
        ValueError: agency_for names a user that is not a demo user.
    """
    agency_for = agency_for or {}
    unknown = set(agency_for) - {d.username for d in DEMO_USERS}
    if unknown:
        raise ValueError(f"not demo users: {', '.join(sorted(unknown))}")
    rows = [d.row(agency_for.get(d.username)) for d in DEMO_USERS]
    created = set(tx.run(ENSURE_DEMO_USERS, users=rows, now=_now(now)).single(strict=True)["created"])
    return [d.username for d in DEMO_USERS if d.username in created]


FIRST_AGENCY = """
MATCH (a:Agency {kind: $kind, la_code: $la_code})
RETURN a.id AS id ORDER BY a.id LIMIT 1
"""


def first_agency(tx: ManagedTransaction, *, la_code: str, kind: str) -> str | None:
    """An agency of a kind in an authority (the demo practitioners' employer), or None."""
    record = tx.run(FIRST_AGENCY, la_code=la_code, kind=kind).single()
    return None if record is None else record["id"]
