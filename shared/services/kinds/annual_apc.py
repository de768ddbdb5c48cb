"""APC Element 3 in the annual run: each APC practice's rates for the measurement year from the one measure
engine, scored by the performance incentive (`shared/logic/apc_incentive.py`) and paid as one entry.

- **Who**: a practice is in APC when the plan has it on an APC payment track (`Clinic.apc_payment_track`).
- **Attribution**: the roster until claims-based attribution runs: a member-month belongs to the practice a
  roster span covers in it (`attributed_months`). Utilization and cost count the months attributed to each
  practice; quality measures count once per member, at the practice of the latest attributed month
  (`quality_practice`).
- **What is known**: evidence received by the end of the program's data runout (three months after the
  year in the seed, `incentive.data_runout_months`).
- **Baseline**: the practice's rate for the prior measurement year, from that year's final annual run.
- **Money**: the calculator's total (half up to the cent), each measure's cents (floor plus largest
  remainders); the entry explains every measure with its rate, baseline, levels, category, share and amount.
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
from shared.logic.measures.apc import Contribution, apc_member_year, apc_rated_measures, apc_valuesets
from shared.models.apc import IncentiveInput, IncentiveResult
from shared.models.ledger import LedgerEntry, PerformanceIncentive, PerformanceLine
from shared.models.members import ApcPaymentTrack, Clinic, MemberFacts
from shared.models.runs import ApcContribution, ApcCount, ApcPanel, ShardOutput
from shared.models.tables import Prefix
from shared.programs.apc import ApcProgram
from shared.programs.care_gap import CareGapProgram
from shared.services.kinds.base import RunContext

APC_PROGRAM = "apc"
ELEMENT3_SCHEME = "apc_element3"
SHARE_PLACES = Decimal("0.0000000001")


def apc_rates_key(run_id: str) -> str:
    """A final annual run's APC rates per practice, in the curated bucket (next year's baselines)."""
    return f"{Prefix.RUNS}{run_id}/apc-rates.json"


def apc_practices(clinics: Iterable[Clinic]) -> dict[str, Clinic]:
    """The clinics the plan has on an APC payment track."""
    return {c.clinic_id: c for c in clinics if c.apc_payment_track is not ApcPaymentTrack.NONE}


class ApcCounter:
    """A shard's APC sums per practice: quality counts, utilization and cost contributions, member months."""

    def __init__(self, program: ApcProgram, care_gap: CareGapProgram, year: int) -> None:
        self.program = program
        self.year = year
        self.rated = apc_rated_measures(program)
        self.valuesets = apc_valuesets(care_gap)
        self.known_by = runout_end(year, program.incentive.data_runout_months)
        self.sums: dict[str, PracticeSums] = defaultdict(PracticeSums)
        self.months: dict[str, int] = defaultdict(int)

    def add(self, facts: MemberFacts, practices: Mapping[str, Clinic]) -> None:
        every = attributed_months(facts.spans, self.year)
        months = {c: m for c, m in every.items() if c in practices}
        if not months:
            return
        # The latest attribution decides, APC practice or not: a member who left for a clinic outside APC
        # counts in no APC practice's quality rates.
        quality_at = quality_practice(facts.spans, every)
        for clinic_id, attributed in sorted(months.items()):
            self.months[clinic_id] += len(attributed)
            found = apc_member_year(
                facts,
                self.rated,
                year=self.year,
                months=attributed,
                program=self.program,
                valuesets=self.valuesets,
                known_by=self.known_by,
                quality=clinic_id == quality_at,
            )
            self.sums[clinic_id].add(found)

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
    """A practice's rates, the rates scored and what the calculator found."""

    clinic: Clinic
    member_months: int
    rates: dict[str, PracticeRate]
    baselines: dict[str, PracticeRate]
    result: IncentiveResult


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
            clinic, year.member_months, rates, prior, apc_incentive(practice, program.incentive)
        )
    return found


def _share(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(SHARE_PLACES)


def performance_basis(program: ApcProgram, found: PracticeResult) -> PerformanceIncentive:
    """The entry's basis: the validity rule in force and each measure's line (DSF-E's per component)."""
    result = found.result
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
        member_months=found.member_months,
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
    program: ApcProgram, results: Mapping[str, PracticeResult], entry: Any
) -> list[LedgerEntry]:
    """One entry per practice the incentive pays something (`entry` builds the clinic entry)."""
    found = []
    for clinic_id, result in results.items():
        if result.result.total_cents <= 0:
            continue
        found.append(
            entry(
                program=APC_PROGRAM,
                version=program.version,
                clinic_id=clinic_id,
                basis=performance_basis(program, result),
                cents=result.result.total_cents,
            )
        )
    return found


def year_end(year: int) -> date:
    return date(year, 12, 31)
