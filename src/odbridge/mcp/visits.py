"""The visit tools: the practice's visit figures, and one patient's visits and recalls.

They call the dashboard's visit queries (:mod:`odbridge.dashboard.visit_kpis`,
:mod:`odbridge.dashboard.visit_lists`), which compute them as Open Dental does; times are the
practice's local time. Those queries take one practice or all of them, so a user limited to
several practices gets one set of figures per practice.
"""

from __future__ import annotations

from datetime import datetime

from odbridge.dashboard.queries import Practices
from odbridge.dashboard.visit_kpis import compute_kpis
from odbridge.dashboard.visit_lists import patient_visits
from odbridge.mcp.access import Caller, practice_scope, record_call
from odbridge.mcp.common import Row, ToolEnv, plain, plain_row

MAX_HISTORY = 20
"""The most recent appointments ``get_patient`` returns (the total is given)."""


def one_by_one(practices: Practices) -> list[str | None]:
    """The practice arguments to run a one-practice query with: None (all), one, or each."""
    if practices is None or isinstance(practices, str):
        return [practices]
    each: list[str | None] = [*sorted(practices)]
    return each


def visit_figures(env: ToolEnv, caller: Caller, *, practice: str | None = None) -> Row:
    """Visit figures (active patients, recall, production, ...) with definitions."""
    scope = practice_scope(env.reader, caller, practice)
    now = datetime.now()  # the practice's local time, as appointments are stored
    sets = []
    for one in one_by_one(scope):
        kpis = compute_kpis(env.reader, one, now=now)
        sets.append({"practice": one or "(all practices)", **kpis.as_json()})
    record_call(env.writer, caller, "visit_figures", arguments="", practices=scope, rows=0)
    return {"as_of_local_time": plain(now.replace(microsecond=0)), "figures": sets}


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
