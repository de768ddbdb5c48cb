"""Accepted means applied: a file whose application keeps failing ends FAILED with its reason on the last
delivery (never PROCESSING for ever), and a redrive applies it exactly once; only an applied file makes a
later drop of its bytes a DUPLICATE, which names the key it duplicates."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from shared.dal.files import DID_NOT_FINISH
from shared.models.files import FileKind
from shared.models.tables import INGEST_MAX_RECEIVES
from shared.services.ingest import IngestStatus
from tests.unit.intake.factories import csv_bytes, rows
from tests.unit.intake.service_fakes import LANDING, REPORTS, Plan, claim_line, claims_file

KEY = "landing/medical_claims/march.csv"
CLAIMS = claims_file(claim_line("A"), claim_line("B", member="M0002"), claim_line("C", member="M0003"))


class StoreDownError(Exception):
    """The gap state's table refuses writes (throttled, a bad deploy): the delivery fails."""


class Dying(BaseException):
    """The function is killed mid-file (timeout, out of memory): nothing after it runs."""


class FailingGaps:
    """The plan's gap state, whose evidence writes raise `error` while `failing` is set."""

    def __init__(self, inner: Any, error: type[BaseException] = StoreDownError) -> None:
        self._inner = inner
        self.error = error
        self.failing = True

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name != "put_evidence":
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.failing:
                raise self.error
            return target(*args, **kwargs)

        return call


def deliver(plan: Plan, attempt: int, gaps: Any | None = None) -> Any:
    service = plan.service(gaps=gaps) if gaps is not None else plan.service()
    return service.ingest(LANDING, KEY, attempt=attempt, last_attempt=attempt >= INGEST_MAX_RECEIVES)


def clean() -> Plan:
    plan = Plan()
    plan.drop(KEY, CLAIMS)
    return plan


def test_a_file_whose_application_keeps_failing_ends_failed_and_a_retry_applies_it_once():
    # GIVEN a claims file and a gap state that refuses every evidence write
    plan = Plan()
    plan.store.put_bytes(LANDING, KEY, CLAIMS)
    broken = FailingGaps(plan.gaps)
    # WHEN SQS delivers it every time it may
    states = []
    for attempt in range(1, INGEST_MAX_RECEIVES + 1):
        with pytest.raises(StoreDownError):
            deliver(plan, attempt, broken)
        states.append(plan.status(KEY))
    # THEN it is PROCESSING while deliveries remain, and FAILED with its reason after the last one
    drop = plan.log.drop(KEY)
    assert states == ["PROCESSING"] * (INGEST_MAX_RECEIVES - 1) + ["FAILED"]
    assert drop is not None and (drop.reason, drop.attempts) == ("StoreDownError", INGEST_MAX_RECEIVES)
    file_id = hashlib.sha256(CLAIMS).hexdigest()
    manifest = plan.store.get_json(REPORTS, f"manifests/{file_id}.json")
    assert (manifest["status"], manifest["failure_reason"]) == ("FAILED", "StoreDownError")
    assert plan.files.items[file_id]["status"] == "FAILED"
    assert plan.gaps.evidence == {}
    # WHEN the store is back and the operator redrives it (a new message: its first delivery), twice
    broken.failing = False
    outcomes = [deliver(plan, 1, broken), deliver(plan, 1, broken)]
    # THEN it is applied, exactly once: the state is that of a file that never failed
    assert [o.status for o in outcomes] == [IngestStatus.ACCEPTED, IngestStatus.DUPLICATE]
    assert plan.status(KEY) == "ACCEPTED"
    expected = clean().snapshot()
    assert plan.snapshot()["evidence"] == expected["evidence"]
    assert plan.store.get_json(REPORTS, f"manifests/{file_id}.json")["status"] == "ACCEPTED"


def test_a_last_delivery_that_dies_without_a_word_still_ends_failed():
    # GIVEN a file whose first delivery failed with an error, and whose last one is killed outright
    plan = Plan()
    plan.store.put_bytes(LANDING, KEY, CLAIMS)
    with pytest.raises(StoreDownError):
        deliver(plan, 1, FailingGaps(plan.gaps))
    other = "landing/medical_claims/other.csv"
    plan.store.put_bytes(LANDING, other, CLAIMS.replace(b"M0003", b"M0009"))
    # WHEN the last deliveries die (no handler code runs after it)
    with pytest.raises(Dying):
        deliver(plan, INGEST_MAX_RECEIVES, FailingGaps(plan.gaps, Dying))
    with pytest.raises(Dying):
        plan.service(gaps=FailingGaps(plan.gaps, Dying)).ingest(LANDING, other, attempt=5, last_attempt=True)
    # THEN each reads FAILED: with the error an earlier delivery met, or as a delivery that did not finish
    first, second = plan.log.drop(KEY), plan.log.drop(other)
    assert first is not None and (first.status, first.reason) == ("FAILED", "StoreDownError")
    assert second is not None and (second.status, second.reason) == ("FAILED", DID_NOT_FINISH)


def test_a_quarantined_file_dropped_again_under_the_right_prefix_is_ingested():
    # GIVEN a roster dropped under a folder that names no kind, so quarantined UNKNOWN_KIND
    roster = csv_bytes(FileKind.ELIGIBILITY, rows(FileKind.ELIGIBILITY, 3))
    wrong, right = "landing/eligibilty/roster.csv", "landing/eligibility/roster.csv"
    first = Plan()
    quarantined = first.drop(wrong, roster)
    # WHEN the same bytes are dropped under the right prefix
    again = first.drop(right, roster)
    # THEN the first was quarantined, the second is accepted (not a duplicate) and applied
    assert quarantined.status is IngestStatus.QUARANTINED and again.status is IngestStatus.ACCEPTED
    assert (first.status(wrong), first.status(right)) == ("QUARANTINED", "ACCEPTED")
    assert len(first.gaps.profiles) == 3


def test_a_quarantined_file_dropped_again_unchanged_is_quarantined_again_not_a_duplicate():
    # GIVEN a file quarantined for a missing column
    data = b"member_id,gender\nM1,F\n"
    plan = Plan()
    first = plan.drop("landing/eligibility/a.csv", data)
    # WHEN the same bytes come again under another name
    second = plan.drop("landing/eligibility/b.csv", data)
    # THEN it is judged again (quarantined for its own reason), never a duplicate of a file not applied
    assert (first.status, second.status) == (IngestStatus.QUARANTINED, IngestStatus.QUARANTINED)
    assert second.reason == "MISSING_COLUMN"
    assert plan.status("landing/eligibility/b.csv") == "QUARANTINED"


def test_a_duplicate_names_the_key_it_duplicates_and_its_redelivery_stays_what_it_was():
    # GIVEN a file applied from one key
    plan = clean()
    copy = "landing/medical_claims/march-again.csv"
    # WHEN its bytes land under another key, and the first key's event comes again
    duplicate = plan.drop(copy, CLAIMS)
    redelivered = plan.service().ingest(LANDING, KEY)
    # THEN the copy is a DUPLICATE naming the applied key; the first stays ACCEPTED with its counts
    assert (duplicate.status, redelivered.status) == (IngestStatus.DUPLICATE, IngestStatus.DUPLICATE)
    copied, first = plan.log.drop(copy), plan.log.drop(KEY)
    assert copied is not None and (copied.status, copied.duplicate_of) == ("DUPLICATE", KEY)
    assert first is not None and (first.status, first.accepted) == ("ACCEPTED", 3)
