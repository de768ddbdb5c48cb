"""The pages people look at: one per clinic and one for the plan, static HTML from the statements' Jinja2
environment (`docs/pages.md`).

- **Clinic**: the registry ranked by money at stake (next step, due date), what falls due in the next 60
  days, what each run of the program year paid (an inline SVG chart and its table), the projected annual
  incentive at current rates (`shared/services/projection.py`), chart requests and, for an APC practice,
  every payer side by side.
- **Plan**: payouts by month and program against the funding pools, Benchmark measure rates against their
  benchmarks, results and dollars by the clinics' HPI decile, and file-intake health by kind and month.

Read-only: in a run, the page facts its shards counted (`shared/services/page_facts.py`); outside one,
the gap state (each clinic's members read once, for its registry, chart requests and projection); the run
registry and run summaries (`shared/services/page_data.py`) and the file log; the
caller writes the pages (RenderStatements to the reports bucket, the demo to a folder). A clinic page
names members by id only, with actions and dates: never a birth date or anything else of theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

from shared.dal.files import FileLog
from shared.logic.annual_incentives import rate_percent
from shared.logic.keys import key_segment
from shared.models.ledger import LedgerEntry
from shared.models.members import ApcPaymentTrack, Clinic, MemberFacts
from shared.models.runs import RunMode, RunRef
from shared.observability import logger
from shared.render.charts import bar_chart
from shared.render.environment import render
from shared.services.kinds.base import RunContext
from shared.services.page_data import (
    PROGRAM_NAMES,
    RunPayout,
    intake_health,
    pool_lines,
    program_year,
    year_payouts,
)
from shared.services.page_facts import ClinicPageFacts, RowExplainer, StoredPageFacts, clinic_page_facts
from shared.services.projection import ClinicProjection, Projector
from shared.services.registry import DEFAULT_CHART_REQUEST_DAYS

DUE_SOON_DAYS = 60
EXPLANATIONS_PER_PAGE = 250
"""A clinic's explanations are split in pages of this many (about 450 KB), so a row's link opens a page of
its own size rather than every member's (20 MB at 5,000 members)."""
PLAN_PAGE = "plan.html"


def clinic_page_name(clinic_id: str) -> str:
    """A clinic's page, relative to the run's pages folder (a clinic id is a key segment)."""
    return f"clinic/{key_segment(clinic_id)}.html"


def explain_page_name(clinic_id: str, number: int) -> str:
    """The `number`th page (from 1) of the explanations of a clinic's registry rows, relative to the run's
    pages folder."""
    return f"explain/{key_segment(clinic_id)}/{number}.html"


def explanation_anchor(member_id: str, action: str) -> str:
    """The id of one member's action on its clinic's explanation page."""
    return f"{member_id}-{action}"


def _file(name: str, preview: bool) -> str:
    """A page's file name as it is written: a preview's is marked PREVIEW (`SettlementService`'s outputs)."""
    return f"PREVIEW-{name.rpartition('/')[2]}" if preview else name.rpartition("/")[2]


@dataclass(frozen=True)
class Page:
    """One rendered page: its name under the run's pages folder and its bytes."""

    name: str
    body: bytes


@dataclass
class _ClinicFigures:
    """What the plan page sums of one clinic."""

    clinic: Clinic
    members: int
    open: int = 0
    closed: int = 0
    at_stake_cents: int = 0
    paid_cents: int = 0
    projection: ClinicProjection | None = None


@dataclass
class _Decile:
    label: str
    clinics: int = 0
    members: int = 0
    open: int = 0
    closed: int = 0
    at_stake_cents: int = 0
    paid_cents: int = 0
    projected_cents: int = 0

    @property
    def closed_share(self) -> Fraction | None:
        seen = self.open + self.closed
        return Fraction(self.closed, seen) if seen else None

    @property
    def per_member_cents(self) -> int:
        return self.paid_cents // self.members if self.members else 0


@dataclass
class _MeasureRow:
    line_of_business: str
    measure: str
    benchmark: Decimal | None
    inverse: bool
    clinics: int = 0
    denominator: int = 0
    numerator: int = 0

    @property
    def rate(self) -> Decimal | None:
        return rate_percent(self.numerator, self.denominator)

    @property
    def meets(self) -> str:
        rate, target = self.rate, self.benchmark
        if rate is None or target is None:
            return "no members yet"
        met = rate <= target if self.inverse else rate >= target
        return "yes" if met else "not yet"


class PageService:
    """Renders the clinic and plan pages from the repositories; storage comes in the context."""

    def __init__(
        self,
        *,
        context: RunContext,
        reports_bucket: str,
        log: FileLog | None = None,
        chart_request_days: int = DEFAULT_CHART_REQUEST_DAYS,
    ) -> None:
        self._ctx = context
        self._reports = reports_bucket
        self._log = log
        self._chart_days = chart_request_days

    def pages(
        self,
        as_of: date,
        *,
        run: RunRef | None = None,
        entries: Sequence[LedgerEntry] = (),
        banner: str | None = None,
        stored: StoredPageFacts | None = None,
    ) -> Iterator[Page]:
        """Every clinic's page, one at a time, then the plan's; `run` and its `entries` are the run being
        rendered (its totals are the statements'), `as_of` the day the registry and projections stand on;
        `stored` the page facts the run's shards counted (without them each clinic's members are read from
        the gap state)."""
        year = program_year(run) if run is not None else as_of.year
        clinics = self._ctx.gaps.clinics()
        payouts = year_payouts(self._ctx, self._reports, year, run, entries)
        projector = Projector(self._ctx, year, clinics)
        explainer = RowExplainer(self._ctx, clinics, year) if stored is None else None
        preview = run is not None and run.mode is RunMode.PREVIEW
        common = {
            "as_of": as_of,
            "year": year,
            "banner": banner,
            "run_id": run.run_id if run else None,
            "run_status": _run_status(run),
        }
        figures = []
        for clinic_id in sorted(clinics):
            if explainer is None:
                assert stored is not None
                facts = stored.clinic(clinic_id)
            else:
                facts = clinic_page_facts(
                    self._ctx,
                    clinics[clinic_id],
                    self._members(clinic_id),
                    as_of,
                    projector,
                    self._chart_days,
                    explainer,
                )
            links = _Links.of(clinic_id, facts, preview)
            body, found = self._clinic_page(clinics, facts, as_of, payouts, projector, entries, common, links)
            figures.append(found)
            yield Page(clinic_page_name(clinic_id), body)
            yield from _explain_pages(clinics[clinic_id], facts, links, common)
        yield Page(PLAN_PAGE, self._plan_page(figures, payouts, year, entries, common))
        logger.info("pages rendered", clinic_count=len(figures), year=year)

    def write_to(self, folder: Path, as_of: date) -> list[Path]:
        """Write every page under `folder` (`clinic/<clinic>.html`, `plan.html`), as of `as_of`, outside
        any run; returns the paths written."""
        written = []
        for page in self.pages(as_of):
            path = folder / page.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(page.body)
            written.append(path)
        return written

    def _members(self, clinic_id: str) -> list[MemberFacts]:
        gaps = self._ctx.gaps
        return gaps.members(gaps.member_ids(clinic_id))

    def _clinic_page(
        self,
        clinics: Mapping[str, Clinic],
        facts: ClinicPageFacts,
        as_of: date,
        payouts: Sequence[RunPayout],
        projector: Projector,
        entries: Sequence[LedgerEntry],
        common: Mapping[str, object],
        links: _Links,
    ) -> tuple[bytes, _ClinicFigures]:
        clinic_id = facts.clinic_id
        clinic = clinics[clinic_id]
        found = _ClinicFigures(clinic, facts.members, open=facts.open, closed=facts.closed)
        rows, requests = list(facts.rows), list(facts.chart_requests)
        found.at_stake_cents = sum(r.cents_at_stake for r in rows)
        found.projection = projector.project(clinic_id, facts.counts, as_of)
        until = as_of + timedelta(days=DUE_SOON_DAYS)
        due = sorted(
            (r for r in rows if r.due_date is not None and as_of <= r.due_date <= until),
            key=lambda r: (r.due_date or until, -r.cents_at_stake, r.member_id, r.action),
        )
        mine = [(p, p.clinic_cents(clinic_id)) for p in payouts]
        found.paid_cents = sum(cents for _, cents in mine)
        by_month: dict[str, int] = defaultdict(int)
        for p, cents in mine:
            by_month[p.month] += cents
        payers, programs = _payers(clinic, payouts, self._ctx.payer)
        apc_rates = {}
        if found.projection is not None and found.projection.apc is not None:
            apc_rates = {
                code: f"{r.rate} {r.unit.value.replace('_', ' ')}" if r.rate is not None else "n/a"
                for code, r in found.projection.apc.rates.items()
            }
        body = render(
            "clinic_page.html.j2",
            **common,
            clinic=clinic,
            program_line=_program_line(clinic, as_of, self._ctx.payer),
            member_count=facts.members,
            registry=rows,
            why=links.why,
            registry_note=f"{clinic.clinic_id} is not in Care Gap P4P on {as_of}: it has no SVU registry.",
            at_stake_cents=found.at_stake_cents,
            due_days=DUE_SOON_DAYS,
            due_until=until,
            due_soon=due,
            payouts=[{"month": p.month, "run_id": p.run_id, "status": p.status, "cents": c} for p, c in mine],
            year_cents=found.paid_cents,
            run_cents=sum(e.amount_cents for e in entries if e.clinic_id == clinic_id),
            earnings_chart=bar_chart(
                "earnings", f"{clinic.clinic_name}: paid by month", sorted(by_month.items())
            ),
            projection=found.projection,
            apc_rates=apc_rates,
            chart_days=self._chart_days,
            chart_requests=requests,
            payers=payers,
            payer_programs=[PROGRAM_NAMES[p] for p in programs],
            payer_totals=[sum(cells[i] for _, cells, _ in payers) for i in range(len(programs))],
        )
        return body, found

    def _plan_page(
        self,
        figures: Sequence[_ClinicFigures],
        payouts: Sequence[RunPayout],
        year: int,
        entries: Sequence[LedgerEntry],
        common: Mapping[str, object],
    ) -> bytes:
        programs = list(PROGRAM_NAMES)
        by_month: dict[str, int] = defaultdict(int)
        for p in payouts:
            by_month[p.month] += p.total_cents
        deciles = _deciles(figures)
        members = sum(f.members for f in figures)
        year_cents = sum(p.total_cents for p in payouts)
        open_total, closed_total = sum(f.open for f in figures), sum(f.closed for f in figures)
        seen = open_total + closed_total
        return render(
            "plan_page.html.j2",
            **common,
            clinic_count=len(figures),
            member_count=members,
            run_cents=sum(e.amount_cents for e in entries),
            year_cents=year_cents,
            at_stake_cents=sum(f.at_stake_cents for f in figures),
            projected_cents=sum(f.projection.total_cents for f in figures if f.projection),
            payouts_chart=bar_chart("payouts", f"Payouts by month, {year}", sorted(by_month.items())),
            payouts=payouts,
            programs=programs,
            program_names=PROGRAM_NAMES,
            program_totals={p: sum(r.program_cents(p) for r in payouts) for p in programs},
            pools=pool_lines(self._ctx, year, payouts),
            measures=_measures(self._ctx, year, figures),
            deciles=deciles,
            open_total=open_total,
            closed_total=closed_total,
            closed_share=Fraction(closed_total, seen) if seen else None,
            per_member_cents=year_cents // members if members else 0,
            intake=intake_health(self._log),
        )


@dataclass(frozen=True)
class _Links:
    """Relative links between a clinic's page and its explanation pages, as the files are named when written
    (a preview's are marked PREVIEW), and which page holds each member's action."""

    clinic_id: str
    preview: bool
    shown: tuple[tuple[str, str], ...]
    """Each (member, action) of the registry once, in the registry's order."""
    page_of: Mapping[tuple[str, str], int]

    @classmethod
    def of(cls, clinic_id: str, facts: ClinicPageFacts, preview: bool) -> _Links:
        shown: tuple[tuple[str, str], ...] = tuple(
            dict.fromkeys((r.member_id, str(r.action)) for r in facts.rows)
        )
        page_of = {key: i // EXPLANATIONS_PER_PAGE + 1 for i, key in enumerate(shown)}
        return cls(clinic_id, preview, shown, page_of)

    def page(self, number: int) -> str:
        """An explanation page's file name in the clinic's explanations folder."""
        return _file(explain_page_name(self.clinic_id, number), self.preview)

    def why(self, member_id: str, action: str) -> str:
        """From the clinic page to the member's action on its explanation page."""
        number = self.page_of[(member_id, action)]
        folder = key_segment(self.clinic_id)
        return f"../explain/{folder}/{self.page(number)}#{quote(explanation_anchor(member_id, action))}"

    @property
    def registry(self) -> str:
        """From an explanation page back to the clinic page's registry."""
        return f"../../clinic/{_file(clinic_page_name(self.clinic_id), self.preview)}#registry"


def _explain_pages(
    clinic: Clinic, facts: ClinicPageFacts, links: _Links, common: Mapping[str, object]
) -> Iterator[Page]:
    """The clinic's registry rows explained, one section per member's action in the registry's order, in
    pages of `EXPLANATIONS_PER_PAGE`, each linking to the one before and after it."""
    texts = {(x.member_id, x.action): x.text for x in facts.explanations}
    count = -(-len(links.shown) // EXPLANATIONS_PER_PAGE)
    for number in range(1, count + 1):
        part = links.shown[(number - 1) * EXPLANATIONS_PER_PAGE : number * EXPLANATIONS_PER_PAGE]
        first = (number - 1) * EXPLANATIONS_PER_PAGE + 1
        body = render(
            "explain_page.html.j2",
            **common,
            clinic=clinic,
            back=links.registry,
            span=f"{first}-{first + len(part) - 1} of {len(links.shown)}",
            previous=links.page(number - 1) if number > 1 else None,
            next=links.page(number + 1) if number < count else None,
            explanations=[(explanation_anchor(m, a), m, a, texts[(m, a)]) for m, a in part],
        )
        yield Page(explain_page_name(clinic.clinic_id, number), body)


def _run_status(run: RunRef | None) -> str | None:
    if run is None:
        return None
    return "a preview: nothing on this page is paid" if run.mode is RunMode.PREVIEW else "under review"


def _apc_tracks(clinic: Clinic, as_of: date, plan_payer: str) -> list[str]:
    """The practice's APC track with each payer on `as_of` (its own row's stands for the deploying plan and
    every payer without one): `basic capitation with PLAN2`, or the one track alone when all agree."""
    payers = sorted({t.payer_id or plan_payer for t in clinic.apc_tracks})
    found = {p: clinic.apc_track_on(p, as_of) for p in payers}
    on = {p: t for p, t in found.items() if t is not ApcPaymentTrack.NONE}
    if not on:
        return []
    if len(set(found.values())) == 1:
        return [next(iter(on.values())).value.replace("_", " ")]
    return [f"{t.value.replace('_', ' ')} with {p}" for p, t in sorted(on.items())]


def _program_line(clinic: Clinic, as_of: date, plan_payer: str) -> str:
    current = clinic.enrollment_on(as_of)
    program = PROGRAM_NAMES.get(current.program, current.program) if current else "no program"
    parts = [f"In {program} on {as_of}."]
    tracks = _apc_tracks(clinic, as_of, plan_payer)
    if tracks:
        parts.append("APC track: " + "; ".join(tracks) + ".")
    if clinic.hpi_decile is not None:
        parts.append(f"HPI decile {clinic.hpi_decile}.")
    return " ".join(parts)


def _payers(
    clinic: Clinic, payouts: Sequence[RunPayout], plan_payer: str
) -> tuple[list[tuple[str, list[int], int]], list[str]]:
    """An APC practice's payers (the deploying plan's always among them) by program; none for others."""
    programs = list(PROGRAM_NAMES)
    if all(t.track is ApcPaymentTrack.NONE for t in clinic.apc_tracks):
        return [], programs
    cells: dict[str, list[int]] = {plan_payer: [0] * len(programs)}
    for p in payouts:
        for (clinic_id, payer, program), cents in p.cents.items():
            if clinic_id == clinic.clinic_id:
                row = cells.setdefault(payer, [0] * len(programs))
                row[programs.index(program) if program in programs else 0] += cents
    return [(payer, row, sum(row)) for payer, row in sorted(cells.items())], programs


def _deciles(figures: Iterable[_ClinicFigures]) -> list[_Decile]:
    found: dict[int, _Decile] = {}
    for f in figures:
        key = f.clinic.hpi_decile or 0
        d = found.setdefault(key, _Decile(str(key) if key else "not given"))
        d.clinics += 1
        d.members += f.members
        d.open += f.open
        d.closed += f.closed
        d.at_stake_cents += f.at_stake_cents
        d.paid_cents += f.paid_cents
        d.projected_cents += f.projection.total_cents if f.projection else 0
    # Decile 1 first; clinics whose file gives no decile last.
    return [found[k] for k in sorted(found, key=lambda k: (k == 0, k))]


def _measures(ctx: RunContext, year: int, figures: Iterable[_ClinicFigures]) -> list[_MeasureRow]:
    program = ctx.programs.benchmark.for_year(year)
    if program is None:
        return []
    inverse = {m.code: m.inverse for m in program.measures}
    rows: dict[tuple[str, str], _MeasureRow] = {}
    for f in figures:
        for line in f.projection.benchmark_lines if f.projection else ():
            for m in line.measures:
                key = (line.line_of_business, m.measure)
                row = rows.setdefault(key, _MeasureRow(*key, m.benchmark, inverse.get(m.measure, False)))
                row.clinics += 1
                row.denominator += m.denominator
                row.numerator += m.numerator
    return [rows[k] for k in sorted(rows)]
