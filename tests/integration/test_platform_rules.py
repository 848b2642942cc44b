"""The embedded platform enforces DESIGN.md section 1 by itself, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from reconciler.backends.local import open_local_platform
from reconciler.catalog import load_catalog
from reconciler.errors import ConflictError, NotFoundError, ReferencedError
from reconciler.platform import Platform, open_platform
from reconciler.vocabulary import Access, JobStatus
from reconciler.workspace import load_workspace

ACTIVE = ("runnable", "sleeping", "paused", "initializing", "pausing", "resuming")
INACTIVE = ("completed", "failed", "killed", "deleted")


def _auth(platform: Platform, label: str = "Facebook Ads (prod)", **extra: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"provider": "facebook", "method": "system_user", "type": "facebook",
                                 "config": {"ads_account_id": "act_1"}, "credentials": {"access_token": "t0"}}
    values.update(extra)
    return platform.create_authorization(label=label, **values)  # type: ignore[arg-type]


def test_active_statuses_match_the_design() -> None:
    assert {s for s in JobStatus if s.is_active} == set(ACTIVE)
    assert set(ACTIVE) | set(INACTIVE) <= set(JobStatus)


# -- immutability ---------------------------------------------------------------------------------
def test_label_and_description_are_editable_in_place(platform: Platform) -> None:
    auth = _auth(platform, description="old")
    updated = platform.update_authorization(auth.id, label="Facebook Ads (main)", description="new")
    assert (updated.id, updated.label, updated.description) == (auth.id, "Facebook Ads (main)", "new")
    again = platform.get_authorization(auth.id)
    assert (again.label, again.description) == ("Facebook Ads (main)", "new")
    assert (again.provider, again.method, again.created) == (auth.provider, auth.method, auth.created)
    assert platform.stored_secrets(auth.id) == {"config": {"ads_account_id": "act_1"},
                                                "credentials": {"access_token": "t0"}}


@pytest.mark.parametrize("changes", [
    {"provider": "google_ads"},
    {"method": "user_oauth"},
    {"config": {"ads_account_id": "act_2"}},
    {"credentials": {"access_token": "t1"}},
    {"type": "other"},
    {"owner": "mallory"},
    {"label": "fine", "method": "api_key", "config": {}},
])
def test_other_fields_are_immutable(platform: Platform, changes: dict[str, object]) -> None:
    auth = _auth(platform)
    with pytest.raises(ConflictError) as caught:
        platform.update_authorization(auth.id, **changes)
    refused = sorted(k for k in changes if k not in ("label", "description"))
    message = str(caught.value)
    assert f"cannot edit {', '.join(refused)} of authorization {auth.id}" in message
    assert "only label and description" in message
    assert "t1" not in message and "act_2" not in message  # values never echoed
    after = platform.get_authorization(auth.id)
    assert after == auth  # nothing changed, not even the label of a mixed request
    assert platform.stored_secrets(auth.id)["credentials"] == {"access_token": "t0"}


def test_update_of_unknown_authorization_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFoundError, match="no authorization with id 'nope'"):
        platform.update_authorization("nope", label="x")


# -- unique labels --------------------------------------------------------------------------------
def test_labels_are_unique_case_insensitively_on_create(platform: Platform) -> None:
    first = _auth(platform, "Facebook Ads (prod)")
    for clash in ("Facebook Ads (prod)", "FACEBOOK ADS (PROD)", "facebook ads (prod)"):
        with pytest.raises(ConflictError) as caught:
            _auth(platform, clash, provider="google_ads", method="oauth_user")
        assert first.id in str(caught.value) and "labels must be unique" in str(caught.value)
    assert [a.id for a in platform.list_authorizations()] == [first.id]


def test_labels_are_unique_case_insensitively_on_rename(platform: Platform) -> None:
    a = _auth(platform, "Alpha")
    b = _auth(platform, "Beta")
    with pytest.raises(ConflictError, match="already used by authorization " + a.id):
        platform.update_authorization(b.id, label="ALPHA")
    assert platform.get_authorization(b.id).label == "Beta"
    # Changing only the case of one's own label is fine, and frees nothing else.
    assert platform.update_authorization(a.id, label="ALPHA").label == "ALPHA"
    assert platform.find_authorization("alpha").id == a.id
    with pytest.raises(ConflictError):
        _auth(platform, "alpha")
    # A renamed-away label becomes free again.
    platform.update_authorization(a.id, label="Gamma")
    assert _auth(platform, "alpha").label == "alpha"


def test_empty_label_is_refused(platform: Platform) -> None:
    with pytest.raises(ConflictError, match="non-empty label"):
        _auth(platform, "   ")
    a = _auth(platform, "ok")
    with pytest.raises(ConflictError, match="non-empty label"):
        platform.update_authorization(a.id, label="")


# -- guarded delete -------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ACTIVE)
def test_delete_is_refused_while_an_active_job_uses_it(platform: Platform, status: str) -> None:
    auth = _auth(platform)
    other = _auth(platform, "Other")
    job = platform.create_job(name=f"audiences-{status}", workflow="facebook-audience-populate",
                              auth_ids=[other.id, auth.id], status=status)
    with pytest.raises(ReferencedError) as caught:
        platform.delete_authorization(auth.id)
    message = str(caught.value)
    assert f"authorization {auth.id} is in use and was not deleted" in message
    assert f"job audiences-{status} ({job.id}, {status})" in message
    assert [r.id for r in caught.value.references] == [job.id]
    # Nothing changed: the authorization, the job and its binding are intact.
    assert platform.get_authorization(auth.id) == auth
    after = platform.get_job(job.id)
    assert (after.status, after.auth_ids) == (status, (other.id, auth.id))


def test_delete_is_refused_while_an_experience_uses_it(platform: Platform) -> None:
    auth = _auth(platform)
    exp = platform.create_experience(name="Lookalikes Q3", auth_ids=[auth.id])
    job = platform.create_job(name="sync", workflow="facebook-audience-populate", auth_ids=[auth.id],
                              status="paused")
    done = platform.create_job(name="old-import", workflow="facebook-audience-populate", auth_ids=[auth.id],
                               status="completed")
    with pytest.raises(ReferencedError) as caught:
        platform.delete_authorization(auth.id)
    message = str(caught.value)
    assert f"experience Lookalikes Q3 ({exp.id})" in message
    assert f"job sync ({job.id}, paused)" in message
    assert done.id not in message  # finished jobs do not block and are not listed
    assert {getattr(r, "id") for r in caught.value.references} == {exp.id, job.id}
    assert platform.get_authorization(auth.id).id == auth.id


def test_delete_is_refused_for_experience_alone_and_allowed_once_it_is_gone(platform: Platform) -> None:
    auth = _auth(platform)
    exp = platform.create_experience(name="Seed audience", auth_ids=[auth.id])
    with pytest.raises(ReferencedError, match="experience Seed audience"):
        platform.delete_authorization(auth.id)
    platform.delete_experience(exp.id)
    platform.delete_authorization(auth.id)
    with pytest.raises(NotFoundError):
        platform.get_authorization(auth.id)


def test_delete_is_allowed_when_only_finished_jobs_use_it(platform: Platform) -> None:
    auth = _auth(platform)
    keep = _auth(platform, "Keep")
    jobs = [platform.create_job(name=f"j-{s}", workflow="facebook-audience-populate",
                                auth_ids=[auth.id, keep.id], status=s) for s in INACTIVE]
    assert platform.delete_authorization(auth.id) == []
    with pytest.raises(NotFoundError):
        platform.get_authorization(auth.id)
    for job, status in zip(jobs, INACTIVE, strict=True):
        after = platform.get_job(job.id)
        assert after.status == status  # guarded mode never touches the jobs
        assert after.auth_ids == (keep.id,)  # but the dangling link is gone


def test_job_status_changes_flip_the_guard(platform: Platform) -> None:
    auth = _auth(platform)
    job = platform.create_job(name="j", workflow="facebook-audience-populate", auth_ids=[auth.id])
    assert job.status == "runnable"
    platform.pause_job(job.id)
    with pytest.raises(ReferencedError, match=r"\(.*, paused\)"):
        platform.delete_authorization(auth.id)
    platform.resume_job(job.id)
    with pytest.raises(ReferencedError, match=r"runnable"):
        platform.delete_authorization(auth.id)
    assert platform.delete_job(job.id).status == "deleted"
    assert platform.references(auth.id) == ([], [])
    platform.delete_authorization(auth.id)


def test_delete_of_unknown_authorization_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFoundError):
        platform.delete_authorization("0" * 32)


# -- cascade mode (Lytics behaviour) --------------------------------------------------------------
def test_cascade_mode_stops_jobs_and_unlinks(platform_url: str) -> None:
    cascade = open_platform(platform_url, mode="cascade")
    try:
        auth = _auth(cascade)
        keep = _auth(cascade, "Keep")
        active = {s: cascade.create_job(name=f"j-{s}", workflow="facebook-audience-populate",
                                        auth_ids=[auth.id, keep.id], status=s) for s in ACTIVE}
        finished = cascade.create_job(name="done", workflow="facebook-audience-populate", auth_ids=[auth.id],
                                      status="completed")
        exp = cascade.create_experience(name="Exp", auth_ids=[auth.id, keep.id])
        stopped = cascade.delete_authorization(auth.id)
        assert sorted(j.id for j in stopped) == sorted(j.id for j in active.values())
        with pytest.raises(NotFoundError):
            cascade.get_authorization(auth.id)
        for job in active.values():
            after = cascade.get_job(job.id)
            assert after.status == "killed"
            assert after.auth_ids == (keep.id,)
        assert cascade.get_job(finished.id).status == "completed"
        assert cascade.get_job(finished.id).auth_ids == ()
        snap = cascade.snapshot()
        assert [e.auth_ids for e in snap.experiences if e.id == exp.id] == [(keep.id,)]
        assert all(auth.id not in j.auth_ids for j in snap.jobs)
    finally:
        cascade.close()


def test_mode_can_be_chosen_per_call(platform: Platform) -> None:
    auth = _auth(platform)
    job = platform.create_job(name="j", workflow="w", auth_ids=[auth.id])
    with pytest.raises(ReferencedError):
        platform.delete_authorization(auth.id)
    assert [j.id for j in platform.delete_authorization(auth.id, mode="cascade")] == [job.id]
    assert platform.get_job(job.id).status == "killed"


# -- workflow / method binding ---------------------------------------------------------------------
def test_workflow_rule_refuses_unsupported_method(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text("", encoding="utf-8")
    platform = open_local_platform(load_workspace(root), load_catalog(), Access.WRITE)
    try:
        pubsub = platform.create_authorization(provider="google_cloud", method="pubsub_service_account",
                                               type="pubsub-jwt", label="PubSub", credentials={"cert_json": "{}"})
        gcs = platform.create_authorization(provider="google_cloud", method="gcs_service_account",
                                            type="gcs-jwt", label="GCS", credentials={"cert_json": "{}"})
        with pytest.raises(ConflictError) as caught:
            platform.create_job(name="events", workflow="pubsub-ingress", auth_ids=[gcs.id])
        assert "pubsub-ingress" in str(caught.value) and "google_cloud/gcs_service_account" in str(caught.value)
        assert platform.snapshot().jobs == []
        job = platform.create_job(name="events", workflow="pubsub-ingress", auth_ids=[pubsub.id])
        # Rebinding onto an unsupported method is refused too, and leaves the job as it was.
        with pytest.raises(ConflictError, match="gcs_service_account"):
            platform.update_job(job.id, auth_ids=[gcs.id])
        assert platform.get_job(job.id).auth_ids == (pubsub.id,)
        # A workflow the catalog does not know is not judged.
        assert platform.create_job(name="x", workflow="not-in-catalog", auth_ids=[gcs.id]).auth_ids == (gcs.id,)
    finally:
        platform.close()


def test_workflow_rule_passed_directly(platform_url: str) -> None:
    calls: list[tuple[str, str, str]] = []

    def rule(provider: str, method: str, workflow: str) -> bool | None:
        calls.append((provider, method, workflow))
        return {"good": True, "bad": False}.get(workflow)

    p = open_platform(platform_url, workflow_rule=rule)
    try:
        a = _auth(p)
        p.create_job(name="ok", workflow="good", auth_ids=[a.id])
        p.create_job(name="unknown", workflow="whatever", auth_ids=[a.id])
        with pytest.raises(ConflictError, match="workflow bad does not work with facebook/system_user"):
            p.create_job(name="no", workflow="bad", auth_ids=[a.id])
        assert calls == [("facebook", "system_user", w) for w in ("good", "whatever", "bad")]
    finally:
        p.close()


def test_job_needs_existing_authorizations(platform: Platform) -> None:
    with pytest.raises(ConflictError, match="at least one authorization"):
        platform.create_job(name="j", workflow="w", auth_ids=[])
    with pytest.raises(NotFoundError, match="missing"):
        platform.create_job(name="j", workflow="w", auth_ids=["missing"])
    with pytest.raises(ConflictError, match=r"unknown job status 'sprinting' \(statuses: runnable, sleeping"):
        platform.create_job(name="j", workflow="w", auth_ids=[_auth(platform).id], status="sprinting")
    assert platform.snapshot(include_deleted=True).jobs == []


def test_job_statuses_are_the_vocabulary(platform: Platform) -> None:
    auth = _auth(platform)
    # "running" is what people (and the CLI) say for the API's "runnable".
    job = platform.create_job(name="j", workflow="w", auth_ids=[auth.id], status="running")
    assert job.status is JobStatus.RUNNABLE and job.active
    assert platform.set_job_status(job.id, "sleeping").status is JobStatus.SLEEPING
    with pytest.raises(ConflictError, match="unknown job status 'asleep'"):
        platform.set_job_status(job.id, "asleep")
    assert platform.pause_job(job.id).status is JobStatus.PAUSED
    assert platform.get_job(job.id).status is JobStatus.PAUSED
    assert [j.status for j in platform.snapshot().jobs] == [JobStatus.PAUSED]
    assert platform.delete_job(job.id).status is JobStatus.DELETED and not platform.get_job(job.id).active


# -- reauthorization --------------------------------------------------------------------------------
def test_reauthorize_keeps_id_and_jobs_and_sets_healthy(platform: Platform) -> None:
    auth = _auth(platform, provider="facebook", method="user_oauth", type=None)
    job = platform.create_job(name="sync", workflow="facebook-audience-populate", auth_ids=[auth.id])
    platform.set_health(auth.id, "unhealthy", "password changed")
    assert platform.get_authorization(auth.id).health == "unhealthy"
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    again = platform.reauthorize(auth.id, credentials={"access_token": "fresh"}, token_expires_at=expires,
                                 scopes=("ads_management", "ads_read"))
    assert again.id == auth.id
    stored = platform.get_authorization(auth.id)
    assert (stored.health, stored.health_reason) == ("healthy", "")
    assert stored.health_checked_at is not None
    assert stored.token_expires_at == expires
    assert stored.scopes == ("ads_management", "ads_read")
    assert stored.label == auth.label and stored.created == auth.created
    assert platform.stored_secrets(auth.id) == {"config": {"ads_account_id": "act_1"},
                                                "credentials": {"access_token": "fresh"}}
    assert platform.get_job(job.id).auth_ids == (auth.id,)
    assert platform.get_job(job.id).status == "runnable"


def test_datetimes_round_trip_as_utc_whatever_zone_they_came_in(platform: Platform) -> None:
    plus_two = timezone(timedelta(hours=2))
    expires = datetime(2031, 5, 6, 12, 0, tzinfo=plus_two)
    auth = _auth(platform, token_expires_at=expires)
    stored = platform.get_authorization(auth.id).token_expires_at
    assert stored == expires
    assert stored is not None and stored.utcoffset() == timedelta(0)
    platform.reauthorize(auth.id, credentials={}, token_expires_at=expires)
    assert platform.get_authorization(auth.id).token_expires_at == expires


# -- health and request counters --------------------------------------------------------------------
def test_set_health_validates_and_records(platform: Platform) -> None:
    auth = _auth(platform)
    assert auth.health == "unknown"
    with pytest.raises(ConflictError, match="health must be one of"):
        platform.set_health(auth.id, "great")
    record = platform.set_health(auth.id, "unhealthy", "token revoked")
    assert (record.health, record.health_reason) == ("unhealthy", "token revoked")
    stored = platform.get_authorization(auth.id)
    assert (stored.health, stored.health_reason) == ("unhealthy", "token revoked")
    assert stored.health_checked_at is not None


def test_request_counters_by_window(platform: Platform) -> None:
    auth = _auth(platform)
    other = _auth(platform, "Other")
    now = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
    for delta, count in ((timedelta(minutes=30), 1), (timedelta(minutes=45), 1), (timedelta(hours=5), 2),
                         (timedelta(days=3), 4), (timedelta(days=20), 8), (timedelta(days=45), 16)):
        platform.record_request(auth.id, count, at=now - delta)
    platform.record_request(other.id, 100, at=now - timedelta(minutes=10))
    platform.record_request(auth.id, 1000, at=now + timedelta(hours=2))  # after "now": in no window
    counts = platform.request_counts(auth.id, now=now)
    assert (counts.hour, counts.day, counts.week, counts.month) == (2, 4, 8, 16)
    assert platform.request_counts(other.id, now=now).hour == 100
    # The same hour bucket accumulates; a non-UTC "now" means the same instant.
    platform.record_request(auth.id, 5, at=now - timedelta(minutes=5))
    in_plus_two = now.astimezone(timezone(timedelta(hours=2)))
    assert platform.request_counts(auth.id, now=in_plus_two).hour == 7
    # Counting with the real clock: recent requests are in every window.
    fresh = _auth(platform, "Fresh")
    platform.record_request(fresh.id, 3, at=datetime.now(UTC) - timedelta(minutes=1))
    platform.record_request(fresh.id, at=datetime.now(UTC) - timedelta(days=10))
    real = platform.request_counts(fresh.id)
    assert (real.hour, real.day, real.week, real.month) == (3, 3, 3, 4)
    # Deleting an authorization drops its counters.
    platform.delete_authorization(fresh.id)
    assert platform.request_counts(fresh.id).month == 0


def test_find_authorization_by_id_or_label(platform: Platform) -> None:
    auth = _auth(platform, "Google Ads EU")
    assert platform.find_authorization(auth.id).id == auth.id
    assert platform.find_authorization("google ads eu").id == auth.id
    with pytest.raises(NotFoundError, match="no authorization with id or label 'nothing'"):
        platform.find_authorization("nothing")
