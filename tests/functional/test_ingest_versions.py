"""Claim versions across files: only the net claim's evidence stays in the gap state, in any order."""

from __future__ import annotations

import io

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.dal.claim_versions import DynamoClaimVersionRepository
from shared.dal.files import DynamoFileRegistry
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.objects import S3ObjectStore
from shared.intake import net_claim_versions, read_file
from shared.logic.evidence import claim_evidence
from shared.models.files import FileKind
from shared.services.ingest import IngestService
from shared.services.ingest_versions import NetStatus, fill_key, medical_key, net_status
from tests.unit.intake.factories import VALID_ROWS, csv_bytes
from tests.unit.intake.service_fakes import CATALOG, OFFICE_VISIT, Plan, claim_line, claims_file

ORIGINALS = claims_file(
    claim_line("A", line=1),
    claim_line("A", line=2, code=OFFICE_VISIT),
    claim_line("B", member="M0002"),
    claim_line("C", member="M0003"),
)
REPLACE_A = claims_file(claim_line("A2", frequency="7", original="A", received="2026-03-01"))
VOID_B = claims_file(claim_line("B9", frequency="8", original="B", member="M0002", received="2026-03-02"))
REPLACE_A_AGAIN = claims_file(claim_line("A3", frequency="7", original="A", received="2026-03-05"))
REPLACE_C_IN_FILE = claims_file(
    claim_line("C", member="M0003"),
    claim_line("C2", frequency="7", original="C", member="M0003", received="2026-03-03"),
)
FILES = {
    "originals": ORIGINALS,
    "replace_a": REPLACE_A,
    "void_b": VOID_B,
    "replace_a_again": REPLACE_A_AGAIN,
    "replace_c": REPLACE_C_IN_FILE,
}


def key(name: str) -> str:
    return f"landing/medical_claims/{name}.csv"


def expected_refs(names: list[str]) -> set[str]:
    """Evidence of the net claims, computed from all lines at once with intake's own netting."""
    frames = [read_file(FILES[n], kind=FileKind.MEDICAL_CLAIMS, source_key=key(n)).accepted for n in names]
    net = net_claim_versions(pl.concat(frames))
    return {e.reference for e in claim_evidence(net, CATALOG.versions[-1].actions, file_id="x")}


def test_a_later_replacement_retracts_the_original_and_applies_its_own_evidence():
    # GIVEN claim A's mammogram line in the gap state
    plan = Plan()
    plan.drop(key("originals"), ORIGINALS)
    assert "claim:A#1" in plan.evidence_refs()
    # WHEN a later file replaces A with A2
    outcome = plan.drop(key("replace_a"), REPLACE_A)
    # THEN A's evidence is gone, A2's is there, and the index names A2 as A's current version
    assert "claim:A#1" not in plan.evidence_refs() and "claim:A2#1" in plan.evidence_refs()
    assert outcome.evidence == 1 and outcome.evidence_retracted >= 1
    assert net_status(plan.index, "M0001", medical_key("A")) == (NetStatus.REPLACED, medical_key("A2"))


def test_a_void_that_arrives_first_is_held_and_cancels_its_original_on_arrival():
    # GIVEN the void of B landed before B itself
    plan = Plan()
    plan.drop(key("void_b"), VOID_B)
    # WHEN the file with B arrives
    outcome = plan.drop(key("originals"), ORIGINALS)
    # THEN B's evidence is withheld, the others are applied, and the index records the void
    assert "claim:B#1" not in plan.evidence_refs() and {"claim:A#1", "claim:C#1"} <= plan.evidence_refs()
    assert outcome.evidence_withheld == 1
    assert net_status(plan.index, "M0002", medical_key("B")) == (NetStatus.VOIDED, medical_key("B9"))


def test_a_pharmacy_reversal_cancels_its_paid_fill_from_any_file():
    # GIVEN a paid fill, and its reversal in a later file (and, on another plan, the other way round)
    paid = csv_bytes(FileKind.PHARMACY_CLAIMS, [dict(VALID_ROWS[FileKind.PHARMACY_CLAIMS])])
    reversal = csv_bytes(
        FileKind.PHARMACY_CLAIMS, [dict(VALID_ROWS[FileKind.PHARMACY_CLAIMS], claim_status="reversed")]
    )
    in_order, reversed_first = Plan(), Plan()
    # WHEN both arrive
    for plan, first, second in ((in_order, paid, reversal), (reversed_first, reversal, paid)):
        plan.drop("landing/pharmacy_claims/1.csv", first)
        plan.drop("landing/pharmacy_claims/2.csv", second)
    # THEN the fill is cancelled either way
    fill = fill_key("RX0001", 0)
    assert net_status(in_order.index, "M0001", fill)[0] is NetStatus.VOIDED
    assert net_status(reversed_first.index, "M0001", fill)[0] is NetStatus.VOIDED


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(sorted(FILES)),
    repeats=st.lists(st.sampled_from(sorted(FILES)), max_size=3),
)
def test_any_arrival_order_and_redelivery_gives_the_net_evidence(order, repeats):
    # GIVEN a fresh plan
    plan = Plan()
    # WHEN the files arrive in this order, some delivered again (same key or a new one)
    for name in order:
        plan.drop(key(name), FILES[name])
    for i, name in enumerate(repeats):
        plan.drop(key(name) if i % 2 else f"landing/medical_claims/again-{i}.csv", FILES[name])
    # THEN the gap state holds exactly the evidence of the net claims of all files together
    assert plan.evidence_refs() == expected_refs(sorted(FILES))
    assert plan.evidence_refs() == {"claim:A3#1", "claim:C2#1"}


def test_versions_net_across_files_on_dynamodb(aws):
    # GIVEN the service on moto's DynamoDB and S3
    names = aws.names
    service = IngestService(
        store=S3ObjectStore(aws.s3),
        files=DynamoFileRegistry(aws.dynamodb, names["REGISTRY_TABLE"]),
        gaps=DynamoGapStateRepository(aws.dynamodb, names["GAPS_TABLE"]),
        catalog=CATALOG,
        curated_bucket=names["CURATED_BUCKET"],
        reports_bucket=names["REPORTS_BUCKET"],
        versions=DynamoClaimVersionRepository(aws.dynamodb, names["GAPS_TABLE"]),
    )
    # WHEN the void, the replacements and the originals land, void first
    for name in ("void_b", "replace_a", "originals", "replace_a_again", "replace_c"):
        aws.s3.put_object(Bucket=names["LANDING_BUCKET"], Key=key(name), Body=io.BytesIO(FILES[name]))
        service.ingest(names["LANDING_BUCKET"], key(name))
    # THEN the gap state's evidence is that of the net claims only, read back through the repository
    gaps = DynamoGapStateRepository(aws.dynamodb, names["GAPS_TABLE"])
    items = aws.dynamodb.scan(TableName=names["GAPS_TABLE"])["Items"]
    members = {i["pk"]["S"].removeprefix("MEMBER#") for i in items if i["sk"]["S"].startswith("EVID#")}
    refs = {e.reference for m in members for e in gaps.evidence_of(m)}
    assert refs == expected_refs(sorted(FILES))
    # and the void that arrived first is held in its member's partition
    assert any(i["pk"]["S"] == "MEMBER#M0002" and i["sk"]["S"] == "VER#MED#B#MED#B9" for i in items)
