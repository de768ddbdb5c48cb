"""Measure definitions as data: one JSON file per measure plus the shared value sets (common.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def load_definition(name: str) -> dict[str, Any]:
    """The parameters of one measure (or `common`): ages, lookbacks, value set OIDs, codes."""
    return json.loads((HERE / f"{name}.json").read_text())


def all_definitions() -> list[dict[str, Any]]:
    """Every measure definition (common.json excluded), in file order."""
    return [load_definition(p.stem) for p in sorted(HERE.glob("*.json")) if p.stem != "common"]


COMMON = load_definition("common")
