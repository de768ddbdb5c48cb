"""Every registry row of a clinic page links to its explanation: a relative link into the clinic's
explanation page, whose section for the member's action says what `p4p explain` says of it (Care Gap P4P),
as known on the page's day with the runs as they stood when the run's shards counted it."""

from __future__ import annotations

import html
import posixpath
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from bench.runs import REPORTS
from shared.dal.memory import MemoryRunRegistry
from shared.models.runs import RunStatus
from shared.render.explain_text import explanation_text
from shared.services import pages
from shared.services.explain import ExplainService
from shared.services.page_facts import StoredPageFacts
from shared.services.pages import PageService
from tests.pages.plan import AS_OF, PagesPlan, page_text

pytestmark = [pytest.mark.xdist_group("pages")]

COMPARED_PER_CLINIC = 4


class _Page(HTMLParser):
    """The registry rows' links of a clinic page, or the sections (id -> text) of an explanation page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.why: list[str] = []
        self.rows = 0
        self.sections: dict[str, str] = {}
        self._table: str | None = None
        self._section: str | None = None
        self._pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"] or "")
        if tag == "caption":
            self._table = "caption"
        if tag == "tbody" and self._table == "registry":
            self._table = "registry-body"
        if tag == "tr" and self._table == "registry-body":
            self.rows += 1
        if tag == "a" and self._table == "registry-body":
            self.why.append(found.get("href") or "")
        if tag == "section":
            self._section = found.get("id")
        if tag == "pre":
            self._pre = []

    def handle_data(self, data: str) -> None:
        if self._table == "caption":
            self._table = "registry" if data.startswith("Registry on") else "other"
        if self._pre is not None:
            self._pre.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"table", "tbody"}:
            self._table = None
        if tag == "pre" and self._pre is not None and self._section:
            self.sections[self._section] = "".join(self._pre)
            self._pre = None


def _parsed(plan: PagesPlan, key: str) -> _Page:
    page = _Page()
    page.feed(page_text(plan, key))
    return page


def _target(key: str, href: str) -> tuple[str, str]:
    """The bucket key and the anchor a relative link of the page at `key` points to."""
    link = urlsplit(href)
    assert not link.scheme and not link.netloc and not link.path.startswith("/"), href
    return posixpath.normpath(posixpath.join(posixpath.dirname(key), link.path)), unquote(link.fragment)


def _registry_as_counted(plan: PagesPlan, run_id: str) -> MemoryRunRegistry:
    """The run registry as the run's shards saw it: the runs started before it, and it still OPEN."""
    runs = plan.service._context.runs
    rendered = runs.get(run_id)
    assert rendered is not None
    seen = MemoryRunRegistry()
    for run in runs.recent(limit=500):
        if run.started_at <= rendered.started_at:
            seen.create(run.model_copy(update={"status": RunStatus.OPEN}) if run.run_id == run_id else run)
    return seen


@pytest.mark.parametrize("which", ["march", "year", "preview"])
def test_every_registry_row_links_to_what_p4p_explain_says_of_it(pages_plan: PagesPlan, which: str) -> None:
    # GIVEN a run's pages: March's final run, the year's annual run, or April's preview
    run_id = {
        "march": pages_plan.run_ids[-1],
        "year": pages_plan.annual_id,
        "preview": pages_plan.preview_id,
    }[which]
    ctx = pages_plan.service._context
    stored = StoredPageFacts(ctx.objects, ctx.curated, run_id)
    as_of = stored.index.as_of
    folder = f"previews/{run_id}/pages" if which == "preview" else f"pages/{run_id}"
    name = "PREVIEW-{}.html" if which == "preview" else "{}.html"  # a file's name, as a run writes it
    service = ExplainService(
        gaps=ctx.gaps,
        ledger=ctx.ledger,
        runs=_registry_as_counted(pages_plan, run_id),
        programs=ctx.programs,
        now=lambda: datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC),
    )
    linked = compared = 0
    for clinic_id in sorted(ctx.gaps.clinics()):
        key = f"{folder}/clinic/{name.format(clinic_id)}"
        # WHEN the clinic page's registry is read
        page = _parsed(pages_plan, key)
        rows = stored.clinic(clinic_id).rows
        # THEN each of its rows has one link, to its member's action on a page of the run that has it
        assert page.rows == len(rows) and len(page.why) == len(rows), clinic_id
        explained: dict[str, _Page] = {}
        for row, href in zip(rows, page.why, strict=True):
            target, anchor = _target(key, href)
            assert re.fullmatch(rf"{folder}/explain/{clinic_id}/{name.format(r'[0-9]+')}", target), href
            if target not in explained:
                explained[target] = _parsed(pages_plan, target)
            assert anchor in explained[target].ids, (href, row.member_id, row.action)
            linked += 1
        # AND what it says of a few rows is what the explain service says of them (its Care Gap P4P part)
        for row, href in list(zip(rows, page.why, strict=True))[:COMPARED_PER_CLINIC]:
            target, anchor = _target(key, href)
            said = service.explain(clinic_id=clinic_id, member_id=row.member_id, action=row.action, year=2026)
            expected = explanation_text(said.model_copy(update={"annual": ()}))
            assert html.unescape(explained[target].sections[anchor]) == expected, (row.member_id, row.action)
            compared += 1
        # AND the explanation page links back to the registry
        for target in explained:
            back = [h for h in _hrefs(page_text(pages_plan, target)) if h.endswith("#registry")]
            assert back and _target(target, back[0])[0] == key
    assert linked > 0 and compared > 0


def test_an_explanation_shows_what_was_paid_and_the_rule_that_stopped_a_step(pages_plan: PagesPlan) -> None:
    # GIVEN the year's explanation pages
    prefix = f"pages/{pages_plan.annual_id}/explain/"
    texts = [
        t for k in pages_plan.store.keys(REPORTS, prefix) for t in _parsed(pages_plan, k).sections.values()
    ]
    # THEN some row was paid a step (by a run, on evidence, under a version) and some step was stopped
    assert any(": PAID  (version care_gap-" in t and "paid " in t and " by run monthly-" in t for t in texts)
    assert any("stopped by: " in t for t in texts)


def _hrefs(body: str) -> list[str]:
    found: list[str] = []

    class _Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                found.append(dict(attrs).get("href") or "")

    _Links().feed(body)
    return found


def test_a_long_registry_is_explained_over_pages_that_its_links_find(
    pages_plan: PagesPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN explanation pages of 7 sections, and the pages written to a folder outside any run
    monkeypatch.setattr(pages, "EXPLANATIONS_PER_PAGE", 7)
    service = PageService(context=pages_plan.service._context, reports_bucket=REPORTS, log=pages_plan.log)
    folder = tmp_path / "pages"
    service.write_to(folder, AS_OF)
    for clinic_page in sorted((folder / "clinic").glob("*.html")):
        page = _Page()
        page.feed(clinic_page.read_text())
        explained = sorted((folder / "explain" / clinic_page.stem).glob("*.html"), key=lambda p: int(p.stem))
        # WHEN each row's link is followed from the clinic page on disk
        for href in page.why:
            link = urlsplit(href)
            target = (clinic_page.parent / unquote(link.path)).resolve()
            section = _Page()
            section.feed(target.read_text())
            # THEN it opens the page holding the row's section
            assert unquote(link.fragment) in section.sections, href
        # AND the clinic's pages hold each row's section once, at most 7 a page, each linking to the next
        assert len(explained) == -(-len(set(page.why)) // 7), clinic_page
        for number, path in enumerate(explained, start=1):
            links = [h for h in _hrefs(path.read_text()) if not h.endswith("#registry")]
            assert links == [f"{n}.html" for n in (number - 1, number + 1) if 1 <= n <= len(explained)], path
