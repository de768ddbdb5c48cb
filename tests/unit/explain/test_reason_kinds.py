"""The kinds of reasons: every one is proven by a test of its own, docs/explain.md's table is them, and the
explanation is the awards' own answer (what it calls paid or due is what `member_awards` earns)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from shared.logic.awards import member_awards
from shared.logic.dates import month_of
from shared.models.actions import LineOfBusiness, Sex, Step
from shared.models.evidence import EvidenceSource
from shared.models.explain import REASON_KINDS, StepStatus, reason_kind
from tests.unit.care_gap.factories import (
    CATALOG,
    attest,
    attestation,
    claim,
    diagnosis,
    facts,
    item,
    profile,
    span,
)
from tests.unit.explain import (
    test_apc_incentive_reasons,
    test_apc_reasons,
    test_benchmark_reasons,
    test_care_gap_reasons,
    test_ledger_reasons,
)
from tests.unit.explain.scenarios import AS_OF, CLINICS, COVERED, explain
from tests.unit.explain.table import reasons_table

DOC = Path(__file__).resolve().parents[3] / "docs" / "explain.md"
TESTED = (
    test_apc_incentive_reasons,
    test_apc_reasons,
    test_benchmark_reasons,
    test_care_gap_reasons,
    test_ledger_reasons,
)


def test_every_kind_of_reason_has_a_test_of_its_own():
    # GIVEN the kinds registered and the tests' `covers` marks (modules: TESTED)
    # WHEN they are compared
    missing = sorted(set(REASON_KINDS) - COVERED)
    # THEN every kind is proven by a scenario
    assert missing == [] and len(TESTED) == 5


def test_the_docs_reasons_table_is_the_registered_kinds():
    # GIVEN the kinds as the models register them
    expected = reasons_table()
    # WHEN docs/explain.md's table is read
    found = re.search(r"<!-- table:reasons -->\n(.*?)\n<!-- /table:reasons -->", DOC.read_text(), re.S)
    # THEN it is exactly them (print it with `python -m tests.unit.explain.table`)
    assert found is not None and found.group(1) == expected


def test_a_reason_takes_exactly_the_facts_its_wording_names_and_a_code_is_registered_once():
    # GIVEN a kind naming a date
    kind = REASON_KINDS["no_program"]
    # WHEN it is given too few or too many facts, or registered again
    # THEN it refuses
    with pytest.raises(ValueError, match="takes"):
        kind.reason()
    with pytest.raises(ValueError, match="takes"):
        kind.reason(date=date(2026, 1, 1), member="M1")
    with pytest.raises(ValueError, match="twice"):
        reason_kind("no_program", program="care_gap", wording="x", source="y")
    assert (
        kind.reason(date=date(2026, 1, 1)).text
        == "no Care Gap P4P program version was in force on 2026-01-01"
    )


def test_no_wording_takes_a_name_or_a_birth_date():
    # GIVEN every kind's facts
    names = {name for kind in REASON_KINDS.values() for name in kind.fields}
    # THEN none is a name or a birth date (the clinic reads them; ages are shown as the action's band)
    assert not {n for n in names if "name" in n or "birth" in n or n in {"age", "gender", "sex"}}


def _statin(*evidence):
    m = profile(birth=date(1955, 1, 1), gender=Sex.M)
    return facts(
        diagnosis("Statins", date(2026, 1, 15)), *evidence, member=m, spans=(span(lob=LineOfBusiness.CA),)
    )


CASES = [
    (
        "BCS-E",
        facts(attestation(Step.SCHEDULE, date(2026, 2, 10)), claim(date(2026, 3, 5), date(2026, 4, 2))),
    ),
    (
        "BCS-E",
        facts(
            claim(date(2026, 3, 5), date(2026, 3, 20)),
            spans=(span("C2", end=date(2026, 4, 30)), span("C1", start=date(2026, 5, 1))),
        ),
    ),
    (
        "STA-RFL-30",
        _statin(
            attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 1)),
            attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 3, 20)),
            item(
                "STA-RFL-30",
                date(2026, 3, 5),
                step=Step.DISPENSE,
                source=EvidenceSource.PHARMACY_CLAIM,
                concept="00071015523",
                days_supply=30,
            ),
            attest("STA-RFL-30", Step.PRESCRIBE, date(2026, 6, 1), clinic_id="C2"),
        ),
    ),
    (
        "CBP",
        facts(
            attest("CBP", Step.PERFORM, date(2026, 3, 10)),
            diagnosis("Essential Hypertension", date(2026, 1, 2)),
        ),
    ),
]


@pytest.mark.parametrize(("action", "member"), CASES)
def test_what_the_explanation_calls_paid_or_due_is_what_the_awards_earn_the_clinic(action, member):
    # GIVEN a member scenario and what member_awards earns C1 in 2026 through today
    earned = {
        (e.period, e.step)
        for e in member_awards(
            member, clinics=CLINICS, catalog=CATALOG, through_month=month_of(AS_OF), run_id="r"
        )
        if e.clinic_id == "C1" and e.action == action and e.period.startswith("2026")
    }
    # WHEN C1 asks for the explanation (no run has paid anything)
    found = explain(member, action)
    # THEN the steps it calls due are exactly those, and every other step names what stopped it
    due = {(s.period, s.step) for s in found.steps if s.status is StepStatus.DUE}
    assert due == earned
    assert all(s.stopped_by is not None for s in found.steps)
