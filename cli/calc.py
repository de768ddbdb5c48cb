"""`p4p calc benchmark FILE.json` and `p4p calc guarantee FILE.json` (the annual calculators), and the APC
model's `apc-incentive`, `phm` and `attribution`: each on one JSON file, printing JSON. Bad input is one
line on stderr naming the key and what is wrong, exit code 2. The APC calculators score with the latest
packaged APC version (`shared/programs/data/apc/`)."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from shared.logic.apc_incentive import IncentiveInputError, apc_incentive
from shared.logic.attribution import Attributor
from shared.logic.benchmark import benchmark_payout, format_composite
from shared.logic.guarantee import earnings_guarantee
from shared.logic.money import format_cents
from shared.logic.phm import PhmInputError, population_health
from shared.models.apc import Attribution as AttributionResult
from shared.models.apc import (
    AttributionInput,
    AttributionMember,
    IncentiveInput,
    IncentiveResult,
    MeasureRates,
    PhmInput,
    PhmMember,
    PhmResult,
    Visit,
)
from shared.models.incentives import (
    BenchmarkInput,
    BenchmarkMeasure,
    BenchmarkResult,
    GuaranteeInput,
    GuaranteeResult,
)
from shared.programs.apc import load_apc

EXIT_BAD_INPUT = 2

calc_app = typer.Typer(
    help=(
        "The calculators: a Benchmark P4P payout, a Care Gap earnings guarantee, and the APC model's "
        "performance incentive, population-health payment and attribution."
    ),
    no_args_is_help=True,
)

_Input = TypeVar("_Input", bound=BaseModel)


class BadInputError(Exception):
    """The input file cannot be read as the calculator's JSON; the message is the one line shown."""


def register(app: typer.Typer) -> None:
    """Add the `calc` commands to the `p4p` app."""
    app.add_typer(calc_app, name="calc")


@calc_app.command("benchmark")
def benchmark_command(
    file: str = typer.Argument(
        ..., metavar="FILE.json", help="The clinic's line of business, or - for stdin."
    ),
) -> None:
    """One clinic's Benchmark P4P composite and payment for one line of business."""
    clinic = _read_or_exit(file, BenchmarkInput)
    typer.echo(json.dumps(benchmark_json(benchmark_payout(clinic)), indent=2))


@calc_app.command("guarantee")
def guarantee_command(
    file: str = typer.Argument(..., metavar="FILE.json", help="The clinic's year, or - for stdin."),
) -> None:
    """One clinic's Care Gap earnings guarantee: prorated Benchmark bonus and make-whole top-up."""
    clinic = _read_or_exit(file, GuaranteeInput)
    typer.echo(json.dumps(guarantee_json(earnings_guarantee(clinic)), indent=2))


@calc_app.command("apc-incentive")
def apc_incentive_command(
    file: str = typer.Argument(..., metavar="FILE.json", help="The practice's rates, or - for stdin."),
) -> None:
    """One practice's APC Element 3 performance incentive: categories, shares and cents per measure."""
    practice = _read_or_exit(file, IncentiveInput)
    try:
        result = apc_incentive(practice, load_apc().latest().incentive)
    except IncentiveInputError as exc:
        _fail(f"{_source(file)}: {exc}")
    typer.echo(json.dumps(apc_incentive_json(result), indent=2))


@calc_app.command("phm")
def phm_command(
    file: str = typer.Argument(..., metavar="FILE.json", help="The practice's members, or - for stdin."),
) -> None:
    """A practice's APC Element 2 population-health payment per member-month."""
    practice = _read_or_exit(file, PhmInput)
    try:
        result = population_health(practice, load_apc().latest().risk_adjustment)
    except PhmInputError as exc:
        _fail(f"{_source(file)}: {exc}")
    typer.echo(json.dumps(phm_json(result), indent=2))


@calc_app.command("attribution")
def attribution_command(
    file: str = typer.Argument(..., metavar="FILE.json", help="One member and month, or - for stdin."),
) -> None:
    """Where one member's month is attributed under the APC common methodology, and by which rule."""
    case = _read_or_exit(file, AttributionInput)
    attributor = Attributor(load_apc().latest().attribution, case.providers)
    typer.echo(
        json.dumps(attribution_json(attributor.attribute(case.month, case.member, case.visits)), indent=2)
    )


def apc_incentive_json(result: IncentiveResult) -> dict[str, Any]:
    """The `calc apc-incentive` output: amounts with two places; `scale` and each `share` (of the maximum)
    exact within 6 places, else half up to 6; DSF-E's components under their names."""

    def scored(outcome: Any) -> dict[str, Any]:
        return {
            "category": outcome.category.value,
            "share": format_composite(outcome.share),
            "amount": format_cents(outcome.amount_cents),
        }

    return {
        "maximum": format_cents(result.maximum_cents),
        "valid_measures": result.valid_measures,
        "applicable_measures": result.applicable_measures,
        "scale": format_composite(result.scale),
        "measures": {
            code: scored(o) | {name: scored(c) for name, c in o.components.items()}
            for code, o in result.measures.items()
        },
        "total": format_cents(result.total_cents),
    }


def phm_json(result: PhmResult) -> dict[str, Any]:
    """The `calc phm` output: per member-month the age, factor, uplift (a fraction) and amount."""
    return {
        "member_months": [
            {
                "member_id": m.member_id,
                "month": m.month,
                "age": m.age,
                "factor": str(m.factor),
                "uplift": str(m.uplift),
                "amount": format_cents(m.amount_cents),
            }
            for m in result.member_months
        ],
        "total": format_cents(result.total_cents),
    }


def attribution_json(result: AttributionResult) -> dict[str, Any]:
    """The `calc attribution` output: practice, provider, rule, visits counted and the last visit."""
    return {
        "practice_id": result.practice_id,
        "provider_npi": result.provider_npi,
        "rule": result.rule.value,
        "visits_counted": result.visits_counted,
        "last_visit": None if result.last_visit is None else result.last_visit.isoformat(),
    }


def benchmark_json(result: BenchmarkResult) -> dict[str, Any]:
    """The `calc benchmark` output: amounts as decimal strings, the composite also as an exact fraction."""
    return {
        "line_of_business": result.line_of_business.value,
        "eligible": result.eligible,
        "reason": result.reason,
        "assigned_members": result.assigned_members,
        "measures": {
            code: {
                "counted": o.counted,
                "met_by": None if o.met_by is None else o.met_by.value,
                "reason": o.reason,
            }
            for code, o in result.measures.items()
        },
        "composite": format_composite(result.composite),
        "composite_fraction": str(result.composite),
        "payment": format_cents(result.payment_cents),
    }


def guarantee_json(result: GuaranteeResult) -> dict[str, Any]:
    """The `calc guarantee` output: days as integers, amounts as decimal strings with two places."""
    return {
        "year": result.year,
        "enrollment_date": result.enrollment_date.isoformat(),
        "days": result.days,
        "days_before": result.days_before,
        "days_on_care_gap": result.days_on_care_gap,
        "benchmark_full_year": format_cents(result.benchmark_full_year_cents),
        "care_gap_earnings": format_cents(result.care_gap_earnings_cents),
        "prorated_benchmark": format_cents(result.prorated_benchmark_cents),
        "equivalent_benchmark": format_cents(result.equivalent_benchmark_cents),
        "make_whole": format_cents(result.make_whole_cents),
        "guarantee_total": format_cents(result.guarantee_total_cents),
    }


def read_input(text: str, model: type[_Input]) -> _Input:
    """Parse a calculator's JSON into its model, or raise `BadInputError` with one line saying why."""
    try:
        parsed = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(parsed, dict):
        raise BadInputError(f"the file must hold one JSON object, not {type(parsed).__name__}")
    try:
        # Validated from the JSON text, not the parsed objects, so dates are read as ISO strings.
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise BadInputError("; ".join(_describe(e, model) for e in exc.errors())) from None


def _read_or_exit(file: str, model: type[_Input]) -> _Input:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}")
    try:
        return read_input(text, model)
    except BadInputError as exc:
        _fail(f"{_source(file)}: {exc}")


def _source(file: str) -> str:
    return "stdin" if file == "-" else file


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=EXIT_BAD_INPUT)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            # Most JSON readers keep the last value silently; a calculator input must say one thing.
            raise BadInputError(f"key '{key}' appears twice in one object")
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> NoReturn:
    raise BadInputError(f"{name} is not a number a calculator can use")


def _describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    loc = [str(part) for part in error["loc"]]
    kind, given = error["type"], _show(error.get("input"))
    ctx = error.get("ctx", {})
    if kind in ("missing", "extra_forbidden"):
        where = _where(loc[:-1])
        if kind == "missing":
            return f"{where}: missing key '{loc[-1]}'"
        return f"{where}: unknown key '{loc[-1]}'{_did_you_mean(loc, model)}"
    if loc[-1] == "[key]":
        # A dict key failed (an empty measure code): name the key, not pydantic's "[key]" marker.
        reason = str(ctx.get("error")) if kind == "value_error" else error["msg"].lower()
        return f"{_where(loc[:-2])}: key {json.dumps(loc[-2])}: {reason}"
    where = _where(loc)
    messages = {
        "value_error": str(ctx.get("error", "")),
        "decimal_parsing": f"{given} is not a decimal",
        "decimal_type": f"{given} is not a decimal: write it as a decimal string or a whole number",
        "finite_number": f"{given} is not a finite decimal",
        "decimal_max_places": (
            f"{given} has more than {ctx.get('decimal_places')} decimal places (whole cents)"
        ),
        "decimal_max_digits": f"{given} has more than {ctx.get('max_digits')} digits",
        "greater_than_equal": (
            f"must not be negative (got {given})"
            if str(ctx.get("ge")) == "0"
            else f"must be at least {ctx.get('ge')} (got {given})"
        ),
        "greater_than": f"must be more than {ctx.get('gt')} (got {given})",
        "less_than_equal": f"must be at most {ctx.get('le')} (got {given})",
        "less_than": f"must be less than {ctx.get('lt')} (got {given})",
        "int_type": f"must be a whole number (got {given})",
        "int_parsing": f"must be a whole number (got {given})",
        "int_from_float": f"must be a whole number (got {given})",
        "bool_type": f"must be true or false (got {given})",
        "date_type": f"must be an ISO date, YYYY-MM-DD (got {given})",
        "date_parsing": f"must be an ISO date, YYYY-MM-DD (got {given}: {ctx.get('error', 'not a date')})",
        "date_from_datetime_parsing": f"must be an ISO date, YYYY-MM-DD (got {given})",
        "date_from_datetime_inexact": f"must be an ISO date, YYYY-MM-DD (got {given})",
        "enum": f"must be one of {ctx.get('expected')} (got {given})",
        "dict_type": f"must be a JSON object (got {given})",
        "model_type": f"must be a JSON object (got {given})",
        "model_attributes_type": f"must be a JSON object (got {given})",
        "string_type": f"must be a string (got {given})",
        "string_too_short": "must not be empty",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
    }
    return f"{where}: {messages.get(kind, error['msg'])}"


def _did_you_mean(loc: list[str], model: type[BaseModel]) -> str:
    # The parent of an unknown key is the top-level object or one measure.
    fields = model.model_fields if len(loc) == 1 else _nested_fields(model, loc[0])
    close = difflib.get_close_matches(loc[-1], list(fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_NESTED: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (BenchmarkInput, "measures"): BenchmarkMeasure,
    (IncentiveInput, "measures"): MeasureRates,
    (PhmInput, "members"): PhmMember,
    (AttributionInput, "member"): AttributionMember,
    (AttributionInput, "visits"): Visit,
}


def _nested_fields(model: type[BaseModel], field: str) -> dict[str, Any]:
    nested = _NESTED.get((model, field))
    return dict(nested.model_fields) if nested is not None else {}


def _where(loc: list[str]) -> str:
    return ".".join(part or '""' for part in loc) or "the file"


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
