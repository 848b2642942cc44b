"""Health: recorded by a real check, set by hand, restored by re-authorization; each one counts as a request.

Tests run on SQLite and, when ``AUTHCTL_TEST_PG_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from reconciler.errors import ConflictError, NotFoundError, PlatformError
from reconciler.platform import Platform
from reconciler.platform import schema as t
from reconciler.vocabulary import Health

PLUS_TWO = timezone(timedelta(hours=2))


def _oauth(p: Platform, label: str = "Google Ads"):  # type: ignore[no-untyped-def]
    return p.create_authorization(provider="google_ads", method="oauth", label=label,
                                  credentials={"refresh_token": "r0"}, scopes=("adwords",),
                                  token_expires_at=datetime(2030, 1, 1, tzinfo=UTC))


def _requests_this_hour(p: Platform, auth_id: str) -> int:
    return p.request_counts(auth_id).hour


def test_record_health_stores_a_check_and_what_it_learned(p: Platform) -> None:
    auth = _oauth(p)
    checked = datetime(2025, 6, 1, 14, 30, 5, tzinfo=PLUS_TWO)
    expires = datetime(2025, 6, 2, 14, 30, tzinfo=PLUS_TWO)
    record = p.record_health(auth.id, status=Health.UNHEALTHY, reason="missing scope adwords.write",
                             checked_at=checked, scopes=("adwords.readonly",), token_expires_at=expires)
    assert record.health is Health.UNHEALTHY
    assert (record.health_reason, record.health_checked_at, record.scopes, record.token_expires_at) == (
        "missing scope adwords.write", checked, ("adwords.readonly",), expires)
    assert record.health_checked_at is not None and record.health_checked_at.tzinfo == UTC
    stored = p.get_authorization(auth.id)
    assert stored == record
    assert (stored.label, stored.updated, stored.created) == (auth.label, auth.updated, auth.created)
    assert p.stored_secrets(auth.id)["credentials"] == {"refresh_token": "r0"}  # a check never touches them
    # The check was a request to the provider, counted in the hour it was made.
    assert p.request_counts(auth.id, now=checked + timedelta(minutes=1)).hour == 1


def test_scopes_and_expiry_change_only_when_given(p: Platform) -> None:
    auth = _oauth(p)
    record = p.record_health(auth.id, status=Health.HEALTHY)
    assert (record.scopes, record.token_expires_at) == (auth.scopes, auth.token_expires_at)
    assert record.health is Health.HEALTHY and record.health_reason == ""
    assert record.health_checked_at is not None
    assert abs(datetime.now(UTC) - record.health_checked_at) < timedelta(minutes=5)
    # An empty grant is a fact too: given, it is stored.
    assert p.record_health(auth.id, status="unhealthy", reason="revoked", scopes=()).scopes == ()
    assert p.get_authorization(auth.id).scopes == ()
    assert p.get_authorization(auth.id).token_expires_at == auth.token_expires_at
    assert _requests_this_hour(p, auth.id) == 2


def test_set_health_by_hand_shares_the_check_path(p: Platform) -> None:
    auth = _oauth(p)
    assert auth.health is Health.UNKNOWN
    record = p.set_health(auth.id, "unhealthy", "token revoked")
    assert record.health is Health.UNHEALTHY and record.health_reason == "token revoked"
    assert p.set_health(auth.id, Health.HEALTHY).health is Health.HEALTHY
    assert p.get_authorization(auth.id).health_reason == ""
    assert (p.get_authorization(auth.id).scopes, p.get_authorization(auth.id).token_expires_at) == (
        auth.scopes, auth.token_expires_at)
    assert _requests_this_hour(p, auth.id) == 2


def test_bad_health_and_unknown_authorization_are_refused(p: Platform) -> None:
    auth = _oauth(p)
    for call in (lambda: p.set_health(auth.id, "great"),
                 lambda: p.record_health(auth.id, status="great", scopes=("x",))):
        with pytest.raises(ConflictError, match="health must be one of healthy, unknown, unhealthy, not 'great'"):
            call()
    with pytest.raises(ConflictError, match="health must be one of"):
        p.set_health("nope", "great")  # the value is judged first
    with pytest.raises(NotFoundError, match="no authorization with id 'nope'"):
        p.record_health("nope", status=Health.HEALTHY)
    assert p.get_authorization(auth.id) == auth
    assert _requests_this_hour(p, auth.id) == 0


def test_reauthorize_restores_health_with_the_new_grant(p: Platform) -> None:
    auth = _oauth(p)
    job = p.create_job(name="sync", workflow="adwords-customer-match", auth_ids=[auth.id])
    p.record_health(auth.id, status=Health.UNHEALTHY, reason="refresh token expired")
    expires = datetime(2031, 2, 3, 4, 5, tzinfo=PLUS_TWO)
    again = p.reauthorize(auth.id, credentials={"refresh_token": "r1"}, token_expires_at=expires,
                          scopes=("adwords", "openid"))
    assert again.id == auth.id and again.health is Health.HEALTHY and again.health_reason == ""
    assert (again.token_expires_at, again.scopes) == (expires, ("adwords", "openid"))
    assert again.updated >= auth.updated and again == p.get_authorization(auth.id)
    assert p.stored_secrets(auth.id) == {"config": {}, "credentials": {"refresh_token": "r1"}}
    assert p.get_job(job.id).auth_ids == (auth.id,)
    # A grant without a known expiry or scopes clears the old ones: they described the old tokens.
    bare = p.reauthorize(auth.id, credentials={"refresh_token": "r2"})
    assert (bare.token_expires_at, bare.scopes) == (None, ())
    assert _requests_this_hour(p, auth.id) == 3  # one check, two token exchanges


def test_unknown_stored_health_is_an_error_not_a_guess(p: Platform) -> None:
    auth = _oauth(p)
    with p._db.write() as conn:
        conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth.id).values(health="great"))
    for read in (lambda: p.get_authorization(auth.id), p.snapshot):
        with pytest.raises(PlatformError, match="unknown health 'great'"):
            read()


def test_requests_counted_at_once_in_a_new_hour_all_count(p: Platform) -> None:
    """Concurrent first requests of an hour: one creates the bucket, the others add to it."""
    auths = [_oauth(p, f"A{i}") for i in range(2)]
    hour = datetime(2025, 1, 1, 10, 15, tzinfo=UTC)
    barrier = threading.Barrier(6)

    def hit(i: int) -> None:
        barrier.wait()
        for n in range(5):
            p.record_request(auths[i % 2].id, 1, at=hour + timedelta(minutes=n))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(hit, range(6)))  # re-raises the first failure, if any
    assert [p.request_counts(a.id, now=hour + timedelta(minutes=30)).hour for a in auths] == [15, 15]
