# Sourced by scripts/test and scripts/test_ts.sh: Node.js and npm for the TypeScript side
# (issue 16). As root with apt, installed from Debian's packages (like Chromium and
# python3-venv); otherwise, or when Debian's nodejs is too old, says what is missing.
# Node is needed only by the tests of sdk/typescript and examples/, never by the product.
NODE_MIN=20.3.0  # @temporalio/worker's engines

node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && node -e "const [a,b,c]=process.versions.node.split('.').map(Number),[x,y,z]='$NODE_MIN'.split('.').map(Number);process.exit(a!==x?+(a<x):b!==y?+(b<y):+(c<z))"
}

ensure_node() {
  node_ok && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm || true
  fi
  node_ok && return 0
  local have npm_have
  have=$(command -v node >/dev/null && node --version || echo "no node")
  npm_have=$(command -v npm >/dev/null && npm --version || echo "no npm")
  echo "the TypeScript tests need Node.js >= $NODE_MIN with npm (found: $have, $npm_have)." >&2
  echo "Debian 13 has it (apt-get install nodejs npm); Debian 12's nodejs is 18:" \
    "use NodeSource's nodejs 20 or newer, then run the tests again." >&2
  return 1
}
