"""What the annual run exports as FHIR, per clinic: its summary MeasureReports, its gaps in care and its
value-based performance, each an output name → a JSON-ready resource."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from shared.logic.fhir_export.care_gaps import care_gaps
from shared.logic.fhir_export.codes import Naming
from shared.logic.fhir_export.measure_report import RateMeasure, summary_reports
from shared.logic.fhir_export.resources import (
    ExportInputError,
    Resource,
    clinic_organization,
    collection,
    payer_organization,
    timestamp,
)
from shared.logic.fhir_export.vbpr import vbpr_report
from shared.logic.keys import key_segment
from shared.models.gaps import Gap
from shared.models.ledger import DEFAULT_PAYER, LedgerEntry
from shared.models.members import Clinic
from shared.models.runs import MeasureCount

MEASURE_REPORTS = "measure-reports.json"
CARE_GAPS = "care-gaps.json"
VBPR = "vbpr.json"


def output_name(clinic_id: str, file: str) -> str:
    """Where a clinic's export goes under the run's outputs: `fhir/<clinic>/<file>` (a clinic id that is
    not safe in a key is refused with `UnsafeKeyError`, as for its statement)."""
    return f"fhir/{key_segment(clinic_id)}/{file}"


def annual_exports(
    run_id: str,
    year: int,
    clinics: Mapping[str, Clinic],
    counts: Iterable[MeasureCount],
    gaps_by_clinic: Mapping[str, Sequence[Gap]],
    entries_by_clinic: Mapping[str, Sequence[LedgerEntry]],
    *,
    measures: Mapping[str, RateMeasure],
    generated: datetime,
    member_months_by_clinic: Mapping[str, Mapping[str, int]] | None = None,
    plan_payer: str = DEFAULT_PAYER,
    payer_names: Mapping[str, str] | None = None,
    naming: Naming | None = None,
) -> dict[str, Resource]:
    """Every FHIR export of an annual run, by output name, in clinic then file order:

    - `fhir/<clinic>/measure-reports.json`: a collection Bundle of the clinic's DEQM summary MeasureReports,
      one per measure its `counts` name (`measures` maps each code to its definition, `benchmark_measures`);
    - `fhir/<clinic>/care-gaps.json`: the `$care-gaps` result for the clinic's members (`gaps_by_clinic`,
      every status; the plan is the documents' author);
    - `fhir/<clinic>/vbpr.json`: a collection Bundle of one VBPR MeasureReport per payer of the clinic's
      entries for `year` (`entries_by_clinic`), the plan's with the clinic's member months when given.

    A clinic gets only the files it has something for. `generated` (with its time zone) dates every report.
    """
    names = naming or Naming()
    timestamp(generated)
    by_clinic: dict[str, list[MeasureCount]] = defaultdict(list)
    for count in counts:
        by_clinic[count.clinic_id].append(count)
    months = member_months_by_clinic or {}
    wanted = set(by_clinic) | set(gaps_by_clinic) | set(entries_by_clinic) | set(months)
    missing = sorted(wanted - set(clinics))
    if missing:
        raise ExportInputError(f"unknown clinic(s): {', '.join(missing)}")
    payers = {p: payer_organization(p, names, (payer_names or {}).get(p)) for p in _payers(entries_by_clinic)}
    payers.setdefault(plan_payer, payer_organization(plan_payer, names, (payer_names or {}).get(plan_payer)))
    outputs: dict[str, Resource] = {}
    for clinic_id in sorted(wanted):
        organization = clinic_organization(clinics[clinic_id], names)
        if by_clinic.get(clinic_id):
            reports = summary_reports(
                run_id=run_id,
                year=year,
                counts=by_clinic[clinic_id],
                measures=measures,
                reporter=organization,
                generated=generated,
                naming=names,
            )
            key = ("measure-reports", run_id, organization["id"])
            outputs[output_name(clinic_id, MEASURE_REPORTS)] = collection(
                key, [*reports, organization], generated, names
            )
        gaps = care_gaps(
            run_id=run_id,
            gaps=gaps_by_clinic.get(clinic_id, ()),
            clinic=organization,
            payer=payers[plan_payer],
            generated=generated,
            naming=names,
        )
        if gaps is not None:
            outputs[output_name(clinic_id, CARE_GAPS)] = gaps
        performance = _performance(
            run_id,
            year,
            organization,
            entries_by_clinic.get(clinic_id, ()),
            months.get(clinic_id),
            payers,
            plan_payer,
            generated,
            names,
        )
        if performance is not None:
            outputs[output_name(clinic_id, VBPR)] = performance
    return outputs


def _payers(entries_by_clinic: Mapping[str, Sequence[LedgerEntry]]) -> list[str]:
    return sorted({e.payer for entries in entries_by_clinic.values() for e in entries})


def _performance(
    run_id: str,
    year: int,
    clinic: Resource,
    entries: Sequence[LedgerEntry],
    months: Mapping[str, int] | None,
    payers: Mapping[str, Resource],
    plan_payer: str,
    generated: datetime,
    naming: Naming,
) -> Resource | None:
    """The clinic's VBPR reports, one per payer it has entries of (member months go with the plan's)."""
    wanted = sorted({e.payer for e in entries} | ({plan_payer} if months else set()))
    found = [
        (payer_id, report)
        for payer_id in wanted
        if (
            report := vbpr_report(
                run_id=run_id,
                year=year,
                payer=payers[payer_id],
                payer_id=payer_id,
                clinic=clinic,
                entries=entries,
                months=months if payer_id == plan_payer else None,
                generated=generated,
                naming=naming,
            )
        )
        is not None
    ]
    if not found:
        return None
    resources = [report for _, report in found] + [clinic] + [payers[p] for p, _ in found]
    return collection(("vbpr", run_id, clinic["id"]), resources, generated, naming)
