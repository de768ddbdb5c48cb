from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import BenchContext
from bench import demo as demo_bench
from bench.runner import discover, format_figure


def _fake_run(exit_code: int, calls: list[list[str]]) -> Any:
    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(
            command, exit_code, "statements written\n", "error: run 2026-03 FAILED\n"
        )

    return run


@pytest.mark.parametrize(
    ("quick", "name", "members"), [(False, "demo_seconds", "2000"), (True, "demo_seconds_300_members", "300")]
)
def test_the_demo_benchmark_times_the_demo_command_and_names_its_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, quick: bool, name: str, members: str
) -> None:
    # GIVEN the demo command stood in for by one that exits at once
    calls: list[list[str]] = []
    monkeypatch.setattr(demo_bench.subprocess, "run", _fake_run(0, calls))

    # WHEN the benchmark runs, in full or --quick
    figures = demo_bench.demo(BenchContext(quick=quick, data_dir=tmp_path))

    # THEN it ran `p4p demo` with the size it reports, and a --quick figure says its size in its name
    (command,) = calls
    assert command[1:4] == ["-m", "cli.main", "demo"] and command[command.index("--members") + 1] == members
    assert [f.name for f in figures] == [name, name.replace("demo_seconds", "demo_cpu_seconds")]
    assert f"{members} members" in figures[0].unit and "load" in figures[0].unit
    assert format_figure(figures[0]).startswith(f"{name}: ")


def test_a_failed_demo_fails_the_benchmark_with_its_last_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a demo that fails
    monkeypatch.setattr(demo_bench.subprocess, "run", _fake_run(1, []))

    # WHEN the benchmark runs
    # THEN it fails with the demo's one line
    with pytest.raises(demo_bench.DemoFailedError, match="run 2026-03 FAILED"):
        demo_bench.demo(BenchContext(quick=True, data_dir=tmp_path))


def test_the_demo_benchmark_registers_itself() -> None:
    # GIVEN the bench package
    # WHEN its modules are discovered
    # THEN the demo benchmark is among them
    assert "demo" in discover()
