"""The cdk-nag packs this project holds itself to, registered as CDK validation plugins (cdk-nag v3)."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, ServerlessChecks


def nag_packs(app: App) -> list[NagPack]:
    """AwsSolutions, HIPAA Security and Serverless: the packs a plan's security review asks about."""
    return [AwsSolutionsChecks(app), HIPAASecurityChecks(app), ServerlessChecks(app)]


def add_nag_packs(app: App) -> None:
    """Fail synthesis on any finding that is not acknowledged with a reason."""
    Validations.of(app).add_plugins(*nag_packs(app))
