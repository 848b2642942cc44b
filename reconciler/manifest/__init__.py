"""Manifests: files -> Jinja2 -> YAML -> validated DesiredState.

Public surface: :func:`load_desired` and the model types re-exported below. Errors come
back as one ManifestError holding every diagnostic; warnings ride on the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.paused_gc import paused_gc
from reconciler.catalog import Catalog
from reconciler.errors import Diagnostic, DiagnosticSink, Severity, WorkspaceError
from reconciler.manifest.loader import DocumentReader
from reconciler.manifest.model import DesiredAuthorization, DesiredJob, DesiredState, SourceLocation
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


def load_desired(workspace: Workspace, catalog: Catalog) -> LoadResult:
    """Load and validate every manifest of the workspace, or raise ManifestError."""
    paths = workspace.manifest_files()
    if not paths:
        raise WorkspaceError(
            f"{workspace.root}: no manifest files (*.yaml, *.yml) found in the workspace",
            hint="add Authorization and Job manifests next to authctl.yaml",
        )
    files = [(p, workspace.display_path(p)) for p in paths]
    sink = DiagnosticSink()
    reader = DocumentReader(files, workspace.template_vars(), sink)
    with paused_gc():
        # Validates the first files while the reader may still be loading the last ones.
        authorizations, jobs = validate_documents(reader, catalog, sink)
    if not sink.has_errors and not authorizations and not jobs:
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
