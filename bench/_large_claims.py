"""Medical claims files larger than the generator can hold: parts of a fixed size written one after another.

`claims_frame` builds a whole file in memory (about 1.2 GB per million lines), so a 16M-line file is
written as sixteen 1M-line parts, each generated on its own seed and appended to the CSV. Part 0 is the
generator's own file byte for byte; every later part puts its number after the letters of its member and
claim ids (`SYN00000029` → `SYN01-00000029`), so parts share no member and no claim and the file reads as
one plan's claims.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cli.generate import claims_frame

_RENAMED = ("member_id", "claim_id", "original_claim_id")
_LETTERS = r"^([A-Z]+)"


def _part(lines: int, number: int, seed: int) -> pl.DataFrame:
    frame = claims_frame(lines, seed=seed + number)
    if number == 0:
        return frame
    return frame.with_columns(pl.col(c).str.replace(_LETTERS, f"${{1}}{number:02d}-") for c in _RENAMED)


def write_claims_in_parts(path: Path, lines: int, part_lines: int, seed: int = 7) -> Path:
    """Write a claims CSV of exactly `lines` lines as parts of `part_lines` (the last may be shorter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for number, start in enumerate(range(0, lines, part_lines)):
            part = _part(min(part_lines, lines - start), number, seed)
            part.write_csv(out, include_header=number == 0, date_format="%Y-%m-%d")
    return path
