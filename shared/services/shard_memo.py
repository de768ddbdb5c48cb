"""What EarnShard computes of a member more than once, computed once while the shard holds its members.

A monthly run's shard settles each member and writes the member's gaps as of the month's last day; the
page facts then count each clinic's registry from the same members' gaps on the same day (the run's pages
stand on the month's last day). Both ask `member_gaps` the same question: the same member's facts, the
same program version, day and track. The memo answers the second time from the first. It lives for one
shard (RunService.earn makes one per shard): the facts it was computed from are the shard's, read once.

The pages' explanations need each member's ledger history as it stands after the shard recorded its
entries: the monthly kind read it to settle the member (`member_state`) and recorded what it appended
(`record`). The shard's ledger is watched (`ShardMemo.watch`), so the history is kept from those two calls
instead of being queried again per member.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date

from shared.dal.ledger import LedgerRepository, MemberRunState
from shared.logic.gaps import member_gaps
from shared.logic.occurrences import MemberView
from shared.models.actions import Track
from shared.models.gaps import Gap
from shared.models.ledger import LedgerEntry
from shared.models.members import MemberFacts
from shared.programs.care_gap import CareGapProgram


class ShardMemo:
    """Each member's `MemberView` and its gaps per (program version, day, track), for one shard."""

    def __init__(self) -> None:
        self._views: dict[str, tuple[MemberFacts, MemberView]] = {}
        self._gaps: dict[tuple[str, str, date, Track | None], tuple[Gap, ...]] = {}
        self._history: dict[str, dict[str, LedgerEntry]] = {}

    def watch(self, ledger: LedgerRepository) -> LedgerRepository:
        """`ledger`, keeping each member's history this shard read (`member_state`) and what it recorded."""
        return _WatchedLedger(ledger, self)

    def history(self, member_id: str) -> list[LedgerEntry] | None:
        """The member's history as read through the watched ledger, with what was recorded since; None when
        this shard never read it (a kind that settles no member history)."""
        held = self._history.get(member_id)
        return list(held.values()) if held is not None else None

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


class _WatchedLedger(LedgerRepository):
    """Every call passes through; `member_state` and `record` are noted in the memo."""

    def __init__(self, ledger: LedgerRepository, memo: ShardMemo) -> None:
        self._ledger = ledger
        self._memo = memo

    def member_state(self, member_id: str) -> MemberRunState:
        state = self._ledger.member_state(member_id)
        self._memo._history[member_id] = {e.entry_id: e for e in state.entries}
        return state

    def record(self, entry: LedgerEntry) -> tuple[LedgerEntry, bool]:
        stored, new = self._ledger.record(entry)
        if stored.member_id and stored.member_id in self._memo._history:
            self._memo._history[stored.member_id][stored.entry_id] = stored
        return stored, new

    def put_if_absent(self, entry: LedgerEntry) -> None:
        self._ledger.put_if_absent(entry)

    def get(self, entry_id: str) -> LedgerEntry | None:
        return self._ledger.get(entry_id)

    def index_member(self, entry: LedgerEntry) -> None:
        self._ledger.index_member(entry)

    def member_entries(self, member_id: str) -> list[LedgerEntry]:
        return self.member_state(member_id).entries

    def index_members(self, entries: Iterable[LedgerEntry]) -> None:
        self._ledger.index_members(entries)

    def put_gap_digest(self, member_id: str, digest: Mapping[str, str]) -> None:
        self._ledger.put_gap_digest(member_id, digest)

    def put_gap_digests(self, digests: Mapping[str, Mapping[str, str]]) -> None:
        self._ledger.put_gap_digests(digests)

    def by_run(self, run_id: str) -> Iterator[LedgerEntry]:
        return self._ledger.by_run(run_id)

    def run_total(self, run_id: str) -> tuple[int, int]:
        return self._ledger.run_total(run_id)

    def balances(self, run_id: str) -> list[LedgerEntry]:
        return self._ledger.balances(run_id)

    def existing_ids(self, entry_ids: Iterable[str]) -> set[str]:
        return self._ledger.existing_ids(entry_ids)
