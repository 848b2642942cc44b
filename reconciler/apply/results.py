"""Outcomes of an apply, as data (gitops-engine's ResultCode): returned, journaled, never raised."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ResultCode(str, Enum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed or waits for a person
    BLOCKED = "blocked"  # a delete refused because something still uses the authorization
    NEEDS_PERSON = "needs_person"  # reauthorize/login: only a person can do it

    @property
    def ok(self) -> bool:
        return self is ResultCode.APPLIED


@dataclass(frozen=True)
class StepResult:
    address: str
    operation: str  # "create", "replace-create", "replace-delete", "update", "delete", ...
    code: ResultCode
    message: str = ""
    seconds: float = 0.0
    live_id: str | None = None


EXIT_OK, EXIT_ERROR, EXIT_NEEDS_PERSON, EXIT_BLOCKED = 0, 1, 2, 3


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

    def exit_code(self) -> int:
        """0 converged; 1 something failed; 3 something blocked; 2 a person must act."""
        if self.count(ResultCode.FAILED):
            return EXIT_ERROR
        if self.count(ResultCode.BLOCKED):
            return EXIT_BLOCKED
        if self.count(ResultCode.NEEDS_PERSON) or self.count(ResultCode.SKIPPED):
            return EXIT_NEEDS_PERSON
        return EXIT_OK

    def summary_line(self) -> str:
        parts = [f"{self.count(ResultCode.APPLIED)} applied"]
        for code in (ResultCode.BLOCKED, ResultCode.FAILED, ResultCode.SKIPPED, ResultCode.NEEDS_PERSON):
            n = self.count(code)
            if n:
                parts.append(f"{n} {code.value.replace('_', ' ')}")
        return "Apply complete: " + ", ".join(parts) + "."
