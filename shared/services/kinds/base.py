"""What a kind of payment run says about itself, and the storage a kind may use.

The pipeline (`shared/services/runs.py`, `shared/services/settlement.py`) is the same for every kind:
open → plan shards → earn per shard → aggregate → render → close, then approval and payment. A kind says
only what differs: its period, the checks before a final run opens, how a shard earns, what it settles
at aggregation (carried balances), and which reports it writes beside the statements.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

import polars as pl

from shared.clock import Clock
from shared.dal.files import FileRegistry
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.dal.objects import ObjectStore
from shared.dal.runs import RunRegistry
from shared.errors import DomainError
from shared.logic.member_buckets import MEMBER_BUCKETS
from shared.logic.ta_engagement import TaActivity
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import BucketPart, PartResult, RunKind, RunMode, RunRef, RunRequest, ShardOutput
from shared.models.tables import Prefix
from shared.programs.care_gap import ProgramCatalog
from shared.programs.catalog import ProgramSet
from shared.services.shard_memo import ShardMemo
from shared.services.statements import statement_csv, statement_html


class RunInputError(DomainError):
    """The execution input is not a run request this machine can take (the message names the field)."""


@dataclass(frozen=True)
class RunContext:
    """The storage and program versions a run kind reads and writes, shared with the pipeline; `objects`
    and `curated` are the run's working files (results a later run reads, e.g. a year's rates)."""

    objects: ObjectStore
    curated: str
    gaps: GapStateRepository
    ledger: LedgerRepository
    runs: RunRegistry
    files: FileRegistry
    catalog: ProgramCatalog
    programs: ProgramSet
    now: Clock
    payer: str = DEFAULT_PAYER
    memo: ShardMemo | None = None
    """What one shard computes of its members more than once (EarnShard sets one per shard)."""
    member_buckets: int = MEMBER_BUCKETS
    """How many member buckets the curated claims, rosters and attribution tables are filed in."""


@dataclass(frozen=True)
class Report:
    """A report object a kind writes beside the statements: `runs/<run_id>/<name>` in the reports bucket, or
    `statements/<run_id>/<name>` for a clinic's own output."""

    name: str
    body: bytes
    content_type: str = "text/csv"
    for_clinic: bool = (
        False  # a clinic's own output (member-level): kept with the statements, not the reports
    )


def parts_key(run_id: str) -> str:
    """A run's parts manifest (the BuildParts map's items, `BucketPart`s), in the curated bucket."""
    return f"{Prefix.RUNS}{run_id}/parts.json"


def earnings_key(run_id: str) -> str:
    """A monthly run's Care Gap earnings per clinic and earned year, in the curated bucket (what the
    annual run's earnings guarantee sets against the Benchmark bonus)."""
    return f"{Prefix.RUNS}{run_id}/earnings.json"


def rates_key(run_id: str) -> str:
    """An annual run's rates per clinic, line and measure, in the curated bucket (next year's prior rates)."""
    return f"{Prefix.RUNS}{run_id}/rates.json"


class RunKindModule(ABC):
    """One kind of payment run (registered in `shared/services/kinds/__init__.py`)."""

    kind: ClassVar[RunKind]

    @abstractmethod
    def period(self, request: RunRequest) -> str:
        """The run's period from the request (`2026-03`, `2026`); RunInputError when it has none."""

    @abstractmethod
    def check_open(self, ctx: RunContext, request: RunRequest, period: str) -> None:
        """Refuse (with a domain error) a final run that must not open or resume now."""

    @abstractmethod
    def earn(
        self, ctx: RunContext, run: RunRef, shard_id: str, members: Sequence[MemberFacts]
    ) -> ShardOutput:
        """One shard's result; in final mode the entries are recorded in the ledger first."""

    writes_pages: ClassVar[bool] = True
    """Whether the kind's runs count and render the clinic and plan pages (RenderStatements)."""

    shards_by_bucket: ClassVar[bool] = False
    """Whether the kind's shards hold members in member-bucket order (not clinic by clinic): a shard that
    reads per-bucket parts (the quarterly attribution tables) then reads a bucket or two, not all of them."""

    legacy_program: ClassVar[str] = ""
    """The program a run summary written before summaries named programs is read as paying."""

    def pages_as_of(self, period: str, today: date) -> date:
        """The day a run's pages stand on: by default today, within the period's year."""
        return min(today, date(int(period[:4]), 12, 31))

    def pays_in(self, period: str) -> str:
        """The month (`YYYY-MM`) a run of `period` pays in: by default the period itself."""
        return period

    def prepare(self, ctx: RunContext, run: RunRef) -> tuple[BucketPart, ...]:
        """What the run's shards all read, computed once before they start (PlanShards), and the
        member-bucket parts of it that are built apart, one BuildPart each, before the shards start (too
        much for one function: a quarterly run's attribution tables); none by default."""
        return ()

    def build_part(self, ctx: RunContext, run: RunRef, part: BucketPart) -> PartResult:
        """Build one member-bucket part of what `prepare` left to the parts (BuildPart)."""
        raise RunInputError(f"a {self.kind.value} run builds no parts")

    def settle(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> list[LedgerEntry]:
        """Entries the whole run adds at aggregation (recorded in final mode); none by default."""
        return []

    def reports(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> Iterable[Report]:
        """Report objects beside the statements, written as they come (a generator keeps one in memory);
        none by default."""
        return ()

    def statement_csv(
        self,
        run_id: str,
        clinic: Clinic,
        entries: Sequence[LedgerEntry],
        categories: Mapping[tuple[str, str], str],
        banner: str | None,
    ) -> bytes:
        """One clinic's statement as CSV (default: the SVU statement, a line per award)."""
        return statement_csv(run_id, clinic.clinic_id, entries, categories=categories, banner=banner)

    def statement_html(
        self,
        run_id: str,
        clinic: Clinic,
        entries: Sequence[LedgerEntry],
        categories: Mapping[tuple[str, str], str],
        banner: str | None,
    ) -> bytes:
        """The same statement for people."""
        return statement_html(run_id, clinic, entries, categories=categories, banner=banner)

    def single_operator(self, programs: ProgramSet, period: str) -> bool:
        """True when the program lets the identity that ran a run also approve it; False by default."""
        return False

    @abstractmethod
    def request_fields(self, period: str) -> dict[str, str]:
        """The request fields that name `period` (the inverse of `period`), for a recalculation."""


def engagement_activities(ctx: RunContext, through: str) -> Iterator[TaActivity]:
    """Every accepted engagement row dated in a month up to `through` (onboarding may be years earlier)."""
    prefix = Prefix.TA_ENGAGEMENT.value
    for key in ctx.objects.keys(ctx.curated, prefix):
        month = key[len(prefix) :].split("/", 1)[0].removeprefix("period=")
        if month > through:
            continue
        frame = pl.read_parquet(io.BytesIO(ctx.objects.get_bytes(ctx.curated, key)))
        for row in frame.select("practice_id", "activity", "activity_date", "status").iter_rows():
            yield TaActivity(practice_id=row[0], activity=row[1], activity_date=row[2], status=row[3])


def append_member_entries(
    ctx: RunContext,
    run: RunRef,
    history: Sequence[LedgerEntry],
    wanted: Sequence[LedgerEntry],
    copies: list[LedgerEntry] | None = None,
) -> tuple[list[LedgerEntry], int]:
    """Append one member's settled entries (`wanted`, from `settle_member` over `history`): what this run
    holds for the member afterwards, and how many were recorded by an earlier run. A preview records
    nothing: it reports what it would append that is not recorded yet. The recorded entries' history copies
    are written after them, or, given `copies`, added to it for the caller to write (`index_members`)."""
    if run.mode is RunMode.PREVIEW:
        taken = ctx.ledger.existing_ids(e.entry_id for e in wanted) if wanted else set()
        return [e for e in wanted if e.entry_id not in taken], len(taken)
    ours = [e for e in history if e.run_id == run.run_id]
    skipped = 0
    recorded = [ctx.ledger.record(entry)[0] for entry in wanted]
    # The history copies follow their entries, so a crash between the two is healed here (an entry met again
    # gets its copy).
    if copies is None:
        ctx.ledger.index_members(recorded)
    else:
        copies.extend(recorded)
    for stored in recorded:
        if stored.run_id == run.run_id:
            ours.append(stored)
        else:
            skipped += 1  # recorded by an earlier run whose history copy was missing
    return ours, skipped
