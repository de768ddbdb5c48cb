"""A generated plan through the real ingest (in-memory stores) gives the APC utilization and asthma measures
something to count: AHU and EDU member months and events, AMR's denominator; and its providers and
rosters are read back as later code reads them (affiliations on a day, a member-month's product)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cli.generate import GeneratedPlan, generate_plan
from shared.dal.memory import (
    MemoryGapStateRepository,
    MemoryObjectStore,
)
from shared.logic.annual_incentives import attributed_months
from shared.logic.eligibility import month_coverage
from shared.logic.measures.apc import WHOLE, apc_member_year, apc_rated_measures, apc_valuesets
from shared.models.files import FileStatus
from shared.programs.apc import load_apc
from shared.programs.care_gap import load_catalog
from tests.functional.memory_ingest import memory_ingest

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_generated_apc_data")

YEAR = 2026
INGEST_ORDER = (
    "clinics",
    "providers",
    "eligibility",
    "medical_claims",
    "pharmacy_claims",
    "ta_engagement",
)
LANDING = "landing"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedPlan, MemoryGapStateRepository]:
    plan = generate_plan(
        tmp_path_factory.mktemp("apc-plan"),
        members=700,
        clinics=5,
        year=YEAR,
        seed=5,
        kinds=set(INGEST_ORDER),
    )
    store, gaps = MemoryObjectStore(), MemoryGapStateRepository()
    # After the year's run-out and its last payments, as the annual run reads the year.
    service = memory_ingest(store, gaps, curated="curated", now=lambda: datetime(YEAR + 1, 6, 30, tzinfo=UTC))
    for kind in INGEST_ORDER:
        for generated in (f for f in plan.files if f.kind == kind):
            store.put_bytes(LANDING, generated.landing_key, Path(generated.path).read_bytes())
            outcome = service.ingest(LANDING, generated.landing_key)
            assert (outcome.status.value, outcome.rejected) == (FileStatus.ACCEPTED.value, 0), generated.path
    return plan, gaps


def test_a_generated_plan_gives_ahu_edu_and_amr_populations_through_the_real_ingest(
    ingested: tuple[GeneratedPlan, MemoryGapStateRepository],
) -> None:
    # GIVEN a generated plan ingested whole, and the APC measure set of its year
    _, gaps = ingested
    program = load_apc().for_year(YEAR)
    assert program is not None
    rated = apc_rated_measures(program)
    valuesets = apc_valuesets(load_catalog().in_force(date(YEAR, 1, 1)))
    member_months: Counter[str] = Counter()
    events: Counter[str] = Counter()
    amr = Counter[str]()
    # WHEN every member's year is rated over the months a roster attributed it
    for member_id in sorted(gaps.profiles):
        facts = gaps.member(member_id)
        assert facts is not None
        months = sorted({m for ms in attributed_months(facts.spans, YEAR).values() for m in ms})
        if not months:
            continue
        year = apc_member_year(facts, rated, year=YEAR, months=months, program=program, valuesets=valuesets)
        for code in ("AHU", "EDU"):
            member_months[code] += year.contributions[code].member_months
            events[code] += year.contributions[code].events
        amr_populations = year.parts["AMR"][WHOLE]
        amr["denominator"] += amr_populations.denominator
        amr["numerator"] += amr_populations.denominator and amr_populations.numerator
    # THEN AHU and EDU count member months and events (discharges, emergency visits), and AMR has members
    # with persistent asthma in both years, some of whom reach the ratio and some of whom do not
    assert member_months["AHU"] > 1800 and member_months["EDU"] > 1800
    assert events["AHU"] > 5 and events["EDU"] > 20
    assert amr["denominator"] >= 5
    assert 0 < amr["numerator"] < amr["denominator"]


def test_the_generated_providers_and_products_read_back_as_attribution_would(
    ingested: tuple[GeneratedPlan, MemoryGapStateRepository],
) -> None:
    # GIVEN the same ingested plan
    _, gaps = ingested
    # WHEN the providers in force mid-year and each member's June coverage are read
    on_july = gaps.providers_on(date(YEAR, 7, 1))
    primary = {a.practice_id for a in on_july.values() if a.primary_care}
    products = Counter(
        c.product
        for member_id in gaps.profiles
        for c in month_coverage(gaps.member(member_id).spans, f"{YEAR}-06", plan_payer="plan")  # type: ignore[union-attr]
    )
    # THEN every clinic has its primary-care providers, some behavioural providers have left by July, and
    # June's member-months name their products, all with the deploying plan
    assert primary == set(gaps.clinics())
    assert 0 < sum(1 for a in on_july.values() if not a.primary_care) < len(gaps.clinics())
    assert set(products) == {"medi_cal", "medicare_advantage", "commercial_hmo"}
    assert products["medi_cal"] > products["medicare_advantage"]
