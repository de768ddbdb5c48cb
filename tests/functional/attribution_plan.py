"""A small APC plan for the monthly attribution job, as the files it would drop (docs/file-specs.md).

K1 (FFS+) and K2 (basic capitation) are participating practices; K3 is on no APC track. March 2026:
- A1, HMO, selected PCP 2000000002 of K2: `selected_pcp`, K2.
- A2, PPO (PCP at K2 ignored): two K1 visits by 1000000004 (June and September 2025, $250.00), one K2 visit in
  January ($90.00); a psychologist's visit and an emergency-room visit at K1 do not count: `claims`, K1,
  runner-up K2.
- A3, HMO whose PCP is at K3: claims; one K2 visit ($80.00); K3's visits do not count, nor one by
  2000000010, who left K2 on 28 February: `claims`, K2, no runner-up.
- A4, EPO, one K1 visit that a later file voids: `unattributed`.
- A5, PPO, a K1 visit replaced twice: the later-received replacement (at K2, $75.00) stands: `claims`, K2.
- A6 left the plan on 28 February: not in March's table.
"""

from __future__ import annotations

CLINICS_CSV = (
    "clinic_id,tin,npi,clinic_name,lines_of_business,program,program_enrollment_date,track,practice_type,"
    "apc_payment_track\n"
    """K1,111111111,1234567893,Harbor Family Clinic,MC|HW|COMM,care_gap,2025-01-01,family_adult,mixed,ffs_plus
K2,222222222,1234567893,Bayside Adult Medicine,MC|COMM,care_gap,2025-01-01,family_adult,adult,basic_capitation
K3,333333333,1234567893,Hillside Clinic,MC,care_gap,2025-01-01,family_adult,mixed,none
"""
)

PROVIDERS_CSV = """npi,practice_id,taxonomy_code,specialty,primary_care,effective_date,termination_date
1000000004,K1,207Q00000X,Family Medicine,true,2024-01-01,
1000000012,K1,103T00000X,Psychologist,false,2024-01-01,
2000000002,K2,207R00000X,Internal Medicine,true,2024-01-01,
2000000010,K2,207R00000X,Internal Medicine,true,2024-01-01,2026-02-28
3000000000,K3,207Q00000X,Family Medicine,true,2024-01-01,
"""

ELIGIBILITY_CSV = (
    "member_id,birth_date,gender,line_of_business,product,assigned_clinic_id,pcp_npi,enrollment_start_date,"
    "enrollment_end_date\n"
    """A1,1970-01-01,F,HW,commercial_hmo,K2,2000000002,2025-01-01,
A2,1971-02-02,M,COMM,commercial_ppo,K2,2000000002,2025-01-01,
A3,1972-03-03,F,HW,commercial_hmo,K3,3000000000,2025-01-01,
A4,1973-04-04,M,COMM,commercial_epo,K1,,2025-01-01,
A5,1974-05-05,F,COMM,commercial_ppo,K1,,2025-01-01,
A6,1975-06-06,M,COMM,commercial_ppo,K1,,2025-01-01,2026-02-28
"""
)

_CLAIMS_HEADER = (
    "claim_id,claim_line_number,claim_frequency_code,original_claim_id,member_id,claim_start_date,claim_end_date,"
    "received_date,hcpcs_code,diagnosis_code_1,place_of_service_code,rendering_npi,allowed_amount\n"
)
CLAIMS_EARLY_CSV = _CLAIMS_HEADER + (
    "C201,1,1,,A2,2025-06-10,2025-06-10,2025-06-20,99213,Z0000,11,1000000004,100.00\n"
    "C202,1,1,,A2,2025-09-01,2025-09-01,2025-09-10,99396,Z0000,11,1000000004,150.00\n"
    "C203,1,1,,A2,2026-01-15,2026-01-15,2026-01-25,99213,Z0000,11,2000000002,90.00\n"
    "C204,1,1,,A2,2026-01-16,2026-01-16,2026-01-26,99213,Z0000,11,1000000012,95.00\n"
    "C205,1,1,,A2,2025-12-01,2025-12-01,2025-12-09,99213,Z0000,23,1000000004,300.00\n"
    "C301,1,1,,A3,2026-02-01,2026-02-01,2026-02-10,99214,Z0000,11,2000000002,80.00\n"
    "C302,1,1,,A3,2026-02-02,2026-02-02,2026-02-10,99213,Z0000,11,3000000000,80.00\n"
    "C303,1,1,,A3,2026-02-03,2026-02-03,2026-02-10,99213,Z0000,11,3000000000,80.00\n"
    "C304,1,1,,A3,2026-01-10,2026-01-10,2026-01-20,99213,Z0000,11,2000000010,80.00\n"
    "C401,1,1,,A4,2026-01-05,2026-01-05,2026-01-10,99213,Z0000,11,1000000004,70.00\n"
    "C501,1,1,,A5,2026-01-20,2026-01-20,2026-01-25,99213,Z0000,11,1000000004,60.00\n"
)
CLAIMS_VERSIONS_CSV = _CLAIMS_HEADER + (
    "C402,1,8,C401,A4,2026-01-05,2026-01-05,2026-03-05,99213,Z0000,11,1000000004,0.00\n"
    "C502,1,7,C501,A5,2026-01-20,2026-01-20,2026-03-02,99213,Z0000,11,1000000004,60.00\n"
    "C503,1,7,C501,A5,2026-01-20,2026-01-20,2026-03-10,99213,Z0000,11,2000000002,75.00\n"
)

FILES = {
    "landing/clinics/clinics-2026-01.csv": CLINICS_CSV,
    "landing/providers/providers-2026-01.csv": PROVIDERS_CSV,
    "landing/eligibility/roster-2026-03.csv": ELIGIBILITY_CSV,
    "landing/medical_claims/claims-2026-02.csv": CLAIMS_EARLY_CSV,
    "landing/medical_claims/claims-2026-03.csv": CLAIMS_VERSIONS_CSV,
}
"""In the order a plan sends them: reference data, the roster, then claims."""

MARCH = {
    "A1": ("K2", "2000000002", "selected_pcp", 0),
    "A2": ("K1", "1000000004", "claims", 2),
    "A3": ("K2", "2000000002", "claims", 1),
    "A4": (None, None, "unattributed", 0),
    "A5": ("K2", "2000000002", "claims", 1),
}
"""March 2026 by member: practice, provider, rule, visits counted."""
