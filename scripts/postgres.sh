#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the test suite, on 127.0.0.1 only.
#   scripts/postgres.sh start DIR   -> prints the SQLAlchemy URL on stdout
#   scripts/postgres.sh stop DIR
# Uses the machine's PostgreSQL, or installs Debian's package when none is found.
# As root it runs the server as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
action=${1:?start|stop}; dir=${2:?data dir}

find_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
start)
  bindir=$(find_bindir || true)
  if [ -z "$bindir" ]; then
    echo "PostgreSQL not found: installing Debian's postgresql package" >&2
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
    else
      (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
    fi
    bindir=$(find_bindir)
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --no-create-home postgres; fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_owner "$bindir/initdb" -D "$dir/data" -U authctl --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" start >&2
  as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U authctl authctl_test
  echo "$bindir" >"$dir/bindir"
  echo "postgresql+psycopg://authctl@127.0.0.1:$port/authctl_test"
  ;;
stop)
  if [ -f "$dir/bindir" ] && [ -d "$dir/data" ]; then
    as_owner "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 1 ;;
esac
