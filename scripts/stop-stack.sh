#!/usr/bin/env bash
# Stop the agent-trace stack started by start-stack.sh.
#
#   scripts/stop-stack.sh              # stop and remove the containers; data volumes are kept
#   scripts/stop-stack.sh dev          # the same for the dev stack
#   scripts/stop-stack.sh --volumes    # also DELETE the PostgreSQL and ClickHouse data
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
files=(-f "$root/docker/docker-compose.yml")
down_args=()
for arg in "$@"; do
  case "$arg" in
    dev) files+=(-f "$root/docker/docker-compose.dev.yml") ;;
    --volumes) down_args+=(--volumes) ;;
    *)
      echo "usage: $0 [dev] [--volumes]" >&2
      exit 2
      ;;
  esac
done

if ! docker compose version >/dev/null 2>&1; then
  echo "stop-stack: 'docker compose' is not available" >&2
  exit 1
fi

env_file=()
if [ -f "$root/docker/.env" ]; then
  env_file=(--env-file "$root/docker/.env")
fi
docker compose ${env_file[@]+"${env_file[@]}"} "${files[@]}" down ${down_args[@]+"${down_args[@]}"}
