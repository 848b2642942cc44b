"""Policy through the real CLI: validate, plan and apply refuse error violations; warnings are shown everywhere.

Real subprocesses over real workspaces, the embedded platform and the state store.
A token's age is made old the only way a test can: the platform database's record of
when the authorization was created is moved back, as years of real time would have.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
import uuid
from pathlib import Path
from typing import Any

CANARY = f"CANARY-{uuid.uuid4()}"
ROTATED = f"CANARY-{uuid.uuid4()}"

FB_USER = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-user}
    spec:
      provider: facebook
      method: user_oauth
      label: Facebook user login
      description: a person's login
    """)
FB_SYSTEM = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata:
      name: fb-system
      labels: {owner: growth}
    spec:
      provider: facebook
      method: system_user
      label: Facebook system user
      description: the Business Manager system user
      config: {ads_account_id: act_1234567890}
      credentials: {access_token: {env: FB_TOKEN}}
    """)
ENVIRONMENTS = "name: policy-e2e\nenvironments: {dev: {}, prod: {}}\n"


def _run(run_cli: Any, root: Path, *args: str, token: str | None = None) -> Any:
    result = run_cli(*args, "-w", root, env={"FB_TOKEN": token, "AUTHCTL_USER": "ci"})
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    assert CANARY not in text and ROTATED not in text  # secrets never in output, whatever happens
    return result


def _platform_rows(root: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(root / ".authctl" / "platform.db") as db:
        return db.execute("SELECT id, label, created FROM authorizations ORDER BY id").fetchall()


def test_an_error_rule_refuses_validate_plan_and_apply_in_its_environment_only(run_cli, make_workspace) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"m.yaml": FB_USER}, settings=ENVIRONMENTS + textwrap.dedent("""\
        policy:
          rules:
            - rule: forbid_method
              provider: facebook
              method: user_oauth
              environments: [prod]
              message: use the system user in prod
        """))
    expected = ("m.yaml:6: Authorization/fb-user: spec.method: method user_oauth of facebook is forbidden in "
                "environment prod: use the system user in prod (policy rule forbid_method, authctl.yaml:5)")
    validate = _run(run_cli, root, "validate", "--env", "prod")
    assert validate.returncode == 1
    assert expected in validate.stderr.splitlines()
    assert "Error: 1 policy violation of rules set as errors (policy.rules in authctl.yaml)" in validate.stderr

    as_json = _run(run_cli, root, "validate", "--env", "prod", "--format", "json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "PolicyError"
    assert error["diagnostics"] == [{
        "severity": "error", "file": "m.yaml", "line": 6, "address": "Authorization/fb-user", "field": "spec.method",
        "message": expected.split("spec.method: ", 1)[1], "rule": "policy:forbid_method"}]

    plan = _run(run_cli, root, "plan", "--env", "prod", "-o", root / "plan.json")
    assert plan.returncode == 1 and expected in plan.stderr
    assert not (root / "plan.json").exists()  # nothing planned, so nothing to apply later

    markdown = _run(run_cli, root, "plan", "--env", "prod", "--format", "markdown")
    assert markdown.returncode == 1
    assert "### authctl plan failed" in markdown.stdout and expected in markdown.stdout  # the PR comment says why

    apply = _run(run_cli, root, "apply", "--env", "prod", "--auto-approve")
    assert apply.returncode == 1 and expected in apply.stderr
    assert not (root / ".authctl" / "platform.db").exists()  # refused before the platform was even opened

    dev = _run(run_cli, root, "validate", "--env", "dev")  # the rule is for prod only
    assert dev.returncode == 0 and "policy" not in (dev.stdout + dev.stderr).lower()


def test_a_warning_rule_still_plans_and_the_warning_is_in_every_output(run_cli, make_workspace) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"m.yaml": FB_USER}, settings="policy:\n  rules:\n    - {rule: require_owner, "
                                                        "severity: warning}\n")
    message = ("m.yaml:3: Authorization/fb-user: metadata.labels.owner: has no owner: metadata.labels.owner is "
               "missing (policy rule require_owner, authctl.yaml:3)")
    validate = _run(run_cli, root, "validate")
    assert validate.returncode == 0
    assert f"warning: {message}" in validate.stderr.splitlines()
    as_json = json.loads(_run(run_cli, root, "validate", "--format", "json").stdout)
    assert [(w["rule"], w["line"], w["field"]) for w in as_json["warnings"]] == [
        ("policy:require_owner", 3, "metadata.labels.owner")]
    assert as_json["policy"] == {"rules": 1, "checked_by_plan": []}

    text = _run(run_cli, root, "plan", "--detailed-exitcode", "-o", root / "plan.json")
    assert text.returncode == 2, text.stderr
    assert f"  - {message}" in text.stdout.splitlines()  # under "Warnings:"
    saved = json.loads((root / "plan.json").read_text(encoding="utf-8"))
    assert {"message": message, "rule": "policy:require_owner", "item": "m.yaml:3",
            "subject": "authorizations have no owner (metadata.labels.owner) (policy rule require_owner, "
                       "authctl.yaml:3)"} in saved["warning_details"]

    as_json = json.loads(_run(run_cli, root, "plan", "--format", "json").stdout)
    assert message in as_json["warnings"]
    markdown = _run(run_cli, root, "plan", "--format", "markdown")
    assert markdown.returncode == 0
    assert "- m.yaml:3: Authorization/fb-user: metadata.labels.owner: has no owner" in markdown.stdout
    assert "policy rule require\\_owner, authctl.yaml:3" in markdown.stdout  # markdown-escaped


def test_token_age_is_checked_by_plan_and_apply_against_the_live_platform(run_cli, make_workspace) -> None:  # type: ignore[no-untyped-def]
    rule = "policy:\n  rules:\n    - {rule: max_token_age, days: 90, severity: SEVERITY}\n"
    root = make_workspace({"m.yaml": FB_SYSTEM}, settings=rule.replace("SEVERITY", "warning"))
    validate = _run(run_cli, root, "validate")
    assert "Policy: max_token_age is checked by `authctl plan` (it needs the live platform)." in validate.stdout
    assert _run(run_cli, root, "apply", "--auto-approve", token=CANARY).returncode == 0
    fresh = _run(run_cli, root, "plan", "--detailed-exitcode", token=CANARY)
    assert fresh.returncode == 0 and "policy rule" not in fresh.stdout  # a new token is young

    with sqlite3.connect(root / ".authctl" / "platform.db") as db:  # three years pass
        db.execute("UPDATE authorizations SET created = '2021-03-01 09:00:00.000000'")
    before = _platform_rows(root)
    old = _run(run_cli, root, "plan", "--detailed-exitcode", token=CANARY)
    assert old.returncode == 0, old.stderr  # a warning: still planned, nothing to change
    warnings = " ".join(old.stdout.split("Warnings:\n", 1)[1].split())  # (a long line wraps at 200 columns)
    assert warnings.startswith("- m.yaml:12: Authorization/fb-system: spec.credentials: the token is ")
    assert "days old (set 2021-03-01), older than 90 days: rotate it" in warnings
    assert "(policy rule max_token_age, authctl.yaml:3)" in warnings

    (root / "authctl.yaml").write_text(rule.replace("SEVERITY", "error"), encoding="utf-8")
    refused = _run(run_cli, root, "plan", "-o", root / "plan.json", token=CANARY)
    assert refused.returncode == 1 and "(policy rule max_token_age, authctl.yaml:3)" in refused.stderr
    assert not (root / "plan.json").exists()
    apply = _run(run_cli, root, "apply", "--auto-approve", token=CANARY)
    assert apply.returncode == 1 and "Error: 1 policy violation" in apply.stderr
    assert _platform_rows(root) == before  # nothing changed

    # Rotating the token is the fix: the plan replaces the authorization, whose new token is young.
    rotated = _run(run_cli, root, "apply", "--auto-approve", token=ROTATED)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert [row[0] for row in _platform_rows(root)] != [row[0] for row in before]
    assert _run(run_cli, root, "plan", "--detailed-exitcode", token=ROTATED).returncode == 0


def test_a_broken_policy_is_a_settings_error_with_line_and_field(run_cli, make_workspace) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({"m.yaml": FB_USER}, settings="policy:\n  rules:\n    - {rule: require_ownr}\n")
    result = _run(run_cli, root, "validate")
    assert result.returncode == 1
    assert ('authctl.yaml:3: policy.rules.0.rule: unknown rule "require_ownr"; did you mean "require_owner"?'
            in result.stderr)

    (root / "authctl.yaml").write_text(
        "policy:\n  rules:\n    - rule: forbid_method\n      provider: facebok\n      method: user_oauth\n",
        encoding="utf-8")
    as_json = _run(run_cli, root, "plan", "--format", "json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "WorkspaceError"
    assert error["message"] == ('authctl.yaml:4: policy.rules.0.provider: unknown provider "facebok"; did you mean '
                                '"facebook"? (`authctl providers` lists them)')
