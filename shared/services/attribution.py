"""The monthly APC attribution job (issue 13 §2; docs/apc.md "The monthly table"): the member-month table
built from the curated Parquet (medical claims, eligibility) and the gap state's providers and clinics,
written as one part per member bucket, `curated/attribution/month=<YYYY-MM>/bucket=NNN-of-MMM.parquet`
(`shared.logic.member_buckets`; MMM the deployment's bucket count); `explain` says why one member-month is
where it is.

A part is built from its buckets' claims and members alone: netting is per member (a version counts within
the member it names, as the ingest has it), so the parts together are the table one process builds
(`build`), and a run fans the month out by bucket range (`build_part`; docs/decisions.md "Attribution fans
out by member hash").

The table is member data: it lives only in the curated bucket, and nothing here logs a member's value (the
build logs counts; `explain` returns the row to the operator who asked).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import polars as pl

from shared.dal.errors import NotFoundError
from shared.dal.gap_state import GapStateRepository
from shared.dal.objects import ObjectStore
from shared.errors import DomainError
from shared.intake.versions import net_claim_versions
from shared.logic.attribution import Attributor, attribution_of
from shared.logic.attribution_table import (
    LINE_SCHEMA,
    MEMBER_SCHEMA,
    TABLE_SCHEMA,
    PrimaryCare,
    enrolled_members,
)
from shared.logic.dates import month_end
from shared.logic.member_buckets import (
    MEMBER_BUCKETS,
    bucket_column,
    bucket_segment,
    checked_count,
    contiguous_parts,
    in_buckets,
    key_partition,
    member_bucket,
    segment_of,
)
from shared.models.apc import (
    AttributionExplanation,
    AttributionMember,
    AttributionSummary,
    Product,
    ProviderRecord,
)
from shared.models.tables import Prefix
from shared.observability import logger
from shared.programs.apc import ApcCatalog, ApcProgram

ATTRIBUTION_PREFIX = Prefix.ATTRIBUTION.value
CLAIMS_PREFIX = Prefix.MEDICAL_CLAIMS_ROWS.value
ELIGIBILITY_PREFIX = Prefix.ELIGIBILITY_ROWS.value
WHOLE_TABLE = "attribution.parquet"
"""The month's table as one file, as builds before the parts wrote it: read when the month has no parts."""
CLAIM_COLUMNS = (
    "claim_id",
    "claim_line_number",
    "claim_frequency_code",
    "original_claim_id",
    "member_id",
    "claim_start_date",
    "received_date",
    "rendering_npi",
    "hcpcs_code",
    "place_of_service_code",
    "allowed_amount",
)
ELIGIBILITY_COLUMNS = (
    "member_id",
    "enrollment_start_date",
    "enrollment_end_date",
    "assigned_clinic_id",
    "product",
    "pcp_npi",
)
_VERSIONS = ("7", "8")
_PRODUCTS = frozenset(p.value for p in Product)
PART_BYTES = 256 * 1024**2
"""Curated claims and rosters one part reads at most (`attribution_parts`): the benchmark's 94,388 members
read 258 MB of them and built October to December as one part in 2.6 GB resident (docs/apc.md "Limits and
scale"), within BuildPart's 6 GB; at 12M members a bucket is about this much, so a part is one bucket."""
_BUCKETS_AT_ONCE = 16
"""Buckets attributed together within one build (measured: 16 at once cost a sixth less CPU than 128)."""
_READERS = 16
"""Objects fetched at once: a part reads a few hundred small objects, each mostly S3's latency."""
_SCOPE = "\x1f"
"""Joins a member id to a claim id, so netting keeps within the member."""


class NoApcProgramError(DomainError):
    """No APC program version is in force on the month's last day."""


class NoEligibilityError(DomainError):
    """No accepted eligibility span covers the month."""


class BucketOutOfRangeError(DomainError):
    """A part names a bucket the deployment's count has not (the count changed since it was planned)."""


class NoAttributionTableError(DomainError):
    """The month's attribution table has not been built."""


class UnknownMemberError(DomainError):
    """The member is not in the month's attribution table (no roster span covers the month)."""


def table_key(month: str) -> str:
    """Where the month's attribution table is, in the curated bucket: the prefix of its parts."""
    return f"{ATTRIBUTION_PREFIX}month={month}/"


def part_key(month: str, bucket: int, count: int) -> str:
    """The month's part for one member bucket (of `count`)."""
    return f"{table_key(month)}{bucket_segment(bucket, count)}.parquet"


def _month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def fetch_frames(
    store: ObjectStore, curated_bucket: str, keys: Sequence[str], columns: Sequence[str] | None = None
) -> list[pl.DataFrame]:
    """The Parquet objects at `keys`, in order, with `columns` (all when None): fetched a few at a time (a
    part reads hundreds of small objects, each mostly S3's latency), decoded together in one call (a call
    per small object costs more than its rows)."""
    if len(keys) < 2:
        bodies = [store.get_bytes(curated_bucket, key) for key in keys]
    else:
        with ThreadPoolExecutor(max_workers=min(_READERS, len(keys))) as pool:
            bodies = list(pool.map(lambda key: store.get_bytes(curated_bucket, key), keys))
    scans = [pl.scan_parquet(io.BytesIO(body)) for body in bodies]
    if columns is not None:
        scans = [scan.select(*columns) for scan in scans]
    return pl.collect_all(scans)


def curated_frames(
    store: ObjectStore,
    curated_bucket: str,
    prefix: str,
    columns: tuple[str, ...],
    wanted: Callable[[str], bool],
) -> list[pl.DataFrame]:
    """The curated Parquet files under `prefix` filed by a period (`period=<YYYY-MM>/`, whatever bucket) that
    `wanted` takes, in key order, with `columns`."""
    keys = []
    for key in store.keys(curated_bucket, prefix):
        period, _ = key_partition(key, prefix, MEMBER_BUCKETS)
        if period is not None and wanted(period):
            keys.append(key)
    return fetch_frames(store, curated_bucket, keys, columns)


def _table_parts(keys: Iterable[str], prefix: str, count: int) -> tuple[int, dict[int, str]]:
    """The bucket count the month's table is in and its part of each bucket: the parts of `count` (the
    deployment's) when some exist, else those of the one other count that has every part (a table built
    before the deployment's count changed)."""
    by_count: dict[int, dict[int, str]] = {}
    for key in keys:
        named = segment_of(key[len(prefix) :].removesuffix(".parquet"))
        if named is not None:
            by_count.setdefault(named[1], {})[named[0]] = key
    if count in by_count or not by_count:
        return count, by_count.get(count, {})
    complete = sorted(n for n, parts in by_count.items() if len(parts) == n)
    if len(complete) == 1:
        return complete[0], by_count[complete[0]]
    return count, {}


def read_table(
    store: ObjectStore,
    curated_bucket: str,
    month: str,
    *,
    members: Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    count: int = MEMBER_BUCKETS,
) -> pl.DataFrame:
    """The month's attribution table (the rows of the parts holding `members`, every member when None), in
    member order. Its parts are those of `count` buckets (the deployment's), or of the one other count every
    part of which is there; NoAttributionTableError when it has not been built, or a build left some parts
    unwritten."""
    prefix = table_key(month)
    table_count, parts = _table_parts(store.keys(curated_bucket, prefix), prefix, count)
    if members is None:
        wanted = list(range(table_count))
    else:
        wanted = sorted({member_bucket(m, table_count) for m in members})
    if len(parts) == table_count:
        frames = fetch_frames(store, curated_bucket, [parts[b] for b in wanted], columns)
        return pl.concat(frames).sort("member_id") if frames else _empty_table(columns)
    if parts:
        raise NoAttributionTableError(
            f"the attribution table of {month} has {len(parts)} of its {table_count} parts: build it "
            f"again with `p4p attribution build --month {month}`"
        )
    try:
        whole = store.get_parquet(curated_bucket, f"{prefix}{WHOLE_TABLE}")
    except NotFoundError:
        raise NoAttributionTableError(
            f"no attribution table for {month}: build it with `p4p attribution build --month {month}`"
        ) from None
    found = in_buckets(whole, wanted, table_count).sort("member_id")
    return found.select(*columns) if columns is not None else found


def _empty_table(columns: Sequence[str] | None) -> pl.DataFrame:
    empty = pl.DataFrame(schema=TABLE_SCHEMA)
    return empty.select(*columns) if columns is not None else empty


def attributed_practices(
    store: ObjectStore,
    curated_bucket: str,
    month: str,
    member_ids: Iterable[str],
    count: int = MEMBER_BUCKETS,
) -> dict[str, str | None]:
    """Each member's attributed practice for `month` from the built table (of `count` buckets, as
    `read_table`); None when the member is unattributed or not in the table (not enrolled that month).
    NoAttributionTableError when unbuilt."""
    wanted = sorted(set(member_ids))
    found = read_table(
        store, curated_bucket, month, members=wanted, columns=("member_id", "practice_id"), count=count
    ).filter(pl.col("member_id").is_in(wanted))
    practices: dict[str, str | None] = dict.fromkeys(wanted)
    practices.update(dict(found.iter_rows()))
    return practices


def attribution_parts(
    store: ObjectStore,
    curated_bucket: str,
    first: str,
    last: str,
    budget: int = PART_BYTES,
    count: int = MEMBER_BUCKETS,
) -> list[tuple[int, int]]:
    """Member-bucket ranges (first, last bucket) whose tables of months up to `last`, over claims received
    from `first` (`YYYY-MM`) on, are built one range per function: neighbouring buckets together while the
    curated claims and rosters they read stay within `budget` bytes. A file filed by no bucket (curated
    before them, or under another count) counts its share in every bucket of `count`."""
    held = [0] * count
    for prefix, wanted in (
        (CLAIMS_PREFIX, lambda period: period is None or period >= first),
        (ELIGIBILITY_PREFIX, lambda period: period is None or period <= last),
    ):
        for key, size in store.sizes(curated_bucket, prefix).items():
            period, bucket = key_partition(key, prefix, count)
            if not wanted(period):
                continue
            if bucket is None:
                held = [h + size // count for h in held]
            else:
                held[bucket] += size
    return contiguous_parts(held, budget)


def _summary(month: str, parts: int, table: pl.DataFrame, read: int) -> AttributionSummary:
    counts = {str(rule): int(n) for rule, n in table.get_column("rule").value_counts().iter_rows()}
    return AttributionSummary(
        month=month,
        key=table_key(month),
        parts=parts,
        members=table.height,
        selected_pcp=counts.get("selected_pcp", 0),
        claims=counts.get("claims", 0),
        unattributed=counts.get("unattributed", 0),
        practices=table.get_column("practice_id").drop_nulls().n_unique(),
        claim_lines=read,
    )


class AttributionService:
    """Builds and explains the month's attribution table (repositories passed in).

    A service reads the curated listing once and each curated file once (a quarterly run's part builds its
    three months with one): the files of a prefix are written once by the ingest, so a key read again is the
    same rows; files landed since are seen by a new service (`explain` lists afresh)."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        curated_bucket: str,
        gaps: GapStateRepository,
        apc: ApcCatalog,
        member_buckets: int = MEMBER_BUCKETS,
    ) -> None:
        """`member_buckets`: the deployment's bucket count, which the parts are written in."""
        self._count = checked_count(member_buckets)
        self._store = store
        self._curated = curated_bucket
        self._gaps = gaps
        self._apc = apc
        self._listed: dict[str, list[str]] = {}
        self._read: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}

    def build(self, month: str) -> AttributionSummary:
        """Attribute every member enrolled in `month` in this process and write every part of the table
        (overwriting an earlier build)."""
        return self.build_part(month, range(self._count))

    def build_part(self, month: str, buckets: Iterable[int]) -> AttributionSummary:
        """Attribute the members of `buckets` enrolled in `month` from their claims alone, and write those
        buckets' parts (a bucket with no member enrolled gets an empty part). NoEligibilityError when the
        whole month is built and no member is enrolled."""
        wanted = sorted(set(buckets))
        outside = [b for b in wanted if not 0 <= b < self._count]
        if outside:
            raise BucketOutOfRangeError(
                f"bucket {outside[0]} is not one of this deployment's {self._count} member buckets: plan the "
                "run's parts again"
            )
        # A few buckets at a time: the parts are independent, and smaller sorts and joins cost less per line.
        groups = [wanted[i : i + _BUCKETS_AT_ONCE] for i in range(0, len(wanted), _BUCKETS_AT_ONCE)]
        members = [self._members(month, group) for group in groups]
        if len(wanted) == self._count and all(m.is_empty() for m in members):
            raise NoEligibilityError(
                f"no eligibility span covers {month}: land the month's roster under landing/eligibility/"
            )
        attributor = self._attributor(month)
        tables, read = [pl.DataFrame(schema=TABLE_SCHEMA)], 0
        for group, enrolled in zip(groups, members, strict=True):
            lines_read, lines = self._lines(month, attributor.compiled, group, None)
            tables.append(attributor.table(month, enrolled, lines))
            read += lines_read
        table = pl.concat(tables)
        self._write_parts(month, wanted, table)
        summary = _summary(month, len(wanted), table, read)
        logger.info("attribution built", **summary.model_dump())
        return summary

    def explain(self, member_id: str, month: str) -> AttributionExplanation:
        """The member's row of the month's table, the claims workings behind it and today's answer (from the
        files on hand now: the listing is read afresh)."""
        bucket = [member_bucket(member_id, self._count)]
        rows = read_table(self._store, self._curated, month, members=[member_id], count=self._count)
        rows = rows.filter(pl.col("member_id") == member_id)
        if rows.is_empty():
            raise UnknownMemberError(
                f"member not in the attribution table of {month} (not enrolled that month)"
            )
        row = rows.row(0, named=True)
        attributor = self._attributor(month)
        self._listed.clear()
        _, lines = self._lines(month, attributor.compiled, bucket, member_id)
        product, pcp = row["product"], row["pcp_npi"]
        member = AttributionMember(product=Product(product) if product in _PRODUCTS else None, pcp_npi=pcp)
        on_roster = attributor.providers.get(pcp or "")
        one = pl.DataFrame([(member_id, product, pcp)], schema=MEMBER_SCHEMA, orient="row")
        return AttributionExplanation(
            member_id=member_id,
            product=product,
            pcp_npi=pcp,
            pcp_practice_id=on_roster.practice_id if on_roster else None,
            prefers_pcp=member.product in attributor.rules.selected_pcp_products,
            recorded=attribution_of(row),
            current=attribution_of(attributor.table(month, one, lines).row(0, named=True)),
            workings=attributor.workings(month, lines),
        )

    def claim_frames(
        self, buckets: Sequence[int], first: str, columns: tuple[str, ...]
    ) -> list[pl.DataFrame]:
        """The curated claims of `buckets`' members received from `first` (`YYYY-MM`) on, with `columns`, in
        key order (each file read once by this service)."""
        return self._frames(CLAIMS_PREFIX, columns, lambda p: p is None or p >= first, buckets)

    def _program(self, month: str) -> ApcProgram:
        day = month_end(month)
        program = self._apc.find(day)
        if program is None:
            raise NoApcProgramError(f"no apc program version is in force on {day.isoformat()}")
        return program

    def _attributor(self, month: str) -> Attributor:
        """The program's rules and the participating practices' providers on the month's last day."""
        rules = self._program(month).attribution
        # A practice participates when it is on an APC track with some payer: the table is one per deployment.
        participating = {
            c for c, clinic in self._gaps.clinics().items() if clinic.in_apc_on(month_end(month))
        }
        providers = {
            npi: ProviderRecord(practice_id=a.practice_id, primary_care=a.primary_care)
            for npi, a in self._gaps.providers_on(month_end(month)).items()
            if a.practice_id in participating
        }
        return Attributor(rules, providers)

    def _write_parts(self, month: str, buckets: Sequence[int], table: pl.DataFrame) -> None:
        buckets_of = bucket_column(table.get_column("member_id"), self._count)
        by_bucket = table.with_columns(_bucket=buckets_of).partition_by(
            "_bucket", as_dict=True, include_key=False
        )
        empty = pl.DataFrame(schema=TABLE_SCHEMA)

        def write(bucket: int) -> None:
            key = part_key(month, bucket, self._count)
            self._store.put_parquet(self._curated, key, by_bucket.get((bucket,), empty))

        with ThreadPoolExecutor(max_workers=_READERS) as pool:
            list(pool.map(write, buckets))

    def _frames(
        self,
        prefix: str,
        columns: tuple[str, ...],
        wanted: Callable[[str | None], bool],
        buckets: Sequence[int],
    ) -> list[pl.DataFrame]:
        """The rows of `buckets`' members in the curated files under `prefix` whose period `wanted` takes
        (None: filed by no period), in key order, each file read once by this service. A file filed by no
        bucket of this count (curated before the buckets, or under another count) is read whole and its
        rows kept by the hash."""
        if prefix not in self._listed:
            self._listed[prefix] = self._store.keys(self._curated, prefix)
        chosen: list[tuple[str, bool]] = []
        for key in self._listed[prefix]:
            period, bucket = key_partition(key, prefix, self._count)
            if wanted(period) and (bucket is None or bucket in buckets):
                chosen.append((key, bucket is None))
        missing = [key for key, _ in chosen if (key, columns) not in self._read]
        for key, frame in zip(
            missing, fetch_frames(self._store, self._curated, missing, columns), strict=True
        ):
            self._read[(key, columns)] = frame
        return [
            in_buckets(self._read[(key, columns)], buckets, self._count)
            if whole
            else self._read[(key, columns)]
            for key, whole in chosen
        ]

    def _members(self, month: str, buckets: Sequence[int]) -> pl.DataFrame:
        """The members of `buckets` enrolled in `month`: eligibility is filed by bucket (and, before the
        buckets, by span start: every period up to the month)."""
        frames = self._frames(
            ELIGIBILITY_PREFIX, ELIGIBILITY_COLUMNS, lambda period: period is None or period <= month, buckets
        )
        if not frames:
            return pl.DataFrame(schema=MEMBER_SCHEMA)
        return enrolled_members(pl.concat(frames, how="vertical_relaxed").unique(), month)

    def _lines(
        self, month: str, compiled: PrimaryCare, buckets: Sequence[int], member_id: str | None
    ) -> tuple[int, pl.DataFrame]:
        """The claim lines read and the net ones (`LINE_SCHEMA`) of `buckets`' members that may fall in the
        lookback: claims are filed by received month, and a line is received on or after its service, so
        every month from the lookback's first on. With a member: every line of theirs, netted with their
        replacements and voids; without, only the claims that can matter."""
        first = _month_of(compiled.lookback(month)[0])
        frames = self._frames(
            CLAIMS_PREFIX, CLAIM_COLUMNS, lambda period: period is None or period >= first, buckets
        )
        if member_id is not None:
            frames = [frame.filter(pl.col("member_id") == member_id) for frame in frames]
        if not frames:
            return 0, pl.DataFrame(schema=LINE_SCHEMA)
        claims = pl.concat(frames, how="vertical_relaxed", rechunk=True).with_columns(
            date=pl.col("claim_start_date")
        )
        read = claims.height
        if member_id is None:
            # Only claims with a line that may count, or versions, can matter: a claim's copies and versions
            # share its id, so keeping every line of those claims nets them as netting everything would.
            matter = compiled.may_count(month) | pl.col("claim_frequency_code").is_in(_VERSIONS)
            ids = claims.filter(matter).get_column("claim_id").unique()
            claims = claims.filter(pl.col("claim_id").is_in(ids.implode()))
        # A version counts within the member it names (docs/ingest.md): claim ids are netted per member, so a
        # part of the members nets its claims as the whole plan would.
        scope = pl.col("member_id") + _SCOPE
        claims = claims.with_columns(
            claim_id=scope + pl.col("claim_id"), original_claim_id=scope + pl.col("original_claim_id")
        )
        # Of two copies of one line the later received stands; on one day, the later in key order (curated
        # Parquet keeps no file order).
        claims = net_claim_versions(claims.sort("received_date", maintain_order=True))
        return read, claims.select(*(pl.col(name).cast(dtype) for name, dtype in LINE_SCHEMA.items()))
