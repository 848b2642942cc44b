"""Refresh the catalog's config fields from the Lytics v2 OpenAPI extract.

Usage::

    python scripts/catalog_fields.py --check   # list every difference; exit 1 if any
    python scripts/catalog_fields.py --write   # rewrite providers/*.yaml to match, then `make catalog`

The facts live in ``tests/data/lytics_openapi_extract.json``: for each auth type and job
workflow the catalog models, the OpenAPI path that creates it, the component schema its
``config`` uses and that schema verbatim, with the document's commit. A refresh is:
re-extract those entries from a newer document, run ``--write``, review the diff.

What comes from the document (and is overwritten): which fields exist, their type (an
``array`` is a ``list`` with ``items``, an ``object`` a ``mapping``), ``required``, ``enum``,
``minimum``/``maximum`` and the document's ``description``, plus the method's or
workflow's ``api_model``. What stays authctl's own (and is kept): titles, ``pattern`` and
``example`` (provider documentation, not Lytics'), ``secret`` and ``content`` (the document
does not mark secrets), a description where the document has none, and ``required`` on an
authorization's fields (the document's auth types list none; a credential without its
token cannot work). OAuth methods keep no fields: ``authctl login`` supplies the code and
scope the document lists, so their ``api_model`` note says so.

Only the ``workflows`` blocks are regenerated whole (they hold no comments); a method
gets its ``api_model`` line and field facts edited in place, so comments in methods stay.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXTRACT = ROOT / "tests" / "data" / "lytics_openapi_extract.json"
PROVIDERS = ROOT / "providers"

_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "array": "list",
          "object": "mapping"}
_ITEM_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
               "object": "mapping"}


def field_facts(name: str, prop: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The catalog facts one OpenAPI property states (only keys the document gives)."""
    facts: dict[str, Any] = {"name": name, "type": _TYPES[prop.get("type", "string")]}
    if prop.get("type") == "array":
        items = prop.get("items", {})
        facts["items"] = _ITEM_TYPES[items.get("type", "string")]
        if "enum" in items:
            facts["enum"] = list(items["enum"])
    if "enum" in prop:
        facts["enum"] = list(prop["enum"])
    for bound in ("minimum", "maximum"):
        if bound in prop:
            facts[bound] = prop[bound]
    if prop.get("description"):
        facts["description"] = prop["description"]
    facts["required"] = name in required
    return facts


def document_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = list(schema.get("required", []))
    return [field_facts(name, prop, required) for name, prop in schema.get("properties", {}).items()]


def _title(name: str) -> str:
    words = name.replace("_", " ").split()
    fixed = {"id": "ID", "ids": "IDs", "url": "URL", "api": "API", "json": "JSON", "sha256": "SHA-256"}
    text = " ".join(fixed.get(w.lower(), w.lower()) for w in words) or name
    return text[:1].upper() + text[1:]


def merged_field(facts: dict[str, Any], old: dict[str, Any] | None, *, keep_required: bool) -> dict[str, Any]:
    """The catalog entry: the document's facts with authctl's own extras from ``old``."""
    old = old or {}
    out: dict[str, Any] = {"name": facts["name"], "title": old.get("title") or _title(facts["name"])}
    required = facts["required"] or (keep_required and old.get("required", False))
    if required:
        out["required"] = True
    if old.get("secret"):
        out["secret"] = True
    if facts["type"] != "string":
        out["type"] = facts["type"]
    for key in ("items", "enum", "minimum", "maximum"):
        if key in facts:
            out[key] = facts[key]
    description = facts.get("description") or old.get("description")
    if description:
        out["description"] = description
    for key in ("pattern", "example", "content"):
        if key in old:
            out[key] = old[key]
    return out


class _Dumper(yaml.SafeDumper):
    """Block style, wide lines, long text folded, lists indented: the look of the hand-written files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if len(value) > 88 and "\n" not in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def _dump(data: Any, indent: int) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def _model_ref(entry: dict[str, Any]) -> dict[str, Any]:
    return {"model": entry["model"], "path": entry["path"]}


def workflows_block(spec: dict[str, Any], extract: dict[str, Any]) -> dict[str, Any]:
    """The provider's ``workflows`` mapping regenerated from the extract (unmodelled ones kept)."""
    out: dict[str, Any] = {}
    for slug, workflow in spec.get("workflows", {}).items():
        entry = extract["workflows"].get(slug)
        if entry is None:
            out[slug] = workflow
            continue
        old = {f["name"]: f for f in workflow.get("fields", [])}
        new = {k: v for k, v in workflow.items() if k not in ("fields", "api_model")}
        new["api_model"] = _model_ref(entry)
        new["fields"] = [merged_field(f, old.get(f["name"]), keep_required=False)
                         for f in document_fields(entry["schema"])]
        out[slug] = new
    return out


def _replace_workflows(text: str, block: dict[str, Any]) -> str:
    start = re.search(r"^workflows:\s*$", text, re.M)
    if start is None:
        return text
    end = re.search(r"^\S", text[start.end():], re.M)
    tail = text[start.end() + end.start():] if end else ""
    return text[:start.start()] + "workflows:\n" + _dump(block, 2) + tail


def _method_span(text: str, method: str) -> tuple[int, int]:
    methods = re.search(r"^methods:\s*$", text, re.M)
    assert methods is not None
    head = re.compile(rf"^  {re.escape(method)}:\s*$", re.M).search(text, methods.end())
    assert head is not None, method
    nxt = re.compile(r"^(  \S|\S)", re.M).search(text, head.end())
    return head.start(), nxt.start() if nxt else len(text)


def _set_api_model(body: str, ref: dict[str, Any]) -> str:
    body = re.sub(r"^    api_model:.*\n(?:^      .*\n)*", "", body, flags=re.M)
    line = "    api_model: " + yaml.dump(ref, Dumper=_Dumper, default_flow_style=True, sort_keys=False,
                                          width=1000, allow_unicode=True).strip() + "\n"
    return re.sub(r"^(    lytics_type:.*\n)", lambda m: m.group(1) + line, body, count=1, flags=re.M)


def method_ref(slug: str | None, entry: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if slug is None:
        return {"model": None, "path": None,
                "note": "Lytics makes this connection in its UI; the v2 API has no auth type for it"}
    if entry is None:
        return {"model": None, "path": None, "note": f"no /auth/{slug} operation in the extract"}
    ref = _model_ref(entry)
    if kind in ("oauth2", "oauth1"):
        names = ", ".join(entry["schema"].get("properties", {}))
        ref["note"] = f"the document's fields ({names}) come from `authctl login`, not from manifests"
    return ref


def rewrite(path: Path, extract: dict[str, Any]) -> str:
    text = path.read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    for name, method in spec["methods"].items():
        slug = method.get("lytics_type")
        entry = extract["auth_types"].get(slug) if slug else None
        start, end = _method_span(text, name)
        body = _set_api_model(text[start:end], method_ref(slug, entry, method["kind"]))
        text = text[:start] + body + text[end:]
    text = _replace_workflows(text, workflows_block(spec, extract))
    return text


def method_differences(provider: str, name: str, method: dict[str, Any], extract: dict[str, Any]) -> list[str]:
    """How a method's fields differ from its auth type's document fields."""
    slug = method.get("lytics_type")
    entry = extract["auth_types"].get(slug) if slug else None
    where = f"{provider}/{name}"
    problems: list[str] = []
    ref = method.get("api_model") or {}
    expected = method_ref(slug, entry, method["kind"])
    if {k: ref.get(k) for k in ("model", "path")} != {k: expected.get(k) for k in ("model", "path")}:
        problems.append(f"{where}: api_model is {ref!r}, the document says {expected!r}")
    if entry is None or method["kind"] in ("oauth2", "oauth1"):
        if method["kind"] in ("oauth2", "oauth1") and method.get("fields"):
            problems.append(f"{where}: an OAuth method declares fields")
        return problems
    problems += _field_differences(where, method.get("fields", []), document_fields(entry["schema"]),
                                   extra_required_ok=True)
    return problems


def _field_differences(where: str, fields: list[dict[str, Any]], facts: list[dict[str, Any]], *,
                       extra_required_ok: bool) -> list[str]:
    problems: list[str] = []
    have = {f["name"]: f for f in fields}
    want = {f["name"]: f for f in facts}
    for missing in want.keys() - have.keys():
        problems.append(f"{where}: field {missing} is in the document, not in the catalog")
    for extra in have.keys() - want.keys():
        problems.append(f"{where}: field {extra} is in the catalog, not in the document")
    for name in sorted(want.keys() & have.keys()):
        got, fact = have[name], want[name]
        if got.get("type", "string") != fact["type"]:
            problems.append(f"{where}.{name}: type {got.get('type', 'string')}, document {fact['type']}")
        for key in ("items", "enum", "minimum", "maximum"):
            if got.get(key) != fact.get(key):
                problems.append(f"{where}.{name}: {key} {got.get(key)!r}, document {fact.get(key)!r}")
        if fact.get("description") and got.get("description") != fact["description"]:
            problems.append(f"{where}.{name}: description differs from the document's")
        required = bool(got.get("required"))
        if required != fact["required"] and not (extra_required_ok and required):
            problems.append(f"{where}.{name}: required {required}, document {fact['required']}")
    return problems


def differences(extract: dict[str, Any]) -> list[str]:
    """Every way the catalog's modelled methods and workflows differ from the document."""
    problems: list[str] = []
    seen_types: set[str] = set()
    seen_workflows: set[str] = set()
    for path in sorted(PROVIDERS.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, method in spec["methods"].items():
            problems += method_differences(spec["name"], name, method, extract)
            if method.get("lytics_type"):
                seen_types.add(method["lytics_type"])
        for slug, workflow in spec.get("workflows", {}).items():
            entry = extract["workflows"].get(slug)
            if entry is None:
                problems.append(f"workflow {slug}: not in the extract")
                continue
            seen_workflows.add(slug)
            ref = workflow.get("api_model") or {}
            if ref.get("model") != entry["model"] or ref.get("path") != entry["path"]:
                problems.append(f"workflow {slug}: api_model is {ref!r}, the document says {_model_ref(entry)!r}")
            problems += _field_differences(f"workflow {slug}", workflow.get("fields", []),
                                           document_fields(entry["schema"]), extra_required_ok=False)
    problems += [f"auth type {t}: in the extract, modelled by no method" for t in extract["auth_types"].keys() - seen_types]
    problems += [f"workflow {w}: in the extract, declared by no provider"
                 for w in extract["workflows"].keys() - seen_workflows]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="list differences; exit 1 if any")
    mode.add_argument("--write", action="store_true", help="rewrite providers/*.yaml from the extract")
    args = parser.parse_args(argv)
    extract = json.loads(EXTRACT.read_text(encoding="utf-8"))
    if args.write:
        for path in sorted(PROVIDERS.glob("*.yaml")):
            new = rewrite(path, extract)
            if new != path.read_text(encoding="utf-8"):
                path.write_text(new, encoding="utf-8")
                print(f"rewrote {path.relative_to(ROOT)}")
    problems = differences(extract)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
