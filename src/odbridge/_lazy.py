"""Package attributes loaded on first use (PEP 562).

A package's ``__init__`` that imported its whole public surface would make every import of
one small module under it (and so every ``odbridge`` command, even ``--help``) load
everything: the client, the models, the dashboard app. The packages name their public
attributes' homes instead, and list them under ``TYPE_CHECKING`` for the type checker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``homes[module]`` is loaded
    from ``module`` when first used."""
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
