import gzip
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.intake import QuarantineError, curated_partitions, read_file, rejects_csv
from shared.intake.fhir import flatten_fhir
from shared.logic.evidence import fhir_evidence
from shared.models.files import FileKind
from shared.programs.care_gap import load_program
from tests.unit.intake.factories import CANARY

FHIR = FileKind.FHIR
KEY = "landing/fhir/bundle.json"
CVX = "http://hl7.org/fhir/sid/cvx"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
PROGRAM = load_program(date(2026, 6, 1))


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": "http://snomed.info/sct", "code": "1"}, {"system": system, "code": code}]}


def _immunization(rid: str, cvx: str = "141", when: str = "2026-01-15T09:30:00-08:00") -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "id": rid,
        "status": "completed",
        "patient": {"reference": "Patient/M0001"},
        "vaccineCode": _concept(CVX, cvx),
        "occurrenceDateTime": when,
    }


def _bp_panel(rid: str, systolic: Any = 128, diastolic: Any = 82) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": "urn:uuid:patient-1"},
        "code": _concept(LOINC, "85354-9"),
        "effectiveDateTime": "2026-02-01",
        "component": [
            {"code": _concept(LOINC, "8480-6"), "valueQuantity": {"value": systolic, "unit": "mm[Hg]"}},
            {"code": _concept(LOINC, "8462-4"), "valueQuantity": {"value": diastolic, "unit": "mm[Hg]"}},
        ],
    }


def _bundle(*resources: dict[str, Any]) -> bytes:
    entries = [{"fullUrl": "urn:uuid:patient-1", "resource": {"resourceType": "Patient", "id": "M0002"}}]
    entries += [{"resource": r} for r in resources]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}, indent=2).encode()


def _read(data: bytes) -> Any:
    return read_file(data, kind=FHIR, source_key=KEY)


def test_a_bundle_flattens_into_one_row_per_coded_fact() -> None:
    # GIVEN a bundle: patient, immunization, BP panel, HbA1c, condition, dispense, procedure
    hba1c = {
        "resourceType": "Observation",
        "id": "o2",
        "status": "final",
        "subject": {"reference": "Patient/M0002"},
        "code": _concept(LOINC, "4548-4"),
        "effectiveDateTime": "2026-02-01",
        "valueQuantity": {"value": 7.25, "unit": "%"},
    }
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/M0002"},
        "code": _concept("http://hl7.org/fhir/sid/icd-10-cm", "E11.9"),
        "recordedDate": "2026-01-20",
    }
    dispense = {
        "resourceType": "MedicationDispense",
        "id": "d1",
        "status": "completed",
        "subject": {"reference": "Patient/M0002"},
        "medicationCodeableConcept": _concept("http://hl7.org/fhir/sid/ndc", "0093-5056-98"),
        "whenHandedOver": "2026-02-03",
        "quantity": {"value": 30},
        "daysSupply": {"value": 30},
    }
    procedure = {
        "resourceType": "Procedure",
        "id": "p1",
        "status": "completed",
        "subject": {"reference": "Patient/M0002"},
        "code": _concept("http://www.ama-assn.org/go/cpt", "77067"),
        "performedPeriod": {"start": "2026-02-04T08:00:00Z"},
    }
    data = _bundle(_immunization("i1"), _bp_panel("o1"), hba1c, condition, dispense, procedure)
    # WHEN it is read as fhir
    result = _read(data)
    # THEN each coded fact is a row with a normalised code, the day, the exact value and the member
    got = result.accepted.select("resource_id", "member_id", "code_system", "code", "value", "days_supply")
    assert got.rows() == [
        ("i1", "M0001", "CVX", "141", None, None),
        ("o1", "M0002", "LOINC", "8480-6", "128", None),
        ("o1", "M0002", "LOINC", "8462-4", "82", None),
        ("o2", "M0002", "LOINC", "4548-4", "7.25", None),
        ("c1", "M0002", "ICD10CM", "E119", None, None),
        ("d1", "M0002", "NDC", "00093505698", "30", 30),
        ("p1", "M0002", "CPT", "77067", None, None),
    ]
    assert str(result.accepted.get_column("event_date")[0]) == "2026-01-15"
    assert result.manifest.rows_read == 7
    assert result.skipped_resources == 1
    assert list(curated_partitions(result)) == ["2026-01", "2026-02"]


def test_bulk_ndjson_gzipped_reads_like_a_bundle() -> None:
    # GIVEN the same resources as gzipped Bulk Data NDJSON
    resources = [_immunization("i1"), _immunization("i2", cvx="08")]
    ndjson = "".join(json.dumps(r) + "\n" for r in resources).encode()
    # WHEN both forms are read
    from_ndjson = _read(gzip.compress(ndjson)).accepted.drop("source_row", "resource_index")
    from_bundle = _read(_bundle(*resources)).accepted.drop("source_row", "resource_index")
    # THEN they yield the same rows
    assert from_ndjson.equals(from_bundle)
    assert from_ndjson.height == 2


@pytest.mark.parametrize(
    ("resource", "field", "reason"),
    [
        (_immunization("i1", cvx="1410"), "code", "INVALID_CVX"),
        (_immunization("i1", when="2026-01"), "event_date", "INVALID_DATE"),
        ({**_immunization("i1"), "patient": {"reference": CANARY}}, "member_id", "MISSING_REQUIRED"),
        (_bp_panel("o1", systolic=CANARY), "value", "NOT_NUMERIC"),
        (
            {**_immunization("i1"), "vaccineCode": {"coding": [{"system": "urn:local", "code": CANARY}]}},
            "code_system",
            "NOT_ALLOWED",
        ),
        ({**_immunization("i1"), "vaccineCode": _concept("urn:local", CANARY)}, "code", "INVALID_CODE"),
    ],
    ids=["bad-cvx", "partial-date", "no-patient", "bp-not-numeric", "unknown-system", "bad-snomed"],
)
def test_flattened_rows_are_checked_like_any_other_row(
    resource: dict[str, Any], field: str, reason: str
) -> None:
    # GIVEN a bundle with one faulty resource carrying a recognisable value
    data = _bundle(resource)
    # WHEN it is read
    result = _read(data)
    # THEN its row is rejected on that field and the report never shows the value
    assert (1, field, reason) in result.rejects.rows()
    assert CANARY.encode() not in rejects_csv(result)


def test_the_same_resource_twice_is_a_duplicate() -> None:
    # GIVEN a bundle that carries one immunization twice
    # WHEN it is read
    result = _read(_bundle(_immunization("i1"), _immunization("i1")))
    # THEN it is accepted once and counted once as a duplicate
    assert (result.manifest.accepted, result.manifest.duplicate) == (1, 1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"resourceType": "Bundle", "entry": []}', "EMPTY_FILE"),
        (_bundle(), "EMPTY_FILE"),
        (b'{"resourceType": "Immunization"\n{"oops"', "UNREADABLE"),
        (b"[1, 2, 3]", "UNREADABLE"),
        (b'{"resourceType": "Bundle", "entry": 5}', "UNREADABLE"),
        ('{"id": "é"}'.encode("latin-1"), "BAD_ENCODING"),
    ],
    ids=["no-entries", "only-patient", "broken-ndjson", "array", "entry-not-list", "latin-1"],
)
def test_whole_file_problems_quarantine(data: bytes, reason: str) -> None:
    # GIVEN a FHIR file that cannot yield rows
    # WHEN it is read
    with pytest.raises(QuarantineError) as caught:
        _read(data)
    # THEN it is quarantined with the reason
    assert caught.value.reason_code == reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "id",
                    "code",
                    "coding",
                    "system",
                    "value",
                    "component",
                    "valueQuantity",
                    "subject",
                    "reference",
                    "patient",
                    "vaccineCode",
                    "occurrenceDateTime",
                    "entry",
                    "resource",
                    "fullUrl",
                ]
            )
            | st.text(max_size=5),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    resource=JSON,
    rtype=st.sampled_from(
        ["Immunization", "Observation", "MedicationDispense", "Condition", "Procedure", "Bundle"]
    ),
)
def test_arbitrary_json_resources_never_escape_as_anything_but_quarantine(resource: Any, rtype: str) -> None:
    # GIVEN an arbitrary JSON structure dressed as a FHIR resource
    document = {**resource, "resourceType": rtype} if isinstance(resource, dict) else resource
    data = json.dumps(document).encode()
    # WHEN it is read as fhir
    try:
        result = _read(data)
    except QuarantineError:
        return
    # THEN every flattened row is accounted for once
    m = result.manifest
    assert m.rows_read == m.accepted + m.rejected + m.duplicate + m.superseded
    assert not set(result.rejects.get_column("source_row")) & set(result.accepted.get_column("source_row"))


def test_every_row_carries_what_the_measure_engine_reads() -> None:
    # GIVEN an emergency encounter, a BP reading taken in it, a left-sided condition, and a statin order
    # that was not given for a medical reason
    snomed = "http://snomed.info/sct"
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
        "subject": {"reference": "Patient/M0002"},
        "type": [{"coding": [{"system": snomed, "code": "4525004"}, {"system": CPT, "code": "99283"}]}],
        "period": {"start": "2026-02-01T10:00:00Z", "end": "2026-02-02T09:00:00Z"},
        "hospitalization": {"dischargeDisposition": {"coding": [{"system": snomed, "code": "306689006"}]}},
    }
    reading = {**_bp_panel("o1"), "encounter": {"reference": "Encounter/e1"}}
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/M0002"},
        "clinicalStatus": {"coding": [{"code": "inactive"}]},
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"coding": [{"system": snomed, "code": "429009003"}]},
        "bodySite": [{"coding": [{"system": snomed, "code": "7771000"}]}],
        "onsetPeriod": {"start": "2020-05-01"},
        "abatementDateTime": "2025-06-30",
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "completed",
        "intent": "order",
        "doNotPerform": True,
        "subject": {"reference": "Patient/M0002"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617311"}]
        },
        "reasonCode": [{"coding": [{"system": snomed, "code": "183966005"}]}],
        "authoredOn": "2026-03-01",
        "dispenseRequest": {"expectedSupplyDuration": {"value": 90, "code": "d"}},
    }
    # WHEN the bundle is flattened
    rows, _ = flatten_fhir(_bundle(encounter, reading, condition, order))
    got = {(r["resource_type"], r["code"]): r for r in rows.iter_rows(named=True)}
    # THEN each row keeps every coding, its period, statuses, negation and reasons, coded values, the
    # encounter's class and discharge, the encounter a reading was taken in, and where on the body
    visit = got[("Encounter", "99283")]
    assert visit["codes"] == f"{snomed}|4525004 {CPT}|99283"
    assert (visit["event_date"], visit["start_date"], visit["end_date"]) == (
        "2026-02-01",
        "2026-02-01",
        "2026-02-02",
    )
    assert (visit["setting"], visit["discharge"]) == ("EMER", f"{snomed}|306689006")
    assert got[("Observation", "8480-6")]["encounter"] == "Encounter/e1"
    dx = got[("Condition", "429009003")]
    assert (dx["status"], dx["verification"], dx["start_date"], dx["end_date"]) == (
        "inactive",
        "confirmed",
        "2020-05-01",
        "2025-06-30",
    )
    assert dx["body_site"] == f"{snomed}|7771000"
    rx = got[("MedicationRequest", "617311")]
    assert (rx["negated"], rx["reasons"], rx["intent"], rx["days_supply"], rx["unit"]) == (
        "true",
        f"{snomed}|183966005",
        "order",
        "90",
        "d",
    )


def test_records_a_measure_reads_are_kept_as_evidence_and_care_gap_items_carry_them() -> None:
    # GIVEN an office visit, a mammogram observation (a Care Gap code) and a cancelled depression screen
    visit = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "subject": {"reference": "Patient/M0002"},
        "type": [{"coding": [{"system": CPT, "code": "99213"}]}],
        "period": {"start": "2026-02-01"},
    }
    mammogram = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/M0002"},
        "code": _concept(CPT, "77067"),
        "effectiveDateTime": "2026-02-01",
    }
    not_done = {
        "resourceType": "Observation",
        "id": "o2",
        "status": "cancelled",
        "subject": {"reference": "Patient/M0002"},
        "code": _concept(LOINC, "73831-0"),
        "issued": "2026-02-01T08:00:00Z",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/qicore-notDoneReason",
                "valueCodeableConcept": {
                    "coding": [{"system": "http://snomed.info/sct", "code": "183944003"}]
                },
            }
        ],
    }
    rows, _ = flatten_fhir(_bundle(visit, mammogram, not_done))
    # WHEN the rows become evidence (no value set expansions: only a definition's own codes matter)
    evidence = {e.action: e for e in fhir_evidence(rows, PROGRAM.actions, file_id="f")}
    # THEN the mammogram evidences BCS-E with its record's details, the encounter is a record, and the
    # screen not done is a record with its reason, not evidence of a step
    assert (evidence["BCS-E"].kind, evidence["BCS-E"].status, evidence["BCS-E"].record_id) == (
        "Observation",
        "final",
        "o1",
    )
    assert evidence["QM:Encounter"].concept == "99213"
    screen = evidence["QM:Observation"]
    assert (screen.status, screen.reasons, screen.start_date) == (
        "cancelled",
        "http://snomed.info/sct|183944003",
        None,
    )
    assert "DSF-E" not in evidence
