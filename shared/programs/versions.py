"""What every program's versions share: one file per version, in force between two dates, and a
catalog that answers which version is in force on a day.

A plan changes a program by adding a version file (packaged under `shared/programs/data/<program>/`, or
dropped under the curated bucket's `programs/<program>/`, `shared/programs/stored.py`), without a deploy.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator


class ProgramNotFoundError(LookupError):
    """No program version is in force on the date asked for."""


class VersionedProgram(BaseModel):
    """One version of a program: its name, its version's name and the dates it is in force."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    program: str
    version: str
    example: bool
    note: str = ""
    effective_from: date
    effective_to: date
    measurement_year: int

    @model_validator(mode="after")
    def _dates_in_order(self) -> VersionedProgram:
        if self.effective_to < self.effective_from:
            raise ValueError("effective_to before effective_from")
        return self


P = TypeVar("P", bound=VersionedProgram)


class VersionCatalog(Generic[P]):
    """Every version of one program; answers which one is in force on a date."""

    program_name = "program"

    def __init__(self, versions: Iterable[P]) -> None:
        self._versions = tuple(sorted(versions, key=lambda p: p.effective_from))
        starts = [p.effective_from for p in self._versions]
        if len(starts) != len(set(starts)):
            raise ValueError(f"two {self.program_name} versions start on the same day")

    @property
    def versions(self) -> tuple[P, ...]:
        return self._versions

    def in_force(self, day: date) -> P:
        """The version whose effective dates contain `day`; of overlapping ones, the one starting last,
        so a new version dropped mid-year takes over from its start without editing the old one."""
        for p in reversed(self.versions):
            if p.effective_from <= day <= p.effective_to:
                return p
        raise ProgramNotFoundError(f"no {self.program_name} program in force on {day.isoformat()}")

    def find(self, day: date) -> P | None:
        """Like `in_force`, None instead of raising."""
        try:
            return self.in_force(day)
        except ProgramNotFoundError:
            return None

    def named(self, version: str) -> P | None:
        """The version called `version` (a ledger entry's `rule_version`); None when the catalog lacks it."""
        return next((p for p in self.versions if p.version == version), None)

    def for_year(self, year: int) -> P | None:
        """The version in force at the end of measurement year `year`."""
        return self.find(date(year, 12, 31))
