"""The workspace: a folder with ``authctl.yaml`` (settings) and manifest files.

Settings say where the live platform is (``backend``), where the reconciler keeps its
memory (``state``), which variables each environment renders the manifests with
(``environments.<env>.vars``), extra provider folders and policy knobs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reconciler.discovery import Discovery, discover
from reconciler.errors import WorkspaceError
from reconciler.file_reads import FileRefused, describe_size, limit_text, read_regular_file
from reconciler.policy.rules import PolicyRule
from reconciler.suggestions import did_you_mean
from reconciler.yaml_with_lines import NESTED_TOO_DEEPLY, StrictLoader, line_of, nesting_line, yaml_error_line

SETTINGS_FILE = "authctl.yaml"
DATA_DIR = ".authctl"
SKIPPED_DIRS = frozenset({".venv", "venv", "__pycache__", "node_modules"})
MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_SETTINGS_BYTES = 4 * 1024 * 1024  # like a manifest file (reconciler.manifest.loader.MAX_FILE_BYTES)

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvironmentSettings(_Strict):
    """One environment (``--env NAME``): variables for Jinja2 rendering, and its own platform and state.

    An environment with its own ``state`` (and ``backend``) cannot touch another's objects;
    environments that share a state store each get a namespace of their own in it (named
    after the environment), so neither ever reads, replaces or deletes the other's records.
    """

    vars: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    backend: BackendSettings | None = None
    state: StateSettings | None = None


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_NOT_A_VARIABLE = ("must be the name of an environment variable (letters, digits and _, not starting with a digit, "
                   "at most 128); the value is not shown in case it is the token itself")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_TIMEOUT_SECONDS = 600


def reference_only(value: Any, code: str, what: str) -> Any:
    """A setting that holds a secret takes a reference (``{env: ...}``/``{file: ...}``), never ``what`` itself.

    Runs before the model parses the value, so a pasted secret is refused without being shown.
    """
    if value is not None and not isinstance(value, dict):
        raise PydanticCustomError(code, f"must be a reference, {{env: VARIABLE}} or {{file: PATH}}, never {what} "
                                        "itself (the value is not shown)")
    return value


class TokenReference(_Strict):
    """Where a secret setting's value is (the Lytics API token, an OAuth client secret): ``{env: NAME}`` or
    ``{file: PATH}``, as credentials in manifests.

    A file follows the manifests' rules (inside the workspace or a ``secret_dirs`` folder).
    """

    env: str | None = None
    file: str | None = None

    @field_validator("env")
    @classmethod
    def _a_variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _VARIABLE_NAME.fullmatch(value):
            raise PydanticCustomError("env_name", _NOT_A_VARIABLE)
        return value

    @field_validator("file")
    @classmethod
    def _a_plausible_path(cls, value: str | None) -> str | None:
        if value is not None and (not value or len(value) > 1024 or any(ord(c) < 32 or ord(c) == 127 for c in value)):
            raise PydanticCustomError("file_path", "not a usable path (empty, longer than 1024 characters, or "
                                                   "holding control characters); it is not shown")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenReference:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError("token_reference", "give exactly one of {env: VARIABLE} or {file: PATH}")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env is not None else f"file {self.file}"


class BackendSettings(_Strict):
    """Where live state is: the embedded platform (default) or a Lytics-shaped API."""

    kind: Literal["local", "lytics"] = "local"
    path: str = f"{DATA_DIR}/platform.db"  # local: file path or SQLAlchemy URL
    url: str | None = Field(default=None, validate_default=True)  # lytics: base URL, e.g. http://127.0.0.1:8765
    # lytics: where the API token is ({env: NAME} or {file: PATH}); a pasted token is refused, never echoed
    token: TokenReference | None = None
    # lytics, older form of token: {env: NAME}: the NAME of the env var holding the API token
    token_env: str = "LYTICS_API_TOKEN"
    account_id: str | None = None
    timeout_seconds: float = 30.0  # lytics: how long one request may wait for the platform
    mode: Literal["guarded", "cascade"] = "guarded"  # local: how deletes behave

    @field_validator("path")
    @classmethod
    def _a_lasting_database(cls, value: str) -> str:
        return check_database_location(value)

    @field_validator("url")
    @classmethod
    def _an_api_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") != "lytics":
            return value
        if value is None:
            raise PydanticCustomError("url_required", "required with kind: lytics: the API's base URL, e.g. "
                                                      "https://api.lytics.io or http://127.0.0.1:8765")
        return check_api_url(value)

    @field_validator("token", mode="before")
    @classmethod
    def _a_reference(cls, value: Any) -> Any:
        return reference_only(value, "literal_token", "the token")

    @field_validator("token_env")
    @classmethod
    def _a_variable_name(cls, value: str) -> str:
        if not _VARIABLE_NAME.fullmatch(value):
            raise PydanticCustomError("env_name", _NOT_A_VARIABLE)
        return value

    @field_validator("timeout_seconds")
    @classmethod
    def _a_sane_timeout(cls, value: float) -> float:
        if not 0 < value <= MAX_TIMEOUT_SECONDS:
            raise PydanticCustomError("timeout_range", "must be more than 0 and at most {max} seconds",
                                      {"max": MAX_TIMEOUT_SECONDS})
        return value

    @model_validator(mode="after")
    def _one_token_setting(self) -> BackendSettings:
        if self.token is not None and "token_env" in self.model_fields_set:
            raise PydanticCustomError("token_twice", "give token ({env: NAME} or {file: PATH}) or the older "
                                                     "token_env, not both")
        return self

    @property
    def token_reference(self) -> TokenReference:
        """``token``, else ``{env: token_env}`` (default ``{env: LYTICS_API_TOKEN}``)."""
        return self.token if self.token is not None else TokenReference(env=self.token_env)


def check_api_url(value: str) -> str:
    """``backend.url``: http(s) with a host; plain http only to this machine (the token travels with every call).

    The value is never echoed: it may be a token pasted in the wrong place.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise PydanticCustomError("api_url", "not a URL (the value is not shown)") from None
    if parts.scheme not in ("http", "https") or not host:
        raise PydanticCustomError("api_url", "must be an http:// or https:// URL with a host, e.g. "
                                             "https://api.lytics.io (the value is not shown)")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("api_url", "must not hold a user name or password; the token goes in "
                                             "backend.token (the value is not shown)")
    if parts.query or parts.fragment:
        raise PydanticCustomError("api_url", "must not hold a query or fragment (the value is not shown)")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise PydanticCustomError("api_url", "plain http is allowed only to this machine (127.0.0.1, localhost "
                                             "or ::1): the API token would cross the network unencrypted; use "
                                             "https://")
    return value.strip()


class StateSettings(_Strict):
    """The reconciler's memory: a SQLite file by default, or a SQLAlchemy URL."""

    url: str = f"{DATA_DIR}/state.db"

    @field_validator("url")
    @classmethod
    def _a_lasting_database(cls, value: str) -> str:
        return check_database_location(value)


MAX_EXPIRY_WARNING_DAYS = 3650  # ten years; far beyond, "now + days" overflows a date


class PolicySettings(_Strict):
    """Knobs for warnings and guards, and the rules the manifests must follow (reconciler/policy/)."""

    expiry_warning_days: int = 14
    rules: list[PolicyRule] = Field(default_factory=list)

    @field_validator("expiry_warning_days")
    @classmethod
    def _at_most_ten_years(cls, value: int) -> int:
        if not 0 <= value <= MAX_EXPIRY_WARNING_DAYS:
            digits = len(str(abs(value)))
            shown = str(value) if digits <= 20 else f"a {digits}-digit number"
            raise PydanticCustomError("expiry_warning_days_range",
                                      "must be a number of days from 0 to {max} (ten years), not {shown}",
                                      {"max": MAX_EXPIRY_WARNING_DAYS, "shown": shown})
        return value


SUPPORTED_DATABASES = ("supported: a file path (SQLite), sqlite:///PATH, "
                       "postgresql+psycopg://USER:PASSWORD@HOST/DB")
# database -> the drivers authctl works with, and the module each needs (``+driver`` in a URL)
_DRIVERS = {"sqlite": {"pysqlite": "sqlite3"}, "postgresql": {"psycopg": "psycopg", "psycopg2": "psycopg2"}}


def check_database_location(value: str) -> str:
    """``state.url`` / ``backend.path``: a file path or a URL of a database authctl supports, and a lasting one.

    Checked when authctl.yaml is read, so the error names the setting and its line; only
    the scheme is ever echoed (a URL may hold a password). Without importing SQLAlchemy.
    """
    text = value.strip()
    if not text:
        raise PydanticCustomError("database_location", "is empty ({supported})", {"supported": SUPPORTED_DATABASES})
    scheme, sep, rest = text.partition("://")
    if not sep:
        if text == ":memory:":
            raise _in_memory()
        return value
    database, _, driver = scheme.lower().partition("+")
    if database not in _DRIVERS:
        raise PydanticCustomError("database_location", "{scheme}:// is not a supported database ({supported})",
                                  {"scheme": scheme, "supported": SUPPORTED_DATABASES})
    if driver and driver not in _DRIVERS[database]:
        raise PydanticCustomError("database_location", "the database driver '{driver}' is not supported ({supported})",
                                  {"driver": driver, "supported": SUPPORTED_DATABASES})
    if driver:
        import importlib.util

        if importlib.util.find_spec(_DRIVERS[database][driver]) is None:
            raise PydanticCustomError(
                "database_location", "the database driver '{driver}' is not installed; install it, or use "
                "postgresql+psycopg:// (pip install 'authctl[postgres]')", {"driver": driver})
    location, _, query = rest.partition("?")
    if database == "sqlite" and (location in ("", "/") or location.endswith(":memory:") or "mode=memory" in query):
        raise _in_memory()
    return value


def _in_memory() -> PydanticCustomError:
    return PydanticCustomError(
        "database_location", "an in-memory database would forget everything between runs (what authctl manages, "
        "and the key it fingerprints secrets with); give a file path or a PostgreSQL URL ({supported})",
        {"supported": SUPPORTED_DATABASES})


class OAuthClientSettings(_Strict):
    """``oauth_clients.PROVIDER``: the OAuth app authctl logs in with; the secret only as a reference."""

    client_id: str = Field(min_length=1, max_length=512)
    client_secret: TokenReference | None = None  # {env: NAME} or {file: PATH}; None: a public client (PKCE only)

    @field_validator("client_secret", mode="before")
    @classmethod
    def _a_reference(cls, value: Any) -> Any:
        return reference_only(value, "literal_secret", "the secret")


class ProviderOverride(_Strict):
    """``provider_overrides.PROVIDER``: endpoints used instead of the catalog's (self-hosted or test servers).

    ``api_base_url`` replaces the scheme, host and port of the provider's API calls (health
    checks), keeping their paths. Plain http only to this machine, as for ``backend.url``.
    """

    authorization_url: str | None = None
    token_url: str | None = None
    revocation_url: str | None = None
    request_token_url: str | None = None  # OAuth 1.0a
    api_base_url: str | None = None

    @field_validator("authorization_url", "token_url", "revocation_url", "request_token_url", "api_base_url")
    @classmethod
    def _an_endpoint(cls, value: str | None) -> str | None:
        return None if value is None else check_endpoint_url(value)


def check_endpoint_url(value: str) -> str:
    """An OAuth or API endpoint: like ``backend.url`` but a query is allowed (some authorize URLs carry one)."""
    base, _, query = value.strip().partition("?")
    checked = check_api_url(base)  # refuses a fragment written before any query
    if "#" in query:
        raise PydanticCustomError("api_url", "must not hold a fragment (the value is not shown)")
    return f"{checked}?{query}" if query else checked


class Settings(_Strict):
    """The whole of ``authctl.yaml``.

    ``secret_dirs`` lists the folders outside the workspace that ``{file: PATH}``
    credentials may read, e.g. ``[/run/secrets]`` where CI or an orchestrator mounts
    secrets; relative entries are under the workspace root. Without it a secret file must
    be inside the workspace (after following symbolic links, and not under ``.authctl`` or
    ``.git``): a manifest from a pull request must not be able to upload
    ``/proc/self/environ`` or ``~/.ssh/id_rsa`` as a credential
    (reconciler/manifest/secret_files.py has the rules).
    """

    version: Literal[1] = 1
    name: str | None = None
    default_environment: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    environments: dict[str, EnvironmentSettings] = Field(default_factory=dict)
    providers: list[str] = Field(default_factory=list)
    backend: BackendSettings = Field(default_factory=BackendSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    secret_dirs: list[str] = Field(default_factory=list)  # see the class docstring
    # OAuth apps for `authctl login` / `reauth` / `refresh`, by provider (issue 13)
    oauth_clients: dict[str, OAuthClientSettings] = Field(default_factory=dict)
    # Endpoints instead of the catalog's, by provider (test servers, self-hosted gateways)
    provider_overrides: dict[str, ProviderOverride] = Field(default_factory=dict)


@dataclass(frozen=True)
class WorkspaceIdentity:
    """Who may use a state store: a workspace (by name, or by folder when unnamed), and in which environment.

    The state records the workspace at first use. Any other workspace is refused, because
    a plan against another workspace's state sees that workspace's objects as "no longer
    in the manifests" and deletes or replaces them. The environment picks the namespace
    within the store (each environment has its own). ``root`` is compared only for
    unnamed workspaces (a named one may be checked out anywhere, as CI does); ``None``
    means "not known" and is neither compared nor recorded.
    """

    name: str | None
    root: str | None = None
    environment: str | None = None

    def describe(self) -> str:
        who = f"workspace {self.name!r}" if self.name else f"the unnamed workspace at {self.root or '(unknown)'}"
        return f"{who}, environment {self.environment!r}" if self.environment else who

    def meta_rows(self) -> dict[str, str]:
        """The ``state_meta`` rows that record this identity's workspace (the environment is a namespace)."""
        rows = {"workspace": self.name or ""}
        if self.root is not None:
            rows["workspace_root"] = self.root
        return rows


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: its root, settings and the chosen environment."""

    root: Path
    settings: Settings
    environment: str | None

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def backend(self) -> BackendSettings:
        """The platform this run talks to: the environment's own, else the workspace's."""
        own = self.settings.environments[self.environment].backend if self.environment else None
        return own or self.settings.backend

    @property
    def state(self) -> StateSettings:
        """The state store this run uses: the environment's own, else the workspace's."""
        own = self.settings.environments[self.environment].state if self.environment else None
        return own or self.settings.state

    @property
    def backend_setting(self) -> str:
        """Where :attr:`backend` is written in authctl.yaml (``environments.NAME.backend`` or ``backend``), for errors."""
        own = self.environment is not None and self.settings.environments[self.environment].backend is not None
        return f"environments.{self.environment}.backend" if own else "backend"

    @property
    def state_setting(self) -> str:
        """Where :attr:`state` is written in authctl.yaml (``environments.NAME.state`` or ``state``), for errors."""
        own = self.environment is not None and self.settings.environments[self.environment].state is not None
        return f"environments.{self.environment}.state" if own else "state"

    def identity(self) -> WorkspaceIdentity:
        """What the state store records and checks: the name (or, unnamed, the folder) and environment."""
        return WorkspaceIdentity(self.settings.name, str(self.root), self.environment)

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    def template_vars(self) -> dict[str, Any]:
        """Variables for Jinja2: shared ``vars`` overlaid by the environment's, plus ``env``."""
        values = dict(self.settings.vars)
        if self.environment is not None:
            values.update(self.settings.environments[self.environment].vars)
        values["env"] = self.environment
        return values

    def provider_dirs(self) -> list[Path]:
        return [self.resolve_path(p) for p in self.settings.providers]

    def secret_dirs(self) -> tuple[Path, ...]:
        """The folders besides the workspace that ``{file: PATH}`` credentials may read (``secret_dirs``)."""
        return tuple(self.resolve_path(p) for p in self.settings.secret_dirs)

    def resolve_path(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.root / path

    def resolve_url(self, value: str) -> str:
        """A SQLAlchemy URL as is, or a file path made absolute under the workspace."""
        if "://" in value:
            return value
        path = self.resolve_path(value)
        return f"sqlite:///{path}"

    def manifest_files(self) -> list[Path]:
        """Every manifest file (see :meth:`discover_manifests`); raises WorkspaceError when
        something could not be looked at, so that no caller can miss a folder silently."""
        found = self.discover_manifests()
        if found.problems:
            raise WorkspaceError("\n".join(f"{p.display}: {p.message}" for p in found.problems))
        return found.files

    def discover_manifests(self) -> Discovery:
        """Every ``*.yaml``/``*.yml`` below the root and every entry that could not be looked at.

        Skips dot-entries, .venv/venv/__pycache__/node_modules, the workspace's own provider
        folders (``providers:`` in authctl.yaml hold catalog files) and authctl.yaml itself;
        follows symbolic links to files and folders, each file once (reconciler/discovery.py
        has the rules). Files are sorted by relative path so that every command sees the same order.
        """
        return discover(self.root, suffixes=MANIFEST_SUFFIXES, skipped_names=SKIPPED_DIRS,
                        excluded_dirs=self.provider_dirs(), excluded_files=(SETTINGS_FILE,))

    def display_path(self, path: Path) -> str:
        """The path as users should read it: relative to the root when inside it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def load_workspace(root: Path | str, environment: str | None = None) -> Workspace:
    """Read ``authctl.yaml`` under ``root`` and pick the environment.

    Raises WorkspaceError naming the file, line and field for anything wrong.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise WorkspaceError(f"{root}: workspace folder not found")
    settings_path = root / SETTINGS_FILE
    if not settings_path.exists():
        raise WorkspaceError(
            f"{root} is not an authctl workspace: {SETTINGS_FILE} not found",
            hint="create authctl.yaml (it may be empty) or pass --workspace DIR",
        )
    settings = _read_settings(settings_path)
    env = environment or settings.default_environment
    if env is not None and env not in settings.environments:
        raise _unknown_environment(settings_path, settings, env, from_default=not environment)
    return Workspace(root=root, settings=settings, environment=env)


def _unknown_environment(path: Path, settings: Settings, env: str, *, from_default: bool) -> WorkspaceError:
    """``--env`` (or ``default_environment``) names no environment: say where they are declared, and which exist.

    Pointed at the ``environments`` line for ``--env``, at ``default_environment`` for that
    setting (the file is read again for the line: this is the error path only).
    """
    known = sorted(settings.environments)
    field = "default_environment" if from_default else "environments"
    line = _setting_line(path, field)
    where = f"{path.name}:{line}: {field}" if line else path.name
    listed = ", ".join(known) or "none defined"
    message = f"{where}: unknown environment {env!r} (environments: {listed})" + did_you_mean(env, known)
    if not known:
        hint = f"declare it under environments: in {path.name}"
    elif from_default:
        hint = f"set default_environment to one of {listed}, or declare environments.{env}"
    else:
        hint = f"pass --env with one of {listed}, or declare environments.{env} in {path.name}"
    return WorkspaceError(message, hint=hint)


def _setting_line(path: Path, key: str) -> int:
    """The line of top-level ``key`` in the settings file, or 0 when it is not there."""
    try:
        node = yaml.compose(read_regular_file(path, MAX_SETTINGS_BYTES).decode("utf-8"), Loader=_SafeLoader)
    except (OSError, FileRefused, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return 0
    if not isinstance(node, yaml.MappingNode) or not any(
            isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value):
        return 0
    return line_of(node, (key,))


def _read_settings(path: Path) -> Settings:
    try:
        text = read_regular_file(path, MAX_SETTINGS_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise WorkspaceError(f"{path.name}:{line}: not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}); "
                             "save the file as UTF-8") from None
    except FileRefused as exc:
        reason = (f"{describe_size(exc.size, MAX_SETTINGS_BYTES)}; settings are limited to "
                  f"{limit_text(MAX_SETTINGS_BYTES)}" if exc.too_large else exc.reason)
        raise WorkspaceError(f"{path.name}: cannot read: {reason}") from None
    except OSError as exc:
        raise WorkspaceError(f"{path.name}: cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=_SafeLoader)
        data = yaml.load(text, Loader=StrictLoader) if node is not None else {}
    except yaml.YAMLError as exc:
        line, problem = yaml_error_line(exc, text)
        raise WorkspaceError(f"{path.name}:{line}: invalid YAML: {problem}") from None
    except RecursionError:
        raise WorkspaceError(f"{path.name}:{nesting_line(text)}: invalid YAML: {NESTED_TOO_DEEPLY}") from None
    except ValueError:  # a value PyYAML could not build outside StrictLoader's checks: never quote it
        raise WorkspaceError(f"{path.name}: invalid YAML: a value cannot be read") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorkspaceError(f"{path.name}:1: expected a mapping of settings")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines: list[tuple[int, str]] = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = err["msg"]
            if err["type"] == "extra_forbidden" and loc:
                message = f'unknown field "{loc[-1]}"' + did_you_mean(str(loc[-1]), _settings_fields(loc[:-1]))
            line = line_of(node, loc) or 1
            lines.append((line, f"{path.name}:{line}: {'.'.join(map(str, loc))}: {message}"))
        raise WorkspaceError("\n".join(text for _, text in sorted(lines))) from None



def _settings_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names the settings accept at ``loc``, for did-you-mean on unknown fields."""
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): Settings, ("backend",): BackendSettings, ("backend", "token"): TokenReference,
        ("state",): StateSettings, ("policy",): PolicySettings,
    }
    if len(loc) == 2 and loc[0] == "environments":
        return list(EnvironmentSettings.model_fields)
    model = models.get(tuple(str(p) for p in loc))
    return list(model.model_fields) if model else []
