#!/usr/bin/env bash
# Builds and runs the benchmarks; prints one line per figure: `bench <name> <value> <unit>`.
#   scripts/bench.sh             every benchmark
#   scripts/bench.sh sla         only binaries whose name contains "sla" (and node drivers named like them)
#   DISPATCH_BUILD_DIR=build-x scripts/bench.sh http    builds and runs in build-x instead of build
#
# Adding a figure: add tests/bench/<area>/ with a CMakeLists.txt that builds an executable named bench_<area>.
# Each bench_* binary prints its own `bench ...` lines on stdout (anything else, such as Google Benchmark's table,
# belongs on stderr; other stdout lines are dropped into the log). Binaries may write artefacts into
# $DISPATCH_BENCH_OUT. Then every tests/bench/node/*.js runs as `node <script> $DISPATCH_BENCH_OUT`, with the npm
# packages of tests/bench/node/package.json installed into build/bench-node; $DISPATCH_BENCH_OUT/bench.txt holds
# the lines printed so far, for ratios against our own figures.
# bench_http (tests/bench/http) drives a real dispatchd and, in the same run, nginx with wrk (both from
# `setup.sh --bench`); DISPATCH_BENCH_HTTP_{SECONDS,CONNECTIONS,WRK_THREADS,SERVER_THREADS,DB_DIR} tune it.
set -euo pipefail
cd "$(dirname "$0")/.."

filter="${1:-}"
build="${DISPATCH_BUILD_DIR:-build}"  # a helper's own build folder, e.g. DISPATCH_BUILD_DIR=build-d5
out="$build/bench-out"
log="$build/bench.log"

bash scripts/setup.sh --bench
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISPATCH_BENCH=ON >/dev/null

mapfile -t targets < <(cmake --build "$build" --target help | sed -n -e 's/^\.\.\. \(bench_[A-Za-z0-9_]*\).*/\1/p' \
                         -e 's/^\(bench_[A-Za-z0-9_]*\): .*/\1/p' |
                       grep -- "${filter}" | sort -u || true)
if ((${#targets[@]} == 0)); then
  echo "bench.sh: no bench_* targets${filter:+ matching '$filter'}" >&2
  exit 1
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >/dev/null

rm -rf "$out"
mkdir -p "$out"
: >"$log"
: >"$out/bench.txt"
status=0

emit() {  # keeps `bench ...` lines on stdout and in bench.txt, the rest in the log
  while IFS= read -r line; do
    if [[ "$line" == bench\ * ]]; then
      echo "$line" | tee -a "$out/bench.txt"
    else
      echo "$line" >>"$log"
    fi
  done
}

for target in "${targets[@]}"; do
  bin=$(find "$build" -type f -perm -u+x -name "$target" -not -path '*/CMakeFiles/*' | head -n 1)
  if [[ -z "$bin" ]]; then
    echo "bench.sh: $target built but not found" >&2
    status=1
    continue
  fi
  echo "== $bin" >>"$log"
  if ! DISPATCH_BENCH_OUT="$out" "$bin" 2>>"$log" | emit; then
    echo "bench.sh: $target failed (see $log)" >&2
    status=1
  fi
done

shopt -s nullglob
scripts=(tests/bench/node/*.js)
if ((${#scripts[@]})); then
  node_dir="$build/bench-node"
  mkdir -p "$node_dir"
  if ! cmp -s tests/bench/node/package.json "$node_dir/package.json" || [[ ! -d "$node_dir/node_modules" ]]; then
    cp tests/bench/node/package.json "$node_dir/package.json"
    (cd "$node_dir" && npm install --no-audit --no-fund --silent) >>"$log" 2>&1
  fi
  for script in "${scripts[@]}"; do
    [[ -z "$filter" || "$(basename "$script")" == *"$filter"* ]] || continue
    echo "== $script" >>"$log"
    if ! NODE_PATH="$PWD/$node_dir/node_modules" node "$script" "$out" 2>>"$log" | emit; then
      echo "bench.sh: $script failed (see $log)" >&2
      status=1
    fi
  done
fi
exit "$status"
