"""StateStore.adopt_many (``authctl import --all-matching``): the adopt path for many objects, on a real store.

Every refusal of ``adopt`` holds for the batch, checked before anything is written; what
is written is journaled per batch with every address and id, under the lock, with one
serial bump. On SQLite and, where ``make test`` started one, PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state.records import ManagedObject
from reconciler.state.store import StateStore
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB
NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def store(url: str) -> Iterator[StateStore]:
    state = StateStore.open(url, workspace="adopt-many")
    try:
        yield state
    finally:
        state.close()


def _objects(n: int, kind: ObjectKind = AUTH) -> list[ManagedObject]:
    return [ManagedObject(kind, f"{kind.lower()}-{i}", f"live-{kind}-{i}", {"config.x": f"fp{i}"}, NOW,
                          {"imported": True}) for i in range(n)]


def test_adopts_every_object_journaled_per_batch_with_one_serial(store: StateStore) -> None:
    before = store.meta().serial
    objects = [*_objects(3), *_objects(2, JOB)]
    operation = store.adopt_many(objects, holder="tester", batch=2)
    assert {o.address: o.live_id for o in store.managed().values()} == {o.address: o.live_id for o in objects}
    assert store.managed()[(AUTH, "authorization-1")].fingerprints == {"config.x": "fp1"}
    assert store.meta().serial == before + 1
    entries = store.journal_entries(operation)
    assert [(e.action, e.phase) for e in entries] == [(JournalOp.IMPORT, JournalPhase.INTENT),
                                                       (JournalOp.IMPORT, JournalPhase.DONE)] * 3
    named = {address: live for e in entries if e.phase is JournalPhase.DONE for address, live in
             e.detail["adopted"].items()}
    assert named == {o.address: o.live_id for o in objects}
    assert store.pending_intents() == [] and store.current_lock() is None


@pytest.mark.parametrize("conflict", ["name-taken", "id-taken", "id-twice"])
def test_any_conflict_refuses_the_whole_batch_and_writes_nothing(store: StateStore, conflict: str) -> None:
    existing = ManagedObject(AUTH, "kept", "live-kept", {}, NOW, {})
    store.adopt(existing, holder="tester")
    serial = store.meta().serial
    batch = _objects(3)
    if conflict == "name-taken":
        batch.append(ManagedObject(AUTH, "kept", "live-other", {}, NOW, {}))
        message = "Authorization/kept is already managed as live-kept, not live-other"
    elif conflict == "id-taken":
        batch.append(ManagedObject(AUTH, "new-name", "live-kept", {}, NOW, {}))
        message = "live-kept is already managed as Authorization/kept"
    else:
        batch.append(ManagedObject(AUTH, "second-name", batch[0].live_id, {}, NOW, {}))
        message = f"{batch[0].live_id} cannot be adopted as both Authorization/authorization-0 and " \
                  "Authorization/second-name"
    with pytest.raises(StateError) as caught:
        store.adopt_many(batch, holder="tester")
    assert message in caught.value.message and "nothing was adopted" in caught.value.message
    assert list(store.managed()) == [(AUTH, "kept")]
    assert store.meta().serial == serial and store.current_lock() is None


def test_an_object_another_environment_manages_is_refused(url: str) -> None:
    prod = StateStore.open(url, workspace="adopt-many", namespace="prod")
    staging = StateStore.open(url, workspace="adopt-many", namespace="staging")
    try:
        prod.adopt(ManagedObject(AUTH, "fb", "live-fb", {}, NOW, {}), holder="tester")
        with pytest.raises(StateError) as caught:
            staging.adopt_many([*_objects(2), ManagedObject(AUTH, "fb-too", "live-fb", {}, NOW, {})],
                               holder="tester")
        assert "live-fb is already managed as Authorization/fb in namespace 'prod'" in caught.value.message
        assert staging.managed() == {}
    finally:
        prod.close()
        staging.close()


def test_importing_again_under_the_same_name_and_id_records_more(store: StateStore) -> None:
    [first] = _objects(1)
    store.adopt_many([first], holder="tester")
    more = ManagedObject(AUTH, first.name, first.live_id, {**first.fingerprints, "credentials.token": "fpt"}, NOW,
                         first.applied)
    store.adopt_many([more], holder="tester")
    assert store.managed()[(AUTH, first.name)].fingerprints == {"config.x": "fp0", "credentials.token": "fpt"}
