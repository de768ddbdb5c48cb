"""The one clock of the engine. Services take a `Clock` in their constructor; the wiring gives them `now`.

`now` is the system's UTC time in every deployment. Only the local runtime (in this process, never through
the environment) may move it, so a demo or a test can stand after a month's end or a finalization date:
`clock_override(shifted_clock(...))`. Nothing a deployed function reads can set it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


def system_clock() -> datetime:
    """The system's time, in UTC."""
    return datetime.now(UTC)


_current: Clock = system_clock


def now() -> datetime:
    """The engine's current time: the system clock unless the local runtime moved it."""
    return _current()


def shifted_clock(start: datetime) -> Clock:
    """A clock that reads `start` now and then advances with real time (so timestamps still order)."""
    offset = start - system_clock()
    return lambda: system_clock() + offset


@contextmanager
def clock_override(clock: Clock) -> Iterator[None]:
    """Within the block, `now()` reads `clock`; the local runtime's seam, never used by a deployment."""
    global _current
    previous, _current = _current, clock
    try:
        yield
    finally:
        _current = previous


sleep: Sleep = time.sleep
