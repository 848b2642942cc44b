"""Where the dashboard's data comes from: the workspace's backend and state, read on threads of their own.

Reading is what `authctl status`, `show` and `plan` do, with the same calls and nothing
more: ``backend.snapshot()`` and the state's managed index (a :class:`Dataset`),
``backend.request_counts(id)`` for an authorization's activity, and ``open_session`` then
``Session.plan()`` for the plan. Every backend is opened with :attr:`Access.READ`; nothing
here can change the platform or the state.

Why threads, and three of them: the server answers from its event loop, which must never
wait for a database or the network. A backend (its SQLite connection, its HTTP client) is
opened and used on one thread only (:class:`BackendThread`), so no backend is ever shared
between threads. Snapshots (a second or two for 60,000 objects) run on one such thread,
the small lookups a page needs (request counts) on another, so an authorization page does
not wait behind a snapshot; plans (which load the manifests) on a third.

Freshness: the first snapshot is read before the server listens (:meth:`load`), so a
platform that cannot be read stops `authctl ui` at once with the CLI's error. Afterwards a
snapshot older than ``max_age`` seconds is re-read in the background while pages keep
answering from the one in hand (0: only on demand), and ``?refresh=1`` re-reads before
answering. A re-read that fails keeps the last good data and is shown on every page with
the time of that data: what cannot be read is an error, never an absence. The plan is made
on first demand and kept, with its time, until someone asks for a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from reconciler.backends import Backend, open_backend
from reconciler.catalog import Catalog
from reconciler.errors import AuthctlError, ManifestError
from reconciler.paused_gc import paused_gc
from reconciler.state.access import read_managed
from reconciler.ui.dataset import Dataset
from reconciler.views import requests_json
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace

log = logging.getLogger("authctl.ui")
T = TypeVar("T")
DEFAULT_MAX_AGE = 60.0


class BackendThread:
    """One thread that owns one backend, opened on first use: every call on the backend runs there."""

    def __init__(self, name: str, opener: Callable[[], Backend]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._opener = opener
        self._backend: Backend | None = None

    def submit(self, work: Callable[[Backend], T]) -> Future[T]:
        def call() -> T:
            if self._backend is None:
                self._backend = self._opener()
            return work(self._backend)

        return self._executor.submit(call)

    def close(self) -> None:
        def close_backend() -> None:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

        self._executor.submit(close_backend)
        self._executor.shutdown(wait=True)


@dataclass(frozen=True)
class ReadFailure:
    """A read that failed: the error's type, its message and hint as the CLI says them, and when."""

    kind: str  # the exception's class name (the CLI's JSON error ``type``)
    message: str
    hint: str
    at: datetime
    details: tuple[str, ...] = ()  # manifest diagnostics, one line each

    @classmethod
    def of(cls, exc: BaseException) -> ReadFailure:
        kind, now = type(exc).__name__, datetime.now(UTC)
        if isinstance(exc, ManifestError):
            from reconciler.diagnostic_report import report_lines

            return cls(kind, exc.message, exc.hint, now, tuple(line.text for line in report_lines(exc.diagnostics)))
        if isinstance(exc, AuthctlError):
            return cls(kind, exc.message, exc.hint, now)
        if isinstance(exc, OSError) and exc.strerror:
            return cls(kind, f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror.lower()}", "", now)
        log.error("internal error while reading for the dashboard", exc_info=exc)
        return cls("InternalError", f"internal error: {kind}", "the server's log (stderr) has the traceback", now)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "message": self.message, "hint": self.hint,
                "at": self.at.isoformat(timespec="seconds"), "details": list(self.details)}


@dataclass(frozen=True)
class PlanResult:
    """The plan as ``plan --format json`` gives it (``document``), or why it could not be made, and when."""

    made_at: datetime
    document: dict[str, Any] | None = None
    failure: ReadFailure | None = None
    manifest_warnings: tuple[str, ...] = field(default=())
    seconds: float = 0.0


class DashboardSource:
    """The dashboard's data, kept fresh (see the module docstring). Async methods are for the event loop."""

    def __init__(self, workspace: Workspace, catalog: Catalog, *, max_age: float = DEFAULT_MAX_AGE) -> None:
        self.workspace = workspace
        self.catalog = catalog
        self.max_age = max_age
        opener = lambda: open_backend(workspace, catalog, Access.READ)  # noqa: E731
        self._snapshots = BackendThread("ui-snapshot", opener)
        self._lookups = BackendThread("ui-lookup", opener)
        self._planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ui-plan")
        self._dataset: Dataset | None = None
        self._read_at = 0.0  # monotonic time of the last read (good or failed)
        self._reading: Future[Dataset] | None = None
        self.failure: ReadFailure | None = None  # the last re-read failed (cleared by a good one)
        self.plan_result: PlanResult | None = None
        self._planning: Future[PlanResult] | None = None

    @property
    def current(self) -> Dataset | None:
        """The data in hand, as it is (None before :meth:`load`)."""
        return self._dataset

    # -- snapshots ----------------------------------------------------------------------------------------
    def _read(self, backend: Backend) -> Dataset:
        with paused_gc():  # ~200,000 long-lived objects and no cycles: see paused_gc
            snapshot = backend.snapshot()
            managed = read_managed(self.workspace)
            return Dataset(snapshot, managed, snapshot.taken_at or datetime.now(UTC))

    def load(self) -> Dataset:
        """The first read, before the server listens: its errors are the command's errors."""
        dataset = self._snapshots.submit(self._read).result()
        self._dataset, self._read_at = dataset, time.monotonic()
        return dataset

    def _start_read(self) -> Future[Dataset]:
        if self._reading is None or self._reading.done():
            self._reading = self._snapshots.submit(self._read)
            self._reading.add_done_callback(self._read_done)
        return self._reading

    def _read_done(self, future: Future[Dataset]) -> None:
        # On the snapshot thread: plain assignments only (the event loop reads them).
        self._read_at = time.monotonic()
        exc = future.exception()
        if exc is None:
            self._dataset, self.failure = future.result(), None
        else:
            self.failure = ReadFailure.of(exc)

    async def dataset(self, *, refresh: bool = False) -> Dataset:
        """The data in hand; ``refresh`` re-reads first. A stale one starts a re-read in the background."""
        if refresh:
            reading = self._start_read()
            try:
                await asyncio.wrap_future(reading)
            except Exception:  # noqa: BLE001 - recorded in self.failure by _read_done, shown on the page
                pass
        elif self.max_age > 0 and time.monotonic() - self._read_at > self.max_age:
            self._start_read()
        assert self._dataset is not None, "load() runs before the server starts"
        return self._dataset

    # -- per-authorization lookups --------------------------------------------------------------------------
    async def requests(self, auth_id: str) -> dict[str, Any] | None:
        """``show --format json``'s ``requests`` for one authorization (None: the platform reports none)."""
        def lookup(backend: Backend) -> dict[str, Any] | None:
            usage = backend.request_counts(auth_id)
            return requests_json(usage, datetime.now(UTC)) if usage else None

        return await asyncio.wrap_future(self._lookups.submit(lookup))

    # -- the plan -------------------------------------------------------------------------------------------
    def _make_plan(self) -> PlanResult:
        from reconciler.diagnostic_report import report_lines
        from reconciler.plan_codec import plan_to_dict
        from reconciler.session import open_session

        started = time.perf_counter()
        made_at = datetime.now(UTC)
        try:
            session = open_session(self.workspace, Access.READ)
            try:
                plan = session.plan()
            finally:
                session.close()
        except Exception as exc:  # noqa: BLE001 - shown on the plan page, as the CLI would print it
            return PlanResult(made_at, failure=ReadFailure.of(exc), seconds=time.perf_counter() - started)
        warnings = tuple(line.text for line in report_lines(session.loaded.warnings))
        return PlanResult(made_at, plan_to_dict(plan), manifest_warnings=warnings,
                          seconds=time.perf_counter() - started)

    async def plan(self, *, refresh: bool = False) -> PlanResult:
        """The plan in hand, made now if there is none (or ``refresh``); concurrent callers share one planning."""
        if self.plan_result is None or refresh:
            if self._planning is None or self._planning.done():
                self._planning = self._planner.submit(self._make_plan)
            planning = self._planning
            if refresh:  # the plan's links point into the snapshot: read it again alongside
                await asyncio.gather(asyncio.wrap_future(planning), self.dataset(refresh=True))
            result = await asyncio.wrap_future(planning)
            self.plan_result = result
        return self.plan_result

    def close(self) -> None:
        self._planner.shutdown(wait=True, cancel_futures=True)
        self._lookups.close()
        self._snapshots.close()


__all__ = ["DEFAULT_MAX_AGE", "BackendThread", "DashboardSource", "PlanResult", "ReadFailure"]
