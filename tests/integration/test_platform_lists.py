"""Platform.list_jobs / list_experiences: one collection with the snapshot's own SQL and row code.

The served platform answers `GET /v2/job` and `GET /v2/_authctl/experience` with them, so
a list must hold exactly what the snapshot holds (deleted jobs only when asked), and must
not read the other collections (``read_snapshot(parts=...)`` counts its queries).
"""

from __future__ import annotations

from reconciler.platform import Platform
from reconciler.platform.snapshot import read_snapshot, timestamp_reader


def _world(p: Platform) -> tuple[str, str, str]:
    auth = p.create_authorization(provider="pinterest", method="capi_token", label="Pins",
                                  config={"account_id": "549755885175"}, credentials={"token": "t"})
    kept = p.create_job(name="kept", workflow="pinterest-capi-export", auth_ids=[auth.id], config={"a": [1]})
    gone = p.create_job(name="gone", workflow="pinterest-capi-export", auth_ids=[auth.id])
    p.delete_job(gone.id)
    p.create_experience(name="Lookalikes", auth_ids=[auth.id])
    return auth.id, kept.id, gone.id


def test_lists_hold_what_the_snapshot_holds(p: Platform) -> None:
    auth_id, kept, gone = _world(p)
    assert p.list_jobs() == p.snapshot().jobs and [j.id for j in p.list_jobs()] == [kept]
    assert {j.id for j in p.list_jobs(include_deleted=True)} == {kept, gone}
    assert p.list_jobs(include_deleted=True) == p.snapshot(include_deleted=True).jobs
    [experience] = p.list_experiences()
    assert experience == p.snapshot().experiences[0] and experience.auth_ids == (auth_id,)


def test_a_part_costs_only_its_own_queries(p: Platform) -> None:
    _world(p)
    with p._db.read() as conn:  # the store's own connection, as list_jobs uses it
        ts = timestamp_reader(conn.dialect.name)
        seen: list[str] = []

        def fetch(sql: str) -> list[tuple[object, ...]]:
            seen.append(sql)
            return list(conn.exec_driver_sql(sql))

        jobs_only = read_snapshot(fetch, ts, parts=("jobs",))
        assert (jobs_only.queries, len(seen), jobs_only.authorizations, jobs_only.experiences) == (2, 2, [], [])
        assert all("authorizations" not in sql.split("FROM")[1].split()[0] for sql in seen)
        seen.clear()
        everything = read_snapshot(fetch, ts)
        assert everything.queries == len(seen) == 5
