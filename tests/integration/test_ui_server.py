"""`authctl ui` as a person runs it: a real subprocess serving on 127.0.0.1, over both backends.

The workspace is seeded once (tests/ui_support.seed_workspace) on the embedded platform;
each backend mode then starts the real server (``python -m reconciler ui -w ROOT --port 0``)
with the workspace as it is (``local``) or pointed at the same platform served over HTTP
(``http``: the lytics backend against `authctl platform serve`, tests/backend_modes.py).
What the dashboard's API says about an object must be what the CLI's JSON says about it,
field for field: ``status``, ``show`` (an authorization and a job), ``platform jobs list``
and ``plan``, each run as a CLI subprocess in the same mode. And the command's own edges:
the printed line, a clean exit on SIGTERM, an unreadable backend, a port in use.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backend_modes import BACKENDS, use_backend
from ui_support import CANARY, HOSTILE_JOB, HOSTILE_LABEL, Seeded, secret_env, seed_workspace, start_ui

from reconciler.cli.ui_command import is_loopback


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_workspace(tmp_path_factory.mktemp("ui-server") / "ws")


@pytest.fixture(params=BACKENDS)
def mode(request: pytest.FixtureRequest, seeded: Seeded) -> Iterator[str]:
    with use_backend(seeded.root, request.param):
        yield request.param


def _cli_json(run_cli: Any, root: Path, *args: str, codes: tuple[int, ...] = (0,)) -> Any:
    result = run_cli(*args, "--format", "json", "-w", root, cwd=root, env=secret_env())
    assert result.returncode in codes, (args, result.returncode, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_the_api_says_what_the_cli_says(seeded: Seeded, mode: str, run_cli: Any) -> None:
    root = seeded.root
    with start_ui(root) as ui:
        client = ui.client()
        status = _cli_json(run_cli, root, "status")
        listed = client.get("/api/authorizations?per_page=500").json()
        assert listed["authorizations"] == status["authorizations"]  # every field of every row, in the same order
        assert listed["format_version"] == status["format_version"]

        shown = _cli_json(run_cli, root, "show", "alpha")
        detail = client.get(f"/api/authorizations/{seeded.ids['alpha']}").json()
        assert set(shown) <= set(detail)
        assert {k: v for k, v in detail.items() if k in shown and k != "requests"} == \
            {k: v for k, v in shown.items() if k != "requests"}
        for window in ("hour", "day", "week", "month"):
            assert detail["requests"][window] == shown["requests"][window] > 0
        assert len(detail["requests"]["hourly"]) == len(shown["requests"]["hourly"]) == 720

        job = _cli_json(run_cli, root, "show", "alpha-sync")
        assert client.get(f"/api/jobs/{seeded.ids['alpha-sync']}").json() == job

        platform_jobs = {j["id"]: j for j in _cli_json(run_cli, root, "platform", "jobs", "list")["jobs"]}
        api_jobs = {j["id"]: j for j in client.get("/api/jobs?per_page=500").json()["jobs"]}
        assert set(api_jobs) == set(platform_jobs)
        for job_id, row in platform_jobs.items():
            assert {k: api_jobs[job_id][k] for k in row} == row

        plan = _cli_json(run_cli, root, "plan", codes=(3,))
        planned = client.get("/api/plan").json()
        assert {k: planned[k] for k in plan} == plan
        assert [b["name"] for a in planned["actions"] for b in a["blocked_by"]] == [HOSTILE_JOB]

        page = client.get("/authorizations")
        assert page.status_code == 200 and "&lt;script&gt;" in page.text and HOSTILE_LABEL not in page.text
        everything = "".join(client.get(p).text for p in (
            "/authorizations", "/plan", "/jobs", f"/authorizations/{seeded.ids['pin-oauth']}", "/api/plan"))
        assert CANARY not in everything
    out, err = ui.output()
    assert CANARY not in out + err and "Traceback" not in err


def test_the_server_prints_one_line_refuses_strangers_and_stops_cleanly(seeded: Seeded) -> None:
    with start_ui(seeded.root) as ui:
        out, err = ui.output()
        assert out.splitlines() == [f"authctl ui: open {ui.url}"]
        assert ui.url.startswith("http://127.0.0.1:") and len(ui.token) >= 40
        assert err == ""  # nothing to warn about on loopback
        stranger = ui.anonymous()
        assert stranger.get("/authorizations").status_code == 401
        assert stranger.get(f"/?token={ui.token}x").status_code == 403
        assert stranger.get(ui.url, headers={"Host": f"rebound.example:{ui.port}"}).status_code == 400
        first = stranger.get(ui.url)
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
        assert stranger.get("/authorizations").status_code == 200
        assert stranger.post("/plan").status_code == 405
    assert ui.process.returncode == 0  # SIGTERM: a clean exit (start_ui asserts it too)
    assert ui.token not in ui.output()[1]  # the token is printed once, on stdout, never logged


def test_an_unreadable_backend_stops_the_command_before_it_listens(tmp_path: Path, run_cli: Any) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text("name: ui-broken\nbackend: {kind: lytics, url: 'http://127.0.0.1:9', "
                                       "token: {env: UI_TEST_MISSING_TOKEN}}\nstate: {url: .authctl/state.db}\n")
    result = run_cli("ui", "--port", "0", "-w", root, cwd=root, env={"UI_TEST_MISSING_TOKEN": None}, timeout=60)
    assert result.returncode == 1
    assert "UI_TEST_MISSING_TOKEN" in result.stderr and "Traceback" not in result.stderr
    assert "authctl ui: open" not in result.stdout


def test_a_port_in_use_is_a_one_line_error(seeded: Seeded, run_cli: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("ui", "--port", str(port), "-w", seeded.root, cwd=seeded.root, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.com", ""))
