"""`p4p attribution build --month YYYY-MM` (the month's APC attribution table from a stack's curated claims
and eligibility and its gap state's providers and clinics) and `p4p attribution explain MEMBER --month
YYYY-MM` (why that member-month is where it is). The local runtime by default, `--stack` for a deployed one.

The table is member data: `build` prints counts only; `explain` prints the one member's row to the operator
who asked; errors name the problem, never a member's value (`docs/apc.md`)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import typer

from cli.stack import StackNotFoundError, StackRef, resolve_stack
from shared.dal.gap_state import DynamoGapStateRepository
from shared.dal.objects import S3ObjectStore
from shared.errors import DomainError
from shared.logic.member_buckets import MEMBER_BUCKETS
from shared.models.apc import Attribution, AttributionExplanation, AttributionRule, PracticeTally
from shared.observability import logger
from shared.services.attribution import AttributionService
from shared.services.wiring import stored_programs

EXIT_USAGE = 2
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
attribution_app = typer.Typer(
    help="APC attribution: build a month's member-month table; explain one member-month.",
    no_args_is_help=True,
)


def attribution_service(stack: StackRef) -> AttributionService:
    """The attribution job on a stack: its curated bucket (claims, eligibility, program versions, the
    table), its GapState table (providers, clinics) and its member-bucket count (a stack deployed before the
    count was an output has the default)."""
    store = S3ObjectStore(stack.client("s3"))
    curated = stack.output("CuratedBucketName")
    return AttributionService(
        store=store,
        curated_bucket=curated,
        gaps=DynamoGapStateRepository(stack.client("dynamodb"), stack.output("GapsTableName")),
        apc=stored_programs(store, curated).apc,
        member_buckets=int(stack.outputs.get("MemberBuckets", MEMBER_BUCKETS)),
    )


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=EXIT_USAGE)


def _service(stack: str | None, month: str) -> AttributionService:
    if not _MONTH.match(month):
        _fail("--month must be a month, YYYY-MM")
    try:
        return attribution_service(resolve_stack(stack))
    except StackNotFoundError as error:
        _fail(str(error))
        raise


@contextmanager
def _logs_to_stderr() -> Iterator[None]:
    # The service's log line (counts only) goes to stderr: stdout is the command's answer alone.
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    original = handler.setStream(sys.stderr)
    try:
        yield
    finally:
        if original is not None:
            handler.setStream(original)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _dollars(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _tally(t: PracticeTally) -> str:
    last = t.last_visit.isoformat()
    return f"{t.key}: {_count(t.visits, 'visit')}, last {last}, allowed {_dollars(t.allowed_amount)}"


def _claims_why(x: AttributionExplanation) -> str:
    """Why claims decide (or would have): the product, the PCP and its roster."""
    if x.product is None:
        return "the roster names no product, so claims decide"
    if not x.prefers_pcp:
        return f"product {x.product} is attributed by claims only"
    if x.pcp_npi is None:
        return f"product {x.product} prefers the selected or matched PCP; the roster names none"
    return (
        f"product {x.product} prefers the selected or matched PCP; PCP {x.pcp_npi} is on no participating "
        "practice's roster on the month's last day, so claims decide"
    )


def _answer(a: Attribution) -> str:
    if a.rule is AttributionRule.UNATTRIBUTED:
        return "unattributed"
    return f"practice {a.practice_id}, provider {a.provider_npi}, by {a.rule.value}"


def render_explanation(x: AttributionExplanation) -> str:
    """Why a member-month is where it is, for people."""
    a, w = x.recorded, x.workings
    out = [f"Member {x.member_id}, {a.month}: {_answer(a)}"]
    if a.rule is AttributionRule.SELECTED_PCP:
        out.append(
            f"  product {x.product} prefers the PCP the member selected or the plan matched; PCP "
            f"{x.pcp_npi} is on practice {a.practice_id}'s roster, so claims are not read"
        )
    else:
        out.append(f"  {_claims_why(x)}")
        out.append(
            f"  lookback {w.lookback_first.isoformat()} to {w.lookback_last.isoformat()}: "
            f"{_count(w.lines_in_lookback, 'claim line')}, {_count(len(w.visits), 'primary-care visit')} "
            "(a provider on a day)"
        )
    if a.rule is AttributionRule.CLAIMS:
        assert a.last_visit is not None
        out.append(
            f"  visits counted: {a.visits_counted}, last visit {a.last_visit.isoformat()}, "
            f"allowed {_dollars(a.allowed_amount)} (most visits wins, then the latest, then the most dollars)"
        )
        out.append(f"  runner-up: {_tally(a.runner_up) if a.runner_up else 'none'}")
        out.append("  practices:")
        out += [f"    {_tally(t)}" for t in w.practices]
        out.append(f"  providers of {a.practice_id} (chosen the same way):")
        out += [f"    {_tally(t)}" for t in w.providers]
    elif a.rule is AttributionRule.UNATTRIBUTED:
        out.append("  no primary-care visit at a participating practice in the lookback")
    if a.rule is not AttributionRule.SELECTED_PCP:
        if w.visits:
            out.append("  visits:")
            out += [
                f"    {v.date.isoformat()}  {v.practice_id}  {v.provider_npi}  {_count(v.lines, 'line')}  "
                f"{_dollars(v.allowed_amount)}"
                for v in w.visits
            ]
        for reason, lines in sorted(w.not_counted.items()):
            out.append(f"  not counted: {_count(lines, 'line')}, {reason}")
    if x.current != a:
        out.append(
            f"  note: the files on hand now give {_answer(x.current)}; rebuild the month to record it "
            f"(p4p attribution build --month {a.month})"
        )
    return "\n".join(out) + "\n"


@attribution_app.command("build")
def build_command(
    month: str = typer.Option(..., "--month", help="The month to attribute, YYYY-MM."),
    stack: str | None = typer.Option(None, "--stack", help="A deployed stack; default the local runtime."),
) -> None:
    """Attribute every member enrolled in the month and write the table to the curated bucket."""
    service = _service(stack, month)
    try:
        with _logs_to_stderr():
            summary = service.build(month)
    except DomainError as error:
        _fail(str(error))
        raise
    typer.echo(
        f"attribution {summary.month}: {summary.members} members ({summary.selected_pcp} selected_pcp, "
        f"{summary.claims} claims, {summary.unattributed} unattributed) at {summary.practices} practices, "
        f"from {summary.claim_lines} claim lines read; written to {summary.key} in {summary.parts} parts by "
        "member bucket"
    )


@attribution_app.command("explain")
def explain_command(
    member: str = typer.Argument(..., help="The member id."),
    month: str = typer.Option(..., "--month", help="The month, YYYY-MM."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
    stack: str | None = typer.Option(None, "--stack", help="A deployed stack; default the local runtime."),
) -> None:
    """Why the member's month is attributed where it is: rule, practice, provider, visits, runner-up."""
    service = _service(stack, month)
    try:
        with _logs_to_stderr():
            explanation = service.explain(member, month)
    except DomainError as error:
        _fail(str(error))
        raise
    typer.echo(
        explanation.model_dump_json(indent=2) if as_json else render_explanation(explanation), nl=as_json
    )


def register(app: typer.Typer) -> None:
    """Add the `attribution` command group to the `p4p` app."""
    app.add_typer(attribution_app, name="attribution")
