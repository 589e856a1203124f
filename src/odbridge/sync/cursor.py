"""The incremental cursor: where the next "changed since" read starts.

Open Dental stamps rows (``DateTStamp``) and answers (``serverDateTime``) with the practice
server's local clock, without a zone, to the second. The next cursor is the
``serverDateTime`` of the **first** page of a pass that **completed**, minus an overlap:

- the first page, because a row edited while later pages were read gets a stamp after that
  moment (reading from a later page's time would skip it);
- a completed pass, because an interrupted one may not have reached every change;
- minus an overlap, because the server's local clock can step back: a daylight-saving
  change turns it back an hour, so a row edited just after the change carries a stamp up to
  an hour *earlier* than rows edited just before; NTP corrections step it by seconds. An
  overlap of at least :data:`MIN_OVERLAP` (one hour) covers both; rows re-read in the
  window cost one request per page and are not rewritten (their digest is unchanged).

The cursor never moves backwards. A stamp that arrives with a zone is the server's wall
clock with its offset attached: the offset is dropped, not converted, because the server's
``DateTStamp`` filter compares wall-clock readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from odbridge.api.fields import API_DATETIME_FORMAT

__all__ = ["DEFAULT_OVERLAP", "MIN_OVERLAP", "Cursor", "normalise_stamp"]

MIN_OVERLAP = timedelta(hours=1)
"""The smallest safe overlap: the daylight-saving step of the server's local clock."""

DEFAULT_OVERLAP = timedelta(hours=1)


def normalise_stamp(stamp: datetime) -> datetime:
    """A server stamp as naive wall-clock time to the second (a zone is dropped)."""
    return stamp.replace(tzinfo=None, microsecond=0)


def check_overlap(overlap: timedelta) -> timedelta:
    """``overlap`` if it is safe; ValueError explaining the floor otherwise."""
    if overlap < MIN_OVERLAP:
        raise ValueError(
            f"An overlap of {overlap} is too short: it must be at least {MIN_OVERLAP} "
            "(1h). Open Dental stamps changes with the practice server's local clock, "
            "which a daylight-saving change turns back an hour; a shorter overlap would "
            "skip the changes made in that hour. Re-reading costs little: unchanged rows "
            "are not rewritten."
        )
    return overlap


@dataclass(frozen=True)
class Cursor:
    """An incremental cursor: a server wall-clock time (None before the first pass)."""

    value: datetime | None = None
    overlap: timedelta = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        check_overlap(self.overlap)
        if self.value is not None:
            object.__setattr__(self, "value", normalise_stamp(self.value))

    @classmethod
    def parse(cls, text: str | None, overlap: timedelta = DEFAULT_OVERLAP) -> Cursor:
        """A cursor from its stored text (``yyyy-MM-dd HH:mm:ss``), or an empty one."""
        if not text:
            return cls(None, overlap)
        return cls(datetime.fromisoformat(text.strip()), overlap)

    @property
    def text(self) -> str | None:
        """The value as the API's ``DateTStamp`` parameter (None when empty)."""
        return self.value.strftime(API_DATETIME_FORMAT) if self.value is not None else None

    def after_pass(self, first_page_time: datetime | None) -> Cursor:
        """The cursor once a pass whose first page came at ``first_page_time`` completed:
        that time minus the overlap, or this cursor if that would move it backwards (or if
        the pass saw no server time, e.g. it returned no rows)."""
        if first_page_time is None:
            return self
        candidate = normalise_stamp(first_page_time) - self.overlap
        if self.value is not None and candidate <= self.value:
            return self
        return Cursor(candidate, self.overlap)

    def __str__(self) -> str:
        return self.text or "(none)"
