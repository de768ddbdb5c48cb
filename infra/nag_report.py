"""`make nag`: the cdk-nag packs' verdict on each stage, with every acknowledgment and its reason.

Synthesis already fails on an unacknowledged finding (the packs are validation plugins); this prints
what was checked so a reviewer can read it.
"""

from __future__ import annotations

import sys
import tempfile

import aws_cdk as cdk

from infra.app import STAGES, build_app
from infra.nag import nag_packs


def report(stage: str) -> int:
    """Print one stage's report; returns the number of unacknowledged findings."""
    with tempfile.TemporaryDirectory() as outdir:
        app = build_app({"stage": stage}, package_assets=False, nag=False, outdir=outdir)
        app.synth()
        unacknowledged = 0
        print(f"stage {stage}")
        for pack in nag_packs(app):
            result = pack.validate_scope(app)
            violations = result.violations
            findings = [
                f"{v.rule_name} at {r.construct_path}" for v in violations for r in v.violating_resources
            ]
            unacknowledged += len(findings)
            print(f"  {pack.read_pack_name}: {len(findings)} unacknowledged finding(s)")
            for finding in findings:
                print(f"    {finding}")
        acknowledged = [
            (node.node.path, rule, reason)
            for node in app.node.find_all()
            for entry in node.node.metadata
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
            for rule, reason in entry.data.items()
        ]
        print(f"  acknowledged: {len(acknowledged)}")
        for path, rule, reason in acknowledged:
            print(f"    {rule} at {path}: {reason}")
    return unacknowledged


def main() -> None:
    """Report every stage; exit 1 if any finding is unacknowledged."""
    sys.exit(1 if sum(report(stage) for stage in STAGES) else 0)


if __name__ == "__main__":
    main()
