"""The monthly SVU run's compute at 100,000 members, on in-memory storage, and what a month costs on AWS.

A generated plan (clinics, members, BCS-E attestations and claims) is loaded into in-memory fakes; February
is run once so March settles against a ledger history (including voided claims to reverse); March is the
measured run: OpenRun → PlanShards → EarnShard per shard → AggregateRun → RenderStatements → CloseRun, in
this process. Counts of what the AWS resources would bill are taken on the same run: DynamoDB write and
read units (`WriteMeter`, 1 WCU per started KB; reads counted per query or get), S3 requests, Lambda
GB-seconds and requests, and Step Functions state transitions from the real `monthly_svu.asl.json`.
Prices are AWS list prices (us-east-1, on-demand), the same as in `docs/cost.md`.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.registry import BenchContext, Figure, benchmark, measure
from shared.dal.ledger import MemoryLedgerRepository
from shared.dal.memory import (
    MemoryGapStateRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
    WriteMeter,
    item_size,
)
from shared.models.actions import ActionCode, LineOfBusiness, Sex, Step, Track
from shared.models.evidence import Evidence, EvidenceSource
from shared.models.members import Clinic, EligibilitySpan, MemberProfile
from shared.models.runs import (
    AggregateInput,
    CloseInput,
    EarnShardInput,
    RenderInput,
    RunRequest,
    ShardRef,
)
from shared.programs.care_gap import ProgramCatalog, load_catalog
from shared.services.runs import RunService

ASL = Path(__file__).resolve().parent.parent / "infra" / "state_machines" / "monthly_svu.asl.json"
CURATED, REPORTS = "curated", "reports"
BCS = ActionCode("BCS-E")

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
TARGET_USD_PER_1000 = 0.01


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
    store: CountingStore
    meter: WriteMeter
    clock: list[datetime] = field(default_factory=lambda: [datetime(2026, 1, 1, tzinfo=UTC)])


def memory_plan(shard_size: int = SHARD_SIZE, catalog: ProgramCatalog | None = None) -> MemoryPlan:
    """An empty plan on in-memory fakes; each run started on it gets a later `started_at`."""
    meter = WriteMeter()
    gaps, ledger, runs, store = (
        MemoryGapStateRepository(meter),
        MemoryLedgerRepository(meter),
        MemoryRunRegistry(meter),
        CountingStore(),
    )
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]

    def tick() -> datetime:
        clock[0] += timedelta(seconds=1)
        return clock[0]

    service = RunService(
        store=store,
        gaps=gaps,
        ledger=ledger,
        runs=runs,
        catalog=catalog or load_catalog(),
        curated_bucket=CURATED,
        reports_bucket=REPORTS,
        shard_size=shard_size,
        clock=tick,
    )
    return MemoryPlan(service, gaps, ledger, runs, store, meter, clock)


def run_month(service: RunService, month: str, mode: str = "final") -> dict[str, Any]:
    """Every step of the monthly state machine, in order, in this process; the accumulated state."""
    request = RunRequest.model_validate(
        {
            "run_kind": "monthly",
            "program_year": int(month[:4]),
            "month": month,
            "mode": mode,
            "execution_name": f"bench-{month}",
        }
    )
    run = service.open(request)
    plan = service.plan(run)
    refs = [ShardRef.model_validate(r) for r in service._store.get_json(plan.bucket, plan.manifest_key)]
    shards = [service.earn(EarnShardInput(run=run, shard=ref)) for ref in refs]
    totals = service.aggregate(AggregateInput(run=run, plan=plan))
    statements = service.render(RenderInput(run=run, totals=totals))
    closed = service.close(CloseInput(run=run, totals=totals, statements=statements))
    return {
        "run": run,
        "plan": plan,
        "shards": shards,
        "totals": totals,
        "statements": statements,
        "closed": closed,
    }


def _clinic(i: int) -> Clinic:
    return Clinic(
        clinic_id=f"K{i:04d}",
        tin=f"{900000000 + i}",
        npi="1234567893",
        clinic_name=f"Clinic {i}",
        lines_of_business=(LineOfBusiness.MC, LineOfBusiness.CA),
        program="care_gap",
        program_enrollment_date=date(2025, 11, 1) if i % 3 else date(2026, 2, 1),
        track=Track.FAMILY_ADULT,
    )


def _evidence(member_id: str, rng: random.Random, clinic_id: str) -> list[Evidence]:
    """BCS-E evidence for about a third of the women: attestations, claims, or both."""
    out: list[Evidence] = []
    roll = rng.random()
    day = date(2026, rng.choice((1, 2, 3)), rng.randint(1, 28))
    if roll < 0.15:
        out.append(
            Evidence(
                member_id=member_id,
                action=BCS,
                step=Step.SCHEDULE,
                action_date=day,
                source=EvidenceSource.ATTESTATION,
                file_id="att",
                source_row=1,
                attestation_id=f"A-{member_id}",
                attesting_clinic_id=clinic_id,
            )
        )
    if 0.10 < roll < 0.35:
        received = day + timedelta(days=rng.randint(5, 40))
        out.append(
            Evidence(
                member_id=member_id,
                action=BCS,
                step=Step.CLAIM,
                action_date=day,
                received_date=received,
                source=EvidenceSource.MEDICAL_CLAIM,
                file_id="clm",
                source_row=1,
                concept="77067",
                claim_id=f"C-{member_id}",
                claim_line_number=1,
            )
        )
    return out


def load_members(plan: MemoryPlan, members: int, clinics: int = 200, seed: int = 7) -> list[Evidence]:
    """Clinics, members (half of them women 50-74) and their evidence; returns the claims among it."""
    rng = random.Random(seed)
    plan.gaps.put_clinics(_clinic(i) for i in range(clinics))
    profiles, spans, evidence = [], [], []
    for n in range(members):
        member_id = f"M{n:07d}"
        clinic_id = f"K{rng.randrange(clinics):04d}"
        woman = rng.random() < 0.5
        birth = date(rng.randint(1952, 1975), rng.randint(1, 12), rng.randint(1, 28))
        profiles.append(
            MemberProfile(
                member_id=member_id, birth_date=birth, gender=Sex.F if woman else Sex.M, clinic_id=clinic_id
            )
        )
        spans.append(
            EligibilitySpan(
                member_id=member_id,
                start=date(2025, 1, 1),
                line_of_business=LineOfBusiness.MC,
                clinic_id=clinic_id,
            )
        )
        if woman:
            evidence += _evidence(member_id, rng, clinic_id)
    plan.gaps.put_roster(profiles, spans)
    plan.gaps.put_evidence(evidence)
    return [e for e in evidence if e.source is EvidenceSource.MEDICAL_CLAIM]


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
    plan = memory_plan()
    claims = load_members(plan, members)
    run_month(plan.service, "2026-02")
    # Between the months a tenth of February's claims is voided: the ingest side deletes their evidence.
    for e in claims[::10]:
        plan.gaps.retract(e.member_id, e.evidence_id)
    units_before = plan.meter.total
    puts_before, gets_before = plan.store.puts, plan.store.gets
    with measure() as timing:
        march = run_month(plan.service, "2026-03")
    write_units = plan.meter.total - units_before
    read_units = read_units_per_month(plan)
    puts, gets = plan.store.puts - puts_before, plan.store.gets - gets_before
    shards = march["plan"].shard_count
    transitions = state_transitions(shards)
    per_1000 = 1000 / members
    lambda_seconds = timing.cpu_seconds  # one core per function at 1,769 MB and above
    cost = (
        transitions * SFN_PER_TRANSITION
        + write_units * DDB_PER_WRITE_UNIT
        + read_units * DDB_PER_READ_UNIT
        + lambda_seconds * EARN_SHARD_MEMORY_GB * LAMBDA_PER_GB_SECOND
        + (shards + 6) * LAMBDA_PER_REQUEST
        + puts * S3_PER_PUT
        + gets * S3_PER_GET
    ) * per_1000
    reversals = sum(1 for e in plan.ledger.entries.values() if e.kind.value == "REVERSAL")
    return [
        Figure(
            "run_member_months_per_second_per_core", round(timing.per_cpu_second(members)), "member-months/s"
        ),
        Figure("run_seconds", round(timing.wall_seconds, 2), f"s ({members} members, {shards} shards)"),
        Figure("run_entries", march["totals"].entry_count, f"entries ({reversals} reversals)"),
        Figure("state_transitions_per_1000_member_months", round(transitions * per_1000, 3), "transitions"),
        Figure("dynamodb_write_units_per_1000_member_months", round(write_units * per_1000, 1), "WCU"),
        Figure("dynamodb_read_units_per_1000_member_months", round(read_units * per_1000, 1), "RCU"),
        Figure("s3_requests_per_1000_member_months", round((puts + gets) * per_1000, 3), "requests"),
        Figure(
            "run_cost_usd_per_1000_member_months", round(cost, 6), f"USD (target <= {TARGET_USD_PER_1000})"
        ),
    ]


def read_units_per_month(plan: MemoryPlan) -> float:
    """Read units one month's EarnShard reads would bill, from the sizes of the items it queries.

    Per member: the GapState member partition (eventually consistent: 0.5 unit per started 4 KB) and its
    `PAID#` history (strongly consistent: 1 unit per started 4 KB).
    """
    sizes: dict[str, int] = {}
    for (member_id, _), item in [
        *plan.gaps.spans.items(),
        *plan.gaps.evidence.items(),
        *plan.gaps.gaps.items(),
    ]:
        sizes[member_id] = sizes.get(member_id, 0) + item_size(item.model_dump(mode="json"))
    units = 0.0
    for member_id, profile in plan.gaps.profiles.items():
        partition = sizes.get(member_id, 0) + item_size(profile.model_dump(mode="json"))
        history = sum(
            item_size(e.model_dump(mode="json")) for e in plan.ledger.history.get(member_id, {}).values()
        )
        history += item_size(plan.ledger.digests.get(member_id, {}))
        units += 0.5 * max(1, math.ceil(partition / 4096)) + max(1, math.ceil(history / 4096))
    return units
