"""Settling a member against the ledger: what a run must append so the ledger matches current evidence.

The ledger is append-only. For each gap step (a *slot*: program, member, action, period, step) at most
one EARN is live, i.e. not named by a REVERSAL. Given what the ledger holds and what current evidence
supports, a run appends:
- a REVERSAL of a live award the evidence no longer supports, or supports for another clinic or amount
  (a void, a replacement, a corrected date); its amount is the award's, negated, and `reverses` names it;
- an EARN for a supported step with no live award; after a reversal it takes the next generation, so its
  id differs from the reversed award's.
A live award that is still supported at the same clinic and amount stands, whatever evidence now backs it.
Clinic balances: a clinic whose run nets negative is carried to the next run instead of paid negative.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from shared.models.ledger import CarriedBalance, EntryKind, LedgerEntry

Slot = tuple[str, ...]


def live_awards(entries: Iterable[LedgerEntry]) -> dict[Slot, list[LedgerEntry]]:
    """EARN entries not named by any REVERSAL, by slot, lowest generation first."""
    entries = list(entries)
    reversed_ids = {e.reverses for e in entries if e.kind is EntryKind.REVERSAL}
    live: dict[Slot, list[LedgerEntry]] = defaultdict(list)
    for e in entries:
        if e.kind is EntryKind.EARN and e.entry_id not in reversed_ids:
            live[e.slot].append(e)
    for awards in live.values():
        awards.sort(key=lambda e: (e.generation, e.entry_id))
    return dict(live)


def reversal_of(award: LedgerEntry, *, run_id: str, month: str) -> LedgerEntry:
    """The REVERSAL of `award`, recorded by `run_id` in `month`, traced to the award and its evidence."""
    return award.model_copy(
        update={
            "kind": EntryKind.REVERSAL,
            "amount_cents": -award.amount_cents,
            "reverses": award.entry_id,
            "run_id": run_id,
            "earned_month": month,
        }
    )


def _stands(award: LedgerEntry, supported: LedgerEntry) -> bool:
    return award.clinic_id == supported.clinic_id and award.amount_cents == supported.amount_cents


def reversals(
    paid: Iterable[LedgerEntry], supported: Iterable[LedgerEntry], *, run_id: str, month: str
) -> list[LedgerEntry]:
    """REVERSAL entries for the live awards in `paid` that `supported` (current evidence) does not back."""
    return [
        e for e in settle_member(paid, supported, run_id=run_id, month=month) if e.kind is EntryKind.REVERSAL
    ]


def settle_member(
    paid: Iterable[LedgerEntry], supported: Iterable[LedgerEntry], *, run_id: str, month: str
) -> list[LedgerEntry]:
    """Entries to append for one member: reversals first, then new awards, in a deterministic order.

    `paid` is every ledger entry of the member (any run, any kind); `supported` is what current evidence
    earns through `month` (`shared.logic.awards.member_awards`). Appending the result and settling again
    with the same evidence yields nothing: the operation is idempotent.
    """
    history = list(paid)
    live = live_awards(history)
    generations: dict[Slot, int] = {}
    for e in history:
        if e.kind is EntryKind.EARN:
            generations[e.slot] = max(generations.get(e.slot, -1), e.generation)
    wanted: dict[Slot, LedgerEntry] = {}
    for s in supported:
        wanted.setdefault(s.slot, s)
    out_reversals: list[LedgerEntry] = []
    out_awards: list[LedgerEntry] = []
    for slot in sorted(set(live) | set(wanted)):
        want = wanted.get(slot)
        keep = next((a for a in live.get(slot, []) if want is not None and _stands(a, want)), None)
        out_reversals += [
            reversal_of(a, run_id=run_id, month=month) for a in live.get(slot, []) if a is not keep
        ]
        if want is not None and keep is None:
            generation = generations[slot] + 1 if slot in generations else 0
            out_awards.append(want.model_copy(update={"generation": generation, "run_id": run_id}))
    return out_reversals + out_awards


def _balance(
    kind: EntryKind,
    *,
    program: str,
    payer: str,
    clinic_id: str,
    cents: int,
    period: str,
    run_id: str,
    month: str,
    as_of: date,
    reverses: str | None = None,
    refs: tuple[str, ...] = (),
) -> LedgerEntry:
    return LedgerEntry(
        program=program,
        payer=payer,
        clinic_id=clinic_id,
        member_id="",
        period=period,
        kind=kind,
        reverses=reverses,
        basis=CarriedBalance(),
        amount_cents=cents,
        rule_version="",
        evidence_ids=(),
        evidence_refs=refs,
        action_date=as_of,
        earned_month=month,
        run_id=run_id,
    )


def carry_balances(
    clinic_totals: Mapping[tuple[str, str], int],
    carried_in: Sequence[LedgerEntry],
    *,
    program: str,
    run_id: str,
    month: str,
    as_of: date,
) -> list[LedgerEntry]:
    """CARRY_IN entries for the previous run's CARRY_OUTs, and a CARRY_OUT for every clinic still negative.

    `clinic_totals` sums this run's award and reversal entries per (payer, clinic): each payer pays its own
    clinics; `carried_in` are the balance entries of the previous closed run. After these entries no
    clinic's run total with a payer is below zero, and the sum over the two runs is unchanged: a negative
    balance is deferred, never lost or paid twice.
    """
    totals: dict[tuple[str, str], int] = defaultdict(int, clinic_totals)
    out: list[LedgerEntry] = []
    # A recalculated run may have reversed a carry-out and carried another: only live ones come in.
    reversed_ids = {e.reverses for e in carried_in if e.kind is EntryKind.REVERSAL}
    for source in sorted(carried_in, key=lambda e: (e.payer, e.clinic_id, e.generation)):
        if source.kind is not EntryKind.CARRY_OUT or source.entry_id in reversed_ids:
            continue
        out.append(
            _balance(
                EntryKind.CARRY_IN,
                program=source.program,
                payer=source.payer,
                clinic_id=source.clinic_id,
                cents=-source.amount_cents,
                period=source.period,
                run_id=run_id,
                month=month,
                as_of=as_of,
                reverses=source.entry_id,
                refs=(f"run:{source.run_id}",),
            )
        )
        totals[(source.payer, source.clinic_id)] -= source.amount_cents
    for payer, clinic_id in sorted(totals):
        if totals[(payer, clinic_id)] < 0:
            out.append(
                _balance(
                    EntryKind.CARRY_OUT,
                    program=program,
                    payer=payer,
                    clinic_id=clinic_id,
                    cents=-totals[(payer, clinic_id)],
                    period=month,
                    run_id=run_id,
                    month=month,
                    as_of=as_of,
                )
            )
    return out


def _run_slot(entry: LedgerEntry) -> tuple[str, ...]:
    # A CARRY_IN is one per carried-out source; a CARRY_OUT, an incentive or a guarantee part one per
    # payer, clinic, what it pays for, and run.
    return (entry.kind.value, entry.payer, entry.clinic_id, *entry.basis.slot_key(), entry.reverses or "")


def settle_run_entries(
    own: Sequence[LedgerEntry], wanted: Sequence[LedgerEntry], *, run_id: str, month: str
) -> list[LedgerEntry]:
    """Clinic entries a run must append so its live clinic entries are `wanted`: carried balances
    (`carry_balances`' output), an annual run's incentives and guarantee parts.

    `own` is what the run already recorded (a resumed or recalculated run). A live entry of the same kind,
    payer, clinic, basis and source with the same amount stands; any other live entry is reversed, and a
    wanted one with no standing entry is added with the next generation. A run recorded for the first
    time appends `wanted` as it is.
    """
    reversed_ids = {e.reverses for e in own if e.kind is EntryKind.REVERSAL}
    live = {
        _run_slot(e): e for e in own if e.kind is not EntryKind.REVERSAL and e.entry_id not in reversed_ids
    }
    generations: dict[tuple[str, ...], int] = defaultdict(lambda: -1)
    for e in own:
        if e.kind is not EntryKind.REVERSAL:
            slot = _run_slot(e)
            generations[slot] = max(generations[slot], e.generation)
    out: list[LedgerEntry] = []
    wanted_slots = {_run_slot(w) for w in wanted}
    for slot, entry in sorted(live.items()):
        if slot not in wanted_slots:
            out.append(reversal_of(entry, run_id=run_id, month=month))
    for want in wanted:
        slot = _run_slot(want)
        standing = live.get(slot)
        if standing is not None and standing.amount_cents == want.amount_cents:
            continue
        if standing is not None:
            out.append(reversal_of(standing, run_id=run_id, month=month))
        out.append(want.model_copy(update={"generation": generations[slot] + 1}))
    return out
