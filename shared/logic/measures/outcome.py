"""A member's populations for one measure, combined the way proportion measures are scored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# MeasureReport population codes, in the order a report lists them.
POPULATION_CODES = (
    ("initial_population", "initial-population"),
    ("denominator", "denominator"),
    ("denominator_exclusion", "denominator-exclusion"),
    ("numerator", "numerator"),
    ("numerator_exclusion", "numerator-exclusion"),
    ("denominator_exception", "denominator-exception"),
)


@dataclass(frozen=True, slots=True)
class Populations:
    """One group's (or component's) populations for one member; None where the measure has no such
    population (most have no exceptions)."""

    initial_population: bool
    denominator: bool
    denominator_exclusion: bool
    numerator: bool
    denominator_exception: bool | None = None
    numerator_exclusion: bool | None = None

    def counts(self) -> dict[str, int]:
        """Population code → 0/1, for the populations this group has."""
        return {
            code: int(value) for attr, code in POPULATION_CODES if (value := getattr(self, attr)) is not None
        }

    @property
    def rated(self) -> bool:
        """In the rate's denominator: in the denominator, neither excluded nor excepted."""
        return self.denominator and not self.denominator_exclusion and not self.denominator_exception

    @property
    def met(self) -> bool:
        """In the rate's numerator."""
        return self.rated and self.numerator


NOT_IN_POPULATION = Populations(False, False, False, False)


@dataclass(frozen=True, slots=True)
class MeasureOutcome:
    """A member's result for one measure and year: one `Populations` per group (as its MeasureReport
    lists them; most measures have one), and per named component (a CIS vaccine series, DSF's
    screening and follow-up) where the measure has them."""

    measure: str
    year: int
    groups: tuple[Populations, ...]
    components: Mapping[str, Populations] = field(default_factory=dict)

    def part(self, *, group: int | None = None, component: str | None = None) -> Populations:
        """A component, a group, or (neither named) the first group the member is in the denominator of."""
        if component is not None:
            return self.components[component]
        if group is not None:
            return self.groups[group]
        return next((g for g in self.groups if g.denominator), self.groups[0])


Check = Callable[[], bool]


def proportion(
    initial_population: bool,
    exclusion: Check,
    numerator: Check,
    exception: Check | None = None,
    denominator: Check | None = None,
) -> Populations:
    """Score one member: exclusions leave the numerator, exceptions count only outside the numerator."""
    ip = bool(initial_population)
    den = ip and (denominator() if denominator else True)
    excluded = den and exclusion()
    met = den and not excluded and numerator()
    excepted = None
    if exception is not None:
        excepted = bool(den and not excluded and not met and exception())
    return Populations(ip, den, excluded, met, excepted)
