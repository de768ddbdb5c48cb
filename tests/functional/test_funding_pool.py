"""The funding-pool check before approval, through the operator API on moto (issue 14 §3): the year's paid so
far + this run + the rest projected at the kind's average, against the pool the program file names; a warning
in the approval and show responses, a refusal only where the program says so.

The plan is the tiny plan; Care Gap's version is the shipped one with a pool (dropped as a plan would).
"""

from __future__ import annotations

import json
from typing import Any

from functions.operator import operate_runs
from shared.logic.money import format_cents
from shared.programs.care_gap import DATA_DIR
from tests.functional.flow import land, run_month
from tests.functional.plan_data import FILES
from tests.functional.test_run_lifecycle import APPROVER, call, payments_keys


def _pool(aws: Any, cents: int, *, refuse: bool = False, name: str = "pool") -> None:
    shipped = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text())
    version = shipped | {
        "version": f"care_gap-2026.{name}",
        "effective_from": "2026-01-02",
        "funding_pool": format_cents(cents),
        "refuse_approval_over_pool": refuse,
    }
    aws.s3.put_object(
        Bucket=aws.names["CURATED_BUCKET"],
        Key="programs/care_gap/pool.json",
        Body=json.dumps(version).encode(),
    )
    operate_runs.lifecycle.cache_clear()


def _march(aws: Any, lambda_context: Any) -> tuple[str, int]:
    land(aws, lambda_context, FILES)
    state = run_month(lambda_context, "2026-03")
    return state["run"]["run_id"], state["totals"]["total_cents"]


def test_a_run_whose_projected_year_exceeds_the_pool_is_approved_with_a_warning(aws, lambda_context):
    # GIVEN March calculated; the year projected from it is March x 10 (itself and nine months to come)
    run_id, march = _march(aws, lambda_context)
    assert march > 0
    # WHEN the pool is exactly the projection, the run shows no warning
    _pool(aws, 10 * march)
    status, shown = call(lambda_context, "GET", f"/runs/{run_id}", APPROVER)
    [pool] = shown["funding_pools"]
    assert status == 200 and pool["warning"] is None and pool["over_by_cents"] == 0
    assert (pool["paid_cents"], pool["run_cents"], pool["projected_rest_cents"], pool["periods_left"]) == (
        0,
        march,
        9 * march,
        9,
    )
    # WHEN the pool is a cent less, and the approver approves
    _pool(aws, 10 * march - 1)
    status, approved = call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    # THEN the approval goes through, and its response warns that the year goes over by a cent
    [pool] = approved["funding_pools"]
    assert status == 200 and approved["effective_status"] == "APPROVED"
    assert pool["over_by_cents"] == 1 and "over the funding pool" in pool["warning"]
    assert payments_keys(aws) == [f"payments/{run_id}.csv"]


def test_a_program_that_holds_to_its_pool_refuses_the_approval(aws, lambda_context):
    # GIVEN March calculated, and a program that refuses approval over its pool, which the year exceeds
    run_id, march = _march(aws, lambda_context)
    _pool(aws, 10 * march - 1, refuse=True)
    # WHEN the approver approves
    status, refused = call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    # THEN it is refused naming the pool, and no payment file is written
    assert status == 409 and refused["error"] == "FundingPoolExceededError"
    assert "over the funding pool" in refused["message"] and payments_keys(aws) == []
    # WHEN the plan raises the pool to the projection
    _pool(aws, 10 * march, refuse=True, name="raised")
    status, approved = call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)
    # THEN the run is approved
    assert status == 200 and approved["effective_status"] == "APPROVED"


def test_paid_so_far_counts_the_approved_runs_of_the_year(aws, lambda_context):
    # GIVEN March approved, then April calculated (M1's claim received in April confirms her screening)
    run_id, march = _march(aws, lambda_context)
    _pool(aws, 100_000_00)
    assert call(lambda_context, "POST", f"/runs/{run_id}/approve", APPROVER)[0] == 200
    april = run_month(lambda_context, "2026-04")["totals"]["total_cents"]
    # WHEN April is shown
    status, shown = call(lambda_context, "GET", "/runs/monthly-2026-04-final", APPROVER)
    # THEN March is paid so far, April is this run, and the rest is their average over eight months
    [pool] = shown["funding_pools"]
    assert status == 200 and april > 0
    rest = 8 * (march + april) / 2
    assert (pool["paid_cents"], pool["run_cents"], pool["periods_left"]) == (march, april, 8)
    assert abs(pool["projected_rest_cents"] - rest) <= 0.5
