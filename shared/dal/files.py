"""The file registry in the Registry table: what was done with each file's content, and with each drop.

- `pk=FILE#<sha256>, sk=FILE` (`gsi1pk=FILES`): a content's status. PROCESSING while a worker has it,
  then ACCEPTED (applied), QUARANTINED or FAILED. A PROCESSING item left by a crashed attempt may be taken
  over, since every write the ingest makes is idempotent; so may QUARANTINED and FAILED ones, which the
  ingest service decides (only an applied file makes a later drop of its bytes a DUPLICATE).
- `pk=FILE#<sha256>, sk=APPLIED`: the key the content was applied from (what a DUPLICATE names).
- `pk=FILE#KEY#<landing key>, sk=DROP` (`gsi1pk=FILE_DROPS`): what happened to the object at one key, the
  last time it was delivered (`FileDrop`): what `p4p files` lists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from shared import clock
from shared.dal.dynamo import CONDITION_FAILED, error_code, from_item, query_all, to_item
from shared.models.files import Coverage, FileKind, FileManifest, FileStatus, FileSubmission
from shared.models.tables import REGISTRY_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FILE_SK = "FILE"
FILES_INDEX_KEY = "FILES"
PROCESSING = "PROCESSING"
APPLIED_SK = "APPLIED"
DROP_SK = "DROP"
DROPS_INDEX_KEY = "FILE_DROPS"
DID_NOT_FINISH = "DID_NOT_FINISH"
"""The failure reason of a last delivery that never reported back (the function timed out or died)."""


def file_pk(file_id: str) -> str:
    return f"FILE#{file_id}"


def drop_pk(key: str) -> str:
    return f"FILE#KEY#{key}"


class FileDrop(BaseModel):
    """What happened to the object at one landing key, the last time it was delivered. Status is
    PROCESSING or a `FileStatus`; `reason` is a quarantine or failure reason code, `detail` a whole-file
    problem's value-free detail; counts are the manifest's."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: str | None = None
    status: str = PROCESSING
    file_id: str | None = None
    reason: str | None = None
    detail: str | None = None
    duplicate_of: str | None = None
    attempts: int = 0
    last_error: str | None = None
    rows_read: int | None = None
    accepted: int | None = None
    rejected: int | None = None
    duplicate: int | None = None
    superseded: int | None = None
    landed_at: str | None = None
    finished_at: str | None = None

    def finished(self, status: FileStatus, **changes: Any) -> FileDrop:
        """This drop with a final status (and what goes with it), at the clock's now."""
        stamp = {"status": status.value, "finished_at": clock.now().isoformat()}
        return self.model_copy(update=stamp | changes)

    @classmethod
    def counted(cls, manifest: FileManifest) -> dict[str, int]:
        """A manifest's counts, as a drop carries them."""
        names = ("rows_read", "accepted", "rejected", "duplicate", "superseded")
        return {n: getattr(manifest, n) for n in names}


class FileLog(ABC):
    """The drops (one record per landing key) and which key each applied content came from."""

    @abstractmethod
    def landed(
        self, key: str, *, kind: FileKind | None, attempt: int, last: bool
    ) -> tuple[FileDrop, FileDrop]:
        """Record a delivery of the object at `key` (its `attempt`-th); return the drop's record as it was
        before (a fresh one if none) and as it is now. On the `last` attempt the drop is FAILED until this
        attempt says otherwise, so a delivery that dies silently still ends FAILED (`DID_NOT_FINISH`, or the
        error an earlier attempt met)."""

    @abstractmethod
    def settle(self, drop: FileDrop) -> None:
        """Write a drop's record (its final status, or a failed attempt's error)."""

    @abstractmethod
    def drop(self, key: str) -> FileDrop | None:
        """The record of the object at `key`, if it was ever delivered."""

    @abstractmethod
    def drops(self) -> list[FileDrop]:
        """Every drop's record, latest delivery first."""

    @abstractmethod
    def mark_applied(self, file_id: str, key: str) -> None:
        """Record that the content `file_id` was applied from `key`."""

    @abstractmethod
    def applied_key(self, file_id: str) -> str | None:
        """The key the content `file_id` was applied from, if it was."""


def landed_drop(
    previous: FileDrop | None, key: str, kind: FileKind | None, attempt: int, last: bool
) -> FileDrop:
    """The drop's record while a delivery works on it (see `FileLog.landed`)."""
    base = previous or FileDrop(key=key)
    now = clock.now().isoformat()
    changes: dict[str, Any] = {
        "kind": kind.value if kind else None,
        "status": PROCESSING,
        "attempts": attempt,
        "landed_at": now,
        "finished_at": None,
    }
    if last:
        changes |= {
            "status": FileStatus.FAILED.value,
            "reason": base.last_error or DID_NOT_FINISH,
            "finished_at": now,
        }
    return base.model_copy(update=changes)


def drop_item(drop: FileDrop) -> dict[str, Any]:
    """A drop's Registry item (plain values)."""
    return {
        "pk": drop_pk(drop.key),
        "sk": DROP_SK,
        "gsi1pk": DROPS_INDEX_KEY,
        "gsi1sk": f"{drop.landed_at or ''}#{drop.key}",
        **drop.model_dump(mode="json"),
    }


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

    @abstractmethod
    def submissions(self, kinds: Iterable[FileKind]) -> list[FileSubmission]:
        """Every accepted file of these kinds, with the day it was received and its row counts."""


def submission_of(item: Mapping[str, Any]) -> FileSubmission:
    """An accepted file item as a submission: received on the day its accepted processing began."""
    return FileSubmission(
        kind=FileKind(item["kind"]),
        received_on=datetime.fromisoformat(str(item["started_at"])).astimezone(UTC).date(),
        rows_read=int(item.get("rows_read") or 0),
        rejected=int(item.get("rejected") or 0),
    )


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

    def submissions(self, kinds: Iterable[FileKind]) -> list[FileSubmission]:
        wanted = sorted({k.value for k in kinds})
        if not wanted:
            return []
        names = {f":k{i}": k for i, k in enumerate(wanted)}
        items = query_all(
            self._db,
            TableName=self._table,
            IndexName=REGISTRY_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :files",
            FilterExpression=f"#s = :accepted AND #k IN ({', '.join(names)})",
            ExpressionAttributeNames={"#k": "kind", "#s": "status"},
            ExpressionAttributeValues=to_item(
                {":files": FILES_INDEX_KEY, ":accepted": FileStatus.ACCEPTED.value} | names
            ),
        )
        return [submission_of(item) for item in items]


class DynamoFileLog(FileLog):
    """`FileLog` on the Registry table (items keyed `FILE#…`, as the ingest's grant allows)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item = found.get("Item")
        return from_item(item) if item else None

    def landed(
        self, key: str, *, kind: FileKind | None, attempt: int, last: bool
    ) -> tuple[FileDrop, FileDrop]:
        previous = self.drop(key)
        current = landed_drop(previous, key, kind, attempt, last)
        self.settle(current)
        return previous or FileDrop(key=key), current

    def settle(self, drop: FileDrop) -> None:
        self._db.put_item(TableName=self._table, Item=to_item(drop_item(drop)))

    def drop(self, key: str) -> FileDrop | None:
        item = self._get(drop_pk(key), DROP_SK)
        return FileDrop.model_validate(item) if item else None

    def drops(self) -> list[FileDrop]:
        items = query_all(
            self._db,
            TableName=self._table,
            IndexName=REGISTRY_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :d",
            ExpressionAttributeValues={":d": {"S": DROPS_INDEX_KEY}},
            ScanIndexForward=False,
        )
        return [FileDrop.model_validate(item) for item in items]

    def mark_applied(self, file_id: str, key: str) -> None:
        item = {"pk": file_pk(file_id), "sk": APPLIED_SK, "file_id": file_id, "source_key": key}
        self._db.put_item(TableName=self._table, Item=to_item(item))

    def applied_key(self, file_id: str) -> str | None:
        item = self._get(file_pk(file_id), APPLIED_SK)
        return str(item["source_key"]) if item else None
