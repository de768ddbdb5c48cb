"""A clinic's gaps in care in DEQM's `$care-gaps` shape, built from the registry's gaps."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from shared.logic.fhir_export import Naming, care_gaps
from shared.logic.fhir_export.resources import clinic_organization, gap_period, payer_organization
from shared.models.actions import ActionCode, Step
from shared.models.gaps import CompletedStep, Gap, GapStatus
from tests.unit.fhir_export.conftest import GENERATED, RUN_ID, make_clinic
from tests.unit.fhir_export.fhir import codings, extension, populations, resolve, resources, validated

DEQM = "http://hl7.org/fhir/us/davinci-deqm"
GAP_STATUS = f"{DEQM}/CodeSystem/gaps-status"


def _done(step: Step, day: date) -> CompletedStep:
    return CompletedStep(
        step=step,
        action_date=day,
        earned_month=day.strftime("%Y-%m"),
        evidence_id="e",
        reference="claim:C1#1",
    )


def _gap(member: str, action: str, period: str, status: GapStatus, **more: Any) -> Gap:
    return Gap(member_id=member, action=ActionCode(action), period=period, status=status, **more)


GAPS = [
    _gap(
        "M1",
        "BCS-E",
        "2026",
        GapStatus.OPEN,
        completed_steps=(_done(Step.SCHEDULE, date(2026, 2, 1)),),
        next_action=Step.PERFORM,
        due_date=date(2026, 9, 30),
    ),
    _gap(
        "M1",
        "COL-E",
        "2026",
        GapStatus.CLOSED,
        completed_steps=(_done(Step.CLAIM, date(2026, 5, 20)), _done(Step.PERFORM, date(2026, 5, 2))),
    ),
    _gap("M1", "CBP", "2026-03-05", GapStatus.NOT_APPLICABLE),
    _gap("M2", "SPC", "2026-Q2", GapStatus.PROSPECTIVE, next_action=Step.PRESCRIBE),
    _gap("M3", "AWV", "2026", GapStatus.NOT_APPLICABLE),
]


def _build(gaps: list[Gap], naming: Naming) -> dict | None:
    return care_gaps(
        run_id=RUN_ID,
        gaps=gaps,
        clinic=clinic_organization(make_clinic(), naming),
        payer=payer_organization("plan", naming),
        generated=GENERATED,
        naming=naming,
    )


def _documents(naming: Naming) -> dict[str, dict]:
    result = _build(GAPS, naming)
    assert result is not None
    parameters = validated(result)
    assert {p["name"] for p in parameters["parameter"]} == {"return"}
    found = {}
    for parameter in parameters["parameter"]:
        document = parameter["resource"]
        (member,) = resources(document, "Patient")
        found[member["identifier"][0]["value"]] = document
    return found


def test_one_document_per_member_with_a_gap_that_applies(naming: Naming) -> None:
    # GIVEN gaps of three members, the third's only gap not applying
    # WHEN the clinic's gaps in care are built
    documents = _documents(naming)
    # THEN the first two members have a document each, in member order, and the third none
    assert list(documents) == ["M1", "M2"]
    for document in documents.values():
        assert document["type"] == "document"
        assert document["meta"]["profile"] == [f"{DEQM}/StructureDefinition/gaps-bundle-deqm"]
        assert document["identifier"]["value"] and document["identifier"]["system"]
        assert document["timestamp"] == GENERATED.isoformat()
        assert document["entry"][0]["resource"]["resourceType"] == "Composition"


def test_each_gap_is_a_section_with_its_report_and_its_detected_issue(naming: Naming) -> None:
    # GIVEN member M1's open BCS-E, closed COL-E and not-applicable CBP gaps
    document = _documents(naming)["M1"]
    composition = document["entry"][0]["resource"]
    # WHEN the document is read
    sections = composition["section"]
    # THEN the Composition is DEQM's gaps report of the member, with a section per applicable gap
    assert composition["meta"]["profile"] == [f"{DEQM}/StructureDefinition/gaps-composition-deqm"]
    assert codings(composition["type"]) == {("http://loinc.org", "96315-7")}
    assert resolve(document, composition["subject"])["resourceType"] == "Patient"
    assert resolve(document, composition["author"][0])["resourceType"] == "Organization"
    assert [s["title"] for s in sections] == ["BCS-E 2026", "COL-E 2026"]
    # AND after the Composition come the reports and issues, each report followed by its issue
    kinds = [e["resource"]["resourceType"] for e in document["entry"][1:5]]
    assert kinds == ["MeasureReport", "DetectedIssue"] * 2
    statuses = {}
    for section in sections:
        report = resolve(document, section["focus"])
        (entry,) = section["entry"]
        issue = resolve(document, entry)
        # the report is DEQM's individual report of the member for the action
        assert report["meta"]["profile"] == [f"{DEQM}/StructureDefinition/indv-measurereport-deqm"]
        assert (report["type"], report["status"]) == ("individual", "complete")
        assert resolve(document, report["subject"]) == resolve(document, composition["subject"])
        # the issue is a DEQM care gap resting on that report
        assert issue["meta"]["profile"] == [f"{DEQM}/StructureDefinition/gaps-detectedissue-deqm"]
        assert codings(issue["code"]) == {("http://terminology.hl7.org/CodeSystem/v3-ActCode", "CAREGAP")}
        assert resolve(document, issue["evidence"][0]["detail"][0]) == report
        status = extension(issue, f"{DEQM}/StructureDefinition/extension-gapStatus", key="modifierExtension")
        ((system, code),) = codings(status["valueCodeableConcept"])
        assert system == GAP_STATUS
        statuses[section["title"]] = (code, populations(report["group"][0]))
    # AND the open gap is not in the numerator, the closed one is
    assert statuses == {
        "BCS-E 2026": ("open-gap", {"initial-population": 1, "denominator": 1, "numerator": 0}),
        "COL-E 2026": ("closed-gap", {"initial-population": 1, "denominator": 1, "numerator": 1}),
    }


def test_a_gap_coming_due_is_prospective_and_says_its_next_step(naming: Naming) -> None:
    # GIVEN member M2's statin gap of the second quarter, not yet due
    document = _documents(naming)["M2"]
    (issue,) = resources(document, "DetectedIssue")
    (report,) = resources(document, "MeasureReport")
    # WHEN its issue and report are read
    status = extension(issue, f"{DEQM}/StructureDefinition/extension-gapStatus", key="modifierExtension")
    # THEN it is a prospective gap over the quarter, naming the step to take
    assert codings(status["valueCodeableConcept"]) == {(GAP_STATUS, "prospective-gap")}
    assert report["period"] == {"start": "2026-04-01", "end": "2026-06-30"}
    assert issue["detail"] == "next step: prescribe"


def test_steps_done_are_the_mitigation_and_the_next_step_has_its_due_date(naming: Naming) -> None:
    # GIVEN M1's open gap (scheduled, perform due 30 September) and closed gap (performed, then claimed)
    document = _documents(naming)["M1"]
    issues = {
        resolve(document, s["entry"][0])["id"]: s["title"]
        for s in document["entry"][0]["resource"]["section"]
    }
    by_title = {issues[i["id"]]: i for i in resources(document, "DetectedIssue")}
    # WHEN their mitigations are read
    done = {
        title: [(m["action"]["text"], m["date"]) for m in issue.get("mitigation", [])]
        for title, issue in by_title.items()
    }
    # THEN each lists its steps by date, and only the open gap has a next step
    assert done == {
        "BCS-E 2026": [("schedule", "2026-02-01")],
        "COL-E 2026": [("perform", "2026-05-02"), ("claim", "2026-05-20")],
    }
    assert by_title["BCS-E 2026"]["detail"] == "next step: perform by 2026-09-30"
    assert "detail" not in by_title["COL-E 2026"]


def test_a_member_is_only_their_member_id(naming: Naming) -> None:
    # GIVEN the clinic's documents
    documents = _documents(naming)
    for member_id, document in documents.items():
        # WHEN the member's Patient is read
        (member,) = resources(document, "Patient")
        # THEN it holds the plan's member id and nothing else a person could be found by
        assert set(member) == {"resourceType", "id", "identifier"}
        assert member["identifier"] == [{"system": naming.system("member-id"), "value": member_id}]
        # AND no other member's id appears in the document
        others = set(documents) - {member_id}
        assert not any(other in json.dumps(document) for other in others)


def test_a_clinic_whose_gaps_all_do_not_apply_has_no_report(naming: Naming) -> None:
    # GIVEN only not-applicable gaps
    # WHEN the clinic's gaps in care are built
    # THEN there is nothing to export
    assert _build([g for g in GAPS if g.status is GapStatus.NOT_APPLICABLE], naming) is None


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2026", "2026-01-01", "2026-12-31"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2026-12", "2026-12-01", "2026-12-31"),
        ("2026-Q4", "2026-10-01", "2026-12-31"),
        ("2026-03-05", "2026-03-05", "2026-03-05"),
        ("2026/HCC37", "2026-01-01", "2026-12-31"),
        ("2026/visit-3", "2026-01-01", "2026-12-31"),
    ],
)
def test_a_gaps_period_is_the_dates_it_covers(period: str, start: str, end: str) -> None:
    # GIVEN a gap period as the gap engine writes it
    # WHEN its dates are read
    # THEN they are its month, quarter, day or measurement year
    assert gap_period(period) == {"start": start, "end": end}
