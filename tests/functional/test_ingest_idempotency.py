"""Idempotency: redelivery, re-drops under another key, and a crash mid-file followed by redelivery."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from shared.services.ingest import IngestStatus
from tests.unit.intake.service_fakes import LANDING, REPORTS, Plan, claim_line, claims_file

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


def accepted_manifest(plan: Plan, data: bytes) -> bool:
    key = f"manifests/{hashlib.sha256(data).hexdigest()}.json"
    return (
        key in plan.store.keys(REPORTS, "manifests/")
        and plan.store.get_json(REPORTS, key)["status"] == "ACCEPTED"
    )


def clean_run() -> Plan:
    plan = Plan()
    plan.drop(FIRST_KEY, FIRST)
    plan.drop(SECOND_KEY, SECOND)
    return plan


def test_the_same_event_ten_times_and_the_same_content_under_another_key_apply_once():
    # GIVEN a plan that ingested both files once
    plan = clean_run()
    once = plan.snapshot()
    applied = {k: v for k, v in plan.meter.units.items() if k != "registry"}
    # WHEN the second file's event comes ten more times and its bytes land again under a new name
    again = [plan.service().ingest(LANDING, SECOND_KEY) for _ in range(10)]
    copy_key = "landing/medical_claims/copy-of-second.csv"
    copy = plan.drop(copy_key, SECOND)
    # THEN each is a duplicate and nothing is applied again: the state is that of one delivery, the only
    # writes are the drops' records; the redelivered key still reads ACCEPTED, the copy names the original
    assert {o.status for o in [*again, copy]} == {IngestStatus.DUPLICATE}
    snapshot = plan.snapshot()
    del snapshot["objects"][(LANDING, copy_key)]
    assert snapshot == once
    assert {k: v for k, v in plan.meter.units.items() if k != "registry"} == applied
    assert plan.status(SECOND_KEY) == "ACCEPTED"
    duplicate = plan.log.drop(copy_key)
    assert duplicate is not None and (duplicate.status, duplicate.duplicate_of) == ("DUPLICATE", SECOND_KEY)


def crashing_service(plan: Plan, budget: list[int]) -> Any:
    return plan.service(
        files=Crashing(plan.files, budget),
        gaps=Crashing(plan.gaps, budget),
        index=Crashing(plan.index, budget),
        store=Crashing(plan.store, budget),
        log=Crashing(plan.log, budget),
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
        # (a manifest that already says ACCEPTED speaks for a gap state already applied in full)
        if accepted_manifest(plan, SECOND):
            state = plan.snapshot()
            assert (state["evidence"], state["versions"]) == (clean["evidence"], clean["versions"]), (
                crash_point
            )
        outcome = plan.service().ingest(LANDING, SECOND_KEY)
        # THEN the file is applied (or found applied, if only its drop's record was left to write), and the
        # state is exactly that of a run without the crash
        assert outcome.status in (IngestStatus.ACCEPTED, IngestStatus.DUPLICATE), crash_point
        assert plan.snapshot() == clean, crash_point
        assert plan.status(SECOND_KEY) == "ACCEPTED", crash_point
