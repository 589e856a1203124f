"""Dashboard users: argon2-hashed passwords in the store's ``users`` table, two roles.

``admin`` sees everything, the audit log included; ``viewer`` sees patient data only. Names
are kept in lower case, so ``Alice`` and ``alice`` are one user. The command line creates
users (``odbridge user add``); the dashboard has no sign-up page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from odbridge.errors import OdbridgeError
from odbridge.store import audit
from odbridge.store.audit import local_user
from odbridge.store.schema import user_practices, users
from odbridge.store.sessions import end_user_sessions

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")

_hasher = PasswordHasher()
# verified against when the user does not exist, so that both cases take the same time
_DUMMY_HASH = _hasher.hash("odbridge-no-such-user")


class UserError(OdbridgeError, ValueError):
    """A user cannot be added or changed; the message says why."""


@dataclass(frozen=True)
class User:
    """A dashboard user, without the password hash."""

    id: int
    username: str
    role: Role
    created_at: datetime
    disabled: bool
    practices: frozenset[str] | None = None
    """The practices this user may see; None: every practice."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, practice: str) -> bool:
        """True when this user may see ``practice``'s data."""
        return self.practices is None or practice in self.practices


def normalize_username(username: str) -> str:
    """The stored form of a user name; UserError if it cannot be one."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise UserError(
            "A user name is 1 to 100 characters: letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit."
        )
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"The password may have at most {MAX_PASSWORD_LENGTH} characters.")


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise UserError(f"The role must be one of: {', '.join(ROLES)}.")
    return role


def _user(row: Any, practices: frozenset[str]) -> User:
    return User(
        id=int(row.id),
        username=row.username,
        role=_check_role(row.role),
        created_at=row.created_at,
        disabled=bool(row.disabled),
        practices=_allowed(practices),
    )


ALL_PRACTICES = "*"
"""In ``user_practices``: the user sees every practice."""


def _grant(connection: Connection, user_id: int, practices: Iterable[str] | None) -> None:
    """Replace the user's practices (None: every practice; empty: none)."""
    names = [ALL_PRACTICES] if practices is None else sorted({p.strip() for p in practices})
    if any(not name or len(name) > 100 for name in names):
        raise UserError("A practice name is 1 to 100 characters.")
    connection.execute(delete(user_practices).where(user_practices.c.user_id == user_id))
    if names:
        connection.execute(
            user_practices.insert(), [{"user_id": user_id, "practice": n} for n in names]
        )


def _user_id(connection: Connection, name: str) -> int:
    found = connection.execute(select(users.c.id).where(users.c.username == name)).scalar()
    if found is None:
        raise UserError(f"There is no user named '{name}'.")
    return int(found)


def _record(connection: Connection, by: str, action: str, name: str, detail: str | None) -> None:
    audit.record_in(connection, username=by, action=action, what=f"user {name}", detail=detail)


def _keep_an_admin(connection: Connection, name: str) -> None:
    """UserError when ``name`` is the last enabled admin (someone must read the audit log)."""
    others = connection.execute(
        select(users.c.id).where(
            users.c.role == "admin", users.c.disabled.is_(False), users.c.username != name
        )
    ).first()
    row = connection.execute(
        select(users.c.role, users.c.disabled).where(users.c.username == name)
    ).first()
    if others is None and row is not None and row.role == "admin" and not row.disabled:
        raise UserError(
            f"'{name}' is the only enabled admin: make another user admin first "
            "(`odbridge user role NAME admin`)."
        )


def add_user(
    engine: Engine,
    username: str,
    password: str,
    role: str = "viewer",
    *,
    practices: Iterable[str] | None = None,
    by: str | None = None,
) -> User:
    """Create a user who sees ``practices`` (None: every practice); UserError if the name is
    taken or the password too short. ``by``: who did it, for the audit log."""
    name = normalize_username(username)
    checked_role = _check_role(role)
    _check_password(password)
    values = {
        "username": name,
        "password_hash": _hasher.hash(password),
        "role": checked_role,
        "created_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        "disabled": False,
    }
    try:
        with engine.begin() as connection:
            new_id = connection.execute(users.insert().values(**values)).inserted_primary_key
            user_id = int(new_id[0]) if new_id else _user_id(connection, name)
            _grant(connection, user_id, practices)
            shown = "all" if practices is None else ",".join(sorted(practices))
            _record(connection, by or local_user(), "user_add", name, f"role={role} {shown=}")
    except IntegrityError:
        raise UserError(f"There is already a user named '{name}'.") from None
    return User(
        id=user_id,
        username=name,
        role=checked_role,
        created_at=values["created_at"],  # type: ignore[arg-type]
        disabled=False,
        practices=None if practices is None else frozenset(p.strip() for p in practices),
    )


def set_password(engine: Engine, username: str, password: str, *, by: str | None = None) -> None:
    """Change a user's password (their open sessions end); UserError if there is no user."""
    name = normalize_username(username)
    _check_password(password)
    with engine.begin() as connection:
        user_id = _user_id(connection, name)
        connection.execute(
            update(users).where(users.c.id == user_id).values(password_hash=_hasher.hash(password))
        )
        ended = end_user_sessions(connection, user_id, "password")
        _record(connection, by or local_user(), "user_passwd", name, f"sessions_ended={ended}")


def set_role(engine: Engine, username: str, role: str, *, by: str | None = None) -> None:
    """Change a user's role; UserError if there is no user, or for the last enabled admin."""
    name = normalize_username(username)
    checked = _check_role(role)
    with engine.begin() as connection:
        user_id = _user_id(connection, name)
        if checked != "admin":
            _keep_an_admin(connection, name)
        connection.execute(update(users).where(users.c.id == user_id).values(role=checked))
        _record(connection, by or local_user(), "user_role", name, f"role={checked}")


def set_disabled(
    engine: Engine, username: str, disabled: bool = True, *, by: str | None = None
) -> None:
    """Disable (or enable again) a user: a disabled user cannot log in and every open session
    ends (enabling does not revive them). UserError if there is no user, or for the last
    enabled admin."""
    name = normalize_username(username)
    with engine.begin() as connection:
        user_id = _user_id(connection, name)
        if disabled:
            _keep_an_admin(connection, name)
        connection.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
        if disabled:
            ended = end_user_sessions(connection, user_id, "disabled")
            _record(connection, by or local_user(), "user_disable", name, f"sessions_ended={ended}")
        else:
            _record(connection, by or local_user(), "user_enable", name, None)


def remove_user(engine: Engine, username: str, *, by: str | None = None) -> None:
    """Delete a user (the audit log keeps the name); their sessions end. UserError if there
    is no user, or for the last enabled admin."""
    name = normalize_username(username)
    with engine.begin() as connection:
        user_id = _user_id(connection, name)
        _keep_an_admin(connection, name)
        ended = end_user_sessions(connection, user_id, "removed")
        connection.execute(delete(user_practices).where(user_practices.c.user_id == user_id))
        connection.execute(delete(users).where(users.c.id == user_id))
        _record(connection, by or local_user(), "user_remove", name, f"sessions_ended={ended}")


def set_practices(
    engine: Engine, username: str, practices: Iterable[str] | None, *, by: str | None = None
) -> None:
    """The practices a user may see from now on (None: every practice)."""
    name = normalize_username(username)
    with engine.begin() as connection:
        user_id = _user_id(connection, name)
        _grant(connection, user_id, practices)
        shown = "all" if practices is None else ",".join(sorted(practices))
        _record(connection, by or local_user(), "user_practices", name, f"practices={shown}")


def _practices_of(connection: Connection, user_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    found: dict[int, set[str]] = {uid: set() for uid in user_ids}
    query = select(user_practices).where(user_practices.c.user_id.in_(list(found)))
    for row in connection.execute(query):
        found.setdefault(int(row.user_id), set()).add(str(row.practice))
    return {uid: frozenset(names) for uid, names in found.items()}


def _allowed(names: frozenset[str]) -> frozenset[str] | None:
    return None if ALL_PRACTICES in names else names


def user_practices_of(engine: Engine, username: str) -> frozenset[str] | None:
    """The practices a user may see: a set of names, or None for every practice.
    UserError if there is no such user (or the user is disabled)."""
    name = normalize_username(username)
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.username == name)).first()
        if row is None or row.disabled:
            raise UserError(f"There is no enabled user named '{name}'.")
        return _allowed(_practices_of(connection, [int(row.id)])[int(row.id)])


def list_users(engine: Engine) -> list[User]:
    """Every user, by name."""
    with engine.connect() as connection:
        rows = connection.execute(select(users).order_by(users.c.username)).all()
        practices = _practices_of(connection, [int(row.id) for row in rows])
    return [_user(row, practices[int(row.id)]) for row in rows]


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user if the name and password match and the user is enabled, else None.

    An unknown name costs the same time as a wrong password. A hash made with weaker
    parameters than today's is replaced on success.
    """
    try:
        name = normalize_username(username)
    except UserError:
        name = ""
    row = None
    if name and len(password) <= MAX_PASSWORD_LENGTH:
        with engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.username == name)).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password[:MAX_PASSWORD_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    with engine.begin() as connection:
        if _hasher.check_needs_rehash(stored):
            connection.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(password_hash=_hasher.hash(password))
            )
        practices = _practices_of(connection, [int(row.id)])[int(row.id)]
    return _user(row, practices)


def load_user(engine: Engine, user_id: int) -> User | None:
    """The enabled user with this id, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.id == user_id)).first()
        if row is None or row.disabled:
            return None
        practices = _practices_of(connection, [user_id])[user_id]
    return _user(row, practices)
