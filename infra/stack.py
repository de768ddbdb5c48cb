"""The P4P stack: it only composes the constructs, wires their shared inputs and names the outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.constructs.common import StageConfig
from infra.constructs.ingest_fan_out import MACHINE_ID, IngestFanOut
from infra.constructs.ingestion import Ingestion
from infra.constructs.lambda_code import function_code
from infra.constructs.monitoring import Monitoring
from infra.constructs.operator_api import OperatorApi
from infra.constructs.payment_runs import PaymentRuns, machine_id
from infra.constructs.policies import SharedPolicies
from infra.constructs.storage import Storage
from shared.models.tables import (
    APPROVALS_TABLE,
    DEFAULT_SHARD_SIZE,
    FAN_OUT_STATE_MACHINE_ENV,
    GAPS_TABLE,
    LEDGER_TABLE,
    MEMBER_BUCKETS_ENV,
    PLAN_ID_ENV,
    REGISTRY_TABLE,
    RUN_KINDS,
    SHARD_SIZE_ENV,
    STAGE_ENV,
    BucketEnv,
)


class P4PStack(Stack):
    """Storage, ingestion, payment runs and monitoring for one stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        package_assets: bool,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        storage = Storage(self, "Storage", config=config)
        policies = SharedPolicies(self, "SharedPolicies")
        code = function_code(package_assets=package_assets)
        environment = self._environment(storage, config)
        ingestion = Ingestion(
            self,
            "Ingestion",
            storage=storage,
            config=config,
            code=code,
            environment=environment,
            shared_policies=[policies.xray],
        )
        fan_out = IngestFanOut(
            self,
            "IngestFanOut",
            storage=storage,
            config=config,
            code=code,
            environment=environment,
            shared_policies=[policies.xray],
            log_delivery_policy=policies.log_delivery,
        )
        # Only the ingest function hands files to the fan-out.
        fan_out.let_start(ingestion.ingest)
        ingestion.ingest.function.add_environment(
            FAN_OUT_STATE_MACHINE_ENV, fan_out.state_machine.state_machine_arn
        )
        runs = PaymentRuns(
            self,
            "PaymentRuns",
            storage=storage,
            config=config,
            code=code,
            environment=environment,
            shared_policies=[policies.xray],
            log_delivery_policy=policies.log_delivery,
        )
        operator = OperatorApi(
            self,
            "Operator",
            storage=storage,
            config=config,
            code=code,
            environment=environment,
            shared_policies=[policies.xray],
            state_machines=runs.state_machines,
            machine_names={spec.kind: runs.machine_name(spec) for spec in RUN_KINDS},
        )
        functions = {"IngestFile": ingestion.ingest.function, "OperateRuns": operator.function.function} | {
            name: fn.function for name, fn in (runs.functions | fan_out.functions).items()
        }
        monitoring = Monitoring(
            self,
            "Monitoring",
            key=storage.messaging_key,
            dlq=ingestion.dlq,
            state_machines={machine_id(spec): runs.state_machines[spec.kind] for spec in RUN_KINDS}
            | {MACHINE_ID: fan_out.state_machine},
            functions=functions,
        )
        self._outputs(storage, ingestion, runs, operator, monitoring, config)

    @staticmethod
    def _environment(storage: Storage, config: StageConfig) -> dict[str, str]:
        return {
            STAGE_ENV: config.stage,
            BucketEnv.LANDING.value: storage.landing_bucket.bucket_name,
            BucketEnv.CURATED.value: storage.curated_bucket.bucket_name,
            BucketEnv.REPORTS.value: storage.reports_bucket.bucket_name,
            GAPS_TABLE.env_var: storage.table(GAPS_TABLE).table_name,
            LEDGER_TABLE.env_var: storage.table(LEDGER_TABLE).table_name,
            REGISTRY_TABLE.env_var: storage.table(REGISTRY_TABLE).table_name,
            APPROVALS_TABLE.env_var: storage.table(APPROVALS_TABLE).table_name,
            SHARD_SIZE_ENV: str(DEFAULT_SHARD_SIZE),
            PLAN_ID_ENV: config.plan_id,
            MEMBER_BUCKETS_ENV: str(config.member_buckets),
            "POWERTOOLS_SERVICE_NAME": config.project,
            "POWERTOOLS_METRICS_NAMESPACE": config.project.upper(),
            "LOG_LEVEL": "INFO",
        }

    def _outputs(
        self,
        storage: Storage,
        ingestion: Ingestion,
        runs: PaymentRuns,
        operator: OperatorApi,
        monitoring: Monitoring,
        config: StageConfig,
    ) -> None:
        values = {
            "LandingBucketName": storage.landing_bucket.bucket_name,
            "CuratedBucketName": storage.curated_bucket.bucket_name,
            "ReportsBucketName": storage.reports_bucket.bucket_name,
            "GapsTableName": storage.table(GAPS_TABLE).table_name,
            "LedgerTableName": storage.table(LEDGER_TABLE).table_name,
            "RegistryTableName": storage.table(REGISTRY_TABLE).table_name,
            "ApprovalsTableName": storage.table(APPROVALS_TABLE).table_name,
            "PaymentsBucketName": storage.payments_bucket.bucket_name,
            "IngestQueueUrl": ingestion.queue.queue_url,
            "IngestDlqUrl": ingestion.dlq.queue_url,
            "OperatorApiUrl": operator.api.url,
            "OperatorFunctionName": operator.function.function.function_name,
            "RunOperatorPolicyArn": operator.operator_policy.managed_policy_arn,
            "RunApproverPolicyArn": operator.approver_policy.managed_policy_arn,
            "AlarmTopicArn": monitoring.topic.topic_arn,
            # Not a secret or a resource: the bucket count the operator's CLI writes attribution parts in.
            "MemberBuckets": str(config.member_buckets),
        } | {spec.output_key: runs.state_machines[spec.kind].state_machine_arn for spec in RUN_KINDS}
        for key, value in values.items():
            CfnOutput(self, key, value=value)
