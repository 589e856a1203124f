"""``odbridge user``: dashboard logins."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from odbridge.cli.common import DbOption, console, open_store, out

app = typer.Typer(help="Dashboard logins.", no_args_is_help=True)


@app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[str, typer.Option(help="admin (sees the audit log) | viewer.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a dashboard login; the password is asked for (hidden) or read from stdin."""
    from odbridge.store.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = open_store(db)
    user = add_user(engine, username, password, role=role)
    console.print(escape(f"User '{user.username}' ({user.role}) created."))


@app.command("list")
def user_list(db: DbOption = None) -> None:
    """The dashboard logins and their roles."""
    from odbridge.store.users import list_users

    table = Table("user", "role", "created (UTC)", "disabled")
    for user in list_users(open_store(db)):
        table.add_row(
            escape(user.username),
            user.role,
            f"{user.created_at:%Y-%m-%d %H:%M}",
            "yes" if getattr(user, "disabled", False) else "",
        )
    out().print(table)
