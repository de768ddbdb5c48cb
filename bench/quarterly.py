"""The quarterly PMPM run's compute and cost (APC Element 2), on the monthly bench's plan.

After the plan's months, the year's third quarter runs final through every step of the state machine in this
process: each member's attributed months at the practices on an APC track, judged against their
technical-assistance engagement, settled against the member's ledger history. Priced like the monthly run. A
member-month is one member of the plan looked at for one month of the quarter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.registry import Figure, measure

if TYPE_CHECKING:
    from bench.runs import MemoryPlan

QUARTER = "2026-Q3"


def quarterly_figures(plan: MemoryPlan, members: int) -> list[Figure]:
    """Run the plan's third quarter once, final, and return its figures (throughput, entries, cost)."""
    from bench import runs as monthly
    from shared.services.kinds.quarterly import ELEMENT2

    units_before = sum(plan.meter.units.values())
    puts_before, gets_before = plan.store.puts, plan.store.gets
    member_reads = monthly.member_read_units(plan)
    request = {"run_kind": "quarterly", "program_year": int(QUARTER[:4]), "quarter": QUARTER, "mode": "final"}
    with measure() as timing:
        measured = monthly.run_through(plan.service, request, f"bench-{QUARTER}")
    run_id = measured["run"].run_id
    shards = measured["plan"].shard_count
    write_units = sum(plan.meter.units.values()) - units_before
    read_units = member_reads + monthly.run_read_units(plan, run_id, shards)
    puts, gets = plan.store.puts - puts_before, plan.store.gets - gets_before
    member_months = 3 * members
    cost = monthly.run_cost_usd(
        monthly.state_transitions(shards), write_units, read_units, timing.cpu_seconds, shards, puts, gets
    )
    entries = [e for e in plan.ledger.by_run(run_id) if getattr(e.basis, "scheme", "") == ELEMENT2]
    paid = [e for e in entries if e.amount_cents > 0]
    practices, missed = len({e.clinic_id for e in entries}), len(entries) - len(paid)
    return [
        Figure(
            "quarterly_run_member_months_per_second_per_core",
            round(timing.per_cpu_second(member_months)),
            f"member-months/s ({members} members, {QUARTER})",
        ),
        Figure("quarterly_run_seconds", round(timing.wall_seconds, 2), f"s ({shards} shards)"),
        Figure(
            "quarterly_run_entries",
            len(entries),
            f"member-months at {practices} APC practices ({len(paid)} paid, {missed} TA missed)",
        ),
        Figure("quarterly_run_total_usd", round(measured["totals"].total_cents / 100, 2), "USD"),
        Figure("quarterly_run_cost_usd_per_1000_member_months", round(cost * 1000 / member_months, 6), "USD"),
    ]
