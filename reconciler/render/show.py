"""What `authctl show` adds to render/status.py: a job's view, and an authorization's applied config.

Like the status tables, every value is a rich ``Text`` built by ``cell`` (escaped for
the terminal, never markup): job names, workflows, labels and config values are typed
by people in a platform's UI or in a manifest.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from reconciler.render.columns import GAP, Column, FittedTable, full_time, short_time
from reconciler.render.status import cell
from reconciler.view_rows import JobDetail


def _value(value: Any) -> str:
    """A config value on one line: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _one_line(text: Text, wide: bool) -> Text:
    """Never wrapped: cut with ``…`` at the terminal's width, or whole with ``--wide``."""
    text.no_wrap, text.overflow = True, "ignore" if wide else "ellipsis"
    return text


def _facts(facts: list[tuple[str, Text]], wide: bool) -> list[Text]:
    """``Key  value`` lines, keys padded alike, one line each."""
    width = max((len(key) for key, _ in facts), default=0)
    return [_one_line(Text.assemble(Text(key.ljust(width), style="bold"), " " * GAP, value), wide)
            for key, value in facts]


def config_view(config: dict[str, Any] | None, credentials: tuple[str, ...], *, applied: bool,
                wide: bool = False) -> RenderableType:
    """The ``Config`` block: one field a line; credentials by name only, as ``(sensitive)``.

    ``applied``: the values are the ones authctl last applied (an authorization: the
    platform never returns them); otherwise the platform's own (a job).
    """
    title = "Config (as last applied by authctl)" if applied else "Config"
    if config is None:
        return Text(f"{title}: not known (not applied by this workspace; the platform never returns it).")
    rows = [(key, cell(_value(value))) for key, value in sorted(config.items())]
    rows += [(key, Text("(sensitive)", style="dim")) for key in credentials]
    if not rows:
        return Text(f"{title}: none.")
    return Group(Text(title, style="bold"), *_facts(rows, wide))


def job_view(job: JobDetail, *, wide: bool = False) -> RenderableType:
    """`authctl show JOB`: its facts, its config, and the authorizations it is bound to.

    ``wide``: every value whole and full timestamps; print it with ``soft_wrap=True``.
    """
    when = full_time if wide else short_time
    facts = _facts([
        ("Kind", Text("Job")), ("ID", cell(job.id)), ("Managed as", cell(job.managed_name or "(unmanaged)")),
        ("Workflow", cell(job.workflow)), ("Status", cell(job.status)), ("Description", cell(job.description or "-")),
        ("Owner", cell(job.owner or "-")), ("Created", Text(when(job.created))), ("Updated", Text(when(job.updated))),
    ], wide)
    parts: list[RenderableType] = [_one_line(cell(job.name, style="bold"), wide), *facts, Text(""),
                                   config_view(job.config, (), applied=False, wide=wide), Text("")]
    auths = job.authorizations
    if not auths:
        parts.append(Text("No authorizations."))
        return Group(*parts)
    parts.append(FittedTable([
        Column("Label", [cell(a.label) if a.label is not None else Text("(not on the platform)", style="red")
                         for a in auths], comfort=16, minimum=8),
        Column("Provider/method", [cell(f"{a.provider}/{a.method}" if a.provider else "-") for a in auths],
               compact_header="Method", comfort=12, minimum=8, hide=1),
        Column("ID", [cell(a.id) for a in auths]),
        Column("Managed as", [cell(a.managed_name or "-") for a in auths], compact_header="Managed",
               comfort=10, minimum=6, hide=2),
    ], title=Text("Authorizations", style="bold"), wide=wide))
    return Group(*parts)
