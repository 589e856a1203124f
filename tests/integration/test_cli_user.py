"""``odbridge user ...``, ``odbridge serve``'s refusals and ``odbridge patients list``'s audit
(issue 14 items 4, 5, 6 and 17), through the real command line (Typer's runner)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.simulator.server import SimulatorServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema import audit_log, audit_patients
from odbridge.store.sessions import session_is_open, start_session
from odbridge.store.users import authenticate, list_users
from tests.helpers import CUST_KEY, DEV_KEY

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("isolated_env")]

DAY = __import__("datetime").timedelta(days=1)


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def add(db: str, username: str, password: str, *flags: str) -> tuple[int, str]:
    args = ("user", "add", username, *flags, "--password-stdin", "--db", db)
    return run(*args, stdin=password + "\n")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


def audit_actions(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.username, audit_log.c.action, audit_log.c.what).order_by(
                audit_log.c.id
            )
        ).all()
    return [(str(u), str(a), str(w)) for u, a, w in rows]


def test_user_commands_change_the_user_end_sessions_and_are_audited(db: str) -> None:
    assert add(db, "ann", "ann-long-password", "--role", "admin")[0] == 0
    code, output = add(db, "bob", "bob-long-password")
    assert code == 2
    assert "--practice" in output  # a viewer's practices must be said
    assert add(db, "bob", "bob-long-password", "--practice", "main")[0] == 0
    engine = create_store_engine(db)
    bob = next(u for u in list_users(engine) if u.username == "bob")
    assert bob.practices == frozenset({"main"})
    sid = start_session(engine, bob.id, forget_after=DAY)

    assert run("user", "disable", "bob", "--db", db)[0] == 0
    assert not session_is_open(engine, sid, bob.id)
    assert authenticate(engine, "bob", "bob-long-password") is None
    assert run("user", "enable", "bob", "--db", db)[0] == 0
    assert not session_is_open(engine, sid, bob.id)  # enabling does not revive it
    assert authenticate(engine, "bob", "bob-long-password") is not None

    sid = start_session(engine, bob.id, forget_after=DAY)
    passwd = ("user", "passwd", "bob", "--password-stdin", "--db", db)
    assert run(*passwd, stdin="bob-new-password\n")[0] == 0
    assert not session_is_open(engine, sid, bob.id)
    assert authenticate(engine, "bob", "bob-new-password") is not None

    assert run("user", "role", "bob", "admin", "--db", db)[0] == 0
    both = ("--practice", "north", "--practice", "main")
    assert run("user", "practices", "bob", *both, "--db", db)[0] == 0
    code, listing = run("user", "list", "--db", db)
    assert code == 0
    assert "main, north" in listing
    assert run("user", "remove", "bob", "--db", db)[0] == 0
    assert [u.username for u in list_users(engine)] == ["ann"]

    me = f"os:{os.environ.get('USER') or __import__('getpass').getuser()}"
    assert audit_actions(engine) == [
        (me, "user_add", "user ann"),
        (me, "user_add", "user bob"),
        (me, "user_disable", "user bob"),
        (me, "user_enable", "user bob"),
        (me, "user_passwd", "user bob"),
        (me, "user_role", "user bob"),
        (me, "user_practices", "user bob"),
        (me, "user_remove", "user bob"),
    ]
    engine.dispose()


def test_the_last_admin_cannot_be_removed_disabled_or_demoted(db: str) -> None:
    add(db, "ann", "ann-long-password", "--role", "admin")
    for args in (("remove", "ann"), ("disable", "ann"), ("role", "ann", "viewer")):
        code, output = run("user", *args, "--db", db)
        assert code == 2, args
        assert "only enabled admin" in output
    code, output = run("user", "disable", "nobody", "--db", db)
    assert (code, "no user named 'nobody'" in output) == (2, True)


def test_serve_refuses_plain_http_beyond_this_machine(db: str) -> None:
    code, output = run("serve", "--host", "0.0.0.0", "--db", db)  # noqa: S104
    assert code == 2
    assert "--allow-plaintext" in output
    assert "--behind-tls-proxy" in output


def test_patients_list_audits_first_and_stops_when_it_cannot(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store.sqlite"
    for name, value in {
        "ODBRIDGE_DEVELOPER_KEY": DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": CUST_KEY,
        "ODBRIDGE_BASE_URL": simulator.base_url,
        "ODBRIDGE_MODE": "remote",
        "ODBRIDGE_DB": f"sqlite:///{store}",
    }.items():
        monkeypatch.setenv(name, value)
    code, output = run("patients", "list", "--limit", "5", "--format", "csv")
    assert code == 0, output
    engine = create_store_engine(f"sqlite:///{store}")
    with engine.connect() as connection:
        entry = connection.execute(select(audit_log)).mappings().one()
        shown = connection.execute(select(audit_patients.c.pat_num)).scalars().all()
    assert (entry["what"], entry["rows"], entry["detail"]) == ("cli patients list", 5, "complete")
    assert len(shown) == 5
    printed = [row["PatNum"] for row in csv.DictReader(io.StringIO(output)) if row.get("PatNum")]
    assert sorted(int(n) for n in printed) == sorted(shown)  # what was shown is what is recorded

    with engine.begin() as connection:  # the audit log can no longer be written
        connection.execute(
            text(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'read-only'); END"
            )
        )
    code, output = run("patients", "list", "--limit", "5", "--format", "csv")
    assert code == 2
    assert "Cannot write the audit log" in output
    assert "PatNum" not in output  # nothing was shown
    engine.dispose()
