"""Code pools for synthetic claims: real CPT/HCPCS and ICD-10-CM codes with rough allowed amounts.

Weights and fees are plausible, not sourced from any plan: they only have to make the files look like a
primary-care population (mostly office visits, some preventive care and labs) and exercise the measures.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pool:
    """Codes drawn with weights; fees are allowed amounts in cents (0 for CPT II reporting codes)."""

    codes: tuple[str, ...]
    weights: tuple[float, ...]
    fees_cents: tuple[int, ...]


def _pool(*rows: tuple[str, float, int]) -> Pool:
    return Pool(
        codes=tuple(r[0] for r in rows),
        weights=tuple(r[1] for r in rows),
        fees_cents=tuple(r[2] for r in rows),
    )


OFFICE_VISIT = _pool(
    ("99213", 0.50, 9200), ("99214", 0.33, 13100), ("99212", 0.10, 5700), ("99215", 0.07, 18400)
)
ER_VISIT = _pool(("99283", 0.45, 14800), ("99284", 0.40, 25100), ("99285", 0.15, 36800))

# Preventive E/M codes by age band, established patients (the large majority).
PREVENTIVE_BY_AGE: tuple[tuple[int, str, int], ...] = (
    (0, "99391", 11000),
    (5, "99392", 11800),
    (12, "99393", 11700),
    (18, "99394", 12800),
    (40, "99395", 13200),
    (65, "99397", 14500),
)
ANNUAL_WELLNESS = _pool(("G0439", 0.85, 13300), ("G0438", 0.15, 17400))

# Extra lines on an office or preventive visit.
VISIT_EXTRAS = _pool(
    ("36415", 0.30, 300),  # venipuncture
    ("96127", 0.15, 500),  # brief emotional/behavioural assessment
    ("G8431", 0.08, 0),  # depression screen positive, plan documented
    ("G8510", 0.12, 0),  # depression screen negative
    ("90471", 0.10, 2500),  # immunization administration
    ("90686", 0.08, 2100),  # influenza vaccine
    ("93000", 0.07, 1700),  # ECG
    ("81002", 0.10, 300),  # urinalysis
)
LAB_TESTS = _pool(
    ("80053", 0.16, 1100),  # comprehensive metabolic panel
    ("80061", 0.14, 1400),  # lipid panel
    ("85025", 0.16, 800),  # CBC
    ("83036", 0.10, 1000),  # HbA1c
    ("84443", 0.09, 1700),  # TSH
    ("82043", 0.05, 600),  # urine albumin
    ("82570", 0.05, 500),  # urine creatinine
    ("87491", 0.05, 3500),  # chlamydia NAA
    ("82306", 0.06, 3000),  # vitamin D
    ("80048", 0.08, 800),  # basic metabolic panel
    ("83655", 0.02, 1200),  # lead
    ("87880", 0.04, 1200),  # rapid strep
)
# Screening mammography and its friends; tomosynthesis is an add-on line.
MAMMOGRAPHY_PRIMARY = _pool(("77067", 0.88, 13500), ("77066", 0.06, 16900), ("77065", 0.06, 13200))
MAMMOGRAPHY_TOMOSYNTHESIS = ("77063", 5000)

# CPT II result codes (reported, not paid).
SYSTOLIC = _pool(("3074F", 0.55, 0), ("3075F", 0.30, 0), ("3077F", 0.15, 0))
DIASTOLIC = _pool(("3078F", 0.60, 0), ("3079F", 0.28, 0), ("3080F", 0.12, 0))
HBA1C = _pool(("3044F", 0.40, 0), ("3051F", 0.25, 0), ("3052F", 0.20, 0), ("3046F", 0.15, 0))

# Chronic conditions a member may carry; (code, adult prevalence). Listed most to least common.
CHRONIC_ADULT: tuple[tuple[str, float], ...] = (
    ("I10", 0.24),  # essential hypertension
    ("E785", 0.18),  # hyperlipidemia
    ("E119", 0.09),  # type 2 diabetes without complications
    ("F329", 0.07),  # major depressive disorder
    ("J45909", 0.05),  # asthma
    ("I2510", 0.04),  # atherosclerotic heart disease
    ("F1120", 0.012),  # opioid dependence
)
CHRONIC_CHILD: tuple[tuple[str, float], ...] = (("J45909", 0.08), ("F909", 0.04))
ACUTE_DX = _pool(
    ("J069", 0.20, 0),
    ("R051", 0.10, 0),
    ("M545", 0.12, 0),
    ("K219", 0.08, 0),
    ("N390", 0.07, 0),
    ("J029", 0.09, 0),
    ("L309", 0.06, 0),
    ("R509", 0.06, 0),
    ("M25561", 0.06, 0),
    ("H6690", 0.08, 0),
    ("Z09", 0.08, 0),
)
ADULT_EXAM_DX = ("Z0000", "Z0001")
CHILD_EXAM_DX = ("Z00129", "Z00121")
MAMMOGRAPHY_DX = _pool(("Z1231", 0.9, 0), ("N632", 0.05, 0), ("R922", 0.05, 0))
LAB_DX = _pool(("Z1322", 0.25, 0), ("Z136", 0.2, 0), ("Z131", 0.2, 0), ("R7309", 0.15, 0), ("D649", 0.2, 0))
