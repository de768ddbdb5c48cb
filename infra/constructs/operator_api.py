"""The operator API: the only way to start, recalculate, approve and mark paid a run.

An IAM-authorised REST API in front of one function (`OperateRuns`), so the stack, not the client,
records who asked: API Gateway puts the SigV4 signer's ARN in the request context. Two managed policies
come with it: `RunOperator` (start and recalculate runs, read runs and their reports) and `RunApprover`
(approve, mark paid, read payment files). Only this function may write the Approvals table or the
payments bucket.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.common import (
    FunctionSpec,
    ServiceFunction,
    StageConfig,
    acknowledge_object_wildcards,
    logical_id_of,
    protected_log_group,
)
from infra.constructs.payment_runs import BATCH_GET, CHECK, GET, PUT, QUERY, UPDATE
from infra.constructs.storage import Storage
from shared.models.tables import (
    APPROVALS_TABLE,
    GAPS_TABLE,
    REGISTRY_TABLE,
    BucketEnv,
    Prefix,
    state_machine_env,
)

OPERATOR_SPEC = FunctionSpec(
    construct_id="OperateRuns",
    handler="functions.operator.operate_runs.handler",
    description="Operator API: start, recalculate, approve and mark paid payment runs",
    timeout=Duration.seconds(29),  # API Gateway's integration limit
    memory_mb=1024,
    reserved_concurrency=5,
)
# (method, path) an operator or an approver may call; the paths are the API's resources.
OPERATOR_ROUTES = (("GET", "/runs"), ("GET", "/runs/*"), ("POST", "/runs"), ("POST", "/runs/*/recalculate"))
APPROVER_ROUTES = (
    ("GET", "/runs"),
    ("GET", "/runs/*"),
    ("POST", "/runs/*/approve"),
    ("POST", "/runs/*/mark-paid"),
)
THROTTLE_RATE, THROTTLE_BURST = 10, 20
API_REASONS = {
    "AwsSolutions-APIG2": (
        "The function validates every body with a strict model (unknown keys refused, naming the key); "
        "an API Gateway model would duplicate it."
    ),
    "AwsSolutions-APIG3": (
        "IAM-authorised operator API for a handful of the plan's own principals; a WAF adds cost and no "
        "protection SigV4 does not already give."
    ),
    "AwsSolutions-COG4": "IAM authorisation is the design: four eyes keeps the caller's IAM identity.",
    "HIPAA.Security-APIGWCacheEnabledAndEncrypted": "No cache: every answer is read fresh.",
    "HIPAA.Security-APIGWSSLEnabled": "The backend is a Lambda proxy integration, not an HTTP endpoint.",
}


class OperatorApi(Construct):
    """The operator function, its REST API and the RunOperator / RunApprover managed policies."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        config: StageConfig,
        code: lambda_.Code,
        environment: dict[str, str],
        shared_policies: list[iam.IManagedPolicy],
        state_machines: dict[str, sfn.StateMachine],
        machine_names: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._config = config
        self._machine_names = machine_names
        env = environment | {BucketEnv.PAYMENTS.value: storage.payments_bucket.bucket_name}
        env |= {state_machine_env(kind): m.state_machine_arn for kind, m in state_machines.items()}
        self.function = ServiceFunction(
            self,
            OPERATOR_SPEC,
            code=code,
            environment=env,
            config=config,
            logs_key=storage.messaging_key,
            shared_policies=shared_policies,
        )
        self._grant_function(state_machines)
        self.api = self._build_api()
        self.operator_policy = self._build_policy(
            "RunOperator",
            "Start and recalculate payment runs; read runs, statements and reports",
            OPERATOR_ROUTES,
            state_machines,
            read_payments=False,
        )
        self.approver_policy = self._build_policy(
            "RunApprover",
            "Approve and mark paid payment runs; read runs, statements and payment files",
            APPROVER_ROUTES,
            state_machines,
            read_payments=True,
        )

    def _grant_function(self, state_machines: dict[str, sfn.StateMachine]) -> None:
        fn, s = self.function, self._storage
        # Runs are read and listed; approval is a transaction that checks the run's version and puts the
        # approval; paying updates it. Clinics (payee details) are read from the gap state's index.
        fn.use_table(s.table(REGISTRY_TABLE), s.table_key, item=(GET, CHECK), index=(QUERY,))
        fn.use_table(s.table(APPROVALS_TABLE), s.table_key, item=(GET, BATCH_GET, PUT, UPDATE))
        fn.use_table(s.table(GAPS_TABLE), s.table_key, index=(QUERY,))
        fn.grant(
            [
                iam.PolicyStatement(
                    actions=["states:StartExecution"],
                    resources=[m.state_machine_arn for m in state_machines.values()],
                ),
                # Starting an execution of a machine encrypted under the messaging key.
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[s.messaging_key.key_arn]
                ),
            ]
        )
        fn.read_objects(s.curated_bucket, [Prefix.PROGRAMS], s.data_key)
        fn.read_objects(s.reports_bucket, [Prefix.RUNS], s.data_key)  # the draft payment file
        fn.read_objects(s.payments_bucket, [Prefix.PAYMENTS], s.data_key)
        fn.write_objects(s.payments_bucket, [Prefix.PAYMENTS], s.data_key)

    def _build_api(self) -> apigateway.RestApi:
        access_logs = protected_log_group(
            self, "AccessLogs", config=self._config, key=self._storage.messaging_key
        )
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{self._config.project}-{self._config.stage}-operator",
            description="Payment-run operator API (IAM-authorised)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name=self._config.stage,
                tracing_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=THROTTLE_RATE,
                throttling_burst_limit=THROTTLE_BURST,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            default_method_options=apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.IAM
            ),
        )
        api.node.default_child.override_logical_id("OperatorApi")  # type: ignore[union-attr]
        # The stack names its own outputs (OperatorApiUrl); the construct's automatic one would be a second.
        api.node.try_remove_child("Endpoint")
        integration = apigateway.LambdaIntegration(self.function.function)
        runs = api.root.add_resource("runs")
        runs.add_method("GET", integration)
        runs.add_method("POST", integration)
        one = runs.add_resource("{run_id}")
        one.add_method("GET", integration)
        for action in ("recalculate", "approve", "mark-paid"):
            one.add_resource(action).add_method("POST", integration)
        Validations.of(api).acknowledge(
            *(Acknowledgment(id=rule, reason=reason) for rule, reason in API_REASONS.items()),
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]"
                ),
                reason="API Gateway's account-level logging role, with AWS's own policy for it.",
            ),
        )
        return api

    def _build_policy(
        self,
        name: str,
        description: str,
        routes: tuple[tuple[str, str], ...],
        state_machines: dict[str, sfn.StateMachine],
        *,
        read_payments: bool,
    ) -> iam.ManagedPolicy:
        s = self._storage
        stack = Stack.of(self)
        executions = [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in self._machine_names.values()
        ]
        reads = [(s.reports_bucket, p) for p in (Prefix.STATEMENTS, Prefix.RUNS, Prefix.PREVIEWS)]
        if read_payments:
            reads.append((s.payments_bucket, Prefix.PAYMENTS))
        policy = iam.ManagedPolicy(
            self,
            name,
            description=description,
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    resources=[
                        self.api.arn_for_execute_api(method, path, self._config.stage)
                        for method, path in routes
                    ],
                ),
                # Follow the executions the API started (status, the failing step's reason).
                iam.PolicyStatement(
                    actions=["states:DescribeExecution", "states:GetExecutionHistory"], resources=executions
                ),
                iam.PolicyStatement(
                    actions=["kms:Decrypt"], resources=[s.messaging_key.key_arn, s.data_key.key_arn]
                ),
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{p}*") for bucket, p in reads],
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=sorted({bucket.bucket_arn for bucket, _ in reads}, key=str),
                ),
            ],
        )
        acknowledge_object_wildcards(policy, reads)
        api_id = logical_id_of(self.api)
        Validations.of(policy).acknowledge(
            *(
                Acknowledgment(
                    id=(
                        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
                        f"<AWS::AccountId>:<{api_id}>/{self._config.stage}/{method}{path}]"
                    ),
                    reason="Run ids are path parameters: each route is scoped to its method and action.",
                )
                for method, path in routes
                if "*" in path
            ),
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{name}:*]",
                    reason="Execution names are made per start; scoped to this stack's run state machines.",
                )
                for name in self._machine_names.values()
            ),
        )
        return policy
