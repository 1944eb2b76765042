#!/usr/bin/env bash
# Is every agent-trace role answering? GET /health of the collector, the API and the dashboard.
#
#   scripts/health-check.sh                 # once: exit 0 when all are healthy, 1 otherwise
#   scripts/health-check.sh --wait 120      # retry for up to 120 s (what start-stack.sh does)
#
# Where to look: AGENT_TRACE_HOST (default 127.0.0.1) and the ports COLLECTOR_PORT (8317),
# API_PORT (8318), DASHBOARD_PORT (3100). HEALTH_ROLES limits the check, e.g. "collector api".
set -euo pipefail

host="${AGENT_TRACE_HOST:-127.0.0.1}"
wait_s=0
if [ "${1:-}" = "--wait" ]; then
  wait_s="${2:?--wait needs a number of seconds}"
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--wait SECONDS]" >&2
  exit 2
fi

# (No associative arrays: macOS still ships bash 3.2.)
port_of() {
  case "$1" in
    collector) echo "${COLLECTOR_PORT:-8317}" ;;
    api) echo "${API_PORT:-8318}" ;;
    dashboard) echo "${DASHBOARD_PORT:-3100}" ;;
    *)
      echo "health-check: unknown role '$1' in HEALTH_ROLES" >&2
      return 2
      ;;
  esac
}
read -r -a roles <<<"${HEALTH_ROLES:-collector api dashboard}"

fetch() {
  # Prints the body; fails on a connection error or any status but 200 (503 = a database is down).
  if command -v curl >/dev/null 2>&1; then
    curl --silent --show-error --fail --max-time 5 "$1"
  else
    python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
  fi
}

check_all() {
  local failed=0 role url body
  for role in "${roles[@]}"; do
    url="http://${host}:$(port_of "$role")/health"
    if body="$(fetch "$url" 2>&1)"; then
      echo "ok       ${role} ${url} ${body}"
    else
      echo "FAILING  ${role} ${url} ${body}"
      failed=1
    fi
  done
  return "$failed"
}

deadline=$((SECONDS + wait_s))
until report="$(check_all)"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "$report"
    exit 1
  fi
  sleep 2
done
echo "$report"
