"""Da Vinci VBPR value-based performance reports of a clinic's ledger: earned incentive per payment stream,
to the cent, and member months."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from shared.logic.fhir_export import Naming, member_months, payment_stream, vbpr_report
from shared.logic.fhir_export.resources import clinic_organization, payer_organization
from shared.models.actions import ActionCode, LineOfBusiness, Sex, Step
from shared.models.ledger import (
    CarriedBalance,
    EntryKind,
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    SvuAward,
)
from shared.models.members import EligibilitySpan, MemberFacts, MemberProfile
from tests.unit.fhir_export.conftest import GENERATED, RUN_ID, make_clinic
from tests.unit.fhir_export.fhir import cents, codings, extension, resolve, validated

VBPR = "http://hl7.org/fhir/us/davinci-vbpr"
STREAM_URL = f"{VBPR}/StructureDefinition/payment-stream"
MONEY_URL = f"{VBPR}/StructureDefinition/alternate-measurescore"
METRICS = f"{VBPR}/CodeSystem/vbp-performance-metric"
STREAMS = f"{VBPR}/CodeSystem/payment-stream"


def _entry(basis: Any, cents_: int, *, period: str = "2026", kind: EntryKind = EntryKind.EARN, **more: Any):
    return LedgerEntry(
        program="care_gap",
        clinic_id="K1",
        member_id=more.pop("member_id", ""),
        period=period,
        kind=kind,
        basis=basis,
        amount_cents=cents_,
        rule_version="v",
        action_date=date(2026, 12, 31),
        earned_month="2027-06",
        run_id=RUN_ID,
        **more,
    )


def _svu(action: str = "BCS-E", step: Step = Step.PERFORM) -> SvuAward:
    one = Decimal(1)
    return SvuAward(
        action=ActionCode(action), step=step, svu=one, multiplier=one, bonus_rate=Decimal(0), dollar_rate=one
    )


def _incentive(line: str) -> MeasureIncentive:
    return MeasureIncentive(
        scheme="benchmark",
        line_of_business=line,
        assigned_members=100,
        amount_per_member=Decimal(10),
        composite=Decimal("0.5"),
    )


GUARANTEE = GuaranteeTopUp(
    component="make_whole",
    year=2026,
    enrollment_date=date(2026, 4, 1),
    days_before=90,
    days_on_care_gap=275,
    benchmark_full_year_cents=100_00,
    care_gap_earnings_cents=40_00,
    equivalent_benchmark_cents=75_34,
)

ENTRIES = [
    _entry(_svu(), 1250, period="2026-03", member_id="M1"),
    _entry(_svu("COL-E"), 375, member_id="M2"),
    _entry(_svu("COL-E"), -375, member_id="M2", kind=EntryKind.REVERSAL, reverses="x"),
    _entry(_incentive("MC"), 100_000),
    _entry(_incentive("CA"), 23_456),
    _entry(GUARANTEE, 5001),
    _entry(CarriedBalance(), 999, period="2026-11", kind=EntryKind.CARRY_OUT),
    _entry(_svu("CBP"), 7000, period="2025", member_id="M3"),
    _entry(_incentive("MC"), 7777, payer="healthworx"),
]


def _report(naming: Naming, payer: str = "plan", months: dict[str, int] | None = None) -> dict:
    clinic = clinic_organization(make_clinic(), naming)
    payer_org = payer_organization(payer, naming)
    report = vbpr_report(
        run_id=RUN_ID,
        year=2026,
        payer=payer_org,
        payer_id=payer,
        clinic=clinic,
        entries=ENTRIES,
        months=months,
        generated=GENERATED,
        naming=naming,
    )
    assert report is not None
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in (report, clinic, payer_org)],
    }
    validated(bundle)
    return validated(report) | {"_bundle": bundle}


def _streams(report: dict) -> dict[str, dict]:
    found = {}
    for group in report["group"]:
        if group["id"] == "member-months":
            continue
        stream = extension(group, STREAM_URL)
        (kind,) = stream["extension"]
        assert kind["url"] == "type"
        engine = [c["code"] for c in kind["valueCodeableConcept"]["coding"] if c["system"] != STREAMS]
        found[engine[0]] = group | {
            "_vbpr": {c for s, c in codings(kind["valueCodeableConcept"]) if s == STREAMS}
        }
    return found


def _earned(group: dict) -> int:
    return cents(extension(group["measureScore"], MONEY_URL)["valueMoney"])


def test_the_report_is_a_vbpr_performance_report_of_the_clinic_by_its_payer(naming: Naming) -> None:
    # GIVEN the clinic's ledger entries
    # WHEN the plan's report is built
    report = _report(naming)
    bundle = report["_bundle"]
    # THEN it is VBPR's value-based performance report: category vbp, summary, no improvement notation
    assert report["meta"]["profile"] == [f"{VBPR}/StructureDefinition/vbp-performance-measurereport"]
    category = extension(report, "http://hl7.org/fhir/StructureDefinition/measurereport-category")
    assert codings(category["valueCodeableConcept"]) == {
        ("http://hl7.org/fhir/CodeSystem/measurereport-category", "vbp")
    }
    assert (report["status"], report["type"]) == ("complete", "summary")
    assert "improvementNotation" not in report
    assert report["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    # AND its subject is the clinic (through the organization-subject extension), its reporter the payer
    (subject,) = report["subject"]["extension"]
    assert subject["url"] == f"{VBPR}/StructureDefinition/organization-subject"
    assert resolve(bundle, subject["valueReference"])["name"] == "Clinic K1"
    assert resolve(bundle, report["reporter"])["identifier"][0]["value"] == "plan"


def test_earned_incentive_per_stream_to_the_cent(naming: Naming) -> None:
    # GIVEN SVU awards of 12.50 and 3.75 with the 3.75 reversed, Benchmark 1000.00 (MC) and 234.56 (CA),
    # a make-whole of 50.01, a carried balance, a 2025 award and another payer's Benchmark
    # WHEN the plan's 2026 report is built
    streams = _streams(_report(naming))
    # THEN each stream of the plan's 2026 earnings has one earned-incentive group, in USD cents
    assert {s: _earned(g) for s, g in streams.items()} == {
        "care_gap_svu": 1250,
        "benchmark": 123_456,
        "guarantee": 5001,
    }
    assert all(codings(g["code"]) == {(METRICS, "earned-incentive")} for g in streams.values())
    # AND each is coded with VBPR's payment stream as well as the engine's
    assert {s: g["_vbpr"] for s, g in streams.items()} == {
        "care_gap_svu": {"p4p"},
        "benchmark": {"p4p"},
        "guarantee": {"qip"},
    }
    # AND Benchmark's lines of business are strata adding up to it
    (stratifier,) = streams["benchmark"]["stratifier"]
    by_line = {
        s["value"]["text"]: cents(extension(s["measureScore"], MONEY_URL)["valueMoney"])
        for s in stratifier["stratum"]
    }
    assert by_line == {"CA": 23_456, "MC": 100_000}


def test_another_payer_gets_its_own_report(naming: Naming) -> None:
    # GIVEN the same entries
    # WHEN the report of the second payer is built
    streams = _streams(_report(naming, payer="healthworx"))
    # THEN it carries only that payer's Benchmark incentive
    assert {s: _earned(g) for s, g in streams.items()} == {"benchmark": 7777}


def _member(member_id: str, clinic: str, line: LineOfBusiness, start: date, end: date | None) -> MemberFacts:
    profile = MemberProfile(member_id=member_id, birth_date=date(1960, 1, 1), gender=Sex.F, clinic_id=clinic)
    span = EligibilitySpan(member_id=member_id, start=start, end=end, line_of_business=line, clinic_id=clinic)
    return MemberFacts(profile=profile, spans=(span,))


def test_member_months_from_the_roster(naming: Naming) -> None:
    # GIVEN two members at K1 in 2026: one Medi-Cal 1 January to 15 June (6 months), one CareAdvantage from
    # 10 March on (10 months), and a third elsewhere
    members = [
        _member("M1", "K1", LineOfBusiness.MC, date(2026, 1, 1), date(2026, 6, 15)),
        _member("M2", "K1", LineOfBusiness.CA, date(2026, 3, 10), None),
        _member("M3", "K2", LineOfBusiness.MC, date(2025, 1, 1), None),
    ]
    # WHEN member months are counted and reported with the plan's earnings
    months = member_months(members, 2026)
    report = _report(naming, months=months["K1"])
    # THEN K1 has 16, 6 and 10 by line, as a member-months group without a payment stream
    assert months == {"K1": {"CA": 10, "MC": 6}, "K2": {"MC": 12}}
    (group,) = [g for g in report["group"] if g["id"] == "member-months"]
    assert codings(group["code"]) == {(METRICS, "member-months")}
    assert group["measureScore"]["value"] == 16
    assert "extension" not in group
    strata = {s["value"]["text"]: s["measureScore"]["value"] for s in group["stratifier"][0]["stratum"]}
    assert strata == {"CA": 10, "MC": 6}


def test_a_carried_balance_is_no_payment_stream() -> None:
    # GIVEN an entry of each basis
    # WHEN their streams are read
    # THEN awards, incentives and top-ups have theirs and a balance has none
    assert [payment_stream(e) for e in ENTRIES[:7]] == [
        "care_gap_svu",
        "care_gap_svu",
        "care_gap_svu",
        "benchmark",
        "benchmark",
        "guarantee",
        None,
    ]


def test_a_clinic_that_earned_nothing_has_no_report(naming: Naming) -> None:
    # GIVEN only a carried balance
    # WHEN the report is built
    report = vbpr_report(
        run_id=RUN_ID,
        year=2026,
        payer=payer_organization("plan", naming),
        payer_id="plan",
        clinic=clinic_organization(make_clinic(), naming),
        entries=[ENTRIES[6]],
        months=None,
        generated=GENERATED,
        naming=naming,
    )
    # THEN there is none
    assert report is None
