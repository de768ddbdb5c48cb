"""The CDK app: `python -m infra.app` (what `cdk synth` runs) and `synth_template` (tests, local runtime).

Stage and names come from CDK context (`-c stage=prod -c project=p4p`), with cdk.json's context as defaults.
Two more context values are deployment settings a plan reviews before its first deploy:

- `retention_days`: how long the ledger's monthly backups, statements' old versions, payment files (their
  Object Lock in prod) and the log groups and access logs are kept. cdk.json maps it by stage (prod 2557 days,
  seven years; dev 30); `-c retention_days=3653` sets it for the stage being deployed.
- `member_id_pattern`: the regex of the plan's member ids, masked in every log group (default `SYN\\d{8}`, the
  ids `p4p generate` makes). At most 200 characters, no parentheses, quotes or colons (CloudWatch Logs'
  custom data identifier rules); synthesis refuses one it would not take.
- `plan_id`: the deploying plan's id, the payer of every ledger entry no file names another payer for
  (default `plan`).
- `member_buckets`: how many member buckets curated claims, rosters and attribution tables are filed in,
  about one per 100,000 members (1 to 999; default 128, for up to about 12M members; docs/apc.md "Limits and
  scale"). Changing it re-files nothing: files under the old count are read whole and filtered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.constructs.common import StageConfig
from infra.nag import add_nag_packs
from infra.stack import P4PStack

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("dev", "prod")


def default_context() -> dict[str, Any]:
    """cdk.json's context: the feature flags and default stage/project the CLI would pass."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def stack_name(context: dict[str, Any]) -> str:
    """`<project>-<stage>`, e.g. `p4p-dev`."""
    return f"{context['project']}-{context['stage']}"


def build_app(
    context: dict[str, Any] | None = None,
    *,
    package_assets: bool = True,
    nag: bool = True,
    outdir: str | None = None,
) -> cdk.App:
    """Build the app with its one stack; `nag` registers the cdk-nag packs as validation plugins."""
    # Context given here is a default: the CDK CLI's `-c` values (and cdk.json) take precedence over it.
    app = cdk.App(context={**default_context(), **(context or {})}, outdir=outdir)
    stage = str(app.node.try_get_context("stage") or "dev")
    project = str(app.node.try_get_context("project") or "p4p")
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    config = StageConfig.from_context(stage, project, app.node.try_get_context)
    P4PStack(
        app,
        stack_name({"project": project, "stage": stage}),
        config=config,
        package_assets=package_assets,
        description=f"P4P incentive engine ({stage})",
    )
    if nag:
        add_nag_packs(app)
    return app


def synth_template(
    stage: str = "dev", package_assets: bool = False, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The synthesized CloudFormation template of the main stack, as a dict (`context`: more CDK context,
    e.g. `{"member_buckets": 1}`)."""
    app = build_app({**(context or {}), "stage": stage}, package_assets=package_assets, nag=False)
    name = stack_name({"project": app.node.try_get_context("project"), "stage": stage})
    return dict(app.synth().get_stack_by_name(name).template)


def main() -> None:
    """Synthesize (the CLI's entry point); the nag packs fail synthesis on unacknowledged findings."""
    build_app().synth()


if __name__ == "__main__":
    main()
