"""The shard's memo answers `member_gaps` as `member_gaps` does, once per question, and never across facts."""

from __future__ import annotations

from datetime import date

import pytest

import shared.services.shard_memo as shard_memo
from shared.dal.ledger import LedgerRepository
from shared.dal.memory import MemoryLedgerRepository
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import LineOfBusiness, Step, Track
from shared.models.evidence import EvidenceSource
from shared.models.members import MemberFacts
from shared.services.shard_memo import ShardMemo
from tests.unit.care_gap.factories import PROGRAM, attestation, diagnosis, item, profile, span
from tests.unit.explain.scenarios import recorded


def facts(*evidence) -> MemberFacts:
    return MemberFacts(
        profile=profile(birth=date(1965, 1, 1)),
        spans=(span(lob=LineOfBusiness.CA),),
        evidence=(diagnosis("Diabetes", date(2026, 1, 10)), *evidence),
    )


@pytest.mark.parametrize("as_of", [date(2026, 3, 31), date(2026, 12, 31)])
@pytest.mark.parametrize("track", [None, Track.PEDIATRIC])
def test_the_memo_gives_member_gaps_answer(as_of: date, track: Track | None) -> None:
    member = facts(item("KED", date(2026, 2, 3), concept="80053"), item("KED", date(2026, 6, 1)))
    expected = member_gaps(MemberView.of_facts(member), PROGRAM, as_of=as_of, track=track)
    memo = ShardMemo()
    assert memo.gaps(member, PROGRAM, as_of=as_of, track=track) == expected
    assert memo.gaps(member, PROGRAM, as_of=as_of, track=track) == expected


def test_each_question_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[date] = []
    real = shard_memo.member_gaps

    def counted(view, program, *, as_of, track):
        calls.append(as_of)
        return real(view, program, as_of=as_of, track=track)

    monkeypatch.setattr(shard_memo, "member_gaps", counted)
    member, memo = facts(), ShardMemo()
    for _ in range(3):
        memo.gaps(member, PROGRAM, as_of=date(2026, 3, 31), track=None)
    memo.gaps(member, PROGRAM, as_of=date(2026, 4, 30), track=None)
    memo.gaps(member, PROGRAM, as_of=date(2026, 4, 30), track=Track.PEDIATRIC)
    assert calls == [date(2026, 3, 31), date(2026, 4, 30), date(2026, 4, 30)]


def test_other_facts_of_the_same_member_are_not_answered_from_the_memo() -> None:
    before = facts()
    after = facts(
        item("KED", date(2026, 2, 3), concept="80053"),  # eGFR and uACR: the evaluation is done
        item("KED", date(2026, 2, 3), concept="9318-7", source=EvidenceSource.LAB),
    )
    memo = ShardMemo()
    day = date(2026, 12, 31)
    assert memo.gaps(before, PROGRAM, as_of=day, track=None) != memo.gaps(
        after, PROGRAM, as_of=day, track=None
    )
    assert memo.gaps(after, PROGRAM, as_of=day, track=None) == member_gaps(
        MemberView.of_facts(after), PROGRAM, as_of=day, track=None
    )


def test_the_watched_ledger_keeps_each_members_history_as_read_and_recorded() -> None:
    # GIVEN a ledger holding a member's February awards, watched by a shard's memo
    member = MemberFacts(
        profile=profile(birth=date(1965, 1, 1)),
        spans=(span(),),
        evidence=(attestation(Step.SCHEDULE, date(2026, 2, 10)), attestation(Step.PERFORM, date(2026, 3, 3))),
    )
    february, march = recorded(member, "2026-02"), recorded(member, "2026-03")
    ledger = MemoryLedgerRepository()
    for entry in february:
        ledger.record(entry)
        ledger.index_member(entry)
    memo = ShardMemo()
    watched = memo.watch(ledger)
    # WHEN the shard reads the member's state and records March's awards through it
    assert memo.history("M1") is None
    state = watched.member_state("M1")
    for entry in march:
        watched.record(entry)
    # THEN the memo holds what was read and what was recorded, and the ledger has them all
    held = memo.history("M1")
    assert held is not None
    assert {e.entry_id for e in held} == {e.entry_id for e in (*state.entries, *march)}
    assert {e.entry_id for e in february} < {e.entry_id for e in held}
    assert all(ledger.get(e.entry_id) is not None for e in march)


def test_the_watched_ledger_passes_every_call_through() -> None:
    # GIVEN the ledger interface and the memo's watched ledger
    public = {n for n in dir(LedgerRepository) if not n.startswith("_")}
    # WHEN the calls it inherits unchanged are listed
    # THEN there are none: each passes through (a batched write is not replaced by the one-by-one default)
    watched = type(ShardMemo().watch(MemoryLedgerRepository()))
    assert {n for n in public if getattr(watched, n) is getattr(LedgerRepository, n)} == set()
