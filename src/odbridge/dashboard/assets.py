"""Static assets: the dashboard's own files, and plotly.js served from the plotly wheel with
its style rules as a separate sheet (the Content-Security-Policy forbids inline styles)."""

from __future__ import annotations

import gzip
import re
import threading
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


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


class Assets:
    """plotly.js and its sheet, read from the wheel once and kept in memory."""

    def __init__(self) -> None:
        self._gzip: bytes | None = None
        self._css: str | None = None
        self._style_ids: list[str] = []
        self._lock = threading.Lock()

    def plotly_js(self, request: Request) -> Response:
        """plotly.min.js, gzipped once in memory when the client accepts it."""
        path = plotly_js_path()
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            with self._lock:
                if self._gzip is None:
                    self._gzip = gzip.compress(path.read_bytes(), compresslevel=6)
            headers["Content-Encoding"] = "gzip"
            return Response(self._gzip, media_type="text/javascript", headers=headers)
        return Response(path.read_bytes(), media_type="text/javascript", headers=headers)

    def _source_facts(self) -> tuple[str, list[str]]:
        with self._lock:
            if self._css is None:
                source = plotly_js_path().read_text(encoding="utf-8")
                self._css = plotly_css(source)
                self._style_ids = plotly_guarded_styles(source)
            return self._css, self._style_ids

    def plotly_style_ids(self) -> list[str]:
        """See :func:`plotly_guarded_styles`: the overview page carries these placeholders."""
        return self._source_facts()[1]

    def plotly_stylesheet(self, request: Request) -> Response:
        """plotly.js's own style rules as a sheet (see :func:`plotly_css`)."""
        return Response(self._source_facts()[0], media_type="text/css")

    def routes(self) -> list[BaseRoute]:
        """The asset routes (public: no login needed under ``/static/``)."""
        return [
            Route("/static/vendor/plotly.min.js", self.plotly_js, name="plotly"),
            Route("/static/vendor/plotly.css", self.plotly_stylesheet, name="plotly_css"),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ]
