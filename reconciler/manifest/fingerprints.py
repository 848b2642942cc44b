"""Fingerprints of what the manifests ask for, computed with the state's HMAC key.

Config values and credentials are write-only on the platforms, so the only way to know
whether they changed since the last apply is to compare keyed fingerprints with the
ones state recorded. Secrets that are not available (PR CI has none) are reported as
"not compared" with the reason, never guessed.

Computing a fingerprint reads the secret, so this is also where a secret whose content
breaks the catalog's rule (a Google service-account key that is not JSON, or lacks
``private_key``) is found: every such secret is reported at once as a
:class:`ManifestError` naming the file and line of the credential, never its value, and
plan and apply stop before anything changes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import Diagnostic, ManifestError, SecretError
from reconciler.manifest.model import DesiredAuthorization, DesiredState
from reconciler.manifest.secrets import fingerprint


@dataclass(frozen=True)
class SecretStatus:
    """One credential: its fingerprint, or why it could not be computed."""

    reference: str  # "FB_TOKEN" or "file secrets/sa.json"
    fingerprint: str | None = None
    unavailable: str = ""  # "FB_TOKEN is not set"


@dataclass(frozen=True)
class AuthFingerprints:
    config: dict[str, str] = field(default_factory=dict)  # "config.<field>" -> fingerprint
    credentials: dict[str, SecretStatus] = field(default_factory=dict)  # field -> status

    def recorded(self) -> dict[str, str]:
        """What state stores after an apply: every fingerprint that could be computed."""
        values = dict(self.config)
        for name, status in self.credentials.items():
            if status.fingerprint:
                values[f"credentials.{name}"] = status.fingerprint
        return values


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


SECRET_CONTENT = "secret-content"  # the rule id of a secret whose content breaks the catalog's rule


def fingerprint_authorization(auth: DesiredAuthorization, key: bytes, root: Path,
                              environ: Mapping[str, str] | None = None,
                              problems: list[Diagnostic] | None = None) -> AuthFingerprints:
    """The fingerprints of ``auth``; content problems go to ``problems``, or are raised when it is None."""
    environ = os.environ if environ is None else environ
    config = {f"config.{k}": fingerprint(key, canonical(v)) for k, v in sorted(auth.config.items())}
    credentials: dict[str, SecretStatus] = {}
    found: list[Diagnostic] = [] if problems is None else problems
    for name, ref in sorted(auth.credentials.items()):
        if ref.is_available(root, environ):
            try:
                value = ref.resolve(root, environ, check_content=False)
            except SecretError as exc:  # unreadable file, refused path, not UTF-8: say why, never raise
                credentials[name] = SecretStatus(ref.describe(), None, exc.message)
                continue
            problem = ref.content_problem(value)
            if problem:
                found.append(Diagnostic(auth.source.file, auth.source.line, auth.address,
                                        f"spec.credentials.{name}", problem, rule=SECRET_CONTENT, where=ref.where))
            credentials[name] = SecretStatus(ref.describe(), fingerprint(key, value))
        else:
            credentials[name] = SecretStatus(ref.describe(), None, ref.unavailable_reason())
    if problems is None and found:
        raise ManifestError(found)
    return AuthFingerprints(config, credentials)


def fingerprint_desired(desired: DesiredState, key: bytes, root: Path,
                        environ: Mapping[str, str] | None = None) -> dict[str, AuthFingerprints]:
    """Every authorization's fingerprints; raises ManifestError naming every secret whose content is wrong."""
    problems: list[Diagnostic] = []
    result = {name: fingerprint_authorization(auth, key, root, environ, problems)
              for name, auth in desired.authorizations.items()}
    if problems:
        raise ManifestError(problems)
    return result
