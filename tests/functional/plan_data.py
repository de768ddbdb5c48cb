"""A tiny plan as the files it would drop in the landing bucket (layouts of docs/file-specs.md).

K1 and K2 are Care Gap clinics (K1 adopted early enough for the bonus), K3 is on Benchmark P4P.
M1: schedule attested in February, screening attested in March, claim received in April.
M2: no attestations; a mammogram by an outside provider, received in March (Q10 + Q15).
M3: too young.  M4: moved K2 → K1 on March 1; screened in February, claim received in March (credit K2).
M5: a man with a mammogram code on a claim.
"""

from __future__ import annotations

CLINICS_HEADER = (
    "clinic_id,tin,npi,clinic_name,lines_of_business,program,program_enrollment_date,track,practice_type,"
    "apc_payment_track\n"
)
CLINICS_CSV = (
    CLINICS_HEADER
    + """K1,111111111,1234567893,Harbor Family Clinic,CA|MC|HW,care_gap,2026-01-15,family_adult,mixed,none
K2,222222222,1234567893,Bayside Adult Medicine,MC,care_gap,2025-11-01,family_adult,adult,ffs_plus
K3,333333333,1234567893,Hillside Pediatrics,MC,benchmark,2025-01-01,pediatric,pediatric,none
"""
)

ELIGIBILITY_HEADER = (
    "member_id,birth_date,gender,line_of_business,assigned_clinic_id,"
    "enrollment_start_date,enrollment_end_date\n"
)
ELIGIBILITY_CSV = (
    ELIGIBILITY_HEADER
    + """M1,1965-04-10,F,MC,K1,2025-01-01,
M2,1970-08-01,F,CA,K1,2025-06-01,
M3,1990-02-02,F,MC,K1,2025-01-01,
M4,1960-12-12,F,MC,K2,2025-01-01,2026-02-28
M4,1960-12-12,F,MC,K1,2026-03-01,
M5,1962-03-03,M,MC,K3,2025-01-01,
"""
)

ATTESTATIONS_CSV = """attestation_id,clinic_id,member_id,action_code,step,action_date,attested_by
AT-1,K1,M1,BCS-E,schedule,2026-02-10,user-7
AT-2,K1,M1,BCS-E,perform,2026-03-05,user-7
"""

CLAIMS_HEADER = (
    "claim_id,claim_line_number,claim_frequency_code,member_id,claim_start_date,claim_end_date,received_date,"
    "hcpcs_code,diagnosis_code_1,rendering_npi\n"
)
CLAIMS_CSV = (
    CLAIMS_HEADER
    + """CL100,1,1,M1,2026-03-05,2026-03-05,2026-04-02,77067,Z1231,1234567893
CL200,1,1,M2,2026-03-01,2026-03-01,2026-03-20,G0202,Z1231,1234567893
CL200,2,1,M2,2026-03-01,2026-03-01,2026-03-20,99213,Z1231,1234567893
CL300,1,1,M3,2026-03-03,2026-03-03,2026-03-15,77067,Z1231,1234567893
CL400,1,1,M4,2026-02-20,2026-02-20,2026-03-10,77067,Z1231,1234567893
CL500,1,1,M5,2026-03-03,2026-03-03,2026-03-15,77067,Z1231,1234567893
"""
)

FILES = {
    "landing/clinics/clinics-2026-03.csv": CLINICS_CSV,
    "landing/eligibility/roster-2026-03.csv": ELIGIBILITY_CSV,
    "landing/attestations/app-export-2026-03.csv": ATTESTATIONS_CSV,
    "landing/medical_claims/claims-2026-04.csv": CLAIMS_CSV,
}

# A void of M2's March claim, received in April: K1's next run reverses M2's three steps.
VOID_CL200 = (
    CLAIMS_HEADER.replace("claim_frequency_code,", "claim_frequency_code,original_claim_id,")
    + "CL200V,1,8,CL200,M2,2026-03-01,2026-03-01,2026-04-10,G0202,Z1231,1234567893\n"
)
