"""`authctl plan` over HTTP takes its snapshot while the manifests load (session.EarlySnapshot).

What a person sees must not change: the plan still costs one list call per collection (the
early snapshot is the plan's snapshot, never a second one); invalid manifests are reported
as before, whatever the platform answers or whether it answers at all; a refused token is
the same one-line error as without the early snapshot.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from apply_support import auth_doc, documents, settings
from backend_modes import use_backend
from cli_runner import CliRunner, WorkspaceMaker

ENV = {"ES_TOKEN": "early-snapshot-token"}


def _workspace(make_workspace: WorkspaceMaker, *, broken: bool = False) -> Path:
    doc = auth_doc("alpha", "Alpha", "ES_TOKEN")
    if broken:
        doc = doc.replace("method: capi_token", "method: capi_tokn")
    return make_workspace({"main.yaml": documents(doc)}, settings=settings("early"))


def test_the_plan_uses_the_early_snapshot_and_no_other(make_workspace: WorkspaceMaker, run_cli: CliRunner) -> None:
    root = _workspace(make_workspace)
    assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
    with use_backend(root, "http", "guarded", extra_args=("--access-log",)) as where:
        plan = run_cli("plan", "--detailed-exitcode", cwd=root, env=ENV)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        log = where.server_output()
    requests = re.findall(r'"(GET|POST|PUT|DELETE) (/v2/[^ ?"]*)', log)
    assert sorted(path for _, path in requests) == ["/v2/_authctl/experience", "/v2/auth", "/v2/job"], log


def test_invalid_manifests_come_first_whatever_the_platform_says(make_workspace: WorkspaceMaker,
                                                                 run_cli: CliRunner) -> None:
    root = _workspace(make_workspace, broken=True)
    with use_backend(root, "http", "guarded"):
        wrong = run_cli("plan", cwd=root, env={**ENV, "LYTICS_API_TOKEN": "not-the-token"})
    assert wrong.returncode == 1
    assert "capi_tokn" in wrong.stderr and "401" not in wrong.stderr and "Traceback" not in wrong.stderr
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    (root / "authctl.yaml").write_text(
        f"name: early\nbackend: {{kind: lytics, url: 'http://127.0.0.1:{port}', token: {{env: ES_LYTICS}}}}\n",
        encoding="utf-8")
    down = run_cli("plan", cwd=root, env={**ENV, "ES_LYTICS": "x"})
    assert down.returncode == 1 and "capi_tokn" in down.stderr and "cannot reach" not in down.stderr


def test_a_refused_token_is_one_clear_error(make_workspace: WorkspaceMaker, run_cli: CliRunner) -> None:
    root = _workspace(make_workspace)
    with use_backend(root, "http", "guarded"):
        plan = run_cli("plan", cwd=root, env={**ENV, "LYTICS_API_TOKEN": "not-the-token"})
    assert plan.returncode == 1 and "Traceback" not in plan.stderr
    assert "401" in plan.stderr and "backend.token" in plan.stderr and "not-the-token" not in plan.stderr
