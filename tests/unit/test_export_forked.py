"""reconciler/export/forked.py: half of a pure map in a forked child, the same results either way."""

from __future__ import annotations

import os
import signal

import pytest

from reconciler.export import forked
from reconciler.export.forked import map_shared


def _can_fork_here() -> bool:
    return forked._worth_forking(1, 0)


def _square_and_pid(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def test_the_second_half_is_mapped_in_a_child_and_the_results_keep_their_order() -> None:
    if not _can_fork_here():
        pytest.skip("this process cannot fork safely (threads, one CPU, not Linux): the map runs here")
    items = list(range(10))
    results = map_shared(_square_and_pid, items, [1] * 10, minimum=0)
    assert [square for square, _ in results] == [n * n for n in items]
    pids = [pid for _, pid in results]
    assert pids[:5] == [os.getpid()] * 5 and len(set(pids[5:])) == 1 and pids[5] != os.getpid()


def _dies_in_child(n: int) -> int:
    if n >= 5 and os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return n


PARENT = os.getpid()


def test_a_child_that_dies_is_not_an_error_its_half_is_mapped_here() -> None:
    if not _can_fork_here():
        pytest.skip("this process cannot fork safely: nothing to kill")
    assert map_shared(_dies_in_child, list(range(10)), [1] * 10, minimum=0) == list(range(10))


def test_small_or_single_maps_stay_in_this_process() -> None:
    assert map_shared(_square_and_pid, [3], [1], minimum=0) == [(9, os.getpid())]
    assert all(pid == os.getpid() for _, pid in map_shared(_square_and_pid, [1, 2, 3], [1, 1, 1], minimum=100))
