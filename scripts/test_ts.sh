#!/usr/bin/env bash
# The TypeScript side (issue 16): the SDK in sdk/typescript and the example in
# examples/loyalty-service. Installs from the lock files (npm ci), then lint, type check
# (types regenerated from sdk/typescript/contract/*.schema.json) and the tests (node --test),
# which use the project's venv: its Python (identity tokens, a Python workflow calling the
# TypeScript worker), its Temporal CLI (dev server) and `supportflow up`.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=killed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NODE_MIN=20.3.0  # @temporalio/worker's engines

node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && node -e "const [a,b,c]=process.versions.node.split('.').map(Number),[x,y,z]='$NODE_MIN'.split('.').map(Number);process.exit(a!==x?+(a<x):b!==y?+(b<y):+(c<z))"
}

if ! node_ok; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
  fi
  if ! node_ok; then
    have=$(command -v node >/dev/null && node --version || echo "no node")
    npm_have=$(command -v npm >/dev/null && npm --version || echo "no npm")
    echo "the TypeScript tests need Node.js >= $NODE_MIN with npm (found: $have, $npm_have)." >&2
    echo "Debian 13 has it (apt-get install nodejs npm); Debian 12's nodejs is 18:" \
      "use NodeSource's nodejs 20 or newer, then run scripts/test_ts.sh again." >&2
    exit 1
  fi
fi
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
