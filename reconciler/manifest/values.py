"""Config values: exactly what JSON can carry, decided at validation.

A config value travels as JSON everywhere after validation: in plans, ``--format json``,
saved plan files, fingerprints, state and the platform's API. YAML can build more than
JSON can hold (dates, ``!!binary`` bytes, ``!!set``, ``!!omap``/``!!pairs``, keys that
are numbers or booleans, ``.nan``/``.inf``), and such a value used to pass validate and
then crash plan and apply. The rule, applied by :func:`json_value` while validating so
that nothing valid can fail later:

- dates and timestamps become ISO 8601 text (``2024-01-31``, ``2024-01-31T10:00:00+00:00``):
  unquoted dates are common in YAML and their meaning is clear;
- everything else JSON cannot hold is an error naming the field: bytes, sets, ordered
  maps and pairs, mapping keys that are not text, and numbers that are not finite.

Errors describe the value's type, never the value.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

FieldPath = tuple[Any, ...]
Problem = tuple[FieldPath, str]


def json_value(value: Any, path: FieldPath, problems: list[Problem]) -> Any:
    """``value`` with dates as ISO 8601 text; what JSON cannot hold goes to ``problems`` as (path, message)."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is dict:
        return _mapping(value, path, problems)
    if kind is list:
        return [item if type(item) is str else json_value(item, path + (index,), problems)
                for index, item in enumerate(value)]
    if kind is float:
        if not math.isfinite(value):
            problems.append((path, "not a finite number (.nan and .inf cannot be sent to the platform)"))
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    problems.append((path, _refusal(value)))
    return value


def _mapping(value: dict[Any, Any], path: FieldPath, problems: list[Problem]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            problems.append((path, f"a key of this mapping is {_type(key)}, not text; quote the key "
                                   "(keys must be strings)"))
            continue
        # Most config values are text: decided here without a call.
        result[key] = item if type(item) is str else json_value(item, path + (key,), problems)
    return result


def _refusal(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "binary data (!!binary) cannot be sent to the platform; write it as a base64 string"
    if isinstance(value, (set, frozenset)):
        return "a set (!!set) cannot be sent to the platform; write it as a list"
    if isinstance(value, tuple):
        return "an ordered map or pairs (!!omap, !!pairs) cannot be sent to the platform; write a mapping or a list"
    return f"{_type(value)} cannot be sent to the platform; use text, a number, true/false, a list or a mapping"


def _type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", type(None): "null",
             datetime.date: "a date", datetime.datetime: "a timestamp", tuple: "a list"}
    return names.get(type(value), f"a {type(value).__name__}")
