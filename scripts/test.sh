#!/usr/bin/env bash
# Runs the tests: setup, configure, build, then ctest on the `unit` and `integration` labels.
#   scripts/test.sh             unit + integration
#   scripts/test.sh --all       adds the `slow` label (10^6 oracle cases, soak tests)
#   scripts/test.sh --sanitize  builds with ASan+UBSan in build-sanitize/
#   scripts/test.sh --unit      unit only (seconds)
set -euo pipefail
cd "$(dirname "$0")/.."

labels="unit|integration"
build=build
cmake_args=()
for arg in "$@"; do
  case "$arg" in
    --all) labels="unit|integration|slow" ;;
    --unit) labels="unit" ;;
    --sanitize) build=build-sanitize; cmake_args+=(-DDISPATCH_SANITIZE=ON -DDISPATCH_BENCH=OFF) ;;
    *) echo "usage: scripts/test.sh [--all|--unit] [--sanitize]" >&2; exit 2 ;;
  esac
done

# --browser: Chromium for the dashboard test, and the chart library (npm ci in src/web) that the build embeds.
bash scripts/setup.sh --pg --browser
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISPATCH_BENCH=OFF "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$jobs"

# PostgreSQL tests run when DISPATCH_TEST_PG_DSN is set; scripts/pg-test-server.sh starts one on loopback.
if [[ -z "${DISPATCH_TEST_PG_DSN:-}" && -x scripts/pg-test-server.sh ]]; then
  if dsn=$(bash scripts/pg-test-server.sh start 2>/dev/null); then
    export DISPATCH_TEST_PG_DSN="$dsn"
  fi
fi

cd "$build"
ctest -L "$labels" --output-on-failure -j "$jobs" --timeout 900
