"""APC's part of an explanation: the quarterly PMPM run's answer for the member at the clinic, month by
month (Element 2's population-health PMPM, and Element 1's capitation when the clinic is paid it).

Each month of the year is told from what the run recorded, in the order it decides: its quarter's final
run has closed, or not; the month's entry at the clinic pays PMPM x factor x (1 + uplift), or 0.00 naming
the technical-assistance requirements missed; with no entry, the clinic was on no APC track with the
month's payer, or the member-month was attributed elsewhere (never said where: a clinic sees its own)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from shared.logic.dates import month_end
from shared.logic.explain.wording import paid_entry, run_status
from shared.logic.money import format_cents
from shared.logic.ta_engagement import quarter_of
from shared.models import explain as why
from shared.models.explain import ProgramExplanation, Reason
from shared.models.ledger import EntryKind, LedgerEntry, PmpmPayment
from shared.models.members import ApcPaymentTrack, Clinic
from shared.models.runs import Run, RunKind, final_run_id
from shared.programs.apc import PROGRAM, ApcCatalog, ApcProgram

ELEMENT2 = "apc_element2"
SCHEME_NAMES = {ELEMENT2: "Element 2 PMPM", "apc_element1": "Element 1 capitation"}
"""The quarterly run's schemes as the plan names its elements (the run's own constants are in
`shared/services/kinds/quarterly.py`, which logic does not import)."""
MEASURE = "PMPM"


def quarterly_run_id(quarter: str) -> str:
    """The final quarterly run of `YYYY-Qn`, as the run registry names it."""
    return final_run_id(RunKind.QUARTERLY, quarter)


def apc_practice_in(clinic: Clinic, year: int) -> bool:
    """True when the clinic is on an APC track with some payer on some day of `year` (a track changes only
    on a track's start, so 1 January and the starts inside the year are every day that can differ)."""
    days = {date(year, 1, 1)} | {t.start for t in clinic.apc_tracks if t.start.year == year}
    return any(clinic.in_apc_on(day) for day in days)


def _band(program: ApcProgram, basis: PmpmPayment) -> str:
    """The age/gender band of the factor ("female, 60-64 years"): the band, never the member's own age."""
    band = program.risk_adjustment.band(basis.age)
    ages = f"{band.min_age}+" if band.max_age is None else f"{band.min_age}-{band.max_age - 1}"
    who = {"F": "female", "M": "male"}.get(basis.gender, "gender unknown")
    return f"{who}, {ages} years"


def _paid(entry: LedgerEntry, basis: PmpmPayment, runs: Mapping[str, Run], program: ApcProgram) -> Reason:
    scheme = SCHEME_NAMES.get(basis.scheme, basis.scheme)
    status = run_status(runs.get(entry.run_id))
    if not basis.ta_compliant:
        return why.APC_TA_MISSED.reason(
            month=basis.month,
            scheme=scheme,
            run_id=entry.run_id,
            run_status=status,
            missed=", ".join(basis.ta_missed) or "no engagement status",
        )
    hpi = (
        "no HPI uplift on capitation"
        if basis.scheme != ELEMENT2
        else f"HPI decile {basis.hpi_decile}"
        if basis.hpi_decile is not None
        else "no HPI decile on file"
    )
    return why.APC_PMPM_PAID.reason(
        month=basis.month,
        scheme=scheme,
        amount=format_cents(entry.amount_cents),
        pmpm=basis.pmpm,
        factor=basis.factor,
        band=_band(program, basis),
        uplift=basis.uplift,
        hpi=hpi,
        run_id=entry.run_id,
        run_status=status,
    )


@dataclass(frozen=True)
class _Gap:
    """A month with no entry paid at the clinic: the reason's code and the facts all its months share."""

    code: str
    facts: tuple[tuple[str, str], ...]


def _months(first: str, last: str) -> str:
    return first if first == last else f"{first} to {last}"


def _grouped(gaps: Sequence[tuple[str, _Gap]], member_id: str) -> Iterator[Reason]:
    """One reason per run of consecutive months with the same gap (they are in one quarter: same run)."""
    start = 0
    for end in range(1, len(gaps) + 1):
        if end < len(gaps) and gaps[end][1] == gaps[start][1]:
            continue
        (first, gap), last = gaps[start], gaps[end - 1][0]
        facts = dict(gap.facts) | {"months": _months(first, last)}
        if gap.code == why.APC_NOT_ATTRIBUTED.code:
            facts |= {"member": member_id, "month": first}
        yield why.REASON_KINDS[gap.code].reason(**facts)
        start = end


def explain_apc(
    *,
    clinic: Clinic,
    member_id: str,
    year: int,
    entries: Sequence[LedgerEntry],
    runs: Mapping[str, Run],
    catalog: ApcCatalog,
    payer: str,
    month_payers: Mapping[str, str] | None = None,
) -> ProgramExplanation | None:
    """APC's PMPM part for the member at the clinic in `year` (None when the clinic is on no APC track that
    year, or no APC version is in force in it): for each month, its PMPM entry at the clinic per scheme, or
    the first rule that left it unpaid. `entries` is the member's ledger history (any clinic: only this
    clinic's are read), `runs` the final runs by id, `payer` the month's payer when `month_payers` (the payer
    of the member's roster span in each month) names none."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    versions = [v for v in (catalog.find(month_end(m)) for m in reversed(months)) if v is not None]
    if not versions or not apc_practice_in(clinic, year):
        return None
    program = versions[0]
    mine = [
        e
        for e in entries
        if e.clinic_id == clinic.clinic_id
        and e.program == PROGRAM
        and isinstance(e.basis, PmpmPayment)
        and e.basis.month in months
    ]
    reversed_ids = {e.reverses for e in mine if e.kind is EntryKind.REVERSAL and e.reverses}
    live: dict[tuple[str, str], tuple[LedgerEntry, PmpmPayment]] = {}
    for entry in mine:
        if entry.kind is EntryKind.EARN and entry.entry_id not in reversed_ids:
            basis = entry.basis
            if isinstance(basis, PmpmPayment):
                live[(basis.month, basis.scheme)] = (entry, basis)
    schemes = [ELEMENT2, *sorted({s for _, s in live} - {ELEMENT2})]
    reasons: list[Reason] = []
    gaps: list[tuple[str, _Gap]] = []
    for month in months:
        quarter = quarter_of(month)
        run_id = quarterly_run_id(quarter)
        run = runs.get(run_id)
        found = [live[(month, s)] for s in schemes if (month, s) in live]
        if gaps and quarter_of(gaps[-1][0]) != quarter:
            reasons += _grouped(gaps, member_id)
            gaps = []
        if run is None or not run.status.closed:
            facts = {"quarter": quarter, "run_id": run_id, "status": run_status(run)}
            gaps.append((month, _Gap(why.APC_QUARTER_NOT_CLOSED.code, tuple(facts.items()))))
        elif found:
            reasons += _grouped(gaps, member_id)
            gaps = []
            for entry, basis in found:
                version = catalog.named(entry.rule_version) or program
                reasons.append(_paid(entry, basis, runs, version))
        else:
            paid_by = (month_payers or {}).get(month, payer)
            if clinic.apc_track_on(paid_by, month_end(month)) is ApcPaymentTrack.NONE:
                gap = _Gap(why.APC_NO_TRACK.code, (("payer", paid_by), ("run_id", run_id)))
            else:
                gap = _Gap(why.APC_NOT_ATTRIBUTED.code, (("run_id", run_id),))
            gaps.append((month, gap))
    reasons += _grouped(gaps, member_id)
    ran = [q for q in (quarter_of(m) for m in reversed(months)) if quarterly_run_id(q) in runs]
    run_id = quarterly_run_id(ran[0] if ran else f"{year}-Q1")
    return ProgramExplanation(
        program=PROGRAM,
        version=program.version,
        measure=MEASURE,
        year=year,
        run_id=run_id,
        run_status=run_status(runs.get(run_id)),
        reasons=tuple(reasons),
        entries=tuple(
            paid_entry(e, runs, reversed_ids)
            for e in sorted(mine, key=lambda e: (e.earned_month, e.run_id, e.entry_id))
        ),
    )
