# Sourced by scripts/run and scripts/test: make .venv with the project installed, once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.installed"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "supportflow needs Python 3.11 or newer as '$PYTHON' (set PYTHON=...)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -q && apt-get install -y -q python3-venv
    else
      echo "Python's venv module is missing: install python3-venv (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  "$VENV/bin/pip" install --quiet --upgrade pip==25.3
  "$VENV/bin/pip" install --quiet -e '.[dev]'
  # Build step: train the local understanding model from the shipped data (cached).
  "$VENV/bin/supportflow" understanding train
  touch "$STAMP"
fi
BIN="$VENV/bin"
