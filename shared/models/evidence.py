"""Evidence: one fact from a file that completes a step of an action for a member."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from enum import StrEnum

import polars as pl
from pydantic import BaseModel, ConfigDict, computed_field

from shared.models.actions import ActionCode, Step

CONDITION_PREFIX = "DX:"
"""Condition facts carry `action=DX:<code set name>` and `step=diagnosis`; they pay nothing."""

RECORD_PREFIX = "QM:"
"""Clinical records only the measure engine reads (an Encounter, a negated order, a SNOMED diagnosis)
carry `action=QM:<kind>`; no action of any menu has such a code, so they earn nothing."""


def condition_action(code_set: str) -> ActionCode:
    """The action code under which facts of a condition code set are stored."""
    return ActionCode(f"{CONDITION_PREFIX}{code_set}")


def record_action(kind: str) -> ActionCode:
    """The action code of a clinical record no action's code set names (see RECORD_PREFIX)."""
    return ActionCode(f"{RECORD_PREFIX}{kind}")


FHIR_SYSTEMS = {
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://loinc.org": "LOINC",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "urn:oid:2.16.840.1.113883.6.285": "HCPCS",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/ndc": "NDC",
}
"""Code systems the menus' code sets use, by their FHIR canonical URL; other systems keep their URL."""
_SHORT_SYSTEMS = frozenset(FHIR_SYSTEMS.values())


def system_name(system: str) -> str:
    """A code system as evidence names it: the menus' short name when it has one, else its URL."""
    return FHIR_SYSTEMS.get(system, system)


def normal_record_code(system: str, code: str) -> str:
    """A code as evidence keeps it: the menus' systems upper case (ICD-10-CM without its dot, CVX without
    leading zeros, as `normal_code`), any other system as sent."""
    text = code.strip()
    if system not in _SHORT_SYSTEMS:
        return text
    text = text.upper()
    if system == "ICD10CM":
        return text.replace(".", "")
    if system == "CVX":
        return text.lstrip("0") or "0"
    return text


def coded(text: str | None) -> tuple[tuple[str, str], ...]:
    """The (system, code) pairs of a codes field (`system|code` separated by spaces)."""
    if not text:
        return ()
    return tuple((s, c) for s, _, c in (token.rpartition("|") for token in text.split(" ")) if c)


def codes_text(pairs: Iterable[tuple[str, str]]) -> str | None:
    """A codes field from (system, code) pairs (None when there are none)."""
    text = " ".join(f"{s}|{c}" for s, c in pairs)
    return text or None


CLAIM_DETAIL_FIELDS = (
    "claim_type",
    "bill_type_code",
    "revenue_center_code",
    "admission_date",
    "discharge_date",
    "discharge_disposition_code",
    "ms_drg_code",
    "allowed_amount",
)
"""A medical claim line's facility and cost details (`Evidence.claim_type` and after): the optional
`medical_claims` columns of the same names, carried onto the line's evidence when the file has them."""


class EvidenceSource(StrEnum):
    ATTESTATION = "attestation"
    MEDICAL_CLAIM = "medical_claim"
    PHARMACY_CLAIM = "pharmacy_claim"
    IMMUNIZATION = "immunization"
    LAB = "lab"
    SUPPLEMENTAL = "supplemental"
    """EHR records (FHIR procedures, conditions) a plan accepts as supplemental data (Q14)."""

    @property
    def confirms(self) -> bool:
        """Claims and supplemental data (registry, labs) confirm a service; attestations do not (Q13)."""
        return self is not EvidenceSource.ATTESTATION


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class Evidence(BaseModel):
    """A claim line, a fill, a registry dose, a lab result or an attestation that speaks to one action.

    The id depends only on the source record (claim id + line, fill, file row, or attestation id) and the
    action, so delivering the same file twice, or the same record in two files, yields the same item.
    """

    model_config = ConfigDict(frozen=True)

    member_id: str
    action: ActionCode
    step: Step
    action_date: date
    received_date: date | None = None
    source: EvidenceSource
    file_id: str
    source_row: int
    concept: str | None = None
    claim_id: str | None = None
    claim_line_number: int | None = None
    attestation_id: str | None = None
    attesting_clinic_id: str | None = None
    result_value: str | None = None
    days_supply: int | None = None
    condition: str | None = None
    # A clinical record's details, as the measure engine reads them (FHIR; None for the tabular kinds).
    kind: str | None = None
    """The record's kind: its FHIR resource type (Encounter, Condition, Observation, MedicationRequest…)."""
    code_system: str | None = None
    """The system of `concept` (`system_name`)."""
    codes: str | None = None
    """The record's other codings of its code, `system|code` separated by spaces (see `coded`)."""
    status: str | None = None
    """The record's status (a condition's clinical status)."""
    verification: str | None = None
    """A condition's verification status."""
    intent: str | None = None
    """A request's intent (order, plan, …)."""
    negated: bool | None = None
    """True when the record says it was not done or must not be (doNotPerform)."""
    reasons: str | None = None
    """Reason codes (reasonCode, or why it was not done), as `codes`."""
    value_codes: str | None = None
    """A coded result (valueCodeableConcept), as `codes`; `result_value` holds a value as text."""
    unit: str | None = None
    """The unit of `result_value` (of a request's supply duration when it has no value)."""
    start_date: date | None = None
    """The first day of the record's period when it is not `action_date`."""
    end_date: date | None = None
    """The last day of the record's period (performed/effective period, abatement, medication bounds)."""
    dated_by: str | None = None
    """The field `action_date` was read from (`effectiveDateTime`, `issued`, `recordedDate`…)."""
    record_id: str | None = None
    """The record's own id (a FHIR resource id), which other records refer to."""
    encounter_id: str | None = None
    """The id of the encounter the record was made in."""
    setting: str | None = None
    """An encounter's class (`AMB`, `EMER`, `IMP`…)."""
    discharge: str | None = None
    """An encounter's discharge disposition, as `codes`."""
    body_site: str | None = None
    """Where on the body (a condition's laterality), as `codes`."""
    # A medical claim line's facility and cost details, as utilization and cost measures read them (Tuva's
    # names; None where the file does not give them).
    claim_type: str | None = None
    """`professional` or `institutional`."""
    bill_type_code: str | None = None
    """An institutional claim's type of bill (`111`: hospital inpatient, admit through discharge)."""
    revenue_center_code: str | None = None
    """An institutional line's revenue code, four digits (`0450`: emergency room)."""
    admission_date: date | None = None
    """An inpatient stay's first day."""
    discharge_date: date | None = None
    """An inpatient stay's last day."""
    discharge_disposition_code: str | None = None
    """Where the patient went (UB-04 patient status, two digits; `20`: expired)."""
    ms_drg_code: str | None = None
    """An inpatient stay's MS-DRG, three digits."""
    allowed_amount: Decimal | None = None
    """What the plan allowed for the line, in dollars."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_id(self) -> str:
        if self.condition is not None:  # one claim line can recapture several conditions
            return _digest(self.source.value, self.action, self.reference, self.condition)
        return _digest(self.source.value, self.action, self.reference)

    @property
    def reference(self) -> str:
        """Human-readable pointer to the source record, as printed on statements."""
        if self.source is EvidenceSource.MEDICAL_CLAIM:
            return f"claim:{self.claim_id}#{self.claim_line_number}"
        if self.source is EvidenceSource.PHARMACY_CLAIM:
            return f"fill:{self.claim_id}#{self.claim_line_number}"
        if self.source is EvidenceSource.ATTESTATION:
            return f"attestation:{self.attestation_id}"
        if self.record_id is not None and self.action.startswith(RECORD_PREFIX):
            # Records of one code on one day are told apart by their own id (a panel's parts by code).
            return f"{self.source.value}:{self.member_id}/{self.kind}/{self.record_id}/{self.concept}"
        # Registry and lab rows have no id of their own: the concept and date identify the fact.
        return f"{self.source.value}:{self.member_id}/{self.concept}/{self.action_date.isoformat()}"

    @property
    def known_date(self) -> date:
        """When the plan learned of it: claims count from receipt (Q15), attestations from their date."""
        return self.received_date or self.action_date

    @property
    def period(self) -> str:
        """The measurement year the evidence counts toward."""
        return str(self.action_date.year)

    @property
    def is_condition(self) -> bool:
        """True for a condition fact (diagnosis or drug class), which no step is paid for."""
        return self.step is Step.DIAGNOSIS

    @property
    def is_record(self) -> bool:
        """True for a clinical record only the measure engine reads (see RECORD_PREFIX)."""
        return self.action.startswith(RECORD_PREFIX)

    @property
    def claim_key(self) -> str | None:
        """The claim-version key of the claim or fill behind this evidence (None for other sources)."""
        if self.claim_id is None:
            return None
        if self.source is EvidenceSource.MEDICAL_CLAIM:
            return medical_key(self.claim_id)
        if self.source is EvidenceSource.PHARMACY_CLAIM:
            return fill_key(self.claim_id, self.claim_line_number)
        return None


MEDICAL_KEY = "MED#"
PHARMACY_KEY = "RX#"


def medical_key(claim_id: str) -> str:
    """Claim-version key of a medical claim."""
    return f"{MEDICAL_KEY}{claim_id}"


def fill_key(claim_id: str, fill_number: object) -> str:
    """Claim-version key of a pharmacy fill (claim id + fill number)."""
    return f"{PHARMACY_KEY}{claim_id}#{fill_number}"


# ---- Evidence as columns -------------------------------------------------------------------------------
# Ingest handles evidence as a polars frame (one row per item, these columns): a 1M-line claims file
# yields close to a million items, far too many to build as models.

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "member_id": pl.String(),
    "action": pl.String(),
    "step": pl.String(),
    "action_date": pl.Date(),
    "received_date": pl.Date(),
    "source": pl.String(),
    "file_id": pl.String(),
    "source_row": pl.Int64(),
    "concept": pl.String(),
    "claim_id": pl.String(),
    "claim_line_number": pl.Int64(),
    "attestation_id": pl.String(),
    "attesting_clinic_id": pl.String(),
    "result_value": pl.String(),
    "days_supply": pl.Int64(),
    "condition": pl.String(),
    "kind": pl.String(),
    "code_system": pl.String(),
    "codes": pl.String(),
    "status": pl.String(),
    "verification": pl.String(),
    "intent": pl.String(),
    "negated": pl.Boolean(),
    "reasons": pl.String(),
    "value_codes": pl.String(),
    "unit": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "dated_by": pl.String(),
    "record_id": pl.String(),
    "encounter_id": pl.String(),
    "setting": pl.String(),
    "discharge": pl.String(),
    "body_site": pl.String(),
    "claim_type": pl.String(),
    "bill_type_code": pl.String(),
    "revenue_center_code": pl.String(),
    "admission_date": pl.Date(),
    "discharge_date": pl.Date(),
    "discharge_disposition_code": pl.String(),
    "ms_drg_code": pl.String(),
    "allowed_amount": pl.Decimal(18, 2),
}


def empty_evidence() -> pl.DataFrame:
    """An evidence frame with no rows."""
    return pl.DataFrame(schema=EVIDENCE_SCHEMA)


def evidence_frame(items: Iterable[Evidence]) -> pl.DataFrame:
    """Evidence models as an evidence frame."""
    rows = [item.model_dump(mode="python", exclude={"evidence_id"}) for item in items]
    if not rows:
        return empty_evidence()
    frame = pl.DataFrame(rows, schema=EVIDENCE_SCHEMA)
    return frame.with_columns(pl.col("action").cast(pl.String), pl.col("step").cast(pl.String))


def evidence_models(frame: pl.DataFrame) -> list[Evidence]:
    """The rows of an evidence frame as models (for small frames: tests, single members)."""
    return [Evidence.model_validate(row) for row in frame.select(*EVIDENCE_SCHEMA).iter_rows(named=True)]


def with_claim_key(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame plus `claim_key` (see `Evidence.claim_key`), computed as a column."""
    source = pl.col("source")
    key = (
        pl.when(source == EvidenceSource.MEDICAL_CLAIM.value)
        .then(pl.concat_str(pl.lit(MEDICAL_KEY), pl.col("claim_id")))
        .when(source == EvidenceSource.PHARMACY_CLAIM.value)
        .then(
            pl.concat_str(
                pl.lit(PHARMACY_KEY),
                pl.col("claim_id"),
                pl.lit("#"),
                pl.col("claim_line_number").cast(pl.String),
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return frame.with_columns(key.alias("claim_key"))
