"""The lock files `make demo` and `make test` install from are current with pyproject.toml.

requirements/runtime.txt (dependencies + build backend), requirements/dev.txt (the same + every
extra) and requirements/uv.txt are made by `make lock`. A dependency added to, changed in or
removed from pyproject.toml without `make lock` fails here rather than on the next machine that
installs. Reads files only: no network, no install.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "requirements"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SELF = "authctl (pyproject.toml)"  # how uv's "# via" annotations name pyproject.toml


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    version: Version
    hashes: tuple[str, ...]
    via: tuple[str, ...]  # uv's annotation: what asked for it

    def applies_here(self) -> bool:
        return self.requirement.marker is None or self.requirement.marker.evaluate()


def read_lock(name: str) -> dict[NormalizedName, list[Pin]]:
    """Every pin of requirements/NAME by package (a universal lock may pin one twice, under two markers)."""
    pins: dict[NormalizedName, list[Pin]] = {}
    current: Pin | None = None
    text = (LOCKS / name).read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if current is not None:
                source = re.sub(r"^via\b", "", stripped.lstrip("#").strip()).strip()
                if source:
                    current = Pin(current.requirement, current.version, current.hashes, (*current.via, source))
                    pins[canonicalize_name(current.requirement.name)][-1] = current
            continue
        if not stripped:
            continue
        assert not stripped.startswith("-"), f"{name}: options have no place in a lock file: {stripped}"
        spec, _, options = stripped.partition(" --")
        requirement = Requirement(spec)
        hashes = tuple(re.findall(r"--hash=(sha256:[0-9a-f]{64})", "--" + options))
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==" and requirement.url is None, \
            f"{name}: {spec!r} is not pinned with =="
        assert hashes, f"{name}: {spec!r} has no --hash (pip and uv install it with --require-hashes)"
        current = Pin(requirement, Version(specifiers[0].version), hashes, ())
        pins.setdefault(canonicalize_name(requirement.name), []).append(current)
    assert pins, f"{name} pins nothing"
    return pins


def runtime_requirements() -> list[Requirement]:
    """What `make demo` needs: the dependencies and the build backend (the editable install builds offline)."""
    return [Requirement(r) for r in (*PYPROJECT["project"]["dependencies"], *PYPROJECT["build-system"]["requires"])]


def every_requirement() -> list[Requirement]:
    extras = PYPROJECT["project"].get("optional-dependencies", {})
    return runtime_requirements() + [Requirement(r) for group in extras.values() for r in group]


def direct_names(requirements: list[Requirement]) -> set[NormalizedName]:
    return {canonicalize_name(r.name) for r in requirements}


def assert_covers(lock_name: str, requirements: list[Requirement]) -> None:
    pins = read_lock(lock_name)
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        found = pins.get(canonicalize_name(requirement.name), [])
        here = [p for p in found if p.applies_here()] or found
        if not here:
            problems.append(f"{requirement} is not pinned")
        elif not any(requirement.specifier.contains(p.version, prereleases=True) for p in here):
            problems.append(f"{requirement} is pinned to {', '.join(str(p.version) for p in here)}")
        else:
            problems.extend(f"{requirement}: {missing} (what its extras pull in) is not pinned"
                            for missing in extra_requirements(requirement, here) - pins.keys())
    assert not problems, f"requirements/{lock_name} is stale, run `make lock`:\n  " + "\n  ".join(problems)


def extra_requirements(requirement: Requirement, pins: list[Pin]) -> set[NormalizedName]:
    """The packages ``name[extra]`` adds, read from the installed distribution when it is the pinned one."""
    if not requirement.extras:
        return set()
    try:
        installed = metadata.distribution(requirement.name)
    except metadata.PackageNotFoundError:
        return set()
    if Version(installed.version) not in {p.version for p in pins}:
        return set()  # another version is installed: its metadata says nothing about the pinned one
    names = set()
    for line in installed.requires or []:
        needed = Requirement(line)
        if needed.marker is not None and any(needed.marker.evaluate({"extra": e}) for e in requirement.extras):
            names.add(canonicalize_name(needed.name))
    return names


def test_runtime_lock_pins_every_dependency_and_the_build_backend() -> None:
    assert_covers("runtime.txt", runtime_requirements())


def test_dev_lock_pins_every_dependency_and_every_extra() -> None:
    assert_covers("dev.txt", every_requirement())


@pytest.mark.parametrize(("lock_name", "requirements"), [("runtime.txt", runtime_requirements),
                                                         ("dev.txt", every_requirement)])
def test_no_lock_keeps_a_dependency_pyproject_dropped(
        lock_name: str, requirements: Callable[[], list[Requirement]]) -> None:
    asked = direct_names(requirements())
    stale = sorted(name for name, pins in read_lock(lock_name).items()
                   if any(SELF in p.via for p in pins) and name not in asked)
    assert not stale, f"requirements/{lock_name} pins {stale} for pyproject.toml, which no longer asks: run `make lock`"


def test_runtime_lock_is_the_dev_lock_without_the_extras() -> None:
    """`make demo` then `make test` only adds packages: every runtime pin is the dev one, hashes too."""
    runtime, dev = read_lock("runtime.txt"), read_lock("dev.txt")
    differing = sorted(name for name, pins in runtime.items()
                       if {(p.version, p.hashes) for p in pins} != {(p.version, p.hashes) for p in dev.get(name, [])})
    assert not differing, f"runtime.txt and dev.txt pin {differing} differently: run `make lock`"
    dev_only = direct_names(every_requirement()) - direct_names(runtime_requirements())
    assert not dev_only & runtime.keys(), f"runtime.txt holds dev packages {sorted(dev_only & runtime.keys())}"


def test_uv_is_pinned_by_hash() -> None:
    assert set(read_lock("uv.txt")) == {"uv"}
