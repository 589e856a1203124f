"""SQL views for reporting tools (Metabase, Power BI, a spreadsheet's database link).

:func:`create_views` makes them, on SQLite and PostgreSQL alike, and can run any number of
times (it replaces them with the current definitions). They read the tables and hold no data
of their own:

- ``v_patients``: one row per patient still returned by the source (not marked missing),
  with readable column names, the age in whole years, no SSN and no contact details.
- ``v_patient_contacts``: the same patients' address, phones, email and contact preferences.
- ``v_patient_counts``: patients per practice and status.
- ``v_sync_runs``: the sync run log with each run's duration in seconds.
- ``v_appointments``: appointments (times in the practice's local time) with operatory and
  appointment type names.
- ``v_production``: gross production (ProcFee × (UnitQty + BaseUnits) of Complete procedures)
  per practice, month (``YYYY-MM`` of ProcDate) and provider.
- ``v_recall``: recalls with their type, due/previous/scheduled dates and the patient's status.
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


def _month(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"to_char({column}, 'YYYY-MM')"
    return f"strftime('%Y-%m', {column})"


def _appointments(_dialect: str) -> str:
    return """
SELECT
    a.practice,
    a.apt_num AS appointment_number,
    a.pat_num AS patient_number,
    a.apt_date_time AS starts_at_local,
    a.apt_status AS status,
    a.confirmed_name AS confirmation,
    a.prov_num AS provider_number,
    a.prov_abbr AS provider,
    a.prov_hyg AS hygienist_number,
    a.op AS operatory_number,
    o.op_name AS operatory,
    a.clinic_num AS clinic_number,
    a.is_hygiene,
    a.is_new_patient,
    a.proc_descript AS procedures,
    a.appointment_type_num AS appointment_type_number,
    t.appointment_type_name AS appointment_type,
    a.date_tstamp AS changed_at_practice
FROM appointments a
LEFT JOIN operatories o ON o.practice = a.practice AND o.operatory_num = a.op
LEFT JOIN appointment_types t
    ON t.practice = a.practice AND t.appointment_type_num = a.appointment_type_num
WHERE a.missing_since IS NULL
"""


def _production(dialect: str) -> str:
    return f"""
SELECT
    practice,
    {_month(dialect, "proc_date")} AS month,
    prov_num AS provider_number,
    MAX(prov_abbr) AS provider,
    COUNT(*) AS procedures,
    SUM(proc_fee * (COALESCE(unit_qty, 0) + COALESCE(base_units, 0))) AS production
FROM procedure_logs
WHERE missing_since IS NULL AND proc_status = 'C' AND proc_date IS NOT NULL
GROUP BY practice, {_month(dialect, "proc_date")}, prov_num
"""  # noqa: S608  # nosec B608  # fixed text; only the dialect's expression is put in


def _recall(_dialect: str) -> str:
    return """
SELECT
    r.practice,
    r.recall_num AS recall_number,
    r.pat_num AS patient_number,
    t.description AS recall_type,
    r.date_due AS due_on,
    r.date_previous AS previous_on,
    r.date_scheduled AS scheduled_on,
    r.recall_interval AS recall_interval,
    r.recall_status_name AS recall_status,
    r.is_disabled,
    r.disable_until_date AS disabled_until,
    p.pat_status AS patient_status,
    CASE WHEN r.date_scheduled IS NULL THEN 0 ELSE 1 END AS is_scheduled
FROM recalls r
LEFT JOIN recall_types t ON t.practice = r.practice AND t.recall_type_num = r.recall_type_num
LEFT JOIN patients p ON p.practice = r.practice AND p.pat_num = r.pat_num
WHERE r.missing_since IS NULL
"""


VIEWS: tuple[View, ...] = (
    View("v_patients", "patients not marked missing, readable names, age", _patients),
    View("v_patient_contacts", "their address, phones, email and preferences", _contacts),
    View("v_patient_counts", "patients per practice and status", _counts),
    View("v_sync_runs", "the sync run log with durations", _runs),
    View("v_appointments", "appointments (local times) with operatory and type", _appointments),
    View(
        "v_production", "gross production per month and provider (Complete procedures)", _production
    ),
    View("v_recall", "recalls with type, due, scheduled, and the patient's status", _recall),
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
