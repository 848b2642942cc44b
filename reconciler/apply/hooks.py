"""Progress reporting through a hook, so the engine never imports a UI library."""

from __future__ import annotations

from typing import Protocol

from reconciler.apply.results import ApplyReport, StepResult


class ApplyHook(Protocol):
    def on_start(self, total: int) -> None: ...

    def on_step_done(self, index: int, total: int, result: StepResult) -> None: ...

    def on_finish(self, report: ApplyReport) -> None: ...


class SilentHook:
    def on_start(self, total: int) -> None:
        pass

    def on_step_done(self, index: int, total: int, result: StepResult) -> None:
        pass

    def on_finish(self, report: ApplyReport) -> None:
        pass
