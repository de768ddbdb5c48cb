"""The engine's building blocks on small hand-made FHIR resources and claim rows, through the evidence."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cli.ecqm_decks import fhir_members
from shared.logic.measures.common import has_hospice, is_66_plus_in_nursing_home
from shared.logic.measures.context import (
    Ctx,
    RecordIndex,
    Window,
    add_years,
    age_in_years,
    during,
    prevalence_overlaps,
    prevalence_starts_by,
)
from shared.logic.measures.outcome import proportion
from shared.logic.measures.records import CLAIM, records_of
from shared.models.actions import Sex, Step
from shared.models.evidence import Evidence, EvidenceSource
from shared.programs.measures import UnknownMeasureError, ValueSets, measure_catalog

SNOMED = "http://snomed.info/sct"
HOSPICE_ENCOUNTER = "2.16.840.1.113883.3.464.1003.1003"
VALUESETS = ValueSets.from_resources(
    [
        {
            "resourceType": "ValueSet",
            "url": f"http://cts.nlm.nih.gov/fhir/ValueSet/{HOSPICE_ENCOUNTER}",
            "title": "Hospice Encounter",
            "expansion": {"contains": [{"system": SNOMED, "code": "385763009"}]},
        }
    ]
)


def _ctx(*resources: dict[str, Any], birth: str = "1950-06-15") -> Ctx:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": birth}
    subject = {"subject": {"reference": "Patient/p1"}}
    (member,) = fhir_members([patient, *({**subject, **r} for r in resources)], VALUESETS)
    return Ctx(
        birth=member.profile.birth_date,
        gender="female",
        first=date(2025, 1, 1),
        last=date(2025, 12, 31),
        index=RecordIndex(records_of(member.evidence), VALUESETS),
        common=measure_catalog().common,
    )


def _condition(status: str, onset: str | None, abatement: str | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "code": {"coding": [{"system": SNOMED, "code": "385763009"}]},
    }
    if onset:
        condition["onsetDateTime"] = onset
    if abatement:
        condition["abatementDateTime"] = abatement
    return condition


def test_age_counts_whole_years_to_the_birthday() -> None:
    # GIVEN a birth date of 1 March 2000
    birth = date(2000, 3, 1)
    # WHEN the age is taken the day before and on the 25th birthday
    before, on = age_in_years(birth, date(2025, 2, 28)), age_in_years(birth, date(2025, 3, 1))
    # THEN it turns 25 on the birthday
    assert (before, on) == (24, 25)


def test_leap_day_birthday_falls_back_to_february_28() -> None:
    # GIVEN a child born on 29 February
    # WHEN two years are added
    second = add_years(date(2024, 2, 29), 2)
    # THEN the anniversary is 28 February
    assert second == date(2026, 2, 28)


def test_active_condition_without_abatement_goes_on() -> None:
    # GIVEN an active condition that started years ago
    ctx = _ctx(_condition("active", "2010-05-01"))
    # WHEN its prevalence is checked against the period
    (condition,) = ctx.of("Condition")
    # THEN it overlaps the period
    assert prevalence_overlaps(condition, ctx.period)


def test_inactive_condition_without_abatement_has_an_unknown_end() -> None:
    # GIVEN an inactive condition with an onset in the period but no abatement
    ctx = _ctx(_condition("inactive", "2025-06-01"))
    # WHEN its prevalence is checked
    (condition,) = ctx.of("Condition")
    # THEN it starts in the period but does not (knowably) overlap it
    assert prevalence_starts_by(condition, date(2025, 6, 1))
    assert not prevalence_overlaps(condition, ctx.period)


def test_condition_without_onset_that_abated_in_the_period_overlaps_it() -> None:
    # GIVEN an inactive condition with no onset that abated in March (dated by its abatement)
    ctx = _ctx(_condition("inactive", None, "2025-03-01"))
    # WHEN its prevalence is checked
    (condition,) = ctx.of("Condition")
    # THEN its unknown start runs back without bound, so it overlaps the period
    assert condition.start is None
    assert prevalence_overlaps(condition, ctx.period)


def test_resolved_condition_before_the_period_does_not_overlap() -> None:
    # GIVEN a condition that abated before the period
    ctx = _ctx(_condition("resolved", "2023-01-01", "2024-12-31"))
    # WHEN its prevalence is checked
    (condition,) = ctx.of("Condition")
    # THEN it does not overlap 2025
    assert not prevalence_overlaps(condition, ctx.period)


@pytest.mark.parametrize(
    ("start", "end", "status", "expected"),
    [
        ("2024-12-01", "2025-01-01", "finished", True),
        ("2024-11-01", "2024-12-31", "finished", False),
        ("2025-12-31", None, "finished", True),
        ("2025-03-01", "2025-03-02", "cancelled", False),
    ],
)
def test_hospice_encounter_counts_when_finished_and_overlapping_the_period(
    start: str, end: str | None, status: str, expected: bool
) -> None:
    # GIVEN a hospice encounter with the given period and status
    period = {"start": start} | ({"end": end} if end else {})
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": status,
        "type": [{"coding": [{"system": SNOMED, "code": "385763009"}]}],
        "period": period,
    }
    # WHEN hospice care is looked for
    found = has_hospice(_ctx(encounter))
    # THEN it is found only when the encounter was finished and touches 2025
    assert found is expected


def test_nursing_home_uses_the_last_housing_status_up_to_the_period_end() -> None:
    # GIVEN a 75-year-old living in a nursing home in March, then at home in November
    def housing(rid: str, day: str, code: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "71802-3"}]},
            "effectiveDateTime": day,
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code}]},
        }

    nursing, home = housing("o1", "2025-03-01", "160734000"), housing("o2", "2025-11-01", "32911000")
    # WHEN long-term nursing home residence is evaluated with and without the later status
    only_nursing = is_66_plus_in_nursing_home(_ctx(nursing))
    moved_home = is_66_plus_in_nursing_home(_ctx(nursing, home))
    # THEN only the last status counts
    assert only_nursing is True
    assert moved_home is False


def test_an_observation_dated_only_by_when_it_was_issued_has_no_effective_period() -> None:
    # GIVEN a final housing status observation with no effective time, only `issued`
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "71802-3"}]},
        "issued": "2025-03-01T08:00:00Z",
    }
    # WHEN its record is read
    (record,) = _ctx(observation).of("Observation")
    # THEN it is dated by its issue but lies during no window
    assert record.day == date(2025, 3, 1)
    assert not during(record, Window(date(2025, 1, 1), date(2025, 12, 31)))


def test_claim_rows_map_to_the_records_the_measures_read() -> None:
    # GIVEN a claim line, a claim diagnosis, a lab result, a fill and an attestation
    def item(action: str, source: EvidenceSource, concept: str, **extra: Any) -> Evidence:
        return Evidence(
            member_id="M1",
            action=action,
            step=Step.DIAGNOSIS if action.startswith("DX:") else Step.CLAIM,
            action_date=date(2025, 3, 1),
            received_date=extra.pop("received", None),
            source=source,
            file_id="f",
            source_row=extra.pop("row"),
            concept=concept,
            **extra,
        )

    evidence = [
        item("BCS-E", EvidenceSource.MEDICAL_CLAIM, "77067", row=1, received=date(2025, 4, 1)),
        item("DX:Diabetes", EvidenceSource.MEDICAL_CLAIM, "E119", row=1),
        item("GSD", EvidenceSource.LAB, "4548-4", row=2, result_value="7.2"),
        item("SPC", EvidenceSource.PHARMACY_CLAIM, "00093505698", row=3, days_supply=30),
        item("BCS-E", EvidenceSource.ATTESTATION, "77067", row=4, attestation_id="A1"),
    ]
    # WHEN the records are read, as of everything and as of March
    records = {r.kind: r for r in records_of(evidence)}
    by_march = {r.kind for r in records_of(evidence, date(2025, 3, 31))}
    # THEN the line is a claim (a done service), the diagnosis an active condition from the service
    # date, the lab a resulted observation, the fill a dispense for its supply; attestations are not
    # records, and a claim counts from its receipt
    assert set(records) == {CLAIM, "Condition", "Observation", "MedicationDispense"}
    assert records[CLAIM].codes == (("CPT", "77067"),) and records[CLAIM].has_value
    assert records["Condition"].codes == (("ICD10CM", "E119"),) and records["Condition"].end is None
    assert records["Observation"].quantity == 7.2
    assert records["MedicationDispense"].end == date(2025, 3, 31)
    assert CLAIM not in by_march


def test_an_items_record_is_made_once_and_is_the_same_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a member's claim line and lab row, read once
    from shared.logic.measures import records as records_module

    def row(concept: str, source: EvidenceSource, number: int) -> Evidence:
        return Evidence(
            member_id="M1",
            action="GSD",
            step=Step.CLAIM,
            action_date=date(2025, 3, 1),
            source=source,
            file_id="f",
            source_row=number,
            concept=concept,
            result_value="7.2" if source is EvidenceSource.LAB else None,
        )

    evidence = [row("83036", EvidenceSource.MEDICAL_CLAIM, 1), row("4548-4", EvidenceSource.LAB, 2)]
    first = records_of(evidence)
    made: list[Evidence] = []
    original = records_module._tabular
    monkeypatch.setattr(records_module, "_tabular", lambda item: made.append(item) or original(item))
    # WHEN the same items are read again, and an equal but new item
    again = records_of(evidence)
    equal = row("83036", EvidenceSource.MEDICAL_CLAIM, 1)
    fresh = records_of([equal])
    # THEN the same records come back without being made again; a new item's record is made for it
    assert again == first and all(a is b for a, b in zip(again, first, strict=True))
    assert made == [equal] and fresh == first[:1]


def test_exclusion_takes_the_member_out_of_the_numerator() -> None:
    # GIVEN a member in the initial population who is both excluded and screened
    # WHEN the proportion populations are scored
    group = proportion(True, lambda: True, lambda: True, lambda: True)
    # THEN the exclusion wins and the exception is not counted
    assert group.counts() == {
        "initial-population": 1,
        "denominator": 1,
        "denominator-exclusion": 1,
        "numerator": 0,
        "denominator-exception": 0,
    }
    assert not group.rated


def test_exception_counts_only_outside_the_numerator() -> None:
    # GIVEN a member in the denominator, not screened, with a documented reason
    # WHEN scored
    group = proportion(True, lambda: False, lambda: False, lambda: True)
    # THEN the denominator exception is counted and the member leaves the rate
    assert (group.numerator, group.denominator_exception, group.rated) == (False, True, False)


def test_valuesets_match_by_system_and_code() -> None:
    # GIVEN an index holding one SNOMED code
    # WHEN the same code in another system, and in the right one, is looked up
    wrong = VALUESETS.oids("LOINC", "385763009")
    right = VALUESETS.oids(SNOMED, "385763009")
    # THEN only the right system matches
    assert (wrong, right) == (frozenset(), frozenset({HOSPICE_ENCOUNTER}))


def test_program_codes_add_to_a_value_set_and_icd10_matches_by_prefix() -> None:
    # GIVEN the index with a program's claim codes added to the hospice value set (one an ICD-10 prefix)
    extended = VALUESETS.with_codes({HOSPICE_ENCOUNTER: [("CPT", "99377"), ("ICD10CM", "Z51")]})
    # WHEN codes are looked up in the copy and in the original
    # THEN the copy holds them (Z515 by its prefix), the original is unchanged
    assert HOSPICE_ENCOUNTER in extended.oids("CPT", "99377")
    assert HOSPICE_ENCOUNTER in extended.oids("ICD10CM", "Z515")
    assert VALUESETS.oids("CPT", "99377") == frozenset()


def test_patients_get_only_the_resources_that_name_them() -> None:
    # GIVEN two patients and one hospice encounter for the second
    resources = [
        {"resourceType": "Patient", "id": "a", "birthDate": "1970-01-01", "gender": "female"},
        {"resourceType": "Patient", "id": "b", "birthDate": "1980-01-01", "gender": "male"},
        {
            "resourceType": "Encounter",
            "id": "e",
            "status": "finished",
            "subject": {"reference": "Patient/b"},
            "type": [{"coding": [{"system": SNOMED, "code": "385763009"}]}],
            "period": {"start": "2025-02-01"},
        },
    ]
    # WHEN they take the FHIR mapping
    members = {m.profile.member_id: m for m in fhir_members(resources, VALUESETS)}
    # THEN the encounter is the second patient's only, and each has its profile
    assert [len(members["a"].evidence), len(members["b"].evidence)] == [0, 1]
    assert (members["b"].profile.birth_date, members["b"].profile.gender) == (date(1980, 1, 1), Sex.M)


def test_measures_resolve_by_name_program_code_or_cms_id() -> None:
    # GIVEN the three ways to name breast cancer screening
    names = ["BreastCancerScreeningFHIR", "bcs-e", "CMS125"]
    # WHEN each is resolved
    resolved = {measure_catalog().get(name).name for name in names}
    # THEN they name one measure, and an unknown name fails
    assert resolved == {"BreastCancerScreeningFHIR"}
    with pytest.raises(UnknownMeasureError):
        measure_catalog().get("NOPE")
