"""Utilization and cost (APC's AHU, EDU and TCOC): a member's acute discharges, emergency department visits
and standardized cost per month of the measurement year, from the claim lines that state their claim type.

These are not proportions: a member contributes events (or cents) and, in the APC layer
(`shared/logic/apc_rates.py`), the months it was attributed and their age/sex factors; a practice's rate is
the sums' ratio. Here only the member's events and cost by calendar month are decided:

- **Lines.** Medical claim evidence carrying a claim type (`Evidence.claim_type`), one per claim id and line
  number (a line evidencing several actions is one line), as the plan knew of them by `known_by`.
- **Inpatient stays.** Institutional lines whose type of bill (leading zero dropped) starts with one of the
  definition's inpatient prefixes (`11`: hospital inpatient); one stay per claim, from its earliest
  admission date to its latest discharge date. A stay without a discharge date has not ended and counts
  nothing.
- **AHU.** Nonacute stays (a line with a nonacute revenue code: skilled nursing, rehabilitation, hospice…)
  are left out; an acute stay admitted within `transfer_within_days` of the previous acute one's discharge
  (a direct transfer, or the next interim bill) joins it, and the chain counts once, as its last stay: in
  its discharge month when discharged in the year, unless its MS-DRG is excluded (maternity, newborns,
  mental health and chemical dependency) or its discharge disposition is (`20`, expired).
- **EDU.** Each day with an ED line (an ED revenue code, or an ED visit's CPT code) counts once, unless an
  inpatient stay was admitted that day or within `admission_within_days` after (the visit led to the stay).
- **TCOC.** Per line, in its service month: the standardized price of its HCPCS code, else (institutional) of
  its revenue code, else its allowed amount, else nothing (counted as unpriced). An inpatient stay whose
  MS-DRG has a price costs that price once, in its discharge month (its admission month without one),
  and its lines nothing more.
- AHU and EDU leave out members in hospice during the year (`exclude_hospice`); every measure its age band.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from shared.logic.measures.common import has_hospice
from shared.logic.measures.context import Ctx
from shared.logic.measures.screening import in_age_band
from shared.models.evidence import Evidence, EvidenceSource
from shared.programs.apc import StandardPrices
from shared.programs.measures import (
    AcuteHospitalUtilization,
    EmergencyDepartmentUtilization,
    TotalCostOfCare,
)

UtilizationDefinition = AcuteHospitalUtilization | EmergencyDepartmentUtilization | TotalCostOfCare
UTILIZATION_DEFINITIONS = (AcuteHospitalUtilization, EmergencyDepartmentUtilization, TotalCostOfCare)
INSTITUTIONAL = "institutional"


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """One medical claim line with its facility and cost details."""

    claim_id: str
    line: int
    service: date
    code: str | None
    claim_type: str
    bill_type: str | None
    revenue_center: str | None
    admission: date | None
    discharge: date | None
    disposition: str | None
    ms_drg: str | None
    allowed: Decimal | None


@dataclass(frozen=True, slots=True)
class UtilizationOutcome:
    """A member's events and cost by month (1-12) of the measurement year for one utilization or cost
    measure; `counted` False when the member is outside its population (age band, hospice), and then
    contributes no member months either."""

    measure: str
    year: int
    counted: bool
    events: Mapping[int, int] = field(default_factory=dict)
    cost_cents: Mapping[int, int] = field(default_factory=dict)
    unpriced_lines: Mapping[int, int] = field(default_factory=dict)


def _digits(value: str | None, width: int) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip().zfill(width)


def _bill_type(value: str | None) -> str | None:
    """A type of bill without its leading zero (`0111` and `111` are both `111`)."""
    if value is None or not value.strip():
        return None
    return value.strip().lstrip("0") or None


def claim_lines(evidence: Iterable[Evidence], known_by: date | None = None) -> list[ClaimLine]:
    """The member's medical claim lines that state a claim type, one per claim and line number, from the
    evidence the plan knew of by `known_by` (None: all of it)."""
    found: dict[tuple[str, int], ClaimLine] = {}
    for item in evidence:
        if (
            item.source is not EvidenceSource.MEDICAL_CLAIM
            or item.claim_type is None
            or item.claim_id is None
        ):
            continue
        if known_by is not None and item.known_date > known_by:
            continue
        key = (item.claim_id, item.claim_line_number or 0)
        if key in found:
            continue
        # A line's procedure evidence and its record carry its HCPCS code; a diagnosis fact never has a
        # claim type.
        found[key] = ClaimLine(
            claim_id=item.claim_id,
            line=item.claim_line_number or 0,
            service=item.action_date,
            code=item.concept,
            claim_type=item.claim_type.strip().lower(),
            bill_type=_bill_type(item.bill_type_code),
            revenue_center=_digits(item.revenue_center_code, 4),
            admission=item.admission_date,
            discharge=item.discharge_date,
            disposition=_digits(item.discharge_disposition_code, 2),
            ms_drg=_digits(item.ms_drg_code, 3),
            allowed=item.allowed_amount,
        )
    return sorted(found.values(), key=lambda c: (c.service, c.claim_id, c.line))


@dataclass
class Stay:
    """An inpatient stay (one claim) or a chain of them joined by transfers."""

    claim_ids: list[str]
    admission: date
    discharge: date | None
    ms_drg: str | None
    disposition: str | None
    nonacute: bool


def _inpatient(line: ClaimLine, d: UtilizationDefinition) -> bool:
    return (
        line.claim_type == INSTITUTIONAL
        and line.bill_type is not None
        and line.bill_type.startswith(tuple(d.inpatient_bill_types))
    )


def inpatient_stays(
    lines: Sequence[ClaimLine], d: UtilizationDefinition, nonacute: frozenset[str]
) -> list[Stay]:
    """One stay per inpatient claim: earliest admission (its first service date without one), latest
    discharge, its first MS-DRG and the disposition of its last-discharged line, nonacute when a line
    carries a nonacute revenue code."""
    by_claim: dict[str, list[ClaimLine]] = {}
    for line in lines:
        if _inpatient(line, d):
            by_claim.setdefault(line.claim_id, []).append(line)
    stays = []
    for claim_id, claim in by_claim.items():
        admissions = [c.admission for c in claim if c.admission is not None]
        discharges = [c for c in claim if c.discharge is not None]
        last = max(discharges, key=lambda c: c.discharge or date.min) if discharges else None
        stays.append(
            Stay(
                claim_ids=[claim_id],
                admission=min(admissions) if admissions else min(c.service for c in claim),
                discharge=last.discharge if last is not None else None,
                ms_drg=next((c.ms_drg for c in claim if c.ms_drg is not None), None),
                disposition=next(
                    (
                        c.disposition
                        for c in sorted(discharges, key=lambda c: c.discharge or date.min, reverse=True)
                        if c.disposition is not None
                    ),
                    None,
                ),
                nonacute=any(c.revenue_center in nonacute for c in claim),
            )
        )
    return sorted(stays, key=lambda s: (s.admission, s.discharge or date.max, s.claim_ids))


def chains(stays: Sequence[Stay], within_days: int) -> list[Stay]:
    """Stays joined where one is admitted within `within_days` of the previous one's discharge; a chain
    carries its last stay's discharge, MS-DRG, disposition and acuity."""
    joined: list[Stay] = []
    for stay in stays:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.discharge is not None
            and stay.admission <= previous.discharge + timedelta(days=within_days)
        ):
            joined[-1] = Stay(
                claim_ids=[*previous.claim_ids, *stay.claim_ids],
                admission=previous.admission,
                discharge=stay.discharge,
                ms_drg=stay.ms_drg,
                disposition=stay.disposition,
                nonacute=stay.nonacute,
            )
        else:
            joined.append(stay)
    return joined


def _acute_discharges(ctx: Ctx, lines: Sequence[ClaimLine], d: AcuteHospitalUtilization) -> Counter[int]:
    found: Counter[int] = Counter()
    excluded_drgs = frozenset(d.excluded_ms_drgs)
    excluded_dispositions = frozenset(d.excluded_discharge_dispositions)
    stays = inpatient_stays(lines, d, frozenset(d.nonacute_revenue_codes))
    for chain in chains([s for s in stays if not s.nonacute], d.transfer_within_days):
        if chain.discharge is None or not ctx.period.holds(chain.discharge):
            continue
        if chain.ms_drg in excluded_drgs or chain.disposition in excluded_dispositions:
            continue
        found[chain.discharge.month] += 1
    return found


def _ed_visits(ctx: Ctx, lines: Sequence[ClaimLine], d: EmergencyDepartmentUtilization) -> Counter[int]:
    revenue, procedures = frozenset(d.ed_revenue_codes), frozenset(d.ed_procedure_codes)
    days = {
        line.service
        for line in lines
        if (line.revenue_center in revenue or line.code in procedures) and ctx.period.holds(line.service)
    }
    admissions = [s.admission for s in inpatient_stays(lines, d, frozenset())]
    within = timedelta(days=d.admission_within_days)
    found: Counter[int] = Counter()
    for day in days:
        if not any(day <= admitted <= day + within for admitted in admissions):
            found[day.month] += 1
    return found


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def _cost(
    ctx: Ctx, lines: Sequence[ClaimLine], d: TotalCostOfCare, prices: StandardPrices
) -> tuple[Counter[int], Counter[int]]:
    cost: Counter[int] = Counter()
    unpriced: Counter[int] = Counter()
    drg_priced: set[str] = set()
    for stay in inpatient_stays(lines, d, frozenset()):
        price = prices.ms_drg.get(stay.ms_drg) if stay.ms_drg is not None else None
        if price is None:
            continue
        drg_priced.update(stay.claim_ids)
        day = stay.discharge or stay.admission
        if ctx.period.holds(day):
            cost[day.month] += _cents(price)
    for line in lines:
        if line.claim_id in drg_priced or not ctx.period.holds(line.service):
            continue
        price = prices.hcpcs.get(line.code) if line.code is not None else None
        if price is None and line.claim_type == INSTITUTIONAL and line.revenue_center is not None:
            price = prices.revenue_center.get(line.revenue_center)
        if price is None:
            price = line.allowed
        if price is None:
            unpriced[line.service.month] += 1
            continue
        cost[line.service.month] += _cents(price)
    return cost, unpriced


def evaluate_utilization(
    ctx: Ctx,
    lines: Sequence[ClaimLine],
    d: UtilizationDefinition,
    year: int,
    prices: StandardPrices | None = None,
) -> UtilizationOutcome:
    """A member's events (AHU, EDU) or standardized cost (TCOC, at `prices`; none: allowed amounts) by
    month of the year `year`, from its claim lines."""
    counted = ctx.birth is not None and in_age_band(ctx, d) and not (d.exclude_hospice and has_hospice(ctx))
    if not counted:
        return UtilizationOutcome(d.name, year, False)
    if isinstance(d, AcuteHospitalUtilization):
        return UtilizationOutcome(d.name, year, True, events=dict(_acute_discharges(ctx, lines, d)))
    if isinstance(d, EmergencyDepartmentUtilization):
        return UtilizationOutcome(d.name, year, True, events=dict(_ed_visits(ctx, lines, d)))
    cost, unpriced = _cost(ctx, lines, d, prices or StandardPrices())
    return UtilizationOutcome(d.name, year, True, cost_cents=dict(cost), unpriced_lines=dict(unpriced))
