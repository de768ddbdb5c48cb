"""The engine's domain errors: refusals and failures whose messages are written for an operator.

A domain error's message names runs, files, fields and reasons, never a member's data, so it may travel:
into a failed execution's `cause`, the run record's last failure, the CLI's one-line error. Any other
exception is reported by its type alone (`shared/services/failures.py`).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error whose message is safe to show an operator and to store on a run record."""


def domain_error_names() -> frozenset[str]:
    """The class names of every domain error defined so far (subclasses of subclasses included)."""
    names: set[str] = set()
    pending: list[type[BaseException]] = [DomainError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(names)
