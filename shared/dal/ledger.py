"""The ledger: one immutable item per award (Ledger table), written only if absent.

Keys: `pk=ENTRY#<entry_id>, sk=ENTRY`; `gsi1pk=RUN#<run_id>, gsi1sk=CLINIC#<clinic>#<entry_id>`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.dal.dynamo import CONDITION_FAILED, batch_get, error_code, from_item, query_all, to_item
from shared.dal.errors import AlreadyRecordedError
from shared.models.ledger import LedgerEntry
from shared.models.tables import LEDGER_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ENTRY_SK = "ENTRY"


def entry_pk(entry_id: str) -> str:
    return f"ENTRY#{entry_id}"


class LedgerRepository(ABC):
    """Append-only store of ledger entries."""

    @abstractmethod
    def put_if_absent(self, entry: LedgerEntry) -> None:
        """Record the entry; AlreadyRecordedError (with the run that wrote it) if its id exists."""

    @abstractmethod
    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        """Entries recorded by a run."""

    @abstractmethod
    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        """Which of these entry ids are already recorded."""


class DynamoLedgerRepository(LedgerRepository):
    """`LedgerRepository` on the Ledger table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def put_if_absent(self, entry: LedgerEntry) -> None:
        item = to_item(
            {
                LEDGER_TABLE.partition_key: entry_pk(entry.entry_id),
                LEDGER_TABLE.sort_key: ENTRY_SK,
                LEDGER_TABLE.gsi_partition_key: f"RUN#{entry.run_id}",
                LEDGER_TABLE.gsi_sort_key: f"CLINIC#{entry.clinic_id}#{entry.entry_id}",
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
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise
            old: Any = error.response.get("Item")
            existing = from_item(old) if old else self._get(entry.entry_id)
            run_id = existing.get("run_id")
            raise AlreadyRecordedError(
                "ledger entry", existing_run_id=str(run_id) if run_id else None
            ) from None

    def _get(self, entry_id: str) -> dict[str, Any]:
        response = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": entry_pk(entry_id)}, "sk": {"S": ENTRY_SK}},
            ConsistentRead=True,
        )
        return from_item(response.get("Item", {}))

    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        rows = query_all(
            self._db,
            TableName=self._table,
            IndexName=LEDGER_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :r",
            ExpressionAttributeValues={":r": {"S": f"RUN#{run_id}"}},
        )
        for row in rows:
            yield LedgerEntry.model_validate(row)

    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        keys = [(entry_pk(i), ENTRY_SK) for i in entry_ids]
        return {str(row["pk"]).removeprefix("ENTRY#") for row in batch_get(self._db, self._table, keys)}
