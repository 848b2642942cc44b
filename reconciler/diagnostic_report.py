"""Diagnostics for people and machines: alike warnings grouped, errors capped, lines looked up for what is shown.

Text (:func:`report_lines`), in the order of the files (see reconciler/diagnostics.py):

- Warnings of one rule about one subject (``unknown-config-field`` for (workflow, field))
  make a group, shown where its first member is. A group of one reads exactly as the
  warning itself (``warning: FILE:LINE: Kind/name: field: message``); a group of N is one
  line: the group's summary after the count, then the first locations::

      warning: 50,000 jobs set config field "segment_id", which workflow facebook-audience-populate
      does not define (part-000.yaml:12, part-000.yaml:20, part-000.yaml:28, ...; --all-warnings lists each)

  (one line). A diagnostic without a summary reads ``N × message``. ``all_warnings``
  lists every warning on its own line instead.
- Errors are listed one by one, the first ``ERROR_CAP`` of them, then
  ``... and N more errors (--format json lists every one)``: a broken workspace still
  shows where to start.

Only the lines that are shown are looked up, in one batch per file, so 50,000 warnings
cost a few lookups, not 50,000. JSON (:func:`diagnostics_json`) carries every diagnostic
with its line (looked up file by file).

Pure and low-level (no rich, no click): the CLI prints these lines, renderers may use
:func:`group_text` for their own groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.diagnostics import Diagnostic, Severity, resolve_lines

ERROR_CAP = 200  # errors listed one by one in text output; JSON lists every one
SHOWN_LOCATIONS = 3  # locations shown on a group's line
ALL_WARNINGS_HINT = "--all-warnings lists each"


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One line of text output and the severity it is about (for its colour)."""

    text: str
    severity: Severity


def group_text(count: int, head: str, locations: Sequence[str], *, hint: str = ALL_WARNINGS_HINT) -> str:
    """``50,000 jobs set ... (a.yaml:12, a.yaml:20, a.yaml:28, ...; HINT)``.

    ``head`` follows the count; ``locations`` are the first few places (at most
    ``SHOWN_LOCATIONS`` are shown, "..." says there are more).
    """
    shown = list(locations[:SHOWN_LOCATIONS])
    more = ", ..." if count > len(shown) else ""
    return f"{count:,} {head} ({', '.join(shown)}{more}; {hint})"


def _group_key(diagnostic: Diagnostic) -> tuple[Any, ...]:
    # Without a rule, only identical messages group (still near-identical warning lines).
    if diagnostic.rule:
        return (diagnostic.severity, diagnostic.rule, diagnostic.subject)
    return (diagnostic.severity, "", (diagnostic.message,))


def _group_line(members: list[Diagnostic]) -> str:
    first = members[0]
    head = first.summary or f"× {first.message}"
    text = group_text(len(members), head, [d.location() for d in members[:SHOWN_LOCATIONS]])
    return f"warning: {text}" if first.severity is Severity.WARNING else text


def report_lines(diagnostics: Iterable[Diagnostic], *, all_warnings: bool = False,
                 error_cap: int | None = ERROR_CAP) -> list[ReportLine]:
    """The text lines for ``diagnostics``: warnings grouped (unless ``all_warnings``), errors capped.

    ``error_cap=None`` lists every error.
    """
    entries: list[Diagnostic | list[Diagnostic]] = []
    groups: dict[tuple[Any, ...], list[Diagnostic]] = {}
    listed_errors = hidden_errors = 0
    for diagnostic in sorted(diagnostics, key=_sort_key):
        if diagnostic.severity is Severity.ERROR:
            if error_cap is not None and listed_errors >= error_cap:
                hidden_errors += 1
                continue
            listed_errors += 1
            entries.append(diagnostic)
        elif all_warnings:
            entries.append(diagnostic)
        else:
            key = _group_key(diagnostic)
            group = groups.get(key)
            if group is None:
                groups[key] = group = []
                entries.append(group)
            group.append(diagnostic)
    # The lines of what is shown, in one batch per file; nothing else is looked up.
    resolve_lines(d for entry in entries
                  for d in (entry[:SHOWN_LOCATIONS] if isinstance(entry, list) else (entry,)))
    lines = []
    for entry in entries:
        if isinstance(entry, Diagnostic):
            lines.append(ReportLine(entry.format(), entry.severity))
        elif len(entry) == 1:
            lines.append(ReportLine(entry[0].format(), entry[0].severity))
        else:
            lines.append(ReportLine(_group_line(entry), entry[0].severity))
    if hidden_errors:
        noun = "error" if hidden_errors == 1 else "errors"
        lines.append(ReportLine(f"... and {hidden_errors:,} more {noun} (--format json lists every one)",
                                Severity.ERROR))
    return lines


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    """One diagnostic for ``--format json``: the keys of format 1, plus ``rule`` when known."""
    data: dict[str, Any] = {"severity": diagnostic.severity.value, "file": diagnostic.file, "line": diagnostic.line,
                            "address": diagnostic.address, "field": diagnostic.field, "message": diagnostic.message}
    if diagnostic.rule:
        data["rule"] = diagnostic.rule
    return data


def diagnostics_json(diagnostics: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    """Every diagnostic for ``--format json``, in the given order; lines looked up file by file."""
    resolve_lines(diagnostics)
    return [diagnostic_json(d) for d in diagnostics]


def _sort_key(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.sort_key
