#!/usr/bin/env bash
# dispatch-demo against b24emu alone (--no-service): two fresh portals on manual clocks, each provisioned by
# `dispatchctl provision apply` through the emulator's incoming webhook, one short month played on each with one seed.
# The day lines must be identical (the player is deterministic for a seed) and every request filed and played.
#   tests/integration/demo/smoke_no_service.sh <build dir> [requests]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$(cd "$1" && pwd)
requests=${2:-150}
run=$(mktemp -d /tmp/dispatch-demo-smoke.XXXXXX)
bash "$root/scripts/gen-test-certs.sh" "$run/certs" >/dev/null
pid=
stop() { if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$run"' EXIT

play() {  # play <n>: fresh portal, provision, play; output in $run/play<n>.out
  "$build/src/app/b24emu" --listen 127.0.0.1:0 --cert "$run/certs/server.pem" --key "$run/certs/server.key" \
    --clock manual --start 2026-03-01T00:00:00+03:00 --limits off >"$run/emu$1.out" 2>"$run/emu$1.log" &
  pid=$!
  for _ in $(seq 1 200); do [[ -s "$run/emu$1.out" ]] && break; sleep 0.05; done
  (cd "$root" && "$build/src/app/dispatchctl" provision apply --portal "$(jq -r .webhook_url "$run/emu$1.out")" \
    --ca "$run/certs/ca.pem" >"$run/provision$1.out" 2>&1) || { cat "$run/provision$1.out" >&2; exit 1; }
  "$build/src/app/dispatch-demo" --emu "$(jq -r .base_url "$run/emu$1.out")" --ca "$run/certs/ca.pem" --no-service \
    --requests "$requests" --seed 7 >"$run/play$1.out"
  stop
}
play 1
play 2
grep '^day=' "$run/play1.out" | sed 's/ wall_s=.*//' >"$run/days1"
grep '^day=' "$run/play2.out" | sed 's/ wall_s=.*//' >"$run/days2"
if ! diff -u "$run/days1" "$run/days2"; then
  echo "FAIL: two plays with one seed differ" >&2
  exit 1
fi
filed=$(grep -o '^people: filed=[0-9]*' "$run/play1.out" | cut -d= -f2)
[[ $filed == "$requests" ]] || { echo "FAIL: filed $filed of $requests" >&2; cat "$run/play1.out" >&2; exit 1; }
grep -q '^all  *'"$requests"' ' "$run/play1.out" || { echo "FAIL: no summary row" >&2; cat "$run/play1.out" >&2; exit 1; }
tail -n 16 "$run/play1.out"
echo "PASS: deterministic, $requests requests filed and played"
