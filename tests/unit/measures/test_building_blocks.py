"""The engine's building blocks on small hand-made resources."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shared.logic.measures.common import (
    Ctx,
    add_years,
    age_in_years,
    has_hospice,
    is_66_plus_in_nursing_home,
    prevalence,
)
from shared.logic.measures.fhir import (
    Interval,
    PatientRecord,
    day_interval,
    group_by_patient,
    parse_datetime,
    to_interval,
)
from shared.logic.measures.registry import UnknownMeasureError, get_measure
from shared.logic.measures.result import proportion
from shared.logic.measures.valuesets import ValueSetIndex

MP = day_interval(date(2025, 1, 1), date(2025, 12, 31))
SNOMED = "http://snomed.info/sct"
HOSPICE_ENCOUNTER = "2.16.840.1.113883.3.464.1003.1003"


def _valuesets() -> ValueSetIndex:
    index = ValueSetIndex()
    index.add(
        {
            "url": f"http://cts.nlm.nih.gov/fhir/ValueSet/{HOSPICE_ENCOUNTER}",
            "title": "Hospice Encounter",
            "expansion": {"contains": [{"system": SNOMED, "code": "385763009"}]},
        }
    )
    return index


def _ctx(*resources: dict[str, Any], birth: str = "1950-06-15") -> Ctx:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": birth}
    return Ctx(PatientRecord.from_resources([patient, *resources]), MP, _valuesets())


def _condition(status: str, onset: str, abatement: str | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "onsetDateTime": onset,
    }
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


def test_datetimes_are_read_in_utc_and_partial_dates_span_their_range() -> None:
    # GIVEN a dateTime with an offset and a year-only date
    # WHEN they are parsed
    moment = parse_datetime("2025-12-31T22:00:00-05:00")
    year = to_interval({"effectiveDateTime": "2024"}, "effective")
    # THEN the offset moves the day and the year covers all of it
    assert moment is not None and moment.date() == date(2026, 1, 1)
    assert year is not None and (year.start_day(), year.end_day()) == (date(2024, 1, 1), date(2024, 12, 31))


def test_active_condition_without_abatement_goes_on() -> None:
    # GIVEN an active condition that started years ago
    condition = _condition("active", "2010-05-01")
    # WHEN its prevalence is checked against the period
    found = prevalence(condition)
    # THEN it overlaps the period
    assert found is not None and found.overlaps_days(MP)


def test_inactive_condition_without_abatement_has_an_unknown_end() -> None:
    # GIVEN an inactive condition with an onset in the period but no abatement
    condition = _condition("inactive", "2025-06-01")
    # WHEN its prevalence is checked
    found = prevalence(condition)
    # THEN it starts in the period but does not (knowably) overlap it
    assert found is not None and found.start_day() == date(2025, 6, 1)
    assert not found.overlaps_days(MP)


def test_resolved_condition_before_the_period_does_not_overlap() -> None:
    # GIVEN a condition that abated before the period
    condition = _condition("resolved", "2023-01-01", "2024-12-31")
    # WHEN its prevalence is checked
    found = prevalence(condition)
    # THEN it does not overlap 2025
    assert found is not None and not found.overlaps_days(MP)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [("2024-12-01", "2025-01-01", True), ("2024-11-01", "2024-12-31", False), ("2025-12-31", None, True)],
)
def test_hospice_encounter_counts_when_it_overlaps_the_period(
    start: str, end: str | None, expected: bool
) -> None:
    # GIVEN a finished hospice encounter with the given period
    period = {"start": start} | ({"end": end} if end else {})
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "type": [{"coding": [{"system": SNOMED, "code": "385763009"}]}],
        "period": period,
    }
    # WHEN hospice care is looked for
    found = has_hospice(_ctx(encounter))
    # THEN it is found only when the encounter touches 2025
    assert found is expected


def test_nursing_home_uses_the_last_housing_status_up_to_the_period_end() -> None:
    # GIVEN a 75-year-old living in a nursing home in March, then at home in November
    def housing(day: str, code: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "71802-3"}]},
            "effectiveDateTime": day,
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code}]},
        }

    nursing, home = housing("2025-03-01", "160734000"), housing("2025-11-01", "32911000")
    # WHEN long-term nursing home residence is evaluated with and without the later status
    only_nursing = is_66_plus_in_nursing_home(_ctx(nursing))
    moved_home = is_66_plus_in_nursing_home(_ctx(nursing, home))
    # THEN only the last status counts
    assert only_nursing is True
    assert moved_home is False


def test_exclusion_takes_the_patient_out_of_the_numerator() -> None:
    # GIVEN a patient in the initial population who is both excluded and screened
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


def test_exception_counts_only_outside_the_numerator() -> None:
    # GIVEN a patient in the denominator, not screened, with a documented reason
    # WHEN scored
    group = proportion(True, lambda: False, lambda: False, lambda: True)
    # THEN the denominator exception is counted
    assert (group.numerator, group.denominator_exception) == (0, 1)


def test_valueset_index_matches_by_system_and_code() -> None:
    # GIVEN an index holding one SNOMED code
    index = _valuesets()
    # WHEN concepts with the same code in another system, and the right system, are matched
    wrong = index.matches(
        {"coding": [{"system": "http://loinc.org", "code": "385763009"}]}, HOSPICE_ENCOUNTER
    )
    right = index.matches({"coding": [{"system": SNOMED, "code": "385763009"}]}, HOSPICE_ENCOUNTER)
    # THEN only the right system matches
    assert (wrong, right) == (False, True)


def test_resources_are_grouped_by_their_patient_reference() -> None:
    # GIVEN two patients and one encounter for the second
    resources = [
        {"resourceType": "Patient", "id": "a", "birthDate": "1970-01-01"},
        {"resourceType": "Patient", "id": "b", "birthDate": "1980-01-01"},
        {"resourceType": "Encounter", "id": "e", "subject": {"reference": "Patient/b"}},
    ]
    # WHEN they are grouped
    records = {r.patient["id"]: r for r in group_by_patient(resources)}
    # THEN the encounter belongs to the second patient only
    assert len(records["a"].of("Encounter")) == 0
    assert len(records["b"].of("Encounter")) == 1


def test_measures_resolve_by_folder_name_program_code_or_cms_id() -> None:
    # GIVEN the three ways to name breast cancer screening
    names = ["BreastCancerScreeningFHIR", "bcs-e", "CMS125"]
    # WHEN each is resolved
    resolved = {get_measure(name).name for name in names}
    # THEN they name one measure, and an unknown name fails
    assert resolved == {"BreastCancerScreeningFHIR"}
    with pytest.raises(UnknownMeasureError):
        get_measure("NOPE")


def test_interval_during_compares_whole_days() -> None:
    # GIVEN an encounter on the last evening of the period
    late = Interval(parse_datetime("2025-12-31T23:00:00Z"), parse_datetime("2025-12-31T23:30:00Z"))
    # WHEN it is compared with the period at day precision
    # THEN it lies during the period
    assert late.during_days(MP)
