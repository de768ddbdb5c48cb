"""Synthetic plan data: clinics, eligibility, medical claims and attestations in the landing file formats.

Member ids start with `SYN`, TINs with the unassigned EIN prefix 97: nothing here is anyone's data.

    from cli.generate import generate_plan
    plan = generate_plan(Path("out/plan"), members=2000)
    for f in plan.files:
        upload(f.path, f.landing_key)
"""

from cli.generate.plan import (
    APC_KINDS,
    FIXED_KINDS,
    OPTIONAL_KINDS,
    GeneratedFile,
    GeneratedPlan,
    UnsupportedKindError,
    claims_frame,
    generate_claims_file,
    generate_plan,
)

__all__ = [
    "APC_KINDS",
    "FIXED_KINDS",
    "OPTIONAL_KINDS",
    "GeneratedFile",
    "GeneratedPlan",
    "UnsupportedKindError",
    "claims_frame",
    "generate_claims_file",
    "generate_plan",
]
