import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.models.actions import Step, Track
from shared.programs.care_gap import (
    DATA_DIR,
    ProgramCatalog,
    ProgramNotFoundError,
    load_program,
    parse_program,
)

RAW = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text())


def test_program_2026_defines_bcs_e_as_the_seed_does():
    # GIVEN the shipped 2026 program
    program = load_program(date(2026, 3, 15))
    # WHEN BCS-E is looked up
    bcs = program.action("BCS-E")
    # THEN it is the 3-step mammography action for women 50-74 on CA, MC and HW, marked as example money
    assert bcs.steps == (Step.SCHEDULE, Step.PERFORM, Step.CLAIM)
    assert {lob.value for lob in bcs.lines_of_business} == {"CA", "MC", "HW"}
    assert (bcs.eligibility.bands[0].min_age, bcs.eligibility.bands[0].max_age) == (50, 74)
    assert {"77061", "77063", "77065", "77067", "G0202", "G0204", "G0206"} <= bcs.procedure_codes()
    assert "77064" not in bcs.procedure_codes()
    assert program.example is True


def test_no_program_in_force_outside_its_dates():
    # GIVEN the shipped catalog
    # WHEN a date before 2026 is asked for
    # THEN no version answers
    with pytest.raises(ProgramNotFoundError):
        load_program(date(2025, 12, 31))


def test_catalog_picks_the_version_in_force_on_the_date():
    # GIVEN two versions splitting the year, the second doubling the schedule SVUs
    first = parse_program(json.dumps(RAW | {"effective_to": "2026-06-30"}))
    later = json.loads(json.dumps(RAW))
    later |= {"version": "care_gap-2026.2", "effective_from": "2026-07-01"}
    later["rate_cards"][0]["svu"]["BCS-E"]["schedule"] = "99"
    catalog = ProgramCatalog((parse_program(json.dumps(later)), first))
    # WHEN each half of the year is asked for
    # THEN each date gets its own version and rate
    assert catalog.in_force(date(2026, 6, 30)).version == RAW["version"]
    assert catalog.in_force(date(2026, 7, 1)).svu(Track.FAMILY_ADULT, "BCS-E", Step.SCHEDULE) == Decimal(99)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda p: p["multipliers"][0].update(factor="2.5"),
        lambda p: p["rate_cards"][0]["svu"]["BCS-E"].pop("claim"),
        lambda p: p["actions"].append(p["actions"][0]),
        lambda p: p.update(svu_dollar_rate="0"),
        lambda p: p["actions"][0].update(steps=["schedule", "wave"]),
    ],
)
def test_invalid_program_files_are_refused_at_load(breakage):
    # GIVEN a program file broken in one way
    raw = json.loads(json.dumps(RAW))
    breakage(raw)
    # WHEN it is loaded
    # THEN validation refuses it
    with pytest.raises(ValidationError):
        parse_program(json.dumps(raw))


def test_multipliers_do_not_stack_and_bonus_needs_early_enrollment():
    # GIVEN two overlapping multipliers on BCS-E
    raw = json.loads(json.dumps(RAW))
    raw["multipliers"] = [
        {"name": "a", "action": "BCS-E", "start": "2026-04-01", "end": "2026-04-30", "factor": "1.5"},
        {
            "name": "b",
            "action": None,
            "clinic_ids": ["C9"],
            "start": "2026-04-01",
            "end": "2026-04-30",
            "factor": "2",
        },
    ]
    program = parse_program(json.dumps(raw))
    # WHEN multipliers and the bonus are asked for
    # THEN the largest applicable one wins, nothing outside its dates or clinics applies
    assert program.multiplier("BCS-E", "C9", date(2026, 4, 10)) == Decimal(2)
    assert program.multiplier("BCS-E", "C1", date(2026, 4, 10)) == Decimal("1.5")
    assert program.multiplier("BCS-E", "C1", date(2026, 5, 1)) == Decimal(1)
    bonus = program.early_adoption_bonus
    assert bonus is not None
    assert program.bonus_rate(bonus.adopted_by, date(2026, 12, 31)) == bonus.rate
    assert program.bonus_rate(date.fromordinal(bonus.adopted_by.toordinal() + 1), date(2026, 6, 1)) == 0
