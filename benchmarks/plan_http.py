"""Benchmark: `authctl plan` and `apply` over HTTP (the ``lytics`` backend) against `authctl platform serve`.

Why
    Issue 12 moves live state behind an HTTP API (the Lytics v2 shape; ``authctl platform
    serve`` serves the embedded platform in that shape, with injected latency). Over a
    network every request costs a round trip, so a plan must read each collection in one
    list call (plus pages), never object by object the way ``terraform plan`` refreshes
    each resource. The bar, with 20 ms of latency on every request:

    - a no-change plan of 10,000 authorizations + 50,000 jobs, all live and in state,
      takes <= 10 s wall time, as a subprocess;
    - it is >= 20x faster than a per-object refresh of the same objects (one GET each,
      10 at a time, as terraform's default ``-parallelism=10``), timed in the same run;
    - it makes exactly one list request per collection (``GET /v2/auth``, ``GET /v2/job``,
      ``GET /v2/_authctl/experience``) plus follow-up pages, nothing else;
    - ``apply --parallelism 16`` of 1,000 creates takes <= 5 s (the latency floor is
      1,000 x 20 ms / 16 = 1.25 s), and leaves exactly 1,000 authorizations, no duplicates.

    This is a benchmark, not a timed test: it exits 0 unless something breaks;
    ``meets_target`` (and ``meets_target_detail``) say whether the bar was met.

How
    1. Plan workspace: benchmarks/plan_scale.py's generator and bulk population
       (``plan_scale.build``): ``--auths`` authorizations and ``--jobs`` jobs written as
       manifests, inserted into the workspace's embedded platform
       (``.authctl/platform.db``) and into state, in a child process. For context, one
       ``authctl plan`` on that embedded platform in process (``backend: local``) is timed
       once (``plan_local_backend_once``): the part of the plan that is not HTTP.
    2. Counting run: ``authctl platform serve -w WS --path WS/.authctl/platform.db
       --latency-ms 20 --access-log --port 0`` as a subprocess (127.0.0.1 only; API token
       in ``LYTICS_API_TOKEN``, random per run). Once it prints its URL the workspace's
       ``authctl.yaml`` gets ``backend: {kind: lytics, url: URL, token: {env:
       LYTICS_API_TOKEN}}``; ``authctl plan --format json --detailed-exitcode`` must exit 0
       with noop == authorizations + jobs. The server is stopped (SIGTERM, wait) and the
       request lines of its access log (stderr) are counted: every one must be a GET of one
       of the three collections, exactly one first-page call each, the rest pages
       (``cursor=``). The server serves whole arrays unless asked for ``limit``, and the
       backend asks for whole arrays, so 3 requests are expected.
    3. Timed run, a fresh server without the access log: ``python -m reconciler plan -w WS
       --detailed-exitcode`` (text output), ``--repeat`` times, each expecting exit 0.
       Wall seconds around the subprocess; the plan's CPU and peak RSS from GNU
       ``/usr/bin/time`` (or a getrusage wrapper: benchmarks/measure.py), the server's
       CPU seconds per plan from ``/proc/PID/stat`` and its peak RSS (VmHWM) at the end.
    4. Baseline against the same server (same latency), in this process: the per-object
       refresh. The (type, id) and (workflow, id) of every object are read first with one
       untimed list call each (terraform has them in its state); then ``GET
       /v2/auth/{type}/{id}`` per authorization and ``GET /v2/job/{workflow}/{id}`` per job,
       in a shuffled order, from ``--concurrency`` (10) threads with one keep-alive
       ``httpx2.Client`` each; every answer must be 200 and is validated with the same
       pydantic wire models the backend uses (``Envelope[AuthOut]`` / ``Envelope[JobOut]``),
       as a provider decodes what it reads. Timed once.
       Full or extrapolated: by default every object is fetched (~60,000 x 20 ms / 10 =
       2 min at best), unless the rate over the first ``--baseline-probe`` objects
       projects the whole run past ``--baseline-budget`` seconds (default 360: ~6 min on
       this 2-core machine); then the run stops there and the time is extrapolated
       linearly from the objects fetched. ``--baseline-sample N`` times a random N objects
       only and extrapolates. ``baseline.extrapolated`` says which happened.
       Ratio = baseline seconds / plan median seconds.
    5. Apply: benchmarks/apply_scale.py's generator at ``--creates`` Facebook system-user
       authorizations (``{env: ...}`` tokens) and no jobs, in a fresh folder; a fresh
       server (``--path`` a new database in a temporary folder, ``--latency-ms 20``,
       ``--access-log`` to count requests: one log line per request); the workspace's
       backend switched to it, then ``authctl apply --auto-approve --parallelism 16``
       timed once (exit 0 expected). Checks afterwards: ``authctl plan --format json
       --detailed-exitcode`` exits 0 with noop == creates; ``GET /v2/auth`` lists exactly
       ``--creates`` authorizations with distinct labels; the served SQLite file holds as
       many rows and distinct labels; state manages as many objects. Mutating calls =
       the state journal's ``intent`` rows.
    6. Print one JSON object: sizes, seconds (min/median/runs), CPU, peak RSS, requests
       counted and their paths, the baseline (and whether extrapolated), the ratio, the
       apply and its checks, targets, ``meets_target``, python version, cpus, load averages.

    Every server is a subprocess in its own session, stopped with SIGTERM and waited for
    (SIGKILL to its group after 15 s) on every exit path, a SIGTERM to this benchmark
    included; everything lives in one temporary folder, removed at the end.

Usage
    .venv/bin/python benchmarks/plan_http.py [--auths N] [--jobs N] [--files N] [--repeat N]
        [--latency-ms MS] [--concurrency N] [--baseline-sample N] [--baseline-budget S]
        [--baseline-probe N] [--creates N] [--parallelism N] [--seed N] [--skip-baseline]
        [--skip-apply] [--keep DIR]

    Quick run: ``--auths 200 --jobs 1000 --creates 100``. ``--keep DIR`` works in DIR
    (created; must be empty or missing) and leaves the workspaces there, with the plan
    workspace's secrets in ``DIR/plan-workspace/.bench-secrets.env``, e.g. for profiling:
    serve ``DIR/plan-workspace/.authctl/platform.db`` again (step 2's command) and point
    the workspace's ``backend.url`` at it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apply_scale  # benchmarks/apply_scale.py: the 1,000-create workspace
import plan_scale  # benchmarks/plan_scale.py: the large live-and-in-state workspace (puts the repo on sys.path)
from measure import Run, gnu_time_available, load_average, run_measured, series  # benchmarks/measure.py

TARGET_PLAN_SECONDS = 10.0
TARGET_RATIO = 20.0
TARGET_APPLY_SECONDS = 5.0
TOKEN_ENV = "LYTICS_API_TOKEN"
COLLECTIONS = ("/v2/auth", "/v2/job", "/v2/_authctl/experience")
LISTENING = re.compile(r"^authctl platform serve: listening on (http://127\.0\.0\.1:\d+)$", re.MULTILINE)
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


# -- the served platform (a subprocess) --------------------------------------------------------------
@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    exit_code: int | None = None
    _ticks: int = field(default_factory=lambda: os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server process (all its threads) so far; None off Linux."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / self._ticks  # utime, stime (fields 14 and 15)

    def peak_rss_mib(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return None

    def log_lines(self) -> list[str]:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()


def _server_env(token: str) -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1", TOKEN_ENV: token}
    env.pop("AUTHCTL_PLATFORM_KEY", None)  # the key is the one beside the served database
    env.pop("AUTHCTL_ENV", None)
    return env


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
    return process.returncode


@contextmanager
def serve(workspace: Path, db: Path, out_dir: Path, tag: str, token: str, *, latency_ms: int,
          access_log: bool = False) -> Iterator[Server]:
    """``authctl platform serve`` for ``db`` on 127.0.0.1 and a free port; always stopped (SIGTERM, wait)."""
    stdout_path, stderr_path = out_dir / f"{tag}.server.stdout", out_dir / f"{tag}.server.stderr"
    cmd = [sys.executable, "-m", "reconciler", "platform", "serve", "-w", str(workspace), "--host", "127.0.0.1",
           "--port", "0", "--path", str(db), "--latency-ms", str(latency_ms), "--token-env", TOKEN_ENV,
           *(["--access-log"] if access_log else [])]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_server_env(token),
                                   start_new_session=True)
    server = Server("", process, stdout_path, stderr_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.url:
            found = LISTENING.search(stdout_path.read_text(encoding="utf-8", errors="replace"))
            if found:
                server.url = found.group(1)
            elif process.poll() is not None:
                raise SystemExit(f"authctl platform serve exited {process.returncode} before listening:\n"
                                 + stderr_path.read_text(errors="replace")[-3000:])
            elif time.monotonic() > deadline:
                raise SystemExit(f"authctl platform serve printed no URL within {START_TIMEOUT:.0f} s")
            else:
                time.sleep(0.05)
        yield server
    finally:
        server.exit_code = _stop(process)


def use_server(workspace: Path, url: str) -> None:
    """Point the workspace's ``authctl.yaml`` at ``url`` (``backend: {kind: lytics, ...}``), replacing any backend."""
    path = workspace / "authctl.yaml"
    kept: list[str] = []
    skipping = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("backend:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    kept += ["backend:", "  kind: lytics", f"  url: {url}", f"  token: {{env: {TOKEN_ENV}}}"]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


def count_requests(lines: list[str]) -> dict[str, Any]:
    """Request lines of a server's access log: how many, by method and path (the query kept apart)."""
    requests = [m.groupdict() for line in lines if (m := ACCESS_LINE.search(line))]
    by_path: Counter[str] = Counter()
    first_pages: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    pages = 0
    for r in requests:
        path, _, query = r["target"].partition("?")
        by_path[f"{r['method']} {path}"] += 1
        statuses[r["status"]] += 1
        if "cursor=" in query:
            pages += 1
        else:
            first_pages[f"{r['method']} {path}"] += 1
    return {"requests": len(requests), "by_path": dict(sorted(by_path.items())),
            "first_pages": dict(sorted(first_pages.items())), "page_requests": pages, "statuses": dict(statuses),
            "targets": [f"{r['method']} {r['target']}" for r in requests][:20]}


# -- 1-3. the plan over HTTP --------------------------------------------------------------------------------
def _fail(what: str, run: Run) -> SystemExit:
    return SystemExit(f"{what}: exit {run.code}\n{run.tail()}")


def _requests_ok(counted: dict[str, Any]) -> bool:
    """One first-page GET per collection; everything else a follow-up page of one; all 200."""
    lists = {f"GET {c}" for c in COLLECTIONS}
    return (set(counted["by_path"]) <= lists and counted["first_pages"] == dict.fromkeys(sorted(lists), 1)
            and set(counted["statuses"]) == {"200"}
            and counted["requests"] == len(COLLECTIONS) + counted["page_requests"])


def _list_all(client: Any, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params or {}, **({"cursor": cursor} if cursor else {}))
        response = client.get(path, params=query)
        response.raise_for_status()
        body = response.json()
        items += body["data"]
        cursor = (body.get("_meta") or {}).get("_next")
        if not cursor:
            return items


def object_paths(url: str, token: str) -> list[tuple[str, str]]:
    """("auth" | "job", path) of every authorization and (not deleted) job: the per-object refresh's requests."""
    import httpx2

    with httpx2.Client(base_url=url, headers={"Authorization": token}, timeout=300) as client:
        auths = _list_all(client, "/v2/auth")
        jobs = _list_all(client, "/v2/job", {"show_completed": "true"})
    paths = [("auth", f"/v2/auth/{a['type']}/{a['id']}") for a in auths]
    paths += [("job", f"/v2/job/{j['workflow']}/{j['id']}") for j in jobs
              if not j.get("deleted") and j.get("status") != "deleted"]
    return paths


def per_object_refresh(url: str, token: str, concurrency: int, seed: int, sample: int | None, budget: float,
                       probe: int) -> dict[str, Any]:
    """One GET per object, ``concurrency`` at a time; full unless sampled or projected past ``budget`` seconds."""
    import httpx2

    from reconciler.lytics_wire import AuthOut, Envelope, JobOut

    models = {"auth": Envelope[AuthOut], "job": Envelope[JobOut]}  # type: ignore[valid-type]
    all_paths = object_paths(url, token)
    rng = random.Random(seed)
    paths = rng.sample(all_paths, min(sample, len(all_paths))) if sample else list(all_paths)
    if not sample:
        rng.shuffle(paths)  # a run stopped early then holds both kinds in their proportions
    total = len(all_paths)
    lock = threading.Lock()
    stop = threading.Event()
    state = {"next": 0, "done": 0}
    kinds: Counter[str] = Counter()
    errors: list[str] = []

    def worker() -> None:
        with httpx2.Client(base_url=url, headers={"Authorization": token}, timeout=120,
                           limits=httpx2.Limits(max_connections=1, max_keepalive_connections=1)) as client:
            while not stop.is_set():
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(paths):
                    return
                kind, path = paths[i]
                try:
                    response = client.get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
                    models[kind].model_validate_json(response.content)
                except Exception as exc:  # report, stop everyone
                    errors.append(f"{type(exc).__name__}: {exc}")
                    stop.set()
                    return
                with lock:
                    state["done"] += 1
                    kinds[kind] += 1

    cpu0 = time.process_time()
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, name=f"refresh-{k}", daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    stopped_early = False
    projected: float | None = None
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        if not sample and not stopped_early and projected is None and state["done"] >= min(probe, len(paths)):
            projected = (time.perf_counter() - started) * len(paths) / state["done"]
            if projected > budget:
                stop.set()
                stopped_early = True
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    if errors:
        raise SystemExit(f"per-object refresh failed: {errors[0]}")
    done = state["done"]
    extrapolated = bool(sample) or stopped_early
    seconds = elapsed * total / done if done else float("nan")
    result: dict[str, Any] = {
        "objects": total, "objects_fetched": done, "concurrency": concurrency,
        "requests": done, "kinds_fetched": dict(kinds),
        "seconds_measured": round(elapsed, 3), "seconds": round(seconds, 3),
        "requests_per_second": round(done / elapsed, 1) if elapsed else None,
        "client_cpu_seconds": round(cpu, 2), "extrapolated": extrapolated,
    }
    if sample:
        result["why"] = f"--baseline-sample {sample}: a random sample, extrapolated linearly to {total}"
    elif stopped_early:
        result["why"] = (f"the first {probe} objects projected {projected:.0f} s for all {total} (> --baseline-budget "
                         f"{budget:.0f} s): stopped after {done}, extrapolated linearly")
    else:
        result["why"] = (f"full run (projected {projected:.0f} s after the first {min(probe, len(paths))} objects, "
                         f"within --baseline-budget {budget:.0f} s)" if projected is not None else "full run")
    return result


def plan_over_http(args: argparse.Namespace, base: Path, out_dir: Path, gnu: bool, token: str) -> dict[str, Any]:
    workspace = base / "plan-workspace"
    generated, built = plan_scale.build(workspace, args.auths, args.jobs, args.files, args.seed)
    if args.keep:
        lines = [f"export {k}={v}" for k, v in sorted(generated.secret_env.items())]
        (workspace / ".bench-secrets.env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = workspace / ".authctl" / "platform.db"
    env = {**os.environ, **generated.secret_env, TOKEN_ENV: token, "NO_COLOR": "1"}
    env.pop("AUTHCTL_ENV", None)
    expected_noop = built["authorizations"] + built["jobs"]
    result: dict[str, Any] = {"authorizations": built["authorizations"], "jobs": built["jobs"],
                              "job_auth_links": built["job_auth_links"], "files": generated.files,
                              "bytes": generated.bytes, "build": built}

    # for context: the same plan on the embedded platform in process (backend: local), once
    local = run_measured(plan_scale._plan_cmd(workspace), env, out_dir, "plan-local", gnu=gnu)
    if local.code != 0:
        raise _fail("authctl plan on the embedded platform (before serving it): expected exit 0", local)
    result["plan_local_backend_once"] = {"seconds": round(local.seconds, 3), "cpu_seconds": local.cpu_seconds,
                                         "peak_rss_mib": local.rss_mib}

    # 2. the counting run
    with serve(workspace, db, out_dir, "count", token, latency_ms=args.latency_ms, access_log=True) as server:
        use_server(workspace, server.url)
        check_run, check = plan_scale.json_plan(workspace, env, out_dir, gnu)
        if check_run.code != 0 or check["summary"].get("noop") != expected_noop:
            raise _fail(f"the served workspace does not plan clean (summary {check.get('summary')}, "
                        f"expected noop {expected_noop})", check_run)
        if check.get("context", {}).get("backend") != "lytics":
            raise SystemExit(f"the plan did not use the lytics backend: {check.get('context')}")
    counted = count_requests(server.log_lines())
    result["check"] = {"exit_code": check_run.code, "summary": check["summary"], "seconds": round(check_run.seconds, 3),
                       "backend": check["context"]["backend"], "server_exit_code": server.exit_code}
    result["requests"] = {**counted, "collections": len(COLLECTIONS),
                          "expected": f"{len(COLLECTIONS)} collections + {counted['page_requests']} pages",
                          "counted_by": "the server's --access-log lines (a separate run of plan --format json)"}
    result["requests_ok"] = _requests_ok(counted)

    # 3. timed plans, then 4. the baseline, against one server
    with serve(workspace, db, out_dir, "timed", token, latency_ms=args.latency_ms) as server:
        use_server(workspace, server.url)
        runs: list[Run] = []
        server_cpu: list[float] = []
        for k in range(max(1, args.repeat)):
            before = server.cpu_seconds()
            run = run_measured(plan_scale._plan_cmd(workspace), env, out_dir, f"plan-{k}", gnu=gnu)
            after = server.cpu_seconds()
            if run.code != 0:
                raise _fail("authctl plan over HTTP: expected exit 0 (no changes)", run)
            runs.append(run)
            if before is not None and after is not None:
                server_cpu.append(round(after - before, 2))
        result["plan"] = {**series(runs), "server_cpu_seconds_runs": server_cpu,
                          "latency_ms": args.latency_ms}
        if args.skip_baseline:
            result["baseline"] = {"skipped": "--skip-baseline"}
        else:
            before = server.cpu_seconds()
            baseline = per_object_refresh(server.url, token, args.concurrency, args.seed, args.baseline_sample,
                                          args.baseline_budget, args.baseline_probe)
            after = server.cpu_seconds()
            if before is not None and after is not None:
                baseline["server_cpu_seconds"] = round(after - before, 2)
            baseline["latency_ms"] = args.latency_ms
            result["baseline"] = baseline
        result["server_peak_rss_mib"] = server.peak_rss_mib()
    result["server_exit_code"] = server.exit_code
    if "seconds" in result["baseline"]:
        result["ratio"] = round(result["baseline"]["seconds"] / result["plan"]["seconds"]["median"], 2)
        result["ratio_means"] = "per-object refresh seconds / plan median seconds (same server, same latency)"
    return result


# -- 5. apply of N creates --------------------------------------------------------------------------------
def _live_check(url: str, token: str) -> dict[str, Any]:
    import httpx2

    with httpx2.Client(base_url=url, headers={"Authorization": token}, timeout=120) as client:
        auths = _list_all(client, "/v2/auth")
        jobs = _list_all(client, "/v2/job", {"show_completed": "true"})
    labels = Counter(a["label"].casefold() for a in auths)
    return {"authorizations": len(auths), "distinct_labels": len(labels),
            "duplicate_labels": sum(1 for n in labels.values() if n > 1), "jobs": len(jobs)}


def apply_creates(args: argparse.Namespace, base: Path, out_dir: Path, gnu: bool, token: str) -> dict[str, Any]:
    workspace = base / "apply-workspace"
    files = max(1, args.creates // 100)
    secret_env, size = apply_scale.generate(workspace, args.creates, 0, files, args.seed)
    served_dir = base / "apply-platform"
    served_dir.mkdir(parents=True, exist_ok=True)
    db = served_dir / "platform.db"
    env = {**os.environ, **secret_env, TOKEN_ENV: token, "NO_COLOR": "1"}
    env.pop("AUTHCTL_ENV", None)
    python = [sys.executable, "-m", "reconciler"]
    result: dict[str, Any] = {"creates": args.creates, "jobs": 0, "files": files, "bytes": size,
                              "parallelism": args.parallelism, "latency_ms": args.latency_ms,
                              "floor_seconds": round(args.creates * args.latency_ms / 1000 / args.parallelism, 3)}
    with serve(workspace, db, out_dir, "apply", token, latency_ms=args.latency_ms, access_log=True) as server:
        use_server(workspace, server.url)
        cpu_before = server.cpu_seconds()
        run = run_measured([*python, "apply", "-w", str(workspace), "--auto-approve", "--parallelism",
                            str(args.parallelism)], env, out_dir, "apply", gnu=gnu)
        cpu_after = server.cpu_seconds()
        apply_log = server.log_lines()
        if run.code != 0:
            raise _fail("authctl apply over HTTP", run)
        check_run, check = plan_scale.json_plan(workspace, env, out_dir, gnu)
        live = _live_check(server.url, token)
        result["server_peak_rss_mib"] = server.peak_rss_mib()
    result.update({"seconds": round(run.seconds, 3), "cpu_seconds": run.cpu_seconds, "peak_rss_mib": run.rss_mib,
                   "exit_code": run.code,
                   "server_cpu_seconds": (round(cpu_after - cpu_before, 2)
                                          if cpu_before is not None and cpu_after is not None else None),
                   "server_exit_code": server.exit_code})
    counted = count_requests(apply_log)
    result["requests"] = {k: counted[k] for k in ("requests", "by_path", "statuses")}
    state_db = workspace / ".authctl" / "state.db"
    phases = dict(apply_scale._count(state_db, "SELECT phase, count(*) FROM journal GROUP BY phase"))
    stored = apply_scale._count(db, "SELECT count(*), count(DISTINCT label_key) FROM authorizations")[0]
    verify = {
        "plan_after": {"exit_code": check_run.code, "summary": check["summary"]},
        "live": live,
        "served_db_rows": stored[0], "served_db_distinct_labels": stored[1],
        "managed_objects": apply_scale._count(state_db, "SELECT count(*) FROM managed_objects")[0][0],
        "journal_by_phase": phases, "mutating_platform_calls": phases.get("intent", 0),
    }
    verify["exactly_once"] = (check_run.code == 0 and check["summary"].get("noop") == args.creates
                              and live["authorizations"] == args.creates and live["duplicate_labels"] == 0
                              and live["jobs"] == 0 and stored[0] == args.creates and stored[1] == args.creates
                              and verify["managed_objects"] == args.creates)
    result["verify"] = verify
    return result


# -- main ---------------------------------------------------------------------------------------------------
def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: servers stopped, temporary folder removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auths", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--latency-ms", type=int, default=20, help="the server's injected latency per request")
    parser.add_argument("--concurrency", type=int, default=10, help="parallel requests of the per-object refresh")
    parser.add_argument("--baseline-sample", type=int, default=None, metavar="N",
                        help="time N random objects of the per-object refresh and extrapolate (default: all)")
    parser.add_argument("--baseline-budget", type=float, default=360.0, metavar="SECONDS",
                        help="stop the full per-object refresh and extrapolate when it projects past this")
    parser.add_argument("--baseline-probe", type=int, default=3_000, metavar="N",
                        help="objects fetched before the projection is made")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--creates", type=int, default=1_000, help="authorizations created by the timed apply")
    parser.add_argument("--parallelism", type=int, default=16, help="authctl apply --parallelism")
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it (for profiling)")
    args = parser.parse_args(argv)
    if args.auths < 1 and args.jobs > 0:
        parser.error("jobs need at least one authorization")
    if args.baseline_sample is not None and args.baseline_sample < 1:
        parser.error("--baseline-sample must be at least 1")

    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix="authctl-plan-http-bench-"))
    try:
        base = args.keep.resolve() if args.keep else tmp / "work"
        if base.exists() and any(base.iterdir()):
            parser.error(f"--keep {base}: folder is not empty")
        base.mkdir(parents=True, exist_ok=True)
        out_dir = tmp / "out"
        out_dir.mkdir()
        gnu = gnu_time_available()
        token = secrets.token_urlsafe(24)
        load_at_start = load_average()

        result: dict[str, Any] = {"benchmark": "plan_http", "latency_ms": args.latency_ms}
        result.update(plan_over_http(args, base, out_dir, gnu, token))
        if args.skip_apply:
            result["apply"] = {"skipped": "--skip-apply"}
        else:
            result["apply"] = apply_creates(args, base, out_dir, gnu, token)

        plan_ok = result["plan"]["seconds"]["median"] <= TARGET_PLAN_SECONDS
        ratio_ok = None if "ratio" not in result else result["ratio"] >= TARGET_RATIO
        apply = result["apply"]
        apply_ok = None if "skipped" in apply else (apply["seconds"] <= TARGET_APPLY_SECONDS
                                                    and apply["verify"]["exactly_once"])
        result["target"] = {"plan_seconds": TARGET_PLAN_SECONDS, "ratio": TARGET_RATIO,
                            "requests": "collections + pages", "apply_seconds": TARGET_APPLY_SECONDS,
                            "apply_exactly_once": True, "statistic": "median (plan), one run (baseline, apply)"}
        result["meets_target_detail"] = {"plan_seconds": plan_ok, "ratio": ratio_ok, "requests": result["requests_ok"],
                                         "apply": apply_ok}
        result["meets_target"] = all(v is not False for v in result["meets_target_detail"].values())
        result["rss_measured_by"] = "GNU time %M" if gnu else "getrusage(RUSAGE_CHILDREN) in a wrapper process"
        result["load_average_at_start"] = load_at_start
        result["load_average_at_end"] = load_average()
        result["python"] = pyplatform.python_version()
        result["cpus"] = os.cpu_count()
        print(json.dumps(result))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
