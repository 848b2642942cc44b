"""Validation of provider files: the pydantic models behind ``providers/*.yaml``.

Only validation lives here; the catalog the rest of authctl uses is made of the plain
dataclasses of :mod:`reconciler.catalog`, which each validated model is converted to.
This module (with pydantic and PyYAML) is imported only when some YAML must be
validated: a workspace's own provider folder, a built-in catalog whose compiled form
is stale, or ``scripts/compile_catalog.py`` writing that compiled form.

The model classes keep the runtime names (``FieldSpec``, ``MethodSpec``...) because
pydantic puts them in some error messages ("a valid dictionary or instance of FieldSpec").
"""

from __future__ import annotations

import json
import re
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

from reconciler import catalog as runtime
from reconciler.catalog import MethodKind
from reconciler.errors import CatalogError
from reconciler.file_reads import FileRefused, limit_text, read_regular_file
from reconciler.yaml_with_lines import StrictLoader, yaml_error_line

_SLUG = r"^[a-z0-9][a-z0-9_-]*$"
MAX_PROVIDER_FILE_BYTES = 1024 * 1024  # the largest shipped provider file is a few KiB


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentSpec(_Strict):
    """What a secret's value must look like (see :class:`reconciler.catalog.ContentSpec`)."""

    what: str = Field(min_length=1)  # "a Google service-account key"
    format: Literal["json_object"] = "json_object"
    required_keys: list[str] = Field(default_factory=list)
    required_values: dict[str, str] = Field(default_factory=dict)

    def to_runtime(self) -> runtime.ContentSpec:
        return runtime.ContentSpec(what=self.what, format=self.format, required_keys=list(self.required_keys),
                                   required_values=dict(self.required_values))


class FieldSpec(_Strict):
    """One config or credential field of a method (or of a job workflow's config)."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")  # Lytics has conversion_value_Field
    title: str
    required: bool = False
    secret: bool = False
    pattern: str | None = None
    description: str = ""
    example: str | None = None
    # The value's type; "string" also takes a number (YAML reads an unquoted 22 or 549755885175 as one).
    type: Literal["string", "number", "integer", "boolean", "list", "mapping"] = "string"
    content: ContentSpec | None = None
    enum: list[str | int | float] | None = Field(default=None, min_length=1)
    minimum: float | None = None
    maximum: float | None = None
    items: Literal["string", "number", "integer", "boolean", "mapping"] | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.pattern is not None and self.type not in ("string", "number", "integer"):
            raise ValueError(f"a pattern applies to text and numbers, not to a {self.type}")
        if self.secret and self.type != "string":
            raise ValueError("a secret is text: a secret field's type is string")
        if self.content is not None and not self.secret:
            raise ValueError("content rules are checked when a secret is read: only secret fields have one")
        if (self.minimum is not None or self.maximum is not None) and self.type not in ("number", "integer"):
            raise ValueError(f"minimum and maximum apply to numbers, not to a {self.type}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is greater than maximum")
        if self.items is not None and self.type != "list":
            raise ValueError("items gives the type of a list's items: only list fields have one")
        return self

    def to_runtime(self) -> runtime.FieldSpec:
        return runtime.FieldSpec(name=self.name, title=self.title, required=self.required, secret=self.secret,
                                 pattern=self.pattern, description=self.description, example=self.example,
                                 type=self.type, content=self.content.to_runtime() if self.content else None,
                                 enum=list(self.enum) if self.enum is not None else None, minimum=self.minimum,
                                 maximum=self.maximum, items=self.items)


class ApiModelRef(_Strict):
    """Where fields come from in the Lytics v2 OpenAPI document (see :class:`reconciler.catalog.ApiModelRef`)."""

    model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.]+$")
    path: str | None = Field(default=None, pattern=r"^/")
    note: str = ""

    @model_validator(mode="after")
    def _a_model_or_why_not(self) -> ApiModelRef:
        if self.model is None and not self.note:
            raise ValueError("say in 'note' why there is no model (what was looked for in the document)")
        return self

    def to_runtime(self) -> runtime.ApiModelRef:
        return runtime.ApiModelRef(model=self.model, path=self.path, note=self.note)


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

    def to_runtime(self) -> runtime.OAuthSpec:
        return runtime.OAuthSpec(
            authorize_url=self.authorize_url, token_url=self.token_url, request_token_url=self.request_token_url,
            revoke_url=self.revoke_url, scopes=list(self.scopes), scope_separator=self.scope_separator,
            pkce=self.pkce, extra_params=dict(self.extra_params),
            access_token_lifetime_seconds=self.access_token_lifetime_seconds,
            refresh_token_rotates=self.refresh_token_rotates)


class HealthCheckSpec(_Strict):
    """The request that tells whether a credential still works."""

    method: Literal["GET", "POST"] = "GET"
    url: str
    description: str = ""
    auth: Literal["bearer", "header", "query", "oauth1", "service_account", "none"] = "bearer"
    header: str | None = None  # for auth: header (e.g. TikTok's Access-Token)

    def to_runtime(self) -> runtime.HealthCheckSpec:
        return runtime.HealthCheckSpec(method=self.method, url=self.url, description=self.description,
                                       auth=self.auth, header=self.header)


class MethodSpec(_Strict):
    """One way to authenticate with a provider."""

    name: str = ""  # filled from the mapping key
    title: str
    kind: MethodKind
    lytics_type: str | None = None  # platform type slug; None = made in the UI only
    api_model: ApiModelRef | None = None
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

    def to_runtime(self) -> runtime.MethodSpec:
        return runtime.MethodSpec(
            name=self.name, title=self.title, kind=self.kind, lytics_type=self.lytics_type,
            api_model=self.api_model.to_runtime() if self.api_model else None,
            recommended=self.recommended, description=self.description,
            fields=[f.to_runtime() for f in self.fields],
            oauth=self.oauth.to_runtime() if self.oauth else None,
            permissions=list(self.permissions), workflows=list(self.workflows),
            health_check=self.health_check.to_runtime() if self.health_check else None,
            warnings=list(self.warnings))


class WorkflowSpec(_Strict):
    """A job workflow (Lytics workflow slug) a provider's methods can run."""

    name: str = ""
    title: str
    fields: list[FieldSpec] = Field(default_factory=list)
    description: str = ""
    api_model: ApiModelRef | None = None

    def to_runtime(self) -> runtime.WorkflowSpec:
        return runtime.WorkflowSpec(name=self.name, title=self.title,
                                    fields=[f.to_runtime() for f in self.fields], description=self.description,
                                    api_model=self.api_model.to_runtime() if self.api_model else None)


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

    def to_runtime(self) -> runtime.ProviderSpec:
        return runtime.ProviderSpec(
            name=self.name, title=self.title, docs_url=self.docs_url,
            methods={key: method.to_runtime() for key, method in self.methods.items()},
            workflows={key: workflow.to_runtime() for key, workflow in self.workflows.items()})


def load_provider_file(path: Path, problems: list[str]) -> runtime.ProviderSpec | None:
    """Parse and validate one provider file; on failure add ``file: field: message`` lines to ``problems``."""
    text = ""
    try:
        # Bounded and non-blocking: a workspace's provider folder comes from a pull request too.
        text = read_regular_file(path, MAX_PROVIDER_FILE_BYTES).decode("utf-8")
        data = yaml.load(text, Loader=StrictLoader)
    except FileRefused as exc:
        problems.append(f"{path}: cannot read: it {exc.reason}" if not exc.too_large else
                        f"{path}: cannot read: it is larger than {limit_text(MAX_PROVIDER_FILE_BYTES)}")
        return None
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
    return spec.to_runtime()


def validate_folder(directory: Path) -> dict[str, runtime.ProviderSpec]:
    """Every provider of ``directory``, fully validated (never from a compiled file), in load order.

    Raises :class:`CatalogError` naming every broken file, as :func:`reconciler.catalog.load_catalog` does.
    """
    problems: list[str] = []
    providers: dict[str, runtime.ProviderSpec] = {}
    runtime._validate_folder(directory, providers, problems)
    if problems:
        raise CatalogError("the provider catalog is broken:\n  " + "\n  ".join(problems))
    return providers


def compile_folder(directory: Path) -> str:
    """The text of ``directory``'s compiled catalog file: deterministic (sorted keys, stable layout).

    Validates every provider file in full first (raising :class:`CatalogError` when one is broken).
    """
    digest = runtime.catalog_digest(runtime.provider_files(directory))
    providers = validate_folder(directory)
    data = runtime.compiled_catalog(list(providers.values()), digest)
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
