"""`authctl schema`: a JSON Schema (draft 2020-12) that accepts the demo manifests and
rejects the mistakes editors should flag.

Documents are checked with ``jsonschema`` (a dev dependency), the validator editors'
language servers behave like. The conditional (per provider/method and per workflow)
parts of the schema have their own tests in tests/unit/test_schema_conditional.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.catalog import load_catalog
from reconciler.errors import DiagnosticSink
from reconciler.manifest.loader import read_documents
from reconciler.manifest.schema import manifest_schema
from reconciler.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "manifests"

SCHEMA = manifest_schema(load_catalog())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(instance: Any, schema: dict[str, Any] = SCHEMA) -> list[str]:
    """Every violation of ``schema`` by ``instance``, as jsonschema words it."""
    validator = VALIDATOR if schema is SCHEMA else jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def demo_documents(env: str) -> list[Any]:
    workspace = load_workspace(DEMO, env)
    files = [(p, workspace.display_path(p)) for p in workspace.manifest_files()]
    sink = DiagnosticSink()
    loaded = read_documents(files, workspace.template_vars(), sink)
    assert not sink.has_errors
    return [doc.data for doc in loaded.documents]


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


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
    state = defs["JobSpecModel"]["properties"]["state"]
    assert state["anyOf"] == [{"enum": ["running", "paused"], "type": "string"}, {"$ref": "#/$defs/Template"}]
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
        assert errors(document) == [], document["metadata"]["name"]


AUTH = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "fb"},
        "spec": {"provider": "facebook", "method": "system_user", "label": "FB",
                 "config": {"ads_account_id": "act_12345"}, "credentials": {"access_token": {"env": "T"}}}}
JOB = {"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": "j"},
       "spec": {"workflow": "pubsub-ingress", "authorizations": ["gcp"], "state": "paused",
                "config": {"stream": "web_events", "topic_id": "web-events"}}}  # the fields pubsub-ingress requires


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
    assert errors(AUTH) == []
    assert errors(JOB) == []


@pytest.mark.parametrize(("what", "document"), BAD, ids=[b[0] for b in BAD])
def test_schema_rejects_mistakes(what: str, document: dict[str, Any]) -> None:
    assert errors(document), what


def test_with_jsonschema() -> None:
    """What used to run only when jsonschema happened to be installed: the validator editors use agrees."""
    validator_class = jsonschema.validators.validator_for(SCHEMA)
    assert validator_class is jsonschema.Draft202012Validator
    validator_class.check_schema(SCHEMA)
    validator = validator_class(SCHEMA)
    for document in demo_documents("prod") + [AUTH, JOB]:
        assert list(validator.iter_errors(document)) == []
    for what, document in BAD:
        assert list(validator.iter_errors(document)), what
