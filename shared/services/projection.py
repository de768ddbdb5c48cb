"""A clinic's annual incentive projected at its current rates: what the annual run would pay if the year
ended on `as_of` with the evidence known then (the Cozeva-style "projected incentive payments, updated with
each data refresh" of the APC seed).

Nothing here counts or scores on its own: a member is counted by the annual run's own counters
(`shared/services/kinds/annual.py` for Benchmark P4P, `annual_apc.py` for APC Element 3) and scored by
the same payout and incentive rules, so a projection made on the year's last day with the year's evidence
is the annual run's figure for that clinic. What differs, on purpose:

- **Members**: those assigned to the clinic now (the registry's members). A member who counts for another
  clinic under the 9-of-12 rule is counted there only by the annual run.
- **Evidence**: what was known on `as_of` (the annual run counts what arrived by its deadlines).
- **Pool**: a Benchmark payout before any funding pool's split (the split needs every clinic's claim).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from shared.logic.annual_incentives import LineCounts
from shared.models.ledger import MeasureLine
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import ShardOutput
from shared.programs.apc import ApcProgram
from shared.programs.benchmark import BenchmarkProgram
from shared.programs.care_gap import CareGapProgram
from shared.services.kinds.annual import (
    BenchmarkCounter,
    benchmark_prior_rates,
    line_payouts,
    measure_lines,
    merge_lines,
    rated_clinics,
)
from shared.services.kinds.annual_apc import (
    ApcCounter,
    PracticeResult,
    apc_practices,
    merge_practices,
    practice_results,
    prior_rates,
)
from shared.services.kinds.base import RunContext


@dataclass(frozen=True)
class BenchmarkLineProjection:
    """One line of business as Benchmark P4P would pay it at current rates."""

    line_of_business: str
    assigned_members: int
    composite: Fraction
    eligible: bool
    reason: str | None
    cents: int
    measures: tuple[MeasureLine, ...]


@dataclass(frozen=True)
class ClinicProjection:
    """A clinic's projected annual incentive: Benchmark P4P's lines (a Care Gap clinic's are what its
    earnings guarantee is measured against, not a payment) and APC Element 3 for an APC practice."""

    clinic_id: str
    year: int
    as_of: date
    benchmark_pays: bool
    benchmark_lines: tuple[BenchmarkLineProjection, ...] = ()
    apc: PracticeResult | None = None

    @property
    def benchmark_cents(self) -> int:
        return sum(line.cents for line in self.benchmark_lines)

    @property
    def apc_cents(self) -> int:
        return self.apc.result.total_cents if self.apc else 0

    @property
    def total_cents(self) -> int:
        """What the year's annual run would pay the clinic: Benchmark only where it pays, plus APC."""
        return (self.benchmark_cents if self.benchmark_pays else 0) + self.apc_cents


def known_on(facts: MemberFacts, as_of: date) -> MemberFacts:
    """The member as known on `as_of`: evidence received after it is not counted yet."""
    kept = tuple(e for e in facts.evidence if e.known_date <= as_of)
    return facts if len(kept) == len(facts.evidence) else facts.model_copy(update={"evidence": kept})


class Projector:
    """Projections for one measurement year; last year's rates (improvement, APC baselines) read once."""

    def __init__(self, ctx: RunContext, year: int, clinics: Mapping[str, Clinic]) -> None:
        self.year = year
        self._clinics = clinics
        self._care_gap: CareGapProgram | None = ctx.programs.care_gap.for_year(year)
        self._benchmark: BenchmarkProgram | None = ctx.programs.benchmark.for_year(year)
        self._apc: ApcProgram | None = ctx.programs.apc.for_year(year)
        care_gap = self._care_gap
        rated = rated_clinics(clinics.values(), year, care_gap) if care_gap and self._benchmark else []
        self._rated = {c.clinic_id: c for c in rated}
        self._practices = apc_practices(clinics.values(), year) if self._apc else {}
        self._prior = benchmark_prior_rates(ctx, year) if self._rated else {}
        self._baselines = prior_rates(ctx, year) if self._practices else {}

    def applies(self, clinic_id: str) -> bool:
        """True when an annual program rates the clinic this year."""
        return clinic_id in self._rated or clinic_id in self._practices

    def clinic(self, clinic_id: str, members: Iterable[MemberFacts], as_of: date) -> ClinicProjection | None:
        """The clinic's projection from its members as known on `as_of`; None when no program rates it."""
        counts = self.count(clinic_id, members, as_of)
        return self.project(clinic_id, [counts] if counts is not None else [], as_of)

    def count(self, clinic_id: str, members: Iterable[MemberFacts], as_of: date) -> ShardOutput | None:
        """The annual counters over some of the clinic's members as known on `as_of` (a shard's part: the
        parts of every shard add up, as the annual run's do); None when no program rates the clinic."""
        if not self.applies(clinic_id) or self._care_gap is None:
            return None
        counter = (
            BenchmarkCounter(self._benchmark, self._care_gap)
            if self._benchmark is not None and clinic_id in self._rated
            else None
        )
        in_apc = self._apc is not None and clinic_id in self._practices
        apc = ApcCounter(self._apc, self._care_gap, self.year) if self._apc and in_apc else None
        only = {clinic_id: self._clinics[clinic_id]}
        for facts in members:
            known = known_on(facts, as_of)
            if counter is not None:
                counter.add(known, only)
            if apc is not None:
                apc.add(known, only)
        return ShardOutput(
            run_id="projection",
            shard_id=clinic_id,
            measure_counts=tuple(counter.measure_counts()) if counter else (),
            panel_counts=tuple(counter.panel_counts()) if counter else (),
            apc_counts=tuple(apc.counts()) if apc else (),
            apc_contributions=tuple(apc.contributions()) if apc else (),
            apc_panels=tuple(apc.panels()) if apc else (),
        )

    def project(self, clinic_id: str, counts: Sequence[ShardOutput], as_of: date) -> ClinicProjection | None:
        """The clinic's projection from its counters (`count`'s parts, summed); None when no program rates
        it."""
        if not self.applies(clinic_id) or self._care_gap is None:
            return None
        clinic = self._clinics[clinic_id]
        rated = self._benchmark is not None and clinic_id in self._rated
        in_apc = self._apc is not None and clinic_id in self._practices
        return ClinicProjection(
            clinic_id=clinic_id,
            year=self.year,
            as_of=as_of,
            benchmark_pays=clinic.in_benchmark_for(self.year),
            benchmark_lines=self._benchmark_lines(clinic, counts) if rated else (),
            apc=self._apc_result(clinic, counts) if in_apc else None,
        )

    def _benchmark_lines(
        self, clinic: Clinic, parts: Sequence[ShardOutput]
    ) -> tuple[BenchmarkLineProjection, ...]:
        program = self._benchmark
        assert program is not None
        lines: Mapping[str, LineCounts] = merge_lines(parts).get(clinic.clinic_id, {})
        prior = self._prior.get(clinic.clinic_id, {})
        found = []
        for lob, (counts, result) in line_payouts(program, clinic, lines, prior).items():
            measures = measure_lines(program, clinic, counts, result, prior.get(lob, {}))
            found.append(
                BenchmarkLineProjection(
                    line_of_business=lob,
                    assigned_members=result.assigned_members,
                    composite=result.composite,
                    eligible=result.eligible,
                    reason=result.reason,
                    cents=result.payment_cents,
                    measures=measures,
                )
            )
        return tuple(found)

    def _apc_result(self, clinic: Clinic, counts: Sequence[ShardOutput]) -> PracticeResult | None:
        program = self._apc
        assert program is not None
        cid = clinic.clinic_id
        year = merge_practices(counts).get(cid)
        if year is None or not year.member_months:
            return None
        results = practice_results(program, {cid: clinic}, {cid: year}, self._baselines)
        return results.get(cid)
