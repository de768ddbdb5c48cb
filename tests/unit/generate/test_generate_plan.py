from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from cli.generate import GeneratedPlan, UnsupportedKindError, generate_claims_file, generate_plan
from shared.logic.clinics import merge_clinic
from shared.logic.roster import clinics_from_rows
from shared.models.members import Clinic
from tests.unit.generate.conftest import SMALL_SEED, read_kind, small_plan, spec_columns

# One worker builds the module fixture once; split across workers it was built on each.
pytestmark = pytest.mark.xdist_group("test_generate_plan")

FIXED = ("clinics", "eligibility", "medical_claims", "attestations")
MAMMOGRAPHY = ("77067", "77066", "77065", "77063")


def _bytes_by_name(plan: GeneratedPlan) -> dict[str, bytes]:
    return {f"{f.kind}/{f.path.name}": f.path.read_bytes() for f in plan.files}


def test_same_seed_gives_same_bytes_and_another_seed_does_not(plan: GeneratedPlan, tmp_path: Path) -> None:
    # GIVEN a plan already generated with a seed
    # WHEN the same arguments are generated again, and once with another seed
    again = small_plan(tmp_path / "again")
    other = small_plan(tmp_path / "other", seed=SMALL_SEED + 1)
    # THEN the same seed reproduces every file byte for byte, another seed changes the claims
    assert _bytes_by_name(again) == _bytes_by_name(plan)
    claims_name = "medical_claims/medical_claims-2026-03.csv"
    assert _bytes_by_name(other)[claims_name] != _bytes_by_name(plan)[claims_name]


@pytest.mark.parametrize("kind", FIXED)
def test_columns_are_exactly_those_of_the_file_spec(plan: GeneratedPlan, kind: str) -> None:
    # GIVEN the columns docs/file-specs.md fixes for the kind
    expected = spec_columns(kind)
    # WHEN the header of every generated file of that kind is read
    headers = {path.read_text().splitlines()[0] for path in plan.paths(kind)}
    # THEN each file has exactly those columns, in that order
    assert headers == {",".join(expected)}


def test_file_names_follow_the_landing_convention(plan: GeneratedPlan) -> None:
    # GIVEN a generated plan
    # WHEN its files are listed
    # THEN each sits at <kind>/<kind>-<year>-<nn>.csv and maps to landing/<kind>/<name>
    for f in plan.files:
        assert f.path.parent.name == f.kind
        assert f.path.name.startswith(f"{f.kind}-20") and f.path.suffix == ".csv"
        assert f.landing_key == f"landing/{f.kind}/{f.path.name}"
    assert len(plan.paths("eligibility")) == 12


def test_counts_fall_in_the_planned_ranges(plan: GeneratedPlan) -> None:
    # GIVEN a plan of 1,000 members in 5 clinics
    members = plan.members
    # WHEN the files are read back
    roster = read_kind(plan, "eligibility")
    claims = read_kind(plan, "medical_claims")
    member_months = roster.select("member_id", "_file").unique().height
    # THEN rosters hold about every member each month and claims run about 4 lines per member-month
    assert pl.read_csv(plan.paths("clinics")[0]).height == plan.clinics == 5
    assert 0.85 * members * 12 <= member_months <= members * 12
    assert 3.0 <= claims.height / member_months <= 5.5
    assert 0 < read_kind(plan, "attestations").height < members
    assert plan.counts == {kind: read_kind(plan, kind).height for kind in FIXED}


def test_members_look_like_the_plan_population(plan: GeneratedPlan) -> None:
    # GIVEN the eligibility rosters
    roster = read_kind(plan, "eligibility").with_columns(
        pl.col("birth_date", "enrollment_start_date", "enrollment_end_date").str.to_date()
    )
    members = roster.unique("member_id")
    lob = members["line_of_business"].value_counts().to_dicts()
    shares = {row["line_of_business"]: row["count"] / members.height for row in lob}
    # WHEN their demographics and spans are checked
    ages = (date(2026, 1, 1) - members["birth_date"]).dt.total_days() // 365
    spans = roster.unique(["member_id", "enrollment_start_date"])
    # THEN ids are synthetic, the mix is Medi-Cal heavy with CA and HW, children are there, spans are sane
    assert members["member_id"].str.starts_with("SYN").all()
    assert shares["MC"] > 0.6 and shares["CA"] > 0.03 and shares["HW"] > 0.03
    assert (ages < 18).sum() > 0.2 * members.height and (ages >= 65).sum() > 0
    assert (roster["birth_date"] <= roster["enrollment_start_date"]).all()
    ends = roster.drop_nulls("enrollment_end_date")
    assert ends.height > 0 and (ends["enrollment_end_date"] >= ends["enrollment_start_date"]).all()
    switched = spans.group_by("member_id").agg(pl.col("assigned_clinic_id").n_unique().alias("clinics"))
    assert (switched["clinics"] > 1).sum() > 0


def test_pediatric_clinic_has_only_children(plan: GeneratedPlan) -> None:
    # GIVEN the clinics file and the rosters
    clinics = read_kind(plan, "clinics")
    pediatric = clinics.filter(pl.col("track") == "pediatric")["clinic_id"].to_list()
    roster = read_kind(plan, "eligibility").with_columns(pl.col("birth_date").str.to_date())
    # WHEN the members assigned to pediatric-track clinics are aged
    kids = roster.filter(pl.col("assigned_clinic_id").is_in(pediatric))
    ages = (date(2026, 12, 31) - kids["birth_date"]).dt.total_days() // 365
    # THEN there are some, and none is older than the track's 24 years
    assert pediatric and kids.height > 0 and (ages <= 24).all()
    assert set(clinics["program"]) == {"care_gap", "benchmark"}


def test_one_clinic_switches_from_benchmark_to_care_gap_mid_year(plan: GeneratedPlan) -> None:
    # GIVEN the clinics files in the order they are sent
    files = plan.paths("clinics")
    frames = [pl.read_csv(p, infer_schema=False) for p in files]
    # WHEN the engine reads them one after the other, keeping each clinic's history
    known: dict[str, Clinic] = {}
    for frame in frames:
        for clinic in clinics_from_rows(frame):
            known[clinic.clinic_id] = merge_clinic(known.get(clinic.clinic_id), clinic)
    # THEN January's file and July's differ in one clinic only, which was in Benchmark P4P until it joined
    # Care Gap on 1 July; other clinics are in Benchmark or in Care Gap
    assert [p.name for p in files] == ["clinics-2026-01.csv", "clinics-2026-07.csv"]
    moved = (
        frames[0]
        .join(frames[1], on="clinic_id", suffix="_later")
        .filter(pl.col("program") != pl.col("program_later"))
    )
    assert moved.select("program", "program_later").rows() == [("benchmark", "care_gap")]
    assert (
        frames[0]
        .drop("program", "program_enrollment_date")
        .equals(frames[1].drop("program", "program_enrollment_date"))
    )
    switcher = known[moved["clinic_id"][0]]
    assert [(e.program, e.start, e.end) for e in switcher.enrollments] == [
        ("benchmark", date(2026, 1, 1), date(2026, 6, 30)),
        ("care_gap", date(2026, 7, 1), None),
    ]
    assert switcher.care_gap_start(2026) == date(2026, 7, 1) and not switcher.in_benchmark_for(2026)
    assert any(c.in_benchmark_for(2026) for c in known.values())
    assert any(c.in_care_gap_on(date(2026, 1, 1)) for c in known.values())


def test_codes_and_amounts_follow_the_file_rules(plan: GeneratedPlan) -> None:
    # GIVEN the claims and clinics files
    claims = read_kind(plan, "medical_claims")
    clinics = read_kind(plan, "clinics")
    # WHEN their formats are checked
    # THEN amounts have two decimals, ids have the right digits, dates are ISO and ordered
    for column in ("allowed_amount", "paid_amount"):
        assert claims[column].str.contains(r"^\d+\.\d{2}$").all()
    assert claims["rendering_npi"].str.contains(r"^\d{10}$").all()
    assert claims["rendering_tin"].str.contains(r"^\d{9}$").all()
    assert clinics["tin"].str.contains(r"^\d{9}$").all() and clinics["npi"].str.contains(r"^\d{10}$").all()
    dated = claims.with_columns(pl.col("claim_start_date", "claim_end_date", "received_date").str.to_date())
    assert (dated["claim_start_date"] <= dated["claim_end_date"]).all()
    assert (dated["claim_start_date"] < dated["received_date"]).all()
    assert claims.select("claim_id", "claim_line_number").is_unique().all()
    assert {"99213", "99214", "77067", "3074F"} <= set(claims["hcpcs_code"])


def test_every_adjustment_references_an_earlier_original(plan: GeneratedPlan) -> None:
    # GIVEN all claim lines of the year and its run-out
    claims = read_kind(plan, "medical_claims").with_columns(pl.col("received_date").str.to_date())
    originals = claims.filter(pl.col("claim_frequency_code") == "1").select(
        pl.col("claim_id").alias("original_claim_id"), pl.col("received_date").alias("original_received")
    )
    adjustments = claims.filter(pl.col("claim_frequency_code").is_in(["7", "8"]))
    # WHEN each replacement or void is matched to the claim it names
    matched = adjustments.join(originals.unique(), on="original_claim_id", how="left")
    # THEN there are both kinds, each names an existing original, received no earlier than it
    assert set(adjustments["claim_frequency_code"]) == {"7", "8"}
    assert matched["original_received"].null_count() == 0
    assert (matched["received_date"] >= matched["original_received"]).all()
    assert claims.filter(pl.col("claim_frequency_code") == "1")["original_claim_id"].null_count() == (
        claims.filter(pl.col("claim_frequency_code") == "1").height
    )


def test_mammography_only_for_women_of_screening_age(plan: GeneratedPlan) -> None:
    # GIVEN mammography lines and the members' birth dates and sex
    members = read_kind(plan, "eligibility").unique("member_id").select("member_id", "birth_date", "gender")
    lines = read_kind(plan, "medical_claims").filter(pl.col("hcpcs_code").is_in(MAMMOGRAPHY))
    # WHEN each is aged on the service date
    joined = lines.join(members, on="member_id", how="left").with_columns(
        pl.col("claim_start_date", "received_date", "birth_date").str.to_date()
    )
    age = (joined["claim_start_date"] - joined["birth_date"]).dt.total_days() / 365.25
    lag = (joined["received_date"] - joined["claim_start_date"]).dt.total_days()
    # THEN they are all women aged 50-74, read 5 to 60 days (plus any adjustment delay) later
    assert joined.height > 0
    assert (joined["gender"] == "F").all()
    assert ((age >= 50) & (age < 75)).all()
    original_lags = lag.filter(joined["claim_frequency_code"] == "1")
    assert ((original_lags >= 5) & (original_lags <= 60)).all()


def _spans(plan: GeneratedPlan) -> pl.DataFrame:
    """Final spans from the rosters: a later roster may add the end date of a span."""
    roster = read_kind(plan, "eligibility").sort("_file")
    return (
        roster.group_by("member_id", "enrollment_start_date", maintain_order=True)
        .agg(pl.col("assigned_clinic_id").last(), pl.col("enrollment_end_date").last())
        .with_columns(pl.col("enrollment_start_date", "enrollment_end_date").str.to_date())
    )


def test_attestations_come_from_the_assigned_care_gap_clinic_on_that_date(plan: GeneratedPlan) -> None:
    # GIVEN the attestations, the members' spans and the clinics as the latest clinics file says
    attestations = read_kind(plan, "attestations").with_columns(pl.col("action_date").str.to_date())
    latest = pl.read_csv(plan.paths("clinics")[-1], infer_schema=False)
    clinics = latest.with_columns(pl.col("program_enrollment_date").str.to_date())
    # WHEN each is matched to the span open on its date
    matched = attestations.join(_spans(plan), on="member_id").filter(
        (pl.col("enrollment_start_date") <= pl.col("action_date"))
        & (pl.col("enrollment_end_date").is_null() | (pl.col("action_date") <= pl.col("enrollment_end_date")))
    )
    with_clinic = matched.join(clinics, on="clinic_id")
    # THEN exactly one span covers it, its clinic attested, in Care Gap and after joining the program
    assert matched.height == attestations.height
    assert (matched["clinic_id"] == matched["assigned_clinic_id"]).all()
    assert (with_clinic["program"] == "care_gap").all()
    assert (with_clinic["action_date"] >= with_clinic["program_enrollment_date"]).all()
    assert attestations["attestation_id"].is_unique().all()
    assert attestations["attestation_id"].str.starts_with("ATT").all()
    assert attestations["attested_by"].str.starts_with("user-").all()
    assert set(attestations["action_code"]) == {"BCS-E"} and set(attestations["step"]) == {
        "schedule",
        "perform",
    }


def test_most_screenings_are_attested_before_the_claim_and_some_never_get_one(plan: GeneratedPlan) -> None:
    # GIVEN perform attestations and mammography claims
    performs = read_kind(plan, "attestations").filter(pl.col("step") == "perform")
    claims = read_kind(plan, "medical_claims").filter(
        pl.col("hcpcs_code").is_in(MAMMOGRAPHY) & (pl.col("claim_frequency_code") == "1")
    )
    # WHEN they are matched by member
    matched = performs.join(claims.select("member_id", "received_date").unique(), on="member_id", how="left")
    claimed = matched.drop_nulls("received_date")
    # THEN most claimed ones were attested before the claim arrived, and some have no claim at all
    assert claimed.height > 0
    assert (claimed["action_date"] < claimed["received_date"]).sum() > 0.6 * claimed.height
    assert matched["received_date"].null_count() > 0


def test_claims_file_has_exactly_the_lines_asked_for(tmp_path: Path) -> None:
    # GIVEN a benchmark claims file of an odd size
    path = generate_claims_file(tmp_path / "claims.csv", lines=3001, seed=3)
    # WHEN it is read back
    claims = pl.read_csv(path, infer_schema=False)
    adjustments = claims.filter(pl.col("claim_frequency_code") != "1")
    # THEN it has that many lines, the spec's columns, and every adjustment's original is in the file
    assert claims.height == 3001
    assert claims.columns == spec_columns("medical_claims")
    assert adjustments.height > 0
    assert set(adjustments["original_claim_id"]) <= set(claims["claim_id"])


@pytest.mark.parametrize("kind", ["fhir", "nonsense"])
def test_kinds_it_cannot_write_are_refused(tmp_path: Path, kind: str) -> None:
    # GIVEN a kind the generator has no writer for
    # WHEN it is asked for
    # THEN the generator refuses rather than skipping it silently, and writes nothing
    with pytest.raises(UnsupportedKindError):
        generate_plan(tmp_path, members=10, kinds={"clinics", kind})
    assert not any(tmp_path.iterdir())


def test_kinds_limits_what_is_written(tmp_path: Path) -> None:
    # GIVEN a request for clinics and attestations only
    # WHEN the plan is generated
    plan = generate_plan(tmp_path, members=300, kinds={"clinics", "attestations"})
    # THEN only those kinds are on disk
    assert {f.kind for f in plan.files} == {"clinics", "attestations"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attestations", "clinics"]


@pytest.fixture(scope="module")
def optional_plan(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPlan:
    return generate_plan(
        tmp_path_factory.mktemp("optional"), members=800, kinds={"pharmacy_claims", "immunizations", "labs"}
    )


@pytest.mark.parametrize("kind", ["pharmacy_claims", "immunizations", "labs"])
def test_optional_kinds_follow_their_file_spec(optional_plan: GeneratedPlan, kind: str) -> None:
    # GIVEN a plan generated with the optional kinds only
    # WHEN the files of one of them are read
    rows = read_kind(optional_plan, kind)
    # THEN they have exactly the spec's columns and some rows, and the fixed kinds were not written
    assert rows.columns[:-1] == spec_columns(kind)
    assert rows.height > 0
    assert set(optional_plan.counts) == {"pharmacy_claims", "immunizations", "labs"}


def test_pharmacy_reversals_cancel_a_paid_fill(optional_plan: GeneratedPlan) -> None:
    # GIVEN the pharmacy fills
    fills = read_kind(optional_plan, "pharmacy_claims")
    paid = fills.filter(pl.col("claim_status") == "paid").select("claim_id", "fill_number")
    reversed_ = fills.filter(pl.col("claim_status") == "reversed")
    # WHEN each reversal is matched to the fill it cancels
    matched = reversed_.join(paid, on=["claim_id", "fill_number"], how="inner")
    # THEN there are some and each cancels a paid fill; NDCs are 11 digits
    assert reversed_.height > 0 and matched.height == reversed_.height
    assert fills["ndc_code"].str.contains(r"^\d{11}$").all()


def test_lab_results_are_numeric_where_the_spec_requires(optional_plan: GeneratedPlan) -> None:
    # GIVEN the lab results
    labs = read_kind(optional_plan, "labs")
    # WHEN the HbA1c and blood pressure values are parsed
    a1c = labs.filter(pl.col("loinc_code").is_in(["4548-4", "17856-6"]))["result_value"].cast(pl.Float64)
    systolic = labs.filter(pl.col("loinc_code") == "8480-6")["result_value"].cast(pl.Int64)
    # THEN they are plausible numbers, and every systolic reading has its diastolic partner
    assert a1c.len() > 0 and ((a1c >= 4) & (a1c <= 14)).all()
    assert systolic.len() > 0 and ((systolic >= 80) & (systolic <= 200)).all()
    assert systolic.len() == labs.filter(pl.col("loinc_code") == "8462-4").height
