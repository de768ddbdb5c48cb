"""`p4p measure-report`: FHIR patients scored by the measure engine, printed as MeasureReports.

The resources take the payment path: the intake's FHIR mapping, the evidence extraction, and the engine's
populations from that evidence (`cli.ecqm_decks.fhir_members`, `shared.logic.measures.engine`).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from cli.ecqm_decks import FhirReadError, fhir_members, one_patient, read_resources, valuesets_dir
from shared.logic.fhir_export import individual_report
from shared.logic.measures.engine import member_outcome
from shared.models.members import MemberFacts
from shared.programs.measures import (
    UnknownMeasureError,
    ValueSetError,
    ValueSets,
    load_valuesets,
    measure_catalog,
)

EXIT_USAGE = 2


def _members(paths: list[Path], valuesets: ValueSets) -> list[MemberFacts]:
    # A folder is one patient when it holds exactly one Patient; otherwise resources are grouped by reference.
    members: list[MemberFacts] = []
    loose: list[Path] = []
    for path in paths:
        if path.is_dir():
            resources = read_resources([path])
            if sum(r.get("resourceType") == "Patient" for r in resources) == 1:
                members += fhir_members(one_patient(resources), valuesets, file_id=path.name)
                continue
        loose.append(path)
    if loose:
        members += fhir_members(read_resources(loose), valuesets)
    return members


def measurement_year(period_start: date, period_end: date) -> int:
    """The calendar year a period spans; the engine measures calendar years only."""
    if (period_start.month, period_start.day, period_end.month, period_end.day) != (1, 1, 12, 31) or (
        period_start.year != period_end.year
    ):
        raise ValueError("the measurement period must be one calendar year (YYYY-01-01 to YYYY-12-31)")
    return period_start.year


def measure_report(
    measure: str, period_start: date, period_end: date, paths: list[Path], valuesets: Path | None = None
) -> list[dict[str, object]]:
    """The individual MeasureReports of every patient found in the paths."""
    definition = measure_catalog().get(measure)
    year = measurement_year(period_start, period_end)
    index = load_valuesets(valuesets or valuesets_dir())
    return [
        individual_report(
            measure_url=definition.url,
            patient_id=facts.profile.member_id or None,
            outcome=member_outcome(facts, definition, year, valuesets=index),
        )
        for facts in _members(paths, index)
    ]


def register(app: typer.Typer) -> None:
    """Add `measure-report` to the `p4p` app."""

    @app.command("measure-report")
    def measure_report_command(
        paths: list[Path] = typer.Argument(
            ..., help="FHIR resource/Bundle files, or folders (one per patient)."
        ),
        measure: str = typer.Option(
            ..., "--measure", help="Measure name (BreastCancerScreeningFHIR), code (BCS-E) or CMS id."
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
            known = ", ".join(f"{d.program_code} ({d.name})" for d in measure_catalog().definitions.values())
            typer.echo(f"error: unknown measure; choose one of {known}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        except (ValueError, FhirReadError, ValueSetError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=EXIT_USAGE) from None
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
