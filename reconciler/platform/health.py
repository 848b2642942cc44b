"""An authorization's health: recorded by a check, set by hand, or restored by re-authorization.

Each of these is a request to the provider (a check, or the token exchange of a
re-authorization), so each is counted in the authorization's request counters, in the
same transaction. A recorded check says how many requests it made (``requests``: a
refused refresh plus the check is two; a method without a check request makes none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from reconciler.clock import as_utc, as_utc_or_none, utc_now
from reconciler.errors import ConflictError
from reconciler.platform import schema as t
from reconciler.platform.counters import add_requests, record_request
from reconciler.platform.crypto import Sealer
from reconciler.platform.records import AuthRecord
from reconciler.platform.rows import auth_record, auth_row
from reconciler.vocabulary import Health


def require_health(status: Health | str) -> Health:
    try:
        return Health(status)
    except ValueError:
        raise ConflictError(f"health must be one of {', '.join(Health)}, not {status!r}") from None


def record_health(conn: Connection, auth_id: str, *, status: Health | str, reason: str = "",
                  checked_at: datetime | None = None, scopes: tuple[str, ...] | None = None,
                  token_expires_at: datetime | None = None, requests: int = 1) -> AuthRecord:
    """Store the outcome of a health check; granted scopes and token expiry change only when given."""
    status = require_health(status)
    values: dict[str, Any] = {}
    if scopes is not None:
        values["scopes"] = " ".join(scopes)
    if token_expires_at is not None:
        values["token_expires_at"] = as_utc(token_expires_at)
    return _write(conn, auth_row(conn, auth_id, lock=True), status, reason, checked_at, values, requests)


def record_health_many(conn: Connection, results: Sequence[Mapping[str, Any]]) -> int:
    """Store many check outcomes (``record_health``'s keywords plus ``auth_id``) in one transaction.

    A run of health checks records a thousand at once: one statement per kind of row
    (executemany), not three per authorization. An authorization deleted since its check
    is skipped (there is nothing to record it on); returns how many were recorded.
    """
    a = t.authorizations.c
    wanted = list(dict.fromkeys(str(r["auth_id"]) for r in results))
    present: set[str] = set()
    for begin in range(0, len(wanted), 500):
        chunk = wanted[begin:begin + 500]
        present.update(conn.execute(select(a.id).where(a.id.in_(chunk)).with_for_update()).scalars())
    groups: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
    requests: dict[tuple[str, datetime], int] = {}
    recorded = 0
    for result in results:
        auth_id = str(result["auth_id"])
        if auth_id not in present:
            continue
        checked = as_utc(result["checked_at"]) if result.get("checked_at") is not None else utc_now()
        row: dict[str, Any] = {"b_id": auth_id, "health": require_health(result["status"]).value,
                               "health_reason": result.get("reason") or "", "health_checked_at": checked}
        scopes, expiry = result.get("scopes"), result.get("token_expires_at")
        if scopes is not None:
            row["scopes"] = " ".join(scopes)
        if expiry is not None:
            row["token_expires_at"] = as_utc(expiry)
        groups.setdefault((scopes is not None, expiry is not None), []).append(row)
        count = int(result.get("requests", 1))
        if count > 0:
            key = (auth_id, checked.replace(minute=0, second=0, microsecond=0))
            requests[key] = requests.get(key, 0) + count
        recorded += 1
    for rows in groups.values():
        columns = [name for name in rows[0] if name != "b_id"]
        statement = update(t.authorizations).where(a.id == bindparam("b_id")).values(
            {name: bindparam(name) for name in columns})
        conn.execute(statement, rows)
    add_requests(conn, requests)
    return recorded


def reauthorize(conn: Connection, sealer: Sealer, auth_id: str, *, credentials: Mapping[str, str],
                token_expires_at: datetime | None, scopes: tuple[str, ...]) -> AuthRecord:
    """New credentials in place (same id, so jobs keep working): healthy, with the new grant's expiry and scopes."""
    current = auth_row(conn, auth_id, lock=True)
    stored = sealer.open(current["secret_blob"])
    stored["credentials"] = dict(credentials)
    values = {"secret_blob": sealer.seal(stored), "updated": utc_now(),
              "token_expires_at": as_utc_or_none(token_expires_at), "scopes": " ".join(scopes)}
    return _write(conn, current, Health.HEALTHY, "", None, values, 1)


def _write(conn: Connection, current: dict[str, Any], status: Health, reason: str, checked_at: datetime | None,
           values: dict[str, Any], requests: int) -> AuthRecord:
    checked = as_utc(checked_at) if checked_at is not None else utc_now()
    values.update(health=status.value, health_reason=reason or "", health_checked_at=checked)
    conn.execute(update(t.authorizations).where(t.authorizations.c.id == current["id"]).values(**values))
    if requests > 0:
        record_request(conn, current["id"], requests, at=checked)
    return auth_record({**current, **values})
