"""``did you mean`` for every misspelt name: one wording across manifests, settings and the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """``; did you mean "x"?`` for the nearest choice, or an empty string."""
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""
