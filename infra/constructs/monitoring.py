"""One alarm topic and the alarms that matter: dead letters, failed runs, function errors."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """Every alarm notifies the same KMS-encrypted, TLS-only SNS topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        dlq: sqs.IQueue,
        state_machines: Mapping[str, sfn.IStateMachine],
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic(key)
        self._action = actions.SnsAction(self.topic)
        self._build_dlq_alarm(dlq)
        for name, machine in state_machines.items():
            self._alarm(
                f"{name}FailedAlarm",
                machine.metric_failed(period=PERIOD, statistic="Sum"),
                f"A {name} execution failed",
            )
            self._alarm(
                f"{name}TimedOutAlarm",
                machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                f"A {name} execution timed out",
            )
        for name, function in functions.items():
            self._alarm(
                f"{name}ErrorsAlarm",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function raised errors",
            )

    def _build_topic(self, key: kms.IKey) -> sns.Topic:
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        topic.node.default_child.override_logical_id("AlarmTopic")  # type: ignore[union-attr]
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
            )
        )
        return topic

    def _build_dlq_alarm(self, dlq: sqs.IQueue) -> None:
        self._alarm(
            "IngestDlqDepthAlarm",
            dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            "Landed files reached the ingest dead-letter queue",
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        return alarm
