"""The annual incentive run: per-clinic measure rates for the measurement year, for now paying nothing.

A final annual run opens only on or after the program's finalization date (the seed's timeline finalizes
the bonus from 06/01 of the following year); before it, only previews run. Benchmark P4P, the earnings
guarantee and APC Element 3 pay through this kind later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from shared.errors import DomainError
from shared.logic.rates import measure_counts
from shared.models.members import MemberFacts
from shared.models.runs import MeasureCount, RunKind, RunRef, RunRequest, ShardOutput
from shared.programs.catalog import ProgramSet
from shared.services.kinds.base import Report, RunContext, RunInputError, RunKindModule
from shared.services.statements import rates_csv


class NotFinalizedYetError(DomainError):
    """The program year's incentive cannot be run final before the program's finalization date."""


class AnnualIncentive(RunKindModule):
    """The annual incentive run of a program (measurement) year."""

    kind = RunKind.ANNUAL

    def period(self, request: RunRequest) -> str:
        if request.month is not None:
            raise RunInputError("an annual run takes `program_year` only, not `month`")
        return str(request.program_year)

    def check_open(self, ctx: RunContext, request: RunRequest, period: str) -> None:
        program = ctx.programs.benchmark.for_year(int(period))
        if program is None:
            raise NotFinalizedYetError(f"no benchmark program version is in force for {period}")
        today, first = ctx.now().date(), program.timeline.finalization_from
        if today < first:
            raise NotFinalizedYetError(
                f"the {period} incentive is finalized from {first.isoformat()} "
                f"(today is {today.isoformat()}); until then run a preview"
            )

    def earn(
        self, ctx: RunContext, run: RunRef, shard_id: str, members: Sequence[MemberFacts]
    ) -> ShardOutput:
        year = int(run.period)
        program = ctx.catalog.find(date(year, 12, 31))
        counts = measure_counts(list(members), program=program, year=year) if program else []
        return ShardOutput(run_id=run.run_id, shard_id=shard_id, measure_counts=tuple(counts))

    def reports(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> list[Report]:
        return [Report(name="rates.csv", body=rates_csv(merge_counts(outputs)))]

    def single_operator(self, programs: ProgramSet, period: str) -> bool:
        program = programs.benchmark.for_year(int(period))
        return bool(program and program.approval.single_operator)

    def request_fields(self, period: str) -> dict[str, str]:
        return {}


def merge_counts(outputs: Sequence[ShardOutput]) -> list[MeasureCount]:
    """Denominators and numerators summed over the shards, per clinic and action."""
    den: dict[tuple[str, str], int] = defaultdict(int)
    num: dict[tuple[str, str], int] = defaultdict(int)
    for out in outputs:
        for m in out.measure_counts:
            den[(m.clinic_id, m.action)] += m.denominator
            num[(m.clinic_id, m.action)] += m.numerator
    return [
        MeasureCount(clinic_id=c, action=a, denominator=den[(c, a)], numerator=num[(c, a)])
        for c, a in sorted(den)
    ]
