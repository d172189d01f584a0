#!/usr/bin/env bash
# The main job on this machine, end to end against a local tenant on loopback: two people's
# H: drives are imported, checked, scanned and planned by the shipped retention policy.
# Everything it makes lives in demo-workspace/ (ignored by git) and is made anew each run.
set -euo pipefail
cd "$(dirname "$0")/.."
cli=.venv/bin/hdrive-migrate
work=demo-workspace
rm -rf "$work"
mkdir -p "$work"

make_homes() {
    local alice="$work/hdrives/alice" bob="$work/hdrives/bob"
    mkdir -p "$alice/Documents/Appraisals" "$alice/Documents/Operation Kestrel" \
        "$alice/Desktop" "$alice/Pictures" "$bob/Documents"
    echo "quarterly report" > "$alice/Documents/report.docx"
    echo "quarterly report" > "$alice/Desktop/report (copy).docx"
    echo "appraisal notes" > "$alice/Documents/Appraisals/2024 appraisal.docx"
    echo "exhibit list" > "$alice/Documents/Operation Kestrel/exhibits.xlsx"
    echo "lock" > "$alice/Documents/~\$report.docx"
    echo "holiday" > "$alice/Pictures/beach.jpg"
    echo "old rota" > "$alice/Documents/rota 2016.xlsx"
    echo "colon" > "$alice/Documents/minutes 10:30.txt"
    touch -d "2016-03-01" "$alice/Documents/rota 2016.xlsx"
    touch -d "2023-01-01" "$alice/Documents/report.docx"
    echo "notes" > "$bob/Documents/notes.txt"
}
make_homes

cat > "$work/tenant-users.csv" <<'CSV'
upn,display_name,sam_account_name,provisioned
alice@demo.police.test,Alice Example,alice,true
bob@demo.police.test,Bob Example,bob,false
CSV
cat > "$work/wave.csv" <<'CSV'
folder,upn,wave
alice,alice@demo.police.test,Demo wave
bob,bob@demo.police.test,Demo wave
CSV

"$cli" tenant serve --data "$work/tenant" --port 0 --users "$work/tenant-users.csv" \
    --retention-labels "Personal working files,People records" \
    > "$work/tenant.out" 2> "$work/tenant.err" &
tenant_pid=$!
trap 'kill "$tenant_pid" 2>/dev/null || true; wait "$tenant_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$work/tenant.out" 2>/dev/null && break
    kill -0 "$tenant_pid" 2>/dev/null || { cat "$work/tenant.err"; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/.*listening on //p' "$work/tenant.out")
ws="$work/workspace"

step() { printf '\n== %s\n' "$*"; }
step "local tenant at $url; a workspace for the H: drives in $work/hdrives"
"$cli" init "$ws" --source "$work/hdrives" --graph-url "$url/v1.0" --auth local \
    --organisation "Demo Constabulary"
step "tenant check"
"$cli" tenant check -w "$ws"
step "users import"
"$cli" users import "$work/wave.csv" -w "$ws"
step "preflight (bob has no OneDrive yet, so he is blocked)"
"$cli" preflight --wave "Demo wave" -w "$ws" || true
step "scan with hashes"
"$cli" scan --wave "Demo wave" --hash -w "$ws"
step "scan summary"
"$cli" scan summary -w "$ws"
step "policy check and the records managers' cases"
"$cli" policy check policies/personal-files.yaml
"$cli" policy test policies/personal-files.yaml policies/personal-files.cases.yaml
step "plan by policy"
"$cli" plan --policy policies/personal-files.yaml --wave "Demo wave" -w "$ws"
step "why is alice's rota going for disposal?"
"$cli" plan explain alice@demo.police.test "Documents/rota 2016.xlsx" -w "$ws"
step "files waiting for a records manager"
"$cli" review export --out "$work/review.csv" -w "$ws"

step "how many requests and resource units the migration will cost, and how long"
"$cli" migrate --wave "Demo wave" --dry-run -w "$ws"
step "migrate (bob has no OneDrive, so he is blocked; alice's files arrive verified)"
"$cli" migrate --wave "Demo wave" -w "$ws" || true
step "verify what arrived, through Graph"
"$cli" verify --wave "Demo wave" -w "$ws" || true
step "what the service desk sees for alice and for bob (counts, no file names)"
"$cli" status alice@demo.police.test -w "$ws"
"$cli" status bob@demo.police.test -w "$ws"
step "the wave report"
"$cli" report --wave "Demo wave" -w "$ws"
"$cli" audit verify -w "$ws"

# The CSV is for Excel (it starts with a byte-order mark); on the terminal a count says more.
rows=$(.venv/bin/python -c 'import csv, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as file:
    print(sum(1 for _ in csv.reader(file)) - 1)' "$work/review.csv")
files=$([[ $rows == 1 ]] && echo "1 file" || echo "$rows files")
step "done"
echo "The wave report: $ws/reports/Demo wave/summary.html"
echo "Awaiting a records manager: $files in $work/review.csv. Fill in the decision column, then"
echo "    $cli review import $work/review.csv --reviewer \"A. Manager\" -w $ws"
