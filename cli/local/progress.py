"""Progress of long local work on a console: a live line on a terminal, plain lines elsewhere (CI, pipes).

A terminal gets rich's progress bar with the current detail (a file's name, a run's step and shards) and
keeps a line per finished piece above it. Without a terminal nothing redraws, so the detail is printed as
a line at most every `plain_every_s` seconds, and the finished pieces' lines as they come.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from cli.local.executions import ExecutionProgress

PLAIN_EVERY_S = 5.0


class Stage:
    """One stage of work with `total` pieces: `detail` says what is happening, `done` ends a piece."""

    def __init__(
        self, console: Console, label: str, total: int, progress: Progress | None, plain_every_s: float
    ):
        self._console = console
        self._label = label
        self._total = total
        self._progress = progress
        self._task = progress.add_task(label, total=total) if progress is not None else None
        self._plain_every_s = plain_every_s
        self._last_plain = float("-inf")
        self.completed = 0

    def detail(self, text: str) -> None:
        """What the stage is doing now."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"{self._label}: {text}")
            return
        now = time.monotonic()
        if now - self._last_plain >= self._plain_every_s:
            self._console.print(f"{self._label} {self.completed}/{self._total}: {text}", highlight=False)
            self._last_plain = now

    def done(self, line: str | None = None) -> None:
        """One piece finished; `line`, if given, stays on the screen."""
        self.completed += 1
        if line is not None:
            self.line(line)
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def line(self, text: str) -> None:
        """A line that stays (printed above the live display on a terminal)."""
        (self._progress.console if self._progress is not None else self._console).print(text, highlight=False)


@contextmanager
def stage(
    console: Console, label: str, total: int, *, plain_every_s: float = PLAIN_EVERY_S
) -> Iterator[Stage]:
    """A `Stage` shown live on a terminal console, as plain lines otherwise."""
    if not console.is_terminal:
        yield Stage(console, label, total, None, plain_every_s)
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield Stage(console, label, total, progress, plain_every_s)


def describe(progress: ExecutionProgress) -> str:
    """An execution's progress in a few words: its step, the Map items done, the time so far."""
    text = progress.step or "starting"
    if progress.items_total:
        text += f" ({progress.items_done}/{progress.items_total} shards)"
    return f"{text}, {progress.elapsed_s:.0f} s"
