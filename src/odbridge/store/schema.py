"""The store's tables, in SQLAlchemy Core: one schema for SQLite and PostgreSQL.

``patients`` holds every field of the API's patient record as a typed column (snake_case
names, the same as :class:`odbridge.api.models.Patient`), keyed by (practice, pat_num), plus
our bookkeeping. ``sync_state`` keeps a cursor per practice and resource; ``sync_runs`` is
the run log; ``quarantine`` lists rows that failed validation (key, field, reason; never the
value). ``schema_version`` lets an older odbridge refuse a store made by a newer one.
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
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
)

SCHEMA_VERSION = 7
"""Bump with every change to the tables, and add its migration to ``db.MIGRATIONS``."""

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
)

_money = Numeric(12, 2)

PATIENT_COLUMNS: tuple[Column[object], ...] = (
    Column("lname", String(100)),
    Column("fname", String(100)),
    Column("middle_i", String(100)),
    Column("preferred", String(100)),
    Column("pat_status", String(40)),
    Column("gender", String(40)),
    Column("position", String(40)),
    Column("birthdate", Date),
    Column("ssn", String(100)),
    Column("address", String(255)),
    Column("address2", String(255)),
    Column("city", String(100)),
    Column("state", String(100)),
    Column("zip", String(40)),
    Column("hm_phone", String(60)),
    Column("wk_phone", String(60)),
    Column("wireless_phone", String(60)),
    Column("guarantor", BigInteger),
    Column("email", String(255)),
    Column("est_balance", _money),
    Column("pri_prov", BigInteger),
    Column("pri_prov_abbr", String(100)),
    Column("sec_prov", BigInteger),
    Column("sec_prov_abbr", String(100)),
    Column("fee_sched", BigInteger),
    Column("billing_type", String(255)),
    Column("image_folder", String(255)),
    Column("fam_fin_urg_note", Text),
    Column("chart_number", String(100)),
    Column("medicaid_id", String(100)),
    Column("bal_total", _money),
    Column("employer_num", BigInteger),
    Column("date_first_visit", Date),
    Column("clinic_num", BigInteger),
    Column("clinic_abbr", String(100)),
    Column("premed", Boolean),
    Column("ward", String(100)),
    Column("prefer_confirm_method", String(40)),
    Column("prefer_contact_method", String(40)),
    Column("prefer_recall_method", String(40)),
    Column("language", String(100)),
    Column("admit_date", Date),
    Column("site_desc", String(255)),
    Column("date_tstamp", DateTime),
    Column("super_family", BigInteger),
    Column("txt_msg_ok", String(40)),
    Column("sec_date_entry", Date),
)
"""The patient's fields after ``pat_num``, in the API's order."""

PATIENT_FIELD_NAMES: tuple[str, ...] = ("pat_num", *(c.name for c in PATIENT_COLUMNS))

patients = Table(
    "patients",
    metadata,
    Column("practice", String(100), primary_key=True),
    Column("pat_num", BigInteger, primary_key=True, autoincrement=False),
    *PATIENT_COLUMNS,
    Column("extra", JSON, nullable=True, comment="fields the API sent that odbridge does not know"),
    Column("row_hash", String(64), nullable=False, comment="digest of the record as received"),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_synced_at", DateTime, nullable=False, comment="when the row last changed here"),
    Column(
        "missing_since", DateTime, nullable=True, comment="set when the source stops returning it"
    ),
    Column("seen_pass", Integer, nullable=True, comment="the last full pass that returned the row"),
)
Index("ix_patients_status", patients.c.practice, patients.c.pat_status)
Index("ix_patients_name", patients.c.practice, patients.c.lname, patients.c.fname)
Index("ix_patients_first_visit", patients.c.practice, patients.c.date_first_visit)
Index("ix_patients_birthdate", patients.c.practice, patients.c.birthdate)
Index("ix_patients_clinic", patients.c.practice, patients.c.clinic_num)
Index("ix_patients_provider", patients.c.practice, patients.c.pri_prov)
Index("ix_patients_guarantor", patients.c.practice, patients.c.guarantor)
# No index on date_tstamp: no query reads by it, and every index costs each synced row
# (schema 7 dropped ix_patients_stamp). Add one only with the query that uses it.
# PostgreSQL: the dashboard's case-insensitive "starts with" name search (lower(x) LIKE 'a%')
# needs pattern-ops expression indexes; SQLite's LIKE uses its plain indexes instead.
for _column in ("lname", "fname", "preferred"):
    Index(
        f"ix_patients_{_column}_lower",
        patients.c.practice,
        func.lower(patients.c[_column]).label(f"{_column}_lower"),
        postgresql_ops={f"{_column}_lower": "text_pattern_ops"},
    ).ddl_if(dialect="postgresql")

sync_state = Table(
    "sync_state",
    metadata,
    Column("practice", String(100), primary_key=True),
    Column("resource", String(60), primary_key=True),
    Column("cursor", String(40), nullable=True, comment="next DateTStamp, server local time"),
    Column("full_offset", Integer, nullable=True, comment="resume point of an unfinished full"),
    Column("full_cursor", String(40), nullable=True, comment="cursor once that full completes"),
    Column("full_pass", Integer, nullable=True, comment="sync_runs id that began that full"),
    Column("full_mode", String(20), nullable=True, comment="full | reconcile"),
    Column(
        "full_last_key", BigInteger, nullable=True, comment="key of the last row that pass read"
    ),
    Column("runs_since_reconcile", Integer, nullable=False, default=0),
    Column("updated_at", DateTime, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("practice", String(100), nullable=False),
    Column("resource", String(60), nullable=False),
    Column("mode", String(20), nullable=False, comment="full | incremental | reconcile"),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("pages", Integer, nullable=False, default=0),
    Column("rows_received", Integer, nullable=False, default=0),
    Column("rows_inserted", Integer, nullable=False, default=0),
    Column("rows_updated", Integer, nullable=False, default=0),
    Column("rows_missing", Integer, nullable=False, default=0),
    Column(
        "rows_confirmed",
        Integer,
        nullable=False,
        default=0,
        comment="not listed, but still there when asked one by one (e.g. Deleted patients)",
    ),
    Column(
        "rows_quarantined", Integer, nullable=False, default=0, comment="rows that failed checks"
    ),
    Column("requests", Integer, nullable=False, default=0),
    Column("throttled", Integer, nullable=False, default=0),
    Column("retries", Integer, nullable=False, default=0),
    Column("outcome", String(20), nullable=False, comment="running | ok | failed | interrupted"),
    Column("error", Text, nullable=True, comment="what went wrong, without keys or PHI"),
)
Index("ix_sync_runs_practice", sync_runs.c.practice, sync_runs.c.started_at)

quarantine = Table(
    "quarantine",
    metadata,
    Column("practice", String(100), primary_key=True),
    Column("resource", String(60), primary_key=True),
    Column("key", BigInteger, primary_key=True, autoincrement=False, comment="e.g. the PatNum"),
    Column("field", String(100), nullable=True, comment="the API's name of the field at fault"),
    Column("problem", String(255), nullable=False, comment="why it failed; never the value"),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False, comment="argon2"),
    Column("role", String(20), nullable=False, comment="admin | viewer"),
    Column("created_at", DateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, comment="UTC"),
    Column("username", String(100), nullable=False),
    Column(
        "action",
        String(40),
        nullable=False,
        comment="view, export, login, login_failed, logout, denied, user_* (user changes)",
    ),
    Column("what", String(255), nullable=False, comment="page, export format or target"),
    Column("rows", Integer, nullable=True, comment="patient rows shown or written"),
    Column("practice", String(100), nullable=True),
    Column("deidentified", Boolean, nullable=True),
    Column("detail", Text, nullable=True, comment="filters and the like, never patient data"),
)
Index("ix_audit_at", audit_log.c.at)

audit_patients = Table(
    "audit_patients",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=False),
    Column("practice", String(100), primary_key=True),
    Column("pat_num", BigInteger, primary_key=True, autoincrement=False),
    comment="the patients an audit_log entry showed or exported",
)
Index("ix_audit_patients_patient", audit_patients.c.practice, audit_patients.c.pat_num)

user_practices = Table(
    "user_practices",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("practice", String(100), primary_key=True, comment="'*': every practice"),
    comment="the practices a user may see; none listed: none",
)

sessions = Table(
    "sessions",
    metadata,
    Column("sid_hash", String(64), primary_key=True, comment="sha256 of the session id"),
    Column("user_id", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False, comment="UTC"),
    Column("ended_at", DateTime, nullable=True, comment="logout, disabled, password, removed"),
    Column("ended_why", String(40), nullable=True),
)
Index("ix_sessions_user", sessions.c.user_id)
