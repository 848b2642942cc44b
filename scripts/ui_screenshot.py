"""The README's picture of the dashboard: docs/ui-list.png, the authorizations list of the demo workspace.

    .venv/bin/python scripts/ui_screenshot.py [--out docs/ui-list.png] [--page authorizations]

It seeds the workspace `make demo` uses, quietly and in a temporary folder: scripts/demo.py's
story (manifests/ applied, a job started outside the manifests that blocks a delete, a
rotated token that replaced an authorization) and, when the OAuth test server is there, its
OAuth story (a Pinterest connection logged in, revoked, re-authorized: healthy). Then it
starts `authctl ui` on it and saves the page as a real headless Chromium draws it, 1280x800:
Debian's chromium and chromium-driver through tests/browser_support.py, the browser of the
browser tests (`make browser` installs it). Nothing is downloaded, and nothing in the
checkout changes but the PNG. Run it again after changing the dashboard's look, and look at
the picture before committing it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]  # browser_support, ui_support; demo

import demo  # noqa: E402
from browser_support import missing_packages, start_chromium  # noqa: E402
from ui_support import start_ui  # noqa: E402

DEMO_SECRETS = {"FB_MAIN_SYSTEM_USER_TOKEN": "demo-fb-main-token-1", "FB_EMEA_SYSTEM_USER_TOKEN": "demo-fb-emea-token",
                "PINTEREST_CAPI_TOKEN": "demo-pinterest-token", "AUTHCTL_USER": "demo@acme.example"}


def seed_demo(workspace: Path) -> dict[str, str]:
    """The demo's workspace after its story (see the module docstring); the environment its commands need."""
    shutil.copytree(ROOT / "manifests", workspace, ignore=shutil.ignore_patterns(".authctl", "secrets"))
    (workspace / "secrets").mkdir()
    (workspace / "secrets" / "gcp-pubsub-sa.json").write_text(
        '{"type": "service_account", "client_email": "lytics@acme-prod.iam.gserviceaccount.com", '
        '"private_key": "demo-not-a-real-key"}')
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **DEMO_SECRETS}
    transcript = io.StringIO()
    try:
        with contextlib.redirect_stdout(transcript), \
                demo.oauth_test_provider(env) if demo.oauth_provider_available() else nullcontext() as provider:
            if provider is not None:
                demo.add_oauth_settings(workspace, provider)
            demo.story(workspace, env)
            demo.oauth_story(workspace, env, provider)
    except SystemExit:
        sys.stderr.write(transcript.getvalue())
        raise
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ui-list.png", help="the PNG to write")
    parser.add_argument("--page", default="authorizations", help="the dashboard path to picture")
    args = parser.parse_args(argv)
    if missing := missing_packages():
        print(f"ui_screenshot: needs Debian's {' and '.join(missing)} (`make browser`)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="authctl-ui-shot-") as tmp:
        workspace = Path(tmp) / "workspace"
        env = seed_demo(workspace)
        with start_ui(workspace, env=env) as ui, start_chromium(Path(tmp) / "chromium-profile") as browser:
            browser.open(ui.url)  # the token URL: the cookie, then the list
            if args.page != "authorizations":
                browser.open(f"{ui.base_url}/{args.page.lstrip('/')}")
            browser.assert_no_console_errors(args.page)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            shot = browser.screenshot(Path(tmp), "page", full_page=False)
            shutil.copyfile(shot, args.out)
    print(f"ui_screenshot: wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
