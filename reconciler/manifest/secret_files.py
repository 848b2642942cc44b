"""Where ``{file: PATH}`` credentials may be read from, and how.

A credential's content is uploaded to a platform (and from there used against a host
the manifest may name, e.g. an SFTP server). A manifest comes from a pull request, so a
file reference is an instruction to upload a local file, and must not reach files the
author of the pull request could not read anyway: ``/proc/self/environ`` (the CI's
secrets), ``~/.ssh/id_rsa``, ``.git/config`` (checkouts keep a token there) or authctl's
own state. The rules (:meth:`SecretFileRules.problem`, checked at validation and again
when the file is read):

- The path is relative to the workspace root, or absolute; either way, with ``..``
  resolved and then with every symbolic link resolved, it must lie inside the workspace
  or inside a folder listed under ``secret_dirs`` in authctl.yaml.
- Inside the workspace, ``.authctl/`` (state, platform key) and ``.git/`` are refused.
- It must be a regular file (a FIFO would block, ``/dev/zero`` never ends) of at most
  :data:`MAX_SECRET_FILE_BYTES`, read without following a link in its last component
  (the path read is the resolved one that was checked).
- The path itself must be plausible: at most :data:`MAX_PATH_CHARS` characters, no control
  characters.

A path that breaks a rule is never echoed in the error: it may be a token pasted where a
path belongs. A path that passes is shown in plans ("file secrets/sa.json"): paths are
not secrets. At validation a file that does not exist yet is fine (pull-request CI has
no secrets); only its path is checked.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import SecretError
from reconciler.file_reads import FileRefused, describe_size, kind_of, limit_text, read_regular_file

MAX_SECRET_FILE_BYTES = 256 * 1024
MAX_PATH_CHARS = 1024
_PROTECTED = (".authctl", ".git")  # inside the workspace: authctl's state and the repository's own files

BAD_PATH = (f"not a usable path (empty, longer than {MAX_PATH_CHARS} characters, or holding control "
            "characters); it is not shown in case it is a secret")
OUTSIDE = ("must be inside the workspace or under a folder listed in secret_dirs in authctl.yaml; "
           "the path (not shown in case it is a secret) leads elsewhere")
THROUGH_LINK = ("leads outside the workspace and secret_dirs through a symbolic link; list the target "
                "folder in secret_dirs in authctl.yaml to allow it")
PROTECTED = ("is inside .authctl or .git, which hold authctl's state and the repository's credentials; "
             "secret files must be elsewhere")


class _PathRefused(SecretError):
    """The path itself is refused: it is not shown (it may be a pasted secret)."""


@dataclass(frozen=True)
class SecretFileRules:
    """The rules for one workspace: its root and the ``secret_dirs`` it allows besides."""

    root: Path
    allowed: tuple[Path, ...] = ()

    def problem(self, name: str) -> str | None:
        """Why ``{file: name}`` is refused (a phrase that never quotes ``name``), or None."""
        try:
            self.locate(name)
        except SecretError as exc:
            return exc.message
        return None

    def locate(self, name: str) -> Path | None:
        """The checked, resolved path of ``name`` (None: it does not exist); raises SecretError."""
        if not name or len(name) > MAX_PATH_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise _PathRefused(BAD_PATH)
        candidate = os.path.normpath(os.path.join(self.root, name))
        self._check_inside(candidate, lexical=True)
        if not os.path.lexists(candidate):
            return None
        real = os.path.realpath(candidate)
        self._check_inside(real, lexical=False)
        try:
            info = os.stat(real)
        except OSError:
            return None  # a link to nothing (inside the allowed folders): "not found" when read
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"is {kind_of(info.st_mode)}, not a regular file")
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise SecretError(_too_large(info.st_size))
        return Path(real)

    def read(self, name: str) -> str:
        """The file's text (one trailing newline dropped); SecretError names the reference, never content."""
        where = f"secret file {name}"
        try:
            path = self.locate(name)
        except _PathRefused as exc:
            raise SecretError(f"secret file (path not shown): {exc.message}") from None
        except SecretError as exc:
            raise SecretError(f"{where} cannot be read: it {exc.message}") from None
        if path is None:
            raise SecretError(f"{where} not found")
        try:
            data = read_regular_file(path, MAX_SECRET_FILE_BYTES, follow_symlinks=False)
            return data.decode("utf-8").rstrip("\n")
        except FileRefused as exc:
            raise SecretError(f"{where} cannot be read: it {_too_large(exc.size) if exc.too_large else exc.reason}"
                              ) from None
        except FileNotFoundError:
            raise SecretError(f"{where} not found") from None
        except OSError as exc:
            raise SecretError(f"{where} cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SecretError(f"{where} cannot be read: not UTF-8 text") from None

    def _check_inside(self, path: str, *, lexical: bool) -> None:
        roots = [(str(self.root), True)] + [(str(p), False) for p in self.allowed]
        if not lexical:
            roots = [(os.path.realpath(r), is_root) for r, is_root in roots]
        for base, is_root in roots:
            if _is_within(path, base):
                if is_root and any(_is_within(path, os.path.join(base, p)) for p in _PROTECTED):
                    raise _PathRefused(PROTECTED)
                return
        raise _PathRefused(OUTSIDE if lexical else THROUGH_LINK)


def _is_within(path: str, base: str) -> bool:
    base = os.path.normpath(base)
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _too_large(size: int | None) -> str:
    return (f"{describe_size(size, MAX_SECRET_FILE_BYTES)}; secret files are limited to "
            f"{limit_text(MAX_SECRET_FILE_BYTES)}")
