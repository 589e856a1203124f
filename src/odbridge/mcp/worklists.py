"""The worklist tool: lists of patients to contact, paged, with how they prefer to be reached.

Birthdays come from the overview's query; recall, unscheduled treatment, reactivation and
tomorrow's unconfirmed appointments from the dashboard's visit worklists. Each list is
computed whole, then only the page's patients are read. Worklists exist to reach people, so
the de-identified server has none.
"""

from __future__ import annotations

from typing import Any, Literal

from odbridge.dashboard import queries
from odbridge.dashboard.queries.sql import scope as patient_scope
from odbridge.dashboard.queries.visit_lists import WORKLISTS as VISIT_WORKLISTS
from odbridge.dashboard.queries.visit_lists import worklist_entries, worklist_rows
from odbridge.mcp.access import AccessError, Caller, practice_scope, record_call
from odbridge.mcp.common import Row, ToolEnv, clamp_page, paging, plain_row, scope_key
from odbridge.mcp.definitions import FIGURES
from odbridge.mcp.visits import moment, summary

WorklistName = Literal[
    "birthdays_this_week", "recall", "unscheduled", "reactivation", "unconfirmed"
]

BIRTHDAYS = "birthdays_this_week"


def descriptions() -> dict[str, str]:
    """Each worklist's name and what it holds."""
    listed = {BIRTHDAYS: FIGURES[BIRTHDAYS]}
    listed.update({name: w.definition for name, w in VISIT_WORKLISTS.items() if w.action})
    return listed


def worklist(
    env: ToolEnv,
    caller: Caller,
    *,
    name: str,
    practice: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Row:
    """One page of a worklist."""
    listed = descriptions()
    if name not in listed:
        raise AccessError(f"Unknown worklist; use one of: {', '.join(listed)}.")
    if env.deidentified:
        raise AccessError(
            "This server is de-identified: worklists are for reaching patients and are not "
            "available. The figures tools have the counts."
        )
    scope = practice_scope(env, caller, practice)
    page, per_page = clamp_page(page, per_page)
    entries = _birthdays(env, scope) if name == BIRTHDAYS else _visit_entries(env, name, scope)
    part = entries[(page - 1) * per_page : page * per_page]
    rows = part if name == BIRTHDAYS else worklist_rows(env.reader, part)
    shown = [plain_row(r) for r in rows]
    record_call(
        env.writer,
        caller,
        "worklist",
        arguments=f"name={name} page={page}",
        practices=scope,
        rows=len(shown),
        pat_nums=[(str(r["practice"]), int(r["pat_num"])) for r in rows],
    )
    return {
        "worklist": name,
        "definition": listed[name],
        "patients": shown,
        **paging(len(entries), page, per_page, len(shown)),
    }


def _birthdays(env: ToolEnv, scope: queries.Practices) -> list[Any]:
    with env.reader.connect() as connection:
        found = queries.week_birthdays(connection, patient_scope(scope), env.today())
    return [
        {
            "practice": b.practice,
            "pat_num": b.pat_num,
            "lname": b.lname,
            "fname": b.fname,
            "preferred": b.preferred,
            "birthday": b.day,
            "turns": b.turns,
        }
        for b in found
    ]


def _visit_entries(env: ToolEnv, name: str, scope: queries.Practices) -> list[Any]:
    at = moment()
    entries: list[Any] = env.cached(
        ("worklist", name, scope_key(scope), at.date(), at.hour),
        lambda: worklist_entries(env.reader, name, scope, now=at, summary=summary(env, scope, at)),
    )[0]
    return entries
