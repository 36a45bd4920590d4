#!/usr/bin/env bash
# The TypeScript side (issue 16): the SDK in sdk/typescript and the example in
# examples/loyalty-service. Installs from the lock files (npm ci), then lint, type check
# (types regenerated from sdk/typescript/contract/*.schema.json) and the tests (node --test),
# which use the project's venv: its Python (identity tokens, a Python workflow calling the
# TypeScript worker), its Temporal CLI (dev server) and `supportflow up`.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=killed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_node.sh
ensure_node
if [ ! -x .venv/bin/python ] || [ ! -x .venv/bin/temporal ]; then
  echo "the TypeScript tests use the project's venv (.venv): run scripts/test or scripts/run first" >&2
  exit 1
fi

start=$(date +%s)
npm ci --prefix sdk/typescript --no-audit --no-fund --loglevel=error
npm ci --prefix examples/loyalty-service --no-audit --no-fund --loglevel=error
echo "npm ci: $(($(date +%s) - start))s"

cd sdk/typescript
start=$(date +%s)
npm run --silent lint
npm run --silent typecheck
npm run --silent build
node --test --test-concurrency=1 "$@" dist/test/*.test.js
echo "TypeScript lint, type check and tests: $(($(date +%s) - start))s"
