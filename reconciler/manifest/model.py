"""The manifest format: pydantic models at the boundary, frozen dataclasses inside.

``AuthorizationDocument``/``JobDocument`` check shape and types (unknown fields are
forbidden); semantic checks against the catalog live in ``validate.py``. What the rest
of the engine consumes is :class:`DesiredAuthorization`/:class:`DesiredJob`/
:class:`DesiredState`, plain data with the source location of each object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.diagnostics import LineSource, Where
from reconciler.manifest.secrets import SecretRef

API_VERSION = "authctl/v1"
KINDS = ("Authorization", "Job")
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
JOB_STATES = ("running", "paused")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Metadata(_Strict):
    """Identity in the repo: ``name`` is stable, labels and annotations are free-form."""

    name: str = Field(pattern=NAME_PATTERN, max_length=63,
                      description="Stable identity in the repo (a lowercase DNS label); jobs bind authorizations "
                                  "by it. Renaming is a delete and a create.")
    labels: dict[str, str] = Field(default_factory=dict, description="Free-form key: value text, for people.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Free-form key: value text, for tools.")


class AuthorizationSpecModel(_Strict):
    """What the authorization is: provider and method from the catalog (`authctl providers`), its label and fields."""

    provider: str = Field(min_length=1, description="The provider (`authctl providers` lists them).")
    method: str = Field(min_length=1, description="How it authenticates with the provider "
                                                  "(`authctl providers PROVIDER` lists its methods).")
    label: str = Field(min_length=1, max_length=255,
                       description="The name people see on the platform; unique (ignoring case). Edited in place.")
    description: str = Field(default="", max_length=4096, description="Edited in place.")
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="The method's non-secret fields; a change is a replace.")
    # Values are checked by validate.py, which explains literal secrets without echoing them.
    credentials: dict[str, Any] = Field(default_factory=dict,
                                        description="The method's secret fields, each a reference ({env: VARIABLE} "
                                                    "or {file: PATH}), never a value; a change is a replace.")


class JobSpecModel(_Strict):
    """A job: its workflow, the authorizations it runs with, and whether it runs."""

    workflow: str = Field(min_length=1, description="The job type (Lytics workflow slug); every bound "
                                                    "authorization's method must support it.")
    authorizations: list[str] = Field(min_length=1, description="metadata.name of each Authorization it uses.")
    state: Literal["running", "paused"] = Field(default="running", description="running or paused.")
    description: str = Field(default="", max_length=4096)
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="The workflow's settings (`authctl providers PROVIDER` lists them).")


class AuthorizationDocument(_Strict):
    apiVersion: Literal["authctl/v1"]
    kind: Literal["Authorization"]
    metadata: Metadata
    spec: AuthorizationSpecModel


class JobDocument(_Strict):
    apiVersion: Literal["authctl/v1"]
    kind: Literal["Job"]
    metadata: Metadata
    spec: JobSpecModel


DOCUMENT_MODELS: dict[str, type[AuthorizationDocument] | type[JobDocument]] = {
    "Authorization": AuthorizationDocument,
    "Job": JobDocument,
}


@dataclass(frozen=True)
class SourceLocation:
    """Where an object was declared (rendered file, 1-based line of its document).

    ``lines`` (the file's line source) and ``document`` (the document's index in the file)
    let a check made after loading (a policy rule) name the line of a field, looked up
    only if it is shown. Two plain fields rather than a ``Where`` per object: building a
    named tuple for each of 60,000 documents costs a loaded workspace ~60 ms.
    """

    file: str
    line: int
    lines: LineSource | None = field(default=None, compare=False, repr=False)
    document: int = field(default=0, compare=False, repr=False)

    def where(self, path: tuple[Any, ...]) -> Where | None:
        """Where the field at ``path`` of this object's document is; None when the file is not known."""
        return Where(self.lines, self.document, path, self.line) if self.lines is not None else None


@dataclass(frozen=True)
class DesiredAuthorization:
    name: str
    provider: str
    method: str
    label: str
    description: str
    config: dict[str, Any]
    credentials: dict[str, SecretRef]
    source: SourceLocation
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"Authorization/{self.name}"


@dataclass(frozen=True)
class DesiredJob:
    name: str
    workflow: str
    authorizations: tuple[str, ...]
    state: Literal["running", "paused"]
    description: str
    config: dict[str, Any]
    source: SourceLocation
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"Job/{self.name}"


@dataclass(frozen=True)
class DesiredState:
    """Everything the manifests declare, keyed by manifest name, plus their digest."""

    authorizations: dict[str, DesiredAuthorization]
    jobs: dict[str, DesiredJob]
    files: tuple[str, ...]
    digest: str  # sha256 of the rendered manifests, recorded in saved plans
    environment: str | None = None

    @property
    def object_count(self) -> int:
        return len(self.authorizations) + len(self.jobs)
