"""The annual incentive run's compute and cost at 100,000 members and 200 clinics (`annual`; 10,000 with
`--quick`), then the what-if and baseline re-runs of the year (`bench/whatif.py`) and Element 3 alone.

A year of a generated plan is loaded as `bench/runs.py` loads it and paid by one final monthly run of
December (it pays every month of the year up to it, so the Care Gap earnings the guarantee reads are the
year's); this module then runs the year's annual run (Benchmark P4P for the Benchmark clinics, the
earnings guarantee for the Care Gap ones, all of them rated on the measure engine) through every step of
the same state machine in this process, and prices it like the monthly run: DynamoDB write and read
units, S3 requests, Lambda GB-seconds and requests, Step Functions transitions. The plan's clock stands
after the year's finalization date, so the run is final. A member-year is one member of the plan rated
for the year (whether or not the member counts for a clinic).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from bench.registry import BenchContext, Figure, benchmark, measure
from shared.dal.memory import item_size

if TYPE_CHECKING:
    from bench.runs import MemoryPlan
    from shared.services.runs import RunService

YEAR = 2026


def run_year(service: RunService, year: int = YEAR, mode: str = "final") -> dict[str, Any]:
    """The annual run of `year`, every step in order."""
    from bench.runs import run_through

    request = {"run_kind": "annual", "program_year": year, "mode": mode}
    return run_through(service, request, f"bench-annual-{year}")


def annual_read_units(plan: MemoryPlan, run_id: str, shards: int) -> float:
    """Read units of the annual run: PlanShards walks each clinic's member profiles; EarnShard reads each
    member's profile (GetItem) and spans with packed evidence (one Query), never the payment history; the
    clinic list is read by PlanShards, each EarnShard, AggregateRun and RenderStatements; CloseRun reads the
    run's entries."""
    from bench.runs import _units, plan_members
    from shared.dal.gap_state import packed_evidence_items

    units = 0.0
    profiles_by_clinic: dict[str, list[int]] = defaultdict(list)
    for member_id in plan_members(plan):
        facts = plan.gaps.member(member_id)
        if facts is None:
            continue
        profile = item_size(facts.profile.model_dump(mode="json"))
        profiles_by_clinic[facts.profile.clinic_id].append(profile)
        units += _units([profile], consistent=False)
        evidence_items, _ = packed_evidence_items(facts.evidence)
        partition = [item_size(s.model_dump(mode="json")) for s in facts.spans]
        units += _units(partition + [item_size(i) for i in evidence_items], consistent=False)
    clinics = [item_size(c.model_dump(mode="json")) for c in plan.gaps.clinics().values()]
    entries = [item_size(e.model_dump(mode="json")) for e in plan.ledger.by_run(run_id)]
    units += sum(_units(sizes, consistent=False) for sizes in profiles_by_clinic.values())
    return units + _units(clinics, consistent=False) * (shards + 3) + _units(entries, consistent=False)


def annual_figures(plan: MemoryPlan, members: int) -> list[Figure]:
    """Run the plan's year once, final, and return its figures (throughput, time, entries, cost)."""
    from bench import runs as monthly

    units_before = sum(plan.meter.units.values())
    puts_before, gets_before = plan.store.puts, plan.store.gets
    with measure() as timing:
        measured = run_year(plan.service)
    run_id = measured["run"].run_id
    shards = measured["plan"].shard_count
    write_units = sum(plan.meter.units.values()) - units_before
    read_units = annual_read_units(plan, run_id, shards)
    puts, gets = plan.store.puts - puts_before, plan.store.gets - gets_before
    transitions = monthly.state_transitions(shards)
    per_1000 = 1000 / members
    cost = monthly.run_cost_usd(transitions, write_units, read_units, timing.cpu_seconds, shards, puts, gets)
    cost *= per_1000
    entries = list(plan.ledger.by_run(run_id))
    clinics = len(plan.gaps.clinics())
    paid = len({e.clinic_id for e in entries})
    return [
        Figure(
            "annual_run_member_years_per_second_per_core",
            round(timing.per_cpu_second(members)),
            f"member-years/s ({members} members, {clinics} clinics)",
        ),
        Figure("annual_run_seconds", round(timing.wall_seconds, 2), f"s ({shards} shards)"),
        Figure("annual_run_entries", len(entries), f"entries ({paid} clinics paid)"),
        Figure(
            "annual_run_total_usd",
            round(measured["totals"].total_cents / 100, 2),
            "USD (Benchmark payouts and guarantee parts)",
        ),
        Figure("annual_run_cost_usd_per_1000_member_years", round(cost, 6), "USD"),
    ]


def element3_figures(plan: MemoryPlan, members: int) -> list[Figure]:
    """APC Element 3 alone, as the annual run computes it: every member counted for the APC measures at the
    practices on an APC track (`ApcCounter`, the measure engine), then each practice rated and scored by
    the performance incentive. A member-year is one member of the plan looked at for the year."""
    from bench.runs import plan_members
    from shared.models.runs import ShardOutput
    from shared.programs.benchmark import load_benchmark
    from shared.programs.catalog import Programs
    from shared.services.kinds.annual_apc import (
        ApcCounter,
        apc_practices,
        merge_practices,
        practice_results,
    )

    programs = Programs(care_gap=plan.catalog, benchmark=load_benchmark())
    apc, care_gap = programs.apc.for_year(YEAR), programs.care_gap.for_year(YEAR)
    if apc is None or care_gap is None:
        raise RuntimeError(f"no APC or Care Gap version is in force in {YEAR}")
    practices = apc_practices(plan.gaps.clinics().values(), YEAR)
    facts = [f for f in (plan.gaps.member(m) for m in plan_members(plan)) if f is not None]
    with measure() as timing:
        counter = ApcCounter(apc, care_gap, YEAR)
        for member in facts:
            counter.add(member, practices)
        output = ShardOutput(
            run_id="bench-element3",
            shard_id="00000",
            apc_counts=tuple(counter.counts()),
            apc_contributions=tuple(counter.contributions()),
            apc_panels=tuple(counter.panels()),
        )
        results = practice_results(apc, practices, merge_practices([output]), {})
    paid = sum(r.result.total_cents for r in results.values())
    return [
        Figure(
            "apc_element3_member_years_per_second_per_core",
            round(timing.per_cpu_second(len(facts))),
            f"member-years/s ({len(facts)} members, {len(practices)} APC practices of "
            f"{len(plan.gaps.clinics())} clinics)",
        ),
        Figure("apc_element3_seconds", round(timing.wall_seconds, 2), "s"),
        Figure("apc_element3_total_usd", round(paid / 100, 2), f"USD ({len(results)} practices scored)"),
    ]


LAST_MONTH = "2026-12"


@benchmark("annual", order=72)
def annual(ctx: BenchContext) -> list[Figure]:
    """The annual run, the what-if and Element 3 on one plan whose year is paid."""
    from bench.runs import loaded_plan, run_month
    from bench.whatif import whatif_figures

    members = ctx.size(100_000, 10_000)
    plan = loaded_plan(ctx, "annual", members)
    run_month(plan.service, LAST_MONTH)  # the year's months, paid in one run
    yearly = annual_figures(plan, members)
    whatif = whatif_figures(plan, members, ctx.size(10_000, 2_000))  # the year re-run, nothing written
    return [*yearly, *whatif, *element3_figures(plan, members)]
