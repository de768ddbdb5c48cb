"""Gap state: clinics, member profiles, eligibility spans, applied evidence and gaps (GapState table).

Keys: `pk=MEMBER#<id>` with `sk=PROFILE | ELIG#<start> | EVID#<evidence_id> | GAP#<action>#<period>`;
profiles carry `gsi1pk=CLINIC#<clinic>` so a clinic's members are one GSI query. Clinics are
`pk=CLINIC#<id>, sk=PROFILE` with `gsi1pk=CLINICS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from shared.dal.dynamo import batch_put, from_item, query_all
from shared.models.evidence import Evidence
from shared.models.gaps import Gap
from shared.models.members import Clinic, EligibilitySpan, MemberFacts, MemberProfile
from shared.models.tables import GAPS_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PROFILE = "PROFILE"
CLINICS_INDEX_KEY = "CLINICS"


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def clinic_pk(clinic_id: str) -> str:
    return f"CLINIC#{clinic_id}"


class GapStateRepository(ABC):
    """What the ingest and run services need from the gap state."""

    @abstractmethod
    def put_clinics(self, clinics: Iterable[Clinic]) -> int:
        """Upsert clinics; returns how many were written."""

    @abstractmethod
    def clinics(self) -> dict[str, Clinic]:
        """Every known clinic by id."""

    @abstractmethod
    def put_roster(self, profiles: Iterable[MemberProfile], spans: Iterable[EligibilitySpan]) -> int:
        """Upsert profiles and eligibility spans; returns how many items were written."""

    @abstractmethod
    def put_evidence(self, evidence: Iterable[Evidence]) -> int:
        """Record evidence items (same id = same item); returns how many were written."""

    @abstractmethod
    def put_gaps(self, gaps: Iterable[Gap]) -> int:
        """Upsert gaps; returns how many were written."""

    @abstractmethod
    def member(self, member_id: str) -> MemberFacts | None:
        """Profile, spans and evidence of one member; None without a profile."""

    @abstractmethod
    def member_ids(self, clinic_id: str) -> Iterator[str]:
        """Ids of members whose current clinic is `clinic_id`."""


class DynamoGapStateRepository(GapStateRepository):
    """`GapStateRepository` on the GapState table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def put_clinics(self, clinics: Iterable[Clinic]) -> int:
        items = (
            {
                GAPS_TABLE.partition_key: clinic_pk(c.clinic_id),
                GAPS_TABLE.sort_key: PROFILE,
                GAPS_TABLE.gsi_partition_key: CLINICS_INDEX_KEY,
                GAPS_TABLE.gsi_sort_key: c.clinic_id,
                **c.model_dump(mode="json"),
            }
            for c in clinics
        )
        return batch_put(self._db, self._table, items)

    def clinics(self) -> dict[str, Clinic]:
        rows = query_all(
            self._db,
            TableName=self._table,
            IndexName=GAPS_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": CLINICS_INDEX_KEY}},
        )
        clinics = (Clinic.model_validate(row) for row in rows)
        return {c.clinic_id: c for c in clinics}

    def put_roster(self, profiles: Iterable[MemberProfile], spans: Iterable[EligibilitySpan]) -> int:
        def items() -> Iterator[dict[str, Any]]:
            for p in profiles:
                yield {
                    "pk": member_pk(p.member_id),
                    "sk": PROFILE,
                    "gsi1pk": clinic_pk(p.clinic_id),
                    "gsi1sk": member_pk(p.member_id),
                    **p.model_dump(mode="json"),
                }
            for s in spans:
                yield {
                    "pk": member_pk(s.member_id),
                    "sk": f"ELIG#{s.start.isoformat()}",
                    **s.model_dump(mode="json"),
                }

        return batch_put(self._db, self._table, items())

    def put_evidence(self, evidence: Iterable[Evidence]) -> int:
        items = (
            {"pk": member_pk(e.member_id), "sk": f"EVID#{e.evidence_id}", **e.model_dump(mode="json")}
            for e in evidence
        )
        return batch_put(self._db, self._table, items)

    def put_gaps(self, gaps: Iterable[Gap]) -> int:
        items = (
            {"pk": member_pk(g.member_id), "sk": f"GAP#{g.action}#{g.period}", **g.model_dump(mode="json")}
            for g in gaps
        )
        return batch_put(self._db, self._table, items)

    def member(self, member_id: str) -> MemberFacts | None:
        key = {"pk": {"S": member_pk(member_id)}, "sk": {"S": PROFILE}}
        item = self._db.get_item(TableName=self._table, Key=key).get("Item")
        if item is None:
            return None
        profile = MemberProfile.model_validate(from_item(item))
        spans: list[EligibilitySpan] = []
        evidence: list[Evidence] = []
        # Only what sorts before the gap items: eligibility spans and evidence. A member's gap items and
        # payment history are many and large, and the facts do not need them.
        rows = query_all(
            self._db,
            TableName=self._table,
            KeyConditionExpression="pk = :p AND sk < :gaps",
            ExpressionAttributeValues={":p": {"S": member_pk(member_id)}, ":gaps": {"S": "GAP#"}},
        )
        for row in rows:
            sk = str(row["sk"])
            if sk.startswith("ELIG#"):
                spans.append(EligibilitySpan.model_validate(row))
            elif sk.startswith("EVID#"):
                evidence.append(Evidence.model_validate(row))
        return MemberFacts(profile=profile, spans=tuple(spans), evidence=tuple(evidence))

    def member_ids(self, clinic_id: str) -> Iterator[str]:
        rows = query_all(
            self._db,
            TableName=self._table,
            IndexName=GAPS_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :p AND begins_with(gsi1sk, :m)",
            ExpressionAttributeValues={":p": {"S": clinic_pk(clinic_id)}, ":m": {"S": "MEMBER#"}},
            ProjectionExpression="member_id",
        )
        for row in rows:
            yield str(row["member_id"])
