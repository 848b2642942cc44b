"""Creation markers: the platform keeps the marker a creator gives, finds objects by it, and keeps it unique.

Crash recovery adopts only objects that bear its own marker (DESIGN.md section 4), so a
marker must name one object for good. Every test runs on SQLite and, when
``AUTHCTL_TEST_PG_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from reconciler.errors import ConflictError
from reconciler.platform import Platform, open_platform
from reconciler.vocabulary import JobStatus


def _marker() -> str:
    return f"authctl:{uuid.uuid4().hex}"


def _auth(p: Platform, label: str, marker: str | None = None):  # type: ignore[no-untyped-def]
    return p.create_authorization(provider="facebook", method="system_user", label=label,
                                  credentials={"access_token": "t"}, marker=marker)


def _selects(p: Platform, call: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """``call()``'s result and the statements it ran, BEGIN/COMMIT left out."""
    seen: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append((statement, parameters))

    event.listen(p._db.engine, "before_cursor_execute", listener)
    try:
        return call(), seen
    finally:
        event.remove(p._db.engine, "before_cursor_execute", listener)


def test_authorization_keeps_its_marker_and_is_found_by_it(p: Platform) -> None:
    marker = _marker()
    auth = _auth(p, "Facebook Ads (prod)", marker)
    plain = _auth(p, "No marker")
    assert (auth.marker, plain.marker) == (marker, None)
    found, statements = _selects(p, lambda: p.find_authorization_by_marker(marker))
    assert found == auth == p.get_authorization(auth.id)
    assert len(statements) == 1
    assert p.find_authorization_by_marker(_marker()) is None
    assert {a.id: a.marker for a in p.list_authorizations()} == {auth.id: marker, plain.id: None}
    assert {a.id: a.marker for a in p.snapshot().authorizations} == {auth.id: marker, plain.id: None}
    # Edits and health changes keep the marker.
    assert p.update_authorization(auth.id, label="Renamed").marker == marker
    assert p.set_health(auth.id, "healthy").marker == marker


def test_job_keeps_its_marker_and_is_found_by_it_with_its_bindings(p: Platform) -> None:
    first, second = _auth(p, "A"), _auth(p, "B")
    marker = _marker()
    job = p.create_job(name="sync", workflow="w", auth_ids=[second.id, first.id], marker=marker,
                       config={"segment_ids": ["vip"]})
    assert job.marker == marker
    found, statements = _selects(p, lambda: p.find_job_by_marker(marker))
    assert found == job == p.get_job(job.id)
    assert found is not None and found.auth_ids == (second.id, first.id) and found.status is JobStatus.RUNNABLE
    assert len(statements) == 1
    assert [j.marker for j in p.snapshot().jobs] == [marker]
    assert p.find_job_by_marker(_marker()) is None
    # A job whose authorizations were all deleted is still found, with no bindings.
    p.delete_authorization(first.id, mode="cascade")
    p.delete_authorization(second.id, mode="cascade")
    orphan = p.find_job_by_marker(marker)
    assert orphan is not None and orphan.auth_ids == () and orphan.status is JobStatus.KILLED


def test_deleted_job_is_not_found_but_keeps_its_marker(p: Platform) -> None:
    auth = _auth(p, "A")
    marker = _marker()
    job = p.create_job(name="sync", workflow="w", auth_ids=[auth.id], marker=marker)
    p.delete_job(job.id)
    assert p.find_job_by_marker(marker) is None
    with pytest.raises(ConflictError, match=f"creation marker '{marker}' is already used by job {job.id}"):
        p.create_job(name="again", workflow="w", auth_ids=[auth.id], marker=marker)
    assert [j.id for j in p.snapshot(include_deleted=True).jobs] == [job.id]


def test_a_marker_names_one_object(p: Platform) -> None:
    marker = _marker()
    auth = _auth(p, "First", marker)
    with pytest.raises(ConflictError) as caught:
        _auth(p, "Second", marker)
    assert str(caught.value) == f"creation marker {marker!r} is already used by authorization {auth.id}"
    assert [a.label for a in p.list_authorizations()] == ["First"]  # nothing was created
    job_marker = _marker()
    job = p.create_job(name="j", workflow="w", auth_ids=[auth.id], marker=job_marker)
    with pytest.raises(ConflictError, match=f"already used by job {job.id}"):
        p.create_job(name="k", workflow="w", auth_ids=[auth.id], marker=job_marker)
    assert [j.name for j in p.snapshot().jobs] == ["j"]
    # Objects without a marker are not limited: NULL is never a duplicate.
    for i in range(3):
        p.create_job(name=f"plain-{i}", workflow="w", auth_ids=[_auth(p, f"Plain {i}").id])
    assert sum(j.marker is None for j in p.snapshot().jobs) == 3


def test_a_label_clash_is_reported_before_a_marker_clash(p: Platform) -> None:
    marker = _marker()
    auth = _auth(p, "Taken", marker)
    with pytest.raises(ConflictError, match=f"label 'TAKEN' is already used by authorization {auth.id}"):
        _auth(p, "TAKEN", marker)


@pytest.mark.parametrize("bad", ["", "x" * 65])
def test_malformed_marker_is_refused(p: Platform, bad: str) -> None:
    with pytest.raises(ConflictError, match="creation marker is a string of 1 to 64 characters"):
        _auth(p, "A", bad)
    auth = _auth(p, "B", "x" * 64)
    with pytest.raises(ConflictError, match="1 to 64 characters"):
        p.create_job(name="j", workflow="w", auth_ids=[auth.id], marker=bad)
    assert p.snapshot(include_deleted=True).jobs == [] and len(p.list_authorizations()) == 1


def test_marker_lookups_use_the_unique_indexes(tmp_path: Path) -> None:
    db = tmp_path / "platform.db"
    p = open_platform(f"sqlite:///{db}")
    try:
        auth = _auth(p, "A", "m-auth")
        p.create_job(name="j", workflow="w", auth_ids=[auth.id], marker="m-job")
        _, auth_statements = _selects(p, lambda: p.find_authorization_by_marker("m-auth"))
        _, job_statements = _selects(p, lambda: p.find_job_by_marker("m-job"))
    finally:
        p.close()
    with sqlite3.connect(db) as conn:
        for (statement, parameters), index in ((auth_statements[0], "ux_authorizations_marker"),
                                               (job_statements[0], "ux_jobs_marker")):
            plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert f"USING INDEX {index}" in plan, plan
        indexes = {row[0]: row[1] for row in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")}
    assert "UNIQUE" in indexes["ux_authorizations_marker"] and "UNIQUE" in indexes["ux_jobs_marker"]
