"""Validate raw documents into a DesiredState, reporting every problem at once.

Two passes. ``_shape`` checks each document on its own (kind, apiVersion, pydantic
types, unknown fields). ``_semantics`` checks what needs the whole set and the
catalog: unique names and labels, provider/method/field rules, literal secrets, job
bindings and method/workflow support. Every message names the field and, where a
near name exists, suggests it. No message ever echoes a credential value, nor a value
that failed the check of a secret reference (a token pasted where a variable name or a
path belongs), nor the value of a field the catalog marks secret.

What validates can be planned and applied: config values are made JSON values here
(reconciler/manifest/values.py: dates become ISO 8601 text, what JSON cannot hold is an
error), ``{env: NAME}`` names are checked for shape and length and, when the variable is
set, for holding UTF-8 text, and ``{file: PATH}`` paths for where they lead
(reconciler/manifest/secret_files.py).

A big workspace can break one rule in every document (50,000 jobs setting a config
field their workflow does not define), so a diagnostic costs little here: it carries
where its field is (``RawDocument.where``) and its line is looked up only if it is
shown (reconciler/diagnostics.py); did-you-mean suggestions are computed once per
misspelt name, and the warning for an unknown job config field is formatted once per
(workflow, field) and shared. Every diagnostic names its ``rule`` (the stable ids
below); warnings also carry the ``subject`` and ``summary`` that let the CLI show
many alike ones as one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.catalog import Catalog, FieldSpec
from reconciler.suggestions import did_you_mean
from reconciler.errors import DiagnosticSink
from reconciler.manifest.loader import RawDocument
from reconciler.manifest.model import (
    API_VERSION,
    DOCUMENT_MODELS,
    KINDS,
    AuthorizationDocument,
    AuthorizationSpecModel,
    DesiredAuthorization,
    DesiredJob,
    JobDocument,
    JobSpecModel,
    Metadata,
    SourceLocation,
)
from reconciler.manifest.secret_files import SecretFileRules
from reconciler.manifest.secrets import SecretRef
from reconciler.manifest.values import json_value

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ENV_NAME = 128
_BAD_ENV_NAME = (f"env: not a valid environment variable name (letters, digits and _, not starting with a "
                 f"digit, at most {MAX_ENV_NAME} characters); it is not shown in case it is a secret")
_NAME_RULE = ("must be a lowercase DNS label: a-z, 0-9 and '-', starting and ending "
              "with a letter or digit, at most 63 characters")
_LITERAL_SECRET = ("is a literal secret; never commit secrets to manifests: reference it "
                   "as {env: VARIABLE} or {file: PATH}")


# Rule ids (stable: `--format json` carries them). Shape of one document:
NOT_A_MAPPING, UNKNOWN_KIND, API_VERSION_RULE = "not-a-mapping", "unknown-kind", "api-version"
UNKNOWN_FIELD, MISSING_FIELD, INVALID_NAME, INVALID_VALUE = (
    "unknown-field", "missing-field", "invalid-name", "invalid-value")
DUPLICATE_NAME, LITERAL_SECRET, SECRET_REFERENCE = "duplicate-name", "literal-secret", "secret-reference"
# The whole set against the catalog:
DUPLICATE_LABEL, UNKNOWN_PROVIDER, UNKNOWN_METHOD = "duplicate-label", "unknown-provider", "unknown-method"
UNKNOWN_CONFIG_FIELD, CONFIG_PATTERN, MISSING_CONFIG_FIELD = (
    "unknown-config-field", "config-pattern", "missing-config-field")
OAUTH_CREDENTIALS, UNKNOWN_CREDENTIAL, MISSING_CREDENTIAL = (
    "oauth-credentials", "unknown-credential", "missing-credential")
UNKNOWN_WORKFLOW, DUPLICATE_BINDING, UNKNOWN_AUTHORIZATION, UNSUPPORTED_WORKFLOW = (
    "unknown-workflow", "duplicate-binding", "unknown-authorization", "unsupported-workflow")


def _fields_at(kind: str, loc: tuple[Any, ...]) -> list[str]:
    """The field names a model accepts at ``loc``, for did-you-mean on unknown fields."""
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): AuthorizationDocument if kind == "Authorization" else JobDocument,
        ("metadata",): Metadata,
        ("spec",): AuthorizationSpecModel if kind == "Authorization" else JobSpecModel,
    }
    model = models.get(tuple(str(p) for p in loc))
    return list(model.model_fields) if model else []


class _Validator:
    def __init__(self, catalog: Catalog, sink: DiagnosticSink, secret_files: SecretFileRules) -> None:
        self.catalog = catalog
        self.sink = sink
        self.secret_files = secret_files
        self._allowed_dirs = tuple(str(p) for p in secret_files.allowed)
        self.auths: dict[str, tuple[DesiredAuthorization, RawDocument]] = {}
        self.jobs: dict[str, tuple[DesiredJob, RawDocument]] = {}
        # Credential keys given but invalid (already reported), so "missing" is not said too.
        self.given_credentials: dict[str, set[str]] = {}
        # did-you-mean per (which choices, word): difflib over 10,000 names is slow, once per name is fine.
        self._suggestions: dict[tuple[str, str], str] = {}
        # (workflow, field) -> the texts of its unknown-config-field warning, shared by every job.
        self._unknown_job_fields: dict[tuple[str, str], tuple[str, str, str, tuple[str, ...], tuple[str, str]]] = {}

    def _suggest(self, word: str, choices_name: str, choices: Iterable[object]) -> str:
        """``did_you_mean(word, choices)``, computed once per (``choices_name``, ``word``)."""
        key = (choices_name, word)
        hint = self._suggestions.get(key)
        if hint is None:
            hint = self._suggestions[key] = did_you_mean(word, choices)
        return hint

    def _error(self, doc: RawDocument, message: str, rule: str, path: tuple[Any, ...] = (), *,
               address: str = "") -> None:
        """An error about the field at ``path`` of ``doc``; its line is looked up if it is shown."""
        self.sink.error(message, file=doc.file, address=address, field=".".join(str(p) for p in path),
                        rule=rule, where=doc.where(path))

    # -- pass 1: each document on its own -------------------------------------------------
    def shape(self, doc: RawDocument) -> None:
        data = doc.data
        if not isinstance(data, dict):
            self._error(doc, f"expected a mapping with apiVersion, kind, metadata and spec, "
                             f"got {type(data).__name__}", NOT_A_MAPPING)
            return
        kind = data.get("kind")
        if kind not in KINDS:
            if isinstance(kind, str):
                problem = f'unknown kind "{kind}"' + self._suggest(kind, "kinds", KINDS)
            elif "kind" in data:
                problem = f"must be a string, got {_type_name(kind)}"
            else:
                problem = "required field is missing"
            self._error(doc, f"{problem} (kinds: {', '.join(KINDS)})", UNKNOWN_KIND, ("kind",))
            return
        name = _name_of(data)
        address = f"{kind}/{name}" if name else kind
        if data.get("apiVersion") != API_VERSION:
            got = data.get("apiVersion")
            if isinstance(got, str):
                problem = f'unsupported apiVersion "{got}"'
            elif "apiVersion" in data:
                problem = f"must be a string, got {_type_name(got)}"
            else:
                problem = "required field is missing"
            self._error(doc, f'{problem}; expected "{API_VERSION}"', API_VERSION_RULE, ("apiVersion",),
                        address=address)
            return
        try:
            model = DOCUMENT_MODELS[kind].model_validate(data)
        except ValidationError as exc:
            self._report_validation(exc, doc, kind, address)
            return
        location = SourceLocation(doc.file, doc.line())
        meta = model.metadata
        if isinstance(model, AuthorizationDocument):
            spec = model.spec
            desired_auth = DesiredAuthorization(
                name=meta.name, provider=spec.provider, method=spec.method, label=spec.label,
                description=spec.description, config=self._config(spec.config, doc, address),
                credentials=self._credentials(spec.credentials, doc, address),
                source=location, labels=dict(meta.labels),
            )
            if self._register(self.auths, desired_auth, doc):
                self.given_credentials[meta.name] = set(spec.credentials)
        else:
            jspec = model.spec
            desired_job = DesiredJob(
                name=meta.name, workflow=jspec.workflow, authorizations=tuple(jspec.authorizations),
                state=jspec.state, description=jspec.description, config=self._config(jspec.config, doc, address),
                source=location, labels=dict(meta.labels),
            )
            self._register(self.jobs, desired_job, doc)

    def _register(self, table: dict[str, Any], obj: Any, doc: RawDocument) -> bool:
        first = table.get(obj.name)
        if first is not None:
            f = first[0].source
            self._error(doc, f"duplicate name: {obj.address} is already defined at {f.file}:{f.line}",
                        DUPLICATE_NAME, ("metadata", "name"), address=obj.address)
            return False
        table[obj.name] = (obj, doc)
        return True

    def _report_validation(self, exc: ValidationError, doc: RawDocument, kind: str,
                           address: str) -> None:
        for err in exc.errors(include_input=False, include_url=False):
            loc = tuple(err["loc"])
            kind_of_error = err["type"]
            if kind_of_error == "extra_forbidden":
                rule = UNKNOWN_FIELD
                message = f'unknown field "{loc[-1]}"' + self._suggest(
                    str(loc[-1]), f"{kind}:{'.'.join(map(str, loc[:-1]))}", _fields_at(kind, loc[:-1]))
            elif kind_of_error == "missing":
                rule, message = MISSING_FIELD, "required field is missing"
            elif loc == ("metadata", "name") and kind_of_error in ("string_pattern_mismatch", "string_too_long"):
                rule, message = INVALID_NAME, _NAME_RULE
            else:
                rule, message = INVALID_VALUE, err["msg"]
            self._error(doc, message, rule, loc, address=address)

    def _config(self, raw: dict[str, Any], doc: RawDocument, address: str) -> dict[str, Any]:
        """``spec.config`` as JSON values (dates as ISO 8601 text); what JSON cannot hold is an error."""
        problems: list[tuple[tuple[Any, ...], str]] = []
        config = json_value(raw, ("spec", "config"), problems)
        for path, message in problems:
            self._error(doc, message, INVALID_VALUE, path, address=address)
        return config  # type: ignore[no-any-return]

    def _credentials(self, raw: dict[str, Any], doc: RawDocument, address: str) -> dict[str, SecretRef]:
        """Turn ``{env: X}``/``{file: P}`` into SecretRefs; literal values are errors."""
        refs: dict[str, SecretRef] = {}
        for key, value in raw.items():
            def error(message: str, rule: str = SECRET_REFERENCE, key: str = key) -> None:
                self._error(doc, message, rule, ("spec", "credentials", key), address=address)

            if not isinstance(value, dict):
                error(f"{key} {_LITERAL_SECRET}", LITERAL_SECRET)
                continue
            if len(value) != 1 or next(iter(value)) not in ("env", "file"):
                error("a secret reference has exactly one key, env or file: "
                      "{env: VARIABLE} or {file: PATH}")
                continue
            source, target = next(iter(value.items()))
            problem = _reference_problem(source, target, self.secret_files)
            if problem:
                error(problem)  # never the target: a value that is no name or path may be the secret itself
            elif source == "file":
                refs[key] = SecretRef(source, target, self._allowed_dirs)
            else:
                refs[key] = SecretRef(source, target)
        return refs

    # -- pass 2: the whole set against the catalog ------------------------------------------
    def semantics(self) -> None:
        labels: dict[str, DesiredAuthorization] = {}
        for auth, doc in self.auths.values():
            key = auth.label.casefold()
            if key in labels:
                other = labels[key]
                self._error(doc, f'label "{auth.label}" is already used by {other.address} '
                                 f"({other.source.file}:{other.source.line}); labels must be unique",
                            DUPLICATE_LABEL, ("spec", "label"), address=auth.address)
            else:
                labels[key] = auth
            self._check_authorization(auth, doc)
        for job, doc in self.jobs.values():
            self._check_job(job, doc)

    def _check_authorization(self, auth: DesiredAuthorization, doc: RawDocument) -> None:
        def error(message: str, rule: str, *path: Any) -> None:
            self._error(doc, message, rule, path, address=auth.address)

        provider = self.catalog.provider(auth.provider)
        if provider is None:
            error(f'unknown provider "{auth.provider}"'
                  + self._suggest(auth.provider, "providers", self.catalog.providers)
                  + " (see `authctl providers`)", UNKNOWN_PROVIDER, "spec", "provider")
            return
        method = provider.methods.get(auth.method)
        if method is None:
            error(f'unknown method "{auth.method}" for {provider.name}'
                  + self._suggest(auth.method, f"methods:{provider.name}", provider.methods)
                  + f" (methods: {', '.join(provider.methods)})", UNKNOWN_METHOD, "spec", "method")
            return
        provider_method = f"{provider.name}/{method.name}"
        for key, value in auth.config.items():
            if key in method.secret_fields:
                error(f"{key} {_LITERAL_SECRET} under spec.credentials", LITERAL_SECRET, "spec", "config", key)
            elif key not in method.config_fields:
                error(f'unknown config field "{key}" for {provider_method}'
                      + self._suggest(key, f"config:{provider_method}", method.config_fields)
                      + _known(method.config_fields),
                      UNKNOWN_CONFIG_FIELD, "spec", "config", key)
            else:
                problem = _check_value(method.config_fields[key], value)
                if problem:
                    error(problem, CONFIG_PATTERN, "spec", "config", key)
        for spec in method.config_fields.values():
            if spec.required and spec.name not in auth.config:
                error(f'required config field "{spec.name}" ({spec.title}) is missing', MISSING_CONFIG_FIELD,
                      "spec", "config")
        if method.is_oauth:
            if auth.credentials:
                error(f"{provider_method} is an OAuth connection: its tokens come from "
                      f"`authctl login {auth.name}`, not from manifests; remove spec.credentials",
                      OAUTH_CREDENTIALS, "spec", "credentials")
            return
        for key in auth.credentials:
            if key not in method.secret_fields:
                extra = (f"; {key} is not secret, put it under spec.config" if key in method.config_fields
                         else self._suggest(key, f"credentials:{provider_method}", method.secret_fields))
                error(f'unknown credential "{key}" for {provider_method}{extra}' + _known(method.secret_fields),
                      UNKNOWN_CREDENTIAL, "spec", "credentials", key)
        given = self.given_credentials.get(auth.name, set())
        for spec in method.secret_fields.values():
            if spec.required and spec.name not in given and spec.name not in auth.config:
                error(f'required credential "{spec.name}" ({spec.title}) is missing: add '
                      f"spec.credentials.{spec.name}: {{env: VARIABLE}} or {{file: PATH}}",
                      MISSING_CREDENTIAL, "spec", "credentials")

    def _check_job(self, job: DesiredJob, doc: RawDocument) -> None:
        address = job.address

        def error(message: str, rule: str, *path: Any) -> None:
            self._error(doc, message, rule, path, address=address)

        supporters = self.catalog.workflows.get(job.workflow)
        if supporters is None:
            error(f'unknown workflow "{job.workflow}"'
                  + self._suggest(job.workflow, "workflows", self.catalog.workflows)
                  + " (see `authctl providers`)", UNKNOWN_WORKFLOW, "spec", "workflow")
        seen: set[str] = set()
        for index, name in enumerate(job.authorizations):
            if name in seen:
                error(f'authorization "{name}" is listed twice', DUPLICATE_BINDING, "spec", "authorizations", index)
                continue
            seen.add(name)
            entry = self.auths.get(name)
            if entry is None:
                error(f'unknown authorization "{name}"' + self._suggest(name, "authorizations", self.auths)
                      + " (use the manifest name of an Authorization)",
                      UNKNOWN_AUTHORIZATION, "spec", "authorizations", index)
                continue
            auth = entry[0]
            method = self.catalog.method(auth.provider, auth.method)
            if supporters is None or method is None or method.supports(job.workflow):
                continue
            working = ", ".join(f"{p.name}/{m.name}" for p, m in supporters)
            error(f'workflow "{job.workflow}" does not work with {auth.provider}/{auth.method} '
                  f'(authorization "{name}"); it works with: {working}',
                  UNSUPPORTED_WORKFLOW, "spec", "authorizations", index)
        workflow = self.catalog.workflow_spec(job.workflow)
        if workflow is None:
            return
        declared = {f.name: f for f in workflow.fields}
        for key, value in job.config.items():
            if key not in declared:
                if declared:
                    self._unknown_job_field(job, doc, key, declared)
                continue
            if declared[key].secret:  # a provider file may mark one; plans show job config in the clear
                error(f"{key} is marked secret by the catalog, and job config cannot hold secrets "
                      "(plans show it); the value is not shown", LITERAL_SECRET, "spec", "config", key)
                continue
            problem = _check_value(declared[key], value)
            if problem:
                error(problem, CONFIG_PATTERN, "spec", "config", key)
        for spec in declared.values():
            if spec.required and spec.name not in job.config:
                error(f'required config field "{spec.name}" ({spec.title}) is missing', MISSING_CONFIG_FIELD,
                      "spec", "config")

    def _unknown_job_field(self, job: DesiredJob, doc: RawDocument, key: str,
                           declared: dict[str, FieldSpec]) -> None:
        """Warn that ``job`` sets ``key``, which its workflow does not define (catalogs lag platforms).

        The texts are made once per (workflow, field) and shared: a workspace whose 50,000
        jobs all set the field pays for one did-you-mean and one message, not 50,000.
        """
        texts = self._unknown_job_fields.get((job.workflow, key))
        if texts is None:
            hint = did_you_mean(key, declared)
            texts = self._unknown_job_fields[(job.workflow, key)] = (
                f'config field "{key}" is not known for workflow {job.workflow}' + hint + _known(declared),
                f'jobs set config field "{key}", which workflow {job.workflow} does not define' + hint,
                f"spec.config.{key}",
                ("spec", "config", key),
                (job.workflow, key),
            )
        message, summary, dotted, path, subject = texts
        self.sink.warning(message, file=doc.file, address=job.address, field=dotted, rule=UNKNOWN_CONFIG_FIELD,
                          subject=subject, summary=summary, where=doc.where(path))


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)


def _name_of(data: dict[str, Any]) -> str | None:
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def _known(fields: dict[str, FieldSpec]) -> str:
    return f" (fields: {', '.join(fields)})" if fields else " (this method takes none)"


def _reference_problem(source: str, target: Any, secret_files: SecretFileRules) -> str | None:
    """Why ``{source: target}`` is not a usable secret reference (never quoting ``target``), or None."""
    if not isinstance(target, str) or not target:
        return f"{source}: expected a non-empty string"
    if source == "env":
        if len(target) > MAX_ENV_NAME or not _ENV_NAME.match(target):
            return _BAD_ENV_NAME
        raw = os.environb.get(target.encode()) if hasattr(os, "environb") else None
        if raw is not None and not _is_utf8(raw):
            return (f"env: environment variable {target} holds bytes that are not UTF-8 text; "
                    "set it to the secret as UTF-8 text")
        return None
    problem = secret_files.problem(target)
    return f"file: {problem}" if problem else None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_value(spec: FieldSpec, value: Any) -> str | None:
    """A message when a value breaks the field's pattern, else None; a secret field's value is never quoted."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None if spec.regex is None else f"expected a string matching {spec.pattern}"
    if spec.regex is not None and not spec.regex.fullmatch(str(value)):
        shown = "the value" if spec.secret else f'"{value}"'
        return f"{shown} does not match the pattern {spec.pattern}" + (
            f" (e.g. {spec.example})" if spec.example else "")
    return None


def validate_documents(documents: Iterable[RawDocument], catalog: Catalog, sink: DiagnosticSink,
                       secret_files: SecretFileRules | None = None,
                       ) -> tuple[dict[str, DesiredAuthorization], dict[str, DesiredJob]]:
    """Check every document; returns what validated (the sink says whether all did).

    ``secret_files`` says where ``{file: PATH}`` may lead (default: inside the current folder).
    """
    validator = _Validator(catalog, sink, secret_files or SecretFileRules(Path.cwd().resolve()))
    for doc in documents:
        validator.shape(doc)
    validator.semantics()
    return ({k: v[0] for k, v in validator.auths.items()}, {k: v[0] for k, v in validator.jobs.items()})

