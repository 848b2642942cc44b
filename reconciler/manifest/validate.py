"""Validate raw documents into a DesiredState, reporting every problem at once.

Two passes. ``_shape`` checks each document on its own (kind, apiVersion, pydantic
types, unknown fields). ``_semantics`` checks what needs the whole set and the
catalog: unique names and labels, provider/method/field rules, literal secrets, job
bindings and method/workflow support. Every message names the field and, where a
near name exists, suggests it. No message ever echoes a credential value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
from reconciler.manifest.secrets import SecretRef

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME_RULE = ("must be a lowercase DNS label: a-z, 0-9 and '-', starting and ending "
              "with a letter or digit, at most 63 characters")
_LITERAL_SECRET = ("is a literal secret; never commit secrets to manifests: reference it "
                   "as {env: VARIABLE} or {file: PATH}")


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
    def __init__(self, catalog: Catalog, sink: DiagnosticSink) -> None:
        self.catalog = catalog
        self.sink = sink
        self.auths: dict[str, tuple[DesiredAuthorization, RawDocument]] = {}
        self.jobs: dict[str, tuple[DesiredJob, RawDocument]] = {}
        # Credential keys given but invalid (already reported), so "missing" is not said too.
        self.given_credentials: dict[str, set[str]] = {}

    # -- pass 1: each document on its own -------------------------------------------------
    def shape(self, doc: RawDocument) -> None:
        data = doc.data
        if not isinstance(data, dict):
            self.sink.error(f"expected a mapping with apiVersion, kind, metadata and spec, "
                            f"got {type(data).__name__}", file=doc.file, line=doc.line())
            return
        kind = data.get("kind")
        if kind not in KINDS:
            if isinstance(kind, str):
                problem = f'unknown kind "{kind}"' + did_you_mean(kind, KINDS)
            elif "kind" in data:
                problem = f"must be a string, got {_type_name(kind)}"
            else:
                problem = "required field is missing"
            self.sink.error(f"{problem} (kinds: {', '.join(KINDS)})",
                            file=doc.file, line=doc.line(["kind"]), field="kind")
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
            self.sink.error(f'{problem}; expected "{API_VERSION}"',
                            file=doc.file, line=doc.line(["apiVersion"]), address=address,
                            field="apiVersion")
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
                description=spec.description, config=dict(spec.config),
                credentials=self._credentials(spec.credentials, doc, address),
                source=location, labels=dict(meta.labels),
            )
            if self._register(self.auths, desired_auth, doc):
                self.given_credentials[meta.name] = set(spec.credentials)
        else:
            jspec = model.spec
            desired_job = DesiredJob(
                name=meta.name, workflow=jspec.workflow, authorizations=tuple(jspec.authorizations),
                state=jspec.state, description=jspec.description, config=dict(jspec.config),
                source=location, labels=dict(meta.labels),
            )
            self._register(self.jobs, desired_job, doc)

    def _register(self, table: dict[str, Any], obj: Any, doc: RawDocument) -> bool:
        first = table.get(obj.name)
        if first is not None:
            f = first[0].source
            self.sink.error(f"duplicate name: {obj.address} is already defined at {f.file}:{f.line}",
                            file=doc.file, line=doc.line(["metadata", "name"]), address=obj.address,
                            field="metadata.name")
            return False
        table[obj.name] = (obj, doc)
        return True

    def _report_validation(self, exc: ValidationError, doc: RawDocument, kind: str,
                           address: str) -> None:
        for err in exc.errors(include_input=False, include_url=False):
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc)
            kind_of_error = err["type"]
            if kind_of_error == "extra_forbidden":
                message = f'unknown field "{loc[-1]}"' + did_you_mean(str(loc[-1]), _fields_at(kind, loc[:-1]))
            elif kind_of_error == "missing":
                message = "required field is missing"
            elif loc == ("metadata", "name") and kind_of_error in ("string_pattern_mismatch", "string_too_long"):
                message = _NAME_RULE
            else:
                message = err["msg"]
            self.sink.error(message, file=doc.file, line=doc.line(loc), address=address, field=dotted)

    def _credentials(self, raw: dict[str, Any], doc: RawDocument, address: str) -> dict[str, SecretRef]:
        """Turn ``{env: X}``/``{file: P}`` into SecretRefs; literal values are errors."""
        refs: dict[str, SecretRef] = {}
        for key, value in raw.items():
            def error(message: str, key: str = key) -> None:  # the line is looked up only here
                self.sink.error(message, file=doc.file, line=doc.line(["spec", "credentials", key]),
                                address=address, field=f"spec.credentials.{key}")

            if not isinstance(value, dict):
                error(f"{key} {_LITERAL_SECRET}")
                continue
            if len(value) != 1 or next(iter(value)) not in ("env", "file"):
                error("a secret reference has exactly one key, env or file: "
                      "{env: VARIABLE} or {file: PATH}")
                continue
            source, target = next(iter(value.items()))
            if not isinstance(target, str) or not target:
                error(f"{source}: expected a non-empty string")
            elif source == "env" and not _ENV_NAME.match(target):
                # Not echoed: a value that is no variable name may be the secret itself.
                error("env: not a valid environment variable name (letters, digits and _, "
                      "not starting with a digit)")
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
                self.sink.error(f'label "{auth.label}" is already used by {other.address} '
                                f"({other.source.file}:{other.source.line}); labels must be unique",
                                file=doc.file, line=doc.line(["spec", "label"]), address=auth.address,
                                field="spec.label")
            else:
                labels[key] = auth
            self._check_authorization(auth, doc)
        for job, doc in self.jobs.values():
            self._check_job(job, doc)

    def _check_authorization(self, auth: DesiredAuthorization, doc: RawDocument) -> None:
        def error(message: str, path: list[Any]) -> None:
            self.sink.error(message, file=doc.file, line=doc.line(path), address=auth.address,
                            field=".".join(str(p) for p in path))

        provider = self.catalog.provider(auth.provider)
        if provider is None:
            error(f'unknown provider "{auth.provider}"' + did_you_mean(auth.provider, self.catalog.providers)
                  + " (see `authctl providers`)", ["spec", "provider"])
            return
        method = provider.methods.get(auth.method)
        if method is None:
            error(f'unknown method "{auth.method}" for {provider.name}'
                  + did_you_mean(auth.method, provider.methods)
                  + f" (methods: {', '.join(provider.methods)})", ["spec", "method"])
            return
        for key, value in auth.config.items():
            path = ["spec", "config", key]
            if key in method.secret_fields:
                error(f"{key} {_LITERAL_SECRET} under spec.credentials", path)
            elif key not in method.config_fields:
                error(f'unknown config field "{key}" for {provider.name}/{method.name}'
                      + did_you_mean(key, method.config_fields) + _known(method.config_fields), path)
            else:
                problem = _check_value(method.config_fields[key], value)
                if problem:
                    error(problem, path)
        for spec in method.config_fields.values():
            if spec.required and spec.name not in auth.config:
                error(f'required config field "{spec.name}" ({spec.title}) is missing', ["spec", "config"])
        if method.is_oauth:
            if auth.credentials:
                error(f"{provider.name}/{method.name} is an OAuth connection: its tokens come from "
                      f"`authctl login {auth.name}`, not from manifests; remove spec.credentials",
                      ["spec", "credentials"])
            return
        for key in auth.credentials:
            if key not in method.secret_fields:
                extra = (f"; {key} is not secret, put it under spec.config" if key in method.config_fields
                         else did_you_mean(key, method.secret_fields))
                error(f'unknown credential "{key}" for {provider.name}/{method.name}{extra}'
                      + _known(method.secret_fields), ["spec", "credentials", key])
        given = self.given_credentials.get(auth.name, set())
        for spec in method.secret_fields.values():
            if spec.required and spec.name not in given and spec.name not in auth.config:
                error(f'required credential "{spec.name}" ({spec.title}) is missing: add '
                      f"spec.credentials.{spec.name}: {{env: VARIABLE}} or {{file: PATH}}",
                      ["spec", "credentials"])

    def _check_job(self, job: DesiredJob, doc: RawDocument) -> None:
        def error(message: str, path: list[Any]) -> None:
            self.sink.error(message, file=doc.file, line=doc.line(path), address=job.address,
                            field=".".join(str(p) for p in path))

        supporters = self.catalog.workflows.get(job.workflow)
        if supporters is None:
            error(f'unknown workflow "{job.workflow}"' + did_you_mean(job.workflow, self.catalog.workflows)
                  + " (see `authctl providers`)", ["spec", "workflow"])
        seen: set[str] = set()
        for index, name in enumerate(job.authorizations):
            path = ["spec", "authorizations", index]
            if name in seen:
                error(f'authorization "{name}" is listed twice', path)
                continue
            seen.add(name)
            entry = self.auths.get(name)
            if entry is None:
                error(f'unknown authorization "{name}"' + did_you_mean(name, self.auths)
                      + " (use the manifest name of an Authorization)", path)
                continue
            auth = entry[0]
            method = self.catalog.method(auth.provider, auth.method)
            if supporters is None or method is None or method.supports(job.workflow):
                continue
            working = ", ".join(f"{p.name}/{m.name}" for p, m in supporters)
            error(f'workflow "{job.workflow}" does not work with {auth.provider}/{auth.method} '
                  f'(authorization "{name}"); it works with: {working}', path)
        workflow = self.catalog.workflow_spec(job.workflow)
        if workflow is None:
            return
        declared = {f.name: f for f in workflow.fields}
        for key, value in job.config.items():
            path = ["spec", "config", key]
            if key not in declared:
                if declared:
                    self.sink.warning(f'config field "{key}" is not known for workflow {job.workflow}'
                                      + did_you_mean(key, declared) + _known(declared),
                                      file=doc.file, line=doc.line(path), address=job.address,
                                      field=".".join(path))
                continue
            problem = _check_value(declared[key], value)
            if problem:
                error(problem, path)
        for spec in declared.values():
            if spec.required and spec.name not in job.config:
                error(f'required config field "{spec.name}" ({spec.title}) is missing', ["spec", "config"])


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)


def _name_of(data: dict[str, Any]) -> str | None:
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def _known(fields: dict[str, FieldSpec]) -> str:
    return f" (fields: {', '.join(fields)})" if fields else " (this method takes none)"


def _check_value(spec: FieldSpec, value: Any) -> str | None:
    """A message when a non-secret value breaks the field's pattern, else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None if spec.regex is None else f"expected a string matching {spec.pattern}"
    if spec.regex is not None and not spec.regex.fullmatch(str(value)):
        return f'"{value}" does not match the pattern {spec.pattern}' + (
            f" (e.g. {spec.example})" if spec.example else "")
    return None


def validate_documents(documents: Iterable[RawDocument], catalog: Catalog, sink: DiagnosticSink,
                       ) -> tuple[dict[str, DesiredAuthorization], dict[str, DesiredJob]]:
    """Check every document; returns what validated (the sink says whether all did)."""
    validator = _Validator(catalog, sink)
    for doc in documents:
        validator.shape(doc)
    validator.semantics()
    return ({k: v[0] for k, v in validator.auths.items()}, {k: v[0] for k, v in validator.jobs.items()})

