"""The claim-version index (GapState table): which claims replace or void which, and what evidence a
claim put in the gap state, so a later file can net claims that arrived earlier, in any order.

Keys (`<key>` is `MED#<claim_id>` for a medical claim, `RX#<claim_id>#<fill_number>` for a fill):
- `pk=CLAIM#<original key>, sk=VERSION#<key>`: a replacement (7) or void (8, or a pharmacy reversal)
  naming the original. Written whether or not the original has arrived: a void that comes first is
  held here and applied when the original comes.
- `pk=CLAIM#<key>, sk=EVIDENCE`: the evidence items (member id + evidence id) a claim yields, so
  they can be retracted if the claim is superseded later. Only claims that yield evidence get one;
  the lines themselves stay in curated Parquet.
Items are written with plain puts (same key, same content): redelivery rewrites them unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.dal.dynamo import batch_delete, batch_get, batch_put, query_all
from shared.dal.gap_state import member_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVIDENCE_SK = "EVIDENCE"
VERSION_PREFIX = "VERSION#"
REPLACEMENT = "7"
VOID = "8"


def claim_pk(claim_key: str) -> str:
    """Partition key of a claim's index items."""
    return f"CLAIM#{claim_key}"


@dataclass(frozen=True, order=True)
class ClaimVersion:
    """A claim (`claim_key`) that replaces (7) or voids (8) `original_claim_key`."""

    original_claim_key: str
    received_date: str
    claim_key: str
    frequency: str
    file_id: str

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (plain values)."""
        return {
            "pk": claim_pk(self.original_claim_key),
            "sk": f"{VERSION_PREFIX}{self.claim_key}",
            "original_claim_key": self.original_claim_key,
            "claim_key": self.claim_key,
            "frequency": self.frequency,
            "received_date": self.received_date,
            "file_id": self.file_id,
        }


@dataclass(frozen=True, order=True)
class EvidenceRef:
    """Where one evidence item lives in the gap state."""

    member_id: str
    evidence_id: str


@dataclass(frozen=True)
class ClaimEvidenceRecord:
    """The evidence one claim yields, and what it is (original, or a replacement of another claim)."""

    claim_key: str
    frequency: str
    original_claim_key: str | None
    received_date: str
    refs: tuple[EvidenceRef, ...]

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (plain values)."""
        return {
            "pk": claim_pk(self.claim_key),
            "sk": EVIDENCE_SK,
            "claim_key": self.claim_key,
            "frequency": self.frequency,
            "original_claim_key": self.original_claim_key,
            "received_date": self.received_date,
            "refs": [[r.member_id, r.evidence_id] for r in self.refs],
        }

    @classmethod
    def from_plain(cls, row: dict[str, Any]) -> ClaimEvidenceRecord:
        """A record from a plain (deserialized) item."""
        return cls(
            claim_key=str(row["claim_key"]),
            frequency=str(row["frequency"]),
            original_claim_key=row.get("original_claim_key"),
            received_date=str(row["received_date"]),
            refs=tuple(EvidenceRef(str(m), str(e)) for m, e in row.get("refs", [])),
        )


class ClaimVersionRepository(ABC):
    """What the ingest service needs to net claims across files."""

    @abstractmethod
    def put_versions(self, versions: Iterable[ClaimVersion]) -> int:
        """Record replacements and voids under the claims they name; returns items written."""

    @abstractmethod
    def put_evidence_records(self, records: Iterable[ClaimEvidenceRecord]) -> int:
        """Record which evidence each claim yields; returns items written."""

    @abstractmethod
    def versions_naming(self, claim_keys: Iterable[str]) -> dict[str, list[ClaimVersion]]:
        """Every known replacement/void naming each claim (strongly consistent); absent keys have none."""

    @abstractmethod
    def evidence_records(self, claim_keys: Iterable[str]) -> dict[str, ClaimEvidenceRecord]:
        """The evidence records of the claims that have one (strongly consistent)."""

    @abstractmethod
    def retract(self, refs: Iterable[EvidenceRef]) -> int:
        """Delete evidence items from the gap state (absent ones are fine); returns deletes sent."""


class DynamoClaimVersionRepository(ClaimVersionRepository):
    """`ClaimVersionRepository` on the GapState table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def put_versions(self, versions: Iterable[ClaimVersion]) -> int:
        return batch_put(self._db, self._table, (v.item() for v in versions))

    def put_evidence_records(self, records: Iterable[ClaimEvidenceRecord]) -> int:
        return batch_put(self._db, self._table, (r.item() for r in records))

    def versions_naming(self, claim_keys: Iterable[str]) -> dict[str, list[ClaimVersion]]:
        found: dict[str, list[ClaimVersion]] = {}
        for key in sorted(set(claim_keys)):
            rows = query_all(
                self._db,
                TableName=self._table,
                ConsistentRead=True,
                KeyConditionExpression="pk = :p AND begins_with(sk, :v)",
                ExpressionAttributeValues={":p": {"S": claim_pk(key)}, ":v": {"S": VERSION_PREFIX}},
            )
            versions = [
                ClaimVersion(
                    original_claim_key=str(r["original_claim_key"]),
                    received_date=str(r["received_date"]),
                    claim_key=str(r["claim_key"]),
                    frequency=str(r["frequency"]),
                    file_id=str(r["file_id"]),
                )
                for r in rows
            ]
            if versions:
                found[key] = sorted(versions)
        return found

    def evidence_records(self, claim_keys: Iterable[str]) -> dict[str, ClaimEvidenceRecord]:
        keys = [(claim_pk(k), EVIDENCE_SK) for k in sorted(set(claim_keys))]
        items = batch_get(self._db, self._table, keys, consistent=True)
        return {record.claim_key: record for record in map(ClaimEvidenceRecord.from_plain, items)}

    def retract(self, refs: Iterable[EvidenceRef]) -> int:
        keys = [(member_pk(r.member_id), f"EVID#{r.evidence_id}") for r in sorted(set(refs))]
        return batch_delete(self._db, self._table, keys)
