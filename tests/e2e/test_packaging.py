"""The distribution ships the provider catalog as package data.

Builds run on a copy of the sources in a temporary folder, so the work tree gets no
build/ or *.egg-info. Both use the venv's setuptools without network access.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import setuptools

REPO = Path(__file__).resolve().parents[2]
CATALOG_FILES = sorted(p.name for p in (REPO / "providers").glob("*.yaml"))


def _copy_sources(target: Path) -> Path:
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("reconciler", "providers"):
        shutil.copytree(REPO / name, target / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target / name)
    return target


def _setuptools_builds_wheels() -> bool:
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def test_catalog_is_package_data(tmp_path: Path) -> None:
    """build_py (what every wheel build runs) copies providers/*.yaml beside the code."""
    assert CATALOG_FILES, "no provider files in the repo"
    source = _copy_sources(tmp_path / "src")
    out = tmp_path / "lib"
    result = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib", str(out)],
        cwd=source, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "providers").glob("*.yaml")) == CATALOG_FILES
    assert (out / "providers" / "__init__.py").is_file()
    assert (out / "reconciler" / "py.typed").is_file()
    assert (out / "reconciler" / "cli" / "__init__.py").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not _setuptools_builds_wheels(),
                    reason="the venv's setuptools < 70.1 needs the 'wheel' package to build wheels, "
                           "and it is not installed")
def test_wheel_contains_the_catalog(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path / "src")
    dist = tmp_path / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(dist), "."],
        cwd=source, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(dist.glob("authctl-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        assert {f"providers/{name}" for name in CATALOG_FILES} <= names
        assert {"providers/__init__.py", "reconciler/__init__.py", "reconciler/py.typed"} <= names
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "Name: authctl" in metadata
    assert "Requires-Python: >=3.11" in metadata
    assert "authctl = reconciler.cli:entry" in entry_points
