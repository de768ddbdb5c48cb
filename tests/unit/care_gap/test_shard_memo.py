"""The shard's memo answers `member_gaps` as `member_gaps` does, once per question, and never across facts."""

from __future__ import annotations

from datetime import date

import pytest

import shared.services.shard_memo as shard_memo
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import LineOfBusiness, Track
from shared.models.evidence import EvidenceSource
from shared.models.members import MemberFacts
from shared.services.shard_memo import ShardMemo
from tests.unit.care_gap.factories import PROGRAM, diagnosis, item, profile, span


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
