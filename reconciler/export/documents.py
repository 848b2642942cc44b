"""What ``authctl export`` writes, as data: one file per provider, its manifest documents, its checklist. Pure.

From one snapshot (and the names state already manages), each live authorization becomes an
``Authorization`` document holding exactly what the platform shows of it (provider,
method, label, description), and each job a ``Job`` document bound by manifest name. What
the platform never returns is said, not guessed:

- credentials are write-only: every secret field the method requires becomes an
  ``{env: AUTHCTL_...}`` reference (names.py) that a person must set (or turn into
  ``{file: PATH}``); OAuth methods have none (``authctl login`` makes them);
- an authorization's config is write-only too (the Lytics API never returns it): each
  config field the method *requires* is written as ``null`` for a person to fill in, which
  ``authctl validate`` reports until it is done; optional fields are left out.

A job goes into the file of its first authorization's provider. Not exported, and listed as
skipped with the reason: objects this workspace's state already manages (their manifests
exist), jobs that are neither running nor paused (a manifest job is one or the other: a
completed job written as running would be started again), jobs bound to no authorization or
to one that is not exported (deselected, unknown to the catalog, gone), and authorizations
whose provider or method the catalog does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.catalog import Catalog, MethodSpec
from reconciler.export.names import NameAllocator, VariableAllocator, base_name, job_base_name, secret_variable
from reconciler.export.selection import Selection
from reconciler.live import LiveAuthorization, LiveJob, Snapshot
from reconciler.manifest.model import API_VERSION
from reconciler.state.records import ManagedIndex
from reconciler.vocabulary import JobStatus, ObjectKind

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SecretVariable:
    """One variable a person must set: which authorization's which credential it holds."""

    variable: str
    address: str
    credential: str


@dataclass(frozen=True)
class ConfigToFill:
    """A required config field the platform does not return: written as null."""

    address: str
    field: str
    title: str


@dataclass(frozen=True)
class Skipped:
    """A live object export did not write, and why."""

    kind: str  # "authorization" | "job"
    id: str
    name: str  # its label or platform name (platform text: escape before showing)
    reason: str
    category: str  # the reason in a few words, for counting: "managed already", "not running or paused", ...


@dataclass(frozen=True)
class RenamedJob:
    """A job whose platform name is not a manifest name: the next apply renames it to ``address``'s name."""

    address: str
    live_name: str


@dataclass
class ExportedFile:
    """One provider's file: its documents (plain data for yaml.safe_dump) and its checklist."""

    provider: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    variables: list[SecretVariable] = field(default_factory=list)
    fill_in: list[ConfigToFill] = field(default_factory=list)
    authorizations: int = 0
    jobs: int = 0

    @property
    def file_name(self) -> str:
        return f"{self.provider}.yaml"


@dataclass(frozen=True)
class Export:
    files: tuple[ExportedFile, ...]
    skipped: tuple[Skipped, ...]
    renamed_jobs: tuple[RenamedJob, ...]

    @property
    def authorizations(self) -> int:
        return sum(f.authorizations for f in self.files)

    @property
    def jobs(self) -> int:
        return sum(f.jobs for f in self.files)

    @property
    def variables(self) -> list[SecretVariable]:
        return [v for f in self.files for v in f.variables]

    @property
    def fill_in(self) -> list[ConfigToFill]:
        return [c for f in self.files for c in f.fill_in]


def _age(obj: LiveAuthorization | LiveJob) -> tuple[bool, datetime, str]:
    """Oldest first (unknown creation last), then by id: the order names are handed out in (an object
    keeps its name as others arrive)."""
    return (obj.created is None, obj.created or _LATEST, obj.id)


@dataclass
class _Builder:
    snapshot: Snapshot
    catalog: Catalog
    managed: ManagedIndex
    selection: Selection
    files: dict[str, ExportedFile] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    renamed: list[RenamedJob] = field(default_factory=list)
    auth_names: dict[str, str] = field(default_factory=dict)  # live id -> manifest name (exported or managed)
    variables: VariableAllocator = field(default_factory=VariableAllocator)

    def file(self, provider: str) -> ExportedFile:
        return self.files.setdefault(provider, ExportedFile(provider))

    def skip(self, kind: str, obj: LiveAuthorization | LiveJob, reason: tuple[str, str]) -> None:
        category, text = reason
        self.skipped.append(Skipped(kind, obj.id, obj.label if isinstance(obj, LiveAuthorization) else obj.name,
                                    text, category))

    # -- authorizations ------------------------------------------------------------------------
    def authorizations(self) -> None:
        managed = {o.live_id: o.name for (kind, _), o in self.managed.items() if kind == AUTH}
        self.auth_names.update(managed)
        names = NameAllocator(name for kind, name in self.managed if kind == AUTH)
        everything = self.selection.everything
        for auth in sorted(self.snapshot.authorizations.values(), key=_age):
            if not everything and not self.selection.admits(auth):
                continue
            if auth.id in managed:
                self.skip("authorization", auth,
                          ("managed already", f"managed already, as Authorization/{managed[auth.id]}"))
                continue
            method = self.catalog.method(auth.provider, auth.method)
            if method is None:
                self.skip("authorization", auth, ("not in the catalog", f"provider {auth.provider!r} has no method "
                                                 f"{auth.method!r} in the catalog (add a provider file: authctl.yaml "
                                                 "providers)"))
                continue
            name = names.allocate(base_name(auth.label, "authorization"))
            self.auth_names[auth.id] = name
            self._authorization(auth, method, name)

    def _authorization(self, auth: LiveAuthorization, method: MethodSpec, name: str) -> None:
        exported = self.file(auth.provider)
        address = f"{AUTH}/{name}"
        spec: dict[str, Any] = {"provider": auth.provider, "method": auth.method, "label": auth.label}
        if auth.description:
            spec["description"] = auth.description
        required_config = [f for f in method.config_fields.values() if f.required]
        if required_config:
            spec["config"] = {f.name: None for f in required_config}
            exported.fill_in += [ConfigToFill(address, f.name, f.title) for f in required_config]
        credentials: dict[str, Any] = {}
        if not method.is_oauth:
            for secret in method.secret_fields.values():
                if not secret.required:
                    continue
                variable = self.variables.allocate(secret_variable(auth.provider, name, secret.name))
                credentials[secret.name] = {"env": variable}
                exported.variables.append(SecretVariable(variable, address, secret.name))
        if credentials:
            spec["credentials"] = credentials
        exported.documents.append({"apiVersion": API_VERSION, "kind": "Authorization",
                                   "metadata": {"name": name}, "spec": spec})
        exported.authorizations += 1

    # -- jobs ------------------------------------------------------------------------------------
    def jobs(self) -> None:
        managed = {o.live_id for (kind, _), o in self.managed.items() if kind == JOB}
        names = NameAllocator(name for kind, name in self.managed if kind == JOB)
        for job in sorted(self.snapshot.jobs.values(), key=_age):
            if job.status == JobStatus.DELETED or not self._selected(job):
                continue
            reason = self._why_not(job, managed)
            if reason is not None:
                self.skip("job", job, reason)
                continue
            base = job_base_name(job.name)
            name = names.allocate(base)
            if name != job.name:
                self.renamed.append(RenamedJob(f"{JOB}/{name}", job.name))
            self._job(job, name)

    def _selected(self, job: LiveJob) -> bool:
        if self.selection.everything:
            return True
        auths = [self.snapshot.authorizations.get(i) for i in job.auth_ids]
        return all(a is None or self.selection.admits(a) for a in auths)

    def _why_not(self, job: LiveJob, managed: set[str]) -> tuple[str, str] | None:
        """(category, reason) when ``job`` is not exported, else None."""
        if job.id in managed:
            return "managed already", "managed already"
        if not (job.status.is_running or job.status.is_paused):
            return "not running or paused", (f"{job.status.display}: a manifest job is running or paused (writing "
                                             "it as running would start it again)")
        if not job.auth_ids:
            return "no authorization", "uses no authorization (a manifest job names at least one)"
        missing = [i for i in job.auth_ids if i not in self.auth_names or i not in self.snapshot.authorizations]
        if missing:
            return "authorization not exported", (f"uses authorization {missing[0]}, which is not exported (not "
                                                  "selected, not in the catalog or gone)")
        return None

    def _job(self, job: LiveJob, name: str) -> None:
        first = self.snapshot.authorizations[job.auth_ids[0]]
        exported = self.file(first.provider)
        spec: dict[str, Any] = {"workflow": job.workflow,
                                "authorizations": [self.auth_names[i] for i in job.auth_ids],
                                "state": "running" if job.status.is_running else "paused"}
        if job.description:
            spec["description"] = job.description
        if job.config:
            spec["config"] = job.config
        exported.documents.append({"apiVersion": API_VERSION, "kind": "Job", "metadata": {"name": name},
                                   "spec": spec})
        exported.jobs += 1


def _document_order(document: dict[str, Any]) -> tuple[int, str]:
    """Authorizations first, then jobs, each by name."""
    return (0 if document["kind"] == "Authorization" else 1, document["metadata"]["name"])


def build_export(snapshot: Snapshot, catalog: Catalog, managed: ManagedIndex, selection: Selection) -> Export:
    """The files export writes for ``snapshot`` (see the module docstring), sorted by provider."""
    builder = _Builder(snapshot, catalog, managed, selection)
    builder.authorizations()
    builder.jobs()
    files = []
    for provider in sorted(builder.files):
        exported = builder.files[provider]
        exported.documents.sort(key=_document_order)
        exported.variables.sort(key=lambda v: v.variable)
        files.append(exported)
    return Export(tuple(files), tuple(builder.skipped), tuple(builder.renamed))
