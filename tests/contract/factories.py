"""Models the contract tests store: small by default, with knobs for the fields that make items large."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.dal.claim_versions import REPLACEMENT, ClaimVersion
from shared.models.actions import ActionCode, LineOfBusiness, Sex, Step, Track
from shared.models.evidence import Evidence, EvidenceSource, medical_key
from shared.models.files import Coverage, FileKind, FileManifest, FileStatus
from shared.models.gaps import CompletedStep, Gap, GapStatus
from shared.models.ledger import (
    CarriedBalance,
    EntryKind,
    GuaranteeTopUp,
    LedgerEntry,
    MeasureIncentive,
    MeasureLine,
    SvuAward,
)
from shared.models.members import Clinic, EligibilitySpan, MemberProfile, ProgramEnrollment
from shared.models.runs import Approval, Run, RunKind, RunMode, RunStatus

T0 = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
MAMMOGRAM = ActionCode("BCS-E")


def run(run_id: str = "monthly-2026-03-final", *, started: datetime = T0, **changes: object) -> Run:
    return Run(
        run_id=run_id,
        run_kind=RunKind.MONTHLY,
        period="2026-03",
        mode=RunMode.FINAL,
        program_year=2026,
        started_at=started,
        updated_at=started,
    ).model_copy(update=changes)


def calculated(run_: Run) -> Run:
    """What a registry holds after `run_` was closed (version + 1)."""
    return run_.model_copy(update={"status": RunStatus.CALCULATED, "version": run_.version + 1})


def approval(run_: Run, *, sha256: str = "ab" * 32, who: str = "arn:aws:iam::1:user/approver") -> Approval:
    return Approval(
        run_id=run_.run_id,
        approved_by=who,
        approved_at=T0 + timedelta(days=2),
        approved_version=run_.version,
        payment_file_key=f"payments/{run_.run_id}.csv",
        payment_sha256=sha256,
        total_cents=run_.total_cents,
    )


def award(
    member_id: str = "M0001",
    *,
    clinic_id: str = "K1",
    run_id: str = "monthly-2026-03-final",
    step: Step = Step.PERFORM,
    action: str = "BCS-E",
    amount_cents: int = 3600,
    evidence: int = 1,
    ref_length: int = 0,
    generation: int = 0,
) -> LedgerEntry:
    """An SVU award with `evidence` evidence ids and references (about 80 bytes each in the item; a
    reference padded to `ref_length` characters makes a large item of few values)."""
    return LedgerEntry(
        program="care_gap",
        clinic_id=clinic_id,
        member_id=member_id,
        period="2026",
        generation=generation,
        basis=SvuAward(
            action=ActionCode(action),
            step=step,
            svu=Decimal(30),
            multiplier=Decimal(1),
            bonus_rate=Decimal("0.2"),
            dollar_rate=Decimal("1.25"),
        ),
        amount_cents=amount_cents,
        rule_version="care_gap-2026.1",
        evidence_ids=tuple(f"{i:064x}" for i in range(evidence)),
        evidence_refs=tuple(f"claim:C{i}#1".ljust(ref_length, "0") for i in range(evidence)),
        action_date=date(2026, 3, 5),
        earned_month="2026-03",
        run_id=run_id,
    )


def balance(
    clinic_id: str = "K1", *, run_id: str = "monthly-2026-03-final", kind: EntryKind = EntryKind.CARRY_OUT
) -> LedgerEntry:
    return LedgerEntry(
        program="care_gap",
        clinic_id=clinic_id,
        member_id="",
        period="2026-03",
        kind=kind,
        basis=CarriedBalance(),
        amount_cents=500 if kind is EntryKind.CARRY_OUT else -500,
        rule_version="care_gap-2026.1",
        action_date=date(2026, 3, 31),
        earned_month="2026-03",
        run_id=run_id,
    )


def incentive(clinic_id: str = "K1", *, run_id: str = "annual-2026-final", measures: int = 3) -> LedgerEntry:
    """A Benchmark incentive with `measures` measure lines (about 200 bytes each in the item)."""
    lines = tuple(
        MeasureLine(
            measure=f"MEASURE-{i:05d}",
            weight=Decimal("0.125"),
            denominator=120 + i,
            numerator=90,
            rate=Decimal("0.75"),
            benchmark=Decimal("0.7"),
            prior_rate=None,
            counted=True,
            met_by="benchmark",
            amount_cents=1000 + i,
        )
        for i in range(measures)
    )
    return LedgerEntry(
        program="benchmark",
        clinic_id=clinic_id,
        member_id="",
        period="2026",
        basis=MeasureIncentive(
            scheme="benchmark",
            line_of_business="MC",
            assigned_members=400,
            amount_per_member=Decimal("2.5"),
            composite=Decimal("0.81"),
            measures=lines,
        ),
        amount_cents=100_000,
        rule_version="benchmark-2026.1",
        action_date=date(2026, 12, 31),
        earned_month="2027-06",
        run_id=run_id,
    )


def top_up(clinic_id: str = "K1", *, run_id: str = "annual-2026-final") -> LedgerEntry:
    return LedgerEntry(
        program="care_gap",
        clinic_id=clinic_id,
        member_id="",
        period="2026",
        basis=GuaranteeTopUp(
            component="make_whole",
            year=2026,
            enrollment_date=date(2026, 5, 1),
            days_before=120,
            days_on_care_gap=245,
            benchmark_full_year_cents=120_000,
            care_gap_earnings_cents=50_000,
            equivalent_benchmark_cents=80_000,
        ),
        amount_cents=30_000,
        rule_version="care_gap-2026.1",
        action_date=date(2026, 12, 31),
        earned_month="2027-06",
        run_id=run_id,
    )


def clinic(clinic_id: str = "K1", *, name: str = "Riverside Family Clinic", **changes: object) -> Clinic:
    return Clinic(
        clinic_id=clinic_id,
        tin="123456789",
        npi="1234567890",
        clinic_name=name,
        lines_of_business=(LineOfBusiness.MC, LineOfBusiness.CA),
        program="care_gap",
        program_enrollment_date=date(2025, 7, 1),
        track=Track.FAMILY_ADULT,
        hpi_decile=3,
    ).model_copy(update=changes)


def enrolled(clinic_: Clinic, *stretches: ProgramEnrollment) -> Clinic:
    return clinic_.model_copy(update={"enrollments": stretches})


def profile(member_id: str = "M0001", *, clinic_id: str = "K1") -> MemberProfile:
    return MemberProfile(member_id=member_id, birth_date=date(1960, 5, 17), gender=Sex.F, clinic_id=clinic_id)


def span(
    member_id: str = "M0001", start: date = date(2026, 1, 1), *, end: date | None = None
) -> EligibilitySpan:
    return EligibilitySpan(
        member_id=member_id, start=start, end=end, line_of_business=LineOfBusiness.MC, clinic_id="K1"
    )


def claim_evidence(
    member_id: str = "M0001", claim_id: str = "C1", *, file_id: str = "f1", line: int = 1, row: int = 1
) -> Evidence:
    return Evidence(
        member_id=member_id,
        action=MAMMOGRAM,
        step=Step.PERFORM,
        action_date=date(2026, 3, 5),
        received_date=date(2026, 3, 20),
        source=EvidenceSource.MEDICAL_CLAIM,
        file_id=file_id,
        source_row=row,
        concept="77067",
        claim_id=claim_id,
        claim_line_number=line,
    )


def attestation(member_id: str = "M0001", attestation_id: str = "A1", *, file_id: str = "f2") -> Evidence:
    return Evidence(
        member_id=member_id,
        action=MAMMOGRAM,
        step=Step.SCHEDULE,
        action_date=date(2026, 2, 10),
        source=EvidenceSource.ATTESTATION,
        file_id=file_id,
        source_row=1,
        attestation_id=attestation_id,
        attesting_clinic_id="K1",
    )


def record(n: int, member_id: str = "M0001", *, codings: int = 1, file_id: str = "fhir1") -> Evidence:
    """A FHIR condition, as a measure engine record, with `codings` codings of its code."""
    return Evidence(
        member_id=member_id,
        action=ActionCode("QM:Condition"),
        step=Step.DIAGNOSIS,
        action_date=date(2026, 1, 1),
        source=EvidenceSource.SUPPLEMENTAL,
        file_id=file_id,
        source_row=n,
        concept=f"4485{n:05d}",
        kind="Condition",
        record_id=f"condition-{n}",
        codes=" ".join(f"http://snomed.info/sct|{1_000_000 + j}" for j in range(codings)),
    )


def gap(member_id: str = "M0001", *, period: str = "2026", status: GapStatus = GapStatus.OPEN) -> Gap:
    return Gap(
        member_id=member_id,
        action=MAMMOGRAM,
        period=period,
        status=status,
        completed_steps=(
            CompletedStep(
                step=Step.SCHEDULE,
                action_date=date(2026, 2, 10),
                earned_month="2026-02",
                evidence_id="e" * 64,
                reference="attestation:A1",
            ),
        ),
        next_action=Step.PERFORM,
        due_date=date(2026, 12, 31),
        svu_at_stake=Decimal("30"),
        tags=("overdue",),
    )


def version(
    member_id: str = "M0001", original: str = "C1", claim: str = "C2", *, frequency: str = REPLACEMENT
) -> ClaimVersion:
    return ClaimVersion(
        original_claim_key=medical_key(original),
        received_date="2026-03-20",
        claim_key=medical_key(claim),
        frequency=frequency,
        file_id="f1",
        member_id=member_id,
    )


def eligibility_manifest(file_id: str, first: date, last: date) -> FileManifest:
    return FileManifest(
        file_id=file_id,
        kind=FileKind.ELIGIBILITY,
        source_key=f"landing/eligibility/{file_id}.csv",
        status=FileStatus.ACCEPTED,
        rows_read=3,
        accepted=3,
        rejected=0,
        duplicate=0,
        superseded=0,
        coverage=Coverage(first_day=first, last_day=last),
    )


def manifest(file_id: str, kind: FileKind = FileKind.MEDICAL_CLAIMS) -> FileManifest:
    return FileManifest(
        file_id=file_id,
        kind=kind,
        source_key=f"landing/{kind.value}/{file_id}.csv",
        status=FileStatus.ACCEPTED,
        rows_read=2,
        accepted=1,
        rejected=1,
        duplicate=0,
        superseded=0,
    )
