"""APC Element 1, direct services: whether a claim line is capitated or paid fee-for-service under the
practice's track with the plan (the seed's tables 1 and 2; docs/apc.md).

A line is capitated when a capitated row of the track covers its code and no fee-for-service exception
of the track lists it. Exceptions apply across the track's rows, not only to the row that lists them: in
track C a home visit (99341) is in "Other E&M", which pays it fee-for-service, and also in the medicine
range 90757-99756, which lists no home visits; the table means home visits are fee-for-service.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.models.members import ApcPaymentTrack
from shared.programs.apc import DirectServices


class ServiceClassification(BaseModel):
    """A claim line's payment under the track: `capitated`, the capitated row covering its code (if any),
    and the fee-for-service exception or table entry that lists it (if any)."""

    model_config = ConfigDict(frozen=True)

    track: ApcPaymentTrack
    capitated: bool
    row: str | None
    fee_for_service: str | None


def classify_service(
    direct_services: DirectServices, track: ApcPaymentTrack, hcpcs_code: str
) -> ServiceClassification:
    """How a line with `hcpcs_code` is paid on `track`. A practice with no APC track (`none`) or on FFS+
    is paid fee-for-service for everything; a track the program does not define is a `LookupError`."""
    if track is ApcPaymentTrack.NONE:
        return ServiceClassification(track=track, capitated=False, row=None, fee_for_service=None)
    rules = direct_services.track(track)
    if rules is None:
        raise LookupError(f"the program defines no direct-services track {track.value}")
    code = hcpcs_code.strip().upper()
    row = next((r.name for r in rules.capitated if code in r.codes), None)
    exception = next((e.name for e in rules.exceptions() if code in e), None)
    return ServiceClassification(
        track=track, capitated=row is not None and exception is None, row=row, fee_for_service=exception
    )
