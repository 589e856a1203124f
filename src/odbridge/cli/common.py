"""What every command shares: the consoles, the one error printer, logging, shared options.

Messages are printed as plain text (never parsed as Rich markup): a message may quote a
value such as ``[practices.main]`` and must print exactly as written.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Annotated, Unpack

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from odbridge.config import Mode, setting_help

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from odbridge.config import PracticeProfile, SettingArgs
    from odbridge.errors import OdbridgeError

console = Console(stderr=True)
"""Standard error: progress, outcomes, warnings and errors (stdout may carry data)."""


def out() -> Console:
    """Standard output, for the tables a command exists to print."""
    return Console()


# -- shared options (declared once; every command uses these) -------------------------------
DbOption = Annotated[
    str | None, typer.Option(help="Store URL (default: a SQLite file; ODBRIDGE_DB).")
]
PracticeOption = Annotated[
    str | None, typer.Option("--practice", "-p", help="Practice name in the config.")
]
BaseUrlOption = Annotated[str | None, typer.Option(help=setting_help("base_url"))]
ModeOption = Annotated[Mode | None, typer.Option(help=setting_help("mode"))]


# -- output --------------------------------------------------------------------------------
def record_grid(*, label_width: int | None = None) -> Table:
    """Two columns, a label and its text, that fit 80 columns and read well in a log: the
    text wraps (a long word folds onto the next line, never cut off with an ellipsis)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, min_width=label_width)
    grid.add_column(overflow="fold")
    return grid


def error(message: str, *, label: str = "error") -> None:
    """Print ``label: message`` on standard error; the message is plain text."""
    console.print(Text.assemble((f"{label}:", "red"), " ", message))


def warn(message: str) -> None:
    """Print ``warning: message`` on standard error; the message is plain text."""
    console.print(Text.assemble(("warning:", "yellow"), " ", message))


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print one clear sentence and return the exit to raise (2: bad input or configuration)."""
    error(message)
    return typer.Exit(code=code)


def exit_code_for(error: OdbridgeError) -> int:
    """1 when Open Dental's API failed; 2 for bad input or configuration."""
    from odbridge.api.errors import OpenDentalError

    return 1 if isinstance(error, OpenDentalError) else 2


EXTRAS = {
    "faker": "simulator",
    "pyarrow": "export",
    "xlsxwriter": "export",
    "mcp": "mcp",
    "starlette": "dashboard",
    "uvicorn": "dashboard",
    "jinja2": "dashboard",
    "itsdangerous": "dashboard",
    "multipart": "dashboard",
    "plotly": "dashboard",
    "procrastinate": "queue",
}
"""Which extra brings each optional library (``pip install 'odbridge[EXTRA]'``)."""


COMMAND_EXTRAS = {
    "simulate": "simulator",
    "demo": "all",
    "serve": "dashboard",
    "mcp": "mcp",
    "worker": "queue",
    "queue": "queue",
}
"""The extra a command needs whole (its libraries overlap with other extras')."""


def extra_hint(extra: str, needs: str = "This command", missing: str = "") -> str:
    """The sentence that says which extra to install."""
    others = "" if extra == "all" else " (or 'odbridge[all]' for everything)"
    why = f"; {missing} is missing" if missing else ""
    return (
        f"{needs} needs an optional part of odbridge: pip install 'odbridge[{extra}]'{others}{why}."
    )


def missing_extra(error: ModuleNotFoundError, command: str | None = None) -> str | None:
    """What to install when ``error`` is a missing optional library, else None."""
    top = (error.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    return extra_hint(COMMAND_EXTRAS.get(command or "", EXTRAS[top]), missing=top)


def require_extra(extra: str, *modules: str, needs: str) -> None:
    """Exit 2 with the install line unless every one of ``modules`` is installed."""
    import importlib.util

    if any(importlib.util.find_spec(module) is None for module in modules):
        raise fail(extra_hint(extra, needs))


def setup_logging(level: str = "INFO") -> None:
    """Log lines on standard error; httpx's one line per request is left out."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.captureWarnings(True)  # unknown enum values reach the log


# -- the store and the practice settings ----------------------------------------------------
def open_store(db: str | None) -> Engine:
    """The store at ``db`` (default: the configured one), or exit 2 with the reason."""
    from odbridge.store.db import create_store_engine

    return create_store_engine(db)


def load_profile(
    practice: str | None, *, keys: bool = False, **settings: Unpack[SettingArgs]
) -> PracticeProfile:
    """The practice's settings (options given as ``settings`` win); with ``keys``, both keys
    must be set (else exit 2)."""
    from odbridge.config import resolve_profile

    profile = resolve_profile(practice, **settings)
    if keys:
        profile.require_keys()
    return profile


def load_profiles(practice: str | None, all_practices: bool) -> list[PracticeProfile]:
    """One practice (with its keys), or with ``all_practices`` every one in the config file."""
    from odbridge.config import ConfigError, load_settings, resolve_profile

    if all_practices:
        names = sorted(load_settings().practices)
        if not names:
            raise ConfigError(
                "--all needs practices in the config file.",
                "Add [practices.NAME] tables to it (see `odbridge config show`).",
            )
        return [resolve_profile(name) for name in names]
    return [load_profile(practice, keys=True)]
