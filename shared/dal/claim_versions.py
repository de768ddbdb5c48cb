"""The claim-version index (GapState table): which claims replace or void which, kept in the partition
of the member the version names, so a later file can net claims that arrived earlier, in any order.

Key (`<key>` is `MED#<claim_id>` for a medical claim, `RX#<claim_id>#<fill_number>` for a fill):
`pk=MEMBER#<member_id>, sk=VER#<original key>#<key>`: a replacement (7) or void (8, or a pharmacy
reversal) naming the original. Written whether or not the original has arrived: a void that comes first
is held here and applied when the original comes. The lines themselves stay in curated Parquet, and the
evidence a claim yields is found through the member's packed evidence items (`shared/dal/gap_state.py`).

A version counts within its member: a payer that moves a claim to another member voids it and bills a
new original (`docs/ingest.md`). `VER#` sorts after `GAP#`, so a run's read of a member's facts skips it.
Items are written with plain puts (same key, same content): redelivery rewrites them unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.dal.dynamo import batch_put, query_all
from shared.dal.gap_state import member_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

VERSION_PREFIX = "VER#"
REPLACEMENT = "7"
VOID = "8"


@dataclass(frozen=True, order=True)
class ClaimVersion:
    """A claim (`claim_key`) of `member_id` that replaces (7) or voids (8) `original_claim_key`."""

    original_claim_key: str
    received_date: str
    claim_key: str
    frequency: str
    file_id: str
    member_id: str

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (plain values)."""
        return {
            "pk": member_pk(self.member_id),
            "sk": f"{VERSION_PREFIX}{self.original_claim_key}#{self.claim_key}",
            "original_claim_key": self.original_claim_key,
            "claim_key": self.claim_key,
            "frequency": self.frequency,
            "received_date": self.received_date,
            "file_id": self.file_id,
        }

    @classmethod
    def from_plain(cls, member_id: str, row: dict[str, Any]) -> ClaimVersion:
        """A version from a plain (deserialized) item."""
        return cls(
            original_claim_key=str(row["original_claim_key"]),
            received_date=str(row["received_date"]),
            claim_key=str(row["claim_key"]),
            frequency=str(row["frequency"]),
            file_id=str(row["file_id"]),
            member_id=member_id,
        )


class ClaimVersionRepository(ABC):
    """What the ingest service needs to net claims across files."""

    @abstractmethod
    def put_versions(self, versions: Iterable[ClaimVersion]) -> int:
        """Record replacements and voids in their members' partitions; returns items written."""

    @abstractmethod
    def versions_of(self, member_ids: Iterable[str]) -> dict[str, list[ClaimVersion]]:
        """Every known version recorded for each member (strongly consistent); absent members have none."""


class DynamoClaimVersionRepository(ClaimVersionRepository):
    """`ClaimVersionRepository` on the GapState table.

    `versions_of` runs one strongly consistent query per member, `readers` at a time (a botocore client
    is thread-safe): a 1M-line claims file names about 25,000 members.
    """

    def __init__(self, client: DynamoDBClient, table_name: str, *, readers: int = 16) -> None:
        self._db = client
        self._table = table_name
        self._readers = readers

    def put_versions(self, versions: Iterable[ClaimVersion]) -> int:
        return batch_put(self._db, self._table, (v.item() for v in versions))

    def versions_of(self, member_ids: Iterable[str]) -> dict[str, list[ClaimVersion]]:
        members = sorted(set(member_ids))
        if len(members) <= 1 or self._readers <= 1:
            return self._collect(members, map(self._versions, members))
        with ThreadPoolExecutor(max_workers=self._readers) as pool:
            return self._collect(members, pool.map(self._versions, members))

    @staticmethod
    def _collect(members: list[str], found: Iterable[list[ClaimVersion]]) -> dict[str, list[ClaimVersion]]:
        return {m: versions for m, versions in zip(members, found, strict=True) if versions}

    def _versions(self, member_id: str) -> list[ClaimVersion]:
        rows = query_all(
            self._db,
            TableName=self._table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :p AND begins_with(sk, :v)",
            ExpressionAttributeValues={":p": {"S": member_pk(member_id)}, ":v": {"S": VERSION_PREFIX}},
        )
        return sorted(ClaimVersion.from_plain(member_id, r) for r in rows)
