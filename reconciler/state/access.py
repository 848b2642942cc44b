"""Opening a workspace's state store: the full store to write, a cheap reader where one only reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.db import existing_database_file, sqlite_path
from reconciler.errors import StateError
from reconciler.state.records import ManagedIndex, StateMeta
from reconciler.vocabulary import Access

if TYPE_CHECKING:
    from reconciler.state.store import StateStore
    from reconciler.workspace import Workspace


class StateView(Protocol):
    """What read-only commands use of the state store (StateStore and SqliteStateReader have it)."""

    def meta(self) -> StateMeta: ...

    def hmac_key(self) -> bytes: ...

    def managed(self) -> ManagedIndex: ...

    def close(self) -> None: ...


def open_state_store(workspace: Workspace, access: Access) -> StateStore | StateView | None:
    """The workspace's state store.

    Either is scoped to the namespace of the run's environment (the default namespace
    without one): no other environment's records, lock or journal are read or written.

    :attr:`Access.WRITE` opens (creating if needed) the full :class:`StateStore`. For
    :attr:`Access.READ` a missing SQLite file gives None (plan, status and show must not
    leave a new state file behind), an existing one is read without SQLAlchemy, and any
    other database gets the full store.
    """
    url = workspace.resolve_url(workspace.state.url)
    path = sqlite_path(url)
    exists = path is not None and _existing_state_file(workspace, path, url)
    if access is Access.READ and path is not None:
        if not exists:
            return None
        from reconciler.state.sqlite_reader import SqliteStateReader

        reader = SqliteStateReader.open(path, url, workspace.identity())
        if reader is not None:
            return reader
    from reconciler.state.store import StateStore

    return StateStore.open(url, workspace=workspace.identity(), setting=f"{workspace.state_setting}.url")


def read_managed(workspace: Workspace) -> ManagedIndex:
    """The state's managed objects (manifest name -> live id), read-only; empty before the first apply.

    For readers that need no more of the state (status, health, export, the dashboard).
    """
    state = open_state_store(workspace, Access.READ)
    if state is None:
        return {}
    try:
        return state.managed()
    finally:
        state.close()


def open_existing_state_store(workspace: Workspace) -> StateStore | None:
    """The full store when one exists (force-unlock must not create one); None for a missing SQLite file."""
    url = workspace.resolve_url(workspace.state.url)
    path = sqlite_path(url)
    if path is not None and not _existing_state_file(workspace, path, url):
        return None
    from reconciler.state.store import StateStore

    return StateStore.open(url, workspace=workspace.identity(), setting=f"{workspace.state_setting}.url")


def _existing_state_file(workspace: Workspace, path: Path, url: str) -> bool:
    """Whether the state's SQLite file exists; a directory there, or a folder that cannot be entered, is an error."""
    return existing_database_file(path, url, what="the state store", example=".authctl/state.db",
                                  setting=f"{workspace.state_setting}.url", error=StateError)
