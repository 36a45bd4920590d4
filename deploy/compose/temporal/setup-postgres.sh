#!/bin/sh
# Creates Temporal's two databases on the temporal-db Postgres and brings their schemas to
# the version this admin-tools image ships. Safe to run again: existing databases are kept,
# and setup-schema/update-schema skip what is already applied.
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
PORT="${DB_PORT:-5432}"
SCHEMA=/etc/temporal/schema/postgresql/v12

until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do
  echo "waiting for Postgres at $POSTGRES_SEEDS:$PORT"
  sleep 2
done

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"
}

for db in temporal temporal_visibility; do
  sql --db "$db" create || echo "database $db exists; keeping it"
done
sql --db temporal setup-schema -v 0.0
sql --db temporal update-schema -d "$SCHEMA/temporal/versioned"
sql --db temporal_visibility setup-schema -v 0.0
sql --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"
echo "Temporal schemas are up to date"
