"""The suite covers what it must: every concrete repository class of shared/dal is one backend's
implementation of an interface here, every other test of the suite runs on both backends, and every
interface has contract tests asking for its fixture. (These two read the suite; they run once.)"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from abc import ABC
from pathlib import Path
from types import FunctionType, ModuleType

import shared.dal
from tests.contract.conftest import BACKENDS, FIXTURES, IMPLEMENTATIONS

HERE = Path(__file__).parent


def _dal_classes() -> list[type]:
    found: list[type] = []
    for info in pkgutil.iter_modules(shared.dal.__path__):
        module = importlib.import_module(f"shared.dal.{info.name}")
        found += [
            c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__
        ]
    return found


def _interfaces() -> set[type]:
    """The abstract repositories of shared/dal: ABCs with abstract methods."""
    return {c for c in _dal_classes() if ABC in c.__bases__ and inspect.isabstract(c)}


def _contract_modules() -> list[ModuleType]:
    paths = sorted(p for p in HERE.glob("test_*.py") if p.stem != Path(__file__).stem)
    return [importlib.import_module(f"tests.contract.{p.stem}") for p in paths]


def _contract_tests() -> list[FunctionType]:
    tests = []
    for module in _contract_modules():
        tests += [f for name, f in inspect.getmembers(module, inspect.isfunction) if name.startswith("test_")]
    return tests


def test_every_concrete_repository_of_shared_dal_is_in_the_suite():
    # GIVEN the classes of shared/dal that implement one of its abstract repositories
    interfaces = _interfaces()
    concrete = {
        c for c in _dal_classes() if not inspect.isabstract(c) and any(issubclass(c, i) for i in interfaces)
    }
    # WHEN they are compared with the implementations the suite runs
    covered = {impl for per_backend in IMPLEMENTATIONS.values() for impl in per_backend.values()}
    # THEN each is there, under the interface it implements, and each interface has both backends
    assert interfaces == set(IMPLEMENTATIONS) == set(FIXTURES)
    assert concrete == covered
    for interface, per_backend in IMPLEMENTATIONS.items():
        assert tuple(per_backend) == BACKENDS
        assert all(issubclass(impl, interface) for impl in per_backend.values())


def test_every_test_runs_on_both_backends_and_every_interface_has_tests():
    # GIVEN the suite's test modules and the fixtures their tests ask for
    per_backend = {"backend", "both", *FIXTURES.values()}
    asked: dict[str, int] = {}
    for test in _contract_tests():
        params = set(inspect.signature(test).parameters)
        # WHEN each test's fixtures are read
        # THEN each test asks for a backend (so it runs on memory and on moto), none redefines them
        assert params & per_backend, f"{test.__name__} runs on no backend"
        for name in params:
            asked[name] = asked.get(name, 0) + 1
    for module in _contract_modules():
        assert not [n for n in per_backend if n in vars(module)], f"{module.__name__} redefines a fixture"
    # AND each interface is asked for by at least two tests
    counts = {fixture: asked.get(fixture, 0) for fixture in FIXTURES.values()}
    assert min(counts.values()) >= 2, counts
