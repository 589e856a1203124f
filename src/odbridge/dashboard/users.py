"""Moved to :mod:`odbridge.store.users` (users live in the store; the CLI and exports use
them too). Kept until every caller imports from there."""

from odbridge.store.users import (
    ROLES,
    Role,
    User,
    UserError,
    add_user,
    authenticate,
    list_users,
    load_user,
    normalize_username,
    session_tag,
    set_disabled,
    set_password,
    set_role,
)

__all__ = [
    "ROLES",
    "Role",
    "User",
    "UserError",
    "add_user",
    "authenticate",
    "list_users",
    "load_user",
    "normalize_username",
    "session_tag",
    "set_disabled",
    "set_password",
    "set_role",
]
