"""The ledger: one immutable item per entry (Ledger table), written only if absent.

Keys: `pk=ENTRY#<entry_id>, sk=ENTRY`; `gsi1pk=RUN#<run_id>`, `gsi1sk=CLINIC#<clinic>#<entry_id>` for
member entries and `BALANCE#<clinic>#<entry_id>` for carried balances (so a run's carries are one
`begins_with` query). Each member entry also has a copy in the member's partition of the GapState
table (`pk=MEMBER#<member_id>, sk=PAID#<entry_id>`, no index attributes): the member's ledger history,
read by the next run to find awards that lost their basis, while the Ledger table keeps exactly one item
per entry. The copy is written after the entry (and rewritten whenever the entry is met again), so every
copy names an entry that exists. Beside them, `sk=PAID#GAPS` holds a digest of the GAP# items the last
final run wrote for the member, so a run rewrites only the gaps that changed (one query reads both).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from shared.dal.errors import AlreadyRecordedError, DataAccessError, NotFoundError
from shared.models.ledger import LedgerEntry
from shared.models.tables import LEDGER_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ENTRY_SK = "ENTRY"
HISTORY_PREFIX = "PAID#"
GAP_DIGEST_SK = f"{HISTORY_PREFIX}GAPS"
BALANCE_PREFIX = "BALANCE#"
_INDEX_KEYS = frozenset(
    {
        LEDGER_TABLE.partition_key,
        LEDGER_TABLE.sort_key,
        LEDGER_TABLE.gsi_partition_key,
        LEDGER_TABLE.gsi_sort_key,
    }
)


def entry_pk(entry_id: str) -> str:
    return f"ENTRY#{entry_id}"


def member_history_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def _run_sort_key(entry: LedgerEntry) -> str:
    prefix = BALANCE_PREFIX if entry.is_balance else "CLINIC#"
    return f"{prefix}{entry.clinic_id}#{entry.entry_id}"


def _history_copy(entry: LedgerEntry) -> dict[str, Any]:
    """The member-history copy of an entry (plain values): the entry in its member's partition."""
    return {
        "pk": member_history_pk(entry.member_id),
        "sk": f"{HISTORY_PREFIX}{entry.entry_id}",
        **entry.model_dump(mode="json"),
    }


def _digest_item(member_id: str, digest: Mapping[str, str]) -> dict[str, Any]:
    return {"pk": member_history_pk(member_id), "sk": GAP_DIGEST_SK, "gaps": dict(digest)}


def _entry(row: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry.model_validate({k: v for k, v in row.items() if k not in _INDEX_KEYS})


@dataclass(frozen=True)
class MemberRunState:
    """What earlier runs recorded for one member: its ledger entries and the digest of its written gaps."""

    entries: list[LedgerEntry] = field(default_factory=list)
    gap_digest: dict[str, str] = field(default_factory=dict)


class LedgerRepository(ABC):
    """Append-only store of ledger entries."""

    @abstractmethod
    def put_if_absent(self, entry: LedgerEntry) -> None:
        """Record the entry; AlreadyRecordedError (with the run that wrote it) if its id exists."""

    def record(self, entry: LedgerEntry) -> tuple[LedgerEntry, bool]:
        """Record the entry if absent; returns the entry as stored and whether this call wrote it."""
        try:
            self.put_if_absent(entry)
            return entry, True
        except AlreadyRecordedError:
            stored = self.get(entry.entry_id)
            if stored is None:
                raise NotFoundError("ledger entry vanished") from None
            return stored, False

    @abstractmethod
    def get(self, entry_id: str) -> LedgerEntry | None:
        """One entry, read consistently; None if absent."""

    @abstractmethod
    def index_member(self, entry: LedgerEntry) -> None:
        """Put the member-history copy of a recorded entry (idempotent)."""

    @abstractmethod
    def member_state(self, member_id: str) -> MemberRunState:
        """Every entry of the member's history (any run, any kind) and its gap digest, read consistently."""

    def member_entries(self, member_id: str) -> list[LedgerEntry]:
        """Every entry of the member's history, any run, any kind."""
        return self.member_state(member_id).entries

    def index_members(self, entries: Iterable[LedgerEntry]) -> None:
        """Put the member-history copies of recorded entries (idempotent): what `index_member` of each does,
        in as few calls as the store allows."""
        for entry in entries:
            self.index_member(entry)

    @abstractmethod
    def put_gap_digest(self, member_id: str, digest: Mapping[str, str]) -> None:
        """Replace the digest of the member's written gaps (gap key -> content hash)."""

    def put_gap_digests(self, digests: Mapping[str, Mapping[str, str]]) -> None:
        """Replace several members' gap digests (member id -> digest): what `put_gap_digest` of each does, in
        as few calls as the store allows."""
        for member_id, digest in digests.items():
            self.put_gap_digest(member_id, digest)

    @abstractmethod
    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        """Entries recorded by a run."""

    def run_total(self, run_id: str) -> tuple[int, int]:
        """The cents and the number of the entries a run recorded (what closing the run checks)."""
        total = count = 0
        for entry in self.by_run(run_id):
            total, count = total + entry.amount_cents, count + 1
        return total, count

    @abstractmethod
    def balances(self, run_id: str) -> list[LedgerEntry]:
        """The carried-balance entries (CARRY_IN / CARRY_OUT) recorded by a run."""

    @abstractmethod
    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        """Which of these entry ids are already recorded."""


class DynamoLedgerRepository(LedgerRepository):
    """`LedgerRepository` on the Ledger table."""

    def __init__(self, client: DynamoDBClient, table_name: str, history_table: str | None = None) -> None:
        """`history_table` holds the member-history copies: the GapState table in a deployment."""
        self._db = client
        self._table = table_name
        self._history = history_table or table_name

    def put_if_absent(self, entry: LedgerEntry) -> None:
        stored = self._put_conditional(entry)
        if stored is not None:
            raise AlreadyRecordedError("ledger entry", existing_run_id=stored.run_id)

    def record(self, entry: LedgerEntry) -> tuple[LedgerEntry, bool]:
        stored = self._put_conditional(entry)
        return (entry, True) if stored is None else (stored, False)

    def _put_conditional(self, entry: LedgerEntry) -> LedgerEntry | None:
        """None when written; the stored entry when the id was already taken."""
        item = to_item(
            {
                LEDGER_TABLE.partition_key: entry_pk(entry.entry_id),
                LEDGER_TABLE.sort_key: ENTRY_SK,
                LEDGER_TABLE.gsi_partition_key: f"RUN#{entry.run_id}",
                LEDGER_TABLE.gsi_sort_key: _run_sort_key(entry),
                **entry.model_dump(mode="json"),
            }
        )
        try:
            self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise
            old: Any = error.response.get("Item")
            if not old:
                # ALL_OLD always returns the item that failed the condition; without it nothing is known.
                raise DataAccessError("ledger entry exists but was not returned") from None
            return _entry(from_item(old))

    def _get(self, entry_id: str) -> dict[str, Any]:
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": entry_pk(entry_id)}, "sk": {"S": ENTRY_SK}},
            ConsistentRead=True,
        )
        return from_item(response.get("Item", {}))

    def get(self, entry_id: str) -> LedgerEntry | None:
        row = self._get(entry_id)
        return _entry(row) if row else None

    def index_member(self, entry: LedgerEntry) -> None:
        self._db.put_item(TableName=self._history, Item=to_item(_history_copy(entry)))

    def index_members(self, entries: Iterable[LedgerEntry]) -> None:
        # Batches of 25 puts (the same items, billed as the same puts); a batch is not conditional, and
        # the copies are plain puts anyway.
        batch_put(self._db, self._history, (_history_copy(e) for e in entries))

    def member_state(self, member_id: str) -> MemberRunState:
        rows = query_all(
            self._db,
            TableName=self._history,
            KeyConditionExpression="pk = :m AND begins_with(sk, :h)",
            ExpressionAttributeValues={
                ":m": {"S": member_history_pk(member_id)},
                ":h": {"S": HISTORY_PREFIX},
            },
            ConsistentRead=True,
        )
        state = MemberRunState()
        for row in rows:
            if row["sk"] == GAP_DIGEST_SK:
                state.gap_digest.update({str(k): str(v) for k, v in dict(row.get("gaps", {})).items()})
            else:
                state.entries.append(_entry(row))
        return state

    def put_gap_digest(self, member_id: str, digest: Mapping[str, str]) -> None:
        self._db.put_item(TableName=self._history, Item=to_item(_digest_item(member_id, digest)))

    def put_gap_digests(self, digests: Mapping[str, Mapping[str, str]]) -> None:
        batch_put(self._db, self._history, (_digest_item(m, d) for m, d in digests.items()))

    def _run_rows(self, run_id: str, **projection: Any) -> Iterator[dict[str, Any]]:
        """Every item of the run index's partition of the run, every page."""
        return query_all(
            self._db,
            TableName=self._table,
            IndexName=LEDGER_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :r",
            ExpressionAttributeValues={":r": {"S": f"RUN#{run_id}"}},
            **projection,
        )

    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        for row in self._run_rows(run_id):
            yield _entry(row)

    def run_total(self, run_id: str) -> tuple[int, int]:
        # The amounts only: the run's entries are not decoded, and each page carries more of them.
        amounts = {"ProjectionExpression": "#a", "ExpressionAttributeNames": {"#a": "amount_cents"}}
        rows = self._run_rows(run_id, **amounts)
        total = count = 0
        for row in rows:
            amount = row.get("amount_cents")
            if type(amount) is not int:
                raise DataAccessError(f"an entry of run {run_id} has no whole amount_cents")
            total, count = total + amount, count + 1
        return total, count

    def balances(self, run_id: str) -> list[LedgerEntry]:
        rows = query_all(
            self._db,
            TableName=self._table,
            IndexName=LEDGER_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :r AND begins_with(gsi1sk, :b)",
            ExpressionAttributeValues={":r": {"S": f"RUN#{run_id}"}, ":b": {"S": BALANCE_PREFIX}},
        )
        return [_entry(row) for row in rows]

    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        keys = [(entry_pk(i), ENTRY_SK) for i in entry_ids]
        return {str(row["pk"]).removeprefix("ENTRY#") for row in batch_get(self._db, self._table, keys)}
