"""SQL views for reporting tools (Metabase, Power BI, a spreadsheet's database link).

:func:`create_views` makes them, on SQLite and PostgreSQL alike, and can run any number of
times (it replaces them with the current definitions). They read the tables and hold no data
of their own:

- ``v_patients``: one row per patient still returned by the source (not marked missing),
  with readable column names, the age in whole years, no SSN and no contact details.
- ``v_patient_contacts``: the same patients' address, phones, email and contact preferences.
- ``v_patient_counts``: patients per practice and status.
- ``v_sync_runs``: the sync run log with each run's duration in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class View:
    """A view: its name, what it shows, and its SELECT for a dialect (``sqlite``/``postgresql``)."""

    name: str
    description: str
    select: Callable[[str], str]


def _age(dialect: str) -> str:
    if dialect == "postgresql":
        return "CAST(EXTRACT(YEAR FROM age(CURRENT_DATE, birthdate)) AS INTEGER)"
    return (
        "CASE WHEN birthdate IS NULL THEN NULL ELSE "
        "CAST(strftime('%Y', 'now', 'localtime') AS INTEGER) "
        "- CAST(strftime('%Y', birthdate) AS INTEGER) "
        "- (strftime('%m-%d', 'now', 'localtime') < strftime('%m-%d', birthdate)) END"
    )


def _duration(dialect: str) -> str:
    if dialect == "postgresql":
        return "CAST(EXTRACT(EPOCH FROM (finished_at - started_at)) AS INTEGER)"
    return "CAST(ROUND((julianday(finished_at) - julianday(started_at)) * 86400) AS INTEGER)"


def _patients(dialect: str) -> str:
    return f"""
SELECT
    practice,
    pat_num AS patient_number,
    lname AS last_name,
    fname AS first_name,
    middle_i AS middle_initial,
    preferred AS preferred_name,
    pat_status AS status,
    gender,
    position AS marital_status,
    birthdate AS birth_date,
    {_age(dialect)} AS age_years,
    city,
    state,
    zip,
    guarantor AS guarantor_number,
    CASE WHEN guarantor = pat_num THEN 1 ELSE 0 END AS is_guarantor,
    pri_prov_abbr AS primary_provider,
    sec_prov_abbr AS secondary_provider,
    clinic_abbr AS clinic,
    billing_type,
    fee_sched AS fee_schedule,
    est_balance AS estimated_balance,
    bal_total AS family_balance,
    date_first_visit AS first_visit,
    sec_date_entry AS entered_on,
    language,
    premed AS premedication,
    txt_msg_ok AS text_messages_ok,
    date_tstamp AS changed_at_practice,
    last_synced_at AS changed_in_store_utc
FROM patients
WHERE missing_since IS NULL
"""  # noqa: S608  # nosec B608  # fixed text; only the dialect's expression is put in


def _contacts(_dialect: str) -> str:
    return """
SELECT
    practice,
    pat_num AS patient_number,
    lname AS last_name,
    fname AS first_name,
    preferred AS preferred_name,
    address AS address_line1,
    address2 AS address_line2,
    city,
    state,
    zip,
    hm_phone AS home_phone,
    wk_phone AS work_phone,
    wireless_phone AS mobile_phone,
    email,
    prefer_contact_method AS preferred_contact,
    prefer_confirm_method AS preferred_confirmation,
    prefer_recall_method AS preferred_recall,
    txt_msg_ok AS text_messages_ok
FROM patients
WHERE missing_since IS NULL
"""


def _counts(_dialect: str) -> str:
    return """
SELECT practice, pat_status AS status, COUNT(*) AS patients
FROM patients
WHERE missing_since IS NULL
GROUP BY practice, pat_status
"""


def _runs(dialect: str) -> str:
    return f"""
SELECT
    id AS run_id,
    practice,
    resource,
    mode,
    outcome,
    started_at AS started_at_utc,
    finished_at AS finished_at_utc,
    {_duration(dialect)} AS duration_seconds,
    pages,
    rows_received,
    rows_inserted,
    rows_updated,
    rows_missing,
    requests,
    throttled,
    retries,
    error
FROM sync_runs
"""  # noqa: S608  # nosec B608  # fixed text; only the dialect's expression is put in


VIEWS: tuple[View, ...] = (
    View("v_patients", "patients not marked missing, readable names, age", _patients),
    View("v_patient_contacts", "their address, phones, email and preferences", _contacts),
    View("v_patient_counts", "patients per practice and status", _counts),
    View("v_sync_runs", "the sync run log with durations", _runs),
)


def create_views(engine: Engine) -> list[str]:
    """Create or replace every view; returns their names. Safe to run again at any time."""
    dialect = engine.dialect.name
    with engine.begin() as connection:
        for view in VIEWS:
            _create(connection, view, dialect)
    return [view.name for view in VIEWS]


def _create(connection: Connection, view: View, dialect: str) -> None:
    body = view.select(dialect)
    if dialect == "postgresql":
        try:
            with connection.begin_nested():
                connection.execute(text(f"CREATE OR REPLACE VIEW {view.name} AS {body}"))
            return
        except DBAPIError:  # the columns changed: replace the view outright
            pass
    connection.execute(text(f"DROP VIEW IF EXISTS {view.name}"))
    connection.execute(text(f"CREATE VIEW {view.name} AS {body}"))


def drop_views(engine: Engine) -> None:
    """Remove the views (the tables are untouched)."""
    with engine.begin() as connection:
        for view in reversed(VIEWS):
            connection.execute(text(f"DROP VIEW IF EXISTS {view.name}"))
