#!/usr/bin/env bash
# Installs every build, test and demo dependency on Debian bookworm. Idempotent: quiet when all is there.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates openssl tzdata
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libfmt-dev libsqlite3-dev sqlite3 libpq-dev libmimalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhowardhinnant-date-dev
  curl jq
)
# Optional groups, asked for by the scripts that need them.
web=0
for arg in "$@"; do
  case "$arg" in
    --pg) PKGS+=(postgresql-15 postgresql-client-15) ;;
    --bench) PKGS+=(wrk nginx-light nodejs npm) ;;
    --browser) PKGS+=(chromium nodejs npm); web=1 ;;  # the dashboard test needs the charts built in too
    --web) PKGS+=(nodejs npm); web=1 ;;
  esac
done

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs may come from elsewhere than Debian; a working node and npm are enough.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The dashboard's chart library (src/web/package.json, pinned by its package-lock.json) goes into
# src/web/node_modules, where the build embeds it into dispatchd: nothing is fetched at run time. npm ci runs again
# only when the lock file is newer than what it installed.
if ((web)); then
  web_dir="$(cd "$(dirname "$0")/.." && pwd)/src/web"
  installed="$web_dir/node_modules/.package-lock.json"
  if [[ ! -f "$installed" || "$web_dir/package-lock.json" -nt "$installed" ]]; then
    echo "setup: npm ci in src/web (dashboard chart library)"
    (cd "$web_dir" && npm ci --no-audit --no-fund --silent)
  fi
fi
