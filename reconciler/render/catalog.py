"""Provider catalog views for ``authctl providers``: one table, or one provider in detail.

Catalogs can come from a workspace's own provider folders (a pull request's), so every
cell and title is a rich ``Text`` escaped for the terminal (render/escape.py), never a
markup string: a method title's ``[recommended]`` used to vanish as a markup tag.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from reconciler.catalog import Catalog, MethodSpec, ProviderSpec
from reconciler.render.escape import terminal_text


def _text(value: Any, style: str = "") -> Text:
    return Text(terminal_text(value), style=style)


def _required_fields(method: MethodSpec) -> str:
    if method.is_oauth:
        return "(tokens from `authctl login`)"
    names = [f.name + (" (secret)" if f.secret else "") for f in method.fields if f.required]
    return ", ".join(names) or "-"


def providers_table(catalog: Catalog) -> Table:
    table = Table(title="Providers", show_lines=False, expand=False)
    for column in ("Provider", "Method", "Kind", "Lytics type", "Job workflows", "Required fields"):
        table.add_column(column, overflow="fold")
    for provider in sorted(catalog.providers.values(), key=lambda p: p.name):
        for index, method in enumerate(provider.methods.values()):
            name = method.name + (" *" if method.recommended else "")
            table.add_row(
                _text(provider.name if index == 0 else ""), _text(name), _text(method.kind.value),
                _text(method.lytics_type or "(UI only)"), _text(", ".join(method.workflows) or "-"),
                _text(_required_fields(method)), end_section=index == len(provider.methods) - 1,
            )
    table.caption = "* recommended method"
    return table


def provider_detail(provider: ProviderSpec) -> RenderableType:
    parts: list[RenderableType] = [_text(f"{provider.title} ({provider.name})", style="bold")]
    if provider.docs_url:
        parts.append(_text(provider.docs_url))
    for method in provider.methods.values():
        title = _text(f"{provider.name}/{method.name}: {method.title}"
                      + (" [recommended]" if method.recommended else ""), style="italic")
        table = Table(title=title, title_justify="left")
        table.add_column("Field")
        table.add_column("Title")
        table.add_column("Required")
        table.add_column("Where")
        table.add_column("Pattern")
        for spec in method.fields:
            table.add_row(_text(spec.name), _text(spec.title), Text("yes" if spec.required else "no"),
                          Text("spec.credentials (secret ref)" if spec.secret else "spec.config"),
                          _text(spec.pattern or ""))
        facts = [f"kind: {method.kind.value}", f"lytics type: {method.lytics_type or '(made in the UI)'}"]
        if method.is_oauth and not method.fields:
            facts.append("fields: none (tokens come from `authctl login`)")
        if method.workflows:
            facts.append("workflows: " + ", ".join(method.workflows))
        if method.permissions:
            facts.append("permissions: " + ", ".join(method.permissions))
        if method.oauth:
            facts.append("scopes: " + (", ".join(method.oauth.scopes) or "-"))
        if method.health_check:
            facts.append(f"health check: {method.health_check.method} {method.health_check.url}")
        if method.fields:
            parts.append(table)
        else:
            parts.append(title)
        parts.extend(_text(fact) for fact in facts)
        for warning in method.warnings:
            parts.append(_text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


def catalog_json(catalog: Catalog) -> list[dict[str, Any]]:
    return [p.to_json() for p in sorted(catalog.providers.values(), key=lambda p: p.name)]
