"""Encryption at rest for stored config and credentials (Fernet: AES-128-CBC + HMAC).

The key comes from ``AUTHCTL_PLATFORM_KEY`` or a key file created once with mode 0600
beside the database (in a folder created 0700; a key file others can read is warned about).
A known value encrypted with the key is kept in the database, so a wrong key is detected
on open, before anything is read or written. A key file that cannot be read or created is
an :class:`EncryptionKeyError` naming it, never a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from reconciler.db import make_private_dirs, warn_if_exposed
from reconciler.errors import EncryptionKeyError

KEY_ENV = "AUTHCTL_PLATFORM_KEY"
KEY_CHECK_PLAINTEXT = b"authctl-platform-key-check-v1"


def load_or_create_key(key_file: Path | None, *, create: bool = True) -> bytes:
    """The platform key: env var first, then the key file (created 0600 if absent and ``create``).

    Readers pass ``create=False``: a missing key file beside an existing database means the
    key was lost, and a new one would only decrypt nothing (plan and status never write).
    """
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        key = from_env.encode()
        _check_format(key, f"${KEY_ENV}")
        return key
    if key_file is None:
        raise EncryptionKeyError(f"no platform key: set {KEY_ENV} (a Fernet key) for this database")
    try:
        exists = key_file.exists()
        if exists:
            warn_if_exposed(key_file)
            key = key_file.read_bytes().strip()
    except OSError as exc:
        raise EncryptionKeyError(f"the platform key file {key_file} cannot be read: {_reason(exc)}; "
                                 f"check its permissions and its folder's, or set {KEY_ENV}") from None
    if not exists and not create:
        raise EncryptionKeyError(f"the platform key file {key_file} is missing, and the database beside it was "
                                 f"encrypted with it; restore the key file or set {KEY_ENV}")
    if not exists:
        try:
            _create_key_file(key_file)
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise EncryptionKeyError(f"the platform key file {key_file} cannot be created: {_reason(exc)}; "
                                     f"check the permissions of {key_file.parent}, or set {KEY_ENV}") from None
    _check_format(key, str(key_file))
    return key


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    return (exc.strerror or type(exc).__name__).lower()


def _create_key_file(key_file: Path) -> None:
    """Write a new key atomically: two processes opening a new database at once must agree.

    The key is written in full to a private temporary file that is then hard-linked into
    place; a link never replaces an existing file, so whoever links first wins and
    everybody else reads that complete key (never a half-written one).
    """
    make_private_dirs(key_file.parent)
    temp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, key_file)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        temp.unlink(missing_ok=True)


def _check_format(key: bytes, where: str) -> None:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise EncryptionKeyError(f"{where} is not a valid Fernet key (32 url-safe base64 bytes)") from None


class Sealer:
    """Encrypts and decrypts JSON documents with the platform key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def __repr__(self) -> str:
        return "Sealer(key=[secure])"

    def seal(self, document: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(document, sort_keys=True).encode())

    def open(self, blob: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise EncryptionKeyError("the platform key does not match the stored data") from None

    def key_check(self) -> str:
        return self._fernet.encrypt(KEY_CHECK_PLAINTEXT).decode()

    def verify(self, token: str, where: str) -> None:
        try:
            ok = self._fernet.decrypt(token.encode()) == KEY_CHECK_PLAINTEXT
        except InvalidToken:
            ok = False
        if not ok:
            raise EncryptionKeyError(
                f"the platform key does not match the data in {where}; nothing was changed. "
                f"Use the key the database was created with ({KEY_ENV} or its .key file)")
