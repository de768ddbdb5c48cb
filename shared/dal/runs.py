"""The run registry: run records in the Registry table, approvals in the Approvals table.

- Run records: `pk=RUN#<run_id>, sk=RUN`, `gsi1pk=RUNS, gsi1sk=<started_at>`, written by the pipeline's
  lifecycle steps (OpenRun, CloseRun, FailRun). Every transition is conditional on the run's `version`
  and status, so two writers cannot both win and a closed run is never moved back.
- Approvals: `pk=RUN#<run_id>, sk=APPROVAL` in the Approvals table, written only by the operator API:
  approving is a transaction that also checks the run record is still the CALCULATED version the
  approver saw; reopening a run for recalculation checks in the same transaction that no approval exists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared import clock
from shared.dal.dynamo import CONDITION_FAILED, batch_get, error_code, from_item, query_all, to_item
from shared.dal.errors import AlreadyRecordedError, StaleVersionError
from shared.models.runs import Approval, Run, RunFailure, RunStatus
from shared.models.tables import REGISTRY_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RUN_SK = "RUN"
APPROVAL_SK = "APPROVAL"
RUNS_INDEX_KEY = "RUNS"
TRANSACTION_CANCELED = "TransactionCanceledException"


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


class RunRegistry(ABC):
    """Runs, their status transitions, and their approvals."""

    @abstractmethod
    def create(self, run: Run) -> None:
        """Record a new run; AlreadyRecordedError if the id exists."""

    @abstractmethod
    def get(self, run_id: str) -> Run | None:
        """The run with its approval, read consistently; None if unknown."""

    @abstractmethod
    def recent(self, limit: int = 50) -> list[Run]:
        """The most recently started runs, newest first, with their approvals."""

    @abstractmethod
    def transition(
        self,
        run: Run,
        to: RunStatus,
        *,
        allowed_from: Iterable[RunStatus],
        entry_count: int | None = None,
        total_cents: int | None = None,
        failure: RunFailure | None = None,
        operator: str | None = None,
        draft_sha256: str | None = None,
        unapproved: bool = False,
    ) -> Run:
        """Move `run` to `to` if it still has `run.version` and a status in `allowed_from` (and, with
        `unapproved`, no approval). `operator` is added to the run's operators. StaleVersionError
        otherwise; returns the run as stored after the move."""

    @abstractmethod
    def approve(self, run: Run, approval: Approval) -> Run:
        """Record the approval of `run` if it is still CALCULATED at `run.version` and not approved;
        StaleVersionError otherwise."""

    @abstractmethod
    def mark_paid(self, run_id: str, *, paid_by: str, paid_at: datetime, reference: str, sha256: str) -> Run:
        """Record the payment of an approved run whose payment file digest is `sha256`; StaleVersionError
        if it is not approved, already paid, or approved with another digest."""


def _moved(run: Run, sets: dict[str, Any]) -> dict[str, Any]:
    # The approval as the caller read it: approvals are never removed, and `unapproved` proved there is none.
    return run.model_dump(mode="json") | sets


class DynamoRunRegistry(RunRegistry):
    """`RunRegistry` on the Registry table (runs) and the Approvals table (approvals)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        approvals_table: str,
        *,
        now: clock.Clock = clock.now,
    ) -> None:
        self._db = client
        self._table = table_name
        self._approvals = approvals_table
        self._now = now

    def _key(self, run_id: str, sk: str = RUN_SK) -> dict[str, dict[str, str]]:
        return {"pk": {"S": run_pk(run_id)}, "sk": {"S": sk}}

    def create(self, run: Run) -> None:
        item = to_item(
            {
                "pk": run_pk(run.run_id),
                "sk": RUN_SK,
                "gsi1pk": RUNS_INDEX_KEY,
                "gsi1sk": run.started_at.isoformat(),
                **run.model_dump(mode="json", exclude={"approval"}),
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

    def _approval(self, run_id: str) -> Approval | None:
        response = self._db.get_item(
            TableName=self._approvals, Key=self._key(run_id, APPROVAL_SK), ConsistentRead=True
        )
        item = response.get("Item")
        return Approval.model_validate(from_item(item)) if item else None

    def get(self, run_id: str) -> Run | None:
        response = self._db.get_item(TableName=self._table, Key=self._key(run_id), ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        return Run.model_validate(from_item(item) | {"approval": self._approval(run_id)})

    def recent(self, limit: int = 50) -> list[Run]:
        items = query_all(
            self._db,
            TableName=self._table,
            IndexName=REGISTRY_TABLE.gsi_name,
            KeyConditionExpression="gsi1pk = :runs",
            ExpressionAttributeValues={":runs": {"S": RUNS_INDEX_KEY}},
            ScanIndexForward=False,
        )
        runs = [Run.model_validate(item) for item in islice(items, limit)]
        keys = [(run_pk(r.run_id), APPROVAL_SK) for r in runs]
        approvals = {
            a.run_id: a
            for a in (Approval.model_validate(i) for i in batch_get(self._db, self._approvals, keys))
        }
        return [r.model_copy(update={"approval": approvals.get(r.run_id)}) for r in runs]

    def transition(
        self,
        run: Run,
        to: RunStatus,
        *,
        allowed_from: Iterable[RunStatus],
        entry_count: int | None = None,
        total_cents: int | None = None,
        failure: RunFailure | None = None,
        operator: str | None = None,
        draft_sha256: str | None = None,
        unapproved: bool = False,
    ) -> Run:
        sets: dict[str, Any] = {
            "status": to.value,
            "version": run.version + 1,
            "updated_at": self._now().isoformat(),
        }
        optional = {
            "entry_count": entry_count,
            "total_cents": total_cents,
            "last_failure": failure.model_dump(mode="json") if failure else None,
            "draft_sha256": draft_sha256,
        }
        sets |= {k: v for k, v in optional.items() if v is not None}
        if operator is not None and operator not in run.operators:
            sets["operators"] = [*run.operators, operator]
        allowed = sorted({s.value for s in allowed_from})
        names = {f"#a{i}": k for i, k in enumerate(sets)} | {"#s": "status", "#v": "version"}
        values: dict[str, Any] = {f":a{i}": v for i, v in enumerate(sets.values())}
        values |= {":v": run.version} | {f":f{i}": s for i, s in enumerate(allowed)}
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(run.run_id),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(sets))),
            "ConditionExpression": (
                f"#v = :v AND #s IN ({', '.join(f':f{i}' for i in range(len(allowed)))})"
            ),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
        try:
            if unapproved:
                self._db.transact_write_items(
                    TransactItems=[
                        {
                            "ConditionCheck": {
                                "TableName": self._approvals,
                                "Key": self._key(run.run_id, APPROVAL_SK),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {"Update": update},  # type: ignore[typeddict-item]
                    ]
                )
            else:
                self._db.update_item(**update)
        except ClientError as error:
            if error_code(error) in (CONDITION_FAILED, TRANSACTION_CANCELED):
                raise StaleVersionError("run changed since it was read") from None
            raise
        return Run.model_validate(_moved(run, sets))

    def approve(self, run: Run, approval: Approval) -> Run:
        item = to_item({"pk": run_pk(run.run_id), "sk": APPROVAL_SK, **approval.model_dump(mode="json")})
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": self._key(run.run_id),
                            "ConditionExpression": "#v = :v AND #s = :calculated",
                            "ExpressionAttributeNames": {"#v": "version", "#s": "status"},
                            "ExpressionAttributeValues": to_item(
                                {":v": run.version, ":calculated": RunStatus.CALCULATED.value}
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._approvals,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error_code(error) in (CONDITION_FAILED, TRANSACTION_CANCELED):
                raise StaleVersionError("run changed or was approved since it was read") from None
            raise
        return run.model_copy(update={"approval": approval})

    def mark_paid(self, run_id: str, *, paid_by: str, paid_at: datetime, reference: str, sha256: str) -> Run:
        try:
            self._db.update_item(
                TableName=self._approvals,
                Key=self._key(run_id, APPROVAL_SK),
                UpdateExpression="SET paid_by = :by, paid_at = :at, payment_reference = :ref",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(paid_at) AND payment_sha256 = :sha"
                ),
                ExpressionAttributeValues=to_item(
                    {":by": paid_by, ":at": paid_at.isoformat(), ":ref": reference, ":sha": sha256}
                ),
            )
        except ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                raise StaleVersionError("approval changed since it was read") from None
            raise
        run = self.get(run_id)
        assert run is not None
        return run
