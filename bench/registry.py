"""Benchmark registration: `@benchmark("name")` on a function of a `BenchContext` returning figures."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Figure:
    """One measured number, printed as `name: value unit`."""

    name: str
    value: float
    unit: str


@dataclass
class Timing:
    """Wall and CPU seconds of a measured block; CPU time counts every thread of this process."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def per_second(self, count: float) -> float:
        return count / self.wall_seconds if self.wall_seconds > 0 else float("inf")

    def per_cpu_second(self, count: float) -> float:
        """Throughput per core: items per CPU-second, whatever the number of threads used."""
        return count / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")


@contextmanager
def measure() -> Iterator[Timing]:
    """Time a block: `with measure() as t: ...; t.wall_seconds`."""
    timing = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall_seconds = time.perf_counter() - wall
        timing.cpu_seconds = time.process_time() - cpu


@dataclass
class BenchContext:
    """What a benchmark gets: the mode, a scratch directory, and inputs shared within one run."""

    quick: bool = False
    data_dir: Path = DATA_DIR
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    _claims_files: dict[tuple[int, int], Path] = field(default_factory=dict)

    def size(self, full: int, quick: int) -> int:
        """`quick` in --quick mode, else `full`."""
        return quick if self.quick else full

    @property
    def claim_lines(self) -> int:
        """Size of the shared medical claims file: 1M lines, 100k with --quick."""
        return self.size(1_000_000, 100_000)

    def claims_file_path(self, lines: int, seed: int = 7) -> Path:
        return self.data_dir / f"medical_claims-{lines}-seed{seed}.csv"

    def adopt_claims_file(self, path: Path, lines: int, seed: int = 7) -> None:
        """Record a claims file generated during this run so later benchmarks reuse it."""
        self._claims_files[(lines, seed)] = path

    def claims_file(self, lines: int | None = None, seed: int = 7) -> Path:
        """A medical claims CSV of `lines` lines, generated once per run (never reused across runs)."""
        from cli.generate import generate_claims_file

        lines = self.claim_lines if lines is None else lines
        key = (lines, seed)
        if key not in self._claims_files:
            self._claims_files[key] = generate_claims_file(self.claims_file_path(lines, seed), lines, seed)
        return self._claims_files[key]


BenchmarkFunction = Callable[[BenchContext], "Figure | Iterable[Figure]"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    function: BenchmarkFunction
    order: int


class Registry:
    """Benchmarks by name; the harness runs them by `order`, then name."""

    def __init__(self) -> None:
        self._benchmarks: dict[str, Benchmark] = {}

    def benchmark(self, name: str, *, order: int = 50) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
        """Register the decorated function under `name`; lower `order` runs first (inputs before users)."""

        def register(function: BenchmarkFunction) -> BenchmarkFunction:
            existing = self._benchmarks.get(name)
            if existing is not None and existing.function.__qualname__ != function.__qualname__:
                raise ValueError(f"benchmark {name!r} is registered twice")
            self._benchmarks[name] = Benchmark(name=name, function=function, order=order)
            return function

        return register

    def names(self) -> list[str]:
        return [b.name for b in self.ordered()]

    def ordered(self) -> list[Benchmark]:
        return sorted(self._benchmarks.values(), key=lambda b: (b.order, b.name))


REGISTRY = Registry()
benchmark = REGISTRY.benchmark
