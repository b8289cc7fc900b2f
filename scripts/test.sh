#!/usr/bin/env bash
# The one command that runs every test: lint, type check, build, unit tests, integration tests.
# Integration tests need the local cloud (npm run cloud:up); .ci/run starts it first.
set -euo pipefail
cd "$(dirname "$0")/.."
scope="${1:-all}"
npx biome ci .
npx tsc -p tsconfig.json
npx tsc -p tsconfig.build.json
files=()
if [ "$scope" = all ] || [ "$scope" = unit ]; then
  while IFS= read -r f; do files+=("$f"); done < <(find test/unit -name '*.test.ts' | sort)
fi
if [ "$scope" = all ] || [ "$scope" = integration ]; then
  while IFS= read -r f; do files+=("$f"); done < <(find test/integration -name '*.test.ts' | sort)
fi
# Integration tests share one cloud: run files one at a time so they never race on it.
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
