"""The contract suite's implementations: every test asks for an interface's fixture (`files`, `log`,
`gaps`, `versions`, `ledger`, `runs`, `objects`, `executions`) and runs once on the in-memory fake
(`memory`) and once on the AWS implementation on moto (`dynamo`), wired as a deployment wires them:
claim versions and the ledger's member history live in the GapState table beside the gap state.

moto is started once for the suite (its clients are the slow part); each test gets fresh tables, buckets and
a state machine, created from shared/models/tables.py by `tests.conftest.create_tables`, and moto is
reset after it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import table as moto_table

from shared.dal.claim_versions import ClaimVersionRepository, DynamoClaimVersionRepository
from shared.dal.executions import ExecutionStarter, StepFunctionsExecutions
from shared.dal.files import DynamoFileLog, DynamoFileRegistry, FileLog, FileRegistry
from shared.dal.gap_state import DynamoGapStateRepository, GapStateRepository
from shared.dal.ledger import DynamoLedgerRepository, LedgerRepository
from shared.dal.memory import (
    MemoryClaimVersionRepository,
    MemoryFileLog,
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryLedgerRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
    RecordedExecutions,
    WriteMeter,
)
from shared.dal.objects import ObjectStore, S3ObjectStore
from shared.dal.runs import DynamoRunRegistry, RunRegistry
from shared.models.tables import ALL_TABLES
from tests.conftest import REGION, create_tables
from tests.contract.billing import BilledClient

BACKENDS = ("memory", "dynamo")
IMPLEMENTATIONS: dict[type, dict[str, type]] = {
    FileRegistry: {"memory": MemoryFileRegistry, "dynamo": DynamoFileRegistry},
    FileLog: {"memory": MemoryFileLog, "dynamo": DynamoFileLog},
    GapStateRepository: {"memory": MemoryGapStateRepository, "dynamo": DynamoGapStateRepository},
    ClaimVersionRepository: {"memory": MemoryClaimVersionRepository, "dynamo": DynamoClaimVersionRepository},
    LedgerRepository: {"memory": MemoryLedgerRepository, "dynamo": DynamoLedgerRepository},
    RunRegistry: {"memory": MemoryRunRegistry, "dynamo": DynamoRunRegistry},
    ObjectStore: {"memory": MemoryObjectStore, "dynamo": S3ObjectStore},
    ExecutionStarter: {"memory": RecordedExecutions, "dynamo": StepFunctionsExecutions},
}
"""Interface -> its implementation per backend; `test_suite_covers_every_repository` keeps it complete."""

FIXTURES: dict[type, str] = {
    FileRegistry: "files",
    FileLog: "log",
    GapStateRepository: "gaps",
    ClaimVersionRepository: "versions",
    LedgerRepository: "ledger",
    RunRegistry: "runs",
    ObjectStore: "objects",
    ExecutionStarter: "executions",
}
"""Interface -> the fixture that hands out its implementations."""

BUCKET = "contract-bucket"
OTHER_BUCKET = "contract-other"
MACHINE = "contract-machine"
ACCOUNT = "123456789012"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}"
_CREDENTIALS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_test_numbers = itertools.count()


@dataclass(frozen=True)
class Moto:
    """moto, started for this package's tests, and one client per service."""

    mock: Any
    dynamodb: Any
    s3: Any
    sfn: Any


@pytest.fixture(scope="package")
def moto() -> Iterator[Moto]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in _CREDENTIALS.items():
            patch.setenv(key, value)
        with mock_aws() as mock:
            yield Moto(
                mock=mock,
                dynamodb=boto3.client("dynamodb", region_name=REGION),
                s3=boto3.client("s3", region_name=REGION),
                sfn=boto3.client("stepfunctions", region_name=REGION),
            )


@dataclass
class Backend:
    """One deployment's storage: `memory` (the fakes, one WriteMeter) or `dynamo` (moto). Each repository
    is built once, so repositories sharing a table share it here too."""

    name: str
    moto: Moto | None = None
    meter: WriteMeter = field(default_factory=WriteMeter)
    tables: dict[str, str] = field(default_factory=dict)
    wrap: Callable[[Any], Any] | None = None
    """Wraps the DynamoDB client the repositories get (the write meter's tests bill through it)."""
    continued: list[str] = field(default_factory=list)
    """Operations of this test whose answer was one page of several (`LastEvaluatedKey` or
    `IsTruncated`): how a test shows its data really went past a page."""
    _built: dict[type, Any] = field(default_factory=dict)
    _aws_ready: set[str] = field(default_factory=set)

    def spans_pages(self) -> bool:
        """True on memory (no pages); on moto, True once some answer of this test was cut into pages."""
        return self.name == "memory" or bool(self.continued)

    def _page_cut(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if parsed.get("LastEvaluatedKey") or parsed.get("IsTruncated"):
            self.continued.append(model.name)

    @property
    def aws(self) -> Moto:
        assert self.moto is not None, "only the dynamo backend talks to moto"
        return self.moto

    def _once(self, interface: type, build: Any) -> Any:
        if interface not in self._built:
            built = build()
            assert interface is object or type(built) is IMPLEMENTATIONS[interface][self.name]
            self._built[interface] = built
        return self._built[interface]

    def _ensure(self, what: str) -> None:
        if what in self._aws_ready:
            return
        self._aws_ready.add(what)
        if what == "tables":
            create_tables(self.aws.dynamodb, self.tables)
        elif what == "buckets":
            for bucket in (BUCKET, OTHER_BUCKET):
                self.aws.s3.create_bucket(Bucket=bucket)
        elif what == "machine":
            arn = self.aws.sfn.create_state_machine(
                name=MACHINE,
                definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/contract-machine",
            )["stateMachineArn"]
            assert arn == MACHINE_ARN

    def client(self) -> Any:
        """The DynamoDB client the repositories use (wrapped if asked), tables created."""
        self._ensure("tables")
        return self._once(object, lambda: self.wrap(self.aws.dynamodb) if self.wrap else self.aws.dynamodb)

    def files(self) -> FileRegistry:
        if self.name == "memory":
            return self._once(FileRegistry, lambda: MemoryFileRegistry(self.meter))
        return self._once(
            FileRegistry, lambda: DynamoFileRegistry(self.client(), self.tables["REGISTRY_TABLE"])
        )

    def log(self) -> FileLog:
        if self.name == "memory":
            return self._once(FileLog, lambda: MemoryFileLog(self.meter))
        return self._once(FileLog, lambda: DynamoFileLog(self.client(), self.tables["REGISTRY_TABLE"]))

    def gaps(self) -> GapStateRepository:
        if self.name == "memory":
            return self._once(GapStateRepository, lambda: MemoryGapStateRepository(self.meter))
        return self._once(
            GapStateRepository, lambda: DynamoGapStateRepository(self.client(), self.tables["GAPS_TABLE"])
        )

    def versions(self) -> ClaimVersionRepository:
        if self.name == "memory":
            gaps = self.gaps()
            assert isinstance(gaps, MemoryGapStateRepository)
            return self._once(ClaimVersionRepository, lambda: MemoryClaimVersionRepository(gaps))
        return self._once(
            ClaimVersionRepository,
            lambda: DynamoClaimVersionRepository(self.client(), self.tables["GAPS_TABLE"]),
        )

    def ledger(self) -> LedgerRepository:
        if self.name == "memory":
            return self._once(LedgerRepository, lambda: MemoryLedgerRepository(self.meter))
        return self._once(
            LedgerRepository,
            lambda: DynamoLedgerRepository(
                self.client(), self.tables["LEDGER_TABLE"], history_table=self.tables["GAPS_TABLE"]
            ),
        )

    def runs(self) -> RunRegistry:
        if self.name == "memory":
            return self._once(RunRegistry, lambda: MemoryRunRegistry(self.meter))
        return self._once(
            RunRegistry,
            lambda: DynamoRunRegistry(
                self.client(), self.tables["REGISTRY_TABLE"], self.tables["APPROVALS_TABLE"]
            ),
        )

    def objects(self) -> ObjectStore:
        if self.name == "memory":
            return self._once(ObjectStore, MemoryObjectStore)
        self._ensure("buckets")
        return self._once(ObjectStore, lambda: S3ObjectStore(self.aws.s3))

    def executions(self) -> ExecutionStarter:
        if self.name == "memory":
            return self._once(ExecutionStarter, RecordedExecutions)
        self._ensure("machine")
        return self._once(ExecutionStarter, lambda: StepFunctionsExecutions(self.aws.sfn))


@contextmanager
def dynamo_backend(aws: Moto, wrap: Callable[[Any], Any] | None = None) -> Iterator[Backend]:
    """A `dynamo` backend for one test: its own tables, moto reset after it."""
    number = next(_test_numbers)
    tables = {spec.env_var: f"contract-{number}-{spec.logical_name}" for spec in ALL_TABLES}
    built = Backend("dynamo", moto=aws, tables=tables, wrap=wrap)
    for client in (aws.dynamodb, aws.s3):
        client.meta.events.register("after-call", built._page_cut)
    try:
        yield built
    finally:
        for client in (aws.dynamodb, aws.s3):
            client.meta.events.unregister("after-call", built._page_cut)
        aws.mock.reset()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        yield Backend("memory")
        return
    with dynamo_backend(request.getfixturevalue("moto")) as built:
        yield built


@pytest.fixture
def both(moto: Moto) -> Iterator[tuple[Backend, Backend]]:
    """The memory backend and, on moto, a dynamo backend billed through `BilledClient`."""
    with dynamo_backend(moto, wrap=BilledClient) as dynamo:
        yield Backend("memory"), dynamo


@pytest.fixture
def files(backend: Backend) -> FileRegistry:
    return backend.files()


@pytest.fixture
def log(backend: Backend) -> FileLog:
    return backend.log()


@pytest.fixture
def gaps(backend: Backend) -> GapStateRepository:
    return backend.gaps()


@pytest.fixture
def versions(backend: Backend) -> ClaimVersionRepository:
    return backend.versions()


@pytest.fixture
def ledger(backend: Backend) -> LedgerRepository:
    return backend.ledger()


@pytest.fixture
def runs(backend: Backend) -> RunRegistry:
    return backend.runs()


@pytest.fixture
def objects(backend: Backend) -> ObjectStore:
    return backend.objects()


@pytest.fixture
def executions(backend: Backend) -> ExecutionStarter:
    return backend.executions()


@pytest.fixture
def small_pages(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> int:
    """DynamoDB pages a query's answer at 1 MB and S3 a listing at 1,000 keys; here moto pages at 4 KB
    and 7 keys, so a few dozen small items already span several pages (memory has no pages). Returns
    the DynamoDB page size in bytes."""
    size = 4_000
    monkeypatch.setattr(moto_table, "RESULT_SIZE_LIMIT", size)
    monkeypatch.setenv("MOTO_S3_DEFAULT_MAX_KEYS", "7")
    return size
