"""The shipped program carries every action of the seed's menus, with the seed's steps and lines of business,
and program files are validated at load (also when they come as texts from the `programs/` prefix)."""

import json
import os
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.models.actions import Step, Track
from shared.programs.care_gap import DATA_DIR, load_catalog, parse_program
from shared.programs.catalog import load_programs
from shared.programs.menu import CodeSet, CodeSystem
from shared.programs.stored import ProgramFileError, programs_with_files

RAW = json.loads((DATA_DIR / "care_gap" / "care_gap_2026.json").read_text())
PROGRAM = load_catalog().in_force(date(2026, 6, 1))
PROGRAMS = load_programs()
SEED = Path(os.environ.get("P4P_SEEDS_DIR", Path(__file__).parents[4] / "shared" / "seeds"))
SEED_FILE = SEED / "care-gap-p4p-guidelines.txt"

VISIT = ("schedule", "perform", "claim")
TWO = ("perform", "claim")
THREE = ("schedule", "perform", "claim")
DOSE = ("initial_dose", "final_dose")
RX = ("prescribe", "dispense")
ALL = {"CA", "MC", "HW"}
# The seed's action menu tables, transcribed: code -> (SVU structure, lines of business, frequency).
SEED_MENU = {
    "W30-1": (VISIT, {"MC"}, "months_15"),
    "W30-2": (VISIT, {"MC"}, "months_15"),
    "WCV": (VISIT, {"MC"}, "calendar_year"),
    "AAP": (VISIT, {"MC", "HW"}, "calendar_year"),
    "AWV": (VISIT, {"CA"}, "calendar_year"),
    "LSC": (TWO, {"MC"}, "calendar_year"),
    "CHL": (TWO, ALL, "calendar_year"),
    "DSF-E": (TWO, ALL, "calendar_year"),
    "CBP": (TWO, ALL, "date_of_service"),
    "GSD": (TWO, ALL, "date_of_service"),
    "KED": (TWO, {"CA"}, "calendar_year"),
    "COA-MR": (TWO, {"CA"}, "calendar_year"),
    "COA-FSA": (TWO, {"CA"}, "calendar_year"),
    "BCS-E": (THREE, ALL, "calendar_year"),
    "CCS-E": (THREE, ALL, "calendar_year"),
    "COL-E": (THREE, ALL, "calendar_year"),
    "EED": (THREE, ALL, "calendar_year"),
    "OMW": (THREE, {"CA"}, "calendar_year"),
    "AIS-E": (DOSE, ALL, "dose"),
    "IMA HPV": (DOSE, {"MC"}, "dose"),
    "IMA MEN": (DOSE, {"MC"}, "dose"),
    "IMA Tdap": (DOSE, {"MC"}, "dose"),
    **{
        f"CIS {a}": (DOSE, {"MC"}, "dose")
        for a in ("DTaP", "Flu", "HepA", "HepB", "HiB", "IPV", "MMR", "PNEUMO", "RV", "VZV")
    },
    "SPC": (RX, ALL, "prescription"),
    "SPD": (RX, ALL, "prescription"),
    **{f"{c}-RFL-30": (RX, {"CA"}, "month") for c in ("DIA", "RAS", "STA")},
    **{f"{c}-RFL-90": (RX, {"CA"}, "quarter") for c in ("DIA", "RAS", "STA")},
    "HCC-DX": (("assess", "claim"), {"CA"}, "year_per_condition"),
}
CODE_CELL = re.compile(r"^(?:[A-Z0-9]{2,}(?:-[A-Z0-9]+)*(?: [A-Za-z]+)?)$")


def test_every_action_of_the_seed_menus_is_in_the_program_with_its_steps_and_lines_of_business():
    # GIVEN the seed's menus, transcribed
    # WHEN each action is looked up in the shipped program
    # THEN it is there with the seed's SVU steps, lines of business and frequency, and nothing else is
    assert {a.code for a in PROGRAM.actions} == set(SEED_MENU)
    for code, (steps, lobs, per) in SEED_MENU.items():
        action = PROGRAM.action(code)
        assert tuple(s.value for s in action.steps) == steps, code
        assert {lob.value for lob in action.lines_of_business} == lobs, code
        assert action.frequency.per.value == per, code
        assert action.evidence_codes, code


@pytest.mark.skipif(not SEED_FILE.exists(), reason="seed guidelines not found (set P4P_SEEDS_DIR)")
def test_the_transcription_names_every_code_of_the_seed_tables():
    # GIVEN the seed text's menu table rows (tab-separated: action, code, ...)
    rows = [line.split("\t") for line in SEED_FILE.read_text(encoding="utf-8").splitlines() if "\t" in line]
    codes = {r[1].strip() for r in rows if len(r) > 2 and CODE_CELL.match(r[1].strip()) and r[1] != "Code"}
    # WHEN compared with the transcription
    # THEN every code of the seed's tables is transcribed (and so, by the test above, in the program)
    assert codes and codes <= set(SEED_MENU)


def test_every_action_and_step_is_priced_on_both_tracks_and_result_tiers_are_priced():
    # GIVEN the shipped program
    # WHEN each track's card is read
    # THEN every step of every action has SVUs, and CBP/GSD price each result tier and the improvement
    for track in Track:
        for action in PROGRAM.actions:
            assert all(PROGRAM.svu(track, action.code, s) > 0 for s in action.steps), (track, action.code)
        for code in ("CBP", "GSD"):
            scale = PROGRAM.action(code).results
            assert scale is not None
            assert PROGRAM.result_svu(track, code, scale.tiers[0]) > PROGRAM.result_svu(
                track, code, scale.tiers[-1]
            )
            assert PROGRAM.result_svu(track, code, scale.improvement) > 0
    assert PROGRAM.example is True and "EXAMPLE" in PROGRAM.note


def _broken(change):
    raw = json.loads(json.dumps(RAW))
    change(raw)
    return json.dumps(raw)


def _action(raw, code):
    return next(a for a in raw["actions"] if a["code"] == code)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: _action(p, "GSD")["eligibility"].update(conditions=["Diabets"]),
        lambda p: _action(p, "KED").update(evidence_sets=["Kidney Typo"]),
        lambda p: p["rate_cards"][0]["result_svu"]["CBP"].pop("improved"),
        lambda p: p["rate_cards"][1]["result_svu"].pop("GSD"),
        lambda p: p.update(max_multiplier="3"),
        lambda p: p["multipliers"].append(
            {"name": "x", "action": "NOPE", "start": "2026-01-01", "end": "2026-01-31", "factor": "1.2"}
        ),
        lambda p: _action(p, "CIS DTaP").pop("doses"),
        lambda p: p["rate_cards"][0]["svu"]["AWV"].update(schedule="-1"),
        lambda p: _action(p, "STA-RFL-30").pop("prescription_windows"),
        lambda p: _action(p, "STA-RFL-30")["prescription_windows"][0].update(per="quarter"),
        lambda p: _action(p, "BCS-E").update(
            prescription_windows=[{"per": "month", "dispense_within_days": 30}]
        ),
    ],
)
def test_program_files_with_a_broken_reference_or_price_are_refused(change):
    # GIVEN the shipped file broken in one way
    text = _broken(change)
    # WHEN it is validated
    # THEN it is refused
    with pytest.raises(ValidationError):
        parse_program(text)


def test_a_version_dropped_as_text_takes_over_from_its_start_without_editing_the_old_one():
    # GIVEN a new version from July raising the AWV perform SVUs, as the programs/ prefix would hold it
    later = json.loads(json.dumps(RAW))
    later |= {"version": "care_gap-2026.7", "effective_from": "2026-07-01"}
    for card in later["rate_cards"]:
        card["svu"]["AWV"]["perform"] = "99"
    # WHEN the catalog is built from the shipped versions plus that text
    catalog = programs_with_files(
        {"programs/care_gap/later.json": json.dumps(later).encode()}, PROGRAMS
    ).care_gap
    # THEN June keeps the shipped rate and July onwards uses the new one
    june, july = catalog.in_force(date(2026, 6, 30)), catalog.in_force(date(2026, 7, 1))
    assert june.version == RAW["version"] and july.version == "care_gap-2026.7"
    assert july.svu(Track.FAMILY_ADULT, "AWV", Step.PERFORM) == Decimal(99)
    assert june.svu(Track.FAMILY_ADULT, "AWV", Step.PERFORM) != Decimal(99)


def test_one_bad_text_refuses_the_whole_drop():
    # GIVEN a good text and a broken one
    good = json.dumps(RAW | {"version": "care_gap-2026.8", "effective_from": "2026-08-01"})
    bad = _broken(lambda p: p.update(svu_dollar_rate="0", effective_from="2026-09-01"))
    # WHEN both are loaded
    # THEN nothing is applied
    files = {"programs/care_gap/good.json": good.encode(), "programs/care_gap/bad.json": bad.encode()}
    with pytest.raises(ProgramFileError, match="svu_dollar_rate"):
        programs_with_files(files, PROGRAMS)


def test_code_sets_match_codes_as_files_send_them():
    # GIVEN an ICD-10 prefix set and a CVX set written with leading zeros
    diabetes = CodeSet(name="d", code_system=CodeSystem.ICD10CM, codes=frozenset({"E11", "E10"}))
    hep_b = CodeSet(name="h", code_system=CodeSystem.CVX, codes=frozenset({"08", "44"}))
    # WHEN codes are matched
    # THEN ICD-10 matches by prefix without dots and CVX ignores leading zeros
    assert diabetes.matches("E119") and diabetes.matches("E11.65") and not diabetes.matches("E78")
    assert hep_b.matches("8") and hep_b.matches("008") and not hep_b.matches("80")
