"""The run registry: `pk=RUN#<run_id>, sk=RUN` in the Registry table, `gsi1pk=RUNS, gsi1sk=<started_at>`.

Every transition is conditional on the run's current `version` and status, so two writers cannot both win
and a closed run can never be moved back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.dal.dynamo import CONDITION_FAILED, error_code, from_item, query_all, to_item
from shared.dal.errors import AlreadyRecordedError, StaleVersionError
from shared.models.runs import Run, RunStatus
from shared.models.tables import REGISTRY_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RUN_SK = "RUN"
RUNS_INDEX_KEY = "RUNS"


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


class RunRegistry(ABC):
    """Runs and their status transitions."""

    @abstractmethod
    def create(self, run: Run) -> None:
        """Record a new run; AlreadyRecordedError if the id exists."""

    @abstractmethod
    def get(self, run_id: str) -> Run | None:
        """The run, read consistently; None if unknown."""

    @abstractmethod
    def recent(self, limit: int = 50) -> list[Run]:
        """The most recently started runs, newest first."""

    @abstractmethod
    def transition(
        self,
        run: Run,
        to: RunStatus,
        *,
        allowed_from: Iterable[RunStatus],
        entry_count: int | None = None,
        total_cents: int | None = None,
        failure: str | None = None,
    ) -> Run:
        """Move `run` to `to` if it still has `run.version` and a status in `allowed_from`.

        Raises StaleVersionError otherwise; returns the run as stored after the move.
        """


class DynamoRunRegistry(RunRegistry):
    """`RunRegistry` on the Registry table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._db = client
        self._table = table_name

    def create(self, run: Run) -> None:
        item = to_item(
            {
                "pk": run_pk(run.run_id),
                "sk": RUN_SK,
                "gsi1pk": RUNS_INDEX_KEY,
                "gsi1sk": run.started_at.isoformat(),
                **run.model_dump(mode="json"),
            }
        )
        try:
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                raise AlreadyRecordedError("run") from None
            raise

    def get(self, run_id: str) -> Run | None:
        response = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": run_pk(run_id)}, "sk": {"S": RUN_SK}}, ConsistentRead=True
        )
        item = response.get("Item")
        return Run.model_validate(from_item(item)) if item else None

    def recent(self, limit: int = 50) -> list[Run]:
        items = query_all(
            self._db,
            TableName=self._table,
            IndexName=REGISTRY_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :runs",
            ExpressionAttributeValues={":runs": {"S": RUNS_INDEX_KEY}},
            ScanIndexForward=False,
        )
        return [Run.model_validate(item) for item in islice(items, limit)]

    def transition(
        self,
        run: Run,
        to: RunStatus,
        *,
        allowed_from: Iterable[RunStatus],
        entry_count: int | None = None,
        total_cents: int | None = None,
        failure: str | None = None,
    ) -> Run:
        now = datetime.now(UTC)
        sets = {"status": to.value, "version": run.version + 1, "updated_at": now.isoformat()}
        if entry_count is not None:
            sets["entry_count"] = entry_count
        if total_cents is not None:
            sets["total_cents"] = total_cents
        if failure is not None:
            sets["failure"] = failure
        allowed = sorted({s.value for s in allowed_from})
        names = {f"#a{i}": k for i, k in enumerate(sets)} | {"#s": "status", "#v": "version"}
        values: dict[str, Any] = {f":a{i}": v for i, v in enumerate(sets.values())}
        values |= {":v": run.version} | {f":f{i}": s for i, s in enumerate(allowed)}
        update = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(sets)))
        condition = f"#v = :v AND #s IN ({', '.join(f':f{i}' for i in range(len(allowed)))})"
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": run_pk(run.run_id)}, "sk": {"S": RUN_SK}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                raise StaleVersionError("run changed since it was read") from None
            raise
        return Run.model_validate(from_item(response["Attributes"]))
