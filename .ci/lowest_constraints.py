"""Print a pip constraints file pinning every dependency of pyproject.toml to its lower bound.

`make test-lowest` installs the project under these pins (torch and torchvision excepted: they
come as this machine provides them), so CI runs the suite on the oldest versions the project
declares as well as on the newest pip resolves. A dependency without a lower bound is an error:
an untested range is what this check exists to catch.

    python .ci/lowest_constraints.py [pyproject.toml] > constraints.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SKIP = {"torch", "torchvision"}  # the machine's own builds (Makefile: TORCH_PIN)
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)(;.*)?$")


def lower_bound(requirement: str) -> tuple[str, str, str]:
    """(name, lowest version, marker) of one requirement string such as `numpy>=2.0,<3`."""
    match = REQUIREMENT.match(requirement)
    if match is None:
        raise SystemExit(f"cannot read the requirement {requirement!r}")
    name, _, spec, marker = match.groups()
    lows = re.findall(r">=\s*([0-9][^,\s]*)", spec)
    if len(lows) != 1:
        raise SystemExit(f"{requirement!r} needs exactly one lower bound (>=) to be tested")
    return name, lows[0], (marker or "").strip()


def constraints(pyproject: Path) -> list[str]:
    """One `name==version[; marker]` line per dependency and test dependency, torch excepted."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    lines: dict[str, str] = {}
    for requirement in requirements:
        name, version, marker = lower_bound(requirement)
        if name.lower() in SKIP:
            continue
        lines[name.lower()] = f"{name}=={version}" + (f" {marker}" if marker else "")
    return sorted(lines.values(), key=str.lower)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "pyproject.toml"
    print("\n".join(constraints(path)))
