from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.local.runtime import LocalRuntime
from tests.local import fixture_handlers


@dataclass(frozen=True)
class SynthesizedFixture:
    template: dict[str, Any]
    assembly_dir: Path


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedFixture:
    # CDK synthesis costs seconds: once per session, and the assembly stays for its file assets.
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from tests.local.fixture_stack import synth_fixture_template

    outdir = tmp_path_factory.mktemp("cdk-local-fixture")
    return SynthesizedFixture(synth_fixture_template(outdir), outdir)


@pytest.fixture
def runtime(synthesized: SynthesizedFixture) -> Iterator[LocalRuntime]:
    fixture_handlers.reset()
    with LocalRuntime(synthesized.template, asset_dirs=[synthesized.assembly_dir]) as local:
        yield local


@pytest.fixture(scope="session")
def app_template() -> dict[str, Any]:
    """The project's own stack, synthesized once per test process (each synthesis costs seconds)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from infra.app import synth_template  # CDK loads in seconds: only for the tests that need it

    template: dict[str, Any] = synth_template("dev", package_assets=False)
    return template
