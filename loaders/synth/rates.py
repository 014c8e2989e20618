"""Proportions behind synthetic England, each with its published source or marked as an assumption."""

# -- population -------------------------------------------------------------------------------

# ONS mid-2022 population estimates: about 12.0 million people aged 0-17 live in England.
ENGLAND_CHILDREN = 12_000_000

# ONS "Families and households in the UK: 2022": families with dependent children have 1.7 of
# them on average. Shares for 1..5 children are rounded so the mean is ~1.72; capped at five.
HOUSEHOLD_CHILDREN_P = (0.47, 0.39, 0.10, 0.03, 0.01)

# ONS "Families and households in the UK: 2022": about 24% of families with dependent children
# are lone-parent families.
LONE_PARENT_SHARE = 0.24
# ONS "Families and households in the UK: 2022": about 85% of lone parents are mothers.
LONE_MOTHER_SHARE = 0.85
# Kinship (charity) analysis of Census 2021: ~141,000 children in kinship care in England and
# Wales, ~1.2% of children; most live with grandparents.
KINSHIP_HOUSEHOLD_SHARE = 0.012
# Assumption: a fifth of kinship carers hold a special guardianship order (and so parental
# responsibility); DfE reports SGOs but not their share of all kinship households.
SPECIAL_GUARDIAN_SHARE = 0.2
# Assumption: ~1% of couple families with children are same-sex couples (ONS reports
# same-sex couple families as around 1% of couple families).
SAME_SEX_COUPLE_SHARE = 0.01
# Assumption: a younger sibling has a different family name (a half-sibling) 10% of the time.
HALF_SIBLING_SHARE = 0.10
# Assumption: 1% of children carry a former name (a change after adoption, or a parent's).
FORMER_NAME_SHARE = 0.01
# ONS births in England and Wales: about 105 boys are born per 100 girls.
MALE_SHARE = 105 / 205
# Assumption: gender is not yet recorded for a few newborns, withheld for fewer.
GENDER_NOT_KNOWN_SHARE = 0.001
GENDER_NOT_SPECIFIED_SHARE = 0.0005
# Assumption: ContactPoint recorded "no known address" and "left England" statuses; no
# published count, so small shares of households.
NO_KNOWN_ADDRESS_SHARE = 0.0005
LEFT_ENGLAND_SHARE = 0.001
# Assumption: 30% of carers give no email address, 5% no phone.
CARER_NO_EMAIL_SHARE = 0.30
CARER_NO_PHONE_SHARE = 0.05

# -- moves ------------------------------------------------------------------------------------

# Assumption (the project's design target): ~10% moving address a year. As a Poisson rate, 1 - exp(-0.105)
# = 10% of households move at least once in a year.
MOVE_RATE_PER_YEAR = 0.105
# Residence history reaches this far back (whole years before as_of).
HISTORY_YEARS = 3
# Assumption (project brief): ~22% of moves cross an authority boundary, most to a
# neighbouring authority, the rest elsewhere in the same region.
CROSS_AUTHORITY_MOVE_SHARE = 0.22
NEIGHBOUR_MOVE_SHARE = 0.75
NEIGHBOURS = 5
# Assumption: 12% of homes are flats ("Flat 3, Rosewood House" with the street on line 2).
FLAT_SHARE = 0.12

# -- plans (stock at as_of) -------------------------------------------------------------------

# DfE "Characteristics of children in need 2023": 50,010 children on a child protection plan
# at 31 March 2023, 41.6 per 10,000 children.
CP_PLAN_RATE = 41.6 / 10_000
# DfE "Children looked after in England including adoptions 2023": 83,840 children looked
# after at 31 March 2023, 71 per 10,000.
LOOKED_AFTER_RATE = 71 / 10_000
# DfE "Characteristics of children in need 2023": 403,090 children in need at 31 March 2023,
# 342.7 per 10,000. That count includes children on CP plans and looked after, so the
# child_in_need plan kind takes only the remainder.
CHILDREN_IN_NEED_RATE = 342.7 / 10_000
CIN_PLAN_RATE = CHILDREN_IN_NEED_RATE - CP_PLAN_RATE - LOOKED_AFTER_RATE
# Assumption: no national statistic counts open early help (CAF/EHA) episodes; 2% of children.
EARLY_HELP_RATE = 0.02

# Ended episodes per open one per year (plans ended within the last PLAN_LOOKBACK_YEARS).
# DfE CIN 2023: about as many CP plans end in a year as are open at 31 March (~50,000).
# DfE CLA 2023: about 31,000 children cease to be looked after a year vs 83,840 looked after
# at 31 March (0.38).
# CIN and early help: assumptions.
ENDED_PER_OPEN_PER_YEAR = {"cp_plan": 1.0, "looked_after": 0.38, "child_in_need": 0.9, "early_help": 1.0}
PLAN_LOOKBACK_YEARS = 2
# Mean length of an episode in days. Assumptions informed by DfE CIN/CLA duration tables
# (most CP plans last under a year; looked-after episodes last years).
PLAN_MEAN_DAYS = {"cp_plan": 300, "looked_after": 900, "child_in_need": 250, "early_help": 180}
# Working Together 2023: a transfer-in CP conference within 15 working days of the move.
TRANSFER_IN_DAYS = 21
# Assumption: after a cross-authority move, 40% of plans still sit with the old authority
# (the signposting failure serious case reviews describe).
PLAN_NOT_TRANSFERRED_SHARE = 0.4

# DfE CLA 2023 ages at 31 March, approximately: under 1 5%, 1-4 13%, 5-9 17%, 10-15 39%,
# 16-17 26%, as (upper age, share); casework.py turns them into weights per year of age.
LAC_AGE_BANDS = ((1, 0.05), (5, 0.13), (10, 0.17), (16, 0.39), (18, 0.26))
# DfE CLA 2023 placement types: ~68% foster placements (about a fifth of them with relatives
# or friends), ~7% placed with parents; the rest children's homes, adoption and other.
LAC_FOSTER_SHARE = 0.68
LAC_KINSHIP_FOSTER_SHARE = 0.18
LAC_WITH_PARENTS_SHARE = 0.07
# DfE "Children looked after: a focus on placement location" 2024: about 4 in 10 children
# looked after are placed outside their authority's boundary.
LAC_OUT_OF_AREA_SHARE = 0.4

# -- shielding --------------------------------------------------------------------------------

# ContactPoint held ~52,000 shielded records of ~11 million children (its published figures): 0.47%.
SHIELDED_RATE = 52_000 / 11_000_000
# Assumption: most shielding follows flight from domestic abuse, so 70% of shielded households
# moved in the last two years and were shielded on arrival.
SHIELDED_AFTER_MOVE_SHARE = 0.7
# Assumption: one in ten shielding decisions has since been lifted (a shielded=false row).
SHIELDING_LIFTED_RATE = 0.1 * SHIELDED_RATE

# -- schools and GPs --------------------------------------------------------------------------

# DfE "Schools, pupils and their characteristics 2022/23": ~24,400 schools and ~9.1m pupils
# in England: ~16,800 state-funded primary, ~3,450 state-funded secondary, ~1,000 special,
# ~2,400 independent; ~6.5% of pupils attend independent and ~1.7% special schools.
NATIONAL_PRIMARY_SCHOOLS = 16_800
NATIONAL_SECONDARY_SCHOOLS = 3_450
NATIONAL_SPECIAL_SCHOOLS = 1_000
NATIONAL_INDEPENDENT_SCHOOLS = 2_400
INDEPENDENT_PUPIL_SHARE = 0.065
SPECIAL_PUPIL_SHARE = 0.017
# DfE "Elective home education" autumn term 2023/24: ~92,000 children, ~1% of school age.
HOME_EDUCATED_SHARE = 0.01
# Assumption: 4% of school-age children on a current plan are on no school roll (the
# "missing from education" pattern reviews keep finding).
PLAN_OFF_ROLL_SHARE = 0.04
# Assumption: 6% of children moving authority have no new school place yet (if recent).
NO_SCHOOL_AFTER_MOVE_SHARE = 0.06
# Assumption: a move within an authority changes school 30% and GP practice 15% of the time.
SCHOOL_CHANGE_ON_LOCAL_MOVE = 0.3
GP_CHANGE_ON_LOCAL_MOVE = 0.15
# NHS Digital "Patients registered at a GP practice" 2023: ~6,300 practices in England.
NATIONAL_GP_PRACTICES = 6_300
# Assumption: 0.5% of children have no current GP registration.
GP_UNREGISTERED_SHARE = 0.005

# -- involvements (share of eligible children with one in the history window) ---------------

# Assumption: school nurses actively work with 8% of school-age children.
SCHOOL_NURSING_SHARE = 0.08
# Assumption: 1% of children aged 8+ have a police safeguarding involvement.
POLICE_SHARE = 0.01
# YJB "Youth justice statistics 2022/23": ~13,700 children cautioned or sentenced, ~0.25% of
# 10-17 year olds.
YOUTH_JUSTICE_SHARE = 0.0025
# Assumption: 2.5% of 5-17 year olds are open to CAMHS (the order of magnitude of NHS
# Digital MHSDS open referrals for under-18s).
CAMHS_SHARE = 0.025
# Assumption: 1% of 13-17 year olds are seen by a sexual health service.
SEXUAL_HEALTH_SHARE = 0.01
# OHID "Young people's substance misuse treatment statistics 2022 to 2023": about 11,000
# under-18s in treatment, ~0.28% of 12-17 year olds.
SUBSTANCE_MISUSE_SHARE = 0.0028
# Assumption: 1.5% of children are supported by a voluntary-sector service.
VOLUNTARY_SHARE = 0.015
# DLUHC "Statutory homelessness in England" June 2023: ~131,000 children in temporary
# accommodation, ~1.1% of children.
HOUSING_SHARE = 0.011
# Assumption: consent to share is recorded for 60% of CAMHS, 40% of sexual health and 50% of
# substance misuse involvements.
CONSENT_SHARE = {"camhs": 0.6, "sexual_health": 0.4, "substance_misuse": 0.5}
# Assumption: 30% of non-plan involvements in the window have ended.
INVOLVEMENT_ENDED_SHARE = 0.3
INVOLVEMENT_MEAN_DAYS = 300
# Assumption: CP and CIN children have one more agency involved half the time.
PLAN_EXTRA_AGENCY_SHARE = 0.5
# Assumption: 0.3% of children have three or more agencies and no lead professional.
NO_LEAD_MULTI_AGENCY_SHARE = 0.003

# -- unscheduled care -------------------------------------------------------------------------

# OHID Fingertips (child and maternal health) 2019/20: 659.6 A&E attendances per 1,000
# children aged 0-4 in England. (Nath et al., BMC Health Serv Res 2022;22:936, HES 2013-19:
# 720.1 per 1,000 infant-years under 1, so infants are not far above it.)
AE_RATE_UNDER_5 = 0.66
# HES A&E 2009-10: 4.3m of 15.6m attendances by 0-19 year olds, about 0.3 a year per child
# aged 5-17 once the under-5 rate above is taken out.
AE_RATE_5_TO_17 = 0.30
# Assumption: children on a CP plan or looked after attend twice as often.
AE_PLAN_MULTIPLIER = 2.0
# Greenfield et al., "Characteristics of frequent paediatric users of emergency departments in
# England", Emerg Med J 2021;38(2):146-150 (HES 2015/16): 2,308,816 children under 16 attended an
# ED in the year (about 22% of England's ~10.5 million under-16s) and 9.1% of them attended four
# times or more. Counts are gamma-Poisson (negative binomial) around the rates above; shape 0.35
# gives 23% of under-16s attending and 9.6% of those four times or more, and so 4.2% of children
# with three or more visits in a year (bench/emergency_bench.py; docs/alerts.md § Triage).
AE_DISPERSION_SHAPE = 0.35
# Visits are generated over two years (each child's days alive and in England within them).
AE_LOOKBACK_DAYS = 730
