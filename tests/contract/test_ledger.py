"""LedgerRepository: entries written once, re-records answered with the stored entry, the run index (the
run's balances first, then its member entries by clinic), and each member's history beside its facts."""

from __future__ import annotations

import pytest

from shared.dal.errors import AlreadyRecordedError
from shared.dal.ledger import LedgerRepository
from shared.logic.reversals import reversal_of
from shared.models.actions import Step
from shared.models.ledger import EntryKind, LedgerEntry
from tests.contract.conftest import Backend
from tests.contract.factories import award, balance, incentive, top_up

RUN = "monthly-2026-03-final"
EARLIER = "monthly-2026-02-final"


def run_order(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """The order of the Ledger table's run index: carried balances, then member entries, each by clinic
    and entry id (`gsi1sk`, docs/architecture.md)."""
    return sorted(
        entries, key=lambda e: f"{'BALANCE#' if e.is_balance else 'CLINIC#'}{e.clinic_id}#{e.entry_id}"
    )


def test_an_entry_id_is_written_once_and_a_second_write_names_the_run_that_wrote_it(ledger: LedgerRepository):
    # GIVEN an award recorded by the February run
    first = award(run_id=EARLIER)
    ledger.put_if_absent(first)
    # WHEN the March run computes the same slot (same id) with another amount
    with pytest.raises(AlreadyRecordedError) as refused:
        ledger.put_if_absent(award(run_id=RUN, amount_cents=1))
    # THEN the write is refused naming February, and February's entry stands
    assert refused.value.existing_run_id == EARLIER
    assert ledger.get(first.entry_id) == first


def test_record_answers_a_re_record_with_the_entry_as_stored(ledger: LedgerRepository):
    # GIVEN nothing recorded
    first = award(run_id=EARLIER)
    # WHEN the entry is recorded, then the same id again with another run and amount
    written = ledger.record(first)
    again = ledger.record(award(run_id=RUN, amount_cents=1))
    # THEN the first call wrote it; the second wrote nothing and got the stored entry back
    assert written == (first, True)
    assert again == (first, False)
    assert list(ledger.by_run(RUN)) == []


def test_every_kind_of_entry_reads_back_equal(ledger: LedgerRepository):
    # GIVEN entries of every basis, a reversal and a second generation
    earned = award(evidence=3)
    entries = [
        earned,
        reversal_of(earned, run_id=RUN, month="2026-03"),
        award(generation=1),
        balance(),
        balance(kind=EntryKind.CARRY_IN),
        incentive(),
        top_up(),
    ]
    # WHEN each is recorded and read back
    for entry in entries:
        ledger.put_if_absent(entry)
    # THEN each reads back equal (decimals, dates, tuples, nested measure lines, None fields)
    assert [ledger.get(e.entry_id) for e in entries] == entries
    assert len({e.entry_id for e in entries}) == len(entries)
    assert ledger.get("0" * 64) is None


def test_a_run_lists_its_own_entries_balances_first_then_by_clinic(ledger: LedgerRepository):
    # GIVEN member entries at two clinics, balances, and another run's entries
    ours = [
        award("M2", clinic_id="K2", run_id=RUN),
        award("M1", clinic_id="K2", run_id=RUN),
        award("M3", clinic_id="K1", run_id=RUN),
        balance("K2", run_id=RUN),
        balance("K1", run_id=RUN, kind=EntryKind.CARRY_IN),
    ]
    theirs = [award("M4", run_id=EARLIER), balance("K3", run_id=EARLIER)]
    for entry in [*theirs, *ours]:
        ledger.put_if_absent(entry)
    # WHEN the run's entries and balances are listed
    listed = list(ledger.by_run(RUN))
    balances = ledger.balances(RUN)
    # THEN only its own come back, in the run index's order
    assert listed == run_order(ours)
    assert balances == run_order([e for e in ours if e.is_balance])
    assert (
        list(ledger.by_run("monthly-2026-04-final")) == [] and ledger.balances("monthly-2026-04-final") == []
    )
    # and its total is its own entries' cents and count, as closing the run checks
    assert ledger.run_total(RUN) == (sum(e.amount_cents for e in ours), len(ours))
    assert ledger.run_total("monthly-2026-04-final") == (0, 0)


def test_a_run_index_query_follows_every_page(backend: Backend, ledger: LedgerRepository, small_pages: int):
    # GIVEN a run with 24 entries (about 17 KB: five pages of 4 KB) and 4 balances
    ours = [award(f"M{i:03d}", clinic_id=f"K{i % 4}", run_id=RUN) for i in range(24)]
    ours += [balance(f"K{i}", run_id=RUN) for i in range(4)]
    for entry in ours:
        ledger.put_if_absent(entry)
    # WHEN they are listed
    listed = list(ledger.by_run(RUN))
    # THEN every one comes back once, in index order, and the run's total counts each once
    assert listed == run_order(ours)
    assert ledger.balances(RUN) == run_order(ours[24:])
    assert ledger.run_total(RUN) == (sum(e.amount_cents for e in ours), 28)
    assert backend.spans_pages()


def test_a_run_of_more_than_one_megabyte_is_listed_whole(backend: Backend, ledger: LedgerRepository):
    # GIVEN 36 awards of about 31 KB each (1.1 MB: DynamoDB's query stops at 1 MB a page)
    ours = [award(f"M{i:02d}", clinic_id=f"K{i % 3}", evidence=20, ref_length=1500) for i in range(36)]
    for entry in ours:
        ledger.put_if_absent(entry)
    # WHEN the run is listed
    listed = list(ledger.by_run(RUN))
    # THEN all of them come back, in index order
    assert [e.entry_id for e in listed] == [e.entry_id for e in run_order(ours)]
    assert backend.spans_pages()


def test_a_members_history_is_its_entries_in_id_order_and_its_gap_digest(ledger: LedgerRepository):
    # GIVEN two members' recorded entries copied to their histories, one copy written twice
    mine = [
        award("M1", step=step, run_id=run) for step, run in ((Step.SCHEDULE, EARLIER), (Step.PERFORM, RUN))
    ]
    other = award("M2")
    for entry in [*mine, other]:
        ledger.put_if_absent(entry)
        ledger.index_member(entry)
    ledger.index_member(mine[0])
    # WHEN gap digests are written (the second replaces the first) and the history is read
    ledger.put_gap_digest("M1", {"BCS-E#2025": "old", "BCS-E#2026": "x"})
    ledger.put_gap_digest("M1", {"BCS-E#2026": "y"})
    state = ledger.member_state("M1")
    # THEN the history holds each of M1's entries once, in id order, any run, and the last digest
    assert state.entries == sorted(mine, key=lambda e: e.entry_id)
    assert state.gap_digest == {"BCS-E#2026": "y"}
    assert ledger.member_entries("M1") == state.entries
    assert ledger.member_state("M2").entries == [other] and ledger.member_state("M2").gap_digest == {}


def test_history_copies_and_digests_written_together_read_as_written_one_by_one(ledger: LedgerRepository):
    # GIVEN 60 members' entries (more than a batch write of 25), one member's entry twice, and their digests
    entries = [award(f"M{n:03d}", step=step) for n in range(60) for step in (Step.SCHEDULE, Step.PERFORM)]
    for entry in entries:
        ledger.put_if_absent(entry)
    # WHEN the copies are written together (one of them again), and then the digests, one of them empty
    ledger.index_members([*entries, entries[0]])
    digests = {f"M{n:03d}": {f"A{n:02d}#2026": "d"} for n in range(59)} | {"M059": {}}
    ledger.put_gap_digests(digests)
    ledger.put_gap_digests({})
    ledger.index_members([])
    # THEN each member's history holds its entries once, in id order, and its digest
    for n in range(60):
        member_id = f"M{n:03d}"
        state = ledger.member_state(member_id)
        mine = sorted((e for e in entries if e.member_id == member_id), key=lambda e: e.entry_id)
        assert state.entries == mine and state.gap_digest == digests[member_id]


def test_a_member_without_history_has_an_empty_state(ledger: LedgerRepository):
    # GIVEN an entry recorded but never copied to its member's history, and an empty digest
    ledger.put_if_absent(award("M1"))
    ledger.put_gap_digest("M2", {})
    # WHEN the members' states are read
    first, second = ledger.member_state("M1"), ledger.member_state("M2")
    # THEN neither has entries or digest
    assert (first.entries, first.gap_digest, second.entries, second.gap_digest) == ([], {}, [], {})


def test_a_members_history_query_follows_every_page(
    backend: Backend, ledger: LedgerRepository, small_pages: int
):
    # GIVEN 20 entries in one member's history (about 13 KB: four pages of 4 KB)
    entries = [award("M1", action=f"A{i:02d}") for i in range(20)]
    for entry in entries:
        ledger.put_if_absent(entry)
        ledger.index_member(entry)
    ledger.put_gap_digest("M1", {"A00#2026": "d"})
    # WHEN it is read
    state = ledger.member_state("M1")
    # THEN every entry is there once, in id order, with the digest
    assert state.entries == sorted(entries, key=lambda e: e.entry_id)
    assert state.gap_digest == {"A00#2026": "d"}
    assert backend.spans_pages()


def test_existing_ids_answers_for_more_ids_than_one_batch_read(ledger: LedgerRepository):
    # GIVEN 110 recorded entries (a batch read takes 100 keys)
    recorded = [award(f"M{i:03d}") for i in range(110)]
    for entry in recorded:
        ledger.put_if_absent(entry)
    asked = (
        [e.entry_id for e in recorded]
        + [e.entry_id for e in recorded[:10]]
        + [f"{i:064x}" for i in range(40)]
    )
    # WHEN 160 ids are asked about (some twice, 40 unknown)
    found = ledger.existing_ids(asked)
    # THEN exactly the recorded ones are named
    assert found == {e.entry_id for e in recorded}
    assert ledger.existing_ids([]) == set()
