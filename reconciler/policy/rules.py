"""The schema of ``policy.rules`` in authctl.yaml: one model per rule, told apart by ``rule``.

Every rule has a ``severity`` (``error``, the default, or ``warning``), optional
``environments`` it is limited to (the ``--env`` of the run; empty: every run) and an
optional ``message`` added to what it reports (the advice: "use the system user in prod")::

    policy:
      rules:
        - {rule: forbid_method, provider: facebook, method: user_oauth, environments: [prod],
           message: use the Business Manager system user in prod}
        - {rule: require_owner}                      # metadata.labels.owner on every authorization
        - {rule: require_description, severity: warning, kinds: [Authorization, Job]}
        - {rule: max_token_age, days: 90}            # checked by plan: it needs the live tokens
        - {rule: allowed_providers, providers: [facebook, google_cloud], environments: [prod]}
        - {rule: label_pattern, pattern: '[A-Z][A-Za-z ]+ \\((staging|prod)\\)'}

What these models cannot know is checked once the catalog is loaded
(:func:`reconciler.policy.checks.reference_problems`): providers and methods must be
the catalog's, environments those of authctl.yaml.

Errors are worded here, in authctl's words, at the field they are about
(``policy.rules.2.method``): the discriminated union would otherwise report an unknown
rule as pydantic's "Input tag ... does not match" at the list item, and nest every other
error under the rule's name (``policy.rules.2.forbid_method.method``), a path that is not
in the file and whose line cannot be found.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic import field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from reconciler.suggestions import did_you_mean

MAX_TOKEN_AGE_DAYS = 3650  # ten years, as policy.expiry_warning_days
MAX_PATTERN_CHARS = 1000
MAX_MESSAGE_CHARS = 500
KINDS = ("Authorization", "Job")


class BaseRule(BaseModel):
    """What every rule has: its severity, the environments it is limited to and its advice."""

    model_config = ConfigDict(extra="forbid")

    #: Checked by ``authctl plan`` only: the rule needs live state.
    needs_live: ClassVar[bool] = False

    severity: Literal["error", "warning"] = "error"
    environments: list[str] = Field(default_factory=list)
    message: str = Field(default="", max_length=MAX_MESSAGE_CHARS)

    @property
    def name(self) -> str:
        return str(getattr(self, "rule"))

    def applies_in(self, environment: str | None) -> bool:
        """True when the run's environment is one of the rule's (a rule without environments: always)."""
        return not self.environments or environment in self.environments


class ForbidMethodRule(BaseRule):
    """Forbid one method of a provider (in some environments), e.g. Facebook user OAuth in prod."""

    rule: Literal["forbid_method"]
    provider: str = Field(min_length=1)
    method: str = Field(min_length=1)


class RequireDescriptionRule(BaseRule):
    """Every authorization (or job, per ``kinds``) has a description that is not blank."""

    rule: Literal["require_description"]
    kinds: list[Literal["Authorization", "Job"]] = Field(default_factory=lambda: ["Authorization"], min_length=1)


class RequireOwnerRule(BaseRule):
    """Every authorization (or job, per ``kinds``) names its owner in a metadata label (``owner`` by default)."""

    rule: Literal["require_owner"]
    key: str = Field(default="owner", min_length=1, max_length=253)
    kinds: list[Literal["Authorization", "Job"]] = Field(default_factory=lambda: ["Authorization"], min_length=1)


class MaxTokenAgeRule(BaseRule):
    """A credential is replaced (rotated) within ``days`` of being set; checked by plan against the live platform."""

    needs_live: ClassVar[bool] = True

    rule: Literal["max_token_age"]
    days: int = Field(strict=True)  # (YAML gives a number; true or "90" is a mistake, not 1 or 90)

    @field_validator("days")
    @classmethod
    def _a_day_count(cls, value: int) -> int:
        if not 1 <= value <= MAX_TOKEN_AGE_DAYS:
            raise PydanticCustomError("policy_days", "must be a number of days from 1 to {max} (ten years)",
                                      {"max": MAX_TOKEN_AGE_DAYS})
        return value


class AllowedProvidersRule(BaseRule):
    """Only these providers (in some environments)."""

    rule: Literal["allowed_providers"]
    providers: list[str] = Field(min_length=1)


class LabelPatternRule(BaseRule):
    """Every authorization's label (``spec.label``, as a whole) matches a regular expression."""

    rule: Literal["label_pattern"]
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_CHARS)

    @field_validator("pattern")
    @classmethod
    def _a_regular_expression(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError("policy_pattern", "not a valid regular expression: {problem}",
                                      {"problem": exc.msg + (f" at position {exc.pos}" if exc.pos is not None
                                                             else "")}) from None
        return value

    def matches(self, text: str) -> bool:
        return re.fullmatch(self.pattern, text) is not None  # (the re module caches the compiled pattern)


RULE_MODELS: dict[str, type[BaseRule]] = {
    "forbid_method": ForbidMethodRule,
    "require_description": RequireDescriptionRule,
    "require_owner": RequireOwnerRule,
    "max_token_age": MaxTokenAgeRule,
    "allowed_providers": AllowedProvidersRule,
    "label_pattern": LabelPatternRule,
}
_RULE_LIST = ", ".join(RULE_MODELS)


def _our_error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    # No context: the message is used as written, braces and all.
    return InitErrorDetails(type=PydanticCustomError("policy_rule", message), loc=loc, input=value)


def _worded(error: Any, rule: str) -> str:
    """One pydantic error about a field of ``rule``, in authctl's words."""
    kind, loc = error["type"], error["loc"]
    model = RULE_MODELS[rule]
    if kind == "extra_forbidden":
        fields = [f for f in model.model_fields if f != "rule"]
        return (f'unknown field "{str(loc[-1])[:100]}" for rule {rule}' + did_you_mean(str(loc[-1]), fields)
                + f" (fields: {', '.join(fields)})")
    if kind == "missing":
        return f"required field is missing (rule {rule} needs it)"
    if kind == "literal_error":
        return "must be one of: " + ", ".join(re.findall(r"'([^']*)'", str(error["ctx"]["expected"])))
    if kind == "string_type":
        return "must be text"
    if kind == "list_type":
        return "must be a list"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind == "too_short":
        return "must list at least one"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {error['ctx']['max_length']} characters)"
    return str(error["msg"])


def _checked_rule(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate one entry of ``policy.rules``; every error is at its field and in authctl's words."""
    if not isinstance(value, dict):
        raise PydanticCustomError("policy_rule", "must be a mapping that names its rule, e.g. "
                                                 f"{{rule: require_owner}} (rules: {_RULE_LIST})")
    name = value.get("rule")
    if not isinstance(name, str) or name not in RULE_MODELS:
        if "rule" not in value:
            problem = "required field is missing: which rule this is"
        elif isinstance(name, str):
            problem = f'unknown rule "{name[:100]}"' + did_you_mean(name, RULE_MODELS)
        else:
            problem = "must be the name of a rule"
        raise ValidationError.from_exception_data("PolicyRule", [_our_error(("rule",), f"{problem} (rules: "
                                                                                       f"{_RULE_LIST})", name)])
    try:
        return handler(value)
    except ValidationError as exc:
        details = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc[:1] == (name,):  # the union's tag, which is not in the file
                loc = loc[1:]
            details.append(_our_error(loc, _worded(error, name), error.get("input")))
        raise ValidationError.from_exception_data("PolicyRule", details) from None


PolicyRule = Annotated[
    Union[ForbidMethodRule, RequireDescriptionRule, RequireOwnerRule, MaxTokenAgeRule,  # noqa: UP007
          AllowedProvidersRule, LabelPatternRule],
    Field(discriminator="rule"),
    WrapValidator(_checked_rule),
]
"""One entry of ``policy.rules``, the model its ``rule`` names."""
