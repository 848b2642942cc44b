"""``policy.rules`` in authctl.yaml: the schema, and every mistake named by file, line and field.

Two stages, as authctl reads them: the settings models (load_workspace), then the rules'
references against the catalog and the workspace's environments (check_rule_references).
Real files and the real built-in catalog; no subprocess.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.catalog import load_catalog
from reconciler.errors import WorkspaceError
from reconciler.policy.enforce import check_rule_references
from reconciler.policy.rules import (
    AllowedProvidersRule,
    ForbidMethodRule,
    LabelPatternRule,
    MaxTokenAgeRule,
    RequireDescriptionRule,
    RequireOwnerRule,
)
from reconciler.workspace import Workspace, load_workspace

CATALOG = load_catalog()


def _workspace(tmp_path: Path, settings: str) -> Workspace:
    (tmp_path / "authctl.yaml").write_text(textwrap.dedent(settings), encoding="utf-8")
    return load_workspace(tmp_path)


def _settings_error(tmp_path: Path, settings: str) -> list[str]:
    with pytest.raises(WorkspaceError) as caught:
        _workspace(tmp_path, settings)
    return caught.value.message.splitlines()


def _reference_errors(tmp_path: Path, settings: str) -> list[str]:
    workspace = _workspace(tmp_path, settings)
    with pytest.raises(WorkspaceError) as caught:
        check_rule_references(workspace, CATALOG)
    return caught.value.message.splitlines()


def test_every_rule_reads_with_its_defaults(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, """\
        environments: {prod: {}}
        policy:
          rules:
            - {rule: forbid_method, provider: facebook, method: user_oauth, environments: [prod],
               message: use the system user}
            - {rule: require_description, severity: warning}
            - {rule: require_owner, key: team, kinds: [Authorization, Job]}
            - {rule: max_token_age, days: 90}
            - {rule: allowed_providers, providers: [facebook]}
            - {rule: label_pattern, pattern: '[A-Z].*'}
        """)
    forbid, description, owner, age, providers, pattern = workspace.settings.policy.rules
    assert isinstance(forbid, ForbidMethodRule) and (forbid.provider, forbid.method) == ("facebook", "user_oauth")
    assert forbid.severity == "error" and forbid.environments == ["prod"] and forbid.message == "use the system user"
    assert isinstance(description, RequireDescriptionRule) and description.severity == "warning"
    assert description.kinds == ["Authorization"]
    assert isinstance(owner, RequireOwnerRule) and owner.key == "team" and owner.kinds == ["Authorization", "Job"]
    assert isinstance(age, MaxTokenAgeRule) and age.days == 90 and age.needs_live
    assert isinstance(providers, AllowedProvidersRule) and providers.providers == ["facebook"]
    assert isinstance(pattern, LabelPatternRule) and pattern.matches("Facebook") and not pattern.matches("facebook")
    assert [r.name for r in workspace.settings.policy.rules] == [
        "forbid_method", "require_description", "require_owner", "max_token_age", "allowed_providers",
        "label_pattern"]
    assert workspace.settings.policy.expiry_warning_days == 14  # the older knob is untouched
    check_rule_references(workspace, CATALOG)  # every name exists: no error


def test_rule_environments_scope_where_it_applies(tmp_path: Path) -> None:
    rule = ForbidMethodRule(rule="forbid_method", provider="facebook", method="user_oauth", environments=["prod"])
    assert rule.applies_in("prod") and not rule.applies_in("dev") and not rule.applies_in(None)
    everywhere = RequireOwnerRule(rule="require_owner")
    assert everywhere.applies_in("prod") and everywhere.applies_in(None)


@pytest.mark.parametrize(("rules", "expected"), [
    ("- {rule: require_ownr}",
     'authctl.yaml:3: policy.rules.0.rule: unknown rule "require_ownr"; did you mean "require_owner"? (rules: '
     "forbid_method, require_description, require_owner, max_token_age, allowed_providers, label_pattern)"),
    ("- {severity: error}",
     "authctl.yaml:3: policy.rules.0.rule: required field is missing: which rule this is (rules: forbid_method, "),
    ("- require_owner",
     "authctl.yaml:3: policy.rules.0: must be a mapping that names its rule, e.g. {rule: require_owner} (rules: "),
    ("- rule: label_pattern\n    pattern: '[a-'",
     "authctl.yaml:4: policy.rules.0.pattern: not a valid regular expression: unterminated character set at "
     "position 0"),
    ("- {rule: forbid_method, provider: facebook}",
     "authctl.yaml:3: policy.rules.0.method: required field is missing (rule forbid_method needs it)"),
    ("- rule: require_owner\n    severty: warning",
     'authctl.yaml:4: policy.rules.0.severty: unknown field "severty" for rule require_owner; did you mean '
     '"severity"? (fields: severity, environments, message, key, kinds)'),
    ("- {rule: require_owner, severity: fatal}",
     "authctl.yaml:3: policy.rules.0.severity: must be one of: error, warning"),
    ("- {rule: max_token_age, days: 0}",
     "authctl.yaml:3: policy.rules.0.days: must be a number of days from 1 to 3650 (ten years)"),
    ("- {rule: max_token_age, days: ninety}",
     "authctl.yaml:3: policy.rules.0.days: must be a whole number"),
    ("- {rule: max_token_age, days: true}",  # not 1
     "authctl.yaml:3: policy.rules.0.days: must be a whole number"),
    ("- {rule: require_owner, key: ''}",
     "authctl.yaml:3: policy.rules.0.key: must not be empty"),
    ("- {rule: require_owner, environments: prod}",
     "authctl.yaml:3: policy.rules.0.environments: must be a list"),
    ("- {rule: require_owner, message: " + "x" * 501 + "}",
     "authctl.yaml:3: policy.rules.0.message: is too long (at most 500 characters)"),
    ("- {rule: allowed_providers, providers: []}",
     "authctl.yaml:3: policy.rules.0.providers: must list at least one"),
    ("- {rule: require_description, kinds: [Authorisation]}",
     "authctl.yaml:3: policy.rules.0.kinds.0: must be one of: Authorization, Job"),
])
def test_a_broken_rule_is_named_by_line_and_field(tmp_path: Path, rules: str, expected: str) -> None:
    lines = _settings_error(tmp_path, "policy:\n  rules:\n  " + rules + "\n")
    assert len(lines) == 1 and lines[0].startswith(expected), lines


def test_every_broken_rule_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    lines = _settings_error(tmp_path, """\
        policy:
          rules:
            - {rule: require_owner}
            - rule: label_pattern
              pattern: '(unclosed'
            - {rule: forbid_methd, provider: facebook, method: user_oauth}
        """)
    assert [line.split(": ", 2)[:2] for line in lines] == [
        ["authctl.yaml:5", "policy.rules.1.pattern"], ["authctl.yaml:6", "policy.rules.2.rule"]]
    assert "did you mean \"forbid_method\"?" in lines[1]


def test_unknown_provider_and_method_suggest_the_catalog_names(tmp_path: Path) -> None:
    lines = _reference_errors(tmp_path, """\
        policy:
          rules:
            - rule: forbid_method
              provider: facebok
              method: user_oauth
            - rule: forbid_method
              provider: facebook
              method: user_oauht
            - {rule: allowed_providers, providers: [facebook, pintrest]}
        """)
    assert lines == [
        'authctl.yaml:4: policy.rules.0.provider: unknown provider "facebok"; did you mean "facebook"? '
        "(`authctl providers` lists them)",
        'authctl.yaml:8: policy.rules.1.method: unknown method "user_oauht" for facebook; did you mean '
        '"user_oauth"? (methods: system_user, user_oauth)',
        'authctl.yaml:9: policy.rules.2.providers.1: unknown provider "pintrest"; did you mean "pinterest"? '
        "(`authctl providers` lists them)",
    ]


def test_unknown_environment_names_the_workspaces_environments(tmp_path: Path) -> None:
    lines = _reference_errors(tmp_path, """\
        environments: {staging: {}, prod: {}}
        policy:
          rules:
            - rule: require_owner
              environments:
                - prod
                - prdo
        """)
    assert lines == ['authctl.yaml:7: policy.rules.0.environments.1: unknown environment "prdo"; did you mean '
                     '"prod"? (environments: prod, staging)']
    lines = _reference_errors(tmp_path, "policy:\n  rules:\n    - {rule: require_owner, environments: [prod]}\n")
    assert lines == ['authctl.yaml:3: policy.rules.0.environments.0: unknown environment "prod" (environments: '
                     "none defined)"]


def test_a_workspace_provider_folder_counts_as_the_catalog(tmp_path: Path) -> None:
    """A rule may name a provider the workspace adds itself (providers: [DIR]); the built-in catalog does not
    know it, so the check must use the workspace's catalog, as validate and plan pass it."""
    workspace = _workspace(tmp_path, "policy:\n  rules:\n    - {rule: allowed_providers, providers: [acme]}\n")
    with pytest.raises(WorkspaceError, match='unknown provider "acme"'):
        check_rule_references(workspace, CATALOG)
    from dataclasses import replace

    acme = replace(CATALOG.providers["facebook"], name="acme")
    check_rule_references(workspace, replace(CATALOG, providers={**CATALOG.providers, "acme": acme}))
