"""APC Element 3 in the annual run: each APC practice's rates for the measurement year from the one measure
engine, scored by the performance incentive (`shared/logic/apc_incentive.py`) and paid as one entry.

- **Who**: a practice is in APC when it is on an APC payment track with some payer (its own track included)
  at the end of some month of the year (`Clinic.in_apc_on`).
- **Attribution**: the roster until claims-based attribution runs: a member-month belongs to the practice a
  roster span covers in it (`attributed_months`). Utilization and cost count the months attributed to each
  practice; quality measures count once per member, at the practice of the latest attributed month
  (`quality_practice`).
- **What is known**: evidence received by the end of the program's data runout (three months after the
  year in the seed, `incentive.data_runout_months`).
- **Baseline**: the practice's rate for the prior measurement year, from that year's final annual run.
- **Who pays** (plans paying together): the practice's score is one, over every attributed member whatever
  the payer (the common methodology); each payer the practice is on an APC track with pays that score on its
  own member months: a member-month is the payer's of the roster span at the practice in it (of two, the
  later span), and counts when the practice is on a track with that payer at the month's end
  (`Clinic.apc_track_on`). Each shard keeps its member months per practice and payer beside its result
  (`apc_payer_months_key`).
- **Money**: per payer, the calculator's total on the payer's maximum (incentive PMPM x its member months,
  half up to the cent), each measure's cents (floor plus largest remainders); one entry per practice and
  payer explains every measure with its rate, baseline, levels, category, share and amount.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from shared.dal.errors import NotFoundError
from shared.logic.annual_incentives import attributed_months, quality_practice, runout_end
from shared.logic.apc_incentive import apc_incentive
from shared.logic.apc_rates import (
    PracticeRate,
    PracticeSums,
    ProportionCount,
    RateUnit,
    incentive_measures,
    practice_rates,
)
from shared.logic.dates import month_end
from shared.logic.measures.apc import (
    ApcMemberYear,
    Contribution,
    apc_member_year,
    apc_rated_measures,
    apc_valuesets,
)
from shared.models.apc import IncentiveInput, IncentiveResult
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry, PerformanceIncentive, PerformanceLine
from shared.models.members import ApcPaymentTrack, Clinic, EligibilitySpan, MemberFacts
from shared.models.runs import ApcContribution, ApcCount, ApcPanel, RunRef, ShardOutput
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.apc import ApcProgram
from shared.programs.care_gap import CareGapProgram
from shared.services.kinds.base import RunContext

APC_PROGRAM = "apc"
ELEMENT3_SCHEME = "apc_element3"
SHARE_PLACES = Decimal("0.0000000001")


def apc_rates_key(run_id: str) -> str:
    """A final annual run's APC rates per practice, in the curated bucket (next year's baselines)."""
    return f"{Prefix.RUNS}{run_id}/apc-rates.json"


def apc_payer_months_key(run_id: str, shard_id: str) -> str:
    """One shard's APC member months per practice and payer, in the curated bucket (written by the shard)."""
    return f"{Prefix.RUNS}{run_id}/apc-payer-months/{shard_id}.json"


def apc_practices(clinics: Iterable[Clinic], year: int | None = None) -> dict[str, Clinic]:
    """The clinics in APC: with `year`, on an APC track with some payer (their own track included) at the
    end of some month of it; without, on their own track as the latest clinics row without a payer says."""
    if year is None:
        return {c.clinic_id: c for c in clinics if c.apc_payment_track is not ApcPaymentTrack.NONE}
    ends = [month_end(f"{year}-{m:02d}") for m in range(1, 13)]
    return {c.clinic_id: c for c in clinics if any(c.in_apc_on(day) for day in ends)}


def month_payer(spans: Iterable[EligibilitySpan], clinic_id: str, month: str, plan_payer: str) -> str:
    """The payer of a member-month at a practice: the payer of the roster span there covering the month (of
    two, the one that began later, then the lower payer id); `plan_payer` for a span that names none."""
    first, last = date(int(month[:4]), int(month[5:7]), 1), month_end(month)
    covering = [
        s for s in spans if s.clinic_id == clinic_id and s.start <= last and (s.end is None or s.end >= first)
    ]
    latest = sorted(covering, key=lambda s: (-s.start.toordinal(), s.payer(plan_payer)))
    return latest[0].payer(plan_payer) if latest else plan_payer


class ApcCounter:
    """A shard's APC sums per practice: quality counts, utilization and cost contributions, member months."""

    def __init__(
        self, program: ApcProgram, care_gap: CareGapProgram, year: int, *, payer: str = DEFAULT_PAYER
    ) -> None:
        self.program = program
        self.payer = payer
        self.year = year
        self.rated = apc_rated_measures(program)
        self.valuesets = apc_valuesets(care_gap)
        self.known_by = runout_end(year, program.incentive.data_runout_months)
        self.sums: dict[str, PracticeSums] = defaultdict(PracticeSums)
        self.months: dict[str, int] = defaultdict(int)
        self.paid: dict[tuple[str, str], int] = defaultdict(int)

    def add(
        self,
        facts: MemberFacts,
        practices: Mapping[str, Clinic],
        found: dict[str, ApcMemberYear] | None = None,
    ) -> None:
        """Count one member at each APC practice it was attributed to in the year; `found`, when given,
        receives the member's results at each practice as counted (what `p4p explain` reads)."""
        every = attributed_months(facts.spans, self.year)
        months = {c: m for c, m in every.items() if c in practices}
        if not months:
            return
        # The latest attribution decides, APC practice or not: a member who left for a clinic outside APC
        # counts in no APC practice's quality rates.
        quality_at = quality_practice(facts.spans, every)
        for clinic_id, attributed in sorted(months.items()):
            self.months[clinic_id] += len(attributed)
            for month in attributed:
                payer = month_payer(facts.spans, clinic_id, month, self.payer)
                if practices[clinic_id].apc_track_on(payer, month_end(month)) is not ApcPaymentTrack.NONE:
                    self.paid[(clinic_id, payer)] += 1
            member_year = apc_member_year(
                facts,
                self.rated,
                year=self.year,
                months=attributed,
                program=self.program,
                valuesets=self.valuesets,
                known_by=self.known_by,
                quality=clinic_id == quality_at,
            )
            self.sums[clinic_id].add(member_year)
            if found is not None:
                found[clinic_id] = member_year

    def counts(self) -> list[ApcCount]:
        return [
            ApcCount(clinic_id=c, rate=rate, part=part, denominator=n.denominator, numerator=n.numerator)
            for c, sums in sorted(self.sums.items())
            for rate, parts in sorted(sums.proportions.items())
            for part, n in sorted(parts.items())
        ]

    def contributions(self) -> list[ApcContribution]:
        return [
            ApcContribution(
                clinic_id=c,
                rate=rate,
                member_months=x.member_months,
                factor_months=x.factor_months,
                events=x.events,
                cost_cents=x.cost_cents,
                unpriced_lines=x.unpriced_lines,
            )
            for c, sums in sorted(self.sums.items())
            for rate, x in sorted(sums.contributions.items())
        ]

    def panels(self) -> list[ApcPanel]:
        return [ApcPanel(clinic_id=c, member_months=n) for c, n in sorted(self.months.items())]

    def payer_months(self) -> dict[str, dict[str, int]]:
        """Member months per practice and payer, of the months the practice is on a track with the payer."""
        found: dict[str, dict[str, int]] = defaultdict(dict)
        for (clinic_id, payer), n in sorted(self.paid.items()):
            found[clinic_id][payer] = n
        return dict(found)


def merge_payer_months(parts: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    """The shards' member months per practice and payer, added."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for part in parts:
        for clinic_id, payers in part.items():
            for payer, n in payers.items():
                found[clinic_id][payer] += int(n)
    return {c: dict(sorted(p.items())) for c, p in sorted(found.items())}


def shard_payer_months(
    ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput], practices: Mapping[str, Clinic]
) -> dict[str, dict[str, int]]:
    """Every shard's member months per practice and payer (a shard without APC member months has none).

    A shard whose months per payer were not kept (a caller that counts in-process, as the what-if does, or a
    shard earned before payers were counted) has all its months as the deploying plan's, paid when the
    practice is on a track with the plan at the year's end: what one payer's deployment always paid."""
    parts: list[Mapping[str, Mapping[str, int]]] = []
    end = year_end(int(run.period))
    for out in outputs:
        if not out.apc_panels:
            continue
        try:
            parts.append(ctx.objects.get_json(ctx.curated, apc_payer_months_key(run.run_id, out.shard_id)))
        except NotFoundError:
            logger.info("apc payer months not kept; counted as the plan's", shard=out.shard_id)
            parts.append(
                {
                    p.clinic_id: {ctx.payer: p.member_months}
                    for p in out.apc_panels
                    if p.clinic_id in practices
                    and practices[p.clinic_id].apc_track_on(ctx.payer, end) is not ApcPaymentTrack.NONE
                }
            )
    return merge_payer_months(parts)


@dataclass
class PracticeYear:
    """One practice's year: its sums over the shards and its member months."""

    sums: PracticeSums = field(default_factory=PracticeSums)
    member_months: int = 0


def merge_practices(outputs: Sequence[ShardOutput]) -> dict[str, PracticeYear]:
    """Each APC practice's sums over the shards."""
    found: dict[str, PracticeYear] = defaultdict(PracticeYear)
    for out in outputs:
        for count in out.apc_counts:
            parts = found[count.clinic_id].sums.proportions.setdefault(count.rate, {})
            parts[count.part] = parts.get(count.part, ProportionCount()) + ProportionCount(
                count.denominator, count.numerator
            )
        for c in out.apc_contributions:
            sums = found[c.clinic_id].sums.contributions
            sums[c.rate] = sums.get(c.rate, Contribution()) + Contribution(
                c.member_months, c.factor_months, c.events, c.cost_cents, c.unpriced_lines
            )
        for panel in out.apc_panels:
            found[panel.clinic_id].member_months += panel.member_months
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class PracticeResult:
    """A practice's rates, the rates scored and what the calculator found on all its member months (every
    payer's: the practice's one score; `practice` is what was scored)."""

    clinic: Clinic
    member_months: int
    rates: dict[str, PracticeRate]
    baselines: dict[str, PracticeRate]
    result: IncentiveResult
    practice: IncentiveInput


def practice_results(
    program: ApcProgram,
    practices: Mapping[str, Clinic],
    years: Mapping[str, PracticeYear],
    baselines: Mapping[str, Mapping[str, PracticeRate]],
) -> dict[str, PracticeResult]:
    """Every APC practice's Element 3 for the year (a practice with no attributed member-month is absent)."""
    rated = apc_rated_measures(program)
    found = {}
    for clinic_id, year in years.items():
        clinic = practices.get(clinic_id)
        if clinic is None or not year.member_months:
            continue
        rates = practice_rates(year.sums, rated)
        codes = [m.code for m in program.incentive.applicable(clinic.practice_type)]
        prior = dict(baselines.get(clinic_id, {}))
        measures = incentive_measures(rates, codes, baselines=prior)
        practice = IncentiveInput(
            practice_type=clinic.practice_type,
            max_pmpm=program.incentive.max_pmpm,
            member_months=year.member_months,
            measures=measures,
        )
        found[clinic_id] = PracticeResult(
            clinic, year.member_months, rates, prior, apc_incentive(practice, program.incentive), practice
        )
    return found


def payer_result(program: ApcProgram, found: PracticeResult, member_months: int) -> IncentiveResult:
    """What one payer pays of a practice's score: the same measures and shares on the payer's maximum
    (incentive PMPM x the payer's member months), its total half up to the cent."""
    if member_months == found.member_months:
        return found.result
    practice = found.practice.model_copy(update={"member_months": member_months})
    return apc_incentive(practice, program.incentive)


def _share(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(SHARE_PLACES)


def performance_basis(
    program: ApcProgram, found: PracticeResult, result: IncentiveResult, member_months: int
) -> PerformanceIncentive:
    """A payer's entry's basis: the practice's rates, the validity rule in force and each measure's line
    (DSF-E's per component), with the payer's member months and `result` (`payer_result`)."""
    lines = []
    for code, outcome in result.measures.items():
        measure = program.incentive.measure(code)
        assert measure is not None
        rate = found.rates.get(code)
        baseline = found.baselines.get(code)
        unit = rate.unit.value if rate is not None else RateUnit.PERCENT.value
        for name, levels in measure.parts():
            part = rate.parts.get(name) if (rate is not None and name) else rate
            before = baseline.parts.get(name) if (baseline is not None and name) else baseline
            scored = outcome.components.get(name) if name else outcome
            # A measure in parts without a result (DSF-E invalid) is scored whole: its parts show 0.
            category, share, cents, reason = (
                (scored.category, scored.share, scored.amount_cents, scored.reason)
                if scored is not None
                else (outcome.category, Fraction(0), 0, outcome.reason)
            )
            lines.append(
                PerformanceLine(
                    measure=code,
                    component=name,
                    unit=unit,
                    denominator=part.denominator if part is not None else 0,
                    numerator=part.numerator if part is not None else 0,
                    rate=part.rate if part is not None else None,
                    baseline=before.rate if before is not None else None,
                    mpt=levels.mpt,
                    threshold=levels.threshold,
                    gold=levels.gold,
                    category=category.value,
                    share=_share(share),
                    amount_cents=cents,
                    reason=reason,
                )
            )
    return PerformanceIncentive(
        scheme=ELEMENT3_SCHEME,
        practice_type=found.clinic.practice_type.value,
        member_months=member_months,
        max_pmpm=program.incentive.max_pmpm,
        maximum_cents=result.maximum_cents,
        applicable_measures=result.applicable_measures,
        valid_measures=result.valid_measures,
        target=_share(result.target),
        scale=_share(result.scale),
        measures=tuple(lines),
    )


def rates_body(results: Mapping[str, PracticeResult]) -> dict[str, dict[str, Any]]:
    """The year's APC rates per practice and code, as next year's baselines read them."""

    def one(rate: PracticeRate) -> dict[str, Any]:
        return {
            "unit": rate.unit.value,
            "denominator": rate.denominator,
            "numerator": rate.numerator,
            "rate": str(rate.rate) if rate.rate is not None else None,
            "parts": {name: one(part) for name, part in rate.parts.items()},
        }

    return {c: {code: one(r) for code, r in found.rates.items()} for c, found in results.items()}


def prior_rates(ctx: RunContext, year: int) -> dict[str, dict[str, PracticeRate]]:
    """Last year's final annual run's APC rates per practice (none before the first year)."""
    try:
        body = ctx.objects.get_json(ctx.curated, apc_rates_key(f"annual-{year - 1}-final"))
    except NotFoundError:
        return {}

    def one(code: str, data: Mapping[str, Any]) -> PracticeRate:
        rate = data.get("rate")
        return PracticeRate(
            code=code,
            unit=RateUnit(data["unit"]),
            denominator=int(data["denominator"]),
            numerator=int(data["numerator"]),
            rate=Decimal(rate) if rate is not None else None,
            parts={name: one(f"{code} {name}", part) for name, part in data.get("parts", {}).items()},
        )

    return {c: {code: one(code, r) for code, r in rates.items()} for c, rates in body.items()}


def rates_rows(results: Mapping[str, PracticeResult], program: ApcProgram) -> list[tuple[object, ...]]:
    """The APC rates report's rows: every rate of every practice, incentive and tracking, with its unit,
    counts, rate and (utilization and cost) the rate before risk adjustment and the mean age/sex factor."""
    tracking = {m.code for m in program.incentive.tracking_measures}
    rows: list[tuple[object, ...]] = []
    for clinic_id, found in results.items():
        for code, rate in found.rates.items():
            for name, part in [("", rate), *rate.parts.items()]:
                if name == "" and rate.parts:
                    continue
                rows.append(
                    (
                        clinic_id,
                        code,
                        name,
                        "tracking" if code in tracking else "incentive",
                        part.unit.value,
                        part.denominator,
                        part.numerator,
                        "" if part.rate is None else part.rate,
                        "" if part.observed is None else part.observed,
                        "" if part.mean_factor is None else part.mean_factor,
                    )
                )
    return rows


def element3_entries(
    program: ApcProgram,
    results: Mapping[str, PracticeResult],
    payer_months: Mapping[str, Mapping[str, int]],
    entry: Any,
) -> list[LedgerEntry]:
    """One entry per practice and payer the incentive pays something (`payer_months`: each practice's
    member months per payer it is on a track with; `entry` builds the clinic entry)."""
    found = []
    for clinic_id, result in results.items():
        for payer, months in sorted(payer_months.get(clinic_id, {}).items()):
            if months <= 0:
                continue
            paid = payer_result(program, result, months)
            if paid.total_cents <= 0:
                continue
            found.append(
                entry(
                    program=APC_PROGRAM,
                    version=program.version,
                    clinic_id=clinic_id,
                    basis=performance_basis(program, result, paid, months),
                    cents=paid.total_cents,
                    payer=payer,
                )
            )
    return found


def year_end(year: int) -> date:
    return date(year, 12, 31)
