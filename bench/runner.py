"""`python -m bench [--only NAME] [--quick] [--list] [--out PATH]`: discover, run, print, record."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys
import traceback
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.registry import DATA_DIR, REGISTRY, BenchContext, Figure, Registry

PACKAGE_DIR = Path(__file__).resolve().parent
RESULTS = PACKAGE_DIR / "results.json"
QUICK_RESULTS = DATA_DIR / "results-quick.json"
_HARNESS_MODULES = frozenset({"__main__", "registry", "runner"})


def discover() -> list[str]:
    """Import every module of the `bench` package so their `@benchmark` decorators register."""
    imported = []
    for module in pkgutil.iter_modules([str(PACKAGE_DIR)]):
        if module.name.startswith("_") or module.name in _HARNESS_MODULES:
            continue
        importlib.import_module(f"bench.{module.name}")
        imported.append(module.name)
    return imported


def format_value(value: float) -> str:
    """Integers as integers; large rates without decimals; small numbers with three significant digits."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def format_figure(figure: Figure) -> str:
    return f"{figure.name}: {format_value(figure.value)} {figure.unit}"


def _as_figures(result: Figure | Iterable[Figure]) -> list[Figure]:
    figures = [result] if isinstance(result, Figure) else list(result)
    for figure in figures:
        if not isinstance(figure, Figure):
            raise TypeError("a benchmark must return Figure objects")
    return figures


def write_results(path: Path, figures: Sequence[Figure], measured_at: str) -> None:
    """Merge figures into the results file by name; figures not measured this time keep their old entry."""
    entries: dict[str, dict[str, object]] = {}
    if path.exists():
        for entry in json.loads(path.read_text()):
            entries[str(entry["name"])] = entry
    for figure in figures:
        entries[figure.name] = {
            "name": figure.name,
            "value": figure.value,
            "unit": figure.unit,
            "measured_at": measured_at,
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted(entries.values(), key=lambda e: str(e["name"])), indent=2) + "\n")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the registered benchmarks.")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run this benchmark only")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--list", action="store_true", help="list benchmark names and exit")
    parser.add_argument("--out", type=Path, help="results file (default bench/results.json)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, registry: Registry | None = None) -> int:
    """Run benchmarks, print `name: value unit` per figure, merge them into the results file."""
    args = _parse(argv)
    if registry is None:
        discover()
        registry = REGISTRY
    if args.list:
        for name in registry.names():
            print(name)
        return 0
    unknown = set(args.only) - set(registry.names())
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    selected = [b for b in registry.ordered() if not args.only or b.name in args.only]
    context = BenchContext(quick=args.quick)
    figures: list[Figure] = []
    failed = 0
    for bench in selected:
        try:
            produced = _as_figures(bench.function(context))
        except Exception:
            failed += 1
            print(f"benchmark {bench.name} failed", file=sys.stderr)
            traceback.print_exc()
            continue
        for figure in produced:
            print(format_figure(figure), flush=True)
        figures.extend(produced)
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    write_results(out, figures, datetime.now(UTC).isoformat(timespec="seconds"))
    return 1 if failed else 0
