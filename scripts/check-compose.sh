#!/usr/bin/env bash
# Validates docker-compose.yml the way `docker compose config` does, with deploy/.env.example as the
# environment; and checks that a missing secret is refused. Uses `docker compose` or `docker-compose`
# when present; otherwise builds Docker Compose v2 from source into .tools/ (Go; reused next time).
set -euo pipefail
cd "$(dirname "$0")/.."
COMPOSE_VERSION=v2.29.7

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@";
  elif command -v docker-compose >/dev/null 2>&1; then docker-compose "$@";
  else .tools/docker-compose "$@"; fi
}

if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1 && [ ! -x .tools/docker-compose ]; then
  command -v go >/dev/null 2>&1 || { echo "check-compose: no docker compose, and no Go to build it" >&2; exit 1; }
  echo "check-compose: building Docker Compose $COMPOSE_VERSION into .tools/ (once)"
  mkdir -p .tools/compose-build
  GOBIN="$PWD/.tools/compose-build" GOFLAGS=-mod=mod go install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
  mv .tools/compose-build/cmd .tools/docker-compose
  rmdir .tools/compose-build
fi

compose --env-file deploy/.env.example -f docker-compose.yml config -q
echo "check-compose: docker-compose.yml is valid with deploy/.env.example"

# Required secrets are enforced: without them, config must fail and name the variable.
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
if out=$(compose --env-file "$empty" -f docker-compose.yml config -q 2>&1); then
  echo "check-compose: expected a failure without secrets, got success" >&2
  exit 1
fi
# Compose names whichever required (`:?`) variable it meets first, and that order varies between runs.
required=$(grep -o '\${[A-Z_]*:?' docker-compose.yml | sed 's/^\${//; s/:?$//' | sort -u | paste -sd'|')
grep -Eq "required variable ($required) is missing a value" <<<"$out" || { echo "check-compose: unexpected error: $out" >&2; exit 1; }
echo "check-compose: a missing secret is refused ($(head -1 <<<"$out"))"
