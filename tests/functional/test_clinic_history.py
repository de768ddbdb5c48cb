"""A clinic's program history survives clinics files: ingested on moto through the real ingest handler."""

from __future__ import annotations

from datetime import date

from shared.dal.gap_state import DynamoGapStateRepository
from tests.functional.flow import land
from tests.functional.plan_data import CLINICS_CSV


def test_a_later_clinics_file_switching_program_keeps_where_the_clinic_was(aws, lambda_context):
    # GIVEN K3 on Benchmark since 2025, then a file enrolling it in Care Gap on 1 July 2026
    land(aws, lambda_context, {"landing/clinics/c-2026-03.csv": CLINICS_CSV})
    switched = CLINICS_CSV.replace(
        "K3,333333333,1234567893,Hillside Pediatrics,MC,benchmark,2025-01-01",
        "K3,333333333,1234567893,Hillside Pediatrics,MC,care_gap,2026-07-01",
    )
    assert switched != CLINICS_CSV
    # WHEN it is ingested
    land(aws, lambda_context, {"landing/clinics/c-2026-07.csv": switched})
    k3 = DynamoGapStateRepository(aws.dynamodb, aws.names["GAPS_TABLE"]).clinics()["K3"]
    # THEN its history reads Benchmark through 30 June and Care Gap from 1 July: Benchmark does not pay it for
    # 2026, and its APC fields are kept
    assert [(e.program, e.start, e.end) for e in k3.enrollments] == [
        ("benchmark", date(2025, 1, 1), date(2026, 6, 30)),
        ("care_gap", date(2026, 7, 1), None),
    ]
    assert not k3.in_benchmark_for(2026) and k3.in_care_gap_on(date(2026, 7, 1))
    assert k3.practice_type.value == "pediatric"
