"""One error root: ``except OdbridgeError`` catches every error odbridge raises on purpose."""

from __future__ import annotations

import pytest

import odbridge
from odbridge.api.errors import NotFoundError, OpenDentalError
from odbridge.config import ConfigError
from odbridge.errors import OdbridgeError
from odbridge.export.errors import ExportError
from odbridge.mcp.access import AccessError
from odbridge.private_files import NotPrivateError
from odbridge.store.db import StoreError
from odbridge.store.users import UserError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "family",
    [
        OpenDentalError,
        ConfigError,
        StoreError,
        ExportError,
        UserError,
        NotPrivateError,
        AccessError,
    ],
)
def test_every_family_is_an_odbridge_error(family: type[Exception]) -> None:
    assert issubclass(family, OdbridgeError)


def test_the_root_is_public_and_catches_an_api_error() -> None:
    assert odbridge.OdbridgeError is OdbridgeError
    with pytest.raises(OdbridgeError, match="not found"):
        raise NotFoundError(404, "Patient not found.")
    assert issubclass(ConfigError, ValueError)  # still what older callers caught
