"""Annual measure rates per clinic, from the measure engine's populations of each member.

Which rates a program pays on is program data (`shared/programs/data/measures/programs/<program>.json`):
each rate names one action of the program's menu (its code is the rate's name, and its lines of business
say who counts), the measure it follows, and the program's overrides of CMS's definition. A member counts
at the clinic it is assigned to on 31 December under one of the action's lines of business; in the
denominator when in the measure's denominator, neither excluded nor excepted; in the numerator when also
in its numerator (`Populations.rated`, `Populations.met`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from shared.logic.eligibility import assignment_on
from shared.logic.measures.context import RecordIndex
from shared.logic.measures.engine import evaluate_records
from shared.logic.measures.outcome import MeasureOutcome
from shared.logic.measures.records import records_of
from shared.models.actions import ActionCode
from shared.models.members import MemberFacts
from shared.models.runs import MeasureCount
from shared.programs.care_gap import CareGapProgram, CodeSystem
from shared.programs.measures import MeasureCatalog, RatedMeasure, ValueSets, measure_catalog


class MeasureDefinitionMissingError(LookupError):
    """A program's action names a measure without a definition, or a rate names no action of its menu
    (or another measure than its action does)."""


def rated_measures(
    program: CareGapProgram, catalog: MeasureCatalog | None = None
) -> tuple[RatedMeasure, ...]:
    """The rates the program pays on, each checked against the program's menu."""
    found = catalog or measure_catalog()
    for action in program.actions:
        if action.measure is not None and action.measure not in found.definitions:
            raise MeasureDefinitionMissingError(
                f"{program.version}: {action.code} names measure {action.measure}, which has no definition"
            )
    menu = {a.code: a for a in program.actions}
    rated = found.rated(program.program)
    for item in rated:
        named = menu.get(ActionCode(item.rate.rate))
        if named is None:
            raise MeasureDefinitionMissingError(
                f"{program.version}: rate {item.rate.rate} names no action of the menu"
            )
        if named.measure is not None and named.measure != item.rate.measure:
            raise MeasureDefinitionMissingError(
                f"{program.version}: rate {item.rate.rate} follows {item.rate.measure}, "
                f"its action names {named.measure}"
            )
    return rated


def rated_actions(program: CareGapProgram) -> tuple[ActionCode, ...]:
    """The codes of the program's rated actions, in the order its measures file lists them."""
    return tuple(ActionCode(r.rate.rate) for r in rated_measures(program))


def menu_code_sets(program: CareGapProgram) -> dict[str, list[tuple[str, str]]]:
    """The Care Gap menu's code sets by name as (system, code) pairs: the claim codes a measures file may
    count as a value set's (`MeasureCatalog.code_set_codes`); another program's rates use them too."""
    return _code_sets(program)


def _code_sets(program: CareGapProgram) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for action in program.actions:
        for cs in (*action.evidence_codes, *action.condition_codes):
            # CPT II codes are CPT codes to FHIR and the value sets.
            system = CodeSystem.CPT.value if cs.code_system is CodeSystem.CPT_II else cs.code_system.value
            found.setdefault(cs.name, set()).update((system, code) for code in cs.codes)
    return {name: sorted(pairs) for name, pairs in found.items()}


_NO_EXPANSIONS = ValueSets()
_BUILT: dict[tuple[str, str, int], tuple[ValueSets, ValueSets]] = {}


def program_valuesets(program: CareGapProgram, expansions: ValueSets | None = None) -> ValueSets:
    """The value sets a program's rates use: the VSAC expansions given (none by default), with the codes
    of the program's own code sets its measures file names for them. Built once per program version and
    expansions, and kept (every shard of a run asks again)."""
    base = expansions if expansions is not None else _NO_EXPANSIONS
    key = (program.program, program.version, id(base))
    cached = _BUILT.get(key)
    if cached is not None and cached[0] is base:
        return cached[1]
    additions = measure_catalog().code_set_codes(program.program, _code_sets(program))
    built = base.with_codes(additions)
    if len(_BUILT) >= 8:
        _BUILT.clear()
    _BUILT[key] = (base, built)
    return built


def member_outcomes(
    facts: MemberFacts,
    rated: Iterable[RatedMeasure],
    *,
    year: int,
    valuesets: ValueSets,
    known_by: date | None = None,
) -> dict[str, MeasureOutcome]:
    """The member's outcome for each rate (rates of one measure and overrides share one evaluation)."""
    index = RecordIndex(records_of(facts.evidence, known_by), valuesets)
    by_definition: dict[int, MeasureOutcome] = {}
    outcomes = {}
    for item in rated:
        key = id(item.definition)
        if key not in by_definition:
            by_definition[key] = evaluate_records(
                index,
                item.definition,
                year=year,
                birth_date=facts.profile.birth_date,
                gender=facts.profile.gender,
                valuesets=valuesets,
            )
        outcomes[item.rate.rate] = by_definition[key]
    return outcomes


def measure_counts(
    members: Iterable[MemberFacts],
    *,
    program: CareGapProgram,
    year: int,
    actions: Iterable[ActionCode] | None = None,
    valuesets: ValueSets | None = None,
    known_by: date | None = None,
) -> list[MeasureCount]:
    """Per clinic (assignment on 31 December) and rate: members in the rate's denominator and how many
    met it. `actions` limits the rates (default: all the program rates); `valuesets` are the VSAC
    expansions to use (`program_valuesets` adds the program's own code sets); `known_by` counts only
    the evidence the plan knew of by then (the program's submission deadline; None: all of it)."""
    year_end = date(year, 12, 31)
    rated = rated_measures(program)
    if actions is not None:
        wanted = set(actions)
        rated = tuple(r for r in rated if r.rate.rate in wanted)
    index = program_valuesets(program, valuesets)
    menu = {a.code: a for a in program.actions}
    den: Counter[tuple[str, str]] = Counter()
    num: Counter[tuple[str, str]] = Counter()
    for facts in members:
        assigned = {}
        for item in rated:
            span = assignment_on(facts.spans, menu[ActionCode(item.rate.rate)], year_end)
            if span is not None:
                assigned[item.rate.rate] = (item, span.clinic_id)
        if not assigned:
            continue
        outcomes = member_outcomes(
            facts, [i for i, _ in assigned.values()], year=year, valuesets=index, known_by=known_by
        )
        for rate, (item, clinic) in assigned.items():
            part = outcomes[rate].part(group=item.rate.group, component=item.rate.component)
            if part.rated:
                den[(clinic, rate)] += 1
                num[(clinic, rate)] += part.met
    return [
        MeasureCount(clinic_id=c, action=a, denominator=den[(c, a)], numerator=num[(c, a)])
        for c, a in sorted(den)
    ]
