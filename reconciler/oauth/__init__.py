"""OAuth for authctl: endpoints, OAuth apps, token sets (issue 13).

- :mod:`reconciler.oauth.endpoints`: where a provider's OAuth and API calls go (the
  catalog's public endpoints, or the workspace's ``provider_overrides``).
- :mod:`reconciler.oauth.clients`: the OAuth app of a provider (``oauth_clients``), its
  secret read from a reference, with errors that say exactly what to add.
- :mod:`reconciler.oauth.tokens`: a grant's tokens as stored credentials, never printable.
- :mod:`reconciler.oauth.loopback`: the one-shot redirect listener on 127.0.0.1 (RFC 8252).
- :mod:`reconciler.oauth.flow`: the browser step of ``authctl login`` / ``reauth`` on authlib
  (authorization code + PKCE S256, or OAuth 1.0a), returning a token set.
- :mod:`reconciler.oauth.worker`: health checks, refreshes and revocations where the
  credentials are (the embedded platform in process, the served platform server-side),
  built from :mod:`.check_request` (the catalog's check request), :mod:`.classify` (an
  answer as Healthy / Unhealthy / Unknown), :mod:`.health` (one check), :mod:`.refresh`,
  :mod:`.revoke` and :mod:`.session_client` (authlib on one shared httpx2 client).
"""
