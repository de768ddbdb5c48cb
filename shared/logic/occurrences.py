"""Occurrences: the evidence of one action grouped into the units that earn once each (a year, a date
of service, a prescription's month or quarter, a visit, a dose series, a condition in a year), with the
step each piece of evidence completed first. Evidence outside an action's window counts for nothing: a
fill that confirms no attested prescription, an OMW test outside the 180 days after a fracture, a lead
test after the 2nd birthday.

A step is completed by the first evidence to reach it, in the order the plan learned of it
(`_order`), so the answer does not depend on the order files arrived in. Attestations complete their
own step but never a confirming step (claim, dispense). Confirming evidence (claims, fills, registry
doses, lab results) completes the confirming step and, for visit, 2-step, 3-step and immunization
actions, every step still open once the action is complete (FAQ Q15).

Given an `unused` list, `occurrences` also reports each piece of evidence it puts in no occurrence and
why (`Unused`), so an explanation of a missing payment reads the rule that dropped it from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from itertools import product

from shared.logic.counting import (
    Reading,
    dose_window,
    improved,
    reading,
    refill_key,
    refill_window_end,
    refill_window_start,
    series_complete,
    valid_doses,
    window_bounds,
)
from shared.logic.dates import month_of
from shared.logic.eligibility import span_on
from shared.models.actions import Step
from shared.models.evidence import CONDITION_PREFIX, Evidence, EvidenceSource
from shared.models.members import EligibilitySpan, MemberFacts, MemberProfile
from shared.programs.menu import ActionDefinition, FrequencyPer, RequiredTest

UNATTESTABLE = frozenset({Step.CLAIM, Step.DISPENSE})


class Unused(StrEnum):
    """Why `occurrences` put a piece of evidence in no occurrence."""

    OUTSIDE_AGE_WINDOW = "outside_age_window"
    """Dated outside the action's age window (LSC after the 2nd birthday, a dose or visit out of range)."""
    OUTSIDE_CONDITION_WINDOW = "outside_condition_window"
    """Not within `due_days_after_condition` days after a condition (OMW: 180 days after a fracture)."""
    NOT_A_PRESCRIPTION = "not_a_prescription"
    """Medication: an attestation of another step than the prescription."""
    NOT_ASSIGNED_CLINICS_PRESCRIPTION = "not_assigned_clinics_prescription"
    """Medication: a prescription attested by a clinic the member was not assigned to on its date."""
    NO_PRESCRIPTION_WINDOW = "no_prescription_window"
    """Medication: a fill that confirms none of the assigned clinic's prescriptions."""
    VISITS_USED = "visits_used"
    """Well-child visits: every visit of the window is already taken."""
    NO_HISTORICAL_CONDITION = "no_historical_condition"
    """HCC-DX: evidence of no condition diagnosed in the lookback years."""


@dataclass(frozen=True)
class UnusedEvidence:
    """A piece of evidence no occurrence took, and why."""

    evidence: Evidence
    why: Unused


def _unused(sink: list[UnusedEvidence] | None, item: Evidence, why: Unused) -> None:
    if sink is not None:
        sink.append(UnusedEvidence(item, why))


@dataclass(frozen=True)
class StepCompletion:
    """The evidence that completed a step first, and the month the step was earned."""

    step: Step
    evidence: Evidence

    @property
    def earned_month(self) -> str:
        """Attestations earn in the month of their date; claim-confirmed steps in the month received."""
        return month_of(self.evidence.known_date)


def _order(evidence: Evidence) -> tuple[date, date, int, str]:
    # Attestations sort before a claim known the same day so the clinic's own action keeps its step.
    source_rank = 0 if evidence.source is EvidenceSource.ATTESTATION else 1
    return (evidence.known_date, evidence.action_date, source_rank, evidence.evidence_id)


class RequiredTestDates:
    """The dates on which one occurrence's confirming evidence so far shows each set its action's required
    tests name, kept as the evidence arrives (each item matched against the sets once), so that whether the
    tests hold is asked of the dates, not of every item again."""

    def __init__(self, action: ActionDefinition) -> None:
        self._tests = action.requires
        names = {name for test in action.requires for name in (*test.any_of, *test.together)}
        self._sets = {name: action.evidence_sets_named(name) for name in sorted(names)}
        self._dates: dict[str, list[date]] = {name: [] for name in self._sets}

    def add(self, item: Evidence) -> None:
        if not item.concept:
            return
        for name, sets in self._sets.items():
            if any(cs.matches(item.concept) for cs in sets):
                self._dates[name].append(item.action_date)

    def hold(self) -> bool:
        """True when every required test holds on the evidence added so far."""
        return all(self._holds(test) for test in self._tests)

    def _holds(self, test: RequiredTest) -> bool:
        if any(self._dates[name] for name in test.any_of):
            return True
        if not test.together:
            return False
        # Every set of `together` on dates no more than `within_days` apart.
        for combination in product(*(self._dates[name] for name in test.together)):
            if (max(combination) - min(combination)).days <= test.within_days:
                return True
        return False


def tests_found(action: ActionDefinition, items: Sequence[Evidence]) -> bool:
    """True when confirming `items` of one occurrence hold every test the action requires (KED: both an
    eGFR and a uACR); always true for actions that require none."""
    found = RequiredTestDates(action)
    for item in items:
        found.add(item)
    return found.hold()


def first_completions(action: ActionDefinition, evidence: Iterable[Evidence]) -> dict[Step, StepCompletion]:
    """First completion of each step of `action` by `evidence` (all of one occurrence). With required
    tests, a confirming record completes steps only once it and those known before it hold them all."""
    done: dict[Step, StepCompletion] = {}
    required = RequiredTestDates(action) if action.requires else None
    for item in sorted(evidence, key=_order):
        targets: tuple[Step, ...]
        if item.source is EvidenceSource.ATTESTATION:
            if item.step in UNATTESTABLE or item.step not in action.steps:
                continue
            targets = (item.step,)
        else:
            if required is not None:
                required.add(item)
                if not required.hold():
                    continue
            targets = action.steps if action.category.claim_completes_remaining else (action.last_step,)
        for step in targets:
            done.setdefault(step, StepCompletion(step=step, evidence=item))
    return done


@dataclass(frozen=True)
class Occurrence:
    """One earning unit of an action for a member; `period` is the gap's and the ledger's period."""

    period: str
    completions: dict[Step, StepCompletion]
    evidence: tuple[Evidence, ...] = ()
    due_date: date | None = None
    window_start: date | None = None
    reading: Reading | None = None
    improved: bool = False
    condition: str | None = None

    @property
    def year(self) -> int:
        return int(self.period[:4])


@dataclass
class MemberView:
    """A member's facts indexed once: evidence by action, condition fact dates by code-set name."""

    profile: MemberProfile
    spans: tuple[EligibilitySpan, ...]
    by_action: dict[str, list[Evidence]] = field(default_factory=dict)
    conditions: dict[str, list[date]] = field(default_factory=dict)
    taken: dict[int, tuple[ActionDefinition, tuple[Occurrence, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """`occurrences` of each action asked, by the definition's identity (held with them): a run asks the
    same question of the same view for the member's awards, its gaps and its registry rows. A view is
    built whole and not changed after."""
    known_on: dict[date, MemberView] = field(default_factory=dict, repr=False, compare=False)
    """`known` views made of this one, by day: a shard's gaps and its pages' chart requests ask for the
    member as known on the same day, and share that view's occurrences."""

    @classmethod
    def of(
        cls, profile: MemberProfile, spans: Iterable[EligibilitySpan], evidence: Iterable[Evidence]
    ) -> MemberView:
        """Index a member's profile, spans and evidence."""
        view = cls(profile=profile, spans=tuple(spans))
        for item in evidence:
            if item.is_condition:
                view.conditions.setdefault(item.action.removeprefix(CONDITION_PREFIX), []).append(
                    item.action_date
                )
            else:
                view.by_action.setdefault(item.action, []).append(item)
        return view

    @classmethod
    def of_facts(cls, facts: MemberFacts) -> MemberView:
        """Index a `MemberFacts`."""
        return cls.of(facts.profile, facts.spans, facts.evidence)

    def known(self, as_of: date) -> MemberView:
        """The same member as known on `as_of` (evidence the plan had learned of by then): this view when
        every item was known by then, else a view made once per day."""
        held = self.known_on.get(as_of)
        if held is not None:
            return held
        view = MemberView(profile=self.profile, spans=self.spans, conditions=self.conditions)
        whole = True
        for code, items in self.by_action.items():
            kept = [e for e in items if e.known_date <= as_of]
            whole = whole and len(kept) == len(items)
            if kept:
                view.by_action[code] = kept
        found = self if whole else view
        self.known_on[as_of] = found
        return found


def occurrences(
    view: MemberView, action: ActionDefinition, unused: list[UnusedEvidence] | None = None
) -> list[Occurrence]:
    """Every occurrence of `action` the member's evidence speaks to, in period order; evidence put in
    none is appended to `unused` with the reason, when given."""
    if unused is not None:  # the evidence left out is wanted too: worked out afresh
        return _occurrences(view, action, unused)
    held = view.taken.get(id(action))
    if held is None or held[0] is not action:
        held = (action, tuple(_occurrences(view, action, None)))
        view.taken[id(action)] = held
    return list(held[1])


def _occurrences(
    view: MemberView, action: ActionDefinition, unused: list[UnusedEvidence] | None
) -> list[Occurrence]:
    items = view.by_action.get(action.code, [])
    per = action.frequency.per
    if per is FrequencyPer.DOSE:
        return _doses(view, action, items, unused)
    if per is FrequencyPer.MONTHS_15:
        return _visits(view, action, items, unused)
    if per is FrequencyPer.YEAR_PER_CONDITION:
        return _recaptures(view, action, items, unused)
    if per is FrequencyPer.DATE_OF_SERVICE:
        return _dates_of_service(action, items)
    if action.prescription_windows:
        return _prescriptions(view, action, items, unused)
    if action.due_days_after_condition is not None:
        return _after_condition(view, action, items, unused)
    window = None
    if action.visit_window is not None:
        window = window_bounds(view.profile.birth_date, action.visit_window)
    groups: dict[str, list[Evidence]] = defaultdict(list)
    for item in items:
        if window is None or window[0] <= item.action_date <= window[1]:
            groups[str(item.action_date.year)].append(item)
        else:
            _unused(unused, item, Unused.OUTSIDE_AGE_WINDOW)
    return [
        Occurrence(period=k, completions=first_completions(action, v), evidence=tuple(v))
        for k, v in sorted(groups.items())
    ]


def _after_condition(
    view: MemberView,
    action: ActionDefinition,
    items: Sequence[Evidence],
    unused: list[UnusedEvidence] | None = None,
) -> list[Occurrence]:
    """Actions due within days of a condition (OMW: 180 days after a fracture): evidence counts only from
    a condition's date through `due_days_after_condition` days after it, in the year of the earliest such
    condition (so a test early next year closes a late fracture's gap); other evidence counts for nothing."""
    assert action.due_days_after_condition is not None
    within = timedelta(days=action.due_days_after_condition)
    starts = sorted(d for name in action.eligibility.conditions for d in view.conditions.get(name, ()))
    groups: dict[int, list[Evidence]] = defaultdict(list)
    for item in items:
        start = next((d for d in starts if d <= item.action_date <= d + within), None)
        if start is not None:
            groups[start.year].append(item)
        else:
            _unused(unused, item, Unused.OUTSIDE_CONDITION_WINDOW)
    return [
        Occurrence(period=str(year), completions=first_completions(action, group), evidence=tuple(group))
        for year, group in sorted(groups.items())
    ]


def _dates_of_service(action: ActionDefinition, items: Sequence[Evidence]) -> list[Occurrence]:
    groups: dict[date, list[Evidence]] = defaultdict(list)
    for item in items:
        groups[item.action_date].append(item)
    found, previous = [], None
    for day, group in sorted(groups.items()):
        done = first_completions(action, group)
        result = None
        if action.results is not None:
            confirming = done.get(action.last_step)
            # The tier is read from what was known when the confirming step was earned: it never moves.
            cutoff = confirming.evidence.known_date if confirming else date.max
            known = [e for e in group if e.source.confirms and e.known_date <= cutoff]
            result = reading(action.results, day, known)
        found.append(
            Occurrence(
                period=day.isoformat(),
                completions=done,
                evidence=tuple(group),
                reading=result,
                improved=result is not None and improved(previous, result),
            )
        )
        previous = result or previous
    return found


@dataclass
class _Prescribed:
    """One earning window of a medication action: the prescriptions written in it and the one fill that
    confirmed one of them."""

    key: str
    first: date
    last: date
    items: list[Evidence] = field(default_factory=list)
    fill: Evidence | None = None


def _written_by_assigned_clinic(view: MemberView, item: Evidence) -> bool:
    # Q10: only the assigned clinic's prescriptions earn, so no other clinic's can open a window or use
    # up the fill that confirms the assigned clinic's own.
    span = span_on(view.spans, item.action_date)
    return span is not None and span.clinic_id == item.attesting_clinic_id


def _confirming_fill(
    action: ActionDefinition, prescription: Evidence, fills: Sequence[Evidence], used: set[str]
) -> Evidence | None:
    """The first fill not yet used dispensed on the prescription date or within `dispense_within_days`
    after it (those of the prescription's window, or of the fill's when the prescription has no supply)."""
    longest = max(w.dispense_within_days for w in action.prescription_windows)
    for fill in fills:
        days = (fill.action_date - prescription.action_date).days
        if days > longest:
            break
        if days < 0 or fill.evidence_id in used:
            continue
        window = action.prescription_window(prescription.days_supply or fill.days_supply)
        if days <= window.dispense_within_days:
            return fill
    return None


def _prescriptions(
    view: MemberView,
    action: ActionDefinition,
    items: Sequence[Evidence],
    unused: list[UnusedEvidence] | None = None,
) -> list[Occurrence]:
    """Medication Management: the assigned clinic's first prescription in a calendar month or quarter
    (as its window says, by days supply) opens that window; later ones in it join it, so it earns once.
    Each window takes the first unused fill that may confirm one of its prescriptions, wherever the fill
    falls, so a fill confirms one prescription only; fills that confirm none belong to no occurrence."""
    by_date = sorted(items, key=lambda e: (e.action_date, e.evidence_id))
    fills = [e for e in by_date if e.source.confirms]
    written = []
    for e in by_date:
        if e.source is not EvidenceSource.ATTESTATION:
            continue
        if e.step is not action.first_step:
            _unused(unused, e, Unused.NOT_A_PRESCRIPTION)
        elif not _written_by_assigned_clinic(view, e):
            _unused(unused, e, Unused.NOT_ASSIGNED_CLINICS_PRESCRIPTION)
        else:
            written.append(e)
    used: set[str] = set()
    windows: list[_Prescribed] = []
    for prescription in written:
        window = next((w for w in windows if w.first <= prescription.action_date <= w.last), None)
        fill = None
        if window is None or window.fill is None:
            fill = _confirming_fill(action, prescription, fills, used)
            if fill is not None:
                used.add(fill.evidence_id)
        if window is None:
            supply = prescription.days_supply or (fill.days_supply if fill else None)
            rule = action.prescription_window(supply)
            key = refill_key(prescription.action_date, quarterly=rule.quarterly)
            window = _Prescribed(key=key, first=refill_window_start(key), last=refill_window_end(key))
            windows.append(window)
        window.items.append(prescription)
        window.fill = window.fill or fill
    for fill in fills:
        if fill.evidence_id not in used:
            _unused(unused, fill, Unused.NO_PRESCRIPTION_WINDOW)
    found = []
    for window in windows:
        evidence = (*window.items, window.fill) if window.fill else tuple(window.items)
        found.append(
            Occurrence(
                period=window.key,
                completions=first_completions(action, evidence),
                evidence=evidence,
                due_date=window.last,
                window_start=window.first,
            )
        )
    return found


def _doses(
    view: MemberView,
    action: ActionDefinition,
    items: Sequence[Evidence],
    unused: list[UnusedEvidence] | None = None,
) -> list[Occurrence]:
    rule = action.doses
    assert rule is not None
    birth = view.profile.birth_date
    groups: dict[tuple[date, date], list[Evidence]] = defaultdict(list)
    for item in items:
        first, last = dose_window(rule, birth, item.action_date)
        if item.action_date <= last:
            groups[(first, last)].append(item)
        else:
            _unused(unused, item, Unused.OUTSIDE_AGE_WINDOW)
    found = []
    for (first, last), group in sorted(groups.items()):
        done: dict[Step, StepCompletion] = {}
        seen: list[Evidence] = []
        for item in sorted(group, key=_order):
            if item.source is EvidenceSource.ATTESTATION:
                if item.step in action.steps:
                    done.setdefault(item.step, StepCompletion(step=item.step, evidence=item))
                continue
            seen.append(item)
            counted = valid_doses(seen, first, last)
            if not counted:
                continue
            done.setdefault(action.first_step, StepCompletion(step=action.first_step, evidence=item))
            if series_complete(counted, action):
                for step in action.steps:  # Q15: the completing dose awards every step still open
                    done.setdefault(step, StepCompletion(step=step, evidence=item))
                break
        period = str(first.year if rule.window is None else last.year)
        found.append(
            Occurrence(
                period=period, completions=done, evidence=tuple(group), due_date=last, window_start=first
            )
        )
    return found


@dataclass
class _Slot:
    """One well-child visit: its date once a visit is known, and its evidence."""

    day: date | None = None
    items: list[Evidence] = field(default_factory=list)


def _slot_for(slots: list[_Slot], item: Evidence, limit: int) -> _Slot | None:
    if item.source is EvidenceSource.ATTESTATION and item.step is Step.SCHEDULE:
        pending = next((s for s in slots if s.day is None), None)
        if pending is None and len(slots) < limit:
            pending = _Slot()
            slots.append(pending)
        return pending
    slot = next((s for s in slots if s.day == item.action_date), None)
    slot = slot or next((s for s in slots if s.day is None), None)
    if slot is None and len(slots) < limit:
        slot = _Slot()
        slots.append(slot)
    if slot is not None:
        slot.day = item.action_date
    return slot


def _visits(
    view: MemberView,
    action: ActionDefinition,
    items: Sequence[Evidence],
    unused: list[UnusedEvidence] | None = None,
) -> list[Occurrence]:
    assert action.visit_window is not None
    first, last = window_bounds(view.profile.birth_date, action.visit_window)
    slots: list[_Slot] = []
    # Slots fill in the order the plan learned of visits, so a late claim never renumbers paid visits;
    # a schedule attestation opens a slot that the next visit fills.
    for item in sorted(items, key=_order):
        scheduling = item.source is EvidenceSource.ATTESTATION and item.step is Step.SCHEDULE
        if item.action_date > last or (item.action_date < first and not scheduling):
            _unused(unused, item, Unused.OUTSIDE_AGE_WINDOW)
            continue
        slot = _slot_for(slots, item, action.frequency.count)
        if slot is not None:
            slot.items.append(item)
        else:
            _unused(unused, item, Unused.VISITS_USED)
    return [
        Occurrence(
            period=f"{last.year}/visit-{n}",
            completions=first_completions(action, slot.items),
            evidence=tuple(slot.items),
            due_date=last,
            window_start=first,
        )
        for n, slot in enumerate(slots, start=1)
    ]


def historical_conditions(view: MemberView, action: ActionDefinition, year: int) -> list[str]:
    """Recapture sets the member had a diagnosis of in the lookback years before `year`, by name."""
    first = year - action.eligibility.lookback_years
    return sorted(
        name
        for name in action.recapture_sets
        if any(first <= d.year < year for d in view.conditions.get(name, ()))
    )


def _condition_of(action: ActionDefinition, item: Evidence, open_sets: list[str]) -> str | None:
    if item.condition:
        return item.condition
    named = item.result_value or item.concept
    if named:
        for name in open_sets:
            if named == name or any(cs.matches(named) for cs in action.condition_set(name)):
                return name
    return open_sets[0] if open_sets else None


def _recaptures(
    view: MemberView,
    action: ActionDefinition,
    items: Sequence[Evidence],
    unused: list[UnusedEvidence] | None = None,
) -> list[Occurrence]:
    by_year: dict[int, list[Evidence]] = defaultdict(list)
    for item in items:
        by_year[item.action_date.year].append(item)
    found = []
    for year, group in sorted(by_year.items()):
        historical = historical_conditions(view, action, year)
        groups: dict[str, list[Evidence]] = defaultdict(list)
        for item in sorted(group, key=_order):
            # An attestation naming no condition reassesses the first historical one not yet assessed.
            unassessed = [
                n for n in historical if not any(e.source is EvidenceSource.ATTESTATION for e in groups[n])
            ]
            name = _condition_of(action, item, unassessed or historical)
            if name in historical:
                groups[name].append(item)
            else:
                _unused(unused, item, Unused.NO_HISTORICAL_CONDITION)
        found += [
            Occurrence(
                period=f"{year}/{name}",
                completions=first_completions(action, groups[name]),
                evidence=tuple(groups[name]),
                condition=name,
            )
            for name in historical
            if groups.get(name)
        ]
    return found
