"""The pages the runs write beside the statements: their totals are the statements', previews stay under
previews/, a clinic page names only its own members (by id), and the markup is static and labelled."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.runs import REPORTS
from shared.dal.memory import MemoryObjectStore
from shared.logic.money import parse_dollars
from shared.services.page_facts import (
    PageFactsMissingError,
    RowExplainer,
    StoredPageFacts,
    clinic_page_facts,
    page_facts_key,
)
from shared.services.pages import PageService
from shared.services.projection import Projector
from shared.services.registry import DEFAULT_CHART_REQUEST_DAYS
from shared.services.statements import payment_total_cents
from tests.pages.plan import AS_OF, PagesPlan, page_text, statement_totals

pytestmark = [pytest.mark.xdist_group("pages")]

MEMBER_ID = re.compile(r"SYN\d{8}")


def figure(html: str, name: str) -> int:
    """A key figure of a page (`id="run-total"`), in cents."""
    found = re.search(rf'id="{name}">\$(-?[\d.]+)<', html)
    assert found, f"{name} is not on the page"
    return parse_dollars(found.group(1))


def final_runs(plan: PagesPlan) -> list[str]:
    return [*plan.run_ids, plan.annual_id]


def clinic_ids(plan: PagesPlan) -> list[str]:
    return sorted(plan.gaps.clinics())


def test_each_clinic_page_shows_its_statement_total_and_the_year_so_far(pages_plan: PagesPlan) -> None:
    # GIVEN three months and the year run final, each writing its statements and pages
    year_so_far = dict.fromkeys(clinic_ids(pages_plan), 0)
    for run_id in final_runs(pages_plan):
        statements = statement_totals(pages_plan, run_id)
        for clinic_id in clinic_ids(pages_plan):
            year_so_far[clinic_id] += statements.get(clinic_id, 0)
            # WHEN the run's page of the clinic is read
            html = page_text(pages_plan, f"pages/{run_id}/clinic/{clinic_id}.html")
            # THEN this run's total is its statement's, and the year's is every statement's so far
            assert figure(html, "run-total") == statements.get(clinic_id, 0), (run_id, clinic_id)
            assert figure(html, "year-total") == year_so_far[clinic_id], (run_id, clinic_id)
    assert sum(year_so_far.values()) > 0, "the plan paid something"


def test_the_plan_page_shows_the_draft_payment_total_and_the_year_so_far(pages_plan: PagesPlan) -> None:
    # GIVEN the final runs' draft payment files
    paid = 0
    for run_id in final_runs(pages_plan):
        draft = payment_total_cents(pages_plan.store.get_bytes(REPORTS, f"runs/{run_id}/payment-draft.csv"))
        paid += draft
        # WHEN the run's plan page is read
        html = page_text(pages_plan, f"pages/{run_id}/plan.html")
        # THEN its totals are the draft's and the year's so far
        assert figure(html, "run-total") == draft == sum(statement_totals(pages_plan, run_id).values())
        assert figure(html, "year-total") == paid


def test_a_preview_writes_its_pages_under_previews_marked_and_pays_nothing(pages_plan: PagesPlan) -> None:
    # GIVEN April previewed
    run_id = pages_plan.preview_id
    # WHEN its pages are listed
    keys = pages_plan.store.keys(REPORTS, f"previews/{run_id}/pages/")
    # THEN every page is there, named PREVIEW and bannered, and none is under pages/
    names = {k.rsplit("/", 1)[1] for k in keys if "/explain/" not in k}
    assert names == {f"PREVIEW-{c}.html" for c in clinic_ids(pages_plan)} | {"PREVIEW-plan.html"}
    explained = [k.rsplit("/", 1)[1] for k in keys if "/explain/" in k]
    assert explained and all(re.fullmatch(r"PREVIEW-\d+\.html", n) for n in explained)
    assert pages_plan.store.keys(REPORTS, f"pages/{run_id}/") == []
    html = page_text(pages_plan, f"previews/{run_id}/pages/PREVIEW-plan.html")
    assert "PREVIEW of run" in html and "preview, not paid" in html


def test_a_clinic_page_names_its_own_members_by_id_only(pages_plan: PagesPlan) -> None:
    # GIVEN every member's birth date (years before the program year, so no date on a page is one by chance)
    members = {c: set(pages_plan.gaps.member_ids(c)) for c in clinic_ids(pages_plan)}
    births = set()
    for ids in members.values():
        for member_id in ids:
            facts = pages_plan.gaps.member(member_id)
            if facts and facts.profile.birth_date.year < 2025:
                births.add(facts.profile.birth_date.isoformat())
    shown = 0
    for clinic_id, own in members.items():
        # WHEN the year's page of the clinic is read
        html = page_text(pages_plan, f"pages/{pages_plan.annual_id}/clinic/{clinic_id}.html")
        # THEN the members it names are the clinic's own, and no birth date is on it
        named = set(MEMBER_ID.findall(html))
        assert named <= own, clinic_id
        assert not [b for b in births if b in html], clinic_id
        shown += len(named)
    plan_page = page_text(pages_plan, f"pages/{pages_plan.annual_id}/plan.html")
    assert shown > 0 and MEMBER_ID.findall(plan_page) == []
    assert not [b for b in births if b in plan_page]


class _Markup(HTMLParser):
    """What the static check needs of a page: its elements with their attributes, and script use."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.svg_titles: list[bool] = []
        self.table_has_caption: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "svg":
            self.svg_titles.append(False)
        if tag == "title" and "svg" in self.open and self.svg_titles:
            self.svg_titles[-1] = True
        if tag == "table":
            self.table_has_caption.append(False)
        if tag == "caption" and self.table_has_caption:
            self.table_has_caption[-1] = True
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]


@pytest.mark.parametrize("page", ["clinic", "explain", "plan"])
def test_pages_are_static_labelled_and_self_contained(pages_plan: PagesPlan, page: str) -> None:
    # GIVEN the year's pages of the kind
    prefix = f"pages/{pages_plan.annual_id}/"
    keys = pages_plan.store.keys(REPORTS, prefix)
    chosen = [k for k in keys if k[len(prefix) :].startswith(page)]
    assert chosen, page
    for key in chosen:
        markup = _Markup()
        # WHEN a page is parsed
        markup.feed(page_text(pages_plan, key))
        tags = markup.elements
        # THEN it has a language and a title, no script, nothing from elsewhere, labelled tables and charts
        assert tags[0] == ("html", {"lang": "en"}), key
        assert any(t == "title" for t, _ in tags), key
        assert not [t for t, _ in tags if t in {"script", "iframe", "img", "link", "object", "embed"}], key
        assert not [a for _, a in tags for v in a.values() if v and re.match(r"(https?:)?//", v)], key
        assert all(a.get("scope") in {"col", "row"} for t, a in tags if t == "th"), key
        assert all(markup.table_has_caption) and all(markup.svg_titles), key
        if page != "explain":  # an explanation page is headed sections of text: no table, no chart
            assert markup.table_has_caption and markup.svg_titles, key


def test_rendering_pages_writes_nothing(pages_plan: PagesPlan, tmp_path: Path) -> None:
    # GIVEN the plan's stores as they are
    objects = dict(pages_plan.store.objects)
    ledger = pages_plan.service._context.ledger
    gap_units, ledger_units = dict(pages_plan.gaps.meter.units), dict(ledger.meter.units)
    service = PageService(context=pages_plan.service._context, reports_bucket=REPORTS, log=pages_plan.log)
    # WHEN the pages are written to a folder, as the demo does
    written = service.write_to(tmp_path / "pages", AS_OF)
    # THEN every page is in the folder (a clinic with a registry followed by its explanations), plan last,
    # and no store was written
    names = [p.relative_to(tmp_path / "pages").as_posix() for p in written]
    assert [n for n in names if not n.startswith("explain/")] == [
        *(f"clinic/{c}.html" for c in clinic_ids(pages_plan)),
        "plan.html",
    ]
    explained = [n for n in names if n.startswith("explain/")]
    for n in explained:  # after its clinic's page, or the explanation page before it
        before = names[names.index(n) - 1]
        assert before == f"clinic/{n.split('/')[1]}.html" or before.startswith(n.rsplit("/", 1)[0] + "/"), n
    assert explained
    assert pages_plan.store.objects == objects
    assert dict(pages_plan.gaps.meter.units) == gap_units
    assert dict(ledger.meter.units) == ledger_units


def test_the_projection_on_the_year_end_is_the_annual_runs_benchmark_payout(pages_plan: PagesPlan) -> None:
    # GIVEN the year's final annual run and a Benchmark clinic it paid
    ctx = pages_plan.service._context
    clinics = ctx.gaps.clinics()
    paid = {
        (e.clinic_id, e.basis.line_of_business): e.amount_cents
        for e in ctx.ledger.by_run(pages_plan.annual_id)
        if e.program == "benchmark"
    }
    projector = Projector(ctx, 2026, clinics)
    compared = 0
    for clinic_id, clinic in clinics.items():
        if not clinic.in_benchmark_for(2026):
            continue
        members = [ctx.gaps.member(m) for m in ctx.gaps.member_ids(clinic_id)]
        # WHEN it is projected with every piece of evidence the annual run counted
        projection = projector.clinic(clinic_id, [m for m in members if m], date(2027, 12, 31))
        assert projection is not None
        # THEN each line's projected payout is what the annual run paid it
        for line in projection.benchmark_lines:
            assert line.cents == paid.get((clinic_id, line.line_of_business), 0), (clinic_id, line)
            compared += 1
    assert compared > 0


def test_a_runs_pages_are_counted_by_its_shards_as_the_gap_state_would_give_them(
    pages_plan: PagesPlan,
) -> None:
    # GIVEN the year's annual run (the last one: the gap state is as it counted it), in shards of 100
    ctx = pages_plan.service._context
    run_id = pages_plan.annual_id
    stored = StoredPageFacts(ctx.objects, ctx.curated, run_id)
    as_of, clinics = stored.index.as_of, ctx.gaps.clinics()
    projector = Projector(ctx, 2026, clinics)
    shards = len(ctx.objects.keys(ctx.curated, f"runs/{run_id}/shards/"))
    # THEN members were sharded clinic by clinic: a clinic's members are in few shards
    held = sum(len(s) for s in stored.index.shards.values())
    assert shards > 1 and held <= shards + len(clinics) - 1
    split = [c for c, s in stored.index.shards.items() if len(s) > 1]
    assert split, "no clinic spans two shards: the merge is not exercised"
    for clinic_id, clinic in sorted(clinics.items()):
        # WHEN a clinic's parts are merged
        merged = stored.clinic(clinic_id)
        # THEN they are what its members read from the gap state give, projection included
        members = ctx.gaps.members(ctx.gaps.member_ids(clinic_id))
        fresh = clinic_page_facts(
            ctx,
            clinic,
            members,
            as_of,
            projector,
            DEFAULT_CHART_REQUEST_DAYS,
            RowExplainer(ctx, clinics, 2026),
        )
        # (the explanations name runs by status, which moved on since: test_every_registry_row_links_…)
        skip = {"counts", "explanations"}
        assert merged.model_dump(exclude=skip) == fresh.model_dump(exclude=skip), clinic_id
        assert {(x.member_id, x.action) for x in merged.explanations} == {
            (x.member_id, x.action) for x in fresh.explanations
        }
        assert projector.project(clinic_id, merged.counts, as_of) == projector.project(
            clinic_id, fresh.counts, as_of
        )
    assert any(stored.clinic(c).rows for c in clinics)


def test_a_run_whose_shards_left_out_a_part_fails_naming_the_shard_and_the_clinic(
    pages_plan: PagesPlan,
) -> None:
    # GIVEN the annual run's page facts with one part of a clinic spread over two shards removed
    ctx = pages_plan.service._context
    store = MemoryObjectStore()
    store.objects.update(pages_plan.store.objects)
    stored = StoredPageFacts(store, ctx.curated, pages_plan.annual_id)
    clinic_id, shards = next((c, s) for c, s in sorted(stored.index.shards.items()) if len(s) > 1)
    del store.objects[(ctx.curated, page_facts_key(pages_plan.annual_id, clinic_id, shards[0]))]
    # WHEN the clinic's facts are asked for
    # THEN the run is refused, naming the shard and the clinic, and the other clinics' facts are there
    with pytest.raises(PageFactsMissingError, match=rf"shard\(s\) {shards[0]} .* clinic {clinic_id}"):
        stored.clinic(clinic_id)
    assert all(stored.clinic(c).members for c in stored.index.shards if c != clinic_id)
    # AND a run planned without them is refused as a whole
    del store.objects[(ctx.curated, f"runs/{pages_plan.annual_id}/pages.json")]
    with pytest.raises(PageFactsMissingError, match="start it again"):
        StoredPageFacts(store, ctx.curated, pages_plan.annual_id)
