"""Benchmark P4P program versions: the annual program Care Gap P4P replaces, as data.

A version says which lines of business it pays (a minimum of assigned members and an amount per member
each; HealthWorx is not offered Benchmark P4P), the measures of each practice type's metric set with their
weights, benchmarks and the improvement that also meets them, the minimum denominator for a measure to
count, the 9-of-12-month assignment rule, the timeline (submission deadline, attestation window,
finalization) and, optionally, a funding pool the payments are split from. The seed publishes the shape,
not the numbers: the shipped version is an example (`"example": true`).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.actions import LineOfBusiness
from shared.models.members import PracticeType
from shared.programs.care_gap import DATA_DIR, ApprovalRule
from shared.programs.versions import VersionCatalog, VersionedProgram

PROGRAM = "benchmark"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BenchmarkLine(_Frozen):
    """A line of business Benchmark P4P pays: clinics with at least `minimum_members` assigned members
    take part, each paid up to `amount_per_member` per assigned member."""

    line_of_business: LineOfBusiness
    minimum_members: int = Field(ge=1)
    amount_per_member: Decimal = Field(gt=0)


class BenchmarkMetric(_Frozen):
    """One measure of the metric sets: `rate` names the rate in the program's measures file
    (`data/measures/programs/benchmark.json`), `code` is how statements show it."""

    code: str = Field(min_length=1)
    rate: str = Field(min_length=1)
    weight: Decimal = Field(gt=0)
    benchmark: Decimal = Field(ge=0, le=100, description="percent")
    inverse: bool = False
    required_improvement_points: Decimal = Field(gt=0, le=100)
    practice_types: tuple[PracticeType, ...] = Field(min_length=1)
    lines_of_business: tuple[LineOfBusiness, ...] = Field(min_length=1)
    attestation_allowed: bool = Field(
        default=False, description="attestations dated in the attestation window count for it"
    )


class BenchmarkTimeline(_Frozen):
    """The seed's timeline for one measurement year (dates are data: the seed says "subject to change")."""

    submission_deadline: date = Field(description="claims and supplemental data received by then count")
    attestation_from: date
    attestation_to: date
    finalization_from: date = Field(description="the annual run is final only from this day")
    finalization_to: date

    @model_validator(mode="after")
    def _in_order(self) -> BenchmarkTimeline:
        if not self.attestation_from <= self.attestation_to:
            raise ValueError("the attestation window ends before it starts")
        if not self.finalization_from <= self.finalization_to:
            raise ValueError("finalization ends before it starts")
        return self


class BenchmarkProgram(VersionedProgram):
    """One version of Benchmark P4P."""

    program: Literal["benchmark"]
    lines: tuple[BenchmarkLine, ...] = Field(min_length=1)
    minimum_denominator: int = Field(ge=1)
    assignment_months: int = Field(default=9, ge=1, le=12, description="of the year's 12")
    measures: tuple[BenchmarkMetric, ...] = Field(min_length=1)
    timeline: BenchmarkTimeline
    funding_pool: Decimal | None = Field(default=None, ge=0)
    refuse_approval_over_pool: bool = Field(
        default=False, description="approval refuses a run whose projected year exceeds the pool"
    )
    approval: ApprovalRule = ApprovalRule()

    @model_validator(mode="after")
    def _consistent(self) -> BenchmarkProgram:
        lines = [line.line_of_business for line in self.lines]
        if len(lines) != len(set(lines)):
            raise ValueError("a line of business is listed twice")
        codes = [m.code for m in self.measures]
        if len(codes) != len(set(codes)):
            raise ValueError("a measure code is listed twice")
        for measure in self.measures:
            missing = set(measure.lines_of_business) - set(lines)
            if missing:
                raise ValueError(
                    f"measure {measure.code} names lines the program does not pay: {sorted(missing)}"
                )
        if self.timeline.submission_deadline.year != self.measurement_year + 1:
            raise ValueError("the submission deadline falls in the year after the measurement year")
        return self

    def line(self, line_of_business: str) -> BenchmarkLine | None:
        """The line's rules, or None when the program does not pay that line."""
        return next((line for line in self.lines if line.line_of_business == line_of_business), None)

    def metric_set(self, practice_type: PracticeType, line_of_business: str) -> tuple[BenchmarkMetric, ...]:
        """The measures a practice of this type is rated on for a line of business."""
        return tuple(
            m
            for m in self.measures
            if practice_type in m.practice_types and line_of_business in m.lines_of_business
        )


class BenchmarkCatalog(VersionCatalog[BenchmarkProgram]):
    """Every version of Benchmark P4P."""

    program_name = PROGRAM


def parse_benchmark(text: str) -> BenchmarkProgram:
    """Validate one Benchmark version file's JSON text."""
    return BenchmarkProgram.model_validate(json.loads(text))


@lru_cache(maxsize=4)
def load_benchmark(data_dir: Path = DATA_DIR) -> BenchmarkCatalog:
    """Load and validate every packaged Benchmark version (`data/benchmark/*.json`)."""
    files = sorted((data_dir / PROGRAM).glob("*.json"))
    return BenchmarkCatalog(parse_benchmark(f.read_text(encoding="utf-8")) for f in files)
