"""The pure drift comparison (reconciler/drift.py): state's record vs one snapshot, and what the manifests accept.

Each test builds a record as apply writes it (labels, job state, authorization ids) and a
live snapshot differing in one way, then checks the one drift (kind, field, both values)
and that nothing else is reported.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.drift import Drift, DriftContext, DriftKind, DriftReport, compute_drift
from reconciler.live import LiveAuthorization, LiveExperience, LiveJob, Snapshot
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState, SourceLocation
from reconciler.state.records import ManagedIndex, ManagedObject
from reconciler.vocabulary import JobStatus, ObjectKind

AUTH, JOB, DEPOSED = ObjectKind.AUTHORIZATION, ObjectKind.JOB, ObjectKind.DEPOSED_AUTHORIZATION
WHEN = datetime(2025, 3, 1, tzinfo=UTC)
CONTEXT = DriftContext(environment="prod", backend="local", state_serial=3, state_lineage="lineage-1")
HERE = SourceLocation("main.yaml", 1)


def auth_record(name: str, live_id: str, label: str, description: str = "") -> ManagedObject:
    applied = {"provider": "pinterest", "method": "capi_token", "label": label, "description": description,
               "config": {"account_id": "1"}, "credentials": {"token": "{env: TOKEN}"}}
    return ManagedObject(AUTH, name, live_id, {"credentials.token": "fp"}, WHEN, applied)


def job_record(name: str, live_id: str, auths: list[str], auth_ids: list[str] | None, state: str = "running",
               **extra: object) -> ManagedObject:
    applied: dict[str, object] = {"workflow": "pinterest-capi-export", "authorizations": auths, "state": state,
                                  **extra}
    if auth_ids is not None:
        applied["auth_ids"] = auth_ids
    return ManagedObject(JOB, name, live_id, {}, WHEN, applied)


def live_auth(live_id: str, label: str, description: str = "") -> LiveAuthorization:
    return LiveAuthorization(live_id, "pinterest", "capi_token", "pinterest_capi", label, description)


def live_job(live_id: str, name: str, auth_ids: tuple[str, ...], status: JobStatus = JobStatus.RUNNABLE) -> LiveJob:
    return LiveJob(live_id, name, "pinterest-capi-export", status, auth_ids)


def index(*objs: ManagedObject) -> ManagedIndex:
    return {(o.kind, o.name): o for o in objs}


def snapshot(auths: list[LiveAuthorization], jobs: list[LiveJob] = (),  # type: ignore[assignment]
             experiences: list[LiveExperience] = ()) -> Snapshot:  # type: ignore[assignment]
    return Snapshot({a.id: a for a in auths}, {j.id: j for j in jobs}, {e.id: e for e in experiences})


def desired(auths: dict[str, str], jobs: dict[str, tuple[list[str], str]]) -> DesiredState:
    """Manifests: authorization name -> label; job name -> (authorization names, state)."""
    return DesiredState(
        {n: DesiredAuthorization(n, "pinterest", "capi_token", label, "", {"account_id": "1"}, {}, HERE)
         for n, label in auths.items()},
        {n: DesiredJob(n, "pinterest-capi-export", tuple(a), state, "", {}, HERE)  # type: ignore[arg-type]
         for n, (a, state) in jobs.items()},
        ("main.yaml",), "00" * 32, "prod")


# The world as the last apply left it: two authorizations, one job on each.
RECORDS = index(auth_record("a", "A1", "Alpha"), auth_record("b", "B1", "Beta", "sync"),
                job_record("ja", "J1", ["a"], ["A1"]), job_record("jb", "J2", ["b"], ["B1"], state="paused"))
LIVE_AUTHS = [live_auth("A1", "Alpha"), live_auth("B1", "Beta", "sync")]
LIVE_JOBS = [live_job("J1", "ja", ("A1",)), live_job("J2", "jb", ("B1",), JobStatus.PAUSED)]
MANIFESTS = desired({"a": "Alpha", "b": "Beta"}, {"ja": (["a"], "running"), "jb": (["b"], "paused")})


def only(report: DriftReport) -> Drift:
    assert len(report.drifts) == 1, report.drifts
    return report.drifts[0]


def jobs_with(job_id: str, **changes: object) -> list[LiveJob]:
    return [replace(j, **changes) if j.id == job_id else j for j in LIVE_JOBS]  # type: ignore[arg-type]


def test_the_world_as_applied_has_no_drift_and_counts_what_it_checked() -> None:
    report = compute_drift(RECORDS, snapshot(LIVE_AUTHS, LIVE_JOBS), CONTEXT, MANIFESTS)
    assert report.drifts == () and report.accepted == () and not report.has_drift
    assert (report.checked_authorizations, report.checked_jobs) == (2, 2)
    assert set(report.counts().values()) == {0} and set(report.counts()) == {k.value for k in DriftKind}


def test_an_authorization_deleted_outside_authctl() -> None:
    drift = only(compute_drift(RECORDS, snapshot(LIVE_AUTHS[1:], LIVE_JOBS), CONTEXT))
    assert (drift.kind, drift.address, drift.id, drift.field, drift.live) == (
        DriftKind.AUTHORIZATION_DELETED, "Authorization/a", "A1", None, None)
    assert drift.recorded == {"label": "Alpha", "provider": "pinterest", "method": "capi_token"}
    assert drift.related == ()


def test_a_deleted_authorization_made_again_by_hand_is_named_but_not_adopted() -> None:
    """An unmanaged authorization with the recorded label is a candidate for `authctl import`, never assumed."""
    remade = live_auth("A2", "ALPHA")  # labels are unique case-insensitively
    drift = only(compute_drift(RECORDS, snapshot([*LIVE_AUTHS[1:], remade], LIVE_JOBS), CONTEXT))
    assert drift.kind is DriftKind.AUTHORIZATION_DELETED
    assert [(r.kind, r.id, r.name, r.address) for r in drift.related] == [("authorization", "A2", "ALPHA", None)]


@pytest.mark.parametrize(("field", "live"), [("label", live_auth("A1", "Alpha (edited in the UI)")),
                                             ("description", live_auth("A1", "Alpha", "typed in the UI"))])
def test_a_label_or_description_edited_outside_authctl(field: str, live: LiveAuthorization) -> None:
    drift = only(compute_drift(RECORDS, snapshot([live, LIVE_AUTHS[1]], LIVE_JOBS), CONTEXT, MANIFESTS))
    assert (drift.kind, drift.address, drift.field) == (DriftKind.AUTHORIZATION_EDITED, "Authorization/a", field)
    assert (drift.recorded, drift.live) == ({"label": "Alpha", "description": ""}[field], getattr(live, field))


def test_a_job_deleted_outside_authctl_gone_or_marked_deleted() -> None:
    for jobs in (LIVE_JOBS[1:], jobs_with("J1", status=JobStatus.DELETED)):
        drift = only(compute_drift(RECORDS, snapshot(LIVE_AUTHS, jobs), CONTEXT))
        assert (drift.kind, drift.address, drift.id) == (DriftKind.JOB_DELETED, "Job/ja", "J1")
        assert drift.recorded == {"workflow": "pinterest-capi-export", "state": "running"}


@pytest.mark.parametrize(("job_id", "status", "recorded"), [
    ("J1", JobStatus.PAUSED, "running"),  # paused in the UI
    ("J1", JobStatus.PAUSING, "running"),
    ("J1", JobStatus.FAILED, "running"),  # stopped by the platform
    ("J2", JobStatus.RUNNABLE, "paused"),  # resumed in the UI
    ("J2", JobStatus.KILLED, "paused"),
])
def test_a_job_state_changed_outside_authctl(job_id: str, status: JobStatus, recorded: str) -> None:
    drift = only(compute_drift(RECORDS, snapshot(LIVE_AUTHS, jobs_with(job_id, status=status)), CONTEXT))
    assert (drift.kind, drift.field, drift.recorded, drift.live) == (
        DriftKind.JOB_STATE_CHANGED, "state", recorded, status.display)


@pytest.mark.parametrize("status", [JobStatus.SLEEPING, JobStatus.INITIALIZING, JobStatus.RESUMING])
def test_a_running_job_between_runs_is_still_running(status: JobStatus) -> None:
    assert not compute_drift(RECORDS, snapshot(LIVE_AUTHS, jobs_with("J1", status=status)), CONTEXT).has_drift


def test_a_job_moved_to_another_authorization_names_both_sides() -> None:
    other = live_auth("X9", "Someone else's")
    drift = only(compute_drift(RECORDS, snapshot([*LIVE_AUTHS, other], jobs_with("J1", auth_ids=("X9",))), CONTEXT))
    assert (drift.kind, drift.address, drift.field, drift.recorded, drift.live) == (
        DriftKind.JOB_REBOUND, "Job/ja", "authorizations", ["A1"], ["X9"])
    assert [(r.id, r.name, r.address) for r in drift.related] == [
        ("A1", "Alpha", "Authorization/a"), ("X9", "Someone else's", None)]


def test_a_record_without_authorization_ids_falls_back_to_the_names_state_knows() -> None:
    """Records written before apply kept ``auth_ids`` still show a rebind made by hand."""
    records = {**RECORDS, (JOB, "ja"): job_record("ja", "J1", ["a"], None)}
    assert not compute_drift(records, snapshot(LIVE_AUTHS, LIVE_JOBS), CONTEXT).has_drift
    drift = only(compute_drift(records, snapshot(LIVE_AUTHS, jobs_with("J1", auth_ids=("B1",))), CONTEXT))
    assert (drift.kind, drift.recorded, drift.live) == (DriftKind.JOB_REBOUND, ["A1"], ["B1"])


def test_a_job_still_on_the_deposed_half_of_a_replace_is_not_drift() -> None:
    """State moved ``a`` to its successor A2; the job still on A1 is what the unfinished replace owes."""
    records = {**RECORDS, (AUTH, "a"): auth_record("a", "A2", "Alpha (replacing A1)"),
               (DEPOSED, "A1"): ManagedObject(DEPOSED, "A1", "A1", {}, WHEN, {"replaced_by": "a"}),
               (JOB, "ja"): job_record("ja", "J1", ["a"], None)}
    live = snapshot([*LIVE_AUTHS, live_auth("A2", "Alpha (replacing A1)")], LIVE_JOBS)
    report = compute_drift(records, live, CONTEXT)
    assert report.drifts == ()
    assert report.checked_authorizations == 2  # the deposed one is not checked
    moved_elsewhere = compute_drift(records, snapshot([*LIVE_AUTHS, live_auth("A2", "Alpha (replacing A1)")],
                                                      jobs_with("J1", auth_ids=("B1",))), CONTEXT)
    assert [(d.kind, d.recorded, d.live) for d in moved_elsewhere.drifts] == [
        (DriftKind.JOB_REBOUND, ["A2"], ["B1"])]


def test_a_job_renamed_outside_authctl_unless_it_was_imported_under_another_name() -> None:
    drift = only(compute_drift(RECORDS, snapshot(LIVE_AUTHS, jobs_with("J1", name="renamed")), CONTEXT))
    assert (drift.kind, drift.field, drift.recorded, drift.live) == (DriftKind.JOB_EDITED, "name", "ja", "renamed")
    imported = {**RECORDS, (JOB, "ja"): ManagedObject(JOB, "ja", "J1", {}, WHEN,
                                                      {"workflow": "pinterest-capi-export", "imported": True})}
    assert not compute_drift(imported, snapshot(LIVE_AUTHS, jobs_with("J1", name="legacy", status=JobStatus.PAUSED)),
                             CONTEXT).has_drift  # an import records no state: only what is recorded is compared


def test_an_imported_job_paused_or_moved_by_hand_is_drift() -> None:
    """What import records of a job (reconciler/export/matching.py) is enough for the job checks."""
    from reconciler.export.matching import imported_record

    record = imported_record(JOB, "ja", live_job("J1", "ja", ("A1",)), WHEN)
    records = {**RECORDS, (JOB, "ja"): record}
    assert not compute_drift(records, snapshot(LIVE_AUTHS, LIVE_JOBS), CONTEXT).has_drift
    paused = only(compute_drift(records, snapshot(LIVE_AUTHS, jobs_with("J1", status=JobStatus.PAUSED)), CONTEXT))
    assert (paused.kind, paused.recorded) == (DriftKind.JOB_STATE_CHANGED, "running")
    moved = only(compute_drift(records, snapshot(LIVE_AUTHS, jobs_with("J1", auth_ids=("B1",))), CONTEXT))
    assert (moved.kind, moved.recorded, moved.live) == (DriftKind.JOB_REBOUND, ["A1"], ["B1"])


def test_an_active_unmanaged_job_on_a_managed_authorization() -> None:
    manual = live_job("M1", "started in the UI", ("A1", "U1", "B1"))
    report = compute_drift(RECORDS, snapshot([*LIVE_AUTHS, live_auth("U1", "unmanaged")], [*LIVE_JOBS, manual]),
                           CONTEXT)
    assert [(d.kind, d.address, d.id, d.live) for d in report.drifts] == [
        (DriftKind.UNMANAGED_JOB, "Authorization/a", "A1", "M1"),
        (DriftKind.UNMANAGED_JOB, "Authorization/b", "B1", "M1")]
    assert [(r.kind, r.id, r.name, r.status) for r in report.drifts[0].related] == [
        ("job", "M1", "started in the UI", "running")]


def test_unmanaged_objects_that_cannot_matter_are_not_drift() -> None:
    """A stopped unmanaged job, one on an unmanaged authorization, and experiences (authctl cannot manage them)."""
    jobs = [*LIVE_JOBS, live_job("M1", "done", ("A1",), JobStatus.COMPLETED),
            live_job("M2", "elsewhere", ("U1",)), live_job("M3", "gone", ("A1",), JobStatus.DELETED)]
    live = snapshot([*LIVE_AUTHS, live_auth("U1", "unmanaged")], jobs, [LiveExperience("E1", "exp", ("A1",))])
    assert not compute_drift(RECORDS, live, CONTEXT).has_drift


def test_differences_the_manifests_already_ask_for_are_accepted_not_drift() -> None:
    """Edited by hand, then the manifest changed to match: the next plan is a no-op, so it is not drift."""
    live = snapshot([live_auth("A1", "Alpha v2"), live_auth("B1", "Beta", "sync"), live_auth("X9", "X")],
                    [live_job("J1", "ja", ("B1",), JobStatus.PAUSED), LIVE_JOBS[1]])
    records = {**RECORDS, (AUTH, "x"): auth_record("x", "X9", "X")}
    manifests = desired({"a": "Alpha v2", "b": "Beta", "x": "X"}, {"ja": (["b"], "paused"), "jb": (["b"], "paused")})
    report = compute_drift(records, live, CONTEXT, manifests)
    assert report.drifts == ()
    assert sorted(d.kind.value for d in report.accepted) == [
        "authorization_edited", "job_rebound", "job_state_changed"]
    # Without the manifests the same differences are drift.
    assert len(compute_drift(records, live, CONTEXT).drifts) == 3


def test_what_the_manifests_dropped_and_the_platform_lost_is_accepted() -> None:
    gone = snapshot(LIVE_AUTHS[1:], LIVE_JOBS[1:])
    manifests = desired({"b": "Beta"}, {"jb": (["b"], "paused")})
    report = compute_drift(RECORDS, gone, CONTEXT, manifests)
    assert report.drifts == ()
    assert [d.kind for d in report.accepted] == [DriftKind.AUTHORIZATION_DELETED, DriftKind.JOB_DELETED]


def test_a_manifest_that_still_differs_keeps_the_drift() -> None:
    """The manifest asks for yet another label: the UI edit is drift (and the plan an update)."""
    live = snapshot([live_auth("A1", "UI label"), LIVE_AUTHS[1]], LIVE_JOBS)
    manifests = desired({"a": "Manifest label", "b": "Beta"}, {"ja": (["a"], "running"), "jb": (["b"], "paused")})
    report = compute_drift(RECORDS, live, CONTEXT, manifests)
    assert [(d.kind, d.recorded, d.live) for d in report.drifts] == [
        (DriftKind.AUTHORIZATION_EDITED, "Alpha", "UI label")]


def test_the_report_is_ordered_by_address_then_kind_whatever_the_input_order() -> None:
    live = snapshot([live_auth("A1", "edited")], [live_job("J1", "ja", ("A1",), JobStatus.PAUSED)])
    forward = compute_drift(RECORDS, live, CONTEXT)
    backward = compute_drift(dict(reversed(list(RECORDS.items()))), live, CONTEXT)
    assert forward.drifts == backward.drifts
    assert [(d.address, d.kind.value) for d in forward.drifts] == [
        ("Authorization/a", "authorization_edited"), ("Authorization/b", "authorization_deleted"),
        ("Job/ja", "job_state_changed"), ("Job/jb", "job_deleted")]


def test_an_empty_state_has_nothing_to_compare() -> None:
    report = compute_drift({}, snapshot(LIVE_AUTHS, [live_job("M1", "manual", ("A1",))]), CONTEXT)
    assert not report.has_drift and (report.checked_authorizations, report.checked_jobs) == (0, 0)
