"""Measure definitions and programs' rates as data: validated at load, overrides included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from shared.logic.rates import program_valuesets, rated_measures
from shared.programs.measures import DATA_DIR, MeasureFileError, load_measures
from tests.unit.care_gap.factories import PROGRAM

CARE_GAP = "programs/care_gap.json"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    target = tmp_path / "measures"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(folder: Path, name: str, change: Any) -> None:
    path = folder / name
    content = json.loads(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(json.dumps(content), encoding="utf-8")


def _rate(content: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for r in content["rates"] if r["rate"] == code)


def test_the_shipped_definitions_load_and_bcs_e_counts_women_50_to_74_for_care_gap() -> None:
    # GIVEN the packaged measure files
    # WHEN they are loaded
    catalog = load_measures()
    bcs = next(r for r in catalog.rated("care_gap") if r.rate.rate == "BCS-E")
    # THEN CMS's eleven and the APC set's ten (AMR, IMA, WCV, W30, POD, PPC, DRR-E, AHU, EDU, TCOC) are
    # there; CMS's definition keeps 52-74 and Care Gap's rate applies its override (50-74, women)
    assert len(catalog.definitions) == 21
    assert sum(d.cms_id is not None for d in catalog.definitions.values()) == 11
    assert (catalog.get("CMS125").age.min, catalog.get("CMS125").age.max) == (52, 74)
    assert (bcs.definition.age.min, bcs.definition.age.max, bcs.definition.gender) == (50, 74, "female")


def test_every_care_gap_action_naming_a_measure_is_rated_by_it() -> None:
    # GIVEN the shipped Care Gap program and its measures file
    # WHEN its rates are checked against the menu
    rated = {r.rate.rate: r.rate.measure for r in rated_measures(PROGRAM)}
    # THEN each action that names a measure has a rate of that measure, and no rate lacks an action
    named = {a.code: a.measure for a in PROGRAM.actions if a.measure is not None}
    assert rated == named
    assert {"BCS-E", "KED", "CBP", "GSD", "SPC", "CIS DTaP", "DSF-E"} <= set(rated)


def test_the_program_code_sets_the_measures_file_names_exist() -> None:
    # GIVEN the Care Gap program's measures file naming menu code sets for value sets
    # WHEN the program's value sets are built (no VSAC expansions)
    index = program_valuesets(PROGRAM)
    # THEN the menu's mammography codes stand for CMS's mammography value set
    assert "2.16.840.1.113883.3.464.1003.108.12.1018" in index.oids("CPT", "77067")
    assert "2.16.840.1.113883.3.464.1003.103.12.1001" in index.oids("ICD10CM", "E1165")


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        (
            CARE_GAP,
            lambda c: _rate(c, "BCS-E").update(overrides={"age": {"min": 80, "max": 74}}),
            "age max below min",
        ),
        (CARE_GAP, lambda c: _rate(c, "BCS-E").update(overrides={"agee": {"min": 50}}), "agee"),
        (
            CARE_GAP,
            lambda c: _rate(c, "BCS-E").update(overrides={"logic": "eye_exam"}),
            "cannot override logic",
        ),
        (CARE_GAP, lambda c: _rate(c, "CIS DTaP").update(component="dtapp"), "has no component dtapp"),
        (CARE_GAP, lambda c: _rate(c, "SPC").update(group=4), "has 4 group"),
        (CARE_GAP, lambda c: _rate(c, "KED").update(measure="KidneyTypoFHIR"), "no measure definition"),
        (CARE_GAP, lambda c: c["rates"].append(dict(_rate(c, "KED"))), "rates named twice: KED"),
        (CARE_GAP, lambda c: c.update(program="benchmark"), "names program benchmark"),
        (
            "BreastCancerScreeningFHIR.json",
            lambda c: c["valuesets"].update(mammography="not-an-oid"),
            "valuesets.mammography",
        ),
        ("BreastCancerScreeningFHIR.json", lambda c: c.update(name="Other"), "names measure Other"),
        ("ColonCancerScreeningFHIR.json", lambda c: c["screenings"][0].update(valueset="nope"), "nope"),
        ("DiabetesEyeExamFHIR.json", lambda c: c.update(qualifying_encounters=["nope"]), "nope"),
    ],
    ids=[
        "override-invalid",
        "override-unknown-field",
        "override-identity",
        "unknown-component",
        "group-out-of-range",
        "unknown-measure",
        "rate-twice",
        "wrong-program-name",
        "bad-oid",
        "wrong-measure-name",
        "unknown-screening-valueset",
        "unknown-encounter-name",
    ],
)
def test_a_bad_file_stops_the_load_naming_its_problem(
    data: Path, name: str, change: Any, message: str
) -> None:
    # GIVEN a copy of the measure files with one faulty change
    _edit(data, name, change)
    # WHEN they are loaded
    # THEN the load stops with an error naming the problem
    with pytest.raises(MeasureFileError, match=message):
        load_measures(data)


def test_a_file_that_is_not_json_is_named(data: Path) -> None:
    # GIVEN a measure file cut short
    (data / "DiabetesEyeExamFHIR.json").write_text("{", encoding="utf-8")
    # WHEN the files are loaded
    # THEN the error names the file
    with pytest.raises(MeasureFileError, match=r"DiabetesEyeExamFHIR\.json: not JSON"):
        load_measures(data)
