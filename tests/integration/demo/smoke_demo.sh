#!/usr/bin/env bash
# scripts/demo.sh end to end on a short month (no setup, no build: the binaries of <build dir>): the summary must
# come from dispatchd's stats API, count every request, and show the service at work (auto-closed requests,
# escalations, auto-acceptance) with nothing left in dispatchd's inbox, and the month's KPI items written back.
#   tests/integration/demo/smoke_demo.sh <build dir> [requests]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=$(cd "$1" && pwd)
requests=${2:-80}
out=$(mktemp /tmp/dispatch-demo-smoke.XXXXXX)
trap 'rm -f "$out"' EXIT
DISPATCH_BUILD_DIR=$build bash "$root/scripts/demo.sh" --no-build --requests "$requests" --seed 3 >"$out" 2>&1 ||
  { cat "$out" >&2; echo "FAIL: demo.sh exited non-zero" >&2; exit 1; }
fail() { cat "$out" >&2; echo "FAIL: $*" >&2; exit 1; }
grep -q 'source: dispatchd stats API' "$out" || fail "summary not from the stats API"
grep -q '^all  *'"$requests"' ' "$out" || fail "the summary does not count $requests requests"
people=$(grep '^people:' "$out")
for key in auto_closed escalated auto_accepted; do
  n=$(grep -o " $key=[0-9]*" <<<"$people" | cut -d= -f2)
  [[ ${n:-0} -gt 0 ]] || fail "no $key seen from the service"
done
grep -q 'dispatch_inbox_depth{state="pending"} 0' "$out" || fail "dispatchd's inbox is not empty"
grep -q '^dashboard: .*(HTTP 200)' "$out" || fail "the dashboard does not answer 200"
# The daily KPI job usually wrote them while the month played; the export then finds every item up to date.
kpi=$(grep -E '^kpi items portal=' "$out") || fail "dispatchctl stats export printed no result"
items=$(grep -o ' items=[0-9]*' <<<"$kpi" | cut -d= -f2)
unchanged=$(grep -o ' unchanged=[0-9]*' <<<"$kpi" | cut -d= -f2)
[[ ${items:-0} -gt 0 ]] || fail "no KPI item computed"
[[ $unchanged -eq $items ]] || grep -q '^written$' "$out" || fail "the KPI items were not written"
grep -E '^(all |people:|wall time:)' "$out"
echo "PASS: demo.sh played $requests requests through dispatchd"
