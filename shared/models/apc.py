"""The California Advanced Primary Care (APC) model's inputs and results: the Element 3 performance
incentive, the Element 2 population-health payment and member attribution (docs/apc-incentive.md,
docs/apc.md). The rules they are scored by are program data (`shared/programs/apc.py`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from shared.models.actions import Sex
from shared.models.incentives import Amount, Cents, Count
from shared.models.members import PracticeType


def _month(value: str) -> str:
    year, _, month = value.partition("-")
    if not (
        len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12
    ):
        raise ValueError(f"must be a month, YYYY-MM (got {value!r})")
    return value


Month = Annotated[str, AfterValidator(_month)]
"""A calendar month, `YYYY-MM`."""

Rate = Amount
"""A measure's rate in its table's units, taken exactly: percent for quality measures, per 1,000
member-years for AHU and EDU, dollars PMPM for TCOC."""

Code = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Npi = Annotated[str, StringConstraints(min_length=1, max_length=20)]
StrictBool = Annotated[bool, Field(strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Product(StrEnum):
    """The member's product with the plan; attribution prefers the selected PCP for some (program data)."""

    COMMERCIAL_HMO = "commercial_hmo"
    COMMERCIAL_PPO = "commercial_ppo"
    COMMERCIAL_EPO = "commercial_epo"
    MEDICARE_ADVANTAGE = "medicare_advantage"
    MEDI_CAL = "medi_cal"


# --- Element 3: the performance incentive -------------------------------------------------------------


class Category(StrEnum):
    """Where a rate falls (issue 12 §2): attainment pays on the threshold-to-gold scale, improvement a
    fixed share when the practice closed enough of its gap, the others nothing."""

    ATTAINMENT = "attainment"
    IMPROVEMENT = "improvement"
    INELIGIBLE = "ineligible"
    INVALID = "invalid"


class ComponentRate(_Model):
    """One component of a measure scored in parts (DSF-E's screening and follow-up)."""

    rate: Rate
    baseline: Rate | None = None


class MeasureRates(_Model):
    """A practice's result on one measure: `rate` and optional `baseline` (the prior measurement year),
    `denominator` (member months for utilization and cost); a measure scored in parts (DSF-E) gives its
    components instead of a rate."""

    denominator: Count
    rate: Rate | None = None
    baseline: Rate | None = None
    screening: ComponentRate | None = None
    follow_up: ComponentRate | None = None


class IncentiveInput(_Model):
    """One practice's measurement year of the APC performance incentive (`p4p calc apc-incentive`)."""

    practice_type: PracticeType
    max_pmpm: Cents
    member_months: Count
    measures: dict[Code, MeasureRates]


class ComponentOutcome(_Model):
    """How one component was scored: its category, its share of the maximum and its cents."""

    category: Category
    share: Fraction = Field(ge=0, le=1)
    amount_cents: int = Field(ge=0)
    reason: str


class MeasureOutcome(_Model):
    """How one applicable measure was scored. `share` is the exact fraction of the maximum it earned
    (after `scale`); `amount_cents` its whole cents of the total. A measure scored in parts carries its
    components, whose shares and cents add up to the measure's; its category is the best of theirs."""

    category: Category
    share: Fraction = Field(ge=0, le=1)
    amount_cents: int = Field(ge=0)
    reason: str
    components: dict[str, ComponentOutcome] = {}


class IncentiveResult(_Model):
    """A practice's performance incentive: `maximum_cents` = incentive PMPM x member months; `scale`
    multiplies every share of a valid measure (the target, 100% or 50%, over the valid measures' gold
    shares); measures in table 3's order; `total_cents` = the exact amounts' sum, half up, and exactly
    the sum of the measures' cents."""

    practice_type: PracticeType
    maximum_cents: int = Field(ge=0)
    applicable_measures: int = Field(ge=0)
    valid_measures: int = Field(ge=0)
    target: Fraction
    scale: Fraction = Field(ge=0)
    measures: dict[str, MeasureOutcome]
    total_cents: int = Field(ge=0)


# --- Element 2: the population-health payment --------------------------------------------------------


class PhmMember(_Model):
    """A member attributed to the practice and the months (`YYYY-MM`) they were attributed. A gender
    that is `U` or not given is "Unknown or Not Disclosed"."""

    member_id: Annotated[str, StringConstraints(min_length=1)]
    birth_date: Annotated[date, Field(strict=True)]
    gender: Sex | None = None
    months: tuple[Month, ...]


class PhmInput(_Model):
    """A practice's population-health payment for some months (`p4p calc phm`): the PMPM, its HPI decile
    (none: no uplift), whether it met the technical-assistance requirements each month, its members."""

    pmpm: Amount
    hpi_decile: Annotated[int, Field(strict=True, ge=1, le=10)] | None = None
    ta_compliant: dict[Month, StrictBool]
    members: tuple[PhmMember, ...]


class PhmMemberMonth(_Model):
    """One attributed member-month: age on the month's first day, age/sex factor, HPI uplift (a
    fraction: 0.05 is 5%), whether the month met the TA requirements, and its cents, half up."""

    member_id: str
    month: str
    age: int = Field(ge=0)
    factor: Decimal = Field(gt=0)
    uplift: Decimal = Field(ge=0)
    ta_compliant: bool
    amount_cents: int = Field(ge=0)


class PhmResult(_Model):
    """The member-months in the input's order and their total (a sum of whole cents)."""

    member_months: tuple[PhmMemberMonth, ...]
    total_cents: int = Field(ge=0)


# --- Attribution ----------------------------------------------------------------------------------------


class AttributionRule(StrEnum):
    """Which rule attributed the member: the selected/matched PCP, claims, or neither."""

    SELECTED_PCP = "selected_pcp"
    CLAIMS = "claims"
    UNATTRIBUTED = "unattributed"


class AttributionMember(_Model):
    """The member's product and the PCP they selected or the plan matched (eligibility `pcp_npi`). The
    product is required but may be null: a roster that names none (or a plan's own product) is
    claims-based."""

    product: Product | None
    pcp_npi: Npi | None = None


class ProviderRecord(_Model):
    """A provider of a participating practice, as the roster holds it for the month."""

    practice_id: Annotated[str, StringConstraints(min_length=1)]
    primary_care: StrictBool


class Visit(_Model):
    """One claim line that may be a primary-care visit."""

    date: Annotated[date, Field(strict=True)]
    rendering_npi: Npi | None = None
    hcpcs_code: Code
    place_of_service_code: Code | None = None
    allowed_amount: Amount | None = None


class AttributionInput(_Model):
    """One member and month to attribute (`p4p calc attribution`): the participating practices'
    providers (NPI → practice) and the member's claim lines."""

    month: Month
    member: AttributionMember
    providers: dict[Npi, ProviderRecord]
    visits: tuple[Visit, ...] = ()


class PracticeTally(_Model):
    """A practice's (or provider's) primary-care visits in the lookback: how many, the latest, the dollars."""

    key: str
    visits: int = Field(ge=1)
    last_visit: date
    allowed_amount: Decimal = Field(ge=0)


class Attribution(_Model):
    """Where a member-month is attributed, by which rule, and the tallies behind it (the winning practice's
    and the runner-up's, for `attribution explain`). Under `selected_pcp` the claims are not read."""

    month: str
    practice_id: str | None
    provider_npi: str | None
    rule: AttributionRule
    visits_counted: int = Field(ge=0)
    last_visit: date | None
    allowed_amount: Decimal = Field(ge=0)
    runner_up: PracticeTally | None = None


class CountedVisit(_Model):
    """One primary-care visit in the lookback: a provider on a day, its practice, its lines and dollars."""

    date: date
    provider_npi: str
    practice_id: str
    lines: int = Field(ge=1)
    allowed_amount: Decimal = Field(ge=0)


class AttributionWorkings(_Model):
    """What claims-based attribution saw for one member-month (`attribution explain`): the lookback's days,
    the claim lines in it, those that did not count by reason (`NotCounted`), the visits that did, the
    practices' tallies ranked (the first wins) and the winning practice's providers ranked."""

    month: str
    lookback_first: date
    lookback_last: date
    lines_in_lookback: int = Field(ge=0)
    not_counted: dict[str, int]
    visits: tuple[CountedVisit, ...]
    practices: tuple[PracticeTally, ...]
    providers: tuple[PracticeTally, ...]


class AttributionSummary(_Model):
    """What a month's attribution build wrote: the table's key (the prefix of its parts), how many of its
    member-bucket parts and counts (no member data, so it can be logged and printed whole)."""

    month: str
    key: str
    parts: int = Field(ge=0)
    members: int = Field(ge=0)
    selected_pcp: int = Field(ge=0)
    claims: int = Field(ge=0)
    unattributed: int = Field(ge=0)
    practices: int = Field(ge=0)
    claim_lines: int = Field(ge=0)


class AttributionExplanation(_Model):
    """Why a member-month is attributed where it is (`p4p attribution explain`): the table's row
    (`recorded`), the member's product and PCP from the roster, the PCP's practice if it is on a
    participating practice's roster, whether the product prefers the PCP, the claims workings behind it,
    and the answer the claims and rosters on file give now (`current`; it differs from `recorded` when data
    arrived after the build)."""

    member_id: str
    product: str | None
    pcp_npi: str | None
    pcp_practice_id: str | None
    prefers_pcp: bool
    recorded: Attribution
    current: Attribution
    workings: AttributionWorkings
