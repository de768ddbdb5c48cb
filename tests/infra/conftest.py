"""One synthesized app per stage for the whole session: synthesis is the slow part of these tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from infra.app import build_app, stack_name


@dataclass(frozen=True)
class Synthesized:
    app: cdk.App
    template: Template

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template.to_json()["Resources"])

    def of_type(self, resource_type: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def paths(self) -> dict[str, str]:
        """Logical id -> construct path (`p4p-dev/PaymentRuns/Monthly/Logs/Resource`), to name findings."""
        return {
            str(cdk.Stack.of(node).resolve(node.logical_id)): node.node.path
            for node in self.app.node.find_all()
            if isinstance(node, cdk.CfnResource)
        }


def _synthesize(stage: str, outdir: str) -> Synthesized:
    app = build_app({"stage": stage}, package_assets=False, nag=False, outdir=outdir)
    stack = app.node.find_child(stack_name({"project": "p4p", "stage": stage}))
    template = Template.from_stack(stack)  # type: ignore[arg-type]
    return Synthesized(app=app, template=template)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield _synthesize("dev", str(tmp_path_factory.mktemp("cdk-dev")))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield _synthesize("prod", str(tmp_path_factory.mktemp("cdk-prod")))


@pytest.fixture(scope="session")
def template(dev: Synthesized) -> Template:
    return dev.template
