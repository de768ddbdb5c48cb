from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from cli.generate import GeneratedPlan, generate_plan

REPO = Path(__file__).resolve().parents[3]
SMALL_SEED = 11


def small_plan(out_dir: Path, seed: int = SMALL_SEED) -> GeneratedPlan:
    """The plan most tests read: 1,000 members in 5 clinics, 2026."""
    return generate_plan(out_dir, members=1000, clinics=5, year=2026, seed=seed)


@pytest.fixture(scope="session")
def plan(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPlan:
    return small_plan(tmp_path_factory.mktemp("plan"))


def read_kind(plan: GeneratedPlan, kind: str) -> pl.DataFrame:
    """Every file of a kind, as strings, with the file name each row came from."""
    frames = [
        pl.read_csv(path, infer_schema=False).with_columns(_file=pl.lit(path.name))
        for path in plan.paths(kind)
    ]
    return pl.concat(frames)


def spec_columns(kind: str) -> list[str]:
    """The column names of one kind's table in docs/file-specs.md, in order."""
    text = (REPO / "docs" / "file-specs.md").read_text()
    section = re.search(rf"^## {kind}\b.*?\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert section is not None, kind
    columns: list[str] = []
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("column", "") or set(cells[0]) <= {"-"}:
            continue
        for name in cells[0].split(","):
            name = name.strip()
            ranged = re.fullmatch(r"(\w+?)(\d+) … \1(\d+)", name)
            if ranged:
                stem, first, last = ranged.group(1), int(ranged.group(2)), int(ranged.group(3))
                columns.extend(f"{stem}{i}" for i in range(first, last + 1))
            else:
                columns.append(name)
    return columns
