"""Moved to :mod:`odbridge.store.runlog` (the dashboard reads it and may use only the store)."""

from odbridge.store.runlog import PracticeStatus, practice_statuses

__all__ = ["PracticeStatus", "practice_statuses"]
