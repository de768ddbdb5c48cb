"""`in_order`: a file's member groups worked on in threads, results in the groups' order, few held at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from shared.intake.pipeline import in_order


def test_results_come_in_the_items_order_whatever_order_they_finish_in() -> None:
    def work(n: int) -> int:
        time.sleep((5 - n % 5) / 500)  # earlier items finish later
        return n * n

    assert list(in_order(work, range(20), workers=4)) == [n * n for n in range(20)]
    assert list(in_order(work, range(7), workers=1)) == [n * n for n in range(7)]


def test_no_more_items_are_taken_than_the_workers_and_the_one_the_caller_holds() -> None:
    taken = 0
    lock = threading.Lock()
    running = 0
    most = 0

    def items() -> Iterator[int]:
        nonlocal taken
        for n in range(30):
            taken += 1
            yield n

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002)
        with lock:
            running -= 1
        return n

    for n in in_order(work, items(), workers=3):
        # The caller holds item n; at most the three after it have been taken.
        assert taken <= n + 1 + 3
    assert most == 3 and taken == 30


def test_a_failure_is_raised_and_no_item_after_it_starts() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("group 2 failed")
        time.sleep(0.01)
        return n

    seen = []
    with pytest.raises(ValueError, match="group 2 failed"):
        for n in in_order(work, range(50), workers=2):
            seen.append(n)
    assert seen == [0, 1]
    assert max(started) <= 4  # the items already submitted when group 2 failed, no more
