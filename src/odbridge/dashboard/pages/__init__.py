"""The dashboard's pages, one module per page (or pair of pages).

To add a page: write ``pages/<name>.py`` with a handler ``def page(dash, request) -> Page``
(read :mod:`odbridge.dashboard.context`) and ``ROUTES = [PageRoute("/path", page, "name")]``,
a template ``templates/<name>.html``, and add the module's ``ROUTES`` to ``PAGES`` below.
Each page is also served as JSON at its path + ``.json``, with the same login and audit.
"""

from odbridge.dashboard.context import PageRoute
from odbridge.dashboard.pages import audit, overview, patients, quality, visits

PAGES: tuple[PageRoute, ...] = (
    *overview.ROUTES,
    *visits.ROUTES,
    *patients.ROUTES,
    *quality.ROUTES,
    *audit.ROUTES,
)
"""Every page, in the order of the navigation."""

__all__ = ["PAGES"]
