"""What a clinic's page shows of its members, counted by EarnShard while it holds them (`docs/pages.md`).

A run's pages used to read every member again in RenderStatements, one function for the whole plan: a
second full read of the gap state per run, and at plan scale more than one function's 15 minutes. Now each
shard counts, for every clinic it holds members of, what the page needs of them: the registry rows, the
open and closed gaps, the chart requests, the annual counters of the projection, and each row's explanation
(what `p4p explain` prints of Care Gap P4P for the member's action, `RowExplainer`). RenderStatements
merges a clinic's parts (a few per clinic: PlanShards orders members clinic by clinic) and only ranks,
scores and renders. The parts are working files of the run in the curated bucket (they name members), as
the shard results are.

`runs/<run_id>/pages.json` (PlanShards) says the day the pages stand on and which shards hold each
clinic's members; `runs/<run_id>/pages/<clinic>/<shard>.json` is one part, written before the shard's
result (so a shard that has a result has its parts). RenderStatements reads no member: a run without its
parts (planned by a version before this one) fails with a domain error naming it, and started again it
plans and earns its shards again (nothing is recorded twice) with their parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.dal.objects import ObjectStore
from shared.errors import DomainError
from shared.logic.explain import PlainExplanations
from shared.logic.keys import key_segment
from shared.models.gaps import GapStatus
from shared.models.members import Clinic, MemberFacts
from shared.models.runs import ShardOutput
from shared.models.tables import Prefix
from shared.render.explain_text import explanation_text
from shared.services.explain import explained_runs, gap_explanations
from shared.services.kinds.base import RunContext
from shared.services.projection import Projector
from shared.services.registry import (
    ChartRequest,
    RegistryRow,
    chart_order,
    ranked_rows,
    registry_order,
    unconfirmed_completions,
)
from shared.services.shard_memo import ShardMemo


class RowExplanation(BaseModel):
    """What `p4p explain` prints of Care Gap P4P for one member's action (`explanation_text`): what the
    clinic page's registry rows of that member and action link to."""

    model_config = ConfigDict(frozen=True)

    member_id: str
    action: str
    text: str


class PageFactsMissingError(DomainError):
    """A run's shards did not count its pages (planned before they did): start the run again."""


class ClinicPageFacts(BaseModel):
    """One clinic's page facts over some of its members (a shard's part), or over all of them (merged)."""

    model_config = ConfigDict(frozen=True)

    clinic_id: str
    members: int = Field(default=0, ge=0)
    open: int = Field(default=0, ge=0)
    closed: int = Field(default=0, ge=0)
    rows: tuple[RegistryRow, ...] = ()
    chart_requests: tuple[ChartRequest, ...] = ()
    counts: tuple[ShardOutput, ...] = ()
    """The projection's annual counters, one per part (Projector.count)."""
    explanations: tuple[RowExplanation, ...] = ()
    """One per (member, action) of `rows`, by member and action."""


class PageIndex(BaseModel):
    """Body of `runs/<run_id>/pages.json`: the pages' day and the shards holding each clinic's members."""

    model_config = ConfigDict(frozen=True)

    as_of: date
    shards: dict[str, tuple[str, ...]]


def page_index_key(run_id: str) -> str:
    return f"{Prefix.RUNS}{run_id}/pages.json"


def page_facts_key(run_id: str, clinic_id: str, shard_id: str) -> str:
    return f"{Prefix.RUNS}{run_id}/pages/{key_segment(clinic_id)}/{shard_id}.json"


class RowExplainer:
    """Explains registry rows as `p4p explain` does (its Care Gap P4P part), for the pages of one day and
    program year: the final runs are read once; a member's ledger history is the shard's (`ShardMemo`) when
    it read it, else read here."""

    def __init__(self, ctx: RunContext, clinics: Mapping[str, Clinic], year: int) -> None:
        self._ctx = ctx
        self._clinics = clinics
        self._year = year
        self._runs = explained_runs(ctx.runs)
        self._plain: PlainExplanations = {}

    def explain(
        self, clinic_id: str, rows: Sequence[RegistryRow], members: Mapping[str, MemberFacts], as_of: date
    ) -> tuple[RowExplanation, ...]:
        """One explanation per (member, action) of the rows."""
        actions: dict[str, dict[str, None]] = {}
        for row in rows:
            actions.setdefault(row.member_id, {})[row.action] = None
        memo = self._ctx.memo
        found = []
        for member_id, codes in actions.items():
            held = memo.history(member_id) if memo is not None else None
            history = held if held is not None else self._ctx.ledger.member_entries(member_id)
            for x in gap_explanations(
                members[member_id],
                clinic_id=clinic_id,
                actions=list(codes),
                year=self._year,
                clinics=self._clinics,
                catalog=self._ctx.catalog,
                history=history,
                runs=self._runs,
                as_of=as_of,
                plain=self._plain,
            ):
                found.append(RowExplanation(member_id=member_id, action=x.action, text=explanation_text(x)))
        return tuple(sorted(found, key=_explanation_order))


def _explanation_order(x: RowExplanation) -> tuple[str, str]:
    return (x.member_id, x.action)


def clinic_page_facts(
    ctx: RunContext,
    clinic: Clinic,
    members: Sequence[MemberFacts],
    as_of: date,
    projector: Projector,
    chart_days: int,
    explainer: RowExplainer,
) -> ClinicPageFacts:
    """The page facts of these members of `clinic`, as known on `as_of`, each registry row explained."""
    program = ctx.catalog.find(as_of)
    rows: list[RegistryRow] = []
    requests: list[ChartRequest] = []
    explanations: tuple[RowExplanation, ...] = ()
    open_gaps = closed = 0
    if program is not None and clinic.in_care_gap_on(as_of):
        memo = ctx.memo if ctx.memo is not None else ShardMemo()
        views = [memo.view(f) for f in members]
        # The monthly kind settled these members on this day: their gaps are the memo's (same question).
        gaps = [g for f in members for g in memo.gaps(f, program, as_of=as_of, track=clinic.track)]
        rows = ranked_rows(clinic, program, gaps, as_of)
        open_gaps = sum(1 for g in gaps if g.status is GapStatus.OPEN)
        closed = sum(1 for g in gaps if g.status is GapStatus.CLOSED)
        requests = unconfirmed_completions(clinic.clinic_id, program, views, as_of, chart_days)
        by_id = {f.profile.member_id: f for f in members}
        explanations = explainer.explain(clinic.clinic_id, rows, by_id, as_of)
    counts = projector.count(clinic.clinic_id, members, as_of)
    return ClinicPageFacts(
        clinic_id=clinic.clinic_id,
        members=len(members),
        open=open_gaps,
        closed=closed,
        rows=tuple(rows),
        chart_requests=tuple(requests),
        counts=(counts,) if counts is not None else (),
        explanations=explanations,
    )


def merge_page_facts(clinic_id: str, parts: Sequence[ClinicPageFacts]) -> ClinicPageFacts:
    """A clinic's parts as one: counts added, rows and chart requests in the registry's order."""
    return ClinicPageFacts(
        clinic_id=clinic_id,
        members=sum(p.members for p in parts),
        open=sum(p.open for p in parts),
        closed=sum(p.closed for p in parts),
        rows=tuple(sorted((r for p in parts for r in p.rows), key=registry_order)),
        chart_requests=tuple(sorted((r for p in parts for r in p.chart_requests), key=chart_order)),
        counts=tuple(c for p in parts for c in p.counts),
        explanations=tuple(sorted((x for p in parts for x in p.explanations), key=_explanation_order)),
    )


def write_shard_page_facts(
    ctx: RunContext,
    run_id: str,
    shard_id: str,
    clinic_members: Mapping[str, Sequence[str]],
    members: Sequence[MemberFacts],
    as_of: date,
    year: int,
    chart_days: int,
) -> int:
    """EarnShard's part of the pages (the projection of program year `year`): one file per clinic the shard
    holds members of; returns how many."""
    clinics = ctx.gaps.clinics()
    by_id = {f.profile.member_id: f for f in members}
    projector = Projector(ctx, year, clinics)
    explainer = RowExplainer(ctx, clinics, year)
    written = 0
    for clinic_id, ids in sorted(clinic_members.items()):
        clinic = clinics.get(clinic_id)
        if clinic is None:
            continue
        mine = [by_id[m] for m in ids if m in by_id]
        facts = clinic_page_facts(ctx, clinic, mine, as_of, projector, chart_days, explainer)
        ctx.objects.put_json(
            ctx.curated, page_facts_key(run_id, clinic_id, shard_id), facts.model_dump(mode="json")
        )
        written += 1
    return written


class StoredPageFacts:
    """A run's page facts as its shards wrote them, merged per clinic."""

    def __init__(self, objects: ObjectStore, bucket: str, run_id: str) -> None:
        self._objects = objects
        self._bucket = bucket
        self._run_id = run_id
        key = page_index_key(run_id)
        body = objects.get_json(bucket, key) if key in objects.keys(bucket, key) else None
        if body is None:
            raise PageFactsMissingError(
                f"run {run_id} was planned before its shards counted its pages: start it again"
            )
        self.index = PageIndex.model_validate(body)

    def clinic(self, clinic_id: str) -> ClinicPageFacts:
        """The clinic's parts merged (no part: a clinic without members)."""
        shards = self.index.shards.get(clinic_id, ())
        prefix = f"{Prefix.RUNS}{self._run_id}/pages/{key_segment(clinic_id)}/"
        present = set(self._objects.keys(self._bucket, prefix)) if shards else set()
        wanted = [page_facts_key(self._run_id, clinic_id, s) for s in shards]
        missing = [s for s, key in zip(shards, wanted, strict=True) if key not in present]
        if missing:
            raise PageFactsMissingError(
                f"shard(s) {', '.join(missing)} of run {self._run_id} have no page facts for clinic "
                f"{clinic_id}: start the run again"
            )
        parts = [ClinicPageFacts.model_validate(self._objects.get_json(self._bucket, k)) for k in wanted]
        merged = merge_page_facts(clinic_id, parts)
        explained = {(x.member_id, x.action) for x in merged.explanations}
        if any((r.member_id, r.action) not in explained for r in merged.rows):
            raise PageFactsMissingError(
                f"run {self._run_id}'s shards did not explain every registry row of clinic {clinic_id}: "
                "start the run again"
            )
        return merged
