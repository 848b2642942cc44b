"""Request counters per authorization: hourly buckets, summed over the last hour, day, week and month."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reconciler.clock import as_utc
from reconciler.platform import schema as t
from reconciler.platform.records import RequestCounts

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7),
           "month": timedelta(days=30)}

_c = t.request_counts.c
_BUCKET = (_c.auth_id == bindparam("key_auth")) & (_c.hour == bindparam("key_hour"))
_ADD = update(t.request_counts).where(_BUCKET).values(count=_c.count + bindparam("add"))
_NEW_BUCKET = insert(t.request_counts)


def record_request(conn: Connection, auth_id: str, count: int = 1, at: datetime | None = None) -> None:
    """Add ``count`` requests to the hour bucket of ``at`` (default: now)."""
    hour = as_utc(at or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    key = {"key_auth": auth_id, "key_hour": hour, "add": count}
    if conn.execute(_ADD, key).rowcount:
        return
    try:
        with conn.begin_nested():  # a savepoint: a lost race undoes only this insert
            conn.execute(_NEW_BUCKET, {"auth_id": auth_id, "hour": hour, "count": count})
    except IntegrityError:  # PostgreSQL: a concurrent first request of this hour committed; add to it
        conn.execute(_ADD, key)


def add_requests(conn: Connection, counts: Mapping[tuple[str, datetime], int]) -> None:
    """Add many ``(auth_id, hour start) -> count`` at once: one UPDATE and one INSERT (executemany).

    Buckets that exist are added to; the others are created. A concurrent first request of
    an hour (PostgreSQL) makes the insert fail as a whole: those are then added one by one.
    """
    if not counts:
        return
    keys = list(counts)
    existing: set[tuple[str, datetime]] = set()
    for begin in range(0, len(keys), 500):
        chunk = keys[begin:begin + 500]
        rows = conn.execute(select(_c.auth_id, _c.hour).where(and_(
            _c.auth_id.in_({k[0] for k in chunk}), _c.hour.in_({k[1] for k in chunk}))))
        existing.update((auth_id, as_utc(hour)) for auth_id, hour in rows)
    old = [{"key_auth": k[0], "key_hour": k[1], "add": n} for k, n in counts.items() if (k[0], as_utc(k[1])) in existing]
    new = [{"auth_id": k[0], "hour": k[1], "count": n} for k, n in counts.items() if (k[0], as_utc(k[1])) not in existing]
    if old:
        conn.execute(_ADD, old)
    if not new:
        return
    try:
        with conn.begin_nested():
            conn.execute(_NEW_BUCKET, new)
    except IntegrityError:
        for row in new:
            record_request(conn, row["auth_id"], row["count"], row["hour"])


def request_counts(conn: Connection, auth_id: str, now: datetime) -> RequestCounts:
    """Requests in each window ending at ``now`` (whole hour buckets; none after ``now``), in one query."""
    now = as_utc(now)
    since = {name: (now - span).replace(minute=0, second=0, microsecond=0) for name, span in WINDOWS.items()}
    sums = [func.coalesce(func.sum(case((_c.hour >= since[name], _c.count), else_=0)), 0) for name in WINDOWS]
    row = conn.execute(select(*sums).where(and_(
        _c.auth_id == auth_id, _c.hour >= min(since.values()), _c.hour <= now))).one()
    return RequestCounts(*(int(total) for total in row))


def hourly_series(conn: Connection, auth_id: str, now: datetime) -> list[tuple[datetime, int]]:
    """(hour, count) of every hour bucket in the month window ending at ``now``, oldest first (sparse)."""
    now = as_utc(now)
    since = (now - WINDOWS["month"]).replace(minute=0, second=0, microsecond=0)
    rows = conn.execute(select(_c.hour, _c.count).where(and_(_c.auth_id == auth_id, _c.hour >= since,
                                                             _c.hour <= now)).order_by(_c.hour))
    return [(as_utc(hour), int(count)) for hour, count in rows if count]


def forget_requests(conn: Connection, auth_id: str) -> None:
    conn.execute(delete(t.request_counts).where(_c.auth_id == auth_id))
