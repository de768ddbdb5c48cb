"""No value intake accepts can take a DynamoDB item past its limits: the longest ids keep every key under
DynamoDB's 2,048 (partition) and 1,024 (sort) bytes, and a member's evidence from one file is packed in
items of at most PACK_CHUNK_BYTES, however long its records' codings are."""

from __future__ import annotations

from datetime import date

from shared.dal.claim_versions import ClaimVersion
from shared.dal.evidence_codec import PACK_CHUNK_BYTES, pack_evidence, unpack_evidence
from shared.dal.files import FileDrop, drop_item
from shared.dal.gap_state import packed_evidence_items
from shared.intake.kinds import SCHEMAS
from shared.intake.schema import ID_MAX
from shared.models.actions import Step
from shared.models.evidence import (
    Evidence,
    EvidenceSource,
    evidence_frame,
    fill_key,
    medical_key,
    record_action,
)

LONGEST_ID = "A" * ID_MAX
PARTITION_KEY_MAX, SORT_KEY_MAX, ITEM_MAX = 2048, 1024, 400 * 1024


def _record(number: int, codings: str) -> Evidence:
    return Evidence(
        member_id=LONGEST_ID,
        action=record_action("Condition"),
        step=Step.PERFORM,
        action_date=date(2026, 3, 1),
        source=EvidenceSource.SUPPLEMENTAL,
        file_id="f" * 64,
        source_row=number,
        concept=f"{number:018d}",
        kind="Condition",
        code_system="http://snomed.info/sct",
        codes=codings,
        reasons=codings,
        value_codes=codings,
        discharge=codings,
        body_site=codings,
        record_id=f"r{number}",
    )


def test_every_string_column_of_every_kind_has_a_bounded_length() -> None:
    # GIVEN every kind's schema
    # WHEN each column's longest value is read
    longest = {(k, c.name): c.max_length for k, s in SCHEMAS.items() for c in s.columns}
    # THEN none is unbounded, and none could fill a key or an item
    assert all(0 < n <= 2048 for n in longest.values())
    # AND the ids that become part of keys (member, claim, clinic) are at most ID_MAX
    keyed = {
        "member_id",
        "claim_id",
        "original_claim_id",
        "clinic_id",
        "assigned_clinic_id",
        "attestation_id",
    }
    assert max(n for (_, name), n in longest.items() if name in keyed) == ID_MAX


def test_the_longest_ids_keep_every_key_under_dynamodbs_limits() -> None:
    # GIVEN a replacement and a reversal between claims with the longest ids intake accepts, and a drop
    versions = [
        ClaimVersion(
            medical_key(LONGEST_ID), "2026-03-01", medical_key(LONGEST_ID), "7", "f" * 64, LONGEST_ID
        ),
        ClaimVersion(
            fill_key(LONGEST_ID, 99),
            "2026-03-01",
            fill_key(LONGEST_ID, 99) + "#reversed",
            "8",
            "f" * 64,
            LONGEST_ID,
        ),
    ]
    drop = drop_item(
        FileDrop(key="landing/medical_claims/" + "n" * 900, landed_at="2026-03-01T00:00:00+00:00")
    )
    # WHEN their items are made
    items = [v.item() for v in versions] + [drop]
    # THEN every partition and sort key fits
    assert all(
        len(i["pk"].encode()) <= PARTITION_KEY_MAX and len(i["sk"].encode()) <= SORT_KEY_MAX for i in items
    )


def test_long_records_are_packed_in_items_under_the_item_limit_and_read_back_whole() -> None:
    # GIVEN one member's 2,000 records from one file, each with five fields of the longest codings
    codings = " ".join(f"http://snomed.info/sct|{n:018d}" for n in range(50))[:2048].rsplit(" ", 1)[0]
    records = [_record(n, codings) for n in range(2000)]
    # WHEN they are packed for the gap state
    items, rows = packed_evidence_items(evidence_frame(records))
    # THEN every item's text is within PACK_CHUNK_BYTES (so the item within 400 KB), and all read back
    assert rows == 2000 and len(items) > 2
    assert all(len(i["evidence"].encode()) <= PACK_CHUNK_BYTES < ITEM_MAX for i in items)
    back = [e for i in items for e in unpack_evidence(LONGEST_ID, "f" * 64, i["evidence"])]
    assert sorted(e.evidence_id for e in back) == sorted(e.evidence_id for e in records)


def test_short_evidence_packs_as_before_one_item_per_member_and_file() -> None:
    # GIVEN a few short records of two members
    frame = evidence_frame(
        [_record(n, "x|1") for n in range(3)] + [_record(9, "x|1").model_copy(update={"member_id": "M2"})]
    )
    # WHEN packed
    packed = pack_evidence(frame)
    # THEN each member's evidence is one text
    assert sorted(packed.get_column("member_id").to_list()) == sorted([LONGEST_ID, "M2"])
