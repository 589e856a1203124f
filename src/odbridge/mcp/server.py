"""The MCP server: odbridge's read-only tools and the figures' definitions, on the official
SDK's FastMCP, over stdio or streamable HTTP.

Tools run in worker threads (the store is read with blocking drivers); each resolves who is
asking first, so a call by a user who is unknown, disabled or logged out is refused.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from odbridge._version import __version__
from odbridge.errors import OdbridgeError
from odbridge.mcp import admin, figures, patients, visits, worklists
from odbridge.mcp.access import Caller
from odbridge.mcp.common import MAX_PER_PAGE, Row, ToolEnv
from odbridge.mcp.definitions import DEFINITIONS_URI, FIGURES, all_definitions
from odbridge.store.db import describe_db_error

log = logging.getLogger("odbridge.mcp")

Identify = Callable[[Request | None], Caller]
"""Who is asking, from the HTTP request (None over stdio); raises AccessError if nobody."""

T = TypeVar("T")

INSTRUCTIONS = """\
odbridge answers from a local copy of an Open Dental practice's data, kept current by
`odbridge sync`. Nothing you ask reaches Open Dental, and nothing can be changed: every tool
reads. Every call is recorded in the practice's audit log under your user's name.
Results are paged: when `truncated` is true, ask for `next_page`. Each figure comes with its
definition; the definitions are also resources under odbridge://definitions. Check
`sync_status` before saying how current a figure is."""

READ_ONLY = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
)

Practice = Annotated[
    str | None,
    Field(description="A practice's name as the store knows it; omit for every one you may see."),
]
Page = Annotated[int, Field(ge=1, le=1_000_000, description="Page number, from 1.")]
PerPage = Annotated[
    int, Field(ge=1, le=MAX_PER_PAGE, description=f"Rows per page, at most {MAX_PER_PAGE}.")
]
# The patient search's parameters, shared by its identified and de-identified forms (which
# differ on purpose: the de-identified one takes no birthdate and refuses a query).
Status = Annotated[
    str | None, Field(description="Open Dental status: Patient, NonPatient, Inactive, ...")
]
IncludeMissing = Annotated[bool, Field(description="Also patients Open Dental no longer returns.")]
SearchPerPage = Annotated[Literal[25, 50, 100], Field(description="Rows per page.")]


def create_server(env: ToolEnv, identify: Identify, *, host: str = "127.0.0.1") -> FastMCP:
    """The MCP server over ``env`` (tools, resources), asking ``identify`` who calls."""
    server: FastMCP = FastMCP(
        name="odbridge",
        instructions=INSTRUCTIONS,
        host=host,
        log_level="WARNING",
    )
    server._mcp_server.version = __version__  # the SDK reports it in serverInfo

    async def call(ctx: Context[Any, Any, Any], work: Callable[[Caller], T]) -> T:
        request = ctx.request_context.request
        try:
            return await anyio.to_thread.run_sync(
                lambda: work(identify(request if isinstance(request, Request) else None))
            )
        except OdbridgeError as exc:  # refusals and not-found: one sentence, no data
            raise ToolError(str(exc)) from None
        except SQLAlchemyError as exc:  # one line, no row values (the engines hide them)
            log.error("an MCP tool could not read the store: %s", describe_db_error(exc))
            raise ToolError(
                f"The store could not answer ({describe_db_error(exc)}). Try again; if it "
                "persists, check that the database is reachable."
            ) from None

    _register_patient_tools(server, env, call)
    _register_figure_tools(server, env, call)
    _register_definitions(server)
    return server


Call = Callable[[Context[Any, Any, Any], Callable[[Caller], Any]], Any]


def _register_patient_tools(server: FastMCP, env: ToolEnv, call: Call) -> None:
    if env.deidentified:
        _register_deidentified_patient_tools(server, env, call)
        return
    _register_identified_patient_tools(server, env, call)


def _register_deidentified_patient_tools(server: FastMCP, env: ToolEnv, call: Call) -> None:
    @server.tool(annotations=READ_ONLY, title="Find patients (de-identified)")
    async def search_patients(
        ctx: Context[Any, Any, Any],
        status: Status = None,
        practice: Practice = None,
        include_missing: IncludeMissing = False,
        page: Page = 1,
        per_page: SearchPerPage = 25,
        query: Annotated[
            str,
            Field(
                max_length=100,
                description="Not available here: this server is de-identified, so a name, "
                "number, phone or email is refused. Leave empty.",
            ),
        ] = "",
    ) -> Row:
        """List patients in the Safe Harbor view: pseudonymous patient_id and family_id,
        birth year and age, ZIP3, status, provider, clinic and balances; no names or
        contacts. Filter by status and practice. Paged."""
        result: Row = await call(
            ctx,
            functools.partial(
                patients.search_patients,
                env,
                query=query,
                status=status,
                practice=practice,
                include_missing=include_missing,
                page=page,
                per_page=per_page,
            ),
        )
        return result

    @server.tool(annotations=READ_ONLY, title="One patient (de-identified)")
    async def get_patient(
        ctx: Context[Any, Any, Any],
        patient_id: Annotated[
            str, Field(description="The patient's pseudonym (patient_id from a search).")
        ],
        practice: Practice = None,
    ) -> Row:
        """One patient's record and family in the Safe Harbor view (pseudonyms, years,
        ZIP3)."""
        result: Row = await call(
            ctx,
            functools.partial(patients.get_patient, env, patient_id=patient_id, practice=practice),
        )
        return result


def _register_identified_patient_tools(server: FastMCP, env: ToolEnv, call: Call) -> None:
    @server.tool(annotations=READ_ONLY, title="Find patients")
    async def search_patients(
        ctx: Context[Any, Any, Any],
        query: Annotated[
            str,
            Field(
                max_length=100,
                description="A last name, 'Last, First', 'First Last', a PatNum, phone digits "
                "(4 or more, any format) or an email (or part of one). Empty: all patients.",
            ),
        ] = "",
        birthdate: Annotated[
            date | None, Field(description="Only patients born on this day (YYYY-MM-DD).")
        ] = None,
        status: Status = None,
        practice: Practice = None,
        include_missing: IncludeMissing = False,
        page: Page = 1,
        per_page: SearchPerPage = 25,
    ) -> Row:
        """Search the practice's patients by name, PatNum, phone, email or birthdate, sorted
        by name. Returns one page of short records (PatNum, names, status, birthdate, phones,
        email, city, clinic, provider, balance, guarantor) with the total matching; when
        `truncated` is true, ask for `next_page`."""
        result: Row = await call(
            ctx,
            functools.partial(
                patients.search_patients,
                env,
                query=query,
                birthdate=birthdate,
                status=status,
                practice=practice,
                include_missing=include_missing,
                page=page,
                per_page=per_page,
            ),
        )
        return result

    @server.tool(annotations=READ_ONLY, title="One patient")
    async def get_patient(
        ctx: Context[Any, Any, Any],
        pat_num: Annotated[int, Field(ge=1, description="The patient's PatNum.")],
        practice: Practice = None,
    ) -> Row:
        """One patient's full stored record (every Open Dental patient field except the SSN)
        and the family: the patients sharing the guarantor, guarantor first."""
        result: Row = await call(
            ctx,
            functools.partial(patients.get_patient, env, pat_num=pat_num, practice=practice),
        )
        return result


def _register_figure_tools(server: FastMCP, env: ToolEnv, call: Call) -> None:
    @server.tool(annotations=READ_ONLY, title="Practice overview")
    async def overview(ctx: Context[Any, Any, Any], practice: Practice = None) -> Row:
        """The practice's figures: patients in total and active, by status, new patients per
        month, genders, age bands, contact completeness, preferred contact methods, patients
        per provider and clinic, balances, birthdays this week, and sync freshness. Each
        figure carries its definition."""
        result: Row = await call(ctx, functools.partial(figures.overview, env, practice=practice))
        return result

    @server.tool(annotations=READ_ONLY, title="Data quality")
    async def data_quality(
        ctx: Context[Any, Any, Any],
        check: Annotated[
            figures.QualityCheck | None,
            Field(
                description="Which list to return: duplicates, phones (malformed), no_phone, "
                "emails (malformed), guarantor (missing). Omit for the counts only."
            ),
        ] = None,
        scope: Annotated[
            Literal["active", "all"], Field(description="Active patients only, or all.")
        ] = "active",
        practice: Practice = None,
        page: Page = 1,
        per_page: PerPage = 25,
    ) -> Row:
        """Records to fix in Open Dental: how many patients each check flags, and a page of
        one check's patients."""
        result: Row = await call(
            ctx,
            functools.partial(
                figures.data_quality,
                env,
                check=check,
                scope=scope,
                practice=practice,
                page=page,
                per_page=per_page,
            ),
        )
        return result

    @server.tool(annotations=READ_ONLY, title="Worklists")
    async def worklist(
        ctx: Context[Any, Any, Any],
        name: Annotated[
            worklists.WorklistName,
            Field(
                description="birthdays_this_week; recall (overdue, not scheduled); unscheduled "
                "(treatment planned, on no appointment); reactivation (active, nothing "
                "booked); unconfirmed (tomorrow's appointments not confirmed)."
            ),
        ],
        practice: Practice = None,
        page: Page = 1,
        per_page: PerPage = 25,
    ) -> Row:
        """A worklist for the front desk: the patients to contact, in the order to work
        them, with their phones, email and preferred contact method. Paged."""
        result: Row = await call(
            ctx,
            functools.partial(
                worklists.worklist, env, name=name, practice=practice, page=page, per_page=per_page
            ),
        )
        return result

    @server.tool(annotations=READ_ONLY, title="Visit figures")
    async def visit_figures(ctx: Context[Any, Any, Any], practice: Practice = None) -> Row:
        """The practice's visit figures, as Open Dental computes them: active patients, new
        patients, active with no future appointment, recall overdue / due / scheduled,
        hygiene reappointment, production, treatment planned but unscheduled, broken
        appointment rate; trends and monthly series. Each figure carries its definition."""
        result: Row = await call(
            ctx, functools.partial(visits.visit_figures, env, practice=practice)
        )
        return result

    @server.tool(annotations=READ_ONLY, title="Audit log (administrators)")
    async def audit_log(ctx: Context[Any, Any, Any], page: Page = 1, per_page: PerPage = 50) -> Row:
        """For administrators: who viewed or exported patient data, when, with which tool or
        page, filters and PatNums; newest first. Other users are refused."""
        result: Row = await call(
            ctx, functools.partial(admin.audit_log, env, page=page, per_page=per_page)
        )
        return result

    @server.tool(annotations=READ_ONLY, title="Sync status and freshness")
    async def sync_status(ctx: Context[Any, Any, Any], practice: Practice = None) -> Row:
        """How current the data is: per practice, the last sync's outcome and times (UTC),
        minutes since the last successful sync, the last error, unfinished full loads."""
        result: Row = await call(
            ctx, functools.partial(figures.sync_status, env, practice=practice)
        )
        return result


def _register_definitions(server: FastMCP) -> None:
    @server.resource(
        DEFINITIONS_URI,
        name="definitions",
        title="Definitions of every figure",
        mime_type="text/plain",
    )
    def definitions() -> str:
        return all_definitions()

    for key, text in {**FIGURES, **worklist_definitions()}.items():
        server.resource(
            f"{DEFINITIONS_URI}/{key}",
            name=f"definition:{key}",
            title=f"Definition of {key}",
            mime_type="text/plain",
        )(_constant(text))


def worklist_definitions() -> dict[str, str]:
    """``worklist.<name>`` → what the worklist holds."""
    return {f"worklist.{name}": text for name, text in worklists.descriptions().items()}


def _constant(text: str) -> Callable[[], str]:
    def read() -> str:
        return text

    return read
