"""The visit tools: the practice's visit figures, and one patient's visits and recalls.

They call the dashboard's visit queries (``queries.visit_kpis`` and ``queries.visit_lists``),
which compute them as Open Dental does; times are the practice's local time.
"""

from __future__ import annotations

from datetime import datetime

from odbridge.dashboard.queries import Practices
from odbridge.dashboard.queries.visit_kpis import VisitSummary, compute_kpis, visit_summary
from odbridge.dashboard.queries.visit_lists import patient_visits
from odbridge.mcp.access import Caller, practice_label, practice_scope, record_call
from odbridge.mcp.common import Row, ToolEnv, plain, plain_row, scope_key

MAX_HISTORY = 20
"""The most recent appointments ``get_patient`` returns (the total is given)."""


def visit_figures(env: ToolEnv, caller: Caller, *, practice: str | None = None) -> Row:
    """Visit figures (active patients, recall, production, ...) with definitions."""
    scope = practice_scope(env, caller, practice)
    at = moment()
    kpis, behind = env.cached(
        ("visit_kpis", scope_key(scope), at.date(), at.hour),
        lambda: compute_kpis(env.reader, scope, now=at, summary=summary(env, scope, at)),
    )
    record_call(env.writer, caller, "visit_figures", arguments="", practices=scope, rows=0)
    return {
        "practice": practice_label(scope),
        "as_of_local_time": plain(kpis.now),
        "figures": kpis.as_json(),
        "recomputing": behind,
    }


def moment() -> datetime:
    """Now in the practice's local time (as appointments are stored), to the minute; cached
    visit figures are shared within the hour, as on the dashboard."""
    return datetime.now().replace(second=0, microsecond=0)


def summary(env: ToolEnv, scope: Practices, at: datetime) -> VisitSummary:
    """Each patient's last and next visit (cached: the figures and worklists share it)."""
    return env.cached(
        ("visit_summary", scope_key(scope), at.date(), at.hour),
        lambda: visit_summary(env.reader, scope, at),
    )[0]


def visits_of(env: ToolEnv, practice: str, pat_num: int) -> Row:
    """One patient's last and next visit, recalls, recent appointments and treatment plan."""
    found = patient_visits(env.reader, practice, pat_num, now=datetime.now())
    history = found.history[:MAX_HISTORY]
    return {
        "last_visit": plain(found.last_visit),
        "next_visit": plain(found.next_visit),
        "recalls": [plain_row(r) for r in found.recalls],
        "appointments": [plain_row(r) for r in history],
        "appointments_returned": len(history),
        "appointments_truncated": len(found.history) > len(history),
        "treatment_plan": [plain_row(r) for r in found.treatment_plan],
        "treatment_plan_value": plain(found.treatment_plan_value),
    }
