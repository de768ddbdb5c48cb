"""The ledger's side of a step: paid, due on the next run (its month's run not closed, or a closed run that
settled before the evidence came), reversed, to be reversed, or paid at an amount that changed. What the
next run would append is `settle_member`'s answer on what is known now; each case is worked by hand."""

from __future__ import annotations

from datetime import date

from shared.logic.reversals import settle_member
from shared.models.actions import Step
from shared.models.explain import StepStatus
from shared.models.runs import RunStatus
from tests.unit.care_gap.factories import attestation, claim, facts, span
from tests.unit.explain.scenarios import codes, covers, explain, recorded, run, step

SCHEDULE = attestation(Step.SCHEDULE, date(2026, 2, 10))


@covers("run_not_closed")
def test_a_step_earned_in_a_month_whose_run_is_open_or_not_started():
    # GIVEN a schedule attested in February; February's final run OPEN, then no run at all
    m = facts(SCHEDULE)
    open_run = explain(m, runs=[run("2026-02", RunStatus.OPEN)])
    no_run = explain(m)
    # THEN it is due, stopped by its month's run: open, then not started (Q8: paid after the month)
    for found, status in ((open_run, "OPEN"), (no_run, "not started")):
        schedule = step(found, "2026", "schedule")
        assert schedule.status is StepStatus.DUE and schedule.stopped_by is not None
        assert schedule.stopped_by.facts == {
            "earned_month": "2026-02",
            "run_id": "monthly-2026-02-final",
            "status": status,
        }


@covers("not_known_at_last_run")
def test_a_claim_the_last_closed_run_settled_without():
    # GIVEN a claim received on 2 April; April's run closed before it arrived (it recorded nothing)
    found = explain(facts(claim(date(2026, 3, 5), date(2026, 4, 2))), runs=[run("2026-03"), run("2026-04")])
    # THEN every step is due: earned in April on the claim, unknown to April's run; the next run pays it
    assert {s.status for s in found.steps} == {StepStatus.DUE}
    reason = step(found, "2026", "claim").stopped_by
    assert reason is not None and reason.code == "not_known_at_last_run"
    assert reason.facts == {
        "earned_month": "2026-04",
        "evidence": "claim:CL1#1",
        "known_date": "2026-04-02",
        "run_id": "monthly-2026-04-final",
    }


@covers("reversed")
def test_a_claim_paid_then_voided():
    # GIVEN a claim paid by April's run and its void: May's run reversed the three steps
    paid = recorded(facts(claim(date(2026, 3, 5), date(2026, 4, 2))), "2026-04")
    reversals = settle_member(paid, [], run_id="monthly-2026-05-final", month="2026-05")
    # WHEN C1 asks now that the claim is gone
    found = explain(facts(), history=paid + reversals, runs=[run("2026-04"), run("2026-05")])
    # THEN each step was paid and reversed (net nothing), and is not done now
    claim_step = step(found, "2026", "claim")
    assert claim_step.status is StepStatus.REVERSED and codes(claim_step.reasons) == ["reversed", "not_done"]
    assert claim_step.reasons[0].facts["reversed_by"] == "monthly-2026-05-final"
    assert found.net_paid_cents == 0 and len(found.entries) == 6


@covers("reversal_due")
def test_a_screening_paid_before_the_roster_was_corrected():
    # GIVEN a screening claim paid to C1 by April's run; a corrected roster now puts the member at C2 on
    # the service date
    screening = claim(date(2026, 3, 5), date(2026, 4, 2))
    paid = recorded(facts(screening), "2026-04")
    corrected = facts(
        screening, spans=(span("C2", end=date(2026, 4, 30)), span("C1", start=date(2026, 5, 1)))
    )
    found = explain(corrected, history=paid, runs=[run("2026-04")])
    # THEN the assignment stops each step for C1, and the next run reverses what C1 was paid
    claim_step = step(found, "2026", "claim")
    assert claim_step.status is StepStatus.REVERSAL_DUE
    assert codes(claim_step.reasons) == ["completed", "paid", "not_assigned", "reversal_due"]
    assert claim_step.stopped_by is not None and claim_step.stopped_by.code == "not_assigned"


@covers("amount_changed")
def test_a_step_paid_at_an_amount_the_evidence_no_longer_earns():
    # GIVEN the schedule paid 1.00 by February's run, where the rate card now earns 12.00 (10 SVUs + 20 %)
    (paid,) = recorded(facts(SCHEDULE), "2026-02")
    found = explain(
        facts(SCHEDULE), history=[paid.model_copy(update={"amount_cents": 100})], runs=[run("2026-02")]
    )
    # THEN the next run reverses the 1.00 and pays 12.00
    schedule = step(found, "2026", "schedule")
    assert schedule.status is StepStatus.DUE and schedule.stopped_by is not None
    assert schedule.stopped_by.text.startswith(
        "paid 1.00 by run monthly-2026-02-final; what is known now earns 12.00"
    )
