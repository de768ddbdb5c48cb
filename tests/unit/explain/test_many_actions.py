"""Several of a member's actions explained at once (the pages' way) say what each explained alone says:
the awards and the eligibility probes are per action, so asking them once for all changes nothing."""

from __future__ import annotations

from datetime import date

from shared.logic.explain import explain_gaps
from shared.models.actions import ActionCode, Step
from tests.unit.care_gap.factories import CATALOG, attest, attestation, claim, facts, profile, span
from tests.unit.explain.scenarios import AS_OF, CLINICS, explain, recorded, run

ACTIONS = ("BCS-E", "COL-E", "CHL", "CBP")


def test_explaining_several_actions_at_once_says_what_each_alone_says() -> None:
    # GIVEN a member with a BCS-E schedule paid by February's run, a claim received after it, a COL-E
    # schedule attested, and nothing for the other two actions
    member = facts(
        attestation(Step.SCHEDULE, date(2026, 2, 10)),
        claim(date(2026, 3, 5), date(2026, 4, 2)),
        attest("COL-E", Step.SCHEDULE, date(2026, 5, 6)),
        member=profile(birth=date(1968, 5, 5)),
        spans=(span(start=date(2025, 1, 1)),),
    )
    history = recorded(member, "2026-02")
    runs = [run("2026-02")]
    # WHEN the four are explained together, and each alone
    together = explain_gaps(
        member,
        clinic_id="C1",
        actions=[ActionCode(a) for a in ACTIONS],
        year=2026,
        clinics=CLINICS,
        catalog=CATALOG,
        history=history,
        runs=runs,
        as_of=AS_OF,
    )
    alone = [explain(member, a, history=history, runs=runs) for a in ACTIONS]
    # THEN they are the same explanations, in the order asked
    assert [x.action for x in together] == list(ACTIONS)
    assert together == alone
    assert any(s.entries for s in together[0].steps) and together[1].evidence, "paid and evidenced actions"
