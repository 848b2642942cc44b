"""Fitting a markdown comment under the size a pull-request comment may have.

The plan and the drift report (``plan --refresh-only``) are both posted as one comment;
GitHub refuses comments over 65,536 characters. Both list one block per action or drift
entry, and cut the list where the next block would not fit, with a note saying how many
are not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters


def size_of(lines: Sequence[str]) -> int:
    """Characters of ``lines`` joined by newlines, each counted with its newline."""
    return sum(len(line) + 1 for line in lines)


def fit_blocks(blocks: Iterable[list[str]], count: int, used: int, cut_note: Callable[[int], list[str]]) -> list[str]:
    """The leading ``blocks`` (``count`` of them) that fit in MAX_CHARS after ``used`` characters, then
    ``cut_note(left)`` if cut.

    Room is kept for the note, so a truncated comment stays within MAX_CHARS too (the last
    block needs no room for a note: nothing would follow it). ``blocks`` is read lazily: a
    plan of 60,000 actions renders only the blocks that fit.
    """
    out: list[str] = []
    size = used
    for index, block in enumerate(blocks):
        block_size = size_of(block)
        left = count - index
        note = cut_note(left)
        room = 0 if left == 1 else size_of(note)
        if size + block_size + room > MAX_CHARS:
            return out + note
        out += block
        size += block_size
    return out
