"""Individual FHIR MeasureReports from a member's measure outcome."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.logic.measures.outcome import MeasureOutcome

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"


def individual_report(*, measure_url: str, patient_id: str | None, outcome: MeasureOutcome) -> dict[str, Any]:
    """An individual MeasureReport: one group per rate, each population with its 0/1 count."""
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "individual",
        "measure": measure_url,
        "period": {
            "start": date(outcome.year, 1, 1).isoformat(),
            "end": date(outcome.year, 12, 31).isoformat(),
        },
        "group": [
            {
                "population": [
                    {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": count}
                    for code, count in group.counts().items()
                ]
            }
            for group in outcome.groups
        ],
    }
    if patient_id:
        report["subject"] = {"reference": f"Patient/{patient_id}"}
    return report
