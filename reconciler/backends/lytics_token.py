"""The Lytics API token, read from the workspace's settings (``backend.token``) when the backend opens.

``backend.token`` is ``{env: NAME}`` or ``{file: PATH}`` (searched in the workspace's secret
folders); without it, ``{env: LYTICS_API_TOKEN}`` (or ``backend.token_env``). It is read at
open time so that a missing, empty or unusable token is one SecretError naming the setting
(``environments.<env>.backend.token`` when the environment has its own backend) and the
variable or file, before any request. A token with characters an HTTP header cannot carry
is refused here too, without showing it: it could only fail later, inside the HTTP library,
with an error that names neither the setting nor the fix. The value stays a ``Secret``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.backends.http_client import Secret
from reconciler.errors import SecretError

if TYPE_CHECKING:
    from reconciler.workspace import Workspace


def resolve_token(workspace: Workspace, prefix: str) -> Secret:
    """The token of ``workspace.backend``; errors name ``prefix`` (``backend`` or ``environments.<env>.backend``)."""
    from reconciler.manifest.secrets import SecretValue, read_setting_secret

    settings = workspace.backend
    reference = settings.token_reference
    if settings.token is not None:
        setting = f"{prefix}.token"
    elif "token_env" in settings.model_fields_set:
        setting = f"{prefix}.token_env"
    else:
        setting = f"{prefix}.token (default {{env: {settings.token_env}}})"
    setting = f"{workspace.settings_path.name}: {setting}"
    token = read_setting_secret(workspace, reference, setting, "the Lytics API token")
    if any(ord(c) < 32 or ord(c) > 126 for c in token):
        raise SecretError(f"{setting}: the {reference.describe()} holds characters an HTTP header cannot carry "
                          "(not shown); it must hold only the Lytics API token")
    return SecretValue(token)


__all__ = ["resolve_token"]
