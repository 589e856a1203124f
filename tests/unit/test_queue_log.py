"""A worker's log: a job that failed for a reason odbridge words is one line, no traceback."""

from __future__ import annotations

import logging

import pytest

from odbridge.config import ConfigError
from odbridge.queue.app import install_log_filter

pytestmark = pytest.mark.unit


def job_failed(exc: BaseException, caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    install_log_filter()
    install_log_filter()  # once only
    log = logging.getLogger("procrastinate.worker")
    assert len(log.filters) == 1
    with caplog.at_level(logging.INFO, logger="procrastinate.worker"):
        log.info(
            "Job %s ended with status: Error, to retry", "odbridge.sync_practice[4]", exc_info=exc
        )
    return caplog.records[-1]


def test_a_job_that_failed_for_a_worded_reason_logs_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    record = job_failed(ConfigError("No practice 'x' in the config file.", hint="Add it."), caplog)
    assert record.exc_info is None
    assert "\n" not in caplog.text.strip()
    assert "odbridge.sync_practice[4] ended with status: Error, to retry: ConfigError: " in (
        record.getMessage()
    )
    assert "No practice 'x' in the config file." in record.getMessage()


def test_an_unexpected_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise KeyError("boom")
    except KeyError as exc:
        record = job_failed(exc, caplog)
    assert record.exc_info is not None
    assert "Traceback" in caplog.text
