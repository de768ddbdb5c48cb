"""RunRegistry: runs created once, transitions conditional on version and status (and, when asked, on no
approval), the newest-first listing, and approvals and payments recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import clock
from shared.dal.errors import AlreadyRecordedError, StaleVersionError
from shared.dal.runs import RunRegistry
from shared.models.runs import Run, RunFailure, RunStatus
from tests.contract.conftest import Backend
from tests.contract.factories import T0, approval, run

MOVED_AT = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
OPERATOR = "arn:aws:iam::1:user/operator"


def closed(runs: RunRegistry, run_id: str = "monthly-2026-03-final", started: datetime = T0) -> Run:
    """A created run moved to CALCULATED with its totals."""
    created = run(run_id, started=started, operators=(OPERATOR,))
    runs.create(created)
    with clock.clock_override(lambda: MOVED_AT):
        return runs.transition(
            created, RunStatus.CALCULATED, allowed_from={RunStatus.OPEN}, entry_count=3, total_cents=900
        )


def test_a_run_is_created_once_and_reads_back_equal(runs: RunRegistry):
    # GIVEN a run with operators
    created = run(operators=(OPERATOR, "local:demo"))
    runs.create(created)
    # WHEN the same id is created again (another start time)
    with pytest.raises(AlreadyRecordedError):
        runs.create(run(started=T0 + timedelta(hours=1)))
    # THEN the first one stands, read back equal; an unknown id is None
    assert runs.get(created.run_id) == created
    assert runs.get("monthly-2026-04-final") is None


def test_a_transition_moves_version_status_and_the_fields_given(runs: RunRegistry):
    # GIVEN an open run that already counts entries
    created = run(entry_count=7, operators=(OPERATOR,))
    runs.create(created)
    failure = RunFailure(error="ShardError", message="shard 00003 failed", step="EarnShard", at=MOVED_AT)
    # WHEN it fails (recorded by a new operator), then resumes by the same operator twice over
    with clock.clock_override(lambda: MOVED_AT):
        failed = runs.transition(
            created, RunStatus.FAILED, allowed_from={RunStatus.OPEN}, failure=failure, operator="local:b"
        )
        resumed = runs.transition(
            failed, RunStatus.OPEN, allowed_from={RunStatus.OPEN, RunStatus.FAILED}, operator="local:b"
        )
    # THEN each move bumps the version, stamps the clock's time, keeps what it was not given, and the
    # operator is named once; what it returns is what the registry holds
    assert (failed.status, failed.version, failed.updated_at) == (RunStatus.FAILED, 2, MOVED_AT)
    assert failed.last_failure == failure and failed.entry_count == 7
    assert failed.operators == (OPERATOR, "local:b")
    assert (resumed.status, resumed.version, resumed.operators) == (RunStatus.OPEN, 3, (OPERATOR, "local:b"))
    assert resumed.last_failure == failure
    assert runs.get(created.run_id) == resumed


def test_a_transition_from_a_stale_copy_or_a_status_not_allowed_is_refused(runs: RunRegistry):
    # GIVEN a run that was closed after a copy of it was read
    stale = run()
    runs.create(stale)
    current = runs.transition(stale, RunStatus.CALCULATED, allowed_from={RunStatus.OPEN}, total_cents=5)
    # WHEN the stale copy, the current one from a status it is not in, and an unknown run try to move
    refused = []
    for attempt, allowed in ((stale, {RunStatus.OPEN}), (current, {RunStatus.OPEN, RunStatus.FAILED})):
        with pytest.raises(StaleVersionError):
            runs.transition(attempt, RunStatus.FAILED, allowed_from=allowed)
        refused.append(attempt.version)
    with pytest.raises(StaleVersionError):
        runs.transition(run("monthly-2026-04-final"), RunStatus.FAILED, allowed_from={RunStatus.OPEN})
    # THEN nothing moved: the registry holds the closed run, and no unknown run appeared
    assert refused == [1, 2]
    assert runs.get(stale.run_id) == current and current.total_cents == 5
    assert runs.get("monthly-2026-04-final") is None


def test_reopening_is_refused_once_the_run_is_approved(runs: RunRegistry):
    # GIVEN two closed runs, one of them approved
    kept, approved = closed(runs, "monthly-2026-02-final"), closed(runs)
    runs.approve(approved, approval(approved))
    # WHEN both are reopened on condition that they are not approved
    reopened = runs.transition(kept, RunStatus.OPEN, allowed_from={RunStatus.CALCULATED}, unapproved=True)
    with pytest.raises(StaleVersionError):
        runs.transition(approved, RunStatus.OPEN, allowed_from={RunStatus.CALCULATED}, unapproved=True)
    # THEN the unapproved one reopens; the approved one stays CALCULATED at its version
    assert reopened.status is RunStatus.OPEN and runs.get(kept.run_id) == reopened
    stored = runs.get(approved.run_id)
    assert stored is not None and (stored.status, stored.version) == (RunStatus.CALCULATED, approved.version)


def test_a_transition_of_an_approved_run_returns_it_with_its_approval(runs: RunRegistry):
    # GIVEN an approved run
    calculated = closed(runs)
    approved = runs.approve(calculated, approval(calculated))
    # WHEN it moves without the unapproved condition (a status only, e.g. a late failure report)
    moved = runs.transition(approved, RunStatus.CALCULATED, allowed_from={RunStatus.CALCULATED})
    # THEN what it returns is the run as `get` reads it: approval included, so still APPROVED
    assert moved == runs.get(calculated.run_id)
    assert moved.approval == approved.approval and moved.effective_status is RunStatus.APPROVED


def test_recent_lists_the_newest_first_up_to_the_limit_with_approvals(runs: RunRegistry):
    # GIVEN five runs started an hour apart, created out of order, the second newest approved
    for hour in (3, 1, 5, 2):
        runs.create(run(f"run-{hour}", started=T0 + timedelta(hours=hour)))
    calculated = closed(runs, "run-4", started=T0 + timedelta(hours=4))
    approved = runs.approve(calculated, approval(calculated))
    # WHEN the most recent three, then all, are listed
    three, every = runs.recent(3), runs.recent()
    # THEN the newest start comes first, the limit holds, and each run carries its own approval
    assert [r.run_id for r in three] == ["run-5", "run-4", "run-3"]
    assert [r.run_id for r in every] == ["run-5", "run-4", "run-3", "run-2", "run-1"]
    assert every[1] == approved and every[1] == runs.get("run-4")
    assert [r.approval is None for r in every] == [True, False, True, True, True]


def test_recent_reads_past_a_page(backend: Backend, runs: RunRegistry, small_pages: int):
    # GIVEN 30 runs (about 12 KB: several 4 KB pages)
    for day in range(30):
        runs.create(run(f"preview-{day:02d}", started=T0 + timedelta(days=day)))
    # WHEN 25 and then every run are listed
    some, every = runs.recent(25), runs.recent(100)
    # THEN the newest 25, and all 30, come back newest first
    assert [r.run_id for r in every] == [f"preview-{day:02d}" for day in reversed(range(30))]
    assert some == every[:25]
    assert backend.spans_pages()


def test_a_run_is_approved_once_at_the_version_the_approver_saw(runs: RunRegistry):
    # GIVEN a closed run, a stale copy of it, and an open run
    stale = run(operators=(OPERATOR,))
    calculated = closed(runs)
    runs.create(run("monthly-2026-04-final"))
    # WHEN the stale copy, an open run, an unknown run, then the current copy (twice) are approved
    for attempt in (stale, runs.get("monthly-2026-04-final"), run("monthly-2026-05-final")):
        assert attempt is not None
        with pytest.raises(StaleVersionError):
            runs.approve(attempt, approval(attempt))
    approved = runs.approve(calculated, approval(calculated))
    with pytest.raises(StaleVersionError):
        runs.approve(calculated, approval(calculated, who="arn:aws:iam::1:user/second"))
    # THEN only the current approval is recorded, and reads show the run APPROVED
    assert approved == calculated.model_copy(update={"approval": approval(calculated)})
    assert runs.get(calculated.run_id) == approved and approved.effective_status is RunStatus.APPROVED
    assert runs.get("monthly-2026-04-final").approval is None  # type: ignore[union-attr]


def test_a_run_is_marked_paid_once_with_the_payment_files_digest(runs: RunRegistry):
    # GIVEN an approved run and a closed run never approved
    calculated = closed(runs)
    runs.approve(calculated, approval(calculated, sha256="ab" * 32))
    unapproved = closed(runs, "monthly-2026-02-final")
    paid_at = T0 + timedelta(days=5)
    # WHEN it is paid with another digest, then with its own (twice), and the unapproved run is paid
    with pytest.raises(StaleVersionError):
        runs.mark_paid(
            calculated.run_id, paid_by="finance", paid_at=paid_at, reference="R1", sha256="cd" * 32
        )
    paid = runs.mark_paid(
        calculated.run_id, paid_by="finance", paid_at=paid_at, reference="R1", sha256="ab" * 32
    )
    for run_id in (calculated.run_id, unapproved.run_id):
        with pytest.raises(StaleVersionError):
            runs.mark_paid(run_id, paid_by="finance", paid_at=paid_at, reference="R2", sha256="ab" * 32)
    # THEN the run is PAID with the first reference; the other has no approval
    assert paid.approval is not None and paid.effective_status is RunStatus.PAID
    assert (paid.approval.paid_by, paid.approval.paid_at, paid.approval.payment_reference) == (
        "finance",
        paid_at,
        "R1",
    )
    assert runs.get(calculated.run_id) == paid
    assert runs.get(unapproved.run_id).approval is None  # type: ignore[union-attr]
