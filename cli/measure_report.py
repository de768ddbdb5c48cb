"""`p4p measure-report`: FHIR patients evaluated against a CMS eCQM, printed as MeasureReports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from shared.logic.measures.deck import valuesets_dir
from shared.logic.measures.fhir import FhirReadError, PatientRecord, group_by_patient, read_resources
from shared.logic.measures.registry import UnknownMeasureError, get_measure, measures
from shared.logic.measures.report import individual_report
from shared.logic.measures.valuesets import ValueSetError, ValueSetIndex

EXIT_USAGE = 2


def _records(paths: list[Path]) -> list[PatientRecord]:
    # A folder is one patient when it holds exactly one Patient; otherwise resources are grouped by reference.
    records: list[PatientRecord] = []
    loose: list[Path] = []
    for path in paths:
        if path.is_dir():
            resources = read_resources([path])
            if sum(r.get("resourceType") == "Patient" for r in resources) == 1:
                records.append(PatientRecord.from_resources(resources))
                continue
        loose.append(path)
    if loose:
        records.extend(group_by_patient(read_resources(loose)))
    return records


def measure_report(
    measure: str, period_start: date, period_end: date, paths: list[Path], valuesets: Path | None = None
) -> list[dict[str, object]]:
    """The individual MeasureReports of every patient found in the paths."""
    definition = get_measure(measure)
    index = ValueSetIndex.load(valuesets or valuesets_dir())
    period = (period_start, period_end)
    reports: list[dict[str, object]] = []
    for record in _records(paths):
        result = definition.evaluate(record, period, index)
        patient_id = record.patient.get("id")
        reports.append(
            individual_report(
                measure_url=definition.url,
                patient_id=str(patient_id) if patient_id else None,
                period=period,
                result=result,
            )
        )
    return reports


def register(app: typer.Typer) -> None:
    """Add `measure-report` to the `p4p` app."""

    @app.command("measure-report")
    def measure_report_command(
        paths: list[Path] = typer.Argument(
            ..., help="FHIR resource/Bundle files, or folders (one per patient)."
        ),
        measure: str = typer.Option(
            ..., "--measure", help="Measure folder name (BreastCancerScreeningFHIR) or code (BCS-E)."
        ),
        period_start: str = typer.Option(
            ..., "--period-start", help="First day of the measurement period, YYYY-MM-DD."
        ),
        period_end: str = typer.Option(
            ..., "--period-end", help="Last day of the measurement period, YYYY-MM-DD."
        ),
        valuesets: Path | None = typer.Option(
            None, "--valuesets", help="Folder of ValueSet expansions (default: the decks')."
        ),
    ) -> None:
        """Print one individual FHIR MeasureReport per patient (a JSON array when there are several)."""
        try:
            start, end = date.fromisoformat(period_start), date.fromisoformat(period_end)
            reports = measure_report(measure, start, end, paths, valuesets)
        except UnknownMeasureError:
            known = ", ".join(f"{m.program_code} ({m.name})" for m in measures())
            typer.echo(f"error: unknown measure; choose one of {known}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        except (ValueError, FhirReadError, ValueSetError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
