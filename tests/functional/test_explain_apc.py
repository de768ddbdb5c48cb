"""`p4p explain`'s APC part on the in-memory fakes: the quarterly PMPM run's fixture of
`test_quarterly_pmpm.py` (K2 on FFS+, HPI decile 3; February missed a coaching session) ingested, Q1 run
final through every step, then the explain service reads the member's ledger history and the runs and says,
month by month, what Q1's run paid K2 for T2 and why the rest of the year is not paid yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.runs import run_through
from shared import clock
from shared.dal.memory import (
    MemoryFileRegistry,
    MemoryGapStateRepository,
    MemoryLedgerRepository,
    MemoryObjectStore,
    MemoryRunRegistry,
)
from shared.programs.catalog import load_programs
from shared.render.explain_text import explanation_text
from shared.services.explain import ExplainService
from shared.services.runs import RunService
from tests.functional.memory_ingest import memory_ingest
from tests.functional.plan_data import FILES
from tests.functional.test_quarterly_pmpm import (
    ENGAGEMENT,
    HPI_CLINICS,
    MAN_35,
    PROVIDERS,
    QUARTER,
    ROSTER,
    RUN,
    VISITS,
)

CURATED, BUCKETS = "curated", 4
AFTER_QUARTER = datetime(2026, 4, 2, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def explainer() -> ExplainService:
    store, gaps, files = MemoryObjectStore(), MemoryGapStateRepository(), MemoryFileRegistry()
    ledger, runs, programs = MemoryLedgerRepository(), MemoryRunRegistry(), load_programs()
    now = [AFTER_QUARTER]

    def tick() -> datetime:
        now[0] += timedelta(seconds=1)
        return now[0]

    ingest = memory_ingest(store, gaps, curated=CURATED, now=tick, member_buckets=BUCKETS, files=files)
    landed = FILES | {
        "landing/clinics/clinics-2026-04.csv": HPI_CLINICS,
        "landing/providers/providers-2026.csv": PROVIDERS,
        "landing/eligibility/t1.csv": ROSTER,
        "landing/medical_claims/visits-2025.csv": VISITS,
        "landing/ta_engagement/ta-2026-q1.csv": ENGAGEMENT,
    }
    with clock.clock_override(tick):
        for key, body in landed.items():
            store.put_bytes("landing", key, body.encode())
            ingest.ingest("landing", key)
        service = RunService(
            store=store,
            gaps=gaps,
            ledger=ledger,
            runs=runs,
            files=files,
            catalog=programs.care_gap,
            programs=programs,
            curated_bucket=CURATED,
            reports_bucket="reports",
            shard_size=2,
            now=tick,
            sleep=lambda _: None,
            member_buckets=BUCKETS,
        )
        run_through(service, QUARTER, "explain-q1")
    return ExplainService(gaps=gaps, ledger=ledger, runs=runs, programs=programs, now=tick)


def test_a_paid_month_a_ta_missed_month_and_the_quarters_not_run(explainer):
    # GIVEN Q1's final run closed: T2 (a man of 35, K2's roster, attributed to K2 by his visits) paid
    # January and March and recorded at 0.00 for February (one coaching session of two)
    # WHEN K2 asks about T2, for any action
    found = explainer.explain(clinic_id="K2", member_id="T2", action="BCS-E", year=2026)
    (apc,) = [p for p in found.annual if p.program == "apc" and p.measure == "PMPM"]
    by_month = {r.facts.get("months", r.facts.get("month")): r for r in apc.reasons}
    # THEN January is paid by Q1's run at 4.00 x 0.8214 x 1.03, in the male 35-39 band
    january = by_month["2026-01"]
    assert (january.code, january.facts["amount"], january.facts["band"]) == (
        "apc_pmpm_paid",
        MAN_35,
        "male, 35-39 years",
    )
    assert (january.facts["run_id"], january.facts["run_status"]) == (RUN, "CALCULATED")
    # AND February stops at 0.00 on the requirement K2 missed
    assert (by_month["2026-02"].code, by_month["2026-02"].facts["missed"]) == (
        "apc_ta_missed",
        "two coaching sessions",
    )
    # AND April to December wait for quarters whose runs have not started
    assert [(r.code, r.facts["months"], r.facts["status"]) for r in apc.reasons[3:]] == [
        ("apc_quarter_not_closed", f"2026-{a} to 2026-{b}", "not started")
        for a, b in (("04", "06"), ("07", "09"), ("10", "12"))
    ]
    assert len(apc.entries) == 3 and (apc.run_id, apc.version) == (RUN, "apc-2026.1")
    # AND the text prints the part under APC, a line a month or quarter, with no birth date
    text = explanation_text(found)
    assert "APC (apc-2026.1): PMPM 2026 (run quarterly-2026-Q1-final: CALCULATED)" in text
    assert "      - 2026-01 Element 2 PMPM: paid " in text
    assert "      not paid: 2026-02 Element 2 PMPM: 0.00 by run quarterly-2026-Q1-final" in text
    assert "      not paid: 2026-04 to 2026-06: the 2026-Q2 quarterly run" in text
    assert "1990-06-15" not in text


def test_a_clinic_on_no_apc_track_gets_no_apc_part(explainer):
    # GIVEN K1 (no APC track) and T1 on its roster (her months are attributed to K2)
    # WHEN K1 asks about T1
    found = explainer.explain(clinic_id="K1", member_id="T1", action="BCS-E", year=2026)
    # THEN there is no APC part, and nothing of K2 is shown
    assert [p.program for p in found.annual if p.program == "apc"] == []
    assert "K2" not in found.model_dump_json()


def test_element_3_of_an_apc_measure_counts_the_member_as_the_annual_run_would(explainer):
    # GIVEN K2 an APC practice in 2026 and no annual run started
    # WHEN K2 asks about T2 (a man of 35) for BCS-E, one of Element 3's measures
    found = explainer.explain(clinic_id="K2", member_id="T2", action="BCS-E", year=2026)
    (element3,) = [p for p in found.annual if p.program == "apc" and p.measure == "BCS-E"]
    # THEN the annual run is not started, and the run's counter puts him outside BCS-E's population
    assert [r.code for r in element3.reasons] == ["apc_e3_run_not_closed", "apc_e3_not_in_denominator"]
    assert element3.run_id == "annual-2026-final" and element3.entries == ()
    # AND the text prints it as a rule chain under APC, beside the PMPM part
    text = explanation_text(found)
    assert "APC (apc-2026.1): BCS-E 2026 (run annual-2026-final: not started)" in text
    assert "      stopped by: the 2026 annual run, annual-2026-final, is not started" in text


def test_an_apc_measure_that_is_no_care_gap_action_is_element_3_alone(explainer):
    # GIVEN TCOC, an Element 3 cost measure and no Care Gap action
    # WHEN K2 asks about T2 for it
    found = explainer.explain(clinic_id="K2", member_id="T2", action="TCOC", year=2026)
    # THEN there are no Care Gap steps; Element 3 tells his contribution to K2's rate, then the PMPM part
    assert found.steps == () and [p.measure for p in found.annual] == ["TCOC", "PMPM"]
    contribution = found.annual[0].reasons[1]
    assert contribution.code == "apc_e3_contribution" and int(contribution.facts["member_months"]) > 0
