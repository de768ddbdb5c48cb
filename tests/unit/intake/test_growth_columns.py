"""The intake growth issues 12 and 13 need: medical claims' facility columns, `payer_id` on every tabular
kind, eligibility's `product`, the `providers` kind and the technical-assistance activities."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from cli.generate.clinics import npi_with_check_digit
from shared.intake import SCHEMAS, read_file
from shared.intake.kinds import PRODUCTS, TA_ACTIVITIES
from shared.logic.evidence import claim_evidence
from shared.models.apc import Product
from shared.models.evidence import CLAIM_DETAIL_FIELDS
from shared.models.files import FileKind
from shared.programs.apc import load_apc
from shared.programs.care_gap import load_catalog
from shared.programs.products import load_products
from tests.unit.intake.factories import csv_bytes, rows

AS_OF = date(2026, 6, 30)
MC = FileKind.MEDICAL_CLAIMS
TABULAR = sorted((k for k in SCHEMAS if k is not FileKind.FHIR), key=str)
STAY = {
    "claim_type": "institutional",
    "bill_type_code": "0111",
    "admission_date": "2026-02-03",
    "discharge_date": "2026-02-06",
    "discharge_disposition_code": "01",
    "ms_drg_code": "194",
    "claim_end_date": "2026-02-06",
    "place_of_service_code": None,
}


def _read(kind: FileKind, data: list[dict[str, str | None]]) -> pl.DataFrame:
    result = read_file(csv_bytes(kind, data), kind=kind, source_key=f"landing/{kind}/f.csv", as_of=AS_OF)
    assert result.rejects.rows() == []
    return result.accepted


def test_an_inpatient_stay_is_accepted_typed_and_its_room_line_needs_no_hcpcs_code() -> None:
    # GIVEN an inpatient claim: an emergency room line with its CPT code, a room line with a revenue code only
    ed = rows(MC, 1, **STAY, claim_line_number="1", revenue_center_code="0450", hcpcs_code="99284")
    room = rows(MC, 1, **STAY, claim_line_number="2", revenue_center_code="0120", hcpcs_code=None)
    room[0]["claim_id"] = ed[0]["claim_id"]
    # WHEN the file is read
    accepted = _read(MC, [*ed, *room])
    # THEN both lines are accepted, dates typed as dates, codes kept as sent (leading zeros too)
    assert accepted.height == 2
    assert accepted.schema["admission_date"] == pl.Date and accepted.schema["discharge_date"] == pl.Date
    assert accepted.get_column("hcpcs_code").to_list() == ["99284", None]
    assert set(accepted.get_column("revenue_center_code")) == {"0450", "0120"}
    assert set(accepted.get_column("bill_type_code")) == {"0111"}


def test_a_lines_facility_details_reach_its_evidence_through_intake() -> None:
    # GIVEN an institutional inpatient line and a professional line, read through intake
    stay = rows(MC, 1, **STAY, revenue_center_code="0120", hcpcs_code=None, allowed_amount="9100.00")
    office = rows(MC, 1, claim_type="professional", hcpcs_code="99213", allowed_amount="92.00")
    office[0]["claim_id"] = "C-OFFICE"
    accepted = _read(MC, [*stay, *office])
    # WHEN evidence is extracted from the accepted rows
    found = claim_evidence(accepted, load_catalog().versions[-1].actions, file_id="f")
    # THEN the stay's line is a record carrying its details, typed as the evidence model types them, and
    # the office line's evidence states its type and nothing of a stay
    inpatient = next(e for e in found if e.claim_id == stay[0]["claim_id"] and e.is_record)
    assert (inpatient.claim_type, inpatient.bill_type_code, inpatient.revenue_center_code) == (
        "institutional",
        "0111",
        "0120",
    )
    assert (inpatient.admission_date, inpatient.discharge_date) == (date(2026, 2, 3), date(2026, 2, 6))
    assert (inpatient.discharge_disposition_code, inpatient.ms_drg_code) == ("01", "194")
    assert inpatient.allowed_amount == Decimal("9100.00") and inpatient.concept is None
    visit = [e for e in found if e.claim_id == "C-OFFICE" and not e.is_condition]
    assert visit and all(e.claim_type == "professional" for e in visit)
    assert all(getattr(e, name) is None for e in visit for name in CLAIM_DETAIL_FIELDS[1:-1])


@pytest.mark.parametrize("kind", TABULAR, ids=str)
def test_every_tabular_kind_may_name_its_payer_and_ends_with_it(kind: FileKind) -> None:
    # GIVEN two valid rows of the kind, the first naming a payer, the second none
    data = rows(kind, 2)
    data[0]["payer_id"] = "blue_shield.ca"
    # WHEN the file is read
    accepted = _read(kind, data)
    # THEN payer_id is the kind's last column and both rows are accepted, the missing payer as missing
    assert SCHEMAS[kind].names[-1] == "payer_id"
    assert accepted.get_column("payer_id").to_list() == ["blue_shield.ca", None]


def test_products_are_the_plan_data_list_and_cover_every_product_attribution_knows() -> None:
    # GIVEN the products data file and the products the attribution model names
    listed = load_products().codes
    # WHEN eligibility's product column is compared with them
    # THEN it allows exactly the listed products, among them every one attribution reads
    assert listed == PRODUCTS
    assert {p.value for p in Product} <= listed
    assert SCHEMAS[FileKind.ELIGIBILITY].column("product").allowed == listed


def test_every_product_is_accepted_on_an_eligibility_row() -> None:
    # GIVEN one roster row per listed product
    data = [
        rows(FileKind.ELIGIBILITY, 1, member_id=f"M-{code}", product=code)[0] for code in sorted(PRODUCTS)
    ]
    # WHEN the roster is read
    accepted = _read(FileKind.ELIGIBILITY, data)
    # THEN each product is kept as sent
    assert sorted(accepted.get_column("product")) == sorted(PRODUCTS)


def test_every_activity_the_apc_technical_assistance_reads_is_an_allowed_activity() -> None:
    # GIVEN every APC program version's technical-assistance requirements
    named: set[str] = set()
    for program in load_apc().versions:
        ta = program.population_health.technical_assistance
        named |= set(ta.onboarding_activities) | {r.activity for r in ta.ongoing}
    # WHEN they are compared with the activities ta_engagement accepts
    # THEN a coach's file can report each one, and a file of all of them is accepted whole
    assert named <= TA_ACTIVITIES
    data = [
        rows(FileKind.TA_ENGAGEMENT, 1, activity=a, practice_id=f"P-{a}")[0] for a in sorted(TA_ACTIVITIES)
    ]
    assert _read(FileKind.TA_ENGAGEMENT, data).height == len(TA_ACTIVITIES)


def test_a_providers_npi_passes_exactly_when_its_check_digit_is_the_nppes_one() -> None:
    # GIVEN 200 NPIs made with the NPPES check digit, and each with its last digit changed
    rng = random.Random(5)
    good = [npi_with_check_digit("1" + "".join(str(rng.randrange(10)) for _ in range(8))) for _ in range(200)]
    bad = [n[:9] + str((int(n[9]) + 1 + rng.randrange(9)) % 10) for n in good]
    data = [
        rows(FileKind.PROVIDERS, 1, npi=npi, practice_id=f"P{i}")[0] for i, npi in enumerate([*good, *bad])
    ]
    # WHEN a providers file of them is read
    result = read_file(
        csv_bytes(FileKind.PROVIDERS, data), kind=FileKind.PROVIDERS, source_key="landing/providers/p.csv"
    )
    # THEN every good one is accepted and every altered one rejected INVALID_NPI
    assert result.manifest.accepted == 200
    assert result.rejects.rows() == [(201 + i, "npi", "INVALID_NPI") for i in range(200)]
