"""Plotly figure specifications (plain JSON data) for the overview's charts.

The page carries them in a ``<script type="application/json">`` block; ``static/dashboard.js``
draws them with the plotly.js file served from ``/static/vendor``. Nothing here imports
plotly's Python package: the figures are small dictionaries.
"""

from __future__ import annotations

from typing import Any

from odbridge.dashboard.queries import AGE_BANDS, Overview

Figure = dict[str, Any]

ACCENT = "#2563eb"
PALETTE = ["#2563eb", "#db2777", "#64748b", "#16a34a", "#d97706", "#7c3aed", "#0891b2"]


def _layout(height: int = 280, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 48, "r": 12, "t": 8, "b": 40},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "showlegend": False,
        "xaxis": {"automargin": True, "fixedrange": True},
        "yaxis": {"automargin": True, "fixedrange": True, "gridcolor": "#e5e7eb"},
    }
    layout.update(extra)
    return layout


def _bar(labels: list[str], values: list[int], *, horizontal: bool = False) -> Figure:
    if horizontal:
        trace = {
            "type": "bar",
            "orientation": "h",
            "y": list(reversed(labels)),
            "x": list(reversed(values)),
            "marker": {"color": ACCENT},
            "hovertemplate": "%{y}: %{x:,}<extra></extra>",
        }
        height = max(160, 28 * len(labels) + 50)
        return {
            "data": [trace],
            "layout": _layout(
                height,
                xaxis={"automargin": True, "fixedrange": True, "gridcolor": "#e5e7eb"},
                yaxis={"automargin": True, "fixedrange": True, "type": "category"},
            ),
        }
    trace = {
        "type": "bar",
        "x": labels,
        "y": values,
        "marker": {"color": ACCENT},
        "hovertemplate": "%{x}: %{y:,}<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _layout(xaxis={"automargin": True, "fixedrange": True, "type": "category"}),
    }


def overview_figures(ov: Overview) -> dict[str, Figure]:
    """Every chart of the overview page, by name."""
    figures: dict[str, Figure] = {}
    statuses = [(name, n) for name, n in ov.statuses.items() if n]
    figures["status"] = _bar([s for s, _ in statuses], [n for _, n in statuses])
    months = ov.new_by_month
    labels = [m.strftime("%Y-%m") for m, _ in months]
    figures["new_patients"] = {
        "data": [
            {
                "type": "bar",
                "x": labels,
                "y": [n for _, n in months],
                "marker": {"color": ACCENT},
                "hovertemplate": "%{x}: %{y:,} new<extra></extra>",
            }
        ],
        "layout": _layout(
            xaxis={
                "type": "category",
                "automargin": True,
                "fixedrange": True,
                "tickmode": "array",
                "tickvals": labels[::3],
                "ticktext": [m.strftime("%b %Y") for m, _ in months][::3],
            }
        ),
    }
    bands = [label for label, _, _ in AGE_BANDS]
    figures["age_gender"] = {
        "data": [
            {
                "type": "bar",
                "name": gender,
                "x": bands,
                "y": counts,
                "marker": {"color": PALETTE[i % len(PALETTE)]},
                "hovertemplate": f"{gender}, %{{x}}: %{{y:,}}<extra></extra>",
            }
            for i, (gender, counts) in enumerate(ov.bands_by_gender().items())
        ],
        "layout": _layout(
            barmode="group",
            showlegend=True,
            legend={"orientation": "h", "y": 1.12, "x": 0},
            margin={"l": 48, "r": 12, "t": 28, "b": 40},
        ),
    }
    figures["cities"] = _bar(
        [c for c, _ in ov.top_cities], [n for _, n in ov.top_cities], horizontal=True
    )
    figures["zips"] = _bar(
        [z for z, _ in ov.top_zips], [n for _, n in ov.top_zips], horizontal=True
    )
    active = ov.active or 1
    completeness = ov.completeness()
    figures["completeness"] = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": list(reversed(completeness)),
                "x": [round(100 * n / active, 1) for n in reversed(completeness.values())],
                "text": [f"{100 * n / active:.0f}%" for n in reversed(completeness.values())],
                "textposition": "auto",
                "marker": {"color": ACCENT},
                "hovertemplate": "%{y}: %{x}%<extra></extra>",
            }
        ],
        "layout": _layout(
            200,
            xaxis={
                "range": [0, 100],
                "ticksuffix": "%",
                "fixedrange": True,
                "gridcolor": "#e5e7eb",
            },
            yaxis={"automargin": True, "fixedrange": True},
        ),
    }
    methods = ov.contact_methods()
    ordered = sorted(methods.items(), key=lambda item: -item[1])
    figures["contact"] = _bar([m for m, _ in ordered], [n for _, n in ordered], horizontal=True)
    providers = ov.by_provider()
    figures["providers"] = _bar([p for p, _ in providers], [n for _, n in providers])
    clinics = ov.by_clinic()
    figures["clinics"] = _bar([c for c, _ in clinics], [n for _, n in clinics])
    return figures
