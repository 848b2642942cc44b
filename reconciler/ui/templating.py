"""The dashboard's Jinja2 environment: templates from the package, everything escaped, filters for data.

Labels, descriptions, job names, health reasons and plan text are typed by people in a
platform's UI or in a stranger's pull request: hostile input. The environment autoescapes
every template (``.html``; the SVG charts are inside them, so their text is escaped too)
and is strict about undefined names, so a typo in a template fails a test instead of
printing nothing. The ``text`` filter applies the terminal rule of render/escape.py first:
control, bidi and invisible characters become visible escapes (``\\u202e``), so a label
cannot reverse what a reviewer reads on the page either; escaping for HTML then follows
as for any value. Templates never mark data safe (``|safe`` or ``Markup``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reconciler.render.columns import relative_time
from reconciler.render.escape import terminal_text


def text(value: Any) -> str:
    """Data as text: invisible and control characters shown as escapes (then autoescaped for HTML)."""
    return "" if value is None else terminal_text(value)


def when(value: datetime | None) -> str:
    """``2026-11-25 21:46 UTC``; ``-`` for none."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def short_when(value: datetime | None) -> str:
    """``2026-11-25 21:46``, for table cells (the column header says UTC): a 1280-px table keeps every column."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def plural(count: int, word: str) -> str:
    """``1 request``, ``2 requests``."""
    return word if count == 1 else f"{word}s"


def iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def ago(value: datetime | None, now: datetime) -> str:
    """``3d ago``, ``in 2d``, ``just now`` (render/columns.relative_time)."""
    return relative_time(value, now) if value else "-"


def number(value: int) -> str:
    return f"{value:,}"


def make_environment() -> Environment:
    env = Environment(loader=PackageLoader("reconciler.ui", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "svg"), default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(text=text, when=when, short_when=short_when, iso=iso, number=number, plural=plural)
    env.globals.update(ago=ago)
    return env


__all__ = ["make_environment"]
