"""Customer-managed policies shared by several roles, each for an API that has no resource-level scoping."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct


class SharedPolicies(Construct):
    """X-Ray trace upload (every function and machine) and CloudWatch Logs delivery (state machines)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.xray = iam.ManagedPolicy(
            self,
            "XRayWrite",
            description="Upload X-Ray traces",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    resources=["*"],
                )
            ],
        )
        Validations.of(self.xray).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray's trace upload actions support no resource-level permissions.",
            )
        )
        self.log_delivery = iam.ManagedPolicy(
            self,
            "LogDelivery",
            description="Let Step Functions deliver execution logs to CloudWatch Logs",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogDelivery",
                        "logs:GetLogDelivery",
                        "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery",
                        "logs:ListLogDeliveries",
                        "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups",
                    ],
                    resources=["*"],
                )
            ],
        )
        Validations.of(self.log_delivery).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Step Functions log delivery (vended logs) needs these actions on '*', per AWS docs.",
            )
        )
