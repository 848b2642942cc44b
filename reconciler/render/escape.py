"""Text from the platform, the state store and manifests is data, never markup: one escaper per sink.

Labels, descriptions, job names, health reasons and error messages are typed by people in
a platform's UI or in a stranger's pull request. Printed as they are, they could crash
rich (``[/]`` is a markup error), restyle or retitle a terminal (ESC, OSC, BEL), overwrite
a line (CR), reverse what a reviewer reads (bidi overrides), or add headings, fences,
HTML and mentions to a pull-request comment. So each sink has its own function here:

=====================  ===================================================================
sink                   rule
=====================  ===================================================================
terminal               :func:`terminal_text`: invisible and control characters shown as
                       visible escapes (``\\x1b``, ``\\r``, ``\\u202e``), newlines flattened
                       to ``\\n``; the caller wraps it in a rich ``Text`` (never a markup
                       string), so ``[bold]`` stays text. Values are not shortened.
markdown text          :func:`markdown_text`: terminal rule, then shortened (``…``),
                       ``< > &`` as HTML entities, markdown punctuation backslash-escaped,
                       a block marker at the start neutralised, ``@mentions`` put in code.
markdown code span     :func:`markdown_code`: terminal rule, shortened, fenced with more
                       backticks than the value holds.
fenced block           :func:`markdown_fence`: a fence longer than any backtick run in the
                       block's lines, so data can never close it (lines are already
                       flattened by :func:`terminal_text`).
HTML                   :func:`html_text`: terminal rule, shortened, ``html.escape``.
JSON                   :func:`json_text`: the document stays exact (``json.loads`` gives
                       back the very strings); only code points a terminal would act on
                       are written as ``\\uXXXX``.
=====================  ===================================================================

Pull-request comments shorten values to :data:`MARKDOWN_LIMIT` characters: the full value
stays in ``authctl plan --format json`` and on the terminal. Standard library only, so
every renderer and the CLI's error path can use it without loading rich.
"""

from __future__ import annotations

import html
import re
from typing import Any

MARKDOWN_LIMIT = 200  # one value (a label, a job name) in a pull-request comment
MARKDOWN_LINE_LIMIT = 500  # a composed sentence that embeds values (a warning, a reason)
ELLIPSIS = "…"

# Code points a terminal or a reader's eye would act on instead of showing:
# C0 and C1 controls with DEL (ESC starts ANSI/OSC sequences, CR overwrites, BEL rings),
# bidi embeddings/overrides/isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E,
# U+200F, U+061C: "Trojan Source"), zero-width and invisible characters (U+200B,
# U+2060-U+2064, U+FEFF, U+180E, U+206A-U+206F, U+FFF9-U+FFFB, the tag block
# U+E0000-U+E007F), line and paragraph separators (U+2028, U+2029) and lone surrogates
# (which cannot even be written as UTF-8). ZWNJ/ZWJ (U+200C, U+200D) are kept: scripts
# such as Persian and emoji sequences need them.
_INVISIBLE = ("\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f"
              "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f")
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_UNSAFE_KEEP_NEWLINES = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_text(value: Any, *, keep_newlines: bool = False) -> str:
    """``value`` as a string that prints as itself: controls and invisible characters shown as escapes.

    ``keep_newlines`` is for our own multi-line messages (errors, diagnostics) that embed
    data; everywhere else a newline in data would fake a line of output, so it is shown
    as ``\\n``. Returns ``value`` itself when there is nothing to escape (the common case,
    one regex search: plans of 30,000 lines go through here).
    """
    text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_visible, text) if pattern.search(text) else text


def shorten(value: Any, limit: int | None) -> str:
    """``value`` cut to ``limit`` characters, the last being ``…``; ``None`` keeps it whole."""
    text = value if isinstance(value, str) else str(value)
    if limit is None or len(text) <= limit:
        return text
    return text[:max(limit - 1, 0)] + ELLIPSIS


# Inline markdown an author's text could start: emphasis, code, links/images, tables,
# strikethrough, GitHub math, and the backslash itself. (< > & become entities.)
_MD_INLINE = re.compile(r"([\\`*_\[\]|~$])")
# At the start of a line (a list item's text included), these begin blocks: headings,
# quotes, list items, setext underlines, ordered list items, indented code.
_MD_BLOCK_START = re.compile(r"^(?:([#>+\-=])|(\d{1,9})([.)])|( +))")
# GitHub notifies @user and @org/team anywhere outside code; in code it does not.
_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9][A-Za-z0-9_.\-/]*")


def _markdown_plain(text: str, *, line_start: bool) -> str:
    text = _MD_INLINE.sub(r"\\\1", html.escape(text, quote=False))
    match = _MD_BLOCK_START.match(text) if line_start else None
    if match is None:
        return text
    if match.group(1):
        return "\\" + text
    if match.group(2):
        return f"{match.group(2)}\\{text[match.end(2):]}"
    return "&#32;" * len(match.group(4)) + text[match.end():]


def markdown_text(value: Any, *, limit: int | None = MARKDOWN_LIMIT) -> str:
    """``value`` as markdown text that renders as itself (GitHub-flavoured, inside a line or list item).

    Shortened first (the JSON plan has the whole value), then flattened as for the
    terminal, then ``< > &`` as entities (no HTML, no autolinks), markdown punctuation
    backslash-escaped, a leading ``#``/``>``/``-``/``1.``/spaces neutralised (no
    headings, quotes or lists), and ``@name`` in a code span (no notifications).
    """
    text = terminal_text(shorten(value, limit))
    out: list[str] = []
    start = 0
    for match in _MENTION.finditer(text):
        out += [_markdown_plain(text[start:match.start()], line_start=not start),
                markdown_code(match.group(), limit=None)]
        start = match.end()
    out.append(_markdown_plain(text[start:], line_start=not start))
    return "".join(out)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


def markdown_code(value: Any, *, limit: int | None = MARKDOWN_LIMIT) -> str:
    """``value`` as an inline code span, backticks included: nothing inside is markup or a mention.

    The fence has one backtick more than the longest run in the value; a space pads a
    value that starts or ends with a backtick or a space (CommonMark strips one).
    """
    text = terminal_text(shorten(value, limit))
    fence = "`" * (_longest_backtick_run(text) + 1)
    if not text:
        return "` `"
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


def markdown_fence(lines: list[str], *, minimum: int = 3) -> str:
    """The backtick fence for a code block holding ``lines``: longer than any backtick run in them.

    A closing fence must be at least as long as the opening one, so no line of data can
    end the block early and have the rest of the comment read as markdown.
    """
    return "`" * max(minimum, max((_longest_backtick_run(line) for line in lines), default=0) + 1)


def html_text(value: Any, *, limit: int | None = MARKDOWN_LIMIT) -> str:
    """``value`` as HTML text (in an element or a quoted attribute): flattened, shortened, ``html.escape``d.

    For the HTML parts of pull-request comments (``<summary>``) and the web dashboard.
    """
    return html.escape(terminal_text(shorten(value, limit)), quote=True)


# json.dumps(ensure_ascii=False) writes C0 controls as escapes itself, but C1 controls,
# DEL, bidi and invisible characters, separators and lone surrogates as they are.
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_INVISIBLE}]")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # as JSON writes it: a UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(document: str) -> str:
    """A JSON document from ``json.dumps(..., ensure_ascii=False)`` with unsafe code points as ``\\uXXXX``.

    Those code points can only occur inside JSON strings, where ``\\uXXXX`` means the very
    same character: ``json.loads`` gives back exactly the original strings, and a terminal
    or log viewer showing the document is not steered by them.
    """
    if not _JSON_UNSAFE.search(document):
        return document
    return _JSON_UNSAFE.sub(_json_escape, document)
