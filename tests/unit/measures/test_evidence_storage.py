"""Evidence with record and claim details in the gap state's packed text: old lines read, tabular lines
unchanged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.dal.evidence_codec import (
    CLAIM_FIELDS,
    PACKED_FIELDS,
    RECORD_FIELDS,
    pack_evidence,
    unpack_evidence,
)
from shared.models.actions import Step
from shared.models.evidence import (
    CLAIM_DETAIL_FIELDS,
    Evidence,
    EvidenceSource,
    evidence_frame,
    record_action,
)

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


STAY = CLAIM.model_copy(
    update={
        "action": record_action("Claim"),
        "step": Step.PERFORM,
        "concept": None,
        "claim_type": "institutional",
        "bill_type_code": "0111",
        "revenue_center_code": "0120",
        "admission_date": date(2026, 3, 5),
        "discharge_date": date(2026, 3, 9),
        "discharge_disposition_code": "01",
        "ms_drg_code": "470",
        "allowed_amount": Decimal("-12.50"),
    }
)


def test_a_claim_line_with_facility_and_cost_details_round_trips_after_empty_record_fields() -> None:
    # GIVEN an inpatient line's evidence with every claim detail (a negative allowed amount: an adjustment)
    # WHEN it is packed beside a line without details and both are unpacked
    (packed,) = pack_evidence(evidence_frame([CLAIM, STAY])).get_column("packed")
    plain, stay = packed.split("\n")
    # THEN the plain line is unchanged, the stay's line carries the record fields empty then its details
    assert plain == "BCS-E\tclaim\t2026-03-05\t2026-04-02\tM\t1\t77067\tCL100\t1\t\t\t\t\t"
    fields = stay.split("\t")
    assert len(fields) == len(PACKED_FIELDS) + len(RECORD_FIELDS) + len(CLAIM_FIELDS)
    assert fields[len(PACKED_FIELDS) : len(PACKED_FIELDS) + len(RECORD_FIELDS)] == [""] * len(RECORD_FIELDS)
    assert fields[-len(CLAIM_FIELDS) :] == [
        "institutional", "0111", "0120", "2026-03-05", "2026-03-09", "01", "470", "-12.50"
    ]  # fmt: skip
    assert unpack_evidence("M1", "f1", packed) == [CLAIM, STAY]


def test_a_record_packs_as_before_and_the_codec_names_every_claim_detail_of_the_model() -> None:
    # GIVEN a FHIR record (no claim details)
    # WHEN it is packed
    (packed,) = pack_evidence(evidence_frame([RECORD])).get_column("packed")
    # THEN its line ends with its record fields, as before claim details existed
    assert len(packed.split("\t")) == len(PACKED_FIELDS) + len(RECORD_FIELDS)
    # AND the codec packs exactly the model's claim details, in the model's order
    assert CLAIM_FIELDS == CLAIM_DETAIL_FIELDS


@settings(deadline=None)
@given(
    amount=st.one_of(st.none(), st.decimals(min_value=-(10**6), max_value=10**6, places=2)),
    revenue=st.one_of(st.none(), st.from_regex(r"^0[0-9]{3}$", fullmatch=True)),
    drg=st.one_of(st.none(), st.from_regex(r"^[0-9]{3}$", fullmatch=True)),
    discharge=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31))),
)
def test_any_claim_details_round_trip(
    amount: Decimal | None, revenue: str | None, drg: str | None, discharge: date | None
) -> None:
    # GIVEN a claim line with any mix of details present and absent
    item = CLAIM.model_copy(
        update={
            "allowed_amount": amount,
            "revenue_center_code": revenue,
            "ms_drg_code": drg,
            "discharge_date": discharge,
        }
    )
    # WHEN it is packed and unpacked
    (packed,) = pack_evidence(evidence_frame([item])).get_column("packed")
    # THEN it comes back equal, and a line without any detail is the plain line
    assert unpack_evidence("M1", "f1", packed) == [item]
    if amount is None and revenue is None and drg is None and discharge is None:
        assert len(packed.split("\t")) == len(PACKED_FIELDS)
