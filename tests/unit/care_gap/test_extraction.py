"""Evidence from the other columns and kinds: diagnoses (conditions, HCC recapture), CPT II result codes,
registry doses and lab values."""

from datetime import date

import polars as pl

from shared.logic.evidence import claim_evidence, fhir_evidence, immunization_evidence, lab_evidence
from shared.models.actions import Step
from shared.models.evidence import EvidenceSource
from tests.unit.care_gap.factories import PROGRAM


def claims(*rows):
    base = {
        "claim_frequency_code": "1",
        "member_id": "M1",
        "claim_start_date": "2026-03-02",
        "received_date": "2026-03-20",
        "diagnosis_code_1": "Z0000",
        "diagnosis_code_2": None,
    }
    return pl.DataFrame(
        [base | {"claim_line_number": n + 1, "claim_id": "C9"} | r for n, r in enumerate(rows)]
    )


def test_diagnoses_become_one_condition_fact_per_member_condition_and_year_and_recapture_evidence():
    # GIVEN two lines carrying type 2 diabetes (one with a dot), one with heart failure, and a void
    frame = claims(
        {"hcpcs_code": "99213", "diagnosis_code_1": "E119", "diagnosis_code_2": "I509"},
        {"hcpcs_code": "83036", "diagnosis_code_1": "E11.9"},
        {"hcpcs_code": "99213", "diagnosis_code_1": "N185", "claim_frequency_code": "8"},
    )
    # WHEN evidence is extracted
    found = claim_evidence(frame, PROGRAM.actions, file_id="f")
    facts = sorted((e.action, e.claim_line_number) for e in found if e.is_condition)
    hcc = sorted((e.condition, e.claim_line_number) for e in found if e.action == "HCC-DX")
    # THEN diabetes is one fact (first line) for each set naming it, heart failure one, the void none;
    # each line recaptures its HCC conditions; the HbA1c line evidences GSD's claim step
    assert (
        ("DX:Diabetes", 1) in facts
        and ("DX:HCC Diabetes", 1) in facts
        and ("DX:HCC Heart Failure", 1) in facts
    )
    assert not any(a == "DX:HCC CKD Stage 4-5" for a, _ in facts)
    assert len([f for f in facts if f[0] == "DX:Diabetes"]) == 1
    assert hcc == [("HCC Diabetes", 1), ("HCC Diabetes", 2), ("HCC Heart Failure", 1)]
    gsd = [e for e in found if e.action == "GSD"]
    assert [(e.step, e.concept) for e in gsd] == [(Step.CLAIM, "83036")]


def test_cpt_ii_result_codes_and_well_care_diagnoses_are_evidence():
    # GIVEN a BP result line (CPT II) and a sick visit billed with a well-child diagnosis
    frame = claims({"hcpcs_code": "3074F"}, {"hcpcs_code": "99213", "diagnosis_code_1": "Z00129"})
    # WHEN evidence is extracted
    found = {(e.action, e.concept) for e in claim_evidence(frame, PROGRAM.actions, file_id="f")}
    # THEN the result code evidences CBP and the well-care diagnosis evidences the well visits
    assert ("CBP", "3074F") in found
    assert {("W30-1", "Z00129"), ("WCV", "Z00129")} <= found


def test_registry_doses_and_lab_values_are_supplemental_evidence():
    # GIVEN a registry extract (CVX written with and without leading zeros) and lab results
    doses = pl.DataFrame(
        {
            "member_id": ["M1", "M1"],
            "cvx_code": ["08", "3"],
            "immunization_date": ["2026-01-05", "2026-02-05"],
        }
    )
    labs = pl.DataFrame(
        {
            "member_id": ["M1", "M1"],
            "loinc_code": ["4548-4", "1234-5"],
            "result_value": ["7.4", "1"],
            "result_date": ["2026-02-01", "2026-02-01"],
        }
    )
    # WHEN evidence is extracted
    shots = immunization_evidence(doses, PROGRAM.actions, file_id="imm")
    results = lab_evidence(labs, PROGRAM.actions, file_id="lab")
    # THEN HepB and MMR doses are found, and the HbA1c value is kept for GSD's result tier
    assert {(e.action, e.concept) for e in shots} == {("CIS HepB", "8"), ("CIS MMR", "3")}
    assert all(e.source is EvidenceSource.IMMUNIZATION and e.step is Step.FINAL_DOSE for e in shots)
    assert [(e.action, e.result_value, e.action_date) for e in results] == [("GSD", "7.4", date(2026, 2, 1))]


def test_fhir_rows_give_doses_results_procedures_conditions_and_skip_events_that_did_not_happen():
    # GIVEN flattened FHIR rows: a dose, an HbA1c, a colonoscopy, a diabetes condition, a 90-day statin
    # dispense and an immunization marked not-done
    rows = pl.DataFrame(
        {
            "resource_type": [
                "Immunization",
                "Observation",
                "Procedure",
                "Condition",
                "MedicationDispense",
                "Immunization",
            ],
            "resource_id": ["i1", "o1", "p1", "c1", "m1", "i2"],
            "member_id": ["M1"] * 6,
            "code_system": ["CVX", "LOINC", "CPT", "ICD10CM", "NDC", "CVX"],
            "code": ["03", "4548-4", "45378", "E119", "00071015523", "21"],
            "event_date": [
                "2026-01-05",
                "2026-02-01",
                "2026-03-01",
                "2026-03-02",
                "2026-04-01",
                "2026-01-05",
            ],
            "value": [None, "8.4", None, None, None, None],
            "days_supply": [None, None, None, None, "90", None],
            "status": ["completed", "final", "completed", "active", "completed", "not-done"],
        }
    )
    # WHEN evidence is extracted
    found = {(e.action, e.concept) for e in fhir_evidence(rows, PROGRAM.actions, file_id="fhir")}
    # THEN each lands on its actions (and diabetes is a condition fact); the not-done dose is skipped
    assert {("CIS MMR", "3"), ("GSD", "4548-4"), ("COL-E", "45378"), ("DX:Diabetes", "E119")} <= found
    assert {("STA-RFL-90", "00071015523"), ("SPC", "00071015523")} <= found
    assert ("STA-RFL-30", "00071015523") not in found
    assert not any(concept == "21" for _, concept in found)


def test_claim_evidence_is_one_item_per_line_action_and_condition_and_each_matches_its_code_set():
    # GIVEN a generated year of claims for the whole menu (procedures and diagnoses that several
    # actions share, e.g. a well-child visit code that is both a procedure and a diagnosis hit)
    from cli.generate import claims_frame
    from shared.intake import read_file
    from shared.models.files import FileKind

    data = claims_frame(5000, seed=11).write_csv(date_format="%Y-%m-%d").encode()
    accepted = read_file(
        data, kind=FileKind.MEDICAL_CLAIMS, source_key="landing/medical_claims/g.csv"
    ).accepted
    # WHEN evidence is extracted
    found = claim_evidence(accepted, PROGRAM.actions, file_id="f")
    # THEN no two items share an evidence id, there is evidence of many actions, and every item's
    # concept is in a code set of its action (or of its condition, for condition facts); the lines the
    # measure engine keeps as records (they state their claim type) belong to no action
    assert len({e.evidence_id for e in found}) == len(found) > 0
    assert len({e.action for e in found if not e.is_record}) >= 10
    assert any(e.is_record for e in found)
    by_code = {a.code: a for a in PROGRAM.actions}
    for item in found:
        if item.is_record:
            continue
        if item.is_condition:
            name = item.action.removeprefix("DX:")
            sets = [cs for a in PROGRAM.actions for cs in a.condition_codes if cs.name == name]
        else:
            sets = list(by_code[item.action].evidence_codes)
        assert any(cs.matches(item.concept) for cs in sets), (item.action, item.concept)
