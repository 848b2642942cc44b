"""The window between apply's last reference check and the delete call (issue 10, item 3).

A job started in that window is the one thing the guard cannot see. These tests start one
exactly there (the backend's delete first makes the job, as a person in the UI could, then
deletes) and check what the issue asks: in ``guarded`` mode the platform's refusal is a
BLOCKED delete (exit 3), not a failure; in ``cascade`` mode (Lytics) the job the platform
stopped is reported by id (exit 3). And the journal intent comes before the re-check, so
that nothing but the delete call follows it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apply_support import AUTH, auth_doc, documents, job_doc, open_state_of, read_world, settings
from reconciler.apply import ApplyOptions, ApplyReport, ResultCode, execute, prepare
from reconciler.errors import ExitCode
from reconciler.session import open_session
from reconciler.vocabulary import Access, JournalOp, JournalPhase
from reconciler.workspace import load_workspace

ENV = {"DW_KEEP": "keep-token", "DW_GONE": "gone-token"}


@pytest.fixture(autouse=True)
def _tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def _workspace(make_workspace, run_cli, mode: str) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    docs = [auth_doc("keep", "Staying", "DW_KEEP"), auth_doc("gone", "Going", "DW_GONE"), job_doc("old-job", "gone")]
    root = make_workspace({"main.yaml": documents(*docs)}, settings=settings(f"window-{mode}", mode))
    done = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    gone = read_world(root).managed_ids(AUTH)["gone"]
    (root / "main.yaml").write_text(documents(auth_doc("keep", "Staying", "DW_KEEP")), encoding="utf-8")
    return root, gone


def _apply_with_a_job_started_in_the_window(root: Path, gone: str) -> tuple[ApplyReport, str]:
    """Apply; the delete of ``gone`` first starts a job on it. Checks the intent precedes every re-check."""
    session = open_session(load_workspace(root), Access.WRITE)
    backend = session.backend
    original = backend.delete_authorization
    started: list[str] = []
    order: list[str] = []

    def references(auth_id: str):  # type: ignore[no-untyped-def]
        state = session.state
        entries = state.journal_entries()  # type: ignore[union-attr]
        order.append("intent-before-recheck" if any(
            e.phase is JournalPhase.INTENT and e.action is JournalOp.DELETE and e.detail.get("live_id") == auth_id
            for e in entries) else "recheck-without-intent")
        return type(backend).references(backend, auth_id)

    def delete_after_a_job_starts(auth_id: str) -> list[str]:
        if auth_id == gone:
            started.append(backend.platform.create_job(name="started-in-the-window", workflow="pinterest-capi-export",
                                                       auth_ids=[auth_id], owner="someone").id)
        return original(auth_id)

    backend.references = references  # type: ignore[method-assign]
    backend.delete_authorization = delete_after_a_job_starts  # type: ignore[method-assign]
    try:
        options = ApplyOptions()
        report = execute(prepare(session, options), options)
    finally:
        session.close()
    assert order and set(order) == {"intent-before-recheck"}, order
    return report, started[0]


def test_guarded_platform_refusing_the_delete_is_blocked_not_failed(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, gone = _workspace(make_workspace, run_cli, "guarded")
    report, job = _apply_with_a_job_started_in_the_window(root, gone)

    delete = next(r for r in report.results if r.live_id == gone and r.operation == "delete")
    assert delete.code is ResultCode.BLOCKED, delete
    assert "the platform refused" in delete.message and job in delete.message
    assert report.exit_code() is ExitCode.BLOCKED
    world = read_world(root)
    assert gone in world.auths and world.jobs[job].status == "runnable"
    state = open_state_of(root)
    try:
        assert not state.pending_intents(), "a refused delete must close its intent"
    finally:
        state.close()


def test_cascade_stopping_a_job_started_in_the_window_is_reported_with_its_id(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root, gone = _workspace(make_workspace, run_cli, "cascade")
    report, job = _apply_with_a_job_started_in_the_window(root, gone)

    delete = next(r for r in report.results if r.live_id == gone and r.operation == "delete")
    assert delete.code is ResultCode.DISRUPTED, delete
    assert job in delete.message and "stopped" in delete.message
    assert report.exit_code() is ExitCode.BLOCKED
    world = read_world(root)
    assert gone not in world.auths and world.all_jobs[job].status == "killed"
    state = open_state_of(root)
    try:
        entries = [e for e in state.journal_entries() if e.phase is JournalPhase.DISRUPTED]
        assert entries and entries[0].detail["stopped_jobs"] == [job]
    finally:
        state.close()
