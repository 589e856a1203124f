"""``--every`` as a cron expression for Procrastinate's periodic tasks.

A duration that divides its unit evenly becomes a cron line aligned on the clock (``15m`` →
every quarter hour, ``6h`` → 00:00, 06:00, ...): every worker computes the same ticks, so
the database can refuse a second defer of the same tick. A cron line is taken as it is.
"""

from __future__ import annotations

from croniter import croniter

from odbridge.sync.runner import parse_duration

__all__ = ["cron_for"]


def cron_for(every: str) -> str:
    """The cron expression of ``every``: ``"15m"`` → ``"*/15 * * * *"``; ``"30s"`` →
    ``"* * * * * */30"`` (seconds in the sixth field); ``"1d"`` → ``"0 0 * * *"``; a cron
    line (five or six fields) is returned as it is. ValueError when neither fits."""
    text = every.strip()
    if " " in text:
        if not croniter.is_valid(text):
            raise ValueError(f"'{every}' is not a valid cron expression")
        return text
    exact = parse_duration(text).total_seconds()
    seconds = int(exact)
    minutes, hours = seconds // 60, seconds // 3600
    if seconds == exact and seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds == exact and seconds % 60 == 0 and minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if seconds == exact and seconds % 3600 == 0 and hours < 24 and 24 % hours == 0:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if exact == 86400:
        return "0 0 * * *"
    raise ValueError(
        f"--every {every}: a schedule runs on the clock, so it must divide a minute, an "
        "hour or a day evenly (e.g. 30s, 5m, 15m, 1h, 6h, 1d), or be a cron line such "
        "as '0 2 * * *'"
    )
