"""A server that echoes the keys back, in any encoding, never gets them into an error.

The attack: a misconfigured proxy or a hostile server answers 401 with the request's
``Authorization`` header (or the keys) in its message, so that they end up in a terminal,
a log file or the run log. Every form must come out as ``***``, including a key that the
300-character cut of the message would split in two.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import httpx
import pytest

from odbridge.api.client import Client
from odbridge.api.errors import MAX_MESSAGE_CHARS, OpenDentalError, clean_server_message
from odbridge.api.logsafe import SecretRedactor
from odbridge.api.retry import RetryPolicy

pytestmark = pytest.mark.unit

# Characters that URL-encoding, base64 and HTML escaping all change.
DEV = "dev+KEY/odd=&<chars>-7f3a9c"
CUST = "cust KEY~ü?99b1e2d4"


def b64(text: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(text.encode()).decode()


def pieces(secret: str, size: int = 6) -> list[str]:
    """Every run of ``size`` characters of ``secret``: none may survive."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def forms_of(text: str) -> list[str]:
    return [
        text,
        b64(text),
        b64(text).rstrip("="),
        b64(text, urlsafe=True),
        quote(text, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(text, safe="")),  # %2b
        quote_plus(text),
        html.escape(text),
    ]


ECHOES: list[str] = [
    *forms_of(DEV),
    *forms_of(CUST),
    *forms_of(f"{DEV}:{CUST}"),  # HTTP Basic credentials
    *forms_of(f"{DEV}/{CUST}"),  # ODFHIR credentials
]


def error_from(handler: Callable[[httpx.Request], httpx.Response], scheme: str) -> str:
    client = Client(
        DEV,
        CUST,
        base_url="http://od.test/api/v1",
        rate_interval=0,
        auth_scheme=scheme,  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=1, sleep=lambda _: None),
    )
    with client, pytest.raises(OpenDentalError) as caught:
        client.patients.list()
    return f"{caught.value} {caught.value!r} {caught.value.server_message}"


def assert_no_trace_of_the_keys(text: str) -> None:
    for echoed in ECHOES:
        assert echoed not in text
    for secret in (DEV, CUST, b64(f"{DEV}:{CUST}"), b64(f"{DEV}/{CUST}")):
        for piece in pieces(secret):
            assert piece not in text, piece


@pytest.mark.parametrize("scheme", ["odfhir", "basic"])
@pytest.mark.parametrize("echo", ECHOES, ids=range(len(ECHOES)))
def test_every_encoding_of_the_keys_is_redacted(scheme: str, echo: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": f"Invalid credentials {echo} for you"})

    text = error_from(handler, scheme)
    assert "Invalid credentials *** for you" in text
    assert_no_trace_of_the_keys(text)


@pytest.mark.parametrize("scheme", ["odfhir", "basic"])
def test_the_authorization_header_echoed_back_is_redacted(scheme: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        header = request.headers["Authorization"]
        return httpx.Response(401, text=f"<html><title>Denied: {html.escape(header)}</title>")

    text = error_from(handler, scheme)
    assert "Denied:" in text
    assert "***" in text
    assert_no_trace_of_the_keys(text)


@pytest.mark.parametrize("offset", [-20, -10, -3, -1, 0])
@pytest.mark.parametrize("secret", [DEV, b64(f"{DEV}:{CUST}")], ids=["key", "basic-base64"])
def test_a_key_straddling_the_cut_leaves_no_piece(secret: str, offset: int) -> None:
    # The key starts just before the 300th character, where the message is cut.
    start = MAX_MESSAGE_CHARS + offset
    body = "x" * (start - 1) + " " + secret + " and more text after it"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=body)

    text = error_from(handler, "basic")
    assert_no_trace_of_the_keys(text)


def test_redaction_happens_before_the_cut_in_clean_server_message() -> None:
    redact = SecretRedactor([DEV, CUST])
    body = "y" * (MAX_MESSAGE_CHARS - 5) + DEV
    cleaned = clean_server_message(body, redact=redact)
    assert len(cleaned) <= MAX_MESSAGE_CHARS
    assert cleaned.endswith("***") or cleaned.endswith("…")
    for piece in pieces(DEV, 4):
        assert piece not in cleaned
    # JSON escapes are undone before the second look: \u-escaped keys are hidden too.
    escaped = '{"message": "' + "".join(f"\\u{ord(c):04x}" for c in CUST) + '"}'
    assert clean_server_message(escaped, redact=redact) == "***"


def test_the_redactor_hides_nothing_else() -> None:
    redact = SecretRedactor([DEV, CUST, ""])
    assert redact("HTTP 401: Invalid DeveloperKey.") == "HTTP 401: Invalid DeveloperKey."
    assert redact("") == ""
    assert SecretRedactor([])("anything") == "anything"
    assert "KEY" not in repr(redact)
