"""The monthly APC attribution job (issue 13 §2; docs/apc.md "The monthly table"): the member-month table
built from the curated Parquet (medical claims, eligibility) and the gap state's providers and clinics,
written to `curated/attribution/month=<YYYY-MM>/attribution.parquet`; `explain` says why one member-month
is where it is.

The table is member data: it lives only in the curated bucket, and nothing here logs a member's value (the
build logs counts; `explain` returns the row to the operator who asked).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import date

import polars as pl

from shared.dal.errors import NotFoundError
from shared.dal.gap_state import GapStateRepository
from shared.dal.objects import ObjectStore
from shared.errors import DomainError
from shared.intake.versions import net_claim_versions
from shared.logic.attribution import Attributor, attribution_of
from shared.logic.attribution_table import LINE_SCHEMA, MEMBER_SCHEMA, PrimaryCare, enrolled_members
from shared.logic.dates import month_end
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


class NoApcProgramError(DomainError):
    """No APC program version is in force on the month's last day."""


class NoEligibilityError(DomainError):
    """No accepted eligibility span covers the month."""


class NoAttributionTableError(DomainError):
    """The month's attribution table has not been built."""


class UnknownMemberError(DomainError):
    """The member is not in the month's attribution table (no roster span covers the month)."""


def table_key(month: str) -> str:
    """Where the month's attribution table is, in the curated bucket."""
    return f"{ATTRIBUTION_PREFIX}month={month}/attribution.parquet"


def _period(key: str, prefix: str) -> str:
    return key[len(prefix) :].split("/", 1)[0].removeprefix("period=")


def _month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def curated_frames(
    store: ObjectStore,
    curated_bucket: str,
    prefix: str,
    columns: tuple[str, ...],
    wanted: Callable[[str], bool],
) -> list[pl.DataFrame]:
    """The curated Parquet files under `prefix` (`<prefix>period=<YYYY-MM>/…`) whose period `wanted` takes,
    in key order, with `columns`."""
    return [
        pl.read_parquet(io.BytesIO(store.get_bytes(curated_bucket, key)), columns=list(columns))
        for key in store.keys(curated_bucket, prefix)
        if wanted(_period(key, prefix))
    ]


def read_table(store: ObjectStore, curated_bucket: str, month: str) -> pl.DataFrame:
    """The month's attribution table; NoAttributionTableError when it has not been built."""
    try:
        return store.get_parquet(curated_bucket, table_key(month))
    except NotFoundError:
        raise NoAttributionTableError(
            f"no attribution table for {month}: build it with `p4p attribution build --month {month}`"
        ) from None


def attributed_practices(
    store: ObjectStore, curated_bucket: str, month: str, member_ids: Iterable[str]
) -> dict[str, str | None]:
    """Each member's attributed practice for `month` from the built table; None when the member is
    unattributed or not in the table (not enrolled that month). NoAttributionTableError when unbuilt."""
    wanted = sorted(set(member_ids))
    found = (
        read_table(store, curated_bucket, month)
        .filter(pl.col("member_id").is_in(wanted))
        .select("member_id", "practice_id")
    )
    practices: dict[str, str | None] = dict.fromkeys(wanted)
    practices.update(dict(found.iter_rows()))
    return practices


class AttributionService:
    """Builds and explains the month's attribution table (repositories passed in)."""

    def __init__(
        self, *, store: ObjectStore, curated_bucket: str, gaps: GapStateRepository, apc: ApcCatalog
    ) -> None:
        self._store = store
        self._curated = curated_bucket
        self._gaps = gaps
        self._apc = apc
        # Curated files read once per service (a quarterly run builds its three months with one): the
        # files of a prefix are written once by the ingest, so a key read again is the same rows.
        self._read: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}

    def build(self, month: str) -> AttributionSummary:
        """Attribute every member enrolled in `month` and write the table (overwriting an earlier build)."""
        members = self._members(month)
        attributor = self._attributor(month)
        read, lines = self._lines(month, attributor.compiled, None)
        table = attributor.table(month, members, lines)
        key = table_key(month)
        self._store.put_parquet(self._curated, key, table)
        rules = table.get_column("rule").value_counts()
        counts = {str(rule): int(n) for rule, n in rules.iter_rows()}
        summary = AttributionSummary(
            month=month,
            key=key,
            members=table.height,
            selected_pcp=counts.get("selected_pcp", 0),
            claims=counts.get("claims", 0),
            unattributed=counts.get("unattributed", 0),
            practices=table.get_column("practice_id").drop_nulls().n_unique(),
            claim_lines=read,
        )
        logger.info("attribution built", **summary.model_dump())
        return summary

    def explain(self, member_id: str, month: str) -> AttributionExplanation:
        """The member's row of the month's table, the claims workings behind it and today's answer."""
        rows = read_table(self._store, self._curated, month).filter(pl.col("member_id") == member_id)
        if rows.is_empty():
            raise UnknownMemberError(
                f"member not in the attribution table of {month} (not enrolled that month)"
            )
        row = rows.row(0, named=True)
        attributor = self._attributor(month)
        _, lines = self._lines(month, attributor.compiled, member_id)
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

    def _frames(
        self, prefix: str, columns: tuple[str, ...], wanted: Callable[[str], bool]
    ) -> list[pl.DataFrame]:
        """`curated_frames`, each file read once by this service."""
        found = []
        for key in self._store.keys(self._curated, prefix):
            if not wanted(_period(key, prefix)):
                continue
            if (key, columns) not in self._read:
                body = io.BytesIO(self._store.get_bytes(self._curated, key))
                self._read[(key, columns)] = pl.read_parquet(body, columns=list(columns))
            found.append(self._read[(key, columns)])
        return found

    def _members(self, month: str) -> pl.DataFrame:
        """Members enrolled in `month`: eligibility is filed by span start, so every period up to it."""
        frames = self._frames(ELIGIBILITY_PREFIX, ELIGIBILITY_COLUMNS, lambda period: period <= month)
        members = enrolled_members(pl.concat(frames).unique(), month) if frames else None
        if members is None or members.is_empty():
            raise NoEligibilityError(
                f"no eligibility span covers {month}: land the month's roster under landing/eligibility/"
            )
        return members

    def _lines(self, month: str, compiled: PrimaryCare, member_id: str | None) -> tuple[int, pl.DataFrame]:
        """The claim lines read and the net ones (`LINE_SCHEMA`) that may fall in the lookback: claims are
        filed by received month, and a line is received on or after its service, so every month from the
        lookback's first on. With a member: every line of theirs, netted with every replacement and void;
        without, only the claims that can matter."""
        first = _month_of(compiled.lookback(month)[0])
        frames = self._frames(CLAIMS_PREFIX, CLAIM_COLUMNS, lambda period: period >= first)
        if member_id is not None:
            mine = (pl.col("member_id") == member_id) | pl.col("claim_frequency_code").is_in(_VERSIONS)
            frames = [frame.filter(mine) for frame in frames]
        if not frames:
            return 0, pl.DataFrame(schema=LINE_SCHEMA)
        claims = pl.concat(frames, how="vertical_relaxed").with_columns(date=pl.col("claim_start_date"))
        read = claims.height
        if member_id is None:
            # Only claims with a line that may count, or versions, can matter: a claim's copies and versions
            # share its id, so keeping every line of those claims nets them as netting everything would.
            matter = compiled.may_count(month) | pl.col("claim_frequency_code").is_in(_VERSIONS)
            ids = claims.filter(matter).get_column("claim_id").unique()
            claims = claims.filter(pl.col("claim_id").is_in(ids.implode()))
        # Of two copies of one line the later received stands; on one day, the later in key order (curated
        # Parquet keeps no file order).
        claims = net_claim_versions(claims.sort("received_date", maintain_order=True))
        if member_id is not None:
            claims = claims.filter(pl.col("member_id") == member_id)
        return read, claims.select(*(pl.col(name).cast(dtype) for name, dtype in LINE_SCHEMA.items()))
