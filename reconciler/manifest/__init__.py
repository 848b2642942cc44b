"""Manifests: files -> Jinja2 -> YAML -> validated DesiredState.

Public surface: :func:`load_desired` and the model types re-exported below. Errors come
back as one ManifestError holding every diagnostic; warnings ride on the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.paused_gc import paused_gc
from reconciler.catalog import Catalog
from reconciler.errors import Diagnostic, DiagnosticSink, Severity, WorkspaceError
from reconciler.manifest.loader import DocumentReader
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState, SourceLocation
from reconciler.manifest.secret_files import SecretFileRules
from reconciler.manifest.secrets import SecretRef, SecretValue, fingerprint
from reconciler.manifest.validate import validate_documents
from reconciler.workspace import Workspace

__all__ = [
    "DesiredAuthorization", "DesiredJob", "DesiredState", "LoadResult", "SecretRef", "SecretValue",
    "SourceLocation", "fingerprint", "load_desired",
]


@dataclass(frozen=True)
class LoadResult:
    desired: DesiredState
    warnings: list[Diagnostic]


def _sort_key(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.sort_key


def secret_field_names(catalog: Catalog) -> frozenset[str]:
    """Every field name some provider marks secret (in a method or a workflow), for redaction."""
    names = set()
    for provider in catalog.providers.values():
        for method in provider.methods.values():
            names.update(method.secret_fields)
        for workflow in provider.workflows.values():
            names.update(f.name for f in workflow.fields if f.secret)
    return frozenset(names)


def load_desired(workspace: Workspace, catalog: Catalog, *,
                 on_started: Callable[[], None] | None = None) -> LoadResult:
    """Load and validate every manifest of the workspace, or raise ManifestError.

    ``on_started`` runs once reading has begun (see :class:`DocumentReader`): the place to
    start a thread that works alongside the load.

    What discovery could not look at (an unreadable folder, a broken link, a FIFO named
    x.yaml) is an error like any other: objects in a folder nobody could read would
    otherwise look deleted, and apply would delete them.
    """
    found = workspace.discover_manifests()
    if not found.files and not found.problems:
        raise WorkspaceError(
            f"{workspace.root}: no manifest files (*.yaml, *.yml) found in the workspace",
            hint="add Authorization and Job manifests next to authctl.yaml",
        )
    files = [(p, workspace.display_path(p)) for p in found.files]
    sink = DiagnosticSink()
    for problem in found.problems:
        sink.error(problem.message, file=problem.display, rule=problem.rule)
    reader = DocumentReader(files, workspace.template_vars(), sink, secret_names=secret_field_names(catalog),
                            on_started=on_started)
    rules = SecretFileRules(workspace.root, tuple(Path(os.path.realpath(d)) for d in workspace.secret_dirs()))
    with paused_gc():
        # Validates the first files while the reader may still be loading the last ones.
        authorizations, jobs = validate_documents(reader, catalog, sink, rules)
    if files and not sink.has_errors and not authorizations and not jobs:
        sink.error("no Authorization or Job documents found in the manifest files",
                   file=files[0][1], line=1, rule="no-documents")
    sink.raise_if_errors()
    desired = DesiredState(
        authorizations=authorizations, jobs=jobs, files=tuple(d for _, d in files),
        digest=reader.digest, environment=workspace.environment,
    )
    # Sorted without looking up a line (see reconciler/diagnostics.py).
    warnings = sorted((d for d in sink.items if d.severity is Severity.WARNING), key=_sort_key)
    return LoadResult(desired, warnings)
