"""Keep pieces of a secret out of template and YAML error messages.

Jinja's messages quote the source they choke on (``expected token 'end of print
statement', got 'EAAB...'``, ``'s3cr3t' is undefined``), and they are produced before
the text is YAML, so before anyone knows which field a piece belongs to. Someone who
pastes a secret into a manifest (the mistake validation exists to catch) must not get
it printed in CI logs because it also broke the template. Two rules, applied to every
template and YAML error of a file:

- When the line the error points at names a field the catalog marks secret (as a
  mapping key: ``access_token: ...`` or ``{access_token: ...}``) and the message quotes
  anything but field names, the details are replaced by a message that says where, and
  which field, but quotes nothing.
- Anywhere else, a quoted fragment longer than :data:`MAX_QUOTED` characters is left
  out: names that help are short, and a long one is more likely a token than a name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from reconciler.errors import Diagnostic

MAX_QUOTED = 64
_KEY = re.compile(r"""(?:^|[\s{,\[?-])["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*:(?:\s|$)""")
_QUOTED = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")
_LONG_QUOTED = re.compile(r"'[^'\n]{%d,}'|\"[^\"\n]{%d,}\"" % (MAX_QUOTED + 1, MAX_QUOTED + 1))


def secret_key_on_line(line: str, secret_names: Collection[str]) -> str | None:
    """The first secret field named as a mapping key on ``line``, or None."""
    if not secret_names:
        return None
    for match in _KEY.finditer(line):
        if match.group(1) in secret_names:
            return match.group(1)
    return None


def redact(diagnostics: Iterable[Diagnostic], text: str, secret_names: Collection[str], what: str) -> None:
    """Apply the module's rules to ``diagnostics`` about ``text`` (``what``: "template error", "invalid YAML")."""
    lines: list[str] | None = None
    for diagnostic in diagnostics:
        if diagnostic.line > 0:
            lines = text.splitlines() if lines is None else lines
            row = lines[diagnostic.line - 1] if diagnostic.line <= len(lines) else ""
            secret = secret_key_on_line(row, secret_names)
            if secret is not None and _quotes_more_than_names(diagnostic.message, secret_names):
                diagnostic.message = (f"{what} on a line with the secret field {secret}; the details are not "
                                      "shown because they would quote that line")
                continue
        diagnostic.message = _LONG_QUOTED.sub("'(a long piece, not shown)'", diagnostic.message)


def _quotes_more_than_names(message: str, names: Collection[str]) -> bool:
    """True when ``message`` quotes something that is not one of ``names`` ("duplicate key 'token'" does not)."""
    return any((a or b) not in names for a, b in _QUOTED.findall(message))
