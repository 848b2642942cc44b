"""The issue-3 commands as a user runs them: validate, providers, schema, --version, --debug.

Every test runs ``python -m reconciler`` as a subprocess (see ``run_cli`` in conftest).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler import __version__

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "manifests"

FB_AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-ads-main}
    spec:
      provider: facebook
      method: system_user
      label: Facebook Ads main
      config: {ads_account_id: act_1234567890}
      credentials: {access_token: {env: FB_TOKEN}}
    """)

ACME_PROVIDER = textwrap.dedent("""\
    name: acme
    title: Acme Analytics
    methods:
      api_key:
        title: Acme API key
        kind: api_key
        lytics_type: acme-api-key
        fields:
          - {name: account, title: Account, required: true, pattern: '^[0-9]+$'}
          - {name: key, title: API key, required: true, secret: true}
        workflows: [acme-export]
    workflows:
      acme-export:
        title: Export to Acme
    """)

ACME_AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: acme}
    spec:
      provider: acme
      method: api_key
      label: Acme
      config: {account: "42"}
      credentials: {key: {env: ACME_KEY}}
    ---
    apiVersion: authctl/v1
    kind: Job
    metadata: {name: acme-export}
    spec:
      workflow: acme-export
      authorizations: [acme]
    """)


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


# -- basics -----------------------------------------------------------------------------------

def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"authctl {__version__}"


def test_help_lists_the_foundation_commands(run_cli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("validate", "providers", "schema"):
        assert f"  {command} " in result.stdout


def test_unknown_command_is_a_usage_error(run_cli) -> None:
    result = run_cli("valdate")
    assert_clean_failure(result)
    assert "No such command 'valdate'" in result.stderr


# -- the demo workspace -----------------------------------------------------------------------

@pytest.mark.parametrize("env", ["prod", "staging"])
def test_demo_workspace_validates(run_cli, env: str) -> None:
    result = run_cli("validate", "--env", env, "-w", DEMO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Valid: ")
    assert f"(environment {env})" in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_workspace_from_its_own_folder_uses_the_default_environment(run_cli) -> None:
    result = run_cli("validate", "--format", "json", cwd=DEMO)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["authorizations"] >= 3 and data["jobs"] >= 3 and data["files"] >= 3


def test_demo_workspace_unknown_environment(run_cli) -> None:
    result = run_cli("validate", "--env", "nope", "-w", DEMO)
    assert_clean_failure(result)
    line = next(n for n, text in enumerate((DEMO / "authctl.yaml").read_text().splitlines(), 1)
                if text.startswith("environments:"))
    assert (f"Error: authctl.yaml:{line}: environments: unknown environment 'nope' (environments: prod, staging)"
            in result.stderr)


def test_valid_workspace_text_and_warning_for_unknown_job_config(make_workspace, run_cli) -> None:
    job = textwrap.dedent("""\
        apiVersion: authctl/v1
        kind: Job
        metadata: {name: fb-audiences}
        spec:
          workflow: facebook-audience-populate
          authorizations: [fb-ads-main]
          config:
            segments: [a]
        """)
    root = make_workspace({"auth.yaml": FB_AUTH, "jobs/job.yml": job, ".hidden/x.yaml": "not: [valid"})
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Valid: 1 authorizations and 1 jobs in 2 files."
    assert ('warning: jobs/job.yml:8: Job/fb-audiences: spec.config.segments: config field "segments" is '
            'not known for workflow facebook-audience-populate; did you mean "segment_ids"?') in result.stderr

    as_json = run_cli("validate", "--format=json", cwd=root)
    assert as_json.returncode == 0
    data = json.loads(as_json.stdout)
    assert data["warnings"] == [{"file": "jobs/job.yml", "line": 8, "address": "Job/fb-audiences",
                                 "field": "spec.config.segments", "message": data["warnings"][0]["message"],
                                 "severity": "warning", "rule": "unknown-config-field"}]


# -- JSON errors ------------------------------------------------------------------------------

def test_json_errors_list_every_diagnostic(make_workspace, run_cli) -> None:
    bad_method = FB_AUTH.replace("method: system_user", "method: sytem_user")
    dangling = "apiVersion: authctl/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  workflow: pubsub-ingress\n" \
               "  authorizations: [nothing-here]\n  config: {stream: web_events, topic_id: web-events}\n"
    root = make_workspace({"a.yaml": bad_method, "b.yaml": dangling})
    result = run_cli("validate", "--format", "json", "-w", root)
    assert_clean_failure(result)
    payload = json.loads(result.stdout)
    assert payload["format_version"] == "1"
    assert payload["error"]["type"] == "ManifestError"
    assert payload["error"]["message"] == "2 errors in the manifests"
    got = [(d["file"], d["line"], d["address"], d["field"], d["severity"])
           for d in payload["error"]["diagnostics"]]
    assert got == [("a.yaml", 6, "Authorization/fb-ads-main", "spec.method", "error"),
                   ("b.yaml", 6, "Job/j", "spec.authorizations.0", "error")]
    assert 'did you mean "system_user"?' in payload["error"]["diagnostics"][0]["message"]
    assert result.stderr == ""


def test_json_workspace_error_has_message_and_hint(tmp_path: Path, run_cli) -> None:
    result = run_cli("validate", "--format", "json", "-w", tmp_path)
    assert_clean_failure(result)
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "WorkspaceError"
    assert "authctl.yaml not found" in error["message"]
    assert "authctl.yaml" in error["hint"]


@pytest.mark.parametrize("args", [
    ("validate", "--format", "json", "--bogus"),
    ("validate", "--bogus", "--format=json"),
    ("validate", "--format", "json", "--env"),
    ("providers", "--format", "json", "a", "b"),
])
def test_json_usage_errors_are_json(run_cli, args: tuple[str, ...]) -> None:
    result = run_cli(*args, cwd=DEMO)
    assert_clean_failure(result)
    payload = json.loads(result.stdout)
    assert payload["error"]["type"] == "UsageError"
    assert payload["error"]["message"]


def test_text_usage_error_for_a_bad_format_value(run_cli) -> None:
    result = run_cli("validate", "--format", "yaml", cwd=DEMO)
    assert_clean_failure(result)
    assert "'yaml' is not one of 'text', 'json'" in result.stderr
    assert result.stdout == ""


# -- --debug ----------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["global", "command"])
def test_debug_shows_the_traceback_of_an_authctl_error(tmp_path: Path, run_cli, where: str) -> None:
    args = ["--debug", "validate", "-w", tmp_path] if where == "global" else ["validate", "-w", tmp_path, "--debug"]
    result = run_cli(*args)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "reconciler.errors.WorkspaceError" in result.stderr
    assert "Error: " in result.stderr

    plain = run_cli("validate", "-w", tmp_path)
    assert_clean_failure(plain)
    assert "WorkspaceError" not in plain.stderr


def test_debug_is_accepted_after_providers_and_schema(run_cli) -> None:
    result = run_cli("providers", "nope", "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "reconciler.errors.UsageError: unknown provider" in result.stderr
    schema = run_cli("schema", "--debug")
    assert schema.returncode == 0, schema.stderr
    assert json.loads(schema.stdout)["$schema"]


_FAULT = """
import sys
import reconciler.cli.manifest_commands as commands
from reconciler.cli import main

def broken(*args, **kwargs):
    raise RuntimeError("boom: an internal bug")

commands.load_desired = broken  # fault injection: an unexpected exception inside a command
sys.exit(main(sys.argv[1:]))
"""


def _run_with_fault(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _FAULT, *args], capture_output=True, text=True,
                          env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}, timeout=60, check=False)


def test_internal_error_without_debug_has_no_traceback() -> None:
    result = _run_with_fault("validate", "-w", str(DEMO))
    assert_clean_failure(result)
    assert "Error: internal error: RuntimeError: boom: an internal bug" in result.stderr
    assert "Run again with --debug for the traceback." in result.stderr


def test_internal_error_with_debug_has_the_traceback() -> None:
    result = _run_with_fault("--debug", "validate", "-w", str(DEMO))
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: boom: an internal bug" in result.stderr


def test_internal_error_as_json() -> None:
    result = _run_with_fault("validate", "--format", "json", "-w", str(DEMO))
    assert_clean_failure(result)
    error = json.loads(result.stdout)["error"]
    assert error == {"type": "RuntimeError", "message": "internal error: RuntimeError"}


# -- providers --------------------------------------------------------------------------------

def test_providers_table(run_cli) -> None:
    result = run_cli("providers")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    for provider, method, lytics_type in [
        ("facebook", "system_user *", "fb-system-user"), ("google_cloud", "pubsub_service_account", "pubsub-jwt"),
        ("aws", "access_keys", "aws-keys"), ("x", "oauth1", "twitter-oauth1-0a"),
    ]:
        assert any(provider in row and method in row and lytics_type in row for row in rows), provider
    for method, kind in [("gcs_service_account", "gcs-jwt"), ("bigquery_service_account", "bq-jwt"),
                         ("user_oauth", "(UI only)"), ("capi_token", "pinterest-capi-token")]:
        assert any(method in row and kind in row for row in rows), method
    for provider in ("google_ads", "amazon_ads", "tiktok", "pinterest", "snapchat", "liveramp"):
        assert any(f" {provider} " in row for row in rows), provider
    assert "* recommended method" in result.stdout


def test_providers_detail_facebook(run_cli) -> None:
    result = run_cli("providers", "facebook")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "facebook/system_user" in out and "facebook/user_oauth" in out
    assert "ads_account_id" in out and "^act_[0-9]{5,20}$" in out
    assert "spec.credentials (secret ref)" in out
    assert "lytics type: fb-system-user" in out
    assert "warning: Facebook user OAuth breaks when the user changes their password" in out


def test_providers_json(run_cli) -> None:
    result = run_cli("providers", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["format_version"] == "1"
    data = data["providers"]
    names = [p["name"] for p in data]
    assert names == sorted(names)
    assert {"facebook", "google_cloud", "google_ads", "amazon_ads", "tiktok", "x", "pinterest",
            "snapchat", "liveramp", "aws"} <= set(names)
    one = json.loads(run_cli("providers", "google_cloud", "--format", "json").stdout)
    assert (one["format_version"], one["name"]) == ("1", "google_cloud")
    assert one["methods"]["pubsub_service_account"]["lytics_type"] == "pubsub-jwt"
    assert "pubsub-ingress" in one["methods"]["pubsub_service_account"]["workflows"]


def test_providers_unknown_name_suggests(run_cli) -> None:
    result = run_cli("providers", "facebok")
    assert_clean_failure(result)
    assert 'Error: unknown provider "facebok"; did you mean "facebook"?' in result.stderr
    as_json = run_cli("providers", "facebok", "--format", "json")
    assert_clean_failure(as_json)
    assert 'did you mean "facebook"?' in json.loads(as_json.stdout)["error"]["message"]


# -- workspace provider folders ---------------------------------------------------------------

def test_workspace_provider_folder_adds_a_provider(make_workspace, run_cli) -> None:
    root = make_workspace({"providers/acme.yaml": ACME_PROVIDER, "m.yaml": ACME_AUTH},
                          settings="providers: [providers]\n")
    assert run_cli("validate", cwd=root).returncode == 0
    listed = run_cli("providers", "acme", "-w", root)
    assert listed.returncode == 0, listed.stderr
    assert "acme/api_key" in listed.stdout
    assert run_cli("providers", "acme").returncode == 1  # not without the workspace
    schema = json.loads(run_cli("schema", "-w", root).stdout)
    assert "acme" in schema["$defs"]["AuthorizationSpecModel"]["properties"]["provider"]["enum"]


@pytest.mark.parametrize("command", [("validate",), ("providers", "-w", "."), ("schema", "-w", ".")])
def test_broken_provider_folder_names_file_and_field(make_workspace, run_cli, command) -> None:
    broken = ACME_PROVIDER.replace("kind: api_key", "kind: api_kee").replace(
        "{name: key, title: API key,", "{name: key, titel: API key,")
    root = make_workspace({"extra/acme.yaml": broken, "m.yaml": FB_AUTH}, settings="providers: [extra]\n")
    result = run_cli(*command, cwd=root)
    assert_clean_failure(result)
    assert "Error: the provider catalog is broken:" in result.stderr
    path = str(root / "extra" / "acme.yaml")
    assert f"{path}: methods.api_key.kind: Input should be 'oauth2'" in result.stderr
    assert f"{path}: methods.api_key.fields.1.titel: Extra inputs are not permitted" in result.stderr


def test_missing_provider_folder(make_workspace, run_cli) -> None:
    root = make_workspace({"m.yaml": FB_AUTH}, settings="providers: [nowhere]\n")
    result = run_cli("validate", "--format", "json", cwd=root)
    assert_clean_failure(result)
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "CatalogError"
    assert "nowhere: provider folder not found" in error["message"]


# -- schema -----------------------------------------------------------------------------------

def test_schema_command_prints_the_schema_and_writes_a_file(tmp_path: Path, run_cli) -> None:
    printed = run_cli("schema")
    assert printed.returncode == 0, printed.stderr
    schema = json.loads(printed.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"$ref": "#/$defs/AuthorizationDocument"} in [branch["then"] for branch in schema["allOf"]]

    target = tmp_path / "authctl.schema.json"
    written = run_cli("schema", "-o", target)
    assert written.returncode == 0
    assert f"Wrote {target}" in written.stderr
    assert json.loads(target.read_text(encoding="utf-8")) == schema
