"""odbridge: read patient data out of Open Dental's REST API, keep it in sync, and use it.

The library's public surface::

    from odbridge import Client

    with Client(developer_key, customer_key, tier="full") as client:
        for patient in client.patients.list():   # every patient; pages fetched lazily
            ...
        changes = client.patients.list(changed_since=cursor)   # a Page: .items, .pages()
"""

from typing import TYPE_CHECKING

from odbridge._lazy import lazy_exports
from odbridge._version import __version__

if TYPE_CHECKING:
    from odbridge.api.client import Client
    from odbridge.api.errors import (
        AuthenticationError,
        BadRequestError,
        ConnectionFailedError,
        EConnectorError,
        NotFoundError,
        OpenDentalError,
        RateLimitError,
        RequestTimeoutError,
        ResponseFormatError,
        ServerError,
    )
    from odbridge.api.models import Patient, PatientSummary, PatStatus
    from odbridge.api.paging import Page
    from odbridge.api.retry import RetryPolicy
    from odbridge.config import ConfigError, PracticeProfile
    from odbridge.errors import OdbridgeError

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConfigError",
    "ConnectionFailedError",
    "EConnectorError",
    "NotFoundError",
    "OdbridgeError",
    "OpenDentalError",
    "Page",
    "PatStatus",
    "Patient",
    "PatientSummary",
    "PracticeProfile",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "__version__",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "odbridge.api.client": ("Client",),
        "odbridge.api.errors": (
            "AuthenticationError",
            "BadRequestError",
            "ConnectionFailedError",
            "EConnectorError",
            "NotFoundError",
            "OpenDentalError",
            "RateLimitError",
            "RequestTimeoutError",
            "ResponseFormatError",
            "ServerError",
        ),
        "odbridge.api.models": (
            "Patient",
            "PatientSummary",
            "PatStatus",
        ),
        "odbridge.api.paging": ("Page",),
        "odbridge.api.retry": ("RetryPolicy",),
        "odbridge.config": (
            "ConfigError",
            "PracticeProfile",
        ),
        "odbridge.errors": ("OdbridgeError",),
    },
)
