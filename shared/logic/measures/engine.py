"""The measure engine: a member's populations for one measure and year, from the member's evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from shared.logic.measures import (
    amr,
    cbp,
    chl,
    cis,
    diabetes,
    drr,
    dsf,
    ima,
    pod,
    ppc,
    screening,
    spc,
    visits,
)
from shared.logic.measures.context import Ctx, RecordIndex
from shared.logic.measures.outcome import MeasureOutcome
from shared.logic.measures.records import Record, records_of
from shared.models.actions import Sex
from shared.models.members import MemberFacts
from shared.programs.measures import CommonDefinitions, MeasureDefinition, ValueSets, measure_catalog

Evaluate = Callable[[Ctx, Any, int], MeasureOutcome]

EVALUATORS: dict[str, Evaluate] = {
    "breast_cancer_screening": screening.evaluate_bcs,
    "cervical_cancer_screening": screening.evaluate_ccs,
    "colorectal_cancer_screening": screening.evaluate_col,
    "controlling_blood_pressure": cbp.evaluate,
    "glycemic_status": diabetes.evaluate_gsd,
    "eye_exam": diabetes.evaluate_eed,
    "kidney_health": diabetes.evaluate_ked,
    "chlamydia_screening": chl.evaluate,
    "childhood_immunization": cis.evaluate,
    "depression_screening": dsf.evaluate,
    "statin_therapy": spc.evaluate,
    "asthma_medication_ratio": amr.evaluate,
    "adolescent_immunization": ima.evaluate,
    "well_care_visits": visits.evaluate,
    "opioid_pharmacotherapy": pod.evaluate,
    "prenatal_postpartum_care": ppc.evaluate,
    "depression_remission": drr.evaluate,
}
"""The rules of each proportion definition's `logic` (utilization and cost: `utilization.py`)."""

_GENDERS = {Sex.F: "female", Sex.M: "male"}


def evaluate_records(
    records: Sequence[Record] | RecordIndex,
    definition: MeasureDefinition,
    *,
    year: int,
    birth_date: date | None,
    gender: Sex | None,
    valuesets: ValueSets,
    common: CommonDefinitions | None = None,
) -> MeasureOutcome:
    """The populations of one measure for a member's records over the calendar year `year` (pass a
    `RecordIndex` of them when scoring several measures on the same records)."""
    if definition.scoring != "proportion":
        raise ValueError(
            f"{definition.name} counts events, not populations: shared.logic.measures.utilization scores it"
        )
    index = records if isinstance(records, RecordIndex) else RecordIndex(records, valuesets)
    ctx = Ctx(
        birth=birth_date,
        gender=_GENDERS.get(gender) if gender is not None else None,
        first=date(year, 1, 1),
        last=date(year, 12, 31),
        index=index,
        common=common or measure_catalog().common,
    )
    return EVALUATORS[definition.logic](ctx, definition, year)


def member_outcome(
    facts: MemberFacts,
    definition: MeasureDefinition,
    year: int,
    known_by: date | None = None,
    *,
    valuesets: ValueSets | None = None,
) -> MeasureOutcome:
    """A member's populations for one measure over the calendar year `year` (initial population,
    denominator, exclusion, exception, numerator; per group and component), from the evidence the plan
    knew of by `known_by` (None: all of it). `valuesets` are the expansions the definition's value sets
    are matched with (`shared.logic.rates.program_valuesets` for a program's rates); without them only
    the definition's own codes match."""
    return evaluate_records(
        records_of(facts.evidence, known_by),
        definition,
        year=year,
        birth_date=facts.profile.birth_date,
        gender=facts.profile.gender,
        valuesets=valuesets if valuesets is not None else _NO_EXPANSIONS,
    )


_NO_EXPANSIONS = ValueSets()
