"""The pure policy checks, rule by rule: a violation, no violation, environment scoping, severity.

Hand-built manifests and live authorizations (tests/unit/plan_fixtures.py), no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from plan_fixtures import catalog, desired_auth, desired_job, live_from

from reconciler.diagnostics import Severity
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState
from reconciler.policy.checks import Violation, manifest_violations, token_age_violations
from reconciler.policy.rules import (
    AllowedProvidersRule,
    BaseRule,
    ForbidMethodRule,
    LabelPatternRule,
    MaxTokenAgeRule,
    RequireDescriptionRule,
    RequireOwnerRule,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _state(*objects: DesiredAuthorization | DesiredJob, environment: str | None = "prod") -> DesiredState:
    return DesiredState(authorizations={o.name: o for o in objects if isinstance(o, DesiredAuthorization)},
                        jobs={o.name: o for o in objects if isinstance(o, DesiredJob)},
                        files=("manifests.yaml",), digest="d" * 64, environment=environment)


def _found(rule: BaseRule, *objects: Any, environment: str | None = "prod") -> list[tuple[str, str, str]]:
    """(address, field, problem) of every violation of ``rule`` alone."""
    return [(v.obj.address, v.field, v.problem)
            for v in manifest_violations([rule], _state(*objects, environment=environment))]


def _owned(auth: DesiredAuthorization, **labels: str) -> DesiredAuthorization:
    return replace(auth, labels=dict(labels))


FB_SYSTEM = desired_auth("fb-system", description="system user")
FB_USER = desired_auth("fb-user", method="user_oauth", description="a person's login")
GCP = desired_auth("gcp", provider="google_cloud", method="pubsub_service_account", description="events")


def test_forbid_method_in_prod_only() -> None:
    rule = ForbidMethodRule(rule="forbid_method", provider="facebook", method="user_oauth", environments=["prod"])
    assert _found(rule, FB_SYSTEM, FB_USER, GCP) == [
        ("Authorization/fb-user", "spec.method", "method user_oauth of facebook is forbidden in environment prod")]
    assert _found(rule, FB_SYSTEM, FB_USER, environment="dev") == []
    assert _found(rule, FB_SYSTEM, FB_USER, environment=None) == []  # no --env: an env-scoped rule is off
    everywhere = ForbidMethodRule(rule="forbid_method", provider="facebook", method="user_oauth")
    assert _found(everywhere, FB_USER, environment="dev") == [
        ("Authorization/fb-user", "spec.method", "method user_oauth of facebook is forbidden")]


def test_allowed_providers() -> None:
    rule = AllowedProvidersRule(rule="allowed_providers", providers=["facebook", "pinterest"], environments=["prod"])
    assert _found(rule, FB_SYSTEM, GCP) == [
        ("Authorization/gcp", "spec.provider",
         "provider google_cloud is not allowed in environment prod (allowed: facebook, pinterest)")]
    assert _found(rule, FB_SYSTEM, GCP, environment="staging") == []
    assert _found(AllowedProvidersRule(rule="allowed_providers", providers=["facebook"]), FB_SYSTEM, FB_USER) == []


def test_label_pattern_matches_the_whole_label() -> None:
    rule = LabelPatternRule(rule="label_pattern", pattern=r".+ \((dev|prod)\)")
    good = desired_auth("good", label="Facebook Ads (prod)")
    bad = desired_auth("bad", label="Facebook Ads (prod) copy")  # matches at the start only: not enough
    assert _found(rule, good, bad) == [
        ("Authorization/bad", "spec.label",
         'label "Facebook Ads (prod) copy" does not match the required pattern .+ \\((dev|prod)\\)')]
    long = desired_auth("long", label="x" * 255)
    ((_, _, problem),) = _found(LabelPatternRule(rule="label_pattern", pattern="[a-w]+"), long)
    assert problem.startswith('label "' + "x" * 120 + '..."')  # a long label is shown by its start


def test_require_description_blank_is_missing_and_kinds_choose_jobs() -> None:
    blank = desired_auth("blank", description="  \n")
    job = desired_job("sync", ["fb-system"])
    rule = RequireDescriptionRule(rule="require_description")
    assert _found(rule, FB_SYSTEM, blank, job) == [("Authorization/blank", "spec.description", "has no description")]
    both = RequireDescriptionRule(rule="require_description", kinds=["Authorization", "Job"])
    assert [a for a, _, _ in _found(both, FB_SYSTEM, blank, job)] == ["Authorization/blank", "Job/sync"]
    jobs_only = RequireDescriptionRule(rule="require_description", kinds=["Job"])
    assert [a for a, _, _ in _found(jobs_only, blank, job)] == ["Job/sync"]
    assert _found(jobs_only, blank, replace(job, description="High-value customers")) == []


def test_require_owner_missing_empty_or_present_under_its_key() -> None:
    rule = RequireOwnerRule(rule="require_owner")
    assert _found(rule, _owned(FB_SYSTEM, owner="growth"), _owned(FB_USER, owner=" "), GCP) == [
        ("Authorization/fb-user", "metadata.labels.owner", "has no owner: metadata.labels.owner is empty"),
        ("Authorization/gcp", "metadata.labels.owner", "has no owner: metadata.labels.owner is missing"),
    ]
    team = RequireOwnerRule(rule="require_owner", key="team", kinds=["Job"])
    job = replace(desired_job("sync", ["fb-system"]), labels={"owner": "growth"})
    assert _found(team, _owned(FB_SYSTEM), job) == [
        ("Job/sync", "metadata.labels.team", "has no owner: metadata.labels.team is missing")]


def test_violations_carry_the_rule_its_position_and_severity() -> None:
    rules: list[BaseRule] = [RequireOwnerRule(rule="require_owner", severity="warning"),
                             ForbidMethodRule(rule="forbid_method", provider="facebook", method="user_oauth")]
    found = manifest_violations(rules, _state(_owned(FB_USER, owner="growth"), GCP))
    assert [(v.index, v.rule.name, v.severity, v.obj.name) for v in found] == [
        (0, "require_owner", Severity.WARNING, "gcp"), (1, "forbid_method", Severity.ERROR, "fb-user")]
    first: Violation = found[0]
    assert (first.file, first.line, first.field) == ("manifests.yaml", 1, "metadata.labels.owner")
    assert first.where() is None  # hand-built: no document to look the field's line up in
    assert first.summary == "authorizations have no owner (metadata.labels.owner)"


def test_manifest_checks_leave_token_age_to_the_plan() -> None:
    rules: list[BaseRule] = [MaxTokenAgeRule(rule="max_token_age", days=1)]
    assert manifest_violations(rules, _state(FB_SYSTEM)) == []


# -- max_token_age: live tokens ----------------------------------------------------------------------

AGE = MaxTokenAgeRule(rule="max_token_age", days=90)


def _aged(auth: DesiredAuthorization, days: float, **overrides: Any) -> Any:
    return live_from(auth, f"id-{auth.name}", created=NOW - timedelta(days=days), **overrides)


def _ages(rule: MaxTokenAgeRule, live: dict[str, Any], *auths: DesiredAuthorization,
          environment: str | None = "prod") -> list[tuple[str, str, str]]:
    return [(v.obj.address, v.field, v.problem)
            for v in token_age_violations([rule], _state(*auths, environment=environment), live, catalog(), NOW)]


def test_a_token_older_than_allowed_is_a_violation() -> None:
    old, fresh = desired_auth("old"), desired_auth("fresh")
    live = {"old": _aged(old, 120), "fresh": _aged(fresh, 89)}
    assert _ages(AGE, live, old, fresh) == [
        ("Authorization/old", "spec.credentials", "the token is 120 days old (set 2025-02-01), older than 90 days: "
                                                  "rotate it (a new credential value replaces the authorization)")]
    assert _ages(AGE, {"old": _aged(old, 90)}, old) == []  # exactly the limit is allowed


def test_token_age_skips_what_the_plan_renews_and_oauth_methods() -> None:
    old, oauth = desired_auth("old"), FB_USER
    # Not in ``live``: the plan creates or replaces it (a fresh token), so there is nothing to age.
    assert _ages(AGE, {}, old) == []
    # An OAuth grant is refreshed and re-authorized in place: its creation says nothing of its token.
    assert _ages(AGE, {"fb-user": _aged(oauth, 400)}, oauth) == []


def test_an_unknown_creation_time_is_a_violation_not_a_pass() -> None:
    old = desired_auth("old")
    ((_, _, problem),) = _ages(AGE, {"old": live_from(old, "A1", created=None)}, old)
    assert problem == ("the token's age is not known: the platform does not say when authorization A1 was created, "
                       "so it cannot be checked against 90 days")


def test_token_age_is_scoped_by_environment_and_carries_severity() -> None:
    old = desired_auth("old")
    rule = MaxTokenAgeRule(rule="max_token_age", days=30, environments=["prod"], severity="warning")
    live = {"old": _aged(old, 31)}
    assert _ages(rule, live, old, environment="dev") == []
    (violation,) = token_age_violations([rule], _state(old), live, catalog(), NOW)
    assert violation.severity is Severity.WARNING and violation.summary == (
        "authorizations have tokens older than 30 days")
