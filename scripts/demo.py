"""`make demo`: the whole authctl story on the embedded platform, in a throwaway workspace.

It copies manifests/ into a temporary folder (your checkout is never touched), sets
demo secrets in the environment, and runs the real CLI as a newcomer would:
validate -> plan -> apply -> status -> plan (no changes) -> a job started outside the
manifests blocks a delete -> a credential rotation replaces an authorization and moves
its jobs without stopping them.

``--backend http`` (``make demo DEMO_BACKEND=http``) tells the same story over HTTP: the
embedded platform is served in the Lytics API shape by ``authctl platform serve`` on
127.0.0.1, deleting in cascade as Lytics does, and the workspace uses the ``lytics``
backend. The blocked delete is then authctl's own guard: the platform would have stopped
the job.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def authctl(workspace: Path, *args: str, env: dict[str, str], expect: tuple[int, ...] = (0,)) -> str:
    print(f"{DIM}$ authctl {' '.join(args)}{RESET}", flush=True)
    result = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=workspace, env=env,
                            capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)
    print(f"{DIM}(exit code {result.returncode}){RESET}", flush=True)
    if result.returncode not in expect:
        raise SystemExit(f"demo: `authctl {' '.join(args)}` exited {result.returncode}, expected {expect}")
    return result.stdout


def drop_document(path: Path, name: str) -> None:
    """Remove the YAML document whose metadata.name is ``name`` (as a person editing the file would)."""
    documents = path.read_text().split("\n---\n")
    kept = [d for d in documents if f"name: {name}\n" not in d]
    path.write_text("\n---\n".join(kept))


@contextmanager
def served_platform(workspace: Path, env: dict[str, str]) -> Iterator[None]:
    """Serve a fresh platform over HTTP (Lytics API shape, cascade deletes) and point the workspace at it."""
    env["DEMO_LYTICS_TOKEN"] = secrets.token_urlsafe(24)
    command = [sys.executable, "-m", "reconciler", "platform", "serve", "--port", "0", "--cascade",
               "--path", str(workspace.parent / "served-platform.db"), "--token-env", "DEMO_LYTICS_TOKEN"]
    print(f"{DIM}$ authctl {' '.join(command[3:])} &{RESET}", flush=True)
    server = subprocess.Popen(command, cwd=workspace, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r"listening on (http://\S+)", line)
        if match is None:
            raise SystemExit(f"demo: `authctl platform serve` did not start (exit {server.poll()})")
        print(line.rstrip(), flush=True)
        settings = workspace / "authctl.yaml"
        text = re.sub(r"^backend:\n(?:  .*\n)+", "backend:\n  kind: lytics\n"
                      f"  url: {match.group(1)}\n  token: {{env: DEMO_LYTICS_TOKEN}}\n",
                      settings.read_text(), count=1, flags=re.M)
        settings.write_text(text)
        print(f"The workspace's backend is now the lytics API at {match.group(1)} (authctl.yaml).")
        yield
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The authctl demo.")
    parser.add_argument("--backend", choices=["local", "http"], default=os.environ.get("DEMO_BACKEND") or "local",
                        help="local: the embedded platform in process; http: served over HTTP in the Lytics API shape")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="authctl-demo-") as tmp:
        workspace = Path(tmp) / "workspace"
        shutil.copytree(ROOT / "manifests", workspace, ignore=shutil.ignore_patterns(".authctl", "secrets"))
        (workspace / "secrets").mkdir()
        (workspace / "secrets" / "gcp-pubsub-sa.json").write_text(
            '{"type": "service_account", "client_email": "lytics@acme-prod.iam.gserviceaccount.com", '
            '"private_key": "demo-not-a-real-key"}')
        env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "AUTHCTL_USER": "demo@acme.example",
               "FB_MAIN_SYSTEM_USER_TOKEN": "demo-fb-main-token-1", "FB_EMEA_SYSTEM_USER_TOKEN": "demo-fb-emea-token",
               "PINTEREST_CAPI_TOKEN": "demo-pinterest-token"}
        print(f"Demo workspace: {workspace} (a copy of manifests/, removed afterwards)")
        with served_platform(workspace, env) if args.backend == "http" else nullcontext():
            story(workspace, env)
    print(f"\nDemo finished in {time.monotonic() - started:.1f} s.")


def story(workspace: Path, env: dict[str, str]) -> None:
    """The steps, the same whichever backend the workspace uses."""
    say("1. Validate the manifests (no secrets, no platform needed)")
    authctl(workspace, "validate", env=env)

    say("2. Plan: what would change? (PR CI runs exactly this)")
    authctl(workspace, "plan", env=env)

    say("3. Apply after review")
    authctl(workspace, "apply", "--auto-approve", env=env)

    say("4. Status: what is live, its health, and what this workspace manages")
    authctl(workspace, "status", env=env)

    say("5. Plan again: nothing to do")
    authctl(workspace, "plan", "--detailed-exitcode", env=env)

    say("6. Someone starts a job in the platform UI on the EMEA authorization...")
    authctl(workspace, "platform", "jobs", "create", "--name", "emea-lookalikes-manual",
            "--workflow", "facebook-audience-populate", "--auth", "Facebook Ads EMEA (prod)", env=env)
    print("...and a pull request removes fb-ads-emea and its job from the manifests.")
    drop_document(workspace / "facebook" / "authorizations.yaml", "fb-ads-emea")
    drop_document(workspace / "facebook" / "jobs.yaml", "fb-audiences-emea")
    authctl(workspace, "plan", env=env, expect=(3,))
    print("The plan shows the delete as BLOCKED and names the job (exit code 3: it cannot converge).")
    authctl(workspace, "apply", "--auto-approve", env=env, expect=(3,))
    print("Apply deleted the managed job, skipped the blocked delete, and the running job keeps working.")

    say("7. Rotate the Facebook main token: config is immutable, so it is a replacement")
    env["FB_MAIN_SYSTEM_USER_TOKEN"] = "demo-fb-main-token-2"
    authctl(workspace, "plan", env=env, expect=(3,))
    authctl(workspace, "apply", "--auto-approve", env=env, expect=(3,))
    print("The new authorization was created, the job moved onto it while running, the old one deleted;")
    print("only the EMEA delete stays blocked (exit 3) until emea-lookalikes-manual stops.")
    authctl(workspace, "show", "fb-ads-main", env=env)


if __name__ == "__main__":
    main()
