"""The annual incentive run of a measurement year: Benchmark P4P and the Care Gap earnings guarantee.

A final annual run opens only on or after Benchmark's finalization date (the seed's timeline finalizes the
bonus from 06/01 of the following year); before it, only previews run. Each shard counts, per clinic and
line of business, the members who count under the 9-of-12 rule and each measure's denominator and
numerator from the measure engine, on the evidence the program counts (`shared/logic/annual_incentives.py`).
The whole run then settles: a Benchmark clinic is paid its payout per line (or its share of the funding
pool); a Care Gap clinic in a guaranteed year gets its prorated Benchmark bonus and the make-whole top-up,
set against its net Care Gap earnings from the year's monthly runs. Entries are clinic entries with a
measure-incentive or guarantee basis, recorded like the monthly run's carried balances.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from shared.dal.errors import NotFoundError
from shared.errors import DomainError
from shared.logic.annual_incentives import (
    LineCounts,
    attests_compliance,
    benchmark_input,
    full_year_bonus,
    guarantee,
    known_evidence,
    panels_of,
    rate_percent,
)
from shared.logic.benchmark import benchmark_payout, check_pool, split_pool
from shared.logic.eligibility import span_on
from shared.logic.fhir_export import annual_exports, benchmark_measures
from shared.logic.keys import key_segment
from shared.logic.rates import member_outcomes, menu_code_sets
from shared.logic.reversals import settle_run_entries
from shared.models.gaps import Gap, GapStatus
from shared.models.incentives import BenchmarkResult, GuaranteeResult, PoolClaim
from shared.models.ledger import (
    BENCHMARK_SCHEME,
    DEFAULT_PAYER,
    EntryKind,
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    MeasureLine,
    PerformanceIncentive,
)
from shared.models.members import BENCHMARK_PROGRAM, CARE_GAP_PROGRAM, Clinic, MemberFacts
from shared.models.runs import (
    MeasureCount,
    PanelCount,
    RunKind,
    RunMode,
    RunRef,
    RunRequest,
    ShardOutput,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.apc import ApcProgram
from shared.programs.benchmark import BenchmarkProgram
from shared.programs.care_gap import CareGapProgram
from shared.programs.catalog import ProgramSet
from shared.programs.measures import RatedMeasure, ValueSets, measure_catalog
from shared.services.kinds.annual_apc import (
    ApcCounter,
    PracticeResult,
    apc_payer_months_key,
    apc_practices,
    apc_rates_key,
    element3_entries,
    merge_practices,
    practice_results,
    shard_payer_months,
)
from shared.services.kinds.annual_apc import prior_rates as apc_prior_rates
from shared.services.kinds.annual_apc import rates_body as apc_rates_body
from shared.services.kinds.annual_apc import rates_rows as apc_rates_rows
from shared.services.kinds.base import (
    Report,
    RunContext,
    RunInputError,
    RunKindModule,
    earnings_key,
    rates_key,
)
from shared.services.kinds.monthly import member_gaps_on
from shared.services.run_records import final_runs
from shared.services.statements import (
    apc_rates_csv,
    guarantee_csv,
    incentive_statement_csv,
    incentive_statement_html,
    rates_csv,
)

FHIR_JSON = "application/fhir+json"


class NotFinalizedYetError(DomainError):
    """The program year's incentive cannot be run final before the program's finalization date."""


class AnnualIncentive(RunKindModule):
    """The annual incentive run of a program (measurement) year."""

    kind = RunKind.ANNUAL
    legacy_program = BENCHMARK_PROGRAM

    def pages_as_of(self, period: str, today: date) -> date:
        return date(int(period), 12, 31)

    def pays_in(self, period: str) -> str:
        """An annual run's entries are earned in its finalization's month, the year after its period."""
        return f"{int(period) + 1}-06"

    def period(self, request: RunRequest) -> str:
        if request.month is not None or request.quarter is not None:
            field = "month" if request.month is not None else "quarter"
            raise RunInputError(f"an annual run takes `program_year` only, not `{field}`")
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
        """A shard's Benchmark counts, APC sums and year-end Care Gap registry (no entries: the run pays at
        settlement, per clinic)."""
        year = int(run.period)
        benchmark = ctx.programs.benchmark.for_year(year)
        care_gap = ctx.programs.care_gap.for_year(year)
        apc = ctx.programs.apc.for_year(year)
        if care_gap is None:
            return ShardOutput(run_id=run.run_id, shard_id=shard_id)
        every_clinic = ctx.gaps.clinics()
        clinics = {c.clinic_id: c for c in rated_clinics(every_clinic.values(), year, care_gap)}
        counter = BenchmarkCounter(benchmark, care_gap) if benchmark is not None else None
        practices = apc_practices(every_clinic.values(), year) if apc is not None else {}
        apc_counter = (
            ApcCounter(apc, care_gap, year, payer=ctx.payer) if apc is not None and practices else None
        )
        registry: dict[str, list[Gap]] = defaultdict(list)
        year_end = date(year, 12, 31)
        for facts in members:
            if counter is not None:
                counter.add(facts, clinics)
            if apc_counter is not None:
                apc_counter.add(facts, practices)
            for gap in _registry_gaps(ctx, facts, every_clinic, year_end):
                registry[gap.clinic].append(gap.gap)
        for clinic_id, gaps in sorted(registry.items()):
            body = [g.model_dump(mode="json") for g in gaps]
            ctx.objects.put_json(ctx.curated, care_gaps_part_key(run.run_id, clinic_id, shard_id), body)
        if apc_counter is not None and apc_counter.months:
            key = apc_payer_months_key(run.run_id, shard_id)
            ctx.objects.put_json(ctx.curated, key, apc_counter.payer_months())
        return ShardOutput(
            run_id=run.run_id,
            shard_id=shard_id,
            measure_counts=tuple(counter.measure_counts()) if counter else (),
            panel_counts=tuple(counter.panel_counts()) if counter else (),
            apc_counts=tuple(apc_counter.counts()) if apc_counter else (),
            apc_contributions=tuple(apc_counter.contributions()) if apc_counter else (),
            apc_panels=tuple(apc_counter.panels()) if apc_counter else (),
        )

    def settle(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> list[LedgerEntry]:
        """The year's incentives: Benchmark payouts and the guarantee parts, APC Element 3 per practice
        (recorded in final mode); rates kept for next year's improvement and baselines."""
        wanted: list[LedgerEntry] = []
        year = _year_results(ctx, run, outputs)
        if year is not None:
            wanted += _incentives(run, year) + _guarantee_entries(run, year)
            if run.mode is RunMode.FINAL:
                ctx.objects.put_json(ctx.curated, rates_key(run.run_id), _rates_body(year.lines))
            # What RenderStatements reports, so it need not read the registry for the monthly runs again.
            figures = {c: g.model_dump(mode="json") for c, g in year.guarantees.items()}
            ctx.objects.put_json(ctx.curated, guarantees_key(run.run_id), figures)
        apc = ctx.programs.apc.for_year(int(run.period))
        if apc is not None:
            practices = apc_practices(ctx.gaps.clinics().values(), int(run.period))
            results = _apc_results(ctx, run, apc, outputs, practices)
            payer_months = shard_payer_months(ctx, run, outputs, practices)
            wanted += element3_entries(apc, results, payer_months, partial(_clinic_entry, run))
            if run.mode is RunMode.FINAL:
                ctx.objects.put_json(ctx.curated, apc_rates_key(run.run_id), apc_rates_body(results))
        return record_clinic_entries(ctx, run, wanted)

    def statement_csv(
        self,
        run_id: str,
        clinic: Clinic,
        entries: Sequence[LedgerEntry],
        categories: Mapping[tuple[str, str], str],
        banner: str | None,
    ) -> bytes:
        return incentive_statement_csv(entries, banner=banner)

    def statement_html(
        self,
        run_id: str,
        clinic: Clinic,
        entries: Sequence[LedgerEntry],
        categories: Mapping[tuple[str, str], str],
        banner: str | None,
    ) -> bytes:
        return incentive_statement_html(run_id, clinic, entries, banner=banner)

    def reports(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> Iterator[Report]:
        """The rates report; the guarantee report (every guaranteed clinic's figures, a top-up of zero
        included: a clinic whose Care Gap earnings passed its equivalent Benchmark has no entry to show); the
        FHIR exports per clinic (`docs/fhir-exports.md`), one clinic at a time."""
        counts = merge_counts(outputs)
        yield Report(name="rates.csv", body=rates_csv(counts))
        year = int(run.period)
        apc = ctx.programs.apc.for_year(year)
        if apc is not None and any(out.apc_panels for out in outputs):
            results = _apc_results(ctx, run, apc, outputs)
            yield Report(name="apc-rates.csv", body=apc_rates_csv(apc_rates_rows(results, apc)))
        benchmark = ctx.programs.benchmark.for_year(year)
        care_gap = ctx.programs.care_gap.for_year(year)
        if benchmark is None or care_gap is None:
            return
        if care_gap.earnings_guarantee:
            body = ctx.objects.get_json(ctx.curated, guarantees_key(run.run_id))
            figures = {c: GuaranteeResult.model_validate(g) for c, g in body.items()}
            yield Report(name="guarantee.csv", body=guarantee_csv(run.run_id, figures))
        yield from _fhir_reports(ctx, run, benchmark, counts, outputs)

    def single_operator(self, programs: ProgramSet, period: str) -> bool:
        program = programs.benchmark.for_year(int(period))
        return bool(program and program.approval.single_operator)

    def request_fields(self, period: str) -> dict[str, str]:
        return {}


def record_clinic_entries(ctx: RunContext, run: RunRef, wanted: list[LedgerEntry]) -> list[LedgerEntry]:
    """Record a run's clinic entries (final mode): a resumed or recalculated run reverses only what changed.
    Returns every clinic entry the run holds (a preview: what it would record)."""
    if run.mode is RunMode.PREVIEW:
        return wanted
    own = [e for e in ctx.ledger.by_run(run.run_id) if not e.member_id]
    for entry in settle_run_entries(own, wanted, run_id=run.run_id, month=run_month(run)):
        stored, _ = ctx.ledger.record(entry)
        own.append(stored)
    return sorted({e.entry_id: e for e in own}.values(), key=lambda e: e.entry_id)


def run_month(run: RunRef) -> str:
    """The month an annual run's entries are earned in: its finalization's, the year after its period."""
    return AnnualIncentive().pays_in(run.period)


@dataclass(frozen=True)
class YearResults:
    """What a year's annual run found: the programs in force, each clinic's lines and payouts as if in
    Benchmark, last year's rates and the guarantee of every guaranteed clinic."""

    benchmark: BenchmarkProgram
    care_gap: CareGapProgram
    clinics: Mapping[str, Clinic]
    lines: Mapping[str, Mapping[str, LineCounts]]
    results: Mapping[str, Mapping[str, tuple[LineCounts, BenchmarkResult]]]
    prior: Mapping[str, Mapping[str, Mapping[str, Decimal]]]
    guarantees: Mapping[str, GuaranteeResult]


def _year_results(ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> YearResults | None:
    """The year's results from the shards' counts (None when no version of either program is in force)."""
    year = int(run.period)
    benchmark = ctx.programs.benchmark.for_year(year)
    care_gap = ctx.programs.care_gap.for_year(year)
    if benchmark is None or care_gap is None:
        return None
    lines = merge_lines(outputs)
    clinics = ctx.gaps.clinics()
    prior = benchmark_prior_rates(ctx, year)
    results = {
        clinic_id: line_payouts(benchmark, clinic, lines.get(clinic_id, {}), prior.get(clinic_id, {}))
        for clinic_id, clinic in clinics.items()
        if clinic_id in lines
    }
    guarantees = guarantee_results(year, care_gap, clinics, results, _care_gap_earnings(ctx, year))
    return YearResults(benchmark, care_gap, clinics, lines, results, prior, guarantees)


def guarantees_key(run_id: str) -> str:
    """The run's guarantee figures per clinic, in the curated bucket (written at settlement)."""
    return f"{Prefix.RUNS}{run_id}/guarantees.json"


def care_gaps_part_key(run_id: str, clinic_id: str, shard_id: str) -> str:
    """One shard's registry gaps of one clinic's members, in the curated bucket (the FHIR export's input)."""
    return f"{Prefix.RUNS}{run_id}/care-gaps/{key_segment(clinic_id)}/{shard_id}.json"


@dataclass(frozen=True)
class _ClinicGap:
    clinic: str
    gap: Gap


def _registry_gaps(
    ctx: RunContext, facts: MemberFacts, clinics: Mapping[str, Clinic], year_end: date
) -> Iterator[_ClinicGap]:
    """The member's registry at year end: the gaps that apply at a Care Gap clinic the member is assigned
    to on 31 December."""
    span = span_on(facts.spans, year_end)
    clinic = clinics.get(span.clinic_id) if span else None
    if clinic is None or not clinic.in_care_gap_on(year_end):
        return
    for gap in member_gaps_on(ctx, facts, clinics, year_end):
        if gap.status is not GapStatus.NOT_APPLICABLE:
            yield _ClinicGap(clinic.clinic_id, gap)


def _fhir_reports(
    ctx: RunContext,
    run: RunRef,
    benchmark: BenchmarkProgram,
    counts: Sequence[MeasureCount],
    outputs: Sequence[ShardOutput],
) -> Iterator[Report]:
    """Each clinic's FHIR exports, built and yielded one clinic at a time so memory holds one clinic."""
    record = ctx.runs.get(run.run_id)
    generated = record.started_at if record else ctx.now()  # the run's start dates every report
    measures = benchmark_measures(benchmark)
    clinics = ctx.gaps.clinics()
    entries = [e for out in outputs for e in out.entries]  # the settled run's clinic entries
    by_clinic_entries: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_clinic_entries[entry.clinic_id].append(entry)
    by_clinic_counts: dict[str, list[MeasureCount]] = defaultdict(list)
    for count in counts:
        by_clinic_counts[count.clinic_id].append(count)
    prefix = f"{Prefix.RUNS}{run.run_id}/care-gaps/"
    parts: dict[str, list[str]] = defaultdict(list)
    for key in ctx.objects.keys(ctx.curated, prefix):
        parts[key[len(prefix) :].split("/", 1)[0]].append(key)
    known = {key_segment(c): c for c in clinics}
    for clinic_id in sorted(set(by_clinic_counts) | set(by_clinic_entries) | {known[p] for p in parts}):
        gaps = [
            Gap.model_validate(g)
            for key in sorted(parts.get(key_segment(clinic_id), []))
            for g in ctx.objects.get_json(ctx.curated, key)
        ]
        exports = annual_exports(
            run.run_id,
            int(run.period),
            {clinic_id: clinics[clinic_id]},
            by_clinic_counts.get(clinic_id, []),
            {clinic_id: gaps} if gaps else {},
            {clinic_id: by_clinic_entries[clinic_id]} if clinic_id in by_clinic_entries else {},
            measures=measures,
            generated=generated,
            plan_payer=ctx.payer,
        )
        for name, resource in exports.items():
            body = json.dumps(resource, indent=1).encode()
            yield Report(name=name, body=body, content_type=FHIR_JSON, for_clinic=True)


def _apc_results(
    ctx: RunContext,
    run: RunRef,
    apc: ApcProgram,
    outputs: Sequence[ShardOutput],
    practices: Mapping[str, Clinic] | None = None,
) -> dict[str, PracticeResult]:
    if practices is None:
        practices = apc_practices(ctx.gaps.clinics().values(), int(run.period))
    return practice_results(apc, practices, merge_practices(outputs), apc_prior_rates(ctx, int(run.period)))


def rated_clinics(clinics: Any, year: int, care_gap: CareGapProgram) -> list[Clinic]:
    """Clinics Benchmark rates for `year`: those it pays, and the guaranteed Care Gap clinics (as if they had
    stayed)."""
    return [
        c
        for c in clinics
        if c.in_benchmark_for(year) or (care_gap.earnings_guarantee and c.care_gap_start(year) is not None)
    ]


class BenchmarkCounter:
    """A shard's Benchmark counts: members per clinic line, and each measure's denominator and numerator."""

    def __init__(self, benchmark: BenchmarkProgram, care_gap: CareGapProgram) -> None:
        self.program = benchmark
        catalog = measure_catalog()
        self.rated: dict[str, RatedMeasure] = {r.rate.rate: r for r in catalog.rated(BENCHMARK_PROGRAM)}
        additions = catalog.code_set_codes(BENCHMARK_PROGRAM, menu_code_sets(care_gap))
        self.valuesets = ValueSets().with_codes(additions)
        self.panels: dict[tuple[str, str], int] = defaultdict(int)
        self.counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, facts: MemberFacts, clinics: Mapping[str, Clinic]) -> None:
        panels = [(c, lob) for c, lob in panels_of(facts, self.program) if c in clinics]
        if not panels:
            return
        metrics = {
            m.code: m for c, lob in panels for m in self.program.metric_set(clinics[c].practice_type, lob)
        }
        known = known_evidence(facts, self.program)
        rated = list({m.rate: self.rated[m.rate] for m in metrics.values()}.values())
        found = member_outcomes(known, rated, year=self.program.measurement_year, valuesets=self.valuesets)
        outcomes = {m.code: (found[m.rate], self.rated[m.rate]) for m in metrics.values()}
        for clinic_id, lob in panels:
            self.panels[(clinic_id, lob)] += 1
            for metric in self.program.metric_set(clinics[clinic_id].practice_type, lob):
                outcome, item = outcomes[metric.code]
                part = outcome.part(group=item.rate.group, component=item.rate.component)
                if not part.rated:
                    continue
                in_numerator = part.met
                if metric.attestation_allowed and attests_compliance(
                    facts, metric.rate, clinic_id, self.program.timeline
                ):
                    # The clinic attested compliance in the attestation window: met, whatever claims say
                    # (for an inverse measure, out of its numerator).
                    in_numerator = not metric.inverse
                count = self.counts[(clinic_id, lob, metric.code)]
                count[0] += 1
                count[1] += int(in_numerator)

    def measure_counts(self) -> list[MeasureCount]:
        return [
            MeasureCount(clinic_id=c, line_of_business=lob, action=code, denominator=d, numerator=n)
            for (c, lob, code), (d, n) in sorted(self.counts.items())
        ]

    def panel_counts(self) -> list[PanelCount]:
        return [
            PanelCount(clinic_id=c, line_of_business=lob, members=n)
            for (c, lob), n in sorted(self.panels.items())
        ]


def merge_counts(outputs: Sequence[ShardOutput]) -> list[MeasureCount]:
    """Denominators and numerators summed over the shards, per clinic, line of business and measure."""
    den: dict[tuple[str, str, str], int] = defaultdict(int)
    num: dict[tuple[str, str, str], int] = defaultdict(int)
    for out in outputs:
        for m in out.measure_counts:
            den[(m.clinic_id, m.line_of_business, m.action)] += m.denominator
            num[(m.clinic_id, m.line_of_business, m.action)] += m.numerator
    return [
        MeasureCount(
            clinic_id=c,
            line_of_business=lob,
            action=a,
            denominator=den[(c, lob, a)],
            numerator=num[(c, lob, a)],
        )
        for c, lob, a in sorted(den)
    ]


def merge_lines(outputs: Sequence[ShardOutput]) -> dict[str, dict[str, LineCounts]]:
    """Each clinic's lines of business over the year: members who counted and measure counts."""
    members: dict[tuple[str, str], int] = defaultdict(int)
    for out in outputs:
        for p in out.panel_counts:
            members[(p.clinic_id, p.line_of_business)] += p.members
    measures: dict[tuple[str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
    for m in merge_counts(outputs):
        measures[(m.clinic_id, m.line_of_business)][m.action] = (m.denominator, m.numerator)
    lines: dict[str, dict[str, LineCounts]] = defaultdict(dict)
    for (clinic_id, lob), n in sorted(members.items()):
        lines[clinic_id][lob] = LineCounts(clinic_id, lob, n, measures.get((clinic_id, lob), {}))
    return dict(lines)


def line_payouts(
    program: BenchmarkProgram,
    clinic: Clinic,
    lines: Mapping[str, LineCounts],
    prior: Mapping[str, Mapping[str, Decimal]],
) -> dict[str, tuple[LineCounts, BenchmarkResult]]:
    found = {}
    for lob, counts in sorted(lines.items()):
        metrics = program.metric_set(clinic.practice_type, lob)
        clinic_input = benchmark_input(program, metrics, counts, prior.get(lob, {}))
        if clinic_input is not None:
            found[lob] = (counts, benchmark_payout(clinic_input))
    return found


def measure_lines(
    program: BenchmarkProgram,
    clinic: Clinic,
    counts: LineCounts,
    result: BenchmarkResult,
    prior: Mapping[str, Decimal],
) -> tuple[MeasureLine, ...]:
    """Each measure of the line as its statement explains it: counts, rate, benchmark or prior rate, and
    whether it counted and how it was met."""
    lines = []
    for metric in program.metric_set(clinic.practice_type, counts.line_of_business):
        denominator, numerator = counts.measures.get(metric.code, (0, 0))
        outcome = result.measures.get(metric.code)
        lines.append(
            MeasureLine(
                measure=metric.code,
                weight=metric.weight,
                denominator=denominator,
                numerator=numerator,
                rate=rate_percent(numerator, denominator),
                benchmark=metric.benchmark,
                prior_rate=prior.get(metric.code),
                counted=bool(outcome and outcome.counted),
                met_by=outcome.met_by.value if outcome and outcome.met_by else None,
            )
        )
    return tuple(lines)


def _clinic_entry(
    run: RunRef,
    *,
    program: str,
    version: str,
    clinic_id: str,
    basis: MeasureIncentive | GuaranteeTopUp | PerformanceIncentive,
    cents: int,
    payer: str = DEFAULT_PAYER,
) -> LedgerEntry:
    year = int(run.period)
    return LedgerEntry(
        program=program,
        payer=payer,
        clinic_id=clinic_id,
        member_id="",
        period=run.period,
        kind=EntryKind.EARN,
        basis=basis,
        amount_cents=cents,
        rule_version=version,
        evidence_refs=(f"run:{run.run_id}",),
        action_date=date(year, 12, 31),
        earned_month=run_month(run),
        run_id=run.run_id,
    )


def _incentives(run: RunRef, found: YearResults) -> list[LedgerEntry]:
    """Benchmark clinics' payments per line of business (their pool shares when the program has a pool)."""
    year = int(run.period)
    program, clinics, results, prior = found.benchmark, found.clinics, found.results, found.prior
    paid = {
        (clinic_id, lob): pair
        for clinic_id, by_line in results.items()
        if clinics[clinic_id].in_benchmark_for(year)
        for lob, pair in by_line.items()
    }
    amounts = {key: result.payment_cents for key, (_, result) in paid.items()}
    if program.funding_pool is not None:
        check = check_pool(program.funding_pool, amounts.values())
        if check.exceeds:
            logger.warning(
                "benchmark payouts exceed the funding pool",
                run_id=run.run_id,
                over_by_cents=check.over_by_cents,
            )
        claims = [
            PoolClaim(clinic_id=f"{c}|{lob}", composite=r.composite, assigned_members=r.assigned_members)
            for (c, lob), (_, r) in sorted(paid.items())
            if r.eligible
        ]
        shares = split_pool(program.funding_pool, claims).shares_cents
        amounts = {key: shares.get(f"{key[0]}|{key[1]}", 0) for key in paid}
    entries = []
    for (clinic_id, lob), (counts, result) in sorted(paid.items()):
        cents = amounts[(clinic_id, lob)]
        if cents <= 0:
            continue
        line = program.line(lob)
        assert line is not None
        basis = MeasureIncentive(
            scheme=BENCHMARK_SCHEME,
            line_of_business=lob,
            assigned_members=result.assigned_members,
            amount_per_member=line.amount_per_member,
            composite=Decimal(result.composite.numerator) / Decimal(result.composite.denominator),
            measures=measure_lines(
                program, clinics[clinic_id], counts, result, prior.get(clinic_id, {}).get(lob, {})
            ),
        )
        entry = _clinic_entry(
            run,
            program=BENCHMARK_PROGRAM,
            version=program.version,
            clinic_id=clinic_id,
            basis=basis,
            cents=cents,
        )
        entries.append(entry)
    return entries


def guarantee_results(
    year: int,
    care_gap: CareGapProgram,
    clinics: Mapping[str, Clinic],
    results: Mapping[str, Mapping[str, tuple[LineCounts, BenchmarkResult]]],
    earnings: Mapping[str, int],
) -> dict[str, GuaranteeResult]:
    """The earnings guarantee of every Care Gap clinic of a guaranteed year (none in other years)."""
    if not care_gap.earnings_guarantee:
        return {}
    found = {}
    for clinic_id, clinic in sorted(clinics.items()):
        full = full_year_bonus(r for _, r in results.get(clinic_id, {}).values())
        figures = guarantee(clinic, year, full, earnings.get(clinic_id, 0))
        if figures is not None:
            found[clinic_id] = figures
    return found


def _guarantee_entries(run: RunRef, found: YearResults) -> list[LedgerEntry]:
    """An entry per guarantee part that pays something."""
    entries = []
    for clinic_id, figures in sorted(found.guarantees.items()):
        parts = (
            ("prorated_benchmark", figures.prorated_benchmark_cents),
            ("make_whole", figures.make_whole_cents),
        )
        for component, cents in parts:
            if cents <= 0:
                continue
            basis = GuaranteeTopUp(
                component=component,
                year=figures.year,
                enrollment_date=figures.enrollment_date,
                days_before=figures.days_before,
                days_on_care_gap=figures.days_on_care_gap,
                benchmark_full_year_cents=figures.benchmark_full_year_cents,
                care_gap_earnings_cents=figures.care_gap_earnings_cents,
                equivalent_benchmark_cents=figures.equivalent_benchmark_cents,
            )
            entry = _clinic_entry(
                run,
                program=CARE_GAP_PROGRAM,
                version=found.care_gap.version,
                clinic_id=clinic_id,
                basis=basis,
                cents=cents,
            )
            entries.append(entry)
    return entries


def _care_gap_earnings(ctx: RunContext, year: int) -> dict[str, int]:
    """Net Care Gap earnings per clinic for awards earned in `year`, from every closed final monthly run."""
    found: dict[str, int] = defaultdict(int)
    for run in final_runs(ctx.runs, RunKind.MONTHLY):
        if not run.status.closed:
            continue
        try:
            body = ctx.objects.get_json(ctx.curated, earnings_key(run.run_id))
        except NotFoundError:
            continue
        for clinic_id, years in body.items():
            found[clinic_id] += int(years.get(str(year), 0))
    return dict(found)


def benchmark_prior_rates(ctx: RunContext, year: int) -> dict[str, dict[str, dict[str, Decimal]]]:
    """Last year's final annual run's rates, per clinic, line and measure (none before the first year)."""
    try:
        body = ctx.objects.get_json(ctx.curated, rates_key(f"annual-{year - 1}-final"))
    except NotFoundError:
        return {}
    return {
        clinic: {lob: {code: Decimal(rate) for code, rate in codes.items()} for lob, codes in lines.items()}
        for clinic, lines in body.items()
    }


def _rates_body(lines: Mapping[str, Mapping[str, LineCounts]]) -> dict[str, dict[str, dict[str, str]]]:
    body: dict[str, dict[str, dict[str, str]]] = {}
    for clinic_id, by_line in lines.items():
        for lob, counts in by_line.items():
            for code, (den, num) in counts.measures.items():
                rate = rate_percent(num, den)
                if rate is not None:
                    body.setdefault(clinic_id, {}).setdefault(lob, {})[code] = str(rate)
    return body
