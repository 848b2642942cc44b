"""Two processes writing one SQLite file at once: rules hold, nothing is lost, nothing is locked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reconciler.platform import open_platform
from reconciler.state.store import StateStore

UNIQUE = 50
SHARED = 5

PLATFORM_WORKER = textwrap.dedent("""
    import json, sys, time
    from reconciler.errors import AuthctlError, ConflictError
    from reconciler.platform import open_platform
    url, tag, go, unique, shared = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    while time.time() < go:
        time.sleep(0.001)
    p = open_platform(url)
    created, conflicts, errors = [], [], []
    labels = [f"{tag}-{i}" for i in range(unique)]
    # Interleave the shared labels so that both processes race for them mid-stream.
    for i in range(shared):
        labels.insert(i * 10 + 3, f"Shared Label {i}" if tag == "a" else f"SHARED label {i}")
    for label in labels:
        try:
            rec = p.create_authorization(provider="facebook", method="system_user", label=label,
                                         credentials={"access_token": "t"})
            created.append(rec.label)
            p.create_job(name=f"job-{label}", workflow="w", auth_ids=[rec.id])
        except ConflictError as exc:
            conflicts.append(label)
        except AuthctlError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    p.close()
    print(json.dumps({"created": created, "conflicts": conflicts, "errors": errors}))
""")

STATE_WORKER = textwrap.dedent("""
    import json, sys, time
    from datetime import UTC, datetime
    from reconciler.errors import AuthctlError
    from reconciler.state.records import ManagedObject
    from reconciler.state.store import StateStore
    url, tag, go, unique, shared = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    while time.time() < go:
        time.sleep(0.001)
    s = StateStore.open(url)
    errors = []
    for i in range(unique):
        try:
            s.put(ManagedObject("Authorization", f"{tag}-{i}", f"{tag}{i}", {"k": tag}, datetime.now(UTC)))
            if i % 2 == 0:
                s.bump_serial()
            if i < shared:
                s.put(ManagedObject("Job", f"shared-{i}", f"{tag}{i}", {"k": tag}, datetime.now(UTC)))
            s.record(tag, f"Authorization/{tag}-{i}", "create", "done", {})
        except AuthctlError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    s.close()
    print(json.dumps({"errors": errors}))
""")


def _run_two(script: str, url: str, tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    go = time.time() + 1.5  # both start at the same instant, after interpreter start-up
    procs = [subprocess.Popen([sys.executable, "-c", script, url, tag, str(go), str(UNIQUE), str(SHARED)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for tag in ("a", "b")]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err, err
        results.append(json.loads(out))
    return results


def _check_platform(url: str, results: list[dict]) -> None:  # type: ignore[type-arg]
    for result in results:
        assert result["errors"] == []
    created = results[0]["created"] + results[1]["created"]
    conflicts = results[0]["conflicts"] + results[1]["conflicts"]
    shared_won = [label for label in created if label.casefold().startswith("shared label")]
    assert sorted(label.casefold() for label in shared_won) == [f"shared label {i}" for i in range(SHARED)]
    assert len(conflicts) == SHARED
    assert sorted(c.casefold() for c in conflicts) == [f"shared label {i}" for i in range(SHARED)]
    p = open_platform(url)
    try:
        snap = p.snapshot()
    finally:
        p.close()
    labels = sorted(a.label for a in snap.authorizations)
    assert labels == sorted(created)
    assert len(labels) == 2 * UNIQUE + SHARED
    assert {f"{tag}-{i}" for tag in "ab" for i in range(UNIQUE)} <= set(labels)
    assert len(snap.jobs) == len(labels)
    by_id = {a.id: a.label for a in snap.authorizations}
    assert sorted(j.name for j in snap.jobs) == sorted(f"job-{by_id[j.auth_ids[0]]}" for j in snap.jobs)


def test_two_processes_create_authorizations_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    open_platform(url).close()  # created beforehand: the processes only race on writes
    _check_platform(url, _run_two(PLATFORM_WORKER, url, tmp_path))


def test_two_processes_create_a_fresh_platform_at_once(tmp_path: Path) -> None:
    """Neither database nor key file exists: both processes create them at the same moment."""
    url = f"sqlite:///{tmp_path / 'fresh' / 'platform.db'}"
    _check_platform(url, _run_two(PLATFORM_WORKER, url, tmp_path))


def test_two_processes_write_the_state_store_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    results = _run_two(STATE_WORKER, url, tmp_path)
    assert [r["errors"] for r in results] == [[], []]
    s = StateStore.open(url)
    try:
        managed = s.managed()
        auths = {name: obj for (kind, name), obj in managed.items() if kind == "Authorization"}
        assert set(auths) == {f"{tag}-{i}" for tag in "ab" for i in range(UNIQUE)}
        assert all(obj.live_id == obj.name.replace("-", "") for obj in auths.values())
        jobs = {name: obj for (kind, name), obj in managed.items() if kind == "Job"}
        assert set(jobs) == {f"shared-{i}" for i in range(SHARED)}
        assert all(obj.live_id in (f"a{name[7:]}", f"b{name[7:]}") for name, obj in jobs.items())
        assert s.meta().serial == 2 * len(range(0, UNIQUE, 2))  # no lost update
        journal = s.journal_entries()
        assert len(journal) == 2 * UNIQUE
        for tag in "ab":
            mine = [e.address for e in journal if e.apply_id == tag]
            assert mine == [f"Authorization/{tag}-{i}" for i in range(UNIQUE)]
    finally:
        s.close()
