"""One member evaluated over one measurement period: retrieves, code matching, dates and ages.

A criterion names its codes as "specs": a value set OID, or one code as `system|code`. Every date
comparison is at day precision, as the published logic's `during day of` / `overlaps day of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from shared.logic.measures.records import CLAIM, Record
from shared.programs.measures import CommonDefinitions, ValueSets, spec_key

FINAL_OBSERVATION = frozenset({"final", "amended", "corrected"})
"""Only these statuses say an observation's result can be used (QI-Core common logic)."""
ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
_REFUTED = frozenset({"refuted", "entered-in-error"})
_DONE = {
    "Encounter": frozenset({"finished"}),
    "Procedure": frozenset({"completed"}),
    "Immunization": frozenset({"completed"}),
}


@cache
def _split(specs: tuple[str, ...]) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """A criterion's specs as (value set OIDs, single codes spelled as evidence spells them)."""
    return (
        frozenset(s for s in specs if "|" not in s),
        frozenset(spec_key(s) for s in specs if "|" in s),
    )


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (Feb 29 falls back to Feb 28), as CQL date arithmetic."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable")


def age_in_years(birth: date | None, on: date) -> int | None:
    """Whole years from birth to a day (CQL AgeInYearsAt)."""
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Window:
    """A closed range of days; None ends are unbounded."""

    first: date | None
    last: date | None

    def holds(self, day: date | None) -> bool:
        """Whether a day lies in the window."""
        return (
            day is not None
            and (self.first is None or day >= self.first)
            and (self.last is None or day <= self.last)
        )


def span(record: Record) -> Window | None:
    """The record's period (None when it states none)."""
    if not record.has_period:
        return None
    return Window(record.start, record.end)


def during(record: Record, window: Window) -> bool:
    """`period during day of window`: every day of the period lies in the window."""
    found = span(record)
    if found is None:
        return False
    after_start = window.first is None or (found.first is not None and found.first >= window.first)
    before_end = window.last is None or (found.last is not None and found.last <= window.last)
    return after_start and before_end


def overlaps(record: Record, window: Window) -> bool:
    """`period overlaps day of window`: the two share a day."""
    found = span(record)
    return found is not None and _overlap(found, window)


def _overlap(a: Window, b: Window) -> bool:
    return (a.first is None or b.last is None or a.first <= b.last) and (
        a.last is None or b.first is None or a.last >= b.first
    )


def ends_within(record: Record, window: Window) -> bool:
    """`period ends during day of window`."""
    found = span(record)
    return found is not None and found.last is not None and window.holds(found.last)


def ends_by(record: Record, day: date) -> bool:
    """`period ends on or before day`."""
    found = span(record)
    return found is not None and found.last is not None and found.last <= day


def starts_by(record: Record, day: date) -> bool:
    """`period starts on or before day` (an open start always does)."""
    found = span(record)
    return found is not None and (found.first is None or found.first <= day)


def prevalence(condition: Record) -> tuple[Window, bool]:
    """QI-Core prevalenceInterval(): onset to abatement, and whether its end is known. An active condition
    with no abatement goes on; an inactive or resolved one with no abatement has an unknown end."""
    clinical = condition.status
    known = clinical is None or clinical in ACTIVE_CLINICAL or condition.end is not None
    return Window(condition.start, condition.end), known


def prevalence_overlaps(condition: Record, window: Window) -> bool:
    """The condition's prevalence overlaps the window (unknown, so false, with an unknown end)."""
    found, known = prevalence(condition)
    return known and _overlap(found, window)


def prevalence_starts_by(condition: Record, day: date) -> bool:
    """The condition's prevalence starts on or before the day (an unknown onset always does)."""
    found, _ = prevalence(condition)
    return found.first is None or found.first <= day


def prevalence_starts_within(condition: Record, window: Window) -> bool:
    """The condition's onset lies in the window."""
    found, _ = prevalence(condition)
    return window.holds(found.first)


class RecordIndex:
    """A member's records indexed once by kind, by value set and by code, for every measure it is scored
    on: a retrieve looks up the records of its value sets instead of matching every record."""

    def __init__(self, records: Sequence[Record], vs: ValueSets) -> None:
        self.records = records
        self.vs = vs
        self.by_kind: dict[str, list[Record]] = {}
        self._by_oid: dict[str, list[int]] = {}
        self._by_code: dict[tuple[str, str], list[int]] = {}
        for position, record in enumerate(records):
            self.by_kind.setdefault(record.kind, []).append(record)
            for oid in vs.oids_of(record.codes):
                self._by_oid.setdefault(oid, []).append(position)
            for pair in record.codes:
                self._by_code.setdefault(pair, []).append(position)

    def coded(self, kinds: Iterable[str], specs: tuple[str, ...]) -> list[Record]:
        """Records of the kinds coded in the specs, in the order the member's evidence lists them."""
        oids, direct = _split(specs)
        positions = {p for oid in oids for p in self._by_oid.get(oid, ())}
        positions.update(p for pair in direct for p in self._by_code.get(pair, ()))
        wanted = set(kinds)
        return [r for p in sorted(positions) if (r := self.records[p]).kind in wanted]


@dataclass
class Ctx:
    """One member over one measurement period, against loaded value sets."""

    birth: date | None
    gender: str | None
    """`female`, `male`, or None when unknown."""
    first: date
    last: date
    index: RecordIndex
    common: CommonDefinitions

    @property
    def vs(self) -> ValueSets:
        """The value sets codes are matched with."""
        return self.index.vs

    @property
    def period(self) -> Window:
        """The measurement period."""
        return Window(self.first, self.last)

    def of(self, *kinds: str) -> list[Record]:
        """Every record of the kinds."""
        return [r for kind in kinds for r in self.index.by_kind.get(kind, ())]

    def age_at(self, day: date) -> int | None:
        """The member's age in whole years on a day."""
        return age_in_years(self.birth, day)

    def age_at_end(self) -> int | None:
        """The member's age on the period's last day."""
        return self.age_at(self.last)

    def age_at_start(self) -> int | None:
        """The member's age on the period's first day."""
        return self.age_at(self.first)

    def years_before(self, years: int) -> Window:
        """The period extended back by whole years (`start of MP - N years` to its end)."""
        return Window(add_years(self.first, -years), self.last)

    def common_oid(self, name: str) -> str:
        """A shared value set's OID by its name."""
        return self.common.valuesets[name]

    def matches(self, codes: tuple[tuple[str, str], ...], specs: Iterable[str]) -> bool:
        """Whether any code is one of the specs or in one of their value sets."""
        oids, direct = _split(specs if isinstance(specs, tuple) else tuple(specs))
        if direct and not direct.isdisjoint(codes):
            return True
        return bool(oids) and not oids.isdisjoint(self.vs.oids_of(codes))

    # ---- retrieves ----------------------------------------------------------------------------------
    def coded(self, kinds: Iterable[str], specs: Iterable[str]) -> list[Record]:
        """Records of the kinds coded in the specs, whatever their status."""
        return self.index.coded(kinds, specs if isinstance(specs, tuple) else tuple(specs))

    def conditions(self, *specs: str) -> list[Record]:
        """Conditions coded in the specs, not refuted or entered in error."""
        return [c for c in self.coded(("Condition",), specs) if c.verification not in _REFUTED]

    def _done(self, kind: str, specs: Iterable[str]) -> list[Record]:
        done = _DONE[kind]
        return [
            r for r in self.coded((kind, CLAIM), specs) if r.tabular or (r.status in done and not r.negated)
        ]

    def encounters(self, *specs: str) -> list[Record]:
        """Finished encounters (or claim lines) coded in the specs."""
        return self._done("Encounter", specs)

    def procedures(self, *specs: str) -> list[Record]:
        """Completed procedures (or claim lines) coded in the specs."""
        return self._done("Procedure", specs)

    def immunizations(self, *specs: str) -> list[Record]:
        """Completed immunizations (or registry doses) coded in the specs."""
        return [
            r
            for r in self.coded(("Immunization",), specs)
            if r.tabular or (r.status == "completed" and not r.negated)
        ]

    def observations(self, *specs: str, statuses: frozenset[str] = FINAL_OBSERVATION) -> list[Record]:
        """Observations with a usable status (lab rows and claim lines included) coded in the specs."""
        return [
            r
            for r in self.coded(("Observation", CLAIM), specs)
            if r.tabular or (r.status in statuses and not r.negated)
        ]

    def service_requests(self, *specs: str) -> list[Record]:
        """Active or completed orders coded in the specs, not marked do-not-perform."""
        return [
            r
            for r in self.coded(("ServiceRequest",), specs)
            if r.status in ("active", "completed") and r.intent in ORDER_INTENTS and not r.negated
        ]

    def medication_requests(self, *specs: str) -> list[Record]:
        """Active or completed medication orders coded in the specs (by code, as the retrieve does; a
        referenced Medication is not resolved), and dispensed fills."""
        orders = [
            r
            for r in self.coded(("MedicationRequest",), specs)
            if r.status in ("active", "completed") and r.intent in ORDER_INTENTS and not r.negated
        ]
        fills = [
            r
            for r in self.coded(("MedicationDispense",), specs)
            if r.tabular or (r.status == "completed" and not r.negated)
        ]
        return orders + fills

    def qualifying_encounters(self, specs: Iterable[str]) -> list[Record]:
        """Finished encounters of the listed kinds during the measurement period."""
        return [e for e in self.encounters(*specs) if during(e, self.period)]

    def has_qualifying_encounter(self, specs: Iterable[str]) -> bool:
        """Whether there is a qualifying encounter in the period."""
        return bool(self.qualifying_encounters(specs))


def authored_within(record: Record, window: Window) -> bool:
    """An order written (or a fill dispensed) during the window."""
    return window.holds(record.day)
