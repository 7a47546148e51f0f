#!/usr/bin/env bash
# The end-to-end demo. For now it builds everything and runs the SLA engine's scenarios; the full demo (emulator,
# dispatchd, provisioning, a month of traffic, the dashboard) grows here as those parts land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
cd build && ctest -L unit --output-on-failure
