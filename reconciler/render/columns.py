"""Tables that fit the terminal: one line a row, cells cut with ``…``, never a word folded in two.

kubectl's rules, more or less, for `authctl status`, `show` and the platform lists:

- A row is one line. A cell too long for its column is cut with ``…`` (at a word
  boundary when one is near); nothing wraps, so no word is ever split across lines.
- When the natural table is wider than the terminal, the compact forms come first
  (short headers, short or relative dates), then the flexible columns (labels,
  descriptions, owners) shrink towards a comfortable width, then the least useful
  columns are hidden one by one (a last line names them), and only then do the
  flexible columns shrink to their minimum. No line is ever longer than the width.
- ``wide``: every column, every value whole, full timestamps; the table may be wider
  than the terminal. Print it with ``console.print(table, soft_wrap=True)``, or rich
  crops the lines at the terminal's width.

The width comes from the console at print time (``options.max_width``: ``COLUMNS`` in a
pipe), so callers pass none. Cells are rich ``Text`` already escaped for the terminal
(render/status.py ``cell``): this module cuts and pads them, it never reads markup.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text

from reconciler.render.escape import ELLIPSIS

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions

GAP = 2  # spaces between columns
_WORD_CUT_SHARE = 2 / 3  # cut at a space when it keeps at least this much of the room


# -- cells --------------------------------------------------------------------------------------
def _prefix_chars(text: str, cells: int) -> int:
    """How many characters of ``text`` fit in ``cells`` terminal cells."""
    used = 0
    for index, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > cells:
            return index
    return len(text)


def with_ellipsis(text: Text, width: int) -> Text:
    """``text`` cut so that it and a final ``…`` fit ``width`` cells, at a word boundary when one is near."""
    if width <= 0:
        return Text("")
    keep = _prefix_chars(text.plain, width - 1)
    space = text.plain.rfind(" ", 0, keep + 1)
    if keep < len(text.plain) and space >= max(keep * _WORD_CUT_SHARE, 1):
        keep = space
    head = text[:keep]
    head.rstrip()
    head.append(ELLIPSIS)
    return head


def cut(text: Text, width: int) -> Text:
    """``text`` on one line of at most ``width`` cells: whole when it fits, else cut with ``…``."""
    return text if cell_len(text.plain) <= width else with_ellipsis(text, width)


def wrap(text: Text, width: int, console: Console, max_lines: int) -> list[Text]:
    """``text`` wrapped at spaces into at most ``max_lines`` lines of ``width`` cells.

    A word longer than a line is cut with ``…`` (never folded onto the next line);
    text beyond the last line is shown as a ``…`` at its end.
    """
    lines = list(Text(text.plain, style=text.style, spans=text.spans, overflow="ellipsis", no_wrap=False)
                 .wrap(console, max(width, 1)))
    for line in lines:
        line.rstrip()
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = with_ellipsis(lines[-1], width) if cell_len(lines[-1].plain) >= width \
            else Text.assemble(lines[-1], ELLIPSIS)
    return lines


def pad(text: Text, width: int, justify: Literal["left", "right"] = "left") -> Text:
    """``text`` (already cut) padded with spaces to ``width`` cells."""
    room = width - cell_len(text.plain)
    if room <= 0:
        return text
    padded = text.copy()
    if justify == "right":
        padded = Text.assemble(" " * room, padded)
    else:
        padded.append(" " * room)
    return padded


# -- dates ----------------------------------------------------------------------------------------
def short_time(value: datetime | None) -> str:
    """``2026-11-25 21:46`` (UTC, as stored)."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def full_time(value: datetime | None) -> str:
    """``2026-11-25T21:46:03+00:00``: what ``--wide`` shows."""
    return value.isoformat(timespec="seconds") if value else "-"


def relative_time(value: datetime, now: datetime) -> str:
    """``3d ago``, ``5h ago``, ``in 2d``: at most 8 cells."""
    seconds = (now - value).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for size, unit in ((31_536_000, "y"), (2_592_000, "mo"), (86_400, "d"), (3_600, "h"), (60, "m")):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            return f"in {amount}" if ahead else f"{amount} ago"
    return "just now"  # (not reached)


def compact_time(value: datetime | None, now: datetime | None) -> str:
    """A date for a narrow table: relative to ``now`` when given (``3d ago``), else the day (``2026-11-25``)."""
    if value is None:
        return "-"
    return relative_time(value, now) if now is not None else value.strftime("%Y-%m-%d")


# -- tables ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column: its header and cells, and how it gives way when the table does not fit.

    ``comfort``/``minimum``: a flexible column shrinks to ``comfort`` cells before any
    column is hidden, and to ``minimum`` only when nothing else is left to hide (None:
    it never shrinks, e.g. ids). ``hide``: 0 is always shown; 1, 2, ... are hidden in that
    order when the table does not fit. ``compact_*`` are the narrow forms (``Jobs`` for
    ``Jobs (active/total)``, ``3d ago`` for a full date).
    """

    header: str
    cells: Sequence[Text]
    compact_header: str | None = None
    compact_cells: Sequence[Text] | None = None
    wide_cells: Sequence[Text] | None = None
    comfort: int | None = None
    minimum: int | None = None
    hide: int = 0
    justify: Literal["left", "right"] = "left"

    def shown(self, *, compact: bool, wide: bool) -> tuple[str, Sequence[Text]]:
        if wide:
            return self.header, self.wide_cells if self.wide_cells is not None else self.cells
        if compact:
            return self.compact_header or self.header, \
                self.compact_cells if self.compact_cells is not None else self.cells
        return self.header, self.cells


@dataclass(frozen=True)
class _Layout:
    columns: list[tuple[Column, str, Sequence[Text], int]]  # column, header, cells, width
    hidden: list[str]


def _natural(header: str, cells: Sequence[Text]) -> int:
    return max([cell_len(header), *(cell_len(c.plain) for c in cells)])


def _fit(naturals: list[int], floors: list[int | None], room: int) -> list[int] | None:
    """Widths within ``room`` cells: flexible columns capped alike (water-filling), never below their floor."""
    low = [n if f is None else min(n, f) for n, f in zip(naturals, floors, strict=True)]
    if sum(low) > room:
        return None

    def widths(cap: int) -> list[int]:
        return [n if f is None else min(n, max(lo, cap)) for n, f, lo in zip(naturals, floors, low, strict=True)]

    lo_cap, hi_cap = 0, max(naturals, default=0)
    while lo_cap < hi_cap:  # the largest cap whose total fits
        mid = (lo_cap + hi_cap + 1) // 2
        if sum(widths(mid)) <= room:
            lo_cap = mid
        else:
            hi_cap = mid - 1
    result = widths(lo_cap)
    spare = room - sum(result)
    for index, (natural, floor) in enumerate(zip(naturals, floors, strict=True)):
        if spare <= 0:
            break
        if floor is not None and result[index] < natural:
            result[index] += 1
            spare -= 1
    return result


class FittedTable:
    """A table laid out for the console's width when printed (see the module docstring)."""

    def __init__(self, columns: Sequence[Column], *, title: Text | None = None, wide: bool = False) -> None:
        self.columns = list(columns)
        self.title = title
        self.wide = wide

    def _layout(self, width: int) -> _Layout:
        def attempt(columns: list[Column], compact: bool, floor: str | None) -> list[int] | None:
            shown = [c.shown(compact=compact, wide=self.wide) for c in columns]
            naturals = [_natural(h, cells) for h, cells in shown]
            room = width - GAP * (len(columns) - 1)
            floors = [None if floor is None or getattr(c, floor) is None else max(getattr(c, floor), 1)
                      for c in columns]
            return _fit(naturals, floors, room) if floor else (naturals if sum(naturals) <= room else None)

        def layout(columns: list[Column], compact: bool, widths: list[int], hidden: list[str]) -> _Layout:
            shown = [(c, *c.shown(compact=compact, wide=self.wide)) for c in columns]
            return _Layout([(c, h, cells, w) for (c, h, cells), w in zip(shown, widths, strict=True)], hidden)

        columns = self.columns
        if self.wide:
            return layout(columns, False, [_natural(*c.shown(compact=False, wide=True)) for c in columns], [])
        for compact in (False, True):
            widths = attempt(columns, compact, None)
            if widths is not None:
                return layout(columns, compact, widths, [])
        hideable = sorted((c for c in columns if c.hide), key=lambda c: c.hide)
        shown_columns = list(columns)
        hidden: list[str] = []
        while True:
            widths = attempt(shown_columns, True, "comfort")
            if widths is not None:
                return layout(shown_columns, True, widths, hidden)
            if not hideable:
                break
            gone = hideable.pop(0)
            shown_columns.remove(gone)
            hidden.append(gone.header)
        widths = attempt(shown_columns, True, "minimum")
        if widths is None:  # narrower than the minimum: every column at its least, lines cut at the end
            widths = [_natural(*c.shown(compact=True, wide=False)) if c.minimum is None
                      else min(c.minimum, _natural(*c.shown(compact=True, wide=False))) for c in shown_columns]
        return layout(shown_columns, True, widths, hidden)

    def lines(self, width: int) -> list[Text]:
        """The table's lines for ``width`` cells (each within it, unless wide)."""
        layout = self._layout(width)
        out: list[Text] = []
        if self.title is not None:
            out.append(self.title if self.wide else cut(self.title, width))
        header = Text(style="bold")
        for index, (column, title, _, column_width) in enumerate(layout.columns):
            if index:
                header.append(" " * GAP)
            header.append_text(pad(cut(Text(title), column_width), column_width, column.justify))
        out.append(header)
        rows = len(layout.columns[0][2]) if layout.columns else 0
        for row in range(rows):
            line = Text()
            for index, (column, _, cells, column_width) in enumerate(layout.columns):
                if index:
                    line.append(" " * GAP)
                value = cells[row] if self.wide else cut(cells[row], column_width)
                line.append_text(pad(value, column_width, column.justify))
            out.append(line)
        for line in out:
            line.rstrip()
        if not self.wide:
            out = [cut(line, width) for line in out]
        if layout.hidden:
            out.append(Text(f"Hidden to fit {width} columns: {', '.join(layout.hidden)} "
                            "(--wide shows every column).", style="dim"))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        for line in self.lines(options.max_width):
            line.no_wrap = self.wide or line.no_wrap
            line.overflow = "ignore" if self.wide else line.overflow
            yield line
