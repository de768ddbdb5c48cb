"""What the generator writes for the APC measures and plans paying together: hospital claims (emergency
visits, inpatient stays), asthma and opioid-use-disorder fills, products, provider rosters and
technical-assistance engagement; every file passes intake whole."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from cli.generate import APC_KINDS, FIXED_KINDS, OPTIONAL_KINDS, GeneratedPlan, generate_plan
from cli.generate.courses import BUPRENORPHINE, INHALED_CONTROLLER, ORAL_CONTROLLER, RELIEVER
from cli.generate.members import PRODUCT_OF_LINE
from shared.intake import read_file
from shared.models.files import FileKind
from shared.programs.apc import load_apc
from tests.unit.generate.conftest import SMALL_SEED, read_kind, spec_columns

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_generate_apc")

AS_OF = date(2027, 6, 30)
CONTROLLERS = set(INHALED_CONTROLLER.ndcs) | set(ORAL_CONTROLLER.ndcs)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPlan:
    kinds = set(FIXED_KINDS | OPTIONAL_KINDS | APC_KINDS)
    return generate_plan(tmp_path_factory.mktemp("whole"), members=1000, seed=SMALL_SEED, kinds=kinds)


@pytest.mark.parametrize("kind", sorted(FIXED_KINDS | OPTIONAL_KINDS | APC_KINDS))
def test_every_generated_file_passes_intake_whole_with_the_specs_columns(
    whole: GeneratedPlan, kind: str
) -> None:
    # GIVEN every file of a kind in a plan generated with every kind
    paths = whole.paths(kind)
    # WHEN each is read by intake as the ingest would, after the year's run-out
    results = [
        read_file(p.read_bytes(), kind=FileKind(kind), source_key=f"landing/{kind}/{p.name}", as_of=AS_OF)
        for p in paths
    ]
    # THEN there are some, each has exactly the spec's columns, and not a row is rejected (a few are
    # superseded: replacements, voids and reversals in the same file)
    assert paths
    assert {p.read_text().splitlines()[0] for p in paths} == {",".join(spec_columns(kind))}
    assert {(r.manifest.status.value, r.manifest.rejected) for r in results} == {("ACCEPTED", 0)}


def test_emergency_visits_have_the_hospitals_claim_and_stays_are_inpatient_claims(
    whole: GeneratedPlan,
) -> None:
    # GIVEN the claims
    claims = read_kind(whole, "medical_claims")
    hospital = claims.filter(pl.col("claim_type") == "institutional")
    ed = hospital.filter(pl.col("bill_type_code") == "131")
    stays = hospital.filter(pl.col("bill_type_code") == "111")
    # WHEN they are told apart by claim type and type of bill
    # THEN every professional line says so; each ED claim has an emergency room line with the visit's CPT
    # code; each stay has its dates in order, an MS-DRG and a disposition on every line, and a room line
    # coded by revenue code alone; some stays came in through the emergency room
    assert set(claims["claim_type"]) == {"professional", "institutional"}
    assert claims.filter(pl.col("place_of_service_code") == "23")["claim_type"].unique().to_list() == [
        "professional"
    ]
    ed_lines = ed.filter(pl.col("revenue_center_code").str.starts_with("045"))
    assert ed_lines["claim_id"].n_unique() == ed["claim_id"].n_unique() > 20
    assert set(ed_lines["hcpcs_code"]) <= {"99283", "99284", "99285"}
    assert stays["claim_id"].n_unique() > 20
    assert (stays["admission_date"] <= stays["discharge_date"]).all()
    assert stays["ms_drg_code"].str.contains(r"^\d{3}$").all()
    assert stays["discharge_disposition_code"].str.contains(r"^\d{2}$").all()
    room = stays.filter(pl.col("revenue_center_code") == "0120")
    assert room["claim_id"].n_unique() == stays["claim_id"].n_unique() and room["hcpcs_code"].is_null().all()
    through_ed = stays.filter(pl.col("revenue_center_code") == "0450")["claim_id"].n_unique()
    assert 0 < through_ed < stays["claim_id"].n_unique()
    assert hospital["billing_clinic_id"].is_null().all() and hospital["place_of_service_code"].is_null().all()


def test_asthma_fills_run_over_two_years_and_oud_fills_follow_their_diagnosis(whole: GeneratedPlan) -> None:
    # GIVEN the fills and the members' diagnoses on claims
    fills = read_kind(whole, "pharmacy_claims").filter(pl.col("claim_status") == "paid")
    claims = read_kind(whole, "medical_claims")
    dx = pl.concat_list("diagnosis_code_1", "diagnosis_code_2", "diagnosis_code_3")
    with_dx = claims.with_columns(dx=dx).explode("dx").select("member_id", "dx").unique()
    asthmatic = set(with_dx.filter(pl.col("dx") == "J45909")["member_id"])
    dependent = set(with_dx.filter(pl.col("dx") == "F1120")["member_id"])
    year = pl.col("dispensing_date").str.slice(0, 4)
    # WHEN controller, reliever and buprenorphine fills are found
    controller = fills.filter(pl.col("ndc_code").is_in(sorted(CONTROLLERS)))
    reliever = fills.filter(pl.col("ndc_code").is_in(list(RELIEVER.ndcs)))
    oud = fills.filter(pl.col("ndc_code").is_in(list(BUPRENORPHINE.ndcs)))
    # THEN they are the members with asthma (both years) and with opioid dependence (in the year)
    assert set(controller["member_id"]) | set(reliever["member_id"]) <= asthmatic
    assert set(controller.with_columns(y=year)["y"]) == {"2025", "2026"}
    assert controller["member_id"].n_unique() > 10 and reliever["member_id"].n_unique() > 10
    only_reliever = set(reliever["member_id"]) - set(controller["member_id"])
    assert only_reliever, "some members take only a reliever (their ratio fails)"
    assert oud.height > 0 and set(oud["member_id"]) <= dependent
    assert set(oud.with_columns(y=year)["y"]) == {"2026"}


def test_rosters_name_each_members_product(whole: GeneratedPlan) -> None:
    # GIVEN the rosters
    roster = read_kind(whole, "eligibility")
    # WHEN products are compared with lines of business
    # THEN each line of business is sold as its product, and the deploying plan pays (no payer named)
    pairs = set(roster.select("line_of_business", "product").unique().iter_rows())
    assert pairs == {(line, PRODUCT_OF_LINE[line]) for line in set(roster["line_of_business"])}
    assert roster["payer_id"].is_null().all()


def test_every_pcp_on_the_claims_is_a_primary_care_provider_of_the_clinic_billed(
    whole: GeneratedPlan,
) -> None:
    # GIVEN the provider roster and the clinics' claims
    providers = read_kind(whole, "providers")
    billed = (
        read_kind(whole, "medical_claims")
        .drop_nulls("billing_clinic_id")
        .select("rendering_npi", practice_id="billing_clinic_id")
        .unique()
    )
    pcps = providers.filter(pl.col("primary_care") == "true")
    # WHEN each rendering provider of a clinic's claim is looked up
    found = billed.join(
        pcps, left_on=["rendering_npi", "practice_id"], right_on=["npi", "practice_id"], how="left"
    )
    # THEN each is a PCP there, affiliated over the 24-month lookback and open-ended; others are not PCPs
    assert found["effective_date"].null_count() == 0
    assert (found["effective_date"] <= "2025-01-01").all() and found["termination_date"].is_null().all()
    others = providers.filter(pl.col("primary_care") == "false")
    assert (
        others.height == providers["practice_id"].n_unique() and others["termination_date"].null_count() > 0
    )


def test_each_apc_practice_meets_its_ta_requirements_but_for_the_designed_misses(
    whole: GeneratedPlan,
) -> None:
    # GIVEN the engagement rows and the APC program's requirements
    engagement = read_kind(whole, "ta_engagement").with_columns(pl.col("activity_date").str.to_date())
    clinics = read_kind(whole, "clinics").unique("clinic_id")
    apc = set(clinics.filter(pl.col("apc_payment_track") != "none")["clinic_id"])
    ta = load_apc().for_year(2026).population_health.technical_assistance  # type: ignore[union-attr]
    done = engagement.filter(pl.col("status") == "completed")
    # WHEN each practice's onboarding and monthly coaching are counted
    onboarded = done.filter(pl.col("activity_date") <= ta.onboarding_complete_by)
    coaching = (
        done.filter(pl.col("activity") == "coaching_session")
        .group_by("practice_id", pl.col("activity_date").dt.month().alias("month"))
        .len()
    )
    # THEN exactly the APC practices report, each onboarded in time, with two sessions a month except the
    # month a session was missed
    assert set(engagement["practice_id"]) == apc
    for practice in apc:
        assert set(ta.onboarding_activities) <= set(
            onboarded.filter(pl.col("practice_id") == practice)["activity"]
        )
    missed = engagement.filter(pl.col("status") == "missed")
    assert 0 < missed.height < len(apc)
    short = coaching.filter(pl.col("len") < 2).select("practice_id", "month").sort("practice_id").rows()
    assert short == sorted((r["practice_id"], r["activity_date"].month) for r in missed.iter_rows(named=True))
    assert coaching.height == 12 * len(apc)


def test_the_bench_claims_file_has_hospital_claims_too(tmp_path: Path) -> None:
    # GIVEN a plan of only the kinds the benchmarks read
    plan = generate_plan(tmp_path, members=400, kinds={"medical_claims"})
    # WHEN its claims are read
    claims = read_kind(plan, "medical_claims")
    # THEN they hold institutional lines beside the professional ones
    assert claims.filter(pl.col("claim_type") == "institutional").height > 0
