"""The store's migrations form one line, 2 … SCHEMA_VERSION, each version claimed once.

Versions are whole numbers (docs/development.md): two branches that each add "the next"
migration both claim the same number. Merged, a dict literal with the key twice keeps only
the last function (the other migration silently never runs), or SCHEMA_VERSION and the
keys disagree. These checks fail with a message that says which version and what to do.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections import Counter

import pytest

from odbridge.store import db
from odbridge.store.schema import SCHEMA_VERSION

pytestmark = pytest.mark.unit

RENUMBER = (
    "two changes claim the same schema version: give the later one the next free number, "
    "bump SCHEMA_VERSION in store/schema.py to match, and fix its docstring "
    "(docs/development.md, 'Changing the store')"
)


def migration_keys_as_written() -> list[int]:
    """The keys of the ``MIGRATIONS = {...}`` literal in store/db.py, repeats included (the
    dict itself keeps one entry per key, so repeats show only in the source)."""
    tree = ast.parse(inspect.getsource(db))
    for node in ast.walk(tree):
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Assign):
            targets = node.targets
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == "MIGRATIONS" for t in targets)
        if named and isinstance(node.value, ast.Dict):
            return [ast.literal_eval(key) for key in node.value.keys if key is not None]
    raise AssertionError("store/db.py has no MIGRATIONS = {...} literal")


def test_no_version_is_claimed_twice_in_the_source() -> None:
    repeats = sorted(v for v, n in Counter(migration_keys_as_written()).items() if n > 1)
    assert not repeats, f"MIGRATIONS lists version(s) {repeats} more than once: {RENUMBER}"


def test_every_version_up_to_schema_version_has_one_migration() -> None:
    expected = list(range(2, SCHEMA_VERSION + 1))
    assert sorted(db.MIGRATIONS) == expected, (
        f"SCHEMA_VERSION is {SCHEMA_VERSION}, so MIGRATIONS needs exactly the versions "
        f"{expected}; it has {sorted(db.MIGRATIONS)}: {RENUMBER}"
    )


def test_no_migration_is_registered_under_two_versions() -> None:
    functions = Counter(f.__name__ for f in db.MIGRATIONS.values())
    twice = sorted(name for name, n in functions.items() if n > 1)
    assert not twice, f"{twice} registered under more than one version: {RENUMBER}"


def test_each_migration_says_which_version_it_makes() -> None:
    """A migration's docstring starts ``N:``, the version it upgrades to: a renumbered
    migration whose text still names the old number was renumbered half-way."""
    for version, function in db.MIGRATIONS.items():
        match = re.match(r"(\d+):", inspect.getdoc(function) or "")
        claimed = int(match.group(1)) if match else None
        assert claimed == version, (
            f"{function.__name__} is MIGRATIONS[{version}] but its docstring "
            f"{'claims ' + str(claimed) if claimed else 'does not start with its version'}: "
            f"{RENUMBER}"
        )
