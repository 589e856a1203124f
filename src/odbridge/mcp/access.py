"""Who is asking a tool, which practices they may see, and the audit entry of every call.

Over stdio the caller is the dashboard user named with ``--user`` (the process already runs
as the OS account that owns the store); over HTTP it is the user who logged in. The user is
read again on every call, so disabling a user stops their assistant at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from odbridge.dashboard import queries
from odbridge.dashboard.queries import Practices
from odbridge.errors import OdbridgeError
from odbridge.mcp.common import ToolEnv
from odbridge.store import audit
from odbridge.store.schema import users
from odbridge.store.users import User, UserError, load_user, normalize_username

AUDIT_PREFIX = "mcp:"
"""The audit log's ``what`` of a tool call: ``mcp:<tool>``."""


class AccessError(OdbridgeError):
    """The caller may not have this; the message is safe to show to the assistant."""


@dataclass(frozen=True)
class Caller:
    """The user behind a tool call, and whether answers must be de-identified."""

    user: User
    deidentified: bool = False

    @property
    def allowed(self) -> frozenset[str] | None:
        """The practices this user may see; None: every practice."""
        return self.user.practices


def user_named(engine: Engine, username: str) -> User:
    """The enabled user with this name; UserError saying why not."""
    name = normalize_username(username)
    with engine.connect() as connection:
        user_id = connection.execute(select(users.c.id).where(users.c.username == name)).scalar()
    found = load_user(engine, int(user_id)) if user_id is not None else None
    if found is None:
        raise UserError(
            f"There is no enabled user named '{name}'. Create one with "
            f"`odbridge user add {name}` (or enable it again)."
        )
    return found


def known_practices(env: ToolEnv) -> list[str]:
    """Every practice in the store (cached like the figures)."""
    return env.cached(("practices",), lambda: queries.practices(env.reader))[0]


def practice_scope(env: ToolEnv, caller: Caller, practice: str | None) -> Practices:
    """The practices a call covers: the one asked for, or all the caller may see.

    AccessError for a practice that is not in the store or not the caller's.
    """
    known = known_practices(env)
    allowed = caller.allowed
    if practice:
        if practice not in known or (allowed is not None and practice not in allowed):
            visible = [p for p in known if allowed is None or p in allowed]
            raise AccessError(
                f"There is no practice '{practice}' you may see. Yours: "
                + (", ".join(visible) or "none")
                + "."
            )
        return practice
    if allowed is None:
        return known[0] if len(known) == 1 else None
    visible = [p for p in known if p in allowed]
    if not visible:
        raise AccessError("You may see no practice in this store; ask an administrator.")
    return visible[0] if len(visible) == 1 else frozenset(visible)


def practice_label(practices: Practices) -> str:
    """How the audit log names the practices of a call (as the dashboard does)."""
    label = queries.practice_label(practices)
    return "(all)" if label is None else label[:100]


def record_call(
    engine: Engine,
    caller: Caller,
    tool: str,
    *,
    arguments: str,
    practices: Practices,
    rows: int | None,
    pat_nums: Iterable[audit.PatientKey] = (),
) -> None:
    """One audit entry for a tool call: the tool and the kinds of its arguments (never a
    search text, a birthdate or a PatNum) in the text, the rows returned, and the patients
    they showed as (practice, PatNum) in the per-patient audit table."""
    audit.record(
        engine,
        username=caller.user.username,
        action="view",
        what=f"{AUDIT_PREFIX}{tool}",
        rows=rows,
        practice=practice_label(practices),
        deidentified=caller.deidentified,
        detail=f"mcp {arguments}".strip(),
        pat_nums=pat_nums,
    )
