"""Taking a snapshot for ``authctl snapshot``: read the platform and the state store once, keep no secret.

The I/O half of snapshot files (``snapshot_file`` is the format): open the workspace's
backend and state store read-only, exactly as ``plan`` does (so a state store of another
workspace is refused here too), read both, and hand them to
:func:`snapshot_file.build_saved_snapshot`, which re-keys the config fingerprints and
leaves the credential fingerprints and the state's key out. Manifests are not read: the
snapshot is of the platform and the state, for whatever manifests a pull request brings.
"""

from __future__ import annotations

from reconciler.backends import open_backend
from reconciler.catalog import load_catalog
from reconciler.clock import utc_now
from reconciler.snapshot_file import SavedSnapshot, build_saved_snapshot
from reconciler.state.access import open_state_store
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace


def take_snapshot(workspace: Workspace) -> SavedSnapshot:
    """The workspace's live state and state records, as a snapshot file would hold them.

    ``taken_at`` is when the reading started, so the age a plan states is never less than
    the real one.
    """
    taken_at = utc_now()
    catalog = load_catalog(workspace.provider_dirs())
    state = open_state_store(workspace, Access.READ)
    try:
        backend = open_backend(workspace, catalog, Access.READ)
        try:
            live = backend.snapshot()
        finally:
            backend.close()
        meta = state.meta() if state else None
        managed = state.managed() if state else {}
        key = state.hmac_key() if state else None
    finally:
        if state is not None:
            state.close()
    return build_saved_snapshot(workspace, live, meta, managed, key, taken_at)
