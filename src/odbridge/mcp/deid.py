"""The Safe Harbor view the tools answer from with ``--deidentified``.

The rules are the export's (:mod:`odbridge.export.deidentify`): names, contacts and record
numbers dropped, PatNum and Guarantor as keyed pseudonyms (``patient_id``, ``family_id``,
the same as in de-identified exports made with the same key), dates as years, ZIP as ZIP3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from odbridge.export.columns import EXPORTABLE_COLUMNS
from odbridge.export.deidentify import Pseudonymizer, layout, load_or_create_key
from odbridge.store.schema import patients

Row = dict[str, Any]


class SafeHarbor:
    """Turns store rows into de-identified rows, and finds a patient by pseudonym."""

    def __init__(self, key: bytes, today: Callable[[], date] = date.today) -> None:
        self.pseudonymize = Pseudonymizer(key)
        self.today = today

    @classmethod
    def from_key_file(cls, path: Path | None = None) -> SafeHarbor:
        """With the de-identification key the exports use (made once if absent)."""
        return cls(load_or_create_key(path))

    def rows(self, rows: Sequence[Row]) -> list[Row]:
        """The de-identified form of ``rows`` (each holding ``practice`` and ``pat_num``);
        columns without a reviewed rule are dropped."""
        if not rows:
            return []
        requested = [c for c in rows[0] if c in EXPORTABLE_COLUMNS]
        plan = layout(requested, self.pseudonymize, self.today())
        names = [column.name for column in plan.columns]
        return [
            dict(zip(names, plan.transform([row.get(c) for c in plan.selected]), strict=True))
            for row in rows
        ]

    def pseudonym(self, practice: str, pat_num: int) -> str:
        """The ``patient_id`` of a patient."""
        value = self.pseudonymize(practice, pat_num)
        assert value is not None  # noqa: S101  # nosec B101 - a PatNum was given
        return value

    def find(
        self, engine: Engine, practices: Sequence[str] | None, patient_id: str
    ) -> tuple[str, int] | None:
        """(practice, PatNum) of the patient with this pseudonym, or None.

        Pseudonyms are one-way: every PatNum in the practices is hashed and compared (a few
        milliseconds per ten thousand patients).
        """
        wanted = patient_id.strip().lower()
        if len(wanted) != 32:
            return None
        query = select(patients.c.practice, patients.c.pat_num)
        if practices is not None:
            query = query.where(patients.c.practice.in_(list(practices)))
        with engine.connect() as connection:
            for practice, pat_num in connection.execute(query):
                if self.pseudonymize(practice, pat_num) == wanted:
                    return str(practice), int(pat_num)
        return None
