"""The Open Dental API client: ``Client``, its models and its errors."""

from typing import TYPE_CHECKING

from odbridge._lazy import lazy_exports

if TYPE_CHECKING:
    from odbridge.api.client import Client, ClientStats
    from odbridge.api.errors import (
        AuthenticationError,
        BadRequestError,
        ConnectionFailedError,
        EConnectorError,
        GoneError,
        MethodNotAllowedError,
        NotFoundError,
        OpenDentalError,
        RateLimitError,
        RequestTimeoutError,
        ResponseFormatError,
        ServerError,
    )
    from odbridge.api.models import (
        ContactMethod,
        Gender,
        Patient,
        PatientSummary,
        PatStatus,
        Position,
        UnknownEnumValueWarning,
        YesNoUnknown,
    )
    from odbridge.api.paging import Page, RejectedRow
    from odbridge.api.retry import RetryPolicy

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ClientStats",
    "ConnectionFailedError",
    "ContactMethod",
    "EConnectorError",
    "Gender",
    "GoneError",
    "MethodNotAllowedError",
    "NotFoundError",
    "OpenDentalError",
    "Page",
    "PatStatus",
    "Patient",
    "PatientSummary",
    "Position",
    "RateLimitError",
    "RejectedRow",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "UnknownEnumValueWarning",
    "YesNoUnknown",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "odbridge.api.client": (
            "Client",
            "ClientStats",
        ),
        "odbridge.api.errors": (
            "AuthenticationError",
            "BadRequestError",
            "ConnectionFailedError",
            "EConnectorError",
            "GoneError",
            "MethodNotAllowedError",
            "NotFoundError",
            "OpenDentalError",
            "RateLimitError",
            "RequestTimeoutError",
            "ResponseFormatError",
            "ServerError",
        ),
        "odbridge.api.models": (
            "ContactMethod",
            "Gender",
            "Patient",
            "PatientSummary",
            "PatStatus",
            "Position",
            "UnknownEnumValueWarning",
            "YesNoUnknown",
        ),
        "odbridge.api.paging": (
            "Page",
            "RejectedRow",
        ),
        "odbridge.api.retry": ("RetryPolicy",),
    },
)
