"""A clinic's gaps in care in DEQM's `$care-gaps` shape: per member, a document Bundle whose first entry is a
Composition, then an individual MeasureReport and a DetectedIssue per gap, the DetectedIssue carrying the
gap's status (`open-gap`, `closed-gap`, `prospective-gap`) in DEQM's gap-status modifier extension.

The clinic's file is the operation's result for the clinic's members: a Parameters resource with one
`return` per member. A member appears as a Patient with the plan's member id and nothing else; a gap says
its action, its period, the steps done and their dates, and the next step and its due date. A gap that
does not apply (`not_applicable`) is not a gap in care and is left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.logic.fhir_export.codes import (
    ACT_CODE_SYSTEM,
    CARE_GAP_ISSUE,
    DEQM_GAP_STATUS_EXTENSION,
    DEQM_GAP_STATUS_SYSTEM,
    DEQM_GAPS_BUNDLE_PROFILE,
    DEQM_GAPS_COMPOSITION_PROFILE,
    DEQM_GAPS_DETECTED_ISSUE_PROFILE,
    DEQM_INDIVIDUAL_PROFILE,
    DEQM_MEASURE_SCORING_EXTENSION,
    GAP_STATUS_DISPLAY,
    GAPS_REPORT_TYPE,
    LOINC,
    SCORING_SYSTEM,
    Naming,
)
from shared.logic.fhir_export.measure_report import PopulationCounts, improvement, population_entries
from shared.logic.fhir_export.resources import (
    Resource,
    bundle_entry,
    clinic_reference,
    coding,
    concept,
    gap_period,
    patient,
    patient_reference,
    reference,
    resource_id,
    timestamp,
)
from shared.models.gaps import Gap, GapStatus
from shared.models.members import CARE_GAP_PROGRAM

GAP_STATUS = {
    GapStatus.OPEN: "open-gap",
    GapStatus.CLOSED: "closed-gap",
    GapStatus.PROSPECTIVE: "prospective-gap",
}
"""The engine's gap statuses as DEQM codes them; `not_applicable` has no gap to report."""

REPORT_TITLE = "Gaps in care report"


def _gap_key(gap: Gap) -> tuple[str, str, str]:
    return gap.member_id, gap.action, gap.period


def gap_report(
    *,
    run_id: str,
    gap: Gap,
    member: Resource,
    clinic: Resource,
    generated: datetime,
    naming: Naming,
    program: str = CARE_GAP_PROGRAM,
) -> Resource:
    """The individual MeasureReport of one gap: in the population, in the numerator once closed."""
    closed = int(gap.status is GapStatus.CLOSED)
    counts = PopulationCounts(initial_population=1, denominator=1, numerator=closed)
    return {
        "resourceType": "MeasureReport",
        "id": resource_id("MeasureReport", "gap", run_id, clinic["id"], *_gap_key(gap)),
        "meta": {"profile": [DEQM_INDIVIDUAL_PROFILE]},
        "extension": [
            {
                "url": DEQM_MEASURE_SCORING_EXTENSION,
                "valueCodeableConcept": concept(coding(SCORING_SYSTEM, "proportion", "Proportion")),
            }
        ],
        "identifier": [{"system": naming.system("gap"), "value": f"{gap.action}|{gap.period}"}],
        "status": "complete",
        "type": "individual",
        "measure": naming.measure_url(program, gap.action),
        "subject": patient_reference(member),
        "date": timestamp(generated),
        "reporter": clinic_reference(clinic),
        "period": gap_period(gap.period),
        "improvementNotation": improvement(decrease=False),
        "group": [
            {
                "id": "gap",
                "code": concept(coding(naming.code_system("rate"), gap.action), text=gap.action),
                "population": population_entries(counts.counts()),
                "measureScore": {"value": counts.score},
            }
        ],
    }


def _next_step(gap: Gap) -> str | None:
    if gap.status is GapStatus.CLOSED or gap.next_action is None:
        return None
    due = f" by {gap.due_date.isoformat()}" if gap.due_date else ""
    return f"next step: {gap.next_action.value}{due}"


def detected_issue(*, gap: Gap, report: Resource, member: Resource, naming: Naming) -> Resource:
    """The gap as a DEQM DetectedIssue: its status, the report it rests on, the steps done and the next."""
    status = GAP_STATUS[gap.status]
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": resource_id("DetectedIssue", report["id"]),
        "meta": {"profile": [DEQM_GAPS_DETECTED_ISSUE_PROFILE]},
        "modifierExtension": [
            {
                "url": DEQM_GAP_STATUS_EXTENSION,
                "valueCodeableConcept": concept(
                    coding(DEQM_GAP_STATUS_SYSTEM, status, GAP_STATUS_DISPLAY[status])
                ),
            }
        ],
        "status": "final",
        "code": concept(coding(ACT_CODE_SYSTEM, *CARE_GAP_ISSUE)),
        "patient": patient_reference(member),
        "evidence": [{"detail": [reference(report)]}],
    }
    if (text := _next_step(gap)) is not None:
        issue["detail"] = text
    if gap.completed_steps:
        issue["mitigation"] = [
            {
                "action": concept(coding(naming.code_system("step"), done.step.value), text=done.step.value),
                "date": done.action_date.isoformat(),
            }
            for done in sorted(gap.completed_steps, key=lambda s: (s.action_date, s.step.value))
        ]
    return issue


def member_gaps_bundle(
    *,
    run_id: str,
    member_id: str,
    gaps: Iterable[Gap],
    clinic: Resource,
    payer: Resource,
    generated: datetime,
    naming: Naming,
) -> Resource | None:
    """One member's gaps-in-care document (None when none of the gaps applies)."""
    shown = sorted((g for g in gaps if g.status in GAP_STATUS), key=lambda g: (g.action, g.period))
    if not shown:
        return None
    member = patient(member_id, naming)
    pairs = []
    for gap in shown:
        report = gap_report(
            run_id=run_id, gap=gap, member=member, clinic=clinic, generated=generated, naming=naming
        )
        pairs.append((gap, report, detected_issue(gap=gap, report=report, member=member, naming=naming)))
    composition = {
        "resourceType": "Composition",
        "id": resource_id("Composition", "gaps", run_id, clinic["id"], member_id),
        "meta": {"profile": [DEQM_GAPS_COMPOSITION_PROFILE]},
        "status": "final",
        "type": concept(coding(LOINC, *GAPS_REPORT_TYPE)),
        "subject": patient_reference(member),
        "date": timestamp(generated),
        "author": [reference(payer)],
        "custodian": reference(payer),
        "title": REPORT_TITLE,
        "section": [
            {"title": f"{gap.action} {gap.period}", "focus": reference(report), "entry": [reference(issue)]}
            for gap, report, issue in pairs
        ],
    }
    rid = resource_id("Bundle", "gaps", run_id, clinic["id"], member_id)
    return {
        "resourceType": "Bundle",
        "id": rid,
        "meta": {"profile": [DEQM_GAPS_BUNDLE_PROFILE]},
        "identifier": {"system": naming.system("report"), "value": rid},
        "type": "document",
        "timestamp": timestamp(generated),
        "entry": [
            bundle_entry(composition),
            *(bundle_entry(r) for _, report, issue in pairs for r in (report, issue)),
            bundle_entry(member),
            bundle_entry(clinic),
            bundle_entry(payer),
        ],
    }


def care_gaps(
    *,
    run_id: str,
    gaps: Iterable[Gap],
    clinic: Resource,
    payer: Resource,
    generated: datetime,
    naming: Naming,
) -> Resource | None:
    """A clinic's gaps in care: a Parameters with one `return` document per member, in member id order
    (None when no member has a gap that applies)."""
    by_member: dict[str, list[Gap]] = defaultdict(list)
    for gap in gaps:
        by_member[gap.member_id].append(gap)
    documents = [
        document
        for member_id in sorted(by_member)
        if (
            document := member_gaps_bundle(
                run_id=run_id,
                member_id=member_id,
                gaps=by_member[member_id],
                clinic=clinic,
                payer=payer,
                generated=generated,
                naming=naming,
            )
        )
        is not None
    ]
    if not documents:
        return None
    return {
        "resourceType": "Parameters",
        "id": resource_id("Parameters", "care-gaps", run_id, clinic["id"]),
        "parameter": [{"name": "return", "resource": document} for document in documents],
    }
