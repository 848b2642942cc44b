"""The catalog's rules for one config value: type, pattern, enum, range, list items.

One implementation for both places a config is checked: manifest validation (where a
problem becomes ``file:line: Job/name: spec.config.FIELD: ...``) and the served platform
(where it becomes a ``JOB-BADREQ-002`` / ``AUTH-BADREQ-008`` answer naming the field, as
Lytics answers). So the platform and the manifests can never disagree about what a field
accepts. Pure functions; a secret field's value is never quoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import FieldSpec

CONFIG_TYPE = "config-type"  # a config value of another type than the catalog field's
CONFIG_PATTERN = "config-pattern"
CONFIG_ENUM = "config-enum"  # a value the field's enum does not list
CONFIG_RANGE = "config-range"  # a number below the minimum or above the maximum
MISSING_CONFIG_FIELD = "missing-config-field"
UNKNOWN_CONFIG_FIELD = "unknown-config-field"

_ACCEPTS: dict[str, tuple[type, ...]] = {"string": (str, int, float), "number": (int, float), "integer": (int,),
                                         "boolean": (bool,), "list": (list,), "mapping": (dict,)}
TYPE_WORDS = {"string": "text (a string)", "number": "a number", "integer": "a whole number",
              "boolean": "true or false", "list": "a list", "mapping": "a mapping (key: value)"}
_TYPE_NAMES: dict[type, str] = {dict: "a mapping", list: "a list", type(None): "null", str: "text (a string)",
                                bool: "true/false", int: "a number", float: "a number"}
_ENUM_SHOWN = 12  # an enum longer than this is shown by its first values and a count


def type_name(value: Any) -> str:
    """What ``value`` is, in the words of YAML (never the value itself)."""
    return _TYPE_NAMES.get(type(value)) or f"a {type(value).__name__}"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One broken rule: the field, the rule's name (a diagnostic code) and authctl's message."""

    field: str
    rule: str
    message: str


def _is(kind: str, value: Any) -> bool:
    """Whether ``value`` has the catalog type ``kind`` (true/false is never a number, and a number is text)."""
    return (type(value) is bool) == (kind == "boolean") and isinstance(value, _ACCEPTS[kind])


def _shown(spec: FieldSpec, value: Any) -> str:
    if spec.secret:
        return "the value"
    return f'"{value}"' if isinstance(value, str) else str(value)


def enum_words(enum: list[str | int | float]) -> str:
    """The values of an enum for a message or a table; a long one by its first values and a count."""
    words = [str(v) for v in enum[:_ENUM_SHOWN]]
    more = len(enum) - len(words)
    return ", ".join(words) + (f" and {more} more (see `authctl providers`)" if more > 0 else "")


def check_value(spec: FieldSpec, value: Any) -> tuple[str, str] | None:
    """``(rule, message)`` for the first rule ``value`` breaks, or None."""
    if type(value) is not str or spec.type != "string":  # text for a text field, the common case, needs no look
        if not _is(spec.type, value):
            return CONFIG_TYPE, f"must be {TYPE_WORDS[spec.type]}, got {type_name(value)}"
    if spec.regex is not None and not spec.regex.fullmatch(str(value)):
        return CONFIG_PATTERN, f"{_shown(spec, value)} does not match the pattern {spec.pattern}" + (
            f" (e.g. {spec.example})" if spec.example else "")
    if spec.type == "list":
        for index, item in enumerate(value):
            if spec.items is not None and not _is(spec.items, item):
                return CONFIG_TYPE, f"item {index + 1} must be {TYPE_WORDS[spec.items]}, got {type_name(item)}"
            if spec.enum is not None and item not in spec.enum:
                return CONFIG_ENUM, (f"item {index + 1} {_shown(spec, item)} is not one of: "
                                     f"{enum_words(spec.enum)}")
        return None
    if spec.enum is not None and value not in spec.enum and not (spec.type == "string" and str(value) in spec.enum):
        return CONFIG_ENUM, f"{_shown(spec, value)} is not one of: {enum_words(spec.enum)}"
    if spec.type in ("number", "integer"):
        if spec.minimum is not None and value < spec.minimum:
            return CONFIG_RANGE, f"{_shown(spec, value)} is less than the minimum, {_number(spec.minimum)}"
        if spec.maximum is not None and value > spec.maximum:
            return CONFIG_RANGE, f"{_shown(spec, value)} is more than the maximum, {_number(spec.maximum)}"
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def config_problems(fields: Mapping[str, FieldSpec], config: Mapping[str, Any], *,
                    unknown_allowed: bool = True) -> list[ConfigProblem]:
    """Every rule ``config`` breaks against ``fields``, in field order: types, patterns, enums, ranges, required.

    Unknown keys are a problem only with ``unknown_allowed=False`` (the platform evolves
    faster than the catalog, so manifest validation warns about them instead).
    """
    problems: list[ConfigProblem] = []
    for key, value in config.items():
        spec = fields.get(key)
        if spec is None:
            if not unknown_allowed:
                problems.append(ConfigProblem(key, UNKNOWN_CONFIG_FIELD, "is not a field of this type"))
            continue
        found = check_value(spec, value)
        if found is not None:
            problems.append(ConfigProblem(key, *found))
    for spec in fields.values():
        if spec.required and spec.name not in config:
            problems.append(ConfigProblem(spec.name, MISSING_CONFIG_FIELD,
                                          f'required config field "{spec.name}" ({spec.title}) is missing'))
    return problems
