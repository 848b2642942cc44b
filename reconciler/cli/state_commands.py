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


def _address(workspace: Workspace, name: str) -> tuple[ObjectKind, str]:
    """An address or a bare manifest name, resolved against the manifests."""
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
    return kinds[0], bare


@click.command("import")
@click.argument("name")
@click.argument("live_ref", metavar="LIVE")
@workspace_options
def import_(name: str, live_ref: str, workspace: Workspace) -> None:
    """Bring the live object LIVE (its id; or an authorization's label, a job's unique name) under the
    manifest NAME (or authorization/NAME, job/NAME).

    For an object made outside authctl, or one an interrupted apply made before creation
    markers existed (recovery names this command). The next plan compares the object with
    the manifest (a different provider, method or workflow shows as a replace).
    """
    from reconciler.backends import open_backend
    from reconciler.clock import utc_now
    from reconciler.state.access import open_state_store
    from reconciler.state.records import ManagedObject
    from reconciler.state.store import StateStore

    kind, bare = _address(workspace, name)
    address = f"{kind}/{bare}"
    backend = open_backend(workspace, workspace_catalog(workspace), Access.READ)
    try:
        snapshot = backend.snapshot()
    finally:
        backend.close()
    live_id = _live_id(snapshot, kind, live_ref)
    state = open_state_store(workspace, Access.WRITE)
    assert isinstance(state, StateStore)
    try:
        pending = next((e for e in reversed(state.pending_intents()) if e.address == address and e.action.creates),
                       None)
        recorded: dict[str, Any] = pending.detail if pending is not None else {}
        applied = _applied_of(snapshot, kind, live_id, address)
        obj = ManagedObject(kind, bare, live_id, recorded.get("fingerprints", {}), utc_now(),
                            recorded.get("applied") or applied)
        state.adopt(obj, holder=current_user(), reason=JournalOp.IMPORT)
    finally:
        state.close()
    settled = " (this settles the interrupted create)" if pending is not None else ""
    output.stdout().print(terminal_text(f"Imported {live_id} as {address}{settled}."), markup=False)
    if pending is None and kind == AUTH:
        output.stdout().print(
            "authctl has no fingerprints of its config and credentials, so the next plan compares them as "
            "unknown and may show a replace; review it before applying.", style="yellow", markup=False)


def _live_id(snapshot: Any, kind: ObjectKind, ref: str) -> str:
    """The id of the live object ``ref`` names: an id, an authorization's label or a job's unique name.

    Not by manifest name: the object is not under a manifest yet (that is what import does).
    """
    from reconciler.views import resolve_authorization, resolve_job

    found = (resolve_authorization if kind == AUTH else resolve_job)(snapshot, {}, ref)
    return found.id if found is not None else ref  # (an unknown id: _applied_of names it)


def _applied_of(snapshot: Any, kind: ObjectKind, live_id: str, address: str) -> dict[str, Any]:
    """The non-secret values of the live object, as apply would have recorded them."""
    if kind == AUTH:
        auth = snapshot.authorizations.get(live_id)
        if auth is None:
            raise NotFoundError(f"no authorization with id {live_id!r} on the platform (see `authctl status`)")
        return {"provider": auth.provider, "method": auth.method, "label": auth.label,
                "description": auth.description, "imported": True}
    job = snapshot.jobs.get(live_id)
    if job is None:
        raise NotFoundError(f"no job with id {live_id!r} on the platform (see `authctl platform jobs list`)")
    return {"workflow": job.workflow, "imported": True}


@click.group("state")
def state_group() -> None:
    """What the state store knows: show it, claim it for this workspace, settle an interrupted create."""


@state_group.command("show")
@workspace_options
@output_options("text", "json")
def state_show(workspace: Workspace, fmt: str) -> None:
    """The state store's identity (workspace, folder, environment), serial, managed objects and open intents."""
    from reconciler.state.access import open_existing_state_store
    from reconciler.state.records import recorded_identity

    state = open_existing_state_store(workspace)
    if state is None:
        raise UsageError("there is no state store in this workspace yet (apply creates it)")
    try:
        rows = state.meta_rows()
        managed = state.managed()
        pending = state.pending_intents()
    finally:
        state.close()
    owner = recorded_identity(rows)
    data = {
        "format_version": output.JSON_FORMAT_VERSION,
        "lineage": rows.get("lineage"), "serial": int(rows.get("serial", "0")),
        "workspace": owner.name, "workspace_root": owner.root, "environment": owner.environment,
        "managed": sorted(o.address for o in managed.values()),
        "pending_intents": [{"address": e.address, "action": e.action.value, "apply_id": e.apply_id}
                            for e in pending],
    }
    if fmt == "json":
        output.print_json(data)
        return
    lines = [f"Lineage:     {data['lineage']} (serial {data['serial']})",
             f"Belongs to:  {owner.describe()}",
             f"Managed:     {len(managed)} object(s)"]
    lines += [f"Open intent: {e.address} ({e.action.value}) of apply {e.apply_id}" for e in pending]
    output.print_lines(output.stdout(), "\n".join(terminal_text(line) for line in lines))


@state_group.command("claim")
@workspace_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def state_claim(workspace: Workspace, yes: bool) -> None:
    """Record this workspace (and --env) as the owner of its configured state store, on purpose.

    For a renamed or moved workspace, or a state that should now belong to another
    environment. The next plan compares everything in it with these manifests: read it.
    """
    from reconciler.state.records import recorded_identity
    from reconciler.state.store import StateStore

    identity = workspace.identity()
    url = workspace.resolve_url(workspace.state.url)
    state = StateStore.open(url)  # no identity check: that check is what this command overrides
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
