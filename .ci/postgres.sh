#!/usr/bin/env bash
# Start (or, with --stop, stop) a throw-away PostgreSQL server on 127.0.0.1 in DIR.
# Writes the SQLAlchemy URL of a fresh database to DIR/url. Installs Debian's package if needed.
set -euo pipefail
if [ "${1:-}" = "--stop" ]; then
  dir=$2
  [ -f "$dir/bin" ] || exit 0
  su postgres -c "$(cat "$dir/bin")/pg_ctl -D '$dir/data' -m fast stop" >/dev/null 2>&1 || true
  exit 0
fi
dir=$1
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
mkdir -p "$dir"
chown postgres "$dir"
echo "$bin" > "$dir/bin"
port=${SKQUAKE_PG_PORT:-54329}
su postgres -c "$bin/initdb -D '$dir/data' -A trust -U postgres >/dev/null"
su postgres -c "$bin/pg_ctl -D '$dir/data' -l '$dir/log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir'\" start" >/dev/null
su postgres -c "$bin/createdb -h 127.0.0.1 -p $port -U postgres skquake_ci"
echo "postgresql+psycopg2://postgres@127.0.0.1:$port/skquake_ci" > "$dir/url"
