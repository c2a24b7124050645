#!/usr/bin/env bash
# Make sure the PostgreSQL server the tests use answers on 127.0.0.1:5432; start the local cluster when it
# is installed but stopped. Exits non-zero, saying why, when it cannot.
set -euo pipefail
HOST=${PGHOST_TEST:-127.0.0.1}
PORT=${PGPORT_TEST:-5432}

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "PostgreSQL client tools (pg_isready) are not installed: install PostgreSQL (Debian: apt-get install postgresql) or point INTACCT_TEST_PG_URL at a server." >&2
  exit 1
fi
ready && exit 0

if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql)" ]; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "PostgreSQL on $HOST:$PORT is not answering; starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
fi
echo "PostgreSQL is not reachable on $HOST:$PORT and could not be started: the tests need it (trust auth, database 'test')." >&2
exit 1
