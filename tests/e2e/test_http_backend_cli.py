"""The whole CLI story on both backends, and what a person sees when the HTTP backend is misconfigured or down.

``local`` is the embedded platform; ``http`` is the same platform served by ``authctl
platform serve`` and reached by the ``lytics`` backend (backend_modes.use_backend). The
story: plan, apply, plan again (no changes), status, show, a credential rotation (a
replace that moves the job onto the new authorization while it keeps running), and a
delete. Then, over HTTP only: a wrong API token and a server that is gone are each one
clear error (exit 1) and change nothing, neither on the platform nor in the state.
"""

from __future__ import annotations

import json
import socket

import pytest

from apply_support import (
    AUTH,
    JOB,
    World,
    assert_no_duplicates,
    assert_no_orphans,
    assert_state_consistent,
    auth_doc,
    current_lock,
    documents,
    job_doc,
    read_world,
    settings,
)
from backend_modes import BACKENDS, use_backend
from reconciler.served.server import bind

ENV = {"HB_ADS": "ads-v1", "HB_CRM": "crm-v1"}


def _manifests(*, with_crm: bool = True) -> str:
    docs = [auth_doc("ads", "Ads account", "HB_ADS", description="conversions"), job_doc("ads-export", "ads")]
    if with_crm:
        docs += [auth_doc("crm", "CRM account", "HB_CRM", account="549755885170"), job_doc("crm-export", "crm")]
    return documents(*docs)


def _picture(world: World) -> tuple[object, ...]:
    """What "nothing changed" compares: live objects (ids, labels, statuses, bindings) and the state's records."""
    auths = sorted((a.id, a.label, a.description) for a in world.auths.values())
    jobs = sorted((j.id, j.name, str(j.status), j.auth_ids) for j in world.all_jobs.values())
    managed = sorted((str(kind), name, obj.live_id, json.dumps(obj.fingerprints, sort_keys=True))
                     for (kind, name), obj in world.managed.items())
    return auths, jobs, managed, len(world.pending)


@pytest.mark.parametrize("backend", BACKENDS)
def test_plan_apply_status_show_rotate_delete(make_workspace, run_cli, backend: str) -> None:
    root = make_workspace({"main.yaml": _manifests()}, settings=settings(f"story-{backend}"))
    env = dict(ENV)
    with use_backend(root, backend):
        def cli(*args: str, expect: int = 0) -> str:
            result = run_cli(*args, cwd=root, env=env, input="")
            assert result.returncode == expect, f"authctl {' '.join(args)} -> {result.returncode}\n" \
                                                f"{result.stdout}{result.stderr}"
            return result.stdout

        assert "Plan: 4 to create" in cli("plan", "--detailed-exitcode", expect=2)
        report = json.loads(cli("apply", "--auto-approve", "--format", "json"))
        assert report["converged"] and report["summary"]["applied"] == 4, report
        assert "No changes" in cli("plan", "--detailed-exitcode")
        world = read_world(root)
        assert_state_consistent(world)
        assert_no_orphans(world)
        ads_id, job_id = world.auth_of("ads").id, world.job_of("ads-export").id
        assert world.job_of("ads-export").auth_ids == (ads_id,)

        status = cli("status")
        for text in ("Ads account", "CRM account", "pinterest", "capi_token"):
            assert text in status, status
        shown = cli("show", "ads")
        for text in ("Ads account", ads_id, "conversions", "ads-export", "(sensitive)"):
            assert text in shown, shown
        assert "ads-v1" not in shown and "ads-v1" not in status

        env["HB_ADS"] = "ads-v2"  # a rotated credential: a replace that moves the job
        planned = cli("plan", "--detailed-exitcode", expect=2)
        assert "Authorization/ads will be replaced" in planned and "(sensitive, rotated)" in planned, planned
        cli("apply", "--auto-approve")
        world = read_world(root, with_secrets=True)
        new_id = world.auth_of("ads").id
        assert new_id != ads_id and ads_id not in world.auths
        assert world.secrets[new_id]["credentials"] == {"token": "ads-v2"}
        moved = world.job_of("ads-export")
        assert (moved.id, moved.auth_ids, str(moved.status)) == (job_id, (new_id,), "runnable"), moved
        assert world.auth_of("ads").label == "Ads account"
        assert "No changes" in cli("plan", "--detailed-exitcode")

        (root / "main.yaml").write_text(_manifests(with_crm=False), encoding="utf-8")
        crm_id = world.auth_of("crm").id
        deleted = cli("apply", "--auto-approve")
        assert "delete Authorization/crm ... ok" in deleted and "delete Job/crm-export ... ok" in deleted, deleted
        world = read_world(root)
        assert crm_id not in world.auths and set(world.managed_ids(AUTH)) == {"ads"}
        assert set(world.managed_ids(JOB)) == {"ads-export"} and not world.jobs_named("crm-export")
        assert_state_consistent(world)
        assert_no_duplicates(world)
        assert_no_orphans(world)
        assert "No changes" in cli("plan", "--detailed-exitcode")


def test_a_wrong_token_and_a_stopped_server_are_one_clear_error_and_change_nothing(make_workspace, run_cli) -> None:
    root = make_workspace({"main.yaml": _manifests()}, settings=settings("http-failures"))
    with use_backend(root, "http") as where:
        assert run_cli("apply", "--auto-approve", cwd=root, env=ENV).returncode == 0
        (root / "main.yaml").write_text(_manifests(with_crm=False), encoding="utf-8")  # a delete is pending
        before = _picture(read_world(root))
        rotated = {**ENV, "HB_ADS": "ads-v2"}  # and a replace

        wrong = {**rotated, "LYTICS_API_TOKEN": "not-the-token"}
        for args in (("plan",), ("apply", "--auto-approve"), ("status",)):
            result = run_cli(*args, cwd=root, env=wrong)
            assert result.returncode == 1, f"{args}: {result.stdout}{result.stderr}"
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, f"{args}: one error line, not:\n{result.stderr}"
            assert "401" in lines[0] and "backend.token" in lines[0], lines[0]
            assert "not-the-token" not in result.stdout + result.stderr
        assert _picture(read_world(root)) == before
        assert current_lock(root) is None

        assert where.served is not None
        url = where.served.url
        where.served.stop()
        result = run_cli("apply", "--auto-approve", cwd=root, env=rotated)  # retried a few seconds, then:
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines == [f"Error: cannot reach the platform at {url}: connection refused"], result.stderr
        assert _picture(read_world(root)) == before
        assert current_lock(root) is None


def test_the_served_platform_turns_nagle_off_on_its_connections() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it every answer after
    the first on a kept-alive connection waited ~40 ms for the client's delayed ACK."""
    with bind("127.0.0.1", 0) as listener:
        assert listener.proto == socket.IPPROTO_TCP
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP, "asyncio would leave Nagle on for this connection"
