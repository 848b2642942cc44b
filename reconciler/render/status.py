"""Tables for `authctl status` and `authctl show` (the platform dashboard's fields)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from reconciler.live import RequestCounts
from reconciler.vocabulary import Health
from reconciler.view_rows import AuthorizationRow, JobRow

HEALTH_STYLE = {Health.HEALTHY: "green", Health.UNHEALTHY: "bold red", Health.UNKNOWN: "yellow"}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _health(row: AuthorizationRow) -> Text:
    text = Text(row.health.capitalize(), style=HEALTH_STYLE.get(row.health, ""))
    if row.health_reason:
        text.append(f" ({row.health_reason})")
    return text


def status_table(rows: list[AuthorizationRow]) -> RenderableType:
    if not rows:
        return Text("No authorizations on the platform.")
    table = Table(title=f"Authorizations ({len(rows)})", title_justify="left")
    for column in ("Label", "Description", "Provider", "Method", "Health", "Owner", "Created", "Updated",
                   "Jobs (active/total)", "Managed as"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.label, row.description or "-", row.provider, row.method, _health(row), row.owner or "-",
                      _when(row.created), _when(row.updated), f"{row.jobs_active}/{row.jobs_total}",
                      row.name or Text("(unmanaged)", style="dim"))
    return table


def show_view(row: AuthorizationRow, jobs: list[JobRow], usage: RequestCounts | None) -> RenderableType:
    summary = Table(show_header=False, box=None, title=row.label, title_justify="left", title_style="bold")
    summary.add_column(style="bold")
    summary.add_column()
    facts: list[tuple[str, str | Text]] = [
        ("ID", row.id), ("Managed as", row.name or "(unmanaged)"), ("Description", row.description or "-"),
        ("Provider", row.provider), ("Method", row.method), ("Health", _health(row)),
        ("Owner", row.owner or "-"), ("Created", _when(row.created)), ("Updated", _when(row.updated)),
        ("Token expires", _when(row.token_expires_at)),
        ("Jobs", f"{row.jobs_active} active of {row.jobs_total}"), ("Experiences", str(row.experiences)),
    ]
    for key, value in facts:
        summary.add_row(key, value)
    parts: list[RenderableType] = [summary]
    if usage is not None:
        counts = Table(title="Requests", title_justify="left")
        for column in ("Last hour", "Last day", "Last week", "Last month"):
            counts.add_column(column, justify="right")
        counts.add_row(str(usage.hour), str(usage.day), str(usage.week), str(usage.month))
        parts.append(counts)
    if jobs:
        table = Table(title="Associated jobs", title_justify="left")
        for column in ("Name", "Workflow", "Status", "Created", "ID", "Managed as"):
            table.add_column(column, overflow="fold")
        for job in jobs:
            table.add_row(job.name, job.workflow, job.status, _when(job.created), job.id, job.managed_name or "-")
        parts.append(table)
    else:
        parts.append(Text("No associated jobs."))
    return Group(*parts)
