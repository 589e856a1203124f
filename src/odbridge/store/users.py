"""Dashboard users: argon2-hashed passwords in the store's ``users`` table, two roles.

``admin`` sees everything, the audit log included; ``viewer`` sees patient data only. Names
are kept in lower case, so ``Alice`` and ``alice`` are one user. The command line creates
users (``odbridge user add``); the dashboard has no sign-up page.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from odbridge.errors import OdbridgeError
from odbridge.store.schema import users

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


def _user(row: object) -> User:
    return User(
        id=int(row.id),  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        role=_check_role(row.role),  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        disabled=bool(row.disabled),  # type: ignore[attr-defined]
    )


def add_user(engine: Engine, username: str, password: str, role: str = "viewer") -> User:
    """Create a user; UserError if the name is taken or the password too short."""
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
    except IntegrityError:
        raise UserError(f"There is already a user named '{name}'.") from None
    return User(
        id=int(new_id[0]) if new_id else 0,
        username=name,
        role=checked_role,
        created_at=values["created_at"],  # type: ignore[arg-type]
        disabled=False,
    )


def set_password(engine: Engine, username: str, password: str) -> None:
    """Change a user's password (their open sessions end); UserError if there is no user."""
    name = normalize_username(username)
    _check_password(password)
    with engine.begin() as connection:
        changed = connection.execute(
            update(users)
            .where(users.c.username == name)
            .values(password_hash=_hasher.hash(password))
        ).rowcount
    if not changed:
        raise UserError(f"There is no user named '{name}'.")


def set_role(engine: Engine, username: str, role: str) -> None:
    """Change a user's role; UserError if there is no user."""
    name = normalize_username(username)
    checked = _check_role(role)
    with engine.begin() as connection:
        changed = connection.execute(
            update(users).where(users.c.username == name).values(role=checked)
        ).rowcount
    if not changed:
        raise UserError(f"There is no user named '{name}'.")


def set_disabled(engine: Engine, username: str, disabled: bool = True) -> None:
    """Disable (or enable again) a user: a disabled user cannot log in; sessions end."""
    name = normalize_username(username)
    with engine.begin() as connection:
        changed = connection.execute(
            update(users).where(users.c.username == name).values(disabled=disabled)
        ).rowcount
    if not changed:
        raise UserError(f"There is no user named '{name}'.")


def list_users(engine: Engine) -> list[User]:
    """Every user, by name."""
    with engine.connect() as connection:
        rows = connection.execute(select(users).order_by(users.c.username)).all()
    return [_user(row) for row in rows]


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
    if _hasher.check_needs_rehash(stored):
        with engine.begin() as connection:
            connection.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(password_hash=_hasher.hash(password))
            )
    return _user(row)


def session_tag(password_hash: str, secret: bytes) -> str:
    """A short keyed digest of the password hash: sessions carry it, so a password change
    ends every session made with the old one."""
    return hmac.new(secret, password_hash.encode(), hashlib.sha256).hexdigest()[:24]


def load_user(engine: Engine, user_id: int) -> tuple[User, str] | None:
    """The enabled user with this id and its password hash, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.id == user_id)).first()
    if row is None or row.disabled:
        return None
    return _user(row), str(row.password_hash)
