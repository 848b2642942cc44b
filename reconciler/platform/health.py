"""An authorization's health: recorded by a check, set by hand, or restored by re-authorization.

Each of these is a request to the provider (a check, or the token exchange of a
re-authorization), so each is counted in the authorization's request counters, in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from reconciler.clock import as_utc, as_utc_or_none, utc_now
from reconciler.errors import ConflictError
from reconciler.platform import schema as t
from reconciler.platform.counters import record_request
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
                  token_expires_at: datetime | None = None) -> AuthRecord:
    """Store the outcome of a health check; granted scopes and token expiry change only when given."""
    status = require_health(status)
    values: dict[str, Any] = {}
    if scopes is not None:
        values["scopes"] = " ".join(scopes)
    if token_expires_at is not None:
        values["token_expires_at"] = as_utc(token_expires_at)
    return _write(conn, auth_row(conn, auth_id, lock=True), status, reason, checked_at, values)


def reauthorize(conn: Connection, sealer: Sealer, auth_id: str, *, credentials: Mapping[str, str],
                token_expires_at: datetime | None, scopes: tuple[str, ...]) -> AuthRecord:
    """New credentials in place (same id, so jobs keep working): healthy, with the new grant's expiry and scopes."""
    current = auth_row(conn, auth_id, lock=True)
    stored = sealer.open(current["secret_blob"])
    stored["credentials"] = dict(credentials)
    values = {"secret_blob": sealer.seal(stored), "updated": utc_now(),
              "token_expires_at": as_utc_or_none(token_expires_at), "scopes": " ".join(scopes)}
    return _write(conn, current, Health.HEALTHY, "", None, values)


def _write(conn: Connection, current: dict[str, Any], status: Health, reason: str, checked_at: datetime | None,
           values: dict[str, Any]) -> AuthRecord:
    checked = as_utc(checked_at) if checked_at is not None else utc_now()
    values.update(health=status.value, health_reason=reason or "", health_checked_at=checked)
    conn.execute(update(t.authorizations).where(t.authorizations.c.id == current["id"]).values(**values))
    record_request(conn, current["id"], at=checked)
    return auth_record({**current, **values})
