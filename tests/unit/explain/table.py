"""The reasons table of docs/explain.md, generated from the registered kinds (`python -m
tests.unit.explain.table` prints it after a kind changes)."""

from __future__ import annotations

import shared.logic.explain  # noqa: F401  (the kinds register with the models the logic imports)
from shared.models.explain import REASON_KINDS


def reasons_table() -> str:
    rows = [
        "| code | program | stops the step | the plan's wording | rule, and the seed's passage |",
        "|---|---|---|---|---|",
    ]
    for kind in REASON_KINDS.values():
        wording = kind.wording.replace("|", "\\|")
        rows.append(
            f"| `{kind.code}` | {kind.program} | {'yes' if kind.stops else 'no'} | {wording} "
            f"| {kind.source} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(reasons_table())
