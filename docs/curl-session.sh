#!/usr/bin/env bash
# A session per role against the demo API (make demo first). Run: bash docs/curl-session.sh
set -euo pipefail
API=${API:-http://127.0.0.1:8000}
CP=${CP:-.venv/bin/contactpoint}

signin() {  # signin USERNAME PASSWORD: prints a bearer token (password + the current TOTP code)
  curl -sf -X POST "$API/auth/token" -d "username=$1" -d "password=$2" -d "otp=$($CP api code "$1")" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
show() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), indent=1)[:1500])'; }

# The demo's directory ids are given by matching, so the children are found by search, as a practitioner would.
find_id() {  # find_id TOKEN QUERY: the directory id of the first child the search finds
  curl -sf "$API/children/search?$2" -H "Authorization: Bearer $1" -H "X-Purpose: school admission check" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["id"])'
}

echo "== practitioner (Birmingham): search, then the contacts card"
T=$(signin practitioner.birmingham birmingham-practitioner-demo)
curl -s "$API/children/search?given_name=Archie&family_name=Adebayo" \
     -H "Authorization: Bearer $T" -H "X-Purpose: school admission check" | show
ARCHIE=$(find_id "$T" "given_name=Archie&family_name=Adebayo")
NEVAEH=$(find_id "$T" "given_name=Nevaeh&family_name=Adeyemi&dob=2025-12-08")  # shielded by Birmingham
curl -s "$API/children/$ARCHIE" -H "Authorization: Bearer $T" -H "X-Purpose: school admission check" | show
echo "-- a shielded record: identity and the holding team's contact only"
curl -s "$API/children/$NEVAEH" -H "Authorization: Bearer $T" -H "X-Purpose: health visit" | show
echo "-- no stated purpose: 400"
curl -s "$API/children/$ARCHIE" -H "Authorization: Bearer $T" | show
echo "-- I am working with this child (on the card at once; a second time, 409)"
curl -s -X POST "$API/children/$ARCHIE/involvements" -H "Authorization: Bearer $T" \
     -H "X-Purpose: school nurse drop-in" -H "Content-Type: application/json" -d '{"service": "school_nursing"}' | show

echo "== safeguarding lead (Birmingham): network, moves, last accesses, break-glass"
T=$(signin safeguarding_lead.birmingham birmingham-safeguarding-lead-demo)
H=(-H "Authorization: Bearer $T" -H "X-Purpose: strategy discussion")
curl -s "$API/children/$ARCHIE/network?depth=2" "${H[@]}" | show
curl -s "$API/children/$ARCHIE/moves" "${H[@]}" | show
curl -s "$API/children/$ARCHIE/accesses" "${H[@]}" | show
echo "-- the lead professional: the practitioner who just said they work with the child"
ME=$(curl -s "$API/children/$ARCHIE" "${H[@]}" |
     python3 -c 'import json, sys; print([s for s in json.load(sys.stdin)["services"] if s["self_recorded"]][0]["practitioner"]["id"])')
curl -s -X PUT "$API/children/$ARCHIE/lead" "${H[@]}" -H "Content-Type: application/json" \
     -d "{\"practitioner_id\": \"$ME\", \"service\": \"school_nursing\"}" | show
curl -s -X POST "$API/children/$NEVAEH/override" "${H[@]}" -H "Content-Type: application/json" \
     -d '{"reason": "child presented injured at A&E"}' | show
echo "-- the alert inbox: children lost between areas, off the registers, in and out of A&E"
H=(-H "Authorization: Bearer $T" -H "X-Purpose: alert inbox")
curl -s "$API/alerts?kind=transfer_in_overdue&limit=3" "${H[@]}" | show
ALERT=$(curl -s "$API/alerts?limit=1" "${H[@]}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
curl -s -X POST "$API/alerts/$ALERT/acknowledge" "${H[@]}" -H "Content-Type: application/json" \
     -d '{"note": "receiving team contacted; transfer-in conference booked"}' | show

echo "== LA team (Birmingham): shield and unshield"
T=$(signin la_admin.birmingham birmingham-la-admin-demo)
H=(-H "Authorization: Bearer $T" -H "X-Purpose: shielding decision" -H "Content-Type: application/json")
curl -s -X POST "$API/children/$ARCHIE/shield" "${H[@]}" -d '{"reason": "family fled domestic abuse"}' | show
curl -s -X DELETE "$API/children/$ARCHIE/shield" "${H[@]}" -d '{"reason": "risk reassessed"}' | show

echo "== reviewer: no identifying data from child routes (403); suppressed, pseudonymised analytics"
T=$(signin reviewer.birmingham birmingham-reviewer-demo)
curl -s "$API/children/$ARCHIE" -H "Authorization: Bearer $T" -H "X-Purpose: review" | show
H=(-H "Authorization: Bearer $T" -H "X-Purpose: thematic review of children moving between areas")
curl -s "$API/analytics/prevalence?cohort=cp_plan" "${H[@]}" | show
curl -s "$API/analytics/trend?cohort=all&la_code=E08000025" "${H[@]}" | show
CASE=$(curl -s "$API/analytics/cases?la_code=E08000025&pattern=transfer_gap" "${H[@]}" |
       python3 -c 'import json, sys; print(json.load(sys.stdin)["cases"][0]["case"])')
curl -s "$API/analytics/cases/$CASE?la_code=E08000025" "${H[@]}" | show
curl -s "$API/analytics/network?la_code=E08000025" "${H[@]}" | show

echo "== auditor: who looked at what, and is the trail intact"
T=$(signin auditor.birmingham birmingham-auditor-demo)
curl -s "$API/audit?child_id=$NEVAEH&limit=5" -H "Authorization: Bearer $T" | show
curl -s "$API/audit/verify" -H "Authorization: Bearer $T" | show

echo "== emergency department clinician (Birmingham): the protection flag of a child on a CP plan, and nothing else"
T=$(signin ed_clinician.birmingham birmingham-ed-clinician-demo)
H=(-H "Authorization: Bearer $T" -H "X-Purpose: child attending the emergency department")
curl -s "$API/flags?nhs_number=9900148460" "${H[@]}" | show
echo "-- the contacts card: 403"
curl -s "$API/children/$ARCHIE" "${H[@]}" | show
