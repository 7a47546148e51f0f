#!/usr/bin/env bash
# The one-command demo (issue 8) on the bundled Bitrix24 emulator:
#   1. installs what the build needs (scripts/setup.sh --web: the dashboard's chart library too) and builds
#      dispatchd, dispatchctl, b24emu and dispatch-demo;
#   2. makes a throwaway CA and server certificate;
#   3. starts b24emu (the portal: the seed company of ~150 people, a manual clock at the month's first midnight,
#      no rate limits) and dispatchd (a real SQLite file, a manual clock at the same instant, the SLA flows on);
#   4. the portal installs the local app into dispatchd; `dispatchctl provision apply` creates the "IT: HelpDesk"
#      workplace, the "IT request" smart process, its funnels, stages, fields, robots and event bindings;
#   5. dispatch-demo plays the month's traffic as the company's people would (about 500 requests; dispatchers,
#      specialists and requesters reacting to what the service routes, closes, escalates and auto-accepts), moving
#      both clocks through the month and past its end so pending reviews are auto-accepted;
#   6. prints the month's summary (from dispatchd's stats API), writes the month's KPIs back to the portal as
#      "HelpDesk KPI" items (`dispatchctl stats export`) and prints the dashboard URL.
# `--serve` keeps both servers running afterwards for a person to look; otherwise they are stopped.
#
#   scripts/demo.sh [--serve] [--month 2026-03] [--requests 500] [--seed 42] [--no-build]
# DISPATCH_BUILD_DIR chooses the build folder (default: build); --no-build skips setup and build and uses what that
# folder holds (tests/integration/demo runs it so).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
serve=0
no_build=0
month=2026-03
requests=500
seed=42
usage() { echo "usage: scripts/demo.sh [--serve] [--month YYYY-MM] [--requests N] [--seed N] [--no-build]" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --serve|--keep) serve=1 ;;
    --month) month=${2:?}; shift ;;
    --requests) requests=${2:?}; shift ;;
    --seed) seed=${2:?}; shift ;;
    --no-build) no_build=1 ;;
    *) usage ;;
  esac
  shift
done
[[ $month =~ ^[0-9]{4}-[0-9]{2}$ ]] || usage
build=${DISPATCH_BUILD_DIR:-build}

say() { printf '\n== %s\n' "$*"; }

if [[ $no_build -eq 0 ]]; then
  say "setup and build"
  bash scripts/setup.sh --web
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISPATCH_BENCH=OFF >/dev/null
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target dispatchd dispatchctl b24emu dispatch-demo
fi
[[ $build == /* ]] || build="$root/$build"
bin="$build/src/app"

run=$(mktemp -d /tmp/dispatch-demo.XXXXXX)
bash scripts/gen-test-certs.sh "$run/certs" >/dev/null
ca="$run/certs/ca.pem"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
curl_() { curl -sS --fail-with-body --cacert "$ca" "$@"; }
wait_line() {  # wait for the JSON start line a server prints on stdout
  for _ in $(seq 1 400); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  echo "no start line in $1" >&2; cat "$2" >&2; return 1
}

# The month starts at local midnight in Moscow (the desk's calendar zone, workplace/sla.json).
start="${month}-01T00:00:00+03:00"

say "starting b24emu (the portal; manual clock at $start)"
"$bin/b24emu" --listen 127.0.0.1:0 --cert "$run/certs/server.pem" --key "$run/certs/server.key" \
  --clock manual --start "$start" --limits off --seed "$seed" --handler-ca "$ca" \
  >"$run/b24emu.out" 2>"$run/b24emu.log" &
pids+=($!)
wait_line "$run/b24emu.out" "$run/b24emu.log"
emu=$(jq -r .base_url "$run/b24emu.out")
emu=${emu%/}
admin=$(jq -r .admin_url "$run/b24emu.out")
echo "portal: $emu"

say "starting dispatchd (SQLite at $run/dispatch.db; manual clock at $start)"
export DISPATCH_HOOK_KEY DISPATCH_CLIENT_SECRET
DISPATCH_HOOK_KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
DISPATCH_CLIENT_SECRET=$(jq -r .client_secret "$run/b24emu.out")
# The app's OAuth credentials are the emulator's (it is its own OAuth server). The periodic reconciliation sweep is
# off: the emulator drops no events here, and every sweep would be one more stop of the manual clocks.
jq -n --arg cert "$run/certs/server.pem" --arg key "$run/certs/server.key" --arg db "$run/dispatch.db" \
  --arg client_id "$(jq -r .client_id "$run/b24emu.out")" --arg emu "$emu" --arg ca "$ca" --arg start "$start" \
  --arg spec "$root/workplace/helpdesk.json" --arg sla "$root/workplace/sla.json" '{
    listen: "127.0.0.1:0", tls: {cert: $cert, key: $key},
    database: {sqlite: {path: $db}}, hook_key_env: "DISPATCH_HOOK_KEY",
    b24: {oauth: {client_id: $client_id, client_secret_env: "DISPATCH_CLIENT_SECRET", oauth_server: $emu},
          ca_file: $ca, verify_install: false, rate_limit: false},
    workplace: {spec: $spec, sla: $sla},
    clock: {mode: "manual", start: $start},
    flows: {reconcile_minutes: 0},
    log: {level: "warn"}}' >"$run/dispatch.json"
"$bin/dispatchd" --config "$run/dispatch.json" >"$run/dispatchd.out" 2>"$run/dispatchd.log" &
pids+=($!)
wait_line "$run/dispatchd.out" "$run/dispatchd.log"
service=https://$(jq -r .listen "$run/dispatchd.out")
echo "dispatchd: $service"

say "the portal installs the local app into dispatchd"
curl_ -X POST "${admin}app/install" -d "{\"handler\": \"$service/b24/install\"}" >/dev/null
curl_ -X POST "${admin}events/flush" -d '{}' >/dev/null
member=
for _ in $(seq 1 200); do
  member=$(curl_ "${admin}state" | jq -r '.member_id // empty')
  [[ -n $member ]] && sqlite3 "$run/dispatch.db" "select 1 from portals where member_id='$member'" 2>/dev/null | grep -q 1 && break
  sleep 0.05
done
[[ -n $member ]] || { echo "the install callback never reached dispatchd" >&2; tail -20 "$run/dispatchd.log" >&2; exit 1; }
echo "member_id: $member"

say "dispatchctl provision apply (workplace/helpdesk.json)"
"$bin/dispatchctl" provision apply --portal "$run/dispatch.json" --member "$member" --public-url "$service" \
  --spec "$root/workplace/helpdesk.json" | tee "$run/provision.out" | tail -n 15

say "playing $month: $requests requests from the seed company (seed $seed)"
"$bin/dispatch-demo" --emu "$emu" --service "$service" --ca "$ca" --member "$member" --month "$month" \
  --requests "$requests" --seed "$seed" --workplace "$root/workplace/helpdesk.json" \
  --workplace-schema "$root/schemas/workplace.schema.json" --sla "$root/workplace/sla.json" \
  2>&1 | tee "$run/dispatch-demo.out"

say "dispatchctl stats export: the month's KPIs as \"HelpDesk KPI\" items in Bitrix24 (only changed fields)"
"$bin/dispatchctl" stats export --config "$run/dispatch.json" --url "$service" --ca "$ca" --member "$member" \
  --from "$month" --to "$month" | tee "$run/stats-export.out"

echo "dashboard: $service/dashboard (HTTP $(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "$service/dashboard"))"

say "dispatchd /metrics (flows)"
curl_ "$service/metrics" | grep -E '^dispatch_(inbox|outbox|timers|flows|intake)[a-z_]*(\{[^}]*\})? ' | head -n 20 || true

if [[ $serve -eq 1 ]]; then
  say "still running (Ctrl-C to stop)"
  echo "dashboard: $service/dashboard"
  echo "stats:     $service/api/v1/portals/$member/stats?from=$month&to=$month&group_by=template"
  echo "portal:    $emu (admin API ${admin}state)   files: $run"
  wait
fi
say "done (dashboard was $service/dashboard; files in $run)"
