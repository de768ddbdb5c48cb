"""FileLog: one record per landing key (what its last delivery did), and which key applied a content."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.clock import clock_override
from shared.dal.files import DID_NOT_FINISH, PROCESSING, FileLog
from shared.models.files import FileKind, FileStatus

KEY = "landing/medical_claims/march.csv"


def test_a_delivery_is_processing_until_settled_and_the_record_before_it_is_returned(log: FileLog):
    # GIVEN a key never delivered, then delivered and accepted
    first, now = log.landed(KEY, kind=FileKind.MEDICAL_CLAIMS, attempt=1, last=False)
    working = log.drop(KEY)
    log.settle(now.finished(FileStatus.ACCEPTED, file_id="h1", accepted=3))
    # WHEN it is delivered again
    before, _ = log.landed(KEY, kind=FileKind.MEDICAL_CLAIMS, attempt=1, last=False)
    # THEN the first delivery found nothing, worked as PROCESSING, and the second gets the accepted record
    assert first.status == PROCESSING and first.file_id is None
    assert working == now and now.status == PROCESSING and now.kind == "medical_claims"
    assert (before.status, before.file_id, before.accepted) == ("ACCEPTED", "h1", 3)
    assert log.drop(KEY) is not None and log.drop(KEY).status == PROCESSING  # type: ignore[union-attr]


def test_the_last_attempt_is_failed_until_it_says_otherwise(log: FileLog):
    # GIVEN a delivery that failed once with an error, and another key never tried before
    _, drop = log.landed(KEY, kind=FileKind.LABS, attempt=1, last=False)
    log.settle(drop.model_copy(update={"last_error": "ClientError"}))
    # WHEN each gets its last attempt, and that attempt dies without a word
    log.landed(KEY, kind=FileKind.LABS, attempt=5, last=True)
    log.landed("landing/labs/other.csv", kind=FileKind.LABS, attempt=5, last=True)
    # THEN both read FAILED: with the error seen before, or as a delivery that did not finish
    found = log.drop(KEY)
    other = log.drop("landing/labs/other.csv")
    assert found is not None and (found.status, found.reason, found.attempts) == ("FAILED", "ClientError", 5)
    assert other is not None and (other.status, other.reason) == ("FAILED", DID_NOT_FINISH)


def test_drops_are_listed_latest_first_and_applied_keys_are_remembered(log: FileLog):
    # GIVEN three keys delivered on three days, one content applied from the second
    for day, name in ((1, "a"), (3, "c"), (2, "b")):
        with clock_override(lambda day=day: datetime(2026, 3, day, tzinfo=UTC)):
            log.landed(f"landing/labs/{name}.csv", kind=FileKind.LABS, attempt=1, last=False)
    log.mark_applied("h2", "landing/labs/b.csv")
    # WHEN the drops and the applied keys are read
    listed = [d.key for d in log.drops()]
    # THEN every key is listed once, the latest delivery first, and only the applied content names a key
    assert listed == ["landing/labs/c.csv", "landing/labs/b.csv", "landing/labs/a.csv"]
    assert log.applied_key("h2") == "landing/labs/b.csv" and log.applied_key("h1") is None
