#!/usr/bin/env bash
# The main job on this machine, end to end against a local tenant on loopback.
# Everything it makes lives in demo-workspace/ (ignored by git) and is made anew each run.
set -euo pipefail
cd "$(dirname "$0")/.."
cli=.venv/bin/hdrive-migrate
work=demo-workspace
rm -rf "$work"
mkdir -p "$work/hdrives/alice" "$work/hdrives/bob"

cat > "$work/users.csv" <<'CSV'
upn,display_name,sam_account_name,provisioned
alice@demo.police.test,Alice Example,alice,true
bob@demo.police.test,Bob Example,bob,false
CSV

"$cli" tenant serve --data "$work/tenant" --port 0 --users "$work/users.csv" \
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
echo "== local tenant at $url"

"$cli" init "$work/workspace" --source "$work/hdrives" --graph-url "$url/v1.0" --auth local \
    --organisation "Demo Constabulary"
echo "== tenant check"
"$cli" tenant check --workspace "$work/workspace"
