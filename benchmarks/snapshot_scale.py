"""Benchmark: a full snapshot of a large embedded platform (``LocalBackend.snapshot()``).

Why
    Every ``authctl plan``, ``apply`` and ``status`` starts by reading the whole platform
    once: every authorization, every job with its authorization ids, every imported
    experience, so that the delete guard can answer "who uses this?" without further
    I/O. Big accounts hold tens of thousands of objects. Issue 4 sets the bar: with
    10,000 authorizations and 50,000 jobs a snapshot must take <= 1 s and <= 300 MiB
    of extra memory, in a constant number of queries. This script measures that; it
    is a benchmark, not a timed test (exit code 0 unless something breaks;
    ``meets_target`` says whether the bar was met).

How
    1. Bulk-load a fresh platform (a SQLite file in a temporary folder, or the empty
       database given by ``--url``) in a child process, so that the loading's garbage
       does not distort the measuring process's memory. The load goes straight into
       the platform tables with SQLAlchemy Core ``executemany`` inserts in one
       transaction, after ``open_platform`` has created the schema and the key:
       creating 60,000 objects through the API, one transaction each, would take
       minutes and is not what is measured. Each authorization gets its own realistic
       secret blob, sealed with the platform's own Sealer (Fernet) from a generated
       config + credentials document, so rows are the size real rows are. Data is
       deterministic (``--seed``): a realistic provider/method mix, labels unique,
       health/token expiry/scopes where they apply; each job is bound to one or two
       authorizations (about a quarter have two) and has a small JSON config; job
       statuses are mostly runnable/sleeping/paused with some completed/failed and
       ~2% soft-deleted (a snapshot leaves those out); ~100 imported experiences use
       one to three authorizations each. Ids are 32 hex characters like the
       platform's own.
    2. In this process: open the platform, count SQL statements with a
       ``before_cursor_execute`` listener on its engine, dispose of the connection
       pool (so run 1 is cold-ish: new connection, statement compilation; the OS file
       cache is warm), then time ``LocalBackend(platform).snapshot()`` ``--repeat``
       times: platform queries plus conversion into ``reconciler.live`` models, plus
       one young-generation garbage collection right after the call, so that
       collector work deferred past the call is counted (``deferred_gc_seconds``
       shows that part). The result of each run is checked (counts) and freed before
       the next.
    3. Memory: before each run the kernel's peak-RSS mark is reset (writing 5 to
       ``/proc/self/clear_refs``), then "extra memory" is VmHWM after the run minus
       VmRSS before it, from ``/proc/self/status``. Run 1 is the honest figure
       (later runs reuse memory the allocator kept), so ``extra_rss_mib`` is the
       maximum over runs. One more, untimed, run under ``tracemalloc`` reports the
       peak of Python allocations.
    4. Print one JSON object: sizes, wall seconds (min/median/all runs), SQL statements
       per snapshot, extra RSS, the target and whether it was met (median wall
       seconds). ``cpu_seconds`` (this process's CPU time per run) helps on a busy
       machine, where wall time also measures the wait for a CPU; on a client/server
       database wall time also includes the server's work.

Usage
    .venv/bin/python benchmarks/snapshot_scale.py [--auths N] [--jobs N] [--experiences N]
        [--repeat N] [--seed N] [--url SQLALCHEMY_URL] [--profile]

    ``--url`` runs the same against another database, e.g.
    ``postgresql+psycopg://user@localhost/bench``; it must not already hold platform
    tables, and the benchmark drops the tables it created when done. ``--profile``
    prints a cProfile of one extra snapshot to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import multiprocessing
import os
import platform as pyplatform
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run from a checkout without installing: make `reconciler` importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, inspect, insert  # noqa: E402

from reconciler.backends.local import LocalBackend  # noqa: E402
from reconciler.db import make_engine  # noqa: E402
from reconciler.platform import open_platform  # noqa: E402
from reconciler.platform import schema as t  # noqa: E402

TARGET_SECONDS = 1.0
TARGET_EXTRA_RSS_MIB = 300

# (provider, method, Lytics type slug or None for UI-only OAuth, weight, workflows)
AUTH_KINDS: list[tuple[str, str, str | None, int, list[str]]] = [
    ("facebook", "system_user", "facebook_system_user", 30,
     ["facebook-audience-populate", "facebook-conversion-api", "facebook-web-audience"]),
    ("facebook", "user_oauth", None, 3, ["facebook-audience-populate", "facebook-web-audience"]),
    ("google_cloud", "pubsub_service_account", "google_service_account", 15,
     ["pubsub-ingress", "google-pubsub-egress"]),
    ("google_cloud", "bigquery_service_account", "google_service_account", 3, []),
    ("google_ads", "oauth", None, 8, ["adwords-customer-match", "google-enhanced-conversions"]),
    ("amazon_ads", "oauth", None, 5, ["amazon-ads-audience-export"]),
    ("pinterest", "capi_token", "pinterest_capi", 6, ["pinterest-capi-export"]),
    ("tiktok", "events_token", "tiktok_events", 4, ["tiktok-web-events"]),
    ("liveramp", "aws_keys", "liveramp_aws", 3, ["liveramp-s3-export"]),
    ("liveramp", "sftp_key", "liveramp_sftp", 3, ["liveramp-identifier-export"]),
    ("x", "oauth1", None, 3, ["twitter-export-audience"]),
    ("criteo", "api_credentials", "criteo_api", 2, []),
]
OAUTH_SCOPES = {"facebook": "ads_management business_management",
                "google_ads": "https://www.googleapis.com/auth/adwords",
                "amazon_ads": "advertising::campaign_management", "x": ""}
TEAMS = ["growth", "crm", "analytics", "paid-social", "data-eng", "emea", "apac"]
AUDIENCES = ["high_value", "churn_risk", "lapsed_buyers", "newsletter", "vip", "cart_abandoners"]
# (status, weight): what a large account's job list looks like.
JOB_STATUS_MIX = [("runnable", 55), ("sleeping", 20), ("paused", 10), ("completed", 6), ("failed", 3),
                  ("fault", 1), ("killed", 2), ("initializing", 1), ("deleted", 2)]
HEALTH_MIX = [("healthy", 80), ("unknown", 15), ("unhealthy", 5)]


# -- loading (runs in a child process) --------------------------------------------------------
def _hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(10 ** (n - 1), 10 ** n - 1))


def _secret_document(rng: random.Random, provider: str, method: str, i: int) -> dict[str, Any]:
    """What the platform seals for one authorization: config + credentials (fake values)."""
    config: dict[str, Any] = {}
    if method in ("system_user", "user_oauth"):
        config["ads_account_id"] = f"act_{_digits(rng, 10)}"
    if method in ("aws_keys",):
        config["access_key"] = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    if method == "sftp_key":
        config.update(host=f"sftp{rng.randint(1, 9)}.liveramp.com", user=f"acme_{i:05d}", port=22)
    token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64))
    if method.endswith("service_account"):
        credentials = {"cert_json": json.dumps({"type": "service_account", "project_id": "acme-prod",
                                                "private_key": "-----BEGIN PRIVATE KEY-----\n" + token * 20,
                                                "client_email": f"sa-{i}@acme-prod.iam.gserviceaccount.com"})}
    elif method == "sftp_key":
        credentials = {"privatekey": "-----BEGIN OPENSSH PRIVATE KEY-----\n" + token * 6}
    elif "oauth" in method:
        credentials = {"access_token": token, "refresh_token": token[::-1]}
    else:
        credentials = {"token": token}
    return {"config": config, "credentials": credentials}


def _job_config(rng: random.Random, workflow: str, i: int) -> dict[str, Any]:
    """A small job config of real fields (providers/*.yaml), with the ones the workflow's Lytics model requires."""
    audiences = rng.sample(AUDIENCES, rng.randint(1, 3))
    segment = f"seg_{i:06d}"
    if workflow == "pubsub-ingress":
        return {"stream": f"events_{i % 50}", "topic_id": f"projects/acme-prod/topics/web-events-{i % 50:02d}"}
    if workflow == "google-pubsub-egress":
        return {"topic_id": f"audience-events-{i % 20:02d}", "segment_ids": audiences}
    if workflow == "facebook-audience-populate":
        return {"ads_account_id": f"act_{_digits(rng, 10)}", "segment_ids": audiences}
    if workflow == "facebook-conversion-api":
        return {"pixel": _digits(rng, 15), "segment_ids": audiences}
    if workflow == "facebook-web-audience":
        return {"ads_account_id": f"act_{_digits(rng, 10)}", "pixel": _digits(rng, 15)}
    if workflow == "adwords-customer-match":
        return {"adwords_account_id": f"{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 4)}", "segment_id": segment}
    if workflow == "google-enhanced-conversions":
        return {"customer_id": _digits(rng, 10), "conversion_action": "purchase", "conversion_environment": "WEB",
                "source": "FIRST_PARTY", "segment_id": segment}
    if workflow == "amazon-ads-audience-export":
        return {"advertiser_id": _digits(rng, 15), "profile_id": _digits(rng, 14), "segment_id": segment}
    if workflow == "pinterest-capi-export":
        return {"segment_id": segment, "identifier_mapping": [{"lytics": "email", "pinterest": "em"}],
                "required_mapping": [{"lytics": "last_order_at", "pinterest": "event_time"}]}
    if workflow == "tiktok-web-events":
        return {"pixel_code": f"CJ4{_digits(rng, 17)}", "event_source": "web", "event_name": "CompletePayment",
                "page_url": "https://www.example.com/checkout", "segment_ids": audiences,
                "identifier_mapping": [{"lytics": "email", "tiktok": "email"}],
                "property_mapping": [{"lytics": "order_value", "tiktok": "value"}]}
    if workflow == "liveramp-s3-export":
        return {"bucket": "com-liveramp-eu-customer-uploads", "directory": f"acme/{i % 20:02d}",
                "segment_ids": audiences}
    if workflow == "liveramp-identifier-export":
        return {"identifier_field": "email", "identifier_type": "IDENTITYLINK", "segment_ids": audiences}
    if workflow == "twitter-export-audience":
        return {"ad_account_id": f"18ce5{_digits(rng, 5)}", "segment_id": segment}
    return {"segment_id": segment}


def load(url: str, key_file: str, n_auths: int, n_jobs: int, n_exps: int, seed: int) -> dict[str, int]:
    """Create the platform and bulk-insert everything in one transaction; returns counts."""
    rng = random.Random(seed)
    platform = open_platform(url, key_file=Path(key_file))
    sealer = platform._sealer  # the platform's own key: realistic blobs, one per authorization
    base = datetime(2023, 1, 1, tzinfo=UTC)
    kinds = AUTH_KINDS
    kind_weights = [k[3] for k in AUTH_KINDS]
    health_names, health_weights = zip(*HEALTH_MIX, strict=True)
    status_names, status_weights = zip(*JOB_STATUS_MIX, strict=True)

    auth_rows: list[dict[str, Any]] = []
    by_workflow: dict[str, list[str]] = {}
    bindable: list[tuple[str, list[str]]] = []  # (auth id, its workflows)
    for i in range(n_auths):
        provider, method, type_, _, workflows = rng.choices(kinds, kind_weights)[0]
        auth_id = _hex_id(rng)
        created = base + timedelta(minutes=rng.randint(0, 500_000))
        updated = created + timedelta(minutes=rng.randint(0, 50_000))
        health = rng.choices(health_names, health_weights)[0]
        oauth = "oauth" in method
        label = f"{provider} {method} {i:05d}"
        auth_rows.append({
            "id": auth_id, "provider": provider, "method": method, "type": type_, "label": label,
            "label_key": label.casefold(), "description": f"{provider} {method} for team {rng.choice(TEAMS)}",
            "secret_blob": sealer.seal(_secret_document(rng, provider, method, i)),
            "owner": rng.choice(["authctl", "authctl", "jane@acme.example", "ui"]),
            "created": created, "updated": updated, "health": health,
            "health_reason": "token expired" if health == "unhealthy" else "",
            "health_checked_at": updated + timedelta(hours=1) if health != "unknown" else None,
            "token_expires_at": updated + timedelta(days=60) if oauth else None,
            "scopes": OAUTH_SCOPES.get(provider, "") if oauth else "",
        })
        for workflow in workflows:
            by_workflow.setdefault(workflow, []).append(auth_id)
        if workflows:
            bindable.append((auth_id, workflows))
    if n_jobs and not bindable:
        raise SystemExit("no authorization can run a job; raise --auths")

    job_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    for i in range(n_jobs):
        first, workflows = rng.choice(bindable)
        workflow = rng.choice(workflows)
        bound = [first]
        pool = by_workflow[workflow]
        if len(pool) > 1 and rng.random() < 0.25:  # a job fed by two accounts
            second = rng.choice(pool)
            if second != first:
                bound.append(second)
        job_id = _hex_id(rng)
        created = base + timedelta(minutes=rng.randint(0, 500_000))
        config = _job_config(rng, workflow, i)
        job_rows.append({
            "id": job_id, "name": f"{workflow}-{i:06d}", "workflow": workflow,
            "status": rng.choices(status_names, status_weights)[0],
            "description": f"{workflow} for team {rng.choice(TEAMS)}" if rng.random() < 0.3 else "",
            "config": json.dumps(config, sort_keys=True), "owner": "authctl",
            "created": created, "updated": created + timedelta(minutes=rng.randint(0, 50_000)),
        })
        link_rows += [{"job_id": job_id, "auth_id": a, "position": p} for p, a in enumerate(bound)]

    exp_rows: list[dict[str, Any]] = []
    exp_link_rows: list[dict[str, Any]] = []
    all_auth_ids = [r["id"] for r in auth_rows]
    for i in range(n_exps if all_auth_ids else 0):
        exp_id = _hex_id(rng)
        exp_rows.append({"id": exp_id, "name": f"experience-{i:04d}", "status": "imported",
                         "created": base + timedelta(minutes=rng.randint(0, 500_000))})
        for auth_id in rng.sample(all_auth_ids, min(len(all_auth_ids), rng.randint(1, 3))):
            exp_link_rows.append({"experience_id": exp_id, "auth_id": auth_id})

    with platform._db.engine.begin() as conn:  # one transaction, executemany per table
        for table, rows in ((t.authorizations, auth_rows), (t.jobs, job_rows), (t.job_auths, link_rows),
                            (t.experiences, exp_rows), (t.experience_auths, exp_link_rows)):
            if rows:
                conn.execute(insert(table), rows)
    platform.close()
    return {"jobs_not_deleted": sum(r["status"] != "deleted" for r in job_rows), "job_auth_links": len(link_rows),
            "experience_auth_links": len(exp_link_rows), "experiences": len(exp_rows)}


def _load_child(queue: Any, *args: Any) -> None:
    try:
        queue.put(("ok", load(*args)))
    except BaseException as exc:  # report to the parent instead of dying silently
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


# -- measuring (this process) -------------------------------------------------------------------
def _status_mib(field: str) -> float | None:
    """A VmRSS/VmHWM figure from /proc/self/status in MiB (None where there is no /proc)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; Linux >= 4.0."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _drop_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        t.metadata.drop_all(engine)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auths", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--experiences", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--url", default=None,
                        help="SQLAlchemy URL of an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one snapshot to stderr")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="authctl-snapshot-bench-"))
    url = args.url or f"sqlite:///{tmp / 'platform.db'}"
    key_file = str(tmp / "platform.key")
    created_tables = False
    try:
        if args.url:
            probe = make_engine(url)
            try:
                if t.meta.name in inspect(probe).get_table_names():
                    parser.error("--url: the database already holds platform tables; use an empty database")
            finally:
                probe.dispose()
        created_tables = True
        started = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=_load_child,
                            args=(queue, url, key_file, args.auths, args.jobs, args.experiences, args.seed))
        child.start()
        outcome, loaded = queue.get()
        child.join()
        if outcome != "ok":
            sys.stderr.write(f"loading failed: {loaded}\n")
            return 1
        load_seconds = time.perf_counter() - started

        platform = open_platform(url, key_file=Path(key_file))
        statements = 0

        @event.listens_for(platform._db.engine, "before_cursor_execute")
        def _count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        backend = LocalBackend(platform)
        platform._db.engine.dispose()  # run 1 opens a fresh connection: cold-ish
        gc.collect()
        runs: list[float] = []
        extra: list[float] = []
        counted: list[int] = []
        deferred_gc: list[float] = []
        cpu: list[float] = []
        rss_before_first = _status_mib("VmRSS")
        hwm_reset = True
        for _ in range(max(1, args.repeat)):
            gc.collect()
            hwm_reset = _reset_peak() and hwm_reset
            before = _status_mib("VmRSS")
            statements = 0
            start, cpu_start = time.perf_counter(), time.process_time()
            snap = backend.snapshot()
            returned = time.perf_counter()
            gc.collect(0)  # garbage-collection work deferred past the call is part of its cost
            seconds = time.perf_counter() - start
            cpu.append(round(time.process_time() - cpu_start, 3))
            peak = _status_mib("VmHWM")
            runs.append(round(seconds, 3))
            deferred_gc.append(round(seconds - (returned - start), 3))
            counted.append(statements)
            if before is not None and peak is not None:
                extra.append(round(peak - before, 1))
            if (len(snap.authorizations), len(snap.jobs), len(snap.experiences)) != (
                    args.auths, loaded["jobs_not_deleted"], loaded["experiences"]):
                sys.stderr.write("snapshot is incomplete: "
                                 f"{len(snap.authorizations)} auths, {len(snap.jobs)} jobs, "
                                 f"{len(snap.experiences)} experiences\n")
                return 1
            del snap

        gc.collect()
        tracemalloc.start()
        snap = backend.snapshot()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del snap

        if args.profile:
            gc.collect()
            profiler = cProfile.Profile()
            profiler.enable()
            snap = backend.snapshot()
            profiler.disable()
            del snap
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            sys.stderr.write(out.getvalue())
        platform.close()

        median = statistics.median(runs)
        extra_rss = max(extra) if extra else None
        result = {
            "benchmark": "snapshot_scale",
            "database": platform._db.engine.dialect.name,
            "authorizations": args.auths,
            "jobs": args.jobs,
            "jobs_in_snapshot": loaded["jobs_not_deleted"],
            "experiences": loaded["experiences"],
            "job_auth_links": loaded["job_auth_links"],
            "secret_blobs": "one per authorization, sealed with the platform's Sealer",
            "load_seconds": round(load_seconds, 1),
            "seconds": {"min": min(runs), "median": round(median, 3), "runs": runs},
            "cpu_seconds": {"min": min(cpu), "median": round(statistics.median(cpu), 3), "runs": cpu},
            "deferred_gc_seconds": deferred_gc,
            "sql_statements": max(counted),
            "sql_statements_runs": counted,
            "extra_rss_mib": extra_rss,
            "extra_rss_mib_runs": extra,
            "rss_before_mib": round(rss_before_first, 1) if rss_before_first is not None else None,
            "peak_reset": hwm_reset,
            "tracemalloc_peak_mib": round(traced_peak / 1048576, 1),
            "target": {"seconds": TARGET_SECONDS, "extra_rss_mib": TARGET_EXTRA_RSS_MIB},
            "meets_target": median <= TARGET_SECONDS and extra_rss is not None
            and extra_rss <= TARGET_EXTRA_RSS_MIB,
            "python": pyplatform.python_version(),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(result))
        return 0
    finally:
        if args.url and created_tables:
            _drop_tables(url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
