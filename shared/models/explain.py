"""Why a gap was or was not paid (FAQ Q9), as the engine's own rules answer it (`docs/explain.md`).

An explanation walks the rule chain of every step of a member's gap in a year: what completed the step,
what the ledger paid for it, and the first rule that stopped it. Each finding is a `Reason`: its `code`
names a `ReasonKind` (the plan's wording and the rule it comes from), its `facts` fill the wording in. A
step's `reasons` are in rule order; the first that `stops` is the rule that stopped the step.

Kinds are registered with `reason_kind`, so a program adds its own without touching these models (APC's
quarterly PMPM run has, `program="apc"`). Facts are member ids, actions, steps, dates, amounts and evidence
references: never a name or a birth date, since a clinic reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from string import Formatter

from pydantic import BaseModel, ConfigDict, computed_field

from shared.models.actions import Step


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reason(_Frozen):
    """One finding on a step's rule chain: a rule that stopped it (`stops`), or a fact on the way."""

    code: str
    stops: bool
    text: str
    facts: dict[str, str]


class ReasonKind(_Frozen):
    """A kind of reason: its code, the program whose rule it is, the plan's wording (a template over the
    facts it needs), where the rule lives, and whether it stops a step or only records a fact."""

    code: str
    program: str
    wording: str
    source: str
    stops: bool = True

    @property
    def fields(self) -> tuple[str, ...]:
        """The facts the wording needs, in the order it names them."""
        names = [name for _, name, _, _ in Formatter().parse(self.wording) if name]
        return tuple(dict.fromkeys(names))

    def reason(self, **facts: object) -> Reason:
        """A reason of this kind; every fact the wording names must be given, and no other."""
        given = {k: str(v) for k, v in facts.items()}
        if set(given) != set(self.fields):
            raise ValueError(f"reason {self.code} takes {sorted(self.fields)}, got {sorted(given)}")
        return Reason(code=self.code, stops=self.stops, text=self.wording.format(**given), facts=given)


REASON_KINDS: dict[str, ReasonKind] = {}
"""Every registered kind by code (the table of `docs/explain.md`)."""


def reason_kind(code: str, *, program: str, wording: str, source: str, stops: bool = True) -> ReasonKind:
    """Register a kind of reason; a code names one kind only."""
    if code in REASON_KINDS:
        raise ValueError(f"reason kind {code} is registered twice")
    kind = ReasonKind(code=code, program=program, wording=wording, source=source, stops=stops)
    REASON_KINDS[code] = kind
    return kind


class StepStatus(StrEnum):
    """Where a step stands with the clinic."""

    PAID = "paid"
    DUE = "due"
    """Earned on what is known now; the next monthly run pays it."""
    NOT_PAID = "not_paid"
    REVERSED = "reversed"
    """Paid, then reversed: it nets to nothing."""
    REVERSAL_DUE = "reversal_due"
    """Paid, and no longer supported: the next monthly run reverses it."""


class PaidEntry(_Frozen):
    """One ledger entry of the clinic: what was paid (or taken back), when, by which run, on what evidence."""

    entry_id: str
    kind: str
    step: Step | None
    period: str
    amount_cents: int
    earned_month: str
    run_id: str
    run_status: str | None
    paid_on: date | None = None
    evidence_refs: tuple[str, ...] = ()
    rule_version: str
    reverses: str | None = None
    live: bool = True
    """An EARN no REVERSAL names (a REVERSAL is always live)."""


class StepExplanation(_Frozen):
    """One step of one period of the gap: its status, the program version that applied, its chain."""

    period: str
    step: Step
    status: StepStatus
    program_version: str | None
    reasons: tuple[Reason, ...]
    entries: tuple[PaidEntry, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stopped_by(self) -> Reason | None:
        """The first rule that stopped the step (None for a step paid or due)."""
        return next((r for r in self.reasons if r.stops), None)


class EvidenceExplanation(_Frozen):
    """One piece of the member's evidence for the action: the steps it completed, or why it completed none."""

    reference: str
    source: str
    step: Step
    action_date: date
    known_date: date
    completed: tuple[str, ...] = ()
    """`<period> <step>` of every step it completed first."""
    reasons: tuple[Reason, ...] = ()


class LineExplanation(_Frozen):
    """An annual program's view of the member at the clinic for one line of business."""

    line_of_business: str
    months_assigned: int
    denominator: bool
    numerator: bool
    reasons: tuple[Reason, ...]


class ProgramExplanation(_Frozen):
    """A program's part beside the gap (Benchmark P4P and the guarantee; APC's PMPM): whether the member
    counted for the clinic's rate of the measure, or was paid for each month, and what the clinic's runs
    paid."""

    program: str
    version: str
    measure: str
    year: int
    run_id: str
    run_status: str | None
    reasons: tuple[Reason, ...]
    lines: tuple[LineExplanation, ...] = ()
    entries: tuple[PaidEntry, ...] = ()


class Explanation(_Frozen):
    """Why one clinic was or was not paid for one member's action in one year, as known on `as_of`."""

    clinic_id: str
    member_id: str
    action: str
    action_name: str
    year: int
    as_of: date
    program_version: str | None
    last_closed_run: str | None
    steps: tuple[StepExplanation, ...]
    evidence: tuple[EvidenceExplanation, ...] = ()
    entries: tuple[PaidEntry, ...] = ()
    """The clinic's ledger entries for the member's action in the year."""
    annual: tuple[ProgramExplanation, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net_paid_cents(self) -> int:
        """What the clinic's entries for the gap sum to (awards less reversals)."""
        return sum(e.amount_cents for e in self.entries)


@dataclass(frozen=True)
class BenchmarkTally:
    """An annual count of one member, as the annual run counts it: the (clinic, line) panels the member
    counted in, and per (clinic, line, measure) the member's (denominator, numerator), each 0 or 1."""

    panels: frozenset[tuple[str, str]] = frozenset()
    counts: Mapping[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)


# Care Gap P4P: the monthly SVU awards (shared/logic/awards.py and the rules it calls), in chain order.
_CG = "care_gap"
COMPLETED = reason_kind(
    "completed",
    program=_CG,
    wording="{step} completed by {evidence}, dated {action_date} and known {known_date}: "
    "earned in {earned_month}",
    source="occurrences.first_completions; FAQ Q8 (earned in the month), Q15 (a claim completes every "
    "open step)",
    stops=False,
)
PAID = reason_kind(
    "paid",
    program=_CG,
    wording="paid {amount} by run {run_id} ({run_status}), earned in {earned_month}, on {evidence}; "
    "program version {version}",
    source="the ledger (docs/runs.md); FAQ Q8: SVUs earned in a month are paid the next month",
    stops=False,
)
REVERSED = reason_kind(
    "reversed",
    program=_CG,
    wording="paid {amount} by run {run_id}, reversed by run {reversed_by}: what became known later "
    "no longer supported it (a void, a replacement, a corrected date or roster)",
    source="reversals.settle_member",
    stops=False,
)
DOSE_COUNTED = reason_kind(
    "dose_counted",
    program=_CG,
    wording="dose {n} of the {doses} the series needs, counted: the final dose earns when the series "
    "completes",
    source="occurrences (doses), counting.valid_doses and series_complete; immunization menus "
    "(1. Administer initial dose(s), 2. Administer final dose)",
    stops=False,
)
TEST_COUNTED = reason_kind(
    "test_counted",
    program=_CG,
    wording="counted toward {action}'s required tests, which {by} completed",
    source="occurrences.tests_found (KED: an eGFR and a uACR in the year)",
    stops=False,
)
NO_PROGRAM = reason_kind(
    "no_program",
    program=_CG,
    wording="no Care Gap P4P program version was in force on {date}",
    source="awards (the version in force on the action date); docs/program.md, program files and versions",
)
AGE_WINDOW = reason_kind(
    "age_window",
    program=_CG,
    wording="outside {action}'s population on {anchor_date}: {population}",
    source="eligibility.in_denominator; the menus' descriptions (e.g. BCS-E: patients 50-74 years old)",
)
CONDITION_MISSING = reason_kind(
    "condition_missing",
    program=_CG,
    wording="{action} is for members with {conditions}: none on file for {years}",
    source="eligibility.has_conditions; the menus (e.g. GSD: patients 18-75 with diabetes)",
)
CONDITION_EXCLUDED = reason_kind(
    "condition_excluded",
    program=_CG,
    wording="{action} leaves out members with {exclusions}, which is on file for {years}",
    source="eligibility.has_conditions (exclusions); SPD: females with diabetes who do not have "
    "clinical ASCVD",
)
NOT_ASSIGNED = reason_kind(
    "not_assigned",
    program=_CG,
    wording="the member was not assigned to the clinic on {date}: SVUs go to the clinic the member was "
    "assigned to on the action date",
    source="eligibility.assignment_on, awards; FAQ Q10 (payments for care gaps closed among actively "
    "assigned members)",
)
LINE_OF_BUSINESS = reason_kind(
    "line_of_business",
    program=_CG,
    wording="on {date} the member's line of business was {line}; {action} is offered for {lines}",
    source="eligibility.assignment_on; the menus' Line(s) of Business",
)
NOT_IN_CARE_GAP = reason_kind(
    "not_in_care_gap",
    program=_CG,
    wording="the clinic was not in Care Gap P4P on {date} (it was in {program} then)",
    source="Clinic.in_care_gap_on, awards; Getting Started (clinics opt in to Care Gap P4P)",
)
ATTESTATION_MISSING = reason_kind(
    "attestation_missing",
    program=_CG,
    wording="{category} earns SVUs only on the assigned clinic's own in-App attestation: {what}",
    source="awards (credits_outside_providers), occurrences (prescriptions); FAQ Q10, Q15",
)
ATTESTATION_NOT_ACCEPTED = reason_kind(
    "attestation_not_accepted",
    program=_CG,
    wording="an attestation of {step} does not count for {action}: attestations complete their own step, "
    "and only a claim or supplemental record confirms a service",
    source="occurrences.first_completions (UNATTESTABLE); FAQ Q13, Q15",
)
FREQUENCY_USED = reason_kind(
    "frequency_used",
    program=_CG,
    wording="{frequency}: already used by {by} ({period}){paid}",
    source="occurrences (one earning unit per period); the menus' Frequency",
)
OUTSIDE_AGE_WINDOW = reason_kind(
    "outside_age_window",
    program=_CG,
    wording="dated {date}, outside {action}'s age window ({window})",
    source="occurrences, counting.window_bounds; LSC: by the child's 2nd birthday; W30, IMA, CIS windows",
)
AFTER_CONDITION_WINDOW = reason_kind(
    "after_condition_window",
    program=_CG,
    wording="dated {date}: {action} counts a test or treatment only within {days} days after a {condition} "
    "({condition} dates on file: {dates})",
    source="occurrences (due_days_after_condition); OMW: within 180 days after fracture",
)
NO_PRESCRIPTION_WINDOW = reason_kind(
    "no_prescription_window",
    program=_CG,
    wording="a pharmacy claim confirms a prescription only when dispensed on its date or up to {days} days "
    "after, and one prescription only: this fill of {date} confirms none of the clinic's prescriptions",
    source="occurrences (prescriptions); Medication Management: pharmacy claim confirms prescription was "
    "dispensed",
)
NO_HISTORICAL_CONDITION = reason_kind(
    "no_historical_condition",
    program=_CG,
    wording="{action} reassesses conditions diagnosed in the {lookback} years before {year}: {what}",
    source="occurrences.historical_conditions; HCC-DX: reassess historical diagnoses, once a year "
    "per condition",
)
TESTS_INCOMPLETE = reason_kind(
    "tests_incomplete",
    program=_CG,
    wording="{action} is completed only when the year holds every test it requires ({tests}); found: {found}",
    source="occurrences.tests_found; KED (HEDIS: an eGFR and a uACR)",
)
SERIES_INCOMPLETE = reason_kind(
    "series_incomplete",
    program=_CG,
    wording="the series completes with {doses} doses in the age window; {counted} counted so far",
    source="counting.series_complete; the immunization menus (e.g. CIS DTaP: four by the 2nd birthday)",
)
NOT_DONE = reason_kind(
    "not_done",
    program=_CG,
    wording="no evidence of this step yet: {hint}",
    source="occurrences (no evidence completed the step); FAQ Q13, Q15",
)
PHASE_PAYS_NO_SVU = reason_kind(
    "phase_pays_no_svu",
    program=_CG,
    wording="{version} was in its {phase} phase on {date}, which pays no SVUs for {action}",
    source="awards (the phase in force on the action date); Program Design Steps, step 4 (phases)",
)
NO_SVU = reason_kind(
    "no_svu",
    program=_CG,
    wording="the {track} rate card of {version} pays no SVUs for {step}",
    source="the program's rate cards (awards); Program Overview: two tracks",
)
NOT_KNOWN_AT_LAST_RUN = reason_kind(
    "not_known_at_last_run",
    program=_CG,
    wording="earned in {earned_month} on {evidence}, known {known_date}; the last closed run, {run_id}, "
    "settled without it: the next monthly run pays it",
    source="reversals.settle_member (a run pays what is known when it runs); FAQ Q8, Q11",
)
RUN_NOT_CLOSED = reason_kind(
    "run_not_closed",
    program=_CG,
    wording="earned in {earned_month}: that month's final run, {run_id}, is {status}; SVUs earned in a "
    "month are paid once the month has ended and its run has closed",
    source="docs/runs.md (starting a run); FAQ Q8",
)
AMOUNT_CHANGED = reason_kind(
    "amount_changed",
    program=_CG,
    wording="paid {paid} by run {run_id}; what is known now earns {amount}: the next monthly run reverses "
    "the award and pays the new amount",
    source="reversals.settle_member",
)
REVERSAL_DUE = reason_kind(
    "reversal_due",
    program=_CG,
    wording="paid {amount} by run {run_id}; what is known now no longer supports it at this clinic: "
    "the next monthly run reverses it",
    source="reversals.settle_member",
)

# Benchmark P4P and the Care Gap earnings guarantee: the annual run (shared/services/kinds/annual.py).
_BM = "benchmark"
ANNUAL_COUNTED = reason_kind(
    "annual_counted",
    program=_BM,
    wording="in the denominator and the numerator of the clinic's {line} {measure} rate for {year}",
    source="annual run (BenchmarkCounter)",
    stops=False,
)
ANNUAL_CLINIC_NOT_RATED = reason_kind(
    "annual_clinic_not_rated",
    program=_BM,
    wording="Benchmark P4P does not rate the clinic for {year}: {why}",
    source="annual run (rated clinics), Clinic.in_benchmark_for; FAQ Q2 (one program at a time)",
)
ANNUAL_GUARANTEE = reason_kind(
    "annual_guarantee",
    program=_BM,
    wording="the clinic joined Care Gap P4P on {date}: its earnings guarantee prorates a Benchmark bonus "
    "computed as if it had stayed, so its members are counted as Benchmark counts them",
    source="annual_incentives.guarantee; Earnings Guarantees",
    stops=False,
)
ANNUAL_ASSIGNMENT_MONTHS = reason_kind(
    "annual_assignment_months",
    program=_BM,
    wording="assigned to the clinic under {line} in {months} of the 12 months of {year}; Benchmark P4P "
    "counts members assigned at least {minimum}",
    source="annual_incentives.panels_of; FAQ Q1.6 (9/12 calendar month minimum assignment)",
)
ANNUAL_LINE_NOT_OFFERED = reason_kind(
    "annual_line_not_offered",
    program=_BM,
    wording="Benchmark P4P is not offered for {line} members",
    source="annual_incentives.panels_of; FAQ Q1.6, Q1.7 (HealthWorx members are not included)",
)
ANNUAL_NOT_IN_METRIC_SET = reason_kind(
    "annual_not_in_metric_set",
    program=_BM,
    wording="{measure} is not in the {practice_type} metric set for {line}",
    source="BenchmarkProgram.metric_set; FAQ Q1 (metric sets are assigned by practice type)",
)
ANNUAL_NOT_IN_DENOMINATOR = reason_kind(
    "annual_not_in_denominator",
    program=_BM,
    wording="not in {measure}'s denominator for {year}: outside its population, or excluded or excepted, "
    "as the measure defines them",
    source="the measure engine (rates.member_outcomes) in the annual run",
)
ANNUAL_ATTESTATION_NOT_ALLOWED = reason_kind(
    "annual_attestation_not_allowed",
    program=_BM,
    wording="the attestation that would meet {measure} does not count: {measure} takes no attestations, only "
    "claims and supplemental data received by {deadline}",
    source="annual_incentives.known_evidence; Timeline: Attestation Period (select metrics)",
)
ANNUAL_ATTESTATION_OUTSIDE_WINDOW = reason_kind(
    "annual_attestation_outside_window",
    program=_BM,
    wording="the attestation that would meet {measure} is dated outside the attestation period "
    "({first} to {last})",
    source="annual_incentives.known_evidence; Timeline: Attestation Period",
)
ANNUAL_AFTER_DEADLINE = reason_kind(
    "annual_after_deadline",
    program=_BM,
    wording="the evidence that would meet {measure} was received after the submission deadline, {deadline}",
    source="annual_incentives.known_evidence; Timeline: Claims and Supplemental Data Submission Deadline",
)
ANNUAL_NOT_IN_NUMERATOR = reason_kind(
    "annual_not_in_numerator",
    program=_BM,
    wording="in {measure}'s denominator, not its numerator: nothing received by {deadline} meets it",
    source="the measure engine (rates.member_outcomes) in the annual run",
)
ANNUAL_RUN_NOT_CLOSED = reason_kind(
    "annual_run_not_closed",
    program=_BM,
    wording="the {year} annual run, {run_id}, is {status}: Benchmark P4P is finalized from {finalization}",
    source="annual run (check_open); Timeline: Bonus Payment Finalization; FAQ Q1 (once annual lump sum)",
)
ANNUAL_PAID = reason_kind(
    "annual_paid",
    program=_BM,
    wording="the clinic's {line} Benchmark P4P payment: {amount} by run {run_id} ({run_status}); "
    "{measure} {numerator} of {denominator}, {met}",
    source="annual run (incentives); docs/annual-incentives.md",
    stops=False,
)
ANNUAL_NO_PAYMENT = reason_kind(
    "annual_no_payment",
    program=_BM,
    wording="run {run_id} paid the clinic no Benchmark P4P amount for {line}: its panel was below the "
    "minimum, or no counted measure was met",
    source="benchmark.benchmark_payout; FAQ Q1.3, Q1.7",
)
ANNUAL_GUARANTEE_PAID = reason_kind(
    "annual_guarantee_paid",
    program=_BM,
    wording="the clinic's earnings guarantee, {component}: {amount} by run {run_id} ({run_status})",
    source="annual run (guarantee entries); Earnings Guarantees",
    stops=False,
)

# APC: the quarterly PMPM run (shared/services/kinds/quarterly.py), Element 2 and Element 1's capitation.
_APC = "apc"
APC_PMPM_PAID = reason_kind(
    "apc_pmpm_paid",
    program=_APC,
    wording="{month} {scheme}: paid {amount} = PMPM {pmpm} x factor {factor} ({band}) x (1 + {uplift}) "
    "({hpi}) by run {run_id} ({run_status})",
    source="quarterly run (pmpm_entries), phm.member_month; apc-common-payment-model.txt, Element 2, "
    "Risk Adjustment (clinical risk: age/sex factors; social risk: HPI), Element 1 (capitation tracks B, C)",
    stops=False,
)
APC_TA_MISSED = reason_kind(
    "apc_ta_missed",
    program=_APC,
    wording="{month} {scheme}: 0.00 by run {run_id} ({run_status}): the practice missed the "
    "technical-assistance requirement(s) of the month: {missed}",
    source="ta_engagement.ta_status, quarterly run; apc-common-payment-model.txt, Element 2 (in compliance "
    "with all of the required ongoing activities), Engagement; apc-technical-assistance.txt",
)
APC_QUARTER_NOT_CLOSED = reason_kind(
    "apc_quarter_not_closed",
    program=_APC,
    wording="{months}: the {quarter} quarterly run, {run_id}, is {status}: a month's PMPM is paid by its "
    "quarter's final run, once the quarter has ended and the run has closed",
    source="quarterly run (check_open); apc-common-payment-model.txt, Element 2, Population Health "
    "Management Payment Frequency (quarterly payouts for each of the three preceding months)",
)
APC_NO_TRACK = reason_kind(
    "apc_no_track",
    program=_APC,
    wording="{months}: the clinic was on no APC payment track with payer {payer}, so run {run_id} paid it "
    "no PMPM for the member",
    source="Clinic.apc_track_on, quarterly run (pmpm_entries); apc-common-payment-model.txt, Element 1 "
    "(one track per health plan)",
)
APC_NOT_ATTRIBUTED = reason_kind(
    "apc_not_attributed",
    program=_APC,
    wording="{months}: run {run_id} paid the clinic no PMPM for the member: the member-month was attributed "
    "to no participating practice or to another one (or the member was on no roster); "
    "`p4p attribution explain {member} --month {month}` says why",
    source="attribution (shared/services/attribution.py), quarterly run (pmpm_entries); "
    "apc-common-payment-model.txt, Element 2 (the attributed population), Attribution",
)

# APC Element 3: the annual performance incentive (shared/services/kinds/annual_apc.py, ApcCounter).
_E3 = "apc-common-payment-model.txt, Element 3"
APC_E3_RUN_NOT_CLOSED = reason_kind(
    "apc_e3_run_not_closed",
    program=_APC,
    wording="the {year} annual run, {run_id}, is {status}: Element 3 is paid once, after the measurement "
    "year and its data runout (evidence received by {known_by})",
    source=f"annual run (check_open), annual_apc; {_E3}, Incentive Payment Frequency (one payout, after "
    "three months of data runout)",
)
APC_E3_NOT_APPLICABLE = reason_kind(
    "apc_e3_not_applicable",
    program=_APC,
    wording="{measure} is not an Element 3 measure of a {practice_type} practice: it applies to {applies}",
    source=f"IncentiveProgram.applicable; {_E3}, table 3 (measures by practice type)",
)
APC_E3_NOT_ATTRIBUTED = reason_kind(
    "apc_e3_not_attributed",
    program=_APC,
    wording="the member was attributed to the clinic in no month of {year}: Element 3 counts the practice's "
    "attributed members",
    source="annual_incentives.attributed_months, ApcCounter; apc-common-payment-model.txt, Attribution",
)
APC_E3_QUALITY_ELSEWHERE = reason_kind(
    "apc_e3_quality_elsewhere",
    program=_APC,
    wording="{measure} counts a member once, at the practice of the member's latest attributed month of "
    "{year}; the clinic's last month with the member was {last}, and a later month decides",
    source="annual_incentives.quality_practice, ApcCounter; docs/apc-incentive.md (In the annual run)",
)
APC_E3_NOT_IN_DENOMINATOR = reason_kind(
    "apc_e3_not_in_denominator",
    program=_APC,
    wording="not in the clinic's {rate} rate for {year}: {why}",
    source=f"the measure engine (measures.apc.apc_member_year) in the annual run; {_E3}, table 3",
)
APC_E3_AFTER_RUNOUT = reason_kind(
    "apc_e3_after_runout",
    program=_APC,
    wording="in {rate}'s denominator; the evidence that would meet it was received after the data runout, "
    "{known_by}",
    source=f"ApcCounter (incentive.data_runout_months); {_E3}, Incentive Payment Frequency (three months "
    "of data runout)",
)
APC_E3_NOT_IN_NUMERATOR = reason_kind(
    "apc_e3_not_in_numerator",
    program=_APC,
    wording="in {rate}'s denominator, not its numerator: nothing received by {known_by} meets it",
    source="the measure engine (measures.apc.apc_member_year) in the annual run",
)
APC_E3_COUNTED = reason_kind(
    "apc_e3_counted",
    program=_APC,
    wording="in the denominator and the numerator of the clinic's {rate} rate for {year}",
    source="annual run (ApcCounter, apc_rates.practice_rates)",
    stops=False,
)
APC_E3_CONTRIBUTION = reason_kind(
    "apc_e3_contribution",
    program=_APC,
    wording="counted in the clinic's {rate} rate for {year}: {member_months} member-months "
    "(age/sex factor-months {factor_months}), {counted}",
    source="measures.apc.apc_member_year (Contribution), apc_rates.practice_rates (risk adjusted: "
    "events or cost / factor-months); apc-common-payment-model.txt, Element 3, table 4",
    stops=False,
)
APC_E3_PAID = reason_kind(
    "apc_e3_paid",
    program=_APC,
    wording="the clinic's Element 3 incentive, payer {payer}: {amount} by run {run_id} ({run_status}) on "
    "{member_months} member-months; {measure}: {line}",
    source=f"annual run (element3_entries, PerformanceIncentive); apc_incentive; {_E3}, tables 4 and 5",
    stops=False,
)
APC_E3_NO_PAYMENT = reason_kind(
    "apc_e3_no_payment",
    program=_APC,
    wording="run {run_id} paid the clinic no Element 3 incentive for {year}: no measure earned a share, or "
    "the clinic was on a track with no payer of its member-months",
    source=f"annual_apc.element3_entries, apc_incentive; {_E3}",
)
