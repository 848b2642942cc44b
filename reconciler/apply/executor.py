"""Run a plan's steps phase by phase with bounded concurrency.

A plan action becomes one or two steps (a replace is "create the successor" in phase 0
and "delete the old one" in phase 3). Steps of one phase run concurrently on a small
thread pool; a step whose dependency did not apply is skipped, and a permanent error
fails only its own branch: independent work goes on and the report says what was done,
skipped and failed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reconciler.apply.hooks import ApplyHook
from reconciler.apply.operations import ApplyContext, Operations, timed
from reconciler.apply.results import ResultCode, StepResult
from reconciler.errors import AuthctlError, DependencyNotReadyError, PermanentBackendError
from reconciler.plan import Action, ActionKind, Phase
from reconciler.vocabulary import JournalOp, ObjectKind

AUTH = ObjectKind.AUTHORIZATION


# What a plan-time block stops. A blocked replace still creates its successor and moves
# the jobs; only the old one's delete waits.
BLOCKABLE = frozenset({JournalOp.CREATE, JournalOp.UPDATE, JournalOp.DELETE, JournalOp.REPLACE_DELETE})


@dataclass(frozen=True)
class Step:
    phase: int
    action: Action
    operation: str
    run: Callable[[], StepResult]


def build_steps(ops: Operations, actions: tuple[Action, ...]) -> list[Step]:
    steps: list[Step] = []
    for action in actions:
        kind, is_auth = action.kind, action.resource == AUTH
        if kind is ActionKind.REAUTHORIZE:
            steps.append(Step(action.phase.value, action, "reauthorize", _needs_person(action)))
        elif is_auth and kind is ActionKind.CREATE:
            steps.append(Step(action.phase.value, action, "create", _partial(ops.create_authorization, action)))
        elif is_auth and kind is ActionKind.REPLACE:
            steps.append(Step(Phase.CREATE_AUTHORIZATIONS, action, JournalOp.REPLACE_CREATE,
                              _partial(ops.create_authorization, action)))
            steps.append(Step(Phase.DELETE_AUTHORIZATIONS, action, JournalOp.REPLACE_DELETE,
                              _partial(ops.delete_replaced_authorization, action)))
        elif is_auth and kind is ActionKind.UPDATE:
            steps.append(Step(action.phase.value, action, "update", _partial(ops.update_authorization, action)))
        elif is_auth and kind is ActionKind.DELETE:
            steps.append(Step(action.phase.value, action, "delete", _partial(ops.delete_authorization, action)))
        elif kind in (ActionKind.CREATE, ActionKind.REPLACE):
            steps.append(Step(action.phase.value, action, "create", _partial(ops.create_job, action)))
        elif kind is ActionKind.UPDATE:
            steps.append(Step(action.phase.value, action, "update", _partial(ops.update_job, action)))
        elif kind is ActionKind.DELETE:
            steps.append(Step(action.phase.value, action, "delete", _partial(ops.delete_job, action)))
    steps.sort(key=lambda s: (s.phase, s.action.sort_key()))
    return steps


def _partial(func: Callable[[Action], StepResult], action: Action) -> Callable[[], StepResult]:
    return lambda: func(action)


def _needs_person(action: Action) -> Callable[[], StepResult]:
    return lambda: StepResult(action.address, "reauthorize", ResultCode.NEEDS_PERSON,
                              action.instruction or "a person must reauthorize it", live_id=action.live_id)


class Executor:
    def __init__(self, ctx: ApplyContext, hook: ApplyHook, parallelism: int = 4) -> None:
        self.ctx = ctx
        self.ops = Operations(ctx)
        self.hook = hook
        self.parallelism = max(1, parallelism)
        self.first_outcome: dict[str, ResultCode] = {}  # address -> outcome of its first step
        self.results: list[StepResult] = []

    def run(self) -> list[StepResult]:
        steps = build_steps(self.ops, self.ctx.plan.actions)
        total = len(steps) + self._expected_renames(steps)
        self.hook.on_start(total)
        phases = sorted({s.phase for s in steps} | {Phase.FINALIZE.value})
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="apply") as pool:
            for phase in phases:
                batch = [s for s in steps if s.phase == phase]
                if phase == Phase.FINALIZE.value:
                    batch += [Step(phase, _rename_action(name), "rename", _rename(self.ops, name))
                              for name in sorted(self.ctx.renames)]
                    total = max(total, len(self.results) + len(batch))
                for result in pool.map(self._run_step, batch):
                    self.results.append(result)
                    self.hook.on_step_done(len(self.results), total, result)
        return self.results

    def _expected_renames(self, steps: list[Step]) -> int:
        """Creates whose label is held by an authorization this apply deletes get renamed at the end."""
        desired = self.ctx.desired.authorizations
        return sum(1 for s in steps
                   if s.operation in (JournalOp.CREATE, JournalOp.REPLACE_CREATE) and s.action.resource == AUTH
                   and s.action.name in desired
                   and desired[s.action.name].label.casefold() in self.ctx.retiring_labels)

    def _run_step(self, step: Step) -> StepResult:
        action = step.action
        waiting = list(action.waiting_for)
        if waiting and step.operation != "reauthorize":
            result = StepResult(action.address, step.operation, ResultCode.SKIPPED,
                                "waits for " + ", ".join(waiting) + " (a person must log in first)")
            return self._remember(step, result)
        failed_deps = [d for d in action.depends_on if self.first_outcome.get(d, ResultCode.APPLIED) is not
                       ResultCode.APPLIED]
        if failed_deps:
            return self._remember(step, StepResult(action.address, step.operation, ResultCode.SKIPPED,
                                                   "dependency not applied: " + ", ".join(failed_deps)))
        replaced = self.first_outcome.get(action.address)
        if step.operation == JournalOp.REPLACE_DELETE and replaced is not ResultCode.APPLIED:
            return StepResult(action.address, step.operation, ResultCode.SKIPPED, "the successor was not created")
        if action.blocked and action.resource == AUTH and step.operation in BLOCKABLE:
            blockers = "; ".join(b.describe() for b in action.blocked_by)
            return self._remember(step, StepResult(action.address, step.operation, ResultCode.BLOCKED,
                                                   f"blocked by {blockers}", live_id=action.live_id))
        try:
            result = timed(step.run)
        except DependencyNotReadyError as exc:  # raised before any call: nothing to journal
            result = StepResult(action.address, step.operation, ResultCode.SKIPPED, exc.message)
        except PermanentBackendError as exc:
            self.ops.refused(action.address, step.operation, exc.message)
            result = StepResult(action.address, step.operation, ResultCode.FAILED, exc.message)
        except AuthctlError as exc:
            self.ops.failed_uncertain(action.address, step.operation, exc.message)
            result = StepResult(action.address, step.operation, ResultCode.FAILED, exc.message)
        except Exception as exc:  # unknown errors are final for this branch, never retried
            message = _summary(exc)
            self.ops.failed_uncertain(action.address, step.operation, message)
            result = StepResult(action.address, step.operation, ResultCode.FAILED, message)
        return self._remember(step, result)

    def _remember(self, step: Step, result: StepResult) -> StepResult:
        self.first_outcome.setdefault(step.action.address, result.code)
        return result


def _summary(exc: Exception) -> str:
    """One line for an unexpected error: driver errors append the SQL and its parameters on
    further lines, which belong in no output, journal or state."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _rename_action(name: str) -> Action:
    return Action(f"{AUTH}/{name}", ActionKind.UPDATE, Phase.FINALIZE)


def _rename(ops: Operations, name: str) -> Callable[[], StepResult]:
    return lambda: ops.finalize_label(name)
