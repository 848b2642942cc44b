"""OAuth for authctl: endpoints, OAuth apps, token sets (issue 13).

- :mod:`reconciler.oauth.endpoints`: where a provider's OAuth and API calls go (the
  catalog's public endpoints, or the workspace's ``provider_overrides``).
- :mod:`reconciler.oauth.clients`: the OAuth app of a provider (``oauth_clients``), its
  secret read from a reference, with errors that say exactly what to add.
- :mod:`reconciler.oauth.tokens`: a grant's tokens as stored credentials, never printable.
"""
