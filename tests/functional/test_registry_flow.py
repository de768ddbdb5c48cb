"""The registry and chart requests on moto: files → ingest → gap state (DynamoDB) → registry service."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from shared.dal.gap_state import DynamoGapStateRepository
from shared.models.actions import Step
from shared.models.gaps import GapStatus
from shared.programs.care_gap import load_catalog
from shared.services.registry import RegistryService, UnknownClinicError, chart_requests_csv, registry_csv
from tests.functional.flow import land
from tests.functional.plan_data import FILES


def service(aws):
    gaps = DynamoGapStateRepository(aws.dynamodb, aws.names["GAPS_TABLE"])
    return RegistryService(gaps=gaps, catalog=load_catalog(), chart_request_days=20)


def test_registry_ranks_open_gaps_of_assigned_members_by_money_at_stake(aws, lambda_context):
    # GIVEN the plan's files ingested (M1 attested schedule and screening; her claim arrives April 2)
    land(aws, lambda_context, FILES)
    # WHEN K1's registry is built on March 31
    rows = service(aws).registry("K1", date(2026, 3, 31))
    # THEN it lists open gaps of K1's members only, most money first, M1's mammogram waiting on its claim,
    # and M2's mammogram (closed by an outside provider's claim) is not there
    assert rows and {r.member_id for r in rows} <= {"M1", "M2", "M3", "M4"}
    assert [r.cents_at_stake for r in rows] == sorted((r.cents_at_stake for r in rows), reverse=True)
    by_key = {(r.member_id, r.action): r for r in rows}
    m1 = by_key[("M1", "BCS-E")]
    assert (m1.next_action, m1.status, m1.due_date) == (Step.CLAIM, GapStatus.OPEN, date(2026, 12, 31))
    assert ("M2", "BCS-E") not in by_key
    table = list(csv.DictReader(io.StringIO(registry_csv(rows).decode())))
    assert [int(t["rank"]) for t in table] == list(range(1, len(rows) + 1))
    assert table[0]["member_id"] == rows[0].member_id


def test_chart_requests_list_attested_completions_no_claim_confirmed_in_time(aws, lambda_context):
    # GIVEN the plan's files ingested: M1's screening attested on March 5, its claim received April 2
    land(aws, lambda_context, FILES)
    registry = service(aws)
    # WHEN chart requests are listed on March 31 (26 days later) and on April 5
    march = registry.chart_requests("K1", date(2026, 3, 31))
    april = registry.chart_requests("K1", date(2026, 4, 5))
    too_soon = registry.chart_requests("K1", date(2026, 3, 31), after_days=30)
    # THEN March asks for M1's chart; once the claim is known, or before the wait is over, nothing is asked
    assert [(r.member_id, r.action, r.step, r.attested_on) for r in march] == [
        ("M1", "BCS-E", Step.PERFORM, date(2026, 3, 5))
    ]
    assert april == [] and too_soon == []
    assert (
        chart_requests_csv(march)
        .decode()
        .splitlines()[1]
        .startswith("K1,M1,BCS-E,2026,perform,2026-03-05,26")
    )


def test_an_unknown_clinic_is_an_error_and_gaps_can_be_stored(aws, lambda_context):
    # GIVEN the plan's files ingested
    land(aws, lambda_context, FILES)
    registry = service(aws)
    # WHEN an unknown clinic is asked for, and K1's gaps are stored
    with pytest.raises(UnknownClinicError):
        registry.registry("NOPE", date(2026, 3, 31))
    written = registry.store("K1", date(2026, 3, 31))
    # THEN the gap items are in the GapState table, one per member, action and period
    items = aws.dynamodb.scan(TableName=aws.names["GAPS_TABLE"])["Items"]
    gap_items = [i for i in items if i["sk"]["S"].startswith("GAP#")]
    assert written == len(gap_items) > 0
    assert any(i["sk"]["S"] == "GAP#BCS-E#2026" and i["pk"]["S"] == "MEMBER#M1" for i in gap_items)
