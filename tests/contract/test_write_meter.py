"""The in-memory repositories' WriteMeter against DynamoDB's bill for the same calls.

Each test makes the same calls on both backends (fixture `both`): on `memory` the fakes charge their meter;
on `dynamo` the repositories write to moto through `tests.contract.billing.BilledClient`, which reads every
item it writes before and after and adds up what DynamoDB bills by the meter's rule
(shared/dal/metering.py), sized from the items as they are on the wire. The items straddle 1 KB
boundaries, so a size the fake gets wrong shows as a unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from shared.dal.errors import AlreadyRecordedError
from shared.models.files import FileKind, FileStatus
from shared.models.runs import RunFailure, RunStatus
from tests.contract.billing import BilledClient
from tests.contract.conftest import Backend
from tests.contract.factories import (
    T0,
    approval,
    attestation,
    award,
    claim_evidence,
    clinic,
    eligibility_manifest,
    gap,
    profile,
    run,
    span,
    version,
)

Scenario = Callable[[Backend], None]


def billed(both: tuple[Backend, Backend], scenario: Scenario) -> tuple[int, int, int]:
    """The scenario on both backends: the meter's units, DynamoDB's units, and the writes billed."""
    memory, dynamo = both
    scenario(memory)
    scenario(dynamo)
    bill: BilledClient = dynamo.client()
    return memory.meter.total, bill.units, bill.writes


def test_ledger_writes_are_metered_as_dynamodb_bills_them(both: tuple[Backend, Backend]):
    # GIVEN entries from 0.6 to 2.3 KB, each recorded (one twice: refused) with its history copy, and
    # gap digests that grow and shrink
    def scenario(backend: Backend) -> None:
        ledger = backend.ledger()
        for n in range(0, 21, 2):
            entry = award(f"M{n:03d}", evidence=n)
            ledger.record(entry)
            ledger.index_member(entry)
        with pytest.raises(AlreadyRecordedError):
            ledger.put_if_absent(award("M000"))
        ledger.index_member(award("M000"))
        for size in (10, 14, 3):
            ledger.put_gap_digest("M000", {f"A{i:02d}#2026": "f" * 64 for i in range(size)})
        # The same puts in batches: copies (one met again) and digests, growing and shrinking.
        together = [award(f"B{n:03d}", evidence=n) for n in range(0, 60, 2)]
        ledger.index_members([*together, together[0]])
        for size in (4, 16, 2):
            ledger.put_gap_digests(
                {f"B{n:03d}": {f"A{i:02d}#2026": "e" * 64 for i in range(size)} for n in range(30)}
            )

    # WHEN both bill the calls
    meter, dynamodb, writes = billed(both, scenario)
    # THEN the meter says what DynamoDB bills, and the large items cost more than one unit each
    assert meter == dynamodb and dynamodb > writes


def test_gap_state_writes_are_metered_as_dynamodb_bills_them(both: tuple[Backend, Backend]):
    # GIVEN clinics, a roster, packed evidence, gaps (some over a KB, some written twice), and a retraction
    def scenario(backend: Backend) -> None:
        gaps = backend.gaps()
        gaps.put_clinics([clinic(f"K{n}", name="x" * (700 + 60 * n)) for n in range(8)])
        gaps.put_clinics([clinic("K7", name="short")])
        gaps.put_roster([profile(), profile(), profile("M0002")], [span(), span(start=date(2025, 1, 1))])
        for n in range(2, 14, 3):
            gaps.put_evidence(
                [claim_evidence(claim_id=f"C{n}-{i}", row=i, file_id=f"f{n}") for i in range(n)]
            )
        gaps.put_evidence([attestation()])
        gaps.retract_claims({"M0001": {"MED#C5-0", "MED#C2-0", "MED#C2-1"}})
        gaps.put_gaps(
            [gap(period=f"2026-{m:02d}").model_copy(update={"tags": ("t",) * (m * 20)}) for m in range(1, 9)]
        )
        gaps.put_gaps([gap(period="2026-08")])

    # WHEN both bill the calls
    meter, dynamodb, writes = billed(both, scenario)
    # THEN the meter says what DynamoDB bills
    assert meter == dynamodb and dynamodb > writes


def test_claim_version_writes_are_metered_as_dynamodb_bills_them(both: tuple[Backend, Backend]):
    # GIVEN versions from 0.3 to 1.5 KB, one batch holding a version twice, one rewritten smaller
    def scenario(backend: Backend) -> None:
        versions = backend.versions()
        sized = [
            replace(version(original=f"C{n}", claim=f"R{n}"), file_id="f" * (100 * n)) for n in range(1, 15)
        ]
        versions.put_versions([*sized, sized[0]])
        versions.put_versions([version(original="C9", claim="R9")])

    # WHEN both bill the calls
    meter, dynamodb, writes = billed(both, scenario)
    # THEN the meter says what DynamoDB bills
    assert meter == dynamodb and dynamodb > writes


def test_file_registry_writes_are_metered_as_dynamodb_bills_them(both: tuple[Backend, Backend]):
    # GIVEN files begun, taken over, accepted with coverage, quarantined with reasons of 0.6 to 1.1 KB
    def scenario(backend: Backend) -> None:
        files = backend.files()
        for n in range(16):
            file_id = f"h{n}"
            files.begin(file_id, kind=FileKind.ELIGIBILITY, source_key=f"landing/eligibility/{n}.csv")
            if n % 2:
                files.finish(file_id, FileStatus.QUARANTINED, reason="r" * (600 + 40 * n))
            else:
                files.begin(file_id, kind=FileKind.ELIGIBILITY, source_key="landing/eligibility/again.csv")
                manifest = eligibility_manifest(file_id, date(2026, 1, 1), date(2026, 1, 31))
                files.finish(file_id, FileStatus.ACCEPTED, manifest=manifest)
        files.begin("h1", kind=FileKind.ELIGIBILITY, source_key="landing/eligibility/1.csv")

    # WHEN both bill the calls
    meter, dynamodb, writes = billed(both, scenario)
    # THEN the meter says what DynamoDB bills
    assert meter == dynamodb and dynamodb > writes


def test_run_registry_writes_are_metered_as_dynamodb_bills_them(both: tuple[Backend, Backend]):
    # GIVEN runs created, failed, resumed, closed, one reopened (a transaction), one approved (a transaction)
    # and paid
    def scenario(backend: Backend) -> None:
        runs = backend.runs()
        failure = RunFailure(error="ShardError", message="shard failed", step="EarnShard", at=T0)
        for run_id in ("monthly-2026-02-final", "monthly-2026-03-final"):
            created = run(run_id)
            runs.create(created)
            failed = runs.transition(
                created, RunStatus.FAILED, allowed_from={RunStatus.OPEN}, failure=failure
            )
            opened = runs.transition(
                failed, RunStatus.OPEN, allowed_from={RunStatus.FAILED}, operator="local:a"
            )
            closed = runs.transition(
                opened, RunStatus.CALCULATED, allowed_from={RunStatus.OPEN}, total_cents=9
            )
        runs.transition(closed, RunStatus.OPEN, allowed_from={RunStatus.CALCULATED}, unapproved=True)
        first = runs.get("monthly-2026-02-final")
        assert first is not None
        runs.approve(first, approval(first))
        runs.mark_paid(first.run_id, paid_by="finance", paid_at=T0, reference="R1", sha256="ab" * 32)

    # WHEN both bill the calls
    meter, dynamodb, writes = billed(both, scenario)
    # THEN the meter says what DynamoDB bills: transactions twice per item, their checks included
    assert meter == dynamodb and dynamodb > writes
