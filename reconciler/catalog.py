"""The provider catalog: typed ProviderSpec/MethodSpec read from ``providers/*.yaml``.

The catalog is data, not code: adding a provider is adding a YAML file, and users
add their own by pointing ``authctl.yaml`` (``providers: [dir, ...]``) at more folders.
Everything the reconciler knows about a provider (which fields a method takes,
which are secret, which job workflows it supports, its OAuth endpoints and health
check) comes from here, so validation, planning and health checks share one truth.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reconciler.errors import CatalogError
from reconciler.yamlsource import StrictLoader, yaml_error_line

_SLUG = r"^[a-z0-9][a-z0-9_-]*$"


class MethodKind(str, Enum):
    """How a method authenticates; OAuth kinds get their tokens from ``authctl login``."""

    OAUTH2 = "oauth2"
    OAUTH1 = "oauth1"
    TOKEN = "token"
    API_KEY = "api_key"
    SERVICE_ACCOUNT = "service_account"
    KEYS = "keys"
    USER_PASSWORD = "user_password"

    @property
    def is_oauth(self) -> bool:
        return self in (MethodKind.OAUTH2, MethodKind.OAUTH1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One config or credential field of a method."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    required: bool = False
    secret: bool = False
    pattern: str | None = None
    description: str = ""
    example: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None


class OAuthSpec(_Strict):
    """OAuth endpoints of a method; workspaces may override the URLs (tests do)."""

    authorize_url: str
    token_url: str
    request_token_url: str | None = None  # OAuth 1.0a only
    revoke_url: str | None = None
    scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    pkce: bool = True
    extra_params: dict[str, str] = Field(default_factory=dict)
    access_token_lifetime_seconds: int | None = None
    refresh_token_rotates: bool = False


class HealthCheckSpec(_Strict):
    """The request that tells whether a credential still works."""

    method: Literal["GET", "POST"] = "GET"
    url: str
    description: str = ""
    auth: Literal["bearer", "header", "query", "oauth1", "service_account", "none"] = "bearer"
    header: str | None = None  # for auth: header (e.g. TikTok's Access-Token)


class MethodSpec(_Strict):
    """One way to authenticate with a provider."""

    name: str = ""  # filled from the mapping key
    title: str
    kind: MethodKind
    lytics_type: str | None = None  # platform type slug; None = made in the UI only
    recommended: bool = False
    description: str = ""
    fields: list[FieldSpec] = Field(default_factory=list)
    oauth: OAuthSpec | None = None
    permissions: list[str] = Field(default_factory=list)
    workflows: list[str] = Field(default_factory=list)
    health_check: HealthCheckSpec | None = None
    warnings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> MethodSpec:
        if self.kind.is_oauth and self.oauth is None:
            raise ValueError(f"method kind {self.kind.value} needs an 'oauth' section")
        if self.kind.is_oauth and any(f.secret for f in self.fields):
            raise ValueError("OAuth methods get their tokens from `authctl login`; "
                             "they must not declare secret fields")
        names = [f.name for f in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate field names: {', '.join(duplicates)}")
        return self

    @property
    def is_oauth(self) -> bool:
        return self.kind.is_oauth

    @cached_property
    def config_fields(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields if not f.secret}

    @cached_property
    def secret_fields(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields if f.secret}

    def supports(self, workflow: str) -> bool:
        return workflow in self.workflows


class WorkflowSpec(_Strict):
    """A job workflow (Lytics workflow slug) a provider's methods can run."""

    name: str = ""
    title: str
    fields: list[FieldSpec] = Field(default_factory=list)
    description: str = ""


class ProviderSpec(_Strict):
    """A provider file: its methods and the job workflows they support."""

    name: str = Field(pattern=_SLUG)
    title: str
    docs_url: str | None = None
    methods: dict[str, MethodSpec]
    workflows: dict[str, WorkflowSpec] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _name_entries(cls, data: object) -> object:
        """Copy mapping keys into each entry's ``name`` so specs stand alone."""
        if isinstance(data, dict):
            for section in ("methods", "workflows"):
                entries = data.get(section)
                if isinstance(entries, dict):
                    data[section] = {
                        key: ({**value, "name": key} if isinstance(value, dict) else value)
                        for key, value in entries.items()
                    }
        return data

    @field_validator("methods")
    @classmethod
    def _has_methods(cls, value: dict[str, MethodSpec]) -> dict[str, MethodSpec]:
        if not value:
            raise ValueError("a provider needs at least one method")
        return value

    @field_validator("workflows")
    @classmethod
    def _workflows_known(cls, value: dict[str, WorkflowSpec], info: ValidationInfo,
                         ) -> dict[str, WorkflowSpec]:
        """Declared workflows cover every workflow the methods list (errors name ``workflows``)."""
        methods = info.data.get("methods") or {}
        if value:
            for method in methods.values():
                unknown = [w for w in method.workflows if w not in value]
                if unknown:
                    raise ValueError(f"method {method.name} lists workflows not declared under "
                                     f"'workflows': {', '.join(unknown)}")
        return value


@dataclass(frozen=True)
class Catalog:
    """All providers known to a workspace, with lookups that suggest near names."""

    providers: dict[str, ProviderSpec]

    def provider(self, name: str) -> ProviderSpec | None:
        return self.providers.get(name)

    def method(self, provider: str, method: str) -> MethodSpec | None:
        spec = self.providers.get(provider)
        return spec.methods.get(method) if spec else None

    @cached_property
    def workflows(self) -> dict[str, list[tuple[ProviderSpec, MethodSpec]]]:
        """workflow slug -> every (provider, method) that supports it."""
        index: dict[str, list[tuple[ProviderSpec, MethodSpec]]] = {}
        for provider in self.providers.values():
            for method in provider.methods.values():
                for workflow in method.workflows:
                    index.setdefault(workflow, []).append((provider, method))
        return index

    def workflow_spec(self, workflow: str) -> WorkflowSpec | None:
        for provider, _ in self.workflows.get(workflow, []):
            if workflow in provider.workflows:
                return provider.workflows[workflow]
        return None

    def by_lytics_type(self, slug: str) -> tuple[ProviderSpec, MethodSpec] | None:
        for provider in self.providers.values():
            for method in provider.methods.values():
                if method.lytics_type == slug:
                    return provider, method
        return None


def did_you_mean(word: str, choices: object) -> str:
    """`` did you mean "x"?`` for the nearest choice, or an empty string."""
    names = [str(c) for c in choices]  # type: ignore[attr-defined]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def builtin_providers_dir() -> Path:
    """The built-in catalog: the ``providers`` package installed beside ``reconciler``.

    Found next to this package rather than by ``import providers``, which a folder named
    ``providers/`` in the current directory (a natural place for a workspace's own
    provider files) would shadow under ``python -m reconciler``.
    """
    sibling = Path(__file__).resolve().parent.parent / "providers"
    if (sibling / "__init__.py").is_file():
        return sibling
    import providers  # an unusual layout: trust the import system

    if providers.__file__ is None:
        raise CatalogError("the built-in provider catalog (package providers) is not installed")
    return Path(providers.__file__).parent


def load_catalog(extra_dirs: list[Path] | tuple[Path, ...] = ()) -> Catalog:
    """Read the built-in providers plus any workspace folders; later files override.

    Every broken file is reported at once, each naming the file and the field.
    """
    problems: list[str] = []
    providers: dict[str, ProviderSpec] = {}
    for directory in (builtin_providers_dir(), *extra_dirs):
        if not directory.is_dir():
            problems.append(f"{directory}: provider folder not found")
            continue
        for path in sorted(directory.glob("*.y*ml")):
            spec = _load_provider_file(path, problems)
            if spec is not None:
                providers[spec.name] = spec
    if problems:
        raise CatalogError("the provider catalog is broken:\n  " + "\n  ".join(problems))
    return Catalog(providers)


def _load_provider_file(path: Path, problems: list[str]) -> ProviderSpec | None:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_line(exc, text)
        problems.append(f"{path}:{line}: invalid YAML: {problem}")
        return None
    except (OSError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        problems.append(f"{path}: cannot read: {reason}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping with name, title and methods")
        return None
    try:
        spec = ProviderSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top)"
            problems.append(f"{path}: {where}: {err['msg']}")
        return None
    if spec.name != path.stem:
        problems.append(f"{path}: name: {spec.name!r} must match the file name {path.stem!r}")
        return None
    return spec
