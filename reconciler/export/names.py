"""The names export invents: manifest names from labels and job names, variables for secrets. Pure.

Every name is a function of what the platform shows, so exporting the same account twice
writes the same names (a diff of two exports shows what changed on the platform):

- A manifest name (a DNS label, ``NAME_PATTERN``) is the label folded to ASCII, lower
  case, every run of other characters one ``-``, at most 63 characters. A label with no
  letter or digit left (``"日本語"``, ``"!!!"``) gets ``authorization-`` (``job-``) and 8 hex
  digits of its SHA-256, still stable. A job whose platform name already is a valid
  manifest name keeps it exactly: a job's name on the platform *is* its manifest name, so
  any other name is a rename at the next apply.
- Two objects that fold to one name are told apart by ``-2``, ``-3``, ... in the order the
  caller gives (export: oldest first, then by id, so an object keeps its name when newer
  ones arrive). Names in ``taken`` (what state already manages) are never handed out.
  Authorizations and jobs are separate namespaces, as in the manifests.
- A secret's variable is ``AUTHCTL_<PROVIDER>_<NAME>_<FIELD>``, upper case, every other
  character ``_``. Two that still collide (``a`` + ``b_c`` and ``a-b`` + ``c``) are told
  apart by ``_2``, ``_3``, ... in the caller's order.

``import --all-matching`` uses :func:`could_be_export_name` to recognise a job under the
name export gave it, since a platform job name need not be unique nor a valid manifest name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from reconciler.manifest.model import NAME_PATTERN

MAX_NAME = 63
_VALID_NAME = re.compile(NAME_PATTERN)
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")
_NOT_VARIABLE_CHARS = re.compile(r"[^A-Z0-9]+")
_SUFFIXED = re.compile(r"(.+)-([0-9]+)")


def slug(text: str) -> str:
    """``text`` folded to a DNS label's characters: ASCII letters and digits, ``-`` between words ("" if none)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return _NOT_NAME_CHARS.sub("-", folded).strip("-")


def _fit(text: str, room: int) -> str:
    return text[:room].rstrip("-")


def base_name(text: str, fallback: str) -> str:
    """The manifest name ``text`` folds to, before any ``-N``; ``fallback-<hash>`` when nothing is left."""
    name = _fit(slug(text), MAX_NAME)
    if name:
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{fallback}-{digest}"


def job_base_name(live_name: str) -> str:
    """A job's manifest name before any ``-N``: its platform name when that is a valid manifest name."""
    if len(live_name) <= MAX_NAME and _VALID_NAME.fullmatch(live_name):
        return live_name
    return base_name(live_name, "job")


def is_manifest_name(text: str) -> bool:
    return len(text) <= MAX_NAME and _VALID_NAME.fullmatch(text) is not None


def with_suffix(base: str, number: int) -> str:
    """``base-N``, ``base`` shortened so that the whole stays a valid manifest name."""
    suffix = f"-{number}"
    return _fit(base, MAX_NAME - len(suffix)) + suffix


class NameAllocator:
    """Hands out unique manifest names: the base itself, else ``base-2``, ``base-3``, ..."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = set(taken)
        self._next: dict[str, int] = {}

    def allocate(self, base: str) -> str:
        if base not in self._taken:
            self._taken.add(base)
            return base
        number = self._next.get(base, 2)
        while with_suffix(base, number) in self._taken:
            number += 1
        self._next[base] = number + 1
        name = with_suffix(base, number)
        self._taken.add(name)
        return name


def could_be_export_name(manifest_name: str, live_name: str) -> bool:
    """True when export could have named the platform job ``live_name`` ``manifest_name``.

    Its base name, or its base name with a ``-N`` (N >= 2) that export adds when names fold together.
    """
    base = job_base_name(live_name)
    if manifest_name == base:
        return True
    match = _SUFFIXED.fullmatch(manifest_name)
    return match is not None and int(match.group(2)) >= 2 and with_suffix(base, int(match.group(2))) == manifest_name


def secret_variable(provider: str, name: str, field: str) -> str:
    """``AUTHCTL_FACEBOOK_FB_ADS_MAIN_ACCESS_TOKEN``: the variable export names for one credential."""
    return _NOT_VARIABLE_CHARS.sub("_", f"AUTHCTL_{provider}_{name}_{field}".upper()).strip("_")


class VariableAllocator:
    """Hands out unique variable names: the name itself, else ``NAME_2``, ``NAME_3``, ..."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def allocate(self, variable: str) -> str:
        candidate, number = variable, 2
        while candidate in self._taken:
            candidate, number = f"{variable}_{number}", number + 1
        self._taken.add(candidate)
        return candidate
