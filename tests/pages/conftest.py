"""One generated plan for every page test in the worker (the modules share the `pages` xdist group)."""

from __future__ import annotations

import pytest

from tests.pages.plan import PagesPlan, build_plan


@pytest.fixture(scope="session")
def pages_plan(tmp_path_factory: pytest.TempPathFactory) -> PagesPlan:
    return build_plan(tmp_path_factory.mktemp("pages-plan"))
