"""Operators approve and mark runs paid; each move is conditional on the run's status and mode."""

from __future__ import annotations

import pytest

from shared.dal.runs import DynamoRunRegistry
from shared.models.runs import RunStatus
from shared.services.lifecycle import RunLifecycle, RunNotFoundError, RunTransitionError
from tests.functional.flow import land, run_month
from tests.functional.plan_data import FILES


@pytest.fixture
def lifecycle(aws):
    return RunLifecycle(DynamoRunRegistry(aws.dynamodb, aws.names["REGISTRY_TABLE"]))


def test_a_calculated_run_is_approved_then_paid(aws, lambda_context, lifecycle):
    # GIVEN March calculated
    land(aws, lambda_context, FILES)
    run_id = run_month(lambda_context, "2026-03")["run"]["run_id"]
    # WHEN an operator approves it, then marks it paid
    approved = lifecycle.approve(run_id)
    paid = lifecycle.mark_paid(run_id)
    # THEN each move happened once, in order, and a second approval is refused
    assert (approved.status, paid.status) == (RunStatus.APPROVED, RunStatus.PAID)
    assert paid.version == approved.version + 1
    with pytest.raises(RunTransitionError, match="is PAID"):
        lifecycle.approve(run_id)


def test_paying_before_approval_and_approving_a_preview_are_refused(aws, lambda_context, lifecycle):
    # GIVEN a calculated final run and a preview
    land(aws, lambda_context, FILES)
    final_id = run_month(lambda_context, "2026-03")["run"]["run_id"]
    preview_id = run_month(lambda_context, "2026-04", mode="preview")["run"]["run_id"]
    # WHEN an operator skips approval, approves the preview, or names an unknown run
    # THEN each is refused with a reason, and the final run is still CALCULATED
    with pytest.raises(RunTransitionError, match="must be APPROVED"):
        lifecycle.mark_paid(final_id)
    with pytest.raises(RunTransitionError, match="preview"):
        lifecycle.approve(preview_id)
    with pytest.raises(RunNotFoundError):
        lifecycle.approve("monthly-2026-12-final")
    assert [r.status for r in lifecycle.recent() if r.run_id == final_id] == [RunStatus.CALCULATED]


def test_recent_lists_newest_first_with_totals(aws, lambda_context, lifecycle):
    # GIVEN two months calculated, February first
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-02")
    march = run_month(lambda_context, "2026-03")
    # WHEN the runs are listed
    listed = lifecycle.recent()
    # THEN March comes first and carries the run's ledger total
    assert [r.period for r in listed] == ["2026-03", "2026-02"]
    assert listed[0].total_cents == march["totals"]["total_cents"] > 0
    assert lifecycle.recent(limit=1) == listed[:1]
