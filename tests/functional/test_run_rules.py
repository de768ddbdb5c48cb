"""The run rules an operator's mistakes meet (issue 10): each is refused with its reason and moves no money.

Handlers are driven in the state machine's order on moto (`tests/functional/flow.py`); the clock is moved
with the engine's own seam where a rule depends on the day.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.runs import fail_run, render_statements
from shared.clock import clock_override, shifted_clock
from shared.services.kinds.annual import NotFinalizedYetError
from shared.services.kinds.base import RunInputError
from shared.services.kinds.monthly import LaterRunExistsError, MonthNotEndedError, NoEligibilityError
from shared.services.run_records import RunNotOpenError
from shared.services.runs import RunAlreadyClosedError, WrongMachineError
from tests.functional.flow import OPERATOR, land, run_month, run_request
from tests.functional.plan_data import ELIGIBILITY_HEADER, FILES, VOID_CL200

SECOND = "local:second-operator"


def ledger(aws: Any) -> list[dict[str, Any]]:
    return aws.dynamodb.scan(TableName=aws.names["LEDGER_TABLE"])["Items"]


def runs(aws: Any) -> dict[str, dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=aws.names["REGISTRY_TABLE"])["Items"]
    return {i["run_id"]["S"]: i for i in items if i["sk"]["S"] == "RUN"}


def report_keys(aws: Any, prefix: str = "") -> list[str]:
    listed = aws.s3.list_objects_v2(Bucket=aws.names["REPORTS_BUCKET"], Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def report_text(aws: Any, key: str) -> str:
    return aws.s3.get_object(Bucket=aws.names["REPORTS_BUCKET"], Key=key)["Body"].read().decode()


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))


def test_a_final_month_is_refused_once_a_later_month_is_final(aws, lambda_context):
    # GIVEN March to August run final
    land(aws, lambda_context, FILES)
    for month in range(3, 9):
        run_month(lambda_context, f"2026-{month:02d}")
    paid = ledger(aws)
    # WHEN a final run for February is started (it would reverse what March-August paid)
    with pytest.raises(LaterRunExistsError, match="monthly-2026-03-final") as refused:
        run_month(lambda_context, "2026-02")
    # THEN it is refused naming the later runs, no run is created and the ledger is untouched
    assert "monthly-2026-08-final" in str(refused.value)
    assert "monthly-2026-02-final" not in runs(aws)
    assert ledger(aws) == paid


def test_each_state_machine_takes_only_its_own_kind_and_no_unknown_key(aws, lambda_context):
    # GIVEN the plan's files ingested, after the annual finalization date
    land(aws, lambda_context, FILES)
    annual = {"run_kind": "annual", "program_year": 2026, "mode": "final", "requested_by": OPERATOR}
    monthly = {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "requested_by": OPERATOR}
    with clock_override(shifted_clock(datetime(2027, 7, 1, tzinfo=UTC))):
        # WHEN an annual request is sent to the monthly machine, and a monthly one carries "dry_run"
        with pytest.raises(WrongMachineError, match="annual run was sent to the monthly state machine"):
            run_request(lambda_context, annual, machine="monthly")
        with pytest.raises(RunInputError, match="`dry_run`: not a field it accepts"):
            run_request(lambda_context, monthly | {"dry_run": True})
        # THEN neither created a run nor wrote an entry, and the real annual run still opens
        assert runs(aws) == {} and ledger(aws) == []
        assert run_request(lambda_context, annual)["closed"]["status"] == "CALCULATED"


def test_a_final_month_waits_for_its_end_and_for_eligibility_that_covers_it(aws, lambda_context):
    # GIVEN a roster received on 10 May 2026 whose spans all ended by 31 May (nothing speaks for June)
    ended = ELIGIBILITY_HEADER + "M1,1965-04-10,F,MC,K1,2025-01-01,2026-05-31\n"
    with clock_override(shifted_clock(datetime(2026, 5, 10, tzinfo=UTC))):
        land(aws, lambda_context, {"landing/clinics/c.csv": FILES["landing/clinics/clinics-2026-03.csv"]})
        land(aws, lambda_context, {"landing/eligibility/roster-2026-05.csv": ended})
        # WHEN May is run final before it ends
        with pytest.raises(MonthNotEndedError, match="month 2026-05 ends on 2026-05-31"):
            run_month(lambda_context, "2026-05")
    # and, in July, June is run final
    with clock_override(shifted_clock(datetime(2026, 7, 2, tzinfo=UTC))):
        with pytest.raises(NoEligibilityError, match="no ingested eligibility file covers 2026-06"):
            run_month(lambda_context, "2026-06")
        # THEN neither opened; a preview of June still runs, and May (covered and ended) runs final
        assert runs(aws) == {}
        assert run_month(lambda_context, "2026-06", mode="preview")["closed"]["status"] == "CALCULATED"
        assert run_month(lambda_context, "2026-05")["closed"]["status"] == "CALCULATED"


def test_the_annual_run_is_final_only_from_the_finalization_date(aws, lambda_context):
    # GIVEN the plan's files, in May 2027 (the 2026 bonus is finalized from 1 June 2027)
    land(aws, lambda_context, FILES)
    request = {"run_kind": "annual", "program_year": 2026, "requested_by": OPERATOR}
    with clock_override(shifted_clock(datetime(2027, 5, 31, tzinfo=UTC))):
        # WHEN the final annual run is started, and a preview
        with pytest.raises(NotFinalizedYetError, match="finalized from 2027-06-01"):
            run_request(lambda_context, request | {"mode": "final"})
        preview = run_request(lambda_context, request | {"mode": "preview"}, execution_name="early")
    # THEN only the preview ran, and the year's final run is not locked by the refusal
    assert list(runs(aws)) == ["annual-2026-preview-early"] and preview["closed"]["status"] == "CALCULATED"
    with clock_override(shifted_clock(datetime(2027, 6, 1, tzinfo=UTC))):
        assert run_request(lambda_context, request | {"mode": "final"})["closed"]["status"] == "CALCULATED"


def test_a_failed_step_is_recorded_with_its_domain_error_message_and_step(aws, lambda_context):
    # GIVEN March open and planned, then its shard results lost (the Map did not finish)
    land(aws, lambda_context, FILES)
    with pytest.raises(Exception, match="has no result"):
        run_request(
            lambda_context,
            {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "requested_by": OPERATOR},
            skip_earning=True,
        )
    # WHEN the run's record is read
    record = runs(aws)["monthly-2026-03-final"]
    failure = {k: v["S"] for k, v in record["last_failure"]["M"].items()}
    # THEN it is FAILED with the domain error's name and message and the step, and no stack trace
    assert record["status"]["S"] == "FAILED"
    assert failure["error"] == "ShardResultMissingError" and failure["step"] == "AggregateRun"
    assert "shard 00000 of run monthly-2026-03-final has no result" in failure["message"]
    assert "Traceback" not in json.dumps(record)


def test_fail_run_reports_a_foreign_error_by_its_type_only(aws, lambda_context):
    # GIVEN a step failed with something that is not a domain error, its Cause quoting data
    cause = json.dumps({"errorMessage": "KeyError: 'M1'", "errorType": "KeyError", "stackTrace": ["..."]})
    # WHEN MarkFailed records it
    result = fail_run.handler(
        {"error": {"Error": "KeyError", "Cause": cause}, "step": "OpenRun"}, lambda_context
    )
    # THEN the execution's error is the type and the cause names the step, never the message
    assert result["error"] == "KeyError" and "M1" not in result["cause"] and "OpenRun" in result["cause"]


def test_outputs_follow_status_previews_say_preview_and_drafts_are_not_payments(aws, lambda_context):
    # GIVEN the plan's files
    land(aws, lambda_context, FILES)
    # WHEN March is run final and April previewed
    march = run_month(lambda_context, "2026-03")
    preview = run_month(lambda_context, "2026-04", mode="preview", execution_name="look")
    # THEN March has statements for review and a draft that says DRAFT, and nothing is under payments/
    preview_id = preview["run"]["run_id"]
    draft = report_text(aws, march["statements"]["draft_key"])
    assert march["statements"]["draft_key"] == "runs/monthly-2026-03-final/payment-draft.csv"
    assert draft.startswith("# DRAFT of run monthly-2026-03-final") and rows(draft)
    assert report_keys(aws, "payments/") == []
    # and every file of the preview is under previews/<run>/, PREVIEW in its name and on its first line
    written = report_keys(aws, f"previews/{preview_id}/")
    assert written and all("PREVIEW" in key.rsplit("/", 1)[-1] for key in written)
    assert not [k for k in report_keys(aws) if preview_id in k and not k.startswith("previews/")]
    for key in written:
        if key.endswith(".csv"):
            assert report_text(aws, key).startswith(f"# PREVIEW of run {preview_id}")


def test_recalculating_appends_only_the_difference_and_carries_a_negative_clinic(aws, lambda_context):
    # GIVEN March and April calculated, then a void of M2's March claim received
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-03")
    april = run_month(lambda_context, "2026-04")
    before = {json.dumps(i, sort_keys=True) for i in ledger(aws)}
    land(aws, lambda_context, {"landing/medical_claims/void-2026-04.csv": VOID_CL200})
    # WHEN a second operator recalculates April
    again = run_month(lambda_context, "2026-04", requested_by=SECOND, recalculate=True)
    # THEN April keeps every earlier entry and appends only reversals of M2's steps and K1's carry-out
    after = {json.dumps(i, sort_keys=True) for i in ledger(aws)}
    added = [json.loads(i) for i in after - before]
    assert before <= after
    assert sorted(i["kind"]["S"] for i in added) == ["CARRY_OUT", "REVERSAL", "REVERSAL", "REVERSAL"]
    # and April's statements and draft are rewritten to the new totals, K1 carried to zero, not paid
    assert again["closed"]["status"] == "CALCULATED" and again["run"]["resumed"] is True
    draft = {r["clinic_id"]: r for r in rows(report_text(aws, again["statements"]["draft_key"]))}
    assert "K1" not in draft and again["totals"]["total_cents"] < april["totals"]["total_cents"]
    record = runs(aws)["monthly-2026-04-final"]
    assert [o["S"] for o in record["operators"]["L"]] == [OPERATOR, SECOND]
    # and recalculating again with nothing new appends nothing
    run_month(lambda_context, "2026-04", requested_by=SECOND, recalculate=True)
    assert {json.dumps(i, sort_keys=True) for i in ledger(aws)} == after


def test_recalculation_is_refused_for_a_month_with_a_later_final_month_or_an_approved_run(
    aws, lambda_context
):
    # GIVEN March and April calculated
    land(aws, lambda_context, FILES)
    run_month(lambda_context, "2026-03")
    run_month(lambda_context, "2026-04")
    # WHEN March is recalculated, and April's steps are invoked after it closed
    with pytest.raises(LaterRunExistsError):
        run_month(lambda_context, "2026-03", recalculate=True)
    april = runs(aws)["monthly-2026-04-final"]
    ref = {"run_id": "monthly-2026-04-final", "run_kind": "monthly", "period": "2026-04"}
    totals = {"entry_count": 0, "total_cents": 0, "clinic_count": 0}
    with pytest.raises(RunNotOpenError, match="CALCULATED"):
        render_statements.handler(
            {"run": ref | {"mode": "final", "status": "OPEN"}, "totals": totals}, lambda_context
        )
    # THEN nothing moved; a run started again without recalculate is refused with the way to recalculate
    with pytest.raises(RunAlreadyClosedError, match="p4p run recalculate monthly-2026-04-final"):
        run_month(lambda_context, "2026-04")
    assert runs(aws)["monthly-2026-04-final"] == april
