from __future__ import annotations

from typing import Any

import pytest

from cli.local.intrinsics import Resolver, TemplateResolutionError
from cli.local.template import dependency_order

pytestmark = pytest.mark.xdist_group("local")


def _resolver(template: dict[str, Any] | None = None) -> Resolver:
    resolver = Resolver(template or {}, region="eu-west-1", account_id="111122223333", stack_name="s")
    resolver.set_resource("Queue", "https://queue-url", {"Arn": "arn:aws:sqs:eu-west-1:111122223333:q"})
    return resolver


def test_sub_resolves_pseudo_parameters_attributes_variables_and_escapes() -> None:
    # GIVEN a Fn::Sub using every kind of variable and an escaped literal
    resolver = _resolver()
    value = {
        "Fn::Sub": [
            "${AWS::Region}/${AWS::AccountId}/${Queue.Arn}/${Queue}/${Extra}/${!Literal}",
            {"Extra": "x"},
        ]
    }

    # WHEN it is resolved
    resolved = resolver.resolve(value)

    # THEN each variable is replaced and the escape yields the literal
    assert (
        resolved
        == "eu-west-1/111122223333/arn:aws:sqs:eu-west-1:111122223333:q/https://queue-url/x/${Literal}"
    )


def test_select_split_and_join_compose() -> None:
    # GIVEN the ARN-splitting idiom CDK emits
    resolver = _resolver()
    value = {
        "Fn::Join": [
            "-",
            [
                {"Fn::Select": [5, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]},
                {"Ref": "AWS::Partition"},
            ],
        ]
    }

    # WHEN it is resolved
    resolved = resolver.resolve(value)

    # THEN the pieces come from the resource's attribute and the partition
    assert resolved == "q-aws"


def test_conditions_pick_branches_and_no_value_drops_keys() -> None:
    # GIVEN a template whose condition compares the region
    template = {"Conditions": {"InEu": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}}}
    resolver = _resolver(template)
    value = {
        "A": {"Fn::If": ["InEu", "yes", "no"]},
        "B": {"Fn::If": ["InEu", {"Ref": "AWS::NoValue"}, "kept"]},
    }

    # WHEN it is resolved
    resolved = resolver.resolve(value)

    # THEN the true branches apply and AWS::NoValue removes the key
    assert resolved == {"A": "yes"}


def test_unknown_intrinsic_and_unknown_reference_are_errors() -> None:
    # GIVEN a resolver
    resolver = _resolver()

    # WHEN / THEN an unsupported function and a Ref to nothing both fail loudly
    with pytest.raises(TemplateResolutionError, match="Fn::ImportValue"):
        resolver.resolve({"Fn::ImportValue": "shared"})
    with pytest.raises(TemplateResolutionError, match="Missing"):
        resolver.resolve({"Ref": "Missing"})


def test_dependency_order_puts_referenced_resources_first() -> None:
    # GIVEN resources listed before what they refer to
    resources = {
        "Function": {
            "Type": "T",
            "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}},
            "DependsOn": "Policy",
        },
        "Policy": {"Type": "T", "Properties": {"Roles": [{"Ref": "Role"}]}},
        "Role": {"Type": "T"},
    }

    # WHEN they are ordered
    ordered = dependency_order(resources)

    # THEN every resource comes after its dependencies
    assert ordered == ["Role", "Policy", "Function"]


def test_dependency_cycle_is_an_error() -> None:
    # GIVEN two resources that refer to each other
    resources = {
        "A": {"Type": "T", "Properties": {"X": {"Ref": "B"}}},
        "B": {"Type": "T", "DependsOn": ["A"]},
    }

    # WHEN / THEN ordering them fails
    with pytest.raises(TemplateResolutionError, match="circular"):
        dependency_order(resources)
