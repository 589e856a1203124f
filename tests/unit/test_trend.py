"""The overview's trend line under a figure: only the comparisons that can be made."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from odbridge.dashboard.templating import environment


def trend(kind: str, value: float | None, previous: float | None, year_ago: float | None) -> str:
    macro = environment().get_template("_trend.html").module.trend  # type: ignore[attr-defined]
    figure = SimpleNamespace(kind=kind, value=value, previous_month=previous, last_year=year_ago)
    return str(macro(figure))


@pytest.mark.parametrize(
    ("figure", "shown"),
    [
        (("money", 110, 100, 50), "+10% vs last month · +120% vs a year ago"),
        (("percent", 5, 7, 5), "-2 pts vs last month · +0 pts vs a year ago"),
        # nothing to compare with a year ago (0 while the visits still load): no dangling "·"
        (("money", 100, 100, 0), "+0% vs last month"),
        (("money", 100, 0, 80), "+25% vs a year ago"),
        (("percent", 5, None, 4), "+1 pts vs a year ago"),
    ],
)
def test_each_comparison_that_can_be_made_is_shown_once(
    figure: tuple[str, float, float | None, float | None], shown: str
) -> None:
    assert trend(*figure) == f'<span class="trend">{shown}</span>'


@pytest.mark.parametrize(
    "figure", [("money", None, 1, 1), ("money", 5, 0, 0), ("money", 5, None, None)]
)
def test_no_comparison_no_trend_line(figure: tuple[str, float | None, float, float]) -> None:
    assert trend(*figure) == ""
