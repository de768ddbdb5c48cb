"""Program phases (issue 14 §1, step 4 of the program design steps): the program file's `phases` validated at
load, the phase in force on each date, the data-submission rules of a reporting month, what a month's phases
pay a clinic, and the SVUs a phase does not pay."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.logic.awards import AwardTrace, Refusal, member_awards
from shared.logic.phases import month_phase_payments, submission_met
from shared.logic.ta_engagement import TaActivity
from shared.models.actions import Step
from shared.models.files import FileKind, FileSubmission
from shared.models.ledger import Phase, PhasePayment
from shared.programs.care_gap import DATA_DIR, ProgramCatalog, parse_program
from shared.programs.phases import SubmissionRules
from shared.programs.stored import ProgramFileError, parse_program_file
from tests.unit.care_gap.factories import attestation, clinic, facts, span

SHIPPED: dict[str, Any] = json.loads(
    (DATA_DIR / "care_gap" / "care_gap_2026.json").read_text(encoding="utf-8")
)
REPORTING_RULES = {"file_kinds": ["eligibility", "attestations"], "due_day": 10, "max_reject_share": "0.05"}
PHASES: list[dict[str, Any]] = [
    {
        "phase": "participation",
        "effective_from": "2026-01-01",
        "effective_through": "2026-02-10",
        "per_clinic_month": "100.00",
        "onboarding_complete": "500.00",
        "onboarding_activities": ["welcome_email", "onboarding_meetings"],
    },
    {
        "phase": "reporting",
        "effective_from": "2026-02-11",
        "effective_through": "2026-03-03",
        "per_clinic_month": "200.00",
        "submission": REPORTING_RULES,
    },
    {"phase": "performance", "effective_from": "2026-03-04", "effective_through": "2026-06-30"},
    {"phase": "success", "effective_from": "2026-07-01", "effective_through": "2026-12-31"},
]


def _version(phases: list[dict[str, Any]]) -> str:
    return json.dumps(SHIPPED | {"version": "care_gap-2026.phased", "phases": phases})


def _problem(phases: list[dict[str, Any]]) -> str:
    with pytest.raises(ValidationError) as raised:
        parse_program(_version(phases))
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in raised.value.errors())


def test_a_program_file_with_phases_loads_and_answers_the_phase_in_force_on_each_day():
    # GIVEN the 2026 version with four phases
    program = parse_program(_version(PHASES))
    # WHEN asked about days either side of each change
    found = {d: program.phase_on(d) for d in (date(2026, 2, 10), date(2026, 2, 11), date(2026, 7, 1))}
    # THEN each day has its phase, and the shipped version (no phases) has none: performance all year
    assert [p.phase if p else None for p in found.values()] == ["participation", "reporting", "success"]
    assert parse_program(json.dumps(SHIPPED)).phase_on(date(2026, 2, 10)) is None
    assert parse_program(json.dumps(SHIPPED)).pays_svu("BCS-E", date(2026, 2, 10)) == (True, None)


def test_success_pays_the_actions_whose_award_varies_with_the_result_and_the_others_pay_as_named():
    # GIVEN the phased version
    program = parse_program(_version(PHASES))
    # THEN participation and reporting pay no SVUs, performance every action, success CBP and GSD only
    assert program.pays_svu("BCS-E", date(2026, 1, 5)) == (False, Phase.PARTICIPATION)
    assert program.pays_svu("BCS-E", date(2026, 3, 1)) == (False, Phase.REPORTING)
    assert program.pays_svu("BCS-E", date(2026, 3, 4)) == (True, Phase.PERFORMANCE)
    assert program.pays_svu("BCS-E", date(2026, 7, 1)) == (False, Phase.SUCCESS)
    assert program.pays_svu("CBP", date(2026, 7, 1)) == (True, Phase.SUCCESS)
    assert program.pays_svu("GSD", date(2026, 12, 31)) == (True, Phase.SUCCESS)
    # AND a success phase naming its outcome actions pays exactly those
    named = [*PHASES[:3], PHASES[3] | {"outcome_actions": ["KED"]}]
    assert parse_program(_version(named)).pays_svu("KED", date(2026, 8, 1)) == (True, Phase.SUCCESS)
    assert parse_program(_version(named)).pays_svu("CBP", date(2026, 8, 1))[0] is False


@pytest.mark.parametrize(
    ("phases", "problem"),
    [
        (
            [PHASES[0], PHASES[1] | {"effective_from": "2026-02-10"}, *PHASES[2:]],
            "phases[1] (reporting, 2026-02-10 to 2026-03-03) overlaps phases[0] (participation, 2026-01-01 "
            "to 2026-02-10): phases must not overlap",
        ),
        (
            [PHASES[0], PHASES[1] | {"phase": "pay_for_luck"}, *PHASES[2:]],
            "phases.1: Input tag 'pay_for_luck' found using 'phase' does not match any of the expected tags: "
            "'participation', 'reporting', 'performance', 'success'",
        ),
        ([PHASES[0], *PHASES[2:]], "no phase is in force between phases[0]"),
        (PHASES[:3], "must end on the version's effective_to (2026-12-31)"),
        ([PHASES[0] | {"onboarding_activities": []}, *PHASES[1:]], "name at least one"),
        ([*PHASES[:3], PHASES[3] | {"outcome_actions": ["XYZ"]}], "unknown outcome action(s) XYZ"),
        ([PHASES[0] | {"per_clinic_month": "100.005"}, *PHASES[1:]], "whole cents"),
        (
            [PHASES[0], PHASES[1] | {"submission": REPORTING_RULES | {"file_kinds": ["faxes"]}}, *PHASES[2:]],
            "phases.1.reporting.submission.file_kinds.0",
        ),
        ([PHASES[0], PHASES[1] | {"submission": REPORTING_RULES | {"due_day": 31}}, *PHASES[2:]], "due_day"),
    ],
    ids=[
        "overlap",
        "unknown-phase",
        "gap",
        "short-of-the-version",
        "onboarding-without-activities",
        "unknown-outcome-action",
        "fraction-of-a-cent",
        "unknown-file-kind",
        "due-day-past-28",
    ],
)
def test_bad_phases_are_refused_at_load_naming_the_phase_and_the_reason(phases, problem):
    # GIVEN a phased version with one thing wrong
    # WHEN it is loaded
    # THEN pydantic refuses it, saying which phase and what is wrong
    assert problem in _problem(phases)


def test_a_dropped_file_with_overlapping_phases_is_refused_naming_the_file():
    # GIVEN a plan's file under programs/care_gap/ whose reporting phase starts inside participation
    body = _version([PHASES[0], PHASES[1] | {"effective_from": "2026-02-01"}, *PHASES[2:]]).encode()
    # WHEN the stored programs read it
    with pytest.raises(ProgramFileError) as raised:
        parse_program_file("programs/care_gap/care_gap-2026.phased.json", body)
    # THEN the error names the key, the phases and that they overlap
    assert raised.value.key == "programs/care_gap/care_gap-2026.phased.json"
    assert "phases[1] (reporting" in raised.value.problem and "must not overlap" in raised.value.problem


RULES = SubmissionRules.model_validate(REPORTING_RULES)


def _file(kind: str, received: date, rows: int = 100, rejected: int = 0) -> FileSubmission:
    return FileSubmission(kind=FileKind(kind), received_on=received, rows_read=rows, rejected=rejected)


def test_a_reporting_month_is_met_by_every_kind_accepted_on_time_and_complete():
    # GIVEN February's rules: eligibility and attestations by 10 March, at most 5% of rows rejected
    on_time = [_file("eligibility", date(2026, 3, 1)), _file("attestations", date(2026, 3, 10), rejected=5)]
    # WHEN the month is checked with both on time, one late, one too incomplete, or one missing
    met = submission_met(RULES, "2026-02", on_time)
    late = submission_met(RULES, "2026-02", [on_time[0], _file("attestations", date(2026, 3, 11))])
    early = submission_met(RULES, "2026-02", [on_time[0], _file("attestations", date(2026, 2, 28))])
    rejects = submission_met(
        RULES, "2026-02", [on_time[0], _file("attestations", date(2026, 3, 2), rejected=6)]
    )
    missing = submission_met(RULES, "2026-02", on_time[:1])
    # THEN only the first is met, and each miss says why (no member data: kinds, days and counts)
    assert (
        met[0]
        and met[1] == "eligibility, attestations accepted by 2026-03-10 with at most 5.00% of rows rejected"
    )
    assert met[2] == ("file:eligibility:2026-03-01", "file:attestations:2026-03-10")
    assert late[:2] == (False, "no attestations file accepted between 2026-03-01 and 2026-03-10")
    assert early[0] is False
    assert rejects[:2] == (False, "attestations files rejected 6 of 100 rows (at most 5.00%)")
    assert missing[0] is False


def _payments(month: str, *, files=(), activities=(), enrolled=date(2025, 11, 1)):
    catalog = ProgramCatalog((parse_program(_version(PHASES)),))
    clinics = {"C1": clinic("C1", enrolled=enrolled)}
    return month_phase_payments(
        clinics=clinics,
        catalog=catalog,
        month=month,
        files=files,
        activities=activities,
        run_id="r",
        payer="plan",
    )


def _paid(entries) -> dict[str, int]:
    return {f"{e.basis.phase}:{e.basis.reason}": e.amount_cents for e in entries}


def test_participation_pays_each_clinic_month_by_its_days_and_onboarding_once_complete():
    # GIVEN C1 enrolled on 15 January, its two onboarding activities completed on 20 and 28 January
    done = [
        TaActivity("C1", "welcome_email", date(2026, 1, 20), "completed"),
        TaActivity("C1", "onboarding_meetings", date(2026, 1, 28), "completed"),
        TaActivity("C2", "welcome_email", date(2026, 1, 20), "completed"),
    ]
    # WHEN January is paid
    january = _payments("2026-01", activities=done, enrolled=date(2026, 1, 15))
    # THEN 17 of 31 days of $100 ($54.84, half up) and the $500 onboarding, each saying the rule it met
    assert _paid(january) == {
        "participation:enrolled_month": 5484,
        "participation:onboarding_complete": 50000,
    }
    basis = january[0].basis
    assert isinstance(basis, PhasePayment) and basis.days == 17 and basis.days_in_month == 31
    assert basis.rule == "in Care Gap P4P 17 of 31 days (2026-01-15 to 2026-01-31)"
    assert january[1].basis.rule == "onboarding complete on 2026-01-28: welcome_email, onboarding_meetings"
    assert january[1].period == "onboarding" and january[0].period == "2026-01"
    # AND an activity not yet completed leaves onboarding unpaid
    assert "participation:onboarding_complete" not in _paid(_payments("2026-01", activities=done[:1]))


def test_a_phase_change_mid_month_pays_each_phase_for_its_own_days():
    # GIVEN February: participation through the 10th, reporting from the 11th, its files on time
    files = [_file("eligibility", date(2026, 3, 5)), _file("attestations", date(2026, 3, 6))]
    # WHEN February is paid with and without its files
    paid = _payments("2026-02", files=files)
    unreported = _payments("2026-02")
    # THEN participation pays 10 of 28 days of $100, reporting 18 of 28 days of $200 (half up)
    assert _paid(paid) == {"participation:enrolled_month": 3571, "reporting:reporting_month": 12857}
    assert _paid(unreported) == {"participation:enrolled_month": 3571}
    reporting = paid[1]
    assert reporting.evidence_refs == ("file:eligibility:2026-03-05", "file:attestations:2026-03-06")
    # AND the two entries have their own deterministic ids
    assert len({e.entry_id for e in paid}) == 2 and [e.entry_id for e in paid] == [
        e.entry_id for e in _payments("2026-02", files=files)
    ]
    # AND performance months pay no fixed amount
    assert _payments("2026-05", files=files) == []


def test_a_step_attested_in_a_phase_that_pays_no_svus_is_refused_by_the_phase():
    # GIVEN the phased version; a schedule attested on 10 February (participation) and a screening on 5 March
    # (performance)
    catalog = ProgramCatalog((parse_program(_version(PHASES)),))
    member = facts(
        attestation(Step.SCHEDULE, date(2026, 2, 10)),
        attestation(Step.PERFORM, date(2026, 3, 5)),
        spans=(span(),),
    )
    trace = AwardTrace()
    # WHEN the member's awards are earned through March
    awards = member_awards(
        member, clinics={"C1": clinic()}, catalog=catalog, through_month="2026-03", run_id="r", trace=trace
    )
    # THEN only the screening is paid, naming the performance phase; the schedule was refused by the phase
    assert [(e.step, e.basis.phase) for e in awards] == [(Step.PERFORM, Phase.PERFORMANCE)]
    refused = {v.step: v.refusal for v in trace.steps if v.completion is not None}
    assert refused[Step.SCHEDULE] is Refusal.PHASE
    # AND the shipped version (no phases) pays both, its awards naming no phase
    shipped = member_awards(
        member,
        clinics={"C1": clinic()},
        catalog=ProgramCatalog((parse_program(json.dumps(SHIPPED)),)),
        through_month="2026-03",
        run_id="r",
    )
    assert [(e.step, e.basis.phase) for e in shipped] == [(Step.SCHEDULE, None), (Step.PERFORM, None)]
    assert "phase" not in shipped[0].model_dump(mode="json")["basis"]
    assert Decimal(shipped[1].amount_cents) == Decimal(awards[0].amount_cents)
