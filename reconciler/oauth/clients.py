"""The OAuth app authctl uses for a provider: ``oauth_clients.PROVIDER`` in ``authctl.yaml``.

The client secret is a reference (``{env: NAME}`` or ``{file: PATH}``, files under the
workspace or a ``secret_dirs`` folder), read when a flow starts and kept as a ``Secret``.
A workspace without an entry gets an error that shows the exact lines to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import OAuthError
from reconciler.manifest.secrets import SecretValue, read_setting_secret
from reconciler.workspace import Workspace


@dataclass(frozen=True)
class OAuthApp:
    """An OAuth client: its id, and its secret (None for a public client that relies on PKCE alone)."""

    provider: str
    client_id: str
    client_secret: SecretValue | None = field(default=None, repr=False)


def missing_app_message(provider: str) -> str:
    upper = provider.upper().replace("-", "_")
    return (f"no OAuth app for {provider}: add it to authctl.yaml:\n"
            f"  oauth_clients:\n"
            f"    {provider}:\n"
            f"      client_id: YOUR_CLIENT_ID\n"
            f"      client_secret: {{env: {upper}_CLIENT_SECRET}}")


def oauth_app(workspace: Workspace, provider: str) -> OAuthApp:
    """The provider's OAuth app with its secret read, or OAuthError / SecretError saying what to fix."""
    settings = workspace.settings.oauth_clients.get(provider)
    if settings is None:
        raise OAuthError(missing_app_message(provider))
    reference = settings.client_secret
    if reference is None:
        return OAuthApp(provider, settings.client_id)
    setting = f"{workspace.settings_path.name}: oauth_clients.{provider}.client_secret"
    secret = read_setting_secret(workspace, reference, setting, "the OAuth client secret")
    return OAuthApp(provider, settings.client_id, SecretValue(secret))
