"""``authctl export --select KEY=VALUE``: which live authorizations to export. Pure.

Keys: ``provider=NAME``, ``method=NAME`` (catalog names, checked: a misspelt one is an
error with a suggestion, not an empty export) and ``label=GLOB`` (shell-style, ignoring
case: ``label='Facebook*'``). The same key given twice means either value; different keys
must all hold. Jobs follow their authorizations: a job is selected when every
authorization it uses is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.catalog import Catalog
from reconciler.errors import UsageError
from reconciler.live import LiveAuthorization
from reconciler.suggestions import did_you_mean

KEYS = ("provider", "method", "label")


@dataclass(frozen=True)
class Selection:
    """What ``--select`` asked for; empty sets select everything."""

    providers: frozenset[str] = frozenset()
    methods: frozenset[str] = frozenset()
    labels: tuple[str, ...] = ()  # casefolded globs

    @property
    def everything(self) -> bool:
        return not (self.providers or self.methods or self.labels)

    def admits(self, auth: LiveAuthorization) -> bool:
        if self.providers and auth.provider not in self.providers:
            return False
        if self.methods and auth.method not in self.methods:
            return False
        label = auth.label.casefold()
        return not self.labels or any(fnmatch.fnmatchcase(label, glob) for glob in self.labels)

    def describe(self) -> str:
        """``provider=facebook, label=fb*`` (for the header of the files written); "" when everything."""
        parts = [f"provider={p}" for p in sorted(self.providers)] + [f"method={m}" for m in sorted(self.methods)]
        parts += [f"label={glob}" for glob in self.labels]
        return ", ".join(parts)


def parse_selection(selectors: Sequence[str], catalog: Catalog) -> Selection:
    """``("provider=facebook", "label=Ads*")`` -> Selection; a UsageError names the selector that is wrong."""
    values: dict[str, list[str]] = {key: [] for key in KEYS}
    for selector in selectors:
        key, equals, value = selector.partition("=")
        key = key.strip()
        if not equals or not value:
            raise UsageError(f"--select {selector!r}: write KEY=VALUE, with KEY one of {', '.join(KEYS)}")
        if key not in values:
            raise UsageError(f"--select {selector!r}: unknown key {key!r}{_suggest(key, KEYS)} "
                             f"(keys: {', '.join(KEYS)})")
        values[key].append(value)
    providers = set(catalog.providers)
    for name in values["provider"]:
        if name not in providers:
            raise UsageError(f"--select provider={name}: unknown provider{_suggest(name, providers)} "
                             "(see `authctl providers`)")
    methods = {m for p in catalog.providers.values() for m in p.methods}
    for name in values["method"]:
        if name not in methods:
            raise UsageError(f"--select method={name}: no provider has a method {name!r}"
                             f"{_suggest(name, methods)} (see `authctl providers NAME`)")
    return Selection(frozenset(values["provider"]), frozenset(values["method"]),
                     tuple(v.casefold() for v in values["label"]))


def _suggest(word: str, choices: Sequence[str] | set[str]) -> str:
    return did_you_mean(word, sorted(choices))
