"""The monthly attribution job on a small plan through the real ingest (in-memory stores): the table from
curated Parquet (claims netted across files: a void, a replacement that lost to a later one), the gap
state's providers on the month's last day and the clinics' APC tracks; `explain`; `attributed_practices`;
the refusals, which name the problem and never a member's value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from shared.dal.memory import (
    MemoryGapStateRepository,
    MemoryObjectStore,
)
from shared.logic.attribution import Attributor, attribution_of
from shared.logic.attribution_table import TABLE_SCHEMA
from shared.models.apc import AttributionMember, Product, Visit
from shared.models.files import FileStatus
from shared.programs.apc import load_apc
from shared.services.attribution import (
    AttributionService,
    NoAttributionTableError,
    NoEligibilityError,
    UnknownMemberError,
    attributed_practices,
    read_table,
    table_key,
)
from tests.functional.attribution_plan import FILES, MARCH
from tests.functional.memory_ingest import memory_ingest

CURATED = "curated"


@pytest.fixture
def plan() -> tuple[MemoryObjectStore, AttributionService]:
    store, gaps = MemoryObjectStore(), MemoryGapStateRepository()
    ingest = memory_ingest(store, gaps, curated=CURATED, now=lambda: datetime(2026, 4, 15, tzinfo=UTC))
    for key, body in FILES.items():
        store.put_bytes("landing", key, body.encode())
        outcome = ingest.ingest("landing", key)
        assert (outcome.status, outcome.rejected) == (FileStatus.ACCEPTED, 0), key
    return store, AttributionService(store=store, curated_bucket=CURATED, gaps=gaps, apc=load_apc())


def test_the_month_is_built_from_curated_claims_netted_across_files(plan, caplog) -> None:
    # GIVEN the plan's files ingested, the void and the replacements in a later file than their originals
    store, service = plan
    caplog.clear()
    # WHEN March is built
    summary = service.build("2026-03")
    table = read_table(store, CURATED, "2026-03")
    # THEN its log line carries counts only, no member id
    assert [r.getMessage() for r in caplog.records] == ["attribution built"]
    assert not any(member in str(vars(r)) for r in caplog.records for member in (*MARCH, "A6"))
    # AND every enrolled member has one row, as the plan's notes work it out, written where the runs read it
    assert (summary.key, summary.members, summary.selected_pcp, summary.claims, summary.unattributed) == (
        "curated/attribution/month=2026-03/",
        5,
        1,
        3,
        1,
    )
    assert table.schema == pl.Schema(TABLE_SCHEMA)
    found = {
        r[0]: r[1:]
        for r in table.select("member_id", "practice_id", "provider_npi", "rule", "visits_counted").rows()
    }
    assert found == MARCH
    a2 = table.row(by_predicate=pl.col("member_id") == "A2", named=True)
    assert (a2["last_visit"], a2["allowed_amount"]) == (date(2025, 9, 1), Decimal("250.00"))
    assert (a2["runner_up_practice_id"], a2["runner_up_visits"], a2["runner_up_allowed_amount"]) == (
        "K2",
        1,
        Decimal("90.00"),
    )
    a5 = table.row(by_predicate=pl.col("member_id") == "A5", named=True)
    assert (a5["allowed_amount"], a5["runner_up_practice_id"]) == (Decimal("75.00"), None)
    assert attributed_practices(store, CURATED, "2026-03", ["A2", "A4", "A6"]) == {
        "A2": "K1",
        "A4": None,
        "A6": None,
    }


def test_a_row_equals_attribute_on_the_members_net_visits(plan) -> None:
    # GIVEN March built
    store, service = plan
    service.build("2026-03")
    row = read_table(store, CURATED, "2026-03").row(by_predicate=pl.col("member_id") == "A5", named=True)
    # WHEN A5's net visit (the standing replacement) is attributed on its own
    providers = service._attributor("2026-03").providers
    visit = Visit(
        date=date(2026, 1, 20),
        rendering_npi="2000000002",
        hcpcs_code="99213",
        place_of_service_code="11",
        allowed_amount=Decimal("75.00"),
    )
    one = Attributor(load_apc().latest().attribution, providers).attribute(
        "2026-03", AttributionMember(product=Product.COMMERCIAL_PPO), [visit]
    )
    # THEN the answers agree
    assert attribution_of(row) == one


def test_explain_gives_the_row_the_visits_and_the_tallies_behind_it(plan) -> None:
    # GIVEN March built
    _, service = plan
    service.build("2026-03")
    # WHEN A2's and A1's March are explained
    a2, a1 = service.explain("A2", "2026-03"), service.explain("A1", "2026-03")
    # THEN A2's workings are its two K1 visits and one K2 visit, and two lines that did not count; A1's
    # PCP is on K2's roster and the product prefers it
    assert a2.recorded == a2.current and a2.recorded.practice_id == "K1"
    assert [(v.date, v.practice_id) for v in a2.workings.visits] == [
        (date(2025, 6, 10), "K1"),
        (date(2025, 9, 1), "K1"),
        (date(2026, 1, 15), "K2"),
    ]
    assert [(t.key, t.visits) for t in a2.workings.practices] == [("K1", 2), ("K2", 1)]
    assert a2.workings.not_counted == {
        "not rendered by a primary-care provider of a participating practice": 1,
        "place of service not in the primary-care set": 1,
    }
    assert (a2.product, a2.prefers_pcp) == ("commercial_ppo", False)
    assert (a1.recorded.rule.value, a1.pcp_practice_id, a1.prefers_pcp) == ("selected_pcp", "K2", True)


def test_explain_after_late_data_says_what_the_files_give_now(plan) -> None:
    # GIVEN March built, then a file with a new K2 visit for A4 (whose only visit was voided)
    store, service = plan
    service.build("2026-03")
    late = pl.DataFrame(
        {
            "claim_id": ["C405"],
            "claim_line_number": [1],
            "claim_frequency_code": ["1"],
            "original_claim_id": [None],
            "member_id": ["A4"],
            "claim_start_date": [date(2026, 3, 20)],
            "received_date": [date(2026, 3, 25)],
            "rendering_npi": ["2000000002"],
            "hcpcs_code": ["99213"],
            "place_of_service_code": ["11"],
            "allowed_amount": pl.Series([Decimal("40.00")], dtype=pl.Decimal(18, 2)),
        },
        schema_overrides={"original_claim_id": pl.String},
    )
    store.put_parquet(CURATED, "curated/medical_claims/period=2026-03/late.parquet", late)
    # WHEN A4's March is explained
    a4 = service.explain("A4", "2026-03")
    # THEN the row still says unattributed, and today's claims give K2
    assert (a4.recorded.rule.value, a4.current.rule.value, a4.current.practice_id) == (
        "unattributed",
        "claims",
        "K2",
    )


def test_the_refusals_name_the_problem_and_no_member_value(plan) -> None:
    # GIVEN the plan, March not yet built
    _, service = plan
    # WHEN a month without eligibility is built, March is explained before its build, then a member who
    # is not enrolled in March is explained
    with pytest.raises(NoEligibilityError) as no_roster:
        service.build("2024-06")
    with pytest.raises(NoAttributionTableError) as unbuilt:
        service.explain("A1", "2026-03")
    service.build("2026-03")
    with pytest.raises(UnknownMemberError) as unknown:
        service.explain("A6", "2026-03")
    # THEN each says what is wrong and what to do, and none names the member
    assert "no eligibility span covers 2024-06" in str(no_roster.value)
    assert "p4p attribution build --month 2026-03" in str(unbuilt.value)
    assert "not in the attribution table of 2026-03" in str(unknown.value)
    for error in (no_roster, unbuilt, unknown):
        assert "A1" not in str(error.value) and "A6" not in str(error.value)
    assert table_key("2026-03").startswith("curated/attribution/")


def test_a_quarters_three_months_read_each_curated_file_once_and_build_as_alone(plan) -> None:
    # GIVEN the plan's files ingested, and each month's table built alone by a service of its own
    store, service = plan
    alone = {}
    for month in ("2026-01", "2026-02", "2026-03"):
        AttributionService(store=store, curated_bucket=CURATED, gaps=service._gaps, apc=load_apc()).build(
            month
        )
        alone[month] = read_table(store, CURATED, month)
    gets: list[str] = []
    original = store.get_bytes

    def counted(bucket: str, key: str) -> bytes:
        gets.append(key)
        return original(bucket, key)

    store.get_bytes = counted  # type: ignore[method-assign]
    # WHEN one service builds the three months, as a quarterly run's PlanShards does
    for month in alone:
        service.build(month)
    # THEN no curated input file was read twice, and every table is what its month built alone gives
    inputs = [k for k in gets if k.startswith(("curated/medical_claims/", "curated/eligibility/"))]
    assert inputs and len(inputs) == len(set(inputs))
    for month, table in alone.items():
        assert read_table(store, CURATED, month).equals(table), month
