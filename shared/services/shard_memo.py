"""What EarnShard computes of a member more than once, computed once while the shard holds its members.

A monthly run's shard settles each member and writes the member's gaps as of the month's last day; the
page facts then count each clinic's registry from the same members' gaps on the same day (the run's pages
stand on the month's last day). Both ask `member_gaps` the same question: the same member's facts, the
same program version, day and track. The memo answers the second time from the first. It lives for one
shard (RunService.earn makes one per shard): the facts it was computed from are the shard's, read once.
"""

from __future__ import annotations

from datetime import date

from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import Track
from shared.models.gaps import Gap
from shared.models.members import MemberFacts
from shared.programs.care_gap import CareGapProgram


class ShardMemo:
    """Each member's `MemberView` and its gaps per (program version, day, track), for one shard."""

    def __init__(self) -> None:
        self._views: dict[str, tuple[MemberFacts, MemberView]] = {}
        self._gaps: dict[tuple[str, str, date, Track | None], tuple[Gap, ...]] = {}

    def view(self, facts: MemberFacts) -> MemberView:
        """The member's facts indexed (`MemberView.of_facts`), once per member."""
        member_id = facts.profile.member_id
        held = self._views.get(member_id)
        if held is None or held[0] is not facts:
            if held is not None:  # other facts of the member: what was answered from the old ones goes
                self._gaps = {k: v for k, v in self._gaps.items() if k[0] != member_id}
            held = (facts, MemberView.of_facts(facts))
            self._views[member_id] = held
        return held[1]

    def gaps(
        self, facts: MemberFacts, program: CareGapProgram, *, as_of: date, track: Track | None
    ) -> list[Gap]:
        """`member_gaps(view, program, as_of=as_of, track=track)` of the member, once per question."""
        view = self.view(facts)
        key = (facts.profile.member_id, program.version, as_of, track)
        found = self._gaps.get(key)
        if found is None:
            found = tuple(member_gaps(view, program, as_of=as_of, track=track))
            self._gaps[key] = found
        return list(found)
