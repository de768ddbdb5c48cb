from datetime import date

import polars as pl

from shared.logic.evidence import attestation_evidence, claim_evidence
from shared.logic.roster import clinics_from_rows, roster_from_rows
from shared.models.actions import Step
from shared.models.evidence import EvidenceSource
from tests.unit.care_gap.factories import BCS


def _claims(rows):
    base = {
        "claim_frequency_code": "1",
        "member_id": "M1",
        "claim_start_date": date(2026, 2, 1),
        "received_date": date(2026, 3, 2),
    }
    return pl.DataFrame([base | r for r in rows])


def test_only_claim_lines_in_the_code_set_become_evidence():
    # GIVEN three lines: a mammogram CPT, a mammogram HCPCS and an office visit, plus a voided mammogram
    claims = _claims(
        [
            {"claim_id": "C1", "claim_line_number": 1, "hcpcs_code": "77067", "source_row": 1},
            {"claim_id": "C1", "claim_line_number": 2, "hcpcs_code": "99213", "source_row": 2},
            {"claim_id": "C2", "claim_line_number": 1, "hcpcs_code": "G0202", "source_row": 3},
            {
                "claim_id": "C3",
                "claim_line_number": 1,
                "hcpcs_code": "77067",
                "source_row": 4,
                "claim_frequency_code": "8",
            },
        ]
    )
    # WHEN evidence is extracted
    found = claim_evidence(claims, [BCS], file_id="f1")
    # THEN the two mammogram lines are claim evidence dated by service and receipt
    assert sorted(e.reference for e in found) == ["claim:C1#1", "claim:C2#1"]
    assert all(e.step is Step.CLAIM and e.received_date == date(2026, 3, 2) for e in found)


def test_evidence_ids_are_stable_across_files():
    # GIVEN the same claim line delivered in two different files
    claims = _claims([{"claim_id": "C1", "claim_line_number": 1, "hcpcs_code": "77067", "source_row": 1}])
    # WHEN evidence is extracted from each
    first = claim_evidence(claims, [BCS], file_id="f1")[0]
    second = claim_evidence(claims, [BCS], file_id="f2")[0]
    # THEN it is the same evidence item
    assert first.evidence_id == second.evidence_id


def test_attestations_of_unknown_actions_or_steps_are_ignored():
    # GIVEN attestations of BCS-E, of an action the menu lacks and of a step BCS-E lacks
    rows = pl.DataFrame(
        [
            {
                "attestation_id": "A1",
                "clinic_id": "K1",
                "member_id": "M1",
                "action_code": "BCS-E",
                "step": "perform",
                "action_date": date(2026, 3, 1),
                "source_row": 1,
            },
            {
                "attestation_id": "A2",
                "clinic_id": "K1",
                "member_id": "M1",
                "action_code": "ZZZ",
                "step": "perform",
                "action_date": date(2026, 3, 1),
                "source_row": 2,
            },
            {
                "attestation_id": "A3",
                "clinic_id": "K1",
                "member_id": "M1",
                "action_code": "BCS-E",
                "step": "dispense",
                "action_date": date(2026, 3, 1),
                "source_row": 3,
            },
        ]
    )
    # WHEN evidence is extracted
    found = attestation_evidence(rows, [BCS], file_id="f1")
    # THEN only the BCS-E perform attestation counts, attributed to the attesting clinic
    assert [(e.attestation_id, e.source, e.attesting_clinic_id) for e in found] == [
        ("A1", EvidenceSource.ATTESTATION, "K1")
    ]


def test_roster_profile_takes_the_clinic_of_the_latest_span():
    # GIVEN two roster rows for a member who moved clinic in March
    rows = pl.DataFrame(
        [
            {
                "member_id": "M1",
                "birth_date": date(1960, 1, 1),
                "gender": "F",
                "line_of_business": "MC",
                "assigned_clinic_id": "K2",
                "enrollment_start_date": date(2026, 3, 1),
                "enrollment_end_date": None,
            },
            {
                "member_id": "M1",
                "birth_date": date(1960, 1, 1),
                "gender": "F",
                "line_of_business": "MC",
                "assigned_clinic_id": "K1",
                "enrollment_start_date": date(2026, 1, 1),
                "enrollment_end_date": date(2026, 2, 28),
            },
        ]
    )
    # WHEN profiles and spans are derived
    profiles, spans = roster_from_rows(rows)
    # THEN one profile points at the current clinic and both spans are kept
    assert [p.clinic_id for p in profiles] == ["K2"]
    assert sorted(s.clinic_id for s in spans) == ["K1", "K2"]


def test_clinic_lines_of_business_are_split():
    # GIVEN a clinics row with a |-separated list
    rows = pl.DataFrame(
        [
            {
                "clinic_id": "K1",
                "tin": "123456789",
                "npi": "1234567893",
                "clinic_name": "K",
                "lines_of_business": "CA|MC",
                "program": "care_gap",
                "program_enrollment_date": date(2026, 1, 1),
                "track": "family_adult",
                "practice_type": "pediatric",
                "apc_payment_track": "basic_capitation",
                "hpi_decile": "4",
            }
        ]
    )
    # WHEN clinics are derived
    [clinic] = clinics_from_rows(rows)
    # THEN both lines are kept, and the APC fields reach the clinic
    assert [lob.value for lob in clinic.lines_of_business] == ["CA", "MC"]
    assert (clinic.practice_type.value, clinic.apc_payment_track.value, clinic.hpi_decile) == (
        "pediatric",
        "basic_capitation",
        4,
    )
