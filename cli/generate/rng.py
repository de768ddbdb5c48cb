"""Deterministic random draws as polars Series.

Each draw comes from its own named stream (seeded from the plan seed and the stream's name), so adding
a new draw somewhere never shifts the values of the others, and the same seed gives the same bytes on
any machine. Bytes come from `random.Random.randbytes`, which is fast enough to feed millions of rows
without numpy.
"""

from __future__ import annotations

import array
import random
from collections.abc import Sequence

import polars as pl

_U32 = float(2**32)


class Draws:
    """Named, independent random streams for one seed."""

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def _words(self, stream: str, n: int) -> pl.Series:
        rng = random.Random(f"{self._seed}:{stream}")
        words = array.array("I")
        words.frombytes(rng.randbytes(4 * n))
        if words.itemsize != 4:  # pragma: no cover - every platform we target has 32-bit "I"
            raise RuntimeError("array 'I' is not 32-bit here")
        return pl.Series(stream, words, dtype=pl.UInt32)

    def uniform(self, stream: str, n: int) -> pl.Series:
        """n floats in [0, 1)."""
        return (self._words(stream, n).cast(pl.Float64) / _U32).alias(stream)

    def integers(self, stream: str, n: int, low: int, high: int) -> pl.Series:
        """n integers in [low, high] (inclusive)."""
        span = high - low + 1
        return ((self._words(stream, n).cast(pl.Int64) % span) + low).alias(stream)

    def choice(self, stream: str, n: int, weights: Sequence[float]) -> pl.Series:
        """n indexes into `weights`, drawn with those (unnormalised) weights."""
        total = float(sum(weights))
        cumulative: list[float] = []
        running = 0.0
        for w in weights:
            running += w / total
            cumulative.append(running)
        cumulative[-1] = 1.0
        u = self.uniform(stream, n)
        picked = pl.Series(cumulative).search_sorted(u, side="right")
        return picked.clip(upper_bound=len(weights) - 1).cast(pl.Int64).alias(stream)


def pick(values: Sequence[str], index: pl.Expr) -> pl.Expr:
    """The value at `index` in a small constant list, vectorised."""
    return pl.lit(pl.Series(values, dtype=pl.String)).gather(index)
