"""The one Jinja2 environment: templates under `shared/render/templates/`, every value HTML-escaped unless a
template marks it safe, and an undefined name an error rather than an empty string."""

from __future__ import annotations

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
    return env


def render(template: str, **values: Any) -> bytes:
    """A template rendered with `values`, as UTF-8 bytes."""
    return environment().get_template(template).render(**values).encode("utf-8")
