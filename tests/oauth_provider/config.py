"""The provider's settings: one client, token lifetime, and the knobs tests and benchmarks turn."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CLIENT_ID = "authctl-test"
DEFAULT_SECRET_ENV = "OAUTH_TEST_CLIENT_SECRET"


@dataclass(frozen=True)
class ProviderConfig:
    """Everything ``create_app`` needs; immutable so request threads can share it without a lock.

    ``auto_consent`` skips the consent page (the demo and benchmarks have no user to click);
    ``public_client`` additionally lets the client authenticate with method "none" (PKCE only);
    ``latency_ms`` delays every OAuth/API answer, to make concurrency visible in benchmarks.
    """

    client_secret: str
    client_id: str = DEFAULT_CLIENT_ID
    access_token_seconds: int = 3600
    latency_ms: int = 0
    auto_consent: bool = False
    public_client: bool = False
    user_id: str = "10001"
    user_name: str = "Test User"
    code_seconds: int = 600  # RFC 6749 §4.1.2: codes "MUST expire shortly"; 10 minutes recommended
