#!/usr/bin/env bash
# Build and start the agent-trace stack (docker/docker-compose.yml), then wait until every
# service answers its health check.
#
#   scripts/start-stack.sh        # production-like: images built from this checkout
#   scripts/start-stack.sh dev    # + docker-compose.dev.yml: source mounted, databases on the host
#
# Needs Docker with the compose plugin. Secrets: see docs/OPERATIONS.md (docker/.env).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
files=(-f "$root/docker/docker-compose.yml")
case "${1:-}" in
  dev) files+=(-f "$root/docker/docker-compose.dev.yml") ;;
  "") ;;
  *)
    echo "usage: $0 [dev]" >&2
    exit 2
    ;;
esac

if ! docker compose version >/dev/null 2>&1; then
  echo "start-stack: 'docker compose' is not available (install Docker with the compose plugin)" >&2
  exit 1
fi

env_file=()
if [ -f "$root/docker/.env" ]; then
  env_file=(--env-file "$root/docker/.env")
fi

docker compose ${env_file[@]+"${env_file[@]}"} "${files[@]}" up -d --build
# The runtime migrates PostgreSQL and ClickHouse on its first start; give it time.
if ! "$here/health-check.sh" --wait "${STACK_START_TIMEOUT:-180}"; then
  echo "start-stack: not healthy yet; recent logs:" >&2
  docker compose ${env_file[@]+"${env_file[@]}"} "${files[@]}" logs --tail 50 runtime dashboard >&2 || true
  exit 1
fi
echo "agent-trace is up: dashboard http://127.0.0.1:${DASHBOARD_PORT:-3100}  API http://127.0.0.1:${API_PORT:-8318}  collector http://127.0.0.1:${COLLECTOR_PORT:-8317}"
