"""Benchmark: `authctl health --all` over 1,000 OAuth authorizations against a provider with 50 ms latency.

Why
    Issue 13: health checks call the provider once per authorization, and a platform holds
    hundreds or thousands of them. Checked one after another at 50 ms each, 1,000 would
    take 50 s; the worker checks ``--concurrency`` (20) at once over one pooled
    ``httpx2.Client``, so the floor is 1,000 x 50 ms / 20 = 2.5 s. The bar: the whole
    command, as a subprocess (start-up, snapshot, checks, recording 1,000 results with
    their request counts), takes <= 5 s, with exactly one provider request per
    authorization. This is a benchmark, not a timed test: it exits 0 unless something
    breaks; ``meets_target`` says whether the bar was met.

How
    1. The test OAuth provider (tests/oauth_provider, authlib's Flask server) runs as a
       subprocess with ``--latency-ms`` on every answer and auto-consent
       (tests/oauth_support.start_provider; loopback only; its client secret in the
       environment, never on a command line).
    2. ``--grants`` real grants (authorization code + PKCE S256 with authlib, 20 at a
       time), untimed; the ``--auths`` Pinterest OAuth authorizations (``pinterest/oauth``,
       whose check is ``GET /v5/user_account`` with a bearer token) share them round-robin
       and are created directly in the workspace's embedded platform, as `authctl login`
       stores a grant (credentials encrypted, expiry in an hour, scopes ``ads:read
       ads:write``). ``authctl.yaml`` sends pinterest to the provider
       (``oauth_clients`` + ``provider_overrides``).
    3. With ``--backend http`` the workspace's platform is served (``authctl platform serve``,
       tests/served_support.serve_platform) and ``authctl.yaml`` points the ``lytics`` backend
       at it: the checks then run server-side, the CLI sending the ids in batches.
       ``python -m reconciler health --all --format json --concurrency N -w WS`` runs
       ``--repeat`` times (default 1; each run checks everything again), wall seconds
       around the subprocess, CPU and peak RSS from benchmarks/measure.py. Each run must
       exit 0 and report every authorization healthy.
    4. Provider requests made: its ``/_test/stats`` before and after (the ``me`` route is
       the check; ``token`` would be refreshes, expected 0).
    5. Print one JSON object: sizes, latency, concurrency, seconds (min/median/runs), CPU,
       peak RSS, requests, the floor, the target, ``meets_target``, python version, cpus,
       load averages.

Usage
    .venv/bin/python benchmarks/health_scale.py [--auths N] [--grants N] [--latency-ms MS] [--concurrency N]
        [--repeat N] [--backend local|http]
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from measure import Run, gnu_time_available, load_average, run_measured, series  # benchmarks/measure.py

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
sys.path[:0] = [str(ROOT), str(TESTS)]

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.httpx_client import OAuth2Client  # noqa: E402
from oauth_support import SECRET_ENV, ProviderProcess, consent, overrides_yaml, start_provider  # noqa: E402

TARGET_SECONDS = 5.0
SCOPES = "ads:read ads:write"
REDIRECT_URI = "http://127.0.0.1:9/callback"
SETTINGS = "name: health-bench\nbackend: {kind: local, path: .authctl/platform.db}\nstate: {url: .authctl/state.db}\n"


def one_grant(provider: ProviderProcess) -> dict[str, Any]:
    """Authorization code + PKCE with auto-consent: the authorize GET redirects with the code at once."""
    with OAuth2Client(provider.client_id, provider.client_secret, scope=SCOPES, redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256", timeout=30) as client:
        verifier = generate_token(48)
        url, _ = client.create_authorization_url(f"{provider.url}/oauth/authorize", code_verifier=verifier)
        location = consent(url)  # auto-consent: the authorize GET redirects at once
        return dict(client.fetch_token(f"{provider.url}/oauth/token", authorization_response=location,
                                       code_verifier=verifier))


def populate(workspace: Path, grants: list[dict[str, Any]], auths: int) -> None:
    """``auths`` pinterest/oauth authorizations in the workspace's platform, sharing the grants round-robin."""
    from reconciler.platform import open_platform

    (workspace / ".authctl").mkdir(parents=True, exist_ok=True)
    platform = open_platform(f"sqlite:///{workspace / '.authctl' / 'platform.db'}")
    expiry = datetime.now(UTC) + timedelta(hours=1)
    try:
        for n in range(auths):
            token = grants[n % len(grants)]
            platform.create_authorization(
                provider="pinterest", method="oauth", type="authctl-pinterest-oauth", label=f"Pinterest {n:05d}",
                credentials={"access_token": token["access_token"], "refresh_token": token["refresh_token"]},
                token_expires_at=expiry, scopes=tuple(SCOPES.split()))
    finally:
        platform.close()


@contextmanager
def served(workspace: Path, backend: str, client_secret: str) -> Iterator[dict[str, str]]:
    """Nothing for ``local``; for ``http`` the workspace's platform served and ``authctl.yaml`` pointed at it."""
    if backend == "local":
        yield {}
        return
    from served_support import serve_platform  # tests/served_support.py

    token = secrets.token_urlsafe(24)
    settings = workspace / "authctl.yaml"
    original = settings.read_text()
    os.environ[SECRET_ENV] = client_secret  # the server runs the checks: it reads the OAuth app's secret
    with serve_platform(workspace, token=token, extra_args=("--path", str(workspace / ".authctl" / "platform.db"))) \
            as server:
        settings.write_text(original.replace(
            "backend: {kind: local, path: .authctl/platform.db}",
            f"backend: {{kind: lytics, url: \"{server.url}\", token: {{env: LYTICS_API_TOKEN}}}}"))
        yield {"LYTICS_API_TOKEN": token}


def timed_runs(args: argparse.Namespace, workspace: Path, env: dict[str, str], work: Path,
               gnu: bool) -> tuple[list[Run], list[int]]:
    runs, healthy = [], []
    for index in range(args.repeat):
        run = run_measured([sys.executable, "-m", "reconciler", "health", "--all", "--format", "json",
                            "--concurrency", str(args.concurrency), "-w", str(workspace)],
                           env, work, f"health-{index}", gnu=gnu)
        if run.code != 0:
            print(run.tail(), file=sys.stderr)
            raise SystemExit(f"authctl health exited {run.code}")
        healthy.append(json.loads(run.stdout)["summary"]["healthy"])
        runs.append(run)
    return runs, healthy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auths", type=int, default=1000)
    parser.add_argument("--grants", type=int, default=100, help="distinct grants the authorizations share")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backend", choices=("local", "http"), default="local",
                        help="local: checks in the CLI process; http: in `authctl platform serve`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="authctl-health-bench-") as scratch:
        work = Path(scratch)
        with start_provider(work / "provider", auto_consent=True, latency_ms=args.latency_ms) as provider:
            workspace = work / "ws"
            workspace.mkdir()
            (workspace / "authctl.yaml").write_text(SETTINGS + overrides_yaml("pinterest", provider.url))
            with ThreadPoolExecutor(20) as pool:
                grants = list(pool.map(lambda _: one_grant(provider), range(max(1, min(args.grants, args.auths)))))
            populate(workspace, grants, args.auths)
            env = {**os.environ, SECRET_ENV: provider.client_secret, "NO_COLOR": "1"}
            env.pop("AUTHCTL_PLATFORM_KEY", None)
            gnu = gnu_time_available()
            with served(workspace, args.backend, provider.client_secret) as token:
                env.update(token)
                before = provider.stats()
                runs, healthy = timed_runs(args, workspace, env, work, gnu)
                after = provider.stats()
    measured = series(runs)

    requests = {key: after[key] - before[key] for key in ("me", "token", "revoke", "total")}
    median = measured["seconds"]["median"]
    result = {
        "benchmark": "health_scale", "backend": args.backend, "authorizations": args.auths, "grants": len(grants),
        "latency_ms": args.latency_ms, "concurrency": args.concurrency, "repeat": args.repeat,
        **measured, "healthy_per_run": healthy,
        "provider_requests": requests, "requests_per_run": requests["total"] / max(args.repeat, 1),
        "floor_seconds": round(args.auths * args.latency_ms / 1000 / args.concurrency, 2),
        "target_seconds": TARGET_SECONDS,
        "meets_target": median <= TARGET_SECONDS and all(h == args.auths for h in healthy)
                        and requests["me"] == args.auths * args.repeat,
        "python": pyplatform.python_version(), "cpus": os.cpu_count(), "load_average": load_average(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
