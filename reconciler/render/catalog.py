"""Provider catalog views for ``authctl providers``: one table, or one provider in detail.

The detail of a provider shows each method's fields and each workflow's (job type's)
config fields, with type, required, pattern and description, so what validation
enforces can be discovered (``--format json`` carries the same, from the specs).

Catalogs can come from a workspace's own provider folders (a pull request's), so every
cell and title is a rich ``Text`` escaped for the terminal (render/escape.py), never a
markup string: a method title's ``[recommended]`` used to vanish as a markup tag.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from reconciler.catalog import ApiModelRef, Catalog, FieldSpec, MethodSpec, ProviderSpec, WorkflowSpec
from reconciler.config_rules import enum_words
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


def _description(spec: FieldSpec) -> str:
    """A field's description, with its example and, for a secret, what its content must be."""
    parts = [spec.description.rstrip(".") + "."] if spec.description else []
    if spec.content is not None:
        rule = f"Must be {spec.content.what}: a JSON object with " + ", ".join(spec.content.required_keys)
        rule += "".join(f"; {key}: {value}" for key, value in spec.content.required_values.items())
        parts.append(rule + " (checked when plan or apply reads it).")
    if spec.example is not None and not spec.secret:
        parts.append(f"Example: {spec.example}")
    return " ".join(parts)


def _fields_table(title: Text, fields: list[FieldSpec], *, where: bool) -> Table:
    """One row per field: name, title, type, required, (where it goes,) pattern, description."""
    table = Table(title=title, title_justify="left")
    columns = ["Field", "Title", "Type", "Required"] + (["Where"] if where else []) + ["Allowed", "Description"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for spec in fields:
        cells = [_text(spec.name), _text(spec.title), Text("secret" if spec.secret else type_words(spec)),
                 Text("yes" if spec.required else "no")]
        if where:
            cells.append(Text("spec.credentials (secret ref)" if spec.secret else "spec.config"))
        cells += [_text(allowed_words(spec)), _text(_description(spec))]
        table.add_row(*cells)
    return table


def type_words(spec: FieldSpec) -> str:
    """``list of mapping`` for a list with typed items, else the type."""
    return f"list of {spec.items}" if spec.type == "list" and spec.items else spec.type


def allowed_words(spec: FieldSpec) -> str:
    """The field's value rules in one cell: pattern, enum (long ones shortened), range."""
    rules = []
    if spec.pattern:
        rules.append(f"pattern {spec.pattern}")
    if spec.enum is not None:
        rules.append("one of: " + enum_words(spec.enum))
    if spec.minimum is not None or spec.maximum is not None:
        low = "" if spec.minimum is None else f"{spec.minimum:g}"
        high = "" if spec.maximum is None else f"{spec.maximum:g}"
        rules.append(f"from {low or '-inf'} to {high or 'inf'}")
    return "; ".join(rules)


def _model_fact(ref: ApiModelRef | None) -> str | None:
    """Where the fields come from in the Lytics v2 OpenAPI document, or why the document is silent."""
    if ref is None:
        return None
    if ref.model is None:
        return f"Lytics v2 API model: none ({ref.note})"
    return f"Lytics v2 API model: {ref.model} ({ref.path})" + (f"; {ref.note}" if ref.note else "")


def _workflow_detail(provider: ProviderSpec, workflow: WorkflowSpec) -> list[RenderableType]:
    """A workflow (job type): which methods run it, and the fields of a Job's spec.config."""
    title = _text(f"workflow {workflow.name}: {workflow.title}", style="italic")
    methods = [f"{provider.name}/{m.name}" for m in provider.methods.values() if m.supports(workflow.name)]
    facts = [f"runs with: {', '.join(methods) or '(no method of this provider)'}"]
    if workflow.description:
        facts.insert(0, workflow.description)
    model = _model_fact(workflow.api_model)
    if model:
        facts.append(model)
    if not workflow.fields:
        facts.append("config fields: none declared (spec.config is passed on unchecked)")
        return [title, *(_text(fact) for fact in facts)]
    facts.append("spec.config of a Job with this workflow takes the fields above; others are warned about")
    return [_fields_table(title, workflow.fields, where=False), *(_text(fact) for fact in facts)]


def provider_detail(provider: ProviderSpec) -> RenderableType:
    parts: list[RenderableType] = [_text(f"{provider.title} ({provider.name})", style="bold")]
    if provider.docs_url:
        parts.append(_text(provider.docs_url))
    for method in provider.methods.values():
        title = _text(f"{provider.name}/{method.name}: {method.title}"
                      + (" [recommended]" if method.recommended else ""), style="italic")
        table = _fields_table(title, method.fields, where=True)
        facts = [f"kind: {method.kind.value}", f"lytics type: {method.lytics_type or '(made in the UI)'}"]
        model = _model_fact(method.api_model)
        if model:
            facts.append(model)
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
    for workflow in provider.workflows.values():
        parts.extend(_workflow_detail(provider, workflow))
    return Group(*parts)


def catalog_json(catalog: Catalog) -> list[dict[str, Any]]:
    return [p.to_json() for p in sorted(catalog.providers.values(), key=lambda p: p.name)]
