"""The soak tests' marker (also worth adding to pyproject's list; registering twice is harmless)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "soak: long-running fault soak (short by default; ODBRIDGE_SOAK_ROUNDS makes it long)",
    )
