"""Canary secrets: credential values must never leave the platform's encrypted store.

Every credential in this workspace is a unique ``CANARY-<uuid>`` (from environment
variables and from a secret file). The whole apply story runs as real subprocesses,
including failing runs with ``--debug`` (tracebacks on) and an apply killed with -9 and
resumed; afterwards no canary may appear in any stdout/stderr, the plan file, the raw
bytes of every file under ``.authctl/`` (state and platform databases with their -wal
and -shm files), the journal entries or the state's recorded values.

It runs on both backends (backend_modes). Over HTTP (the ``lytics`` backend against
``authctl platform serve --access-log``) the secrets cross the wire once per create, so
the server's own stdout/stderr (access log, warnings, errors) and the bodies it answers
with (every list and every authorization read by id) are searched too, and so is the API
token, which is a secret of the same kind.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from apply_support import (
    auth_doc,
    documents,
    job_doc,
    kill_group,
    open_state_of,
    read_world,
    settings,
    start_cli,
)
from backend_modes import BACKENDS, BackendMode, use_backend


def _canary() -> str:
    return f"CANARY-{uuid.uuid4()}"


def _file_auth(name: str, label: str, path: str) -> str:
    return (f"apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: {name}\nspec:\n"
            f"  provider: pinterest\n  method: capi_token\n  label: \"{label}\"\n"
            f"  config:\n    account_id: \"42\"\n  credentials:\n    token: {{file: {path}}}\n")


@pytest.mark.parametrize("backend", BACKENDS)
def test_canary_secrets_appear_in_no_output_plan_file_journal_or_database(make_workspace, run_cli,
                                                                          backend: str) -> None:
    canaries: list[str] = []

    def new() -> str:
        canaries.append(_canary())
        return canaries[-1]

    env = {f"CANARY_TOKEN_{i}": new() for i in range(4)}
    many = [auth_doc(f"bulk-{i:02d}", f"Bulk {i:02d}", f"CANARY_BULK_{i:02d}") for i in range(40)]
    env |= {f"CANARY_BULK_{i:02d}": new() for i in range(40)}
    docs = documents(*(auth_doc(f"tok-{i}", f"Token {i}", f"CANARY_TOKEN_{i}") for i in range(4)),
                     _file_auth("from-file", "From a file", "secrets/token.txt"),
                     *(job_doc(f"job-{i}", f"tok-{i}") for i in range(4)), job_doc("file-job", "from-file"),
                     *many, *(job_doc(f"bulk-job-{i:02d}", f"bulk-{i:02d}") for i in range(40)))
    root = make_workspace({"main.yaml": docs, "secrets/token.txt": new() + "\n"}, settings=settings("canary"))
    outputs: list[str] = []
    served_extra = ("--access-log",) if backend == "http" else ()
    with use_backend(root, backend, extra_args=served_extra) as where:
        _story(root, run_cli, env, docs, new, outputs)
        answers = _served_answers(where)
    needles = {c: {c.encode(), c.split("-", 1)[1].encode(), c.encode("utf-16-le")} for c in canaries}
    if where.served is not None:
        token = where.served.token  # the API token is a secret too: never in any output
        needles["the API token"] = {token.encode(), token.encode("utf-16-le")}
        stdout, stderr = where.served.output()
        assert "GET /v2/auth" in stderr, "the access log is empty: the scan of the server's output would be vacuous"
        outputs.append(f"$ authctl platform serve --access-log\n{stdout}{stderr}")

    # The canaries really are stored (encrypted) on the platform: the test is not vacuous.
    world = read_world(root, with_secrets=True)
    stored = {s["credentials"]["token"].strip() for s in world.secrets.values()}
    assert env["CANARY_TOKEN_0"] in stored and env["CANARY_BULK_00"] in stored

    state = open_state_of(root)
    try:
        journal = json.dumps([e.__dict__ for e in state.journal_entries()], default=str)
        managed = json.dumps([o.__dict__ for o in state.managed().values()], default=str)
    finally:
        state.close()
    assert '"intent"' in journal and "create" in journal
    places: dict[str, bytes] = {
        "outputs": "\n".join(outputs).encode(), "journal": journal.encode(), "state objects": managed.encode(),
        "served answers": answers,
    }
    for path in sorted(root.glob("*.json")):
        places[path.name] = path.read_bytes()
    data_files = sorted(p for p in (root / ".authctl").iterdir() if p.is_file())
    assert {p.name for p in data_files} >= {"state.db", "platform.db"}
    for path in data_files:
        places[f".authctl/{path.name}"] = path.read_bytes()

    leaks = [f"{secret} in {place}" for secret, forms in needles.items() for place, data in places.items()
             if any(form in data for form in forms)]
    assert not leaks, "secret values leaked:\n" + "\n".join(leaks)


def _served_answers(where: BackendMode) -> bytes:
    """Every body the served API gives a client that reads all it can (empty for the local backend)."""
    if where.served is None:
        return b""
    bodies: list[bytes] = []
    with where.served.client() as client:
        for path in ("/v2/auth", "/v2/job?show_completed=true&show_deleted=true", "/openapi.json"):
            answer = client.get(path)
            assert answer.status_code == 200, answer.text
            bodies.append(answer.content)
        auths = json.loads(bodies[0])["data"]
        assert auths, "nothing to read back"
        for auth in auths:
            answer = client.get(f"/v2/auth/{auth['type']}/{auth['id']}")
            assert answer.status_code == 200, answer.text
            bodies.append(answer.content)
    return b"\n".join(bodies)


def _story(root, run_cli, env, docs, new, outputs) -> None:  # type: ignore[no-untyped-def]
    """Every command, successful and failing, that may see a secret (appends each output to ``outputs``)."""

    def cli(*args: str, expect: int | tuple[int, ...] = 0, **kwargs) -> str:  # type: ignore[no-untyped-def]
        result = run_cli(*args, cwd=root, env=kwargs.pop("env", env), input="", **kwargs)
        text = result.stdout + result.stderr
        outputs.append(f"$ authctl {' '.join(args)}\n{text}")
        expected = (expect,) if isinstance(expect, int) else expect
        assert result.returncode in expected, f"authctl {' '.join(args)} -> {result.returncode}\n{text}"
        return text

    cli("validate")
    cli("plan")
    cli("plan", "--format", "json")
    cli("plan", "--format", "markdown")
    cli("plan", "-o", "plan.json")
    cli("--debug", "apply", "plan.json")
    cli("status")
    cli("show", "tok-0")
    cli("platform", "auths", "list", "--format", "json")
    assert "No changes" in cli("plan", "--detailed-exitcode")

    # Rotations: the plan marks them without values, the apply replaces.
    env["CANARY_TOKEN_0"] = new()
    (root / "secrets" / "token.txt").write_text(new())
    text = cli("plan", "-o", "rotate.json", expect=0)
    assert "(sensitive, rotated)" in text
    cli("--debug", "apply", "rotate.json")

    # Failing runs, with tracebacks switched on.
    env["CANARY_TOKEN_1"] = new()  # a rotation that cannot be applied: another secret is missing
    missing = dict(env)
    missing["CANARY_TOKEN_2"] = None  # type: ignore[assignment]
    env["CANARY_TOKEN_2"] = new()
    cli("--debug", "apply", "--auto-approve", env={**missing, "CANARY_TOKEN_2": None}, expect=0)  # not needed
    (root / "main.yaml").write_text(docs.replace('account_id: "549755885175"\n  credentials:\n'
                                                 '    token: {env: CANARY_TOKEN_2}',
                                                 'account_id: "549755885170"\n  credentials:\n'
                                                 '    token: {env: CANARY_TOKEN_2}'), encoding="utf-8")
    assert "CANARY_TOKEN_2" in cli("--debug", "apply", "--auto-approve", env=missing, expect=1)
    cli("plan", "-o", "stale.json")
    env["CANARY_TOKEN_3"] = new()  # the manifests' secrets moved on: the saved plan is stale
    cli("--debug", "apply", "stale.json", expect=(0, 1))
    with sqlite3.connect(root / ".authctl" / "platform.db") as conn:  # the platform refuses creates
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON authorizations "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    env["CANARY_TOKEN_3"] = new()
    cli("--debug", "apply", "--auto-approve", expect=1, timeout=120)
    with sqlite3.connect(root / ".authctl" / "platform.db") as conn:
        conn.execute("DROP TRIGGER refuse")

    # An apply killed mid-way, then resumed: intents and recovery notes too.
    for i in range(40):
        env[f"CANARY_BULK_{i:02d}"] = new()
    victim = start_cli("--debug", "apply", "--auto-approve", cwd=root, env=env)
    victim.wait_for_output("\n[5/", timeout=120)
    kill_group(victim)
    outputs.append(victim.output())
    cli("--debug", "apply", "--auto-approve")
    assert "No changes" in cli("plan", "--detailed-exitcode")
