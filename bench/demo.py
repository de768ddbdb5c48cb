"""The demo end to end: `p4p demo` as `make demo` runs it (2,000 members, twelve months, the four quarterly
APC runs and the annual run), in a subprocess.

The figure is the wall time from start to exit: generating the plan, synthesizing the stack (or reading the
kept template), creating it in moto, ingesting every file kind, twelve monthly runs, four quarterly runs and
the annual run with their approvals, and the statements, payment files, pages and registries. Its unit
carries the machine's load average when it started, since the demo shares the machine with whatever else runs;
`demo_cpu_seconds` is the CPU time the demo itself used. `--quick` runs 300 members and says so in the
figures' names.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from bench.registry import BenchContext, Figure, benchmark, measure

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MEMBERS = 2000
QUICK_MEMBERS = 300
_QUIET_NODE = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}


class DemoFailedError(RuntimeError):
    """The demo exited non-zero; the message is its last line."""


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@benchmark("demo", order=90)
def demo(ctx: BenchContext) -> list[Figure]:
    members = ctx.size(DEFAULT_MEMBERS, QUICK_MEMBERS)
    out = ctx.data_dir / f"demo-{members}"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "cli.main", "demo", "--out", str(out), "--members", str(members)]
    load = os.getloadavg()[0]
    cpu_before = _children_cpu_seconds()
    with measure() as timing:
        # This interpreter running the project's own command, as `make demo` does.
        finished = subprocess.run(
            command, cwd=REPO, env=os.environ | _QUIET_NODE, capture_output=True, text=True, check=False
        )
    cpu = _children_cpu_seconds() - cpu_before
    if finished.returncode != 0:
        lines = (finished.stdout + finished.stderr).strip().splitlines()
        raise DemoFailedError(lines[-1] if lines else f"exit code {finished.returncode}")
    shutil.rmtree(out, ignore_errors=True)
    suffix = "" if members == DEFAULT_MEMBERS else f"_{members}_members"
    what = f"{members} members, 12 months, 4 quarters and the annual run"
    wall = round(timing.wall_seconds, 1)
    return [
        Figure(f"demo_seconds{suffix}", wall, f"s ({what}; load {load:.1f} at start)"),
        Figure(f"demo_cpu_seconds{suffix}", round(cpu, 1), f"s of CPU ({what})"),
    ]
