"""`authctl schema`: a JSON Schema (draft 2020-12) that accepts the demo manifests and
rejects the mistakes editors should flag.

``jsonschema`` is not a dependency, so documents are checked by a tiny validator for
exactly the keywords the schema uses (the first test fails if the schema starts using
another one). When ``jsonschema`` is installed, it checks the same documents too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.errors import DiagnosticSink
from reconciler.manifest.loader import read_documents
from reconciler.manifest.schema import manifest_schema
from reconciler.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "manifests"

# Keywords the mini validator below understands; annotations are ignored by design.
VALIDATING = {"$ref", "additionalProperties", "const", "enum", "items", "maxLength", "minItems",
              "minLength", "oneOf", "pattern", "properties", "required", "type"}
ANNOTATIONS = {"$defs", "$id", "$schema", "default", "description", "title"}

SCHEMA = manifest_schema(load_catalog())


def _keywords(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        found.update(node)
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _keywords(sub, found)
            elif key not in ("enum", "const", "required", "default"):
                _keywords(value, found)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, found)
    return found


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def errors(instance: Any, schema: dict[str, Any], root: dict[str, Any] = SCHEMA, path: str = "") -> list[str]:
    """Every violation of ``schema`` by ``instance`` (a subset of draft 2020-12)."""
    found: list[str] = []
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        found += errors(instance, target, root, path)
    if "oneOf" in schema:
        matches = sum(not errors(instance, option, root, path) for option in schema["oneOf"])
        if matches != 1:
            found.append(f"{path}: matches {matches} of oneOf")
    kind = schema.get("type")
    if kind is not None:
        expected = _TYPES[kind]
        if not isinstance(instance, expected) or (kind != "boolean" and isinstance(instance, bool)):
            return found + [f"{path}: not {kind}"]
    if "const" in schema and instance != schema["const"]:
        found.append(f"{path}: not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        found.append(f"{path}: not in enum")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0) or len(instance) > schema.get("maxLength", 1 << 30):
            found.append(f"{path}: length")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            found.append(f"{path}: pattern")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            found.append(f"{path}: too few items")
        if "items" in schema:
            for index, item in enumerate(instance):
                found += errors(item, schema["items"], root, f"{path}/{index}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        found += [f"{path}/{key}: required" for key in schema.get("required", []) if key not in instance]
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                found += errors(value, properties[key], root, f"{path}/{key}")
            elif extra is False:
                found.append(f"{path}/{key}: not allowed")
            elif isinstance(extra, dict):
                found += errors(value, extra, root, f"{path}/{key}")
    return found


def demo_documents(env: str) -> list[Any]:
    workspace = load_workspace(DEMO, env)
    files = [(p, workspace.display_path(p)) for p in workspace.manifest_files()]
    sink = DiagnosticSink()
    loaded = read_documents(files, workspace.template_vars(), sink)
    assert not sink.has_errors
    return [doc.data for doc in loaded.documents]


def test_schema_uses_only_keywords_the_checker_knows() -> None:
    assert _keywords(SCHEMA, set()) <= VALIDATING | ANNOTATIONS


def test_schema_shape() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].startswith("https://")
    defs = SCHEMA["$defs"]
    assert {"AuthorizationDocument", "JobDocument", "Metadata", "AuthorizationSpecModel", "JobSpecModel",
            "SecretRef"} <= set(defs)
    for ref in _refs(SCHEMA):
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in defs, ref
    auth_spec = defs["AuthorizationSpecModel"]["properties"]
    assert "facebook" in auth_spec["provider"]["enum"]
    assert "system_user" in auth_spec["method"]["enum"]
    assert "pubsub-ingress" in defs["JobSpecModel"]["properties"]["workflow"]["enum"]
    assert defs["JobSpecModel"]["properties"]["state"]["enum"] == ["running", "paused"]
    for name in ("AuthorizationDocument", "JobDocument", "Metadata", "AuthorizationSpecModel", "JobSpecModel"):
        assert defs[name]["additionalProperties"] is False, name


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_demo_manifests_match_the_schema(env: str) -> None:
    documents = demo_documents(env)
    assert len(documents) >= 6
    for document in documents:
        assert errors(document, SCHEMA) == [], document["metadata"]["name"]


AUTH = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "fb"},
        "spec": {"provider": "facebook", "method": "system_user", "label": "FB",
                 "config": {"ads_account_id": "act_12345"}, "credentials": {"access_token": {"env": "T"}}}}
JOB = {"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": "j"},
       "spec": {"workflow": "pubsub-ingress", "authorizations": ["gcp"], "state": "paused"}}


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    import copy

    result = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = result
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return result


_DELETE = object()

BAD = [
    ("unknown top-level field", _with(AUTH, "specs", {})),
    ("unknown spec field", _with(AUTH, "spec.lable", "x")),
    ("bad name", _with(AUTH, "metadata.name", "Bad_Name")),
    ("unknown provider", _with(AUTH, "spec.provider", "facebok")),
    ("literal credential", _with(AUTH, "spec.credentials", {"access_token": "CANARY"})),
    ("two-key secret ref", _with(AUTH, "spec.credentials", {"access_token": {"env": "A", "file": "b"}})),
    ("missing label", _with(AUTH, "spec.label", _DELETE)),
    ("wrong apiVersion", _with(AUTH, "apiVersion", "authctl/v2")),
    ("unknown kind", _with(AUTH, "kind", "Secret")),
    ("job state", _with(JOB, "spec.state", "stopped")),
    ("job authorizations not a list", _with(JOB, "spec.authorizations", "gcp")),
    ("job without authorizations", _with(JOB, "spec.authorizations", [])),
    ("unknown workflow", _with(JOB, "spec.workflow", "pubsub-ingres")),
]


def test_good_literal_documents_match() -> None:
    assert errors(AUTH, SCHEMA) == []
    assert errors(JOB, SCHEMA) == []


@pytest.mark.parametrize(("what", "document"), BAD, ids=[b[0] for b in BAD])
def test_schema_rejects_mistakes(what: str, document: dict[str, Any]) -> None:
    assert errors(document, SCHEMA), what


def test_with_jsonschema_when_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (not a dev extra)")
    validator_class = jsonschema.validators.validator_for(SCHEMA)
    validator_class.check_schema(SCHEMA)
    validator = validator_class(SCHEMA)
    for document in demo_documents("prod") + [AUTH, JOB]:
        assert list(validator.iter_errors(document)) == []
    for what, document in BAD:
        assert list(validator.iter_errors(document)), what
