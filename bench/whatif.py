"""The what-if re-run of a year (`p4p whatif`, `shared/services/whatif.py`) on the `annual` benchmark's plan,
after its annual run: nothing is written, so it is measured on the same in-memory plan.

- `baseline_member_years_per_second_per_core`: `p4p baseline` of Benchmark P4P over every member of the plan
  (the annual run's counts, each clinic line's rates, benchmarks proposed at the median).
- `whatif_member_years_per_second_per_core`: that proposal as the what-if's Benchmark file, over every member
  of the plan: the annual run's counts by the measure engine, the payouts and the earnings guarantee, set
  against what the annual run paid. A member-year is one member looked at for the year.
- `whatif_svu_member_years_per_second_per_core`: a Care Gap file (dollars per SVU x 1.5): every member's SVU
  awards over the year (`member_awards`) and the guarantee again, on a sample of the plan's members (the
  unit says how many), as it costs what a monthly run's earning costs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from bench.registry import Figure, measure
from shared.logic.whatif import as_year
from shared.programs.benchmark import load_benchmark
from shared.programs.catalog import Programs, parse_version
from shared.services.baseline import BaselineService
from shared.services.whatif import WhatIfService

if TYPE_CHECKING:
    from bench.runs import MemoryPlan

YEAR = 2026


def whatif_figures(plan: MemoryPlan, members: int, svu_sample: int) -> list[Figure]:
    """The what-if figures on the plan (its annual run of `YEAR` closed)."""
    from bench.runs import CURATED, plan_members

    programs = Programs(care_gap=plan.catalog, benchmark=load_benchmark())
    care_gap = programs.care_gap.for_year(YEAR)
    if care_gap is None:
        raise RuntimeError(f"no Care Gap version is in force in {YEAR}")
    service = WhatIfService(
        store=plan.store,
        gaps=plan.gaps,
        ledger=plan.ledger,
        runs=plan.runs,
        files=plan.files,
        programs=programs,
        curated_bucket=CURATED,
        now=lambda: plan.clock[0],
    )
    facts = [f for f in (plan.gaps.member(m) for m in plan_members(plan)) if f is not None]
    units_before, puts_before = sum(plan.meter.units.values()), plan.store.puts
    baselines = BaselineService(gaps=plan.gaps, programs=programs)
    median = (Decimal(50), Decimal(75), Decimal(90))
    with measure() as base_timing:
        found = baselines.baseline("benchmark", YEAR, median, target=Decimal(50), members=facts)
    proposed = parse_version(as_year(found.proposal, YEAR))
    with measure() as timing:
        result = service.whatif(proposed, YEAR, members=facts)
    sample = facts[:svu_sample]
    # model_copy, not a reload: the loaded version's code sets are already inlined into its actions.
    dearer = care_gap.model_copy(
        update={
            "version": f"{care_gap.version}.whatif",
            "svu_dollar_rate": care_gap.svu_dollar_rate * Decimal("1.5"),
        }
    )
    with measure() as svu_timing:
        service.whatif(dearer, YEAR, members=sample)
    if (sum(plan.meter.units.values()), plan.store.puts) != (units_before, puts_before):
        raise RuntimeError("the what-if wrote to the plan's tables or buckets")
    return [
        Figure(
            "baseline_member_years_per_second_per_core",
            round(base_timing.per_cpu_second(len(facts))),
            f"member-years/s ({len(facts)} members, {len(found.report.providers)} clinic-line rates)",
        ),
        Figure(
            "whatif_member_years_per_second_per_core",
            round(timing.per_cpu_second(len(facts))),
            f"member-years/s ({len(facts)} members, {len(result.clinics)} clinics; the proposed Benchmark "
            "file: counts, payouts, guarantee)",
        ),
        Figure("whatif_seconds", round(timing.wall_seconds, 2), f"s ({len(facts)} members)"),
        Figure(
            "whatif_difference_usd",
            round(result.difference_cents / 100, 2),
            f"USD (paid {result.paid_cents / 100:.2f}; benchmarks at the plan's median)",
        ),
        Figure(
            "whatif_svu_member_years_per_second_per_core",
            round(svu_timing.per_cpu_second(len(sample))),
            f"member-years/s ({len(sample)} of {members} members; a Care Gap file: SVU awards, guarantee)",
        ),
    ]
