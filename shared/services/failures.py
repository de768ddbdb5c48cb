"""Why a step failed, in words an operator can act on and that are safe to keep.

A run's step either raises a domain error (its message names runs, files, fields: `shared/errors.py`) or
something unexpected, which the handlers report by type only (`UnexpectedStepError`). MarkFailed gets the
Catch's `{"Error", "Cause"}` (the Cause is Lambda's JSON with `errorMessage` and a stack trace) and keeps
the error's name and, for domain errors and the platform's own errors, its message; never a stack trace,
never a foreign exception's message, which could quote a member's data.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from shared.errors import DomainError, domain_error_names

MESSAGE_LIMIT = 1000
# Errors Step Functions and Lambda raise themselves; their causes are the services' own words.
_PLATFORM_PREFIXES = ("States.", "Lambda.", "Sandbox.", "Runtime.")


class UnexpectedStepError(DomainError):
    """A step raised something that is not a domain error; only its type and the step are reported."""


class PayloadError(DomainError):
    """A step's payload did not have the contract's shape (the message names the fields)."""


def fields_of(error: ValidationError) -> str:
    """`field: reason; ...` for a pydantic error, without the values it was given."""
    parts = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(p) for p in problem["loc"]) or "(body)"
        reason = "not a field it accepts" if problem["type"] == "extra_forbidden" else problem["msg"]
        parts.append(f"`{where}`: {reason}")
    return "; ".join(parts)


def _message_of(cause: Any) -> str:
    if not isinstance(cause, str):
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage", ""))
    return cause


def failure_of(error: dict[str, Any] | None, step: str) -> tuple[str, str]:
    """The (error, message) a failed step is reported with."""
    if not error:
        return "Unknown", f"{step} failed without an error"
    name = str(error.get("Error") or "Unknown")[:200]
    if name in domain_error_names() or name.startswith(_PLATFORM_PREFIXES):
        message = _message_of(error.get("Cause")).strip() or f"{name} in {step}"
        return name, message[:MESSAGE_LIMIT]
    return name, f"unexpected {name} in {step}; the step's log has its trace"
