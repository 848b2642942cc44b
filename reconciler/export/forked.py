"""Share a pure, CPU-bound map between this process and one forked child (two CPUs, twice the speed).

Writing 60,000 documents as YAML is pure Python work that one CPU does in a few seconds,
and it splits into independent chunks. Where it is safe and pays (Linux, two or more
CPUs, no other thread, enough work), a forked child maps the second half of the items and
sends its results back pickled through a pipe while this process maps the first half.
The results are the same either way, in the same order: only the time differs. A child
that fails (killed, out of memory) is not an error: its half is mapped here.

The child is a :class:`reconciler.forked_child.ForkedChild`, as the manifest loader's is.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from reconciler.forked_child import ForkedChild

T = TypeVar("T")
R = TypeVar("R")


def _worth_forking(total_weight: int, minimum: int) -> bool:
    if sys.platform != "linux" or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    return len(os.sched_getaffinity(0)) >= 2 and total_weight >= minimum


def map_shared(function: Callable[[T], R], items: Sequence[T], weights: Sequence[int], *,
               minimum: int) -> list[R]:
    """``[function(item) for item in items]``, the second half (by weight) in a forked child when that pays."""
    total = sum(weights)
    if len(items) < 2 or not _worth_forking(total, minimum):
        return [function(item) for item in items]
    split, kept = len(items) - 1, 0
    for index, weight in enumerate(weights):
        kept += weight
        if kept * 2 >= total:
            split = max(1, min(index + 1, len(items) - 1))
            break
    child = ForkedChild(lambda: [function(item) for item in items[split:]])
    try:
        mine = [function(item) for item in items[:split]]
    except BaseException:
        child.stop()
        raise
    theirs = child.result()
    if theirs is None or len(theirs) != len(items) - split:
        theirs = [function(item) for item in items[split:]]
    return mine + theirs
