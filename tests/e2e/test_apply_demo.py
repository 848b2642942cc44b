"""`make demo` (and `make demo DEMO_BACKEND=http`): scripts/demo.py tells the whole story and succeeds.

Over HTTP the platform is `authctl platform serve` deleting in cascade, as Lytics does: the
delete is still BLOCKED, by authctl's own guard, and the served token never shows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "http"])
def test_the_demo_runs_end_to_end(backend: str) -> None:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("AUTHCTL_PLATFORM_KEY", None)
    env.pop("DEMO_BACKEND", None)
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "demo.py"), "--backend", backend],
                            cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=240,
                            stdin=subprocess.DEVNULL)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out
    assert "No changes" in out  # the second plan
    assert "BLOCKED" in out  # the delete of an authorization a job started outside the manifests uses
    assert re.search(r"replace-create Authorization/\S+ \.\.\. ok", out)  # the credential rotation
    assert "(exit code 3)" in out
    assert "Demo finished" in out
    assert "demo-fb-main-token" not in out and "demo-not-a-real-key" not in out  # its secrets stay secret
    if backend == "http":
        assert "listening on http://127.0.0.1:" in out and "backend is now the lytics API" in out
    # OAuth: login against the local test server, a revocation, then reauth in place (same id).
    login = re.search(r"Logged in: Authorization/pinterest-ads is (\w+) ", out)
    assert login is not None, out
    assert "run `authctl reauth pinterest-ads` (same id: jobs keep working)" in out
    assert f"Re-authorized Authorization/pinterest-ads: same id {login.group(1)} " in out
    after_reauth = out.split("Re-authorized Authorization/pinterest-ads", 1)[1]
    assert re.search(r"pinterest-ads\s+pinterest/oauth\s+Healthy\b", after_reauth), after_reauth  # all scopes count
