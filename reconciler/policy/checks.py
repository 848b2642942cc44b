"""PURE: which manifests break which policy rules, and which rules name what does not exist.

No I/O, no clock: the manifests, the live authorizations and "now" come in as arguments,
violations go out as data. :mod:`reconciler.policy.enforce` turns them into diagnostics
(file, line, field) and plan warnings.

A rule limited to ``environments`` is checked only when the run's environment (``--env``,
else ``default_environment``) is one of them. ``max_token_age`` needs the live platform,
so only plan (and apply, which plans) checks it: a token's age is the time since its
authorization was created, since a new credential value is a replace (a new
authorization) on every platform authctl knows. OAuth methods are not checked: their
tokens are refreshed and re-authorized in place (same authorization), and the platform
does not say when that last happened. An authorization the plan creates or replaces
gets a new token, so it breaks no age rule; one whose creation time the platform does
not report is a violation that says so (what authctl cannot read is never a pass).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.catalog import Catalog
from reconciler.diagnostics import Severity, Where
from reconciler.live import LiveAuthorization
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState
from reconciler.policy.rules import (
    AllowedProvidersRule,
    BaseRule,
    ForbidMethodRule,
    LabelPatternRule,
    MaxTokenAgeRule,
    RequireDescriptionRule,
    RequireOwnerRule,
)
from reconciler.suggestions import did_you_mean

Manifest = DesiredAuthorization | DesiredJob
MAX_QUOTED_LABEL = 120  # a label is at most 255 characters; a message quotes its start


@dataclass(frozen=True)
class Violation:
    """One manifest object that breaks one rule: where (file, its document, the field) and what.

    ``index`` is the rule's position in ``policy.rules``; ``problem`` says what is wrong
    with this object; ``summary`` says it for a group of alike violations (after a count:
    "authorizations have no description").
    """

    rule: BaseRule
    index: int
    obj: Manifest
    path: tuple[str, ...]  # the field, e.g. ("spec", "method")
    problem: str
    summary: str

    @property
    def severity(self) -> Severity:
        return Severity(self.rule.severity)

    @property
    def file(self) -> str:
        return self.obj.source.file

    @property
    def line(self) -> int:
        """The line where the object's document starts (the field's own line: :meth:`where`)."""
        return self.obj.source.line

    @property
    def field(self) -> str:
        return ".".join(self.path)

    def where(self) -> Where | None:
        """Where the field is, for a diagnostic that looks its line up when shown; None when not known."""
        return self.obj.source.where(self.path)


def manifest_violations(rules: Sequence[BaseRule], desired: DesiredState) -> list[Violation]:
    """Every violation of the rules that need only the manifests (all but ``max_token_age``)."""
    found: list[Violation] = []
    for index, rule in enumerate(rules):
        if not rule.needs_live and rule.applies_in(desired.environment):
            found.extend(_violations(index, rule, desired))
    return found


def token_age_violations(rules: Sequence[BaseRule], desired: DesiredState, live: Mapping[str, LiveAuthorization],
                         catalog: Catalog, now: datetime) -> list[Violation]:
    """Every ``max_token_age`` violation; ``live`` maps each manifest name to the live authorization the
    plan keeps (not the ones it creates or replaces)."""
    found: list[Violation] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, MaxTokenAgeRule) or not rule.applies_in(desired.environment):
            continue
        for name, auth in desired.authorizations.items():
            current = live.get(name)
            if current is None:
                continue
            method = catalog.method(current.provider, current.method)
            if method is not None and method.is_oauth:
                continue
            problem = _age_problem(rule, current, now)
            if problem:
                found.append(Violation(rule, index, auth, ("spec", "credentials"), problem,
                                       f"authorizations have tokens older than {rule.days} days"))
    return found


def _age_problem(rule: MaxTokenAgeRule, live: LiveAuthorization, now: datetime) -> str:
    if live.created is None:
        return (f"the token's age is not known: the platform does not say when authorization {live.id} was "
                f"created, so it cannot be checked against {rule.days} days")
    age = now - live.created
    if age <= timedelta(days=rule.days):
        return ""
    return (f"the token is {age.days} days old (set {live.created:%Y-%m-%d}), older than {rule.days} days: "
            "rotate it (a new credential value replaces the authorization)")


def _violations(index: int, rule: BaseRule, desired: DesiredState) -> Iterator[Violation]:
    auths = desired.authorizations.values()
    scope = f" in environment {desired.environment}" if rule.environments else ""
    if isinstance(rule, ForbidMethodRule):
        for auth in auths:
            if auth.provider == rule.provider and auth.method == rule.method:
                yield Violation(rule, index, auth, ("spec", "method"),
                                f"method {rule.method} of {rule.provider} is forbidden{scope}",
                                f"authorizations use method {rule.method} of {rule.provider}, forbidden{scope}")
    elif isinstance(rule, AllowedProvidersRule):
        allowed = ", ".join(rule.providers)
        for auth in auths:
            if auth.provider not in rule.providers:
                yield Violation(rule, index, auth, ("spec", "provider"),
                                f"provider {auth.provider} is not allowed{scope} (allowed: {allowed})",
                                f"authorizations use providers that are not allowed{scope} (allowed: {allowed})")
    elif isinstance(rule, LabelPatternRule):
        for auth in auths:
            if not rule.matches(auth.label):
                yield Violation(rule, index, auth, ("spec", "label"),
                                f"label {_quoted(auth.label)} does not match the required pattern {rule.pattern}",
                                f"authorizations have labels that do not match {rule.pattern}")
    elif isinstance(rule, RequireDescriptionRule):
        for obj in _of_kinds(desired, rule.kinds):
            if not obj.description.strip():
                yield Violation(rule, index, obj, ("spec", "description"), "has no description",
                                f"{_nouns(rule.kinds)} have no description")
    elif isinstance(rule, RequireOwnerRule):
        for obj in _of_kinds(desired, rule.kinds):
            if not obj.labels.get(rule.key, "").strip():
                state = "is empty" if rule.key in obj.labels else "is missing"
                yield Violation(rule, index, obj, ("metadata", "labels", rule.key),
                                f"has no owner: metadata.labels.{rule.key} {state}",
                                f"{_nouns(rule.kinds)} have no owner (metadata.labels.{rule.key})")


def _of_kinds(desired: DesiredState, kinds: Collection[str]) -> Iterator[Manifest]:
    if "Authorization" in kinds:
        yield from desired.authorizations.values()
    if "Job" in kinds:
        yield from desired.jobs.values()


def _nouns(kinds: Collection[str]) -> str:
    words = [noun for kind, noun in (("Authorization", "authorizations"), ("Job", "jobs")) if kind in kinds]
    return " and ".join(words)


def _quoted(label: str) -> str:
    shown = label if len(label) <= MAX_QUOTED_LABEL else label[:MAX_QUOTED_LABEL] + "..."
    return f'"{shown}"'


# -- the rules' own references -----------------------------------------------------------------------

SettingsPath = tuple[str | int, ...]  # a field of authctl.yaml: ("policy", "rules", 2, "method")


def reference_problems(rules: Sequence[BaseRule], catalog: Catalog,
                       environments: Collection[str]) -> list[tuple[SettingsPath, str]]:
    """(path in authctl.yaml, message) for every provider, method or environment a rule names that does
    not exist: such a rule would never match, and a policy that silently checks nothing is worse than none."""
    problems: list[tuple[SettingsPath, str]] = []
    for index, rule in enumerate(rules):
        at: SettingsPath = ("policy", "rules", index)
        for position, env in enumerate(rule.environments):
            if env not in environments:
                known = ", ".join(sorted(environments)) or "none defined"
                problems.append(((*at, "environments", position),
                                 f'unknown environment "{env}"' + did_you_mean(env, environments)
                                 + f" (environments: {known})"))
        if isinstance(rule, ForbidMethodRule):
            problem = _provider_problem(rule.provider, catalog)
            if problem:
                problems.append(((*at, "provider"), problem))
            elif rule.method not in catalog.providers[rule.provider].methods:
                methods = catalog.providers[rule.provider].methods
                problems.append(((*at, "method"), f'unknown method "{rule.method}" for {rule.provider}'
                                 + did_you_mean(rule.method, methods) + f" (methods: {', '.join(methods)})"))
        elif isinstance(rule, AllowedProvidersRule):
            for position, provider in enumerate(rule.providers):
                problem = _provider_problem(provider, catalog)
                if problem:
                    problems.append(((*at, "providers", position), problem))
    return problems


def _provider_problem(provider: str, catalog: Catalog) -> str:
    if provider in catalog.providers:
        return ""
    return (f'unknown provider "{provider}"' + did_you_mean(provider, catalog.providers)
            + " (`authctl providers` lists them)")
