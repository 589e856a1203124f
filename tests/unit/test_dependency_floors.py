"""Dependency minimums are past the known security advisories (issue 14, item 18).

A range in pyproject.toml that still admits a vulnerable release lets a fresh install, or a
resolver squeezed by another package, pick it. Each floor below is the first release with
the fix; the installed versions (what the suite runs on) must satisfy every range.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.unit

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

FIXED_IN = {
    # Range header O(n^2) DoS (CVE-2025-62727) 0.49.1; multipart DoS (CVE-2024-47874,
    # CVE-2025-54121) 0.40.0 / 0.47.2; Host header bypass (CVE-2026-48710) 1.0.1; StaticFiles
    # UNC paths on Windows (CVE-2026-48818) 1.1.0; CVE-2026-54282 / 54283 1.6.0.
    "starlette": "1.6",
    # DoS on malformed boundaries (CVE-2024-53981) 0.0.18; file write (CVE-2026-24486)
    # 0.0.22; part-header DoS (CVE-2026-42561) 0.0.27; parameter smuggling and quadratic
    # parsing (CVE-2026-53537/53538/53539) 0.0.30.
    "python-multipart": "0.0.30",
    # Lenient chunked-encoding parsing, request smuggling (CVE-2025-43859).
    "h11": "0.16",
    # Sandbox escapes (CVE-2024-56201, CVE-2024-56326, CVE-2025-27516).
    "jinja2": "3.1.6",
}


def requirements() -> dict[str, list[Requirement]]:
    """Every requirement of the package and of its extras, by name (an extra that names
    odbridge itself only gathers other extras)."""
    with PYPROJECT.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    listed = [
        *project["dependencies"],
        *(r for e in project["optional-dependencies"].values() for r in e),
    ]
    found: dict[str, list[Requirement]] = {}
    for text in listed:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name != "odbridge":
            found.setdefault(name, []).append(requirement)
    return found


def floor_of(requirement: Requirement) -> Version:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert floors, f"{requirement.name} has no minimum version"
    return max(floors)


@pytest.mark.parametrize(("name", "fixed"), FIXED_IN.items())
def test_the_minimum_is_past_the_known_advisories(name: str, fixed: str) -> None:
    listed = requirements().get(name)
    assert listed, f"{name} must be a direct dependency (or an extra's) with a minimum"
    assert all(floor_of(requirement) >= Version(fixed) for requirement in listed)


def test_the_installed_versions_satisfy_every_range() -> None:
    for name, listed in requirements().items():
        installed = version(name)
        for requirement in listed:
            assert requirement.specifier.contains(installed, prereleases=True), (name, installed)
