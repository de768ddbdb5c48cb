"""FHIR R4 exports of the engine's own models, as plain JSON-ready dicts with deterministic ids and order:
DEQM summary MeasureReports of a clinic's rates, DEQM gaps-in-care documents of its registry, and Da Vinci
VBPR value-based performance reports of its ledger (`docs/fhir-exports.md`).

Pure: no AWS, no FHIR library at run time (the tests validate every resource with `fhir.resources`).
"""

from shared.logic.fhir_export.care_gaps import GAP_STATUS, care_gaps, member_gaps_bundle
from shared.logic.fhir_export.codes import Naming
from shared.logic.fhir_export.exports import CARE_GAPS, MEASURE_REPORTS, VBPR, annual_exports, output_name
from shared.logic.fhir_export.measure_report import (
    PopulationCounts,
    RateMeasure,
    benchmark_measures,
    individual_report,
    summary_report,
    summary_reports,
)
from shared.logic.fhir_export.resources import ExportInputError
from shared.logic.fhir_export.vbpr import member_months, payment_stream, vbpr_report

__all__ = [
    "CARE_GAPS",
    "GAP_STATUS",
    "MEASURE_REPORTS",
    "VBPR",
    "ExportInputError",
    "Naming",
    "PopulationCounts",
    "RateMeasure",
    "annual_exports",
    "benchmark_measures",
    "care_gaps",
    "individual_report",
    "member_gaps_bundle",
    "member_months",
    "output_name",
    "payment_stream",
    "summary_report",
    "summary_reports",
    "vbpr_report",
]
