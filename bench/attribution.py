"""Attribution over 24 months of claims for 100,000 members, per core (issue 13 "Measure").

A plan is generated with `cli.generate` (clinics on every APC track, their providers with primary-care
flags, members with their PCPs, a year of medical claims), in chunks of 20,000 members to bound the
generator's memory; the year before is the same claims a year earlier under other claim ids, so December's
lookback holds 24 months. Every other member is relabelled commercial PPO, so about half the plan is
attributed by claims (the generator's products all prefer the selected PCP). Claims are written as the ingest
files them (`curated/medical_claims/period=<received month>/bucket=<NNN>-of-128/`, all columns), the roster
under `curated/eligibility/bucket=<NNN>-of-128/`, one object per directory as a plan's monthly file gives
(the chunks' objects merged), clinics and providers into the gap state.

Measured, on in-memory storage: `AttributionService.build` for December in one process (read and decode the
Parquet, net the versions, judge the lines, rank, write the parts), its peak memory above the process's before
it; then every bucket built alone by a service of its own (`build_part`, as the BuildParts map does, one
bucket a part); in processes of their own (`bench._attribution_worker`), one bucket's December and every
bucket's October to December as one part (the quarter a 12M-member plan's part builds: a bucket there is
about as many members as this whole plan), each with its seconds and peak memory. Per core is member-months
over CPU seconds (every thread of the process counted). Peak memory is `VmHWM` reset just before the block
(`/proc/self/clear_refs`), less the resident memory then: the build's own, not the generated plan's.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from bench.registry import BenchContext, Figure, benchmark, measure
from shared.models.files import FileKind

if TYPE_CHECKING:
    from shared.dal.memory import MemoryGapStateRepository, MemoryObjectStore

YEAR = 2026
MONTH = f"{YEAR}-12"
QUARTER = [f"{YEAR}-10", f"{YEAR}-11", MONTH]
SEED = 11
CURATED = "curated"
MEMBERS_PER_CLINIC = 500
CHUNK = 20_000


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="snappy")  # as the ingest's sink writes curated rows
    return buffer.getvalue()


def _put_filed(store: MemoryObjectStore, frame: pl.DataFrame, kind: FileKind, column: str, name: str) -> None:
    """`frame` filed as the ingest files the kind: one object per directory (`curated_partition`)."""
    from shared.logic.member_buckets import MEMBER_BUCKETS, curated_partition

    where = curated_partition(kind, frame, pl.col(column).dt.strftime("%Y-%m"), MEMBER_BUCKETS)
    filed = frame.with_columns(where.alias("_where"))
    for (directory,), part in filed.group_by("_where", maintain_order=True):
        body = _parquet(part.drop("_where"))
        store.put_bytes(CURATED, f"curated/{kind.value}/{directory}/{name}.parquet", body)


def _merge_chunks(store: MemoryObjectStore) -> None:
    """Each directory's chunk objects as one object, as one file a month gives them."""
    directories: dict[str, list[str]] = {}
    for key in store.keys(CURATED, "curated/"):
        directories.setdefault(key.rsplit("/", 1)[0], []).append(key)
    for directory, keys in directories.items():
        parts = [pl.read_parquet(io.BytesIO(store.objects.pop((CURATED, key)))) for key in keys]
        store.put_bytes(
            CURATED, f"{directory}/plan.parquet", _parquet(pl.concat(parts, how="vertical_relaxed"))
        )


def _part_in_a_process(
    store: MemoryObjectStore, gaps: MemoryGapStateRepository, months: list[str], buckets: range
) -> dict:
    """Buckets of some months built by `bench._attribution_worker` from those buckets' curated objects."""
    from shared.logic.member_buckets import MEMBER_BUCKETS, key_partition

    mine = {}
    for (name, key), body in store.objects.items():
        prefix = "/".join(key.split("/")[:2]) + "/"
        if key_partition(key, prefix, MEMBER_BUCKETS)[1] in buckets:
            mine[(name, key)] = body
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "part.pickle"
        path.write_bytes(pickle.dumps((mine, gaps)))
        first, last = str(buckets[0]), str(buckets[-1])
        done = subprocess.run(
            [sys.executable, "-m", "bench._attribution_worker", str(path), ",".join(months), first, last],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_above() -> Iterator[Callable[[], float]]:
    """The block's peak resident memory above the process's before it, in MB (Linux; 0 elsewhere)."""
    clear = Path("/proc/self/clear_refs")
    before = _status_mb("VmRSS")
    if clear.exists():
        clear.write_text("5")  # resets VmHWM to the resident memory now
    peak: list[float] = []
    try:
        yield lambda: peak[0] if peak else 0.0
    finally:
        peak.append(max(0.0, _status_mb("VmHWM") - before))


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
        _put_filed(store, roster, FileKind.ELIGIBILITY, "enrollment_start_date", tag)
        year = make_claims(member_months(spans, YEAR), clinics, outside, draws).with_columns(
            claim_id=tag + pl.col("claim_id"), original_claim_id=tag + pl.col("original_claim_id")
        )
        money = {c: pl.Decimal(18, 2) for c, dtype in year.schema.items() if isinstance(dtype, pl.Decimal)}
        for name, claims in ((f"{tag}-prior", _a_year_earlier(year)), (tag, year)):
            _put_filed(store, claims.cast(money), FileKind.MEDICAL_CLAIMS, "received_date", name)  # type: ignore[arg-type]
            lines += claims.height
        del year, claims
    _merge_chunks(store)
    return store, gaps, lines


@benchmark("attribution", order=65)
def attribution(ctx: BenchContext) -> list[Figure]:
    """Build December's attribution table over 24 months of claims (100,000 members; 10,000 with --quick):
    in one process, then bucket by bucket."""
    from shared.logic.member_buckets import MEMBER_BUCKETS
    from shared.programs.apc import load_apc
    from shared.services.attribution import AttributionService

    members = ctx.size(100_000, 10_000)
    store, gaps, lines = attribution_plan(members)
    curated_mb = sum(len(v) for (_, k), v in store.objects.items() if k.startswith("curated/")) / 1024**2

    def service() -> AttributionService:
        return AttributionService(store=store, curated_bucket=CURATED, gaps=gaps, apc=load_apc())

    one_process = service()
    with peak_above() as peak, measure() as timing:
        summary = one_process.build(MONTH)
    whole_peak = peak()
    del one_process
    size = f"{summary.members} members, 24 months, {lines} claim lines"
    per_core = timing.per_cpu_second(summary.members)
    with measure() as fanned:
        for bucket in range(MEMBER_BUCKETS):
            service().build_part(MONTH, [bucket])
    one = _part_in_a_process(store, gaps, [MONTH], range(1))
    quarter = _part_in_a_process(store, gaps, QUARTER, range(MEMBER_BUCKETS))
    return [
        Figure("attribution_member_months_per_second_per_core", round(per_core), f"member-months/s ({size})"),
        Figure(
            "attribution_build_seconds",
            round(timing.wall_seconds, 2),
            f"s wall, {timing.cpu_seconds:.1f} s CPU",
        ),
        Figure(
            "attribution_build_peak_mb",
            round(whole_peak),
            f"MB above the process before the one-process build ({size}; "
            f"{curated_mb:.0f} MB of curated Parquet)",
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
        Figure(
            "attribution_buckets_member_months_per_second_per_core",
            round(fanned.per_cpu_second(summary.members)),
            f"member-months/s, all {MEMBER_BUCKETS} buckets built one at a time by services of their own "
            f"({fanned.wall_seconds:.1f} s wall, {fanned.cpu_seconds:.1f} s CPU)",
        ),
        Figure(
            "attribution_bucket_build_seconds",
            round(one["wall_seconds"], 3),
            f"s wall for one bucket of {MEMBER_BUCKETS} in a process of its own ({one['members']} members, "
            f"{one['claim_lines']} claim lines read; {one['cpu_seconds']:.2f} s CPU)",
        ),
        Figure(
            "attribution_bucket_peak_mb",
            round(one["peak_rss_mb"]),
            f"MB peak resident, the whole process building one bucket (interpreter and polars included; "
            f"{one['peak_above_mb']:.0f} MB above it before the build)",
        ),
        Figure(
            "attribution_quarter_part_seconds",
            round(quarter["wall_seconds"], 2),
            f"s wall for every bucket of the plan as one part, October to December, as one BuildPart builds "
            f"them ({quarter['members']} members; {quarter['cpu_seconds']:.1f} s CPU)",
        ),
        Figure(
            "attribution_quarter_part_peak_mb",
            round(quarter["peak_rss_mb"]),
            f"MB peak resident, the whole process building that part (interpreter and polars included; "
            f"{quarter['peak_above_mb']:.0f} MB above it before the build)",
        ),
    ]
