#!/usr/bin/env bash
# Start Debian's PostgreSQL on loopback with a throwaway role and database for the test suite,
# and print its URL. Idempotent: a running cluster and an existing role are reused.
set -euo pipefail

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
[ -n "$version" ] || { echo "start-postgres: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >/dev/null
# pg_ctlcluster talks on stdout ("Removed stale pid file."); only the URL may go there.
pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start >&2
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')

as_postgres() { (cd / && runuser -u postgres -- "$@"); }
for _ in $(seq 1 30); do as_postgres pg_isready -q && break; sleep 1; done
as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres <<'SQL' >/dev/null
SELECT 'CREATE ROLE hotline LOGIN PASSWORD ''hotline'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline')\gexec
SELECT 'CREATE DATABASE hotline_test OWNER hotline'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'hotline_test')\gexec
SQL
echo "postgresql+psycopg://hotline:hotline@127.0.0.1:${port}/hotline_test"
