"""Validate raw documents into a DesiredState, reporting every problem at once.

Two passes. ``shape`` checks each document on its own (kind, apiVersion, pydantic
types, unknown fields). ``semantics`` checks what needs the whole set and the
catalog: unique names and labels, provider/method/field rules, literal secrets, job
bindings and method/workflow support. Every message names the field and, where a
near name exists, suggests it. No message ever echoes a credential value, nor a value
that failed the check of a secret reference (a token pasted where a variable name or a
path belongs), nor the value of a field the catalog marks secret.

One run finds everything: a field is checked whenever it can be judged on its own, so a
document with a wrong-typed label still has its provider, method, config, credentials,
name and label uniqueness checked, and is still there for the jobs that bind it. When
the pydantic model refuses a document, its errors are reported in authctl's words
(:func:`_shape_problem` maps every error type the manifest models produce: never
pydantic's "Input should be ...") and the document is *salvaged*: the fields that passed
go on to the catalog checks, the ones that did not are marked broken and every check
that needs one of them is skipped (no second error about the same mistake). Names and
labels are unique: the second occurrence is the error, naming where the first is.

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

from dataclasses import replace
from typing import get_args

from pydantic import BaseModel, ValidationError

from reconciler.catalog import Catalog, FieldSpec
from reconciler.config_rules import (
    MISSING_CONFIG_FIELD,
    UNKNOWN_CONFIG_FIELD,
    check_value,
)
from reconciler.config_rules import type_name as _type_name
from reconciler.suggestions import did_you_mean
from reconciler.errors import DiagnosticSink
from reconciler.manifest.loader import RawDocument
from reconciler.manifest.model import (
    API_VERSION,
    DOCUMENT_MODELS,
    JOB_STATES,
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
from reconciler.manifest.redact import MAX_QUOTED
from reconciler.manifest.secret_files import SecretFileRules
from reconciler.manifest.secrets import SecretRef, is_utf8, not_utf8_message
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
OAUTH_CREDENTIALS, UNKNOWN_CREDENTIAL, MISSING_CREDENTIAL = (
    "oauth-credentials", "unknown-credential", "missing-credential")
UNKNOWN_WORKFLOW, DUPLICATE_BINDING, UNKNOWN_AUTHORIZATION, UNSUPPORTED_WORKFLOW = (
    "unknown-workflow", "duplicate-binding", "unknown-authorization", "unsupported-workflow")

# The spec fields a salvaged document may lack (see the module docstring); a check that needs
# one of its object's broken fields is skipped.
_NOTHING: frozenset[str] = frozenset()


def _model_at(kind: str, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): AuthorizationDocument if kind == "Authorization" else JobDocument,
        ("metadata",): Metadata,
        ("spec",): AuthorizationSpecModel if kind == "Authorization" else JobSpecModel,
    }
    return models.get(tuple(str(p) for p in loc))


def _fields_at(kind: str, loc: tuple[Any, ...]) -> list[str]:
    """The field names a model accepts at ``loc``, for did-you-mean on unknown fields."""
    model = _model_at(kind, loc)
    return list(model.model_fields) if model else []


def _choices_at(kind: str, loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The values a Literal field at ``loc`` accepts (``spec.state``: running, paused)."""
    model = _model_at(kind, loc[:-1])
    info = model.model_fields.get(str(loc[-1])) if model else None
    return tuple(str(a) for a in get_args(info.annotation)) if info is not None else ()


# One validated (or salvaged) object, as what the semantic checks need about it:
# (DesiredAuthorization | DesiredJob, its document, broken, given). ``broken`` names the spec
# fields that failed their shape check (checks needing one are skipped); ``given`` the
# credential keys written, valid references or not (so a key whose reference was refused is
# not also reported missing). A plain tuple: 60,000 of them are made on the happy path.
_Entry = tuple[Any, RawDocument, frozenset[str], "frozenset[str] | set[str]"]


def _address(obj: DesiredAuthorization | DesiredJob) -> str:
    """``Kind/name``, or the kind alone for an object without a usable name."""
    return obj.address if obj.name else obj.address[:-1]


class _Validator:
    def __init__(self, catalog: Catalog, sink: DiagnosticSink, secret_files: SecretFileRules) -> None:
        self.catalog = catalog
        self.sink = sink
        self.secret_files = secret_files
        self._allowed_dirs = tuple(str(p) for p in secret_files.allowed)
        # The first object of each name (bindings resolve to it), and every object in order.
        self.auths: dict[str, _Entry] = {}
        self.jobs: dict[str, _Entry] = {}
        self.auth_entries: list[_Entry] = []
        self.job_entries: list[_Entry] = []
        # did-you-mean per (which choices, word): difflib over 10,000 names is slow, once per name is fine.
        self._suggestions: dict[tuple[str, str], str] = {}
        # (workflow, field) -> the texts of its unknown-config-field warning, shared by every job.
        self._unknown_job_fields: dict[tuple[str, str], tuple[str, str, str, tuple[str, ...], tuple[str, str]]] = {}

    def _suggest(self, word: str, choices_name: str, choices: Iterable[object]) -> str:
        """``did_you_mean(word, choices)``, computed once per (``choices_name``, ``word``); none for a long word."""
        if len(word) > MAX_QUOTED:
            return ""
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
            # Its format is unknown, so nothing else is judged; its name still exists for bindings.
            self._salvage(data, kind, doc, address, {("spec",)})
            return
        try:
            model = DOCUMENT_MODELS[kind].model_validate(data)
        except ValidationError as exc:
            self._salvage(data, kind, doc, address, self._report_validation(exc, doc, kind, address))
            return
        location = SourceLocation(doc.file, doc.line(), doc.source, doc.index)
        meta = model.metadata
        if isinstance(model, AuthorizationDocument):
            spec = model.spec
            desired_auth = DesiredAuthorization(
                name=meta.name, provider=spec.provider, method=spec.method, label=spec.label,
                description=spec.description, config=self._config(spec.config, doc, address),
                credentials=self._credentials(spec.credentials, doc, address),
                source=location, labels=dict(meta.labels),
            )
            self._add(self.auths, self.auth_entries,
                      (desired_auth, doc, _NOTHING, set(spec.credentials)))
        else:
            jspec = model.spec
            desired_job = DesiredJob(
                name=meta.name, workflow=jspec.workflow, authorizations=tuple(jspec.authorizations),
                state=jspec.state, description=jspec.description, config=self._config(jspec.config, doc, address),
                source=location, labels=dict(meta.labels),
            )
            self._add(self.jobs, self.job_entries, (desired_job, doc, _NOTHING, _NOTHING))

    def _add(self, table: dict[str, _Entry], entries: list[_Entry], entry: _Entry) -> None:
        """Keep ``entry`` for the semantic checks; the second object of a name is an error naming the first."""
        entries.append(entry)
        name = entry[0].name
        if not name:
            return
        first = table.get(name)
        if first is None:
            table[name] = entry
            return
        self._error(entry[1], f"duplicate of {_address(first[0])} at {_place(first[1], ('metadata', 'name'))}",
                    DUPLICATE_NAME, ("metadata", "name"), address=_address(entry[0]))

    def _report_validation(self, exc: ValidationError, doc: RawDocument, kind: str,
                           address: str) -> set[tuple[Any, ...]]:
        """Report the model's errors in authctl's words; returns the locations (at most two deep) that failed."""
        failed: set[tuple[Any, ...]] = set()
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            kind_of_error = err["type"]
            if not (kind_of_error in ("extra_forbidden", "invalid_key") or loc[-1] == "[key]"
                    or (loc[:2] == ("spec", "authorizations") and len(loc) > 2)):
                # An unknown field breaks nothing, nor does a key that is not text (it is left out),
                # and a binding that is not text drops only itself.
                failed.add(loc[:2])
            if kind_of_error == "extra_forbidden":
                rule = UNKNOWN_FIELD
                name = str(loc[-1])
                message = (f'unknown field "{name}"' + self._suggest(
                    name, f"{kind}:{'.'.join(map(str, loc[:-1]))}", _fields_at(kind, loc[:-1]))
                    if len(name) <= MAX_QUOTED else "unknown field (its long name is not shown)")
            elif kind_of_error == "missing":
                rule, message = MISSING_FIELD, "required field is missing"
            elif loc == ("metadata", "name") and kind_of_error in ("string_pattern_mismatch", "string_too_long",
                                                                   "string_too_short"):
                rule, message = INVALID_NAME, _NAME_RULE
            elif loc[-1] == "[key]" or kind_of_error == "invalid_key":
                if loc[:2] == ("spec", "config"):
                    continue  # spec.config is made JSON by json_value, which reports keys that are not text
                loc = loc[:-2] if loc[-1] == "[key]" else loc[:-1]
                rule = INVALID_VALUE
                message = (f"a key of this mapping is {_type_name(err.get('input'))}, not text; quote the key "
                           "(keys must be strings)")
            else:
                rule, message = INVALID_VALUE, _shape_problem(kind_of_error, err.get("input"), err.get("ctx") or {},
                                                              _choices_at(kind, loc) if loc else (), loc)
            self._error(doc, message, rule, loc, address=address)
        return failed

    def _salvage(self, data: dict[str, Any], kind: str, doc: RawDocument, address: str,
                 failed: set[tuple[Any, ...]]) -> None:
        """Build the object from what passed its shape checks, so the rest of it is still checked.

        ``failed`` holds the locations that did not pass (``("spec", "label")``, or
        ``("spec",)`` when the whole spec is unusable). Nothing salvaged is ever planned:
        a document that needed salvaging has errors, and errors stop the command.
        """
        def usable(section: str, name: str) -> bool:
            return (section,) not in failed and (section, name) not in failed

        meta = data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        spec = data.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        name = meta.get("name")
        name = name if type(name) is str else ""  # a badly formed name still names the object, for bindings
        labels = meta.get("labels") if usable("metadata", "labels") else None
        broken: set[str] = set()

        def text(field: str) -> str:
            value = spec.get(field)
            if usable("spec", field) and type(value) is str:
                return value
            broken.add(field)
            return ""

        def mapping(field: str) -> dict[str, Any]:
            value = spec.get(field, {})
            if usable("spec", field) and type(value) is dict:
                return value
            broken.add(field)
            return {}

        description = spec.get("description")
        description = description if type(description) is str else ""
        location = SourceLocation(doc.file, doc.line(), doc.source, doc.index)
        labels = dict(labels) if isinstance(labels, dict) else {}
        if kind == "Authorization":
            provider, method, label = text("provider"), text("method"), text("label")
            config, credentials = mapping("config"), mapping("credentials")
            auth = DesiredAuthorization(
                name=name, provider=provider, method=method, label=label, description=description,
                config=self._config(config, doc, address) if config else {},
                credentials=self._credentials(credentials, doc, address) if credentials else {},
                source=location, labels=labels)
            given = {key for key in credentials if type(key) is str}
            self._add(self.auths, self.auth_entries, (auth, doc, frozenset(broken), given))
            return
        workflow, config = text("workflow"), mapping("config")
        bound = spec.get("authorizations")
        if usable("spec", "authorizations") and type(bound) is list:
            authorizations = tuple(item for item in bound if type(item) is str)
        else:
            broken.add("authorizations")
            authorizations = ()
        state = spec.get("state")
        job = DesiredJob(
            name=name, workflow=workflow, authorizations=authorizations,
            state=state if state in JOB_STATES else "running", description=description,
            config=self._config(config, doc, address) if config else {}, source=location, labels=labels)
        self._add(self.jobs, self.job_entries, (job, doc, frozenset(broken), _NOTHING))

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
            if type(key) is not str:
                continue  # reported by the model's check of the mapping's keys
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
        labels: dict[str, _Entry] = {}
        for entry in self.auth_entries:
            auth, doc, broken, _ = entry
            if "label" not in broken:
                key = auth.label.casefold()
                first = labels.get(key)
                if first is None:
                    labels[key] = entry
                else:
                    self._error(doc, f'"{auth.label}" is a duplicate of the label of {_address(first[0])} at '
                                     f"{_place(first[1], ('spec', 'label'))} (labels must be unique, ignoring case)",
                                DUPLICATE_LABEL, ("spec", "label"), address=_address(auth))
            self._check_authorization(entry)
        for entry in self.job_entries:
            self._check_job(entry)

    def _check_authorization(self, entry: _Entry) -> None:
        auth, doc, broken, given = entry

        def error(message: str, rule: str, *path: Any) -> None:
            self._error(doc, message, rule, path, address=_address(auth))

        if "provider" in broken:
            return
        provider = self.catalog.provider(auth.provider)
        if provider is None:
            error(f"unknown provider {_quoted(auth.provider)}"
                  + self._suggest(auth.provider, "providers", self.catalog.providers)
                  + " (see `authctl providers`)", UNKNOWN_PROVIDER, "spec", "provider")
            return
        if "method" in broken:
            return
        method = provider.methods.get(auth.method)
        if method is None:
            error(f"unknown method {_quoted(auth.method)} for {provider.name}"
                  + self._suggest(auth.method, f"methods:{provider.name}", provider.methods)
                  + f" (methods: {', '.join(provider.methods)})", UNKNOWN_METHOD, "spec", "method")
            return
        provider_method = f"{provider.name}/{method.name}"
        if "config" not in broken:
            for key, value in auth.config.items():
                if key in method.secret_fields:
                    error(f"{key} {_LITERAL_SECRET} under spec.credentials", LITERAL_SECRET, "spec", "config", key)
                elif key not in method.config_fields:
                    error(f'unknown config field "{key}" for {provider_method}'
                          + self._suggest(key, f"config:{provider_method}", method.config_fields)
                          + _known(method.config_fields),
                          UNKNOWN_CONFIG_FIELD, "spec", "config", key)
                else:
                    problem = check_value(method.config_fields[key], value)
                    if problem:
                        error(problem[1], problem[0], "spec", "config", key)
            for spec in method.config_fields.values():
                if spec.required and spec.name not in auth.config:
                    error(f'required config field "{spec.name}" ({spec.title}) is missing', MISSING_CONFIG_FIELD,
                          "spec", "config")
        if "credentials" in broken:
            return
        if method.is_oauth:
            if given:
                error(f"{provider_method} is an OAuth connection: its tokens come from "
                      f"`authctl login {auth.name or 'NAME'}`, not from manifests; remove spec.credentials",
                      OAUTH_CREDENTIALS, "spec", "credentials")
            return
        for key in auth.credentials:
            if key not in method.secret_fields:
                extra = (f"; {key} is not secret, put it under spec.config" if key in method.config_fields
                         else self._suggest(key, f"credentials:{provider_method}", method.secret_fields))
                error(f'unknown credential "{key}" for {provider_method}{extra}' + _known(method.secret_fields),
                      UNKNOWN_CREDENTIAL, "spec", "credentials", key)
        for spec in method.secret_fields.values():
            if spec.required and spec.name not in given and spec.name not in auth.config:
                error(f'required credential "{spec.name}" ({spec.title}) is missing: add '
                      f"spec.credentials.{spec.name}: {{env: VARIABLE}} or {{file: PATH}}",
                      MISSING_CREDENTIAL, "spec", "credentials")
            ref = auth.credentials.get(spec.name) if spec.content is not None else None
            if ref is not None:  # checked when the value is read (plan, apply): reconciler/manifest/fingerprints.py
                auth.credentials[spec.name] = replace(ref, content=spec.content,
                                                      where=doc.where(("spec", "credentials", spec.name)))

    def _check_job(self, entry: _Entry) -> None:
        job, doc, broken, _ = entry

        def error(message: str, rule: str, *path: Any) -> None:
            self._error(doc, message, rule, path, address=_address(job))

        supporters = None if "workflow" in broken else self.catalog.workflows.get(job.workflow)
        if supporters is None and "workflow" not in broken:
            error(f"unknown workflow {_quoted(job.workflow)}"
                  + self._suggest(job.workflow, "workflows", self.catalog.workflows)
                  + " (see `authctl providers`)", UNKNOWN_WORKFLOW, "spec", "workflow")
        seen: set[str] = set()
        for index, name in enumerate(job.authorizations):
            if name in seen:
                error(f"authorization {_quoted(name)} is listed twice", DUPLICATE_BINDING, "spec", "authorizations", index)
                continue
            seen.add(name)
            bound = self.auths.get(name)
            if bound is None:
                error(f"unknown authorization {_quoted(name)}" + self._suggest(name, "authorizations", self.auths)
                      + " (use the manifest name of an Authorization)",
                      UNKNOWN_AUTHORIZATION, "spec", "authorizations", index)
                continue
            auth, bound_broken = bound[0], bound[2]
            method = (None if bound_broken and ("provider" in bound_broken or "method" in bound_broken)
                      else self.catalog.method(auth.provider, auth.method))
            if supporters is None or method is None or method.supports(job.workflow):
                continue
            working = ", ".join(f"{p.name}/{m.name}" for p, m in supporters)
            error(f'workflow "{job.workflow}" does not work with {auth.provider}/{auth.method} '
                  f'(authorization "{name}"); it works with: {working}',
                  UNSUPPORTED_WORKFLOW, "spec", "authorizations", index)
        if supporters is None or "config" in broken:
            return
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
            problem = check_value(declared[key], value)
            if problem:
                error(problem[1], problem[0], "spec", "config", key)
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
        self.sink.warning(message, file=doc.file, address=_address(job), field=dotted, rule=UNKNOWN_CONFIG_FIELD,
                          subject=subject, summary=summary, where=doc.where(path))


_LIST_HINTS = {("spec", "authorizations"): " of Authorization names, e.g. [fb-ads-prod]"}


def _shown(value: Any) -> str:
    """``value`` quoted when it is short text (e.g. a job state); else only what it is."""
    return _quoted(value) if type(value) is str else _type_name(value)


def _quoted(text: str) -> str:
    """``"text"``, or only its length when it is too long to be a name (it may be a pasted secret).

    Control characters are shown as escapes by the renderers (reconciler/render/escape.py).
    """
    return f'"{text}"' if len(text) <= MAX_QUOTED else f"(a {len(text)}-character text, not shown)"


def _shape_problem(error_type: str, value: Any, ctx: dict[str, Any], choices: tuple[str, ...],
                   loc: tuple[Any, ...]) -> str:
    """authctl's words for a pydantic error of a manifest model (the type and constraint, never its phrasing).

    Every error type the manifest models can produce has its own wording; another one
    (a future model change) still gets an authctl message, naming the error type.
    tests/e2e/test_validation_complete.py makes every field produce every error it can.
    """
    got = _type_name(value)
    if error_type == "literal_error":
        expected = " or ".join(choices) if len(choices) <= 2 else ", ".join(choices[:-1]) + " or " + choices[-1]
        return f"must be {expected}, got {_shown(value)}"
    if error_type in ("string_type", "string_sub_type", "string_unicode"):
        return f"must be text (a string), got {got}"
    if error_type == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters long"
    if error_type == "string_too_long":
        length = f", got {len(value)}" if isinstance(value, str) else ""
        return f"must be at most {ctx.get('max_length')} characters long{length}"
    if error_type == "string_pattern_mismatch":
        return f"does not match the pattern {ctx.get('pattern')}"
    if error_type in ("list_type", "tuple_type", "set_type", "iterable_type"):
        return f"must be a list{_LIST_HINTS.get(loc[:2], ' (e.g. [a, b])')}, got {got}"
    if error_type == "too_short":
        minimum = ctx.get("min_length", 1)
        what = "Authorization" if loc[:2] == ("spec", "authorizations") else "item"
        return f"must list at least {minimum} {what}{'' if minimum == 1 else 's'}"
    if error_type == "too_long":
        return f"must list at most {ctx.get('max_length')} items"
    if error_type in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping (key: value), got {got}"
    if error_type in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, got {got}"
    if error_type in ("float_type", "float_parsing"):
        return f"must be a number, got {got}"
    if error_type in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {got}"
    if error_type == "invalid_key":
        return f"a key of this mapping is {got}, not text; quote the key (keys must be strings)"
    if error_type == "missing":
        return "required field is missing"
    if error_type == "extra_forbidden":
        return "unknown field"
    return f"is not valid here ({error_type.replace('_', ' ')})"


def _place(doc: RawDocument, path: tuple[Any, ...]) -> str:
    """``file:line`` of the field at ``path`` of ``doc``, looked up now without keeping the file's nodes."""
    line = doc.source.lines([(doc.index, path)])[0] or doc.start_line or 1
    return f"{doc.file}:{line}"


def _name_of(data: dict[str, Any]) -> str | None:
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


_FIELDS_SHOWN = 10  # a model with 18 fields would make a 350-character warning; `authctl providers` lists all


def _known(fields: dict[str, FieldSpec]) -> str:
    if not fields:
        return " (this method takes none)"
    names = list(fields)
    more = len(names) - _FIELDS_SHOWN
    shown = ", ".join(names[:_FIELDS_SHOWN]) + (f" and {more} more: `authctl providers`" if more > 0 else "")
    return f" (fields: {shown})"


def _reference_problem(source: str, target: Any, secret_files: SecretFileRules) -> str | None:
    """Why ``{source: target}`` is not a usable secret reference (never quoting ``target``), or None."""
    if not isinstance(target, str) or not target:
        return f"{source}: expected a non-empty string"
    if source == "env":
        if len(target) > MAX_ENV_NAME or not _ENV_NAME.match(target):
            return _BAD_ENV_NAME
        raw = os.environ.get(target)  # bytes that are not UTF-8 arrive as lone surrogates
        if raw is not None and not is_utf8(raw):
            return f"env: {not_utf8_message(target)}"
        return None
    problem = secret_files.problem(target)
    return f"file: {problem}" if problem else None


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

