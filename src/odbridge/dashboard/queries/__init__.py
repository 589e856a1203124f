"""What the dashboard asks the store, in SQLAlchemy Core, the same on SQLite and PostgreSQL:
one module per page, sharing :mod:`~odbridge.dashboard.queries.sql`.

Every query takes the practices it may cover (``Practices``: one name, several, or None for
all): callers pass what the user may see. The names below are the package's public surface
(the dashboard's pages and the MCP tools use them).
"""

from odbridge.dashboard.queries.birthdays import (
    OLDEST_AGE,
    Birthday,
    birthdates_in,
    birthday_in,
    week_birthdays,
    week_of,
)
from odbridge.dashboard.queries.freshness import Freshness, data_version, freshness, practices
from odbridge.dashboard.queries.overview import (
    AGE_BANDS,
    CONTACT_LABELS,
    CONTACT_METHODS,
    NEW_PATIENT_MONTHS,
    PAT_STATUSES,
    Group,
    Overview,
    overview,
)
from odbridge.dashboard.queries.patients import (
    LIST_COLUMNS,
    PATIENT_FIELDS,
    PER_PAGE_CHOICES,
    SORT_KEYS,
    PatientDetail,
    PatientFilter,
    PatientPage,
    patient_detail,
    search_kind,
    search_patients,
)
from odbridge.dashboard.queries.quality import (
    QUALITY_CHECKS,
    QUALITY_COLUMNS,
    Key,
    QualityScope,
    quality_keys,
    rows_for,
)
from odbridge.dashboard.queries.sql import (
    ACTIVE_STATUS,
    PHONE_SEPARATORS,
    Practices,
    age_on,
    practice_label,
    years_before,
)

__all__ = [
    "ACTIVE_STATUS",
    "AGE_BANDS",
    "CONTACT_LABELS",
    "CONTACT_METHODS",
    "LIST_COLUMNS",
    "NEW_PATIENT_MONTHS",
    "OLDEST_AGE",
    "PATIENT_FIELDS",
    "PAT_STATUSES",
    "PER_PAGE_CHOICES",
    "PHONE_SEPARATORS",
    "QUALITY_CHECKS",
    "QUALITY_COLUMNS",
    "SORT_KEYS",
    "Birthday",
    "Freshness",
    "Group",
    "Key",
    "Overview",
    "PatientDetail",
    "PatientFilter",
    "PatientPage",
    "Practices",
    "QualityScope",
    "age_on",
    "birthdates_in",
    "birthday_in",
    "data_version",
    "freshness",
    "overview",
    "patient_detail",
    "practice_label",
    "practices",
    "quality_keys",
    "rows_for",
    "search_kind",
    "search_patients",
    "week_birthdays",
    "week_of",
    "years_before",
]
