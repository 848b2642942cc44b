"""`authctl export` and `authctl import --all-matching`: bringing an existing account under management.

The path for an account whose authorizations and jobs were made by hand or by another
tool: ``export`` writes manifests for the live objects (reconciler/export/), a person reviews
them (supplies the secrets and config the platform never returns), ``import --all-matching``
records every live object that matches a manifest in state (under the lock, journaled), and
``plan`` then shows no changes but what is still to supply.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import click

from reconciler.cli import output
from reconciler.cli.common import format_option, managed_objects, workspace_catalog, workspace_options
from reconciler.errors import AmbiguousMatchError, ExportOverwriteError, UsageError
from reconciler.render.escape import terminal_text
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace

if TYPE_CHECKING:
    from reconciler.export.documents import Export
    from reconciler.export.matching import Adoption, Matches
    from reconciler.export.yaml_text import WrittenFile

SHOWN = 50  # lines of a list shown before "and N more" (an adopted account holds thousands)
SCHEMA_FILE = "authctl.schema.json"


@click.command("export")
@workspace_options
@format_option("text", "json")
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Write the manifests into DIR (created if missing): PROVIDER.yaml per provider, and "
                   "PROVIDER-2.yaml, ... past 2,000 documents; without it, they go to stdout as one YAML stream.")
@click.option("--select", "selectors", multiple=True, metavar="KEY=VALUE",
              help="Export only the authorizations with provider=NAME, method=NAME or label=GLOB, and the jobs "
                   "using only those (repeatable: one key twice means either value, two keys both).")
@click.option("--force", is_flag=True, help="Overwrite files of the same name in DIR.")
def export(workspace: Workspace, fmt: str, output_dir: Path | None, selectors: tuple[str, ...], force: bool) -> None:
    """Write manifests for the live authorizations and jobs this workspace does not manage yet.

    One file per provider (split past 2,000 documents), in the manifest format, jobs in
    the file of their first authorization and bound to it by manifest name. Secrets and authorization config are
    write-only on the platform: each credential is an {env: AUTHCTL_...} reference to set,
    each required config field a null to fill in; every file's header lists them. Review
    the files, then `authctl import --all-matching` and `authctl plan`. Refuses to
    overwrite files unless --force.
    """
    from reconciler.backends import open_backend
    from reconciler.export.documents import build_export
    from reconciler.export.selection import parse_selection
    from reconciler.export.yaml_text import Provenance, render_files, stream_text
    from reconciler.paused_gc import paused_gc

    if fmt == "json" and output_dir is None:
        raise UsageError("export --format json describes the files it writes: give -o DIR (without it, stdout "
                         "carries the manifests themselves)")
    catalog = workspace_catalog(workspace)
    selection = parse_selection(selectors, catalog)
    if output_dir is not None:
        _check_target(output_dir)
    backend = open_backend(workspace, catalog, Access.READ)
    try:
        snapshot = backend.snapshot()
    finally:
        backend.close()
    provenance = Provenance(datetime.now(UTC), _backend_words(workspace), workspace.environment,
                            selection.describe(), _schema_ref(workspace, output_dir))
    with paused_gc():  # 60,000 documents and their YAML nodes, and no reference cycles
        result = build_export(snapshot, catalog, managed_objects(workspace), selection)
        if output_dir is None:
            sys.stdout.write(stream_text(result, provenance) if result.files else "")
            _print_summary(output.stderr(), result, None)
            return
        files = render_files(result, provenance)
    existing = [str(output_dir / f.name) for f in files if (output_dir / f.name).exists()
                or (output_dir / f.name).is_symlink()]
    if existing and not force:
        raise ExportOverwriteError(f"export would overwrite {', '.join(existing)}; nothing was written",
                                   hint="move them away, choose another -o folder, or pass --force")
    for written in files:
        output.write_atomically(output_dir / written.name, written.text)
    if fmt == "json":
        output.print_json(_summary_json(result, files, output_dir))
    else:
        _print_summary(output.stdout(), result, output_dir, files)
    _warn_stale(output_dir, result, files)


def _check_target(folder: Path) -> None:
    """Refuse a -o that is a file, or a folder that cannot be made or written, before reading the platform."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o {folder}: it is a file; export writes one file per provider into a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"-o {folder}: cannot be created: {(exc.strerror or str(exc)).lower()}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"-o {folder}: cannot be written: permission denied")


def _backend_words(workspace: Workspace) -> str:
    """Which platform was read, for the files' header: never a token or a password."""
    settings = workspace.backend
    if settings.kind == "lytics":
        parts = urlsplit(settings.url or "")
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return f"the Lytics API at {urlunsplit((parts.scheme, netloc, parts.path, '', ''))}"
    from reconciler.db import redact_url

    path = redact_url(settings.path) if "://" in settings.path else settings.path
    return f"the embedded platform at {path}"


def _schema_ref(workspace: Workspace, folder: Path | None) -> str:
    """The editor schema at the workspace root (`authctl schema -o authctl.schema.json`), relative to the files."""
    if folder is None:
        return SCHEMA_FILE
    relative = os.path.relpath(workspace.root.resolve(), folder.resolve())
    return SCHEMA_FILE if relative == "." else f"{Path(relative).as_posix()}/{SCHEMA_FILE}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _capped(lines: list[str], what: str) -> list[str]:
    if len(lines) <= SHOWN:
        return lines
    return [*lines[:SHOWN], f"  ... and {len(lines) - SHOWN:,} more ({what})"]


def _print_summary(console: Any, result: Export, folder: Path | None, files: Sequence[WrittenFile] = ()) -> None:
    if not result.files:
        console.print("Nothing to export: no live object matches that is not managed already.", markup=False)
        _print_skipped(console, result)
        return
    where = f" to {folder}" if folder is not None else ""
    lines = [f"Exported {_count(result.authorizations, 'authorization')} and {_count(result.jobs, 'job')}{where}:"]
    if folder is not None:
        lines += _capped([f"  {folder / f.name}  ({_count(f.authorizations, 'authorization')}, "
                          f"{_count(f.jobs, 'job')})" for f in files], "--format json lists every file")
    if result.variables:
        lines.append("Set these variables before `authctl apply` (secrets are write-only on the platform):")
        lines += _capped([f"  {v.variable}  ({v.address} {v.credential})" for v in result.variables],
                         "each file's header lists its own")
    if result.fill_in:
        lines.append("Fill in the config the platform does not return (null in the files; "
                     "`authctl validate` names each):")
        lines += _capped([f"  {c.address} config.{c.field}" for c in result.fill_in],
                         "each file's header lists its own")
    if result.renamed_jobs:
        lines.append(f"{_count(len(result.renamed_jobs), 'job')} will be renamed by the next apply (a job's name on "
                     "the platform is its manifest name):")
        lines += _capped([f"  {r.address} (now {r.live_name!r})" for r in result.renamed_jobs], "see the files")
    lines.append("Next: review the files, `authctl validate`, `authctl import --all-matching`, `authctl plan`.")
    output.print_lines(console, "\n".join(terminal_text(line) for line in lines))
    _print_skipped(console, result)


def _warn_stale(folder: Path, result: Export, files: Sequence[WrittenFile]) -> None:
    """Name the PROVIDER-N.yaml files of an earlier, larger export that this one did not rewrite (--force)."""
    written = {f.name for f in files}
    stale = sorted(p.name for e in result.files for p in folder.glob(f"{e.provider}-*.yaml")
                   if p.name not in written and p.name[len(e.provider) + 1:-5].isdigit())
    if stale:
        output.stderr().print(terminal_text(
            f"Warning: {', '.join(stale)} in {folder} are from an earlier export and were left as they are; "
            "remove them, or validate will find their objects twice"), style="yellow", markup=False)


def _print_skipped(console: Any, result: Export) -> None:
    if not result.skipped:
        return
    reasons: dict[tuple[str, str], int] = {}
    for skipped in result.skipped:
        key = (skipped.kind, skipped.category)
        reasons[key] = reasons.get(key, 0) + 1
    lines = [f"Not exported: {_count(len(result.skipped), 'live object')} (--format json -o DIR lists each):"]
    lines += [f"  {_count(n, kind)}: {category}" for (kind, category), n in sorted(reasons.items())]
    output.print_lines(console, "\n".join(terminal_text(line) for line in lines))


def _summary_json(result: Export, files: Sequence[WrittenFile], folder: Path) -> dict[str, Any]:
    return {
        "format_version": output.JSON_FORMAT_VERSION,
        "files": [{"path": str(folder / f.name), "provider": f.provider, "authorizations": f.authorizations,
                   "jobs": f.jobs} for f in files],
        "variables": [{"variable": v.variable, "address": v.address, "credential": v.credential}
                      for v in result.variables],
        "fill_in": [{"address": c.address, "field": f"config.{c.field}"} for c in result.fill_in],
        "renamed_jobs": [{"address": r.address, "live_name": r.live_name} for r in result.renamed_jobs],
        "skipped": [{"kind": s.kind, "id": s.id, "name": s.name, "reason": s.reason, "category": s.category}
                    for s in result.skipped],
    }


# -- import --all-matching ----------------------------------------------------------------------------
def import_all_matching(workspace: Workspace, yes: bool) -> None:
    """Adopt every live object that matches a manifest and is not managed yet (reconciler/export/matching.py).

    Shows what it would adopt and asks; without a terminal it needs --yes. Ambiguities stop
    it before anything is written. Adoption is StateStore.adopt_many: under the lock,
    journaled, checked again there.
    """
    from reconciler.backends import open_backend, current_user
    from reconciler.export.matching import match_all
    from reconciler.manifest import load_desired
    from reconciler.manifest.fingerprints import fingerprint_desired
    from reconciler.state.access import open_state_store

    catalog = workspace_catalog(workspace)
    desired = load_desired(workspace, catalog).desired
    backend = open_backend(workspace, catalog, Access.READ)
    try:
        snapshot = backend.snapshot()
    finally:
        backend.close()
    view = open_state_store(workspace, Access.READ)  # None: no state store yet (nothing was imported)
    try:
        managed = view.managed() if view is not None else {}
        fps = fingerprint_desired(desired, view.hmac_key(), workspace.root) if view is not None else None
    finally:
        if view is not None:
            view.close()
    matches = match_all(desired, snapshot, managed, fps)
    if matches.ambiguities:
        raise AmbiguousMatchError(_ambiguity_text(matches), hint="import each with `authctl import NAME ID`, "
                                  "then run `authctl import --all-matching` again for the rest")
    console = output.stdout()
    _print_matches(console, matches)
    if not matches.adoptions:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("import --all-matching needs confirmation: run it on a terminal, or pass --yes; "
                             "nothing was imported")
        if not click.confirm(f"Import these {len(matches.adoptions):,} objects?", default=False):
            console.print("Nothing was imported.", markup=False)
            return
    operation, unrecorded = _adopt(workspace, desired, snapshot, matches.adoptions, current_user())
    imported = sum(not a.recording for a in matches.adoptions)
    recorded = len(matches.adoptions) - imported
    done = [f"imported {_count(imported, 'object')}"] if imported else []
    done += [f"recorded the secrets of {_count(recorded, 'authorization')}"] if recorded else []
    console.print(f"{' and '.join(done).capitalize()} (journal operation {operation}).", markup=False)
    if unrecorded:
        console.print(f"{_count(unrecorded, 'imported authorization')} still lack secrets not set here (the platform "
                      "never returns them): `authctl plan` names what to supply; once set, `authctl import "
                      "--all-matching` records them.", style="yellow", markup=False)
    console.print("Run `authctl plan`: it should show no changes but what is still to supply.", markup=False)


def _adopt(workspace: Workspace, desired: Any, snapshot: Any, adoptions: Sequence[Adoption],
           holder: str) -> tuple[str, int]:
    """Record ``adoptions`` in state; returns the journal operation id and how many lack a secret."""
    from reconciler.clock import utc_now
    from reconciler.export.matching import imported_record, unrecorded_fields
    from reconciler.manifest.fingerprints import fingerprint_authorization
    from reconciler.state.access import open_state_store
    from reconciler.state.store import StateStore
    from reconciler.vocabulary import JournalOp, ObjectKind

    state = open_state_store(workspace, Access.WRITE)
    assert isinstance(state, StateStore)
    try:
        key = state.hmac_key()
        managed = state.managed()
        now = utc_now()
        records = []
        missing = 0
        for adoption in adoptions:
            previous = managed.get((adoption.kind, adoption.name))
            if adoption.kind == ObjectKind.JOB:
                records.append(imported_record(adoption.kind, adoption.name, snapshot.jobs[adoption.live_id], now))
                continue
            d = desired.authorizations[adoption.name]
            fps = fingerprint_authorization(d, key, workspace.root)
            missing += bool(unrecorded_fields(d, fps, previous))
            records.append(imported_record(adoption.kind, adoption.name, snapshot.authorizations[adoption.live_id],
                                           now, desired=d, fps=fps, previous=previous))
        return state.adopt_many(records, holder=holder, reason=JournalOp.IMPORT), missing
    finally:
        state.close()


def _print_matches(console: Any, matches: Matches) -> None:
    adopt = [a for a in matches.adoptions if not a.recording]
    record = [a for a in matches.adoptions if a.recording]
    lines: list[str] = []
    if adopt:
        lines.append(f"Would import {_count(len(adopt), 'live object')} under the manifests that match them:")
        lines += _capped([f"  {a.address} <- {a.live_id} ({a.live_name!r})" for a in adopt], "all matched")
    if record:
        lines.append(f"Would record the secrets now set of {_count(len(record), 'imported authorization')}:")
        lines += _capped([f"  {a.address} ({a.live_id})" for a in record], "all recorded")
    if matches.mismatches:
        lines.append("Not imported (a person must decide: `authctl import NAME ID`, and the plan replaces it):")
        lines += _capped([f"  Authorization/{m.name}: the live {m.live_id} ({m.live_name!r}) has the label, but "
                          f"{m.reason}" for m in matches.mismatches], "see above")
    if not matches.adoptions:
        lines.append("Nothing to import: no unmanaged live object matches a manifest.")
    output.print_lines(console, "\n".join(terminal_text(line) for line in lines))


def _ambiguity_text(matches: Matches) -> str:
    parts = []
    for a in matches.ambiguities:
        names = ", ".join(f"{a.kind}/{n}" for n in a.names)
        live = ", ".join(f"{live_id} ({terminal_text(repr(name))})" for live_id, name in a.live)
        parts.append(f"{names} match the live objects {live}")
    return ("import --all-matching cannot tell which live object each manifest means, so nothing was imported:\n  - "
            + "\n  - ".join(parts))


COMMANDS = [export]
