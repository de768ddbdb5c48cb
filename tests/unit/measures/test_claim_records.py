"""Claim lines and fills as the measure engine's records: the facility and cost details a line states, the
lines and diagnoses only a measure reads, and files from before the details yielding what they always did."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from shared.dal.evidence_codec import pack_evidence
from shared.logic.evidence import claim_evidence, claim_evidence_frame, pharmacy_evidence
from shared.models.evidence import CLAIM_DETAIL_FIELDS, EvidenceSource, record_action
from tests.unit.care_gap.factories import PROGRAM

ACTIONS = list(PROGRAM.actions)
SERVICE = date(2026, 3, 2)


def line(n: int, hcpcs_code: str | None, dx: str = "R509", **details: Any) -> dict[str, Any]:
    return {
        "claim_id": f"C{n}",
        "claim_line_number": 1,
        "claim_frequency_code": details.pop("frequency", "1"),
        "member_id": "M1",
        "claim_start_date": SERVICE,
        "received_date": date(2026, 3, 20),
        "hcpcs_code": hcpcs_code,
        "diagnosis_code_1": dx,
        "source_row": n,
        **details,
    }


INPATIENT = {
    "claim_type": "institutional",
    "bill_type_code": "0111",
    "revenue_center_code": "0120",
    "admission_date": "2026-03-02",
    "discharge_date": "2026-03-05",
    "discharge_disposition_code": "01",
    "ms_drg_code": "190",
    "allowed_amount": "8000.00",
}


def test_a_file_without_claim_types_yields_exactly_the_evidence_it_did_before() -> None:
    # GIVEN a mammogram line and a room-and-board line as today's files send them (an allowed amount, no
    # claim type), and the same lines without the allowed amount
    with_amount = pl.DataFrame([line(1, "77067", allowed_amount="140.00"), line(2, "99999")])
    without = with_amount.drop("allowed_amount")
    # WHEN both become evidence and are packed
    packed = [
        pack_evidence(claim_evidence_frame(f, ACTIONS, file_id="f")).get_column("packed").to_list()
        for f in (with_amount, without)
    ]
    # THEN they are the same, the mammogram's line alone, with no claim details and no record of line 2
    assert packed[0] == packed[1]
    items = claim_evidence(with_amount, ACTIONS, file_id="f")
    assert [(i.action, i.concept) for i in items] == [("BCS-E", "77067")]
    assert all(getattr(i, name) is None for i in items for name in CLAIM_DETAIL_FIELDS)


def test_a_line_that_states_its_claim_type_carries_its_details_and_is_kept_when_no_action_reads_it() -> None:
    # GIVEN a professional mammogram line and an inpatient room-and-board line (no HCPCS code; its dates
    # as ISO text, as a test frame may hold them), in a file without the MS-DRG column
    details = {k: v for k, v in INPATIENT.items() if k != "ms_drg_code"}
    professional: dict[str, Any] = dict.fromkeys(details) | {"claim_type": "professional"}
    frame = pl.DataFrame(
        [
            line(1, "77067", **professional),
            line(2, None, **details),
        ]
    )
    # WHEN the lines become evidence
    items = claim_evidence(frame, ACTIONS, file_id="f")
    by_claim = {i.claim_id: i for i in items}
    # THEN the mammogram evidences BCS-E with its claim type; the stay becomes a claim record with every
    # detail it states, and the MS-DRG the file lacks is None
    assert (by_claim["C1"].action, by_claim["C1"].claim_type) == ("BCS-E", "professional")
    stay = by_claim["C2"]
    assert stay.action == record_action("Claim") and stay.concept is None
    assert (stay.bill_type_code, stay.revenue_center_code, stay.discharge_disposition_code) == (
        "0111",
        "0120",
        "01",
    )
    assert (stay.admission_date, stay.discharge_date) == (date(2026, 3, 2), date(2026, 3, 5))
    assert stay.allowed_amount == Decimal("8000.00") and stay.ms_drg_code is None
    # AND no line is kept twice
    assert len(items) == 2


def test_a_void_line_is_no_record_and_a_line_without_a_claim_type_is_none_though_a_measure_names_it() -> None:
    # GIVEN a voided inpatient line; a line without a claim type whose code (J2315, an OUD injection) and
    # diagnosis (F11.20, opioid dependence) POD's definition names; and the same line stating its type
    named = {"hcpcs_code": "J2315", "dx": "F1120"}
    frame = pl.DataFrame(
        [
            line(1, None, frequency="8", **INPATIENT),
            line(2, **named) | {"claim_type": None},
            line(3, **named) | {"claim_type": "professional"},
        ],
        schema_overrides={"hcpcs_code": pl.String, "claim_type": pl.String},
    )
    # WHEN the lines become evidence
    items = claim_evidence(frame, ACTIONS, file_id="f")
    # THEN only the line that states its type is kept: the line and its diagnosis, each a record
    assert sorted((i.claim_id, i.action, i.concept) for i in items) == [
        ("C3", record_action("Claim"), "J2315"),
        ("C3", record_action("Condition"), "F1120"),
    ]
    # AND the diagnosis record is a condition, with no cost of its own (the line's record has it)
    dx = next(i for i in items if i.action == record_action("Condition"))
    assert dx.condition == "F1120" and dx.claim_type is None


def test_a_diagnosis_a_measure_names_becomes_a_condition_record_beside_the_lines_other_evidence() -> None:
    # GIVEN two lines stating their type: a mammogram whose diagnoses are persistent asthma (AMR names
    # J45.30) and diabetes (a Care Gap condition fact; no measure names E11.9 itself), and a line with the
    # same asthma code
    professional = {"claim_type": "professional"}
    frame = pl.DataFrame(
        [
            line(1, "77067", dx="J4530", **professional) | {"diagnosis_code_2": "E119"},
            line(2, "99999", dx="J4530", **professional),
        ]
    )
    # WHEN the lines become evidence
    items = claim_evidence(frame, ACTIONS, file_id="f")
    conditions = sorted((i.claim_id, i.concept) for i in items if i.action == record_action("Condition"))
    # THEN each asthma diagnosis is a condition record of its line, the code as its condition; diabetes
    # stays what the menu makes of it (a fact, a recapture), no record
    assert conditions == [("C1", "J4530"), ("C2", "J4530")]
    assert all(i.condition == "J4530" for i in items if i.action == record_action("Condition"))
    assert "DX:Diabetes" in {i.action for i in items}
    assert not [i for i in items if i.action.startswith("QM:") and i.concept == "E119"]
    # AND the second line, which no action reads, is a claim record
    assert [(i.claim_id, i.concept) for i in items if i.action == record_action("Claim")] == [("C2", "99999")]


def test_a_fill_a_measure_names_is_a_dispense_record_and_a_menu_fill_is_not_recorded_twice() -> None:
    # GIVEN a paid albuterol fill (an AMR reliever), a reversed one, and a paid statin fill (SPC's)
    def row(n: int, status: str, ndc: str, day: str) -> dict[str, Any]:
        return {
            "claim_id": f"R{n}",
            "fill_number": 0,
            "claim_status": status,
            "member_id": "M1",
            "ndc_code": ndc,
            "dispensing_date": day,
            "days_supply": 30,
            "source_row": n,
        }

    fills = pl.DataFrame(
        [
            row(1, "paid", "59310057922", "2026-02-01"),
            row(2, "reversed", "59310057922", "2026-02-03"),
            row(3, "paid", "00071015523", "2026-02-05"),
        ]
    )
    # WHEN the fills become evidence
    items = pharmacy_evidence(fills, ACTIONS, file_id="rx")
    # THEN the albuterol fill is a dispense record, the statin evidences its actions only
    records = [(i.claim_id, i.concept) for i in items if i.action == record_action("MedicationDispense")]
    assert records == [("R1", "59310057922")]
    assert all(i.source is EvidenceSource.PHARMACY_CLAIM for i in items)
    assert {i.action for i in items if i.claim_id == "R3"} <= {"SPC", "SPD", "STA-RFL-30", "DX:Statins"}
