"""A real OAuth 2 authorization server for tests and the demo, built from authlib's Flask components.

It stands in for the ad platforms' OAuth servers (Facebook, Pinterest, Snapchat, TikTok, ...):
authorization code + mandatory PKCE S256, refresh-token rotation, RFC 7009 revocation, and
provider-shaped "who am I" endpoints that report the granted scopes. Everything is in memory
in one process; ``python -m oauth_provider`` (with ``PYTHONPATH=tests``) serves it on loopback.
"""

from oauth_provider.app import create_app
from oauth_provider.config import ProviderConfig

__all__ = ["ProviderConfig", "create_app"]
