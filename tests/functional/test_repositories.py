"""DynamoDB repositories on moto: conditional writes surface as domain errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from functions.runs import fail_run
from shared.dal.errors import AlreadyRecordedError, StaleVersionError
from shared.dal.files import DynamoFileRegistry
from shared.dal.ledger import DynamoLedgerRepository
from shared.dal.runs import DynamoRunRegistry
from shared.models.actions import ActionCode, Step
from shared.models.files import FileKind, FileStatus
from shared.models.ledger import LedgerEntry
from shared.models.runs import Run, RunKind, RunMode, RunStatus


def _run(run_id: str = "monthly-2026-03-final") -> Run:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    return Run(
        run_id=run_id,
        run_kind=RunKind.MONTHLY,
        period="2026-03",
        mode=RunMode.FINAL,
        program_year=2026,
        started_at=now,
        updated_at=now,
    )


def _entry(run_id: str) -> LedgerEntry:
    return LedgerEntry(
        program="care_gap",
        clinic_id="K1",
        member_id="M1",
        action=ActionCode("BCS-E"),
        period="2026",
        step=Step.PERFORM,
        svu=Decimal(30),
        multiplier=Decimal(1),
        bonus_rate=Decimal("0.2"),
        dollar_rate=Decimal(1),
        amount_cents=3600,
        rule_version="v1",
        evidence_ids=("e1",),
        evidence_refs=("attestation:A1",),
        action_date=date(2026, 3, 5),
        earned_month="2026-03",
        run_id=run_id,
    )


def test_run_transitions_are_conditional_on_version_and_status(aws):
    # GIVEN an open run
    registry = DynamoRunRegistry(aws.dynamodb, aws.names["REGISTRY_TABLE"], aws.names["APPROVALS_TABLE"])
    run = _run()
    registry.create(run)
    # WHEN it is closed, then a stale copy tries to fail it, and the run id is created again
    closed = registry.transition(run, RunStatus.CALCULATED, allowed_from={RunStatus.OPEN}, total_cents=5)
    with pytest.raises(StaleVersionError):
        registry.transition(run, RunStatus.FAILED, allowed_from={RunStatus.OPEN})
    with pytest.raises(AlreadyRecordedError):
        registry.create(run)
    # THEN the closed run keeps its status, version and totals
    stored = registry.get(run.run_id)
    assert stored == closed and stored.status is RunStatus.CALCULATED and stored.version == run.version + 1
    assert stored.total_cents == 5


def test_fail_run_never_moves_a_closed_run(aws, lambda_context):
    # GIVEN a run already CALCULATED
    registry = DynamoRunRegistry(aws.dynamodb, aws.names["REGISTRY_TABLE"], aws.names["APPROVALS_TABLE"])
    run = _run()
    registry.create(run)
    registry.transition(run, RunStatus.CALCULATED, allowed_from={RunStatus.OPEN})
    ref = {
        "run_id": run.run_id,
        "run_kind": "monthly",
        "period": "2026-03",
        "mode": "final",
        "status": "OPEN",
    }
    # WHEN the state machine's Catch path marks it failed
    result = fail_run.handler(
        {"run": ref, "error": {"Error": "X", "Cause": "y"}, "step": "CloseRun"}, lambda_context
    )
    # THEN it reports and keeps CALCULATED, naming only the foreign error's type
    assert result == {
        "run_id": run.run_id,
        "status": "CALCULATED",
        "error": "X",
        "cause": "unexpected X in CloseRun; the step's log has its trace",
    }
    assert registry.get(run.run_id).status is RunStatus.CALCULATED  # type: ignore[union-attr]


def test_ledger_put_if_absent_names_the_run_that_wrote_the_entry(aws):
    # GIVEN an entry recorded by the February run
    ledger = DynamoLedgerRepository(aws.dynamodb, aws.names["LEDGER_TABLE"])
    ledger.put_if_absent(_entry("monthly-2026-02-final"))
    # WHEN the March run computes the same award
    with pytest.raises(AlreadyRecordedError) as raised:
        ledger.put_if_absent(_entry("monthly-2026-03-final"))
    # THEN the write is refused, naming February, and only February's query finds it
    assert raised.value.existing_run_id == "monthly-2026-02-final"
    assert [e.run_id for e in ledger.by_run("monthly-2026-02-final")] == ["monthly-2026-02-final"]
    assert list(ledger.by_run("monthly-2026-03-final")) == []
    assert ledger.existing_ids([_entry("x").entry_id, "unknown"]) == {_entry("x").entry_id}


def test_file_registry_lets_a_crashed_attempt_be_redone_but_not_a_finished_one(aws):
    # GIVEN a file claimed by an attempt that crashed before finishing
    files = DynamoFileRegistry(aws.dynamodb, aws.names["REGISTRY_TABLE"])
    assert files.begin("abc", kind=FileKind.CLINICS, source_key="landing/clinics/a.csv") is None
    # WHEN it is claimed again, finished, and claimed a third time
    retry = files.begin("abc", kind=FileKind.CLINICS, source_key="landing/clinics/a.csv")
    files.finish("abc", FileStatus.ACCEPTED)
    third = files.begin("abc", kind=FileKind.CLINICS, source_key="landing/clinics/b.csv")
    # THEN the retry may process it, and after ACCEPTED it is reported as done
    assert retry is None
    assert third is FileStatus.ACCEPTED
