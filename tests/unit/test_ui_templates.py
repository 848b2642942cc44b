"""The dashboard's templates and static files: they compile, they ship, and they hold no inline code.

The Content-Security-Policy allows scripts and styles only from the server's own files, so
an inline ``<script>``, ``style=`` attribute or ``on...=`` handler in a template would be
blocked in the browser (a console error, a broken page): none may exist. Every file must
match a ``package-data`` pattern of pyproject.toml, or an installed authctl would lack it.
"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import reconciler.ui
from reconciler.ui.templating import make_environment

UI = Path(reconciler.ui.__file__).parent
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
TEMPLATES = sorted(p.name for p in (UI / "templates").glob("*.html"))


def test_every_template_and_static_file_is_package_data() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["reconciler.ui"]
    shipped = [p for p in UI.rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert {p.relative_to(UI).parts[0] for p in shipped} == {"templates", "static"}
    missing = [str(p.relative_to(UI)) for p in shipped
               if not any(fnmatch(p.relative_to(UI).as_posix(), pattern) for pattern in patterns)]
    assert missing == []


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_compile_and_hold_no_inline_code(name: str) -> None:
    make_environment().get_template(name)  # a syntax error fails here
    source = (UI / "templates" / name).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", source), "inline <script>"
    assert not re.search(r"\sstyle=|<style", source), "inline style"
    assert not re.search(r"\son[a-z]+=", source), "inline event handler"
    assert "|safe" not in source and "Markup" not in source, "data marked safe"


def test_the_script_makes_no_request_and_writes_no_html() -> None:
    script = (UI / "static" / "ui.js").read_text()
    for forbidden in ("fetch(", "XMLHttpRequest", "innerHTML", "eval(", "document.write"):
        assert forbidden not in script
