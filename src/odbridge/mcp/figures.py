"""The figure tools: the overview, the data-quality lists, sync freshness.

Each figure carries the key of its definition (``odbridge://definitions/<key>``). Figures
are counts over the store, computed by the dashboard's queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from odbridge.dashboard import queries
from odbridge.mcp.access import Caller, practice_scope, record_call
from odbridge.mcp.common import Row, ToolEnv, clamp_page, paging, plain, plain_row, scope_key
from odbridge.mcp.definitions import DEFINITIONS_URI, FIGURES
from odbridge.mcp.patients import _shown

QualityCheck = Literal["duplicates", "phones", "no_phone", "emails", "guarantor"]


def _figure(value: Any, key: str) -> Row:
    return {"value": value, "definition": FIGURES[key], "uri": f"{DEFINITIONS_URI}/{key}"}


def _pairs(pairs: list[tuple[str, int]]) -> dict[str, int]:
    return dict(pairs)


def overview(env: ToolEnv, caller: Caller, *, practice: str | None = None) -> Row:
    """The overview figures, each with its definition."""
    scope = practice_scope(env, caller, practice)
    today = env.today()
    ov, behind = env.cached(
        ("overview", scope_key(scope), today),
        lambda: queries.overview(env.reader, scope, today=today, sync_every=env.sync_every),
    )
    bands = ov.bands_by_gender()
    labels = [label for label, _low, _high in queries.AGE_BANDS]
    figures: Row = {
        "total_patients": _figure(ov.total, "total_patients"),
        "active_patients": _figure(ov.active, "active_patients"),
        "statuses": _figure(ov.statuses, "statuses"),
        "new_this_month": _figure(ov.new_this_month(), "new_this_month"),
        "new_by_month": _figure(
            {month.strftime("%Y-%m"): n for month, n in ov.new_by_month}, "new_by_month"
        ),
        "genders": _figure(ov.genders(), "genders"),
        "age_bands": _figure(
            {
                "bands": labels,
                "by_gender": bands,
                "total": [sum(column) for column in zip(*bands.values(), strict=True)],
                "age_unknown": ov.age_unknown(),
            },
            "age_bands",
        ),
        "completeness": _figure(ov.completeness(), "completeness"),
        "contact_methods": _figure(ov.contact_methods(), "contact_methods"),
        "by_provider": _figure(_pairs(ov.by_provider()), "by_provider"),
        "by_clinic": _figure(_pairs(ov.by_clinic()), "by_clinic"),
        "balances": _figure(
            {k: plain(v) for k, v in ov.balances().items()},
            "balances",
        ),
        "birthdays_this_week": _figure(ov.birthdays_total, "birthdays_this_week"),
    }
    if not env.deidentified:  # cities and 5-digit ZIPs are identifiers under Safe Harbor
        figures["top_cities"] = _figure(_pairs(ov.top_cities), "top_cities")
        figures["top_zips"] = _figure(_pairs(ov.top_zips), "top_zips")
    record_call(env.writer, caller, "overview", arguments="", practices=scope, rows=0)
    return {
        "practice": practice_label_or_all(scope),
        "today": today.isoformat(),
        "figures": figures,
        "freshness": [_freshness_row(f) for f in ov.freshness],
        "recomputing": behind,
        "deidentified": env.deidentified,
    }


def practice_label_or_all(scope: object) -> str:
    if scope is None:
        return "(all practices)"
    if isinstance(scope, str):
        return scope
    return ", ".join(sorted(scope))  # type: ignore[call-overload]


def _freshness_row(f: queries.Freshness) -> Row:
    now = datetime.now(UTC).replace(tzinfo=None)
    row = plain_row(
        {
            "practice": f.practice,
            "patients": f.patients,
            "missing": f.missing,
            "last_mode": f.last_mode,
            "last_outcome": f.last_outcome,
            "last_started_utc": f.last_started,
            "last_finished_utc": f.last_finished,
            "last_ok_utc": f.last_ok,
            "last_error": f.last_error,
            "full_load_unfinished": f.full_in_progress,
            "next_expected_utc": f.next_expected,
        }
    )
    row["minutes_since_last_ok"] = (
        int((now - f.last_ok).total_seconds() // 60) if f.last_ok is not None else None
    )
    return row


def sync_status(env: ToolEnv, caller: Caller, *, practice: str | None = None) -> Row:
    """How current each practice's data is."""
    scope = practice_scope(env, caller, practice)
    rows = [
        _freshness_row(f)
        for f in queries.freshness(
            env.reader,
            scope,
            sync_every=env.sync_every,
        )
    ]
    record_call(env.writer, caller, "sync_status", arguments="", practices=scope, rows=0)
    return {
        "practices": rows,
        "definition": FIGURES["freshness"],
        "uri": f"{DEFINITIONS_URI}/freshness",
    }


def data_quality(
    env: ToolEnv,
    caller: Caller,
    *,
    check: QualityCheck | None = None,
    scope: Literal["active", "all"] = "active",
    practice: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Row:
    """How many patients each check flags, and one page of one check's patients."""
    practices = practice_scope(env, caller, practice)
    keys, behind = env.cached(
        ("quality", scope_key(practices), scope, env.today()),
        lambda: queries.quality_keys(env.reader, practices, scope),
    )
    counts = {
        name: {
            "patients": len(keys[name]),
            "label": label,
            "definition": FIGURES[f"quality.{name}"],
        }
        for name, label in queries.QUALITY_CHECKS.items()
    }
    result: Row = {
        "scope": scope,
        "checks": counts,
        "recomputing": behind,
        "deidentified": env.deidentified,
    }
    audited: list[tuple[str, int]] = []
    arguments = f"scope={scope}"
    if check is not None:
        page, per_page = clamp_page(page, per_page)
        chosen = keys[check]
        part = chosen[(page - 1) * per_page : page * per_page]
        rows = queries.rows_for(env.reader, part)
        audited = [(str(r["practice"]), int(r["pat_num"])) for r in rows]
        result.update(check=check, patients=_shown(env, rows))
        result.update(paging(len(chosen), page, per_page, len(rows)))
        arguments = f"check={check} scope={scope} page={page}"
    record_call(
        env.writer,
        caller,
        "data_quality",
        arguments=arguments,
        practices=practices,
        rows=len(audited),
        pat_nums=audited,
    )
    return result
