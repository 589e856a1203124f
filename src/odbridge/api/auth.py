"""Authentication for the Open Dental API as ``httpx.Auth`` flows.

The documented scheme is ``Authorization: ODFHIR {DeveloperKey}/{CustomerKey}``. HTTP Basic
(developer key as user, customer key as password) exists only as an explicit option. The
keys are held as ``SecretStr``: no repr, str or log line of these objects shows them.
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from typing import Literal

import httpx
from pydantic import SecretStr

__all__ = ["AuthScheme", "BasicKeyAuth", "ODFHIRAuth", "make_auth", "mask"]

AuthScheme = Literal["odfhir", "basic"]


def _secret(value: str | SecretStr) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


def mask(value: str | SecretStr | None) -> str:
    """How a key is shown anywhere: ``***`` when set, ``(not set)`` otherwise."""
    if value is None:
        return "(not set)"
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return "***" if raw else "(not set)"


class _KeyAuth(httpx.Auth):
    """Holds both keys; subclasses decide the header."""

    scheme: str = ""

    def __init__(self, developer_key: str | SecretStr, customer_key: str | SecretStr) -> None:
        self._developer_key = _secret(developer_key)
        self._customer_key = _secret(customer_key)

    def _header(self) -> str:
        raise NotImplementedError

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the Authorization header and send the request once."""
        request.headers["Authorization"] = self._header()
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(developer_key='***', customer_key='***')"

    __str__ = __repr__


class ODFHIRAuth(_KeyAuth):
    """``Authorization: ODFHIR {developer_key}/{customer_key}`` (the documented scheme)."""

    scheme = "odfhir"

    def _header(self) -> str:
        return (
            f"ODFHIR {self._developer_key.get_secret_value()}"
            f"/{self._customer_key.get_secret_value()}"
        )


class BasicKeyAuth(_KeyAuth):
    """HTTP Basic with the developer key as user and the customer key as password.

    Not documented by Open Dental; use only if a server is known to accept it.
    """

    scheme = "basic"

    def _header(self) -> str:
        pair = f"{self._developer_key.get_secret_value()}:{self._customer_key.get_secret_value()}"
        return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def make_auth(
    developer_key: str | SecretStr,
    customer_key: str | SecretStr,
    scheme: AuthScheme = "odfhir",
) -> ODFHIRAuth | BasicKeyAuth:
    """The auth flow for ``scheme`` (``odfhir`` unless told otherwise)."""
    if scheme == "basic":
        return BasicKeyAuth(developer_key, customer_key)
    if scheme == "odfhir":
        return ODFHIRAuth(developer_key, customer_key)
    raise ValueError(f"unknown auth scheme {scheme!r}; use 'odfhir' or 'basic'")
