"""The monthly SVU run's compute at 100,000 members, on in-memory storage, and what a month costs on AWS;
then a quarterly PMPM run on the same plan (`bench/quarterly.py`). The annual run has a benchmark of its own
(`bench/annual.py`, `annual`), on a plan of the same size whose year is paid by one monthly run.

A year of a plan is generated with `cli.generate` (clinics, eligibility, medical and pharmacy claims,
attestations, registry immunizations and labs: evidence for the whole 41-action menu) and ingested by
`IngestService` into in-memory fakes, as the demo ingests it on moto. September is run once (paying every
month up to it) so October settles against a ledger history; between the two a tenth of September's claims
is voided, so October has awards to reverse. October, the first month every generated Care Gap clinic
earns, is the measured run: OpenRun → PlanShards → EarnShard per shard → AggregateRun →
RenderStatements → CloseRun, in this process. Counts of what the AWS resources would bill are taken on the
same run: DynamoDB write units (`WriteMeter`, 1 WCU per started KB) and read units (from the sizes of the
items each read returns), S3 requests, Lambda GB-seconds and requests, and Step Functions state transitions
from the real `payment_run.asl.json`. Prices are AWS list prices (us-east-1, on-demand), as in
`docs/cost.md`.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.quarterly import quarterly_figures
from bench.registry import BenchContext, Figure, benchmark, measure
from cli.generate import generate_plan
from shared.dal.gap_state import packed_evidence_items
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryLedgerRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
    WriteMeter,
    item_size,
)
from shared.logic.dates import month_end
from shared.models.evidence import EvidenceSource
from shared.models.files import Coverage, FileKind, FileManifest, FileStatus
from shared.models.ledger import EntryKind
from shared.models.runs import (
    AggregateInput,
    BucketPart,
    BuildPartInput,
    CloseInput,
    EarnShardInput,
    OpenRunInput,
    RenderInput,
    RunKind,
    ShardRef,
)
from shared.programs.care_gap import ProgramCatalog, load_catalog
from shared.services.ingest import IngestService, IngestStatus
from shared.services.runs import RunService

ASL = Path(__file__).resolve().parent.parent / "infra" / "state_machines" / "payment_run.asl.json"
LANDING, CURATED, REPORTS = "landing", "curated", "reports"
# Every kind the generator writes, in the order they are ingested: reference data first, so evidence finds
# its members and clinics when it is applied.
PLAN_KINDS = (
    "clinics",
    "providers",
    "eligibility",
    "medical_claims",
    "pharmacy_claims",
    "immunizations",
    "labs",
    "attestations",
    "ta_engagement",
)
MEMBERS_PER_CLINIC = 500
# The generator enrolls Care Gap clinics from January to September; October is the first month all of them
# earn, and the busiest of the year. One run through September (it pays every month up to it) comes first.
PREPARED_THROUGH, MEASURED_MONTH = "2026-09", "2026-10"

# AWS list prices, us-east-1 (see docs/cost.md for sources and dates).
SFN_PER_TRANSITION = 0.025 / 1000
DDB_PER_WRITE_UNIT = 0.625 / 1_000_000
DDB_PER_READ_UNIT = 0.125 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
S3_PER_PUT = 0.005 / 1000
S3_PER_GET = 0.0004 / 1000
EARN_SHARD_MEMORY_GB = 2.0
SHARD_SIZE = 5000
# The plan stands after its year: every month has ended and the annual run is past its finalization date.
PLAN_CLOCK_START = datetime(2027, 7, 1, tzinfo=UTC)
TARGET_USD_PER_1000 = 0.01
READ_UNIT_BYTES = 4096


class CountingStore(MemoryObjectStore):
    """In-memory objects, counting the PUT and GET requests S3 would bill."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0
        self.gets = 0

    def get_bytes(self, bucket: str, key: str) -> bytes:
        self.gets += 1
        return super().get_bytes(bucket, key)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.puts += 1
        super().put_bytes(bucket, key, data, content_type)


@dataclass
class MemoryPlan:
    """A RunService on in-memory storage, and the fakes behind it."""

    service: RunService
    gaps: MemoryGapStateRepository
    ledger: MemoryLedgerRepository
    runs: MemoryRunRegistry
    files: MemoryFileRegistry
    store: CountingStore
    meter: WriteMeter
    catalog: ProgramCatalog
    clock: list[datetime] = field(default_factory=lambda: [PLAN_CLOCK_START])


def memory_plan(shard_size: int = SHARD_SIZE, catalog: ProgramCatalog | None = None) -> MemoryPlan:
    """An empty plan on in-memory fakes; each run started on it gets a later `started_at`, and the plan
    stands after its year (every month ended, the annual run finalized)."""
    meter = WriteMeter()
    gaps, ledger, runs, files, store = (
        MemoryGapStateRepository(meter),
        MemoryLedgerRepository(meter),
        MemoryRunRegistry(meter),
        MemoryFileRegistry(meter),
        CountingStore(),
    )
    clock = [PLAN_CLOCK_START]

    def tick() -> datetime:
        clock[0] += timedelta(seconds=1)
        return clock[0]

    catalog = catalog or load_catalog()
    service = RunService(
        store=store,
        gaps=gaps,
        ledger=ledger,
        runs=runs,
        files=files,
        catalog=catalog,
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        shard_size=shard_size,
        now=tick,
        sleep=lambda _: None,
    )
    return MemoryPlan(service, gaps, ledger, runs, files, store, meter, catalog, clock)


def cover_eligibility(plan: MemoryPlan, first: date, last: date) -> None:
    """Record an accepted eligibility file covering [first, last], for plans whose roster is put in place
    directly rather than ingested (a final month opens only where eligibility covers it)."""
    file_id = f"roster-{first.isoformat()}-{last.isoformat()}"
    plan.files.begin(file_id, kind=FileKind.ELIGIBILITY, source_key=f"landing/eligibility/{file_id}.csv")
    manifest = FileManifest(
        file_id=file_id,
        kind=FileKind.ELIGIBILITY,
        source_key=f"landing/eligibility/{file_id}.csv",
        status=FileStatus.ACCEPTED,
        rows_read=0,
        accepted=0,
        rejected=0,
        duplicate=0,
        superseded=0,
        coverage=Coverage(first_day=first, last_day=last),
    )
    plan.files.finish(file_id, FileStatus.ACCEPTED, manifest=manifest)


def run_through(service: RunService, request: dict[str, Any], execution_name: str) -> dict[str, Any]:
    """Every step of a run kind's state machine, in order, in this process (the BuildParts map's parts when
    the plan has them); the accumulated state."""
    body = request | {"requested_by": "bench:operator"}
    run = service.open(
        OpenRunInput(machine=RunKind(request["run_kind"]), execution_name=execution_name, request=body)
    )
    plan = service.plan(run)
    if plan.parts_key is not None:
        for part in service._store.get_json(plan.bucket, plan.parts_key):
            service.build_part(BuildPartInput(run=run, part=BucketPart.model_validate(part)))
    refs = [ShardRef.model_validate(r) for r in service._store.get_json(plan.bucket, plan.manifest_key)]
    shards = [service.earn(EarnShardInput(run=run, shard=ref)) for ref in refs]
    settlement = service.settlement
    totals = settlement.aggregate(AggregateInput(run=run, plan=plan))
    statements = settlement.render(RenderInput(run=run, totals=totals))
    closed = settlement.close(CloseInput(run=run, totals=totals, statements=statements))
    return {
        "run": run,
        "plan": plan,
        "shards": shards,
        "totals": totals,
        "statements": statements,
        "closed": closed,
    }


def run_month(service: RunService, month: str, mode: str = "final") -> dict[str, Any]:
    """The monthly run of `month`, every step in order."""
    request = {"run_kind": "monthly", "program_year": int(month[:4]), "month": month, "mode": mode}
    return run_through(service, request, f"bench-{month}")


def load_plan(plan: MemoryPlan, out_dir: Path, members: int, seed: int = 7) -> None:
    """Generate a year of a plan with every kind of file the generator writes, so the whole menu is earned,
    and ingest it through `IngestService` into the plan's gap state, as the demo does on moto."""
    generated = generate_plan(
        out_dir,
        members=members,
        clinics=max(5, members // MEMBERS_PER_CLINIC),
        seed=seed,
        kinds=set(PLAN_KINDS),
    )
    ingest = IngestService(
        store=plan.store,
        files=plan.files,
        gaps=plan.gaps,
        catalog=plan.catalog,
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        versions=MemoryClaimVersionRepository(plan.gaps),
    )
    for kind in PLAN_KINDS:
        for path in generated.paths(kind):
            key = f"landing/{kind}/{path.name}"
            plan.store.put_bytes(LANDING, key, path.read_bytes())
            outcome = ingest.ingest(LANDING, key)
            if outcome.status is not IngestStatus.ACCEPTED:
                raise RuntimeError(f"{key} was {outcome.status.value}")


def loaded_plan(ctx: BenchContext, name: str, members: int) -> MemoryPlan:
    """A generated plan of `members` ingested into a new in-memory plan (its files generated under the
    benchmark's data folder and removed after)."""
    plan = memory_plan()
    out_dir = ctx.data_dir / f"{name}_plan_{members}"
    shutil.rmtree(out_dir, ignore_errors=True)
    try:
        load_plan(plan, out_dir, members)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return plan


def plan_members(plan: MemoryPlan) -> list[str]:
    """Every member of the plan's clinics, as PlanShards finds them."""
    return sorted({m for clinic_id in plan.gaps.clinics() for m in plan.gaps.member_ids(clinic_id)})


def void_claims(plan: MemoryPlan, month: str, every: int = 10) -> int:
    """Withdraw every `every`-th claim received in `month`, as voids arriving the month after would: the
    awards they supported are reversed by the next run. Returns how many claims went."""
    start, end = month_end(month).replace(day=1), month_end(month)
    chosen: dict[str, set[str]] = defaultdict(set)
    seen = 0
    for member_id in plan_members(plan):
        facts = plan.gaps.member(member_id)
        keys = {
            e.claim_key
            for e in (facts.evidence if facts else ())
            if e.source is EvidenceSource.MEDICAL_CLAIM and e.claim_key and start <= e.known_date <= end
        }
        for key in sorted(keys):
            if seen % every == 0:
                chosen[member_id].add(key)
            seen += 1
    plan.gaps.retract_claims(chosen)
    return sum(len(keys) for keys in chosen.values())


def run_cost_usd(
    transitions: int,
    write_units: float,
    read_units: float,
    cpu_seconds: float,
    shards: int,
    puts: int,
    gets: int,
) -> float:
    """What one run costs at list prices: Step Functions transitions, DynamoDB on-demand units, Lambda
    GB-seconds (one core per function at 1,769 MB and above, so CPU seconds are billed seconds) and requests
    (one per shard and six for the other steps), S3 requests."""
    return (
        transitions * SFN_PER_TRANSITION
        + write_units * DDB_PER_WRITE_UNIT
        + read_units * DDB_PER_READ_UNIT
        + cpu_seconds * EARN_SHARD_MEMORY_GB * LAMBDA_PER_GB_SECOND
        + (shards + 6) * LAMBDA_PER_REQUEST
        + puts * S3_PER_PUT
        + gets * S3_PER_GET
    )


def state_transitions(shards: int, asl_path: Path = ASL) -> int:
    """Billed transitions of one successful execution: each state entered in the parent, per shard each
    state of the item processor, plus one per child execution for the Map's own accounting."""
    definition = json.loads(asl_path.read_text())
    main_path, state = [], definition["StartAt"]
    while state:
        main_path.append(state)
        body = definition["States"][state]
        state = body.get("Next") if not body.get("End") else None
    child = next(s for s in definition["States"].values() if s["Type"] == "Map")["ItemProcessor"]["States"]
    return len(main_path) + shards * (len(child) + 1)


@benchmark("runs", order=70)
def runs(ctx: BenchContext) -> list[Figure]:
    members = ctx.size(100_000, 10_000)
    plan = loaded_plan(ctx, "runs", members)
    run_month(plan.service, PREPARED_THROUGH)
    void_claims(plan, PREPARED_THROUGH)
    member_reads = member_read_units(plan)  # what the measured run reads: the state before it runs
    units_before = dict(plan.meter.units)
    puts_before, gets_before = plan.store.puts, plan.store.gets
    with measure() as timing:
        measured = run_month(plan.service, MEASURED_MONTH)
    by_kind = {
        k: v - units_before.get(k, 0) for k, v in plan.meter.units.items() if v > units_before.get(k, 0)
    }
    write_units = sum(by_kind.values())
    shares = ", ".join(
        f"{k} {v / write_units:.0%}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])
    )
    shards = measured["plan"].shard_count
    read_units = member_reads + run_read_units(plan, measured["run"].run_id, shards)
    puts, gets = plan.store.puts - puts_before, plan.store.gets - gets_before
    transitions = state_transitions(shards)
    per_1000 = 1000 / members
    cost = (
        run_cost_usd(transitions, write_units, read_units, timing.cpu_seconds, shards, puts, gets) * per_1000
    )
    entries = list(plan.ledger.by_run(measured["run"].run_id))
    reversals = sum(1 for e in entries if e.kind is EntryKind.REVERSAL)
    quarterly = quarterly_figures(plan, members)  # APC Element 2's third quarter on the same plan
    return [
        *quarterly,
        Figure(
            "run_member_months_per_second_per_core", round(timing.per_cpu_second(members)), "member-months/s"
        ),
        Figure("run_seconds", round(timing.wall_seconds, 2), f"s ({members} members, {shards} shards)"),
        Figure("run_entries", measured["totals"].entry_count, f"entries ({reversals} reversals)"),
        Figure(
            "run_entries_per_member_month",
            round(measured["totals"].entry_count / members, 3),
            "entries (whole menu)",
        ),
        Figure("state_transitions_per_1000_member_months", round(transitions * per_1000, 3), "transitions"),
        Figure(
            "dynamodb_write_units_per_1000_member_months", round(write_units * per_1000, 1), f"WCU ({shares})"
        ),
        Figure("dynamodb_read_units_per_1000_member_months", round(read_units * per_1000, 1), "RCU"),
        Figure("s3_requests_per_1000_member_months", round((puts + gets) * per_1000, 3), "requests"),
        Figure(
            "run_cost_usd_per_1000_member_months", round(cost, 6), f"USD (target <= {TARGET_USD_PER_1000})"
        ),
    ]


def _units(sizes: Iterable[int], *, consistent: bool) -> float:
    """Read units of one GetItem or Query returning items of these sizes: per started 4 KB of their sum,
    half a unit when eventually consistent; a read that returns nothing still costs one."""
    started = max(1, math.ceil(sum(sizes) / READ_UNIT_BYTES))
    return started * (1.0 if consistent else 0.5)


def member_read_units(plan: MemoryPlan) -> float:
    """Read units of reading every member's facts and history, as the run reads them: PlanShards walks each
    clinic's member profiles (an index query, eventually consistent); EarnShard reads, per member, as
    `DynamoGapStateRepository.member()` and `DynamoLedgerRepository.member_state()` do, the profile
    (GetItem), the spans and packed evidence (one Query) and the `PAID#` history with the gap digest (one
    strongly consistent Query)."""
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
        state = plan.ledger.member_state(member_id)
        history = [item_size(e.model_dump(mode="json")) for e in state.entries]
        units += _units([*history, item_size(state.gap_digest)], consistent=True)
    return units + sum(_units(sizes, consistent=False) for sizes in profiles_by_clinic.values())


def run_read_units(plan: MemoryPlan, run_id: str, shards: int) -> float:
    """Read units of the run's other reads: the clinic list (PlanShards, each EarnShard, RenderStatements)
    and CloseRun's read of the run's entries (an index query, eventually consistent)."""
    clinics = [item_size(c.model_dump(mode="json")) for c in plan.gaps.clinics().values()]
    entries = [item_size(e.model_dump(mode="json")) for e in plan.ledger.by_run(run_id)]
    return _units(clinics, consistent=False) * (shards + 2) + _units(entries, consistent=False)
