"""UTC, one way: every timestamp authctl stores, compares or shows is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, aware UTC, to the second (what the databases keep and people read)."""
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC.

    SQLite returns naive datetimes (UTC wall time without an offset); PostgreSQL returns
    them in the session's zone. Values going in are converted too: SQLite would
    otherwise store another zone's wall time as if it were UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def utc_from_sqlite_text(text: str | None) -> datetime | None:
    """A SQLite DATETIME as SQLAlchemy stores it (naive UTC wall time, as text) -> aware UTC.

    The same value as ``as_utc(datetime.fromisoformat(text))`` without the slow
    ``replace(tzinfo=...)`` per value: snapshots and state reads parse 60,000 of them.
    """
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text + "+00:00")
    except ValueError:  # not naive text after all: take the long way
        return as_utc(datetime.fromisoformat(text))
