"""Write requirements/lowest.txt: pip constraints pinning every runtime dependency and extra of
pyproject.toml to the lowest version it allows (its ``>=`` floor).

CI installs the test stack under these constraints (requirements/test-lowest.txt) and runs the
unit and SSRF tests on it, so a floor that the code has outgrown fails there instead of in a
user's project. Regenerate with ``make requirements-lowest``; tests/test_lowest_versions.py
checks the file is current.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "# The lowest versions pyproject.toml allows, as pip constraints (used by test-lowest.txt).\n"
    "# Generated from pyproject.toml: make requirements-lowest\n"
)
#: A PEP 508 requirement as pyproject.toml writes them: name, optional [extras], specifiers.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")
_FLOOR = re.compile(r"^>=\s*([0-9][0-9A-Za-z.]*)$")


def floors(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Each dependency's name and its ``>=`` floor; a dependency without one is an error."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    found: dict[str, str] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise ValueError(f"cannot read the requirement {requirement!r}")
        name, specifiers = match.groups()
        lows = [
            floor.group(1)
            for specifier in specifiers.split(",")
            if (floor := _FLOOR.match(specifier.strip()))
        ]
        if len(lows) != 1:
            raise ValueError(f"{requirement!r} needs exactly one '>=' floor")
        found[name] = lows[0]
    return found


def constraints(pyproject: Path = ROOT / "pyproject.toml") -> str:
    pins = sorted(floors(pyproject).items(), key=lambda item: item[0].lower())
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins)


if __name__ == "__main__":
    sys.stdout.write(constraints())
