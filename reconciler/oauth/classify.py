"""A provider's answer to a health check, as Healthy / Unhealthy / Unknown with a reason. Pure.

The reasons come from a small fixed vocabulary (``expired``, ``revoked``, ``invalid
credentials``, ``missing scope X``, ``provider unreachable``) plus HTTP status numbers and
the catalog's scope names: a provider's own text is only searched for words, never
quoted, so nothing a provider echoes (a token in an error description) can reach a reason.

How an answer reads:

- 2xx: healthy, unless the body says otherwise: Facebook's ``debug_token`` answers 200 with
  ``{"data": {"is_valid": false}}``; TikTok answers 200 with a non-zero ``code`` (its 401xx
  codes are authentication errors). Granted scopes come from the body (``scopes``,
  ``data.scopes`` or ``scope``) when it has them, else from the grant recorded at login;
  a required scope (the catalog's ``oauth.scopes``) missing from them is Unhealthy
  ``missing scope X``.
- 401/403, an ``invalid_token`` error (RFC 6750, in the body or ``WWW-Authenticate``) or
  Facebook's error code 190: Unhealthy, ``expired`` (the recorded expiry has passed or the
  provider says expired), ``revoked`` (it says revoked, or the user removed the app) or
  ``invalid credentials``; ``insufficient_scope`` names the missing scope when it can.
- 429, other 4xx: Unknown (the answer says nothing about the credential); 5xx: Unknown
  ``provider unreachable``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.oauth.tokens import missing_scopes, parse_scopes
from reconciler.vocabulary import Health

EXPIRED = "expired"
REVOKED = "revoked"
INVALID = "invalid credentials"
UNREACHABLE = "provider unreachable"
_FB_EXPIRED_SUBCODE = 463
_FB_REVOKED_SUBCODES = frozenset({458, 460})  # app removed by the user; password changed (sessions revoked)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: status, reason, and what the answer taught about the grant."""

    status: Health
    reason: str = ""
    scopes_missing: tuple[str, ...] = ()
    granted: tuple[str, ...] | None = None  # scopes the answer reported (None: it said nothing)
    expires_at: datetime | None = None  # token expiry the answer reported


def unknown(reason: str) -> Verdict:
    return Verdict(Health.UNKNOWN, reason)


def unreachable(detail: str) -> Verdict:
    """Unknown ``provider unreachable (detail)``: a connection error, a timeout, a 5xx."""
    return Verdict(Health.UNKNOWN, f"{UNREACHABLE} ({detail})")


def _body(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (ValueError, RecursionError):
        return None


def _text(value: Any) -> str:
    return value.casefold() if isinstance(value, str) else ""


def _www_authenticate(header: str) -> dict[str, str]:
    """``error``, ``error_description`` and ``scope`` of a ``WWW-Authenticate: Bearer ...`` header."""
    found: dict[str, str] = {}
    for part in header.replace("Bearer ", "", 1).split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            found[key.strip().casefold()] = value.strip().strip('"')
    return found


def _expired_by_clock(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _broken(words: str, expires_at: datetime | None, now: datetime) -> str:
    """``expired``, ``revoked`` or ``invalid credentials`` from a refusal's words and the recorded expiry.

    The clock decides first. Generic texts name every cause at once (authlib's resource
    servers say "expired, revoked, malformed, or invalid"): a token our clock says is still
    valid and that the provider calls revoked is read as revoked.
    """
    if _expired_by_clock(expires_at, now):
        return EXPIRED
    if "revoke" in words:
        return REVOKED
    if "expired" in words:
        return EXPIRED
    return INVALID


def _granted(body: Any, separator: str) -> tuple[str, ...] | None:
    """Scopes an answer reports: ``scopes`` (list or string), ``data.scopes``, or ``scope``."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    for holder in (body, data if isinstance(data, dict) else {}):
        for key in ("scopes", "scope"):
            if key in holder and isinstance(holder[key], (str, list, tuple)):
                return parse_scopes(holder[key], separator)
    return None


def _reported_expiry(body: Any, now: datetime) -> datetime | None:
    """``expires_at`` (epoch seconds; Facebook's 0 means never) or ``expires_in`` (Google's tokeninfo)."""
    if not isinstance(body, dict):
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    try:
        if isinstance(data.get("expires_at"), (int, float)) and data["expires_at"] > 0:
            return datetime.fromtimestamp(float(data["expires_at"]), UTC)
        if isinstance(body.get("expires_in"), (int, float, str)) and str(body["expires_in"]).isdigit():
            return now + timedelta(seconds=int(body["expires_in"]))
    except (OverflowError, OSError, ValueError):
        return None
    return None


def _facebook_error(body: Any) -> dict[str, Any] | None:
    """Graph API's ``{"error": {"code": 190, ...}}`` (or ``data.error`` of debug_token)."""
    if not isinstance(body, dict):
        return None
    for holder in (body, body.get("data") if isinstance(body.get("data"), dict) else {}):
        error = holder.get("error")
        if isinstance(error, dict) and error.get("code") is not None:
            return error
    return None


def _refusal(body: Any, status_code: int, headers: dict[str, str], expires_at: datetime | None,
             now: datetime) -> Verdict | None:
    """Unhealthy when the answer refuses the credential; None when it does not say so."""
    challenge = _www_authenticate(headers.get("www-authenticate", ""))
    error = _text(body.get("error")) if isinstance(body, dict) else ""
    error = error or _text(challenge.get("error"))
    if error == "insufficient_scope":
        scope = parse_scopes(challenge.get("scope") or (body.get("scope") if isinstance(body, dict) else None))
        return Verdict(Health.UNHEALTHY, f"missing scope {', '.join(scope)}" if scope else "missing scope",
                       scopes_missing=scope)
    words = " ".join(_text(v) for v in (
        error, challenge.get("error_description"),
        body.get("error_description") if isinstance(body, dict) else None,
        body.get("message") if isinstance(body, dict) else None))
    fb = _facebook_error(body)
    if fb is not None and fb.get("code") in (190, 102):
        subcode = fb.get("error_subcode")
        words += " " + _text(fb.get("message"))
        if subcode == _FB_EXPIRED_SUBCODE:
            return Verdict(Health.UNHEALTHY, EXPIRED)
        if subcode in _FB_REVOKED_SUBCODES:
            return Verdict(Health.UNHEALTHY, REVOKED)
        return Verdict(Health.UNHEALTHY, _broken(words, expires_at, now))
    if status_code in (401, 403) or error in ("invalid_token", "invalid_grant"):
        return Verdict(Health.UNHEALTHY, _broken(words, expires_at, now))
    return None


def _body_says_broken(body: Any, expires_at: datetime | None, now: datetime) -> Verdict | None:
    """A 200 that is a refusal: debug_token's ``is_valid: false``; TikTok's 401xx ``code``."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, dict) and data.get("is_valid") is False:
        fb = _facebook_error(body)
        words = _text(fb.get("message")) if fb else ""
        subcode = fb.get("error_subcode") if fb else None
        reported = _reported_expiry(body, now)
        if subcode == _FB_EXPIRED_SUBCODE or _expired_by_clock(reported, now):
            return Verdict(Health.UNHEALTHY, EXPIRED)
        if subcode in _FB_REVOKED_SUBCODES:
            return Verdict(Health.UNHEALTHY, REVOKED)
        return Verdict(Health.UNHEALTHY, _broken(words, expires_at, now))
    code = body.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 40100 <= code < 40200:
        return Verdict(Health.UNHEALTHY, _broken(_text(body.get("message")), expires_at, now))
    return None


def classify(status_code: int, headers: dict[str, str], content: bytes, *, required_scopes: tuple[str, ...],
             recorded_scopes: tuple[str, ...], expires_at: datetime | None, now: datetime,
             scope_separator: str = " ") -> Verdict:
    """The verdict on one check answer (``headers`` with lower-case names). See the module docstring."""
    body = _body(content)
    if status_code >= 500:
        return unreachable(f"HTTP {status_code}")
    if status_code == 429:
        return unknown("the provider rate-limited the check (HTTP 429); try again later")
    if status_code >= 400 or (isinstance(body, dict) and "error" in body and not 200 <= status_code < 300):
        refused = _refusal(body, status_code, headers, expires_at, now)
        return refused or unknown(f"the provider answered the check with HTTP {status_code}")
    if not 200 <= status_code < 300:
        return unknown(f"the provider answered the check with HTTP {status_code}")
    broken = _body_says_broken(body, expires_at, now)
    if broken is not None:
        return broken
    reported = _granted(body, scope_separator)
    granted = reported if reported is not None else recorded_scopes
    expiry = _reported_expiry(body, now)
    missing = missing_scopes(required_scopes, granted) if (reported is not None or recorded_scopes) else ()
    if missing:
        return Verdict(Health.UNHEALTHY, f"missing scope {', '.join(missing)}", missing, reported, expiry)
    return Verdict(Health.HEALTHY, "", (), reported, expiry)


__all__ = ["EXPIRED", "INVALID", "REVOKED", "UNREACHABLE", "Verdict", "classify", "unknown", "unreachable"]
