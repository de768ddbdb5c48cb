"""The quarterly PMPM run of a quarter (`2026-Q1`): APC Element 2, the population-health payment, and
Element 1's capitation.

The seed (`apc-common-payment-model.txt`, "Element 2"): quarterly payouts "for the attributed population
for each of the three preceding months", each month only when the practice met the technical-assistance
requirements. Per attributed member-month at a practice on an APC payment track: PMPM x age/sex factor x
(1 + HPI uplift), half up to the cent (`shared/logic/phm.py`); a month the practice missed a requirement
is recorded at $0.00 with the requirements it missed, so the statement says why. A practice on a capitation
track (B or C, Element 1) is also paid the track's capitation PMPM x age/sex factor per member-month,
half up: capitation pays for the practice's direct services, so engagement does not gate it. The track is
the one the practice has with the member-month's payer at the month's end (`Clinic.apc_track_on`: the
payer's own, else the practice's own); a practice on no track with that payer is paid nothing for it.

Before a final quarter opens: the quarter has ended, an APC version is in force, no earlier quarter's final
run is unfinished, ingested eligibility covers each of its months, and some `ta_engagement` file speaks for
the quarter (a quarter run before its engagement arrived would pay nothing and lock). The practices'
engagement is read once, before the shards start (`prepare`), into `runs/<run>/ta-status.json`.

Attribution is the common methodology's (`shared/services/attribution.py`): each month's member-month table
is built in member-bucket parts before the shards (`prepare` sizes them, one BuildPart builds each) with what
is known then (the selected or matched PCP for the products that prefer it, else 24 months of primary-care
visits), and a member-month is paid to the practice the table names, by the
payer of the member's roster span in the month. Each member settles against its own PMPM entries of the
quarter's months, so a recalculation (which builds the tables again) reverses only what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from shared.dal.errors import NotFoundError
from shared.errors import DomainError
from shared.intake.versions import net_claim_versions
from shared.logic.attribution_table import lookback_start
from shared.logic.dates import month_end
from shared.logic.direct_services import direct_services_report
from shared.logic.phm import member_month
from shared.logic.reversals import settle_member
from shared.logic.ta_engagement import TaMonth, quarter_months, ta_status
from shared.models.ledger import LedgerEntry, PmpmPayment
from shared.models.members import ApcPaymentTrack, Clinic, EligibilitySpan, MemberFacts
from shared.models.runs import BucketPart, PartResult, RunKind, RunRef, RunRequest, ShardOutput
from shared.models.tables import Prefix
from shared.programs.apc import ApcProgram
from shared.programs.catalog import ProgramSet
from shared.services.attribution import (
    AttributionService,
    attributed_practices,
    attribution_parts,
)
from shared.services.kinds.annual_apc import APC_PROGRAM
from shared.services.kinds.base import (
    Report,
    RunContext,
    RunInputError,
    RunKindModule,
    append_member_entries,
    engagement_activities,
    parts_key,
)
from shared.services.kinds.monthly import EarlierRunOpenError, NoEligibilityError
from shared.services.pmpm_statements import (
    direct_services_csv,
    pmpm_statement_csv,
    pmpm_statement_html,
    ta_status_csv,
)
from shared.services.run_records import final_runs

ELEMENT1 = "apc_element1"
"""The scheme of APC's capitation payments (direct services, tracks B and C)."""
ELEMENT2 = "apc_element2"
"""The scheme of APC's population-health payments."""
SCHEMES = (ELEMENT1, ELEMENT2)
TA_PREFIX = Prefix.TA_ENGAGEMENT.value
"""Where the accepted rows of `ta_engagement` files are, by month of activity."""


class QuarterNotEndedError(DomainError):
    """A final quarterly run waits for its quarter to end."""


class NoApcProgramError(DomainError):
    """No APC program version is in force in the quarter."""


class NoTaEngagementError(DomainError):
    """No `ta_engagement` file speaks for the quarter: a run now would pay every practice nothing and lock."""


def direct_services_key(run_id: str) -> str:
    """Element 1's per-practice classification of the quarter's claim lines, in the curated bucket, as runs
    planned before the parts built it wrote it whole (read for those runs' reports)."""
    return f"{Prefix.RUNS}{run_id}/direct-services.json"


def direct_services_part_key(run_id: str, part: BucketPart) -> str:
    """One part's share of Element 1's classification (its buckets' members' claim lines)."""
    return f"{Prefix.RUNS}{run_id}/direct-services/{part.first_bucket:03d}-{part.last_bucket:03d}.json"


class DirectServicesPartMissingError(DomainError):
    """A planned part has no direct-services share: its BuildPart did not finish."""


DIRECT_COLUMNS = (
    "claim_id",
    "claim_line_number",
    "claim_frequency_code",
    "original_claim_id",
    "member_id",
    "claim_start_date",
    "received_date",
    "rendering_npi",
    "billing_clinic_id",
    "hcpcs_code",
    "allowed_amount",
    "payer_id",
)


def _direct_services(
    ctx: RunContext,
    months: Sequence[str],
    practices: Mapping[str, Clinic],
    program: ApcProgram,
    frames: Sequence[pl.DataFrame],
) -> pl.DataFrame:
    """The net claim lines of `frames` (the quarter's claims of some members, whole claims of each) at APC
    practices (the billing clinic, else the rendering provider's practice on the quarter's last day),
    classified by the track the practice has with the claim's payer (Element 1; a claim that names no payer
    is the deploying plan's)."""
    if not frames or not practices:
        empty = pl.DataFrame(schema=_REPORT_INPUT)
        return direct_services_report(empty, practices, program.direct_services, plan_payer=ctx.payer)
    claims = net_claim_versions(
        pl.concat(frames, how="vertical_relaxed").sort("received_date", maintain_order=True)
    )
    affiliated = {
        npi: a.practice_id
        for npi, a in ctx.gaps.providers_on(month_end(months[-1])).items()
        if a.practice_id in practices
    }
    billing = pl.col("billing_clinic_id").cast(pl.String)
    rendering = pl.col("rendering_npi").cast(pl.String).replace_strict(affiliated, default=None)
    lines = (
        claims.with_columns(
            month=pl.col("claim_start_date").dt.strftime("%Y-%m"),
            practice_id=pl.when(billing.is_in(sorted(practices))).then(billing).otherwise(rendering),
        )
        .filter(pl.col("month").is_in(list(months)) & pl.col("practice_id").is_not_null())
        .select(
            "practice_id",
            pl.col("payer_id").cast(pl.String),
            "month",
            pl.col("hcpcs_code").cast(pl.String),
            "allowed_amount",
        )
    )
    return direct_services_report(lines, practices, program.direct_services, plan_payer=ctx.payer)


_REPORT_INPUT = pl.Schema(
    [
        ("practice_id", pl.String()),
        ("payer_id", pl.String()),
        ("month", pl.String()),
        ("hcpcs_code", pl.String()),
        ("allowed_amount", pl.Decimal(18, 2)),
    ]
)


def ta_status_key(run_id: str) -> str:
    """The practices' engagement status per month of a quarterly run, in the curated bucket."""
    return f"{Prefix.RUNS}{run_id}/ta-status.json"


def _ta_keys(ctx: RunContext, month: str) -> list[str]:
    return ctx.objects.keys(ctx.curated, f"{TA_PREFIX}period={month}/")


def quarter_practices(clinics: Iterable[Clinic], months: Sequence[str]) -> dict[str, Clinic]:
    """The practices on an APC track with some payer (their own track included) at the end of some month of
    the quarter: their engagement is judged, and each member-month is paid by the track with its payer."""
    return {c.clinic_id: c for c in clinics if any(c.in_apc_on(month_end(m)) for m in months)}


def member_month_spans(spans: Sequence[EligibilitySpan], months: Sequence[str]) -> dict[str, EligibilitySpan]:
    """The roster span of each month the member is enrolled in: one covering the month; of two, the one that
    began later (then the lower clinic id). Its payer pays the month."""
    found: dict[str, EligibilitySpan] = {}
    for month in months:
        first, last = date(int(month[:4]), int(month[5:7]), 1), month_end(month)
        covering = [s for s in spans if s.start <= last and (s.end is None or s.end >= first)]
        if covering:
            found[month] = sorted(covering, key=lambda s: (-s.start.toordinal(), s.clinic_id))[0]
    return found


def pmpm_entries(
    member: MemberFacts,
    practice_of: Mapping[str, str | None],
    practices: Mapping[str, Clinic],
    status: Mapping[tuple[str, str], TaMonth],
    program: ApcProgram,
    months: Sequence[str],
    *,
    run_id: str,
    payer: str,
) -> list[LedgerEntry]:
    """What the member's attributed months at APC practices earn (before settling against the ledger):
    `practice_of` is the practice attribution names for each month (None: unattributed); the month's roster
    span says who pays it."""
    profile = member.profile
    entries = []
    for month, span in member_month_spans(member.spans, months).items():
        clinic_id, paid_by = practice_of.get(month), span.payer(payer)
        practice = practices.get(clinic_id) if clinic_id is not None else None
        if clinic_id is None or practice is None:
            continue
        if (profile.birth_date.year, profile.birth_date.month) > (int(month[:4]), int(month[5:7])):
            continue  # on the roster before birth: no member-month yet
        on = practice.apc_track_on(paid_by, month_end(month))
        if on is ApcPaymentTrack.NONE:
            continue  # the practice is in APC with other payers, not with this member-month's
        ta = status.get((clinic_id, month)) or TaMonth(clinic_id, month, ("no engagement status",))
        track = program.direct_services.track(on)
        found = []
        if track is not None and track.capitation_pmpm is not None:
            # Element 1: the track's capitation, risk adjusted (no uplift, not gated by engagement).
            found.append(
                _member_month(member, practice, month, ELEMENT1, track.capitation_pmpm, None, program)
            )
        found.append(
            _member_month(member, practice, month, ELEMENT2, program.population_health.pmpm, ta, program)
        )
        entries += [e.model_copy(update={"payer": paid_by, "run_id": run_id}) for e in found]
    return entries


def _member_month(
    member: MemberFacts,
    practice: Clinic,
    month: str,
    scheme: str,
    pmpm: Decimal,
    ta: TaMonth | None,
    program: ApcProgram,
) -> LedgerEntry:
    """One scheme's entry for a member-month: Element 2 with the practice's uplift and engagement, Element 1
    (`ta` None) with the factor alone."""
    profile = member.profile
    compliant = ta is None or ta.compliant
    paid = member_month(
        member_id=profile.member_id,
        birth_date=profile.birth_date,
        gender=profile.gender,
        month=month,
        pmpm=pmpm,
        hpi_decile=practice.hpi_decile if ta is not None else None,
        ta_compliant=compliant,
        risk=program.risk_adjustment,
    )
    basis = PmpmPayment(
        scheme=scheme,
        month=month,
        pmpm=pmpm,
        age=paid.age,
        gender=profile.gender.value,
        factor=paid.factor,
        hpi_decile=practice.hpi_decile,
        uplift=paid.uplift,
        ta_compliant=compliant,
        ta_missed=ta.missed if ta is not None else (),
    )
    return LedgerEntry(
        program=APC_PROGRAM,
        clinic_id=practice.clinic_id,
        member_id=profile.member_id,
        period=month,
        basis=basis,
        amount_cents=paid.amount_cents,
        rule_version=program.version,
        action_date=month_end(month),
        earned_month=month,
        run_id="",
    )


class QuarterlyPmpm(RunKindModule):
    """APC's quarterly population-health payment run."""

    kind = RunKind.QUARTERLY
    legacy_program = APC_PROGRAM

    writes_pages = False
    shards_by_bucket = True
    """Its quarter's pages are the monthly run's of the quarter's last month (the same day); its PMPM entries
    show on the next pages written, the next monthly run's or the annual run's (docs/pages.md)."""

    def pays_in(self, period: str) -> str:
        return quarter_months(period)[-1]

    def period(self, request: RunRequest) -> str:
        if request.month is not None:
            raise RunInputError("a quarterly run takes `quarter` (YYYY-Qn), not `month`")
        if request.quarter is None:
            raise RunInputError("a quarterly run needs `quarter` (YYYY-Qn)")
        if int(request.quarter[:4]) != request.program_year:
            raise RunInputError(f"quarter {request.quarter} is outside program_year {request.program_year}")
        return request.quarter

    def check_open(self, ctx: RunContext, request: RunRequest, period: str) -> None:
        months = quarter_months(period)
        today, last_day = ctx.now().date(), month_end(months[-1])
        if today <= last_day:
            raise QuarterNotEndedError(
                f"quarter {period} ends on {last_day.isoformat()} (today is {today.isoformat()}); "
                "a final run waits for the quarter's end: run a preview instead"
            )
        if ctx.programs.apc.find(last_day) is None:
            raise NoApcProgramError(f"no apc program version is in force on {last_day.isoformat()}")
        for other in sorted(final_runs(ctx.runs, self.kind), key=lambda r: r.period):
            if other.period < period and not other.status.closed:
                raise EarlierRunOpenError(
                    f"run {other.run_id} is {other.status.value}; start it again to finish it first"
                )
        coverage = ctx.files.eligibility_coverage()
        for month in months:
            first = date(int(month[:4]), int(month[5:7]), 1)
            if not any(c.overlaps(first, month_end(month)) for c in coverage):
                raise NoEligibilityError(
                    f"no ingested eligibility file covers {month}: drop the month's roster under "
                    f"landing/eligibility/ before the {period} run"
                )
        if not any(_ta_keys(ctx, month) for month in months):
            raise NoTaEngagementError(
                f"no ta_engagement file has activities dated in {period}: drop the quarter's engagement "
                f"under landing/ta_engagement/ before its final run (every month would pay nothing)"
            )

    def prepare(self, ctx: RunContext, run: RunRef) -> tuple[BucketPart, ...]:
        """Every APC practice's engagement status in each month of the quarter, read once; the direct-services
        report; and the member-bucket parts the months' attribution tables are built in (`build_part`),
        sized by the curated claims and rosters each reads."""
        program = _program(ctx, run.period)
        months = quarter_months(run.period)
        practices = quarter_practices(ctx.gaps.clinics().values(), months)
        status = ta_status(
            engagement_activities(ctx, months[-1]),
            practices,
            months,
            program.population_health.technical_assistance,
        )
        body = {f"{p}|{m}": list(s.missed) for (p, m), s in sorted(status.items())}
        ctx.objects.put_json(ctx.curated, ta_status_key(run.run_id), body)
        first = lookback_start(months[0], program.attribution.lookback_months)
        parts = attribution_parts(
            ctx.objects, ctx.curated, f"{first:%Y-%m}", months[-1], count=ctx.member_buckets
        )
        return tuple(BucketPart(first_bucket=a, last_bucket=b) for a, b in parts)

    def build_part(self, ctx: RunContext, run: RunRef, part: BucketPart) -> PartResult:
        """The part's buckets of each month's attribution table, built with what is known now from those
        buckets' claims and rosters alone (each file read once for the three months), and the part's share
        of Element 1's direct-services report (its members' claim lines of the quarter; a member's claim
        versions are all in its bucket, so each part nets on its own)."""
        attribution = AttributionService(
            store=ctx.objects,
            curated_bucket=ctx.curated,
            gaps=ctx.gaps,
            apc=ctx.programs.apc,
            member_buckets=ctx.member_buckets,
        )
        months = quarter_months(run.period)
        built = [attribution.build_part(month, part.buckets) for month in months]
        practices = quarter_practices(ctx.gaps.clinics().values(), months)
        frames = attribution.claim_frames(part.buckets, months[0], DIRECT_COLUMNS)
        share = _direct_services(ctx, months, practices, _program(ctx, run.period), frames)
        dollars = pl.col("allowed_amount").cast(pl.String)  # Decimal dollars as text, to the cent
        rows = share.with_columns(dollars).to_dicts()
        ctx.objects.put_json(ctx.curated, direct_services_part_key(run.run_id, part), rows)
        return PartResult(
            first_bucket=part.first_bucket,
            last_bucket=part.last_bucket,
            members=built[-1].members,
        )

    def earn(
        self, ctx: RunContext, run: RunRef, shard_id: str, members: Sequence[MemberFacts]
    ) -> ShardOutput:
        """Settle each member's PMPM member-months of the quarter against what the ledger holds for them."""
        program = _program(ctx, run.period)
        months = quarter_months(run.period)
        practices = quarter_practices(ctx.gaps.clinics().values(), months)
        status = _status(ctx, run.run_id)
        ids = [m.profile.member_id for m in members]
        attributed = {
            month: attributed_practices(ctx.objects, ctx.curated, month, ids, count=ctx.member_buckets)
            for month in months
        }
        ours: list[LedgerEntry] = []
        copies: list[LedgerEntry] = []
        skipped = 0
        for member in members:
            member_id = member.profile.member_id
            practice_of = {month: attributed[month].get(member_id) for month in months}
            supported = pmpm_entries(
                member, practice_of, practices, status, program, months, run_id=run.run_id, payer=ctx.payer
            )
            state = ctx.ledger.member_state(member.profile.member_id)
            paid = [
                e
                for e in state.entries
                if isinstance(e.basis, PmpmPayment) and e.basis.scheme in SCHEMES and e.period in months
            ]
            if not paid and not supported:
                continue
            wanted = settle_member(paid, supported, run_id=run.run_id, month=months[-1])
            appended, earlier = append_member_entries(ctx, run, state.entries, wanted, copies)
            ours += appended
            skipped += earlier
        # The shard's history copies in batches, after their entries: a crash before them is healed on the
        # retry (an entry met again gets its copy), as in the monthly run.
        ctx.ledger.index_members(copies)
        unique = {e.entry_id: e for e in ours}
        return ShardOutput(
            run_id=run.run_id,
            shard_id=shard_id,
            entries=tuple(unique[i] for i in sorted(unique)),
            skipped_paid_earlier=skipped,
        )

    def statement_csv(
        self,
        run_id: str,
        clinic: Clinic,
        entries: Sequence[LedgerEntry],
        categories: Mapping[tuple[str, str], str],
        banner: str | None,
    ) -> bytes:
        return pmpm_statement_csv(run_id, clinic.clinic_id, entries, banner=banner)

    def statement_html(
        self,
        run_id: str,
        clinic: Clinic,
        entries: Sequence[LedgerEntry],
        categories: Mapping[tuple[str, str], str],
        banner: str | None,
    ) -> bytes:
        return pmpm_statement_html(run_id, clinic, entries, banner=banner)

    def reports(self, ctx: RunContext, run: RunRef, outputs: Sequence[ShardOutput]) -> Iterator[Report]:
        """The engagement report (every APC practice's requirements met or missed, per month) and Element 1's
        direct-services report (capitated and fee-for-service lines and dollars per practice and month)."""
        yield Report(name="ta-status.csv", body=ta_status_csv(run.run_id, _status(ctx, run.run_id)))
        yield Report(name="direct-services.csv", body=direct_services_csv(run.run_id, _direct_rows(ctx, run)))

    def single_operator(self, programs: ProgramSet, period: str) -> bool:
        return False

    def request_fields(self, period: str) -> dict[str, str]:
        return {"quarter": period}


_GROUP = ("practice_id", "payer_id", "month", "track", "payment", "category")


def _direct_rows(ctx: RunContext, run: RunRef) -> list[dict[str, object]]:
    """The run's direct-services rows: the planned parts' shares summed by practice, payer, month, track,
    payment and category (only the parts of the run's latest plan: a recalculation plans again), or the
    whole report a run planned before the parts wrote; DirectServicesPartMissingError when a planned part
    wrote no share."""
    try:
        return list(ctx.objects.get_json(ctx.curated, direct_services_key(run.run_id)))
    except NotFoundError:
        pass
    try:
        planned = ctx.objects.get_json(ctx.curated, parts_key(run.run_id))
    except NotFoundError:
        return []
    totals: dict[tuple[object, ...], tuple[int, Decimal]] = {}
    for item in planned:
        part = BucketPart.model_validate(item)
        try:
            share = ctx.objects.get_json(ctx.curated, direct_services_part_key(run.run_id, part))
        except NotFoundError:
            raise DirectServicesPartMissingError(
                f"buckets {part.first_bucket}-{part.last_bucket} of run {run.run_id} have no direct-services "
                "share: run the quarter again so its BuildParts finish"
            ) from None
        for row in share:
            key = tuple(row[c] for c in _GROUP)
            lines, dollars = totals.get(key, (0, Decimal(0)))
            totals[key] = (lines + int(row["lines"]), dollars + Decimal(row["allowed_amount"]))
    order = sorted(
        totals, key=lambda k: tuple("" if v is None else str(v) for v in (k[0], k[1], k[2], k[4], k[5]))
    )
    return [
        dict(zip(_GROUP, key, strict=True)) | {"lines": totals[key][0], "allowed_amount": str(totals[key][1])}
        for key in order
    ]


def _program(ctx: RunContext, quarter: str) -> ApcProgram:
    day = month_end(quarter_months(quarter)[-1])
    program = ctx.programs.apc.find(day)
    if program is None:
        raise NoApcProgramError(f"no apc program version is in force on {day.isoformat()}")
    return program


def _status(ctx: RunContext, run_id: str) -> dict[tuple[str, str], TaMonth]:
    try:
        body = ctx.objects.get_json(ctx.curated, ta_status_key(run_id))
    except NotFoundError:
        return {}
    found = {}
    for key, missed in body.items():
        practice, month = key.rsplit("|", 1)
        found[(practice, month)] = TaMonth(practice, month, tuple(missed))
    return found


__all__ = ["ELEMENT1", "ELEMENT2", "QuarterlyPmpm", "member_month_spans", "pmpm_entries", "ta_status_key"]
