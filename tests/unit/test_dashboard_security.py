"""The dashboard's pieces that need no server: sessions, hosts, redirects, the cache,
the plotly CSS extraction, and how search text is read and audited."""

from __future__ import annotations

import stat
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

from odbridge.dashboard.assets import plotly_css, plotly_guarded_styles, plotly_js_path
from odbridge.dashboard.cache import AggregateCache
from odbridge.dashboard.queries import PatientFilter, age_on, search_kind, week_of, years_before
from odbridge.dashboard.security import (
    ABSOLUTE_LIFETIME,
    Session,
    SessionCodec,
    allowed_host_names,
    csrf_matches,
    host_name,
    is_loopback,
    safe_next,
)
from odbridge.dashboard.server import DashboardConfigError, check_listen, load_secret_key

pytestmark = pytest.mark.unit

KEY = b"unit-test-secret-key-of-32-bytes"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/patients?q=x", "/patients?q=x"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login?next=/x", "/"),
        ("/patients\r\nSet-Cookie: x=y", "/"),
        ("patients", "/"),
    ],
)
def test_safe_next_allows_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_plain_http_beyond_loopback_is_refused_unless_allowed() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    everywhere = "0.0.0.0"  # noqa: S104 - the address under test, not a binding
    assert not any(is_loopback(h) for h in (everywhere, "192.168.1.4", "dash.example", "::"))
    check_listen("127.0.0.1", tls=False)
    check_listen(everywhere, tls=True)  # TLS here or at a proxy
    check_listen("192.168.1.4", tls=False, allow=True)  # --allow-plaintext
    with pytest.raises(DashboardConfigError, match=r"without TLS.*--behind-tls-proxy"):
        check_listen(everywhere, tls=False)
    with pytest.raises(DashboardConfigError, match="--allow-plaintext"):
        check_listen("192.168.1.4", tls=False)


def test_allowed_host_names_are_loopback_and_what_the_operator_names() -> None:
    assert host_name("LocalHost:8000") == "localhost"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert host_name("dash.example") == "dash.example"
    everywhere = "0.0.0.0"  # noqa: S104 - the address under test, not a binding
    names = allowed_host_names(["Dash.Example", everywhere, "::", "192.168.1.4", "fe80::1"])
    assert names == {"localhost", "127.0.0.1", "::1", "dash.example", "192.168.1.4", "fe80::1"}


def test_sessions_are_signed_and_end() -> None:
    clock = Clock()
    codec = SessionCodec(KEY, idle_timeout=timedelta(minutes=30), secure=False, clock=clock)
    session = Session.for_user(7, "session-id")
    session.since = clock.now
    cookie = codec.dumps(session)
    loaded = codec.loads(cookie)
    assert loaded is not None
    assert (loaded.user_id, loaded.sid) == (7, "session-id")
    assert codec.loads(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    other = SessionCodec(
        b"another-secret-key-of-32-bytes!!", idle_timeout=timedelta(1), secure=False
    )
    assert other.loads(cookie) is None  # signed with another key
    assert codec.loads("not a cookie") is None
    assert codec.loads(None) is None
    clock.now += 30 * 60 + 1
    assert codec.loads(cookie) is None  # idle too long
    clock.now -= 30 * 60 + 1
    clock.now += ABSOLUTE_LIFETIME.total_seconds() + 1
    assert codec.loads(cookie) is None  # past the absolute lifetime
    clock.now -= ABSOLUTE_LIFETIME.total_seconds() + 1
    assert codec.loads(cookie) is not None
    anonymous = codec.loads(codec.dumps(Session.anonymous()))
    assert anonymous is not None
    assert anonymous.user_id is None


def test_cookie_flags() -> None:
    plain = SessionCodec(KEY, idle_timeout=timedelta(minutes=5), secure=False)
    header = plain.cookie_header(Session.anonymous())
    assert header.startswith("odbridge_session=")
    assert "HttpOnly" in header
    assert "SameSite=Strict" in header
    assert "Secure" not in header
    secure = SessionCodec(KEY, idle_timeout=timedelta(minutes=5), secure=True)
    assert secure.cookie_header(None).startswith("__Host-odbridge=; Max-Age=0")
    assert "; Secure" in secure.cookie_header(Session.anonymous())


def test_csrf_tokens_compare_exactly() -> None:
    session = Session.anonymous()
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, session.csrf[:-1])
    assert not csrf_matches(session, "")
    assert not csrf_matches(None, session.csrf)
    assert not csrf_matches(session, None)


def test_search_text_is_classified_and_never_audited() -> None:
    assert search_kind("") == "none"
    assert search_kind("1234") == "number"
    assert search_kind("(503) 555-1234") == "number"
    assert search_kind("a@b.com") == "email"
    assert search_kind("Smith, Jo") == "name"
    detail = PatientFilter(search="Smith", status="Patient", clinic=2, page=3).audit_detail()
    assert detail == "search(name) status=Patient clinic=2 sort=name page=3"
    assert "Smith" not in detail


def test_ages_weeks_and_years() -> None:
    assert years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)
    assert age_on(date(2000, 3, 1), date(2024, 2, 29)) == 23
    assert age_on(date(2000, 2, 29), date(2024, 2, 29)) == 24
    assert age_on(date(2030, 1, 1), date(2024, 1, 1)) is None
    assert week_of(date(2025, 1, 1)) == (date(2024, 12, 30), date(2025, 1, 5))


def test_plotly_css_comes_from_the_installed_plotly() -> None:
    source = plotly_js_path().read_text(encoding="utf-8")
    css = plotly_css(source)
    assert ".js-plotly-plot .plotly .main-svg {position:absolute" in css
    assert "X " not in css
    assert css.count("{") > 30
    assert plotly_css("no table here").startswith("\n.js-plotly-plot")
    ids = plotly_guarded_styles(source)
    assert ids
    assert all(len(i) >= 8 for i in ids)


def test_cache_serves_stale_values_while_recomputing() -> None:
    version = [1]
    clock = Clock()
    cache = AggregateCache(lambda: version[0], min_interval=10, max_age=600, clock=clock)
    calls: list[int] = []
    release = threading.Event()

    def compute() -> int:
        calls.append(version[0])
        if len(calls) > 1:
            release.wait(5)
        return version[0] * 100

    first = cache.get("k", compute)
    assert (first.value, first.stale) == (100, False)
    assert cache.get("k", compute).value == 100
    assert len(calls) == 1
    version[0] = 2
    clock.now += 1
    assert cache.get("k", compute).stale  # changed, but too soon to recompute
    assert len(calls) == 1
    clock.now += 10
    stale = cache.get("k", compute)
    assert (stale.value, stale.stale) == (100, True)  # the old value, at once
    release.set()
    cache.wait()
    fresh = cache.get("k", compute)
    assert (fresh.value, fresh.stale) == (200, False)
    clock.now += 601
    assert cache.get("k", compute).stale  # too old, even with the same version
    cache.close()


def test_the_secret_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "dashboard-secret.key"
    first = load_secret_key(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(path) == first
    path.write_bytes(b"short")
    assert load_secret_key(path) != b"short"
