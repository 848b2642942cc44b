"""`authctl import` and `authctl state show|claim|settle`: changing what the state store knows, on purpose.

Each change is one a person decides and authctl cannot: that a live object is the one
a manifest declares (``import``), that a state store now belongs to this workspace or
environment (``state claim``), or that an interrupted create made nothing of authctl's
(``state settle``). Every one runs under the state lock and is journaled, like apply.
"""

from __future__ import annotations

from typing import Any

import click

from reconciler.backends import current_user
from reconciler.cli import output
from reconciler.cli.common import output_options, workspace_catalog, workspace_options
from reconciler.errors import NotFoundError, UsageError
from reconciler.render.escape import terminal_text
from reconciler.vocabulary import Access, JournalOp, ObjectKind
from reconciler.workspace import Workspace

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB


def _split(address: str) -> tuple[ObjectKind | None, str]:
    """``Authorization/x`` (any case of the kind), ``Job/x`` or a bare name -> (kind or None, name)."""
    kind_text, _, bare = address.rpartition("/")
    if not kind_text:
        return None, bare
    kind = ObjectKind.of_address_prefix(kind_text)
    if kind is None:
        raise UsageError(f"{address!r}: an address is Authorization/NAME or Job/NAME")
    return kind, bare


def _address(workspace: Workspace, name: str) -> tuple[ObjectKind, str, Any]:
    """An address or a bare manifest name, resolved against the manifests (which are returned too)."""
    from reconciler.manifest import load_desired

    wanted, bare = _split(name)
    desired = load_desired(workspace, workspace_catalog(workspace)).desired
    kinds = [k for k, names in ((AUTH, desired.authorizations), (JOB, desired.jobs))
             if bare in names and wanted in (None, k)]
    if not kinds:
        raise NotFoundError(f"no manifest declares {name!r}; import brings a live object under a manifest, "
                            "so declare it first")
    if len(kinds) > 1:
        raise UsageError(f"both an authorization and a job are named {bare!r}: say Authorization/{bare} "
                         f"or Job/{bare}")
    return kinds[0], bare, desired


@click.command("import")
@click.argument("name", required=False)
@click.argument("live_ref", metavar="[LIVE]", required=False)
@click.option("--all-matching", is_flag=True,
              help="Import every live object not managed yet whose label (authorization) or name (job) matches a "
                   "manifest; shows them and asks first.")
@click.option("--yes", "--auto-approve", "yes", is_flag=True, help="Do not ask for confirmation (--all-matching).")
@workspace_options
def import_(name: str | None, live_ref: str | None, all_matching: bool, yes: bool, workspace: Workspace) -> None:
    """Bring the live object LIVE (its id; or an authorization's label, a job's unique name) under the
    manifest NAME (or authorization/NAME, job/NAME); or, with --all-matching, every live object that
    matches a manifest (after `authctl export`).

    For an object made outside authctl, or one an interrupted apply made before creation
    markers existed (recovery names this command). Importing says the live object is the
    one the manifest describes: the fingerprints of its config and of every credential set
    here are recorded, and the next plan compares the rest (a different provider, method or
    workflow shows as a replace). A credential not set here is not compared until an
    import records it; importing again records what was missing.
    """
    if all_matching:
        if name or live_ref:
            raise UsageError("import --all-matching finds the live objects itself: give no NAME or LIVE")
        from reconciler.cli.export_commands import import_all_matching

        import_all_matching(workspace, yes)
        return
    if not name or not live_ref:
        raise UsageError("import needs NAME and LIVE (a manifest name and a live id, label or job name), "
                         "or --all-matching")
    _import_one(name, live_ref, workspace)


def _import_one(name: str, live_ref: str, workspace: Workspace) -> None:
    from reconciler.backends import open_backend
    from reconciler.clock import utc_now
    from reconciler.export.matching import imported_record, unrecorded_fields
    from reconciler.manifest.fingerprints import fingerprint_authorization
    from reconciler.state.access import open_state_store
    from reconciler.state.records import ManagedObject
    from reconciler.state.store import StateStore

    kind, bare, desired = _address(workspace, name)
    address = f"{kind}/{bare}"
    backend = open_backend(workspace, workspace_catalog(workspace), Access.READ)
    try:
        snapshot = backend.snapshot()
    finally:
        backend.close()
    live_id = _live_id(snapshot, kind, live_ref)
    live = _live_of(snapshot, kind, live_id)
    missing: list[str] = []
    state = open_state_store(workspace, Access.WRITE)
    assert isinstance(state, StateStore)
    try:
        pending = next((e for e in reversed(state.pending_intents()) if e.address == address and e.action.creates),
                       None)
        if pending is not None:  # an interrupted create of ours: what it journaled is exact
            obj = ManagedObject(kind, bare, live_id, pending.detail.get("fingerprints", {}), utc_now(),
                                pending.detail.get("applied") or imported_record(kind, bare, live, utc_now()).applied)
        elif kind == AUTH:
            d = desired.authorizations[bare]
            fps = fingerprint_authorization(d, state.hmac_key(), workspace.root)
            previous = state.get(kind, bare)
            previous = previous if previous is not None and previous.live_id == live_id else None
            missing = unrecorded_fields(d, fps, previous)
            obj = imported_record(kind, bare, live, utc_now(), desired=d, fps=fps, previous=previous)
        else:
            obj = imported_record(kind, bare, live, utc_now())
        state.adopt(obj, holder=current_user(), reason=JournalOp.IMPORT)
    finally:
        state.close()
    settled = " (this settles the interrupted create)" if pending is not None else ""
    output.stdout().print(terminal_text(f"Imported {live_id} as {address}{settled}."), markup=False)
    if missing:
        output.stdout().print(terminal_text(
            f"Not recorded: {', '.join(missing)} (the values are not available here, and the platform never "
            "returns them): the plan does not compare them until `authctl import` runs again with them set."),
            style="yellow", markup=False)


def _live_id(snapshot: Any, kind: ObjectKind, ref: str) -> str:
    """The id of the live object ``ref`` names: an id, an authorization's label or a job's unique name.

    Not by manifest name: the object is not under a manifest yet (that is what import does).
    """
    from reconciler.views import resolve_authorization, resolve_job

    found = (resolve_authorization if kind == AUTH else resolve_job)(snapshot, {}, ref)
    return found.id if found is not None else ref  # (an unknown id: _live_of names it)


def _live_of(snapshot: Any, kind: ObjectKind, live_id: str) -> Any:
    """The live object ``live_id`` names, or NotFoundError."""
    if kind == AUTH:
        auth = snapshot.authorizations.get(live_id)
        if auth is None:
            raise NotFoundError(f"no authorization with id {live_id!r} on the platform (see `authctl status`)")
        return auth
    job = snapshot.jobs.get(live_id)
    if job is None:
        raise NotFoundError(f"no job with id {live_id!r} on the platform (see `authctl platform jobs list`)")
    return job


@click.group("state")
def state_group() -> None:
    """What the state store knows: show it, claim it for this workspace, settle an interrupted create."""


@state_group.command("show")
@workspace_options
@output_options("text", "json")
def state_show(workspace: Workspace, fmt: str) -> None:
    """The state store's identity (workspace, folder), this environment's namespace (serial, managed objects,
    open intents) and the store's other namespaces."""
    from reconciler.state.access import open_existing_state_store
    from reconciler.state.records import namespace_words, recorded_identity

    state = open_existing_state_store(workspace)
    if state is None:
        raise UsageError("there is no state store in this workspace yet (apply creates it)")
    try:
        rows = state.meta_rows()
        serial = state.meta().serial
        managed = state.managed()
        pending = state.pending_intents()
        others = [n for n in state.namespaces() if n.name != state.namespace]
    finally:
        state.close()
    owner = recorded_identity(rows)
    data = {
        "format_version": output.JSON_FORMAT_VERSION,
        "lineage": rows.get("lineage"), "serial": serial,
        "workspace": owner.name, "workspace_root": owner.root, "environment": workspace.environment,
        "namespace": state.namespace or None,  # null: the default namespace (runs without an environment)
        "managed": sorted(o.address for o in managed.values()),
        "pending_intents": [{"address": e.address, "action": e.action.value, "apply_id": e.apply_id}
                            for e in pending],
        "other_namespaces": [{"namespace": n.name or None, "serial": n.serial, "managed": n.managed}
                             for n in others],
    }
    if fmt == "json":
        output.print_json(data)
        return
    lines = [f"Lineage:     {data['lineage']}",
             f"Belongs to:  {owner.describe()}",
             f"Namespace:   {namespace_words(state.namespace)} (serial {serial})",
             f"Managed:     {len(managed)} object(s)"]
    lines += [f"Open intent: {e.address} ({e.action.value}) of apply {e.apply_id}" for e in pending]
    lines += [f"Also holds:  {namespace_words(n.name)}: {n.managed} object(s), serial {n.serial}" for n in others]
    output.print_lines(output.stdout(), "\n".join(terminal_text(line) for line in lines))


@state_group.command("claim")
@workspace_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def state_claim(workspace: Workspace, yes: bool) -> None:
    """Record this workspace as the owner of its configured state store, on purpose.

    For a renamed or moved workspace. (Environments need no claim: each has a namespace
    of its own in the store.) The next plan compares everything in it with these
    manifests: read it.
    """
    from dataclasses import replace

    from reconciler.state.records import namespace_of, recorded_identity
    from reconciler.state.store import StateStore

    identity = replace(workspace.identity(), environment=None)
    url = workspace.resolve_url(workspace.state.url)
    # No identity check: that check is what this command overrides.
    state = StateStore.open(url, namespace=namespace_of(workspace.environment),
                            setting=f"{workspace.state_setting}.url")
    try:
        previous = recorded_identity(state.meta_rows())
        if previous == identity:
            output.stdout().print(terminal_text(f"The state store already belongs to {identity.describe()}."),
                                  markup=False)
            return
        if not yes and not click.confirm(terminal_text(f"The state store belongs to {previous.describe()}.") + "\n"
                                         + terminal_text(f"Make it belong to {identity.describe()}?"), default=False):
            output.stdout().print("Nothing was changed.", markup=False)
            return
        state.claim(identity, holder=current_user())
    finally:
        state.close()
    output.stdout().print(terminal_text(f"The state store now belongs to {identity.describe()} "
                                        f"(was {previous.describe()}). Run `authctl plan` and read it before applying."),
                          markup=False)


@state_group.command("settle")
@click.argument("address")
@click.option("--not-created", is_flag=True, required=True,
              help="Confirm that the interrupted create made nothing of authctl's (the next apply creates it).")
@workspace_options
def state_settle(address: str, not_created: bool, workspace: Workspace) -> None:
    """Close an interrupted create of ADDRESS that recovery could not prove (see the recovery message)."""
    from reconciler.state.access import open_existing_state_store

    kind, bare = _split(address)
    if kind is None:
        raise UsageError(f"{address!r}: say Authorization/{bare} or Job/{bare}")
    address = f"{kind}/{bare}"
    state = open_existing_state_store(workspace)
    if state is None:
        raise UsageError("there is no state store in this workspace yet")
    try:
        closed = state.settle_not_created(address, holder=current_user())
    finally:
        state.close()
    if not closed:
        raise NotFoundError(f"no interrupted create of {address!r} is open (see `authctl state show`)")
    output.stdout().print(terminal_text(f"Settled {address}: the next apply creates it."), markup=False)


COMMANDS = [import_, state_group]
