"""Outcomes of an apply, as data (gitops-engine's ResultCode): returned, journaled, never raised.

:meth:`ApplyReport.to_json` is the machine-readable apply report (`authctl apply --format
json`), a versioned contract like the plan's: ``format_version``, ``apply_id``,
``summary`` (a count for every result code, zeros included, so a script can read any key),
``exit_code``, ``serial``, ``recovered`` and one entry per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

REPORT_FORMAT_VERSION = "1"

from reconciler.errors import ExitCode


class ResultCode(str, Enum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed or waits for a person
    BLOCKED = "blocked"  # a delete refused because something still uses the authorization
    NEEDS_PERSON = "needs_person"  # reauthorize/login: only a person can do it
    DISRUPTED = "disrupted"  # deleted, but the platform stopped jobs that started using it meanwhile (cascade)

    @property
    def ok(self) -> bool:
        return self is ResultCode.APPLIED


@dataclass(frozen=True)
class StepResult:
    address: str
    operation: str  # what the step did, as the apply output shows it (a JournalOp word, or "reauthorize")
    code: ResultCode
    message: str = ""
    seconds: float = 0.0
    live_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "operation": self.operation, "result": self.code.value,
                "message": self.message, "live_id": self.live_id, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ApplyReport:
    apply_id: str
    results: tuple[StepResult, ...]
    serial: int | None  # the new state serial, when anything changed
    recovered: tuple[str, ...] = ()  # journal intents of a killed apply that were settled

    def count(self, code: ResultCode) -> int:
        return sum(1 for r in self.results if r.code is code)

    @property
    def converged(self) -> bool:
        return all(r.code is ResultCode.APPLIED for r in self.results)

    def exit_code(self) -> ExitCode:
        """OK converged; ERROR something failed; BLOCKED something blocked (or a cascade stopped jobs);
        CHANGES a person must act."""
        if self.count(ResultCode.FAILED):
            return ExitCode.ERROR
        if self.count(ResultCode.BLOCKED) or self.count(ResultCode.DISRUPTED):
            return ExitCode.BLOCKED
        if self.count(ResultCode.NEEDS_PERSON) or self.count(ResultCode.SKIPPED):
            return ExitCode.CHANGES
        return ExitCode.OK

    def summary_line(self) -> str:
        parts = [f"{self.count(ResultCode.APPLIED)} applied"]
        for code in (ResultCode.BLOCKED, ResultCode.DISRUPTED, ResultCode.FAILED, ResultCode.SKIPPED, ResultCode.NEEDS_PERSON):
            n = self.count(code)
            if n:
                parts.append(f"{n} {code.value.replace('_', ' ')}")
        return "Apply complete: " + ", ".join(parts) + "."

    def to_json(self) -> dict[str, Any]:
        """The apply report as JSON data (see the module docstring); exit_code is :meth:`exit_code`."""
        return {
            "format_version": REPORT_FORMAT_VERSION, "apply_id": self.apply_id,
            "summary": {code.value: self.count(code) for code in ResultCode},
            "converged": self.converged, "exit_code": int(self.exit_code()), "serial": self.serial,
            "recovered": list(self.recovered), "steps": [r.to_json() for r in self.results],
        }
