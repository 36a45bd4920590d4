#!/bin/sh
# Registers supportflow's namespace once the Temporal server answers; does nothing if it
# exists already.
set -eu
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
: "${NAMESPACE:?NAMESPACE is required}"
RETENTION="${NAMESPACE_RETENTION:-30d}"

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "Temporal at $TEMPORAL_ADDRESS is not healthy after $tries tries" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create -n "$NAMESPACE" --retention "$RETENTION" \
    --address "$TEMPORAL_ADDRESS"
  echo "namespace $NAMESPACE created (retention $RETENTION)"
fi
