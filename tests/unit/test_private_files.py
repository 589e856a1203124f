"""Key files and the store's folder: private, fixed when they can be, refused when not."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from odbridge.dashboard.server import load_secret_key
from odbridge.private_files import NotPrivateError, check_secret_file, path_findings
from odbridge.store.db import create_store_engine

pytestmark = pytest.mark.unit


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o660], ids=oct)
def test_a_dashboard_key_others_can_open_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    # Whoever reads the session key can sign a cookie for any user, admin included.
    path = tmp_path / "dashboard-secret.key"
    key = load_secret_key(path)
    path.chmod(mode)
    with caplog.at_level(logging.WARNING):
        assert load_secret_key(path) == key
    assert mode_of(path) == 0o600
    assert f"the dashboard's session key {path} was not private" in caplog.text
    assert key.hex() not in caplog.text


def test_a_dashboard_key_in_a_folder_others_can_change_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    key = load_secret_key(folder / "dashboard-secret.key")
    folder.chmod(0o777)  # anyone could put a key they know in its place
    with pytest.raises(NotPrivateError) as caught:
        load_secret_key(folder / "dashboard-secret.key")
    assert str(caught.value).startswith("The dashboard's session key ")
    assert f"chmod go-w {folder}" in str(caught.value)
    folder.chmod(0o755)
    assert load_secret_key(folder / "dashboard-secret.key") == key


def test_a_key_in_a_sticky_shared_folder_is_judged_by_its_own_owner(tmp_path: Path) -> None:
    folder = tmp_path / "tmp-like"
    folder.mkdir()
    key = load_secret_key(folder / "k.key")
    folder.chmod(0o1777)  # like /tmp: others cannot rename or remove what we own
    assert load_secret_key(folder / "k.key") == key


def test_a_key_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    # Someone else wrote it, so they know the key. As root the test plants it for real;
    # otherwise it asks on behalf of another uid, for which our file is someone else's.
    path = tmp_path / "deid.key"
    path.write_text("00" * 32, encoding="ascii")
    path.chmod(0o600)
    uid: int | None = None
    if os.geteuid() == 0:
        os.chown(path, 4242, -1)
    else:
        uid = os.geteuid() + 4242
    with pytest.raises(NotPrivateError, match=r"it belongs to another user .*: fix it with `chown"):
        check_secret_file(path, "the de-identification key", uid=uid)


def test_a_private_key_file_needs_no_fix(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"k" * 32)
    path.chmod(0o600)
    assert check_secret_file(path, "the key") == []
    assert check_secret_file(tmp_path / "absent.key", "the key") == []  # to be created


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777], ids=oct)
def test_a_store_in_a_shared_folder_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    # Others could replace or remove the store, or (even in a sticky folder like /tmp)
    # create its -wal journal first and read every page written to it.
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="odbridge.store"):
        create_store_engine(f"sqlite:///{folder / 'store.sqlite'}").dispose()
    assert f"the store {folder / 'store.sqlite'} holds patient data but other users" in caplog.text
    assert f"chmod go-w {folder}" in caplog.text


def test_a_store_in_a_private_folder_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="odbridge.store"):
        create_store_engine(f"sqlite:///{tmp_path / 'private' / 'store.sqlite'}").dispose()
    assert "patient data but" not in caplog.text
    assert path_findings(tmp_path / "private" / "store.sqlite", secret=True) == []


def test_serve_stops_with_the_fix_when_the_session_key_folder_is_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from odbridge.cli import app
    from odbridge.dashboard.server import default_secret_path
    from odbridge.store.users import add_user

    url = f"sqlite:///{tmp_path / 'private' / 'store.sqlite'}"
    engine = create_store_engine(url)
    add_user(engine, "admin", "correct horse battery", role="admin")
    engine.dispose()
    folder = tmp_path / "shared-data"
    folder.mkdir()
    folder.chmod(0o777)  # the user data folder, where the session key lives
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    assert default_secret_path().is_relative_to(folder)
    result = CliRunner().invoke(app, ["serve", "--db", url, "--port", "9"])
    assert result.exit_code == 2
    assert "The dashboard's session key" in result.stderr
    # the error console folds a long path onto the next line (80 columns, set when the CLI
    # is imported; pytest-xdist's temporary paths are long): read the fix with the line
    # breaks and spaces left out
    assert f"chmodgo-w{folder}" in "".join(result.stderr.split())
    assert "Dashboard at" not in result.stderr  # it never started
