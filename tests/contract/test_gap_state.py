"""GapStateRepository: clinics and rosters upserted and listed (clinic members by index), packed evidence
written idempotently, read back distinct and retracted by claim, and a member's facts read apart from the
other items of its partition (gaps, claim versions, ledger history: the GapState table holds them all)."""

from __future__ import annotations

from datetime import date

from shared.dal.claim_versions import ClaimVersionRepository
from shared.dal.gap_state import GapStateRepository
from shared.dal.ledger import LedgerRepository
from shared.models.evidence import medical_key
from shared.models.members import MemberFacts, ProgramEnrollment, ProviderAffiliation
from tests.contract.conftest import Backend
from tests.contract.factories import (
    attestation,
    award,
    claim_evidence,
    clinic,
    enrolled,
    gap,
    profile,
    record,
    span,
    version,
)


def by_id(evidence):
    return tuple(sorted(evidence, key=lambda e: e.evidence_id))


def test_clinics_are_upserted_and_listed_by_id(gaps: GapStateRepository):
    # GIVEN clinics written out of order, one with a history, one written twice in a batch and again later
    history = enrolled(
        clinic("K3"),
        ProgramEnrollment(program="benchmark", start=date(2020, 1, 1), end=date(2025, 6, 30)),
        ProgramEnrollment(program="care_gap", start=date(2025, 7, 1)),
    )
    written = gaps.put_clinics([clinic("K2"), history, clinic("K1", name="Old"), clinic("K1", name="Newer")])
    again = gaps.put_clinics([clinic("K2", hpi_decile=None, name="Renamed")])
    # WHEN they are listed
    listed = gaps.clinics()
    # THEN each clinic is there once, as last written, in id order; a batch counts each clinic once
    assert (written, again) == (3, 1)
    assert list(listed) == ["K1", "K2", "K3"]
    assert listed == {
        "K1": clinic("K1", name="Newer"),
        "K2": clinic("K2", hpi_decile=None, name="Renamed"),
        "K3": history,
    }


def test_clinic_listing_reads_past_a_megabyte(backend: Backend, gaps: GapStateRepository):
    # GIVEN 30 clinics with 40 KB names (1.2 MB)
    clinics = [clinic(f"K{i:02d}", name=f"{i:02d}".ljust(40_000, "x")) for i in range(30)]
    gaps.put_clinics(reversed(clinics))
    # WHEN they are listed
    listed = gaps.clinics()
    # THEN every one is there, in id order
    assert list(listed.values()) == clinics
    assert backend.spans_pages()


def affiliation(
    npi: str, practice_id: str, start: date, *, end: date | None = None, primary_care: bool = True
) -> ProviderAffiliation:
    return ProviderAffiliation(
        npi=npi,
        practice_id=practice_id,
        taxonomy_code="207Q00000X" if primary_care else "103T00000X",
        primary_care=primary_care,
        effective_date=start,
        termination_date=end,
    )


def test_provider_affiliations_are_upserted_by_key_and_read_as_of_a_day(gaps: GapStateRepository):
    # GIVEN a PCP at K1 since 2024 and a psychologist there until March; a later file ends the PCP's K1
    # affiliation on 30 June and opens one at K2 from 1 July, and a third provider's is written twice
    pcp, other = "1234567893", "1245319599"
    at_k1 = affiliation(pcp, "K1", date(2024, 1, 1))
    psychologist = affiliation(other, "K1", date(2025, 1, 1), end=date(2026, 3, 31), primary_care=False)
    first = gaps.put_providers([at_k1, psychologist, psychologist])
    moved = [
        at_k1.model_copy(update={"termination_date": date(2026, 6, 30)}),
        affiliation(pcp, "K2", date(2026, 7, 1)),
    ]
    second = gaps.put_providers(moved)
    # WHEN the affiliations are listed, and read as of days
    listed = gaps.providers()
    march, june, july = (gaps.providers_on(date(2026, m, d)) for m, d in ((3, 31), (6, 30), (7, 1)))
    # THEN each key is one affiliation as last written, and each day sees the affiliations then in force
    assert (first, second) == (2, 2)
    assert listed == (moved[0], moved[1], psychologist)
    assert {npi: (a.practice_id, a.primary_care) for npi, a in march.items()} == {
        pcp: ("K1", True),
        other: ("K1", False),
    }
    assert {npi: a.practice_id for npi, a in june.items()} == {pcp: "K1"}
    assert {npi: a.practice_id for npi, a in july.items()} == {pcp: "K2"}
    assert gaps.providers_on(date(2023, 12, 31)) == {}


def test_a_members_facts_are_its_profile_spans_in_start_order_and_distinct_evidence(gaps: GapStateRepository):
    # GIVEN a roster (a span written twice in one batch), and the same claim in two files plus an attestation
    spans = [span(start=date(2026, 3, 1)), span(start=date(2025, 1, 1), end=date(2025, 12, 31))]
    written = gaps.put_roster([profile()], [*spans, span(start=date(2026, 3, 1))])
    later, earlier = claim_evidence(file_id="f9"), claim_evidence(file_id="f1", row=7)
    rows = gaps.put_evidence([later, attestation()]) + gaps.put_evidence([earlier])
    # WHEN the member is read
    facts = gaps.member("M0001")
    # THEN spans come by start date, evidence in id order, and the claim seen in two files is one fact:
    # the one of the file whose id sorts last (items are read in sort key order, `EVID#<file_id>#…`)
    assert (written, rows) == (3, 3)
    assert facts == MemberFacts(
        profile=profile(), spans=(spans[1], spans[0]), evidence=by_id([later, attestation()])
    )
    assert gaps.evidence_of("M0001") == facts.evidence


def test_a_members_product_and_payer_read_back_on_its_profile_and_spans(gaps: GapStateRepository):
    # GIVEN a profile and spans naming the member's product, one with another payer, one with none
    hmo = span(start=date(2026, 4, 1)).model_copy(
        update={"product": "commercial_hmo", "payer_id": "health_net"}
    )
    medi_cal = span(start=date(2026, 1, 1), end=date(2026, 3, 31)).model_copy(update={"product": "medi_cal"})
    current = profile().model_copy(update={"product": "commercial_hmo", "payer_id": "health_net"})
    gaps.put_roster([current], [medi_cal, hmo])
    # WHEN the member is read
    facts = gaps.member("M0001")
    # THEN the profile and each span keep their product and payer (None for the deploying plan)
    assert facts is not None and facts.profile == current
    assert facts.spans == (medi_cal, hmo)
    assert [(s.product, s.payer_id) for s in facts.spans] == [
        ("medi_cal", None),
        ("commercial_hmo", "health_net"),
    ]


def test_a_member_without_profile_has_no_facts_but_has_its_evidence(gaps: GapStateRepository):
    # GIVEN spans and evidence of a member whose profile never came
    gaps.put_roster([], [span("M0002")])
    gaps.put_evidence([attestation("M0002")])
    # WHEN it is read
    facts, evidence = gaps.member("M0002"), gaps.evidence_of("M0002")
    # THEN it has no facts, its evidence is still found, and an unknown member has neither
    assert facts is None and evidence == (attestation("M0002"),)
    assert gaps.member("M0404") is None and gaps.evidence_of("M0404") == ()


def test_a_shards_members_are_read_at_once_as_each_is_read_alone(gaps: GapStateRepository):
    # GIVEN 130 members with profiles, spans and evidence (more than one batch read of 100 keys), and one
    # with evidence but no profile
    ids = [f"M{n:04d}" for n in range(130)]
    gaps.put_roster([profile(m) for m in ids], [span(m) for m in ids])
    gaps.put_evidence([attestation(m) for m in ids[::7]] + [attestation("M9999")])
    # WHEN they are read together, out of order, with the one without a profile, one never seen and one
    # asked twice
    asked = [*reversed(ids), "M9999", "M0404", ids[3]]
    together = gaps.members(asked)
    # THEN each is what reading it alone gives, in the order asked, and those without a profile are left out
    assert together == [gaps.member(m) for m in [*reversed(ids), ids[3]]]
    assert [f.profile.member_id for f in together] == [*reversed(ids), ids[3]]
    assert gaps.members([]) == []


def test_evidence_written_again_is_one_item_and_a_frame_writes_as_models_do(gaps: GapStateRepository):
    # GIVEN a member's evidence written as models, then the same again as a frame
    from shared.models.evidence import evidence_frame

    evidence = [claim_evidence(), claim_evidence(claim_id="C2", row=2), attestation()]
    first = gaps.put_evidence(evidence)
    second = gaps.put_evidence(evidence_frame(evidence))
    # WHEN it is read
    read = gaps.evidence_of("M0001")
    # THEN each call counts its rows and the member has each fact once
    assert (first, second) == (3, 3)
    assert read == by_id(evidence)


def test_evidence_of_one_member_is_read_past_a_megabyte(backend: Backend, gaps: GapStateRepository):
    # GIVEN one member's evidence from three files, 1,000 claims each (three items of ~370 KB)
    per_file = 1_000
    evidence = [
        claim_evidence(claim_id=f"{file_id}-{n:05d}".ljust(300, "0"), file_id=file_id, row=n)
        for file_id in ("f1", "f2", "f3")
        for n in range(per_file)
    ]
    gaps.put_evidence(evidence)
    # WHEN it is read, and the member's facts with it
    read = gaps.evidence_of("M0001")
    gaps.put_roster([profile()], [])
    facts = gaps.member("M0001")
    # THEN every fact is there
    assert len(read) == 3 * per_file and read == by_id(evidence)
    assert facts is not None and facts.evidence == read
    assert backend.spans_pages()


def test_evidence_of_one_file_larger_than_an_item_holds_is_stored_whole(gaps: GapStateRepository):
    # GIVEN 1,500 records of one member in one file with eight codings each (500 KB packed: DynamoDB
    # holds 400 KB an item)
    records = [record(n, codings=8) for n in range(1_500)]
    # WHEN they are written, twice, and read back
    written = gaps.put_evidence(records) + gaps.put_evidence(records)
    read = gaps.evidence_of("M0001")
    # THEN every record is there once
    assert written == 3_000
    assert read == by_id(records)


def test_retracting_claims_removes_their_evidence_wherever_it_is_packed(gaps: GapStateRepository):
    # GIVEN claims C1 (two lines, in two files), C2 and an attestation for M1, and C1 for M2
    kept = [claim_evidence(claim_id="C2", file_id="f1", row=3), attestation()]
    gone = [
        claim_evidence(claim_id="C1", file_id="f1", line=1),
        claim_evidence(claim_id="C1", file_id="f1", line=2, row=2),
        claim_evidence(claim_id="C1", file_id="f2", line=1),
    ]
    gaps.put_evidence([*kept, *gone, claim_evidence("M0002", "C1")])
    # WHEN C1 is retracted for M1 (and nothing for M3, an empty set for M2)
    removed = gaps.retract_claims(
        {"M0001": {medical_key("C1")}, "M0002": set(), "M0003": {medical_key("C1")}}
    )
    # THEN its three rows went (file f2's item with them); the rest stays, M2's C1 too
    assert removed == 3
    assert gaps.evidence_of("M0001") == by_id(kept)
    assert gaps.evidence_of("M0002") == (claim_evidence("M0002", "C1"),)
    # AND retracting again removes nothing, while writing the claim again brings it back
    assert gaps.retract_claims({"M0001": {medical_key("C1")}}) == 0
    gaps.put_evidence(gone[2:])
    assert gaps.evidence_of("M0001") == by_id([*kept, gone[2]])


def test_clinic_members_are_listed_by_index_in_id_order_and_follow_a_move(gaps: GapStateRepository):
    # GIVEN members of two clinics, written out of order; then M3 moves to K2
    gaps.put_roster([profile(m, clinic_id=c) for m, c in (("M3", "K1"), ("M1", "K1"), ("M2", "K2"))], [])
    gaps.put_roster([profile("M3", clinic_id="K2")], [])
    # WHEN each clinic's members are listed
    first, second, none = (
        list(gaps.member_ids("K1")),
        list(gaps.member_ids("K2")),
        list(gaps.member_ids("K9")),
    )
    # THEN each lists its current members in id order
    assert (first, second, none) == (["M1"], ["M2", "M3"], [])


def test_clinic_members_are_listed_past_a_page(backend: Backend, gaps: GapStateRepository, small_pages: int):
    # GIVEN 150 members of K1 (about 20 KB of profiles) and some of K2
    gaps.put_roster([profile(f"M{i:04d}") for i in reversed(range(150))], [])
    gaps.put_roster([profile(f"N{i:04d}", clinic_id="K2") for i in range(20)], [])
    # WHEN K1's members are listed
    members = list(gaps.member_ids("K1"))
    # THEN all of them come, in id order, and none of K2's
    assert members == [f"M{i:04d}" for i in range(150)]
    assert backend.spans_pages()


def test_gap_writes_count_each_gap_once(gaps: GapStateRepository):
    # GIVEN gaps with one written twice in a batch
    # WHEN they are written
    written = gaps.put_gaps([gap(), gap(period="2025"), gap()])
    # THEN each distinct gap counts once, and the facts do not include gaps
    assert written == 2
    assert gaps.member("M0001") is None


def test_a_members_facts_leave_out_the_other_items_of_its_partition(
    gaps: GapStateRepository, versions: ClaimVersionRepository, ledger: LedgerRepository
):
    # GIVEN a member with facts, gaps, claim versions and ledger history (one partition in DynamoDB)
    gaps.put_roster([profile()], [span()])
    gaps.put_evidence([attestation()])
    gaps.put_gaps([gap()])
    versions.put_versions([version()])
    entry = award()
    ledger.put_if_absent(entry)
    ledger.index_member(entry)
    ledger.put_gap_digest("M0001", {"BCS-E#2026": "d"})
    # WHEN each repository reads the member
    facts, state = gaps.member("M0001"), ledger.member_state("M0001")
    # THEN each reads only its own items
    assert facts == MemberFacts(profile=profile(), spans=(span(),), evidence=(attestation(),))
    assert gaps.evidence_of("M0001") == (attestation(),)
    assert versions.versions_of(["M0001"]) == {"M0001": [version()]}
    assert state.entries == [entry] and state.gap_digest == {"BCS-E#2026": "d"}
