"""The Open Dental API client: ``Client``, its models and its errors."""

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
    ChangedPage,
    ContactMethod,
    Gender,
    Patient,
    PatientSummary,
    PatStatus,
    Position,
    UnknownEnumValueWarning,
    YesNoUnknown,
)
from odbridge.api.paging import PageInfo
from odbridge.api.retry import RetryPolicy

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ChangedPage",
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
    "PageInfo",
    "PatStatus",
    "Patient",
    "PatientSummary",
    "Position",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "UnknownEnumValueWarning",
    "YesNoUnknown",
]
