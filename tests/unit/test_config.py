"""Settings: arguments > environment > TOML profile > keyring > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from odbridge import config
from odbridge.config import (
    ConfigError,
    Mode,
    PracticeProfile,
    Tier,
    config_path,
    keyring_key,
    load_settings,
    resolve_profile,
)

pytestmark = pytest.mark.unit

TOML = """
default_practice = "main"

[practices.main]
developer_key = "toml-dev"
customer_key = "toml-cust"
mode = "local"
tier = "full"
page_size = 500

[practices.branch]
mode = "service"
service_host = "db-branch"
tier = "enterprise"
"""


@pytest.fixture
def config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(TOML, encoding="utf-8")
    path.chmod(0o600)  # it holds keys: odbridge refuses it readable by others
    monkeypatch.setenv("ODBRIDGE_CONFIG", str(path))
    return path


def secret(value: object) -> str:
    assert value is not None
    return str(value.get_secret_value())  # type: ignore[attr-defined]


def test_trust_env_false_reads_no_environment_file_or_keyring(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odbridge.api.client import Client

    monkeypatch.setenv("ODBRIDGE_AUTH_SCHEME", "basic")
    monkeypatch.setenv("ODBRIDGE_PRACTICE", "main")
    monkeypatch.setattr(config, "keyring_key", lambda *_: SecretStr("from-ring"))
    trusting = resolve_profile()
    assert (trusting.page_size, trusting.auth_scheme) == (500, "basic")  # what would leak
    blind = resolve_profile(trust_env=False)
    assert (blind.name, blind.developer_key, blind.customer_key) == ("default", None, None)
    with Client("d", "c", base_url="http://127.0.0.1:9/api/v1", trust_env=False) as client:
        assert client.profile.name == "default"
        assert client.profile.page_size is None
        assert client.profile.auth_scheme == "odfhir"
        assert client.profile.tier is Tier.READ_ALL  # the file says full


def test_toml_profile_is_used(config_file: Path) -> None:
    profile = resolve_profile()
    assert profile.name == "main"
    assert secret(profile.developer_key) == "toml-dev"
    assert profile.mode is Mode.LOCAL
    assert profile.tier is Tier.FULL
    assert profile.page_size_for(profile.mode) == 500


def test_environment_beats_toml(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODBRIDGE_DEVELOPER_KEY", "env-dev")
    monkeypatch.setenv("ODBRIDGE_MODE", "remote")
    monkeypatch.setenv("ODBRIDGE_RATE_INTERVAL", "0.25")
    profile = resolve_profile()
    assert secret(profile.developer_key) == "env-dev"
    assert secret(profile.customer_key) == "toml-cust"
    assert profile.mode is Mode.REMOTE
    assert profile.interval_for(Mode.REMOTE) == 0.25


def test_the_customer_key_variable_overrides_a_single_practice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.toml"
    path.write_text('[practices.solo]\ncustomer_key = "toml-cust"\n', encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("ODBRIDGE_CONFIG", str(path))
    monkeypatch.setenv("ODBRIDGE_CUSTOMER_KEY", "env-cust")
    assert secret(resolve_profile("solo").customer_key) == "env-cust"


def test_the_customer_key_variable_is_refused_for_another_practice_of_several(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # exported for one practice (a simulator's banner says so), it would have every practice
    # of the file read that practice's patients and store them under its own name
    monkeypatch.setattr(config, "keyring_key", lambda *_: None)
    monkeypatch.setenv("ODBRIDGE_CUSTOMER_KEY", "toml-cust")
    assert secret(resolve_profile("main").customer_key) == "toml-cust"  # its own: harmless
    with pytest.raises(ConfigError, match="several practices") as refused:
        resolve_profile("branch")  # no key of its own: it would take main's
    assert "branch" in str(refused.value)
    assert "toml-cust" not in f"{refused.value} {refused.value.hint}"
    monkeypatch.setenv("ODBRIDGE_CUSTOMER_KEY", "env-cust")
    with pytest.raises(ConfigError, match="practice 'main' would read another's patients"):
        resolve_profile("main")
    # a key given as an argument is a choice made for that one run
    assert secret(resolve_profile("branch", customer_key="arg").customer_key) == "arg"


def test_arguments_beat_environment(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODBRIDGE_TIER", "read-all")
    monkeypatch.setenv("ODBRIDGE_DEVELOPER_KEY", "env-dev")
    profile = resolve_profile(tier="enterprise", developer_key="arg-dev", mode=None)
    assert profile.tier is Tier.ENTERPRISE
    assert secret(profile.developer_key) == "arg-dev"
    assert profile.mode is Mode.LOCAL  # None arguments do not override


def test_practice_by_name_and_by_environment(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    branch = resolve_profile("branch")
    assert branch.url_for(branch.mode) == "http://db-branch:30223/api/v1"
    assert branch.developer_key is None
    monkeypatch.setenv("ODBRIDGE_PRACTICE", "branch")
    assert resolve_profile().name == "branch"
    with pytest.raises(ConfigError, match="No practice 'nowhere'") as caught:
        resolve_profile("nowhere")
    assert "branch" in caught.value.hint
    assert "main" in caught.value.hint


def test_keyring_fills_only_missing_keys(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []

    def fake_keyring(practice: str, which: str) -> object:
        asked.append((practice, which))
        return SecretStr(f"ring-{which}")

    monkeypatch.setattr(config, "keyring_key", fake_keyring)
    branch = resolve_profile("branch")
    assert secret(branch.developer_key) == "ring-developer_key"
    assert asked == [("branch", "developer_key"), ("branch", "customer_key")]
    asked.clear()
    assert secret(resolve_profile("main").developer_key) == "toml-dev"
    assert asked == []


def test_keyring_backend_errors_are_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    import keyring.errors

    def broken(service: str, username: str) -> str:
        raise keyring.errors.NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", broken)
    assert keyring_key("main", "developer_key") is None

    def crashing(service: str, username: str) -> str:
        raise RuntimeError("dbus exploded")

    monkeypatch.setattr(keyring, "get_password", crashing)
    assert keyring_key("main", "customer_key") is None


def test_keyring_lookup_uses_service_and_practice_username(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring

    calls: list[tuple[str, str]] = []

    def stored(service: str, username: str) -> str | None:
        calls.append((service, username))
        return "from-ring" if username == "main:developer_key" else None

    monkeypatch.setattr(keyring, "get_password", stored)
    assert secret(keyring_key("main", "developer_key")) == "from-ring"
    assert keyring_key("main", "customer_key") is None
    assert calls == [("odbridge", "main:developer_key"), ("odbridge", "main:customer_key")]


def test_invalid_environment_value_names_the_variable(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODBRIDGE_MODE", "carrier-pigeon")
    with pytest.raises(ConfigError, match=r"mode \(from ODBRIDGE_MODE\)"):
        resolve_profile()
    monkeypatch.setenv("ODBRIDGE_MODE", "remote")
    monkeypatch.setenv("ODBRIDGE_RATE_INTERVAL", "-1")
    with pytest.raises(ConfigError, match="ODBRIDGE_RATE_INTERVAL"):
        resolve_profile()


def test_bad_config_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[practices.main\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[practices.main]\ncolour = "blue"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"practices\.main\.colour"):
        load_settings(unknown)
    assert load_settings(tmp_path / "absent.toml").practices == {}


def test_a_single_practice_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text('[practices.solo]\ntier = "full"\n', encoding="utf-8")
    assert load_settings(path).practice_name() == "solo"


def test_config_path(tmp_path: Path) -> None:
    assert config_path({"ODBRIDGE_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    default = config_path({})
    assert default.name == "config.toml"
    assert default.parent.name == "odbridge"


@pytest.mark.parametrize(
    ("mode", "tier", "interval", "page"),
    [
        (Mode.REMOTE, Tier.READ_ALL, 5.0, 100),
        (Mode.REMOTE, Tier.FULL, 1.0, 100),
        (Mode.REMOTE, Tier.ENTERPRISE, 0.5, 1000),
        (Mode.LOCAL, Tier.FULL, 0.0, 1000),
        (Mode.SERVICE, Tier.READ_ALL, 0.0, 1000),
    ],
)
def test_intervals_and_page_sizes(mode: Mode, tier: Tier, interval: float, page: int) -> None:
    profile = PracticeProfile(mode=mode, tier=tier)
    assert profile.interval_for(mode) == interval
    assert profile.page_size_for(mode) == page


def test_explicit_interval_wins_even_unthrottled() -> None:
    assert PracticeProfile(rate_interval=0.2).interval_for(Mode.LOCAL) == 0.2


def test_describe_never_shows_keys() -> None:
    profile = PracticeProfile(developer_key="abc-dev-123", customer_key="abc-cust-456")
    shown = str(profile.describe()) + repr(profile) + str(profile)
    assert "abc-dev-123" not in shown
    assert "abc-cust-456" not in shown
    assert profile.describe()["developer_key"] == "set"


def test_require_keys_names_the_missing_key() -> None:
    with pytest.raises(ConfigError, match="No developer key") as caught:
        PracticeProfile(customer_key="c").require_keys()
    assert "keyring" in caught.value.hint
    assert "ODBRIDGE_DEVELOPER_KEY" in caught.value.hint


def test_with_overrides_validates() -> None:
    profile = PracticeProfile().with_overrides(tier="full", page_size=None)
    assert profile.tier is Tier.FULL
    with pytest.raises(ConfigError, match=r"tier \(from arguments\)"):
        profile.with_overrides(tier="platinum")  # type: ignore[arg-type]


SAMPLES = {
    "developer_key": "d-key",
    "customer_key": "c-key",
    "base_url": "http://od.test/api/v1",
    "mode": "local",
    "tier": "full",
    "rate_interval": "0.5",
    "page_size": "7",
    "service_host": "db-host",
    "auth_scheme": "basic",
    "timeout": "5",
}


def test_every_setting_is_declared_once_and_read_from_its_variable() -> None:
    from typing import get_type_hints

    from odbridge.config import SETTINGS, ConnectionArgs, SettingArgs, Settings, env_var

    assert tuple(SAMPLES) == SETTINGS  # a new setting needs a sample here, nothing else
    assert set(get_type_hints(SettingArgs)) == set(SETTINGS)
    assert set(get_type_hints(ConnectionArgs)) == set(SETTINGS) - {"developer_key", "customer_key"}
    for setting, text in SAMPLES.items():
        env = {env_var(setting): text}
        profile = resolve_profile(env=env, settings=Settings(), use_keyring=False)
        value = getattr(profile, setting)
        shown = value.get_secret_value() if isinstance(value, SecretStr) else value
        assert str(shown) == text or float(shown) == float(text), setting
    assert env_var("tier") == "ODBRIDGE_TIER"
    assert env_var("name") == "ODBRIDGE_PRACTICE"
    with pytest.raises(KeyError):
        env_var("colour")


def test_an_invalid_variable_is_named_in_the_error() -> None:
    from odbridge.config import Settings

    with pytest.raises(ConfigError, match=r"page_size \(from ODBRIDGE_PAGE_SIZE\)"):
        resolve_profile(env={"ODBRIDGE_PAGE_SIZE": "0"}, settings=Settings(), use_keyring=False)


def test_setting_help_names_the_variable_and_describe_lists_every_setting() -> None:
    from odbridge.config import SETTINGS, setting_help

    assert (
        setting_help("base_url") == "The API base URL, overriding the mode's (ODBRIDGE_BASE_URL)."
    )
    shown = PracticeProfile(developer_key=SecretStr("secret-dev")).describe()
    assert list(shown) == ["practice", *SETTINGS]
    assert shown["developer_key"] == "set"
    assert shown["customer_key"] == "not set"
    assert "secret-dev" not in str(shown)
