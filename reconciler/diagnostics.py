"""Diagnostics: problems found in user input, located as precisely as we can, paid for when shown.

A loader reports every problem at once (like Terraform's tfdiags), so a big workspace can
yield tens of thousands of them: 50,000 jobs setting a config field the catalog does not
know for their workflow make 50,000 warnings. A :class:`Diagnostic` therefore costs
little until someone reads it:

- Its line is looked up late. A diagnostic about a field of a document carries where it
  is (:class:`Where`: the file's line source, the document, the field path) instead of a
  line number; :func:`resolve_lines` looks up the lines of many diagnostics together, one
  pass over each file (reconciler/yaml_with_lines.py composes a file's YAML nodes only
  then, and only up to the last document asked for). Reading ``line`` resolves one.
- Sorting never resolves: diagnostics sort by (file, line of their document, order
  found), and a document's first line is known without composing anything.
- Validators share one message string between the diagnostics of one rule and subject
  (see reconciler/manifest/validate.py) instead of formatting it for each.

``rule`` is a stable short id of the check (``unknown-config-field``), ``subject`` the
strings that define a group of alike diagnostics (the workflow and the field), and
``summary`` what a group of them says after its count ("jobs set config field ...").
Grouping and capping for display are presentation: reconciler/diagnostic_report.py.

This module is the bottom of the layers (it imports nothing of authctl); ``errors.py``
re-exports :class:`Diagnostic` and :class:`Severity` beside the sink that collects them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, NamedTuple, Protocol


class Severity(str, Enum):
    """How bad a diagnostic is; errors stop the command, warnings are shown."""

    ERROR = "error"
    WARNING = "warning"


class LineSource(Protocol):
    """Finds the lines of fields in one file (reconciler.yaml_with_lines.SourceMap is one)."""

    def lines(self, requests: Sequence[tuple[int, tuple[Any, ...]]]) -> list[int]:
        """1-based line of each (document index, field path); 0 where it cannot tell."""
        ...


class Where(NamedTuple):
    """Where a diagnostic about a document's field is, before its line is looked up."""

    source: LineSource
    document: int  # index of the document in its file
    path: tuple[Any, ...]  # ("spec", "config", "segment_id"); () for the document itself
    start: int  # 1-based line where the document starts (known without the source); 0: unknown


_found = itertools.count()  # the order diagnostics were found in, for a stable sort


class Diagnostic:
    """One problem found in user input, located as precisely as we can.

    ``Diagnostic(file, line, address, field, message, severity)`` as before, or with
    ``where`` instead of a line: the line is then looked up on first use of ``line``
    (or for many at once by :func:`resolve_lines`). Sorted, diagnostics read top to
    bottom like the files: by (file, line of the document, order found).
    """

    __slots__ = ("file", "_line", "address", "field", "message", "severity", "rule", "subject",
                 "summary", "_where", "sort_key")

    def __init__(self, file: str = "", line: int = 0, address: str = "", field: str = "",
                 message: str = "", severity: Severity = Severity.ERROR, *, rule: str = "",
                 subject: tuple[str, ...] = (), summary: str = "", where: Where | None = None) -> None:
        self.file = file
        self.address = address  # "Authorization/fb-ads-prod"
        self.field = field  # "spec.config.ads_account_id"
        self.message = message
        self.severity = severity
        self.rule = rule
        self.subject = subject
        self.summary = summary
        self._where: Where | None = None
        if where is not None and (where.path or not where.start):
            self._line, self._where = 0, where  # looked up when shown
            self.sort_key: tuple[str, int, int] = (file, where.start, next(_found))
        else:
            self._line = where.start if where is not None else line
            self.sort_key = (file, self._line, next(_found))

    @property
    def line(self) -> int:
        """1-based line (0: none, e.g. a file that cannot be read); looked up on first use."""
        if self._where is not None:
            resolve_lines((self,))
        return self._line

    @property
    def resolved(self) -> bool:
        """True once the line is known (it costs nothing more to read)."""
        return self._where is None

    def format(self) -> str:
        """``file.yaml:LINE: Kind/name: field: message`` with empty parts left out."""
        line = self.line
        location = f"{self.file}:{line}" if line else self.file
        parts = [p for p in (location, self.address, self.field) if p]
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.severity is Severity.WARNING:
            text = f"warning: {text}"
        return text

    def location(self) -> str:
        """``file.yaml:LINE`` (or the file alone), for lists of places."""
        line = self.line
        return f"{self.file}:{line}" if line else self.file

    def _values(self) -> tuple[Any, ...]:
        return (self.file, self.line, self.address, self.field, self.message, self.severity)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Diagnostic):
            return NotImplemented
        return self._values() == other._values() and (self.rule, self.subject) == (other.rule, other.subject)

    def __hash__(self) -> int:
        return hash(self._values())

    def __lt__(self, other: Diagnostic) -> bool:
        return self.sort_key < other.sort_key

    def __repr__(self) -> str:
        rule = f", rule={self.rule!r}" if self.rule else ""
        return (f"Diagnostic({self.file!r}, {self.line}, {self.address!r}, {self.field!r}, {self.message!r}, "
                f"{self.severity}{rule})")


def resolve_lines(diagnostics: Iterable[Diagnostic]) -> None:
    """Look up the lines of ``diagnostics`` that are not known yet, one batch per file.

    Each file's source is asked once for all of its diagnostics; a field that cannot be
    found reports the line where its document starts.
    """
    pending: dict[int, tuple[LineSource, list[Diagnostic]]] = {}
    for diagnostic in diagnostics:
        where = diagnostic._where
        if where is not None:
            entry = pending.get(id(where.source))
            if entry is None:
                pending[id(where.source)] = entry = (where.source, [])
            entry[1].append(diagnostic)
    for source, batch in pending.values():
        found = source.lines([(d._where.document, d._where.path) for d in batch])  # type: ignore[union-attr]
        for diagnostic, line in zip(batch, found, strict=True):
            where = diagnostic._where
            diagnostic._line = line or (where.start if where is not None else 0) or 1
            diagnostic._where = None  # and the source can go once no diagnostic needs it
