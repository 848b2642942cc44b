"""Policy at the commands' boundary: check, report with file, line and field, refuse on errors.

The commands call two functions:

1. :func:`check_manifests` once the manifests are valid (validate; plan and apply when
   their session opens, before any lock is taken or snapshot is planned). It first checks
   the rules themselves (:func:`check_rule_references`): a rule naming a provider, method
   or environment that does not exist is a settings error (authctl.yaml, its line and
   field, with a did-you-mean), like any other mistake in authctl.yaml. Error violations
   raise :class:`PolicyError` (with the warnings beside them); warnings are returned.
2. :func:`check_plan` on every plan (plan, and apply, which plans before it changes
   anything): ``max_token_age`` against the live tokens; errors raise, and every policy
   warning joins the plan's warnings (text, markdown, JSON and the saved plan file).

Each violation is a :class:`~reconciler.diagnostics.Diagnostic` at the field it is about
(``spec.method``), its line looked up only if it is shown. Its rule id is
``policy:NAME`` and its message ends with the rule and where authctl.yaml states it:
``(policy rule forbid_method, authctl.yaml:9)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from reconciler.catalog import Catalog
from reconciler.diagnostics import Diagnostic, Severity, resolve_lines
from reconciler.errors import PolicyError, WorkspaceError
from reconciler.file_reads import FileRefused, read_regular_file
from reconciler.live import LiveAuthorization, Snapshot
from reconciler.manifest.model import DesiredState
from reconciler.plan import ActionKind, Plan, PlanWarning
from reconciler.policy.checks import Violation, manifest_violations, reference_problems, token_age_violations
from reconciler.state.records import ManagedIndex
from reconciler.vocabulary import ObjectKind
from reconciler.workspace import MAX_SETTINGS_BYTES, SETTINGS_FILE, Workspace
from reconciler.yaml_with_lines import SourceMap

RULE_PREFIX = "policy:"  # diagnostics and plan warnings carry "policy:forbid_method"


def check_rule_references(workspace: Workspace, catalog: Catalog) -> None:
    """Raise WorkspaceError (authctl.yaml:LINE: policy.rules.N.FIELD: ...) for every rule naming what does not exist."""
    rules = workspace.settings.policy.rules
    problems = reference_problems(rules, catalog, workspace.settings.environments) if rules else []
    if not problems:
        return
    lines = _settings_lines(workspace, [path for path, _ in problems])
    raise WorkspaceError("\n".join(f"{SETTINGS_FILE}:{line or 1}: {'.'.join(map(str, path))}: {message}"
                                   for line, (path, message) in sorted(zip(lines, problems), key=lambda p: p[0])))


def check_manifests(workspace: Workspace, catalog: Catalog, desired: DesiredState) -> list[Diagnostic]:
    """The rules (:func:`check_rule_references` first), then those that need only the manifests.

    Raises WorkspaceError for a rule naming what does not exist and PolicyError for an
    error violation; returns the warning violations.
    """
    rules = workspace.settings.policy.rules
    if not rules:
        return []
    check_rule_references(workspace, catalog)
    diagnostics = _diagnostics(workspace, manifest_violations(rules, desired))
    _raise_on_errors(diagnostics)
    return diagnostics


def plan_time_rules(workspace: Workspace) -> list[str]:
    """The names of the rules of this run that only plan checks (they need the live platform)."""
    return list(dict.fromkeys(rule.name for rule in workspace.settings.policy.rules
                              if rule.needs_live and rule.applies_in(workspace.environment)))


def check_plan(workspace: Workspace, catalog: Catalog, plan: Plan, *, desired: DesiredState, snapshot: Snapshot,
               managed: ManagedIndex, now: datetime, warnings: Sequence[Diagnostic] = ()) -> Plan:
    """``plan`` with the policy's warnings (``warnings`` from :func:`check_manifests`, and token ages) added.

    Raises PolicyError when a token is older than an error-level ``max_token_age`` allows.
    """
    rules = workspace.settings.policy.rules
    if not rules:
        return plan
    live = _kept_authorizations(plan, desired, snapshot, managed)
    found = _diagnostics(workspace, token_age_violations(rules, desired, live, catalog, now))
    _raise_on_errors([*found, *warnings])
    every = [*warnings, *found]
    if not every:
        return plan
    resolve_lines(every)
    added = tuple(PlanWarning(f"{d.location()}: {d.address}: {d.field}: {d.message}", d.rule, d.summary,
                              d.location()) for d in sorted(every))
    return replace(plan, warnings=plan.warnings + added)


def _kept_authorizations(plan: Plan, desired: DesiredState, snapshot: Snapshot,
                         managed: ManagedIndex) -> dict[str, LiveAuthorization]:
    """Manifest name -> the live authorization the plan keeps (its token stays); new and replaced ones are fresh."""
    renewed = {a.name for a in plan.actions if a.resource == ObjectKind.AUTHORIZATION and not a.deposed_id
               and a.kind in (ActionKind.CREATE, ActionKind.REPLACE)}
    kept: dict[str, LiveAuthorization] = {}
    for name in desired.authorizations:
        record = managed.get((ObjectKind.AUTHORIZATION, name))
        live = snapshot.authorizations.get(record.live_id) if record is not None else None
        if live is not None and name not in renewed:
            kept[name] = live
    return kept


def _raise_on_errors(diagnostics: Sequence[Diagnostic]) -> None:
    if any(d.severity is Severity.ERROR for d in diagnostics):
        raise PolicyError(list(diagnostics))


def _diagnostics(workspace: Workspace, violations: list[Violation]) -> list[Diagnostic]:
    """Each violation as a diagnostic naming the field, the rule and the rule's line in authctl.yaml."""
    if not violations:
        return []
    indexes = sorted({v.index for v in violations})
    rule_lines = dict(zip(indexes, _settings_lines(workspace, [("policy", "rules", i) for i in indexes])))
    found = []
    for violation in violations:
        rule = violation.rule
        line = rule_lines[violation.index]
        origin = (f"policy rule {rule.name}, {SETTINGS_FILE}:{line}" if line
                  else f"policy rule {rule.name}, {SETTINGS_FILE} policy.rules.{violation.index}")
        advice = f": {rule.message}" if rule.message else ""
        found.append(Diagnostic(
            violation.file, violation.line, violation.obj.address, violation.field,
            f"{violation.problem}{advice} ({origin})", violation.severity, rule=RULE_PREFIX + rule.name,
            subject=(str(violation.index),), summary=f"{violation.summary}{advice} ({origin})",
            where=violation.where()))
    return found


def _settings_lines(workspace: Workspace, paths: list[tuple[Any, ...]]) -> list[int]:
    """The line of each field of authctl.yaml (0 where it cannot be told); the file is read again, once.

    Only when something is reported: settings are validated without keeping their nodes.
    """
    try:
        text = read_regular_file(workspace.settings_path, MAX_SETTINGS_BYTES).decode("utf-8")
    except (OSError, ValueError, FileRefused):  # gone or changed since it was read: the messages name the field instead
        return [0] * len(paths)
    return SourceMap(text).lines([(0, tuple(path)) for path in paths])
