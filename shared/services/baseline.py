"""`p4p baseline`: every provider's baseline rate per measure in a past year, counted by the annual run's own
counters (`BenchmarkCounter` for Benchmark P4P, `ApcCounter` for APC), and the benchmarks proposed from their
distribution (`shared/logic/baseline.py`), as a program version file the plan can edit and drop under
`programs/<program>/`. Only read: the gap state and the program versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.dal.gap_state import GapStateRepository
from shared.errors import DomainError
from shared.logic.apc_rates import practice_rates
from shared.logic.baseline import (
    INTERVAL,
    METHOD,
    apc_baselines,
    benchmark_baselines,
    percentile_key,
    plain,
    propose_apc,
    propose_benchmark,
    redate,
)
from shared.logic.measures.apc import apc_rated_measures
from shared.models.design import BaselineReport, MeasureDistribution, ProviderBaseline
from shared.models.members import BENCHMARK_PROGRAM, MemberFacts
from shared.models.runs import ShardOutput
from shared.observability import logger
from shared.programs.apc import ApcProgram
from shared.programs.benchmark import BenchmarkProgram
from shared.programs.care_gap import CareGapProgram
from shared.programs.catalog import ProgramSet, parse_version
from shared.programs.versions import VersionCatalog, VersionedProgram
from shared.services.kinds.annual import BenchmarkCounter, merge_lines
from shared.services.kinds.annual_apc import APC_PROGRAM, ApcCounter, apc_practices, merge_practices
from shared.services.whatif import every_member

PROGRAMS = (BENCHMARK_PROGRAM, APC_PROGRAM)


class BaselineProgramError(DomainError):
    """The program has no benchmarks to propose, or no version to count a year with."""


@dataclass(frozen=True)
class Baseline:
    """The report and the proposed version file's data (valid for the program's own loader)."""

    report: BaselineReport
    proposal: dict[str, Any]


def _in_year(catalog: VersionCatalog[Any], year: int, what: str, notes: list[str]) -> Any:
    """The version in force at the end of `year`, or the latest one moved to `year` (said in `notes`)."""
    found = catalog.for_year(year)
    if found is not None:
        return found
    if not catalog.versions:
        raise BaselineProgramError(f"no {what} version is loaded")
    latest = catalog.versions[-1]
    notes.append(f"no {what} version is in force in {year}: {latest.version} is used, moved to {year}")
    return parse_version(redate(plain(latest), year - latest.measurement_year))


class BaselineService:
    """Baselines over a stack's gap state and program versions."""

    def __init__(self, *, gaps: GapStateRepository, programs: ProgramSet) -> None:
        self._gaps = gaps
        self._programs = programs

    def baseline(
        self,
        program: str,
        year: int,
        percentiles: Sequence[Decimal],
        *,
        target: Decimal | None = None,
        for_year: int | None = None,
        members: Iterable[MemberFacts] | None = None,
    ) -> Baseline:
        """Rates of `year`, proposed levels at `percentiles` (Benchmark: the `target` one, default the
        middle one), in a version file for `for_year` (default the year after)."""
        if program not in PROGRAMS:
            raise BaselineProgramError(
                f"baselines are for the programs with benchmarks ({', '.join(PROGRAMS)}), not {program!r}"
            )
        notes: list[str] = []
        catalog = self._programs.benchmark if program == BENCHMARK_PROGRAM else self._programs.apc
        version: VersionedProgram = _in_year(catalog, year, program, notes)
        # Care Gap's menu lends the counters its code sets only: any version does when none is in force.
        care_gap = self._programs.care_gap.for_year(year) or self._latest_care_gap()
        clinics = self._gaps.clinics()
        facts = every_member(self._gaps) if members is None else members
        count = 0
        if isinstance(version, BenchmarkProgram):
            counter = BenchmarkCounter(version, care_gap)
            for member in facts:
                counter.add(member, clinics)
                count += 1
            output = ShardOutput(
                run_id="baseline",
                shard_id="00000",
                measure_counts=tuple(counter.measure_counts()),
                panel_counts=tuple(counter.panel_counts()),
            )
            rates = benchmark_baselines(version, clinics, merge_lines([output]))
            chosen = target if target is not None else percentiles[len(percentiles) // 2]
            raw, measures = propose_benchmark(version, rates, percentiles, chosen)
            how = f"each benchmark at the {percentile_key(chosen)}th percentile"
        else:
            assert isinstance(version, ApcProgram)
            practices = apc_practices(clinics.values(), year)
            apc_counter = ApcCounter(version, care_gap, year)
            for member in facts:
                apc_counter.add(member, practices)
                count += 1
            output = ShardOutput(
                run_id="baseline",
                shard_id="00000",
                apc_counts=tuple(apc_counter.counts()),
                apc_contributions=tuple(apc_counter.contributions()),
                apc_panels=tuple(apc_counter.panels()),
            )
            rated = apc_rated_measures(version)
            found = {
                clinic_id: (practices[clinic_id], practice_rates(sums.sums, rated))
                for clinic_id, sums in merge_practices([output]).items()
                if clinic_id in practices and sums.member_months
            }
            rates = apc_baselines(version, found)
            raw, measures = propose_apc(version, rates, percentiles)
            how = "mpt, threshold and gold at the " + ", ".join(percentile_key(p) for p in percentiles)
            how += "th percentiles"
        target_year = for_year if for_year is not None else year + 1
        proposal = self._proposal(raw, version, year, target_year, how, notes)
        logger.info("baseline computed", program=program, year=year, members=count, providers=len(rates))
        report = BaselineReport(
            program=program,
            year=year,
            base_version=version.version,
            proposed_version=str(proposal["version"]),
            for_year=target_year,
            percentiles=tuple(percentiles),
            method=METHOD,
            interval=INTERVAL,
            members=count,
            providers=tuple(rates),
            measures=tuple(measures),
            notes=tuple(notes + _kept(measures)),
        )
        return Baseline(report=report, proposal=proposal)

    def _latest_care_gap(self) -> CareGapProgram:
        versions = self._programs.care_gap.versions
        if not versions:
            raise BaselineProgramError("no care_gap version is loaded (the counters read its code sets)")
        return versions[-1]

    def _proposal(
        self,
        raw: dict[str, Any],
        base: VersionedProgram,
        year: int,
        for_year: int,
        how: str,
        notes: list[str],
    ) -> dict[str, Any]:
        moved = redate(raw, for_year - year)
        moved["version"] = f"{base.program}-{for_year}.proposed"
        moved["note"] = (
            f"Proposed by `p4p baseline` from {year}'s data counted under {base.version}: {how} "
            f"({METHOD}) of the providers' rates that count (small panels left out). Every other figure is "
            f"{base.version}'s; review before dropping it under programs/{base.program}/."
        )
        proposed = parse_version(moved)  # the program's own loader: a proposal that does not load is a bug
        catalog = self._programs.benchmark if base.program == BENCHMARK_PROGRAM else self._programs.apc
        starts = {v.effective_from: v.version for v in catalog.versions if v.version != proposed.version}
        clash = starts.get(proposed.effective_from)
        if clash is not None:
            notes.append(
                f"version {clash} also starts on {proposed.effective_from.isoformat()}: name the file's "
                f"version {clash} to replace it, or change its dates"
            )
        return moved


def _kept(measures: Sequence[MeasureDistribution]) -> list[str]:
    return [f"{m.measure}{' ' + m.component if m.component else ''}: {m.note}" for m in measures if m.note]


def provider_rows(providers: Iterable[ProviderBaseline]) -> list[tuple[object, ...]]:
    """Each provider's rate as a CSV row (`BASELINE_HEADER`)."""
    return [
        (
            p.clinic_id,
            p.line_of_business,
            p.measure,
            p.component,
            p.unit,
            p.denominator,
            p.numerator,
            "" if p.rate is None else p.rate,
            "" if p.ci_low is None else p.ci_low,
            "" if p.ci_high is None else p.ci_high,
            "yes" if p.small_panel else "no",
            "yes" if p.counted else "no",
            p.note,
        )
        for p in providers
    ]


BASELINE_HEADER = (
    "clinic_id",
    "line_of_business",
    "measure",
    "component",
    "unit",
    "denominator",
    "numerator",
    "rate",
    "ci_low",
    "ci_high",
    "small_panel",
    "counted",
    "note",
)
