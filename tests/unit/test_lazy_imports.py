"""The command line starts without loading what its command does not use.

Not a timing test: it checks which modules a fresh interpreter has loaded. ``odbridge
--help`` needs Typer, Rich and the settings model, not the client, the store, the dashboard
or the simulator; the package roots load their public names on first use (odbridge._lazy).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# (pydantic is loaded: the shared options take their help text from the settings model)
HEAVY = ("httpx", "sqlalchemy", "starlette", "mcp", "faker", "odbridge.api.client")


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout))


def test_the_command_line_loads_no_library_part_until_a_command_runs() -> None:
    loaded = loaded_after("import odbridge.cli")
    assert not {name for name in HEAVY if name in loaded}
    assert not {name for name in loaded if name.startswith("odbridge.dashboard.")}


def test_importing_one_module_does_not_load_the_package_surface() -> None:
    loaded = loaded_after("import odbridge.api.pacing, odbridge.dashboard.security")
    assert "odbridge.api.client" not in loaded
    assert "odbridge.dashboard.app" not in loaded


@pytest.mark.parametrize(
    "package", ["odbridge", "odbridge.api", "odbridge.dashboard", "odbridge.export", "odbridge.mcp"]
)
def test_every_public_name_loads(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = module.nothing_here
