"""Policy as the commands report it: diagnostics at the field's line, PolicyError, plan warnings and groups.

In-process over real workspace files (the real loader gives each object where its
document is, so a violation names its field's own line); no subprocess, no platform: the
live authorizations are hand-built.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.catalog import load_catalog
from reconciler.errors import ManifestError, PolicyError, WorkspaceError
from reconciler.live import LiveAuthorization, Snapshot
from reconciler.manifest import load_desired
from reconciler.plan import Action, ActionKind, Phase, Plan, PlanContext, PlanWarning
from reconciler.policy.enforce import check_manifests, check_plan, plan_time_rules
from reconciler.render.plan_warnings import warning_lines
from reconciler.state.records import ManagedObject
from reconciler.vocabulary import Health, ObjectKind
from reconciler.workspace import Workspace, load_workspace

CATALOG = load_catalog()
NOW = datetime(2025, 6, 1, tzinfo=UTC)
CONTEXT = PlanContext(environment="prod", manifest_digest="d" * 64, state_serial=1, state_lineage=None,
                      backend="local")

SETTINGS = """\
environments: {dev: {}, prod: {}}
policy:
  rules:
    - rule: forbid_method
      provider: facebook
      method: user_oauth
      environments: [prod]
      message: use the system user in prod
    - {rule: require_description, severity: SEVERITY}
    - {rule: max_token_age, days: 90, severity: AGE_SEVERITY}
"""
MANIFESTS = """\
apiVersion: authctl/v1
kind: Authorization
metadata: {name: fb-user}
spec:
  provider: facebook
  method: user_oauth
  label: Facebook user login
  description: a person's login
---
apiVersion: authctl/v1
kind: Authorization
metadata: {name: fb-system}
spec:
  provider: facebook
  method: system_user
  label: Facebook system user
  config: {ads_account_id: act_1234567890}
  credentials: {access_token: {env: FB_TOKEN}}
"""


def _workspace(tmp_path: Path, environment: str, *, severity: str = "warning", age_severity: str = "warning",
               manifests: str = MANIFESTS) -> Workspace:
    settings = SETTINGS.replace("AGE_SEVERITY", age_severity).replace("SEVERITY", severity)
    (tmp_path / "authctl.yaml").write_text(settings, encoding="utf-8")
    (tmp_path / "m.yaml").write_text(manifests, encoding="utf-8")
    return load_workspace(tmp_path, environment)


def _checked(workspace: Workspace) -> list[str]:
    return [d.format() for d in check_manifests(workspace, CATALOG, load_desired(workspace, CATALOG).desired)]


def test_an_error_violation_names_file_field_line_rule_and_where_the_rule_is(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, "prod")
    with pytest.raises(PolicyError) as caught:
        _checked(workspace)
    error = caught.value
    assert isinstance(error, ManifestError)  # reported like every manifest error (file:line, exit 1)
    assert error.message == "1 policy violation of rules set as errors (policy.rules in authctl.yaml)"
    assert [d.format() for d in error.diagnostics] == [
        "m.yaml:6: Authorization/fb-user: spec.method: method user_oauth of facebook is forbidden in environment "
        "prod: use the system user in prod (policy rule forbid_method, authctl.yaml:4)",
        # the warning beside it, at the line where the missing field belongs (its spec)
        "warning: m.yaml:13: Authorization/fb-system: spec.description: has no description (policy rule "
        "require_description, authctl.yaml:9)",
    ]
    assert [d.rule for d in error.diagnostics] == ["policy:forbid_method", "policy:require_description"]


def test_environment_scoping_and_warnings_only(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, "dev")  # forbid_method is for prod only
    assert _checked(workspace) == [
        "warning: m.yaml:13: Authorization/fb-system: spec.description: has no description (policy rule "
        "require_description, authctl.yaml:9)"]
    assert plan_time_rules(workspace) == ["max_token_age"]


def test_severity_error_turns_the_same_finding_into_a_refusal(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="^1 policy violation "):
        _checked(_workspace(tmp_path, "dev", severity="error"))


def test_no_rules_cost_nothing_and_report_nothing(tmp_path: Path) -> None:
    (tmp_path / "authctl.yaml").write_text("policy: {expiry_warning_days: 7}\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(MANIFESTS, encoding="utf-8")
    workspace = load_workspace(tmp_path)
    assert _checked(workspace) == [] and plan_time_rules(workspace) == []


def test_a_rule_naming_an_unknown_method_stops_before_any_manifest_is_judged(tmp_path: Path) -> None:
    _workspace(tmp_path, "prod", severity="error")  # fb-system would break require_description (an error)
    settings = tmp_path / "authctl.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("user_oauth", "user_oath"), encoding="utf-8")
    with pytest.raises(WorkspaceError) as caught:
        _checked(load_workspace(tmp_path, "prod"))
    assert str(caught.value) == ('authctl.yaml:6: policy.rules.0.method: unknown method "user_oath" for facebook; '
                                 'did you mean "user_oauth"? (methods: system_user, user_oauth)')


# -- plan: token ages and the plan's warnings --------------------------------------------------------------

def _live(live_id: str, provider: str, method: str, created: datetime | None) -> LiveAuthorization:
    return LiveAuthorization(id=live_id, provider=provider, method=method, type=None, label=live_id, description="",
                             health=Health.HEALTHY, created=created)


def _plan_checked(workspace: Workspace, *actions: Action, created: datetime | None = NOW - timedelta(days=200),
                  ) -> Plan:
    desired = load_desired(workspace, CATALOG).desired
    warnings = check_manifests(workspace, CATALOG, desired)
    snapshot = Snapshot(authorizations={"A1": _live("A1", "facebook", "system_user", created),
                                        "A2": _live("A2", "facebook", "user_oauth", NOW - timedelta(days=900))},
                        jobs={})
    managed = {(ObjectKind.AUTHORIZATION, "fb-system"): ManagedObject(ObjectKind.AUTHORIZATION, "fb-system", "A1",
                                                                      {}, NOW),
               (ObjectKind.AUTHORIZATION, "fb-user"): ManagedObject(ObjectKind.AUTHORIZATION, "fb-user", "A2", {},
                                                                    NOW)}
    existing = PlanWarning("1 credential was not compared", "not-compared")
    plan = Plan(actions=actions, noop_count=2, warnings=(existing,), unmanaged=(), context=CONTEXT)
    return check_plan(workspace, CATALOG, plan, desired=desired, snapshot=snapshot, managed=managed, now=NOW,
                      warnings=warnings)


def test_policy_warnings_join_the_plans_warnings_after_its_own(tmp_path: Path) -> None:
    plan = _plan_checked(_workspace(tmp_path, "dev"))
    assert plan.warnings == (
        PlanWarning("1 credential was not compared", "not-compared"),
        PlanWarning("m.yaml:13: Authorization/fb-system: spec.description: has no description (policy rule "
                    "require_description, authctl.yaml:9)", "policy:require_description",
                    "authorizations have no description (policy rule require_description, authctl.yaml:9)",
                    "m.yaml:13"),
        # the OAuth grant (900 days) is not aged: it is refreshed and re-authorized in place
        PlanWarning("m.yaml:18: Authorization/fb-system: spec.credentials: the token is 200 days old (set "
                    "2024-11-13), older than 90 days: rotate it (a new credential value replaces the "
                    "authorization) (policy rule max_token_age, authctl.yaml:10)", "policy:max_token_age",
                    "authorizations have tokens older than 90 days (policy rule max_token_age, authctl.yaml:10)",
                    "m.yaml:18"),
    )


def test_a_replace_renews_the_token_so_it_is_not_aged(tmp_path: Path) -> None:
    replace_action = Action("Authorization/fb-system", ActionKind.REPLACE, Phase.CREATE_AUTHORIZATIONS, "A1")
    plan = _plan_checked(_workspace(tmp_path, "dev"), replace_action)
    assert [w.rule for w in plan.warnings] == ["not-compared", "policy:require_description"]
    assert plan.actions == (replace_action,)


def test_an_old_token_under_an_error_rule_refuses_the_plan(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        _plan_checked(_workspace(tmp_path, "dev", age_severity="error"))
    assert [(d.severity.value, d.rule, d.line) for d in caught.value.diagnostics] == [
        ("warning", "policy:require_description", 13), ("error", "policy:max_token_age", 18)]


def test_an_unknown_creation_time_refuses_under_an_error_rule(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="1 policy violation"):
        _plan_checked(_workspace(tmp_path, "dev", age_severity="error"), created=None)


def test_many_alike_policy_warnings_read_as_one_counted_line(tmp_path: Path) -> None:
    many = "---\n".join(MANIFESTS.split("---\n")[1].replace("fb-system", f"fb-{n}").replace(
        "Facebook system user", f"Facebook {n}") for n in range(4))
    plan = _plan_checked(_workspace(tmp_path, "dev", manifests=many))
    details = [w.to_json() for w in plan.warnings if w.rule == "policy:require_description"]
    assert warning_lines(details) == [
        "4 authorizations have no description (policy rule require_description, authctl.yaml:9) (m.yaml:4, "
        "m.yaml:14, m.yaml:24, ...; --all-warnings lists each)"]
    assert len(warning_lines(details, all_warnings=True)) == 4
