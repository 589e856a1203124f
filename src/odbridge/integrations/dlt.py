"""Open Dental as a `dlt <https://dlthub.com>`_ source: load a practice into any dlt
destination (DuckDB, PostgreSQL, BigQuery, Snowflake, …) with odbridge's client.

    import dlt
    from odbridge.integrations.dlt import opendental

    pipeline = dlt.pipeline("practice_1", destination="duckdb", dataset_name="opendental")
    pipeline.run(opendental(practice="main"))          # keys: odbridge's settings or dlt secrets

The requests are odbridge's: the same client, pacing to the practice's rate limit, retries
and typed, validated rows. Resources (``source.with_resources("patients")`` picks some):

====================  ===========================  =====================================
resource              reads                        loads
====================  ===========================  =====================================
patients              ``patients/Simple``          merge on ``pat_num``, incremental
appointments          ``appointments``             merge on ``apt_num``, incremental
procedure_logs        ``procedurelogs``            merge on ``proc_num``, incremental
providers             ``providers``                merge on ``prov_num``, incremental
clinics, definitions, operatories, appointment_types, recall_types, recalls,
deleted_appointments (``histappointments`` "Deleted"): read whole, ``replace``
====================  ===========================  =====================================

**The cursor is the server's clock, not ours** (:mod:`odbridge.sync.cursor`): every row of
an incremental pass carries ``pass_server_time``, the ``serverDateTime`` of the pass's first
page; dlt keeps its largest value in the pipeline state (committed only when the load
completes) and the next run asks for ``DateTStamp`` from that time minus the overlap (one hour
at least: dlt's ``lag``). Rows re-read in the overlap are merged, never duplicated. The first
run of appointments reads the last ``history_years`` of appointments (by date), and of
procedures those changed in that window, as ``odbridge sync --visits`` does.

Open Dental's times (``DateTStamp``, ``AptDateTime``) are the practice's wall clock without a
zone: they load as timestamps without a time zone. A row that does not validate is not loaded:
its key, field and problem (never its value) go to the ``rejected_rows`` table. Patients
deleted in Open Dental keep their last row here (``patients/Simple`` stops listing them);
``odbridge sync`` confirms deletions one by one.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract import DltResource
from dlt.sources import incremental
from pydantic import SecretStr

from odbridge.api.client import Client
from odbridge.api.models import ApiModel, Patient
from odbridge.api.models_visits import (
    Appointment,
    AppointmentType,
    Clinic,
    Definition,
    HistAppointment,
    HistApptAction,
    Operatory,
    ProcedureLog,
    Provider,
    Recall,
    RecallType,
)
from odbridge.api.paging import Page, RejectedRow
from odbridge.config import ConfigError, PracticeProfile
from odbridge.sync.cursor import DEFAULT_OVERLAP, Cursor, check_overlap, normalise_stamp
from odbridge.sync.drift import OverlapPager

__all__ = [
    "CURSOR_COLUMN",
    "DEFAULT_HISTORY_YEARS",
    "PRACTICE_COLUMN",
    "REJECTED_TABLE",
    "TABLES",
    "opendental",
]

log = logging.getLogger("odbridge.integrations")

CURSOR_COLUMN = "pass_server_time"
"""The incremental cursor column: the server's clock at the first page of the pass that read
the row (``serverDateTime``), in the server's local time."""

PRACTICE_COLUMN = "practice"
"""With ``practice_label``: the practice a row belongs to (part of every primary key)."""

REJECTED_TABLE = "rejected_rows"
"""Rows that did not validate: resource, key, field, problem (never the value)."""

DEFAULT_HISTORY_YEARS = 3
"""How far back a first run reads appointments and procedures (as ``sync --visits``)."""

DLT_KEYS_HINT = (
    " With the dlt source, pass developer_key=/customer_key=, or put them in dlt's secrets:"
    " [sources.opendental] in .dlt/secrets.toml, or SOURCES__OPENDENTAL__DEVELOPER_KEY and"
    " SOURCES__OPENDENTAL__CUSTOMER_KEY."
)

DLT_ARGUMENTS_HINT = (
    "With the dlt source, the arguments are opendental()'s, which dlt also reads from its"
    " config: [sources.opendental] in .dlt/config.toml, or SOURCES__OPENDENTAL__<NAME>"
    " (e.g. SOURCES__OPENDENTAL__TIER)."
)

Fetch = Callable[[Client, int, int, str | None, date], Page[Any]]
"""``fetch(client, offset, limit, since, window_start)``: one validated page; ``since`` is
the ``DateTStamp`` to read changes from (None: a first, complete read)."""


@dataclass(frozen=True)
class Table:
    """One Open Dental list as a dlt resource."""

    name: str
    model: type[ApiModel]
    key: str
    fetch: Fetch
    incremental: bool
    """Read changes since the cursor (merge) rather than everything (replace)."""
    ordered_by_key: bool
    """The listing is ordered by the key, so Offset drift is detected
    (:class:`~odbridge.sync.drift.OverlapPager`)."""


# One line per endpoint; the strategies are those of odbridge.sync.resources and
# odbridge.sync.visits (their docstrings say why each list is read the way it is).
TABLES: tuple[Table, ...] = (
    Table(
        "patients",
        Patient,
        "pat_num",
        lambda c, o, n, since, _: c.patients.list(offset=o, limit=n, changed_since=since),
        incremental=True,
        ordered_by_key=True,  # ORDER BY PatNum
    ),
    Table(
        "providers",
        Provider,
        "prov_num",
        lambda c, o, n, since, _: c.providers.list(offset=o, limit=n, changed_since=since),
        incremental=True,
        ordered_by_key=True,
    ),
    Table(
        "clinics",
        Clinic,
        "clinic_num",
        lambda c, o, n, *_: c.clinics.list(offset=o, limit=n),
        incremental=False,
        ordered_by_key=True,
    ),
    Table(
        "definitions",
        Definition,
        "def_num",
        lambda c, o, n, *_: c.definitions.list(offset=o, limit=n, include_hidden=True),
        incremental=False,
        ordered_by_key=True,
    ),
    Table(
        "operatories",
        Operatory,
        "operatory_num",
        lambda c, o, n, *_: c.operatories.list(offset=o, limit=n),
        incremental=False,
        ordered_by_key=True,
    ),
    Table(
        "appointment_types",
        AppointmentType,
        "appointment_type_num",
        lambda c, o, n, *_: c.appointment_types.list(offset=o, limit=n),
        incremental=False,
        ordered_by_key=True,
    ),
    Table(
        "recall_types",
        RecallType,
        "recall_type_num",
        lambda c, o, n, *_: c.recall_types.list(offset=o, limit=n),
        incremental=False,
        ordered_by_key=True,
    ),
    Table(
        "recalls",
        Recall,
        "recall_num",
        lambda c, o, n, *_: c.recalls.list(offset=o, limit=n),
        incremental=False,
        ordered_by_key=True,
    ),
    Table(
        "appointments",
        Appointment,
        "apt_num",
        lambda c, o, n, since, start: (
            c.appointments.list(offset=o, limit=n, date_start=start)
            if since is None
            else c.appointments.list(offset=o, limit=n, changed_since=since)
        ),
        incremental=True,
        ordered_by_key=False,  # ORDER BY AptDateTime, AptNum
    ),
    Table(
        "procedure_logs",
        ProcedureLog,
        "proc_num",
        lambda c, o, n, since, start: c.procedure_logs.list(
            offset=o, limit=n, changed_since=since or start
        ),
        incremental=True,
        ordered_by_key=False,  # ORDER BY ProcNum DESC
    ),
    Table(
        "deleted_appointments",
        HistAppointment,
        "hist_appt_num",
        lambda c, o, n, *_: c.hist_appointments.list(
            offset=o, limit=n, hist_appt_action=HistApptAction.DELETED
        ),
        incremental=False,
        ordered_by_key=True,
    ),
)


# -- rows and their columns ------------------------------------------------------------------
def _column_type(annotation: Any) -> TColumnSchema:
    """The dlt column of a model field's type (``X | None`` is ``X``; enums are text)."""
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = kinds[0] if len(kinds) == 1 else str
    if kind is bool:
        return {"data_type": "bool"}
    if kind is int:
        return {"data_type": "bigint"}
    if kind is datetime:
        return {"data_type": "timestamp", "timezone": False}
    if kind is date:
        return {"data_type": "date"}
    if kind is Decimal:
        return {"data_type": "decimal"}
    return {"data_type": "text"}


def _columns(table: Table) -> dict[str, TColumnSchema]:
    """Every documented field as a typed column (so a column no row has filled yet exists),
    ``extra`` (unknown fields, as JSON) and the pass time."""
    columns: dict[str, TColumnSchema] = {}
    for name, info in table.model.model_fields.items():
        if name != "server_date_time":
            nullable = name != table.key
            columns[name] = {"name": name, "nullable": nullable, **_column_type(info.annotation)}
    columns["extra"] = {"name": "extra", "data_type": "json", "nullable": True}
    if table.incremental:
        columns[CURSOR_COLUMN] = {
            "name": CURSOR_COLUMN,
            "data_type": "timestamp",
            "timezone": False,
            "nullable": True,
        }
    return columns


def _row(model: ApiModel, pass_time: datetime | None) -> dict[str, Any]:
    """A model as a row: its fields (enums as their API text), extras, the pass time."""
    row: dict[str, Any] = {}
    for name, value in model.__dict__.items():
        if name != "server_date_time":
            row[name] = value.value if isinstance(value, Enum) else value
    row["extra"] = dict(model.__pydantic_extra__) if model.__pydantic_extra__ else None
    if pass_time is not None:
        row[CURSOR_COLUMN] = pass_time
    return row


_REJECTED_COLUMNS: dict[str, TColumnSchema] = {
    "resource": {"name": "resource", "data_type": "text", "nullable": False},
    "position": {"name": "position", "data_type": "bigint", "nullable": True},
    "key": {"name": "key", "data_type": "bigint", "nullable": True},
    "field": {"name": "field", "data_type": "text", "nullable": True},
    "problem": {"name": "problem", "data_type": "text", "nullable": True},
    CURSOR_COLUMN: {"name": CURSOR_COLUMN, "data_type": "timestamp", "timezone": False},
}


def _rejected(table: str, rows: tuple[RejectedRow, ...], pass_time: datetime | None) -> Any:
    """Rejected rows as rows of :data:`REJECTED_TABLE`: where, which key, what was wrong."""
    items = [
        {
            "resource": table,
            "position": row.position,
            "key": row.key,
            "field": row.field,
            "problem": row.problem,
            CURSOR_COLUMN: pass_time,
        }
        for row in rows
    ]
    return dlt.mark.with_table_name(items, REJECTED_TABLE)


def _with_rejected_table(resource: DltResource) -> DltResource:
    """``resource`` with the hints of :data:`REJECTED_TABLE`, where it sends rows that did
    not validate: appended, and none of the resource's key and columns."""
    variant: dict[str, Any] = {"table_name": REJECTED_TABLE, "create_table_variant": True}
    resource.apply_hints(**variant, write_disposition="append", primary_key=[], columns={})
    resource.apply_hints(**variant, columns=_REJECTED_COLUMNS)
    return resource


# -- reading ------------------------------------------------------------------------------------
ClientFactory = Callable[[], AbstractContextManager[Client]]


def _read(
    table: Table,
    clients: ClientFactory,
    since: datetime | None,
    window_start: date,
) -> Iterator[Any]:
    """Every page of ``table`` (changes since ``since``, or everything), as dlt items."""
    since_text = Cursor(since).text if since is not None else None
    with clients() as client:

        def fetch(offset: int, limit: int) -> Page[Any]:
            return table.fetch(client, offset, limit, since_text, window_start)

        pager: OverlapPager[ApiModel] = OverlapPager(
            fetch,
            lambda model: int(getattr(model, table.key)),
            limit=max(2, client.page_size),  # the overlap check needs two rows a page
            ordered=table.ordered_by_key,
        )
        first: datetime | None = None
        rows = rejected = requests = 0
        for page in pager:
            requests += page.requests
            if first is None and page.server_time is not None:
                first = normalise_stamp(page.server_time)
            pass_time = first if table.incremental else None
            if page.rejected:
                rejected += len(page.rejected)
                yield _rejected(table.name, page.rejected, pass_time)
            if page.items:
                rows += len(page.items)
                yield [_row(item, pass_time) for item in page.items]
    if not rows and (since is None or not table.incremental):
        # no row (a practice without clinics, no deleted appointment yet): the table is made
        # all the same, empty, so queries that join it work; a table read whole is emptied
        yield dlt.mark.materialize_table_schema()
    log.info(
        "%s: %s: %d rows, %d rejected, %d requests",
        table.name,
        f"changes since {since_text}" if since_text else "first read",
        rows,
        rejected,
        requests,
    )
    if rejected:
        log.warning(
            "%s: %d rows did not validate and were not loaded (their keys and problems are "
            "in the %s table); a later change to them loads them",
            table.name,
            rejected,
            REJECTED_TABLE,
        )


def _resource(
    table: Table, clients: ClientFactory, overlap: timedelta, window_start: date
) -> DltResource:
    """``table`` as a dlt resource: merge + incremental, or replace (rejected rows apart)."""
    columns = _columns(table)
    lag = overlap.total_seconds()
    if not table.incremental:

        def everything() -> Iterator[Any]:
            yield from _read(table, clients, None, window_start)

        return _with_rejected_table(
            dlt.resource(
                everything,
                name=table.name,
                primary_key=table.key,
                columns=columns,
                write_disposition="replace",
            )
        )

    def changes(
        cursor: incremental[datetime] = incremental(  # noqa: B008 - dlt binds it through this
            CURSOR_COLUMN,
            lag=lag,  # the next read starts an overlap before the cursor
            primary_key=(),  # a whole pass shares one cursor value: merge, not hashes, dedups
            on_cursor_value_missing="include",  # a server that sends no serverDateTime
        ),
    ) -> Iterator[Any]:
        yield from _read(table, clients, cursor.last_value, window_start)

    return _with_rejected_table(
        dlt.resource(
            changes,
            name=table.name,
            primary_key=table.key,
            columns=columns,
            write_disposition="merge",
        )
    )


def _window_start(history_years: int, today: date | None = None) -> date:
    day = today or date.today()
    try:
        return day.replace(year=day.year - history_years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - history_years, day=28)


@dlt.source(name="opendental", max_table_nesting=0)
def opendental(
    client: Client | None = None,
    practice: str | None = None,
    profile: PracticeProfile | None = None,
    developer_key: str | None = dlt.secrets.value,
    customer_key: str | None = dlt.secrets.value,
    base_url: str | None = None,
    tier: str | None = None,
    history_years: int = DEFAULT_HISTORY_YEARS,
    overlap_seconds: float = DEFAULT_OVERLAP.total_seconds(),
    practice_label: str | None = None,
) -> list[DltResource]:
    """One Open Dental practice as a dlt source (see the module's docstring).

    Give a :class:`~odbridge.Client` (you close it), or the settings to make one: a
    ``practice`` name or ``profile`` from odbridge's settings (arguments > ``ODBRIDGE_*``
    environment > config file > keyring), ``base_url``/``tier``, and the keys, which dlt also
    reads from its secrets (``[sources.opendental] developer_key = "…"`` in
    ``.dlt/secrets.toml``, or ``SOURCES__OPENDENTAL__CUSTOMER_KEY``). The keys are never logged.
    ``overlap_seconds`` (3,600 at least) is how far before the cursor incremental reads start.

    ``practice_label`` loads several practices into one dataset (a dental group): every row
    carries it in a ``practice`` column, which joins the primary keys; the tables read whole
    replace only that practice's rows. Run one pipeline per practice (each keeps its cursors).
    """
    overlap = check_overlap(timedelta(seconds=overlap_seconds))
    window_start = _window_start(history_years)
    clients = _client_factory(
        client, practice, profile, developer_key, customer_key, base_url, tier
    )
    resources = [_resource(table, clients, overlap, window_start) for table in TABLES]
    if practice_label is not None:
        for table, resource in zip(TABLES, resources, strict=True):
            _label_rows(resource, table, practice_label)
    return resources


def _label_rows(resource: DltResource, table: Table, label: str) -> None:
    """Several practices in one dataset: every row carries ``practice``, the keys include
    it, and a table read whole replaces only this practice's rows (delete-insert on it)."""
    if not label.strip():
        raise ValueError("practice_label must not be blank")
    resource.add_map(lambda item: {PRACTICE_COLUMN: label, **item})
    column: TColumnSchema = {"name": PRACTICE_COLUMN, "data_type": "text", "nullable": False}
    resource.apply_hints(
        primary_key=[PRACTICE_COLUMN, table.key], columns={PRACTICE_COLUMN: column}
    )
    if not table.incremental:
        resource.apply_hints(
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            merge_key=PRACTICE_COLUMN,
        )


def _client_factory(
    client: Client | None,
    practice: str | None,
    profile: PracticeProfile | None,
    developer_key: str | None,
    customer_key: str | None,
    base_url: str | None,
    tier: str | None,
) -> ClientFactory:
    """The given client (left open), or a new client per resource from the settings; the
    settings are checked now, so a missing key fails before the pipeline starts."""
    if client is not None:
        given = client
        return lambda: nullcontext(given)
    settings: dict[str, Any] = {
        "developer_key": SecretStr(developer_key) if developer_key else None,
        "customer_key": SecretStr(customer_key) if customer_key else None,
        "base_url": base_url,
        "tier": tier,
        "practice": practice,
        "profile": profile,
    }
    try:
        resolved = Client(**settings)  # resolves and checks the settings; no request yet
    except ConfigError as exc:
        message = str(exc.args[0])
        if "key" in message.lower():
            exc.hint += DLT_KEYS_HINT
        elif "(from arguments)" in message:  # maybe from dlt's config, which we cannot tell
            exc.hint = f"{exc.hint} {DLT_ARGUMENTS_HINT}".strip()
        raise
    resolved.close()
    ready = resolved.profile
    return lambda: Client(profile=ready)
