"""Tables for `authctl status` and `authctl show` (the platform dashboard's fields).

Every cell and title is a rich ``Text`` built by :func:`cell`, never a string: rich
would parse a string as markup, so a label such as ``[/]`` would crash the command and
``[link=...]`` would add a link. Control and invisible characters are shown as escapes
(render/escape.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from reconciler.live import RequestCounts
from reconciler.render.escape import terminal_text
from reconciler.vocabulary import Health
from reconciler.view_rows import AuthorizationRow, JobRow

HEALTH_STYLE = {Health.HEALTHY: "green", Health.UNHEALTHY: "bold red", Health.UNKNOWN: "yellow"}


def cell(value: Any, style: str = "") -> Text:
    """A table cell or title holding data: escaped for the terminal, never read as markup."""
    return Text(terminal_text(value), style=style)


def _when(value: datetime | None) -> Text:
    return Text(value.strftime("%Y-%m-%d %H:%M") if value else "-")


def _health(row: AuthorizationRow) -> Text:
    text = cell(str(row.health).capitalize(), style=HEALTH_STYLE.get(row.health, ""))
    if row.health_reason:
        text.append(terminal_text(f" ({row.health_reason})"))
    return text


def status_table(rows: list[AuthorizationRow]) -> RenderableType:
    if not rows:
        return Text("No authorizations on the platform.")
    table = Table(title=f"Authorizations ({len(rows)})", title_justify="left")
    for column in ("Label", "Description", "Provider", "Method", "Health", "Owner", "Created", "Updated",
                   "Jobs (active/total)", "Managed as"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(cell(row.label), cell(row.description or "-"), cell(row.provider), cell(row.method),
                      _health(row), cell(row.owner or "-"), _when(row.created), _when(row.updated),
                      Text(f"{row.jobs_active}/{row.jobs_total}"),
                      cell(row.name) if row.name else Text("(unmanaged)", style="dim"))
    return table


def show_view(row: AuthorizationRow, jobs: list[JobRow], usage: RequestCounts | None) -> RenderableType:
    summary = Table(show_header=False, box=None, title=cell(row.label, style="bold"), title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    facts: list[tuple[str, Text]] = [
        ("ID", cell(row.id)), ("Managed as", cell(row.name or "(unmanaged)")),
        ("Description", cell(row.description or "-")), ("Provider", cell(row.provider)),
        ("Method", cell(row.method)), ("Health", _health(row)), ("Owner", cell(row.owner or "-")),
        ("Created", _when(row.created)), ("Updated", _when(row.updated)),
        ("Token expires", _when(row.token_expires_at)),
        ("Jobs", Text(f"{row.jobs_active} active of {row.jobs_total}")), ("Experiences", Text(str(row.experiences))),
    ]
    for key, value in facts:
        summary.add_row(Text(key), value)
    parts: list[RenderableType] = [summary]
    if usage is not None:
        counts = Table(title="Requests", title_justify="left")
        for column in ("Last hour", "Last day", "Last week", "Last month"):
            counts.add_column(column, justify="right")
        counts.add_row(Text(str(usage.hour)), Text(str(usage.day)), Text(str(usage.week)), Text(str(usage.month)))
        parts.append(counts)
    if jobs:
        table = Table(title="Associated jobs", title_justify="left")
        for column in ("Name", "Workflow", "Status", "Created", "ID", "Managed as"):
            table.add_column(column, overflow="fold")
        for job in jobs:
            table.add_row(cell(job.name), cell(job.workflow), cell(job.status), _when(job.created), cell(job.id),
                          cell(job.managed_name or "-"))
        parts.append(table)
    else:
        parts.append(Text("No associated jobs."))
    return Group(*parts)
