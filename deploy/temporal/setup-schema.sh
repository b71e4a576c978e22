#!/bin/sh
# Creates Temporal's databases on first run and applies schema upgrades on every run (idempotent).
set -eu
tool() { temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --pw "$SQL_PASSWORD" "$@"; }
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  tool --db "$db" create 2>/dev/null || true   # exists already: fine
done
tool --db temporal setup-schema -v 0.0 2>/dev/null || true
tool --db temporal update-schema -d "$schema/temporal/versioned"
tool --db temporal_visibility setup-schema -v 0.0 2>/dev/null || true
tool --db temporal_visibility update-schema -d "$schema/visibility/versioned"
echo "temporal schema up to date"
