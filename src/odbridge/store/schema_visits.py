"""The visit tables: appointments, procedures, recalls and the reference tables they point to.

Each holds the API's fields as typed columns (snake_case, the same names as the client's
models), keyed by (practice, Open Dental's number), plus the bookkeeping every synced table
has (``extra``, ``row_hash``, ``first_seen_at``, ``last_synced_at``, ``missing_since``,
``seen_pass``; see :mod:`odbridge.store.schema`). Only the indexes the dashboard's and the
sync's queries use are declared.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)

from odbridge.store.schema import metadata

__all__ = [
    "VISIT_TABLES",
    "appointment_types",
    "appointments",
    "clinics",
    "definitions",
    "deleted_appointments",
    "field_names",
    "operatories",
    "procedure_logs",
    "providers",
    "recall_types",
    "recalls",
]

_money = Numeric(12, 2)


def _bookkeeping() -> tuple[Column[object], ...]:
    return (
        Column(
            "extra", JSON, nullable=True, comment="fields the API sent that odbridge does not know"
        ),
        Column("row_hash", String(64), nullable=False, comment="digest of the record as received"),
        Column("first_seen_at", DateTime, nullable=False),
        Column(
            "last_synced_at", DateTime, nullable=False, comment="when the row last changed here"
        ),
        Column(
            "missing_since", DateTime, nullable=True, comment="gone from the source (or deleted)"
        ),
        Column("seen_pass", Integer, nullable=True, comment="the last full pass that returned it"),
    )


def _table(name: str, key: str, *columns: Column[object]) -> Table:
    return Table(
        name,
        metadata,
        Column("practice", String(100), primary_key=True),
        Column(key, BigInteger, primary_key=True, autoincrement=False),
        *columns,
        *_bookkeeping(),
    )


BOOKKEEPING = ("practice", "extra", "row_hash", "first_seen_at", "last_synced_at")
_NOT_FIELDS = {*BOOKKEEPING, "missing_since", "seen_pass"}


def field_names(table: Table) -> tuple[str, ...]:
    """The API's fields of a synced table, key first, in the API's order."""
    return tuple(c.name for c in table.columns if c.name not in _NOT_FIELDS)


appointments = _table(
    "appointments",
    "apt_num",
    Column("pat_num", BigInteger),
    Column("apt_status", String(40)),
    Column("pattern", String(255)),
    Column("confirmed", BigInteger),
    Column("confirmed_name", String(255)),
    Column("time_locked", Boolean),
    Column("op", BigInteger),
    Column("note", Text),
    Column("prov_num", BigInteger),
    Column("prov_abbr", String(100)),
    Column("prov_hyg", BigInteger),
    Column("apt_date_time", DateTime),
    Column("next_apt_num", BigInteger),
    Column("unsched_status", BigInteger),
    Column("unsched_status_name", String(255)),
    Column("is_new_patient", Boolean),
    Column("proc_descript", Text),
    Column("clinic_num", BigInteger),
    Column("is_hygiene", Boolean),
    Column("date_tstamp", DateTime),
    Column("date_time_arrived", DateTime),
    Column("date_time_seated", DateTime),
    Column("date_time_dismissed", DateTime),
    Column("ins_plan1", BigInteger),
    Column("ins_plan2", BigInteger),
    Column("date_time_asked_to_arrive", DateTime),
    Column("color_override", String(40)),
    Column("appointment_type_num", BigInteger),
    Column("sec_user_num_entry", BigInteger),
    Column("sec_date_t_entry", DateTime),
    Column("priority", String(40)),
    Column("pattern_secondary", String(255)),
    Column("item_order_planned", Integer),
)
# Covering indexes: each patient's last/next visit, and the schedule of a day and the visits
# per month, are read from the index alone (no table row per appointment).
Index(
    "ix_appointments_patient",
    appointments.c.practice,
    appointments.c.pat_num,
    appointments.c.apt_status,
    appointments.c.apt_date_time,
    appointments.c.missing_since,
)
Index(
    "ix_appointments_when",
    appointments.c.practice,
    appointments.c.apt_date_time,
    appointments.c.apt_status,
    appointments.c.missing_since,
    appointments.c.pat_num,
)

deleted_appointments = _table(
    "deleted_appointments",
    "hist_appt_num",
    Column("apt_num", BigInteger, nullable=False),
    Column("pat_num", BigInteger),
    Column("hist_date_tstamp", DateTime, comment="when it was deleted, server local time"),
    Column("apt_status", String(40)),
    Column("apt_date_time", DateTime),
)
"""histappointments rows with HistApptAction=Deleted: the appointments deleted in Open Dental."""

procedure_logs = _table(
    "procedure_logs",
    "proc_num",
    Column("pat_num", BigInteger),
    Column("apt_num", BigInteger),
    Column("proc_date", Date),
    Column("proc_fee", _money),
    Column("surf", String(40)),
    Column("tooth_num", String(40)),
    Column("tooth_range", String(100)),
    Column("priority", BigInteger),
    Column("priority_name", String(255)),
    Column("proc_status", String(10)),
    Column("prov_num", BigInteger),
    Column("prov_abbr", String(100)),
    Column("dx", BigInteger),
    Column("dx_name", String(255)),
    Column("planned_apt_num", BigInteger),
    Column("place_service", String(60)),
    Column("prosthesis", String(10)),
    Column("date_original_prosth", Date),
    Column("claim_note", Text),
    Column("date_entry_c", Date),
    Column("clinic_num", BigInteger),
    Column("code_num", BigInteger),
    Column("proc_code", String(40)),
    Column("descript", String(255)),
    Column("unit_qty", Integer),
    Column("base_units", Integer),
    Column("date_tp", Date),
    Column("site_num", BigInteger),
    Column("hide_graphics", Boolean),
    Column("canadian_type_codes", String(40)),
    Column("proc_time", String(20)),
    Column("proc_time_end", String(20)),
    Column("date_tstamp", DateTime),
    Column("prognosis", BigInteger),
    Column("is_locked", Boolean),
    Column("billing_note", Text),
    Column("discount", _money),
    Column("is_date_prosth_est", Boolean),
    Column("sec_date_entry", DateTime),
)
# Covering: production by day and provider, and planned treatment on no appointment (per
# patient, with its value), are read from the index alone; a patient's chart by PatNum.
Index(
    "ix_procedures_status_date",
    procedure_logs.c.practice,
    procedure_logs.c.proc_status,
    procedure_logs.c.proc_date,
    procedure_logs.c.prov_num,
    procedure_logs.c.proc_fee,
    procedure_logs.c.unit_qty,
    procedure_logs.c.base_units,
    procedure_logs.c.missing_since,
    procedure_logs.c.apt_num,
    procedure_logs.c.pat_num,
)
Index("ix_procedures_patient", procedure_logs.c.practice, procedure_logs.c.pat_num)

recalls = _table(
    "recalls",
    "recall_num",
    Column("pat_num", BigInteger),
    Column("date_due", Date),
    Column("date_previous", Date),
    Column("recall_interval", String(40)),
    Column("recall_status", BigInteger),
    Column("recall_status_name", String(255)),
    Column("note", Text),
    Column("is_disabled", Boolean),
    Column("date_tstamp", DateTime),
    Column("recall_type_num", BigInteger),
    Column("disable_until_balance", _money),
    Column("disable_until_date", Date),
    Column("date_scheduled", Date),
    Column("priority", String(40)),
    Column("time_pattern_override", String(255)),
)
# Covering: the recall figures and the overdue list, per patient of status Patient.
Index(
    "ix_recalls_patient",
    recalls.c.practice,
    recalls.c.pat_num,
    recalls.c.date_due,
    recalls.c.date_scheduled,
    recalls.c.is_disabled,
    recalls.c.disable_until_date,
    recalls.c.missing_since,
    recalls.c.recall_type_num,
)
Index("ix_recalls_due", recalls.c.practice, recalls.c.date_due)

recall_types = _table(
    "recall_types",
    "recall_type_num",
    Column("description", String(255)),
    Column("default_interval", String(40)),
    Column("time_pattern", String(255)),
    Column("procedures", Text),
    Column("append_to_special", Boolean),
)

providers = _table(
    "providers",
    "prov_num",
    Column("abbr", String(100)),
    Column("lname", String(100)),
    Column("fname", String(100)),
    Column("mi", String(100)),
    Column("suffix", String(100)),
    Column("fee_sched", BigInteger),
    Column("specialty", BigInteger),
    Column("ssn", String(100)),
    Column("state_license", String(100)),
    Column("is_secondary", Boolean),
    Column("prov_color", String(40)),
    Column("is_hidden", Boolean),
    Column("using_tin", Boolean),
    Column("sig_on_file", Boolean),
    Column("national_prov_id", String(100)),
    Column("date_tstamp", DateTime),
    Column("is_not_person", Boolean),
    Column("prov_status", String(40)),
    Column("is_hidden_report", Boolean),
    Column("birthdate", Date),
    Column("sched_note", String(255)),
    Column("preferred_name", String(100)),
)

clinics = _table(
    "clinics",
    "clinic_num",
    Column("description", String(255)),
    Column("address", String(255)),
    Column("address2", String(255)),
    Column("city", String(100)),
    Column("state", String(100)),
    Column("zip", String(40)),
    Column("billing_address", String(255)),
    Column("billing_address2", String(255)),
    Column("billing_city", String(100)),
    Column("billing_state", String(100)),
    Column("billing_zip", String(40)),
    Column("pay_to_address", String(255)),
    Column("pay_to_address2", String(255)),
    Column("pay_to_city", String(100)),
    Column("pay_to_state", String(100)),
    Column("pay_to_zip", String(40)),
    Column("phone", String(60)),
    Column("abbr", String(100)),
    Column("is_hidden", Boolean),
)

definitions = _table(
    "definitions",
    "def_num",
    Column("item_name", String(255)),
    Column("item_value", String(255)),
    Column("category", Integer),
    Column("category_name", String(60)),
    Column("is_hidden", Boolean),
)

operatories = _table(
    "operatories",
    "operatory_num",
    Column("op_name", String(255)),
    Column("abbrev", String(100)),
    Column("item_order", Integer),
    Column("is_hidden", Boolean),
    Column("prov_dentist", BigInteger),
    Column("prov_hygienist", BigInteger),
    Column("is_hygiene", Boolean),
    Column("clinic_num", BigInteger),
    Column("set_prospective", Boolean),
    Column("is_web_sched", Boolean),
    Column("operatory_type", BigInteger),
    Column("operatory_type_name", String(255)),
)

appointment_types = _table(
    "appointment_types",
    "appointment_type_num",
    Column("appointment_type_name", String(255)),
    Column("appointment_type_color", String(40)),
    Column("is_hidden", Boolean),
    Column("pattern", String(255)),
    Column("code_str", Text),
    Column("code_str_required", Text),
    Column("required_proc_codes_needed", String(40)),
    Column("blockout_types", Text),
)

VISIT_TABLES: tuple[Table, ...] = (
    providers,
    clinics,
    definitions,
    operatories,
    appointment_types,
    recall_types,
    appointments,
    procedure_logs,
    recalls,
    deleted_appointments,
)
"""The synced visit tables, reference tables first (the order a sync fills them)."""
