"""Benchmark: `authctl ui` over 10,000 authorizations and 50,000 jobs, timed as real HTTP requests.

Why
    Issue 15: the dashboard must stay quick on a big account. The bar: with 10,000
    authorizations and 50,000 jobs, the first page of the authorization list, a page of the
    list sorted by another column, and the page of an authorization with 500 jobs each
    answer in <= 300 ms (median of several requests, after a warm-up), as HTTP requests
    against the running `authctl ui`. The cold first request of each is reported too, with
    the server's start-up time (until it prints its URL: it reads the whole platform first)
    and its peak RSS. This is a benchmark, not a timed test: it exits 0 unless something
    breaks; ``meets_target`` says whether the bar was met.

How
    1. A workspace in a temporary folder (``authctl.yaml`` only: nothing here plans). Its
       embedded platform (``.authctl/platform.db``, key beside it) is bulk-loaded in a child
       process by benchmarks/snapshot_scale.py's loader: realistic providers, methods,
       labels, health (some unhealthy), owners, dates, sealed secrets; jobs bound to one or
       two authorizations with the real status mix (~2% soft-deleted, which no list shows);
       100 imported experiences. One more authorization, the *target*, gets exactly
       ``--target-jobs`` (500) running jobs and 30 days of hourly request counts, so its page
       has a full job list and four charts. The total is ``--auths`` authorizations and
       ``--jobs`` jobs. The state store gets every object as managed (manifest names), so the
       "Managed" column and the state read at start-up are real too.
    2. ``python -m reconciler ui -w WS --port 0 --max-age 0`` starts (no background re-reads
       while timing); start-up seconds run until its ``authctl ui: open URL`` line.
    3. One httpx2 client (keep-alive, like a browser tab) visits the URL (token -> cookie),
       then for each request below: the first (cold) request, one warm-up, then ``--repeat``
       timed requests (wall seconds around ``client.get``, body read): ``list_first_page``
       (``/authorizations``), ``list_sorted_page`` (``?sort=updated&order=desc&page=3``),
       ``authorization_500_jobs`` (``/authorizations/TARGET``), and, reported without a
       target, ``list_filtered`` (health + search), ``jobs_sorted_page`` (50,000 jobs by
       created, descending, page 40) and ``api_authorization_500_jobs`` (its JSON, every job).
       Each answer is checked (status 200, the rows or jobs it must hold).
    4. Peak RSS of the server (VmHWM from /proc/PID/status) before it is stopped (SIGTERM,
       expecting exit 0).
    5. Print one JSON object: sizes, start-up seconds, per request the cold seconds and the
       min/median/runs, response bytes, the server's peak RSS, the targets, ``meets_target``,
       python, cpus, load averages.

Usage
    .venv/bin/python benchmarks/ui_scale.py [--auths N] [--jobs N] [--target-jobs N] [--repeat N] [--seed N]
        [--keep DIR]

    ``--keep DIR`` builds the workspace in DIR (created; must not exist) and leaves it there, ready
    for ``authctl ui -w DIR`` or a profile of the server.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform as pyplatform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from measure import load_average  # benchmarks/measure.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

TARGET_SECONDS = 0.3
TIMED = ("list_first_page", "list_sorted_page", "authorization_500_jobs")
SETTINGS = "name: ui-bench\nbackend: {kind: local, path: .authctl/platform.db}\nstate: {url: .authctl/state.db}\n"
OPEN_LINE = re.compile(r"authctl ui: open (http://\S+)")
TARGET_LABEL = "Target: the authorization with many jobs"


# -- 1. the workspace (child process) -------------------------------------------------------------------
def populate(root: str, n_auths: int, n_jobs: int, target_jobs: int, seed: int) -> dict[str, Any]:
    """Bulk-load the platform and the state; returns sizes and the target's id."""
    from sqlalchemy import insert
    from snapshot_scale import load  # benchmarks/snapshot_scale.py: the realistic bulk loader

    from reconciler.platform import counters, open_platform
    from reconciler.platform import schema as t
    from reconciler.state.access import open_state_store
    from reconciler.state.store import _managed
    from reconciler.vocabulary import Access
    from reconciler.workspace import load_workspace

    started = time.perf_counter()
    db = Path(root) / ".authctl" / "platform.db"
    loaded = load(f"sqlite:///{db}", str(db.with_name(db.name + ".key")), n_auths - 1, n_jobs - target_jobs,
                  100, seed)
    platform = open_platform(f"sqlite:///{db}")
    try:
        target = platform.create_authorization(provider="pinterest", method="capi_token", type="pinterest_capi",
                                               label=TARGET_LABEL, credentials={"token": "bench-not-a-secret"})
        rng = random.Random(seed + 1)
        base = datetime(2024, 1, 1, tzinfo=UTC)
        config = json.dumps({"segment_id": "all", "identifier_mapping": [{"lytics": "email", "pinterest": "em"}],
                             "required_mapping": [{"lytics": "last_order_at", "pinterest": "event_time"}]})
        jobs = [{"id": f"{rng.getrandbits(128):032x}", "name": f"target-export-{i:04d}",
                 "workflow": "pinterest-capi-export", "status": rng.choice(["runnable", "sleeping", "paused"]),
                 "description": "", "config": config, "owner": "authctl",
                 "created": base + timedelta(minutes=rng.randint(0, 500_000)),
                 "updated": base + timedelta(minutes=rng.randint(500_000, 600_000))} for i in range(target_jobs)]
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        with platform._db.write() as conn:  # one transaction for all of it
            if jobs:
                conn.execute(insert(t.jobs), jobs)
                conn.execute(insert(t.job_auths), [{"job_id": j["id"], "auth_id": target.id, "position": 0}
                                                   for j in jobs])
            counters.add_requests(conn, {(target.id, hour - timedelta(hours=h)): rng.randint(0, 40)
                                         for h in range(720)})
        snapshot = platform.snapshot(include_deleted=True)
    finally:
        platform.close()
    workspace = load_workspace(root)
    state = open_state_store(workspace, Access.WRITE)
    assert state is not None
    applied_at = datetime.now(UTC).replace(microsecond=0)
    rows = [{"namespace": state.namespace, "kind": "Authorization", "name": f"auth-{i:05d}", "live_id": a.id, "fingerprints": "{}",
             "applied": "{}", "applied_at": applied_at} for i, a in enumerate(snapshot.authorizations)]
    rows += [{"namespace": state.namespace, "kind": "Job", "name": f"job-{i:06d}", "live_id": j.id, "fingerprints": "{}", "applied": "{}",
              "applied_at": applied_at} for i, j in enumerate(snapshot.jobs) if j.status != "deleted"]
    with state._db.engine.begin() as conn:
        conn.execute(insert(_managed), rows)
    state.bump_serial()
    state.close()
    return {"authorizations": len(snapshot.authorizations), "jobs": len(snapshot.jobs),
            "jobs_not_deleted": loaded["jobs_not_deleted"] + target_jobs, "experiences": loaded["experiences"],
            "managed_objects": len(rows), "target_id": target.id, "target_jobs": target_jobs,
            "load_seconds": round(time.perf_counter() - started, 2)}


def _populate_child(queue: Any, *args: Any) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        queue.put(("ok", populate(*args)))
    except BaseException as exc:  # report to the parent instead of dying silently
        import traceback

        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def build(root: Path, n_auths: int, n_jobs: int, target_jobs: int, seed: int) -> dict[str, Any]:
    root.mkdir(parents=True)
    (root / "authctl.yaml").write_text(SETTINGS, encoding="utf-8")
    (root / ".authctl").mkdir(mode=0o700)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_populate_child, args=(queue, str(root), n_auths, n_jobs, target_jobs, seed))
    child.start()
    outcome, info = queue.get()
    child.join()
    if outcome != "ok":
        raise SystemExit(f"populating {root} failed: {info}")
    for path in (root / ".authctl").iterdir():
        path.chmod(0o600)
    return info


# -- 2-4. the server and the requests ---------------------------------------------------------------------
def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _timed(client: Any, path: str, check: Any, repeat: int) -> dict[str, Any]:
    """Cold request, one warm-up, then ``repeat`` timed ones; each answer checked."""
    def once() -> tuple[float, int]:
        start = time.perf_counter()
        response = client.get(path)
        body = response.content
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status_code}: {response.text[:500]}")
        check(response.text)
        return seconds, len(body)

    cold, size = once()
    once()
    runs = [round(once()[0], 4) for _ in range(max(1, repeat))]
    return {"path": path, "cold_seconds": round(cold, 4), "bytes": size,
            "seconds": {"min": min(runs), "median": round(statistics.median(runs), 4), "runs": runs}}


def _rows(expected: int, testid: str) -> Any:
    def check(html: str) -> None:
        found = html.count(f'data-testid="{testid}"')
        if found != expected:
            raise SystemExit(f"expected {expected} {testid} elements, found {found}")
    return check


def measure(root: Path, info: dict[str, Any], repeat: int) -> dict[str, Any]:
    import httpx2

    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("AUTHCTL_PLATFORM_KEY", None)
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "reconciler", "ui", "-w", str(root), "--port", "0",
                               "--max-age", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, start_new_session=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        found = OPEN_LINE.search(line)
        if found is None:
            raise SystemExit(f"authctl ui did not start (exit {server.poll()}): {line}"
                             f"{server.stderr.read() if server.stderr else ''}")
        startup = time.perf_counter() - started
        url = found.group(1)
        target = info["target_id"]
        per_page = 50
        with httpx2.Client(timeout=120, follow_redirects=False) as client:
            first = client.get(url)
            if first.status_code != 303:
                raise SystemExit(f"the token URL answered {first.status_code}")
            client.base_url = url.split("/?", 1)[0]
            auths, jobs = info["authorizations"], info["jobs_not_deleted"]
            auth_page, job_page = _page(3, auths, per_page), _page(40, jobs, per_page)
            requests = {
                "list_first_page": _timed(client, "/authorizations", _rows(min(per_page, auths), "authorization-row"),
                                          repeat),
                "list_sorted_page": _timed(client, f"/authorizations?sort=updated&order=desc&page={auth_page}",
                                           _rows(_on_page(auth_page, auths, per_page), "authorization-row"), repeat),
                "authorization_500_jobs": _timed(client, f"/authorizations/{target}",
                                                 _rows(min(per_page, info["target_jobs"]), "job-row"), repeat),
                "list_filtered": _timed(client, "/authorizations?health=unhealthy&q=facebook&sort=created",
                                        lambda _: None, repeat),
                "jobs_sorted_page": _timed(client, f"/jobs?sort=created&order=desc&page={job_page}",
                                           _rows(_on_page(job_page, jobs, per_page), "job-row"), repeat),
                "api_authorization_500_jobs": _timed(client, f"/api/authorizations/{target}",
                                                     _jobs_in_json(info["target_jobs"]), repeat),
            }
        rss = _peak_rss_mib(server.pid)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            code = server.wait()
    if code != 0:
        raise SystemExit(f"authctl ui exited {code}: {server.stderr.read() if server.stderr else ''}")
    return {"startup_seconds": round(startup, 3), "requests": requests, "server_peak_rss_mib": rss,
            "server_exit_code": code}


def _page(wanted: int, total: int, per_page: int) -> int:
    """Page ``wanted``, or the last one when a small run has fewer."""
    return max(1, min(wanted, -(-total // per_page)))


def _on_page(page: int, total: int, per_page: int) -> int:
    return max(0, min(per_page, total - (page - 1) * per_page))


def _jobs_in_json(expected: int) -> Any:
    def check(text: str) -> None:
        jobs = json.loads(text)["jobs"]
        if len(jobs) != expected:
            raise SystemExit(f"expected {expected} jobs in the JSON, found {len(jobs)}")
    return check


# -- main ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auths", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--target-jobs", type=int, default=500, help="jobs of the authorization whose page is timed")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--keep", type=Path, default=None, help="build the workspace here and keep it")
    args = parser.parse_args(argv)
    if args.auths < 2 or args.jobs < args.target_jobs:
        parser.error("need at least 2 authorizations and --jobs >= --target-jobs")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: already exists")
    tmp = Path(tempfile.mkdtemp(prefix="authctl-ui-bench-"))
    try:
        load_at_start = load_average()
        workspace = args.keep.resolve() if args.keep is not None else tmp / "workspace"
        info = build(workspace, args.auths, args.jobs, args.target_jobs, args.seed)
        measured = measure(workspace, info, args.repeat)
        timed_ok = all(measured["requests"][name]["seconds"]["median"] <= TARGET_SECONDS for name in TIMED)
        result = {
            "benchmark": "ui_scale",
            "authorizations": info["authorizations"], "jobs": info["jobs"],
            "jobs_not_deleted": info["jobs_not_deleted"], "experiences": info["experiences"],
            "managed_objects": info["managed_objects"], "target_jobs": info["target_jobs"],
            "build_seconds": info["load_seconds"],
            **measured,
            "target": {"seconds": TARGET_SECONDS, "statistic": "median of --repeat warm requests",
                       "requests": list(TIMED)},
            "meets_target": timed_ok,
            "load_average_at_start": load_at_start, "load_average_at_end": load_average(),
            "python": pyplatform.python_version(), "cpus": os.cpu_count(),
        }
        print(json.dumps(result))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
