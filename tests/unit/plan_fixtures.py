"""Hand-built planner inputs: a few lines per scenario, no I/O.

``World`` collects desired objects (manifest dataclasses), live objects (the Snapshot)
and state (ManagedObject with fingerprints computed exactly as ``Session.plan``
does: ``fingerprint_desired`` with a fixed HMAC key and an explicit environ dict), then
``world.plan()`` calls the pure ``make_plan``.

    w = World()
    fb = w.auth("fb-ads")                    # desired + in sync (live + state)
    w.job("fb-audiences", ["fb-ads"])        # desired + in sync, bound to fb-ads
    w.environ["FB_TOKEN"] = "rotated"        # the secret changed since the last apply
    plan = w.plan()

``live=False`` / ``managed=False`` / ``desired=False`` leave out one side of the pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.catalog import Catalog, load_catalog
from reconciler.live import LiveAuthorization, LiveExperience, LiveJob, Snapshot
from reconciler.manifest.fingerprints import fingerprint_authorization, fingerprint_desired
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState, SourceLocation
from reconciler.manifest.secrets import SecretRef
from reconciler.plan import Action, Plan, PlanContext
from reconciler.planner import PlanInput, make_plan
from reconciler.vocabulary import Health, JobStatus, ObjectKind
from reconciler.state.records import ManagedObject

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"\x07" * 32
ROOT = Path("/nonexistent/authctl-workspace")  # only {env: ...} secrets are used here
CONTEXT = PlanContext(environment="prod", manifest_digest="ab" * 32, state_serial=7,
                      state_lineage="11111111-2222-3333-4444-555555555555", backend="local")
BASE_ENV = {"FB_TOKEN": "fb-token-v1", "FB_TOKEN_2": "fb-token-two", "GCP_KEY": '{"type": "service_account"}'}

_CATALOG: Catalog | None = None


def catalog() -> Catalog:
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = load_catalog()
    return _CATALOG


_DEFAULTS: dict[tuple[str, str], tuple[dict[str, Any], dict[str, SecretRef], str]] = {
    ("facebook", "system_user"): ({"ads_account_id": "act_1234567890"},
                                  {"access_token": SecretRef("env", "FB_TOKEN")}, "facebook-audience-populate"),
    ("facebook", "user_oauth"): ({}, {}, "facebook-audience-populate"),
    ("google_cloud", "pubsub_service_account"): ({}, {"cert_json": SecretRef("env", "GCP_KEY")}, "pubsub-ingress"),
    ("google_ads", "oauth"): ({}, {}, "adwords-customer-match"),
}


def desired_auth(name: str, *, provider: str = "facebook", method: str = "system_user", label: str | None = None,
                 description: str = "", config: dict[str, Any] | None = None,
                 credentials: dict[str, SecretRef] | None = None) -> DesiredAuthorization:
    default_config, default_creds, _ = _DEFAULTS.get((provider, method), ({}, {}, ""))
    return DesiredAuthorization(
        name=name, provider=provider, method=method, label=label or f"Label of {name}", description=description,
        config=dict(default_config if config is None else config),
        credentials=dict(default_creds if credentials is None else credentials),
        source=SourceLocation("manifests.yaml", 1))


def desired_job(name: str, auths: list[str], *, workflow: str = "facebook-audience-populate",
                state: str = "running", config: dict[str, Any] | None = None,
                description: str = "") -> DesiredJob:
    return DesiredJob(name=name, workflow=workflow, authorizations=tuple(auths), state=state,  # type: ignore[arg-type]
                      description=description, config=dict(config or {}), source=SourceLocation("manifests.yaml", 1))


def live_from(d: DesiredAuthorization, live_id: str, **overrides: Any) -> LiveAuthorization:
    values: dict[str, Any] = dict(id=live_id, provider=d.provider, method=d.method, type=None, label=d.label,
                                  description=d.description, health="healthy", owner="ops",
                                  created=datetime(2025, 1, 1, tzinfo=UTC), updated=datetime(2025, 1, 2, tzinfo=UTC))
    values.update(overrides)
    values["health"] = Health(values["health"])
    return LiveAuthorization(**values)


@dataclass
class World:
    """Desired + live + state for one planner run."""

    authorizations: dict[str, DesiredAuthorization] = field(default_factory=dict)
    jobs: dict[str, DesiredJob] = field(default_factory=dict)
    live_auths: dict[str, LiveAuthorization] = field(default_factory=dict)
    live_jobs: dict[str, LiveJob] = field(default_factory=dict)
    experiences: dict[str, LiveExperience] = field(default_factory=dict)
    managed: dict[tuple[str, str], ManagedObject] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))
    applied_environ: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))  # secrets at the last apply
    now: datetime = NOW
    expiry_warning_days: int = 14
    _ids: int = 0

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:04d}"

    # -- authorizations --------------------------------------------------------------------
    def auth(self, name: str, *, desired: bool = True, live: bool = True, managed: bool = True,
             live_id: str | None = None, applied: DesiredAuthorization | None = None,
             live_overrides: dict[str, Any] | None = None, **spec: Any) -> DesiredAuthorization:
        """A desired authorization; by default also live and in state, exactly as last applied.

        ``applied`` is what the last apply saw (default: the same spec); it drives the
        live provider/method/label and the fingerprints recorded in state.
        """
        d = desired_auth(name, **spec)
        if desired:
            self.authorizations[name] = d
        live_id = live_id or self._next_id("auth")
        base = applied or d
        if live:
            self.live_auths[live_id] = live_from(base, live_id, **(live_overrides or {}))
        if managed:
            fps = fingerprint_authorization(base, KEY, ROOT, self.applied_environ)
            self.managed[("Authorization", name)] = ManagedObject(
                ObjectKind.AUTHORIZATION, name, live_id, fps.recorded(), NOW, {"config": dict(base.config)})
        return d

    def live_id(self, name: str, kind: str = "Authorization") -> str:
        return self.managed[(kind, name)].live_id

    def unmanaged_auth(self, label: str, *, provider: str = "facebook", method: str = "system_user",
                       **overrides: Any) -> LiveAuthorization:
        live_id = overrides.pop("id", None) or self._next_id("uauth")
        auth = live_from(desired_auth("x", provider=provider, method=method, label=label), live_id, **overrides)
        self.live_auths[live_id] = auth
        return auth

    # -- jobs ------------------------------------------------------------------------------
    def job(self, name: str, auths: list[str], *, desired: bool = True, live: bool = True, managed: bool = True,
            status: str | None = None, live_id: str | None = None, live_auth_ids: list[str] | None = None,
            live_overrides: dict[str, Any] | None = None, **spec: Any) -> DesiredJob:
        """A desired job; by default also live (bound to the live ids of ``auths``) and in state."""
        d = desired_job(name, auths, **spec)
        if desired:
            self.jobs[name] = d
        live_id = live_id or self._next_id("job")
        if live:
            ids = live_auth_ids if live_auth_ids is not None else [self.live_id(a) for a in auths]
            default_status = "runnable" if d.state == "running" else "paused"
            values: dict[str, Any] = dict(id=live_id, name=name, workflow=d.workflow, status=status or default_status,
                                          auth_ids=tuple(ids), config=dict(d.config), description=d.description)
            values.update(live_overrides or {})
            values["status"] = JobStatus.parse(values["status"])
            self.live_jobs[live_id] = LiveJob(**values)
        if managed:
            self.managed[("Job", name)] = ManagedObject(ObjectKind.JOB, name, live_id, {}, NOW, {})
        return d

    def unmanaged_job(self, name: str, auth_ids: list[str], *, status: str = "runnable",
                      workflow: str = "facebook-audience-populate") -> LiveJob:
        job = LiveJob(id=self._next_id("ujob"), name=name, workflow=workflow, status=JobStatus.parse(status),
                      auth_ids=tuple(auth_ids))
        self.live_jobs[job.id] = job
        return job

    def experience(self, name: str, auth_ids: list[str]) -> LiveExperience:
        exp = LiveExperience(id=self._next_id("exp"), name=name, auth_ids=tuple(auth_ids))
        self.experiences[exp.id] = exp
        return exp

    # -- the run ---------------------------------------------------------------------------
    def desired_state(self) -> DesiredState:
        return DesiredState(authorizations=dict(self.authorizations), jobs=dict(self.jobs),
                            files=("manifests.yaml",), digest=CONTEXT.manifest_digest, environment="prod")

    def plan_input(self) -> PlanInput:
        desired = self.desired_state()
        return PlanInput(
            desired=desired,
            snapshot=Snapshot(dict(self.live_auths), dict(self.live_jobs), dict(self.experiences), taken_at=self.now),
            managed=dict(self.managed),
            fingerprints=fingerprint_desired(desired, KEY, ROOT, self.environ),
            catalog=catalog(), context=CONTEXT, now=self.now, expiry_warning_days=self.expiry_warning_days,
        )

    def plan(self) -> Plan:
        return make_plan(self.plan_input())


def by_address(plan: Plan) -> dict[str, Action]:
    return {a.address: a for a in plan.actions}


def kinds(plan: Plan) -> dict[str, str]:
    """address -> action word, with "!BLOCKED" appended to blocked ones: one readable dict per plan."""
    return {a.address: a.kind.value + (" BLOCKED" if a.blocked else "") for a in plan.actions}


def change_map(action: Action) -> dict[str, tuple[Any, Any]]:
    return {c.path: (c.before, c.after) for c in action.changes}
