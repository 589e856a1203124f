"""`odbridge queue migrate`: Procrastinate's schema created, then upgraded migration by
migration, ending identical to a schema created by the installed Procrastinate."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import procrastinate
import psycopg
import pytest
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.queue.migrations import available_migrations, conninfo, migration_version
from tests.helpers import PG_URL
from tests.integration.test_queue import one_line

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

CATALOG = """
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v')
   AND c.relname LIKE 'procrastinate%%'
UNION ALL
SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
       || md5(regexp_replace(replace(pg_get_functiondef(p.oid), n.nspname || '.', ''),
                             '\\s+', '', 'g'))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema()
UNION ALL
SELECT 'index ' || indexname || ' ' || replace(indexdef, schemaname || '.', '')
  FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL
SELECT 'type ' || t.typname || ' ' || coalesce((SELECT string_agg(e.enumlabel, ','
       ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = current_schema() AND t.typtype = 'e'
UNION ALL
SELECT 'trigger ' || tgname || ' ' || replace(pg_get_triggerdef(t.oid), n.nspname || '.', '')
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND NOT t.tgisinternal
"""


def catalog(url: str) -> list[str]:
    """Every table column, function body (whitespace aside), index, enum and trigger of
    the queue, as text."""
    with psycopg.connect(conninfo(url)) as connection:
        return sorted(str(row[0]) for row in connection.execute(CATALOG).fetchall())


@pytest.fixture
def new_schema() -> Iterator[Callable[[], str]]:
    """Store URLs on fresh PostgreSQL schemas, made on demand, dropped after the test."""
    made: list[str] = []

    def new() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(conninfo(PG_URL), autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{name}"')
        made.append(name)
        return f"{PG_URL}?options=-csearch_path%3D{name}"

    yield new
    with psycopg.connect(conninfo(PG_URL), autocommit=True) as connection:
        for name in made:
            connection.execute(f'DROP SCHEMA "{name}" CASCADE')


def migrate(url: str, *extra: str) -> str:
    result = CliRunner().invoke(app, ["queue", "migrate", "--db", url, *extra])
    assert result.exit_code == 0, result.output
    return one_line(result.output)


def test_an_older_queue_schema_is_upgraded_to_the_installed_procrastinates(
    new_schema: Callable[[], str],
) -> None:
    fresh_url, old_url = new_schema(), new_schema()
    installed = version("procrastinate")
    newest = available_migrations()[-1]
    level = ".".join(str(n) for n in migration_version(newest))

    created = migrate(fresh_url)
    assert (
        f"Queue schema created; the store has the schema of the installed Procrastinate "
        f"{installed}, whose newest change came with {level} (migration {newest})"
    ) in created
    assert "Queue schema up to date" in migrate(fresh_url)

    # a store left at Procrastinate 3.2's schema by workers not upgraded yet
    assert "Procrastinate 3.2.0's schema" in migrate(old_url, "--to", "3.2")
    later = [m for m in available_migrations() if migration_version(m) > (3, 2, 0)]
    assert later, "the installed Procrastinate has migrations after 3.2"
    worker = CliRunner().invoke(
        app, ["worker", "--until-empty", "--db", old_url], env={**os.environ, "COLUMNS": "200"}
    )
    assert worker.exit_code == 2
    assert "Stop the workers, run `odbridge queue migrate --db URL` once" in one_line(worker.output)

    upgraded = migrate(old_url)
    assert f"Queue schema upgraded: {len(later)} migrations applied" in upgraded
    assert all(f"applied {name}" in upgraded for name in later)
    assert catalog(old_url) == catalog(fresh_url)
    assert "Queue schema up to date" in migrate(old_url)


def test_a_queue_schema_made_before_odbridge_recorded_migrations_is_adopted(
    new_schema: Callable[[], str],
) -> None:
    url = new_schema()
    queue = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(url)))
    with queue.open():
        queue.schema_manager.apply_schema()  # as `queue migrate` did before its record
    adopted = migrate(url)
    assert "(an existing schema, recorded as Procrastinate's >= 3.5 schema)" in adopted
    assert "applied" not in adopted
    assert "Queue schema up to date" in migrate(url)


@pytest.mark.parametrize(
    "command",
    [["queue", "migrate"], ["worker", "--until-empty"], ["sync", "--all", "--queue"], ["status"]],
)
def test_a_store_url_naming_a_schema_that_does_not_exist_is_one_sentence(
    command: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[practices.p1]\ndeveloper_key = "d"\ncustomer_key = "c"\n')
    config.chmod(0o600)
    url = f"{PG_URL}?options=-csearch_path%3Dt_missing_{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
    result = CliRunner().invoke(app, [*command, "--db", url], env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "does not exist" in one_line(result.output)
    assert "CREATE SCHEMA" in one_line(result.output)
