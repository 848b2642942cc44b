"""What `authctl health` and `authctl refresh` print: one row per authorization, and a summary.

Rows are plain data the command builds from the worker's reports and the snapshot; this
module draws them (text) or shapes them (JSON) and computes nothing else. Labels,
reasons and names are platform or manifest text: every cell goes through ``cell``
(escaped for the terminal, never markup).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from reconciler.render.columns import Column, FittedTable, compact_time, full_time, short_time
from reconciler.render.status import HEALTH_STYLE, cell
from reconciler.vocabulary import Health


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class HealthRow:
    """One checked authorization as `authctl health` shows it."""

    id: str
    name: str | None  # manifest name when this workspace manages it
    label: str
    provider: str
    method: str
    health: Health
    reason: str
    checked_at: datetime | None
    scopes_missing: tuple[str, ...]
    refreshed: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label, "provider": self.provider,
                "method": self.method, "health": self.health.value, "reason": self.reason,
                "checked_at": _iso(self.checked_at), "scopes_missing": list(self.scopes_missing),
                "refreshed": self.refreshed}


@dataclass(frozen=True)
class RefreshRow:
    """One authorization as `authctl refresh` shows it."""

    id: str
    name: str | None
    label: str
    outcome: str
    reason: str
    token_expires_at: datetime | None
    rotated: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label, "outcome": self.outcome,
                "reason": self.reason, "token_expires_at": _iso(self.token_expires_at), "rotated": self.rotated}


def health_summary(rows: Sequence[HealthRow]) -> dict[str, int]:
    return {h.value: sum(1 for r in rows if r.health is h) for h in (Health.HEALTHY, Health.UNHEALTHY, Health.UNKNOWN)}


def _health_cell(row: HealthRow) -> Text:
    text = cell(row.health.value.capitalize(), style=HEALTH_STYLE.get(row.health, ""))
    if row.reason:
        text.append(cell(f" ({row.reason})"))
    return text


def health_table(rows: Sequence[HealthRow], *, wide: bool = False, now: datetime | None = None) -> RenderableType:
    """The checked authorizations, one line each, then the tally."""
    if not rows:
        return Text("No authorizations to check.")
    table = FittedTable([
        Column("Label", [cell(r.label) for r in rows], comfort=24, minimum=10),
        Column("Managed as", [cell(r.name) if r.name else Text("(unmanaged)", style="dim") for r in rows],
               compact_header="Managed", comfort=16, minimum=8, hide=3),
        Column("Provider/method", [cell(f"{r.provider}/{r.method}") for r in rows], compact_header="Method",
               comfort=14, minimum=8, hide=2),
        Column("Health", [_health_cell(r) for r in rows], comfort=24, minimum=9),
        Column("Checked", [Text(short_time(r.checked_at)) for r in rows],
               compact_cells=[Text(compact_time(r.checked_at, now)) for r in rows],
               wide_cells=[Text(full_time(r.checked_at)) for r in rows], hide=1),
    ], title=Text(f"Health ({len(rows)})", style="bold"), wide=wide)
    tally = health_summary(rows)
    counts = ", ".join(f"{tally[h.value]} {h.value}" for h in (Health.HEALTHY, Health.UNHEALTHY, Health.UNKNOWN))
    summary = Text(f"{len(rows)} checked: {counts}.", style="bold red" if tally[Health.UNHEALTHY.value] else "bold")
    return Group(table, Text(""), summary)


def refresh_table(rows: Sequence[RefreshRow], *, wide: bool = False) -> RenderableType:
    if not rows:
        return Text("No OAuth authorizations to refresh.")
    styles = {"refreshed": "green", "failed": "bold red", "skipped": "yellow", "not_needed": ""}
    return FittedTable([
        Column("Label", [cell(r.label) for r in rows], comfort=24, minimum=10),
        Column("Managed as", [cell(r.name) if r.name else Text("(unmanaged)", style="dim") for r in rows],
               compact_header="Managed", comfort=16, minimum=8, hide=2),
        Column("Outcome", [cell(r.outcome.replace("_", " ") + (" (rotated)" if r.rotated else "") +
                                (f": {r.reason}" if r.reason else ""), style=styles.get(r.outcome, ""))
                           for r in rows], comfort=30, minimum=9),
        Column("Token expires", [Text(short_time(r.token_expires_at)) for r in rows],
               wide_cells=[Text(full_time(r.token_expires_at)) for r in rows], compact_header="Expires", hide=1),
    ], title=Text(f"Refresh ({len(rows)})", style="bold"), wide=wide)


__all__ = ["HealthRow", "RefreshRow", "health_summary", "health_table", "refresh_table"]
