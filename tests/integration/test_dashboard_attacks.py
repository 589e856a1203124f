"""Issue 14's attacks on the dashboard, performed over real HTTP (uvicorn on loopback).

Each test does what an attacker or a careless request would, and checks it is refused,
slowed, recorded or answered cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, text
from starlette.applications import Starlette

from odbridge.dashboard.app import create_app
from odbridge.dashboard.server import DashboardConfigError, DashboardServer, server_config
from odbridge.store import audit
from odbridge.store.db import create_store_engine
from odbridge.store.schema import audit_log, audit_patients
from odbridge.store.users import add_user, set_disabled
from tests.browser.seed import (
    ADMIN,
    ADMIN_PASSWORD,
    SECRET,
    VIEWER,
    VIEWER_PASSWORD,
    csrf_from,
    seed_store,
)

pytestmark = pytest.mark.integration

NORTH_ONLY, NORTH_PASSWORD = "nora", "nora-north-password"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder: Path = tmp_path_factory.mktemp("dashboard-attacks")
    store = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    seed_store(store, main=80, north=30)
    add_user(store, NORTH_ONLY, NORTH_PASSWORD, "viewer", practices=["north"])
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def base_url(engine: Engine) -> Iterator[str]:
    with DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server:
        yield server.url


def client(url: str, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=30, **kwargs)  # type: ignore[arg-type]


def log_in(http: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    token = csrf_from(http.get("/login").text)
    form = {"username": username, "password": password, "csrf_token": token}
    return http.post("/login", data=form, headers=headers)


@contextlib.contextmanager
def logged_in(url: str, username: str, password: str) -> Iterator[httpx.Client]:
    with client(url) as http:
        assert log_in(http, username, password).status_code == 303
        yield http


def entries(engine: Engine, **where: object) -> list[dict[str, object]]:
    query = select(audit_log).order_by(audit_log.c.id)
    for name, value in where.items():
        query = query.where(audit_log.c[name] == value)
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def patients_of(engine: Engine, entry_id: object) -> set[tuple[str, int]]:
    query = select(audit_patients.c.practice, audit_patients.c.pat_num).where(
        audit_patients.c.audit_id == entry_id
    )
    with engine.connect() as connection:
        return {(str(p), int(n)) for p, n in connection.execute(query)}


def links(html: str) -> set[tuple[str, int]]:
    """The patients a page links to, as (practice, PatNum)."""
    found = re.findall(r'href="/patients/(\d+)\?practice=([^"&]+)"', html)
    return {(practice, int(number)) for number, practice in found}


# -- 1: DNS rebinding, cross-site posts, spoofed addresses, guessing across addresses ------
def test_a_rebound_host_name_is_refused(engine: Engine) -> None:
    app = create_app(engine, secret_key=SECRET, warm=False, allowed_hosts=["dash.example"])
    with DashboardServer(app) as server, client(server.url) as http:
        port = server.port
        everywhere = "0.0.0.0"  # noqa: S104 - a Host header under test, not a binding
        for host in ("evil.example", f"evil.example:{port}", everywhere, ""):
            for method, path in (("GET", "/login"), ("POST", "/login"), ("GET", "/static/x")):
                response = http.request(method, path, headers={"Host": host})
                assert response.status_code == 400, (host, method, path)
                assert response.headers["content-security-policy"]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "dash.example", "DASH.example:1"):
            assert http.get("/login", headers={"Host": host}).status_code == 200, host


def test_a_cross_site_post_is_refused_before_any_password_check(
    base_url: str, engine: Engine
) -> None:
    before = len(entries(engine))
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another port: another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        with client(base_url) as http:
            response = log_in(http, ADMIN, ADMIN_PASSWORD, **headers)
            assert response.status_code == 403, headers
            assert "session" not in str(response.headers.get("set-cookie", ""))
    assert len(entries(engine)) == before  # refused before the login handler ran
    with client(base_url) as http:
        same = {"Origin": base_url, "Sec-Fetch-Site": "same-origin"}
        assert log_in(http, ADMIN, ADMIN_PASSWORD, **same).status_code == 303


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_named(engine: Engine) -> None:
    """Rotating X-Forwarded-For used to give every guess a fresh address."""
    with DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server:
        statuses = []
        with client(server.url) as http:
            for i in range(21):
                spoofed = {"X-Forwarded-For": f"203.0.113.{i}"}
                statuses.append(log_in(http, f"nobody{i}", "wrong password", **spoofed).status_code)
        assert statuses[:20] == [401] * 20
        assert statuses[20] == 429  # one address, however it dresses up


def test_one_account_is_slowed_across_many_addresses(engine: Engine) -> None:
    """Behind a named proxy each guess may come from a new address: the account's own
    counter still slows them down (the issue's 12 guesses, none throttled before)."""
    add_user(engine, "target", "target-long-password", "viewer", practices=["main"])
    app = create_app(engine, secret_key=SECRET, warm=False)
    with DashboardServer(app, forwarded_allow_ips="127.0.0.1") as server:
        statuses = []
        with client(server.url) as http:
            for i in range(12):
                spoofed = {"X-Forwarded-For": f"203.0.113.{i}"}
                statuses.append(log_in(http, "target", "wrong password", **spoofed).status_code)
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429, 429]
        with client(server.url) as other:  # other accounts are untouched
            fresh = {"X-Forwarded-For": "203.0.113.200"}
            assert log_in(other, VIEWER, VIEWER_PASSWORD, **fresh).status_code == 303


# -- 2: concurrent guesses, the hash cap ----------------------------------------------------
def test_concurrent_guesses_are_counted_before_the_password_is_checked(engine: Engine) -> None:
    add_user(engine, "racer", "racer-long-password", "viewer", practices=["main"])
    with DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server:
        clients = [client(server.url) for _ in range(30)]
        forms = []
        for http in clients:
            token = csrf_from(http.get("/login").text)
            forms.append({"username": "racer", "password": "wrong", "csrf_token": token})
        barrier = threading.Barrier(len(clients))
        statuses: list[int] = []

        def guess(http: httpx.Client, form: dict[str, str]) -> None:
            barrier.wait()
            statuses.append(http.post("/login", data=form).status_code)

        threads = [
            threading.Thread(target=guess, args=pair) for pair in zip(clients, forms, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for http in clients:
            http.close()
    assert len(statuses) == 30
    assert statuses.count(401) <= 5  # only the free attempts reached the password check
    assert set(statuses) <= {401, 429, 503}


def test_a_login_beyond_the_concurrent_hash_cap_gets_503(engine: Engine) -> None:
    app = create_app(engine, secret_key=SECRET, warm=False, max_concurrent_logins=2)
    gate = app.state.login.gate
    with DashboardServer(app) as server, client(server.url) as http:
        assert gate.try_enter()
        assert gate.try_enter()  # two password checks in progress
        busy = log_in(http, ADMIN, ADMIN_PASSWORD)
        assert busy.status_code == 503
        assert busy.headers["retry-after"]
        gate.leave()
        gate.leave()
        assert log_in(http, ADMIN, ADMIN_PASSWORD).status_code == 303


# -- 3: one audit entry per lock window -----------------------------------------------------
def test_refused_attempts_while_locked_make_one_audit_entry(engine: Engine) -> None:
    add_user(engine, "flood", "flood-long-password", "viewer", practices=["main"])
    app = create_app(engine, secret_key=SECRET, warm=False)
    with DashboardServer(app) as server, client(server.url) as http:
        for _ in range(5):
            assert log_in(http, "flood", "wrong password").status_code == 401
        for _ in range(12):
            assert log_in(http, "flood", "wrong password").status_code == 429
    failed = entries(engine, username="flood", action="login_failed")
    assert len(failed) == 6  # five wrong passwords, one lock window
    assert failed[-1]["detail"] == "throttled: 12 attempts refused while locked"


# -- 4: who viewed patient X; authorisation failures ---------------------------------------
def test_list_pages_record_the_patients_they_show(base_url: str, engine: Engine) -> None:
    with logged_in(base_url, VIEWER, VIEWER_PASSWORD) as http:
        for path, params in (
            ("/patients", {"practice": "main", "per": "25", "page": "2"}),
            ("/quality", {"practice": "main", "check": "no_phone"}),
            ("/", {"practice": "main"}),
        ):
            page = http.get(path, params=params)
            assert page.status_code == 200
            entry = entries(engine, username=VIEWER)[-1]
            shown = links(page.text)
            if path == "/":  # the birthdays (the overview links nothing else)
                assert len(shown) == entry["rows"]
            else:
                assert shown
            assert patients_of(engine, entry["id"]) == shown, path
        seen = sorted(shown)[0] if shown else ("main", 5)
        http.get(f"/patients/{seen[1]}", params={"practice": seen[0]})
    viewers = audit.viewers_of(engine, *seen)
    assert viewers[0].username == VIEWER
    assert viewers[0].what == "patient"


def test_a_viewer_on_the_audit_log_is_refused_and_recorded(base_url: str, engine: Engine) -> None:
    with logged_in(base_url, VIEWER, VIEWER_PASSWORD) as http:
        assert http.get("/audit").status_code == 403
        assert http.get("/audit.json").status_code == 403
    denied = entries(engine, username=VIEWER, action="denied")
    assert [(e["what"], e["detail"]) for e in denied[-2:]] == [
        ("audit", "administrators only"),
        ("audit", "administrators only"),
    ]


# -- 6: per-practice access -----------------------------------------------------------------
def test_a_user_sees_only_their_practices(base_url: str, engine: Engine) -> None:
    with logged_in(base_url, NORTH_ONLY, NORTH_PASSWORD) as http:
        everything = http.get("/patients.json", params={"per": "100"}).json()
        assert everything["rows"]
        assert {row["practice"] for row in everything["rows"]} == {"north"}
        overview = http.get("/index.json").json()
        assert {f["practice"] for f in overview["freshness"]} <= {"north"}
        assert overview["practice"] == "north"  # the only one they may see
        quality = http.get("/quality.json", params={"scope": "all"}).json()
        assert {row["practice"] for row in quality["rows"]} <= {"north"}
        for path in ("/patients", "/patients/5", "/quality", "/", "/patients.json"):
            response = http.get(path, params={"practice": "main"})
            assert response.status_code == 404, path
        assert "main" not in http.get("/").text.split("<main", 1)[0]  # not in the menu
    denied = entries(engine, username=NORTH_ONLY, action="denied")
    assert len(denied) == 5
    assert {e["detail"] for e in denied} == {"practice not granted to this user"}
    with logged_in(base_url, ADMIN, ADMIN_PASSWORD) as http:  # admins: every practice
        rows = http.get("/patients.json", params={"per": "100"}).json()["rows"]
        assert {row["practice"] for row in rows} == {"main", "north"}


# -- 7: sessions end for good ---------------------------------------------------------------
def test_a_logged_out_session_stays_ended_after_a_restart(engine: Engine) -> None:
    first = create_app(engine, secret_key=SECRET, warm=False)
    with DashboardServer(first) as server, client(server.url) as http:
        assert log_in(http, VIEWER, VIEWER_PASSWORD).status_code == 303
        saved = dict(http.cookies)
        token = csrf_from(http.get("/patients?practice=main").text)
        assert http.post("/logout", data={"csrf_token": token}).status_code == 303
    # a new process: same secret key, same store, nothing in memory
    restarted = create_app(engine, secret_key=SECRET, warm=False)
    with DashboardServer(restarted) as server, client(server.url) as replay:
        replay.cookies.update(saved)
        assert replay.get("/patients?practice=main").status_code == 303


def test_disabling_ends_sessions_and_enabling_does_not_revive_them(engine: Engine) -> None:
    add_user(engine, "dora", "dora-long-password", "viewer", practices=["main"])
    with DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server:
        with client(server.url) as http:
            assert log_in(http, "dora", "dora-long-password").status_code == 303
            assert http.get("/").status_code == 200
            set_disabled(engine, "dora")
            assert http.get("/").status_code == 303
            set_disabled(engine, "dora", False)
            saved = dict(http.cookies)
        with client(server.url) as replay:
            replay.cookies.update(saved)
            assert replay.get("/").status_code == 303


# -- 8 and 9: bad parameters answer 400/404; 500s are clean ------------------------------
BAD_REQUESTS = (
    ("/patients/²", 404),
    ("/patients/１２", 404),
    ("/patients/99999999999999999999999", 404),
    ("/patients.json?page=²", 400),
    ("/patients?page=²", 400),
    ("/patients?page=0", 400),
    ("/patients?per=²", 400),
    ("/patients?per=37", 400),
    ("/patients?clinic=²", 400),
    ("/patients?clinic=-1", 400),
    ("/patients?provider=²", 400),
    ("/patients?sort=lname;drop", 400),
    ("/patients?dir=sideways", 400),
    ("/patients?missing=yes", 400),
    ("/patients?status=%3Cscript%3E", 400),
    ("/patients?status=patient", 400),
    ("/quality?page=²", 400),
    ("/quality?check=everything", 400),
    ("/quality?scope=some", 400),
    ("/audit?page=²", 400),
    ("/?practice=nowhere", 404),
)


def test_bad_parameters_answer_400_or_404_never_500(base_url: str, engine: Engine) -> None:
    with logged_in(base_url, ADMIN, ADMIN_PASSWORD) as http:
        for path, expected in BAD_REQUESTS:
            if "practice=" not in path:
                path += ("&" if "?" in path else "?") + "practice=main"
            response = http.get(path)
            assert response.status_code == expected, path
            assert response.headers["content-security-policy"], path
        statuses = [str(e["detail"]) for e in entries(engine, username=ADMIN)]
        assert not any("<script>" in d or "status=patient" in d for d in statuses)


def test_a_server_error_has_the_security_headers_and_logs_only_its_type(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    seed_store(store, main=20, north=5)
    uvicorn_records: list[logging.LogRecord] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            uvicorn_records.append(record)

    collector = Collector()
    logging.getLogger("uvicorn.error").addHandler(collector)
    try:
        app = create_app(store, secret_key=SECRET, warm=False)
        with DashboardServer(app) as server, logged_in(server.url, ADMIN, ADMIN_PASSWORD) as http:
            with store.begin() as connection:  # the store breaks under the page
                connection.execute(text("ALTER TABLE patients RENAME TO patients_away"))
            with caplog.at_level(logging.ERROR, logger="odbridge.dashboard"):
                response = http.get("/patients", params={"practice": "main", "q": "Smith"})
    finally:
        logging.getLogger("uvicorn.error").removeHandler(collector)
        store.dispose()
    assert response.status_code == 500
    assert response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "Something went wrong" in response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["dashboard error on /patients: OperationalError"]
    assert all(r.exc_info is None for r in errors)
    assert not [r for r in uvicorn_records if r.levelno >= logging.ERROR]


# -- 5: behind a TLS proxy ------------------------------------------------------------------
def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent(engine: Engine) -> None:
    plain = server_config(engine, "127.0.0.1", 0)
    assert plain.proxy_headers is False  # X-Forwarded-For ignored unless a proxy is named
    everywhere = "0.0.0.0"  # noqa: S104 - the address under test
    config = server_config(
        engine, everywhere, 0, behind_tls_proxy=True, forwarded_allow_ips="10.0.0.2"
    )
    assert (config.proxy_headers, config.forwarded_allow_ips) == (True, "10.0.0.2")
    assert isinstance(config.app, Starlette)
    with DashboardServer(config.app) as server, client(server.url) as http:
        response = http.get("/login")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-odbridge=")
        assert "; Secure" in cookie
    with pytest.raises(DashboardConfigError, match="--allow-plaintext"):
        server_config(engine, everywhere, 0)
