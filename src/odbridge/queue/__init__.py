"""Syncs as jobs of a PostgreSQL task queue (Procrastinate): many workers on many machines.

``odbridge sync --queue`` defers one job per practice (a queueing lock keeps a practice queued
once); ``odbridge worker`` runs them with the same entry point as ``odbridge sync``. Needs the
``queue`` extra (``pip install odbridge[queue]``) and a PostgreSQL store.
"""
