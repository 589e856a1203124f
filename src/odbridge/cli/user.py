"""``odbridge user``: dashboard logins (each change is written to the audit log, by the
operating-system user who made it)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from odbridge.cli.common import DbOption, console, fail, open_store, out

app = typer.Typer(help="Dashboard logins.", no_args_is_help=True)

UsernameArgument = Annotated[str, typer.Argument(help="The login name.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
PracticesOption = Annotated[
    list[str] | None,
    typer.Option("--practice", help="A practice the user may see (repeatable)."),
]
AllPracticesOption = Annotated[
    bool, typer.Option("--all-practices", help="The user may see every practice.")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _change(db: str | None, action: Callable[..., object], *args: object) -> None:
    """Run a user change against the store (a UserError is printed by the CLI's group)."""
    action(open_store(db), *args)


def _practices(practice: list[str] | None, all_practices: bool, role: str) -> list[str] | None:
    if practice and all_practices:
        raise fail("Give --practice (one or more) or --all-practices, not both.")
    if practice:
        return practice
    if all_practices or role == "admin":
        return None
    raise fail(
        "Say which practices this viewer may see: --practice NAME (repeatable), or --all-practices."
    )


@app.command("add")
def user_add(
    username: UsernameArgument,
    role: Annotated[str, typer.Option(help="admin (sees the audit log) | viewer.")] = "viewer",
    practice: PracticesOption = None,
    all_practices: AllPracticesOption = False,
    password_stdin: PasswordStdinOption = False,
    db: DbOption = None,
) -> None:
    """Create a dashboard login; the password is asked for (hidden) or read from stdin.
    An admin sees every practice unless --practice is given; a viewer needs --practice or
    --all-practices."""
    from odbridge.store.users import add_user

    practices = _practices(practice, all_practices, role)
    password = _password(password_stdin)
    _change(db, lambda engine: add_user(engine, username, password, role, practices=practices))
    console.print(escape(f"User '{username.strip().lower()}' ({role}) created."))


@app.command("list")
def user_list(db: DbOption = None) -> None:
    """The dashboard logins, their roles and practices."""
    from odbridge.store.users import list_users

    table = Table("user", "role", "practices", "created (UTC)", "disabled")
    for user in list_users(open_store(db)):
        table.add_row(
            escape(user.username),
            user.role,
            "all" if user.practices is None else escape(", ".join(sorted(user.practices))),
            f"{user.created_at:%Y-%m-%d %H:%M}",
            "yes" if user.disabled else "",
        )
    out().print(table)


@app.command("disable")
def user_disable(username: UsernameArgument, db: DbOption = None) -> None:
    """Stop a user logging in; their open dashboard sessions end now."""
    from odbridge.store.users import set_disabled

    _change(db, set_disabled, username, True)
    console.print(escape(f"User '{username}' disabled; their sessions have ended."))


@app.command("enable")
def user_enable(username: UsernameArgument, db: DbOption = None) -> None:
    """Let a disabled user log in again (old sessions stay ended)."""
    from odbridge.store.users import set_disabled

    _change(db, set_disabled, username, False)
    console.print(escape(f"User '{username}' enabled."))


@app.command("passwd")
def user_passwd(
    username: UsernameArgument, password_stdin: PasswordStdinOption = False, db: DbOption = None
) -> None:
    """Set a new password; the user's open sessions end."""
    from odbridge.store.users import set_password

    password = _password(password_stdin)
    _change(db, set_password, username, password)
    console.print(escape(f"Password of '{username}' changed; their sessions have ended."))


@app.command("role")
def user_role(
    username: UsernameArgument,
    role: Annotated[str, typer.Argument(help="admin | viewer.")],
    db: DbOption = None,
) -> None:
    """Change a user's role (takes effect on their next page)."""
    from odbridge.store.users import set_role

    _change(db, set_role, username, role)
    console.print(escape(f"User '{username}' is now {role}."))


@app.command("practices")
def user_practices(
    username: UsernameArgument,
    practice: PracticesOption = None,
    all_practices: AllPracticesOption = False,
    db: DbOption = None,
) -> None:
    """Set the practices a user may see (replaces the list)."""
    from odbridge.store.users import set_practices

    if not practice and not all_practices:
        raise fail("Give --practice NAME (repeatable) or --all-practices.")
    practices = _practices(practice, all_practices, "viewer")
    _change(db, set_practices, username, practices)
    shown = "every practice" if practices is None else ", ".join(sorted(practices))
    console.print(escape(f"User '{username}' may see: {shown}."))


@app.command("remove")
def user_remove(username: UsernameArgument, db: DbOption = None) -> None:
    """Delete a user (the audit log keeps their name); their sessions end."""
    from odbridge.store.users import remove_user

    _change(db, remove_user, username)
    console.print(escape(f"User '{username}' removed."))
