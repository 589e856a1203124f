"""The queue's store URL: anything but a PostgreSQL URL is one sentence, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.queue.migrations import QueueError, conninfo

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("url", ["/srv/odbridge/store.db", "db.internal", "sqlite:///x.db"])
def test_a_url_that_is_not_postgresql_is_refused_with_the_form_to_use(url: str) -> None:
    with pytest.raises(QueueError, match=r"postgresql\+psycopg://USER@HOST/DB"):
        conninfo(url)


@pytest.mark.parametrize(
    "command", [["queue", "migrate"], ["worker", "--until-empty"], ["sync", "--all", "--queue"]]
)
def test_a_file_path_given_as_the_queues_store_is_one_sentence(
    command: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[practices.p1]\ndeveloper_key = "d"\ncustomer_key = "c"\n')
    config.chmod(0o600)
    env = {"ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
    result = CliRunner().invoke(app, [*command, "--db", "/srv/odbridge/store.db"], env=env)
    assert result.exit_code == 2, result.output
    assert "is not a database URL" in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_queue_database_is_one_sentence_saying_what_to_check() -> None:
    # port 9 on this machine: nothing listens (the discard service is not run)
    url = "postgresql+psycopg://odbridge@127.0.0.1:9/odbridge"
    result = CliRunner().invoke(app, ["queue", "migrate", "--db", url], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "Cannot connect to the queue's database: check the host, port and database" in said
    assert "Traceback" not in said
