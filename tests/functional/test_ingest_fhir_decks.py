"""A FHIR file ingested through the real ingest reaches evidence exactly as the eCQM deck path reads it:
every record detail the measure engine reads (Encounters, Conditions, negations, codings in SNOMED CT,
RxNorm, ICD-10-PCS…) survives validation and the gap state, with the same evidence as
`cli.ecqm_decks.fhir_members` gives for the same resources."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cli.ecqm_decks import fhir_members, load_cases, one_patient, read_resources
from shared.clock import clock_override
from shared.models.evidence import Evidence
from shared.programs.measures import ValueSets
from shared.services.ingest import IngestStatus
from tests.unit.intake.service_fakes import Plan

LATER = datetime(2030, 1, 1, tzinfo=UTC)
"""The day the files are read: after every date the decks use (their date windows are relative to it)."""
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
PATIENT = "deck-patient-1"
DECK_CASES = 24


def _concept(*codings: tuple[str, str]) -> dict[str, Any]:
    return {"coding": [{"system": s, "code": c} for s, c in codings]}


def deck_like_resources() -> list[dict[str, Any]]:
    """One patient's record as the decks write one: an encounter, a diagnosis, a negated order, a
    medication request, a procedure coded in ICD-10-PCS, observations with coded values, a vaccine."""
    subject = {"reference": f"Patient/{PATIENT}"}
    encounter = "Encounter/enc-1"
    return [
        {"resourceType": "Patient", "id": PATIENT, "birthDate": "1960-03-04", "gender": "female"},
        {
            "resourceType": "Encounter",
            "id": "enc-1",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [_concept(("http://www.ama-assn.org/go/cpt", "99213"), (SNOMED, "185463005"))],
            "subject": subject,
            "period": {"start": "2026-03-01T09:00:00Z", "end": "2026-03-01T09:30:00Z"},
        },
        {
            "resourceType": "Condition",
            "id": "cond-1",
            "clinicalStatus": _concept(
                ("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
            ),
            "verificationStatus": _concept((f"{TERMINOLOGY}/condition-ver-status", "confirmed")),
            "code": _concept((SNOMED, "44054006"), ("http://hl7.org/fhir/sid/icd-10-cm", "E11.9")),
            "subject": subject,
            "onsetDateTime": "2024-05-01",
        },
        {
            "resourceType": "Condition",
            "id": "cond-2",
            "code": _concept((SNOMED, "373066001")),
            "subject": subject,
            "recordedDate": "2026-02-11",
        },
        {
            "resourceType": "ServiceRequest",
            "id": "sr-1",
            "status": "active",
            "intent": "order",
            "doNotPerform": True,
            "code": _concept((SNOMED, "71651007")),
            "reasonCode": [_concept((SNOMED, "183932001"))],
            "subject": subject,
            "authoredOn": "2026-03-01",
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr-1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _concept((RXNORM, "860975")),
            "subject": subject,
            "authoredOn": "2026-03-01",
            "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "code": "d"}},
        },
        {
            "resourceType": "Procedure",
            "id": "proc-1",
            "status": "completed",
            "code": _concept((PCS, "3E0234Z"), (SNOMED, "80146002")),
            "subject": subject,
            "performedPeriod": {"start": "2025-11-02", "end": "2025-11-02"},
            "encounter": {"reference": encounter},
        },
        {
            "resourceType": "Observation",
            "id": "obs-1",
            "status": "final",
            "code": _concept(("http://loinc.org", "4548-4")),
            "valueQuantity": {"value": 7.2, "unit": "%"},
            "subject": subject,
            "effectiveDateTime": "2026-03-01",
            "encounter": {"reference": encounter},
        },
        {
            "resourceType": "Observation",
            "id": "obs-2",
            "status": "final",
            "code": _concept(("http://loinc.org", "73831-0")),
            "valueCodeableConcept": _concept((SNOMED, "428181000124104")),
            "subject": subject,
            "effectiveDateTime": "2026-03-01",
        },
        {
            "resourceType": "Immunization",
            "id": "imm-1",
            "status": "completed",
            "vaccineCode": _concept(("http://hl7.org/fhir/sid/cvx", "141")),
            "patient": subject,
            "occurrenceDateTime": "2025-10-15",
        },
    ]


def _bundle(resources: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    ).encode()


def _facts(items: Any) -> list[str]:
    """Evidence as the engine reads it: everything but the file and row it came from."""
    return sorted(
        json.dumps(e.model_dump(mode="json", exclude={"file_id", "source_row"}), sort_keys=True)
        for e in items
    )


def _both_paths(resources: list[dict[str, Any]]) -> tuple[list[str], list[str], Any]:
    """(evidence through the deck path, evidence through the real ingest, the ingest's outcome)."""
    deck: list[Evidence] = [e for m in fhir_members(resources, ValueSets()) for e in m.evidence]
    plan = Plan()
    with clock_override(lambda: LATER):
        outcome = plan.drop("landing/fhir/deck.json", _bundle(resources))
    return _facts(deck), _facts(plan.gaps.evidence.values()), outcome


def test_a_deck_like_bundle_gives_the_same_evidence_through_the_ingest_as_through_the_deck_path():
    # GIVEN one patient's FHIR record coded as the decks code it (SNOMED, RxNorm, ICD-10-PCS, LOINC, CVX)
    resources = deck_like_resources()
    # WHEN it is read through the deck path and dropped as a FHIR file through the real ingest
    deck, ingested, outcome = _both_paths(resources)
    # THEN the ingest accepts it whole and the gap state holds the same evidence, record details and all
    assert outcome.status is IngestStatus.ACCEPTED and outcome.rejected == 0
    assert ingested == deck
    kinds = {json.loads(e)["kind"] for e in ingested}
    assert {"Encounter", "Condition", "Procedure", "Observation", "Immunization"} <= kinds
    systems = {json.loads(e)["code_system"] for e in ingested}
    assert {SNOMED, PCS} <= systems


def _deck_sample() -> list[Any]:
    cases = load_cases()
    by_measure: dict[str, list[Any]] = {}
    for case in cases:
        by_measure.setdefault(case.measure, []).append(case)
    sample = [case for group in by_measure.values() for case in group[:3]]
    return sample[:DECK_CASES]


DECKS = _deck_sample()


@pytest.mark.skipif(not DECKS, reason="the eCQM decks are not beside the repository")
@pytest.mark.parametrize("case", DECKS, ids=[c.label for c in DECKS])
def test_deck_cases_give_the_same_evidence_through_the_ingest_as_through_the_deck_path(case: Any) -> None:
    # GIVEN a deck case's resources, as the deck path scores them
    resources = one_patient(
        [r for r in read_resources([case.folder]) if r.get("resourceType") != "MeasureReport"]
    )
    # WHEN they are read through both paths
    deck, ingested, outcome = _both_paths(resources)
    # THEN the real ingest gives the same evidence (a case with no supported resource is quarantined empty)
    if outcome.status is IngestStatus.QUARANTINED:
        assert outcome.reason == "EMPTY_FILE" and deck == []
    else:
        assert ingested == deck
