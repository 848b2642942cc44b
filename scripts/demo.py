"""`make demo`: the whole authctl story on the embedded platform, in a throwaway workspace.

It copies manifests/ into a temporary folder (your checkout is never touched), sets
demo secrets in the environment, and runs the real CLI as a newcomer would:
validate -> plan -> apply -> status -> plan (no changes) -> a job started outside the
manifests blocks a delete -> a credential rotation replaces an authorization and moves
its jobs without stopping them -> an OAuth login against a local test authorization
server (no browser: ``--no-browser`` and a scripted consent), a revocation at the
provider, and a reauth in place that keeps the id (when the test server, tests/oauth_provider
and Flask, is available: ``make demo`` installs the dev dependencies for it). It ends by
keeping a copy of the workspace and printing the `authctl ui` command that opens the
dashboard on it (it starts no server itself).

``--backend http`` (``make demo DEMO_BACKEND=http``) tells the same story over HTTP: the
embedded platform is served in the Lytics API shape by ``authctl platform serve`` on
127.0.0.1, deleting in cascade as Lytics does, and the workspace uses the ``lytics``
backend. The blocked delete is then authctl's own guard: the platform would have stopped
the job.
"""

from __future__ import annotations

import argparse
import importlib.util
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
        # The OAuth test server starts first: authctl.yaml names it before a served platform reads its settings.
        with oauth_test_provider(env) if oauth_provider_available() else nullcontext() as provider:
            if provider is not None:
                add_oauth_settings(workspace, provider)
            with served_platform(workspace, env) if args.backend == "http" else nullcontext():
                story(workspace, env)
                oauth_story(workspace, env, provider)
        kept = keep_for_dashboard(workspace, args.backend)
    print(f"\nDemo finished in {time.monotonic() - started:.1f} s.")
    tell_dashboard(kept, args.backend)


def keep_for_dashboard(workspace: Path, backend: str) -> Path:
    """A copy of the demo workspace that outlives the demo, for `authctl ui`.

    Over HTTP the platform was the database served beside the workspace: the copy keeps it
    (``.authctl/platform.db``, with its key) and a fresh API token in ``secrets/``, and its
    ``backend`` names the port `tell_dashboard` asks to serve it on. Copies are kept in one
    folder per user; those of runs over a day old are removed.
    """
    parent = Path(tempfile.gettempdir()) / f"authctl-demo-dashboard-{os.getuid()}"
    parent.mkdir(mode=0o700, exist_ok=True)
    for old in parent.iterdir():
        if time.time() - old.stat().st_mtime > 24 * 3600:
            shutil.rmtree(old, ignore_errors=True)
    kept = Path(tempfile.mkdtemp(dir=parent)) / "workspace"
    shutil.copytree(workspace, kept)
    if backend == "http":
        (kept / ".authctl").mkdir(mode=0o700, exist_ok=True)
        for suffix in ("", ".key", "-wal", "-shm"):
            served = workspace.parent / f"served-platform.db{suffix}"
            if served.exists():
                shutil.copy2(served, kept / ".authctl" / f"platform.db{suffix}")
        token = kept / "secrets" / "lytics-token"
        token.write_text(secrets.token_urlsafe(24))
        token.chmod(0o600)
        settings = kept / "authctl.yaml"
        settings.write_text(re.sub(r"^backend:\n(?:  .*\n)+", f"backend:\n  kind: lytics\n  url: {DASHBOARD_PLATFORM}\n"
                                   "  token: {file: secrets/lytics-token}\n", settings.read_text(), count=1,
                                   flags=re.M))
    return kept


DASHBOARD_PLATFORM = "http://127.0.0.1:8765"  # where `tell_dashboard` asks to serve the kept platform (http)


def tell_dashboard(kept: Path, backend: str) -> None:
    say("The dashboard: everything above, in a browser (read-only)")
    command = Path(sys.executable).with_name("authctl")
    authctl = str(command) if command.exists() else "authctl"
    if backend == "http":
        print(f"  cd {kept}")
        print(f"  LYTICS_API_TOKEN=$(cat secrets/lytics-token) {authctl} platform serve --path .authctl/platform.db "
              f"--cascade --port {DASHBOARD_PLATFORM.rsplit(':', 1)[1]} &")
        print(f"  {authctl} ui --open")
    else:
        print(f"  {authctl} ui -w {kept} --open")
    print("`authctl ui` prints a URL carrying a fresh access token (--open opens it for you); Ctrl-C stops it.")
    print(f"The demo workspace is kept for it in {kept} (for a day: the next demo after that removes it).")


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



# -- OAuth: login, a revocation at the provider, reauth in place ------------------------------------------------
OAUTH_MANIFEST = """\
apiVersion: authctl/v1
kind: Authorization
metadata:
  name: pinterest-ads
spec:
  provider: pinterest
  method: oauth
  label: Pinterest Ads (OAuth)
  description: Customer lists for the Pinterest ad account
---
apiVersion: authctl/v1
kind: Job
metadata:
  name: pinterest-audiences
spec:
  workflow: pinterest-export-audience
  authorizations: [pinterest-ads]
  state: running
  config: {pinterest_account_id: '549755885175', segment_id: high_value}
"""


def oauth_provider_available() -> bool:
    return (ROOT / "tests" / "oauth_provider" / "__main__.py").is_file() and \
        importlib.util.find_spec("flask") is not None


@contextmanager
def oauth_test_provider(env: dict[str, str]) -> Iterator[str]:
    """The test authorization server (authlib's Flask server) on 127.0.0.1, granting at once (--auto-consent)."""
    env["DEMO_OAUTH_CLIENT_SECRET"] = secrets.token_urlsafe(24)
    command = [sys.executable, "-m", "oauth_provider", "--port", "0", "--auto-consent",
               "--client-id", "authctl-demo", "--client-secret-env", "DEMO_OAUTH_CLIENT_SECRET"]
    server_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"), env.get("PYTHONPATH")]))}
    print(f"{DIM}$ python -m oauth_provider --port 0 --auto-consent ... &{RESET}", flush=True)
    server = subprocess.Popen(command, env=server_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r"listening on (http://\S+)", line)
        if match is None:
            raise SystemExit(f"demo: the OAuth test provider did not start (exit {server.poll()})")
        print(line.rstrip(), flush=True)
        yield match.group(1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


def oauth_login(workspace: Path, command: str, name: str, env: dict[str, str]) -> None:
    """`authctl login|reauth NAME --no-browser`, with the browser's part scripted: GET the printed URL
    (the provider consents at once and redirects) and follow the redirect to authctl's loopback listener."""
    import httpx2

    print(f"{DIM}$ authctl {command} {name} --no-browser{RESET}", flush=True)
    process = subprocess.Popen([sys.executable, "-m", "reconciler", command, name, "--no-browser", "--timeout", "60"],
                               cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    url = None
    for line in iter(process.stderr.readline, ""):
        sys.stdout.write(line)
        if re.match(r"https?://\S+$", line.strip()):
            url = line.strip()
            break
    if url is None:
        out, err = process.communicate(timeout=60)
        sys.stdout.write(out + err)
        raise SystemExit(f"demo: `authctl {command} {name}` printed no authorization URL (exit {process.returncode})")
    print(f"{DIM}(the demo plays the browser: it opens that URL, the test provider consents at once and "
          f"redirects to authctl's listener on 127.0.0.1){RESET}", flush=True)
    with httpx2.Client(follow_redirects=False, timeout=10) as browser:
        location = browser.get(url).headers["Location"]
        browser.get(location)
    out, err = process.communicate(timeout=60)
    sys.stdout.write(err + out)
    print(f"{DIM}(exit code {process.returncode}){RESET}", flush=True)
    if process.returncode != 0:
        raise SystemExit(f"demo: `authctl {command} {name}` exited {process.returncode}")


def add_oauth_settings(workspace: Path, provider: str) -> None:
    """authctl.yaml: the OAuth app authctl logs in with, and the test server standing in for Pinterest's endpoints."""
    with (workspace / "authctl.yaml").open("a") as settings:
        settings.write(f"oauth_clients:\n  pinterest: {{client_id: authctl-demo, client_secret: "
                       f"{{env: DEMO_OAUTH_CLIENT_SECRET}}}}\n"
                       f"provider_overrides:\n  pinterest: {{authorization_url: '{provider}/oauth/authorize', "
                       f"token_url: '{provider}/oauth/token', revocation_url: '{provider}/oauth/revoke', "
                       f"api_base_url: '{provider}'}}\n")


def oauth_story(workspace: Path, env: dict[str, str], provider: str | None) -> None:
    say("8. OAuth: a Pinterest Ads connection a person logs in for")
    if provider is None:
        print("(skipped: the OAuth test server needs tests/oauth_provider and Flask; `make demo` installs them)")
        return
    (workspace / "partners" / "pinterest-oauth.yaml").write_text(OAUTH_MANIFEST)
    print("authctl.yaml names the OAuth app and a local test server standing in for Pinterest (oauth_clients, "
          "provider_overrides); partners/pinterest-oauth.yaml now declares the connection and a job using it.")
    authctl(workspace, "plan", env=env, expect=(3,))
    print("An OAuth connection cannot be created through the API: the plan says to run `authctl login`.")
    oauth_login(workspace, "login", "pinterest-ads", env)
    authctl(workspace, "apply", "--auto-approve", env=env, expect=(3,))
    authctl(workspace, "status", env=env)

    say("9. The grant is revoked at Pinterest (a password change, someone removed the app)...")
    import httpx2

    revoked = httpx2.post(f"{provider}/_test/revoke", json={"all": True}, timeout=10).json()
    print(f"The test provider revoked {revoked.get('revoked')} token(s).")
    authctl(workspace, "health", "pinterest-ads", env=env)
    authctl(workspace, "plan", env=env, expect=(3,))
    print("The plan asks a person to re-authorize it in place; its job keeps its binding meanwhile.")

    say("10. Re-authorize in place: same id, the job untouched, healthy again")
    oauth_login(workspace, "reauth", "pinterest-ads", env)
    authctl(workspace, "health", "pinterest-ads", env=env)
    authctl(workspace, "show", "pinterest-ads", env=env)

if __name__ == "__main__":
    main()
