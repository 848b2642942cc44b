"""Field-level differences between what was applied/is live and what is desired. Pure.

Hash first: most objects are unchanged, so each side is reduced to a digest of its
canonical JSON and only objects whose digests differ go through deepdiff (values that
are strictly the same skip even the digests: the common case, 60,000 times a plan at
scale). Nothing here
does I/O or sees a secret value; secrets arrive as fingerprints and leave as
placeholders that still show a rotation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from reconciler.manifest.fingerprints import canonical

SENSITIVE = "(sensitive)"
SENSITIVE_ROTATED = "(sensitive, rotated)"
WRITE_ONLY = "(write-only)"
KNOWN_AFTER_APPLY = "(known after apply)"


@dataclass(frozen=True)
class FieldChange:
    """One field: ``before`` -> ``after``. Sensitive values are placeholders, never secrets."""

    path: str
    before: Any
    after: Any
    sensitive: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {"path": self.path, "before": self.before, "after": self.after, "sensitive": self.sensitive}
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldChange:
        return cls(str(data["path"]), data.get("before"), data.get("after"), bool(data.get("sensitive", False)),
                   str(data.get("note", "")))


def digest(value: Any) -> str:
    """A short stable digest of a JSON-able value."""
    return hashlib.sha256(canonical(value).encode()).hexdigest()[:16]


def _path(parts: list[Any], prefix: str) -> str:
    text = prefix
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _same(a: Any, b: Any) -> bool:
    """True only when ``a`` and ``b`` certainly have the same canonical JSON (so equal digests).

    A strict structural comparison: the same types all the way down (``1`` is not ``1.0``
    nor ``True``), string keys only, floats by ``repr`` (what JSON writes). Anything else
    (datetimes, other key types, ...) answers False and is left to the digests. Comparing is
    several times cheaper than encoding and hashing both sides, and nearly every object of a
    plan is unchanged.
    """
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is str or kind is int or kind is bool or a is None:
        return a == b  # type: ignore[no-any-return]
    if kind is dict:
        if len(a) != len(b):
            return False
        for key, value in a.items():
            if type(key) is not str or key not in b or not _same(value, b[key]):
                return False
        return True
    if kind is list or kind is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if kind is float:
        return repr(a) == repr(b)
    return False


def value_changes(before: Any, after: Any, prefix: str = "") -> list[FieldChange]:
    """Changes between two JSON-able values, as (path, before, after), sorted by path.

    Values that are strictly the same, or have equal digests, short-circuit; otherwise
    deepdiff names the deepest changed paths.
    """
    try:
        same = _same(before, after)
    except RecursionError:  # absurdly deep: let the digests decide
        same = False
    if same or digest(before) == digest(after):
        return []
    if not isinstance(before, (dict, list)) or not isinstance(after, (dict, list)) or type(before) is not type(after):
        return [FieldChange(prefix, before, after)]
    changes: list[FieldChange] = []
    tree = _deep_diff(before, after)
    for report in tree.values():
        for level in report:
            parts = level.path(output_format="list")
            t1 = None if _is_missing(level.t1) else level.t1
            t2 = None if _is_missing(level.t2) else level.t2
            changes.append(FieldChange(_path(parts, prefix), t1, t2))
    changes.sort(key=lambda c: c.path)
    return changes


def _deep_diff(before: Any, after: Any) -> Any:
    """deepdiff's tree view; imported on first use (about 0.1 s), and most plans never get here."""
    from deepdiff import DeepDiff

    return DeepDiff(before, after, view="tree", verbose_level=2)


def _is_missing(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"


def secret_change(path: str, applied: str | None, desired: str | None, unavailable: str) -> FieldChange | None:
    """The change of one credential from fingerprints, or None when unchanged.

    ``applied`` is state's fingerprint (None: never applied); ``desired`` is the fingerprint of
    the value now (None: the value is not available, so it is not compared).
    """
    if desired is None:
        if applied is None:
            return FieldChange(path, None, SENSITIVE, sensitive=True, note=f"not compared: {unavailable}")
        return None
    if applied is None:
        return FieldChange(path, None, SENSITIVE, sensitive=True)
    if applied != desired:
        return FieldChange(path, SENSITIVE, SENSITIVE_ROTATED, sensitive=True)
    return None
