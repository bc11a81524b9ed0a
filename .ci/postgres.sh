#!/usr/bin/env bash
# Start (or, with --stop, stop and delete) a throw-away PostgreSQL server on 127.0.0.1 for DIR.
#
#   bash .ci/postgres.sh DIR         # start; writes the SQLAlchemy URL of a fresh database to DIR/url
#   bash .ci/postgres.sh --stop DIR  # stop the server and delete its data
#
# Installs Debian's postgresql package if no server binaries are found (needs root). The
# cluster lives in its own directory (DIR/pgroot names it) owned by the user that runs the
# server ("postgres" when started as root), because DIR itself may sit below a private
# mktemp directory the server user cannot enter. TCP connections are accepted on loopback
# only and need the random password that is part of DIR/url; the port is a free one unless
# SKQUAKE_PG_PORT is set.
set -euo pipefail

as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}

if [ "${1:-}" = "--stop" ]; then
  dir=${2:?usage: postgres.sh --stop DIR}
  [ -f "$dir/pgroot" ] && [ -f "$dir/bin" ] || exit 0
  root=$(cat "$dir/pgroot")
  bin=$(cat "$dir/bin")
  if [ -d "$root/data" ]; then
    as_server_user "'$bin/pg_ctl' -D '$root/data' -m fast -w stop" >/dev/null 2>&1 || true
  fi
  case "$root" in
    /tmp/skquake-pg.*) rm -rf "$root" ;;  # only ever delete what this script created
  esac
  rm -f "$dir/pgroot" "$dir/bin" "$dir/url"
  exit 0
fi

dir=${1:?usage: postgres.sh DIR | postgres.sh --stop DIR}
if [ -f "$dir/pgroot" ]; then
  echo "postgres.sh: $dir already has a server ($(cat "$dir/pgroot")); run --stop first" >&2
  exit 1
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: PostgreSQL is not installed and installing it needs root (apt-get install postgresql)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

port=${SKQUAKE_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')

mkdir -p "$dir"
root=$(mktemp -d /tmp/skquake-pg.XXXXXX)
printf '%s\n' "$password" > "$root/pwfile"
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$root"
fi
echo "$root" > "$dir/pgroot"
echo "$bin" > "$dir/bin"

as_server_user "'$bin/initdb' -D '$root/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile='$root/pwfile' >'$root/initdb.log' 2>&1" || {
  echo "postgres.sh: initdb failed:" >&2; tail -n 20 "$root/initdb.log" >&2; exit 1; }
rm -f "$root/pwfile"
if ! as_server_user "'$bin/pg_ctl' -D '$root/data' -l '$root/log' -w -t 30 -o \"-c listen_addresses=127.0.0.1 -p $port -k '$root'\" start" >/dev/null; then
  echo "postgres.sh: the server did not start:" >&2
  tail -n 20 "$root/log" >&2
  exit 1
fi
as_server_user "'$bin/createdb' -h '$root' -p $port -U postgres skquake_ci"
echo "postgresql+psycopg2://postgres:$password@127.0.0.1:$port/skquake_ci" > "$dir/url"
chmod 600 "$dir/url"
