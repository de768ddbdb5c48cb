"""Gap state: clinics, member profiles, eligibility spans, applied evidence and gaps (GapState table).

Keys: `pk=MEMBER#<id>` with `sk=PROFILE | ELIG#<start> | EVID#<file_id>#<digest> | GAP#<action>#<period>`;
evidence is packed: one item holds a member's evidence from one file (`pack_evidence`), so a claims
file costs one write per member it names rather than one per claim line. Profiles carry
`gsi1pk=CLINIC#<clinic>` so a clinic's members are one GSI query. Clinics are `pk=CLINIC#<id>, sk=PROFILE`
with `gsi1pk=CLINICS`; providers' affiliations `pk=PROVIDER#<npi>, sk=PRACTICE#<practice>#<effective date>`
with `gsi1pk=PROVIDERS`, `gsi1sk=<npi>#<practice>#<effective date>`.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl
from botocore.exceptions import ClientError

from shared.dal.dynamo import (
    CONDITION_FAILED,
    batch_get,
    batch_put,
    error_code,
    from_item,
    query_all,
    to_item,
)
from shared.dal.errors import DataAccessError
from shared.dal.evidence_codec import drop_claims, pack_evidence, unpack_evidence
from shared.models.evidence import Evidence, evidence_frame
from shared.models.gaps import Gap
from shared.models.members import (
    Clinic,
    EligibilitySpan,
    MemberFacts,
    MemberProfile,
    ProviderAffiliation,
    affiliations_on,
)
from shared.models.tables import GAPS_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PROFILE = "PROFILE"
CLINICS_INDEX_KEY = "CLINICS"
PROVIDERS_INDEX_KEY = "PROVIDERS"
EVIDENCE_PREFIX = "EVID#"
EVIDENCE_ITEM_BYTES = 350_000
"""At most this much packed text in one item: DynamoDB holds 400 KB an item, names and keys included."""
_RETRACT_ATTEMPTS = 8


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def clinic_pk(clinic_id: str) -> str:
    return f"CLINIC#{clinic_id}"


def provider_keys(a: ProviderAffiliation) -> dict[str, str]:
    """The keys of a provider's affiliation item: its own partition, and its place on the PROVIDERS index."""
    start = a.effective_date.isoformat()
    return {
        GAPS_TABLE.partition_key: f"PROVIDER#{a.npi}",
        GAPS_TABLE.sort_key: f"PRACTICE#{a.practice_id}#{start}",
        GAPS_TABLE.gsi_partition_key: PROVIDERS_INDEX_KEY,
        GAPS_TABLE.gsi_sort_key: f"{a.npi}#{a.practice_id}#{start}",
    }


EvidenceBatch = pl.DataFrame | Iterable[Evidence]
"""Evidence to write: an evidence frame (`EVIDENCE_SCHEMA`; what ingest builds) or models."""


def packed_evidence_items(evidence: EvidenceBatch) -> tuple[list[dict[str, Any]], int]:
    """The packed evidence items of a batch (plain values) and how many evidence rows they hold."""
    frame = evidence if isinstance(evidence, pl.DataFrame) else evidence_frame(evidence)
    items = []
    for member_id, file_id, packed in pack_evidence(frame).iter_rows():
        for piece in _item_pieces(packed):
            content = digest(piece)
            # Named by the content it was first written with: writing the same evidence again hits the same
            # item, and a write of other evidence from the same file adds an item beside it.
            sk = f"{EVIDENCE_PREFIX}{file_id}#{content}"
            items.append({"pk": member_pk(member_id), "sk": sk, "evidence": piece, "digest": content})
    return items, frame.height


def _item_pieces(packed: str) -> list[str]:
    """Packed lines in pieces of at most EVIDENCE_ITEM_BYTES: a chunk of long lines (records with many
    codings) can outgrow what one DynamoDB item holds."""
    if len(packed.encode()) <= EVIDENCE_ITEM_BYTES:
        return [packed]
    pieces: list[str] = []
    lines: list[str] = []
    size = 0
    for line in packed.split("\n"):
        grown = size + len(line.encode()) + 1
        if lines and grown > EVIDENCE_ITEM_BYTES:
            pieces.append("\n".join(lines))
            lines, grown = [], len(line.encode()) + 1
        lines.append(line)
        size = grown
    return [*pieces, "\n".join(lines)]


def digest(packed: str) -> str:
    """Short content digest of packed evidence: the optimistic lock of a retraction's rewrite."""
    return hashlib.sha256(packed.encode()).hexdigest()[:16]


def unpack_item(member_id: str, sk: str, packed: str) -> list[Evidence]:
    """The evidence of one packed item, given its member and sort key."""
    return [evidence for _, evidence in _keyed_item(member_id, sk, packed)]


Keyed = tuple[tuple[str, Evidence], ...]
"""Evidence with its id (`Evidence.evidence_id`, a digest computed on each access)."""


def _keyed_item(member_id: str, sk: str, packed: str) -> Keyed:
    file_id = sk.removeprefix(EVIDENCE_PREFIX).rsplit("#", 1)[0]
    return _DECODED.evidence(member_id, file_id, packed)


def _distinct_keyed(items: Iterable[tuple[str, Evidence]]) -> tuple[Evidence, ...]:
    """`distinct_evidence` of evidence whose ids are known."""
    return tuple(e for _, e in sorted(dict(items).items()))


class _DecodedEvidence:
    """The evidence (with its ids) of the packed texts decoded last, up to `max_bytes` of text: a run reads
    every member's evidence again each month and in each step that reads members, most of it unchanged, and
    decoding is the same every time (the models are frozen). Least recently used first out; thread-safe
    (Map children read at once)."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._held = 0
        self._items: OrderedDict[tuple[str, str, str], Keyed] = OrderedDict()
        self._lock = threading.Lock()

    def evidence(self, member_id: str, file_id: str, packed: str) -> Keyed:
        key = (member_id, file_id, packed)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        decoded = tuple((e.evidence_id, e) for e in unpack_evidence(member_id, file_id, packed))
        if len(packed) > self._max:
            return decoded
        with self._lock:
            if key not in self._items:
                self._items[key] = decoded
                self._held += len(packed)
            while self._held > self._max:
                (_, _, text), _ = self._items.popitem(last=False)
                self._held -= len(text)
        return decoded


_DECODED = _DecodedEvidence(max_bytes=16 * 2**20)


def distinct_evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """Evidence by id, in id order (the same fact in two files, or in a left-over chunk, is one)."""
    return tuple(e for _, e in sorted({e.evidence_id: e for e in items}.items()))


class GapStateRepository(ABC):
    """What the ingest and run services need from the gap state."""

    @abstractmethod
    def put_clinics(self, clinics: Iterable[Clinic]) -> int:
        """Upsert clinics; returns how many were written."""

    @abstractmethod
    def clinics(self) -> dict[str, Clinic]:
        """Every known clinic by id."""

    @abstractmethod
    def put_providers(self, providers: Iterable[ProviderAffiliation]) -> int:
        """Upsert providers' affiliations (one per NPI, practice and effective date: a later file's row
        ends or corrects it); returns how many were written."""

    @abstractmethod
    def providers(self) -> tuple[ProviderAffiliation, ...]:
        """Every affiliation known, by NPI, practice and effective date."""

    def providers_on(self, day: date) -> dict[str, ProviderAffiliation]:
        """Each provider's affiliation in force on `day`, by NPI (`affiliations_on`)."""
        return affiliations_on(self.providers(), day)

    @abstractmethod
    def put_roster(self, profiles: Iterable[MemberProfile], spans: Iterable[EligibilitySpan]) -> int:
        """Upsert profiles and eligibility spans; returns how many items were written."""

    @abstractmethod
    def put_evidence(self, evidence: EvidenceBatch) -> int:
        """Record evidence (the same item twice is one); returns how many evidence rows were written."""

    @abstractmethod
    def evidence_of(self, member_id: str) -> tuple[Evidence, ...]:
        """One member's evidence, profile or not (strongly consistent)."""

    @abstractmethod
    def retract_claims(self, claims: Mapping[str, Collection[str]]) -> int:
        """Remove the evidence of claims (member id → claim keys, see `Evidence.claim_key`) wherever it
        sits in those members' evidence; returns how many evidence rows went."""

    @abstractmethod
    def put_gaps(self, gaps: Iterable[Gap]) -> int:
        """Upsert gaps; returns how many were written."""

    @abstractmethod
    def member(self, member_id: str) -> MemberFacts | None:
        """Profile, spans and evidence of one member; None without a profile."""

    def members(self, member_ids: Iterable[str]) -> list[MemberFacts]:
        """`member` of each id, in the order given, leaving out those without a profile (a shard's members
        read at once: the store may batch what it can)."""
        return [facts for facts in map(self.member, member_ids) if facts is not None]

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

    def put_providers(self, providers: Iterable[ProviderAffiliation]) -> int:
        items = ({**provider_keys(a), **a.model_dump(mode="json")} for a in providers)
        return batch_put(self._db, self._table, items)

    def providers(self) -> tuple[ProviderAffiliation, ...]:
        rows = query_all(
            self._db,
            TableName=self._table,
            IndexName=GAPS_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": PROVIDERS_INDEX_KEY}},
        )
        return tuple(ProviderAffiliation.model_validate(row) for row in rows)

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

    def put_evidence(self, evidence: EvidenceBatch) -> int:
        items, rows = packed_evidence_items(evidence)
        batch_put(self._db, self._table, items)
        return rows

    def retract_claims(self, claims: Mapping[str, Collection[str]]) -> int:
        removed = 0
        for member_id, keys in sorted(claims.items()):
            if keys:
                removed += self._retract_member(member_id, frozenset(keys))
        return removed

    def _retract_member(self, member_id: str, keys: frozenset[str]) -> int:
        # Read, rewrite only the items that held a retracted claim, each on condition that nobody changed
        # it since; on a lost race read again (what is already gone stays gone).
        removed = 0
        for _ in range(_RETRACT_ATTEMPTS):
            try:
                for row in self._evidence_rows(member_id):
                    kept, gone = drop_claims(str(row["evidence"]), keys)
                    if gone:
                        self._rewrite(row, kept)
                        removed += gone
                return removed
            except ClientError as error:
                if error_code(error) != CONDITION_FAILED:
                    raise
        raise DataAccessError("evidence kept changing during a retraction")

    def evidence_of(self, member_id: str) -> tuple[Evidence, ...]:
        rows = self._evidence_rows(member_id)
        return _distinct_keyed(
            pair for r in rows for pair in _keyed_item(member_id, str(r["sk"]), str(r["evidence"]))
        )

    def _evidence_rows(self, member_id: str) -> Iterator[dict[str, Any]]:
        return query_all(
            self._db,
            TableName=self._table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
            ExpressionAttributeValues={":p": {"S": member_pk(member_id)}, ":e": {"S": EVIDENCE_PREFIX}},
        )

    def _rewrite(self, row: dict[str, Any], kept: str) -> None:
        key = {"pk": {"S": str(row["pk"])}, "sk": {"S": str(row["sk"])}}
        unchanged = {
            "ConditionExpression": "digest = :d",
            "ExpressionAttributeValues": {":d": {"S": str(row["digest"])}},
        }
        if kept:
            item = to_item({"pk": row["pk"], "sk": row["sk"], "evidence": kept, "digest": digest(kept)})
            self._db.put_item(TableName=self._table, Item=item, **unchanged)  # type: ignore[arg-type]
        else:
            self._db.delete_item(TableName=self._table, Key=key, **unchanged)  # type: ignore[arg-type]

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
        return self._facts(member_id, MemberProfile.model_validate(from_item(item)))

    def members(self, member_ids: Iterable[str]) -> list[MemberFacts]:
        # The profiles in batches of 100 keys (one call instead of a hundred), then each member's facts.
        wanted = list(member_ids)
        rows = batch_get(self._db, self._table, [(member_pk(m), PROFILE) for m in wanted])
        profiles = {str(row["pk"]): MemberProfile.model_validate(row) for row in rows}
        return [self._facts(m, profiles[member_pk(m)]) for m in wanted if member_pk(m) in profiles]

    def _facts(self, member_id: str, profile: MemberProfile) -> MemberFacts:
        spans: list[EligibilitySpan] = []
        evidence: list[tuple[str, Evidence]] = []
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
            elif sk.startswith(EVIDENCE_PREFIX):
                evidence.extend(_keyed_item(member_id, sk, str(row["evidence"])))
        return MemberFacts(profile=profile, spans=tuple(spans), evidence=_distinct_keyed(evidence))

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
