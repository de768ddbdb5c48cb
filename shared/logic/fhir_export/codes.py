"""The canonical URLs and fixed codes the exports use, and the engine's own names for what FHIR has no code.

Every URL of an HL7 profile, extension or code system below was read from the published guide or its
source (`docs/fhir-exports.md` says which and what could not be confirmed). The engine's own identifier
systems, code systems and Measure canonicals hang off one base a plan sets (`Naming`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

# ---- FHIR core and HL7 terminology ---------------------------------------------------------------------
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORING_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOINC = "http://loinc.org"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
"""The IRS's employer identification numbers (an organization's TIN)."""

# ---- Da Vinci DEQM (STU5, 5.0.0) ------------------------------------------------------------------------
DEQM = "http://hl7.org/fhir/us/davinci-deqm"
DEQM_SUMMARY_PROFILE = f"{DEQM}/StructureDefinition/summary-measurereport-deqm"
DEQM_INDIVIDUAL_PROFILE = f"{DEQM}/StructureDefinition/indv-measurereport-deqm"
DEQM_GAPS_BUNDLE_PROFILE = f"{DEQM}/StructureDefinition/gaps-bundle-deqm"
DEQM_GAPS_COMPOSITION_PROFILE = f"{DEQM}/StructureDefinition/gaps-composition-deqm"
DEQM_GAPS_DETECTED_ISSUE_PROFILE = f"{DEQM}/StructureDefinition/gaps-detectedissue-deqm"
DEQM_MEASURE_SCORING_EXTENSION = f"{DEQM}/StructureDefinition/extension-measureScoring"
DEQM_GAP_STATUS_EXTENSION = f"{DEQM}/StructureDefinition/extension-gapStatus"
DEQM_GAP_STATUS_SYSTEM = f"{DEQM}/CodeSystem/gaps-status"
GAPS_REPORT_TYPE = ("96315-7", "Gaps in care report")
"""The LOINC code DEQM fixes for a gaps-in-care Composition."""
CARE_GAP_ISSUE = ("CAREGAP", "Care Gaps")
"""The v3 ActCode DEQM fixes for a gaps-in-care DetectedIssue."""
GAP_STATUS_DISPLAY = {
    "open-gap": "Open Gap",
    "closed-gap": "Closed Gap",
    "prospective-gap": "Prospective Gap",
}

# ---- Da Vinci VBPR (STU1, 1.0.0) ------------------------------------------------------------------------
VBPR = "http://hl7.org/fhir/us/davinci-vbpr"
VBPR_PROFILE = f"{VBPR}/StructureDefinition/vbp-performance-measurereport"
VBPR_PAYMENT_STREAM_EXTENSION = f"{VBPR}/StructureDefinition/payment-stream"
VBPR_ORGANIZATION_SUBJECT_EXTENSION = f"{VBPR}/StructureDefinition/organization-subject"
VBPR_ALTERNATE_SCORE_EXTENSION = f"{VBPR}/StructureDefinition/alternate-measurescore"
VBPR_METRIC_SYSTEM = f"{VBPR}/CodeSystem/vbp-performance-metric"
VBPR_PAYMENT_STREAM_SYSTEM = f"{VBPR}/CodeSystem/payment-stream"
REPORT_CATEGORY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/measurereport-category"
REPORT_CATEGORY_SYSTEM = "http://hl7.org/fhir/CodeSystem/measurereport-category"
EARNED_INCENTIVE = ("earned-incentive", "Earned incentive")
MEMBER_MONTHS = ("member-months", "Member months")

# ---- the engine's payment streams ---------------------------------------------------------------------
CARE_GAP_SVU = "care_gap_svu"
BENCHMARK = "benchmark"
GUARANTEE = "guarantee"
APC = "apc"
STREAMS: dict[str, tuple[str, str, str]] = {
    # engine stream: (its display, VBPR payment-stream code, that code's display)
    CARE_GAP_SVU: ("Care Gap P4P SVU awards", "p4p", "Pay for performance"),
    BENCHMARK: ("Benchmark P4P incentive", "p4p", "Pay for performance"),
    GUARANTEE: ("Care Gap earnings guarantee", "qip", "Quality incentive payment"),
    APC: ("APC performance incentive", "p4p", "Pay for performance"),
}
"""VBPR's payment-stream codes are extensible: each stream also carries the engine's own code, which is
what tells a Benchmark bonus from an SVU award (both are pay for performance to VBPR)."""

DEFAULT_BASE = "https://fhir.p4p-engine.invalid"
"""A base that never resolves (RFC 2606's `.invalid`): a plan publishing these exports sets its own."""


@dataclass(frozen=True, slots=True)
class Naming:
    """Where the engine's own identifier systems, code systems and Measure canonicals live."""

    base: str = DEFAULT_BASE

    def system(self, name: str) -> str:
        """An identifier system of the engine (`member-id`, `clinic-id`, `payer-id`, `report`, `gap`)."""
        return f"{self.base}/sid/{name}"

    def code_system(self, name: str) -> str:
        """A code system of the engine (`rate`, `line-of-business`, `payment-stream`, `step`…)."""
        return f"{self.base}/CodeSystem/{name}"

    def measure_url(self, program: str, code: str) -> str:
        """The canonical of a program's action or rate that no CMS definition describes as the program
        counts it (every Care Gap action: its gap is the program's, not CMS's numerator)."""
        return f"{self.base}/Measure/{quote(program, safe='')}-{quote(code, safe='')}"

    def contract_url(self, payer: str, year: int) -> str:
        """The canonical of a payer's value-based contract for a year (VBPR's `measure`)."""
        return f"{self.base}/Measure/vbp-{quote(payer, safe='')}-{year}"
