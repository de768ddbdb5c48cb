"""A clinic's history across clinics files: each file says where the clinic is now; the history remembers
where it was (Benchmark until the day it joined Care Gap, and any later switch) and the APC track it is on
with each payer over time (a row naming a payer is that payer's contract with the practice)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import NamedTuple

from shared.models.members import Clinic, PayerTrack, ProgramEnrollment


class ClinicRow(NamedTuple):
    """One clinics row: the practice as it describes it, and the APC track it puts the practice on (with the
    row's payer; None: the practice's own track)."""

    clinic: Clinic
    track: PayerTrack


def merge_clinic_rows(known: Mapping[str, Clinic], rows: Iterable[ClinicRow]) -> list[Clinic]:
    """The clinics `rows` name, in first-named order, with what `known` holds of them carried on.

    A row without a payer is the practice's own (`merge_clinic`: its fields, program history and own track).
    A payer's row changes that payer's track only; its other fields describe the practice only when the
    deployment does not know it yet, and then the practice has no track of its own until its own row says
    one (a payer's contract speaks for that payer)."""
    touched: dict[str, Clinic] = {}
    for row in rows:
        clinic_id = row.clinic.clinic_id
        before = touched.get(clinic_id) or known.get(clinic_id)
        if row.track.payer_id is None:
            touched[clinic_id] = merge_clinic(before, row.clinic)
        elif before is None:
            touched[clinic_id] = row.clinic
        else:
            touched[clinic_id] = before.model_copy(
                update={"apc_tracks": with_track(before.apc_tracks, row.track)}
            )
    return list(touched.values())


def with_track(tracks: Iterable[PayerTrack], new: PayerTrack) -> tuple[PayerTrack, ...]:
    """`tracks` with `new` in force from its start for its payer: the payer's stretches that start on or
    after it are replaced (a row without a start date replaces the payer's whole history, as a single-track
    file always did); the others are kept. In (own first, payer, start) order."""
    kept = [t for t in tracks if t.payer_id != new.payer_id or t.start < new.start]
    before = [t for t in kept if t.payer_id == new.payer_id]
    if not before or max(before, key=lambda t: t.start).track is not new.track:
        kept.append(new)
    return tuple(sorted(kept, key=lambda t: (t.payer_id is not None, t.payer_id or "", t.start)))


def merge_clinic(known: Clinic | None, incoming: Clinic) -> Clinic:
    """`incoming` (a clinics row) with the history of `known` carried on.

    The same program again keeps the history (a corrected enrollment date moves the current stretch's
    start); another program closes the current stretch the day before the new one starts and opens it.
    Payee details, tracks and the APC fields are the incoming row's; its own APC track joins the tracks
    `known` has with each payer (`with_track`)."""
    if known is None:
        return incoming
    tracks = tuple(known.apc_tracks)
    for track in incoming.apc_tracks:
        tracks = with_track(tracks, track)
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
    return incoming.model_copy(update={"enrollments": tuple(history), "apc_tracks": tracks})


def _close_before(history: list[ProgramEnrollment], start: date) -> None:
    """End the stretch before the last one the day before the last one starts, dropping stretches the
    last one now covers whole."""
    last = history.pop()
    while history and history[-1].start >= last.start:
        history.pop()
    if history:
        history[-1] = history[-1].model_copy(update={"end": last.start - timedelta(1)})
    history.append(last)
