"""Issue 11: one run of `authctl validate` reports every mistake, in authctl's words.

- A workspace with many independent mistakes, several in the same objects (a wrong type
  beside a catalog error, a bad job state beside an unknown workflow), reports all of them
  at once, each with its file and line; fixing some never reveals others.
- A corpus of documents that makes every field of the manifest models fail in every way
  it can: no message is pydantic's ("Input should ...", "Field required"), every error
  type has its own wording, and no value of a secret is ever echoed.
- Duplicate names and labels are reported at the second occurrence, naming the first.
- A secret whose content breaks the catalog's rule (a Google service-account key that is
  not one) stops plan and apply, naming file, line and why, never the value; apply
  changes nothing.
- `authctl providers NAME` shows each workflow's config fields; `--format json` has them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from apply_support import read_world
from reconciler.manifest.model import DOCUMENT_MODELS
from reconciler.manifest.validate import _choices_at, _shape_problem

CANARY = "CANARY-5e1d0c7a-never-print"
PYDANTIC_PHRASES = ("Input should", "Field required", "String should", "Extra inputs", "valid dictionary",
                    "valid list", "should have at least", "validation error", "pydantic", "List should",
                    "Dictionary should")


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, row in enumerate(text.splitlines(), 1) if needle in row]
    assert len(hits) >= nth, f"{needle!r} not in the test text"
    return hits[nth - 1]


# -- one run finds everything -------------------------------------------------------------------

A = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-main
    spec:
      provider: facebook
      method: system_user
      label: Facebook main
      description: [not, text]
      config:
        ads_account_id: "12345"
      credentials:
        access_token: {env: FB_TOKEN}
    ---
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-emea
    spec:
      provider: facebook
      method: sytem_user
      label: FACEBOOK MAIN
      credentials:
        access_token: {env: FB_TOKEN}
    """)
B = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: pinterest
      labels:
        team: 7
    spec:
      provider: pinterest
      method: capi_token
      label: Facebook Main
      credentials:
        token: {env: PIN_TOKEN}
    """)
C = y("""
    apiVersion: authctl/v1
    kind: Job
    metadata:
      name: fb-audiences
    spec:
      workflow: facebook-audience-populat
      authorizations: [fb-emea]
      state: stopped
    """)
D = y("""
    apiVersion: authctl/v1
    kind: Job
    metadata:
      name: fb-audiences
    spec:
      workflow: facebook-audience-populate
      authorizations: [fb-main]
      config:
        segment_ids: high_value
    """)
A2 = A.split("---\n")[1]
A2_START = line(A, "---") + 1

EXPECTED = [
    # a wrong-typed field beside a config pattern violation in the same object
    f"a.yaml:{line(A, 'description:')}: Authorization/fb-main: spec.description: "
    "must be text (a string), got a list",
    f"a.yaml:{line(A, 'ads_account_id:')}: Authorization/fb-main: spec.config.ads_account_id: "
    '"12345" does not match the pattern ^act_[0-9]{5,20}$ (e.g. act_1234567890)',
    # an unknown method beside a duplicate label
    f"a.yaml:{line(A, 'sytem_user')}: Authorization/fb-emea: spec.method: "
    'unknown method "sytem_user" for facebook; did you mean "system_user"? (methods: system_user, user_oauth)',
    f"a.yaml:{line(A, 'FACEBOOK MAIN')}: Authorization/fb-emea: spec.label: "
    f'"FACEBOOK MAIN" is a duplicate of the label of Authorization/fb-main at a.yaml:{line(A, "label:")} '
    "(labels must be unique, ignoring case)",
    # a wrong-typed label value beside a second duplicate label and a missing required config field
    f"b.yaml:{line(B, 'team:')}: Authorization/pinterest: metadata.labels.team: "
    "must be text (a string), got a number",
    f"b.yaml:{line(B, 'label: Facebook Main')}: Authorization/pinterest: spec.label: "
    f'"Facebook Main" is a duplicate of the label of Authorization/fb-main at a.yaml:{line(A, "label:")}',
    f"b.yaml:{line(B, 'spec:')}: Authorization/pinterest: spec.config: "
    'required config field "account_id" (Ad account ID) is missing',
    # a bad job state beside an unknown workflow
    f"c.yaml:{line(C, 'state:')}: Job/fb-audiences: spec.state: must be running or paused, got \"stopped\"",
    f"c.yaml:{line(C, 'workflow:')}: Job/fb-audiences: spec.workflow: "
    'unknown workflow "facebook-audience-populat"; did you mean "facebook-audience-populate"?',
    # a duplicate name beside a wrong-typed workflow config field
    f"d.yaml:{line(D, 'name:')}: Job/fb-audiences: metadata.name: "
    f"duplicate of Job/fb-audiences at c.yaml:{line(C, 'name:')}",
    f"d.yaml:{line(D, 'segment_ids:')}: Job/fb-audiences: spec.config.segment_ids: must be a list, got text (a string)",
]


def test_every_mistake_is_reported_in_one_run(make_workspace, run_cli) -> None:
    root = make_workspace({"a.yaml": A, "b.yaml": B, "c.yaml": C, "d.yaml": D})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rows = result.stderr.splitlines()
    for expected in EXPECTED:
        assert any(row.startswith(expected) for row in rows), f"{expected!r} not in:\n{result.stderr}"
    assert rows[-1] == f"Error: {len(EXPECTED)} errors in the manifests", result.stderr
    # A job bound to an Authorization with a broken field is not told the Authorization does not exist.
    assert "unknown authorization" not in result.stderr


def test_the_json_listing_has_the_same_errors_with_lines(make_workspace, run_cli) -> None:
    root = make_workspace({"a.yaml": A, "b.yaml": B, "c.yaml": C, "d.yaml": D})
    result = run_cli("validate", "--format", "json", cwd=root)
    assert result.returncode == 1
    diagnostics = json.loads(result.stdout)["error"]["diagnostics"]
    assert len(diagnostics) == len(EXPECTED)
    assert all(d["file"] and d["line"] > 0 and d["rule"] for d in diagnostics)
    assert {d["rule"] for d in diagnostics} == {
        "invalid-value", "config-pattern", "unknown-method", "duplicate-label", "missing-config-field",
        "unknown-workflow", "duplicate-name", "config-type"}


def test_a_document_with_shape_errors_is_still_a_name_for_bindings_and_duplicates(make_workspace, run_cli) -> None:
    """A wrong apiVersion or a wrong-typed field does not make jobs see an unknown authorization."""
    auth = A2.replace("method: sytem_user", "method: system_user").replace(
        "label: FACEBOOK MAIN", "label: [x]\n  config: {ads_account_id: act_12345}")
    job = C.replace("facebook-audience-populat", "facebook-audience-populate").replace("state: stopped",
                                                                                        "state: paused")
    other = y("""
        apiVersion: authctl/v2
        kind: Authorization
        metadata: {name: fb-other}
        spec: {}
        """)
    root = make_workspace({"a.yaml": auth, "b.yaml": other, "c.yaml": job.replace("[fb-emea]", "[fb-emea, fb-other]")})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1
    assert "unknown authorization" not in result.stderr
    assert "Error: 2 errors in the manifests" in result.stderr, result.stderr


# -- authctl's words for every error the models can produce -------------------------------------

BASE = {
    "Authorization": {"apiVersion": "authctl/v1", "kind": "Authorization",
                      "metadata": {"name": "fb", "labels": {"team": "growth"}, "annotations": {"a": "b"}},
                      "spec": {"provider": "facebook", "method": "system_user", "label": "FB", "description": "d",
                               "config": {"ads_account_id": "act_12345"},
                               "credentials": {"access_token": {"env": "FB_TOKEN"}}}},
    "Job": {"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": "job"},
            "spec": {"workflow": "facebook-audience-populate", "authorizations": ["fb"], "state": "running",
                     "description": "d", "config": {"segment_ids": ["a"]}}},
}
# What every field is given instead of its value: each type a YAML value can have, empty and
# overlong text, and (for text fields) a canary, to prove values are not echoed where they could be secret.
BAD_VALUES: list[Any] = [7, 1.5, True, None, ["x"], {"k": "v"}, "", "x" * 5000, {1: "v"}, [1], []]


def _paths(kind: str) -> list[tuple[str, ...]]:
    document = BASE[kind]
    return [("metadata", key) for key in document["metadata"]] + [("spec", key) for key in document["spec"]] + [
        ("metadata",), ("spec",)]


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    """(id, document) for every field of both kinds set to every bad value, removed, or joined by an unknown one."""
    import copy

    documents: list[tuple[str, dict[str, Any]]] = []
    for kind in BASE:
        for path in _paths(kind):
            for index, value in enumerate([*BAD_VALUES, "DELETE", "EXTRA"]):
                document = copy.deepcopy(BASE[kind])
                node = document
                for part in path[:-1]:
                    node = node[part]
                if value == "DELETE":
                    del node[path[-1]]
                elif value == "EXTRA":
                    target = node[path[-1]]
                    if not isinstance(target, dict):
                        continue
                    target[f"unknown_{index}"] = CANARY
                else:
                    node[path[-1]] = value
                documents.append((f"{kind}-{'.'.join(path)}-{index}", document))
    return documents


CORPUS = _corpus()


def test_every_pydantic_error_type_has_its_own_wording() -> None:
    seen: set[str] = set()
    for what, document in CORPUS:
        try:
            DOCUMENT_MODELS[document["kind"]].model_validate(document)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                seen.add(err["type"])
                loc = tuple(err["loc"])
                message = _shape_problem(err["type"], err.get("input"), err.get("ctx") or {},
                                         _choices_at(document["kind"], loc), loc)
                assert not message.startswith("is not valid here"), (what, err["type"])
                assert not any(phrase in message for phrase in PYDANTIC_PHRASES), (what, message)
    # The corpus reaches every kind of error the manifest models can produce.
    assert {"literal_error", "string_type", "missing", "extra_forbidden", "string_pattern_mismatch",
            "string_too_short", "string_too_long", "list_type", "too_short", "dict_type", "model_type"} <= seen, seen


def test_no_pydantic_phrasing_and_no_echoed_secret_in_a_corpus_of_bad_manifests(make_workspace, run_cli) -> None:
    files = {f"bad/{what}.yaml": yaml.safe_dump(document, sort_keys=False) for what, document in CORPUS}
    # Secrets in the wrong places: credentials of every wrong shape, and secret fields under config.
    secrets = [{"access_token": CANARY}, [CANARY], CANARY, {"access_token": [CANARY]},
               {"access_token": {"env": CANARY}}, {"access_token": {"file": CANARY, "env": "X"}},
               {"access_token": {"value": CANARY}}]
    for index, credentials in enumerate(secrets):
        document = json.loads(json.dumps(BASE["Authorization"]))
        document["metadata"]["name"] = f"secret-{index}"
        document["spec"]["label"] = f"Secret {index}"
        document["spec"]["credentials"] = credentials
        document["spec"]["config"]["access_token"] = CANARY
        files[f"secret/{index}.yaml"] = yaml.safe_dump(document, sort_keys=False)
    root = make_workspace(files)
    text = run_cli("validate", cwd=root)
    as_json = run_cli("validate", "--format", "json", cwd=root)
    for result in (text, as_json):
        assert result.returncode == 1
        output = result.stdout + result.stderr
        assert "Traceback" not in output and "internal error" not in output
        assert not [phrase for phrase in PYDANTIC_PHRASES if phrase in output], output
        assert CANARY not in output
    diagnostics = json.loads(as_json.stdout)["error"]["diagnostics"]
    assert len(diagnostics) > 200  # more than the text output shows; JSON lists every one
    assert all(d["line"] > 0 for d in diagnostics)
    assert {d["file"].split("/")[1] for d in diagnostics if d["file"].startswith("secret/")} == {
        f"{i}.yaml" for i in range(len(secrets))}


# -- secret content -------------------------------------------------------------------------------

PUBSUB = y("""
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: gcp-pubsub}
    spec:
      provider: google_cloud
      method: pubsub_service_account
      label: GCP Pub/Sub
      credentials:
        cert_json: {file: secrets/sa.json}
    ---
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: gcp-bq}
    spec:
      provider: google_cloud
      method: bigquery_service_account
      label: GCP BigQuery
      credentials:
        cert_json: {env: GCP_BQ_KEY}
    """)
GOOD_KEY = json.dumps({"type": "service_account", "client_email": "sa@acme.iam.gserviceaccount.com",
                       "private_key": "-----BEGIN PRIVATE KEY-----\ndummy\n-----END PRIVATE KEY-----\n"})
SA_LINE = line(PUBSUB, "cert_json: {file")
BQ_LINE = line(PUBSUB, "cert_json: {env")


@pytest.mark.parametrize(("key", "why"), [
    (f"not json at all {CANARY}", "not JSON"),
    (json.dumps([CANARY]), "JSON, but not an object"),
    (json.dumps({"type": "service_account", "project_id": CANARY}), "missing client_email, private_key"),
    (json.dumps({"type": CANARY, "client_email": "a@b", "private_key": CANARY}), 'type is not "service_account"'),
], ids=["not-json", "not-an-object", "missing-keys", "wrong-type"])
def test_plan_refuses_a_secret_whose_content_is_wrong(key: str, why: str, make_workspace, run_cli) -> None:
    root = make_workspace({"g.yaml": PUBSUB, "secrets/sa.json": key})
    env = {"GCP_BQ_KEY": "{}"}
    assert run_cli("validate", cwd=root).returncode == 0  # validate reads no secret
    result = run_cli("plan", cwd=root, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"g.yaml:{SA_LINE}: Authorization/gcp-pubsub: spec.credentials.cert_json: the file secrets/sa.json "
            f"is not a Google service-account key ({why})") in result.stderr
    assert (f"g.yaml:{BQ_LINE}: Authorization/gcp-bq: spec.credentials.cert_json: the environment variable "
            "GCP_BQ_KEY is not a Google service-account key (missing type, client_email, private_key)"
            ) in result.stderr
    assert "Error: 2 errors in the manifests" in result.stderr
    assert CANARY not in result.stdout + result.stderr
    as_json = run_cli("plan", "--format", "json", cwd=root, env=env)
    assert as_json.returncode == 1 and CANARY not in as_json.stdout + as_json.stderr
    assert {d["rule"] for d in json.loads(as_json.stdout)["error"]["diagnostics"]} == {"secret-content"}


def test_plan_without_the_secret_does_not_compare_and_a_good_key_plans(make_workspace, run_cli) -> None:
    root = make_workspace({"g.yaml": PUBSUB})
    result = run_cli("plan", cwd=root, env={"GCP_BQ_KEY": None})
    assert result.returncode == 0, result.stderr  # PR CI has no secrets: nothing to check yet
    (root / "secrets").mkdir()
    (root / "secrets" / "sa.json").write_text(GOOD_KEY)
    result = run_cli("plan", cwd=root, env={"GCP_BQ_KEY": GOOD_KEY})
    assert result.returncode == 0, result.stderr


def test_apply_refuses_a_wrong_secret_and_changes_nothing(make_workspace, run_cli) -> None:
    root = make_workspace({"g.yaml": PUBSUB, "secrets/sa.json": f"not json at all {CANARY}"})
    result = run_cli("apply", "--auto-approve", cwd=root, env={"GCP_BQ_KEY": GOOD_KEY})
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("spec.credentials.cert_json: the file secrets/sa.json is not a Google service-account key (not JSON)"
            in result.stderr)
    assert CANARY not in result.stdout + result.stderr
    world = read_world(root)
    assert world.auths == {} and world.jobs == {} and world.managed == {} and world.pending == []
    (root / "secrets" / "sa.json").write_text(GOOD_KEY)
    result = run_cli("apply", "--auto-approve", cwd=root, env={"GCP_BQ_KEY": GOOD_KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(a.label for a in read_world(root).auths.values()) == ["GCP BigQuery", "GCP Pub/Sub"]


# -- discoverable workflow fields -------------------------------------------------------------------

def test_providers_lists_each_workflows_config_fields(run_cli) -> None:
    result = run_cli("providers", "google_cloud")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert any("workflow pubsub-ingress: Import events from Cloud Pub/Sub" in row for row in rows)
    topic = next(row for row in rows if "│ topic_id" in row)
    assert ("Pub/Sub topic ID" in topic and "string" in topic and "│ yes " in topic
            and "The topic ID of the Cloud Pub/Sub topic" in topic)
    assert any("runs with: google_cloud/pubsub_service_account" in row for row in rows)
    assert "Must be a Google service-account key" in result.stdout
    facebook = run_cli("providers", "facebook").stdout
    assert next(row for row in facebook.splitlines() if "│ segment_ids" in row).count("list") == 1


def test_providers_json_carries_workflow_fields_and_content_rules(run_cli) -> None:
    result = run_cli("providers", "google_cloud", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    fields = {f["name"]: f for f in data["workflows"]["pubsub-ingress"]["fields"]}
    assert fields["topic_id"]["type"] == "string" and fields["topic_id"]["required"] is True
    assert fields["topic_id"]["description"].startswith("The topic ID of the Cloud Pub/Sub topic")
    assert fields["topic_id"]["pattern"].startswith("^(projects/")
    cert = data["methods"]["pubsub_service_account"]["fields"][0]
    assert cert["content"] == {"what": "a Google service-account key", "format": "json_object",
                               "required_keys": ["type", "client_email", "private_key"],
                               "required_values": {"type": "service_account"}}


def test_schema_settings_option(run_cli, tmp_path: Path) -> None:
    from reconciler.manifest.schema import schema_text, settings_schema

    result = run_cli("schema", "--settings")
    assert result.returncode == 0, result.stderr
    assert result.stdout == schema_text(settings_schema())
    assert json.loads(result.stdout)["$defs"]["PolicySettings"]["properties"]["expiry_warning_days"]["maximum"] == 3650
