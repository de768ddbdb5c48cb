"""The file registry: `pk=FILE#<sha256>, sk=FILE` in the Registry table, `gsi1pk=FILES`.

A file is processed once per content hash: PROCESSING while a worker has it, then ACCEPTED or
QUARANTINED. A PROCESSING item left by a crashed attempt may be taken over, since every write the
ingest makes is idempotent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared import clock
from shared.dal.dynamo import CONDITION_FAILED, error_code, from_item, query_all, to_item
from shared.models.files import Coverage, FileKind, FileManifest, FileStatus
from shared.models.tables import REGISTRY_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FILE_SK = "FILE"
FILES_INDEX_KEY = "FILES"
PROCESSING = "PROCESSING"


def file_pk(file_id: str) -> str:
    return f"FILE#{file_id}"


class FileRegistry(ABC):
    """Content-hash idempotency for landed files."""

    @abstractmethod
    def begin(self, file_id: str, *, kind: FileKind | None, source_key: str) -> FileStatus | None:
        """Claim the file for processing: None if ours to process, else its final status."""

    @abstractmethod
    def finish(
        self,
        file_id: str,
        status: FileStatus,
        *,
        manifest: FileManifest | None = None,
        reason: str | None = None,
    ) -> None:
        """Record the final status (and manifest counts or quarantine reason)."""

    @abstractmethod
    def eligibility_coverage(self) -> list[Coverage]:
        """The coverage of every accepted eligibility file."""


class DynamoFileRegistry(FileRegistry):
    """`FileRegistry` on the Registry table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def _key(self, file_id: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": file_pk(file_id)}, "sk": {"S": FILE_SK}}

    def begin(self, file_id: str, *, kind: FileKind | None, source_key: str) -> FileStatus | None:
        now = clock.now().isoformat()
        item = {
            "pk": file_pk(file_id),
            "sk": FILE_SK,
            "gsi1pk": FILES_INDEX_KEY,
            "gsi1sk": now,
            "file_id": file_id,
            "kind": kind.value if kind else None,
            "source_key": source_key,
            "status": PROCESSING,
            "started_at": now,
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR #s = :p",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":p": {"S": PROCESSING}},
            )
        except ClientError as error:
            if error_code(error) != CONDITION_FAILED:
                raise
            current = self._db.get_item(TableName=self._table, Key=self._key(file_id), ConsistentRead=True)
            return FileStatus(from_item(current.get("Item", {})).get("status", FileStatus.DUPLICATE.value))
        return None

    def finish(
        self,
        file_id: str,
        status: FileStatus,
        *,
        manifest: FileManifest | None = None,
        reason: str | None = None,
    ) -> None:
        sets: dict[str, Any] = {"status": status.value, "finished_at": clock.now().isoformat()}
        if manifest is not None:
            sets |= {
                "rows_read": manifest.rows_read,
                "accepted": manifest.accepted,
                "rejected": manifest.rejected,
                "duplicate": manifest.duplicate,
                "superseded": manifest.superseded,
            }
            if manifest.coverage is not None:
                sets["coverage"] = manifest.coverage.model_dump(mode="json")
        if reason is not None:
            sets["quarantine_reason"] = reason
        names = {f"#a{i}": k for i, k in enumerate(sets)}
        values = to_item({f":a{i}": v for i, v in enumerate(sets.values())})
        self._db.update_item(
            TableName=self._table,
            Key=self._key(file_id),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(sets))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def eligibility_coverage(self) -> list[Coverage]:
        items = query_all(
            self._db,
            TableName=self._table,
            IndexName=REGISTRY_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :files",
            FilterExpression="#k = :kind AND #s = :accepted AND attribute_exists(coverage)",
            ExpressionAttributeNames={"#k": "kind", "#s": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":files": FILES_INDEX_KEY,
                    ":kind": FileKind.ELIGIBILITY.value,
                    ":accepted": FileStatus.ACCEPTED.value,
                }
            ),
        )
        return [Coverage.model_validate(item["coverage"]) for item in items]
