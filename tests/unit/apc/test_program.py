"""The APC program version as data: the seed's tables are what loads, a broken table is refused at load
naming what is wrong, and the program is served like the others (packaged, and dropped under
`programs/apc/`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.dal.memory import MemoryObjectStore
from shared.models.actions import Sex
from shared.models.members import PracticeType
from shared.programs.apc import ApcProgram, MeasureKind, load_apc
from shared.programs.care_gap import DATA_DIR
from shared.programs.catalog import MODELS, Programs, load_programs
from shared.programs.stored import ProgramFileError, StoredPrograms, programs_with_files

SHIPPED: dict[str, Any] = json.loads((DATA_DIR / "apc" / "apc_2026.json").read_text(encoding="utf-8"))
PROGRAM = load_apc().latest()
TABLE_3 = ["AMR", "BCS-E", "CIS", "COL-E", "CBP", "DSF-E", "GSD", "IMA", "AHU", "EDU", "TCOC"]


def _edited(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(json.dumps(SHIPPED))
    for path, value in changes.items():
        node: Any = raw
        *parents, last = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return raw


def test_the_measure_set_is_table_3_in_order() -> None:
    # GIVEN the packaged version
    # WHEN its incentive measures and tracking measures are read
    codes = [m.code for m in PROGRAM.incentive.measures]
    tracking = [m.code for m in PROGRAM.incentive.tracking_measures]
    # THEN they are table 3's eleven codes in its order, and its six tracking measures
    assert codes == TABLE_3
    assert tracking == ["WCV", "DRR-E", "GSD <8.0%", "POD", "PPC", "W30"]
    assert {m.code for m in PROGRAM.incentive.measures if m.inverse} == {"GSD", "AHU", "EDU", "TCOC"}


@pytest.mark.parametrize(
    ("practice_type", "expected"),
    [
        (PracticeType.MIXED, TABLE_3),
        (PracticeType.ADULT, [c for c in TABLE_3 if c not in ("CIS", "IMA")]),
        (PracticeType.PEDIATRIC, ["AMR", "CIS", "DSF-E", "IMA", "TCOC"]),
    ],
)
def test_each_practice_type_has_the_seeds_measures(practice_type: PracticeType, expected: list[str]) -> None:
    # GIVEN a practice type
    # WHEN its applicable measures are listed
    codes = [m.code for m in PROGRAM.incentive.applicable(practice_type)]
    # THEN they are the ones the seed names (mixed eleven, adult nine, pediatric five)
    assert codes == expected


@pytest.mark.parametrize(
    ("practice_type", "gold_total"),
    [
        (PracticeType.MIXED, Decimal("100")),
        (PracticeType.PEDIATRIC, Decimal("100")),
        (PracticeType.ADULT, Decimal("100.5")),
    ],
)
def test_gold_shares_add_up_as_table_5_prints_them(practice_type: PracticeType, gold_total: Decimal) -> None:
    # GIVEN table 5's gold-standard columns: mixed and pediatric add up to 100%, adult to 100.5%
    # WHEN the loaded gold shares of a practice type are added
    total = sum(m.shares[practice_type].gold for m in PROGRAM.incentive.applicable(practice_type))
    # THEN they add up to the printed columns' sum (so scale is what makes a practice's maximum reachable)
    assert total == gold_total


def test_dsf_e_has_two_components_and_validity_follows_the_measure_type() -> None:
    # GIVEN the packaged version
    dsf = PROGRAM.incentive.measure("DSF-E")
    validity = PROGRAM.incentive.validity
    # WHEN DSF-E's levels and each measure's minimum are read
    assert dsf is not None and dsf.components is not None
    screening, follow_up = (dsf.components[c] for c in dsf.components)
    minimums = {m.code: validity.minimum(m) for m in PROGRAM.incentive.measures}
    # THEN DSF-E is screening 0/1/11 and follow-up 65/81/87; minimums 20, 10 pediatric, 1,800 member months
    assert (screening.mpt, screening.threshold, screening.gold) == (0, 1, 11)
    assert (follow_up.mpt, follow_up.threshold, follow_up.gold) == (65, 81, 87)
    assert minimums == {
        "AMR": 20,
        "BCS-E": 20,
        "CIS": 10,
        "COL-E": 20,
        "CBP": 20,
        "DSF-E": 20,
        "GSD": 20,
        "IMA": 10,
        "AHU": 1800,
        "EDU": 1800,
        "TCOC": 1800,
    }
    assert {m.code for m in PROGRAM.incentive.measures if m.kind is not MeasureKind.QUALITY} == {
        "AHU",
        "EDU",
        "TCOC",
    }


@pytest.mark.parametrize(
    ("age", "gender", "factor"),
    [
        (0, Sex.F, "1.2169"),
        (1, Sex.M, "1.3273"),
        (2, Sex.U, "0.9951"),
        (17, None, "0.6744"),
        (18, Sex.M, "0.5180"),
        (64, Sex.F, "1.3670"),
        (65, Sex.M, "1.5546"),
        (104, Sex.U, "1.6180"),
    ],
)
def test_an_age_band_holds_its_lower_bound_and_not_its_upper(
    age: int, gender: Sex | None, factor: str
) -> None:
    # GIVEN the seed's age/gender table (0-2 means 0 <= age < 2; 65+ means 65 and older)
    # WHEN the factor of an age and gender is read
    found = PROGRAM.risk_adjustment.band(age).factor(gender)
    # THEN it is the seed's cell; no gender reads the Unknown column
    assert found == Decimal(factor)


def test_hpi_uplift_is_five_to_one_percent_for_the_bottom_five_deciles() -> None:
    # GIVEN the packaged version
    # WHEN each decile's uplift is read
    uplifts = [PROGRAM.risk_adjustment.uplift(d) for d in range(1, 11)]
    # THEN deciles 1-5 get 5,4,3,2,1 percent, 6-10 nothing, and a practice with no decile nothing
    assert uplifts == [Decimal(x) for x in ("0.05", "0.04", "0.03", "0.02", "0.01", "0", "0", "0", "0", "0")]
    assert PROGRAM.risk_adjustment.uplift(None) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"incentive__measures__0__levels__threshold": "92"},
            "AMR: the levels must run mpt ≤ threshold < gold",
        ),
        ({"incentive__measures__6__levels__gold": "30"}, "GSD: the levels must run mpt ≥ threshold > gold"),
        ({"incentive__measures__1__code": "AMR"}, "a measure code is listed twice: AMR"),
        ({"incentive__measures__0__shares__mixed__threshold": "9"}, "improvement ≤ threshold ≤ gold"),
        ({"risk_adjustment__age_sex_factors__1__min_age": 3}, "age bands must follow on from 2"),
        ({"risk_adjustment__hpi_uplift_percent": {"1": "5"}}, "every decile 1 to 10"),
        (
            {"direct_services__tracks__1__capitated__1__codes__ranges": [["99499", "99300"]]},
            "range 99499-99300",
        ),
        (
            {"direct_services__tracks__1__fee_for_service__0__ranges": [["90281", "G0010"]]},
            "codes of one shape",
        ),
        ({"attribution__primary_care_places_of_service": ["11", "1"]}, "primary_care_places_of_service"),
    ],
)
def test_a_broken_table_is_refused_at_load(changes: dict[str, Any], message: str) -> None:
    # GIVEN the shipped file with one table broken
    raw = _edited(**changes)
    # WHEN it is validated
    with pytest.raises(ValidationError) as error:
        ApcProgram.model_validate(raw)
    # THEN the error says what is wrong
    assert message in str(error.value)


def test_apc_is_served_like_the_other_programs() -> None:
    # GIVEN the packaged programs
    programs = load_programs()
    # WHEN APC is asked for by name, by year and through a Programs built without naming it
    # THEN it is the packaged version, and a version file may name it
    assert MODELS["apc"] is ApcProgram
    assert programs.of("apc").for_year(2026) == PROGRAM
    assert Programs(care_gap=programs.care_gap, benchmark=programs.benchmark).apc.versions == (PROGRAM,)
    assert PROGRAM in programs.versions


def test_a_version_dropped_under_programs_apc_replaces_the_packaged_one() -> None:
    # GIVEN a plan's file under programs/apc/ with its own incentive PMPM, the packaged version's name
    store = MemoryObjectStore()
    store.put_bytes(
        "curated", "programs/apc/apc_2026.json", json.dumps(_edited(incentive__max_pmpm="7.25")).encode()
    )
    # WHEN the stored programs are read
    stored = StoredPrograms(store, "curated", base=load_programs(), recheck_seconds=60)
    # THEN the APC catalog serves the plan's number
    assert stored.apc.in_force(PROGRAM.effective_from).incentive.max_pmpm == Decimal("7.25")


def test_an_apc_file_in_another_programs_folder_is_refused() -> None:
    # GIVEN an APC version dropped under programs/benchmark/
    files = {"programs/benchmark/apc.json": json.dumps(SHIPPED).encode()}
    # WHEN the files are merged over the packaged programs
    with pytest.raises(ProgramFileError) as error:
        programs_with_files(files, load_programs())
    # THEN the error names the key and the folder's program
    assert "program must be 'benchmark' in programs/benchmark/, got 'apc'" in str(error.value)
