"""Opening a workspace's state store: the full store to write, a cheap reader where one only reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from reconciler.db import sqlite_path
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

    :attr:`Access.WRITE` opens (creating if needed) the full :class:`StateStore`. For
    :attr:`Access.READ` a missing SQLite file gives None (plan, status and show must not
    leave a new state file behind), an existing one is read without SQLAlchemy, and any
    other database gets the full store.
    """
    url = workspace.resolve_url(workspace.settings.state.url)
    path = sqlite_path(url)
    if access is Access.READ and path is not None:
        if not path.exists():
            return None
        from reconciler.state.sqlite_reader import SqliteStateReader

        reader = SqliteStateReader.open(path, url, workspace.settings.name)
        if reader is not None:
            return reader
    from reconciler.state.store import StateStore

    return StateStore.open(url, workspace=workspace.settings.name)


def open_existing_state_store(workspace: Workspace) -> StateStore | None:
    """The full store when one exists (force-unlock must not create one); None for a missing SQLite file."""
    url = workspace.resolve_url(workspace.settings.state.url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    from reconciler.state.store import StateStore

    return StateStore.open(url, workspace=workspace.settings.name)
