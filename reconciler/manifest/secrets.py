"""Secret references, redacted secret values and keyed fingerprints.

Manifests never hold secrets, only references (``{env: NAME}`` or ``{file: PATH}``).
References resolve lazily: ``plan`` in PR CI has no secrets and must still work, so
nothing reads a secret until a command asks for its value. A resolved value lives in
:class:`SecretValue`, whose ``repr``/``str``/format never show it; the only way out is
:meth:`SecretValue.reveal`, called by the code that sends it to a platform, and
:func:`fingerprint`, a keyed HMAC-SHA256 that lets us detect rotation without
storing the secret.

Where a file reference may point and how it is read: reconciler/manifest/secret_files.py.
An environment variable must hold UTF-8 text (on Linux it can hold any bytes); anything
else is a SecretError naming the variable, never a UnicodeEncodeError from deep inside.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reconciler.catalog import ContentSpec
from reconciler.errors import SecretError, Where
from reconciler.manifest.secret_files import SecretFileRules

if TYPE_CHECKING:
    from reconciler.workspace import TokenReference, Workspace

REDACTED = "(sensitive)"
FINGERPRINT_PREFIX = "hmac-sha256:"


class SecretValue:
    """A resolved secret. Never printed: repr, str and format are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain value, for the one place that sends it to a platform."""
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('**********')"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("SecretValue", hashlib.sha256(self._value.encode()).digest()))

    def __reduce__(self) -> object:  # pickling would write the value somewhere
        raise TypeError("SecretValue cannot be pickled")

    # Immutable, so copies are the object itself; without these, copy.deepcopy (and so
    # dataclasses.asdict on anything holding a secret) would go through __reduce__ and fail.
    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SecretValue:
        return self


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from: an environment variable or a file.

    ``allowed_dirs`` are the workspace's ``secret_dirs`` (resolved), which a file reference
    may read besides the workspace; validation fills them in, so that whoever resolves the
    reference later (apply, with only the root at hand) applies the same rules.

    ``content`` is the catalog's rule for what the value must look like (a Google
    service-account key must be a JSON object with ``type: service_account``...), filled in
    by validation once the method is known; :meth:`resolve` checks it, and ``where`` (the
    field in its manifest, looked up only if shown) lets a problem name its file and line.
    Neither takes part in comparisons: they follow from the manifest and the catalog.
    """

    source: Literal["env", "file"]
    name: str  # variable name, or path (relative to the workspace root)
    allowed_dirs: tuple[str, ...] = ()
    content: ContentSpec | None = field(default=None, compare=False)
    where: Where | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        """How plans name the reference: ``FB_TOKEN`` or ``file secrets/sa.json``."""
        return self.name if self.source == "env" else f"file {self.name}"

    def content_problem(self, value: SecretValue) -> str | None:
        """Why ``value`` breaks the catalog's content rule, naming the reference and never the value; or None.

        ``the file secrets/sa.json is not a Google service-account key (missing private_key)``
        """
        if self.content is None:
            return None
        problem = self.content.problem(value.reveal())
        if problem is None:
            return None
        where = f"the environment variable {self.name}" if self.source == "env" else f"the file {self.name}"
        return f"{where} is not {self.content.what} ({problem})"

    def is_available(self, root: Path, environ: Mapping[str, str] | None = None) -> bool:
        environ = os.environ if environ is None else environ
        if self.source == "env":
            return self.name in environ
        return os.path.lexists(os.path.join(root, self.name))

    def unavailable_reason(self) -> str:
        if self.source == "env":
            return f"{self.name} is not set"
        return f"file {self.name} is not readable"

    def file_rules(self, root: Path) -> SecretFileRules:
        return SecretFileRules(root, tuple(Path(d) for d in self.allowed_dirs))

    def resolve(self, root: Path, environ: Mapping[str, str] | None = None, *,
                check_content: bool = True) -> SecretValue:
        """Read the value now (and check its content rule unless told not to). Errors name the reference, never a value."""
        environ = os.environ if environ is None else environ
        if self.source == "env":
            if self.name not in environ:
                raise SecretError(f"environment variable {self.name} is not set")
            raw = environ[self.name]
            if not is_utf8(raw):
                raise SecretError(not_utf8_message(self.name))
            value = SecretValue(raw)
        else:
            value = SecretValue(self.file_rules(root).read(self.name))
        problem = self.content_problem(value) if check_content else None
        if problem:
            raise SecretError(problem)
        return value


def not_utf8_message(name: str) -> str:
    """What validate and resolve say of an environment variable holding bytes that are not UTF-8."""
    return f"environment variable {name} holds bytes that are not UTF-8 text; set it to the secret as UTF-8 text"


def is_utf8(value: str) -> bool:
    """False for a value decoded from non-UTF-8 bytes (Python keeps them as lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fingerprint(key: bytes, value: SecretValue | str) -> str:
    """Keyed HMAC-SHA256 of a secret (or of canonical config text).

    The key lives in the state store, so fingerprints are useless to anyone who
    reads a plan file but has no access to state.
    """
    raw = value.reveal() if isinstance(value, SecretValue) else value
    digest = hmac.new(key, raw.encode("utf-8"), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest


def read_setting_secret(workspace: Workspace, reference: TokenReference, setting: str, holds: str) -> str:
    """The stripped, non-empty value ``reference`` (a setting of ``authctl.yaml``) points at.

    ``setting`` names the setting in errors (``authctl.yaml: backend.token``), ``holds``
    what it must hold (``the Lytics API token``). A file is searched like a manifest's
    ``{file: PATH}`` (the workspace, then ``secret_dirs``). Errors never show the value.
    """
    if reference.env is not None:
        ref = SecretRef("env", reference.env)
    else:
        ref = SecretRef("file", reference.file or "", tuple(str(p) for p in workspace.secret_dirs()))
    try:
        value = ref.resolve(workspace.root, check_content=False)
    except SecretError as exc:
        raise SecretError(f"{setting}: {exc.message}; it must hold {holds}") from None
    text = value.reveal().strip()
    if not text:
        raise SecretError(f"{setting}: the {reference.describe()} is empty; it must hold {holds}")
    return text
