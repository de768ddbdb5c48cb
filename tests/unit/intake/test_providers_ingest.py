"""A providers file through the ingest service: its affiliations are reference data in the gap state, as
clinics are, read as of a day; a later file ends an affiliation by its key."""

from __future__ import annotations

from datetime import date

from shared.models.files import FileKind
from tests.unit.intake.factories import csv_bytes, rows
from tests.unit.intake.service_fakes import Plan

PRV = FileKind.PROVIDERS
PCP = "1234567893"
PSYCHOLOGIST = "1245319599"


def test_a_providers_file_is_applied_as_affiliations_read_as_of_a_day() -> None:
    # GIVEN a deployment, a roster of two providers at CL001 (one rejected for its check digit), and a later
    # file that ends the PCP's affiliation on 30 June and opens one at CL002 the next day
    plan = Plan()
    first = [
        *rows(PRV, 1, npi=PCP, practice_id="CL001"),
        *rows(
            PRV,
            1,
            npi=PSYCHOLOGIST,
            practice_id="CL001",
            taxonomy_code="103T00000X",
            specialty="Psychologist",
            primary_care="false",
            payer_id="health_net",
        ),
        *rows(PRV, 1, npi="1234567890", practice_id="CL001"),
    ]
    later = [
        *rows(PRV, 1, npi=PCP, practice_id="CL001", termination_date="2026-06-30"),
        *rows(PRV, 1, npi=PCP, practice_id="CL002", effective_date="2026-07-01"),
    ]
    # WHEN both files are ingested
    applied = plan.drop("landing/providers/roster-1.csv", csv_bytes(PRV, first))
    plan.drop("landing/providers/roster-2.csv", csv_bytes(PRV, later))
    june, july = plan.gaps.providers_on(date(2026, 6, 30)), plan.gaps.providers_on(date(2026, 7, 1))
    # THEN the valid rows are affiliations typed as the model types them, each day sees those then in force
    assert (applied.status, applied.accepted, applied.rejected) == ("ACCEPTED", 2, 1)
    assert {npi: (a.practice_id, a.primary_care) for npi, a in june.items()} == {
        PCP: ("CL001", True),
        PSYCHOLOGIST: ("CL001", False),
    }
    assert july[PCP].practice_id == "CL002" and july[PCP].effective_date == date(2026, 7, 1)
    psychologist = june[PSYCHOLOGIST]
    assert (psychologist.taxonomy_code, psychologist.specialty, psychologist.payer_id) == (
        "103T00000X",
        "Psychologist",
        "health_net",
    )
    assert len(plan.gaps.providers()) == 3
