"""The provider catalog: typed ProviderSpec/MethodSpec read from ``providers/*.yaml``.

The catalog is data, not code: adding a provider is adding a YAML file, and users
add their own by pointing ``authctl.yaml`` (``providers: [dir, ...]``) at more folders.
Everything the reconciler knows about a provider (which fields a method takes,
which are secret, which job workflows it supports, its OAuth endpoints and health
check) comes from here, so validation, planning and health checks share one truth.

Every CLI command imports this module, so it stays cheap: the specs are plain frozen
dataclasses, and neither pydantic nor YAML is imported here. Validating a provider file
is :mod:`reconciler.catalog_schema`'s job (pydantic models, imported only when some YAML
must be validated). The shipped catalog is validated ahead of time:
``providers/catalog.compiled.json`` (written by ``scripts/compile_catalog.py``, checked
by ``tests/unit/test_catalog_compiled.py``) holds the validated specs and a digest of
the YAML files they came from. :func:`load_catalog` hashes the built-in YAML files and,
when the digest matches, builds the specs from that JSON; otherwise (a provider file
edited in a checkout, no compiled file) it validates the built-in folder in full.
Workspace folders are always validated in full.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from reconciler.errors import CatalogError

#: The precompiled form of a built-in provider folder, kept inside that folder.
COMPILED_NAME = "catalog.compiled.json"
#: Bumped when the layout of the compiled file changes; another value means "stale".
COMPILED_FORMAT = 3  # 2: fields carry ``type`` and ``content``; 3: enum/minimum/maximum/items, api_model


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


def _to_json(value: Any) -> Any:
    """A spec (or part of one) as JSON-ready data: what pydantic's ``model_dump(mode="json")`` gave."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    return value


class _JSONMixin:
    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        """Every attribute as JSON-ready data (enums as their values), in declaration order."""
        return _to_json(self)  # type: ignore[no-any-return]


# The specs are built only from validated data (reconciler.catalog_schema or the compiled
# file); their constructors do not check anything.

#: The value types a field may declare (``type:``), as manifests and `authctl providers` name them.
FIELD_TYPES = ("string", "number", "integer", "boolean", "list", "mapping")


@dataclass(frozen=True, kw_only=True, slots=True)
class ContentSpec(_JSONMixin):
    """What a secret's value must look like, checked whenever the value is read (plan, apply).

    Data, not code: ``format: json_object`` (the only format so far) says the value is a
    JSON object; ``required_keys`` must be present and not empty; ``required_values`` maps
    keys to the exact text they must hold. ``what`` names the content in messages
    ("the file secrets/sa.json is not a Google service-account key (missing private_key)").
    A message never quotes the value, nor any part of it.
    """

    what: str
    format: Literal["json_object"] = "json_object"
    required_keys: list[str] = field(default_factory=list)
    required_values: dict[str, str] = field(default_factory=dict)

    def problem(self, text: str) -> str | None:
        """Why ``text`` is not such content ("not JSON", "missing client_email"), or None."""
        import json

        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return "not JSON"
        if not isinstance(data, dict):
            return "JSON, but not an object"
        missing = [key for key in self.required_keys if data.get(key) in (None, "", [], {})]
        if missing:
            return "missing " + ", ".join(missing)
        wrong = [f'{key} is not "{value}"' for key, value in self.required_values.items() if data.get(key) != value]
        return "; ".join(wrong) or None


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiModelRef(_JSONMixin):
    """The Lytics v2 OpenAPI model a method's or workflow's fields were taken from.

    ``model`` is the component schema (``models.AdwordsCustomerMatch``) and ``path`` the
    operation that uses it; both None when the document has no such operation, and
    ``note`` then says what was looked for, so nobody mistakes hand-written fields for
    facts. ``scripts/extract_lytics_models.py``-style refreshes compare against
    ``tests/data/lytics_openapi_extract.json``.
    """

    model: str | None = None
    path: str | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class FieldSpec(_JSONMixin):
    """One config or credential field of a method (or of a job workflow's config)."""

    name: str
    title: str
    required: bool = False
    secret: bool = False
    pattern: str | None = None
    description: str = ""
    example: str | None = None
    type: Literal["string", "number", "integer", "boolean", "list", "mapping"] = "string"
    content: ContentSpec | None = None  # secret fields only: what the value must look like
    enum: list[str | int | float] | None = None  # the only values allowed (of a list: of each item)
    minimum: float | None = None  # numbers only
    maximum: float | None = None
    items: Literal["string", "number", "integer", "boolean", "mapping"] | None = None  # a list's item type

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None


@dataclass(frozen=True, kw_only=True, slots=True)
class OAuthSpec(_JSONMixin):
    """OAuth endpoints of a method; workspaces may override the URLs (tests do)."""

    authorize_url: str
    token_url: str
    request_token_url: str | None = None  # OAuth 1.0a only
    revoke_url: str | None = None
    scopes: list[str] = field(default_factory=list)
    scope_separator: str = " "
    pkce: bool = True
    extra_params: dict[str, str] = field(default_factory=dict)
    access_token_lifetime_seconds: int | None = None
    refresh_token_rotates: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class HealthCheckSpec(_JSONMixin):
    """The request that tells whether a credential still works."""

    method: Literal["GET", "POST"] = "GET"
    url: str
    description: str = ""
    auth: Literal["bearer", "header", "query", "oauth1", "service_account", "none"] = "bearer"
    header: str | None = None  # for auth: header (e.g. TikTok's Access-Token)


@dataclass(frozen=True, kw_only=True)
class MethodSpec(_JSONMixin):
    """One way to authenticate with a provider."""

    name: str = ""  # the key in the provider's ``methods`` mapping
    title: str
    kind: MethodKind
    lytics_type: str | None = None  # platform type slug; None = made in the UI only
    api_model: ApiModelRef | None = None  # where the fields come from in the Lytics v2 OpenAPI document
    recommended: bool = False
    description: str = ""
    fields: list[FieldSpec] = field(default_factory=list)
    oauth: OAuthSpec | None = None
    permissions: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    health_check: HealthCheckSpec | None = None
    warnings: list[str] = field(default_factory=list)

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


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkflowSpec(_JSONMixin):
    """A job workflow (Lytics workflow slug) a provider's methods can run."""

    name: str = ""  # the key in the provider's ``workflows`` mapping
    title: str
    fields: list[FieldSpec] = field(default_factory=list)
    description: str = ""
    api_model: ApiModelRef | None = None  # where the fields come from in the Lytics v2 OpenAPI document


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderSpec(_JSONMixin):
    """A provider file: its methods and the job workflows they support."""

    name: str
    title: str
    docs_url: str | None = None
    methods: dict[str, MethodSpec]
    workflows: dict[str, WorkflowSpec] = field(default_factory=dict)


SERVED_TYPE_PREFIX = "authctl-"  # auth types only the served platform knows: see Catalog.api_type


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
        """The method whose Lytics API type is ``slug`` (only real Lytics types)."""
        for provider in self.providers.values():
            for method in provider.methods.values():
                if method.lytics_type == slug:
                    return provider, method
        return None

    @staticmethod
    def api_type(provider: str, method: MethodSpec) -> str:
        """The auth type slug a method travels under on the Lytics-shaped API.

        A method Lytics can create through its API uses its real type (``fb-system-user``).
        One that Lytics only makes in its UI (OAuth connections) has no API type; the served
        platform accepts it under ``authctl-PROVIDER-METHOD`` so the same client code path
        creates it there, and the real API answers such a slug with AUTHTYPE-NOTFOUND-007.
        """
        return method.lytics_type or f"{SERVED_TYPE_PREFIX}{provider}-{method.name}"

    @cached_property
    def _by_api_type(self) -> dict[str, tuple[ProviderSpec, MethodSpec]]:
        index: dict[str, tuple[ProviderSpec, MethodSpec]] = {}
        for provider in self.providers.values():
            for method in provider.methods.values():
                index.setdefault(self.api_type(provider.name, method), (provider, method))
        return index

    def by_api_type(self, slug: str) -> tuple[ProviderSpec, MethodSpec] | None:
        """The (provider, method) an API type slug names, real or served-only; None if unknown."""
        return self._by_api_type.get(slug)


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


def load_catalog(extra_dirs: list[Path] | tuple[Path, ...] = (), *,
                 builtin_dir: Path | None = None) -> Catalog:
    """Read the built-in providers plus any workspace folders; later files override.

    The built-in folder comes from its compiled form when that is up to date with its
    YAML files, else from full validation; ``extra_dirs`` are always validated in full.
    ``builtin_dir`` replaces :func:`builtin_providers_dir` (tests point it at a copy).
    Every broken file is reported at once, each naming the file and the field.
    """
    builtin = builtin_providers_dir() if builtin_dir is None else builtin_dir
    problems: list[str] = []
    providers = _load_compiled(builtin)
    if providers is None:
        providers = {}
        _validate_folder(builtin, providers, problems)
    for directory in extra_dirs:
        _validate_folder(directory, providers, problems)
    if problems:
        raise CatalogError("the provider catalog is broken:\n  " + "\n  ".join(problems))
    return Catalog(providers)


def _validate_folder(directory: Path, providers: dict[str, ProviderSpec], problems: list[str]) -> None:
    """Validate every provider file of ``directory`` into ``providers`` (pydantic and YAML load here)."""
    if not directory.is_dir():
        problems.append(f"{directory}: provider folder not found")
        return
    from reconciler.catalog_schema import load_provider_file

    for path in provider_files(directory):
        spec = load_provider_file(path, problems)
        if spec is not None:
            providers[spec.name] = spec


def provider_files(directory: Path) -> list[Path]:
    """The provider files of a folder, in the order they are loaded (later ones override)."""
    return sorted(directory.glob("*.y*ml"))


# -- the compiled built-in catalog -------------------------------------------------------------

def catalog_digest(paths: list[Path]) -> str:
    """sha256 over the names and bytes of provider files; raises OSError when one cannot be read."""
    digest = _sha256()
    for path in paths:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def _sha256() -> Any:
    """A sha256 object from CPython's built-in implementation when there is one.

    ``hashlib`` loads OpenSSL first (about 5 ms at startup) for the same digest of a few
    kilobytes; it remains the fallback for builds without the built-in module.
    """
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:
            from hashlib import sha256
    return sha256()


def _load_compiled(directory: Path) -> dict[str, ProviderSpec] | None:
    """The providers of ``directory``'s compiled file, or None when it is missing, stale or unreadable."""
    compiled = directory / COMPILED_NAME
    if not compiled.is_file():
        return None
    import json

    try:
        data = json.loads(compiled.read_bytes())
        if data["format"] != COMPILED_FORMAT or data["digest"] != catalog_digest(provider_files(directory)):
            return None
        return {spec.name: spec for spec in map(_provider_from_compiled, data["providers"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # full validation gives the right answer, and names any broken file


def compiled_catalog(providers: list[ProviderSpec], digest: str) -> dict[str, Any]:
    """The compiled form of validated providers (in load order) of a folder with ``digest``.

    Mappings whose order matters (methods, workflows, extra_params, required_values) become lists, so the
    file can be written with sorted keys and read back in the original order.
    """
    return {"format": COMPILED_FORMAT, "digest": digest,
            "providers": [_provider_to_compiled(spec) for spec in providers]}


def _provider_to_compiled(spec: ProviderSpec) -> dict[str, Any]:
    data = spec.to_json()
    data["methods"] = list(data["methods"].values())
    data["workflows"] = list(data["workflows"].values())
    for method in data["methods"]:
        if method["oauth"] is not None:
            method["oauth"]["extra_params"] = [list(item) for item in method["oauth"]["extra_params"].items()]
    for owner in data["methods"] + data["workflows"]:
        for spec in owner["fields"]:
            if spec["content"] is not None:
                spec["content"]["required_values"] = [list(item) for item in spec["content"]["required_values"].items()]
    return data


def _api_model_from_compiled(d: dict[str, Any] | None) -> ApiModelRef | None:
    return None if d is None else ApiModelRef(model=d["model"], path=d["path"], note=d["note"])


def _field_from_compiled(d: dict[str, Any]) -> FieldSpec:
    content = d["content"]
    return FieldSpec(name=d["name"], title=d["title"], required=d["required"], secret=d["secret"],
                     pattern=d["pattern"], description=d["description"], example=d["example"], type=d["type"],
                     enum=d["enum"], minimum=d["minimum"], maximum=d["maximum"], items=d["items"],
                     content=None if content is None else ContentSpec(
                         what=content["what"], format=content["format"],
                         required_keys=list(content["required_keys"]),
                         required_values={key: value for key, value in content["required_values"]}))


def _method_from_compiled(d: dict[str, Any]) -> MethodSpec:
    oauth = d["oauth"]
    health = d["health_check"]
    return MethodSpec(
        name=d["name"], title=d["title"], kind=MethodKind(d["kind"]), lytics_type=d["lytics_type"],
        api_model=_api_model_from_compiled(d["api_model"]),
        recommended=d["recommended"], description=d["description"],
        fields=[_field_from_compiled(f) for f in d["fields"]],
        oauth=None if oauth is None else OAuthSpec(
            authorize_url=oauth["authorize_url"], token_url=oauth["token_url"],
            request_token_url=oauth["request_token_url"], revoke_url=oauth["revoke_url"],
            scopes=list(oauth["scopes"]), scope_separator=oauth["scope_separator"], pkce=oauth["pkce"],
            extra_params={key: value for key, value in oauth["extra_params"]},
            access_token_lifetime_seconds=oauth["access_token_lifetime_seconds"],
            refresh_token_rotates=oauth["refresh_token_rotates"]),
        permissions=list(d["permissions"]), workflows=list(d["workflows"]),
        health_check=None if health is None else HealthCheckSpec(
            method=health["method"], url=health["url"], description=health["description"],
            auth=health["auth"], header=health["header"]),
        warnings=list(d["warnings"]),
    )


def _provider_from_compiled(d: dict[str, Any]) -> ProviderSpec:
    return ProviderSpec(
        name=d["name"], title=d["title"], docs_url=d["docs_url"],
        methods={m.name: m for m in map(_method_from_compiled, d["methods"])},
        workflows={w["name"]: WorkflowSpec(name=w["name"], title=w["title"], description=w["description"],
                                           fields=[_field_from_compiled(f) for f in w["fields"]],
                                           api_model=_api_model_from_compiled(w["api_model"]))
                   for w in d["workflows"]},
    )
