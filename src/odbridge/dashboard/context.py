"""What every page shares: the store, the figures cache, the practices the user may see,
the audit entry a page writes, and :class:`Page`, what a page handler returns.

A handler is ``handler(dash, request) -> Page``; the app renders the page's template, or
serves ``Page.data`` as JSON at the page's path + ``.json`` (same login, same audit entry:
the handler writes it either way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.requests import Request

from odbridge.dashboard import queries
from odbridge.dashboard.assets import Assets
from odbridge.dashboard.auth import current_user
from odbridge.dashboard.cache import AggregateCache
from odbridge.store import audit

ALL = "(all)"
"""What the audit log's ``practice`` says for a page over every practice."""


@dataclass(frozen=True)
class Scope:
    """The practices a page covers for this user.

    ``chosen``: the practice picked in the query string (None: all the user may see);
    ``visible``: every practice the user may see (the practice menu); ``query``: what the
    queries get (a name, a tuple of names, or None when the user may see everything).
    """

    chosen: str | None
    visible: list[str]
    query: queries.Practices

    @property
    def label(self) -> str:
        """The audit log's ``practice``: the name, the names, or "(all)"."""
        if self.chosen is not None:
            return self.chosen
        return ALL if self.query is None else (queries.practice_label(self.query) or "")

    @property
    def key(self) -> str | tuple[str, ...] | None:
        """A hashable form of ``query``, for cache keys."""
        q = self.query
        return q if q is None or isinstance(q, str) else tuple(sorted(q))


@dataclass
class Page:
    """What a page handler returns: a template and its context, and the JSON twin's data."""

    template: str
    nav: str
    context: dict[str, Any]
    data: Any
    scope: Scope | None = None
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["Dashboard", Request], Page]


@dataclass(frozen=True)
class PageRoute:
    """A page at ``path`` (and its JSON twin at ``json_path``)."""

    path: str
    handler: Handler
    name: str

    @property
    def json_path(self) -> str:
        """``path`` + ``.json`` (``/index.json`` for ``/``)."""
        return "/index.json" if self.path == "/" else self.path + ".json"


class Dashboard:
    """The pages' shared state, bound to one store."""

    def __init__(
        self,
        engine: Engine,
        *,
        sync_every: timedelta | None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.engine = engine
        self.sync_every = sync_every
        self.today = today
        self.cache = AggregateCache(lambda: queries.data_version(engine))
        self.assets = Assets()

    def all_practices(self) -> list[str]:
        """Every practice in the store (cached with the figures)."""
        return self.cache.get(("practices",), lambda: queries.practices(self.engine)).value

    def scope(self, request: Request) -> Scope:
        """The practices this page covers; 404 for a chosen practice the user may not see
        (or that is not in the store)."""
        user = current_user(request)
        visible = [p for p in self.all_practices() if user.may_see(p)]
        chosen = request.query_params.get("practice", "")
        if not chosen:
            if len(visible) == 1:
                return Scope(visible[0], visible, visible[0])
            query = None if user.practices is None else tuple(visible)
            return Scope(None, visible, query)
        if chosen not in visible:
            if not user.may_see(chosen):  # another practice's data: an authorisation failure
                self.deny(request, request.url.path, "practice not granted to this user")
            raise HTTPException(status_code=404, detail="There is no such practice in the store.")
        return Scope(chosen, visible, chosen)

    def deny(self, request: Request, what: str, why: str) -> None:
        """Record an authorisation failure (the user, the page, why; never a query)."""
        audit.record(
            self.engine,
            username=current_user(request).username,
            action="denied",
            what=what[:255],
            detail=why,
        )

    def require_admin(self, request: Request, what: str) -> None:
        """403 (recorded in the audit log) unless the user is an admin."""
        if not current_user(request).is_admin:
            self.deny(request, what, "administrators only")
            raise HTTPException(status_code=403, detail="This page is for administrators.")

    def overview_data(self, scope: Scope) -> tuple[queries.Overview, bool]:
        """The overview's figures for the scope (cached) and whether they may be behind."""
        today = self.today()
        cached = self.cache.get(
            ("overview", scope.key, today),
            lambda: queries.overview(
                self.engine, scope.query, today=today, sync_every=self.sync_every
            ),
        )
        return cached.value, cached.stale

    def audit_view(
        self,
        request: Request,
        what: str,
        *,
        rows: int | None,
        scope: Scope | None,
        detail: str | None = None,
        pat_nums: Iterable[audit.PatientKey] = (),
    ) -> None:
        """The audit entry of a page view: page name, rows, filter names (never a search
        text), and the patients shown as (practice, PatNum). Raises when it cannot be
        written, so the page is not shown."""
        audit.record(
            self.engine,
            username=current_user(request).username,
            action="view",
            what=what,
            rows=rows,
            practice=scope.label if scope is not None else None,
            detail=detail,
            pat_nums=pat_nums,
        )

    def warm(self) -> None:
        """Compute the overview and data-quality figures of every practice in the background."""
        names = self.all_practices()
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
