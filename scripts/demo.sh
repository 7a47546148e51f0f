#!/usr/bin/env bash
# The end-to-end demo on the bundled Bitrix24 emulator. What it shows today:
#   1. builds everything (installing what it needs),
#   2. makes a throwaway CA and server certificate,
#   3. starts b24emu (the portal, on a manual clock) and dispatchd (the service, with a real SQLite file),
#   4. lets the portal install the local app into dispatchd (OAuth tokens and application_token stored),
#   5. binds the item events, creates the "IT request" smart process and files requests as employees would,
#   6. shows each event made durable in dispatchd's inbox, a forged event refused, and dispatchd's /metrics.
# Provisioning from workplace/helpdesk.json, the SLA flows, statistics and the dashboard join this script as they
# land (see README.md). `--keep` leaves both servers running and prints where they are.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep|--serve) keep=1 ;;
    *) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISPATCH_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target dispatchd b24emu

run=$(mktemp -d /tmp/dispatch-demo.XXXXXX)
bash scripts/gen-test-certs.sh "$run/certs" >/dev/null
pids=()
cleanup() {
  if [[ $keep -eq 0 ]]; then
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
curl_() { curl -sS --cacert "$run/certs/ca.pem" "$@"; }
wait_line() {  # wait for the JSON start line a server prints on stdout
  for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  echo "no start line in $1" >&2; cat "$2" >&2; return 1
}

say "starting dispatchd (SQLite inbox at $run/dispatch.db)"
cat > "$run/dispatch.json" <<EOF
{"listen": "127.0.0.1:0", "tls": {"cert": "$run/certs/server.pem", "key": "$run/certs/server.key"},
 "database": {"sqlite": {"path": "$run/dispatch.db"}}, "hook_key_env": "DISPATCH_HOOK_KEY"}
EOF
DISPATCH_HOOK_KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n') \
  build/src/app/dispatchd --config "$run/dispatch.json" >"$run/dispatchd.out" 2>"$run/dispatchd.log" &
pids+=($!)
wait_line "$run/dispatchd.out" "$run/dispatchd.log"
dispatchd=https://$(jq -r .listen "$run/dispatchd.out")
echo "dispatchd: $dispatchd"

say "starting b24emu (portal clock: Monday 2 March 2026, 09:00 Moscow)"
build/src/app/b24emu --listen 127.0.0.1:0 --cert "$run/certs/server.pem" --key "$run/certs/server.key" \
  --clock manual --start 2026-03-02T09:00:00+03:00 --handler-ca "$run/certs/ca.pem" \
  --install-handler "$dispatchd/b24/install" --state "$run/portal.json" \
  >"$run/b24emu.out" 2>"$run/b24emu.log" &
pids+=($!)
wait_line "$run/b24emu.out" "$run/b24emu.log"
admin=$(jq -r .admin_url "$run/b24emu.out")
hook=$(jq -r .webhook_url "$run/b24emu.out")
echo "portal: $(jq -r .base_url "$run/b24emu.out")"

say "the portal installs the local app into dispatchd"
curl_ -X POST "${admin}app/install" -d '{}' >/dev/null
curl_ -X POST "${admin}events/flush" -d '{}' >/dev/null
for _ in $(seq 1 100); do
  [[ -n "$(sqlite3 "$run/dispatch.db" "select member_id from portals" 2>/dev/null)" ]] && break; sleep 0.05
done
sqlite3 -header -column "$run/dispatch.db" \
  "select member_id, domain, length(application_token) as app_token_len, status from portals"
member_id=$(sqlite3 "$run/dispatch.db" "select member_id from portals limit 1")

say "binding item events to dispatchd and creating the smart process \"IT request\""
for ev in ONCRMDYNAMICITEMADD ONCRMDYNAMICITEMUPDATE ONCRMDYNAMICITEMDELETE; do
  curl_ -X POST "${admin}act" -d "{\"user_id\":1,\"method\":\"event.bind\",
    \"params\":{\"event\":\"$ev\",\"handler\":\"$dispatchd/b24/events\"}}" >/dev/null
done
type_id=$(curl_ "${hook}crm.type.add.json" -H 'content-type: application/json' \
  -d '{"fields":{"title":"IT request","isCategoriesEnabled":"Y","isStagesEnabled":"Y","isAutomationEnabled":"Y"}}' \
  | jq -r .result.type.entityTypeId)
echo "entityTypeId=$type_id"

say "employees file requests; a dispatcher takes one"
n=0
while IFS='|' read -r user title; do
  curl_ -X POST "${admin}act" -d "{\"user_id\":$user,\"method\":\"crm.item.add\",
    \"params\":{\"entityTypeId\":$type_id,\"fields\":{\"title\":\"$title\"}}}" >/dev/null
  n=$((n + 1))
done <<'EOF'
101|Printer on the 3rd floor is jammed
117|1C: cannot post the March invoice
130|Need access to the sales share
142|Laptop will not boot
EOF
curl_ -X POST "${admin}assign" -d "{\"user_id\":11,\"entityTypeId\":$type_id,\"id\":1,\"assignedById\":12}" >/dev/null
curl_ -X POST "${admin}events/flush" -d '{}' >/dev/null
for _ in $(seq 1 100); do
  [[ $(sqlite3 "$run/dispatch.db" "select count(*) from inbox where kind='event'") -ge $((n + 1)) ]] && break
  sleep 0.05
done
sqlite3 -header -column "$run/dispatch.db" \
  "select id, kind, event_name, entity_type_id, item_id, state from inbox order by id"

say "a forged event is refused and stores nothing"
curl_ -X POST "$dispatchd/b24/events" -w '  -> HTTP %{http_code}\n' \
  -d "event=ONCRMDYNAMICITEMUPDATE&data[FIELDS][ID]=1&data[FIELDS][ENTITY_TYPE_ID]=$type_id&auth[member_id]=$member_id&auth[application_token]=forged"

say "dispatchd /metrics (intake)"
curl_ "$dispatchd/metrics" | grep -E '^dispatch_(intake|inbox)' || true

if [[ $keep -eq 1 ]]; then
  say "still running (Ctrl-C or kill ${pids[*]} to stop)"
  echo "dispatchd: $dispatchd   portal admin: $admin   files: $run"
  wait
fi
say "done (files in $run)"
