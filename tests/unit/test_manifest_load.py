"""load_desired in-process: what a valid workspace turns into, and the demo workspace."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.catalog import Catalog, load_catalog
from reconciler.errors import ManifestError, WorkspaceError
from reconciler.manifest import LoadResult, SecretRef, load_desired
from reconciler.workspace import load_workspace

DEMO = Path(__file__).resolve().parents[2] / "manifests"

AUTH = textwrap.dedent("""\
    # comment line
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-ads-{{ env }}
      labels: {team: "{{ team }}"}
    spec:
      provider: facebook
      method: system_user
      label: "Facebook Ads {{ env }}"
      config: {ads_account_id: "{{ account }}"}
      credentials:
        access_token: {env: FB_TOKEN}
    ---
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: gcp-pubsub}
    spec:
      provider: google_cloud
      method: pubsub_service_account
      label: Pub/Sub
      credentials:
        cert_json: {file: secrets/sa.json}
    """)

JOBS = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Job
    metadata: {name: audiences}
    spec:
      workflow: facebook-audience-populate
      authorizations: [fb-ads-{{ env }}]
      state: paused
      config: {segment_ids: [a, b]}
    ---
    apiVersion: authctl/v1
    kind: Job
    metadata: {name: events}
    spec:
      workflow: pubsub-ingress
      authorizations: [gcp-pubsub]
      config: {stream: web_events, topic_id: web-events}
    """)

SETTINGS = textwrap.dedent("""\
    vars: {team: growth}
    environments:
      prod: {vars: {account: act_1234567890}}
      staging: {vars: {account: act_5555555555}}
    """)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_valid_workspace_becomes_desired_state(make_workspace, catalog: Catalog,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FB_TOKEN", raising=False)  # secrets are not needed to load
    root = make_workspace({"auths.yaml": AUTH, "jobs/all.yml": JOBS}, settings=SETTINGS)
    result = load_desired(load_workspace(root, "prod"), catalog)

    assert isinstance(result, LoadResult)
    assert result.warnings == []
    desired = result.desired
    assert desired.environment == "prod"
    assert desired.files == ("auths.yaml", "jobs/all.yml")
    assert desired.object_count == 4
    fb = desired.authorizations["fb-ads-prod"]
    assert (fb.provider, fb.method, fb.label) == ("facebook", "system_user", "Facebook Ads prod")
    assert fb.config == {"ads_account_id": "act_1234567890"}
    assert fb.credentials == {"access_token": SecretRef("env", "FB_TOKEN")}
    assert fb.labels == {"team": "growth"}
    assert fb.address == "Authorization/fb-ads-prod"
    assert (fb.source.file, fb.source.line) == ("auths.yaml", 2)
    gcp = desired.authorizations["gcp-pubsub"]
    assert gcp.credentials == {"cert_json": SecretRef("file", "secrets/sa.json")}
    assert (gcp.source.file, gcp.source.line) == ("auths.yaml", 15)
    job = desired.jobs["audiences"]
    assert job.authorizations == ("fb-ads-prod",)
    assert job.state == "paused"
    assert job.config == {"segment_ids": ["a", "b"]}
    assert desired.jobs["events"].state == "running"  # the default
    assert (desired.jobs["events"].source.file, desired.jobs["events"].source.line) == ("jobs/all.yml", 10)


def test_environment_changes_the_rendered_state_and_digest(make_workspace, catalog: Catalog) -> None:
    root = make_workspace({"auths.yaml": AUTH, "jobs.yaml": JOBS}, settings=SETTINGS)
    prod = load_desired(load_workspace(root, "prod"), catalog).desired
    again = load_desired(load_workspace(root, "prod"), catalog).desired
    staging = load_desired(load_workspace(root, "staging"), catalog).desired
    assert staging.authorizations["fb-ads-staging"].config == {"ads_account_id": "act_5555555555"}
    assert prod.digest == again.digest
    assert prod.digest != staging.digest


def test_errors_arrive_together_as_one_manifest_error(make_workspace, catalog: Catalog) -> None:
    root = make_workspace({"auths.yaml": AUTH.replace("pubsub_service_account", "pubsub"),
                           "jobs.yaml": JOBS.replace("state: paused", "state: sleeping")}, settings=SETTINGS)
    with pytest.raises(ManifestError) as info:
        load_desired(load_workspace(root, "prod"), catalog)
    got = [(d.file, d.line, d.field) for d in info.value.diagnostics]
    assert got == [("auths.yaml", 20, "spec.method"), ("jobs.yaml", 7, "spec.state")]


def test_warnings_ride_on_the_result(make_workspace, catalog: Catalog) -> None:
    jobs = JOBS.replace("{segment_ids: [a, b]}", "{segments: [a, b]}")  # a near miss of a real field
    root = make_workspace({"auths.yaml": AUTH, "jobs.yaml": jobs}, settings=SETTINGS)
    result = load_desired(load_workspace(root, "prod"), catalog)
    assert [(w.file, w.line, w.field) for w in result.warnings] == [("jobs.yaml", 8, "spec.config.segments")]
    assert 'did you mean "segment_ids"?' in result.warnings[0].message


def test_no_manifest_files_is_a_workspace_error(make_workspace, catalog: Catalog) -> None:
    with pytest.raises(WorkspaceError, match="no manifest files"):
        load_desired(load_workspace(make_workspace({"README.md": "x"})), catalog)


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_demo_workspace(catalog: Catalog, env: str) -> None:
    result = load_desired(load_workspace(DEMO, env), catalog)
    assert result.warnings == [], [w.format() for w in result.warnings]  # only fields the catalog knows
    desired = result.desired
    assert desired.environment == env
    facebook = [a for a in desired.authorizations.values() if a.provider == "facebook"]
    assert len(facebook) >= 2, "the demo has two Facebook ad accounts"
    assert len({a.config["ads_account_id"] for a in facebook}) == len(facebook)
    assert all("{{" not in a.label for a in desired.authorizations.values())
    for job in desired.jobs.values():
        for name in job.authorizations:
            auth = desired.authorizations[name]
            assert catalog.method(auth.provider, auth.method).supports(job.workflow)
    providers = {a.provider for a in desired.authorizations.values()}
    assert len(providers) >= 3
