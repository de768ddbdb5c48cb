"""A Standard state machine that runs Lambda tasks and Distributed Maps, built one way for every machine.

The payment runs (one machine per run kind) and the ingest fan-out each need the same machine around
their own definition: a role of its own with least privilege (invoke its functions, start and watch its
own Map child executions, read its ItemReader's objects under one curated prefix, decrypt with the data
and messaging keys), a protected log group, X-Ray tracing, and definition and history encrypted under the
stack's messaging key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.common import StageConfig, logical_id_of, protected_log_group
from infra.constructs.storage import Storage


def distributed_map_machine(
    scope: Construct,
    *,
    storage: Storage,
    config: StageConfig,
    name: str,
    logical_id: str,
    comment: str,
    definition: str,
    substitutions: Mapping[str, str],
    function_arns: Sequence[str],
    shared_policies: Sequence[iam.IManagedPolicy],
    item_prefix: str,
    item_reason: str,
) -> sfn.StateMachine:
    """The machine `name` (logical id `logical_id`) of the definition's text, its `${...}` filled from
    `substitutions`; its ItemReaders read objects under `item_prefix` of the curated bucket (`item_reason`
    says why, for cdk-nag)."""
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
        managed_policies=list(shared_policies),
    )
    statements = _statements(scope, storage, name, function_arns, item_prefix)
    policy = iam.ManagedPolicy(scope, "Policy", roles=[role], statements=statements)
    _acknowledge(policy, storage, name, item_prefix, item_reason)
    log_group = protected_log_group(scope, "Logs", config=config, key=storage.messaging_key)
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=name,
        comment=comment,
        # The file's text rather than `from_file`, which would stage it as an S3 asset: an inline
        # DefinitionString keeps the template self-contained for cfn-lint and the local runtime.
        definition_body=sfn.DefinitionBody.from_string(definition),
        definition_substitutions=dict(substitutions),
        role=role.without_policy_updates(),
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=True,
        state_machine_type=sfn.StateMachineType.STANDARD,
        # Definitions and execution histories at rest under the stack's own key, not an AWS-owned one.
        encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(
            storage.messaging_key, Duration.seconds(300)
        ),
    )
    # Step Functions checks log delivery and invoke permissions when it creates the machine.
    machine.node.add_dependency(policy)
    machine.node.default_child.override_logical_id(logical_id)  # type: ignore[union-attr]
    return machine


def _statements(
    scope: Construct, storage: Storage, name: str, function_arns: Sequence[str], item_prefix: str
) -> list[iam.PolicyStatement]:
    stack = Stack.of(scope)

    def arn(resource: str, resource_name: str) -> str:
        return stack.format_arn(
            service="states",
            resource=resource,
            resource_name=resource_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    return [
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=list(function_arns)),
        # Distributed Map: the machine starts and watches its own child executions.
        iam.PolicyStatement(actions=["states:StartExecution"], resources=[arn("stateMachine", name)]),
        iam.PolicyStatement(
            actions=["states:DescribeExecution", "states:StopExecution"],
            resources=[arn("execution", f"{name}/*")],
        ),
        # The ItemReaders read the lists the machine's steps wrote to the curated bucket.
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[storage.curated_bucket.arn_for_objects(f"{item_prefix}*")]
        ),
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[storage.data_key.key_arn]),
        # The machine's own data (definition, execution history) under the messaging key.
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[storage.messaging_key.key_arn]
        ),
    ]


def _acknowledge(
    policy: iam.ManagedPolicy, storage: Storage, name: str, item_prefix: str, item_reason: str
) -> None:
    curated_id = logical_id_of(storage.curated_bucket)
    Validations.of(policy).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{curated_id}.Arn>/{item_prefix}*]", reason=item_reason
        ),
        Acknowledgment(
            id=(
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
                f":execution:{name}/*]"
            ),
            reason="Distributed Map child executions are named by Step Functions; scoped to this machine",
        ),
    )
