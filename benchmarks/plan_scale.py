"""Benchmark: `authctl plan` over a large workspace whose objects are all live and in state.

Why
    ``plan`` runs on every pull request and before every apply; big accounts keep tens
    of thousands of objects. Issue 5 sets the bar: with 10,000 authorizations and 50,000
    jobs already live and in state, ``authctl plan`` (no change, and one changed object)
    must take <= 5 s wall time and <= 1 GiB peak RSS each, as a subprocess. Where
    ``terraform`` is on PATH, a no-change ``terraform plan`` over 2,000 ``terraform_data``
    resources is timed in the same run against ``authctl plan`` over 2,000
    authorizations, and authctl must be at least 10x faster. This is a benchmark, not a
    timed test: the exit code is 0 unless something breaks; ``meets_target`` says
    whether the bar was met.

How
    1. Generate a workspace in a temporary folder, deterministically from ``--seed``:
       ``authctl.yaml`` (environments, variables) and ~100 manifest files, every other
       one a Jinja2 template. Authorizations are mostly Facebook system users
       (``{env: ...}`` tokens, ``act_...`` ad accounts), then Google Cloud Pub/Sub
       service accounts (``{file: secrets/gcp/NAME.json}`` keys, written too) and
       Pinterest CAPI tokens (``{env: ...}``). Jobs use the workflows those methods
       support (Facebook audiences/CAPI, ``pubsub-ingress``/egress, Pinterest CAPI),
       with workflow config, one or two authorizations each and ~10% paused.
    2. Make everything "already live and in state" without apply, in a child process
       (so the measuring process stays small): load the manifests with authctl's own
       loader (so live objects match what the manifests mean, templates included),
       open the workspace's embedded platform once (``open_local_platform``: tables and
       key), bulk-insert authorizations (secret blobs sealed with the platform's own
       Sealer), jobs (name, workflow, config, description, status runnable/paused per
       ``state``) and their authorization links with SQLAlchemy Core ``executemany`` in
       one transaction; then open the state store and bulk-insert ``managed_objects``:
       every manifest name -> live id, with the fingerprints apply records
       (``fingerprint_authorization(...).recorded()`` under the state's HMAC key, with
       the secret values available) and the applied non-secret config.
    3. Check once: ``authctl plan --format json --detailed-exitcode`` exits 0 and its
       summary says noop == authorizations + jobs.
    4. Time ``python -m reconciler plan -w DIR --detailed-exitcode`` (text output)
       ``--repeat`` times with the secrets' variables set, so credential fingerprints are
       compared: (a) no change, expecting exit 0; (b) one authorization's label edited
       in its manifest file, expecting exit 2 and exactly one update (checked once with
       ``--format json``; the file is restored afterwards). Peak RSS of each run comes
       from ``/usr/bin/time -f %M`` (GNU time) when present, else from a small Python
       wrapper process reading ``getrusage(RUSAGE_CHILDREN)``; either way the measured
       process is started by a small parent, so the figure is that run's own.
    5. Terraform comparison (unless ``--skip-terraform`` or no ``terraform`` on PATH):
       2,000 ``terraform_data`` resources shaped like authorizations, ``terraform init``
       (must work offline: terraform_data is built in; if it does not, the comparison is
       skipped with the reason) and ``apply`` once, untimed, with local state. A full
       apply rewrites the state file after every resource (quadratic: minutes for 2,000),
       so by default ``apply -target`` creates one resource for real and the state entries
       of the others are copied from it (``--terraform-full-apply`` does the full apply;
       the no-change plans below verify the state either way). Then
       ``terraform plan -refresh=true -detailed-exitcode`` timed ``--repeat`` times
       (expecting exit 0) against ``authctl plan`` over a second workspace with 2,000
       authorizations built the same way. Ratio = terraform median / authctl median.
    6. Print one JSON object: sizes, seconds (min/median/runs), peak RSS, exit codes,
       the ratio, the targets and whether they were met, python version, cpus.

Usage
    .venv/bin/python benchmarks/plan_scale.py [--auths N] [--jobs N] [--files N]
        [--repeat N] [--seed N] [--compare-size N] [--skip-terraform] [--terraform-full-apply]
        [--keep DIR]

    ``--keep DIR`` builds the large workspace in DIR (created; must be empty or missing)
    and leaves it there, ready for profiling, e.g. with the secrets from
    ``DIR/.bench-secrets.env`` exported:
    ``python -m cProfile -o /tmp/p.prof -m reconciler plan -w DIR``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform as pyplatform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from measure import Run, gnu_time_available, load_average, run_measured, series  # benchmarks/measure.py

# Run from a checkout without installing: make `reconciler` importable (here and in the child).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SECONDS = 5.0
TARGET_RSS_MIB = 1024
TARGET_RATIO = 10.0

SETTINGS = """\
# Generated by benchmarks/plan_scale.py
name: plan-bench-{seed}
default_environment: prod
vars:
  team: growth
environments:
  prod:
    description: Production accounts
    vars:
      gcp_project: acme-prod
      region: us
  staging:
    description: Sandbox accounts
    vars:
      gcp_project: acme-staging
      region: eu
"""

# (provider, method, weight, workflows)
AUTH_KINDS: list[tuple[str, str, int, list[str]]] = [
    ("facebook", "system_user", 65,
     ["facebook-audience-populate", "facebook-conversion-api", "facebook-web-audience"]),
    ("google_cloud", "pubsub_service_account", 20, ["pubsub-ingress", "pubsub-ingress", "google-pubsub-egress"]),
    ("pinterest", "capi_token", 15, ["pinterest-capi-export"]),
]
SLUG = {"facebook": "fb", "google_cloud": "gcp", "pinterest": "pin"}
TEAMS = ["growth", "crm", "analytics", "paid-social", "data-eng", "emea", "apac"]
AUDIENCES = ["high_value", "churn_risk", "lapsed_buyers", "newsletter", "lookalike_seed",
             "cart_abandoners", "vip", "app_installers"]
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# -- 1. the workspace ---------------------------------------------------------------------------
@dataclass
class Auth:
    name: str
    provider: str
    method: str
    workflows: list[str]
    file_index: int
    label_line: str


@dataclass
class FileBuf:
    templated: bool
    parts: list[str] = field(default_factory=list)


@dataclass
class Generated:
    bytes: int
    files: int
    secret_env: dict[str, str]  # variable -> value (file secrets are written to disk)
    edit_file: str  # relative path of the file holding the authorization edited in (b)
    edit_old: str  # its label line
    edit_new: str


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(10 ** (n - 1), 10 ** n - 1))


def _token(rng: random.Random, n: int = 40) -> str:
    return "".join(rng.choice(TOKEN_CHARS) for _ in range(n))


def _file_path(root: Path, k: int) -> Path:
    return root / ("teams" if k % 3 else "shared") / f"group-{k % 10}" / f"manifests-{k:03d}.yaml"


def _auth_document(rng: random.Random, root: Path, i: int, provider: str, method: str, templated: bool,
                   secret_env: dict[str, str]) -> tuple[str, str, str]:
    """(name, manifest text, label line) of one Authorization; records its secret value."""
    slug = SLUG[provider]
    name = f"{slug}-{method.replace('_', '-')}-{i:05d}"
    team = rng.choice(TEAMS)
    env = "{{ env }}" if templated else "prod"
    label_line = f'  label: "{provider} {method} {i:05d} ({env})"'
    config: list[str] = []
    creds: list[str] = []
    var = f"{slug.upper()}_{method.upper()}_{i:05d}"
    if provider == "facebook":
        config.append(f"ads_account_id: act_{_digits(rng, 10)}")
        creds.append(f"access_token: {{env: {var}_TOKEN}}")
        secret_env[f"{var}_TOKEN"] = _token(rng)
    elif provider == "google_cloud":
        rel = f"secrets/gcp/{name}.json"
        creds.append(f"cert_json: {{file: {rel}}}")
        key = {"type": "service_account", "project_id": "acme-prod", "private_key_id": _token(rng, 40),
               "private_key": "-----BEGIN PRIVATE KEY-----\n" + _token(rng, 64) * 24
                              + "\n-----END PRIVATE KEY-----\n",
               "client_email": f"{name}@acme-prod.iam.gserviceaccount.com"}
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(key, indent=2) + "\n", encoding="utf-8")
    else:  # pinterest capi_token
        config.append(f'account_id: "{_digits(rng, 12)}"')
        creds.append(f"token: {{env: {var}}}")
        secret_env[var] = _token(rng)
    lines = [
        "apiVersion: authctl/v1",
        "kind: Authorization",
        "metadata:",
        f"  name: {name}",
        "  labels:",
        f"    team: {'{{ team }}' if templated and team == 'growth' else team}",
        f"    cost-center: cc-{rng.randint(100, 999)}",
        "spec:",
        f"  provider: {provider}",
        f"  method: {method}",
        label_line,
        f"  description: {provider} {method} for team {team}",
    ]
    if config:
        lines.append("  config:")
        lines += [f"    {c}" for c in config]
    lines.append("  credentials:")
    lines += [f"    {c}" for c in creds]
    return name, "\n".join(lines) + "\n", label_line


def _job_config(rng: random.Random, workflow: str, i: int, templated: bool) -> list[str]:
    project = "{{ gcp_project }}" if templated else "acme-prod"
    if workflow == "pubsub-ingress":
        return [f"stream: events_{i % 50}", f"topic_id: projects/{project}/topics/web-events-{i:05d}"]
    if workflow == "facebook-audience-populate":
        return [f"ads_account_id: act_{_digits(rng, 10)}",
                f"segment_ids: [{', '.join(rng.sample(AUDIENCES, rng.randint(1, 3)))}]"]
    if workflow == "facebook-conversion-api":
        return [f'pixel: "{_digits(rng, 15)}"']
    if workflow == "facebook-web-audience":
        return [f"ads_account_id: act_{_digits(rng, 10)}", f'pixel: "{_digits(rng, 15)}"']
    # The other workflows those methods run: the fields their Lytics models require.
    if workflow == "google-pubsub-egress":
        return [f"topic_id: audience-events-{i % 20:02d}", f"segment_ids: [{AUDIENCES[i % len(AUDIENCES)]}]"]
    if workflow == "pinterest-capi-export":
        return [f"segment_id: {AUDIENCES[i % len(AUDIENCES)]}", "identifier_mapping: [{lytics: email, pinterest: em}]",
                "required_mapping: [{lytics: last_order_at, pinterest: event_time}]"]
    return []


def _job_document(rng: random.Random, i: int, workflow: str, auths: list[Auth], templated: bool) -> str:
    lines = [
        "apiVersion: authctl/v1",
        "kind: Job",
        "metadata:",
        f"  name: {workflow}-{i:06d}",
        "  labels:",
        f"    team: {rng.choice(TEAMS)}",
        "spec:",
        f"  workflow: {workflow}",
        f"  authorizations: [{', '.join(a.name for a in auths)}]",
    ]
    if rng.random() < 0.1:
        lines.append("  state: paused")
    if rng.random() < 0.3:
        lines.append(f"  description: {workflow} for {auths[0].name}")
    config = _job_config(rng, workflow, i, templated)
    if config:
        lines.append("  config:")
        lines += [f"    {c}" for c in config]
    return "\n".join(lines) + "\n"


def generate(root: Path, n_auths: int, n_jobs: int, n_files: int, seed: int) -> Generated:
    """Write the workspace under ``root``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "authctl.yaml").write_text(SETTINGS.format(seed=seed), encoding="utf-8")
    n_files = max(1, min(n_files, n_auths + n_jobs))
    files = [FileBuf(templated=(k % 2 == 0)) for k in range(n_files)]
    weights = [k[2] for k in AUTH_KINDS]
    secret_env: dict[str, str] = {}
    auths: list[Auth] = []
    by_workflow: dict[str, list[Auth]] = {}
    for i in range(n_auths):
        provider, method, _, workflows = rng.choices(AUTH_KINDS, weights)[0]
        k = i % n_files
        name, text, label_line = _auth_document(rng, root, i, provider, method, files[k].templated, secret_env)
        files[k].parts.append(text)
        auth = Auth(name, provider, method, workflows, k, label_line)
        auths.append(auth)
        for workflow in dict.fromkeys(workflows):
            by_workflow.setdefault(workflow, []).append(auth)
    for i in range(n_jobs):
        first = rng.choice(auths)
        workflow = rng.choice(first.workflows)
        bound = [first]
        pool = by_workflow[workflow]
        if len(pool) > 1 and rng.random() < 0.25:  # a job fed by two accounts
            second = rng.choice(pool)
            if second is not first:
                bound.append(second)
        k = (i * 7) % n_files  # jobs live away from their authorizations
        files[k].parts.append(_job_document(rng, i, workflow, bound, files[k].templated))

    total = 0
    for k, buf in enumerate(files):
        path = _file_path(root, k)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# Generated file {k:03d}{' (Jinja2 template)' if buf.templated else ''}\n"
        data = (header + "---\n".join(buf.parts)).encode("utf-8")
        path.write_bytes(data)
        total += len(data)

    # (b) edits the label of an authorization in a plain (not templated) file, if there is one.
    plain = [a for a in auths if not files[a.file_index].templated] or auths
    target = plain[len(plain) // 2]
    edit_new = target.label_line[:-1] + ' edited"'
    return Generated(total, n_files, secret_env, _file_path(root, target.file_index).relative_to(root).as_posix(),
                     target.label_line, edit_new)


# -- 2. live and in state, without apply (child process) -------------------------------------------
def populate(root: str, secret_env: dict[str, str]) -> dict[str, Any]:
    """Insert every manifest object into the embedded platform and the state store."""
    from sqlalchemy import insert

    from reconciler.backends.local import open_local_platform
    from reconciler.vocabulary import Access
    from reconciler.catalog import load_catalog
    from reconciler.manifest import load_desired
    from reconciler.manifest.fingerprints import fingerprint_authorization
    from reconciler.state.access import open_state_store
    from reconciler.platform import schema as t
    from reconciler.state.store import _managed
    from reconciler.workspace import load_workspace

    started = time.perf_counter()
    workspace = load_workspace(root)
    catalog = load_catalog(workspace.provider_dirs())
    desired = load_desired(workspace, catalog).desired
    load_seconds = time.perf_counter() - started

    rng = random.Random(len(desired.authorizations))
    platform = open_local_platform(workspace, catalog, Access.WRITE)  # creates the tables and the key
    sealer = platform._sealer
    base = datetime(2024, 1, 1, tzinfo=UTC)
    auth_rows: list[dict[str, Any]] = []
    live_ids: dict[str, str] = {}
    for name in sorted(desired.authorizations):
        d = desired.authorizations[name]
        method = catalog.method(d.provider, d.method)
        auth_id = f"{rng.getrandbits(128):032x}"
        live_ids[name] = auth_id
        credentials = {k: ref.resolve(workspace.root, secret_env).reveal() for k, ref in d.credentials.items()}
        created = base + timedelta(minutes=rng.randint(0, 200_000))
        auth_rows.append({
            "id": auth_id, "provider": d.provider, "method": d.method,
            "type": method.lytics_type if method else None, "label": d.label, "label_key": d.label.casefold(),
            "description": d.description, "owner": "authctl",
            "secret_blob": sealer.seal({"config": dict(d.config), "credentials": credentials}),
            "created": created, "updated": created + timedelta(minutes=rng.randint(0, 20_000)),
            "health": "healthy", "health_reason": "", "health_checked_at": created + timedelta(days=1),
            "token_expires_at": None, "scopes": "",
        })
    job_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    job_ids: dict[str, str] = {}
    for name in sorted(desired.jobs):
        d = desired.jobs[name]
        job_id = f"{rng.getrandbits(128):032x}"
        job_ids[name] = job_id
        created = base + timedelta(minutes=rng.randint(0, 200_000))
        job_rows.append({
            "id": job_id, "name": d.name, "workflow": d.workflow,
            "status": "paused" if d.state == "paused" else "runnable", "description": d.description,
            "config": json.dumps(d.config, sort_keys=True), "owner": "authctl",
            "created": created, "updated": created + timedelta(minutes=rng.randint(0, 20_000)),
        })
        link_rows += [{"job_id": job_id, "auth_id": live_ids[a], "position": p}
                      for p, a in enumerate(dict.fromkeys(d.authorizations))]
    with platform._db.engine.begin() as conn:
        for table, rows in ((t.authorizations, auth_rows), (t.jobs, job_rows), (t.job_auths, link_rows)):
            if rows:
                conn.execute(insert(table), rows)
    platform.close()
    platform_seconds = time.perf_counter() - started - load_seconds

    fp_started = time.perf_counter()
    state = open_state_store(workspace, Access.WRITE)
    assert state is not None
    key = state.hmac_key()
    applied_at = datetime.now(UTC).replace(microsecond=0)
    managed_rows: list[dict[str, Any]] = []
    for name, d in desired.authorizations.items():
        fps = fingerprint_authorization(d, key, workspace.root, secret_env)
        managed_rows.append({"namespace": state.namespace, "kind": "Authorization", "name": name, "live_id": live_ids[name],
                             "fingerprints": json.dumps(fps.recorded(), sort_keys=True),
                             "applied": json.dumps({"config": d.config}, sort_keys=True), "applied_at": applied_at})
    fingerprint_seconds = time.perf_counter() - fp_started
    managed_rows += [{"namespace": state.namespace, "kind": "Job", "name": name, "live_id": job_id, "fingerprints": "{}", "applied": "{}",
                      "applied_at": applied_at} for name, job_id in job_ids.items()]
    with state._db.engine.begin() as conn:
        conn.execute(insert(_managed), managed_rows)
    state.bump_serial()
    state.close()
    return {"authorizations": len(auth_rows), "jobs": len(job_rows), "job_auth_links": len(link_rows),
            "managed_objects": len(managed_rows), "load_seconds": round(load_seconds, 2),
            "platform_insert_seconds": round(platform_seconds, 2),
            "fingerprint_seconds": round(fingerprint_seconds, 2),
            "total_seconds": round(time.perf_counter() - started, 2)}


def _populate_child(queue: Any, root: str, secret_env: dict[str, str]) -> None:
    try:
        queue.put(("ok", populate(root, secret_env)))
    except BaseException as exc:  # report to the parent instead of dying silently
        import traceback

        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def build(root: Path, n_auths: int, n_jobs: int, n_files: int, seed: int) -> tuple[Generated, dict[str, Any]]:
    started = time.perf_counter()
    generated = generate(root, n_auths, n_jobs, n_files, seed)
    generate_seconds = time.perf_counter() - started
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_populate_child, args=(queue, str(root), generated.secret_env))
    child.start()
    outcome, info = queue.get()
    child.join()
    if outcome != "ok":
        raise SystemExit(f"populating {root} failed: {info}")
    info["generate_seconds"] = round(generate_seconds, 2)
    return generated, info


# -- measuring ----------------------------------------------------------------------------------------
def _plan_cmd(root: Path, *extra: str, prefix: list[str] | None = None) -> list[str]:
    """``authctl plan`` as ``prefix`` (default: this interpreter's ``python -m reconciler``) runs it."""
    prefix = prefix or [sys.executable, "-m", "reconciler"]
    return [*prefix, "plan", "-w", str(root), "--detailed-exitcode", *extra]


def _fail(what: str, run: Run) -> SystemExit:
    tail = run.tail()
    return SystemExit(f"{what}: exit {run.code}\n{tail}")


def json_plan(root: Path, env: dict[str, str], tmp: Path, gnu: bool) -> tuple[Run, dict[str, Any]]:
    run = run_measured(_plan_cmd(root, "--format", "json"), env, tmp, gnu=gnu)
    try:
        data = json.loads(run.stdout)
    except ValueError:
        raise _fail("authctl plan --format json printed no JSON", run) from None
    return run, data


def time_plans(root: Path, env: dict[str, str], tmp: Path, repeat: int, gnu: bool, expect: int, *,
               prefix: list[str] | None = None) -> list[Run]:
    runs = []
    for _ in range(max(1, repeat)):
        run = run_measured(_plan_cmd(root, prefix=prefix), env, tmp, gnu=gnu)
        if run.code != expect:
            raise _fail(f"authctl plan: expected exit {expect}", run)
        runs.append(run)
    return runs


# -- terraform -----------------------------------------------------------------------------------------
def _terraform_config(root: Path, n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """Write ``n`` terraform_data resources shaped like authorizations, 100 per file.

    Returns (resource name, its ``input`` value) for each, in order.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    resources: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        team = rng.choice(TEAMS)
        resources.append((f"fb_system_user_{i:05d}", {
            "provider": "facebook", "method": "system_user", "label": f"facebook system_user {i:05d} (prod)",
            "description": f"facebook system_user for team {team}",
            "config": {"ads_account_id": f"act_{_digits(rng, 10)}"},
            "labels": {"team": team, "cost-center": f"cc-{rng.randint(100, 999)}"},
        }))
    per_file = 100
    for f in range(0, n, per_file):
        blocks = []
        for name, value in resources[f:f + per_file]:
            blocks.append(
                f'resource "terraform_data" "{name}" {{\n'
                f"  input = {{\n"
                f'    provider    = "{value["provider"]}"\n'
                f'    method      = "{value["method"]}"\n'
                f'    label       = "{value["label"]}"\n'
                f'    description = "{value["description"]}"\n'
                f"    config = {{\n"
                f'      ads_account_id = "{value["config"]["ads_account_id"]}"\n'
                f"    }}\n"
                f'    labels = {{ team = "{value["labels"]["team"]}", '
                f'cost-center = "{value["labels"]["cost-center"]}" }}\n'
                f"  }}\n"
                f"}}\n")
        (root / f"auths_{f // per_file:03d}.tf").write_text("\n".join(blocks), encoding="utf-8")
    return resources


def _synthesize_state(tf_dir: Path, resources: list[tuple[str, dict[str, Any]]]) -> None:
    """Extend a one-resource state (from a real ``apply -target``) to every resource.

    Each instance is a copy of the applied one with its own id and input/output value;
    the value's type is the same for all (same keys, all strings). The timed plans check
    the result: any difference from what a full apply writes shows up as a change (exit 2).
    """
    import copy
    import uuid

    path = tf_dir / "terraform.tfstate"
    state = json.loads(path.read_text(encoding="utf-8"))
    (template,) = state["resources"]
    entries = []
    for name, value in resources:
        entry = copy.deepcopy(template)
        entry["name"] = name
        (instance,) = entry["instances"]
        instance["attributes"]["id"] = str(uuid.uuid4())
        instance["attributes"]["input"]["value"] = value
        instance["attributes"]["output"]["value"] = value
        entries.append(entry)
    state["resources"] = entries
    state["serial"] += 1
    path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def terraform_compare(terraform: str, tmp: Path, n: int, repeat: int, seed: int, env: dict[str, str],
                      gnu: bool, full_apply: bool) -> dict[str, Any]:
    tf_dir = tmp / "terraform"
    resources = _terraform_config(tf_dir, n, seed)
    tf_env = {**env, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    version = subprocess.run([terraform, "version", "-json"], capture_output=True, text=True, env=tf_env)
    try:
        tf_version = json.loads(version.stdout).get("terraform_version")
    except ValueError:
        tf_version = None
    result: dict[str, Any] = {"resources": n, "terraform_version": tf_version}
    started = time.perf_counter()
    init = subprocess.run([terraform, "init", "-input=false", "-no-color"], cwd=tf_dir, capture_output=True,
                          text=True, env=tf_env, timeout=600)
    result["init_seconds"] = round(time.perf_counter() - started, 2)
    if init.returncode != 0:
        result["skipped"] = ("terraform init failed (it may need the network): "
                             + (init.stderr or init.stdout).strip()[-500:])
        return result
    # A full apply writes the whole state once per resource (quadratic: ~2.5 min for 2,000 on
    # an idle 2-core machine); by default one resource is applied for real and the others'
    # state entries are copied from it.
    target = [] if full_apply else [f"-target=terraform_data.{resources[0][0]}"]
    started = time.perf_counter()
    apply = subprocess.run([terraform, "apply", "-auto-approve", "-input=false", "-no-color", *target],
                           cwd=tf_dir, capture_output=True, text=True, env=tf_env, timeout=3600)
    result["apply_seconds"] = round(time.perf_counter() - started, 2)
    if apply.returncode != 0:
        result["skipped"] = "terraform apply failed: " + (apply.stderr or apply.stdout).strip()[-500:]
        return result
    if not full_apply:
        _synthesize_state(tf_dir, resources)
    result["state"] = ("full terraform apply" if full_apply else
                       "terraform apply -target of one resource, the others' entries copied from it")
    runs = []
    for _ in range(max(1, repeat)):
        run = run_measured([terraform, "plan", "-refresh=true", "-detailed-exitcode", "-input=false", "-no-color"],
                           tf_env, tmp, cwd=tf_dir, gnu=gnu)
        if run.code != 0:
            raise _fail("terraform plan: expected exit 0 (no changes)", run)
        runs.append(run)
    result.update(series(runs))
    return result


# -- main ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auths", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--compare-size", type=int, default=2_000,
                        help="terraform_data resources / authorizations in the terraform comparison")
    parser.add_argument("--skip-terraform", action="store_true")
    parser.add_argument("--terraform-full-apply", action="store_true",
                        help="set up terraform's state with a full apply (slow: quadratic in resources) "
                             "instead of one applied resource copied to the others")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the large workspace here and keep it (for profiling)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="authctl-plan-bench-"))
    try:
        workspace = args.keep.resolve() if args.keep else tmp / "workspace"
        if workspace.exists() and any(workspace.iterdir()):
            parser.error(f"--keep {workspace}: folder is not empty")
        gnu = gnu_time_available()
        load_at_start = load_average()
        generated, built = build(workspace, args.auths, args.jobs, args.files, args.seed)
        if args.keep:
            lines = [f"export {k}={v}" for k, v in sorted(generated.secret_env.items())]
            (workspace / ".bench-secrets.env").write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, **generated.secret_env}
        env.pop("AUTHCTL_ENV", None)
        expected_noop = built["authorizations"] + built["jobs"]

        # 3. the check: no changes, every object a noop
        check_run, check = json_plan(workspace, env, tmp, gnu)
        if check_run.code != 0 or check["summary"].get("noop") != expected_noop:
            raise _fail(f"the populated workspace does not plan clean (summary {check.get('summary')}, "
                        f"expected noop {expected_noop})", check_run)

        # 4a. no change
        no_change = time_plans(workspace, env, tmp, args.repeat, gnu, expect=0)

        # 4b. one changed object
        edit_path = workspace / generated.edit_file
        original = edit_path.read_text(encoding="utf-8")
        if original.count(generated.edit_old + "\n") != 1:
            raise SystemExit(f"cannot find the label line to edit in {generated.edit_file}")
        edit_path.write_text(original.replace(generated.edit_old + "\n", generated.edit_new + "\n"), encoding="utf-8")
        try:
            change_run, change = json_plan(workspace, env, tmp, gnu)
            summary = change["summary"]
            if change_run.code != 2 or summary.get("update") != 1 or sum(
                    summary.get(k, 0) for k in ("create", "replace", "delete", "reauthorize", "blocked")):
                raise _fail(f"one edited label should give exactly one update (summary {summary})", change_run)
            one_change = time_plans(workspace, env, tmp, args.repeat, gnu, expect=2)
        finally:
            edit_path.write_text(original, encoding="utf-8")

        result: dict[str, Any] = {
            "benchmark": "plan_scale",
            "authorizations": built["authorizations"],
            "jobs": built["jobs"],
            "job_auth_links": built["job_auth_links"],
            "files": generated.files,
            "bytes": generated.bytes,
            "secret_env_vars": len(generated.secret_env),
            "build": built,
            "check": {"exit_code": check_run.code, "summary": check["summary"],
                      "warnings": len(check.get("warnings", [])), "unmanaged": len(check.get("unmanaged", []))},
            "no_change": series(no_change),
            "one_change": {**series(one_change), "summary": summary,
                           "action": [a["address"] for a in change["actions"]]},
            "rss_measured_by": "GNU time %M" if gnu else "getrusage(RUSAGE_CHILDREN) in a wrapper process",
            "load_average_at_start": load_at_start,
        }
        scale_ok = all(result[k]["seconds"]["median"] <= TARGET_SECONDS
                       and result[k]["peak_rss_mib"] is not None and result[k]["peak_rss_mib"] <= TARGET_RSS_MIB
                       for k in ("no_change", "one_change"))

        # 5. terraform comparison
        terraform = None if args.skip_terraform else shutil.which("terraform")
        ratio_ok: bool | None = None
        if terraform is None:
            result["terraform"] = {"skipped": "--skip-terraform" if args.skip_terraform else "terraform not on PATH"}
        else:
            tf = terraform_compare(terraform, tmp, args.compare_size, args.repeat, args.seed, dict(os.environ), gnu,
                                   args.terraform_full_apply)
            result["terraform"] = tf
            if "skipped" not in tf:
                small = tmp / "compare-workspace"
                small_gen, small_built = build(small, args.compare_size, 0, max(1, args.compare_size // 100),
                                               args.seed + 1)
                small_env = {**os.environ, **small_gen.secret_env}
                small_env.pop("AUTHCTL_ENV", None)
                small_runs = time_plans(small, small_env, tmp, args.repeat, gnu, expect=0)
                result["authctl_compare"] = {"authorizations": small_built["authorizations"],
                                             **series(small_runs)}
                ratio = tf["seconds"]["median"] / result["authctl_compare"]["seconds"]["median"]
                result["ratio"] = round(ratio, 2)
                ratio_ok = ratio >= TARGET_RATIO
        result["target"] = {"seconds": TARGET_SECONDS, "rss_mib": TARGET_RSS_MIB,
                            "terraform_ratio": TARGET_RATIO, "statistic": "median"}
        result["meets_target"] = scale_ok and ratio_ok is not False
        result["meets_target_detail"] = {"scale": scale_ok, "terraform_ratio": ratio_ok}
        result["load_average_at_end"] = load_average()
        result["python"] = pyplatform.python_version()
        result["cpus"] = os.cpu_count()
        print(json.dumps(result))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
