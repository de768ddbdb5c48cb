"""Attribution over 24 months of claims for 100,000 members, per core (issue 13 "Measure").

A plan is generated with `cli.generate` (clinics on every APC track, their providers with primary-care
flags, members with their PCPs, a year of medical claims), in chunks of 20,000 members to bound the
generator's memory; the year before is the same claims a year earlier under other claim ids, so December's
lookback holds 24 months. Every other member is relabelled commercial PPO, so about half the plan is
attributed by claims (the generator's products all prefer the selected PCP). Claims are written as the ingest
writes them (`curated/medical_claims/period=<received month>/`, all columns), the roster under
`curated/eligibility/period=<start month>/`, clinics and providers into the gap state. The measured block is
`AttributionService.build` for December on in-memory storage: read and decode the Parquet, net the versions,
judge the lines, rank, write the table. Per core is member-months over CPU seconds (every thread of the
process counted).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import polars as pl

from bench.registry import BenchContext, Figure, benchmark, measure

if TYPE_CHECKING:
    from shared.dal.memory import MemoryGapStateRepository, MemoryObjectStore

YEAR = 2026
MONTH = f"{YEAR}-12"
SEED = 11
CURATED = "curated"
MEMBERS_PER_CLINIC = 500
CHUNK = 20_000


def _put_by_month(store: MemoryObjectStore, frame: pl.DataFrame, kind: str, column: str, name: str) -> None:
    for (period,), part in frame.group_by(pl.col(column).dt.strftime("%Y-%m"), maintain_order=True):
        buffer = io.BytesIO()
        part.write_parquet(buffer, compression="zstd")
        store.put_bytes(CURATED, f"curated/{kind}/period={period}/{name}.parquet", buffer.getvalue())


def _a_year_earlier(claims: pl.DataFrame) -> pl.DataFrame:
    dates = [name for name, dtype in claims.schema.items() if dtype == pl.Date]
    return claims.with_columns(
        *(pl.col(name).dt.offset_by("-1y") for name in dates),
        claim_id="P" + pl.col("claim_id"),
        original_claim_id="P" + pl.col("original_claim_id"),
    )


def attribution_plan(members: int) -> tuple[MemoryObjectStore, MemoryGapStateRepository, int]:
    """The generated plan in curated Parquet and the gap state; returns the claim lines written. Members are
    generated in chunks (own ids, own claim ids, one file per chunk and month) to bound the generator's
    memory, which grows with the members at once."""
    from cli.generate.claim_lines import make_claims
    from cli.generate.clinics import clinics_frame, make_clinics
    from cli.generate.members import eligibility_roster, make_members, make_spans, member_months
    from cli.generate.providers import providers_frame
    from cli.generate.rng import Draws
    from shared.dal.memory import MemoryGapStateRepository, MemoryObjectStore
    from shared.logic.roster import clinics_from_rows, providers_from_rows

    clinics, outside = make_clinics(max(4, members // MEMBERS_PER_CLINIC), YEAR, SEED)
    gaps, store = MemoryGapStateRepository(), MemoryObjectStore()
    gaps.put_clinics(clinics_from_rows(clinics_frame(clinics)))
    gaps.put_providers(providers_from_rows(providers_frame(clinics, YEAR, SEED)))
    lines = 0
    for chunk, start in enumerate(range(0, members, CHUNK)):
        draws, tag = Draws(SEED + chunk), f"K{chunk:02d}"
        spans = make_spans(make_members(min(CHUNK, members - start), clinics, YEAR, draws), clinics)
        spans = spans.with_columns(member_id=tag + pl.col("member_id"))
        roster = eligibility_roster(spans, YEAR, 12).with_columns(
            pl.col("enrollment_start_date", "enrollment_end_date").str.to_date(),
            product=pl.when(pl.int_range(pl.len()) % 2 == 1)
            .then(pl.lit("commercial_ppo"))
            .otherwise("product"),
        )
        _put_by_month(store, roster, "eligibility", "enrollment_start_date", tag)
        year = make_claims(member_months(spans, YEAR), clinics, outside, draws).with_columns(
            claim_id=tag + pl.col("claim_id"), original_claim_id=tag + pl.col("original_claim_id")
        )
        money = {c: pl.Decimal(18, 2) for c, dtype in year.schema.items() if isinstance(dtype, pl.Decimal)}
        for name, claims in ((f"{tag}-prior", _a_year_earlier(year)), (tag, year)):
            _put_by_month(store, claims.cast(money), "medical_claims", "received_date", name)  # type: ignore[arg-type]
            lines += claims.height
        del year, claims
    return store, gaps, lines


@benchmark("attribution", order=65)
def attribution(ctx: BenchContext) -> list[Figure]:
    """Build December's attribution table over 24 months of claims (100,000 members; 10,000 with --quick)."""
    from shared.programs.apc import load_apc
    from shared.services.attribution import AttributionService

    members = ctx.size(100_000, 10_000)
    store, gaps, lines = attribution_plan(members)
    service = AttributionService(store=store, curated_bucket=CURATED, gaps=gaps, apc=load_apc())
    with measure() as timing:
        summary = service.build(MONTH)
    size = f"{summary.members} members, 24 months, {lines} claim lines"
    per_core = timing.per_cpu_second(summary.members)
    return [
        Figure("attribution_member_months_per_second_per_core", round(per_core), f"member-months/s ({size})"),
        Figure(
            "attribution_build_seconds",
            round(timing.wall_seconds, 2),
            f"s wall, {timing.cpu_seconds:.1f} s CPU",
        ),
        Figure(
            "attribution_claims_share",
            round(summary.claims / summary.members, 3),
            f"of member-months by claims ({summary.selected_pcp} selected_pcp, "
            f"{summary.unattributed} unattributed)",
        ),
        Figure(
            "attribution_core_hours_per_12m_member_months",
            round(12_000_000 / per_core / 3600, 3),
            "core-hours for one month of a 12M-member plan, at this rate",
        ),
    ]
