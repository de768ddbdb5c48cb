"""The one entry point the annual run calls: every clinic's FHIR exports by output name."""

from __future__ import annotations

import ast
import json
from datetime import datetime
from pathlib import Path

import pytest

from shared.logic.fhir_export import ExportInputError, annual_exports, benchmark_measures
from shared.logic.keys import UnsafeKeyError
from shared.models.members import Clinic
from shared.models.runs import MeasureCount
from shared.programs.benchmark import load_benchmark
from tests.unit.fhir_export.conftest import GENERATED, RUN_ID, make_clinic
from tests.unit.fhir_export.fhir import resolve, resources, validated
from tests.unit.fhir_export.test_care_gaps import GAPS
from tests.unit.fhir_export.test_vbpr import ENTRIES

CLINICS = {
    c.clinic_id: c for c in (make_clinic("K1"), make_clinic("K2", npi="1111111112"), make_clinic("K3"))
}
COUNTS = [
    MeasureCount(clinic_id="K1", action="BCS-E", line_of_business="MC", denominator=4, numerator=3),
    MeasureCount(clinic_id="K1", action="GSD", line_of_business="MC", denominator=5, numerator=1),
    MeasureCount(clinic_id="K2", action="BCS-E", line_of_business="CA", denominator=2, numerator=2),
]


def _measures():
    program = load_benchmark().for_year(2026)
    assert program is not None
    return benchmark_measures(program)


def _exports(clinics: dict[str, Clinic] = CLINICS, **more):
    arguments = {
        "run_id": RUN_ID,
        "year": 2026,
        "clinics": clinics,
        "counts": COUNTS,
        "gaps_by_clinic": {"K1": GAPS},
        "entries_by_clinic": {"K1": ENTRIES},
        "measures": _measures(),
        "generated": GENERATED,
    } | more
    return annual_exports(**arguments)


def test_each_clinic_gets_the_files_it_has_something_for() -> None:
    # GIVEN counts for K1 and K2, gaps and ledger entries for K1, nothing for K3
    # WHEN the run's exports are built
    outputs = _exports()
    # THEN K1 has all three files, K2 its measure reports only, K3 nothing, in clinic and file order
    assert list(outputs) == [
        "fhir/K1/measure-reports.json",
        "fhir/K1/care-gaps.json",
        "fhir/K1/vbpr.json",
        "fhir/K2/measure-reports.json",
    ]
    # AND every file is a valid resource of the kind its name says
    kinds = {name: validated(resource)["resourceType"] for name, resource in outputs.items()}
    assert kinds == {
        "fhir/K1/measure-reports.json": "Bundle",
        "fhir/K1/care-gaps.json": "Parameters",
        "fhir/K1/vbpr.json": "Bundle",
        "fhir/K2/measure-reports.json": "Bundle",
    }


def test_measure_reports_are_a_collection_of_the_clinics_summaries() -> None:
    # GIVEN K1's counts of two measures
    bundle = validated(_exports()["fhir/K1/measure-reports.json"])
    # WHEN the file is read
    reports = resources(bundle, "MeasureReport")
    # THEN it collects one summary per measure, each reported by the clinic the file is for
    assert bundle["type"] == "collection"
    assert [r["group"][0]["code"]["text"] for r in reports] == ["BCS-E", "GSD"]
    assert {resolve(bundle, r["reporter"])["name"] for r in reports} == {"Clinic K1"}


def test_the_vbpr_file_holds_a_report_per_payer_and_member_months_go_with_the_plan() -> None:
    # GIVEN K1's entries of two payers and its member months
    outputs = _exports(member_months_by_clinic={"K1": {"MC": 30}})
    bundle = validated(outputs["fhir/K1/vbpr.json"])
    # WHEN the file is read
    reports = resources(bundle, "MeasureReport")
    payers = [resolve(bundle, r["reporter"])["identifier"][0]["value"] for r in reports]
    # THEN there is one report per payer, and only the plan's counts the member months
    assert payers == ["healthworx", "plan"]
    with_months = [
        p for p, r in zip(payers, reports, strict=True) if any(g["id"] == "member-months" for g in r["group"])
    ]
    assert with_months == ["plan"]


def test_the_same_run_exports_the_same_bytes() -> None:
    # GIVEN one run's inputs
    # WHEN its exports are built twice
    first, second = _exports(), _exports()
    # THEN they serialise to the same JSON
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)


def test_another_run_gives_other_ids() -> None:
    # GIVEN the same inputs under a preview's run id
    final, preview = _exports(), _exports(run_id="annual-2026-preview-1")

    # WHEN the measure reports' ids are compared
    def ids(outputs: dict) -> set[str]:
        return {r["id"] for r in resources(outputs["fhir/K1/measure-reports.json"], "MeasureReport")}

    # THEN no report id is shared
    assert not ids(final) & ids(preview)


def test_a_clinic_the_inputs_name_must_be_known() -> None:
    # GIVEN counts of K2 but no K2 among the clinics
    # WHEN the exports are built
    # THEN they are refused, naming the clinic
    with pytest.raises(ExportInputError, match="K2"):
        _exports(clinics={"K1": CLINICS["K1"]})


def test_a_time_without_a_zone_is_refused() -> None:
    # GIVEN a naive timestamp
    # WHEN the exports are built
    # THEN they are refused
    with pytest.raises(ExportInputError, match="time zone"):
        _exports(generated=datetime(2027, 6, 15, 9, 30))


def test_a_clinic_id_that_is_not_a_folder_name_is_refused() -> None:
    # GIVEN a clinic whose id would leave its folder
    clinic = make_clinic("../K9")
    counts = [MeasureCount(clinic_id="../K9", action="BCS-E", denominator=1, numerator=1)]
    # WHEN its exports are built
    # THEN they are refused
    with pytest.raises(UnsafeKeyError):
        _exports(clinics={"../K9": clinic}, counts=counts, gaps_by_clinic={}, entries_by_clinic={})


def test_the_builders_do_not_import_a_fhir_library() -> None:
    # GIVEN the export modules' source
    package = Path(__file__).resolve().parents[3] / "shared" / "logic" / "fhir_export"
    # WHEN their imports are read
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for path in sorted(package.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    # THEN none is `fhir.resources` (a test-only dependency): the dicts are built by hand
    assert not {name for name in imported if name.split(".")[0] == "fhir"}
