"""The practice dashboard: a Starlette app, server-rendered with Jinja2, reading only the store.

Pages: ``/`` (overview), ``/patients`` (search and filters), ``/patients/{PatNum}`` (one
patient and the family), ``/quality`` (lists to fix in Open Dental), ``/audit`` (admins).
Charts are drawn in the browser by plotly.js, served from the copy in the plotly wheel. Every
page showing patient data writes an audit entry: page name, rows shown, filter names (never a
search text).

    app = create_app(engine, secret_key=key)     # any ASGI server
    serve(engine, host="127.0.0.1", port=8000)    # uvicorn, see odbridge.dashboard.server
"""

from __future__ import annotations

import contextlib
import gzip
import re
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from odbridge import __version__
from odbridge.dashboard import charts, queries
from odbridge.dashboard.auth import (
    AuthMiddleware,
    LoginHandlers,
    csrf_token,
    current_user,
    require_admin,
)
from odbridge.dashboard.cache import AggregateCache
from odbridge.dashboard.security import (
    CSRF_FIELD,
    LoginThrottle,
    SecurityHeaders,
    SessionCodec,
    log,
)
from odbridge.store import audit

try:
    from starlette.middleware.body_limit import RequestBodyLimitMiddleware
except ImportError:  # pragma: no cover - Starlette before 1.0
    RequestBodyLimitMiddleware = None  # type: ignore[assignment,misc]

DEFAULT_IDLE_TIMEOUT = timedelta(minutes=30)
MAX_BODY = 64 * 1024
HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
ALL = "(all)"
"""What the audit log's ``practice`` says for a page over every practice."""


def plotly_js_path() -> Path:
    """plotly.min.js as shipped in the plotly wheel."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


_JS_STRING = r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
_CSS_RULE = re.compile(rf"({_JS_STRING})\s*:\s*({_JS_STRING})")
_ESSENTIAL_PLOTLY_CSS = """
.js-plotly-plot .plotly, .js-plotly-plot .plotly div { direction: ltr; margin: 0; padding: 0; }
.js-plotly-plot .plotly .main-svg { position: absolute; top: 0; left: 0; pointer-events: none; }
.js-plotly-plot .plotly .main-svg .draglayer { pointer-events: all; }
.js-plotly-plot .plotly .user-select-none { user-select: none; }
.js-plotly-plot .plotly .crisp { shape-rendering: crispEdges; }
.js-plotly-plot .plotly .cursor-crosshair { cursor: crosshair; }
.js-plotly-plot .plotly .cursor-pointer { cursor: pointer; }
"""


_GUARDED_STYLE = re.compile(
    r'if\(!document\.getElementById\("([\w-]{8,80})"\)\)\{'
    r'var \w+=document\.createElement\("style"\)'
)


def plotly_guarded_styles(source: str) -> list[str]:
    """Ids of the ``<style>`` blocks plotly.js adds at load unless an element with that id
    exists (MapLibre's CSS, for map traces the dashboard does not draw). The page carries
    empty placeholders with these ids, so nothing inline is attempted (and refused by CSP)."""
    return list(dict.fromkeys(_GUARDED_STYLE.findall(source)))


def plotly_css(source: str) -> str:
    """The style rules plotly.js would insert into the page itself, as a style sheet.

    plotly.js adds them with an inline ``<style>`` element, which the Content-Security-Policy
    forbids; given an element ``#plotly.js-style-global.no-inline-styles`` it skips that, and
    the page links this sheet instead. The rules are read from the installed plotly.min.js
    (its ``"X,X div": ...`` table, X standing for ``.js-plotly-plot .plotly``), so they match
    its version; the essentials are used if that table cannot be found.
    """
    start = source.find('"X,X div":')
    end = source.find("}", start)
    if start < 0 or end < 0:
        return _ESSENTIAL_PLOTLY_CSS
    rules = []
    for key, value in _CSS_RULE.findall(source[start:end]):
        selector = key[1:-1].replace("X", ".js-plotly-plot .plotly")
        selector = re.sub(r"^,", " ,", selector.replace("Y", ".plotly-notifier"))
        rules.append(f"{selector} {{{value[1:-1]}}}")
    return "\n".join(rules) + "\n" if len(rules) > 10 else _ESSENTIAL_PLOTLY_CSS


# -- template helpers ----------------------------------------------------------------------
def _num(value: Any) -> str:
    return f"{int(value or 0):,}"


def _money(value: Any) -> str:
    if value is None:
        return ""
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _pct(part: Any, whole: Any) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC).replace(tzinfo=None) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v is not None and v != "" and v is not False}
    return path + ("?" + urlencode(kept) if kept else "")


def _ssn(value: str | None) -> str:
    """Only the last four digits: the full number is in the store but not shown."""
    if not value:
        return ""
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "****"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, money=_money, when=_when, ago=_ago, ssn=_ssn)
    env.globals.update(
        url=_url,
        pct=_pct,
        csrf_field=CSRF_FIELD,
        version=__version__,
        quality_checks=queries.QUALITY_CHECKS,
        statuses=queries.PAT_STATUSES,
        sort_keys=queries.SORT_KEYS,
    )
    return env


def _int(value: str | None, *, low: int = 0, high: int = 10**12) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 13:
        return None
    number = int(value.strip())
    return number if low <= number <= high else None


# -- the app -------------------------------------------------------------------------------
class Dashboard:
    """The pages, bound to one store."""

    def __init__(
        self,
        engine: Engine,
        *,
        secret: bytes,
        idle_timeout: timedelta,
        secure_cookies: bool,
        sync_every: timedelta | None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.engine = engine
        self.secret = secret
        self.sync_every = sync_every
        self.today = today
        self.codec = SessionCodec(secret, idle_timeout=idle_timeout, secure=secure_cookies)
        self.throttle = LoginThrottle()
        self.cache = AggregateCache(lambda: queries.data_version(engine))
        self.env = _environment()
        self.login = LoginHandlers(engine, self.codec, self.throttle, secret, self.render)
        self._plotly_gzip: bytes | None = None
        self._plotly_css: str | None = None
        self._plotly_style_ids: list[str] = []
        self._plotly_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        values: dict[str, Any] = {
            "request": request,
            "user": request.state.user if "user" in request.scope.get("state", {}) else None,
            "csrf": csrf_token(request) if "session" in request.scope.get("state", {}) else "",
            "practices": [],
            "practice": None,
            "nav": "",
        }
        values.update(context or {})
        html = self.env.get_template(template).render(values)
        return HTMLResponse(html, status_code=status_code)

    def practices(self) -> list[str]:
        return self.cache.get(("practices",), lambda: queries.practices(self.engine)).value

    def practice(self, request: Request) -> str | None:
        """The practice chosen in the query (None: all); 404 for one not in the store."""
        names = self.practices()
        chosen = request.query_params.get("practice", "")
        if not chosen:
            return names[0] if len(names) == 1 else None
        if chosen not in names:
            raise HTTPException(status_code=404, detail="There is no such practice in the store.")
        return chosen

    def overview_data(self, practice: str | None) -> tuple[queries.Overview, bool]:
        today = self.today()
        cached = self.cache.get(
            ("overview", practice, today),
            lambda: queries.overview(
                self.engine, practice, today=today, sync_every=self.sync_every
            ),
        )
        return cached.value, cached.stale

    def audit_view(
        self,
        request: Request,
        what: str,
        *,
        rows: int | None,
        practice: str | None,
        detail: str | None = None,
    ) -> None:
        audit.record(
            self.engine,
            username=current_user(request).username,
            action="view",
            what=what,
            rows=rows,
            practice=practice if practice is not None else ALL,
            detail=detail,
        )

    def base(self, request: Request, nav: str, practice: str | None) -> dict[str, Any]:
        return {"nav": nav, "practice": practice, "practices": self.practices()}

    # -- pages -----------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        practice = self.practice(request)
        ov, stale = self.overview_data(practice)
        self.audit_view(request, "overview", rows=len(ov.birthdays), practice=practice)
        context = self.base(request, "overview", practice)
        context.update(
            ov=ov,
            stale=stale,
            figures=charts.overview_figures(ov),
            plotly_style_ids=self._plotly_source_facts()[1],
            balances=ov.balances(),
            completeness=ov.completeness(),
            sync_every=self.sync_every,
            now=datetime.now(UTC).replace(tzinfo=None),
        )
        return self.render(request, "overview.html", context)

    def patients(self, request: Request) -> Response:
        practice = self.practice(request)
        params = request.query_params
        sort = params.get("sort", "name")
        status = params.get("status") or None
        f = queries.PatientFilter(
            practice=practice,
            search=params.get("q", "")[:100],
            status=status[:40] if status else None,
            clinic=_int(params.get("clinic")),
            provider=_int(params.get("provider")),
            include_missing=params.get("missing") == "1",
            sort=sort if sort in queries.SORT_KEYS else "name",
            descending=params.get("dir") == "desc",
            page=_int(params.get("page"), low=1, high=1_000_000) or 1,
            per_page=_int(params.get("per")) or 50,
        )
        ov, _ = self.overview_data(practice)
        known = None
        if not f.search.strip() and not f.include_missing:
            known = ov.count(f.status, f.clinic, f.provider)
        result = queries.search_patients(self.engine, f, known_total=known)
        self.audit_view(
            request, "patients", rows=len(result.rows), practice=practice, detail=f.audit_detail()
        )
        context = self.base(request, "patients", practice)
        context.update(
            f=f,
            result=result,
            clinics=ov.clinics(),
            providers=ov.providers(),
            per_page_choices=queries.PER_PAGE_CHOICES,
        )
        return self.render(request, "patients.html", context)

    def patient(self, request: Request) -> Response:
        pat_num = _int(str(request.path_params["pat_num"]))
        practice = self.practice(request)
        if practice is None or pat_num is None:
            raise HTTPException(status_code=404, detail="No such patient in the store.")
        detail = queries.patient_detail(self.engine, practice, pat_num)
        if detail is None:
            raise HTTPException(status_code=404, detail="No such patient in the store.")
        self.audit_view(
            request,
            "patient",
            rows=1 + len(detail.family),
            practice=practice,
            detail=f"pat_num={pat_num}",
        )
        context = self.base(request, "patients", practice)
        context.update(p=detail.row, family=detail.family, fields=queries.PATIENT_FIELDS)
        return self.render(request, "patient.html", context)

    def quality(self, request: Request) -> Response:
        practice = self.practice(request)
        params = request.query_params
        which: queries.QualityScope = "all" if params.get("scope") == "all" else "active"
        cached = self.cache.get(
            ("quality", practice, which, self.today()),
            lambda: queries.quality_keys(self.engine, practice, which),
        )
        check = params.get("check", "")
        if check not in queries.QUALITY_CHECKS:  # the first check with something to fix
            check = next((c for c in queries.QUALITY_CHECKS if cached.value[c]), "duplicates")
        keys = cached.value[check]
        per_page = 50
        pages = max(1, -(-len(keys) // per_page))
        page = min(_int(params.get("page"), low=1, high=1_000_000) or 1, pages)
        rows = queries.rows_for(self.engine, keys[(page - 1) * per_page : page * per_page])
        self.audit_view(
            request,
            "quality",
            rows=len(rows),
            practice=practice,
            detail=f"check={check} scope={which} page={page}",
        )
        context = self.base(request, "quality", practice)
        context.update(
            check=check,
            which=which,
            counts={name: len(found) for name, found in cached.value.items()},
            rows=rows,
            total=len(keys),
            page=page,
            pages=pages,
            stale=cached.stale,
        )
        return self.render(request, "quality.html", context)

    def audit_page(self, request: Request) -> Response:
        require_admin(request)
        per_page = 100
        page = _int(request.query_params.get("page"), low=1, high=1_000_000) or 1
        found = audit.entries(self.engine, limit=per_page + 1, offset=(page - 1) * per_page)
        audit.record(
            self.engine,
            username=current_user(request).username,
            action="view",
            what="audit",
            detail=f"page={page}",
        )
        context = self.base(request, "audit", None)
        context.update(entries=found[:per_page], page=page, more=len(found) > per_page)
        return self.render(request, "audit.html", context)

    def plotly_js(self, request: Request) -> Response:
        """plotly.min.js from the plotly wheel, gzipped once in memory when the client can."""
        path = plotly_js_path()
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            with self._plotly_lock:
                if self._plotly_gzip is None:
                    self._plotly_gzip = gzip.compress(path.read_bytes(), compresslevel=6)
            headers["Content-Encoding"] = "gzip"
            return Response(self._plotly_gzip, media_type="text/javascript", headers=headers)
        return Response(path.read_bytes(), media_type="text/javascript", headers=headers)

    def _plotly_source_facts(self) -> tuple[str, list[str]]:
        with self._plotly_lock:
            if self._plotly_css is None:
                source = plotly_js_path().read_text(encoding="utf-8")
                self._plotly_css = plotly_css(source)
                self._plotly_style_ids = plotly_guarded_styles(source)
            return self._plotly_css, self._plotly_style_ids

    def plotly_stylesheet(self, request: Request) -> Response:
        """plotly.js's own style rules as a sheet (see :func:`plotly_css`)."""
        return Response(self._plotly_source_facts()[0], media_type="text/css")

    # -- errors ----------------------------------------------------------------------------
    async def http_error(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
            raise exc
        message = {
            403: "You do not have access to this page.",
            404: "There is nothing here.",
            405: "That is not allowed here.",
        }.get(exc.status_code, "The request could not be served.")
        if exc.detail and exc.status_code in (403, 404):
            message = str(exc.detail)
        return self.render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            status_code=exc.status_code,
        )

    async def server_error(self, request: Request, exc: Exception) -> Response:
        log.error("dashboard error on %s: %s", request.url.path, type(exc).__name__)
        return HTMLResponse(
            "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
            "<p>The error was logged. Try again, or go back to the <a href='/'>overview</a>.</p>",
            status_code=500,
        )

    # -- background --------------------------------------------------------------------------
    def warm(self) -> None:
        """Compute the overview and data-quality figures of every practice in the background."""
        names = self.practices()
        today = self.today()
        scopes: list[str | None] = [*names] if len(names) == 1 else [None, *names]
        for practice in scopes:
            self.cache.warm(
                ("overview", practice, today),
                lambda p=practice: queries.overview(  # type: ignore[misc]
                    self.engine, p, today=today, sync_every=self.sync_every
                ),
            )
        for practice in scopes:
            self.cache.warm(
                ("quality", practice, "active", today),
                lambda p=practice: queries.quality_keys(self.engine, p, "active"),  # type: ignore[misc]
            )


def create_app(
    engine: Engine,
    *,
    secret_key: bytes | None = None,
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
    secure_cookies: bool = False,
    sync_every: timedelta | None = None,
    warm: bool = True,
) -> Starlette:
    """The dashboard as an ASGI app over the store behind ``engine``.

    - ``secret_key``: signs session cookies (32+ random bytes). None: a new key per process,
      so sessions end when the server restarts.
    - ``idle_timeout``: a session unused this long ends.
    - ``secure_cookies``: mark cookies Secure and send HSTS (serving over TLS).
    - ``sync_every``: the sync schedule, if known, to show when the next sync is due.
    - ``warm``: compute the overview figures in the background at startup.
    """
    if secret_key is not None and len(secret_key) < 16:
        raise ValueError("secret_key needs at least 16 bytes; use secrets.token_bytes(32).")
    secret = secret_key or secrets.token_bytes(32)
    dash = Dashboard(
        engine,
        secret=secret,
        idle_timeout=idle_timeout,
        secure_cookies=secure_cookies,
        sync_every=sync_every,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm:
            try:
                dash.warm()
            except Exception:  # an unreachable store shows on the first page instead
                log.exception("could not start computing the dashboard figures")
        yield
        dash.cache.close()

    routes = [
        Route("/", dash.overview, name="overview"),
        Route("/login", dash.login.login_form, methods=["GET"], name="login"),
        Route("/login", dash.login.login, methods=["POST"]),
        Route("/logout", dash.login.logout, methods=["POST"], name="logout"),
        Route("/patients", dash.patients, name="patients"),
        Route("/patients/{pat_num}", dash.patient, name="patient"),
        Route("/quality", dash.quality, name="quality"),
        Route("/audit", dash.audit_page, name="audit"),
        Route("/static/vendor/plotly.min.js", dash.plotly_js, name="plotly"),
        Route("/static/vendor/plotly.css", dash.plotly_stylesheet, name="plotly_css"),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders, hsts=secure_cookies),
        Middleware(AuthMiddleware, engine=engine, codec=dash.codec, secret=secret),
    ]
    if RequestBodyLimitMiddleware is not None:  # Starlette 1.x: no form is larger than 64 KiB
        middleware.insert(1, Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: dash.http_error, Exception: dash.server_error},
        lifespan=lifespan,
    )
    app.state.dashboard = dash
    return app
