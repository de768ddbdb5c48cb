from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.logic.fhir_export import Naming
from shared.models.actions import LineOfBusiness, Track
from shared.models.members import Clinic

GENERATED = datetime(2027, 6, 15, 9, 30, tzinfo=UTC)
"""When the tests' exports are made (the annual run of 2026 is final from June 2027)."""
RUN_ID = "annual-2026-final"


def make_clinic(clinic_id: str = "K1", *, npi: str = "1234567893", tin: str = "941234567") -> Clinic:
    return Clinic(
        clinic_id=clinic_id,
        tin=tin,
        npi=npi,
        clinic_name=f"Clinic {clinic_id}",
        lines_of_business=(LineOfBusiness.MC, LineOfBusiness.CA),
        program="benchmark",
        program_enrollment_date=date(2020, 1, 1),
        track=Track.FAMILY_ADULT,
    )


@pytest.fixture
def naming() -> Naming:
    return Naming()
