"""Hostile workspaces through the real CLI (issue 10): each ends fast, with exit 1, authctl's own
one-line errors naming file (line, field), no traceback, no secret, and nothing changed.

1. discovery: unreadable folders (run as an unprivileged user: root reads anything),
   symlinked folders, loops, FIFOs and devices named *.yaml;
2. ``{file: PATH}`` outside the workspace and ``secret_dirs``;
3. tokens where a name or path belongs, and in template/YAML errors;
4. a non-UTF-8 environment variable;
5. templates and YAML that would run for minutes or exhaust memory;
6. config values JSON cannot carry.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import reconciler

CANARY = "EAABcanary7f3a9c1eDoNotPrint" + "x" * 120  # looks like a Facebook token: letters and digits
SHORT_CANARY = "EAABs3cr3tCanary91"
NOBODY = 65534


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line(text: str, needle: str) -> int:
    return next(n for n, row in enumerate(text.splitlines(), 1) if needle in row)


def auth(name: str, label: str | None = None, *, config: str = "{ads_account_id: act_1234567890}",
         credentials: str = "{access_token: {env: FB_TOKEN}}") -> str:
    return y(f"""
        apiVersion: authctl/v1
        kind: Authorization
        metadata: {{name: {name}}}
        spec:
          provider: facebook
          method: system_user
          label: {label or name}
          config: {config}
          credentials: {credentials}
        """)


def gcs(path: str) -> str:
    return y(f"""
        apiVersion: authctl/v1
        kind: Authorization
        metadata: {{name: gcs-exports}}
        spec:
          provider: google_cloud
          method: gcs_service_account
          label: GCS exports
          credentials:
            cert_json: {{file: {json.dumps(path)}}}
        """)


def job(config: str) -> str:
    return y("""
        apiVersion: authctl/v1
        kind: Job
        metadata: {name: fb-audiences}
        spec:
          workflow: facebook-audience-populate
          authorizations: [fb-a]
          config:
        """) + textwrap.indent(y(config), "    ")


def assert_clean_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 1, no traceback, no internal error, and every ``expected`` line prefix or piece present."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    for piece in expected:
        assert piece in result.stderr, f"{piece!r} not in:\n{result.stderr}"


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text and CANARY[:40] not in text and SHORT_CANARY not in text


# -- 1. discovery ------------------------------------------------------------------------------

@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged user can use (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="authctl-hardening-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder, _, _ in os.walk(path):
            os.chmod(folder, 0o755)
        shutil.rmtree(path, ignore_errors=True)


def run_unprivileged(*args: str, cwd: Path, env: Mapping[str, str] | None = None,
                     timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a user that permissions apply to: ``nobody`` (via setpriv) when we are root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be denied")
        private = _private_to_root(Path(reconciler.__file__).resolve().parent)
        if private is not None:  # e.g. a checkout under `mktemp -d` (0700): nobody cannot even import authctl
            pytest.skip(f"{private} is private to root, so user nobody cannot run authctl from this checkout")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    environ = {key: value for key, value in os.environ.items() if key != "AUTHCTL_PLATFORM_KEY"}
    environ.update({"NO_COLOR": "1", "COLUMNS": "200", "HOME": str(cwd), **(env or {})})
    return subprocess.run([*prefix, sys.executable, "-m", "reconciler", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _private_to_root(package: Path) -> Path | None:
    """The first folder on the way to ``package`` that other users cannot enter (or, for it, read), or None."""
    for folder in reversed([package, *package.parents]):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH or (folder == package and not mode & stat.S_IROTH):
            return folder
    return None


def give_to_unprivileged_user(root: Path) -> None:
    if os.geteuid() == 0:
        for folder, folders, files in os.walk(root):
            for name in [folder, *(os.path.join(folder, f) for f in folders + files)]:
                os.lchown(name, NOBODY, NOBODY)


def test_unreadable_folder_is_an_error_and_apply_deletes_nothing(shared_dir: Path) -> None:
    root = shared_dir / "ws"
    (root / "team-b").mkdir(parents=True)
    (root / "authctl.yaml").write_text("name: hardening\n")
    (root / "a.yaml").write_text(auth("fb-a"))
    (root / "team-b" / "b.yaml").write_text(auth("fb-b"))
    give_to_unprivileged_user(root)
    env = {"FB_TOKEN": "token-value"}
    first = run_unprivileged("apply", "--auto-approve", cwd=root, env=env)
    assert first.returncode == 0, first.stdout + first.stderr

    (root / "team-b").chmod(0)
    try:
        validate = run_unprivileged("validate", cwd=root, env=env)
        assert_clean_failure(validate, "team-b: cannot read folder: permission denied")
        apply = run_unprivileged("apply", "--auto-approve", cwd=root, env=env)
        assert_clean_failure(apply, "team-b: cannot read folder: permission denied")
        assert "delete" not in apply.stdout.lower()
    finally:
        (root / "team-b").chmod(0o755)
    status = run_unprivileged("status", cwd=root, env=env)
    assert status.returncode == 0, status.stderr
    assert "fb-a" in status.stdout and "fb-b" in status.stdout


def test_unreadable_manifest_file_is_an_error(shared_dir: Path) -> None:
    root = shared_dir / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text("")
    (root / "a.yaml").write_text(auth("fb-a"))
    (root / "b.yaml").write_text(auth("fb-b"))
    give_to_unprivileged_user(root)
    (root / "b.yaml").chmod(0)
    result = run_unprivileged("validate", cwd=root)
    assert_clean_failure(result, "b.yaml: cannot read file: Permission denied")


def test_symlinked_folder_is_followed_like_a_symlinked_file(make_workspace, run_cli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared-manifests"
    elsewhere.mkdir()
    (elsewhere / "b.yaml").write_text(auth("fb-b"))
    (tmp_path / "c.yaml").write_text(auth("fb-c"))
    root = make_workspace({"a.yaml": auth("fb-a")})
    (root / "team-b").symlink_to(elsewhere, target_is_directory=True)
    (root / "c.yaml").symlink_to(tmp_path / "c.yaml")
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "Valid: 3 authorizations and 0 jobs in 3 files." in result.stdout


def test_loops_and_folders_reached_twice_are_walked_once(make_workspace, run_cli) -> None:
    root = make_workspace({"a/a.yaml": auth("fb-a"), "a/deeper/d.yaml": auth("fb-d")})
    (root / "a" / "deeper" / "loop").symlink_to("../..", target_is_directory=True)  # back to the root
    (root / "a" / "self").symlink_to(".", target_is_directory=True)
    (root / "b").symlink_to("a", target_is_directory=True)
    (root / "c").symlink_to("a", target_is_directory=True)
    (root / "same.yaml").symlink_to("a/a.yaml")  # one file, two paths: loaded once
    started = time.monotonic()
    result = run_cli("validate", cwd=root, timeout=30)
    assert time.monotonic() - started < 20
    assert result.returncode == 0, result.stderr
    assert "Valid: 2 authorizations and 0 jobs in 2 files." in result.stdout


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "socket"])
def test_special_files_named_yaml_are_refused_without_being_opened(kind: str, make_workspace, run_cli) -> None:
    root = make_workspace({"a.yaml": auth("fb-a")})
    special = root / "x.yaml"
    if kind == "fifo":
        os.mkfifo(special)
        expected = "x.yaml: is a FIFO (named pipe), not a regular file"
    elif kind == "dev-zero":
        special.symlink_to("/dev/zero")
        expected = "x.yaml: is a character device, not a regular file"
    else:
        import socket

        if len(str(special)) > 100:
            pytest.skip("the path is too long for a unix socket")
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(special))
        server.close()
        expected = "x.yaml: is a socket, not a regular file"
    started = time.monotonic()
    result = run_cli("validate", cwd=root, timeout=30)
    assert time.monotonic() - started < 20
    assert_clean_failure(result, expected)


def test_broken_symlink_is_reported_not_skipped(make_workspace, run_cli) -> None:
    root = make_workspace({"a.yaml": auth("fb-a")})
    (root / "team-b").symlink_to("/nonexistent/team-b")
    result = run_cli("validate", cwd=root)
    assert_clean_failure(result, "team-b: cannot read symbolic link: its target does not exist")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_settings_file_that_is_not_a_regular_file_is_refused(kind: str, tmp_path: Path, run_cli) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.yaml").write_text(auth("fb-a"))
    if kind == "fifo":
        os.mkfifo(root / "authctl.yaml")
    else:
        (root / "authctl.yaml").symlink_to("/dev/zero")
    started = time.monotonic()
    result = run_cli("validate", cwd=root, timeout=30)
    assert time.monotonic() - started < 20
    assert_clean_failure(result, "authctl.yaml: cannot read: is a ")


# -- 2. secret files ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/etc/hostname", "../outside.json", "/proc/self/environ",
                                  "secrets/../../outside.json", ".git/config", ".authctl/state.db"])
def test_secret_file_outside_the_workspace_is_a_validation_error(path: str, make_workspace, run_cli,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "outside.json").write_text('{"type": "service_account"}')
    root = make_workspace({"g.yaml": gcs(path), ".git/config": "[core]\n", ".authctl/state.db": "x"})
    result = run_cli("validate", cwd=root)
    text = gcs(path)
    assert_clean_failure(result, f"g.yaml:{line(text, 'cert_json')}: Authorization/gcs-exports: "
                                 "spec.credentials.cert_json: file: ")
    assert path not in result.stderr.replace("g.yaml", "")


def test_secret_file_through_a_symlink_out_of_the_workspace_is_refused(make_workspace, run_cli,
                                                                       tmp_path: Path) -> None:
    (tmp_path / "key.json").write_text(SHORT_CANARY)
    root = make_workspace({"g.yaml": gcs("secrets/key.json")})
    (root / "secrets").mkdir()
    (root / "secrets" / "key.json").symlink_to(tmp_path / "key.json")
    result = run_cli("validate", cwd=root)
    assert_clean_failure(result, "spec.credentials.cert_json: file: leads outside the workspace and secret_dirs "
                                 "through a symbolic link")
    plan = run_cli("plan", "-o", "plan.json", cwd=root)
    assert_clean_failure(plan)
    assert_no_canary(plan.stdout, plan.stderr)
    assert not (root / "plan.json").exists()


def test_secret_dirs_allow_a_folder_outside_the_workspace(make_workspace, run_cli, tmp_path: Path) -> None:
    mounted = tmp_path / "run-secrets"
    mounted.mkdir()
    (mounted / "gcs.json").write_text('{"type": "service_account", "client_email": "a@b.c", "private_key": "k"}')
    root = make_workspace({"g.yaml": gcs(str(mounted / "gcs.json"))}, settings=f"secret_dirs: [{mounted}]\n")
    result = run_cli("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    plan = run_cli("plan", "--format", "json", cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert "not compared" not in plan.stdout


def test_secret_file_limits_size_and_kind(make_workspace, run_cli) -> None:
    root = make_workspace({"g.yaml": gcs("secrets/gcs.json"), "secrets/gcs.json": "x" * (300 * 1024)})
    result = run_cli("validate", cwd=root)
    assert_clean_failure(result, "file: is 0.3 MiB; secret files are limited to 256 KiB")
    (root / "secrets" / "gcs.json").unlink()
    os.mkfifo(root / "secrets" / "gcs.json")
    started = time.monotonic()
    result = run_cli("validate", cwd=root, timeout=30)
    assert time.monotonic() - started < 20
    assert_clean_failure(result, "file: is a FIFO (named pipe), not a regular file")


# -- 3. secrets where names belong -------------------------------------------------------------

SECRET_CASES = {
    "long-token-as-env-name": (auth("fb-a", credentials=f"{{access_token: {{env: {CANARY}}}}}"),
                               "spec.credentials.access_token: env: not a valid environment variable name"),
    "token-as-file-path": (auth("fb-a", credentials=f'{{access_token: {{file: "{CANARY}\\n"}}}}'),
                           "spec.credentials.access_token: file: not a usable path"),
    "jinja-syntax-on-a-secret-line": (
        auth("fb-a", credentials="{access_token: {env: \"{{ x " + SHORT_CANARY + " }}\"}}"),
        "template error on a line with the secret field access_token"),
    "yaml-tag-on-a-secret-line": (
        auth("fb-a", config=f"{{ads_account_id: act_1234567890, access_token: !{SHORT_CANARY} x}}"),
        "invalid YAML: unknown YAML tag"),
    "yaml-int-tag": (auth("fb-a", config=f"{{ads_account_id: act_1234567890, access_token: !!int {SHORT_CANARY}}}"),
                     "invalid YAML: this value is not valid as an integer"),
    "undefined-long-name": (auth("fb-a", label="\"{{ " + CANARY + " }}\""),
                            "template error: '(a long piece, not shown)' is undefined"),
}


@pytest.mark.parametrize("case", SECRET_CASES, ids=list(SECRET_CASES))
def test_canary_never_printed_by_validate_or_plan(case: str, make_workspace, run_cli) -> None:
    text, expected = SECRET_CASES[case]
    root = make_workspace({"m.yaml": text})
    for args in (("validate",), ("validate", "--format", "json"), ("plan", "-o", "plan.json"),
                 ("plan", "--format", "json")):
        result = run_cli(*args, cwd=root)
        assert_clean_failure(result)
        if "json" not in args:
            assert expected in result.stderr, result.stderr
        assert_no_canary(result.stdout, result.stderr)
    assert not (root / "plan.json").exists()


def test_secret_workflow_field_in_job_config_is_refused_without_its_value(make_workspace, run_cli) -> None:
    provider = y("""
        name: acme
        title: Acme
        methods:
          token:
            title: Token
            kind: api_key
            lytics_type: acme-token
            fields:
              - {name: token, title: Token, required: true, secret: true}
            workflows: [acme-sync]
        workflows:
          acme-sync:
            title: Sync
            fields:
              - {name: webhook_secret, title: Webhook secret, secret: true, pattern: '^whs_[a-z]+$'}
        """)
    manifests = y("""
        apiVersion: authctl/v1
        kind: Authorization
        metadata: {name: acme}
        spec: {provider: acme, method: token, label: Acme, credentials: {token: {env: ACME_TOKEN}}}
        ---
        apiVersion: authctl/v1
        kind: Job
        metadata: {name: sync}
        spec:
          workflow: acme-sync
          authorizations: [acme]
          config: {webhook_secret: %s}
        """) % SHORT_CANARY
    root = make_workspace({"m.yaml": manifests, "vendor/acme.yaml": provider}, settings="providers: [vendor]\n")
    result = run_cli("validate", cwd=root)
    assert_clean_failure(result, "Job/sync: spec.config.webhook_secret: webhook_secret is marked secret")
    assert_no_canary(result.stdout, result.stderr)


# -- 4. environment variables that are not UTF-8 -----------------------------------------------

def run_with_bytes_env(args: list[str], cwd: Path, extra: dict[bytes, bytes]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environb.items() if k != b"AUTHCTL_PLATFORM_KEY"}
    environ.update({b"NO_COLOR": b"1", b"COLUMNS": b"200", **extra})
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=environ,  # type: ignore[arg-type]
                          capture_output=True, text=True, errors="replace", timeout=60, check=False)


def test_non_utf8_environment_variable_is_a_clean_error(make_workspace) -> None:
    text = auth("fb-a")
    root = make_workspace({"m.yaml": text})
    where = f"m.yaml:{line(text, 'credentials')}: Authorization/fb-a: spec.credentials.access_token: "
    for args in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = run_with_bytes_env(args, root, {b"FB_TOKEN": b"\xff\xfe-not-utf8"})
        assert_clean_failure(result, where + "env: environment variable FB_TOKEN holds bytes that are not UTF-8")
    assert not (root / ".authctl" / "platform.db").exists()


# -- 5. bounded work ---------------------------------------------------------------------------

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))

BOUNDED_CASES = {
    "nested-loops": ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n"
                     + auth("fb-a"), "m.yaml:1: template error: the template does more than 1,000,000"),
    "percent-width": (auth("fb-a", label="\"{{ '%999999999s'|format('x') }}\""),
                      "template error: a formatted value would be larger than 4 MiB"),
    "brace-width": (auth("fb-a", label="\"{{ '{:>999999999}'.format('x') }}\""),
                    "template error: a formatted value would be larger than 4 MiB"),
    "repeat": (auth("fb-a", label="\"{{ 'x' * 999999999 }}\""), "a repeated value would be larger than 4 MiB"),
    "jinja-list-laughs": ("{% set a = ['xxxxxxxxxx'] %}" + "".join(
        "{%% set %s = [%s] %%}" % (chr(98 + i), ", ".join([chr(97 + i)] * 10)) for i in range(8))
        + "\n" + auth("fb-a", label="\"{{ i }}\""), "the text of a value would be larger than 4 MiB"),
    "yaml-billion-laughs": (auth("fb-a") + "---\n" + BILLION_LAUGHS,
                            "invalid YAML: aliases expand this file to more than 1,000,000 values"),
}


@pytest.mark.parametrize("case", BOUNDED_CASES, ids=list(BOUNDED_CASES))
def test_expensive_manifests_fail_fast(case: str, make_workspace, run_cli) -> None:
    text, expected = BOUNDED_CASES[case]
    root = make_workspace({"m.yaml": text})
    started = time.monotonic()
    result = run_cli("validate", cwd=root, timeout=60)
    assert time.monotonic() - started < 30
    assert_clean_failure(result, expected)
    assert result.stderr.startswith("m.yaml:") or "\nm.yaml:" in result.stderr


def test_billion_laughs_in_settings_fails_fast(make_workspace, run_cli) -> None:
    root = make_workspace({"m.yaml": auth("fb-a")}, settings="vars:\n" + textwrap.indent(BILLION_LAUGHS, "  "))
    started = time.monotonic()
    result = run_cli("validate", cwd=root, timeout=60)
    assert time.monotonic() - started < 30
    assert_clean_failure(result, "authctl.yaml:7: invalid YAML: aliases expand this file to more than")


def test_oversized_manifest_is_refused_before_parsing(make_workspace, run_cli) -> None:
    root = make_workspace({"m.yaml": auth("fb-a") + "# " + "x" * (5 * 1024 * 1024) + "\n"})
    result = run_cli("validate", cwd=root)
    assert_clean_failure(result, "m.yaml:1: file is 5.0 MiB; manifest files are limited to 4 MiB")


# -- 6. values JSON cannot carry ---------------------------------------------------------------

def test_dates_become_iso_text_and_plan_files_work(make_workspace, run_cli) -> None:
    config = """
        segment_ids: [high_value]
        start: 2024-01-31
        at: 2024-01-31 10:00:00+02:00
        window: {from: 2024-02-01}
        """
    root = make_workspace({"a.yaml": auth("fb-a"), "j.yaml": job(config)})
    assert run_cli("validate", cwd=root).returncode == 0
    plan = run_cli("plan", "-o", "plan.json", cwd=root, env={"FB_TOKEN": "t"})
    assert plan.returncode in (0, 2), plan.stdout + plan.stderr
    saved = (root / "plan.json").read_text()
    assert '"2024-01-31"' in saved and '"2024-01-31T10:00:00+02:00"' in saved and '"2024-02-01"' in saved
    as_json = run_cli("plan", "--format", "json", cwd=root)
    assert as_json.returncode in (0, 2), as_json.stderr
    json.loads(as_json.stdout)
    applied = run_cli("apply", "plan.json", cwd=root, env={"FB_TOKEN": "t"})
    assert applied.returncode == 0, applied.stdout + applied.stderr


VALUE_CASES = {
    "binary": ("blob: !!binary aGVsbG8=", "spec.config.blob: binary data (!!binary)"),
    "set": ("tags: !!set {a: null, b: null}", "spec.config.tags: a set (!!set)"),
    "omap": ("order: !!omap [{a: 1}, {b: 2}]", "spec.config.order.0: an ordered map or pairs"),
    "pairs": ("order: !!pairs [{a: 1}]", "spec.config.order.0: an ordered map or pairs"),
    "int-key": ("mapping: {1: one}", "spec.config.mapping: a key of this mapping is a number, not text"),
    "bool-key": ("mapping: {nested: {true: yes}}", "spec.config.mapping.nested: a key of this mapping is a boolean"),
    "nan": ("ratio: .nan", "spec.config.ratio: not a finite number"),
    "inf": ("ratio: [1, -.inf]", "spec.config.ratio.1: not a finite number"),
    "impossible-date": ("start: 2024-02-30", "invalid YAML: this value is not valid as a date or timestamp"),
}


@pytest.mark.parametrize("case", VALUE_CASES, ids=list(VALUE_CASES))
def test_values_json_cannot_carry_are_validation_errors(case: str, make_workspace, run_cli) -> None:
    value, expected = VALUE_CASES[case]
    text = job("segment_ids: [high_value]\n" + value)
    root = make_workspace({"a.yaml": auth("fb-a"), "j.yaml": text})
    for args in (("validate",), ("plan", "-o", "plan.json"), ("plan", "--format", "json")):
        result = run_cli(*args, cwd=root, env={"FB_TOKEN": "t"})
        assert_clean_failure(result)
        if "json" not in args:
            assert expected in result.stderr, result.stderr
    assert not (root / "plan.json").exists()
    validate = run_cli("validate", cwd=root)
    assert f"j.yaml:{line(text, value.split(':')[0] + ':')}:" in validate.stderr
