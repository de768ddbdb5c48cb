"""Evidence with record details in the gap state's packed text: old lines read, tabular lines unchanged."""

from __future__ import annotations

from datetime import date

from shared.dal.evidence_codec import PACKED_FIELDS, pack_evidence, unpack_evidence
from shared.models.actions import Step
from shared.models.evidence import Evidence, EvidenceSource, evidence_frame, record_action

CLAIM = Evidence(
    member_id="M1",
    action="BCS-E",
    step=Step.CLAIM,
    action_date=date(2026, 3, 5),
    received_date=date(2026, 4, 2),
    source=EvidenceSource.MEDICAL_CLAIM,
    file_id="f1",
    source_row=1,
    concept="77067",
    claim_id="CL100",
    claim_line_number=1,
)
RECORD = Evidence(
    member_id="M1",
    action=record_action("MedicationRequest"),
    step=Step.PERFORM,
    action_date=date(2026, 3, 1),
    source=EvidenceSource.SUPPLEMENTAL,
    file_id="f1",
    source_row=2,
    concept="617311",
    kind="MedicationRequest",
    code_system="http://www.nlm.nih.gov/research/umls/rxnorm",
    status="completed",
    intent="order",
    negated=True,
    reasons="http://snomed.info/sct|183966005",
    start_date=date(2026, 3, 1),
    end_date=date(2026, 5, 30),
    record_id="m1\twith a tab",
)


def test_a_claim_line_packs_as_it_did_before_records_had_details() -> None:
    # GIVEN a claim line's evidence
    # WHEN it is packed
    (packed,) = pack_evidence(evidence_frame([CLAIM])).get_column("packed")
    # THEN the line has exactly the fields it always had
    assert packed == "BCS-E\tclaim\t2026-03-05\t2026-04-02\tM\t1\t77067\tCL100\t1\t\t\t\t\t"
    assert len(packed.split("\t")) == len(PACKED_FIELDS)


def test_a_record_round_trips_with_its_details_and_an_old_line_still_reads() -> None:
    # GIVEN a negated medication order kept as a record (its id carrying a tab), and a line packed
    # before records had details
    old_line = "BCS-E\tclaim\t2026-03-05\t2026-04-02\tM\t1\t77067\tCL100\t1\t\t\t\t\t"
    # WHEN both are packed and unpacked
    (packed,) = pack_evidence(evidence_frame([CLAIM, RECORD])).get_column("packed")
    back = unpack_evidence("M1", "f1", packed)
    # THEN the record comes back whole and the old line reads as the claim it was
    assert back == [CLAIM, RECORD]
    assert unpack_evidence("M1", "f1", old_line) == [CLAIM]
    assert back[1].evidence_id != CLAIM.evidence_id
