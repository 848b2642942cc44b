"""`authctl status`, `authctl show` and `authctl platform ...` as real subprocesses.

Objects are put on the workspace's embedded platform from the test process (as the
platform's own UI would), then the CLI is run against the same workspace.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from reconciler.backends.local import open_local_platform
from reconciler.vocabulary import Access
from reconciler.catalog import load_catalog
from reconciler.errors import ReferencedError
from reconciler.platform import Platform
from reconciler.platform import schema as t
from reconciler.state.records import ManagedObject
from reconciler.state.store import StateStore
from reconciler.workspace import load_workspace

CANARY = f"CANARY-{uuid.uuid4()}"
NO_KEY: dict[str, str | None] = {"AUTHCTL_PLATFORM_KEY": None, "AUTHCTL_USER": "cli-user"}
JSON_KEYS = {"id", "name", "label", "description", "provider", "method", "health", "health_reason", "owner",
             "created", "updated", "jobs_active", "jobs_total", "managed"}
BASE = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def _platform(root: Path) -> Platform:
    return open_local_platform(load_workspace(root), load_catalog(), Access.WRITE)


def _set_times(platform: Platform, table: Any, object_id: str, **values: datetime) -> None:
    """Back-date an object, as if it had been created/updated at another time."""
    with platform._db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == object_id).values(**values))


class Demo:
    """A workspace whose platform holds four authorizations with distinct dashboard fields."""

    def __init__(self, root: Path) -> None:
        self.root = root
        p = _platform(root)
        try:
            specs = [
                # label,        description, provider,       method,                   owner,   health
                ("Alpha Ads", "zeta sync", "tiktok", "marketing_api_token", "dave", "healthy"),
                ("beta Cloud", "Alpha import", "google_cloud", "pubsub_service_account", "alice", "unhealthy"),
                ("Gamma", "", "facebook", "system_user", "carol", "unknown"),
                ("delta", "middle", "amazon_ads", "oauth_user", "bob", None),
            ]
            self.ids: dict[str, str] = {}
            for label, description, provider, method, owner, health in specs:
                rec = p.create_authorization(provider=provider, method=method, label=label, description=description,
                                             owner=owner, config={"x": CANARY}, credentials={"token": CANARY})
                self.ids[label] = rec.id
                if health:
                    p.set_health(rec.id, health, "key disabled" if health == "unhealthy" else "")
            # created: Gamma < delta < Alpha < beta; updated: delta < beta < Gamma < Alpha
            created = {"Gamma": 0, "delta": 1, "Alpha Ads": 2, "beta Cloud": 3}
            updated = {"delta": 10, "beta Cloud": 11, "Gamma": 12, "Alpha Ads": 13}
            for label, auth_id in self.ids.items():
                _set_times(p, t.authorizations, auth_id, created=BASE + timedelta(days=created[label]),
                           updated=BASE + timedelta(days=updated[label]))
            alpha, beta, gamma = self.ids["Alpha Ads"], self.ids["beta Cloud"], self.ids["Gamma"]
            self.jobs: dict[str, str] = {}
            for name, workflow, status, auths, day in [
                ("zz-export", "tiktok-audience-export", "runnable", [alpha], 5),
                ("aa-import", "tiktok-events", "completed", [alpha], 7),
                ("mm-sync", "b-workflow", "paused", [alpha, beta], 3),
                ("events", "pubsub-ingress", "sleeping", [beta], 1),
                ("old", "facebook-audience-populate", "deleted", [gamma], 1),
            ]:
                job = p.create_job(name=name, workflow=workflow, auth_ids=auths, status=status)
                self.jobs[name] = job.id
                _set_times(p, t.jobs, job.id, created=BASE + timedelta(days=day))
            p.create_experience(name="Lookalikes", auth_ids=[self.ids["delta"]])
            now = datetime.now(UTC)
            p.record_request(alpha, 3, at=now - timedelta(minutes=2))
            p.record_request(alpha, 4, at=now - timedelta(days=2))
            p.record_request(alpha, 5, at=now - timedelta(days=20))
            p.record_request(alpha, 6, at=now - timedelta(days=90))
        finally:
            p.close()

    def manage(self, **names: str) -> None:
        """Record manifest name -> live id in the workspace's state store."""
        workspace = load_workspace(self.root)  # the state records whose it is, as apply would
        store = StateStore.open(f"sqlite:///{self.root / '.authctl' / 'state.db'}", workspace=workspace.identity())
        try:
            for name, live_id in names.items():
                kind = "Job" if live_id in self.jobs.values() else "Authorization"
                store.put(ManagedObject(kind, name.replace("_", "-"), live_id, {}, datetime.now(UTC)))
        finally:
            store.close()


@pytest.fixture
def demo(make_workspace) -> Demo:  # type: ignore[no-untyped-def]
    return Demo(make_workspace({}, settings="name: demo\n"))


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _clean_failure(result: Any) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    return result.stderr


# -- authctl status ---------------------------------------------------------------------------------
def test_status_json_fields(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    demo.manage(alpha_ads=demo.ids["Alpha Ads"])
    data = _json(run_cli("status", "--format", "json", "-w", demo.root, env=NO_KEY))
    assert data["format_version"] == "1"
    rows = data["authorizations"]
    assert isinstance(rows, list) and len(rows) == 4
    for row in rows:
        assert JSON_KEYS <= set(row)
    by_label = {r["label"]: r for r in rows}
    alpha = by_label["Alpha Ads"]
    assert alpha == {**alpha, "id": demo.ids["Alpha Ads"], "name": "alpha-ads", "managed": True,
                     "description": "zeta sync", "provider": "tiktok", "method": "marketing_api_token",
                     "health": "healthy", "health_reason": "", "owner": "dave", "jobs_active": 2, "jobs_total": 3}
    assert datetime.fromisoformat(alpha["created"]) == BASE + timedelta(days=2)
    assert datetime.fromisoformat(alpha["updated"]) == BASE + timedelta(days=13)
    beta = by_label["beta Cloud"]
    assert (beta["health"], beta["health_reason"], beta["jobs_active"], beta["jobs_total"]) == (
        "unhealthy", "key disabled", 2, 2)
    assert (beta["name"], beta["managed"]) == (None, False)
    gamma = by_label["Gamma"]
    assert (gamma["jobs_active"], gamma["jobs_total"], gamma["description"]) == (0, 0, "")  # deleted job
    assert by_label["delta"]["health"] == "unknown"
    assert (by_label["delta"]["jobs_total"], by_label["delta"]["experiences"]) == (0, 1)


SORT_EXPECTED = {
    "label": ["Alpha Ads", "beta Cloud", "delta", "Gamma"],
    "description": ["Gamma", "beta Cloud", "delta", "Alpha Ads"],
    "provider": ["delta", "Gamma", "beta Cloud", "Alpha Ads"],
    "method": ["Alpha Ads", "delta", "beta Cloud", "Gamma"],
    "health": ["Alpha Ads", "delta", "Gamma", "beta Cloud"],  # healthy, unknown (by label), unhealthy
    "owner": ["beta Cloud", "delta", "Gamma", "Alpha Ads"],
    "created": ["Gamma", "delta", "Alpha Ads", "beta Cloud"],
    "updated": ["delta", "beta Cloud", "Gamma", "Alpha Ads"],
}


@pytest.mark.parametrize("key", sorted(SORT_EXPECTED))
def test_status_sort(run_cli, demo: Demo, key: str) -> None:  # type: ignore[no-untyped-def]
    args = ["--reverse"] if key == "created" else []
    rows = _json(run_cli("status", "--format", "json", "--sort", key, *args, "-w", demo.root,
                         env=NO_KEY))["authorizations"]
    assert [r["label"] for r in rows] == (SORT_EXPECTED[key][::-1] if args else SORT_EXPECTED[key])


def test_status_table(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    demo.manage(alpha_ads=demo.ids["Alpha Ads"])
    result = run_cli("status", "-w", demo.root, env=NO_KEY)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Authorizations (4)" in out
    for header in ("Label", "Description", "Provider", "Method", "Health", "Owner", "Created", "Updated",
                   "Jobs (active/total)", "Managed as"):
        assert header in out
    lines = out.splitlines()
    alpha = next(line for line in lines if "Alpha Ads" in line)
    for cell in ("zeta sync", "tiktok", "marketing_api_token", "Healthy", "dave", "2025-01-03 09:00",
                 "2025-01-14 09:00", "2/3", "alpha-ads"):
        assert cell in alpha
    beta = next(line for line in lines if "beta Cloud" in line)
    assert "Unhealthy (key disabled)" in beta and "(unmanaged)" in beta and "2/2" in beta
    order = [label for label in ("Alpha Ads", "beta Cloud", "delta", "Gamma")]
    positions = [out.index(label) for label in order]
    assert positions == sorted(positions)
    assert CANARY not in out + result.stderr


def test_status_of_an_empty_platform(run_cli, make_workspace) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({})
    result = run_cli("status", "-w", root, env=NO_KEY)
    assert result.returncode == 0 and "No authorizations" in result.stdout
    assert not (root / ".authctl" / "state.db").exists()  # a read-only command creates no state


# -- authctl show -----------------------------------------------------------------------------------
def test_show_by_label_id_and_manifest_name(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    alpha = demo.ids["Alpha Ads"]
    demo.manage(alpha_ads=alpha, export_job=demo.jobs["zz-export"])
    for ref in ("alpha ads", alpha, "alpha-ads"):  # label (any case), live id, manifest name
        data = _json(run_cli("show", ref, "--format", "json", "-w", demo.root, env=NO_KEY))
        assert (data["id"], data["label"], data["name"], data["managed"]) == (alpha, "Alpha Ads", "alpha-ads", True)
    assert data["jobs_active"] == 2 and data["jobs_total"] == 3
    # set_health counted one request just now, on top of the recorded ones.
    hourly = data["requests"].pop("hourly")
    assert data["requests"] == {"hour": 4, "day": 4, "week": 8, "month": 13}
    assert len(hourly) == 30 * 24 and sum(h["count"] for h in hourly) == 13  # zero-filled, oldest first
    jobs = {j["name"]: j for j in data["jobs"]}
    assert set(jobs) == {"zz-export", "aa-import", "mm-sync"}
    assert jobs["zz-export"]["status"] == "running" and jobs["zz-export"]["managed_name"] == "export-job"
    assert jobs["mm-sync"]["managed_name"] is None and jobs["mm-sync"]["workflow"] == "b-workflow"


@pytest.mark.parametrize(("key", "expected"), [
    ("name", ["aa-import", "mm-sync", "zz-export"]),
    ("workflow", ["mm-sync", "zz-export", "aa-import"]),
    ("status", ["aa-import", "mm-sync", "zz-export"]),
    ("created", ["mm-sync", "zz-export", "aa-import"]),
])
def test_show_sorts_jobs(run_cli, demo: Demo, key: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    data = _json(run_cli("show", "Alpha Ads", "--format", "json", "--sort-jobs", key, "-w", demo.root, env=NO_KEY))
    assert [j["name"] for j in data["jobs"]] == expected


def test_show_text(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("show", "beta cloud", "--sort-jobs", "created", "-w", demo.root, env=NO_KEY)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for fact in ("beta Cloud", demo.ids["beta Cloud"], "(unmanaged)", "Alpha import", "google_cloud",
                 "pubsub_service_account", "Unhealthy (key disabled)", "alice", "2025-01-04 09:00",
                 "2 active of 2", "Requests", "Last hour", "Last month", "Associated jobs"):
        assert fact in out, fact
    assert out.index("events") < out.index("mm-sync")  # created order
    assert "paused" in out and "sleeping" in out
    assert CANARY not in out + result.stderr
    empty = run_cli("show", "Gamma", "-w", demo.root, env=NO_KEY)
    assert empty.returncode == 0 and "No associated jobs." in empty.stdout


def test_show_unknown_is_a_clean_error(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    err = _clean_failure(run_cli("show", "no-such-thing", "-w", demo.root, env=NO_KEY))
    assert "no authorization with manifest name, id or label 'no-such-thing'" in err
    result = run_cli("show", "0" * 32, "--format", "json", "-w", demo.root, env=NO_KEY)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    payload = json.loads(result.stdout)
    assert payload["error"]["type"] == "NotFoundError"
    bad_sort = _clean_failure(run_cli("status", "--sort", "colour", "-w", demo.root, env=NO_KEY))
    assert "colour" in bad_sort


# -- authctl platform ... ---------------------------------------------------------------------------
def test_platform_commands(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    root = demo.root
    listed = run_cli("platform", "auths", "list", "-w", root, env=NO_KEY)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "Label", "Provider/method", "Health"]
    rows = [line.split() for line in lines[1:]]  # one line per authorization, sorted by label
    assert [row[0] for row in rows] == [demo.ids[label] for label in ("Alpha Ads", "beta Cloud", "delta", "Gamma")]
    assert rows[1] == [demo.ids["beta Cloud"], "beta", "Cloud", "google_cloud/pubsub_service_account", "unhealthy"]
    as_json = _json(run_cli("platform", "auths", "list", "--format", "json", "-w", root, env=NO_KEY))
    assert {a["label"]: a["id"] for a in as_json["authorizations"]} == demo.ids

    health = run_cli("platform", "auths", "set-health", "BETA CLOUD", "healthy", "--reason", "key rotated",
                     "-w", root, env=NO_KEY)
    assert health.returncode == 0 and "beta Cloud: healthy (key rotated)" in health.stdout
    row = next(r for r in _json(run_cli("status", "--format", "json", "-w", root, env=NO_KEY))["authorizations"]
               if r["label"] == "beta Cloud")
    assert (row["health"], row["health_reason"]) == ("healthy", "key rotated")

    created = run_cli("platform", "jobs", "create", "--name", "new-sync", "--workflow", "pubsub-ingress",
                      "--auth", "beta cloud", "--status", "paused", "-w", root, env=NO_KEY)
    assert created.returncode == 0, created.stderr
    job_id = created.stdout.strip()
    default = run_cli("platform", "jobs", "create", "--name", "two-auths", "--workflow", "x-workflow",
                      "--auth", demo.ids["delta"], "--auth", "Gamma", "-w", root, env=NO_KEY)
    two_id = default.stdout.strip()
    p = _platform(root)
    try:
        job = p.get_job(job_id)
        assert (job.name, job.workflow, job.status, job.auth_ids, job.owner) == (
            "new-sync", "pubsub-ingress", "paused", (demo.ids["beta Cloud"],), "cli-user")
        two = p.get_job(two_id)
        assert (two.status, two.auth_ids) == ("runnable", (demo.ids["delta"], demo.ids["Gamma"]))
    finally:
        p.close()

    changed = run_cli("platform", "jobs", "set-status", job_id, "running", "-w", root, env=NO_KEY)
    assert changed.returncode == 0 and f"new-sync ({job_id}): running" in changed.stdout
    done = run_cli("platform", "jobs", "set-status", two_id, "completed", "-w", root, env=NO_KEY)
    assert done.returncode == 0 and "completed" in done.stdout
    jobs = {j["id"]: j for j in _json(run_cli("platform", "jobs", "list", "--format", "json", "-w", root,
                                               env=NO_KEY))["jobs"]}
    assert jobs[job_id]["status"] == "running" and jobs[two_id]["status"] == "completed"
    assert jobs[two_id]["auth_ids"] == [demo.ids["delta"], demo.ids["Gamma"]]
    assert demo.jobs["old"] not in jobs  # deleted jobs are not listed
    text = run_cli("platform", "jobs", "list", "-w", root, env=NO_KEY)
    rows = {line.split()[0]: line.split()[1:] for line in text.stdout.splitlines()[1:]}
    assert rows[job_id] == ["new-sync", "pubsub-ingress", "running", demo.ids["beta Cloud"]]

    exp = run_cli("platform", "experiences", "create", "--name", "Winback", "--auth", "gamma", "-w", root,
                  env=NO_KEY)
    assert exp.returncode == 0, exp.stderr
    exp_id = exp.stdout.strip()
    p = _platform(root)
    try:
        with pytest.raises(ReferencedError, match=f"experience Winback \\({exp_id}\\)"):
            p.delete_authorization(demo.ids["Gamma"])
    finally:
        p.close()


def test_platform_command_errors_are_clean(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    root = demo.root
    err = _clean_failure(run_cli("platform", "jobs", "create", "--name", "x", "--workflow", "w", "--auth",
                                 "nobody", "-w", root, env=NO_KEY))
    assert "no authorization with manifest name, id or label 'nobody'" in err
    err = _clean_failure(run_cli("platform", "jobs", "set-status", "missing-job", "paused", "-w", root,
                                 env=NO_KEY))
    assert "no job with manifest name, id or name 'missing-job'" in err
    _clean_failure(run_cli("platform", "jobs", "set-status", demo.jobs["events"], "exploded", "-w", root,
                           env=NO_KEY))
    err = _clean_failure(run_cli("platform", "auths", "set-health", "Gamma", "great", "-w", root, env=NO_KEY))
    assert "great" in err
    # pubsub-ingress works only with the Pub/Sub service-account method: the catalog rule applies.
    p = _platform(root)
    try:
        gcs = p.create_authorization(provider="google_cloud", method="gcs_service_account", label="GCS")
    finally:
        p.close()
    err = _clean_failure(run_cli("platform", "jobs", "create", "--name", "x", "--workflow", "pubsub-ingress",
                                 "--auth", "GCS", "-w", root, env=NO_KEY))
    assert "workflow pubsub-ingress does not work with google_cloud/gcs_service_account" in err
    assert gcs.id in err


# -- bad databases ----------------------------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unusable_platform_database(run_cli, make_workspace) -> None:  # type: ignore[no-untyped-def]
    garbage = b"SQLite format 2\x00 but not really" * 100
    root = make_workspace({".authctl/platform.db": garbage})
    for args in (("show", "x"),):
        err = _clean_failure(run_cli(*args, "-w", root, env=NO_KEY))
        assert "platform database" in err and "cannot be used" in err
    assert (root / ".authctl" / "platform.db").read_bytes() == garbage
    result = run_cli("status", "--format", "json", "-w", root, env=NO_KEY)
    assert result.returncode == 1 and json.loads(result.stdout)["error"]["type"] == "DatabaseError"


def test_unusable_state_database(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    state = demo.root / ".authctl" / "state.db"
    state.write_bytes(b"\x00" * 4096 + b"junk")
    err = _clean_failure(run_cli("status", "-w", demo.root, env=NO_KEY))
    assert "state store" in err
    assert state.read_bytes() == b"\x00" * 4096 + b"junk"


def test_wrong_key_is_a_clean_error_and_changes_nothing(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    db = demo.root / ".authctl" / "platform.db"
    before = _digest(db)
    env = {**NO_KEY, "AUTHCTL_PLATFORM_KEY": Fernet.generate_key().decode()}
    for args in (("status",), ("platform", "jobs", "create", "--name", "x", "--workflow", "w", "--auth", "Gamma")):
        err = _clean_failure(run_cli(*args, "-w", demo.root, env=env))
        assert "does not match" in err and "nothing was changed" in err
    bad = _clean_failure(run_cli("status", "-w", demo.root, env={**NO_KEY, "AUTHCTL_PLATFORM_KEY": "short"}))
    assert "not a valid Fernet key" in bad and "short" not in bad
    assert _digest(db) == before
    _platform(demo.root).close()  # the right key still opens it


def test_newer_schema_is_a_clean_error(run_cli, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    db = demo.root / ".authctl" / "platform.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE platform_meta SET value = ? WHERE key = 'schema_version'", (str(t.SCHEMA_VERSION + 1),))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(db)
    err = _clean_failure(run_cli("status", "-w", demo.root, env=NO_KEY))
    assert "newer authctl" in err and "upgrade authctl" in err
    assert _digest(db) == before
