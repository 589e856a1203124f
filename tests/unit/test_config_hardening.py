"""Config hardening: private key files, practices asked for by name, URLs that can work."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from odbridge import config
from odbridge.api.client import Client
from odbridge.config import ConfigError, load_settings, resolve_profile

pytestmark = pytest.mark.unit

WITH_KEYS = '[practices.main]\ndeveloper_key = "dev-secret-1"\ncustomer_key = "cust-secret-2"\n'
WITHOUT_KEYS = '[practices.main]\ntier = "full"\n'


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ODBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(config, "keyring_key", lambda *_: None)


def write(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("mode", "what"), [(0o644, "read"), (0o640, "read"), (0o604, "read"), (0o620, "change")]
)
def test_a_file_with_keys_that_others_can_open_is_refused(
    tmp_path: Path, mode: int, what: str
) -> None:
    path = write(tmp_path, WITH_KEYS, mode)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert f"other users can {what} it" in message
    assert f"chmod 600 {path}" in message
    assert f"mode {mode:03o}" in message
    assert "keyring" in caught.value.hint
    assert "dev-secret-1" not in message
    assert "cust-secret-2" not in message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_a_private_file_with_keys_is_read(tmp_path: Path, mode: int) -> None:
    settings = load_settings(write(tmp_path, WITH_KEYS, mode))
    key = settings.practices["main"].developer_key
    assert key is not None
    assert key.get_secret_value() == "dev-secret-1"


def test_a_file_without_keys_may_be_read_by_others(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, WITHOUT_KEYS, 0o644)).practices["main"].name == "main"
    empty_keys = '[practices.main]\ndeveloper_key = ""\n'
    assert "main" in load_settings(write(tmp_path, empty_keys, 0o644)).practices


HIJACK = '[practices.main]\nbase_url = "https://attacker.example/api/v1"\n'


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666, 0o664], ids=oct)
def test_a_file_others_can_change_is_refused_even_without_keys(tmp_path: Path, mode: int) -> None:
    # The attack: another user edits base_url; the keys (from the environment or the
    # keyring) would then be sent to their server.
    path = write(tmp_path, HIJACK, mode)
    with pytest.raises(ConfigError) as caught:
        resolve_profile(env={"ODBRIDGE_CONFIG": str(path), "ODBRIDGE_DEVELOPER_KEY": "d"})
    message = str(caught.value)
    assert f"{path} decides where the API keys are sent" in message
    assert f"other users can change it (mode {mode:03o})" in message
    assert f"chmod 600 {path}" in message
    assert "base_url" in caught.value.hint


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757], ids=oct)
def test_a_file_in_a_folder_others_can_change_is_refused(tmp_path: Path, mode: int) -> None:
    # Others can rename the private file away and put their own in its place.
    folder = tmp_path / "shared"
    folder.mkdir()
    path = write(folder, HIJACK, 0o600)
    folder.chmod(mode)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert f"other users can change its folder {folder} (mode {mode:03o})" in message
    assert f"chmod go-w {folder}" in message
    folder.chmod(0o755)  # readable by others is fine: they can list it, not replace it
    assert load_settings(path).practices["main"].base_url == "https://attacker.example/api/v1"


def test_a_world_writable_sticky_folder_is_safe_for_files_we_own(tmp_path: Path) -> None:
    folder = tmp_path / "tmp-like"
    folder.mkdir()
    path = write(folder, HIJACK, 0o600)
    folder.chmod(0o1777)  # like /tmp: others cannot rename or remove our entries
    assert "main" in load_settings(path).practices


def test_a_folder_above_the_file_is_checked_too(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    path = write(inner, HIJACK, 0o600)
    outer.chmod(0o777)  # others can rename "inner" away and make their own
    with pytest.raises(ConfigError, match=r"chmod go-w .*outer`"):
        load_settings(path)
    outer.chmod(0o700)


def test_a_symbolic_link_is_judged_by_the_file_it_points_to(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    target = write(shared, HIJACK, 0o600)
    shared.chmod(0o777)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link = private / "config.toml"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match=r"its folder .*shared"):
        load_settings(link)
    shared.chmod(0o700)


def test_a_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    # Someone else planted the file. As root the test plants it for real (chown); otherwise
    # it asks the check on behalf of another uid, which makes our own file "someone else's".
    path = write(tmp_path, HIJACK, 0o600)
    uid: int | None = None
    if os.geteuid() == 0:
        os.chown(path, 4242, -1)
    else:
        uid = os.geteuid() + 4242
    info = os.stat(path)
    with pytest.raises(ConfigError) as caught:
        config.check_private(path, info, holds_keys=False, uid=uid)
    message = str(caught.value)
    assert "it belongs to another user" in message
    assert "chown " in message
    assert f" {path}`" in message
    with pytest.raises(ConfigError, match="belongs to another user"):
        config.check_private(path, info, holds_keys=True, uid=uid)
    config.check_private(path, info, holds_keys=True, uid=info.st_uid)  # the owner: accepted


def test_root_may_own_a_config_file_without_keys(tmp_path: Path) -> None:
    # A system-wide file (/etc/...) is root's; only a file holding keys must be ours.
    path = write(tmp_path, HIJACK, 0o644)
    info = os.stat(path)
    as_root = os.stat_result((info.st_mode, *info[1:4], 0, *info[5:]))  # st_uid = 0
    config.check_private(path, as_root, holds_keys=False)


def test_unreadable_files_say_why_in_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Cannot read the config file .*: Is a directory\."):
        load_settings(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[x]")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text\."):
        load_settings(binary)


def test_a_practice_named_in_the_environment_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODBRIDGE_CONFIG", str(write(tmp_path, WITHOUT_KEYS, 0o600)))
    monkeypatch.setenv("ODBRIDGE_PRACTICE", "mian")
    with pytest.raises(ConfigError, match=r"No practice 'mian'.*ODBRIDGE_PRACTICE") as caught:
        resolve_profile()
    assert "Known practices: main" in caught.value.hint
    monkeypatch.setenv("ODBRIDGE_PRACTICE", "main")
    assert resolve_profile().name == "main"


def test_the_default_practice_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = 'default_practice = "mian"\n' + WITHOUT_KEYS
    monkeypatch.setenv("ODBRIDGE_CONFIG", str(write(tmp_path, text, 0o600)))
    with pytest.raises(ConfigError, match=r"No practice 'mian'.*default_practice"):
        resolve_profile()
    assert resolve_profile("main").name == "main"  # naming an existing one still works


def test_without_a_config_file_any_practice_name_uses_the_environment(tmp_path: Path) -> None:
    env = {"ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"), "ODBRIDGE_PRACTICE": "solo"}
    assert resolve_profile(env=env).name == "solo"
    assert resolve_profile("other", env=env).name == "other"


@pytest.mark.parametrize(
    "url", ["api.opendental.com/api/v1", "ftp://host/api/v1", "http://", "https:///api/v1", "x"]
)
def test_a_base_url_that_cannot_work_fails_at_once(tmp_path: Path, url: str) -> None:
    env = {"ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"), "ODBRIDGE_BASE_URL": url}
    with pytest.raises(ConfigError, match=r"base_url \(from ODBRIDGE_BASE_URL\): must be an http"):
        resolve_profile(env=env)


@pytest.mark.parametrize(
    "url",
    ["https://api.opendental.com/api/v1", "http://127.0.0.1:8780/api/v1", " http://[::1]:1/x "],
)
def test_http_and_https_base_urls_are_accepted(tmp_path: Path, url: str) -> None:
    env = {"ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"), "ODBRIDGE_BASE_URL": url}
    assert resolve_profile(env=env).base_url == url.strip()


def test_plain_http_to_another_machine_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def client_for(url: str) -> None:
        Client("d", "c", base_url=url, mode="remote", rate_interval=0, env={}).close()

    with caplog.at_level(logging.WARNING, logger="odbridge.api"):
        for url in ("http://office-proxy.example/api/v1", "http://office-proxy.example/api/v1"):
            client_for(url)
        for url in ("https://api.example/api/v1", "http://127.0.0.1:1/api/v1", "http://[::1]/x"):
            client_for(url)
        client_for("http://localhost:8780/api/v1")
    warnings = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1
    assert "office-proxy.example" in warnings[0]
    assert "unencrypted" in warnings[0]
