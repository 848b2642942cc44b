"""Views for `authctl status`, `authctl show` and `authctl platform ... list` (the platform dashboard's fields).

Every cell and title is a rich ``Text`` built by :func:`cell`, never a string: rich
would parse a string as markup, so a label such as ``[/]`` would crash the command and
``[link=...]`` would add a link. Control and invisible characters are shown as escapes
(render/escape.py).

The views fit the terminal they are printed on (render/columns.py): one line a row,
long labels and descriptions cut with ``…`` and never a word folded across lines, short
dates (``2026-11-25 21:46``; ``3d ago`` or the day when narrow, given ``now``), the least
useful columns hidden on narrow terminals. ``wide=True`` shows everything whole with full
timestamps; print a wide view with ``console.print(view, soft_wrap=True)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import RenderableType
from rich.text import Text

from reconciler.live import RequestCounts
from reconciler.render.columns import (
    GAP,
    Column,
    FittedTable,
    compact_time,
    cut,
    full_time,
    pad,
    short_time,
    wrap,
)
from reconciler.render.escape import terminal_text
from reconciler.view_rows import AuthorizationRow, JobRow
from reconciler.vocabulary import Health

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions

HEALTH_STYLE = {Health.HEALTHY: "green", Health.UNHEALTHY: "bold red", Health.UNKNOWN: "yellow"}
DESCRIPTION_LINES = 3  # `show` wraps a description over this many lines at most (unless wide)


def cell(value: Any, style: str = "") -> Text:
    """A table cell or title holding data: escaped for the terminal, never read as markup."""
    return Text(terminal_text(value), style=style)


def _health(row: AuthorizationRow) -> Text:
    text = cell(str(row.health).capitalize(), style=HEALTH_STYLE.get(row.health, ""))
    if row.health_reason:
        text.append(terminal_text(f" ({row.health_reason})"))
    return text


def _date_column(header: str, values: Sequence[datetime | None], now: datetime | None, hide: int) -> Column:
    return Column(header, [Text(short_time(v)) for v in values],
                  compact_cells=[Text(compact_time(v, now)) for v in values],
                  wide_cells=[Text(full_time(v)) for v in values], hide=hide)


def status_table(rows: list[AuthorizationRow], *, wide: bool = False, now: datetime | None = None) -> RenderableType:
    """Every authorization, one line each; ``now`` (aware UTC) lets narrow terminals show ``3d ago``."""
    if not rows:
        return Text("No authorizations on the platform.")
    columns = [
        Column("Label", [cell(r.label) for r in rows], comfort=24, minimum=10),
        Column("Description", [cell(r.description or "-") for r in rows], comfort=16, minimum=6, hide=4),
        Column("Provider", [cell(r.provider) for r in rows], comfort=10, minimum=6, hide=6),
        Column("Method", [cell(r.method) for r in rows], comfort=12, minimum=6, hide=5),
        Column("Health", [_health(r) for r in rows], comfort=11, minimum=9),
        Column("Owner", [cell(r.owner or "-") for r in rows], comfort=10, minimum=6, hide=3),
        _date_column("Created", [r.created for r in rows], now, hide=1),
        _date_column("Updated", [r.updated for r in rows], now, hide=2),
        Column("Jobs (active/total)", [Text(f"{r.jobs_active}/{r.jobs_total}") for r in rows],
               compact_header="Jobs"),
        Column("Managed as", [cell(r.name) if r.name else Text("(unmanaged)", style="dim") for r in rows],
               compact_header="Managed", comfort=16, minimum=8, hide=7),
    ]
    return FittedTable(columns, title=Text(f"Authorizations ({len(rows)})", style="bold"), wide=wide)


def jobs_table(jobs: list[JobRow], *, title: str = "Associated jobs", wide: bool = False,
               now: datetime | None = None) -> RenderableType:
    """Jobs with their workflow, status, creation date, id and manifest name (ids are never cut)."""
    columns = [
        Column("Name", [cell(j.name) for j in jobs], comfort=32, minimum=8),
        Column("Workflow", [cell(j.workflow) for j in jobs], comfort=12, minimum=6, hide=3),
        Column("Status", [cell(j.status) for j in jobs], comfort=9, minimum=7),
        _date_column("Created", [j.created for j in jobs], now, hide=1),
        Column("ID", [cell(j.id) for j in jobs]),
        Column("Managed as", [cell(j.managed_name or "-") for j in jobs], compact_header="Managed",
               comfort=24, minimum=8, hide=2),
    ]
    return FittedTable(columns, title=Text(title, style="bold"), wide=wide)


def _requests_table(usage: RequestCounts) -> FittedTable:
    counts = (usage.hour, usage.day, usage.week, usage.month)
    columns = [Column(header, [Text(str(count))], justify="right")
               for header, count in zip(("Last hour", "Last day", "Last week", "Last month"), counts, strict=True)]
    return FittedTable(columns, title=Text("Requests", style="bold"))


class ShowView:
    """`authctl show`: the authorization's facts (key: value), request counts and its jobs."""

    def __init__(self, row: AuthorizationRow, jobs: list[JobRow], usage: RequestCounts | None, *,
                 wide: bool = False, now: datetime | None = None) -> None:
        self.row, self.jobs, self.usage, self.wide, self.now = row, jobs, usage, wide, now

    def _facts(self) -> list[tuple[str, Text]]:
        row, when = self.row, full_time if self.wide else short_time
        return [
            ("ID", cell(row.id)), ("Managed as", cell(row.name or "(unmanaged)")),
            ("Description", cell(row.description or "-")), ("Provider", cell(row.provider)),
            ("Method", cell(row.method)), ("Health", _health(row)),
            ("Health checked", Text(when(row.health_checked_at))), ("Owner", cell(row.owner or "-")),
            ("Created", Text(when(row.created))), ("Updated", Text(when(row.updated))),
            ("Token expires", Text(when(row.token_expires_at))),
            ("Jobs", Text(f"{row.jobs_active} active of {row.jobs_total}")),
            ("Experiences", Text(str(row.experiences))),
        ]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        width = options.max_width
        title = cell(self.row.label, style="bold")
        yield title if self.wide else cut(title, width)
        facts = self._facts()
        key_width = max(len(key) for key, _ in facts)
        room = max(width - key_width - GAP, 1)
        for key, value in facts:
            if self.wide:
                values = [value]
            elif key == "Description":
                values = wrap(value, room, console, DESCRIPTION_LINES)
            else:
                values = [cut(value, room)]
            for index, part in enumerate(values):
                line = Text.assemble(pad(Text(key if index == 0 else "", style="bold"), key_width), " " * GAP, part)
                yield _one_line(line, self.wide)
        if self.usage is not None:
            yield Text("")
            yield _requests_table(self.usage)
        yield Text("")
        if self.jobs:
            yield jobs_table(self.jobs, wide=self.wide, now=self.now)
        else:
            yield Text("No associated jobs.")


def _one_line(line: Text, wide: bool) -> Text:
    line.no_wrap = True
    line.overflow = "ignore" if wide else "ellipsis"
    return line


def show_view(row: AuthorizationRow, jobs: list[JobRow], usage: RequestCounts | None, *, wide: bool = False,
              now: datetime | None = None) -> RenderableType:
    return ShowView(row, jobs, usage, wide=wide, now=now)


# -- `authctl platform auths list` / `jobs list` ---------------------------------------------------
class PlatformAuthorization(Protocol):
    id: str
    label: str
    provider: str
    method: str
    health: Any


class PlatformJob(Protocol):
    id: str
    name: str
    workflow: str
    status: Any  # a JobStatus (its display word is shown)
    auth_ids: Sequence[str]


def platform_auths_table(records: Iterable[PlatformAuthorization], *, wide: bool = False) -> RenderableType:
    """`authctl platform auths list`: id (never cut), label, provider/method, health."""
    records = list(records)
    if not records:
        return Text("No authorizations on the platform.")
    columns = [
        Column("ID", [cell(r.id) for r in records]),
        Column("Label", [cell(r.label) for r in records], comfort=24, minimum=8),
        Column("Provider/method", [cell(f"{r.provider}/{r.method}") for r in records], compact_header="Method",
               comfort=12, minimum=8, hide=1),
        Column("Health", [cell(r.health) for r in records]),
    ]
    return FittedTable(columns, wide=wide)


def platform_jobs_table(records: Iterable[PlatformJob], *, wide: bool = False) -> RenderableType:
    """`authctl platform jobs list`: id (never cut), name, workflow, status, authorization ids."""
    records = list(records)
    if not records:
        return Text("No jobs on the platform.")
    columns = [
        Column("ID", [cell(j.id) for j in records]),
        Column("Name", [cell(j.name) for j in records], comfort=32, minimum=8),
        Column("Workflow", [cell(j.workflow) for j in records], comfort=12, minimum=6, hide=2),
        Column("Status", [cell(getattr(j.status, "display", j.status)) for j in records]),
        Column("Authorizations", [cell(",".join(j.auth_ids) or "-") for j in records], compact_header="Auths",
               comfort=12, minimum=8, hide=1),
    ]
    return FittedTable(columns, wide=wide)
