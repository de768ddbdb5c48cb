"""Create the resources of a synthesized CloudFormation template in moto, in dependency order.

Nothing here knows the P4P stack: every name, setting and wiring comes from the template, so the local
runtime runs what `cdk deploy` would deploy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cli.local.intrinsics import Resolver, TemplateResolutionError, references
from cli.local.resources import CREATORS
from cli.local.stack import LocalStack

# Types moto cannot hold or that mean nothing locally (policies, CDK bookkeeping, custom resource
# providers other than bucket notifications, schedules nobody fires locally, alarms nobody watches,
# backups of data that lives in memory, and API Gateway: moto's does not run Lambda integrations, so
# the functions behind an API are invoked directly).
SKIPPED_TYPES = frozenset(
    {
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Stage",
        "AWS::CDK::Metadata",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::Logs::ResourcePolicy",
        "AWS::Logs::MetricFilter",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::CompositeAlarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Events::Rule",
        "AWS::Scheduler::Schedule",
        "AWS::Backup::BackupVault",
        "AWS::Backup::BackupPlan",
        "AWS::Backup::BackupSelection",
        "AWS::CloudFormation::CustomResource",
        "Custom::S3AutoDeleteObjects",
        "Custom::CDKBucketDeployment",
        "Custom::LogRetention",
        "Custom::AWS",
    }
)
DUMMY_ROLE_NAME = "p4p-local-execution-role"
CreateProgress = Callable[[int, int, str], None]
"""Told `(created so far, to create in all, logical id)` after each resource is created."""
_ASSUME_ANY = json.dumps({"Version": "2012-10-17", "Statement": []})


def dependency_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids ordered so that each comes after everything it refers to (template order on ties)."""
    pending: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        names = set(references(resource.get("Properties", {}))) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        pending[logical_id] = {name for name in names if name in resources and name != logical_id}
    ordered: list[str] = []
    while pending:
        ready = [logical_id for logical_id, deps in pending.items() if not deps]
        if not ready:
            raise TemplateResolutionError(f"circular dependency among {sorted(pending)}")
        for logical_id in ready:
            ordered.append(logical_id)
            del pending[logical_id]
        for deps in pending.values():
            deps.difference_update(ready)
    return ordered


def _physical_name(stack: str, logical_id: str, limit: int, *, lower: bool = False) -> str:
    # CloudFormation's shape `<stack>-<logical id>-<suffix>`, with a stable suffix so names repeat.
    suffix = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12].upper()
    name = f"{stack}-{logical_id}"[: limit - len(suffix) - 1] + "-" + suffix
    return name.lower() if lower else name


class _Builder:
    def __init__(
        self, stack: LocalStack, template: Mapping[str, Any], stack_name: str, asset_dirs: Sequence[Path]
    ):
        self.stack = stack
        self.template = template
        self.stack_name = stack_name
        self.asset_dirs = asset_dirs
        self.resolver = Resolver(
            template, region=stack.region, account_id=stack.account_id, stack_name=stack_name
        )
        self._clients: dict[str, Any] = {}
        self._dummy_role: str | None = None
        self.providers = self._custom_resource_providers(template.get("Resources", {}))

    @staticmethod
    def _custom_resource_providers(resources: Mapping[str, Any]) -> set[str]:
        providers: set[str] = set()
        for resource in resources.values():
            if (
                resource["Type"].startswith("Custom::")
                or resource["Type"] == "AWS::CloudFormation::CustomResource"
            ):
                providers.update(references(resource.get("Properties", {}).get("ServiceToken", {})))
        return providers

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.stack.client(service)
        return self._clients[service]

    def name(
        self, props: Mapping[str, Any], key: str, logical_id: str, limit: int, *, lower: bool = False
    ) -> str:
        return str(props.get(key) or _physical_name(self.stack_name, logical_id, limit, lower=lower))

    def build(self, progress: CreateProgress | None = None) -> None:
        resources = self.template.get("Resources", {})
        to_create: list[str] = []
        # Skipped resources are known before any is created, so the count of those to create is too.
        for logical_id in dependency_order(resources):
            kind = resources[logical_id]["Type"]
            condition = resources[logical_id].get("Condition")
            if (
                kind in SKIPPED_TYPES
                or logical_id in self.providers
                or (condition and not self.resolver.condition(condition))
            ):
                self.stack.skipped[logical_id] = kind
                self.resolver.set_skipped(logical_id)
            elif kind not in CREATORS:
                raise TemplateResolutionError(f"{logical_id}: resource type {kind} is not supported locally")
            else:
                to_create.append(logical_id)
        for done, logical_id in enumerate(to_create, start=1):
            resource = resources[logical_id]
            kind = resource["Type"]
            props = self.resolver.resolve(resource.get("Properties", {})) or {}
            ref, attributes = CREATORS[kind](self, logical_id, props)
            self.resolver.set_resource(logical_id, ref, attributes)
            self.stack.physical_ids[logical_id] = ref
            self.stack.created[logical_id] = kind
            if progress is not None:
                progress(done, len(to_create), logical_id)
        for key, output in self.template.get("Outputs", {}).items():
            if output.get("Condition") and not self.resolver.condition(output["Condition"]):
                continue
            self.stack.outputs[key] = str(self.resolver.resolve(output["Value"]))

    def role_arn(self, value: Any) -> str:
        if isinstance(value, str) and value.startswith("arn:"):
            return value
        if self._dummy_role is None:
            iam = self.client("iam")
            try:
                self._dummy_role = iam.get_role(RoleName=DUMMY_ROLE_NAME)["Role"]["Arn"]
            except iam.exceptions.NoSuchEntityException:
                self._dummy_role = iam.create_role(
                    RoleName=DUMMY_ROLE_NAME, AssumeRolePolicyDocument=_ASSUME_ANY
                )["Role"]["Arn"]
        return self._dummy_role

    def state_machine_definition(self, logical_id: str, props: Mapping[str, Any]) -> str:
        if "DefinitionString" in props:
            definition = str(props["DefinitionString"])
        elif "Definition" in props:
            definition = json.dumps(props["Definition"])
        elif "DefinitionS3Location" in props:
            definition = self._asset_text(logical_id, props["DefinitionS3Location"])
        else:
            raise TemplateResolutionError(f"{logical_id}: state machine has no definition")
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        return _moto_compatible(definition)

    def _asset_text(self, logical_id: str, location: Mapping[str, Any]) -> str:
        key = str(location["Key"])
        for folder in self.asset_dirs:
            for candidate in (folder / f"asset.{key}", folder / key):
                if candidate.is_file():
                    return candidate.read_text()
        source = _source_of_asset(key, self.asset_dirs)
        if source is None:
            raise TemplateResolutionError(
                f"{logical_id}: definition asset {key} not found in {[str(d) for d in self.asset_dirs]};"
                " pass the cloud assembly folder or the definitions' source folder as an asset dir"
            )
        return source.read_text()


def _source_of_asset(key: str, folders: Sequence[Path]) -> Path | None:
    """The source file whose CDK asset fingerprint is the asset key's hash, if any folder holds it."""
    candidates = [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.json"))]
    if not candidates:
        return None
    # Only here is the CDK needed: it computes the fingerprint its asset staging used for the key.
    from aws_cdk import FileSystem

    digest = key.split(".", 1)[0]
    return next((path for path in candidates if FileSystem.fingerprint(str(path)) == digest), None)


def _moto_compatible(definition: str) -> str:
    """Rewrite what AWS accepts but moto's ASL grammar rejects, keeping the meaning."""

    def visit(node: Any) -> Any:
        if isinstance(node, dict):
            # moto's grammar wants a decimal here (AWS takes 0 or 0.0 alike).
            if isinstance(node.get("ToleratedFailurePercentage"), int):
                node["ToleratedFailurePercentage"] = float(node["ToleratedFailurePercentage"])
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)
        return node

    try:
        parsed = json.loads(definition)
    except json.JSONDecodeError:
        return definition
    return json.dumps(visit(parsed))


def create_stack(
    template: Mapping[str, Any],
    *,
    region: str,
    endpoint_url: str | None = None,
    stack_name: str = "p4p-local",
    asset_dirs: Sequence[Path] = (),
    progress: CreateProgress | None = None,
) -> LocalStack:
    """Create every resource of a synthesized template in moto and resolve the template's outputs;
    `progress(done, total, logical_id)` hears of each resource created."""
    stack = LocalStack(region=region, account_id="", endpoint_url=endpoint_url)
    stack.account_id = stack.client("sts").get_caller_identity()["Account"]
    builder = _Builder(stack, template, stack_name, asset_dirs)
    builder.build(progress)
    stack.resolve = builder.resolver.resolve
    return stack
