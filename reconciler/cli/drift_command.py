"""`authctl plan --refresh-only`: report what changed on the platform outside authctl; propose nothing.

The scheduled drift job's command (``--format json --detailed-exitcode``: exit 0 no drift,
2 drift, 1 error). It opens the workspace like `plan` (manifests first, then the state
store and the backend, read-only), takes one snapshot and hands state's managed index,
the snapshot and the manifests to the pure ``reconciler.drift.compute_drift``. The
manifests only decide which differences they already ask for (accepted, not drift);
no secret is read and nothing is written.

``-o/--output`` is refused: on `plan` it saves a plan for `authctl apply FILE`, and a
drift report is not one (redirect stdout to keep the report).
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import output
from reconciler.drift import DriftContext, DriftReport, compute_drift
from reconciler.errors import ExitCode, UsageError
from reconciler.session import Session, open_session
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace

REFRESH_ONLY_HELP = ("Report what changed on the platform outside authctl since the last apply (labels, job "
                     "states, deletes, unmanaged jobs on managed authorizations) instead of planning; "
                     "with --detailed-exitcode, exit 2 when there is drift.")


def drift_report(session: Session) -> DriftReport:
    """Compare the session's state store and one live snapshot (the manifests say what is accepted)."""
    snapshot = session.live_snapshot()
    assert session.backend is not None  # (only a `plan --snapshot` session has none, and it refuses --refresh-only)
    managed = session.state.managed() if session.state is not None else {}
    meta = session.meta
    context = DriftContext(environment=session.loaded.desired.environment, backend=session.backend.name,
                           state_serial=meta.serial if meta else 0, state_lineage=meta.lineage if meta else None,
                           state_found=session.state is not None)
    return compute_drift(managed, snapshot, context, session.loaded.desired)


def refresh_only(workspace: Workspace, *, fmt: str, out: Path | None, detailed_exitcode: bool,
                 all_warnings: bool = False) -> int:
    """Run `plan --refresh-only`; returns the exit code (0, or 2 for drift with ``detailed_exitcode``)."""
    if out is not None:
        raise UsageError("--refresh-only reports drift and makes no plan to apply, so there is nothing for "
                         f"-o/--output to save to {out}",
                         hint="redirect the report instead: authctl plan --refresh-only --format json > drift.json")
    session = open_session(workspace, Access.READ, early_snapshot=True)
    try:
        report = drift_report(session)
    finally:
        session.close()
    output.print_diagnostics(output.stderr(), session.loaded.warnings, all_warnings=all_warnings)
    if fmt == "json":
        from reconciler.render.drift_json import render_drift_json

        click.echo(render_drift_json(report), nl=False)
    elif fmt == "markdown":
        from reconciler.render.drift_markdown import render_drift_markdown

        click.echo(render_drift_markdown(report), nl=False)
    else:
        from reconciler.render.drift_text import render_drift_text

        output.print_lines(output.stdout(), render_drift_text(report))
    if detailed_exitcode and report.has_drift:
        return ExitCode.CHANGES
    return ExitCode.OK
