"""Adopting an existing account as a user does it: `authctl export`, review, `import --all-matching`, `plan`.

The account is made out of band (the embedded platform's own API, as the platform's UI
would): a Facebook system user, a TikTok events token and their jobs, each credential a
canary. Everything after that is the real CLI as subprocesses, on both backends for the
whole story (the lytics one against `authctl platform serve`).

The plan of the exported manifests back exits 0 with ``--detailed-exitcode``: nothing
would change on the platform (every object is a noop); the secrets a person must still
supply are warnings, not changes, so a scheduled drift check stays green after adoption
and turns red only for a real change.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from apply_support import settings
from backend_modes import BACKENDS, open_platform_of, use_backend

FB_LABEL, TT_LABEL = 'Facebook "Ads" {{ main }}', "TikTok web events"
TIKTOK_JOB = {"segment_ids": ["recent"], "pixel_code": "CJ4ABC3C77U1234XYZ90", "event_source": "web",
              "event_name": "CompletePayment", "page_url": "https://www.example.com/done",
              "identifier_mapping": [{"lytics": "email", "tiktok": "email"}],
              "property_mapping": [{"lytics": "value", "tiktok": "value"}]}
FB_VARIABLE = "AUTHCTL_FACEBOOK_FACEBOOK_ADS_MAIN_ACCESS_TOKEN"
TT_VARIABLE = "AUTHCTL_TIKTOK_TIKTOK_WEB_EVENTS_TOKEN"


def _account(root: Path) -> dict[str, Any]:
    """Make the account out of band; returns its ids and the canary secrets stored with it."""
    canaries = {"fb": f"CANARY-{uuid.uuid4()}", "tt": f"CANARY-{uuid.uuid4()}"}
    platform = open_platform_of(root)
    try:
        fb = platform.create_authorization(provider="facebook", method="system_user", type="fb-system-user",
                                           label=FB_LABEL, description="made in the UI: by ops",
                                           config={"ads_account_id": "act_1234567"},
                                           credentials={"access_token": canaries["fb"]})
        tt = platform.create_authorization(provider="tiktok", method="events_token", type="tiktok-events-token",
                                           label=TT_LABEL, credentials={"token": canaries["tt"]})
        audiences = platform.create_job(name="fb-audiences", workflow="facebook-audience-populate",
                                        auth_ids=[fb.id], config={"ads_account_id": "act_1234567",
                                                                  "segment_ids": ["vip"]})
        events = platform.create_job(name="web-events", workflow="tiktok-web-events", auth_ids=[tt.id],
                                     config=TIKTOK_JOB)
        platform.pause_job(events.id)
    finally:
        platform.close()
    return {"canaries": canaries, "fb": fb.id, "tt": tt.id, "jobs": {audiences.id, events.id}}


def _cli(run_cli: Any, root: Path, *args: str, code: int = 0, env: dict[str, str] | None = None,
         outputs: list[str] | None = None) -> str:
    result = run_cli(*args, "-w", root, cwd=root, env=env)
    text = result.stdout + result.stderr
    assert result.returncode == code, (args, result.returncode, text)
    assert "Traceback" not in text, text
    if outputs is not None:
        outputs.append(text)
    return text


def _managed(root: Path) -> list[str]:
    state = root / ".authctl" / "state.db"
    if not state.exists():
        return []
    from apply_support import open_state_of

    store = open_state_of(root)
    try:
        return sorted(o.address for o in store.managed().values())
    finally:
        store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_export_review_import_and_plan_back(make_workspace, run_cli, backend: str) -> None:
    root = make_workspace({}, settings=settings("adopt"))
    account = _account(root)
    outputs: list[str] = []
    with use_backend(root, backend) as where:
        text = _cli(run_cli, root, "export", "-o", "exported", outputs=outputs)
        assert sorted(p.name for p in (root / "exported").iterdir()) == ["facebook.yaml", "tiktok.yaml"]
        assert "Exported 2 authorizations and 2 jobs to exported:" in text
        assert f"  {FB_VARIABLE}  (Authorization/facebook-ads-main access_token)" in text
        assert "Authorization/facebook-ads-main config.ads_account_id" in text
        facebook = (root / "exported" / "facebook.yaml").read_text(encoding="utf-8")
        assert facebook.startswith("# yaml-language-server: $schema=../authctl.schema.json\n")
        assert ("from the Lytics API at http://127.0.0.1:" if backend == "http"
                else "from the embedded platform at .authctl/platform.db") in facebook

        # Review: validate names the config the platform never returns; a person fills it in.
        text = _cli(run_cli, root, "validate", code=1, outputs=outputs)
        line = facebook.splitlines().index("  config: {ads_account_id: null}") + 1
        assert f"exported/facebook.yaml:{line}: Authorization/facebook-ads-main: spec.config.ads_account_id" in text
        (root / "exported" / "facebook.yaml").write_text(
            facebook.replace("{ads_account_id: null}", "{ads_account_id: act_1234567}"), encoding="utf-8")
        assert "Valid: 2 authorizations and 2 jobs" in _cli(run_cli, root, "validate", outputs=outputs)

        # Without a terminal and without --yes: shows what it would import, imports nothing.
        text = _cli(run_cli, root, "import", "--all-matching", code=1, outputs=outputs)
        assert f"Authorization/facebook-ads-main <- {account['fb']}" in text
        assert "import --all-matching needs confirmation: run it on a terminal, or pass --yes" in text
        assert _managed(root) == []

        text = _cli(run_cli, root, "import", "--all-matching", "--yes", outputs=outputs)
        assert "Imported 4 objects" in text
        assert _managed(root) == ["Authorization/facebook-ads-main", "Authorization/tiktok-web-events",
                                  "Job/fb-audiences", "Job/web-events"]

        # Planned back: nothing to change; the secrets to supply are named, never a replace.
        text = _cli(run_cli, root, "plan", "--detailed-exitcode", outputs=outputs)
        flat = " ".join(text.split())  # (a long warning wraps at the terminal's width)
        assert "No changes." in flat and "2 imported authorizations have secrets authctl has not recorded" in flat
        assert f"supply {FB_VARIABLE}, {TT_VARIABLE}, then run `authctl import --all-matching`" in flat
        result = run_cli("plan", "--format", "json", "-w", root, cwd=root)
        outputs.append(result.stdout + result.stderr)
        plan = json.loads(result.stdout)
        assert plan["summary"]["noop"] == 4 and not plan["actions"]
        assert [w["rule"] for w in plan["warning_details"]] == ["secret-not-recorded"]

        # Supplied (the canaries are the live values) and recorded: compared from now on.
        secrets = {FB_VARIABLE: account["canaries"]["fb"], TT_VARIABLE: account["canaries"]["tt"]}
        text = _cli(run_cli, root, "import", "--all-matching", "--yes", env=secrets, outputs=outputs)
        assert "Recorded the secrets of 2 authorizations" in text
        text = _cli(run_cli, root, "plan", "--detailed-exitcode", env=secrets, outputs=outputs)
        assert "No changes" in text and "not recorded" not in text
        rotated = {**secrets, TT_VARIABLE: "a-new-token"}
        text = _cli(run_cli, root, "plan", "--detailed-exitcode", env=rotated, code=2, outputs=outputs)
        assert "-/+ Authorization/tiktok-web-events will be replaced" in text
        token = where.token

    written = "".join(p.read_text(encoding="utf-8") for p in (root / "exported").iterdir())
    for secret in [*account["canaries"].values(), *([token] if token else [])]:
        assert secret not in written, "a secret reached an exported file"
        assert not any(secret in out for out in outputs), "a secret was printed"
    # The labels came through Jinja2 and YAML unchanged.
    documents = yaml.safe_load_all(facebook.replace('{{ "{" }}', "{"))
    assert [d["spec"]["label"] for d in documents if d and d["kind"] == "Authorization"] == [FB_LABEL]


def test_export_select_overwrite_refusal_stdout_and_usage_errors(make_workspace, run_cli) -> None:
    root = make_workspace({}, settings=settings("adopt-select"))
    _account(root)
    text = _cli(run_cli, root, "export", "--select", "provider=tiktok", "-o", "out")
    assert [p.name for p in (root / "out").iterdir()] == ["tiktok.yaml"]
    assert "Exported 1 authorization and 1 job to out:" in text
    before = (root / "out" / "tiktok.yaml").read_text(encoding="utf-8")
    assert "selected by provider=tiktok" in before

    text = _cli(run_cli, root, "export", "-o", "out", code=1)
    assert "Error: export would overwrite out/tiktok.yaml; nothing was written" in text
    assert "pass --force" in text
    assert not (root / "out" / "facebook.yaml").exists()
    assert (root / "out" / "tiktok.yaml").read_text(encoding="utf-8") == before
    _cli(run_cli, root, "export", "-o", "out", "--force")
    assert sorted(p.name for p in (root / "out").iterdir()) == ["facebook.yaml", "tiktok.yaml"]

    stream = run_cli("export", "--select", "label=tiktok*", "-w", root, cwd=root)
    assert stream.returncode == 0, stream.stderr
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(stream.stdout) if d]
    assert names == ["tiktok-web-events", "web-events"]
    assert "Exported 1 authorization and 1 job:" in stream.stderr

    for args, message in [
        (("export", "--format", "json"), "export --format json describes the files it writes: give -o DIR"),
        (("export", "--select", "provider=facbook"), 'unknown provider; did you mean "facebook"?'),
        (("export", "-o", "authctl.yaml"), "-o authctl.yaml: it is a file"),
        (("import",), "import needs NAME and LIVE"),
        (("import", "--all-matching", "x"), "import --all-matching finds the live objects itself"),
    ]:
        assert message in _cli(run_cli, root, *args, code=1), args


def test_import_all_matching_refuses_ambiguous_jobs_naming_every_id(make_workspace, run_cli) -> None:
    root = make_workspace({}, settings=settings("adopt-ambiguous"))
    platform = open_platform_of(root)
    try:
        tt = platform.create_authorization(provider="tiktok", method="events_token", type="tiktok-events-token",
                                           label="TikTok", credentials={"token": "t"})
        jobs = [platform.create_job(name=name, workflow="tiktok-web-events", auth_ids=[tt.id], config=TIKTOK_JOB)
                for name in ("Sync", "sync")]  # platform job names are not unique
    finally:
        platform.close()
    _cli(run_cli, root, "export", "-o", ".")
    names = re.findall(r"name: (sync(?:-2)?)}", (root / "tiktok.yaml").read_text(encoding="utf-8"))
    assert sorted(names) == ["sync", "sync-2"]
    text = _cli(run_cli, root, "import", "--all-matching", "--yes", code=1)
    assert "cannot tell which live object each manifest means, so nothing was imported" in text
    assert "Job/sync, Job/sync-2 match the live objects" in text
    assert all(job.id in text for job in jobs)
    assert "import each with `authctl import NAME ID`" in text
    assert _managed(root) == []
    # Each one by hand, then the rest.
    _cli(run_cli, root, "import", "Job/sync", jobs[0].id)
    _cli(run_cli, root, "import", "Job/sync-2", jobs[1].id)
    assert "Imported 1 object" in _cli(run_cli, root, "import", "--all-matching", "--yes")
    assert _managed(root) == ["Authorization/tiktok", "Job/sync", "Job/sync-2"]
