"""Group commit (reconciler/group_commit.py) on a real SQLite file.

The promise each caller relies on: ``write`` returns only once its rows are committed and
raises only for its own write. The batching itself is made deterministic here by holding
the first transaction open until the other writers have queued behind it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from reconciler.db import Database
from reconciler.errors import StateError
from reconciler.group_commit import GroupCommit

_metadata = MetaData()
_rows = Table("rows", _metadata, Column("id", Integer, primary_key=True), Column("who", String, nullable=False))


def _database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'group.db'}", lambda exc, _read: StateError(str(exc)))
    _metadata.create_all(database.engine)
    return database


def _insert(row_id: int, who: str) -> Callable[[Connection], None]:
    def write(conn: Connection) -> None:
        conn.execute(insert(_rows).values(id=row_id, who=who))
    return write


def _committed(database: Database) -> list[tuple[int, str]]:
    with database.read() as conn:
        return [(r.id, r.who) for r in conn.execute(select(_rows).order_by(_rows.c.id))]


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.005)


class _Held:
    """A first write that keeps its transaction open until released: whoever writes meanwhile queues."""

    def __init__(self, group: GroupCommit) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=group.write, args=(self._write,))

    def _write(self, conn: Connection) -> None:
        conn.execute(insert(_rows).values(id=1, who="first"))
        self.inside.set()
        assert self.release.wait(10)

    def __enter__(self) -> _Held:
        self.thread.start()
        assert self.inside.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


def _writers(group: GroupCommit, writes: dict[int, Callable[[Connection], None]],
             outcome: dict[int, BaseException | None]) -> list[threading.Thread]:
    def run(key: int) -> None:
        try:
            group.write(writes[key])
            outcome[key] = None
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome[key] = exc

    threads = [threading.Thread(target=run, args=(key,)) for key in writes]
    for thread in threads:
        thread.start()
    return threads


def test_writes_queued_behind_a_transaction_are_committed_together(tmp_path: Path) -> None:
    database = _database(tmp_path)
    group = GroupCommit(database)
    outcome: dict[int, BaseException | None] = {}
    with _Held(group):
        threads = _writers(group, {n: _insert(n, f"writer-{n}") for n in range(2, 12)}, outcome)
        _wait_for(lambda: len(group._queue) == 10)
        assert _committed(database) == []  # nobody has returned, nothing is visible yet
        assert not outcome
    for thread in threads:
        thread.join(10)
    assert outcome == {n: None for n in range(2, 12)}
    assert group.transactions == 2  # the held one, then all ten queued behind it at once
    assert _committed(database) == [(1, "first")] + [(n, f"writer-{n}") for n in range(2, 12)]


def test_a_write_that_breaks_a_rule_fails_alone(tmp_path: Path) -> None:
    database = _database(tmp_path)
    group = GroupCommit(database)
    outcome: dict[int, BaseException | None] = {}
    with _Held(group):
        # id 1 is the held write's: writer 3 repeats it and must fail; 2 and 4 must land
        threads = _writers(group, {2: _insert(2, "two"), 3: _insert(1, "duplicate"), 4: _insert(4, "four")}, outcome)
        _wait_for(lambda: len(group._queue) == 3)
    for thread in threads:
        thread.join(10)
    assert outcome[2] is None and outcome[4] is None
    assert isinstance(outcome[3], IntegrityError)
    assert _committed(database) == [(1, "first"), (2, "two"), (4, "four")]
    assert group.transactions == 1 + 1 + 3  # held; the batch (rolled back); each of the three alone


def test_many_threads_lose_nothing_and_share_commits(tmp_path: Path) -> None:
    database = _database(tmp_path)
    group = GroupCommit(database)
    errors: list[BaseException] = []

    def worker(base: int) -> None:
        try:
            for n in range(50):
                group.write(_insert(base * 100 + n, f"t{base}"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(_committed(database)) == 16 * 50


def test_an_interrupt_in_the_leader_fails_the_whole_batch(tmp_path: Path) -> None:
    database = _database(tmp_path)
    group = GroupCommit(database)

    def interrupted(conn: Connection) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        group.write(interrupted)
    group.write(_insert(7, "after"))
    assert _committed(database) == [(7, "after")]
