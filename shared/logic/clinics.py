"""A clinic's program history across clinics files: each file says where the clinic is now; the history
remembers where it was (Benchmark until the day it joined Care Gap, and any later switch)."""

from __future__ import annotations

from datetime import date, timedelta

from shared.models.members import Clinic, ProgramEnrollment


def merge_clinic(known: Clinic | None, incoming: Clinic) -> Clinic:
    """`incoming` (a clinics row) with the history of `known` carried on.

    The same program again keeps the history (a corrected enrollment date moves the current stretch's
    start); another program closes the current stretch the day before the new one starts and opens it.
    Payee details, tracks and the APC fields are the incoming row's."""
    if known is None:
        return incoming
    history = list(known.enrollments)
    current = history[-1]
    start = incoming.program_enrollment_date
    if incoming.program == current.program:
        if start != current.start:
            history[-1] = current.model_copy(update={"start": start})
            _close_before(history, start)
    elif start > current.start:
        history[-1] = current.model_copy(update={"end": start - timedelta(1)})
        history.append(ProgramEnrollment(program=incoming.program, start=start))
    else:
        # A switch dated on or before the current stretch began replaces that stretch.
        history[-1] = ProgramEnrollment(program=incoming.program, start=start)
        _close_before(history, start)
    return incoming.model_copy(update={"enrollments": tuple(history)})


def _close_before(history: list[ProgramEnrollment], start: date) -> None:
    """End the stretch before the last one the day before the last one starts, dropping stretches the
    last one now covers whole."""
    last = history.pop()
    while history and history[-1].start >= last.start:
        history.pop()
    if history:
        history[-1] = history[-1].model_copy(update={"end": last.start - timedelta(1)})
    history.append(last)
