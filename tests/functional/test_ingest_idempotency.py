"""Idempotency: redelivery, re-drops under another key, and a crash mid-file followed by redelivery."""

from __future__ import annotations

from typing import Any

import pytest

from shared.services.ingest import IngestStatus
from tests.unit.intake.service_fakes import LANDING, Plan, claim_line, claims_file

FIRST = claims_file(claim_line("A"), claim_line("B", member="M0002"), claim_line("C", line=1, member="M0003"))
SECOND = claims_file(
    claim_line("A2", frequency="7", original="A", received="2026-03-01"),
    claim_line("B9", frequency="8", original="B", member="M0002", received="2026-03-01"),
    claim_line("D", member="M0004"),
)
FIRST_KEY = "landing/medical_claims/first.csv"
SECOND_KEY = "landing/medical_claims/second.csv"


class CrashError(Exception):
    """The injected failure: the Lambda dies here."""


class Crashing:
    """Proxies a repository and raises on the call after `budget` calls (shared across wrappers)."""

    def __init__(self, inner: Any, budget: list[int]) -> None:
        self._inner = inner
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._budget[0] <= 0:
                raise CrashError
            self._budget[0] -= 1
            return target(*args, **kwargs)

        return call


def clean_run() -> Plan:
    plan = Plan()
    plan.drop(FIRST_KEY, FIRST)
    plan.drop(SECOND_KEY, SECOND)
    return plan


def test_the_same_event_ten_times_and_the_same_content_under_another_key_apply_once():
    # GIVEN a plan that ingested both files once
    plan = clean_run()
    once = plan.snapshot()
    units = plan.meter.total
    # WHEN the second file's event comes ten more times and its bytes land again under a new name
    again = [plan.service().ingest(LANDING, SECOND_KEY) for _ in range(10)]
    copy = plan.drop("landing/medical_claims/copy-of-second.csv", SECOND)
    # THEN each is a duplicate, nothing else is written, and the state is that of one delivery
    assert {o.status for o in [*again, copy]} == {IngestStatus.DUPLICATE}
    snapshot = plan.snapshot()
    del snapshot["objects"][(LANDING, "landing/medical_claims/copy-of-second.csv")]
    assert snapshot == once
    assert plan.meter.total == units


def crashing_service(plan: Plan, budget: list[int]) -> Any:
    return plan.service(
        files=Crashing(plan.files, budget),
        gaps=Crashing(plan.gaps, budget),
        index=Crashing(plan.index, budget),
        store=Crashing(plan.store, budget),
    )


def first_file_in() -> Plan:
    plan = Plan()
    plan.drop(FIRST_KEY, FIRST)
    plan.store.put_bytes(LANDING, SECOND_KEY, SECOND)
    return plan


def storage_calls_of_second_file() -> int:
    budget = [10_000]
    crashing_service(first_file_in(), budget).ingest(LANDING, SECOND_KEY)
    return 10_000 - budget[0]


def test_a_crash_at_any_storage_call_then_redelivery_equals_one_clean_run():
    # GIVEN the state of a clean run, and the number of storage calls the second file makes
    clean = clean_run().snapshot()
    calls = storage_calls_of_second_file()
    assert calls > 10
    for crash_point in range(calls):
        # WHEN the second file dies at that call and SQS redelivers its event
        plan = first_file_in()
        with pytest.raises(CrashError):
            crashing_service(plan, [crash_point]).ingest(LANDING, SECOND_KEY)
        outcome = plan.service().ingest(LANDING, SECOND_KEY)
        # THEN the file is applied, and the state is exactly that of a run without the crash
        assert outcome.status is IngestStatus.ACCEPTED, crash_point
        assert plan.snapshot() == clean, crash_point
