"""The one Jinja2 environment: templates under `shared/render/templates/`, every value HTML-escaped unless a
template marks it safe, and an undefined name an error rather than an empty string."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from shared.logic.money import format_cents


@cache
def environment() -> Environment:
    """The environment, built once per process."""
    env = Environment(
        loader=PackageLoader("shared.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["dollars"] = format_cents
    env.filters["percent"] = percent
    return env


def percent(value: Fraction | Decimal | None) -> str:
    """A share or a rate for people, one place: a Fraction is a share of 1, a Decimal already a percent."""
    if value is None:
        return "n/a"
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) * 100 / Decimal(value.denominator)
    return f"{value.quantize(Decimal('0.1'))}%"


def render(template: str, **values: Any) -> bytes:
    """A template rendered with `values`, as UTF-8 bytes."""
    return environment().get_template(template).render(**values).encode("utf-8")
