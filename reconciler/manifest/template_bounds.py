"""What one manifest template may cost: operations, seconds, memory and the size of what it builds.

Manifests come from pull requests and ``plan`` renders them in CI, so a template must not
be able to make authctl run for minutes or exhaust memory. Jinja's sandbox stops templates
from reaching Python internals and caps ``range()`` at 100,000 items, but nothing else:
two nested loops over ``range(100000)`` run 10^10 times, ``'%999999999s'|format('x')``
allocates a gigabyte in one C call, and a list nested in lists nine levels deep is a
billion items once printed. The budget of one file (:class:`Budget`, restarted for each):

- :data:`MAX_OPERATIONS` loop iterations, calls, filters and intercepted operators. It is
  deterministic: the same template fails the same way on every machine.
- :data:`MAX_SECONDS` of wall time and :data:`MAX_MEMORY_GROWTH` more resident memory,
  checked every few hundred operations and after every large value: the backstop for
  work the operation count does not see (C code between two operations).
- No single value built by an operator, filter, method or format larger than
  :data:`MAX_VALUE_CHARS`, refused *before* it is built (``size_*`` below predict the size
  from the operands: repetition, formats with widths, padding, replace, join ...); and no
  rendered file larger than :data:`MAX_OUTPUT_CHARS`.

Exceeding any of them is a :class:`TemplateBudgetExceeded`, which the renderer reports as
a template error naming the file and, where Jinja knows it, the line. The sandbox that
enforces this is reconciler/manifest/template_sandbox.py.
"""

from __future__ import annotations

import os
import re
import string
import time
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.utils import Namespace

MAX_OPERATIONS = 1_000_000
MAX_SECONDS = 5.0
MACRO_CALL_COST = 5  # a macro call costs about five loop iterations (a frame, a context, an output buffer)
MAX_MEMORY_GROWTH = 512 * 1024 * 1024
MAX_VALUE_CHARS = 4 * 1024 * 1024
MAX_OUTPUT_CHARS = 16 * 1024 * 1024
MAX_INT_BITS = 100_000  # about 30,000 digits
MAX_ITEMS = 100_000  # like jinja2.sandbox.MAX_RANGE: a count of items a filter may create
_CHECK_EVERY = 256  # operations between two looks at the clock and the memory
_CHECK_AFTER_BYTES = 16 * 1024 * 1024  # or after this much was built since the last look


class TemplateBudgetExceeded(jinja2.TemplateRuntimeError):
    """The template asks for more work, memory or output than a manifest may."""


def _mib(limit: int) -> str:
    return f"{limit // 1048576} MiB"


def too_large(what: str, limit: int = MAX_VALUE_CHARS) -> TemplateBudgetExceeded:
    return TemplateBudgetExceeded(f"{what} would be larger than {_mib(limit)}; manifests may not build "
                                  "values that large")


class Budget:
    """The budget of the file being rendered (see the module docstring)."""

    __slots__ = ("operations", "deadline", "memory_limit", "built")

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.operations = MAX_OPERATIONS
        self.deadline = time.monotonic() + MAX_SECONDS
        rss = _resident_bytes()
        self.memory_limit = rss + MAX_MEMORY_GROWTH if rss else 0
        self.built = 0

    def tick(self, count: int = 1) -> None:
        """Charge ``count`` operations; look at the clock and memory every few hundred."""
        before = self.operations
        self.operations = before - count
        if self.operations < 0:
            raise TemplateBudgetExceeded(
                f"the template does more than {MAX_OPERATIONS:,} loop iterations, calls and operations; "
                "manifests may not compute that much")
        if before // _CHECK_EVERY != self.operations // _CHECK_EVERY:
            self.check()

    def built_value(self, size: int) -> None:
        """A value of ``size`` characters (or items) was built: look at memory now and then."""
        if size > MAX_VALUE_CHARS:
            raise too_large("a value")
        self.built += size
        if self.built > _CHECK_AFTER_BYTES:
            self.check()

    def check(self) -> None:
        self.built = 0
        if time.monotonic() > self.deadline:
            raise TemplateBudgetExceeded(f"rendering took longer than {MAX_SECONDS:g} seconds; manifests may "
                                         "not compute that much")
        if self.memory_limit and _resident_bytes() > self.memory_limit:
            raise TemplateBudgetExceeded(f"rendering used more than {_mib(MAX_MEMORY_GROWTH)} of memory; "
                                         "manifests may not build that much")


def _resident_bytes() -> int:
    """This process's resident memory (Linux), or 0 where it cannot be known cheaply."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# -- how long the text of a value is, without building it ---------------------------------------

def text_size(value: Any, budget: Budget, limit: int = MAX_VALUE_CHARS) -> int:
    """About how many characters ``str(value)`` has, without building it; raises when over ``limit``.

    Nested lists and mappings may share items (``[a, a, a]``), so the text can be
    exponentially longer than the data: each distinct container is measured once and its
    size reused, which keeps this linear in the data. Each container measured costs one
    operation of ``budget``.
    """
    sizes: dict[int, int] = {}
    total = _size(value, sizes, set(), budget, limit)
    if total > limit:
        raise too_large("the text of a value", limit)
    return total


def _size(value: Any, sizes: dict[int, int], active: set[int], budget: Budget, limit: int) -> int:
    kind = type(value)
    if kind is str or isinstance(value, str):
        return len(value)
    if kind is bool or value is None:
        return 5
    if kind is int:
        return value.bit_length() * 3 // 10 + 2
    if kind is float:
        return 24
    if isinstance(value, (bytes, bytearray)):
        return len(value) * 4 + 3
    if isinstance(value, Namespace):
        items: Any = object.__getattribute__(value, "_Namespace__attrs")
    elif isinstance(value, (list, tuple, set, frozenset, dict)):
        items = value
    else:
        return 64  # a generator, a macro, a cycler: their text is a short description
    key = id(value)
    known = sizes.get(key)
    if known is not None:
        return known
    if key in active:
        return 8  # "[...]": Python prints a container inside itself once
    active.add(key)
    budget.tick()
    total = 2
    pairs = items.items() if isinstance(items, dict) else ((item, None) for item in items)
    for item, extra in pairs:
        total += _size(item, sizes, active, budget, limit) + 2
        if extra is not None:
            total += _size(extra, sizes, active, budget, limit) + 2
        if total > limit:
            break
    active.discard(key)
    sizes[key] = total
    return total


# -- predicted sizes of the operations that multiply text ---------------------------------------

def size_repeat(left: Any, right: Any) -> None:
    """``left * right``: sequences repeated, or integers multiplied."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int) and not isinstance(count, bool):
            if count > 0 and len(seq) * count > MAX_VALUE_CHARS:
                raise too_large("a repeated value")
            return
    if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise too_large("a number")


def size_power(left: Any, right: Any) -> None:
    """``left ** right``: a big integer power takes long to compute and to print."""
    if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        if right * left.bit_length() > MAX_INT_BITS:
            raise too_large("a number")


def size_add(left: Any, right: Any) -> None:
    if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
        if len(left) + len(right) > MAX_VALUE_CHARS:
            raise too_large("a joined value")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
                      r"[hlL]?(?P<conversion>[diouxXeEfFgGcrsa%])")


def size_percent_format(template: str, arguments: Any, budget: Budget) -> None:
    """``template % arguments`` (the ``%`` operator and the ``format`` filter)."""
    total = len(template)
    position = 0
    for match in _PERCENT.finditer(template):
        if match["conversion"] == "%":
            continue
        if match["width"] == "*" or match["precision"] == "*":
            raise TemplateBudgetExceeded("format: '*' widths are not allowed in manifests; write the width")
        if isinstance(arguments, Mapping) and match["key"] is not None:
            argument = arguments.get(match["key"])
        elif isinstance(arguments, tuple):
            argument = arguments[position] if position < len(arguments) else None
            position += 1
        else:
            argument = arguments
        total += int(match["width"] or 0) + int(match["precision"] or 0) + text_size(argument, budget)
        if total > MAX_VALUE_CHARS:
            raise too_large("a formatted value")


def size_brace_format(template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], budget: Budget) -> None:
    """``template.format(*args, **kwargs)``: widths and precisions, and the text of each field."""
    total = len(template)
    automatic = 0
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format raises the same error with its own message
    for _, name, spec, _ in fields:
        if name is None:
            continue
        if spec and "{" in spec:
            raise TemplateBudgetExceeded("format: nested fields in a format spec are not allowed in manifests; "
                                         "write the width")
        total += sum(int(n) for n in re.findall(r"\d+", spec or ""))
        first = re.split(r"[.\[]", name, maxsplit=1)[0]
        if first == "":
            argument = args[automatic] if automatic < len(args) else None
            automatic += 1
        elif first.isdigit():
            argument = args[int(first)] if int(first) < len(args) else None
        else:
            argument = kwargs.get(first)
        total += text_size(argument, budget)
        if total > MAX_VALUE_CHARS:
            raise too_large("a formatted value")


def size_padding(value: Any, width: Any) -> None:
    """``center``/``ljust``/``rjust``/``zfill`` to ``width``."""
    if _is_int(width) and width > MAX_VALUE_CHARS:
        raise too_large("a padded value")


def size_replace(value: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(value, (str, bytes)) or not isinstance(old, type(value)) or not isinstance(new, type(value)):
        return
    grow = len(new) - len(old)
    if grow <= 0:
        return
    occurrences = value.count(old) if old else len(value) + 1
    if _is_int(count) and count >= 0:
        occurrences = min(occurrences, count)
    if len(value) + occurrences * grow > MAX_VALUE_CHARS:
        raise too_large("a value after replace")


def size_join(separator: Any, items: list[Any], budget: Budget) -> None:
    total = len(separator) * max(0, len(items) - 1) if isinstance(separator, (str, bytes)) else 0
    for item in items:
        if total > MAX_VALUE_CHARS:
            break
        total += text_size(item, budget)
    if total > MAX_VALUE_CHARS:
        raise too_large("a joined value")


def size_indent(value: Any, width: Any) -> None:
    if not isinstance(value, str):
        return
    pad = width if _is_int(width) else len(str(width)) if isinstance(width, str) else 0
    if len(value) + (value.count("\n") + 1) * pad > MAX_VALUE_CHARS:
        raise too_large("an indented value")


def size_expandtabs(value: Any, tabsize: Any = 8) -> None:
    if isinstance(value, (str, bytes)) and _is_int(tabsize):
        tab = "\t" if isinstance(value, str) else b"\t"
        if len(value) + value.count(tab) * tabsize > MAX_VALUE_CHARS:  # type: ignore[arg-type]
            raise too_large("a value with expanded tabs")


def size_wordwrap(value: Any, wrapstring: Any) -> None:
    if isinstance(value, str) and isinstance(wrapstring, str):
        if len(value) * (1 + len(wrapstring)) > MAX_VALUE_CHARS:
            raise too_large("a wrapped value")


def size_item_count(count: Any, what: str) -> None:
    """A count of items a filter creates (``slice``, ``batch`` with a fill value)."""
    if _is_int(count) and count > MAX_ITEMS:
        raise TemplateBudgetExceeded(f"{what}: at most {MAX_ITEMS:,} items; manifests may not build more")
