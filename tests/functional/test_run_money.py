"""The money of monthly runs on in-memory storage: reversals, carried balances, exact totals (hypothesis)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.runs import MemoryPlan, cover_eligibility, memory_plan, run_month
from shared.logic.awards import member_awards
from shared.logic.reversals import carry_balances, live_awards, settle_member
from shared.models.actions import Step
from shared.models.evidence import Evidence, EvidenceSource
from shared.models.ledger import DEFAULT_PAYER as PAYER
from shared.models.ledger import EntryKind, LedgerEntry
from shared.models.runs import RunStatus
from shared.services.settlement import draft_key
from shared.services.statements import payment_amounts
from tests.unit.care_gap.factories import CATALOG, attestation, claim, clinic, item, profile, span

CLINICS = {"C1": clinic("C1"), "C2": clinic("C2", enrolled=date(2025, 6, 1))}
MONTHS = [f"2026-{m:02d}" for m in range(1, 7)]


def new_plan(members: dict[str, str]) -> MemoryPlan:
    plan = memory_plan(shard_size=2, catalog=CATALOG)
    cover_eligibility(plan, date(2025, 1, 1), date(2026, 12, 31))
    plan.gaps.put_clinics(CLINICS.values())
    plan.gaps.put_roster(
        [profile(m).model_copy(update={"clinic_id": c}) for m, c in members.items()],
        [span(c, member_id=m) for m, c in members.items()],
    )
    return plan


def payments(plan: MemoryPlan, run_id: str) -> dict[str, int]:
    return payment_amounts(plan.store.get_bytes("reports", draft_key(run_id)))


def net_by_slot(entries: list[LedgerEntry]) -> dict[tuple[str, str, str], int]:
    net: dict[tuple[str, str, str], int] = defaultdict(int)
    for e in entries:
        if not e.kind.is_balance:
            net[(e.member_id, e.clinic_id, e.step.value if e.step else "")] += e.amount_cents
    return {k: v for k, v in net.items() if v}


def truth(plan: MemoryPlan, month: str) -> dict[tuple[str, str, str], int]:
    """What the evidence held now earns through `month`, computed from scratch."""
    out: dict[tuple[str, str, str], int] = {}
    for member_id in plan.gaps.profiles:
        facts = plan.gaps.member(member_id)
        assert facts is not None
        awards = member_awards(facts, clinics=CLINICS, catalog=CATALOG, through_month=month, run_id="t")
        for e in awards:
            out[(e.member_id, e.clinic_id, e.step.value if e.step else "")] = e.amount_cents
    return {k: v for k, v in out.items() if v}


def test_settling_twice_appends_nothing_and_a_lost_award_is_reversed_once():
    # GIVEN an award paid in March, then its claim voided
    facts = (
        new_plan({"M1": "C1"})
        .gaps.member("M1")
        .model_copy(update={"evidence": (claim(date(2026, 3, 2), date(2026, 3, 9)),)})  # type: ignore[union-attr]
    )
    paid = member_awards(facts, clinics=CLINICS, catalog=CATALOG, through_month="2026-03", run_id="march")
    first = settle_member([], paid, run_id="march", month="2026-03")
    # WHEN April settles with no supporting evidence, and settles again after appending its entries
    april = settle_member(first, [], run_id="april", month="2026-04")
    again = settle_member(first + april, [], run_id="april", month="2026-04")
    # THEN April reverses every award once, each naming its award, and the second settle adds nothing
    assert {e.kind for e in april} == {EntryKind.REVERSAL}
    assert sorted(e.reverses or "" for e in april) == sorted(e.entry_id for e in first)
    assert sum(e.amount_cents for e in first + april) == 0
    assert again == [] and live_awards(first + april) == {}


def test_a_step_earned_again_after_its_reversal_takes_a_new_id():
    # GIVEN an award reversed by a later run
    award = member_awards(
        new_plan({"M1": "C1"})
        .gaps.member("M1")
        .model_copy(update={"evidence": (attestation(Step.SCHEDULE, date(2026, 2, 3)),)}),  # type: ignore[union-attr]
        clinics=CLINICS,
        catalog=CATALOG,
        through_month="2026-02",
        run_id="feb",
    )
    history = settle_member([], award, run_id="feb", month="2026-02")
    history += settle_member(history, [], run_id="mar", month="2026-03")
    # WHEN the same step is supported again
    again = settle_member(history, award, run_id="apr", month="2026-04")
    # THEN a generation-1 EARN with a fresh id is appended, and the ids of the three entries differ
    assert [(e.kind, e.generation) for e in again] == [(EntryKind.EARN, 1)]
    assert len({e.entry_id for e in history + again}) == 3


def test_a_claim_and_its_void_net_to_zero_and_a_negative_month_is_carried_not_paid():
    # GIVEN M1 at C1 screened by a claim received in March, paid by March's run
    plan = new_plan({"M1": "C1"})
    mammogram = claim(date(2026, 3, 2), date(2026, 3, 9))
    plan.gaps.put_evidence([mammogram])
    march = run_month(plan.service, "2026-03")
    # WHEN the claim is voided (the ingest side deletes its evidence) and April, then May, run
    plan.gaps.retract("M1", mammogram.evidence_id)
    april = run_month(plan.service, "2026-04")
    may = run_month(plan.service, "2026-05")
    # THEN April reverses all of March, nets C1 to zero with a carried balance and pays C1 nothing;
    # May brings the balance in and carries it on; the member's awards net to zero
    paid = march["totals"].total_cents
    assert paid > 0 and payments(plan, "monthly-2026-03-final") == {"C1": paid}
    april_entries = list(plan.ledger.by_run("monthly-2026-04-final"))
    assert sorted(e.kind.value for e in april_entries) == ["CARRY_OUT"] + ["REVERSAL"] * 3
    assert april["totals"].total_cents == 0 and payments(plan, "monthly-2026-04-final") == {}
    may_kinds = sorted(e.kind.value for e in plan.ledger.by_run("monthly-2026-05-final"))
    assert may_kinds == ["CARRY_IN", "CARRY_OUT"] and may["totals"].total_cents == 0
    assert net_by_slot(list(plan.ledger.entries.values())) == {}
    assert [
        e.amount_cents for e in plan.ledger.balances("monthly-2026-05-final") if e.kind is EntryKind.CARRY_OUT
    ] == [paid]


def test_carried_balances_defer_a_negative_total_without_losing_a_cent():
    # GIVEN C1 carried 500 cents out of March, and April earns 300 for C1 and 200 for C2
    carried = carry_balances(
        {(PAYER, "C1"): -500}, [], program="care_gap", run_id="mar", month="2026-03", as_of=date(2026, 3, 31)
    )
    # WHEN April settles its balances
    april = carry_balances(
        {(PAYER, "C1"): 300, (PAYER, "C2"): 200},
        carried,
        program="care_gap",
        run_id="apr",
        month="2026-04",
        as_of=date(2026, 4, 30),
    )
    # THEN C1 brings -500 in and carries 200 out; C2 is untouched; no clinic is left below zero
    assert [(e.kind, e.clinic_id, e.amount_cents) for e in april] == [
        (EntryKind.CARRY_IN, "C1", -500),
        (EntryKind.CARRY_OUT, "C1", 200),
    ]
    assert april[0].reverses == carried[0].entry_id


EVENT = st.tuples(
    st.sampled_from(["M1", "M2", "M3"]),
    st.sampled_from(["claim", "schedule", "perform"]),
    st.integers(min_value=1, max_value=5),  # month the evidence arrives
    st.one_of(st.none(), st.integers(min_value=1, max_value=3)),  # months later it is voided, if ever
)


def _evidence(index: int, member: str, kind: str, month: int) -> Evidence:
    day = date(2026, month, 5)
    if kind == "claim":
        return claim(day, date(2026, month, 20), claim_id=f"CL{index}", member_id=member)
    step = Step.SCHEDULE if kind == "schedule" else Step.PERFORM
    return attestation(step, day, attestation_id=f"A{index}", member_id=member)


def _run_schedule(events: list[tuple[str, str, int, int | None]], order: list[int]) -> MemoryPlan:
    plan = new_plan({"M1": "C1", "M2": "C1", "M3": "C2"})
    items = [
        (_evidence(i, m, k, a), a, None if v is None else a + v) for i, (m, k, a, v) in enumerate(events)
    ]
    for month_number, month in enumerate(MONTHS, start=1):
        for i in order:
            evidence, arrives, voided = items[i]
            if arrives == month_number:
                plan.gaps.put_evidence([evidence])
            if voided == month_number:
                plan.gaps.retract(evidence.member_id, evidence.evidence_id)
        state = run_month(plan.service, month)
        assert state["closed"].status is RunStatus.CALCULATED
    return plan


@settings(max_examples=25, deadline=None)
@given(st.lists(EVENT, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_runs_pay_exactly_what_the_final_evidence_earns_whatever_the_order(events, rnd):
    # GIVEN evidence arriving month by month, some of it voided later, in two different arrival orders
    order = list(range(len(events)))
    shuffled = order[:]
    rnd.shuffle(shuffled)
    # WHEN January to June run on each
    plan, other = _run_schedule(events, order), _run_schedule(events, shuffled)
    # THEN every run reconciled with no negative payment line; across the runs the ledger nets, step by
    # step, to what the final evidence earns; paid plus carried equals that sum to the cent; and the
    # arrival order within a month changes nothing
    entries = list(plan.ledger.entries.values())
    assert net_by_slot(entries) == truth(plan, MONTHS[-1])
    paid = 0
    for month in MONTHS:
        run_id = f"monthly-{month}-final"
        rows = payments(plan, run_id)
        assert all(cents > 0 for cents in rows.values())
        assert sum(rows.values()) == sum(e.amount_cents for e in plan.ledger.by_run(run_id))
        paid += sum(rows.values())
    owed = sum(
        e.amount_cents
        for e in plan.ledger.balances(f"monthly-{MONTHS[-1]}-final")
        if e.kind is EntryKind.CARRY_OUT
    )
    assert paid - owed == sum(truth(plan, MONTHS[-1]).values())
    assert sorted(plan.ledger.entries) == sorted(other.ledger.entries)
    assert all(e.amount_cents >= 0 or e.kind in (EntryKind.REVERSAL, EntryKind.CARRY_IN) for e in entries)


def test_a_statement_line_takes_its_category_from_the_program_version_that_earned_it():
    # GIVEN an adult's flu dose in January 2026: its ledger period is the 2025-26 season ("2025"), a year
    # for which no program version is in force, earned under the 2026 version
    plan = new_plan({"M1": "C1"})
    plan.gaps.put_evidence(
        [item("AIS-E", date(2026, 1, 20), source=EvidenceSource.IMMUNIZATION, concept="141")]
    )
    # WHEN January is paid
    run_month(plan.service, "2026-01")
    # THEN the statement's AIS-E lines say immunization, not unknown, and name the version
    text = plan.store.get_bytes("reports", "statements/monthly-2026-01-final/C1.csv").decode()
    lines = [r for r in csv.DictReader(io.StringIO(text)) if r["record_type"] == "LINE"]
    assert lines and {(r["action"], r["category"]) for r in lines} == {("AIS-E", "immunization")}
    entries = list(plan.ledger.by_run("monthly-2026-01-final"))
    assert {e.period for e in entries} == {"2025"} and {r["rule_version"] for r in lines} == {
        "care_gap-2026.1"
    }
