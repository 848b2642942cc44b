"""`authctl schema`: the catalog's fields as conditional JSON Schema, `--settings`, and the files that use them.

- Per provider and method (``if`` on ``spec.provider`` + ``spec.method``) the schema knows
  which ``spec.config`` and ``spec.credentials`` fields exist, their types, patterns and
  which are required; per workflow (``if`` on ``spec.workflow``) the fields of a Job's
  ``spec.config``. An editor completes them and flags a wrong one.
- The schema and `authctl validate` agree: every case the schema rejects, validate rejects
  too, and the schema accepts every valid case (it never flags what authctl accepts).
- Manifests are Jinja2 templates: a value holding ``{{ ... }}`` passes the patterns and
  value lists, so the template sources in manifests/ and examples/ match as written, and
  again once rendered for each environment.
- Every demo and example YAML file names its schema on its first line, and the committed
  schema/*.schema.json files are what `authctl schema` (and `--settings`) print today.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.catalog import Catalog, load_catalog
from reconciler.errors import DiagnosticSink, Severity
from reconciler.manifest.loader import read_documents
from reconciler.manifest.schema import SETTINGS_DESCRIPTIONS, manifest_schema, schema_text, settings_schema
from reconciler.manifest.secret_files import SecretFileRules
from reconciler.manifest.validate import validate_documents
from reconciler.workspace import Settings, load_workspace

REPO = Path(__file__).resolve().parents[2]
SCHEMA = manifest_schema(load_catalog())
SETTINGS = settings_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SETTINGS_VALIDATOR = jsonschema.Draft202012Validator(SETTINGS)
WORKSPACES = [REPO / "manifests", *sorted(p.parent for p in (REPO / "examples").glob("*/authctl.yaml"))]


def schema_errors(document: Any, validator: jsonschema.protocols.Validator = VALIDATOR) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def yaml_files(root: Path) -> list[Path]:
    """The YAML files of a workspace that authctl reads (an example's .scenario.yaml is the test's, not authctl's)."""
    return sorted(p for p in root.rglob("*.y*ml") if p.name != ".scenario.yaml" and ".github" not in p.parts)


# -- the committed schemas and the files that point at them -------------------------------------------

def test_committed_schemas_are_current() -> None:
    """Run `python scripts/write_schemas.py` after changing providers/*.yaml or the models."""
    assert (REPO / "schema" / "authctl.schema.json").read_text(encoding="utf-8") == schema_text(SCHEMA)
    assert (REPO / "schema" / "authctl-settings.schema.json").read_text(encoding="utf-8") == schema_text(SETTINGS)


@pytest.mark.parametrize("root", WORKSPACES, ids=lambda p: p.name)
def test_every_yaml_file_names_its_schema_on_the_first_line(root: Path) -> None:
    for path in yaml_files(root):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        prefix = "# yaml-language-server: $schema="
        assert first.startswith(prefix), path
        target = (path.parent / first.removeprefix(prefix)).resolve()
        expected = "authctl-settings.schema.json" if path.name == "authctl.yaml" else "authctl.schema.json"
        assert target == REPO / "schema" / expected, path


# -- every demo and example manifest matches, as written and rendered ---------------------------------

@pytest.mark.parametrize("root", WORKSPACES, ids=lambda p: p.name)
def test_template_sources_match_the_schema_as_written(root: Path) -> None:
    """An editor sees the source: values such as "{{ fb_account }}" must not be flagged."""
    for path in yaml_files(root):
        validator = SETTINGS_VALIDATOR if path.name == "authctl.yaml" else VALIDATOR
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                assert schema_errors(document, validator) == [], path


@pytest.mark.parametrize("root", WORKSPACES, ids=lambda p: p.name)
def test_rendered_manifests_match_the_schema_in_every_environment(root: Path) -> None:
    environments = list(load_workspace(root).settings.environments) or [None]
    for env in environments:
        workspace = load_workspace(root, env)
        files = [(p, workspace.display_path(p)) for p in yaml_files(root) if p.name != "authctl.yaml"]
        sink = DiagnosticSink()
        documents = read_documents(files, workspace.template_vars(), sink).documents
        assert not sink.has_errors, [d.format() for d in sink.items]
        assert documents
        for document in documents:
            assert "{{" not in json.dumps(document.data)
            assert schema_errors(document.data) == [], (root.name, env, document.file)


@pytest.mark.parametrize("root", WORKSPACES, ids=lambda p: p.name)
def test_settings_files_match_the_settings_schema(root: Path) -> None:
    data = yaml.safe_load((root / "authctl.yaml").read_text(encoding="utf-8"))
    assert schema_errors(data, SETTINGS_VALIDATOR) == []


# -- per provider/method and per workflow ------------------------------------------------------------

FB = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "fb"},
      "spec": {"provider": "facebook", "method": "system_user", "label": "FB",
               "config": {"ads_account_id": "act_12345"}, "credentials": {"access_token": {"env": "FB_TOKEN"}}}}
GCP = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "gcp"},
       "spec": {"provider": "google_cloud", "method": "pubsub_service_account", "label": "GCP",
                "credentials": {"cert_json": {"file": "secrets/sa.json"}}}}
PIN = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "pin"},
       "spec": {"provider": "pinterest", "method": "capi_token", "label": "PIN",
                "config": {"account_id": "549755885175"}, "credentials": {"token": {"env": "PIN"}}}}
ADS = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "ads"},
       "spec": {"provider": "google_ads", "method": "oauth", "label": "ADS"}}
PUBSUB_JOB = {"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": "events"},
              "spec": {"workflow": "pubsub-ingress", "authorizations": ["gcp"],
                       "config": {"stream": "web", "topic_id": "projects/acme-prod/topics/web-events"}}}
FB_JOB = {"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": "audiences"},
          "spec": {"workflow": "facebook-audience-populate", "authorizations": ["fb"],
                   "config": {"ads_account_id": "act_12345", "segment_ids": ["vip"]}}}
TT = {"apiVersion": "authctl/v1", "kind": "Authorization", "metadata": {"name": "tt"},
      "spec": {"provider": "tiktok", "method": "events_token", "label": "TT", "credentials": {"token": {"env": "T"}}}}
TIKTOK_JOB = {"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": "tt"},
              "spec": {"workflow": "tiktok-web-events", "authorizations": ["tt"],
                       "config": {"segment_ids": ["buyers"], "pixel_code": "CJ4ABC3C77U1234XYZ90",
                                  "event_source": "web", "event_name": "CompletePayment",
                                  "page_url": "https://www.example.com/checkout",
                                  "identifier_mapping": [{"lytics": "email", "tiktok": "email"}],
                                  "property_mapping": [{"lytics": "order_value", "tiktok": "value"}]}}}
_DELETE = object()


def _with(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``document`` with dotted paths (``spec__config__x``) set, or deleted with _DELETE."""
    result = copy.deepcopy(document)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return result


# (id, document, the schema and validate reject it, a piece of the schema error's path)
CASES: list[tuple[str, dict[str, Any], bool, str]] = [
    ("fb good", FB, False, ""),
    ("fb config field unknown", _with(FB, spec__config__ads_acount="act_12345"), True, "spec/config"),
    ("fb config pattern", _with(FB, spec__config__ads_account_id="12345"), True, "spec/config/ads_account_id"),
    ("fb config type", _with(FB, spec__config__ads_account_id=["act_12345"]), True, "spec/config/ads_account_id"),
    ("fb config missing", _with(FB, spec__config=_DELETE), True, "spec"),
    ("fb required config field missing", _with(FB, spec__config={}), True, "spec/config"),
    ("fb secret under config", _with(FB, spec__config__access_token="x"), True, "spec/config"),
    ("fb credential unknown", _with(FB, spec__credentials__token={"env": "X"}), True, "spec/credentials"),
    ("fb credentials missing", _with(FB, spec__credentials=_DELETE), True, "spec"),
    ("fb method of another provider", _with(FB, spec__method="pubsub_service_account"), True, "spec/method"),
    ("fb templated config", _with(FB, spec__config__ads_account_id="{{ fb_account }}"), False, ""),
    ("fb templated env name", _with(FB, spec__credentials__access_token={"env": "FB_{{ env | upper }}"}),
     False, ""),
    ("gcp good", GCP, False, ""),
    ("gcp takes no config", _with(GCP, spec__config={"project": "x"}), True, "spec/config"),
    ("gcp literal key", _with(GCP, spec__credentials__cert_json='{"type": "service_account"}'), True,
     "spec/credentials/cert_json"),
    ("pinterest account id as a number", _with(PIN, spec__config__account_id=549755885175), False, ""),
    ("pinterest account id pattern", _with(PIN, spec__config__account_id="acct-1"), True, "spec/config/account_id"),
    ("oauth good", ADS, False, ""),
    ("oauth with credentials", _with(ADS, spec__credentials={"token": {"env": "T"}}), True, "spec/credentials"),
    ("pubsub job good", PUBSUB_JOB, False, ""),
    ("pubsub topic pattern", _with(PUBSUB_JOB, spec__config__topic_id="projects/x/topics/y"), True,
     "spec/config/topic_id"),
    ("pubsub stream type", _with(PUBSUB_JOB, spec__config__stream={"name": "web"}), True, "spec/config/stream"),
    ("pubsub templated topic", _with(PUBSUB_JOB, spec__config__topic_id="projects/{{ p }}/topics/t"), False, ""),
    ("fb job good", FB_JOB, False, ""),
    ("fb job segment_ids not a list", _with(FB_JOB, spec__config__segment_ids="vip"), True, "spec/config/segment_ids"),
    ("fb job account pattern", _with(FB_JOB, spec__config__ads_account_id="1234"), True,
     "spec/config/ads_account_id"),
    # validate warns (the catalog may lag the platform); the schema lets it be
    ("fb job unknown config field", _with(FB_JOB, spec__config__segment="x"), False, ""),
    ("tiktok job good", TIKTOK_JOB, False, ""),
    ("tiktok job required field missing", _with(TIKTOK_JOB, spec__config__pixel_code=_DELETE), True, "spec/config"),
    ("tiktok job config missing", _with(TIKTOK_JOB, spec__config=_DELETE), True, "spec"),
    ("tiktok job enum", _with(TIKTOK_JOB, spec__config__audience_events="enters"), True,
     "spec/config/audience_events"),
    ("tiktok job templated enum", _with(TIKTOK_JOB, spec__config__audience_events="{{ events }}"), False, ""),
    ("tiktok job list item type", _with(TIKTOK_JOB, spec__config__segment_ids=[{"id": "buyers"}]), True,
     "spec/config/segment_ids/0"),
    ("tiktok job mapping item type", _with(TIKTOK_JOB, spec__config__identifier_mapping=["email"]), True,
     "spec/config/identifier_mapping/0"),
    ("job templated state", _with(FB_JOB, spec__state="{{ 'running' if prod else 'paused' }}"), False, ""),
    ("job state", _with(FB_JOB, spec__state="stopped"), True, "spec/state"),
]


@pytest.mark.parametrize(("what", "document", "rejected", "where"), CASES, ids=[c[0] for c in CASES])
def test_conditional_schemas(what: str, document: dict[str, Any], rejected: bool, where: str) -> None:
    found = schema_errors(document)
    if rejected:
        assert found, what
        assert any(error.startswith(where) for error in found), found
    else:
        assert found == [], found


def _validate(documents: list[dict[str, Any]], tmp_path: Path) -> list[str]:
    """The errors `authctl validate` finds in ``documents`` (with the authorizations jobs bind)."""
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    sink = DiagnosticSink()
    loaded = read_documents([(path, "m.yaml")], {}, sink)
    validate_documents(loaded.documents, load_catalog(), sink, SecretFileRules(tmp_path))
    return [d.format() for d in sink.items if d.severity is Severity.ERROR]


@pytest.mark.parametrize(("what", "document", "rejected", "where"),
                         [c for c in CASES if "templated" not in c[0]], ids=[c[0] for c in CASES if "templated" not in c[0]])
def test_validate_agrees_with_the_schema(what: str, document: dict[str, Any], rejected: bool, where: str,
                                         tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "sa.json").write_text("{}")
    bound = [FB, GCP, TT] if document["kind"] == "Job" else []
    errors = _validate([document, *bound], tmp_path)
    assert bool(errors) == rejected, errors


def test_a_workflow_without_declared_fields_takes_any_config(tmp_path: Path) -> None:
    """A provider folder may list a workflow without its fields (the built-in catalog declares every one's):
    then neither the schema nor validate checks, or warns about, its config."""
    catalog = load_catalog()
    tiktok = catalog.providers["tiktok"]
    bare = Catalog({**catalog.providers, "tiktok": replace(tiktok, workflows={
        **tiktok.workflows, "tiktok-web-events": replace(tiktok.workflows["tiktok-web-events"], fields=[])})})
    job = _with(TIKTOK_JOB, spec__config={"anything": [1, 2]})
    schema = manifest_schema(bare)
    assert "JobConfig.tiktok-web-events" not in schema["$defs"]
    assert schema_errors(job, jsonschema.Draft202012Validator(schema)) == []
    assert schema_errors(job), "the built-in catalog declares the fields of tiktok-web-events"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all([job, TT], sort_keys=False), encoding="utf-8")
    sink = DiagnosticSink()
    validate_documents(read_documents([(path, "m.yaml")], {}, sink).documents, bare, sink, SecretFileRules(tmp_path))
    assert [d.format() for d in sink.items] == []


def test_method_completion_is_narrowed_by_provider() -> None:
    conditions = SCHEMA["$defs"]["AuthorizationSpecModel"]["allOf"]
    by_provider = {c["if"]["properties"]["provider"]["const"]: c["then"]["properties"]["method"]["enum"]
                   for c in conditions if list(c["if"]["properties"]) == ["provider"]}
    assert by_provider["google_cloud"] == ["pubsub_service_account", "gcs_service_account",
                                           "bigquery_service_account"]
    assert set(by_provider) == set(load_catalog().providers)
    config = SCHEMA["$defs"]["Config.google_cloud.pubsub_service_account"]
    assert config["properties"] == {} and config["additionalProperties"] is False
    topic = SCHEMA["$defs"]["JobConfig.pubsub-ingress"]["properties"]["topic_id"]
    assert topic["title"] == "Pub/Sub topic ID"
    assert topic["description"].startswith("The topic ID of the Cloud Pub/Sub topic")
    assert topic["examples"] == ["web-events"]


# -- authctl.yaml ---------------------------------------------------------------------------------------

def _settings_models() -> dict[str, type]:
    models: dict[str, type] = {}
    pending: list[type] = [Settings]
    while pending:
        model = pending.pop()
        models[model.__name__] = model
        for info in model.model_fields.values():
            for candidate in _model_types(info.annotation):
                if candidate.__name__ not in models:
                    pending.append(candidate)
    return models


def _model_types(annotation: Any) -> list[type]:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _model_types(arg)]


def test_every_settings_field_is_described() -> None:
    models = _settings_models()
    assert set(SETTINGS_DESCRIPTIONS) == set(models)
    for name, model in models.items():
        assert set(SETTINGS_DESCRIPTIONS[name]) == set(model.model_fields), name
        properties = SETTINGS["$defs"][name]["properties"]
        for field, node in properties.items():
            assert node.get("description"), f"{name}.{field}"
        assert SETTINGS["$defs"][name].get("description"), name


@pytest.mark.parametrize("settings", [
    {"backend": {"kind": "cloud"}},
    {"enviroments": {}},
    {"policy": {"expiry_warning_days": 5000}},
    {"backend": {"kind": "lytics", "token_env": "lyt_abc-123.secret"}},
    {"environments": {"prod": {"vars": [], "state": {"url": ".authctl/prod.db"}}}},
    {"version": 2},
])
def test_settings_schema_rejects_mistakes(settings: dict[str, Any]) -> None:
    assert schema_errors(settings, SETTINGS_VALIDATOR), settings


def test_settings_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SETTINGS)
    assert SETTINGS["$ref"] == "#/$defs/Settings"
    assert SETTINGS["$defs"]["BackendSettings"]["properties"]["kind"]["enum"] == ["local", "lytics"]
