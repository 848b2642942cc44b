"""Faults at scale over real HTTP: the ``lytics`` backend against ``authctl platform serve`` on a bad day.

- 500 objects (400 authorizations, 100 jobs) applied with ``--parallelism 16`` while the
  server answers 20% of requests 500/503 before doing anything and 429s everything above
  a rate limit: ONE apply converges (retries are the product's promise, DESIGN section 6),
  nothing is lost or duplicated, and the retries are bounded: the server's access log
  (every request, refused ones included) counts fewer than three requests per object.
- Creates whose connection is dropped after the platform made the object (the client
  never learns the id): the creation marker finds it, so nothing is made twice.

The race "a job is activated between ``plan -o`` and ``apply plan.json``" over HTTP, in
guarded and cascade mode, is covered by test_apply_delete_guard.py (every test there runs
on both backends).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from apply_support import (
    AUTH,
    JOB,
    assert_no_duplicates,
    assert_no_orphans,
    assert_state_consistent,
    auth_doc,
    documents,
    job_doc,
    read_world,
    settings,
)
from backend_modes import use_backend

# One access-log line per request that reached the API (uvicorn: '... "POST /v2/auth/pinterest HTTP/1.1" 201').
REQUEST = re.compile(r'"(GET|POST|PUT|DELETE|HEAD) /v2[/? ][^"]*" (\d{3})')


def _workspace(make_workspace, name: str, auths: int, jobs: int) -> tuple[Path, dict[str, str]]:
    env = {f"HF_TOKEN_{i:03d}": f"token-{i:03d}" for i in range(auths)}
    docs = [auth_doc(f"auth-{i:03d}", f"Account {i:03d}", f"HF_TOKEN_{i:03d}") for i in range(auths)]
    docs += [job_doc(f"job-{i:03d}", f"auth-{i % auths:03d}") for i in range(jobs)]
    return make_workspace({"main.yaml": documents(*docs)}, settings=settings(name)), env


def _requests(server_stderr: str) -> dict[str, int]:
    """Requests the server saw, by answer status (from its access log)."""
    counts: dict[str, int] = {}
    for match in REQUEST.finditer(server_stderr):
        counts[match.group(2)] = counts.get(match.group(2), 0) + 1
    return counts


def _assert_exactly(root: Path, auths: int, jobs: int) -> None:
    world = read_world(root)
    assert_no_duplicates(world)
    assert_state_consistent(world)
    assert_no_orphans(world)
    assert (len(world.auths), len(world.jobs)) == (auths, jobs), "objects lost or made twice"
    assert (len(world.managed_ids(AUTH)), len(world.managed_ids(JOB))) == (auths, jobs)


def test_five_hundred_objects_converge_in_one_apply_through_errors_and_rate_limits(make_workspace, run_cli) -> None:
    auths, jobs = 400, 100
    root, env = _workspace(make_workspace, "faults-at-scale", auths, jobs)
    # 50 requests per second is below what the apply asks for even on a loaded machine, so 429s are certain.
    faults = ("--error-rate", "0.2", "--rate-limit", "50", "--seed", "7", "--access-log")
    with use_backend(root, "http", extra_args=faults) as where:
        assert where.served is not None
        started = time.monotonic()
        applied = run_cli("apply", "--auto-approve", "--parallelism", "16", "--format", "json", cwd=root, env=env,
                          timeout=180)
        took = time.monotonic() - started
        sent = _requests(where.served.output()[1])
        report = json.loads(applied.stdout) if applied.stdout.strip().startswith("{") else {}
        failed = [s for s in report.get("steps", []) if s["result"] != "applied"]
        assert applied.returncode == 0 and report.get("converged"), (
            f"one apply must converge through injected faults; exit {applied.returncode}, "
            f"not applied: {failed[:5]}\n{applied.stderr[-3000:]}")
        assert report["summary"]["applied"] == auths + jobs

        total = sum(sent.values())
        assert sent.get("429") and sent.get("500") and sent.get("503"), f"the faults did not happen: {sent}"
        assert total < 3 * (auths + jobs), f"{total} requests for {auths + jobs} objects: {sent}"
    # Checked through a server without faults: at 10% 500s, three in a row (a plan's retries on a 500)
    # happen about once in a thousand GETs, and what is checked here is the apply, not the plan.
    with use_backend(root, "http"):
        again = run_cli("plan", "--detailed-exitcode", cwd=root, env=env, timeout=120)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    _assert_exactly(root, auths, jobs)
    print(f"apply of {auths + jobs} objects: {took:.1f} s, {total} requests {sent}")


def test_creates_whose_answer_is_lost_are_adopted_by_marker_not_made_twice(make_workspace, run_cli) -> None:
    auths, jobs = 30, 10
    root, env = _workspace(make_workspace, "dropped-creates", auths, jobs)
    with use_backend(root, "http", extra_args=("--drop-create-rate", "0.3", "--seed", "11", "--access-log")) as where:
        assert where.served is not None
        applied = run_cli("apply", "--auto-approve", "--parallelism", "8", "--format", "json", cwd=root, env=env)
        report = json.loads(applied.stdout)
        assert applied.returncode == 0 and report["converged"], applied.stdout[-2000:] + applied.stderr[-2000:]
        log = where.served.output()[1]
        # A dropped create is logged with the 201 it started to send. Each one costs the client one list
        # call (the lookup by marker) on top of the snapshot's one per collection, and no second POST.
        posts = len(re.findall(r'"POST /v2/(?:auth|job)/', log))
        lists = len(re.findall(r'"GET /v2/(?:auth|job\?[^"]*) HTTP', log))
        assert lists > 2, "no create was dropped: the test would prove nothing"
        assert posts == auths + jobs, f"{posts} creates sent for {auths + jobs} objects: one was sent twice"
        _assert_exactly(root, auths, jobs)
        again = run_cli("plan", "--detailed-exitcode", cwd=root, env=env)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
