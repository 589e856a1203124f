"""Settings: which Open Dental practice to read, with which keys, how fast.

A practice's settings come, highest precedence first, from explicit arguments, the
environment (``ODBRIDGE_*``), a ``[practices.NAME]`` table of the TOML config file, and the
OS keyring (keys only, service ``odbridge``, username ``NAME:developer_key`` /
``NAME:customer_key``). The config file is ``ODBRIDGE_CONFIG`` or ``config.toml`` in the
user config directory (``platformdirs``). Keys are ``SecretStr`` and never printed.

The config file decides where the keys are sent (``base_url``), so on POSIX systems it must
be its owner's alone, whatever it holds: a file owned by another user, or that other users
can change, or in a folder they can change, is refused with :class:`ConfigError` saying the
``chmod``/``chown`` that fixes it; a file holding keys must also be unreadable by others
(``chmod 600``).

Example ``config.toml``::

    default_practice = "main"

    [practices.main]
    mode = "remote"
    tier = "full"
    developer_key = "..."   # or leave keys out and store them in the keyring
    customer_key = "..."
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from odbridge.errors import OdbridgeError
from odbridge.private_files import path_findings

__all__ = [
    "SETTINGS",
    "ConfigError",
    "ConnectionArgs",
    "Mode",
    "PracticeProfile",
    "SettingArgs",
    "Settings",
    "Tier",
    "config_path",
    "env_var",
    "keyring_key",
    "load_settings",
    "resolve_profile",
    "setting_help",
]

log = logging.getLogger("odbridge.config")

KEYRING_SERVICE = "odbridge"
ENV_PREFIX = "ODBRIDGE_"
DEFAULT_PRACTICE = "default"


class ConfigError(OdbridgeError, ValueError):
    """The settings are missing or invalid; ``hint`` says how to fix them."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\nHint: {self.hint}" if self.hint else base


class Mode(StrEnum):
    """How odbridge reaches Open Dental."""

    REMOTE = "remote"
    """Open Dental's cloud API, through the practice's eConnector (throttled)."""
    LOCAL = "local"
    """The Local API of Open Dental running on this workstation."""
    SERVICE = "service"
    """The API Service on the practice's database server."""
    AUTO = "auto"
    """Local, then Service, then Remote: the first that answers."""


class Tier(StrEnum):
    """The customer key's permission tier, which decides the remote rate limit."""

    READ_ALL = "read-all"
    FULL = "full"
    ENTERPRISE = "enterprise"


TIER_INTERVALS: dict[Tier, float] = {Tier.READ_ALL: 5.0, Tier.FULL: 1.0, Tier.ENTERPRISE: 0.5}
"""Seconds between request starts on the remote API, per tier."""

REMOTE_URL = "https://api.opendental.com/api/v1"
LOCAL_PORT = 30222
SERVICE_PORT = 30223


def mode_base_url(mode: Mode, service_host: str = "localhost") -> str:
    """The documented base URL of a mode (``auto`` has none of its own)."""
    if mode is Mode.LOCAL:
        return f"http://localhost:{LOCAL_PORT}/api/v1"
    if mode is Mode.SERVICE:
        return f"http://{service_host}:{SERVICE_PORT}/api/v1"
    return REMOTE_URL


def page_cap(mode: Mode, tier: Tier) -> int:
    """The most rows one request may return: 100 remote (1000 enterprise), 1000 local and
    service (10,000 enterprise)."""
    enterprise = tier is Tier.ENTERPRISE
    if mode in (Mode.LOCAL, Mode.SERVICE):
        return 10_000 if enterprise else 1000
    return 1000 if enterprise else 100


def default_page_size(mode: Mode, tier: Tier) -> int:
    """The page size odbridge asks for: the cap, but at most 1000 rows."""
    return min(page_cap(mode, tier), 1000)


class PracticeProfile(BaseModel):
    """Everything needed to talk to one practice's API: each setting is declared once, here.

    A field's name is its key in a ``[practices.NAME]`` table and its keyword argument
    (``Client(tier=...)``, :func:`resolve_profile`); in capitals after ``ODBRIDGE_`` it is
    its environment variable (:func:`env_var`); its description is its help text
    (:func:`setting_help`, used by the CLI's options). Pydantic validates every source alike.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        default=DEFAULT_PRACTICE, description="The practice's name in the config file."
    )
    developer_key: SecretStr | None = Field(
        default=None, description="The developer key (from Open Dental's developer portal)."
    )
    customer_key: SecretStr | None = Field(
        default=None, description="The office's customer key (Setup > Advanced Setup > API)."
    )
    base_url: str | None = Field(
        default=None, description="The API base URL, overriding the mode's."
    )
    mode: Mode = Field(default=Mode.REMOTE, description="remote | local | service | auto.")
    tier: Tier = Field(
        default=Tier.READ_ALL,
        description="read-all | full | enterprise: the customer key's tier (its rate limit).",
    )
    rate_interval: float | None = Field(
        default=None,
        ge=0,
        description="Seconds between request starts (default: the tier's; 0: not paced).",
    )
    page_size: int | None = Field(
        default=None, ge=1, description="Rows per request (default: the mode's cap, ≤ 1000)."
    )
    service_host: str = Field(
        default="localhost", description="The API Service's host (mode service)."
    )
    auth_scheme: Literal["odfhir", "basic"] = Field(
        default="odfhir", description="odfhir (documented) | basic (only if a server takes it)."
    )
    timeout: float = Field(default=70.0, gt=0, description="Seconds to wait for an answer.")

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host, or None; anything else fails now, not after retries."""
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError(
                "od_base_url",
                "must be an http:// or https:// URL such as https://api.opendental.com/api/v1",
            )
        return value

    def url_for(self, mode: Mode) -> str:
        """The base URL for ``mode``: the explicit ``base_url`` if set, else the mode's."""
        return (self.base_url or mode_base_url(mode, self.service_host)).rstrip("/")

    def interval_for(self, mode: Mode) -> float:
        """Seconds between request starts: ``rate_interval`` if set, else the tier's for
        the remote API and 0 (not throttled) for Local and Service."""
        if self.rate_interval is not None:
            return self.rate_interval
        if mode in (Mode.LOCAL, Mode.SERVICE):
            return 0.0
        return TIER_INTERVALS[self.tier]

    def page_size_for(self, mode: Mode) -> int:
        """Rows per request: ``page_size`` if set, else the mode's default.

        A ``page_size`` above the mode's documented cap is clamped to it, except with an
        explicit ``base_url`` (caps unknown there; paging then detects a capped page).
        """
        cap = page_cap(mode, self.tier)
        if self.page_size is None:
            return default_page_size(mode, self.tier)
        if self.page_size > cap and self.base_url is None:
            log.warning("page_size %d is above the %s cap; using %d", self.page_size, mode, cap)
            return cap
        return self.page_size

    def require_keys(self) -> tuple[SecretStr, SecretStr]:
        """Both keys, or :class:`ConfigError` naming the missing one and where to set it."""
        developer = self._require("developer", self.developer_key)
        customer = self._require("customer", self.customer_key)
        return developer, customer

    def _require(self, label: str, value: SecretStr | None) -> SecretStr:
        if value is None or not value.get_secret_value():
            raise ConfigError(
                f"No {label} key for practice '{self.name}'.",
                f"Set {env_var(f'{label}_key')}, add {label}_key to "
                f"[practices.{self.name}] in {config_path()}, or store it in the keyring "
                f"(service '{KEYRING_SERVICE}', user '{self.name}:{label}_key').",
            )
        return value

    def with_overrides(self, **overrides: Unpack[SettingArgs]) -> PracticeProfile:
        """A copy with the non-None ``overrides`` applied (validated)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            return PracticeProfile.model_validate({**dict(self), **given})
        except ValidationError as exc:
            sources = dict.fromkeys(given, "arguments")
            raise _config_error(exc, f"settings of practice '{self.name}'", sources) from None

    def describe(self) -> dict[str, str]:
        """A printable summary of every setting; keys shown only as set / not set."""
        shown: dict[str, str] = {"practice": self.name}
        for setting in SETTINGS:
            value = getattr(self, setting)
            if setting in _KEY_FIELDS:
                shown[setting] = "set" if value else "not set"
            elif value is None:
                shown[setting] = _UNSET_TEXT.get(setting, "not set")
            elif setting == "rate_interval":
                shown[setting] = f"{value:g} s"
            else:
                shown[setting] = str(value)
        if self.base_url is None:
            shown["base_url"] = "auto" if self.mode is Mode.AUTO else self.url_for(self.mode)
        return shown


SETTINGS: tuple[str, ...] = tuple(name for name in PracticeProfile.model_fields if name != "name")
"""Every setting of a practice, in the order declared (``name`` picks the practice)."""

_UNSET_TEXT = {"rate_interval": "tier default", "page_size": "mode default"}


def env_var(setting: str) -> str:
    """The environment variable of a setting: ``ODBRIDGE_`` and its name in capitals
    (``ODBRIDGE_TIER``); the practice's ``name`` is ``ODBRIDGE_PRACTICE``."""
    if setting not in PracticeProfile.model_fields:
        raise KeyError(f"no setting {setting!r}")
    return ENV_PREFIX + ("PRACTICE" if setting == "name" else setting.upper())


def setting_help(setting: str) -> str:
    """A setting's help text: its description and its environment variable."""
    description = PracticeProfile.model_fields[setting].description or setting
    return f"{description.rstrip('.')} ({env_var(setting)})."


class ConnectionArgs(TypedDict, total=False):
    """The settings other than the keys, as keyword arguments (``Client(**settings)``).

    The same names and types as :class:`PracticeProfile`'s fields (which validate them);
    ``tests/unit/test_config.py`` keeps the two equal.
    """

    base_url: str | None
    mode: Mode | Literal["remote", "local", "service", "auto"] | None
    tier: Tier | Literal["read-all", "full", "enterprise"] | None
    rate_interval: float | None
    page_size: int | None
    service_host: str | None
    auth_scheme: Literal["odfhir", "basic"] | None
    timeout: float | None


class SettingArgs(ConnectionArgs, total=False):
    """Every setting as keyword arguments (:func:`resolve_profile`), the keys included."""

    developer_key: str | SecretStr | None
    customer_key: str | SecretStr | None


class Settings(BaseModel):
    """The config file: practices by name and which one is the default."""

    model_config = ConfigDict(extra="forbid")

    default_practice: str | None = None
    practices: dict[str, PracticeProfile] = Field(default_factory=dict)

    def practice_name(self, name: str | None = None) -> str:
        """The practice to use: ``name``, the default, the only one, or ``default``."""
        if name:
            return name
        if self.default_practice:
            return self.default_practice
        if len(self.practices) == 1:
            return next(iter(self.practices))
        return DEFAULT_PRACTICE


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file is: ``ODBRIDGE_CONFIG``, else the user config directory."""
    env = os.environ if env is None else env
    explicit = env.get("ODBRIDGE_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir("odbridge", appauthor=False)) / "config.toml"


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML config file; an absent file gives empty settings.

    :class:`ConfigError` if the file cannot be read, is not TOML, has unknown or invalid
    settings, or is not private to its owner (see :func:`check_private`).
    """
    path = path or config_path(env)
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"Cannot read the config file {path}: {reason}.") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"The config file {path} is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    check_private(path, info, holds_keys=_holds_keys(raw))
    practices = raw.get("practices", {})
    if isinstance(practices, dict):
        for name, table in practices.items():
            if isinstance(table, dict):
                table.setdefault("name", name)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, str(path)) from None


def _holds_keys(raw: Mapping[str, Any]) -> bool:
    """True if any practice table of the parsed file sets a key."""
    practices = raw.get("practices")
    if not isinstance(practices, dict):
        return False
    return any(
        isinstance(table, dict) and any(table.get(which) for which in _KEY_FIELDS)
        for table in practices.values()
    )


def check_private(
    path: Path, info: os.stat_result, *, holds_keys: bool, uid: int | None = None
) -> None:
    """Refuse a config file that is not its owner's alone (``info`` from its open handle).

    Whatever it holds, the file must belong to this user (or root), and neither it nor any
    folder above it may be writable by others: whoever can change it can point ``base_url``
    at their own server and receive the keys. A file holding keys must not be readable by
    others either. Only on POSIX (see :mod:`odbridge.private_files`); ``uid`` is for tests.
    """
    findings = path_findings(path, info=info, secret=holds_keys, uid=uid)
    if not findings:
        return
    if holds_keys:
        what = f"{path} holds API keys"
        hint = (
            "Or keep the keys out of the file: in the OS keyring (service 'odbridge') or in "
            "ODBRIDGE_DEVELOPER_KEY / ODBRIDGE_CUSTOMER_KEY."
        )
    else:
        what = f"The config file {path} decides where the API keys are sent"
        hint = "Whoever can change it could point base_url at their own server and get the keys."
    reasons = "; ".join(str(finding) for finding in findings)
    raise ConfigError(f"{what} but {reasons}.", hint)


def _config_error(
    exc: ValidationError, where: str, sources: Mapping[str, str] | None = None
) -> ConfigError:
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    source = (sources or {}).get(field)
    label = f"{field} (from {source})" if source else field
    return ConfigError(f"{where}: {label}: {first['msg']}.")


def keyring_key(practice: str, which: Literal["developer_key", "customer_key"]) -> SecretStr | None:
    """A key from the OS keyring, or None when absent or the keyring is unusable."""
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, f"{practice}:{which}")
    except Exception as exc:  # any backend failure (none installed, locked, D-Bus, ...)
        log.debug("keyring unavailable for %s: %s", which, type(exc).__name__)
        return None
    return SecretStr(value) if value else None


_KEY_FIELDS: tuple[Literal["developer_key", "customer_key"], ...] = (
    "developer_key",
    "customer_key",
)


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for setting in SETTINGS:
        value = env.get(env_var(setting))
        if value is not None and value.strip():
            values[setting] = value.strip()
    return values


def _check_shared_customer_key(
    name: str,
    own: Mapping[str, Any],
    from_environment: Mapping[str, str],
    overrides: Mapping[str, Any],
    use_keyring: bool,
) -> None:
    """A customer key belongs to one practice. In a config file of several practices,
    ``ODBRIDGE_CUSTOMER_KEY`` would override every one's key, and each practice would read
    (and store under its own name) the patients of the practice that key belongs to: it is
    refused unless it is this practice's own key, or a key given as an argument wins."""
    given = from_environment.get("customer_key")
    if given is None or overrides.get("customer_key") is not None:
        return
    mine = own.get("customer_key")
    if mine is None and use_keyring:
        mine = keyring_key(name, "customer_key")
    mine_text = mine.get_secret_value() if isinstance(mine, SecretStr) else mine
    if mine_text == given:
        return
    variable = env_var("customer_key")
    raise ConfigError(
        f"{variable} is set, but the config file holds several practices: it would be the "
        f"customer key of every one, and practice '{name}' would read another's patients.",
        f"Unset {variable} and keep each practice's customer_key in its [practices.NAME] "
        "table or the OS keyring; the variable is for a single practice.",
    )


def resolve_profile(
    practice: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    use_keyring: bool = True,
    trust_env: bool = True,
    **overrides: Unpack[SettingArgs],
) -> PracticeProfile:
    """The practice's settings: ``overrides`` (None values ignored) > environment > TOML
    file > keyring (keys only) > defaults. Raises :class:`ConfigError` if a value is invalid.

    ``trust_env=False`` reads nothing of the machine's: no environment variables, no config
    file (unless ``settings`` are given), no keyring; only ``overrides`` and defaults.
    """
    if not trust_env:
        env, use_keyring = {}, False
        settings = settings if settings is not None else Settings()
    env = os.environ if env is None else env
    settings = settings if settings is not None else load_settings(env=env)
    unknown = set(overrides) - set(PracticeProfile.model_fields)
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    from_env = env.get(env_var("name"), "").strip() or None
    name = settings.practice_name(practice or from_env)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if name in settings.practices:
        values.update(settings.practices[name].model_dump(exclude_unset=True))
    elif (practice or from_env or settings.default_practice) and (
        settings.practices or settings.default_practice == name
    ):
        # A practice was asked for by name (argument, ODBRIDGE_PRACTICE or default_practice)
        # and the file does not have it: a typo, not "use the environment only".
        if practice:
            asked = ""
        elif from_env:
            asked = f" (named by {env_var('name')})"
        else:
            asked = " (its default_practice)"
        known = ", ".join(sorted(settings.practices)) or "none"
        raise ConfigError(
            f"No practice '{name}' in the config file{asked}.",
            f"Known practices: {known}. Add a [practices.{name}] table or fix the name.",
        )
    from_environment = _env_values(env)
    if len(settings.practices) > 1 and name in settings.practices:
        _check_shared_customer_key(name, values, from_environment, overrides, use_keyring)
    for field, value in from_environment.items():
        values[field] = value
        sources[field] = env_var(field)
    for setting, given in overrides.items():
        if given is not None:
            values[setting] = given
            sources[setting] = "arguments"
    values["name"] = name
    if use_keyring:
        for which in _KEY_FIELDS:
            if not values.get(which):
                from_keyring = keyring_key(name, which)
                if from_keyring is not None:
                    values[which] = from_keyring
    try:
        return PracticeProfile.model_validate(values)
    except ValidationError as exc:
        raise _config_error(exc, f"settings of practice '{name}'", sources) from None
