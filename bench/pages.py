"""The largest clinic page: its weight and render time at 5,000 members (1,000 with --quick).

One clinic holds every member of a generated plan (every file kind, ingested through `IngestService` into
the in-memory fakes) and the year's December run is made final, so the page has a registry, chart
requests, a year of payouts, a projection (Benchmark as the guarantee's measure, APC Element 3) and a
payer table. Timed: `PageService` from its first read of the gap state to the clinic page's bytes (its
members read, gaps, chart requests, projection and every registry row's explanation computed, the template
rendered), then the clinic's explanation pages on their own; reads are the in-memory fakes', not DynamoDB's.
"""

from __future__ import annotations

import shutil
from datetime import date

from bench.registry import BenchContext, Figure, benchmark, measure
from bench.runs import LANDING, PLAN_KINDS, REPORTS, memory_plan, run_month
from cli.generate import generate_plan
from shared.dal.memory import MemoryClaimVersionRepository
from shared.services.ingest import IngestService
from shared.services.pages import PageService

AS_OF = date(2026, 12, 31)


@benchmark("pages", order=75)
def pages(ctx: BenchContext) -> list[Figure]:
    members = ctx.size(5_000, 1_000)
    plan = memory_plan()
    out_dir = ctx.data_dir / f"pages_plan_{members}"
    shutil.rmtree(out_dir, ignore_errors=True)
    try:
        generated = generate_plan(out_dir, members=members, clinics=1, seed=7, kinds=set(PLAN_KINDS))
        ingest = IngestService(
            store=plan.store,
            files=plan.files,
            gaps=plan.gaps,
            catalog=plan.catalog,
            curated_bucket="curated",
            reports_bucket=REPORTS,
            versions=MemoryClaimVersionRepository(plan.gaps),
        )
        for kind in PLAN_KINDS:
            for path in generated.paths(kind):
                key = f"landing/{kind}/{path.name}"
                plan.store.put_bytes(LANDING, key, path.read_bytes())
                ingest.ingest(LANDING, key)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    run_month(plan.service, "2026-12")
    (clinic_id,) = plan.gaps.clinics()
    assigned = sum(1 for _ in plan.gaps.member_ids(clinic_id))
    service = PageService(context=plan.service._context, reports_bucket=REPORTS)
    pages = iter(service.pages(AS_OF))
    with measure() as timing:
        page = next(pages)
    # The clinic's explanation pages (their facts were counted with the clinic page's), each timed alone: the
    # page after the last of them is the plan's.
    explained, explain_cpu, explain_wall = [], 0.0, 0.0
    while True:
        with measure() as one:
            shown = next(pages)
        if not shown.name.startswith("explain/"):
            break
        explained.append(shown)
        explain_cpu, explain_wall = explain_cpu + one.cpu_seconds, explain_wall + one.wall_seconds
    rows = page.body.count(b"<tr>")
    sections = sum(p.body.count(b"<section ") for p in explained)
    largest = max((len(p.body) for p in explained), default=0)
    size = f"({assigned} members{', --quick' if ctx.quick else ''}, {rows} table rows)"
    what = f"{sections} explanations in {len(explained)} pages"
    return [
        Figure("clinic_page_bytes", len(page.body), f"bytes {size}"),
        # CPU seconds: the machine is shared, and wall time there says more about the neighbours.
        Figure(
            "clinic_page_render_seconds",
            round(timing.cpu_seconds, 2),
            f"CPU s, one core {size}, every registry row explained; wall {timing.wall_seconds:.1f} s",
        ),
        Figure(
            "explain_pages_bytes",
            sum(len(p.body) for p in explained),
            f"bytes ({what}, the largest {largest} bytes)",
        ),
        Figure(
            "explain_pages_render_seconds",
            round(explain_cpu, 2),
            f"CPU s, one core ({what}); wall {explain_wall:.1f} s",
        ),
    ]
