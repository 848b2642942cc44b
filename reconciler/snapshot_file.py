"""Saved live snapshots (``authctl snapshot -o live.json``), read back for ``authctl plan --snapshot``.

A pull request from a fork gets no secrets, so its CI reaches neither the platform nor
the state store. A trusted scheduled job (the platform's credentials, the team's state)
writes what a plan reads from both into one file, and the fork's CI plans against it
offline. The file holds:

- ``workspace``: the identity it was taken for (name, or folder when unnamed, and
  environment), and ``backend``: where it was read from (kind and a non-secret identity:
  the API URL, the platform database's path, or a database URL without user, password or query);
- ``taken_at`` (UTC) and the live objects, as ``live.Snapshot`` holds them;
- what planning reads from the state store: ``state`` (lineage and serial) and ``managed``
  (which live id each manifest address is, and the non-secret values last applied).

It never holds a secret value, the state's HMAC key, nor a credential's fingerprint.
Those fingerprints are keyed by the state's key, which a fork does not have, so they
could not be compared anyway; only the names of the recorded credentials are kept (a
credential removed from a manifest still shows). A plan against the file treats every
credential as not compared (:func:`fingerprints_without_secrets`). Config is not secret
(its applied values are in the file already), so its fingerprints are re-keyed with a
fresh key the file carries (``config_fingerprint_key``): the fork's plan finds a changed
config (a replace) by the very comparison a live plan makes. A fingerprint that cannot be
re-keyed, because state lacks the value it was made of, becomes one that matches nothing,
so the plan shows a change rather than hide one.

Reading is size-capped JSON checked by pydantic; every problem is one SnapshotFileError
naming the file and the field. :func:`check_snapshot_fits` refuses a file of another
workspace, environment or platform, and one older than ``--max-snapshot-age``.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from reconciler.clock import as_utc
from reconciler.errors import SnapshotFileError
from reconciler.file_reads import FileRefused, limit_text, read_regular_file
from reconciler.live import LiveAuthorization, LiveExperience, LiveJob, Snapshot
from reconciler.manifest.fingerprints import AuthFingerprints, SecretStatus, canonical, fingerprint_authorization
from reconciler.manifest.model import DesiredState
from reconciler.manifest.secrets import fingerprint
from reconciler.plan import SnapshotOrigin
from reconciler.state.records import SCHEMA_VERSION, ManagedIndex, ManagedObject, StateMeta
from reconciler.vocabulary import Health, JobStatus, ObjectKind
from reconciler.workspace import Workspace, WorkspaceIdentity

SNAPSHOT_KIND = "authctl-snapshot"
FORMAT_VERSION = "1"
MAX_SNAPSHOT_FILE_BYTES = 512 * 1024 * 1024  # 60,000 objects are about 40 MiB of JSON
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of two CI machines disagree a little, never by more
NOT_COMPARED = "planned against a snapshot"  # why each credential is not compared (the plan's note)
_UNKNOWN_CONFIG = "(not known: state lacks the applied value)"  # a config fingerprint that matches nothing
_WITHHELD = "(withheld: a snapshot holds no credential fingerprint)"  # and matches none


# -- the document (pydantic at the boundary) --------------------------------------------------------
class _Model(BaseModel):
    # Later versions may add fields: ignored, as plan files do; a missing or mistyped field is an error.
    model_config = ConfigDict(extra="ignore", frozen=True)


class WorkspaceModel(_Model):
    name: str | None
    root: str | None = None
    environment: str | None


class BackendModel(_Model):
    kind: str
    identity: str


class StateModel(_Model):
    lineage: str
    serial: int = Field(ge=0)


class AuthorizationModel(_Model):
    id: str
    provider: str
    method: str
    type: str | None = None
    label: str
    description: str = ""
    health: Health = Health.UNKNOWN
    health_reason: str = ""
    owner: str = ""
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None
    health_checked_at: AwareDatetime | None = None
    token_expires_at: AwareDatetime | None = None
    scopes: list[str] = Field(default_factory=list)


class JobModel(_Model):
    id: str
    name: str
    workflow: str
    status: JobStatus
    auth_ids: list[str]
    config: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    owner: str = ""
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None


class ExperienceModel(_Model):
    id: str
    name: str
    auth_ids: list[str]
    status: str


class ManagedModel(_Model):
    kind: ObjectKind
    name: str
    live_id: str
    config_fingerprints: dict[str, str] = Field(default_factory=dict)  # "config.<field>" -> re-keyed digest
    credentials: list[str] = Field(default_factory=list)  # fields whose fingerprint state recorded (withheld)
    applied_at: AwareDatetime
    applied: dict[str, Any] = Field(default_factory=dict)


class SnapshotDocument(_Model):
    kind: Literal["authctl-snapshot"]
    format_version: Literal["1"]
    taken_at: AwareDatetime
    workspace: WorkspaceModel
    backend: BackendModel
    state: StateModel | None
    config_fingerprint_key: str
    authorizations: list[AuthorizationModel]
    jobs: list[JobModel]
    experiences: list[ExperienceModel]
    managed: list[ManagedModel]


# -- the typed content ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedSnapshot:
    """What a snapshot file holds, typed: the live snapshot and the state a plan reads, with where they came from."""

    identity: WorkspaceIdentity
    taken_at: datetime
    backend_kind: str
    backend_identity: str
    live: Snapshot
    meta: StateMeta | None  # None: the workspace had no state store yet (nothing applied)
    managed: ManagedIndex
    config_fingerprint_key: bytes  # not a secret: see the module docstring
    file: Path | None = None  # where it was read from (None: just taken)

    @property
    def source(self) -> str:
        return f"{self.backend_kind} {self.backend_identity}"

    def origin(self, now: datetime) -> SnapshotOrigin:
        """The plan's provenance: this file, when it was taken and how old it is ``now``."""
        age = max(0, int((now - self.taken_at).total_seconds()))
        return SnapshotOrigin(str(self.file or ""), self.taken_at, age, self.source)

    def state_view(self) -> SavedState | None:
        """The state store as the file recorded it (a ``StateView``), or None when there was none."""
        return None if self.meta is None else SavedState(self.meta, self.config_fingerprint_key, self.managed)


@dataclass(frozen=True)
class SavedState:
    """A ``state.access.StateView`` over a snapshot file: the plan reads the recorded state, no database."""

    _meta: StateMeta
    _key: bytes
    _managed: ManagedIndex

    def meta(self) -> StateMeta:
        return self._meta

    def hmac_key(self) -> bytes:
        """The file's config key (config fingerprints were re-keyed with it), never the state's."""
        return self._key

    def managed(self) -> ManagedIndex:
        return self._managed

    def close(self) -> None:
        """Nothing to release: the file was read whole."""


# -- taking one (the trusted side) -------------------------------------------------------------------
def backend_identity(workspace: Workspace) -> tuple[str, str]:
    """The backend's kind and a non-secret identity: the API URL, the platform file, or a database URL.

    A file inside the workspace is named relative to it, so the trusted job's checkout and
    the fork's compare equal; a URL keeps scheme, host, port and path only (no user,
    password, query or fragment: any of them may hold a credential).
    """
    settings = workspace.backend
    if settings.kind == "local":
        location = settings.path
        if "://" not in location:
            return "local", workspace.display_path(workspace.resolve_path(location))
        return "local", _without_credentials(location)
    return settings.kind, _without_credentials(settings.url or "")


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def build_saved_snapshot(workspace: Workspace, live: Snapshot, meta: StateMeta | None, managed: ManagedIndex,
                         state_key: bytes | None, taken_at: datetime) -> SavedSnapshot:
    """The snapshot to write: config fingerprints re-keyed with a fresh key, credential fingerprints withheld."""
    public_key = secrets.token_bytes(32)
    rekeyed = {key: _rekeyed(obj, state_key, public_key) for key, obj in managed.items()}
    kind, identity = backend_identity(workspace)
    return SavedSnapshot(workspace.identity(), taken_at, kind, identity, live, meta, rekeyed, public_key)


def _rekeyed(obj: ManagedObject, state_key: bytes | None, public_key: bytes) -> ManagedObject:
    """``obj`` with config fingerprints under ``public_key`` and credential fingerprints replaced by a marker.

    A config fingerprint is re-made from the applied value only once it is proven to be
    that value's (the state's key makes the same digest); otherwise it matches nothing.
    """
    applied_config = obj.applied.get("config")
    applied_config = applied_config if isinstance(applied_config, dict) else {}
    fingerprints: dict[str, str] = {}
    for path, digest in obj.fingerprints.items():
        group, _, field_name = path.partition(".")
        if group == "credentials":
            fingerprints[path] = _WITHHELD
        elif group == "config":
            value = canonical(applied_config[field_name]) if field_name in applied_config else None
            proven = value is not None and state_key is not None and fingerprint(state_key, value) == digest
            fingerprints[path] = fingerprint(public_key, value) if proven and value is not None else _UNKNOWN_CONFIG
        # (no other kind of fingerprint exists; an unknown one is left out rather than copied)
    return replace(obj, fingerprints=fingerprints)


def snapshot_json(saved: SavedSnapshot) -> str:
    """The snapshot file's text: compact ASCII JSON (``jq .`` shows it whole), one line ending in a newline.

    Compact because a snapshot at scale is tens of MiB (indenting it takes three times as
    long); ASCII because every string a platform sends, a lone surrogate included,
    round-trips exactly and no control character reaches a terminal that shows the file.
    """
    return json.dumps(snapshot_document(saved), ensure_ascii=True, separators=(",", ":")) + "\n"


def snapshot_document(saved: SavedSnapshot) -> dict[str, Any]:
    """The JSON document of ``saved`` (what ``authctl snapshot`` prints or writes)."""
    identity = saved.identity
    return {
        "kind": SNAPSHOT_KIND,
        "format_version": FORMAT_VERSION,
        "taken_at": _iso(saved.taken_at),
        "workspace": {"name": identity.name, "root": identity.root, "environment": identity.environment},
        "backend": {"kind": saved.backend_kind, "identity": saved.backend_identity},
        "state": None if saved.meta is None else {"lineage": saved.meta.lineage, "serial": saved.meta.serial},
        "config_fingerprint_key": base64.b64encode(saved.config_fingerprint_key).decode("ascii"),
        "authorizations": [_authorization_dict(a) for a in sorted(saved.live.authorizations.values(),
                                                                   key=lambda a: a.id)],
        "jobs": [_job_dict(j) for j in sorted(saved.live.jobs.values(), key=lambda j: j.id)],
        "experiences": [{"id": e.id, "name": e.name, "auth_ids": list(e.auth_ids), "status": e.status}
                        for e in sorted(saved.live.experiences.values(), key=lambda e: e.id)],
        "managed": [_managed_dict(o) for _, o in sorted(saved.managed.items())],
    }


def _iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` (microseconds only when there are some).

    ``isoformat`` rather than ``strftime``: a snapshot at scale holds 200,000 timestamps,
    and strftime was most of the time taken to write one.
    """
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z")


def _authorization_dict(a: LiveAuthorization) -> dict[str, Any]:
    return {"id": a.id, "provider": a.provider, "method": a.method, "type": a.type, "label": a.label,
            "description": a.description, "health": a.health.value, "health_reason": a.health_reason,
            "owner": a.owner, "created": _iso(a.created), "updated": _iso(a.updated),
            "health_checked_at": _iso(a.health_checked_at), "token_expires_at": _iso(a.token_expires_at),
            "scopes": list(a.scopes)}


def _job_dict(j: LiveJob) -> dict[str, Any]:
    return {"id": j.id, "name": j.name, "workflow": j.workflow, "status": j.status.value,
            "auth_ids": list(j.auth_ids), "config": j.config, "description": j.description, "owner": j.owner,
            "created": _iso(j.created), "updated": _iso(j.updated)}


def _managed_dict(o: ManagedObject) -> dict[str, Any]:
    config = {p: d for p, d in sorted(o.fingerprints.items()) if p.startswith("config.")}
    credentials = sorted(p.partition(".")[2] for p in o.fingerprints if p.startswith("credentials."))
    return {"kind": o.kind.value, "name": o.name, "live_id": o.live_id, "config_fingerprints": config,
            "credentials": credentials, "applied_at": _iso(o.applied_at), "applied": o.applied}


# -- reading one back (the fork's side) ---------------------------------------------------------------
def read_snapshot_file(path: Path) -> SavedSnapshot:
    """The snapshot saved in ``path``; SnapshotFileError naming the file and the first problem otherwise.

    A good file is parsed and checked in one pass (pydantic's JSON mode); only a bad one
    is read again step by step, to say what is wrong in our words.
    """
    try:
        raw = read_regular_file(path, MAX_SNAPSHOT_FILE_BYTES)
    except FileRefused as exc:
        reason = f"it is larger than {limit_text(MAX_SNAPSHOT_FILE_BYTES)}" if exc.too_large else f"it {exc.reason}"
        raise SnapshotFileError(f"snapshot file {path} cannot be read: {reason}") from None
    except FileNotFoundError:
        raise SnapshotFileError(f"{path}: snapshot file not found",
                                hint="a trusted job makes one with `authctl snapshot -o FILE`") from None
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc)).lower()
        raise SnapshotFileError(f"snapshot file {path} cannot be read: {reason}") from None
    try:
        document = SnapshotDocument.model_validate_json(raw)
    except ValidationError:
        document = _checked_step_by_step(raw, path)
    try:
        key = base64.b64decode(document.config_fingerprint_key, validate=True)
    except ValueError:
        raise SnapshotFileError(f"snapshot file {path} is not a valid authctl snapshot: config_fingerprint_key: "
                                "not base64") from None
    return _saved(document, key, path)


def _checked_step_by_step(raw: bytes, path: Path) -> SnapshotDocument:
    """A file that failed the one-pass check: the first problem as a SnapshotFileError (text, JSON, kind, field)."""
    invalid = f"snapshot file {path} is not a valid authctl snapshot"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SnapshotFileError(f"{invalid}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SnapshotFileError(f"{invalid}: line {exc.lineno}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise SnapshotFileError(f"{invalid}: nested too deeply") from None
    if not isinstance(data, dict) or data.get("kind") != SNAPSHOT_KIND:
        raise SnapshotFileError(f"{path}: not an authctl snapshot file (make one with `authctl snapshot -o FILE`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise SnapshotFileError(f"{path}: snapshot format {str(data.get('format_version'))[:20]!r} is not supported "
                                f"(this authctl reads {FORMAT_VERSION!r})")
    try:
        return SnapshotDocument.model_validate(data)
    except ValidationError as exc:
        raise SnapshotFileError(f"{invalid}: {_first_problem(exc)}") from None


def _saved(doc: SnapshotDocument, key: bytes, path: Path) -> SavedSnapshot:
    auths = {a.id: LiveAuthorization(
        a.id, a.provider, a.method, a.type, a.label, a.description, a.health, a.health_reason, a.owner,
        a.created, a.updated, a.health_checked_at, a.token_expires_at, tuple(a.scopes)) for a in doc.authorizations}
    jobs = {j.id: LiveJob(j.id, j.name, j.workflow, j.status, tuple(j.auth_ids), dict(j.config), j.description,
                          j.owner, j.created, j.updated) for j in doc.jobs}
    experiences = {e.id: LiveExperience(e.id, e.name, tuple(e.auth_ids), e.status) for e in doc.experiences}
    managed: ManagedIndex = {}
    for m in doc.managed:
        fingerprints = dict(m.config_fingerprints)
        fingerprints.update({f"credentials.{name}": _WITHHELD for name in m.credentials})
        managed[(m.kind, m.name)] = ManagedObject(m.kind, m.name, m.live_id, fingerprints, m.applied_at,
                                                  dict(m.applied))
    meta = None if doc.state is None else StateMeta(doc.state.lineage, doc.state.serial, doc.workspace.name,
                                                    SCHEMA_VERSION)
    identity = WorkspaceIdentity(doc.workspace.name, doc.workspace.root, doc.workspace.environment)
    live = Snapshot(auths, jobs, experiences, taken_at=doc.taken_at)
    return SavedSnapshot(identity, doc.taken_at, doc.backend.kind, doc.backend.identity, live, meta, managed, key,
                         path)


_TYPE_WORDS = {"string_type": "expected a string", "int_type": "expected an integer",
               "int_parsing": "expected an integer", "bool_type": "expected a boolean", "list_type": "expected a list",
               "dict_type": "expected an object", "model_type": "expected an object", "missing": "missing",
               "timezone_aware": "expected a date and time with its time zone (ISO 8601, e.g. 2026-11-26T09:00:00Z)",
               "greater_than_equal": "must not be negative"}


def _first_problem(exc: ValidationError) -> str:
    """The first problem as ``path: what is wrong`` in our words (values from the file are never echoed)."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    path = ""
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind = first["type"]
    if kind in _TYPE_WORDS:
        words = _TYPE_WORDS[kind]
    elif kind.startswith(("datetime", "date_")):
        words = _TYPE_WORDS["timezone_aware"]
    elif kind in ("enum", "literal_error"):
        words = f"must be one of {first.get('ctx', {}).get('expected', '')}".rstrip()
    else:
        words = "has the wrong type or value"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{path or 'the document'}: {words}{more}"


# -- does it fit this plan? ----------------------------------------------------------------------------
def check_snapshot_fits(saved: SavedSnapshot, path: Path, workspace: Workspace, now: datetime,
                        max_age_seconds: float, max_age_text: str) -> None:
    """Refuse a snapshot of another workspace, environment or platform, or one too old (SnapshotFileError).

    Workspaces compare as state stores do: by name, and by folder only when unnamed (a
    named workspace may be checked out anywhere, as CI does).
    """
    mine = workspace.identity()
    theirs = saved.identity
    other_workspace = theirs.name != mine.name or (mine.name is None and theirs.root != mine.root)
    if other_workspace or (theirs.environment or None) != (mine.environment or None):
        hint = ("name the workspace (`name:` in authctl.yaml) so that another checkout of it can use its snapshots; "
                if other_workspace and mine.name is None and theirs.name is None else "")
        if not other_workspace and theirs.environment:
            hint += f"plan with --env {theirs.environment}, or "
        env = f" --env {mine.environment}" if mine.environment else ""
        raise SnapshotFileError(
            f"snapshot file {path} was taken for {_identity_words(theirs)}, and this plan is for "
            f"{_identity_words(mine)}; refusing, because planning against another's live state shows that "
            "workspace's objects as changes",
            hint=hint + f"take a snapshot of this one with `authctl snapshot{env} -o FILE`")
    kind, identity = backend_identity(workspace)
    if (kind, identity) != (saved.backend_kind, saved.backend_identity):
        raise SnapshotFileError(
            f"snapshot file {path} was taken from the {saved.backend_kind} backend {saved.backend_identity}, and "
            f"this workspace's {workspace.backend_setting} is the {kind} backend {identity}; refusing to plan "
            "against another platform's objects",
            hint="take a snapshot of this platform with `authctl snapshot -o FILE`")
    taken = f"{saved.taken_at:%Y-%m-%d %H:%M} UTC"
    if saved.taken_at - now > FUTURE_TOLERANCE:
        raise SnapshotFileError(f"snapshot file {path} says it was taken at {taken}, which is in the future; "
                                "check the clocks of the machine that took it and of this one")
    age = (now - saved.taken_at).total_seconds()
    if age > max_age_seconds:
        from reconciler.durations import age_words

        raise SnapshotFileError(
            f"snapshot file {path} was taken {age_words(age)} ago ({taken}), more than --max-snapshot-age "
            f"{max_age_text} allows; the platform may have changed since",
            hint="take a new one with `authctl snapshot -o FILE` (a trusted job with the platform's credentials), "
                 "or allow an older one with --max-snapshot-age")


def _identity_words(identity: WorkspaceIdentity) -> str:
    who = f"workspace {identity.name!r}" if identity.name else f"the unnamed workspace at {identity.root}"
    return f"{who}, environment {identity.environment!r}" if identity.environment else f"{who}, no environment"


# -- planning against one ---------------------------------------------------------------------------
def fingerprints_without_secrets(desired: DesiredState, key: bytes) -> dict[str, AuthFingerprints]:
    """Config fingerprints under the file's ``key``; every credential "not compared", its secret never read.

    The fork's secrets are not there, and even where some are (a person planning against a
    snapshot on a laptop), the snapshot holds nothing to compare them with.
    """
    result: dict[str, AuthFingerprints] = {}
    for name, auth in desired.authorizations.items():
        config = fingerprint_authorization(replace(auth, credentials={}), key, Path("."), environ={}).config
        credentials = {field_name: SecretStatus(ref.describe(), None, NOT_COMPARED)
                       for field_name, ref in sorted(auth.credentials.items())}
        result[name] = AuthFingerprints(config, credentials)
    return result
