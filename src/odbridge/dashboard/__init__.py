"""The practice dashboard: a local web view over the store (never the Open Dental API).

from odbridge.dashboard import create_app, serve, add_user
"""

from typing import TYPE_CHECKING

from odbridge._lazy import lazy_exports

if TYPE_CHECKING:
    from odbridge.dashboard.app import create_app
    from odbridge.dashboard.server import DashboardServer, serve
    from odbridge.store.users import UserError, add_user, list_users, set_password

__all__ = [
    "DashboardServer",
    "UserError",
    "add_user",
    "create_app",
    "list_users",
    "serve",
    "set_password",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "odbridge.dashboard.app": ("create_app",),
        "odbridge.dashboard.server": (
            "DashboardServer",
            "serve",
        ),
        "odbridge.store.users": (
            "UserError",
            "add_user",
            "list_users",
            "set_password",
        ),
    },
)
