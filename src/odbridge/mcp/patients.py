"""The patient tools: search, and one patient with the family, visits and recalls.

They call the dashboard's queries (one copy of the SQL) and shape the answer for an
assistant: JSON values, bounded pages that say when they are truncated, never the SSN.
With de-identification on, rows go through :class:`~odbridge.mcp.deid.SafeHarbor` and
patients are named by pseudonym only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from odbridge.dashboard import queries
from odbridge.dashboard.queries import Practices
from odbridge.errors import OdbridgeError
from odbridge.export.columns import EXPORTABLE_COLUMNS
from odbridge.mcp.access import (
    AccessError,
    Caller,
    known_practices,
    practice_scope,
    record_call,
)
from odbridge.mcp.common import Row, ToolEnv, paging, plain_row
from odbridge.mcp.visits import visits_of

NEVER_SHOWN = ("ssn",)
"""Stored but never returned by a tool (the dashboard shows its last four digits only)."""

DETAIL_COLUMNS = tuple(c for c in EXPORTABLE_COLUMNS if c not in NEVER_SHOWN)
"""What ``get_patient`` returns of the patient: the export's whitelist, less the SSN."""

MAX_FAMILY = 50


class NotFoundError(OdbridgeError, LookupError):
    """Nothing matches; the message says what was looked for (no patient data)."""


def _practice_list(env: ToolEnv, practices: Practices) -> list[str]:
    if isinstance(practices, str):
        return [practices]
    known = known_practices(env)
    return [p for p in known if practices is None or p in practices]


def search_patients(
    env: ToolEnv,
    caller: Caller,
    *,
    query: str = "",
    birthdate: date | None = None,
    status: str | None = None,
    practice: str | None = None,
    include_missing: bool = False,
    page: int = 1,
    per_page: int = 25,
) -> Row:
    """One page of the patients matching a name, PatNum, phone or email (and filters)."""
    if env.deidentified and (query.strip() or birthdate is not None):
        raise AccessError(
            "This server is de-identified: patients cannot be searched by name, number, "
            "phone, email or birthdate. Filter by status (and practice) instead."
        )
    if status is not None and status not in queries.PAT_STATUSES:
        raise AccessError(f"Unknown status; use one of: {', '.join(queries.PAT_STATUSES)}.")
    scope = practice_scope(env, caller, practice)
    f = queries.PatientFilter(
        practice=scope,
        search=query[:100],
        birthdate=birthdate,
        status=status,
        include_missing=include_missing,
        page=max(1, page),
        per_page=per_page if per_page in queries.PER_PAGE_CHOICES else 25,
    )
    result = queries.search_patients(env.reader, f)
    pat_nums = [(str(r["practice"]), int(r["pat_num"])) for r in result.rows]
    rows = _shown(env, result.rows)
    arguments = f.audit_detail()
    record_call(
        env.writer,
        caller,
        "search_patients",
        arguments=arguments,
        practices=scope,
        rows=len(rows),
        pat_nums=pat_nums,
    )
    return {
        "patients": rows,
        **paging(result.total, result.page, result.per_page, len(rows)),
        "deidentified": env.deidentified,
    }


def _shown(env: ToolEnv, rows: Sequence[Row]) -> list[Row]:
    if env.harbor is not None:
        return [plain_row(r) for r in env.harbor.rows(rows)]
    return [plain_row(r, NEVER_SHOWN) for r in rows]


def get_patient(
    env: ToolEnv,
    caller: Caller,
    *,
    pat_num: int | None = None,
    patient_id: str | None = None,
    practice: str | None = None,
) -> Row:
    """One patient's stored record and family (the patients sharing the guarantor)."""
    scope = practice_scope(env, caller, practice)
    candidates = _practice_list(env, scope)
    if env.harbor is not None:
        if not patient_id:
            raise AccessError("This server is de-identified: name the patient by patient_id.")
        found = env.harbor.find(env.reader, candidates, patient_id)
        if found is None:
            raise NotFoundError("No patient with this patient_id in the practices you may see.")
        practice_name, number = found
    else:
        if pat_num is None:
            raise AccessError("Name the patient by pat_num (Open Dental's PatNum).")
        matches = [p for p in candidates if _exists(env, p, pat_num)]
        if not matches:
            raise NotFoundError(f"No patient with PatNum {pat_num} in the practices you may see.")
        if len(matches) > 1:
            raise AccessError(
                f"PatNum {pat_num} exists in several practices ({', '.join(matches)}): "
                "say which with `practice`."
            )
        practice_name, number = matches[0], pat_num
    detail = queries.patient_detail(env.reader, practice_name, number)
    if detail is None:  # removed between the two reads
        raise NotFoundError("The patient is no longer in the store.")
    patient = {name: detail.row.get(name) for name in DETAIL_COLUMNS}
    family = detail.family[:MAX_FAMILY]
    record_call(
        env.writer,
        caller,
        "get_patient",
        arguments="patient_id" if env.deidentified else "pat_num",
        practices=practice_name,
        rows=1 + len(family),
        pat_nums=[(practice_name, n) for n in (number, *(int(r["pat_num"]) for r in family))],
    )
    return {
        "practice": practice_name,
        "patient": _shown(env, [patient])[0],
        "family": _shown(env, family),
        "family_total": len(detail.family),
        "family_truncated": len(detail.family) > len(family),
        # visit dates are identifiers under Safe Harbor: the de-identified view has none
        "visits": None if env.deidentified else visits_of(env, practice_name, number),
        "deidentified": env.deidentified,
    }


def _exists(env: ToolEnv, practice: str, pat_num: int) -> bool:
    return bool(queries.rows_for(env.reader, [(practice, pat_num)], columns=()))
