"""Fingerprints of what the manifests ask for, computed with the state's HMAC key.

Config values and credentials are write-only on the platforms, so the only way to know
whether they changed since the last apply is to compare keyed fingerprints with the
ones state recorded. Secrets that are not available (PR CI has none) are reported as
"not compared" with the reason, never guessed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import SecretError
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


def fingerprint_authorization(auth: DesiredAuthorization, key: bytes, root: Path,
                              environ: Mapping[str, str] | None = None) -> AuthFingerprints:
    environ = os.environ if environ is None else environ
    config = {f"config.{k}": fingerprint(key, canonical(v)) for k, v in sorted(auth.config.items())}
    credentials: dict[str, SecretStatus] = {}
    for name, ref in sorted(auth.credentials.items()):
        if ref.is_available(root, environ):
            try:
                value = ref.resolve(root, environ)
            except SecretError as exc:  # unreadable file, refused path, not UTF-8: say why, never raise
                credentials[name] = SecretStatus(ref.describe(), None, exc.message)
                continue
            credentials[name] = SecretStatus(ref.describe(), fingerprint(key, value))
        else:
            credentials[name] = SecretStatus(ref.describe(), None, ref.unavailable_reason())
    return AuthFingerprints(config, credentials)


def fingerprint_desired(desired: DesiredState, key: bytes, root: Path,
                        environ: Mapping[str, str] | None = None) -> dict[str, AuthFingerprints]:
    return {name: fingerprint_authorization(auth, key, root, environ)
            for name, auth in desired.authorizations.items()}
