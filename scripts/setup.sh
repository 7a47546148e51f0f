#!/usr/bin/env bash
# Installs every build, test and demo dependency on Debian bookworm. Idempotent: quiet when all is there.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates openssl tzdata
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libfmt-dev libsqlite3-dev sqlite3 libpq-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhowardhinnant-date-dev
  curl jq
)
# Optional groups, asked for by the scripts that need them.
for arg in "$@"; do
  case "$arg" in
    --pg) PKGS+=(postgresql-15 postgresql-client-15) ;;
    --bench) PKGS+=(wrk nginx-light nodejs npm) ;;
    --browser) PKGS+=(chromium) ;;
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
